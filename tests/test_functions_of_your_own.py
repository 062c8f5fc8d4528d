"""Géron's functions of your own (Hands-On ML, ch. 12), with only the imports changed,
against live Keras: an activation, an initializer, a regularizer and a constraint written
as plain functions of keras.ops, and a Huber loss subclass, in one Dense layer.

minidl has no autograd: an activation of your own is differentiated by running it again on
its input z on a tape of its own (activations.py::backward_of). Tolerance rtol 1e-5 on the
History: the same float32 arithmetic, summed in another order by TensorFlow's kernels, over
two epochs of Nadam.
"""
import keras
import numpy as np
import pytest

import minidl


def functions(lib):
    ops = lib.ops

    def my_softplus(z):
        return ops.log(1.0 + ops.exp(z))

    def my_glorot_initializer(shape, dtype="float32"):
        stddev = np.sqrt(2.0 / (shape[0] + shape[1]))
        return lib.random.normal(shape, stddev=stddev, dtype=dtype)

    def my_l1_regularizer(weights):
        return ops.sum(ops.abs(0.01 * weights))

    def my_positive_weights(weights):
        return ops.where(weights < 0.0, ops.zeros_like(weights), weights)

    class HuberLoss(lib.losses.Loss):
        def __init__(self, threshold=1.0, **kwargs):
            self.threshold = threshold
            super().__init__(**kwargs)

        def call(self, y_true, y_pred):
            error = y_true - y_pred
            is_small_error = ops.abs(error) < self.threshold
            squared_loss = ops.square(error) / 2
            linear_loss = self.threshold * ops.abs(error) - self.threshold**2 / 2
            return ops.where(is_small_error, squared_loss, linear_loss)

    return my_softplus, my_glorot_initializer, my_l1_regularizer, my_positive_weights, HuberLoss


def model_with(lib, activation=None):
    softplus, initializer, regularizer, constraint, huber = functions(lib)
    model = lib.Sequential([
        lib.Input((8,)),
        lib.layers.Dense(30, activation="selu", kernel_initializer="lecun_normal"),
        lib.layers.Dense(1, activation=activation or softplus, kernel_initializer=initializer,
                         kernel_regularizer=regularizer, kernel_constraint=constraint)])
    model.compile(loss=huber(2.0), optimizer="nadam", metrics=["mae"])
    return model


@pytest.fixture(scope="module")
def data_and_keras_history():
    keras.utils.set_random_seed(0)
    theirs = model_with(keras)
    weights = theirs.get_weights()
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8)).astype(np.float32), rng.random((64, 1)).astype(np.float32)
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    return weights, x, y, fit, theirs.fit(x, y, **fit).history


def test_functions_of_your_own_train_as_keras(data_and_keras_history):
    weights, x, y, fit, theirs = data_and_keras_history
    ours = model_with(minidl)
    ours.set_weights(weights)
    history = ours.fit(x, y, **fit).history
    assert sorted(history) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(history[key], theirs[key], rtol=1e-5, err_msg=key)


def test_a_wrong_derivative_of_the_activation_shows(data_and_keras_history):
    """Negative control: the same activation with a `backward` that forgets the chain rule's
    inner factor (dz = da instead of da * sigmoid(z)) is used as given, and fits otherwise."""
    weights, x, y, fit, theirs = data_and_keras_history

    def my_softplus(z):
        return minidl.ops.log(1.0 + minidl.ops.exp(z))
    my_softplus.backward = lambda da, z, a: da
    ours = model_with(minidl, activation=my_softplus)
    ours.set_weights(weights)
    history = ours.fit(x, y, **fit).history
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(history["loss"], theirs["loss"], rtol=1e-5)
