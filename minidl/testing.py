"""Gradient checking: compare backprop's gradients with central differences.

    (f(w + h) - f(w - h)) / (2h)  ~  df/dw,   error O(h**2)

Run it in float64 (`minidl.config.set_floatx("float64")`): in float32 the rounding of f
(about 1e-7 relative) divided by 2h swamps the error being measured.

`check_gradients` takes any of the four things a learner writes a backward pass for:

    what                      scalar f that is differentiated          rows of the table
    a model (compiled)        the loss fit minimises on (x, y)         every trainable weight
                                                                       (+ the input x on request)
    a layer (Dense, ...)      L = sum(w * layer(x)), w fixed random    kernel, bias, input x
    an activation (relu, ...) L = sum(w * f(z)),     w fixed random    input z
    a loss object             L = loss(y_true, y_pred)                 y_pred (or the logits,
                                                                       if from_logits)

The fixed random `w` makes every output unit matter with a different weight, so a backward
pass that mixes up two units cannot pass by symmetry.

A checker that never fails proves nothing. tests/test_testing_tools.py gives it deliberately
wrong gradients (a kernel gradient 1 % too big, an activation derivative of the wrong sign, a
loss gradient missing its factor 2) and asserts that it fails: do the same for your own code.

Kinks: relu at z = 0 and mae at y_pred = y have no derivative; central differences straddling
a kink disagree with backprop there. Keep inputs a little away from them.
"""
import warnings

import numpy as np

from minidl import activations, config, rng, training
from minidl.head import Head
from minidl.layers import Layer
from minidl.losses import Loss
from minidl.tape import Tape


def numerical_gradient(f, array, h=1e-6):
    """Central-difference gradient of the scalar f() with respect to `array` (changed in place, then restored)."""
    grad = np.zeros(array.shape, np.float64)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        f_plus = float(f())
        flat[i] = saved - h
        f_minus = float(f())
        flat[i] = saved
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||): 0 for a perfect match, about 1 for unrelated arrays.

    Norms over the whole array, so a tiny entry's O(h**2) truncation error does not
    count as a large relative error.
    """
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    return float(np.linalg.norm(analytic - numeric) / scale)


class GradientCheck:
    """One row per parameter: name, shape, max abs error, relative error, pass/fail."""

    def __init__(self, rows, tolerance):
        self.rows, self.tolerance = rows, tolerance

    @property
    def passed(self):
        return all(row["passed"] for row in self.rows)

    @property
    def failed(self):
        """The names of the rows that did not pass."""
        return [row["name"] for row in self.rows if not row["passed"]]

    def __str__(self):
        width = max([24] + [len(r["name"]) + 2 for r in self.rows])
        lines = [f"{'parameter':<{width}}{'shape':<14}{'max abs err':>13}{'rel err':>11}  ok"]
        for r in self.rows:
            lines.append(f"{r['name']:<{width}}{str(r['shape']):<14}{r['max_abs_error']:>13.3e}"
                         f"{r['relative_error']:>11.3e}  {'yes' if r['passed'] else 'NO'}")
        if self.passed:
            lines.append(f"all {len(self.rows)} gradients agree (relative error < "
                         f"{self.tolerance:g})")
        else:
            lines.append(f"{len(self.failed)} of {len(self.rows)} gradients disagree: "
                         + ", ".join(self.failed))
        return "\n".join(lines)

    __repr__ = __str__


def check_gradients(model, x, y=None, h=1e-6, tolerance=1e-5, atol=1e-9, check_input=False,
                    seed=0):
    """Check backprop against central differences for a model, a layer, an activation or a loss.

    Args:
        model: what to check (the name is kept from when only models were accepted):
            a compiled model, a built or unbuilt layer, an activation function or name
            ("relu", minidl.activations.tanh, or a callable with a `backward`), or a Loss.
        x: the input: a batch for a model or a layer, z for an activation, y_pred for a
            loss (logits when the loss has from_logits=True).
        y: the labels, for a model or a loss.
        h: the central-difference step.
        tolerance: the largest relative error that passes.
        atol: a gradient whose largest absolute error is below this passes anyway (for a
            gradient that is zero, where a relative error means nothing).
        check_input: for a model, also check dL/dx (fit never computes it: the first layer
            has nobody to pass it to). Layers and activations always check their input.
        seed: seed of the fixed random weights w of the layer and activation checks.

    Returns:
        A GradientCheck: print it for the table; `result.passed` is True when every row
        passes, `result.failed` lists the rows that did not.
    """
    if config.floatx() != "float64":
        warnings.warn(
            "check_gradients is running in float32: rounding errors of ~1e-7 / (2h) will "
            "dominate. Call minidl.config.set_floatx('float64') before building the model.",
            stacklevel=2,
        )
    if hasattr(model, "loss_and_gradients"):
        pairs = _model_gradients(model, x, y, h, check_input)
    elif isinstance(model, Layer):
        pairs = _layer_gradients(model, x, h, seed)
    elif isinstance(model, Loss):
        pairs = _loss_gradients(model, x, y, h)
    elif callable(model) or isinstance(model, str):
        pairs = _activation_gradients(model, x, h, seed)
    else:
        raise TypeError(
            "check_gradients expects a compiled model, a layer, an activation function or "
            f"name, or a minidl.losses.Loss. Received: {model!r}"
        )
    rows = []
    for name, analytic, numeric in pairs:
        error = relative_error(analytic, numeric)
        abs_error = float(np.max(np.abs(analytic - numeric), initial=0.0))
        rows.append({"name": name, "shape": tuple(np.shape(analytic)),
                     "max_abs_error": abs_error, "relative_error": error,
                     "passed": error < tolerance or abs_error < atol})
    return GradientCheck(rows, tolerance)


def layer_outputs(model, x, training=False):
    """[(layer, output)] for every layer call `model(x)` makes, in the order they ran."""
    with Tape() as tape:
        model(x, training=training)
    return [(record.layer, record.outputs[0] if len(record.outputs) == 1 else record.outputs)
            for record in tape.records]


def _own_copy(array):
    """A floatx copy of the user's array, which the check may perturb freely."""
    return np.array(array, dtype=config.floatx())


def _model_gradients(model, x, y, h, check_input):
    """(name, backprop, central differences) for every trainable weight, then maybe x."""
    if y is None:
        raise ValueError("Checking a model's gradients needs the labels: pass "
                         "check_gradients(model, x, y).")

    same_noise = _replay_noise(model)

    def loss():
        same_noise()
        return model.loss_and_gradients(x, y)[0]

    same_noise()
    _, grads = model.loss_and_gradients(x, y)
    pairs = [(variable.path, grad, numerical_gradient(loss, variable.value, h))
             for variable, grad in zip(model.trainable_weights, grads)]
    if check_input:
        x = _own_copy(x)
        same_noise()
        analytic = _model_input_gradient(model, x, y)
        pairs.append(("x (input)", analytic, numerical_gradient(loss, x, h)))
    return pairs


def _replay_noise(model):
    """A function that puts every random generator the model draws from (minidl's, and a
    seeded Dropout's own) back where it is now: each evaluation then draws the same masks."""
    generators = [rng.generator()]
    generators += [layer._generator for layer in training.all_layers(model)
                   if isinstance(getattr(layer, "_generator", None), np.random.Generator)]
    states = [g.bit_generator.state for g in generators]

    def restore():
        for generator, state in zip(generators, states):
            generator.bit_generator.state = state

    return restore


def _model_input_gradient(model, x, y):
    """dL/dx: the backward pass of `fit`, carried on to the input (fit never needs it)."""
    batch = training.prepare_data(model, x, y)
    _, _, _, seeds, tape = training.forward_and_loss(model, batch, training=True)
    return tape.gradient(seeds, [], inputs=batch.xs)[0]  # (N,D)


def _layer_gradients(layer, x, h, seed):
    """L = sum(w * layer(x)) with a fixed random w: the gradient of every weight and input.

    x may be a list of arrays, for a layer with several inputs (Concatenate, Add...).
    """
    several = isinstance(x, (list, tuple))
    xs = [_own_copy(a) for a in (x if several else [x])]  # (N,D) each
    x = xs if several else xs[0]
    if not layer.built:
        layer(x)  # builds the weights for x's shape
    same_noise = _replay_noise(layer)
    same_noise()
    with Tape() as tape:
        y = layer(x, training=True)
    w = np.random.default_rng(seed).normal(size=y.shape).astype(xs[0].dtype)  # dL/dlayer(x)

    def loss():
        same_noise()
        return (w * layer(x, training=True)).sum()

    variables = layer.trainable_weights
    grads = tape.gradient([(y, w)], variables, inputs=xs)
    pairs = [(v.path, g, numerical_gradient(loss, v.value, h))
             for v, g in zip(variables, grads[:len(variables)])]
    for i, (a, g) in enumerate(zip(xs, grads[len(variables):])):
        name = f"x[{i}] (input {i})" if several else "x (input)"
        pairs.append((name, g, numerical_gradient(loss, a, h)))
    return pairs


def _activation_gradients(activation, z, h, seed):
    """L = sum(w * f(z)) with a fixed random w: the backward partner against f."""
    forward = activations.get(activation)
    backward = activations.backward_of(forward)
    z = _own_copy(z)  # (N,U)
    w = np.random.default_rng(seed).normal(size=z.shape).astype(z.dtype)  # (N,U)
    analytic = backward(w, z, forward(z))
    numeric = numerical_gradient(lambda: (w * forward(z)).sum(), z, h)
    return [(f"z ({getattr(forward, '__name__', 'activation')})", analytic, numeric)]


def _loss_gradients(loss, y_pred, y_true, h):
    """The mean loss against y_pred, or against the logits when loss.from_logits is True."""
    if y_true is None:
        raise ValueError("Checking a loss needs the labels: pass "
                         "check_gradients(loss, y_pred, y_true).")
    y_pred = _own_copy(y_pred)  # (N,C)
    _, (_, analytic) = Head(loss).loss_and_gradient(y_true, y_pred)
    numeric = numerical_gradient(lambda: loss(y_true, y_pred), y_pred, h)
    name = "logits" if loss.from_logits else "y_pred"
    return [(f"{name} ({loss.name})", analytic, numeric)]
