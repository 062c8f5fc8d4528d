"""Fuzzing the public API with wrong inputs: every call works as Keras would, or raises a
ValueError/TypeError that names the argument, and a failed call changes nothing.

NumPy floating-point errors are raised as exceptions here, so an overflow, a division by
zero or a 0/0 deep inside would fail the test too. (Underflow to 0, e.g. exp(-200) inside
softmax, is the correct float32 answer and stays allowed.)
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from minidl.layers import Dense

def fp_errors_raise():
    return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


ARGUMENT_NAMES = ("`x`", "`y`", "`batch_size`", "`epochs`", "`validation_split`", "`verbose`",
                  "`shuffle`", "`validation_data", "x and y", "features", "labels", "shape")


def weird_arrays(n_rows=8, width=3):
    """Arrays and array-likes of every kind a learner might pass."""
    good = np.random.default_rng(0).normal(size=(n_rows, width))
    return st.one_of(
        st.just(good),
        st.just(good.astype(np.float16)),
        st.just(good.astype(np.int64)),
        st.just(good > 0),
        st.just(good.tolist()),
        st.just(good.astype(object)),
        st.just(np.full((n_rows, width), "a")),
        st.just(good[:, 0]),
        st.just(good[:0]),
        st.just(good.reshape(n_rows, width, 1)),
        st.just(np.where(good > 1, np.nan, good)),
        st.just(np.where(good > 1, np.inf, good)),
        st.just(good[:, :2]),
        st.just(good[:3]),
        st.just(None),
        st.just("not an array"),
        st.just([[1, 2], [3]]),
        st.just(7),
    )


def weird_labels(n_rows=8, classes=3):
    rng = np.random.default_rng(1)
    sparse = rng.integers(0, classes, n_rows)
    return st.one_of(
        st.just(sparse),
        st.just(sparse[:, None]),
        st.just(sparse.astype(np.float32)),
        st.just(sparse.tolist()),
        st.just(np.eye(classes)[sparse]),
        st.just(sparse + classes),
        st.just(sparse - 1),
        st.just(sparse + 0.5),
        st.just(sparse[:5]),
        st.just(sparse.astype(str)),
        st.just(np.where(sparse == 0, np.nan, sparse)),
        st.just(None),
        st.just(np.zeros((n_rows, 2, 2))),
        st.just(3),
    )


ARGUMENTS = st.fixed_dictionaries({}, optional={
    "batch_size": st.one_of(st.integers(-2, 9), st.just(None), st.just(2.5), st.just("32"),
                            st.just(True)),
    "epochs": st.one_of(st.integers(-2, 2), st.just(1.5), st.just(None)),
    "validation_split": st.one_of(st.floats(-0.5, 1.5, allow_nan=False), st.just("0.2"),
                                  st.just(float("nan"))),
    "verbose": st.one_of(st.sampled_from([0, 3, -1, "auto", "loud", None])),
    "shuffle": st.one_of(st.booleans(), st.just("yes"), st.just(None)),
})


def fresh_model():
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([Dense(4, activation="relu", input_shape=(3,)),
                               Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def call_and_check(model, method, *args, **kwargs):
    before = [w.copy() for w in model.get_weights()]
    iterations = model.optimizer.iterations
    try:
        with fp_errors_raise():
            result = getattr(model, method)(*args, **kwargs)
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(name in message for name in ARGUMENT_NAMES), message
        for w, w0 in zip(model.get_weights(), before):
            np.testing.assert_array_equal(w, w0)
        assert model.optimizer.iterations == iterations
        return None
    check_success(model, method, args, kwargs, result, before, iterations)
    return result


def check_success(model, method, args, kwargs, result, before, iterations):
    """A call that went through did what Keras's would: the right kind of result, finite
    numbers, and weights changed only by training, by one step per batch."""
    n = len(np.asarray(args[0]).reshape(len(args[0]), -1))
    weights = model.get_weights()
    assert all(w.dtype == np.float32 and np.isfinite(w).all() for w in weights)
    if method == "fit":
        epochs = kwargs.get("epochs", 1)
        history = result.history
        assert all(len(values) == epochs for values in history.values())
        assert sorted(history)[:2] == (["accuracy", "loss"] if epochs else [])
        assert all(np.isfinite(v) for values in history.values() for v in values)
        batch = kwargs.get("batch_size") or 32
        split = kwargs.get("validation_split", 0.0)
        train_rows = int(np.floor(n * (1.0 - split))) if split else n
        assert model.optimizer.iterations == iterations + epochs * -(-train_rows // batch)
    elif method == "predict":
        assert result.shape == (n, 3) and result.dtype == np.float32
        np.testing.assert_allclose(result.sum(axis=1), 1, rtol=1e-5)  # softmax rows
        for w, w0 in zip(weights, before):
            np.testing.assert_array_equal(w, w0)
    elif method == "evaluate":
        assert len(result) == 2 and all(np.isfinite(result)) and 0 <= result[1] <= 1
        for w, w0 in zip(weights, before):
            np.testing.assert_array_equal(w, w0)
    elif method == "train_on_batch":
        assert model.optimizer.iterations == iterations + 1


@given(x=weird_arrays(), y=weird_labels(), kwargs=ARGUMENTS)
def test_fit_on_anything(x, y, kwargs):
    model = fresh_model()
    kwargs.setdefault("verbose", 0)
    if kwargs["verbose"] in (1, "auto"):
        kwargs["verbose"] = 0  # keep the test output quiet; verbosity is not what is fuzzed
    call_and_check(model, "fit", x, y, **kwargs)


@given(x=weird_arrays(), y=weird_labels())
def test_evaluate_and_predict_on_anything(x, y):
    model = fresh_model()
    call_and_check(model, "evaluate", x, y, verbose=0)
    call_and_check(model, "predict", x, verbose=0)
    call_and_check(model, "train_on_batch", x, y)


@given(weights=st.lists(st.one_of(
    st.just(np.zeros((3, 4))), st.just(np.zeros(4)), st.just(np.zeros((4, 3)) + 1),
    st.just(np.zeros(3)), st.just(np.zeros((4, 4))), st.just("w"), st.just(None)),
    max_size=5))
def test_set_weights_on_anything(weights):
    model = fresh_model()
    before = model.get_weights()
    try:
        model.set_weights(weights)
    except (ValueError, TypeError) as error:
        assert "weight" in str(error)
        for w, w0 in zip(model.get_weights(), before):
            np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.float16, np.float64])
def test_numeric_dtypes_are_accepted_and_cast_to_float32(dtype):
    model = fresh_model()
    x = (np.random.default_rng(0).normal(size=(8, 3)) * 3).astype(dtype)
    with fp_errors_raise():
        model.fit(x, np.arange(8) % 3, verbose=0)
        assert model.predict(x, verbose=0).dtype == np.float32


@pytest.mark.parametrize("logit", [1e4, -1e4, 80.0, -80.0])
@pytest.mark.parametrize("loss,width", [("binary_crossentropy", 1),
                                        ("sparse_categorical_crossentropy", 3),
                                        ("categorical_crossentropy", 3)])
def test_saturated_logits_give_finite_losses_and_gradients(logit, loss, width):
    model = minidl.Sequential([Dense(width, activation="sigmoid" if width == 1 else "softmax",
                                     input_shape=(1,))])
    model.compile(optimizer="sgd", loss=loss)
    kernel = np.zeros((1, width), np.float32)
    kernel[0, 0] = logit
    model.set_weights([kernel, np.zeros(width, np.float32)])
    x = np.ones((4, 1), np.float32)
    y = np.array([0, 1, 0, 1]) if width == 1 else (
        np.array([1, 2, 0, 1]) if loss.startswith("sparse") else np.eye(3)[[1, 2, 0, 1]])
    with fp_errors_raise():
        value, grads = model.loss_and_gradients(x, y)
        predictions = model.predict(x, verbose=0)
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads)
    assert np.isfinite(predictions).all()


@pytest.mark.parametrize("scale", [1e-30, 1e-3, 1e3, 1e6])
def test_huge_and_tiny_inputs_train_without_floating_point_errors(scale):
    rng = np.random.default_rng(0)
    model = fresh_model()
    x = rng.normal(size=(32, 3)) * scale
    with fp_errors_raise():
        model.fit(x, np.arange(32) % 3, verbose=0, epochs=2)
        assert np.isfinite(model.predict(x, verbose=0)).all()
