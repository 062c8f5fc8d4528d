"""keras.ops.nn's activations and cross-entropies, recorded for backpropagation.

As backprop.py's ops: each computes its value with the plain op (nn.py) and, in a training
step, writes itself on the tape with its derivative, which is minidl.activations' backward
partner of the same formula (or the cross-entropy loss class's gradient). Outside a training
step each is just the plain op.

    def call(self, x):
        return ops.multiply(ops.gelu(self.dense(x)), ops.sigmoid(self.gate(x)))

The normalizations, convolutions and poolings of nn.py and nn_windows.py are plain values:
a tape that reaches one says at backward that it was computed outside minidl.ops.
"""
import numpy as np

from minidl import activations
from minidl.ops import nn
from minidl.ops.backprop import record, values


def _recorded(name, x, forward, backward, *args):
    """y = forward(x, *args) on the tape, with dx = backward(dy, x, y, *args)."""
    x, = values(x)
    y = forward(x, *args)
    return record(y, name, [x], lambda dy: [backward(dy, x, y, *args)])


def elu(x, alpha=1.0):
    """y = x where x > 0, else alpha * (exp(x) - 1);  dx: activations.elu_backward."""
    return _recorded("elu", x, nn.elu, activations.elu_backward, alpha)


def selu(x):
    """y = scale * elu(x, alpha), Keras's fixed scale and alpha."""
    return _recorded("selu", x, nn.selu, activations.selu_backward)


def gelu(x, approximate=True):
    """y = x * Phi(x) (approximate: the tanh form, keras.ops.gelu's default)."""
    return _recorded("gelu", x, nn.gelu, activations.gelu_backward, approximate)


def celu(x, alpha=1.0):
    """y = max(x, 0) + alpha * expm1(min(x, 0) / alpha)."""
    return _recorded("celu", x, nn.celu, activations.celu_backward, alpha)


def silu(x):
    """y = x * sigmoid(x)."""
    return _recorded("silu", x, nn.silu, activations.silu_backward)


def softplus(x):
    """y = log(1 + exp(x))."""
    return _recorded("softplus", x, nn.softplus, activations.softplus_backward)


def softsign(x):
    """y = x / (1 + |x|)."""
    return _recorded("softsign", x, nn.softsign, activations.softsign_backward)


def leaky_relu(x, negative_slope=0.2):
    """y = x where x > 0, else negative_slope * x."""
    return _recorded("leaky_relu", x, nn.leaky_relu, activations.leaky_relu_backward,
                     negative_slope)


def relu6(x):
    """y = min(max(x, 0), 6)."""
    return _recorded("relu6", x, nn.relu6, activations.relu6_backward)


def hard_sigmoid(x):
    """y = relu6(x + 3) / 6."""
    return _recorded("hard_sigmoid", x, nn.hard_sigmoid, activations.hard_sigmoid_backward)


def hard_silu(x):
    """y = x * hard_sigmoid(x)."""
    return _recorded("hard_silu", x, nn.hard_silu, activations.hard_silu_backward)


def log_sigmoid(x):
    """y = -softplus(-x)."""
    return _recorded("log_sigmoid", x, nn.log_sigmoid, activations.log_sigmoid_backward)


def glu(x, axis=-1):
    """y = x1 * sigmoid(x2), x split in halves along axis."""
    return _recorded("glu", x, nn.glu, activations.glu_backward, axis)


def hard_tanh(x):
    """y = clip(x, -1, 1)."""
    return _recorded("hard_tanh", x, nn.hard_tanh, activations.hard_tanh_backward)


def hard_shrink(x, threshold=0.5):
    """y = x where |x| > threshold, else 0."""
    return _recorded("hard_shrink", x, nn.hard_shrink, activations.hard_shrink_backward,
                     threshold)


def soft_shrink(x, threshold=0.5):
    """y = x - threshold above it, x + threshold below -threshold, 0 between."""
    return _recorded("soft_shrink", x, nn.soft_shrink, activations.soft_shrink_backward,
                     threshold)


def threshold(x, threshold, default_value):
    """y = x where x > threshold, else default_value."""
    return _recorded("threshold", x, nn.threshold, activations.threshold_backward,
                     threshold, default_value)


def sparse_plus(x):
    """y = 0 below -1, (x + 1)**2 / 4 between, x above 1."""
    return _recorded("sparse_plus", x, nn.sparse_plus, activations.sparse_plus_backward)


def sparse_sigmoid(x):
    """y = clip((x + 1) / 2, 0, 1)."""
    return _recorded("sparse_sigmoid", x, nn.sparse_sigmoid,
                     activations.sparse_sigmoid_backward)


def squareplus(x, b=4):
    """y = (x + sqrt(x**2 + b)) / 2."""
    return _recorded("squareplus", x, nn.squareplus, activations.squareplus_backward, b)


def tanh_shrink(x):
    """y = x - tanh(x)."""
    return _recorded("tanh_shrink", x, nn.tanh_shrink, activations.tanh_shrink_backward)


def sparsemax(x, axis=-1):
    """y = max(x - tau, 0) along axis (Keras's tau: rest_activations.sparsemax)."""
    def backward(dy, x, y):  # sparsemax_backward works along the last axis
        dx = activations.sparsemax_backward(np.moveaxis(dy, axis, -1), np.moveaxis(x, axis, -1),
                                            None)
        return np.moveaxis(dx, -1, axis)
    return _recorded("sparsemax", x, lambda v: nn.sparsemax(v, axis), backward)


def log_softmax(x, axis=-1):
    """y = x - logsumexp(x) along axis;  dx = dy - exp(y) * sum(dy)."""
    return _recorded("log_softmax", x, lambda v: nn.log_softmax(v, axis),
                     lambda dy, x, y: activations.log_softmax_backward(dy, x, y, axis))


swish, hard_swish = silu, hard_silu


# -- cross-entropies: the loss classes' gradients with respect to the output --------------------
def binary_crossentropy(target, output, from_logits=False):
    """y = each element's binary cross-entropy;  d output = dy * d e / d output."""
    target, output = values(target, output)
    y, grad = nn.binary_crossentropy_and_gradient(target, output, from_logits)
    return record(y, "binary_crossentropy", [output], lambda dy: [dy * grad])


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """y = each row's cross-entropy along axis;  d output = dy (put back on axis) * d e / d
    output (softmax(z) - target from logits, as TensorFlow's)."""
    target, output = values(target, output)
    y, grad = nn.categorical_crossentropy_and_gradient(target, output, from_logits, axis)
    return record(y, "categorical_crossentropy", [output],
                  lambda dy: [np.expand_dims(dy, axis) * grad])


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """y = each row's cross-entropy against its label;  d output = dy[..., None] * d e / d
    output."""
    target, output = values(target, output)
    y, grad = nn.sparse_categorical_crossentropy_and_gradient(target, output, from_logits, axis)
    return record(y, "sparse_categorical_crossentropy", [output],
                  lambda dy: [dy[..., None] * grad])
