"""fit's validation_freq and validation_batch_size against Keras's twin: which epochs are
validated (History's val_ lists, as Keras's, hold only those), the validation batches' size,
and Keras's error for a validation_freq of another type, raised before anything changes."""
import numpy as np
import pytest

import keras
import minidl
from reference.twins import keras_twin
from tests.parity import assert_same_fit


def _twins(seed=0):
    minidl.utils.set_random_seed(seed)
    model = minidl.Sequential([minidl.Input((3,)), minidl.layers.Dense(4, activation="tanh"),
                               minidl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return keras_twin(model), model


def _data(n=40):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x.sum(axis=1) > 0).astype(np.float32)


@pytest.mark.parametrize("freq", [2, [1, 4], 3])
def test_validation_freq_validates_the_epochs_keras_does(freq):
    x, y = _data()
    ours = assert_same_fit(*_twins(), x, y, epochs=4, batch_size=8, validation_split=0.25,
                           validation_freq=freq)
    validated = [e for e in range(1, 5) if (e % freq == 0 if isinstance(freq, int) else e in freq)]
    assert len(ours["val_loss"]) == len(validated) and len(ours["loss"]) == 4


def test_validation_batch_size_is_the_size_of_the_validation_batches():
    x, y = _data()
    keras_model, model = _twins()
    seen = []
    sizes = minidl.callbacks.LambdaCallback(
        on_test_batch_end=lambda batch, logs: seen.append(batch))
    assert_same_fit(keras_model, model, x, y, epochs=2, batch_size=8, validation_split=0.25,
                    validation_batch_size=3, callbacks=None)
    model.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, validation_batch_size=3,
              verbose=0, callbacks=[sizes])
    assert len(seen) == 4  # 10 validation rows in batches of 3: 3, 3, 3, 1


def test_a_validation_freq_of_another_type_is_keras_error_before_anything_changes():
    x, y = _data()
    keras_model, model = _twins()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError) as theirs:
        keras_model.fit(x, y, epochs=1, validation_split=0.25, validation_freq=(1, 2), verbose=0)
    with pytest.raises(ValueError) as ours:
        model.fit(x, y, epochs=1, validation_split=0.25, validation_freq=(1, 2), verbose=0)
    assert str(ours.value) == str(theirs.value)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    with pytest.raises(ValueError, match="`validation_batch_size` must be a positive integer. "
                                         "Received: validation_batch_size=-1"):
        model.fit(x, y, epochs=1, validation_split=0.25, validation_batch_size=-1, verbose=0)
