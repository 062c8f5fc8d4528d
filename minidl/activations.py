"""Activation functions, each a forward function and its backward partner.

Forward: `a = f(z)`. Backward: `dz = f_backward(da, z, a)` — given the gradient of the loss
with respect to the output `a`, return it with respect to the input `z`. Backward gets
both `z` and `a` so each function uses whichever makes its derivative cheapest.

Shapes: z, a, da, dz are all (N, U): N rows in the batch, U units.
"""
import numpy as np


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


def softmax(x, axis=-1):
    """Softmax over the last axis: exp(z_i) / sum_j exp(z_j), shifted by max(z) for stability."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # (N,C), every entry in (0, 1]
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(da, z, a):
    """Jacobian-vector product of softmax, row by row.

    Formula:
        dz_i = a_i * (da_i - sum_j da_j * a_j)
    """
    return a * (da - (da * a).sum(axis=-1, keepdims=True))  # (N,C)


# Activations whose output Keras can trace back to its input ("logits"): a cross-entropy
# loss on such an output is computed from the logits instead (see losses.py).
LOGIT_ACTIVATIONS = ("sigmoid", "softmax")

_FORWARD = {f.__name__: f for f in (linear, relu, tanh, sigmoid, softmax)}
_BACKWARD = {
    "linear": linear_backward,
    "relu": relu_backward,
    "tanh": tanh_backward,
    "sigmoid": sigmoid_backward,
    "softmax": softmax_backward,
}


def get(identifier):
    """Resolve an activation: None -> linear, a name ("relu"), or one of this module's functions.

    Names are case-sensitive, as in Keras. A custom callable works if it carries its own
    derivative as a `backward(da, z, a)` attribute, since minidl has no autograd.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _FORWARD:
            raise ValueError(
                f"Could not interpret activation function identifier: {identifier}. "
                f"Expected one of {sorted(_FORWARD)}."
            )
        return _FORWARD[identifier]
    if callable(identifier):
        if _FORWARD.get(getattr(identifier, "__name__", None)) is identifier:
            return identifier
        if hasattr(identifier, "backward"):
            return identifier
        raise ValueError(
            "A custom activation needs its derivative: give the function a "
            "`backward(da, z, a)` attribute. "
            f"Received: activation={identifier!r}"
        )
    raise ValueError(
        "Could not interpret activation function identifier, expected a name or a "
        f"callable. Received: activation={identifier!r}"
    )


def backward_of(activation):
    """The backward partner of an activation function returned by `get`."""
    name = getattr(activation, "__name__", None)
    if _FORWARD.get(name) is activation:
        return _BACKWARD[name]
    return activation.backward


def serialize(activation):
    """The activation's name, as Keras writes it in a config."""
    return activation.__name__
