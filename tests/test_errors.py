"""Bad input gets a clear error naming the argument, before anything changes."""
import numpy as np
import pytest

import minidl
from minidl.layers import Dense


def make_model(loss="sparse_categorical_crossentropy", output=3, activation="softmax",
               compile=True):
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([Dense(4, activation="relu", input_shape=(2,)),
                               Dense(output, activation=activation)])
    if compile:
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def snapshot(model):
    state = [w.copy() for w in model.get_weights()]
    optimizer = model.optimizer
    return state, (optimizer.iterations if optimizer else None)


def assert_unchanged(model, before):
    weights, iterations = before
    for w, w0 in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(w, w0)
    if model.optimizer is not None:
        assert model.optimizer.iterations == iterations


X = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
Y = np.arange(10) % 3


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch",
                                    "loss_and_gradients"])
def test_training_methods_need_compile(method):
    model = make_model(compile=False)
    with pytest.raises(RuntimeError, match="compile"):
        getattr(model, method)(X, Y)


BAD_FIT_CALLS = [
    (dict(x=np.ones((10, 3)), y=Y), "features"),
    (dict(x=X, y=Y[:7]), "same number of samples"),
    (dict(x=X[:0], y=Y[:0]), "empty"),
    (dict(x=np.where(np.eye(10, 2) > 0, np.nan, X), y=Y), "NaN"),
    (dict(x=np.where(np.eye(10, 2) > 0, np.inf, X), y=Y), "NaN or infinite"),
    (dict(x=X, y=np.where(np.arange(10) == 3, np.nan, Y)), "NaN"),
    (dict(x=np.array([["a", "b"]] * 10), y=Y), "dtype"),
    (dict(x=X, y=np.arange(10)), r"outside \[0, 3\)"),
    (dict(x=X, y=-np.ones(10)), r"outside \[0, 3\)"),
    (dict(x=X, y=np.eye(3)[Y]), "categorical_crossentropy"),
    (dict(x=X, y=Y + 0.5), "integer class labels"),
    (dict(x=X, y=Y, batch_size=0), "batch_size"),
    (dict(x=X, y=Y, batch_size=2.5), "batch_size"),
    (dict(x=X, y=Y, epochs=-1), "epochs"),
    (dict(x=X, y=Y, validation_split=1.0), "validation_split"),
    (dict(x=X, y=Y, validation_split=-0.1), "validation_split"),
    (dict(x=X, y=Y, validation_split=1e-18), "not sufficient"),
    (dict(x=X, y=Y, verbose=3), "verbose"),
    (dict(x=X, y=Y, validation_data=(X, Y[:3])), "same number of samples"),
    (dict(x=X, y=Y, validation_data=X), "validation_data"),
    (dict(x=X.reshape(10, 2, 1), y=Y), "2-D"),
]


@pytest.mark.parametrize("kwargs,message", BAD_FIT_CALLS)
def test_bad_fit_calls_raise_clearly_and_change_nothing(kwargs, message):
    model = make_model()
    model.fit(X, Y, epochs=1, verbose=0)  # the optimizer now has state too
    before = snapshot(model)
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(**{"epochs": 1, "verbose": 0, **kwargs})
    assert_unchanged(model, before)


def test_integer_labels_given_to_categorical_loss_name_the_sparse_loss():
    model = make_model(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(X, Y, verbose=0)


@pytest.mark.parametrize("y,message", [(np.ones((10, 2)), "does not match"),
                                       (np.ones((10, 3)), "does not match")])
def test_targets_must_match_the_output_width(y, message):
    model = make_model(loss="mse", output=1, activation="linear")
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, verbose=0)


def test_unbuilt_model_stays_unbuilt_after_a_failed_fit():
    model = minidl.Sequential([Dense(3), Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(ValueError):
        model.fit(X, np.ones((10, 2)), verbose=0)
    assert not model.built and model.get_weights() == []


@pytest.mark.parametrize("call,message", [
    (lambda: minidl.optimizers.get("adamw2"), "Could not interpret optimizer identifier"),
    (lambda: minidl.losses.get("crossentropy2"), "Could not interpret loss identifier"),
    (lambda: Dense(3, activation="Relu"), "Could not interpret activation"),
    (lambda: make_model(compile=False).compile(metrics=["acuracy"]), "metric identifier"),
    (lambda: Dense(0), r"Received: units=0"),
    (lambda: Dense(-2), r"positive integer"),
    (lambda: Dense(2.5), r"positive integer"),
    (lambda: minidl.optimizers.SGD(learning_rate=1), "learning_rate"),
    (lambda: minidl.optimizers.SGD(momentum=1.5), "momentum"),
    (lambda: minidl.layers.Input((0,)), "shape"),
])
def test_unknown_names_and_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError) as info:
        minidl.optimizers.get("adamw2")
    assert "rmsprop" in str(info.value)
    with pytest.raises(ValueError) as info:
        Dense(3, activation="Relu")
    assert "relu" in str(info.value)


def test_failed_compile_keeps_the_previous_configuration():
    model = make_model()
    optimizer, loss = model.optimizer, model.loss
    with pytest.raises(ValueError):
        model.compile(optimizer="sgd", loss="nope")
    assert model.optimizer is optimizer and model.loss is loss


def test_set_weights_checks_count_and_shapes_before_assigning():
    model = make_model()
    before = snapshot(model)
    weights = model.get_weights()
    with pytest.raises(ValueError, match="length 3"):
        model.set_weights(weights[:3])
    bad = [w + 1 for w in weights]
    bad[-1] = np.zeros(7, np.float32)
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(bad)
    assert_unchanged(model, before)


def test_load_weights_rejects_missing_and_corrupt_files(tmp_path):
    model = make_model()
    before = snapshot(model)
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.npz")
    corrupt = tmp_path / "corrupt.weights.npz"
    corrupt.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a valid"):
        model.load_weights(corrupt)
    good = tmp_path / "good.weights.npz"
    model.save_weights(good)
    truncated = tmp_path / "truncated.weights.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError):
        model.load_weights(truncated)
    other = minidl.Sequential([Dense(5, input_shape=(2,)), Dense(3)])
    mismatched = tmp_path / "other.weights.npz"
    other.save_weights(mismatched)
    with pytest.raises(ValueError, match="shape"):
        model.load_weights(mismatched)
    assert_unchanged(model, before)


def test_save_and_load_weights_round_trip(tmp_path):
    model = make_model()
    path = tmp_path / "model.weights.npz"
    model.save_weights(path)
    copy = make_model()
    for w in copy.trainable_weights:
        w.value[...] = 0
    copy.load_weights(path)
    for w, w0 in zip(copy.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(w, w0)
    with pytest.raises(ValueError, match=".weights.npz"):
        model.save_weights(tmp_path / "model.h5")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is what this test makes
def test_a_loss_that_turns_non_finite_is_reported_and_terminate_on_nan_stops():
    model = minidl.Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=minidl.optimizers.SGD(learning_rate=1e30), loss="mse")
    x = np.ones((64, 2), np.float32) * 1e3
    y = np.ones(64, np.float32)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert not np.isfinite(history.history["loss"][-1])  # truthfully non-finite
    model = minidl.Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=minidl.optimizers.SGD(learning_rate=1e30), loss="mse")
    seen = []
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0,
                        callbacks=[minidl.callbacks.TerminateOnNaN(),
                                   minidl.callbacks.LambdaCallback(
                                       on_train_batch_end=lambda b, logs: seen.append(b))])
    assert len(history.history["loss"]) == 1  # stopped during the first epoch
    assert len(seen) < 8
