"""Central-difference gradient checks, in float64, of every activation, loss, layer and model.

Each analytic gradient (backprop) is compared with (f(w+h) - f(w-h)) / 2h. The negative
controls at the end prove the checker fails on a wrong gradient.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minidl
from minidl import activations, losses
from minidl.head import Head
from minidl.layers import Dense
from minidl.tape import Tape
from minidl.testing import check_gradients, numerical_gradient, relative_error

from minidl.strategies import float_arrays as arrays, loss_cases, output_activation

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax"]

TOL = 1e-6  # relative error (norm-wise) allowed between backprop and central differences
ATOL = 1e-9  # for gradients so small that float64 rounding of f dominates the difference


def agree(analytic, numeric):
    """Backprop and central differences agree, relatively or (for tiny gradients) absolutely."""
    return (relative_error(analytic, numeric) < TOL
            or np.max(np.abs(np.asarray(analytic) - numeric)) < ATOL)


@given(name=st.sampled_from(ACTIVATIONS), z=st.integers(1, 5).flatmap(
    lambda n: st.integers(1, 5).flatmap(lambda u: arrays((n, u), -4, 4))),
    seed=st.integers(0, 2**16))
def test_activation_backward_matches_central_differences(float64, name, z, seed):
    assume(name != "relu" or np.abs(z).min() > 1e-3)  # relu has a kink at 0
    weights = np.random.default_rng(seed).normal(size=z.shape)  # L = sum(w * f(z))
    forward, backward = activations.get(name), activations.backward_of(activations.get(name))
    analytic = backward(weights, z, forward(z))
    numeric = numerical_gradient(lambda: (weights * forward(z)).sum(), z)
    assert agree(analytic, numeric)


@given(case=loss_cases(), seed=st.integers(0, 2**16), from_logits=st.booleans())
def test_loss_gradient_matches_central_differences(float64, case, seed, from_logits):
    name, fmt, y, width, n = case
    rng = np.random.default_rng(seed)
    loss = losses.get(name)
    crossentropy = loss.works_from_logits
    if crossentropy and from_logits:
        y_pred = rng.normal(size=(n, width)) * 2  # logits
        loss.from_logits = True
    elif crossentropy:
        y_pred = rng.uniform(0.05, 0.95, size=(n, width))  # probabilities away from the clip
    else:
        y_pred = rng.normal(size=(n, width))
        assume(np.abs(y_pred - y.reshape(n, width)).min() > 1e-3)  # mae's kink
    value, (_, analytic) = Head(loss).loss_and_gradient(y, y_pred)
    numeric = numerical_gradient(lambda: loss(y, y_pred), y_pred)
    assert np.isfinite(value)
    assert agree(analytic, numeric)


@given(case=loss_cases(), seed=st.integers(0, 2**16))
def test_fused_logits_gradient_matches_central_differences(float64, case, seed):
    """The gradient w.r.t. the logits that fit uses for sigmoid/softmax outputs."""
    name, fmt, y, width, n = case
    loss = losses.get(name)
    assume(loss.works_from_logits)
    z = np.random.default_rng(seed).normal(size=(n, width)) * 3
    layer = minidl.layers.Activation(output_activation(name, width))
    head = Head(loss)

    def loss_from_z():
        with Tape() as tape:
            p = layer(z)
        return head.loss_and_gradient(y, p, tape)

    _, seed_grad = loss_from_z()
    assert seed_grad[2:] == ("logits",)  # the head took the fused path
    numeric = numerical_gradient(lambda: loss_from_z()[0], z)
    assert agree(seed_grad[1], numeric)


@given(n=st.integers(1, 5), d=st.integers(1, 4), u=st.integers(1, 4),
       activation=st.sampled_from(ACTIVATIONS), use_bias=st.booleans(), seed=st.integers(0, 2**16))
def test_dense_backward_matches_central_differences(float64, n, d, u, activation, use_bias, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(u, activation=activation, use_bias=use_bias)
    x = rng.normal(size=(n, d))
    layer.build((None, d))
    weights = rng.normal(size=(n, u))  # L = sum(w * layer(x))
    if activation == "relu":
        assume(np.abs(x @ layer.kernel.value).min() > 1e-3)
    _, cache = layer.forward(x, training=True)
    dx, grads = layer.backward(weights, cache)

    def loss():
        return (weights * layer.forward(x)[0]).sum()

    for variable in layer.weights:
        assert agree(grads[variable], numerical_gradient(loss, variable.value))
    assert agree(dx, numerical_gradient(loss, x))


@st.composite
def models_and_data(draw):
    case = draw(loss_cases(max_rows=5))
    name, fmt, y, width, n = case
    depth = draw(st.integers(0, 2))
    hidden = [(draw(st.integers(1, 4)), draw(st.sampled_from(["tanh", "sigmoid", "linear", "relu"])))
              for _ in range(depth)]
    d = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    return name, y, width, n, d, hidden, seed


@given(models_and_data())
def test_whole_model_gradients_match_central_differences(float64, case):
    name, y, width, n, d, hidden, seed = case
    minidl.utils.set_random_seed(seed)
    x = np.random.default_rng(seed).normal(size=(n, d))
    layers = [minidl.layers.Input((d,))]
    layers += [Dense(units, activation=act) for units, act in hidden]
    layers.append(Dense(width, activation=output_activation(name, width)))
    model = minidl.Sequential(layers)
    model.compile(optimizer="sgd", loss=name)
    y_pred = model.predict(x, verbose=0)  # keep relu units and mae away from their kinks
    with Tape() as tape:
        model(x)
    for record in tape.records:
        if record.layer.activation is activations.relu:
            assume(np.abs(record.layer.logits(record.cache)).min() > 1e-3)
    if name == "mae":
        assume(np.abs(y_pred - y.reshape(y_pred.shape)).min() > 1e-3)
    result = check_gradients(model, x, y)
    assert result.passed, str(result)


# -- negative controls: the checker must catch wrong gradients -----------------------------

class _DenseWithWrongKernelGradient(Dense):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01  # a 1 % error, a typical slip
        return dx, grads


class _DenseWithoutActivationDerivative(Dense):
    def backward(self, da, cache, need_dx=True):
        return self.backward_from_logits(da, cache, need_dx)  # forgets f'(z)


@pytest.mark.parametrize("wrong_layer", [_DenseWithWrongKernelGradient,
                                         _DenseWithoutActivationDerivative])
def test_gradient_checker_fails_on_a_wrong_gradient(float64, wrong_layer):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)), rng.integers(0, 2, size=4)
    model = minidl.Sequential([minidl.layers.Input((3,)), wrong_layer(5, activation="tanh"),
                               Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    result = check_gradients(model, x, y)
    assert not result.passed
    failing = [row["name"] for row in result.rows if not row["passed"]]
    assert failing and all(name.startswith(model.layers[0].name) for name in failing), str(result)


def test_gradient_checker_fails_on_a_wrong_loss_gradient(float64):
    class HalfGradientMSE(losses.MeanSquaredError):
        def values_and_gradient(self, y_true, y_pred):
            per_sample, grad = super().values_and_gradient(y_true, y_pred)
            return per_sample, grad / 2  # forgets the 2 of d(e**2)/de

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=5)
    model = minidl.Sequential([minidl.layers.Input((2,)), Dense(1)])
    model.compile(optimizer="sgd", loss=HalfGradientMSE())
    assert not check_gradients(model, x, y).passed


def test_check_gradients_warns_in_float32():
    model = minidl.Sequential([minidl.layers.Input((2,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="float32"):
        check_gradients(model, np.ones((2, 2)), np.ones(2))
