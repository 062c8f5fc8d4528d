"""RMSNormalization and LayerNormalization(rms_scaling=True) against live Keras: outputs and
gradients on hypothesis-drawn shapes, axes and epsilons, central differences with negative
controls, a fit of twin models, configs, .keras files both ways, summary(), Keras's warning
and errors.

Tolerance: rtol 1e-5, atol 2e-6 on outputs and gradients. Both compute the same few
operations in float32 (TensorFlow's rsqrt against NumPy's 1 / sqrt, means summed in another
order): a few ulps of values of size ~1, as GroupNormalization's tests.
"""
import warnings

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.models import load_model
from minidl.saving.layer_config import layer_from_config, layer_to_config
from minidl.tape import Tape
from minidl.testing import check_gradients
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, assert_same_summary

RTOL, ATOL = 1e-5, 2e-6


def forward_backward(framework, layer, x, dy):
    """y, dx and the weights' gradients of sum(dy * y)."""
    if framework is minidl:
        with Tape() as tape:
            y = layer(x)
        *grads, dx = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
        return [y, dx] + grads
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        total = tf.reduce_sum(y * dy)
    *grads, dx = tape.gradient(total, layer.trainable_weights + [x])
    return [y.numpy(), dx.numpy()] + [g.numpy() for g in grads]


def assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def without_name(config):
    return {k: v for k, v in config.items() if k not in ("name", "dtype")}


def draw(shape, seed):
    """x with rows of very different sizes (1e-2 to 30) and an offset, and dy."""
    rng = np.random.default_rng(seed)
    scale = rng.choice([1e-2, 1.0, 30.0], size=(shape[0],) + (1,) * (len(shape) - 1))
    x = (rng.normal(size=shape) * scale + rng.normal(size=shape[-1:])).astype(np.float32)
    return rng, x, rng.normal(size=shape).astype(np.float32)


@settings(max_examples=10)
@given(case=st.sampled_from([((5, 6), -1), ((3, 4, 5), -1), ((3, 4, 5), [1, 2]),
                             ((2, 3, 2, 4), (-2, -1)), ((4, 1), -1)]),
       seed=st.integers(0, 2**16), epsilon=st.sampled_from([1e-6, 1e-2]))
def test_rms_normalization_matches_keras(case, seed, epsilon):
    shape, axis = case
    rng, x, dy = draw(shape, seed)
    ours = layers.RMSNormalization(axis=axis, epsilon=epsilon)
    theirs = keras.layers.RMSNormalization(axis=axis, epsilon=epsilon)
    ours(x), theirs(x)
    scale = rng.uniform(-2, 2, ours.scale.shape).astype(np.float32)
    ours.set_weights([scale]), theirs.set_weights([scale])
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert without_name(ours.get_config()) == without_name(theirs.get_config())  # axis sorted
    assert_close(forward_backward(minidl, ours, x, dy), forward_backward(keras, theirs, x, dy))


@settings(max_examples=10)
@given(case=st.sampled_from([((5, 6), -1), ((3, 4, 5), 1), ((3, 4, 5), [1, 2]),
                             ((2, 3, 2, 4), [1, 3])]),
       seed=st.integers(0, 2**16), scale=st.booleans(), center=st.booleans())
def test_layer_normalization_rms_scaling_matches_keras(case, seed, scale, center):
    """Keras's deprecated option: x scaled by 1 / sqrt(var + eps), not centred, gamma always,
    beta never (center ignored)."""
    shape, axis = case
    rng, x, dy = draw(shape, seed)
    kwargs = dict(axis=axis, scale=scale, center=center, rms_scaling=True, epsilon=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the deprecation: tested below
        ours, theirs = layers.LayerNormalization(**kwargs), keras.layers.LayerNormalization(
            **kwargs)
        ours(x), theirs(x)
        weights = [rng.uniform(-2, 2, w.shape).astype(np.float32) for w in ours.get_weights()]
        ours.set_weights(weights), theirs.set_weights(weights)
        assert [w.path.split("/")[-1] for w in ours.weights] == ["gamma"]
        assert [w.path.split("/")[-1] for w in theirs.weights] == ["gamma"]
        assert without_name(ours.get_config()) == without_name(theirs.get_config())
        assert_close(forward_backward(minidl, ours, x, dy), forward_backward(keras, theirs, x, dy))


def test_rms_scaling_warns_as_keras():
    with pytest.warns(UserWarning) as ours:
        layers.LayerNormalization(rms_scaling=True)
    with pytest.warns(UserWarning) as theirs:
        keras.layers.LayerNormalization(rms_scaling=True)
    assert str(ours[0].message) == str(theirs[0].message)


# -- gradient checks, with negative controls --------------------------------------------------
class RMSNormWithConstantRMS(layers.RMSNormalization):
    """A wrong backward: treats the root mean square as a constant."""

    def backward(self, dy, cache, need_dx=True):
        _, grads = super().backward(dy, cache, need_dx=False)
        return dy * self.scale.value * cache[1], grads


class RMSScalingAsRMSNorm(layers.LayerNormalization):
    """A wrong backward: differentiates rms_scaling as if the variance were uncentred
    (the RMS norm's formula, through x instead of x - mean)."""

    def _rms_scaling_backward(self, dy, cache, need_dx):
        xhat, rstd, xr = cache
        axes, rows, shape = self._axes_and_shape(dy.shape)
        _, grads = super()._rms_scaling_backward(dy, cache, need_dx=False)
        u = dy * self.gamma.value.reshape(shape)
        return rstd * (u - xr * (u * xr).mean(axis=axes, keepdims=True)), grads


@pytest.mark.parametrize("shape, axis", [((4, 5), -1), ((2, 3, 4), [1, 2])])
def test_rms_normalization_gradient_check_and_negative_control(float64, shape, axis):
    x = np.random.default_rng(1).normal(size=shape) + 0.5
    result = check_gradients(layers.RMSNormalization(axis), x)
    assert result.passed, str(result)
    assert [row["name"] for row in result.rows][-1] == "x (input)"
    wrong = check_gradients(RMSNormWithConstantRMS(axis), x)
    assert wrong.failed == ["x (input)"], str(wrong)


@pytest.mark.parametrize("shape, axis", [((4, 5), -1), ((2, 3, 4), 1)])
def test_rms_scaling_gradient_check_and_negative_control(float64, shape, axis):
    x = np.random.default_rng(2).normal(size=shape) + 1.5  # far from centred: the two differ
    kwargs = dict(axis=axis, rms_scaling=True, gamma_initializer="random_normal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = check_gradients(layers.LayerNormalization(**kwargs), x)
        wrong = check_gradients(RMSScalingAsRMSNorm(**kwargs), x)
    assert result.passed, str(result)
    assert wrong.failed == ["x (input)"], str(wrong)


# -- in a model: gradients, fit, summary, files -----------------------------------------------
def small_model():
    """Dense -> RMSNormalization (the Transformer pre-norm) -> LayerNormalization with
    rms_scaling -> softmax, compiled."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = minidl.Sequential([
            minidl.Input((3, 4)), layers.Dense(6, activation="relu"),
            layers.RMSNormalization(name="rms"),
            layers.LayerNormalization(axis=[1, 2], rms_scaling=True,
                                      gamma_regularizer="l2", name="ln"),
            layers.Flatten(), layers.Dense(3, activation="softmax")], name="rms_model")
    model.compile(optimizer=minidl.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=24, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_twin_models_have_the_same_gradients_and_fit():
    model = small_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        twin = keras_twin(model)
        x, y = data()
        assert_same_loss_and_gradients(twin, model, x, y)
        assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, validation_split=0.25)


def test_summary_matches_keras(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    model = small_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        twin = keras_twin(model)
    assert_same_summary(model, twin, capsys)


def test_keras_files_both_ways(tmp_path):
    model = small_model()
    x, _ = data(6)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.save(tmp_path / "ours.keras")
        theirs = keras.models.load_model(tmp_path / "ours.keras")
        np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                                   rtol=RTOL, atol=ATOL)
        assert theirs.get_layer("ln").get_config()["rms_scaling"] is True
        theirs.save(tmp_path / "theirs.keras")
        back = load_model(tmp_path / "theirs.keras")
    for name in ("rms", "ln"):
        assert layer_to_config(back.get_layer(name), "float32") == \
            layer_to_config(model.get_layer(name), "float32")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_configs_build_each_other():
    ours = layers.RMSNormalization(axis=(2, 1), epsilon=1e-4, name="r")
    written = layer_to_config(ours, "float32")
    theirs = keras.layers.deserialize(written)
    assert written["config"] == theirs.get_config()
    back = layer_from_config(keras.layers.serialize(theirs))
    assert layer_to_config(back, "float32") == written


# -- Keras's errors, and minidl's where Keras has none ---------------------------------------
def keras_error(make):
    with pytest.raises(Exception) as raised:
        make(keras)
    return str(raised.value)


def test_errors():
    message = "Axis 3 is out of bounds for input shape (None, 3, 4). Received: axis=3"
    with pytest.raises(ValueError) as raised:  # Keras: an IndexError from build
        layers.RMSNormalization(axis=3)(minidl.Input((3, 4)))
    assert str(raised.value) == message
    with pytest.raises(Exception):  # Keras refuses a middle axis only when sizes differ
        keras.layers.RMSNormalization(axis=1)(np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"`axis` must name the last axis or the last few"):
        layers.RMSNormalization(axis=1)(np.ones((2, 3, 4), np.float32))
    with pytest.raises(TypeError, match=r"`axis` must be an integer. Received: axis='a'"):
        layers.RMSNormalization(axis="a")  # Keras: a TypeError from build
    with pytest.raises(ValueError) as raised:  # Keras 3.15 has no scale= (it is the weight)
        layers.RMSNormalization(scale=False)
    assert str(raised.value) == keras_error(lambda f: f.layers.RMSNormalization(scale=False))
    layer = layers.RMSNormalization()
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected axes \[-1\] of input shape to have sizes"):
        layer(np.ones((2, 5), np.float32))
