"""The activations beyond the first five (elu, selu, leaky_relu, relu6, softplus, softsign,
silu/swish, gelu, hard_sigmoid, hard_silu, exponential), each against live Keras (values and
gradients, on a grid and on hypothesis-drawn arrays), its backward against central
differences with negative controls, and a model using them against Keras (loss, gradients,
a short fit)."""
import functools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from parity import assert_same_fit, assert_same_loss_and_gradients
import tensorflow as tf
from minidl import activations, more_activations
from minidl.testing import check_gradients

EPS32 = float(np.finfo(np.float32).eps)  # 1.19e-7, one float32 ulp at 1

# (name, keyword arguments), every activation this family adds, and the largest error
# allowed against Keras in float32 ulps of max(|value|, 1). Most agree to a few ulps
# (NumPy's and Eigen's exp, tanh, log differ by an ulp or two). gelu approximate: Eigen's
# float32 tanh is exactly -1 beyond |u| = 7.9, so near z = -4.9 TensorFlow's gradient is 0
# where the true one is -3e-6.
CASES = [("silu", {}, 8), ("relu6", {}, 1), ("leaky_relu", {}, 1),
         ("leaky_relu", {"negative_slope": 0.05}, 1), ("elu", {}, 4), ("elu", {"alpha": 0.5}, 4),
         ("selu", {}, 4), ("softplus", {}, 4), ("softsign", {}, 1), ("gelu", {}, 4),
         ("gelu", {"approximate": True}, 64), ("hard_sigmoid", {}, 1), ("hard_silu", {}, 4),
         ("exponential", {}, 4)]
CASE_IDS = [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw, _ in CASES]

# Where each derivative jumps: central differences must keep away from these points.
KINKS = {"relu6": (0, 6), "leaky_relu": (0,), "elu": (0,), "selu": (0,),
         "hard_sigmoid": (-3, 3), "hard_silu": (-3, 3)}


def minidl_pair(name, kwargs):
    """The forward function with its settings, carrying its backward (as `get` expects)."""
    forward = functools.partial(getattr(activations, name), **kwargs)
    forward.backward = functools.partial(getattr(activations, name + "_backward"), **kwargs)
    return forward


def keras_values_and_gradient(name, kwargs, z, da, graph=True):
    """Keras's f(z) and da * f'(z), in a tf.function (as fit runs it) or eagerly."""
    def run(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            a = getattr(keras.activations, name)(t, **kwargs)
        return a, tape.gradient(a, t, output_gradients=tf.constant(da))

    a, dz = (tf.function(run) if graph else run)(tf.constant(z))
    return np.asarray(a), np.asarray(dz)


def ulps_off(ours, theirs, da=1.0):
    """The largest difference, in float32 ulps of max(|theirs|, |da|, 1) (a gradient's
    rounding scales with da)."""
    scale = np.maximum(np.maximum(np.abs(theirs.astype(np.float64)), np.abs(da)), 1.0)
    return float(np.max(np.abs(ours.astype(np.float64) - theirs) / scale) / EPS32)


def grid():
    rng = np.random.default_rng(0)
    z = np.concatenate([np.linspace(-12, 12, 2001), rng.normal(size=2000) * 3,
                        rng.normal(size=500) * 1e-3, [0.0, -3.0, 3.0, 6.0, -1e-30]])
    return z.astype(np.float32), rng.normal(size=z.shape).astype(np.float32)


@pytest.mark.parametrize("name, kwargs, ulps", CASES, ids=CASE_IDS)
def test_values_and_gradients_match_keras_on_a_grid(name, kwargs, ulps):
    z, da = grid()
    if name == "exponential":
        z = np.clip(z, -80, 80)  # exp(88) overflows float32 in both
    f = minidl_pair(name, kwargs)
    a = f(z)
    dz = f.backward(da, z, a)
    keras_a, keras_dz = keras_values_and_gradient(name, kwargs, z, da)
    assert a.dtype == dz.dtype == np.float32
    assert ulps_off(a, keras_a) <= ulps
    assert ulps_off(dz, keras_dz, da) <= ulps


@given(case=st.sampled_from(CASES), data=st.data())
def test_any_shape_and_values_match_keras_and_stay_float32(case, data):
    name, kwargs, ulps = case
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    z = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(-20, 20, width=32)))
    da = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    f = minidl_pair(name, kwargs)
    a = f(z)
    dz = f.backward(da, z, a)
    keras_a, keras_dz = keras_values_and_gradient(name, kwargs, z, da, graph=False)
    assert a.shape == dz.shape == shape and a.dtype == dz.dtype == np.float32
    # Eagerly, TensorFlow divides by 6 in hard_sigmoid (the graph multiplies by 1/6): 1 ulp.
    assert ulps_off(a, keras_a) <= max(ulps, 2)
    assert ulps_off(dz, keras_dz, da) <= max(ulps, 2)


def away_from_kinks(name, shape=(6, 5), seed=0):
    z = np.random.default_rng(seed).uniform(-5, 7, size=shape)
    for kink in KINKS.get(name, ()):
        z[np.abs(z - kink) < 0.01] += 0.05
    return z


@pytest.mark.parametrize("name, kwargs, ulps", CASES, ids=CASE_IDS)
def test_backward_matches_central_differences(float64, name, kwargs, ulps):
    result = check_gradients(minidl_pair(name, kwargs), away_from_kinks(name))
    assert result.passed, str(result)


def wrong(name, kwargs, backward):
    f = minidl_pair(name, kwargs)
    f.backward = backward
    return f


# Mistakes a learner could make, each of which the gradient check must catch.
MISTAKES = {
    "elu forgets alpha": wrong("elu", {"alpha": 0.5}, lambda da, z, a: np.where(
        z > 0, da, da * (a + 1))),
    "selu forgets scale on the right": wrong("selu", {}, lambda da, z, a: np.where(
        z < 0, da * (a + more_activations.SELU_SCALE_ALPHA), da)),
    "gelu keeps only Phi(z)": wrong("gelu", {}, lambda da, z, a: da * 0.5 * more_activations.erfc(
        -z / math.sqrt(2))),
    "softplus uses sigmoid(-z)": wrong("softplus", {}, lambda da, z, a: da * np.exp(-a)),
    "silu forgets the product rule": wrong("silu", {}, lambda da, z, a: da
                                           * activations.sigmoid(z)),
    "hard_silu forgets z * hs'(z)": wrong("hard_silu", {}, lambda da, z, a: da
                                          * activations.hard_sigmoid(z)),
    "softsign without the square": wrong("softsign", {}, lambda da, z, a: da / (1 + np.abs(z))),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_the_gradient_check_catches_a_wrong_backward(float64, mistake):
    result = check_gradients(MISTAKES[mistake], away_from_kinks("elu"))
    assert not result.passed, str(result)


def test_erfc_is_exact_to_float64_and_to_float32_rounding():
    # Up to z = 26: beyond, erfc(z) < 1e-296 heads into float64's subnormals.
    z = np.concatenate([np.linspace(-6, 26, 20001), [0.0, 0.46875, -0.46875, 4.0, -4.0]])
    exact = np.array([math.erfc(v) for v in z])
    assert np.max(np.abs(more_activations.erfc(z) - exact) / exact) < 1e-13
    z32 = np.linspace(-9, 9, 20001).astype(np.float32)
    exact32 = np.array([math.erfc(v) for v in z32.astype(np.float64)]).astype(np.float32)
    assert np.array_equal(more_activations.erfc(z32), exact32)
    assert more_activations.erfc(np.array([np.inf, -np.inf])).tolist() == [0.0, 2.0]
    assert np.isnan(more_activations.erfc(np.array([np.nan]))).all()


def test_gelu_is_z_times_the_normal_distribution_function(float64):
    z = np.linspace(-8, 8, 401)
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in z])  # = (1 + erf(z/sqrt 2))/2
    np.testing.assert_allclose(activations.gelu(z), z * phi, rtol=1e-13)


def test_names_and_aliases_resolve_as_keras():
    for name in list(activations._FORWARD) + ["swish", "hard_swish"]:
        ours = activations.get(name)
        assert activations.serialize(ours) == keras.activations.get(name).__name__
        assert activations.get(activations.serialize(ours)) is ours
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: "
                                         "Gelu. Expected one of .*'gelu'.*'swish'"):
        activations.get("Gelu")


# A model whose hidden layers use every new activation, by name, in Dense and Activation.
HIDDEN = ["elu", "selu", "softplus", "softsign", "swish", "gelu", "hard_sigmoid", "hard_swish",
          "leaky_relu", "relu6", "silu", "exponential"]


def twins():
    models = []
    for framework in (keras, minidl):
        layers = [framework.Input((5,))]
        for i, name in enumerate(HIDDEN):
            if i % 3 == 2:  # every third as an Activation layer after a linear Dense
                layers += [framework.layers.Dense(6), framework.layers.Activation(name)]
            else:
                layers.append(framework.layers.Dense(6, activation=name))
        layers.append(framework.layers.Dense(3, activation="softmax"))
        model = framework.Sequential(layers)
        model.compile(optimizer=framework.optimizers.SGD(0.05),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        models.append(model)
    rng = np.random.default_rng(1)
    weights = [(rng.normal(size=w.shape) * 0.6).astype(np.float32)
               for w in models[0].get_weights()]
    for model in models:
        model.set_weights(weights)
    return models


def test_a_model_of_every_new_activation_matches_keras_loss_gradients_and_fit():
    keras_model, model = twins()
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(24, 5)).astype(np.float32), rng.integers(0, 3, 24)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert_same_loss_and_gradients(keras_model, model, x, y, rtol=1e-4)
    assert_same_fit(keras_model, model, x, y, evaluate=False, epochs=3, batch_size=8,
                    validation_split=0.25)


# -- the rest of Keras 3.15's activations (minidl/rest_activations.py) ---------------------------
# (name, keyword arguments, largest error in float32 ulps of max(|value|, |da|, 1)). The
# piecewise ones are exact (0 ulps), kinks included. The smooth ones differ by NumPy's and
# Eigen's exp, expm1, log1p, tanh and sigmoid, an ulp or two each; where a derivative scales
# such a difference (mish: z * (1 - t*t) with |z| <= 12 and t within ulps of 1; glu:
# x1 * s * (1 - s), |x1| <= 12) it grows to ~30 and ~11 ulps (measured: 30.7 and 10.9).
REST_CASES = [("hard_tanh", {}, 0), ("hard_shrink", {}, 0), ("hard_shrink", {"threshold": 1.0}, 0),
              ("soft_shrink", {}, 0), ("soft_shrink", {"threshold": 1.0}, 0),
              ("threshold", {"threshold": 0.5, "default_value": -3.0}, 0),
              ("sparse_sigmoid", {}, 0), ("sparse_plus", {}, 1), ("celu", {}, 4),
              ("celu", {"alpha": 0.7}, 4), ("squareplus", {}, 4), ("squareplus", {"b": 1}, 4),
              ("tanh_shrink", {}, 8), ("mish", {}, 48), ("log_sigmoid", {}, 4),
              ("glu", {}, 16), ("log_softmax", {}, 8), ("sparsemax", {}, 8)]
REST_IDS = [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw, _ in REST_CASES]
KINK_VALUES = [-1.0, -0.7, -0.5, 0.0, 0.5, 0.7, 1.0]  # where the piecewise ones switch


def rest_pair(name, kwargs):
    forward = functools.partial(getattr(activations, name), **kwargs)
    forward.backward = functools.partial(getattr(activations, name + "_backward"), **kwargs)
    return forward


def compare_rest(name, kwargs, ulps, z, da_seed=0):
    f = rest_pair(name, kwargs)
    a = f(z)
    da = np.random.default_rng(da_seed).normal(size=a.shape).astype(np.float32)
    dz = f.backward(da, z, a)
    keras_a, keras_dz = keras_values_and_gradient(name, kwargs, z, da, graph=False)
    assert a.dtype == dz.dtype == np.float32 and dz.shape == z.shape
    assert ulps_off(a, keras_a) <= ulps
    # glu: x1's and x2's gradients both scale with the da of their half
    scale = da if da.shape == z.shape else np.concatenate([da, da], axis=-1)
    assert ulps_off(dz, keras_dz, scale) <= ulps


@pytest.mark.parametrize("name, kwargs, ulps", REST_CASES, ids=REST_IDS)
def test_rest_values_and_gradients_match_keras_on_a_grid_with_kinks(name, kwargs, ulps):
    rng = np.random.default_rng(0)
    z = np.concatenate([np.linspace(-12, 12, 2001), rng.normal(size=489) * 3,
                        KINK_VALUES + [0.0, 1.0, -1.0]]).astype(np.float32).reshape(-1, 10)
    z[5, :4] = z[6, :4] = 2.0  # ties, for sparsemax's sort
    compare_rest(name, kwargs, ulps, z)


@given(case=st.sampled_from(REST_CASES), data=st.data())
def test_rest_on_drawn_arrays_with_kinks_and_ties_match_keras(case, data):
    name, kwargs, ulps = case
    rows, cols = data.draw(st.integers(1, 4)), 2 * data.draw(st.integers(1, 3))
    elements = st.one_of(st.sampled_from(KINK_VALUES), st.floats(-12, 12, width=32))
    z = data.draw(hnp.arrays(np.float32, (rows, cols), elements=elements))
    compare_rest(name, kwargs, ulps, z, da_seed=data.draw(st.integers(0, 100)))


def test_rest_derivatives_at_the_kinks_are_tensorflows():
    """Hand-read from TensorFlow's gradients: celu'(0) = 2 (max and min both pass it),
    hard_tanh' = 1 at +-1 (clip_by_value), 0 at the shrinks' thresholds and sparse_sigmoid's
    ends, sparse_plus'(1) = 1; each checked against Keras above, here stated."""
    z = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], np.float32)
    ones = np.ones_like(z)

    def d(name):
        return activations.backward_of(activations.get(name))(ones, z, activations.get(name)(z))

    assert d("celu")[2:].tolist() == [2.0, 1.0, 1.0]  # exp(z) to the left
    assert d("hard_tanh").tolist() == [1, 1, 1, 1, 1]
    assert d("hard_shrink").tolist() == d("soft_shrink").tolist() == [1, 0, 0, 0, 1]
    assert d("sparse_sigmoid").tolist() == [0, 0.5, 0.5, 0.5, 0]
    assert d("sparse_plus").tolist() == [0, 0.25, 0.5, 0.75, 1]
    for name in ("celu", "hard_tanh", "hard_shrink", "sparse_sigmoid", "sparse_plus"):
        # exact but for celu's exp(z) left of 0 (NumPy's and Eigen's exp: an ulp)
        np.testing.assert_allclose(d(name), keras_values_and_gradient(name, {}, z, ones)[1],
                                   rtol=2 * EPS32, atol=0)


def rest_numeric_check(f, z, h=1e-6):
    """L = sum(w * f(z)) for a fixed w (f(z)'s shape: glu halves z): the relative error of
    the backward against float64 central differences."""
    from minidl.testing import numerical_gradient, relative_error
    w = np.random.default_rng(0).normal(size=f(z).shape)
    analytic = f.backward(w, z, f(z))
    numeric = numerical_gradient(lambda: (w * f(z)).sum(), z, h)
    return relative_error(analytic, numeric)


def away_from_rest_kinks(shape=(6, 6), seed=0):
    z = np.random.default_rng(seed).uniform(-3, 3, size=shape)
    for kink in (-1.0, -0.5, 0.0, 0.5, 1.0):
        z[np.abs(z - kink) < 0.01] += 0.05
    return z


@pytest.mark.parametrize("name, kwargs, ulps", REST_CASES, ids=REST_IDS)
def test_rest_backward_matches_central_differences(float64, name, kwargs, ulps):
    assert rest_numeric_check(rest_pair(name, kwargs), away_from_rest_kinks()) < 1e-5


REST_MISTAKES = {
    "celu forgets / alpha": ("celu", {"alpha": 0.7}, lambda da, z, a: np.where(
        z > 0, da, da * 0.7 * np.exp(z / 0.7))),
    "mish forgets the product rule": ("mish", {}, lambda da, z, a: da * np.tanh(
        more_activations.softplus(z))),
    "log_softmax without the sum": ("log_softmax", {}, lambda da, z, a: da - np.exp(a) * da),
    "sparsemax without tau's share": ("sparsemax", {}, lambda da, z, a: da * (a > 0)),
    "glu forgets x1 in the gate": ("glu", {}, lambda da, z, a: np.concatenate(
        [da * activations.sigmoid(np.split(z, 2, -1)[1]),
         da * activations.sigmoid(np.split(z, 2, -1)[1])], axis=-1)),
    "squareplus forgets the half": ("squareplus", {}, lambda da, z, a: da * (
        1 + z / np.sqrt(z * z + 4))),
}


@pytest.mark.parametrize("mistake", sorted(REST_MISTAKES))
def test_the_check_catches_a_wrong_rest_backward(float64, mistake):
    name, kwargs, backward = REST_MISTAKES[mistake]
    f = rest_pair(name, kwargs)
    f.backward = backward
    assert rest_numeric_check(f, away_from_rest_kinks()) > 1e-3


# Every one usable by name in a model, in Dense and Activation (glu halves its input and
# threshold needs arguments: Keras fails on both in a model, tested below).
REST_HIDDEN = ["celu", "hard_shrink", "hard_tanh", "log_sigmoid", "log_softmax", "mish",
               "soft_shrink", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus",
               "tanh_shrink"]


def rest_twins():
    models = []
    for framework in (keras, minidl):
        layers = [framework.Input((5,))]
        for i, name in enumerate(REST_HIDDEN):
            if i % 3 == 2:
                layers += [framework.layers.Dense(6), framework.layers.Activation(name)]
            else:
                layers.append(framework.layers.Dense(6, activation=name))
        layers.append(framework.layers.Dense(3, activation="softmax"))
        model = framework.Sequential(layers)
        model.compile(optimizer=framework.optimizers.SGD(0.05),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        models.append(model)
    rng = np.random.default_rng(1)
    weights = [(rng.normal(size=w.shape) * 0.8).astype(np.float32)
               for w in models[0].get_weights()]
    for model in models:
        model.set_weights(weights)
    return models


def test_a_model_of_the_rest_by_name_matches_keras_loss_gradients_and_fit():
    keras_model, model = rest_twins()
    assert [layer.get_config().get("activation") for layer in model.layers] == [
        layer.get_config().get("activation") for layer in keras_model.layers]
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(24, 5)).astype(np.float32), rng.integers(0, 3, 24)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert_same_loss_and_gradients(keras_model, model, x, y, rtol=1e-4)
    assert_same_fit(keras_model, model, x, y, evaluate=False, epochs=2, batch_size=8)


def test_glu_and_threshold_fail_in_a_model_as_in_keras():
    x = np.ones((2, 5), np.float32)
    for framework in (keras, minidl):
        with pytest.raises(TypeError, match="missing 2 required positional arguments"):
            framework.Sequential([framework.Input((5,)),
                                  framework.layers.Dense(4, activation="threshold")]).predict(
                x, verbose=0)
        with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
            framework.Sequential([framework.Input((5,)), framework.layers.Dense(4, activation="glu"),
                                  framework.layers.Dense(2)]).predict(x, verbose=0)
        with pytest.raises(ValueError, match="axis size must be divisible by 2"):
            framework.activations.glu(np.ones((2, 3), np.float32))
