"""GroupNormalization and UnitNormalization against live Keras: outputs and gradients on
hypothesis-drawn shapes, axes and groups, central differences with negative controls, a fit of
twin models, configs, .keras files both ways, summary() and Keras's errors.

Tolerance: rtol 1e-5, atol 2e-6 on outputs and gradients (float32 rounding: Keras computes
GroupNormalization as x * (rstd * gamma) + (beta - mean * rstd * gamma) with TensorFlow's rsqrt
and sums in another order, a few ulps from NumPy's (x - mean) * rstd * gamma + beta).
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
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
    """y, then the gradients of sum(dy * y) for the trainable weights and x."""
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


def assert_close(ours, theirs, rtol=RTOL, atol=ATOL):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def without_name(config):
    return {k: v for k, v in config.items() if k not in ("name", "dtype")}


# (shape, axis, groups): channels last and first, 2D to 5D, G = 1, C/G = 1 and between,
# groups=-1 (instance normalization)
CASES = st.sampled_from([((5, 6), -1, 3), ((4, 3, 8), -1, 2), ((3, 4, 3, 6), -1, -1),
                         ((2, 6, 3, 3), 1, 3), ((3, 5, 4), 1, 1), ((2, 2, 3, 2, 4), -1, 4),
                         ((3, 4, 6, 2), -2, 2), ((4, 2, 4), 2, 2)])


@given(case=CASES, seed=st.integers(0, 2**16), center=st.booleans(), scale=st.booleans())
def test_group_normalization_matches_keras(case, seed, center, scale):
    shape, axis, groups = case
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3 + rng.normal(size=shape[-1:])).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    kwargs = dict(groups=groups, axis=axis, center=center, scale=scale, epsilon=1e-2)
    ours, theirs = layers.GroupNormalization(**kwargs), keras.layers.GroupNormalization(**kwargs)
    ours(x), theirs(x)
    weights = [rng.uniform(-2, 2, w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights), theirs.set_weights(weights)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert without_name(ours.get_config()) == without_name(theirs.get_config())  # groups=C
    assert_close(forward_backward(minidl, ours, x, dy), forward_backward(keras, theirs, x, dy))


# axis lists, a row of zeros (1/norm clipped at 1e12), tiny rows near the clip
@given(case=st.sampled_from([((5, 4), -1), ((3, 4, 5), [1, 2]), ((3, 4, 5), 1),
                             ((2, 3, 2, 4), (1, 3))]),
       seed=st.integers(0, 2**16), zero_row=st.booleans())
def test_unit_normalization_matches_keras(case, seed, zero_row):
    shape, axis = case
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * rng.choice([1e-3, 1.0, 50.0])).astype(np.float32)
    if zero_row:
        x[0] = 0.0
    dy = rng.normal(size=shape).astype(np.float32)
    ours, theirs = layers.UnitNormalization(axis), keras.layers.UnitNormalization(axis)
    assert without_name(ours.get_config()) == without_name(theirs.get_config())
    y, dx = forward_backward(minidl, ours, x, dy)
    keras_y, keras_dx = forward_backward(keras, theirs, x, dy)
    np.testing.assert_allclose(y, keras_y, rtol=RTOL, atol=ATOL)
    # dx = r * (dy - y * sum(dy * y)) scales as 1/||x||: relative to its own size; a zero row's
    # dx is dy * 1e12 in both
    np.testing.assert_allclose(dx, keras_dx, rtol=RTOL, atol=ATOL * np.abs(keras_dx).max())


# -- gradient checks, with negative controls --------------------------------------------------
class GroupNormWithoutVariancePath(layers.GroupNormalization):
    """A wrong backward: treats each group's variance as a constant."""

    def backward(self, dy, cache, need_dx=True):
        xhat, rstd = cache
        _, axes, broadcast, _ = self._grouping(dy.shape)
        _, grads = super().backward(dy, cache, need_dx=False)
        dxhat = dy.reshape(xhat.shape) * self.gamma.value.reshape(broadcast)
        return ((dxhat - dxhat.mean(axis=axes, keepdims=True)) * rstd).reshape(dy.shape), grads


class UnitNormAsConstantNorm(layers.UnitNormalization):
    """A wrong backward: treats the norm as a constant."""

    def backward(self, dy, cache, need_dx=True):
        return dy * cache[1], {}


@pytest.mark.parametrize("shape, axis, groups", [((4, 6), -1, 2), ((2, 3, 2, 4), -1, 2),
                                                 ((2, 4, 3), 1, 2)])
def test_group_normalization_gradient_check_and_negative_control(float64, shape, axis, groups):
    x = np.random.default_rng(1).normal(size=shape) * 2 + 0.5
    kwargs = dict(groups=groups, axis=axis, gamma_initializer="random_normal",
                  beta_initializer="random_normal")
    result = check_gradients(layers.GroupNormalization(**kwargs), x)
    assert result.passed, str(result)
    assert [row["name"] for row in result.rows][-1] == "x (input)"
    wrong = check_gradients(GroupNormWithoutVariancePath(**kwargs), x)
    assert wrong.failed == ["x (input)"], str(wrong)


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_unit_normalization_gradient_check_and_negative_control(float64, axis):
    x = np.random.default_rng(2).normal(size=(3, 4, 2)) + 0.3
    assert check_gradients(layers.UnitNormalization(axis), x).passed
    assert check_gradients(UnitNormAsConstantNorm(axis), x).failed == ["x (input)"]


# -- in a model: gradients, fit, summary, files -----------------------------------------------
def small_model():
    """Conv2D -> GroupNormalization -> UnitNormalization -> Dense, compiled."""
    model = minidl.Sequential([
        minidl.Input((5, 5, 2)), layers.Conv2D(6, 3, activation="relu", name="conv"),
        layers.GroupNormalization(groups=3, gamma_regularizer="l2", name="gn"),
        layers.Flatten(), layers.Dense(8, activation="tanh"),
        layers.UnitNormalization(name="unit"), layers.Dense(3, activation="softmax")],
        name="grouped")
    model.compile(optimizer=minidl.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=24, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5, 5, 2)).astype(np.float32), rng.integers(0, 3, n)


def test_twin_models_have_the_same_gradients_and_fit():
    model = small_model()
    twin = keras_twin(model)
    x, y = data()
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, validation_split=0.25)


def test_summary_matches_keras(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    model = small_model()
    twin = keras_twin(model)
    assert_same_summary(model, twin, capsys)


def test_keras_files_both_ways(tmp_path):
    model = small_model()
    x, _ = data(6)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=RTOL, atol=ATOL)
    assert theirs.get_layer("gn").get_config()["gamma_regularizer"]["class_name"] == "L2"
    theirs.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras")
    assert [type(layer).__name__ for layer in back.layers] == \
        [type(layer).__name__ for layer in model.layers]
    assert back.get_layer("gn").get_config() == model.get_layer("gn").get_config()
    assert back.get_layer("unit").get_config() == model.get_layer("unit").get_config()
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_configs_build_each_other():
    ours = layers.GroupNormalization(groups=4, axis=1, epsilon=1e-5, center=False,
                                     gamma_initializer="random_normal",
                                     beta_regularizer=minidl.regularizers.L1(0.5),
                                     gamma_constraint="non_neg", name="g")
    written = layer_to_config(ours, "float32")  # as a .keras file holds it
    theirs = keras.layers.deserialize(written)
    assert written["config"] == theirs.get_config()
    back = layer_from_config(keras.layers.serialize(theirs))
    assert layer_to_config(back, "float32") == written
    unit = layers.UnitNormalization(axis=(1, 2), name="u")
    written = layer_to_config(unit, "float32")
    assert written["config"] == keras.layers.deserialize(written).get_config()
    assert written["config"]["axis"] == [1, 2]


def test_masks_pass_through_as_in_keras():
    """The LSTM skips the padded steps in both (a mask dropped on the way would not)."""
    inputs = minidl.Input((4,))
    h = layers.Embedding(5, 4, mask_zero=True)(inputs)
    h = layers.UnitNormalization()(layers.GroupNormalization(2)(h))
    model = minidl.Model(inputs, layers.LSTM(3)(h))
    x = np.array([[1, 2, 0, 0], [3, 4, 1, 0], [2, 0, 0, 0]])
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               keras_twin(model).predict(x, verbose=0), rtol=RTOL, atol=ATOL)


# -- Keras's errors ---------------------------------------------------------------------------
def keras_error(make):
    with pytest.raises(Exception) as raised:
        make(keras)
    return str(raised.value)


@pytest.mark.parametrize("make", [
    lambda f: f.layers.GroupNormalization(groups=0),
    lambda f: f.layers.GroupNormalization(groups=2.0),
    lambda f: f.layers.GroupNormalization(groups=8)(np.zeros((2, 3, 4), np.float32)),
    lambda f: f.layers.GroupNormalization(groups=3)(np.zeros((2, 3, 4), np.float32)),
    lambda f: f.layers.GroupNormalization(groups=2, axis=1)(f.Input((None, 4))),
    lambda f: f.layers.UnitNormalization(axis="a"),
])
def test_errors_are_keras_errors_word_for_word(make):
    with pytest.raises(Exception) as raised:
        make(minidl)
    assert str(raised.value) == keras_error(make)


def test_errors_on_a_built_layer_and_out_of_range_axes():
    layer = layers.GroupNormalization(groups=2)
    layer(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.zeros((2, 4), np.float32))
    layer = layers.GroupNormalization(groups=2, axis=3)  # Keras: an IndexError from build
    with pytest.raises(ValueError, match=r"Axis 3 is out of bounds for input shape \(2, 3, 4\)"):
        layer(np.zeros((2, 3, 4), np.float32))
    assert not layer.built
    with pytest.raises(TypeError, match=r"`axis` of GroupNormalization must be an integer. "
                                        r"Received: axis=\[1, 2\]"):
        layers.GroupNormalization(groups=2, axis=[1, 2])  # Keras: a TypeError from build
    message = "Axis 3 is out of bounds for input shape (None, 3, 4)."  # Keras's, symbolic
    assert message in keras_error(lambda f: f.layers.UnitNormalization(axis=3)(f.Input((3, 4))))
    with pytest.raises(ValueError) as raised:
        layers.UnitNormalization(axis=3)(minidl.Input((3, 4)))
    assert str(raised.value) == message
