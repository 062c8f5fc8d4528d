"""Activation functions, each a forward function and its backward partner.

Forward: `a = f(z)`. Backward: `dz = f_backward(da, z, a)` — given the gradient of the loss
with respect to the output `a`, return it with respect to the input `z`. Backward gets
both `z` and `a` so each function uses whichever makes its derivative cheapest.

This file holds the five of a first network (linear, relu, tanh, sigmoid, softmax), silu
(sigmoid's child) and the table of names (`get`). The others (elu, selu, leaky_relu, relu6,
softplus, softsign, gelu, hard_sigmoid, hard_silu, exponential) are in more_activations.py,
and are importable from here: `minidl.activations.gelu`. The rest of Keras's (celu, glu,
hard_shrink, hard_tanh, log_sigmoid, log_softmax, mish, soft_shrink, sparse_plus,
sparse_sigmoid, sparsemax, squareplus, tanh_shrink, threshold) are in rest_activations.py.

Shapes: z, a, da, dz are all (N, U): N rows in the batch, U units.
"""
import functools
import inspect

import numpy as np

from minidl.more_activations import (elu, elu_backward, exponential, exponential_backward, gelu,
                                     gelu_backward, hard_sigmoid, hard_sigmoid_backward,
                                     hard_silu, hard_silu_backward, leaky_relu,
                                     leaky_relu_backward, relu6, relu6_backward, selu,
                                     selu_backward, softplus, softplus_backward, softsign,
                                     softsign_backward)
from minidl.rest_activations import (celu, celu_backward, glu, glu_backward, hard_shrink,
                                     hard_shrink_backward, hard_tanh, hard_tanh_backward,
                                     log_sigmoid, log_sigmoid_backward, log_softmax,
                                     log_softmax_backward, mish, mish_backward, soft_shrink,
                                     soft_shrink_backward, sparse_plus, sparse_plus_backward,
                                     sparse_sigmoid, sparse_sigmoid_backward, sparsemax,
                                     sparsemax_backward, squareplus, squareplus_backward,
                                     tanh_shrink, tanh_shrink_backward, threshold,
                                     threshold_backward)


def linear(x):
    """Identity: f(z) = z."""
    return x


def linear_backward(da, z, a):
    """f'(z) = 1."""
    return da


def relu(x):
    """Rectified linear unit: f(z) = max(z, 0)."""
    return np.maximum(x, 0)


def relu_backward(da, z, a):
    """f'(z) = 1 where z > 0, else 0 (0 at z = 0, as TensorFlow's gradient)."""
    return da * (z > 0)  # the bool mask multiplies without leaving da's dtype


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


def tanh_backward(da, z, a):
    """f'(z) = 1 - tanh(z)**2 = 1 - a**2."""
    return da * (1 - a * a)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-z)), in a form that never overflows.

    Formula:
        e = exp(-|z|)                  # in (0, 1], cannot overflow
        z >= 0:  1 / (1 + e)
        z <  0:  e / (1 + e)           # = 1 / (1 + exp(-z)) rewritten
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def sigmoid_backward(da, z, a):
    """f'(z) = a * (1 - a)."""
    return da * a * (1 - a)


def silu(x):
    """Sigmoid linear unit, also called swish: f(z) = z * sigmoid(z)."""
    return x * sigmoid(x)


def silu_backward(da, z, a):
    """f'(z) = s * (1 + z * (1 - s)), s = sigmoid(z) computed again (TensorFlow's swish gradient
    also recomputes it rather than keep it)."""
    s = sigmoid(z)
    return da * (s * (1 + z * (1 - s)))


def softmax(x, axis=-1):
    """Softmax over the last axis (or `axis`): exp(z_i) / sum_j exp(z_j), shifted by max(z) for
    stability."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # (N,C), every entry in (0, 1]
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(da, z, a, axis=-1):
    """Jacobian-vector product of softmax, row by row (or along `axis`, an int or a tuple).

    Formula:
        dz_i = a_i * (da_i - sum_j da_j * a_j)
    """
    return a * (da - (da * a).sum(axis=axis, keepdims=True))  # (N,C)


# Activations whose output Keras can trace back to its input ("logits"): a cross-entropy
# loss on such an output is computed from the logits instead (see losses/crossentropy.py).
LOGIT_ACTIVATIONS = ("sigmoid", "softmax")

# Every activation by its Keras name, with its backward partner.
_FORWARD_AND_BACKWARD = {
    "linear": (linear, linear_backward),
    "relu": (relu, relu_backward),
    "tanh": (tanh, tanh_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "softmax": (softmax, softmax_backward),
    "silu": (silu, silu_backward),
    "relu6": (relu6, relu6_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "elu": (elu, elu_backward),
    "selu": (selu, selu_backward),
    "softplus": (softplus, softplus_backward),
    "softsign": (softsign, softsign_backward),
    "gelu": (gelu, gelu_backward),
    "hard_sigmoid": (hard_sigmoid, hard_sigmoid_backward),
    "hard_silu": (hard_silu, hard_silu_backward),
    "exponential": (exponential, exponential_backward),
    # the rest of Keras 3.15's (rest_activations.py)
    "celu": (celu, celu_backward),
    "glu": (glu, glu_backward),
    "hard_shrink": (hard_shrink, hard_shrink_backward),
    "hard_tanh": (hard_tanh, hard_tanh_backward),
    "log_sigmoid": (log_sigmoid, log_sigmoid_backward),
    "log_softmax": (log_softmax, log_softmax_backward),
    "mish": (mish, mish_backward),
    "soft_shrink": (soft_shrink, soft_shrink_backward),
    "sparse_plus": (sparse_plus, sparse_plus_backward),
    "sparse_sigmoid": (sparse_sigmoid, sparse_sigmoid_backward),
    "sparsemax": (sparsemax, sparsemax_backward),
    "squareplus": (squareplus, squareplus_backward),
    "tanh_shrink": (tanh_shrink, tanh_shrink_backward),
    "threshold": (threshold, threshold_backward),
}


def _taking_tensors(plain, name):
    """The activation `plain`, except that given something other than a NumPy array it is the
    minidl.ops function of the same name: in a call() of your own in a training step
    (`self.activation(z)` on a Tracked array) it is then recorded on the tape, and on a
    functional model's KerasTensor it adds a node, as Keras's activations call keras.ops."""
    signature = inspect.signature(plain)

    @functools.wraps(plain)
    def activation(x, *args, **kwargs):
        if type(x) is np.ndarray:  # the layers' own calls: the plain maths
            return plain(x, *args, **kwargs)
        given = signature.bind(x, *args, **kwargs)
        given.apply_defaults()  # this activation's defaults (gelu's differ from ops.gelu's)
        return _op_of(name)(**given.arguments)
    return activation


def _op_of(name):
    from minidl import ops  # (ops imports this file)

    special = {"linear": lambda x: x, "exponential": ops.exp,
               "mish": lambda x: ops.multiply(x, ops.tanh(ops.softplus(x)))}
    return special.get(name) or getattr(ops, name)


for _name, (_plain, _backward) in list(_FORWARD_AND_BACKWARD.items()):
    _FORWARD_AND_BACKWARD[_name] = (_taking_tensors(_plain, _name), _backward)
    globals()[_name] = _FORWARD_AND_BACKWARD[_name][0]  # activations.sigmoid is that one
_FORWARD = {name: pair[0] for name, pair in _FORWARD_AND_BACKWARD.items()}
_BACKWARD = {name: pair[1] for name, pair in _FORWARD_AND_BACKWARD.items()}
# Other names Keras accepts for the same functions (keras/src/activations/__init__.py).
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
swish, hard_swish = silu, hard_silu  # noqa: F821 (set just above)


def get(identifier):
    """Resolve an activation: None -> linear, a name ("relu"), or one of this module's functions.

    Names are case-sensitive, as in Keras; "swish" is silu and "hard_swish" hard_silu. A
    function of your own (Géron's `ops.log(1.0 + ops.exp(z))`) is differentiated on a tape of
    its own (`backward_of`), or by its `backward(da, z, a)` attribute if it has one.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name not in _FORWARD:
            raise ValueError(
                f"Could not interpret activation function identifier: {identifier}. "
                f"Expected one of {sorted(_FORWARD) + sorted(_ALIASES)}."
            )
        return _FORWARD[name]
    if callable(identifier):
        return identifier
    raise ValueError(
        "Could not interpret activation function identifier, expected a name or a "
        f"callable. Received: activation={identifier!r}"
    )


def backward_of(activation):
    """The backward partner of an activation function returned by `get`."""
    name = getattr(activation, "__name__", None)
    if _FORWARD.get(name) is activation:
        return _BACKWARD[name]
    return getattr(activation, "backward", None) or _backward_by_tape(activation)


def _backward_by_tape(activation):
    """backward(da, z, a) for an activation of your own written with minidl.ops or NumPy
    operators: it runs again on z, on a tape of its own, and da goes back through its ops
    (ops/backprop.py), as TensorFlow's autodiff goes through Keras's."""
    def backward(da, z, a):
        from minidl.ops import backprop  # (ops imports this file)
        from minidl.tape import Tape

        with Tape() as tape:
            tape.watch([z])
            previous = backprop.set_tracking(True)
            try:
                again = backprop.untracked(activation(backprop.tracked(z)))
            finally:
                backprop.set_tracking(previous)
        dz, = tape.gradient([(again, da)], [], inputs=[z])
        return dz
    return backward


def serialize(activation):
    """The activation as Keras writes it in a config: a built-in one by its name ("relu"),
    a function of one's own as {"class_name": "function", "config": "my_package>my_fn", ...}
    (its registered name: minidl.saving.register_keras_serializable)."""
    name = getattr(activation, "__name__", None)
    if _FORWARD.get(name) is activation:
        return name
    from minidl.saving.object_registration import function_config  # saving imports layers

    return function_config(activation)
