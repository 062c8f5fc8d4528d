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


# -- the chapter's models of your own: a Metric subclass, and a model's own Mean ------------------
def chapter_models(lib):
    ops = lib.ops

    class HuberMetric(lib.metrics.Metric):
        def __init__(self, threshold=1.0, **kwargs):
            super().__init__(**kwargs)
            self.threshold = threshold
            self.total = self.add_weight(name="total", initializer="zeros")
            self.count = self.add_weight(name="count", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            error = y_true - y_pred
            small = ops.abs(error) < self.threshold
            values = ops.where(small, ops.square(error) / 2,
                               self.threshold * ops.abs(error) - self.threshold**2 / 2)
            self.total.assign_add(ops.sum(values))
            self.count.assign_add(ops.cast(ops.size(y_true), "float32"))

        def result(self):
            return self.total / self.count

    class ReconstructingRegressor(lib.Model):
        def __init__(self, output_dim, **kwargs):
            super().__init__(**kwargs)
            self.hidden = [lib.layers.Dense(16, activation="selu",
                                            kernel_initializer="lecun_normal")
                           for _ in range(3)]
            self.out = lib.layers.Dense(output_dim)
            self.reconstruction_mean = lib.metrics.Mean(name="reconstruction_error")

        def build(self, batch_input_shape):
            self.reconstruct = lib.layers.Dense(batch_input_shape[-1])

        def call(self, inputs, training=None):
            z = inputs
            for layer in self.hidden:
                z = layer(z)
            reconstruction_loss = ops.mean(ops.square(self.reconstruct(z) - inputs))
            self.add_loss(0.05 * reconstruction_loss)
            if training:
                self.reconstruction_mean(reconstruction_loss)
            return self.out(z)

    return HuberMetric, ReconstructingRegressor


def test_a_model_s_own_metric_is_in_the_logs_as_keras_s():
    """The Mean the model updates in call() is logged, reset each epoch, and 0.0 in the
    validation and evaluate logs (call() updates it only in training), as in Keras."""
    rng = np.random.default_rng(1)
    x, y = rng.random((64, 8)).astype(np.float32), rng.random((64, 1)).astype(np.float32)
    results = []
    for lib in (keras, minidl):
        keras.utils.set_random_seed(0)
        huber, regressor = chapter_models(lib)
        model = regressor(1)
        model.compile(loss="mse", optimizer="nadam", metrics=[huber(2.0)])
        model(x[:2])
        if lib is keras:
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        history = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0,
                            validation_split=0.25).history
        results.append((history, model.evaluate(x, y, verbose=0, return_dict=True)))
    (theirs, theirs_eval), (ours, ours_eval) = results
    assert sorted(ours) == sorted(theirs) and "reconstruction_error" in ours
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    assert sorted(ours_eval) == sorted(theirs_eval)
    for key in theirs_eval:
        np.testing.assert_allclose(ours_eval[key], theirs_eval[key], rtol=1e-5, err_msg=key)
