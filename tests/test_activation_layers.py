"""Softmax, ReLU, LeakyReLU, ELU and PReLU against their Keras twins: outputs and gradients
over hypothesis shapes, central differences with negative controls, the Softmax output
that a cross-entropy works from the logits of (as Keras's `_keras_logits`), a model of all
of them (loss, gradients, fit), configs both ways and Keras's errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from parity import assert_same_fit, assert_same_loss_and_gradients, same_random_weights
import tensorflow as tf
from minidl.layers import LeakyReLU, PReLU, ReLU, Softmax
from minidl.testing import check_gradients
from reference.gradients import keras_loss_and_gradients

EPS32 = float(np.finfo(np.float32).eps)

# (class name, constructor arguments, smallest input rank)
CASES = [
    ("Softmax", {}, 2), ("Softmax", {"axis": 1}, 3), ("Softmax", {"axis": [1, 2]}, 3),
    ("ReLU", {}, 2), ("ReLU", {"max_value": 6.0}, 2),
    ("ReLU", {"max_value": 6.0, "negative_slope": 0.1}, 2), ("ReLU", {"negative_slope": 0.1}, 2),
    ("ReLU", {"max_value": 2.5, "negative_slope": 0.2, "threshold": 0.5}, 2),
    ("ReLU", {"threshold": 1.0}, 2), ("LeakyReLU", {}, 2),
    ("LeakyReLU", {"negative_slope": 0.1}, 2), ("ELU", {}, 2), ("ELU", {"alpha": 0.7}, 2),
    ("PReLU", {}, 2), ("PReLU", {"shared_axes": [1]}, 3),
]
CASE_IDS = [f"{name}{kwargs}" for name, kwargs, _ in CASES]


def twin_layers(name, kwargs, shape, seed=0):
    """The Keras and minidl layers, built for `shape`, with the same (random) PReLU slopes."""
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(minidl.layers, name)(**kwargs)
    theirs.build((None,) + shape[1:])
    ours(np.zeros((1,) + shape[1:], np.float32))  # builds
    weights = [np.random.default_rng(seed).uniform(-0.5, 1.5, w.shape).astype(np.float32)
               for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def keras_outputs_and_gradients(layer, x, dy):
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = layer(t)
    grads = tape.gradient(y, [t] + layer.trainable_weights, output_gradients=tf.constant(dy))
    return np.asarray(y), [np.asarray(g) for g in grads]


def minidl_outputs_and_gradients(layer, x, dy):
    with minidl.tape.Tape() as tape:
        y = layer(x)
    *grads, dx = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
    return y, [dx] + grads


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")  # Keras, on size-1 axes
@given(case=st.sampled_from(CASES), data=st.data())
def test_outputs_and_gradients_match_keras_over_shapes(case, data):
    name, kwargs, rank = case
    shape = data.draw(hnp.array_shapes(min_dims=rank, max_dims=rank, max_side=5))
    x = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-8, 8, width=32)))
    dy = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    theirs, ours = twin_layers(name, kwargs, shape)
    keras_y, keras_grads = keras_outputs_and_gradients(theirs, x, dy)
    y, grads = minidl_outputs_and_gradients(ours, x, dy)
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(y, keras_y, rtol=4 * EPS32, atol=4 * EPS32)
    for g, keras_g in zip(grads, keras_grads):
        np.testing.assert_allclose(g, keras_g, rtol=1e-6, atol=1e-6)


KINKS = (0.0, 0.5, 2.5, 6.0, 1.0)  # every threshold and cap of CASES


def away_from_kinks(shape, seed=0):
    x = np.random.default_rng(seed).uniform(-7, 7, size=shape)
    for kink in KINKS:
        x[np.abs(x - kink) < 0.02] += 0.05
    return x


@pytest.mark.parametrize("name, kwargs, rank", CASES, ids=CASE_IDS)
def test_backward_matches_central_differences(float64, name, kwargs, rank):
    layer = getattr(minidl.layers, name)(**kwargs)
    x = away_from_kinks((4, 3, 5)[:rank] if rank == 3 else (4, 5))
    if isinstance(layer, PReLU):
        layer(x)
        layer.alpha.assign(np.random.default_rng(2).uniform(-0.5, 1.5, layer.alpha.shape))
    result = check_gradients(layer, x)
    assert result.passed, str(result)


class PReLUWrongAlphaSign(PReLU):
    def backward(self, dy, cache, need_dx=True):
        dx, grads = super().backward(dy, cache, need_dx)
        return dx, {v: -g for v, g in grads.items()}  # forgets the minus of -relu(-z)


class ReLUCapLeaks(ReLU):
    def backward(self, da, cache, need_dx=True):
        return da * (cache > self.threshold), {}  # the gradient passes above max_value too


class SoftmaxAlongRows(Softmax):
    def backward(self, da, cache, need_dx=True):
        z, a = cache
        return a * (da - (da * a).sum(axis=0, keepdims=True)), {}  # the wrong axis


@pytest.mark.parametrize("layer, failing_row", [
    (PReLUWrongAlphaSign(), "alpha"), (ReLUCapLeaks(max_value=2.5), "x (input)"),
    (SoftmaxAlongRows(), "x (input)")], ids=["prelu-alpha-sign", "relu-cap", "softmax-axis"])
def test_the_gradient_check_catches_a_wrong_backward(float64, layer, failing_row):
    result = check_gradients(layer, away_from_kinks((4, 5)))
    assert not result.passed and any(failing_row in row for row in result.failed), str(result)


def softmax_twins(shape, axis, units, scale):
    """Input(shape) -> Dense(units) -> Softmax(axis), categorical cross-entropy."""
    models = []
    for framework in (keras, minidl):
        model = framework.Sequential([framework.Input(shape), framework.layers.Dense(units),
                                      framework.layers.Softmax(axis=axis)])
        model.compile(optimizer=framework.optimizers.SGD(0.01), loss="categorical_crossentropy")
        models.append(model)
    rng = np.random.default_rng(3)
    weights = [(rng.normal(size=w.shape) * scale).astype(np.float32)
               for w in models[0].get_weights()]
    for model in models:
        model.set_weights(weights)
    return models


# Keras leaves `_keras_logits` on a one-axis softmax whatever the axis, and its cross-entropy
# then reduces the last axis of those logits; with saturated probabilities (weights * 20)
# only the logits give Keras's loss. Two axes: no logits (weights * 1, nothing saturates).
@pytest.mark.parametrize("shape, axis, units, logits", [
    ((3,), -1, 4, True), ((3, 2), 1, 4, True), ((3, 2), [1, 2], 4, False)],
    ids=["last-axis", "axis-1-of-3d", "two-axes"])
def test_a_softmax_output_gives_the_cross_entropy_its_logits_as_keras(shape, axis, units,
                                                                      logits):
    keras_model, model = softmax_twins(shape, axis, units, 20 if logits else 1)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6,) + shape).astype(np.float32)
    y_shape = (6,) + shape[:-1] + (units,)
    y = np.eye(units)[rng.integers(0, units, y_shape[:-1])].astype(np.float32)
    keras_loss, keras_grads = keras_loss_and_gradients(keras_model, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-5)
    for ours, theirs in zip(grads, keras_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    # The test tells the two paths apart: from the clipped probabilities the loss differs.
    p = np.clip(model.predict(x, verbose=0), 1e-7, 1 - 1e-7)
    p = p / p.sum(axis=-1, keepdims=True)
    clipped = np.mean(-(y * np.log(np.clip(p, 1e-7, 1 - 1e-7))).sum(axis=-1))
    assert bool(abs(clipped - loss) > 0.1) is logits
    assert (model.layers[-1].activation is minidl.activations.softmax) is logits


def layers_twins():
    models = []
    for f in (keras, minidl):
        model = f.Sequential([
            f.Input((4,)), f.layers.Dense(6), f.layers.ReLU(max_value=2.5, negative_slope=0.2,
                                                           threshold=0.5),
            f.layers.Dense(6), f.layers.LeakyReLU(), f.layers.Dense(6), f.layers.ELU(alpha=0.7),
            f.layers.Dense(6), f.layers.PReLU(alpha_initializer=f.initializers.Constant(0.25)),
            f.layers.Dense(3), f.layers.Softmax()])
        model.compile(optimizer=f.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        models.append(model)
    return same_random_weights(models, seed=5)


def test_a_model_of_activation_layers_matches_keras_loss_gradients_and_fit():
    keras_model, model = layers_twins()
    assert [w.shape for w in model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(24, 4)).astype(np.float32), rng.integers(0, 3, 24)
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, evaluate=False, epochs=3, batch_size=8,
                    validation_split=0.25)


@pytest.mark.parametrize("name, kwargs, rank", CASES, ids=CASE_IDS)
def test_configs_are_keras_configs_both_ways(name, kwargs, rank):
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(minidl.layers, name)(**kwargs)
    keras_config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    config = ours.get_config()
    assert sorted(config) == sorted(keras_config)
    assert {k: v for k, v in config.items() if k != "name"} == \
        {k: v for k, v in keras_config.items() if k != "name"}
    rebuilt = getattr(keras.layers, name).from_config(config).get_config()
    assert {k: v for k, v in rebuilt.items() if k != "dtype"} == config
    assert getattr(minidl.layers, name).from_config(keras_config).get_config() == keras_config


@pytest.mark.parametrize("name, kwargs", [
    ("ReLU", {"max_value": -1.0}), ("ReLU", {"negative_slope": -0.1}),
    ("ReLU", {"threshold": -0.5}), ("ReLU", {"negative_slope": None}),
    ("LeakyReLU", {"negative_slope": -0.3})])
def test_bad_arguments_raise_keras_errors(name, kwargs):
    with pytest.raises(ValueError) as keras_error:
        getattr(keras.layers, name)(**kwargs)
    with pytest.raises(ValueError) as error:
        getattr(minidl.layers, name)(**kwargs)
    assert str(error.value) == str(keras_error.value)


def test_leaky_relu_takes_keras_2s_alpha_with_a_warning():
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    assert LeakyReLU().negative_slope == 0.3 and minidl.activations.leaky_relu(
        np.float32([-1.0])) == np.float32(-0.2)  # the layer's and the function's defaults


def test_prelu_refuses_a_different_shape_after_building_as_keras():
    theirs, ours = twin_layers("PReLU", {"shared_axes": [1]}, (2, 3, 4))
    for bad in [np.zeros((2, 3, 5), np.float32), np.zeros((2, 3), np.float32)]:
        with pytest.raises(ValueError) as keras_error:
            theirs(bad)
        with pytest.raises(ValueError) as error:
            ours(bad)
        # The same words after the layer's name (minidl writes `Input 0 of layer "name"`,
        # as its other layers, where Keras 3.15 writes `Input 0 with name 'None' of layer`).
        what = "is incompatible with the layer: "
        assert str(error.value).split(what)[1] == str(keras_error.value).split(what)[1]
        assert f'layer "{ours.name}"' in str(error.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ours(np.ones((2, 7, 4), np.float32)).shape == (2, 7, 4)  # axis 1 is shared
