"""BatchNormalization and LayerNormalization against live Keras: forward in both modes, the
backward through the batch statistics, the moving averages, a short fit, summary and configs."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.tape import Tape
from minidl.testing import check_gradients
from reference.gradients import keras_loss_and_gradients

RTOL, ATOL = 1e-5, 2e-6  # float32 rounding: TF's rsqrt and summation order differ from NumPy's


def minidl_forward_backward(layer, x, dy, training):
    """y, then the gradients of sum(dy * y) for the trainable weights and x."""
    with Tape() as tape:
        y = layer(x, training=training)
    *grads, dx = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
    return y, grads, dx


def keras_forward_backward(layer, x, dy, training):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        total = tf.reduce_sum(y * dy)
    *grads, dx = tape.gradient(total, layer.trainable_weights + [x])
    return y.numpy(), [g.numpy() for g in grads], dx.numpy()


def twin_layers(cls_name, x, seed, **kwargs):
    """The same layer in both frameworks, built on x, with the same random weights."""
    ours, theirs = getattr(layers, cls_name)(**kwargs), getattr(keras.layers, cls_name)(**kwargs)
    ours(x), theirs(x)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(0.5, 2.0, w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights), theirs.set_weights(weights)
    return ours, theirs


def assert_close(ours, theirs, rtol=RTOL, atol=ATOL):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


SHAPES_AND_AXES = st.sampled_from([((16, 5), -1), ((7, 3), 1), ((4, 3, 3, 2), -1),
                                   ((3, 4, 2, 5), 1), ((5, 6, 4), -1), ((2, 3, 4, 3), 2)])


@given(case=SHAPES_AND_AXES, seed=st.integers(0, 2**16), training=st.booleans())
def test_batchnorm_forward_gradients_and_moving_averages_match_keras(case, seed, training):
    shape, axis = case
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3 + 1).astype(np.float32)  # (N,...,C) away from mean 0
    dy = rng.normal(size=shape).astype(np.float32)
    ours, theirs = twin_layers("BatchNormalization", x, seed, axis=axis)
    y, grads, dx = minidl_forward_backward(ours, x, dy, training)
    keras_y, keras_grads, keras_dx = keras_forward_backward(theirs, x, dy, training)
    assert_close([y, dx] + grads, [keras_y, keras_dx] + keras_grads)
    # training=True moved the averages in both, training=False in neither
    assert_close(ours.get_weights(), theirs.get_weights(), rtol=1e-6, atol=1e-7)


@given(axis=st.sampled_from([-1, [1, 2], [-1, 1]]), seed=st.integers(0, 2**16))
def test_layer_normalization_matches_keras(axis, seed):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(4, 3, 5)) * 2 - 1).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    ours, theirs = twin_layers("LayerNormalization", x, seed, axis=axis)
    # (automatic names left out: each framework counts the layers every earlier test made)
    assert ({k: v for k, v in ours.get_config().items() if k != "name"}
            == {k: v for k, v in theirs.get_config().items() if k not in ("dtype", "name")})
    y, grads, dx = minidl_forward_backward(ours, x, dy, True)
    keras_y, keras_grads, keras_dx = keras_forward_backward(theirs, x, dy, True)
    assert_close([y, dx] + grads, [keras_y, keras_dx] + keras_grads)


# -- gradient checks, with negative controls -------------------------------------------------
class BatchNormWithoutStatisticsPath(layers.BatchNormalization):
    """A wrong backward: treats the batch mean and variance as constants."""

    def backward(self, dy, cache, need_dx=True):
        xhat, rstd, _ = cache
        return super().backward(dy, (xhat, rstd, False), need_dx)


class LayerNormWithoutVariancePath(layers.LayerNormalization):
    """A wrong backward: forgets the path through the variance."""

    def backward(self, dy, cache, need_dx=True):
        xhat, rstd = cache
        dx, grads = super().backward(dy, (xhat, rstd), need_dx)
        dxhat = dy * self.gamma.value
        return (dxhat - dxhat.mean(axis=-1, keepdims=True)) * rstd, grads


@pytest.mark.parametrize("shape, axis", [((6, 3), -1), ((3, 2, 2, 3), -1), ((3, 2, 2, 2), 1)])
def test_batchnorm_gradient_check_passes_and_its_negative_control_fails(float64, shape, axis):
    x = np.random.default_rng(1).normal(size=shape) * 2 + 0.5
    layer = layers.BatchNormalization(axis=axis, gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    result = check_gradients(layer, x)
    assert result.passed, str(result)
    assert [row["name"] for row in result.rows][-1] == "x (input)"
    wrong = check_gradients(BatchNormWithoutStatisticsPath(axis=axis), x)
    assert wrong.failed == ["x (input)"], str(wrong)


def test_layer_normalization_gradient_check_and_negative_control(float64):
    x = np.random.default_rng(2).normal(size=(5, 4)) * 2 + 0.5
    layer = layers.LayerNormalization(gamma_initializer="random_normal")
    assert check_gradients(layer, x).passed
    assert check_gradients(LayerNormWithoutVariancePath(gamma_initializer="random_normal"),
                           x).failed == ["x (input)"]


def test_batchnorm_in_a_model_passes_the_model_gradient_check(float64):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 4)), rng.integers(0, 3, 12)
    model = minidl.Sequential([minidl.Input((4,)), layers.Dense(5, activation="tanh"),
                               layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    result = check_gradients(model, x, y, check_input=True)
    assert result.passed, str(result)


# -- in a model: moving averages, fit, frozen layers ------------------------------------------
def bn_models(optimizer="sgd", frozen=False, seed=0):
    """Dense -> BatchNormalization -> Dense in both frameworks, same names and weights."""
    models = []
    for framework in (keras, minidl):
        bn = framework.layers.BatchNormalization(name="bn")
        bn.trainable = not frozen
        model = framework.Sequential([
            framework.Input((4,)), framework.layers.Dense(6, activation="relu", name="hidden"),
            bn, framework.layers.Dense(3, activation="softmax", name="out")], name="bn_model")
        model.compile(optimizer={"sgd": framework.optimizers.SGD(0.1),
                                 "adam": framework.optimizers.Adam(0.01)}[optimizer],
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        models.append(model)
    rng = np.random.default_rng(seed)
    for keras_layer, layer in zip(models[0].layers, models[1].layers):
        weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
        if isinstance(layer, layers.BatchNormalization):  # a positive moving variance
            weights[3] = np.abs(weights[3]) + 0.5
        layer.set_weights(weights), keras_layer.set_weights(weights)
    return models


def data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 4)) * 2 + 1).astype(np.float32), rng.integers(0, 3, n)


def layer_weights(model):
    """Every layer's weights, layer by layer (gamma, beta, moving_mean, moving_variance for BN)."""
    return [w for layer in model.layers for w in layer.get_weights()]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_fit_history_and_moving_averages_match_keras(optimizer):
    keras_model, model = bn_models(optimizer)
    x, y = data()
    keras_loss, keras_grads = keras_loss_and_gradients(keras_model, x, y)  # moves the averages
    loss, grads = model.loss_and_gradients(x, y)  # ... in both
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    assert_close(grads, keras_grads)
    kwargs = dict(epochs=3, batch_size=8, shuffle=False, validation_split=0.25, verbose=0)
    theirs = keras_model.fit(x, y, **kwargs).history
    ours = model.fit(x, y, **kwargs).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:  # val_loss runs in inference mode: it reads the moving averages
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    assert_close(layer_weights(model), layer_weights(keras_model))  # 12 steps of averages
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_any_training_call_moves_the_averages_and_inference_does_not():
    keras_model, model = bn_models()
    x, _ = data()
    bn, keras_bn = model.get_layer("bn"), keras_model.get_layer("bn")
    before = bn.get_weights()
    model(x), keras_model(x)
    assert_close(bn.get_weights(), before, rtol=0, atol=0)
    assert_close(keras_bn.get_weights(), before, rtol=0, atol=0)
    for _ in range(3):
        model(x, training=True), keras_model(x, training=True)
    assert not np.allclose(bn.get_weights()[2], before[2])
    assert_close(bn.get_weights(), keras_bn.get_weights(), rtol=1e-6, atol=1e-7)


def test_a_frozen_batchnorm_uses_its_averages_even_when_training():
    keras_model, model = bn_models("sgd", frozen=True)
    x, y = data()
    assert [w.path for w in model.non_trainable_weights] == \
        ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    before = model.get_layer("bn").get_weights()
    kwargs = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs, ours = keras_model.fit(x, y, **kwargs).history, model.fit(x, y, **kwargs).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    assert_close(model.get_layer("bn").get_weights(), before, rtol=0, atol=0)
    assert_close(layer_weights(model), layer_weights(keras_model))


# -- weights, summary, configs, errors ---------------------------------------------------------
def test_weights_are_gamma_beta_moving_mean_moving_variance_as_in_keras():
    keras_model, model = bn_models()
    bn, keras_bn = model.get_layer("bn"), keras_model.get_layer("bn")
    assert [w.name for w in bn.weights] == [w.name for w in keras_bn.weights]
    assert [w.path for w in bn.trainable_weights] == ["bn/gamma", "bn/beta"]
    assert [w.path for w in bn.non_trainable_weights] == ["bn/moving_mean", "bn/moving_variance"]
    scale_only = layers.BatchNormalization(center=False)
    scale_only(np.zeros((2, 3), np.float32))
    assert [w.name for w in scale_only.weights] == ["gamma", "moving_mean", "moving_variance"]


@pytest.mark.parametrize("columns", ["80", "120"])
def test_summary_counts_the_moving_averages_as_non_trainable(columns, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    keras_model, model = bn_models()
    capsys.readouterr()
    keras_model.summary()
    theirs = capsys.readouterr().out
    model.summary()
    ours = capsys.readouterr().out
    assert ours == theirs
    assert " Non-trainable params: 12 (48.00 B)" in ours


def test_configs_build_each_other():
    ours = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                                     gamma_regularizer="l2", name="bn")
    theirs = keras.layers.BatchNormalization.from_config(ours.get_config())
    expected = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    assert ours.get_config() == expected
    back = layers.BatchNormalization(**expected)
    assert back.get_config() == expected


def test_errors_name_the_argument_and_leave_the_layer_unbuilt():
    layer = layers.BatchNormalization(axis=3)
    with pytest.raises(ValueError, match=r"Axis 3 is out of bounds for input shape"):
        layer(np.zeros((2, 3), np.float32))
    assert not layer.built and layer.weights == []
    layer = layers.BatchNormalization()
    layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="expected ndim=2, found ndim=3"):
        layer(np.zeros((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: 3"):
        layers.BatchNormalization(beta_constraint=3)
    with pytest.raises(TypeError, match="axis"):
        layers.BatchNormalization(axis=[1, 2])
