"""fit trains on the data as it was when fit was called, and values float32 cannot hold are named.

What is checked: a callback that edits the caller's float32 x, y or sample weights mid-fit
changes nothing (fit works on its own copy), as in Keras; float64 data holding 1e300 gets an
error saying it overflows float32, while real NaN and infinity keep their own message.
"""
import numpy as np
import pytest

import minidl
from minidl.layers import Dense, Input

X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)  # (N,D) = (32,3)
Y = np.random.default_rng(1).normal(size=(32, 2)).astype(np.float32)  # (N,C) = (32,2)
W = np.random.default_rng(2).uniform(0.5, 1.5, size=32).astype(np.float32)


def model_at(initial=None):
    model = minidl.Sequential([Input((3,)), Dense(4, activation="tanh"), Dense(2)])
    if initial is not None:
        model.set_weights(initial)
    model.compile(minidl.optimizers.SGD(0.1), "mse")
    return model


def vandal(*arrays):
    """A callback that overwrites the caller's arrays after the first batch."""
    def wreck(batch, logs):
        for array in arrays:
            array[...] = 0
    return minidl.callbacks.LambdaCallback(on_train_batch_end=wreck)


def test_a_callback_editing_x_y_or_weights_mid_fit_changes_nothing():
    initial = model_at().get_weights()
    untouched = model_at(initial)
    untouched.fit(X, Y, sample_weight=W, batch_size=8, epochs=2, shuffle=False, verbose=0)
    x, y, w = X.copy(), Y.copy(), W.copy()
    edited = model_at(initial)
    edited.fit(x, y, sample_weight=w, batch_size=8, epochs=2, shuffle=False, verbose=0,
               callbacks=[vandal(x, y, w)], validation_data=(x, y))
    assert not x.any() and not y.any() and not w.any()  # the caller's arrays were edited
    for ours, expected in zip(edited.get_weights(), untouched.get_weights()):
        np.testing.assert_array_equal(ours, expected)


def test_a_float32_x_is_copied_and_a_list_is_converted_once():
    from minidl import data

    x = X.copy()
    prepared = data.prepare_x(x, (None, 3))
    assert prepared.dtype == np.float32 and not np.shares_memory(prepared, x)
    column = X[:, 0].copy()  # (N,) for a model expecting (N, 1): a reshaped view, copied too
    assert not np.shares_memory(data.prepare_x(column, (None, 1)), column)
    np.testing.assert_array_equal(data.prepare_x(X.tolist(), (None, 3)), X)


def test_keras_trains_on_what_x_was_when_fit_was_called_too():
    """The behaviour copied: in Keras the same vandal callback changes nothing either."""
    import keras
    from reference.twins import keras_twin

    model = model_at()
    initial = model.get_weights()
    twin, other = keras_twin(model), keras_twin(model)
    twin.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    x = X.copy()
    other.fit(x, Y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(
                  on_train_batch_end=lambda batch, logs: x.__setitem__(Ellipsis, 0))])
    assert not x.any()
    for a, b in zip(twin.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not any(np.array_equal(a, b) for a, b in zip(initial, twin.get_weights()))


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_float64_x_beyond_float32_range_is_said_to_overflow(call):
    x = X.astype(np.float64)
    x[3, 1] = 1e300
    model = model_at()
    before = model.get_weights()
    run = {"fit": lambda: model.fit(x, Y, verbose=0),
           "evaluate": lambda: model.evaluate(x, Y, verbose=0),
           "predict": lambda: model.predict(x, verbose=0)}[call]
    with pytest.raises(ValueError, match=r"`x` holds 1e\+300 \(first at index \(3, 1\)\), "
                                         r"which overflows float32"):
        run()
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)


def test_float64_labels_beyond_float32_range_are_said_to_overflow():
    y = Y.astype(np.float64)
    y[0, 0] = -1e300
    with pytest.raises(ValueError, match=r"`y` holds -1e\+300 .*overflows float32"):
        model_at().fit(X, y, verbose=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_real_nan_and_infinity_keep_their_own_message(bad):
    x = X.astype(np.float64)
    x[5, 2] = bad
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinite values \(first at "
                                         r"index \(5, 2\)\)"):
        model_at().fit(x, Y, verbose=0)
