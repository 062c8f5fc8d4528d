"""Regularizers of your own, as Keras's guide writes them, against live Keras.

A function of x or a Regularizer subclass defining only __call__, written with ops and
NumPy operators: minidl differentiates it on a tape of its own (regularizers.py). The twin
Keras model uses the same penalty written with keras.ops, from the same weights; the
History's loss (which includes the penalties) and the final weights must agree to float32
rounding accumulated over a few Adam steps (rtol 1e-4, atol 1e-6).
"""
import numpy as np
import pytest

import keras
import minidl
from minidl import ops, regularizers
from minidl.testing import numerical_gradient

RTOL, ATOL = 1e-4, 1e-6


def penalties(api_ops, base):
    """The three penalties, written once for either library's ops."""
    def squares(x):  # a plain function, Keras's guide
        return 1e-3 * api_ops.sum(api_ops.square(x))

    class Absolute(base):  # a subclass with only __call__, NumPy operators inside
        def __init__(self, strength=0.01):
            self.strength = strength

        def __call__(self, x):
            return self.strength * api_ops.sum(api_ops.abs(x) * 2.0)

        def get_config(self):
            return {"strength": self.strength}

    class Decorrelate(base):  # an activity penalty: the features' Gram matrix near identity
        def __call__(self, x):
            gram = api_ops.matmul(api_ops.transpose(x), x)  # (F,F)
            eye = np.eye(x.shape[-1], dtype="float32")
            return 1e-4 * api_ops.sum(api_ops.square(gram - eye))

    return squares, Absolute, Decorrelate


def build(api, api_ops):
    squares, Absolute, Decorrelate = penalties(api_ops, api.regularizers.Regularizer)
    model = api.Sequential([
        api.Input((5,)),
        api.layers.Dense(8, activation="tanh", kernel_regularizer=squares,
                         bias_regularizer=Absolute(0.02), activity_regularizer=Decorrelate()),
        api.layers.Dense(1),
    ])
    model.compile(optimizer=api.optimizers.Adam(0.01), loss="mse")
    return model


def test_function_and_subclass_regularizers_train_as_in_keras():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)
    ours, theirs = build(minidl, ops), build(keras, keras.ops)
    theirs.set_weights(ours.get_weights())
    fit = dict(epochs=3, batch_size=16, shuffle=False, verbose=0)
    h_ours, h_theirs = ours.fit(x, y, **fit), theirs.fit(x, y, **fit)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], RTOL, ATOL)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, RTOL, ATOL)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0),
                               theirs.evaluate(x, y, verbose=0), RTOL, ATOL)


def test_tape_gradient_matches_central_differences_and_a_wrong_one_does_not():
    """float64 central differences; the negative control is the gradient of another penalty."""
    _, _, Decorrelate = penalties(ops, regularizers.Regularizer)
    x = np.random.default_rng(1).normal(size=(6, 3))
    penalty = Decorrelate()
    expected = numerical_gradient(lambda: float(penalty(x)), x)
    np.testing.assert_allclose(regularizers.gradient(penalty, x), expected, rtol=1e-6, atol=1e-9)
    wrong = regularizers.gradient(lambda v: 1e-4 * ops.sum(ops.square(v)), x)
    assert not np.allclose(wrong, expected, rtol=1e-6, atol=1e-9)


def test_a_penalty_minidl_cannot_differentiate_is_named():
    def sorted_penalty(x):
        return np.sort(x).sum()  # an array method: leaves the tape

    with pytest.raises(ValueError, match="cannot differentiate the regularizer sorted_penalty"):
        regularizers.gradient(sorted_penalty, np.ones((2, 2), np.float32))


def test_get_takes_what_keras_takes():
    def fn(x):
        return ops.sum(x)

    for api in (minidl, keras):
        assert api.regularizers.get(fn) is fn
        assert type(api.regularizers.get(api.regularizers.L2)).__name__ == "L2"
        with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
            api.regularizers.get(3)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_trains_as_in_keras(mode):
    """Keras's OrthogonalRegularizer, written with ops in minidl and differentiated on the tape:
    the penalty to rtol 1e-6 (the product's sums in TensorFlow's order or BLAS's: one float32
    rounding), the History (which includes it) to rtol 1e-5 through a few Adam steps."""
    from reference.twins import keras_twin

    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    y = rng.normal(size=(32, 2)).astype(np.float32)
    minidl.utils.set_random_seed(0)
    ours = minidl.Sequential([minidl.Input((5,)), minidl.layers.Dense(
        6, activation="tanh", kernel_regularizer=regularizers.OrthogonalRegularizer(0.5, mode)),
        minidl.layers.Dense(2)])
    ours.compile(optimizer=minidl.optimizers.Adam(0.01), loss="mse")
    theirs = keras_twin(ours)
    kernel = ours.layers[0].kernel.value
    np.testing.assert_allclose(
        float(ours.layers[0].kernel_regularizer(kernel)),
        float(theirs.layers[0].kernel_regularizer(keras.ops.convert_to_tensor(kernel))), rtol=1e-6)
    fit = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"],
                               theirs.fit(x, y, **fit).history["loss"], rtol=1e-5)


def test_orthogonal_regularizer_gradient_and_errors():
    x = np.random.default_rng(4).normal(size=(4, 3))
    penalty = regularizers.OrthogonalRegularizer(0.3)
    expected = numerical_gradient(lambda: float(penalty(x)), x)
    np.testing.assert_allclose(regularizers.gradient(penalty, x), expected, rtol=1e-6, atol=1e-9)
    columns = regularizers.gradient(regularizers.OrthogonalRegularizer(0.3, "columns"), x)
    assert not np.allclose(columns, expected, rtol=1e-6, atol=1e-9)  # the negative control
    for api in (minidl, keras):
        with pytest.raises(ValueError, match="Invalid value for argument `mode`"):
            api.regularizers.OrthogonalRegularizer(mode="diagonal")
        with pytest.raises(ValueError, match="expected a non-negative float"):
            api.regularizers.OrthogonalRegularizer(-1.0)
