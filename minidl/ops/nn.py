"""keras.ops.nn on arrays: activations, normalizations, cross-entropies, one_hot and multi_hot.

Source: keras/src/ops/nn.py and keras/src/backend/tensorflow/nn.py. The formulas are not
written here: each activation is minidl.activations' (one place per formula, with its
derivative beside it), each cross-entropy is the loss class's (losses/crossentropy.py). This
file adds what the ops take on top: Python lists, Keras's argument names and defaults, any
axis, and the dtype rule (a float input keeps its dtype; ints become floatx, where Keras's
TensorFlow backend refuses most integer inputs outright). The versions recorded for
backpropagation are in backprop_nn.py, and are what `minidl.ops.gelu` etc. are; in a training
step `minidl.ops.nn.gelu` hands your code's arrays to them (submodules.py), so that, as in
Keras, keras.ops.nn.gelu and keras.ops.gelu do the same.

Shapes: x any shape (elementwise); (N, C) rows of C classes for the cross-entropies.
"""
import numpy as np

from minidl import activations, config
from minidl.ops.core import _axis, _float_type, convert_to_tensor


def _floats(x):
    """x as an array of a float type: float arrays keep theirs, ints and bools -> floatx."""
    x = convert_to_tensor(x)
    return x.astype(_float_type(x), copy=False)


def _along_last(function, x, axis):
    """function (which works on the last axis) applied along `axis` instead."""
    if axis in (-1, x.ndim - 1):
        return function(x)
    return np.moveaxis(function(np.moveaxis(x, axis, -1)), -1, axis)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Rows of zeros with a one at each class index; an index outside [0, C) gives all zeros."""
    if sparse:
        raise ValueError("minidl has no sparse tensors: `sparse` must be False. "
                         f"Received: sparse={sparse}")
    x = convert_to_tensor(x)
    classes = np.arange(num_classes)  # (C,)
    out = (x[..., None] == classes).astype(dtype or config.floatx())  # (..., C)
    return np.moveaxis(out, -1, axis)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """One row per sample with a one at every class it lists (the one-hot rows, max-reduced).

    Formula: y[n, c] = max over j of one_hot(x[n, j])[c]   # (N, J) -> (N, C); (J,) -> (C,)
    """
    if num_classes is None and "num_tokens" in kwargs:
        num_classes = kwargs.pop("num_tokens")
    if num_classes is None:
        raise ValueError("Argument `num_classes` must be specified.")
    if sparse:
        raise ValueError("minidl has no sparse tensors: `sparse` must be False. "
                         f"Received: sparse={sparse}")
    x = convert_to_tensor(inputs)
    hot = one_hot(x, num_classes, axis=axis, dtype=dtype)  # (N, J, C)
    return hot.max(axis=1 if x.ndim > 1 else 0)  # (N, C)


# -- activations: minidl.activations' formulas ---------------------------------------------------
def relu(x):
    x = convert_to_tensor(x)
    return np.maximum(x, np.zeros((), x.dtype))


def relu6(x):
    """min(max(x, 0), 6); ints stay ints, as Keras's."""
    return activations.relu6(convert_to_tensor(x))


def sigmoid(x):
    """1 / (1 + exp(-x)), written so that exp never overflows."""
    return activations.sigmoid(_floats(x))


def softmax(x, axis=-1):
    x = _floats(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = _floats(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def elu(x, alpha=1.0):
    return activations.elu(_floats(x), alpha)


def selu(x):
    return activations.selu(_floats(x))


def gelu(x, approximate=True):
    """The Gaussian error linear unit; keras.ops.gelu is the tanh approximation by default
    (keras.activations.gelu is exact by default)."""
    return activations.gelu(_floats(x), approximate)


def celu(x, alpha=1.0):
    return activations.celu(_floats(x), alpha)


def silu(x):
    return activations.silu(_floats(x))


def softplus(x):
    return activations.softplus(_floats(x))


def softsign(x):
    return activations.softsign(_floats(x))


def leaky_relu(x, negative_slope=0.2):
    return activations.leaky_relu(_floats(x), negative_slope)


def hard_sigmoid(x):
    return activations.hard_sigmoid(_floats(x))


def hard_silu(x):
    return activations.hard_silu(_floats(x))


def log_sigmoid(x):
    return activations.log_sigmoid(_floats(x))


def glu(x, axis=-1):
    return activations.glu(_floats(x), axis)


def hard_tanh(x):
    return activations.hard_tanh(_floats(x))


def hard_shrink(x, threshold=0.5):
    return activations.hard_shrink(_floats(x), threshold)


def soft_shrink(x, threshold=0.5):
    return activations.soft_shrink(_floats(x), threshold)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return activations.threshold(_floats(x), threshold, default_value)


def sparse_plus(x):
    return activations.sparse_plus(_floats(x))


def sparse_sigmoid(x):
    return activations.sparse_sigmoid(_floats(x))


def squareplus(x, b=4):
    return activations.squareplus(_floats(x), b)


def tanh_shrink(x):
    return activations.tanh_shrink(_floats(x))


def sparsemax(x, axis=-1):
    return _along_last(activations.sparsemax, _floats(x), axis)


swish, hard_swish = silu, hard_silu  # Keras's other names for them


# -- statistics and normalizations ------------------------------------------------------------
def moments(x, axes, keepdims=False, synchronized=False):
    """The mean and the (biased) variance of x over `axes`, as tf.nn.moments.

    Formula: m = mean(x);  v = mean((x - m)**2)        (over axes)
    `synchronized` (across devices) changes nothing on one device.
    """
    x = _floats(x)
    axes = _axis(axes)
    mean = x.mean(axis=axes, keepdims=True)
    variance = np.square(x - mean).mean(axis=axes, keepdims=True)
    if not keepdims:
        mean, variance = np.squeeze(mean, axis=axes), np.squeeze(variance, axis=axes)
    return mean, variance


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """x normalized with given statistics of the channel axis, as tf.nn.batch_normalization.

    Args:
        x: any shape; axis: the channel axis (C values).
        mean, variance: (C,), the statistics to use; offset, scale: (C,) or None.

    Formula (TensorFlow's order):
        inv = 1 / sqrt(variance + epsilon) * scale
        y = x * inv + (offset - mean * inv)
    """
    return batch_normalization_parts(x, mean, variance, axis, offset, scale, epsilon)[0]


def batch_normalization_parts(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """batch_normalization's y and what its derivative needs (backprop_nn.py)."""
    x = _floats(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    stats = {"mean": mean, "variance": variance, "offset": offset, "scale": scale}
    for name, value in stats.items():
        if value is not None and np.shape(value) != (x.shape[axis],):
            raise ValueError(f"Arguments `{name}` must be a vector of length `x.shape[axis]`. "
                             f"Expected: `{(x.shape[axis],)}`. Received: `{np.shape(value)}.")
    mean, variance = [np.asarray(v, x.dtype).reshape(shape) for v in (mean, variance)]
    rstd = 1 / np.sqrt(variance + np.asarray(epsilon, x.dtype))  # (1,..,C)
    inv = rstd if scale is None else rstd * np.asarray(scale, x.dtype).reshape(shape)
    shift = -mean * inv  # (1,..,C)
    if offset is not None:
        shift = np.asarray(offset, x.dtype).reshape(shape) + shift
    return x * inv + shift, (x, mean, rstd, inv, shape)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Each sample normalized over `axis`, then scaled by gamma and shifted by beta.

    Args:
        x: (N, D) or any shape; axis: the axis or axes normalized over (-1).
        gamma, beta: shaped as those axes, or None; epsilon: config.epsilon() by default.

    Formula (Keras's order, keras/src/ops/nn.py::_layer_normalization):
        m, v = moments(x, axis);  inv = 1 / sqrt(v + epsilon) * gamma
        y = x * inv + (beta - m * inv)
    rms_scaling=True (deprecated in Keras, with a warning there) divides by sqrt(v + epsilon)
    without centring, and ignores beta.
    """
    return layer_normalization_parts(x, gamma, beta, axis, epsilon, **kwargs)[0]


def layer_normalization_parts(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """layer_normalization's y and what its derivative needs (backprop_nn.py)."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    epsilon = config.epsilon() if epsilon is None else epsilon
    x = _floats(x)
    axes = tuple(sorted([axis] if isinstance(axis, int) else axis))
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    gamma, beta = [None if v is None else np.asarray(v, x.dtype).reshape(shape)
                   for v in (gamma, beta)]
    mean, variance = moments(x, axes, keepdims=True)  # (N,1) each
    rstd = 1 / np.sqrt(variance + np.asarray(epsilon, x.dtype))  # (N,1)
    xhat = (x - mean) * rstd  # (N,D), for the derivative
    saved = (x, xhat, rstd, axes, gamma, rms_scaling)
    if rms_scaling:
        return (x * rstd if gamma is None else x * rstd * gamma), saved
    inv = rstd if gamma is None else rstd * gamma  # (N,D)
    shift = -mean * inv if beta is None else beta - mean * inv
    return x * inv + shift, saved


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x divided by its root mean square over `axis`, times scale.

    Formula: y = x / sqrt(mean(x**2) + epsilon) * scale
    """
    return rms_normalization_parts(x, scale, axis, epsilon)[0]


def rms_normalization_parts(x, scale=None, axis=-1, epsilon=None):
    """rms_normalization's y and what its derivative needs (backprop_nn.py)."""
    epsilon = config.epsilon() if epsilon is None else epsilon
    x = _floats(x)
    x = x[None] if x.ndim == 0 else x
    axes = _axis(sorted(axis) if isinstance(axis, (list, tuple)) else axis)
    rrms = 1 / np.sqrt(np.square(x).mean(axis=axes, keepdims=True)
                       + np.asarray(epsilon, x.dtype))  # (N,1)
    y = x * rrms  # (N,D)
    scale = None if scale is None else np.asarray(scale, x.dtype)
    return (y if scale is None else y * scale), (x, y, rrms, axes, scale)


def normalize(x, axis=-1, order=2, epsilon=None):
    """x divided by its `order`-norm over `axis` (at least epsilon).

    Formula:
        order 2:  y = x * min(1 / sqrt(sum(x**2)), 1 / epsilon)     (Keras's rsqrt form)
        other:    y = x / max(norm(x, order), epsilon)
    """
    return normalize_parts(x, axis, order, epsilon)[0]


def normalize_parts(x, axis=-1, order=2, epsilon=None):
    """normalize's y and what its derivative needs (backprop_nn.py)."""
    if not isinstance(order, int) or not order >= 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    epsilon = config.epsilon() if epsilon is None else epsilon
    x = _floats(x)
    x = x[None] if x.ndim == 0 else x
    if order == 2:
        with np.errstate(divide="ignore"):  # a zero vector: inf, then capped at 1 / epsilon
            inv_norm = 1 / np.sqrt(np.square(x).sum(axis=axis, keepdims=True))  # (N,1)
        capped = inv_norm >= np.asarray(1.0 / epsilon, x.dtype)
        y = x * np.minimum(inv_norm, np.asarray(1.0 / epsilon, x.dtype))
        return y, (x, y, inv_norm, capped)
    norm = ((np.abs(x) ** order).sum(axis=axis, keepdims=True) ** (1.0 / order)).astype(x.dtype)
    denominator = np.maximum(norm, np.asarray(epsilon, x.dtype))  # (N,1)
    return x / denominator, (x, norm, denominator, norm >= epsilon)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio: 20 log10(max_val) - 10 log10(mean((x1 - x2)**2))."""
    x1, x2 = _floats(x1), _floats(x2)
    if x1.shape != x2.shape:
        raise ValueError(f"Input shapes {x1.shape} and {x2.shape} must match for PSNR "
                         "calculation. ")
    max_val = np.asarray(max_val, x2.dtype)
    mse = np.square(x1 - x2).mean()
    return 20 * np.log10(max_val) - 10 * np.log10(mse)


# -- cross-entropies: the loss classes' formulas, element by element ---------------------------
def _check_same_shape(target, output):
    if target.ndim != output.ndim:
        raise ValueError("Arguments `target` and `output` must have the same rank (ndim). "
                         f"Received: target.shape={target.shape}, output.shape={output.shape}")
    if target.shape != output.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={target.shape}, output.shape={output.shape}")


def binary_crossentropy_and_gradient(target, output, from_logits=False):
    """Each element's binary cross-entropy, and its derivative with respect to output.

    Formula (BinaryCrossentropy's, losses/crossentropy.py, on one column per element):
        logits z:  e = max(z, 0) - z * y + log(1 + exp(-|z|))
        probs p:   e = -(y log(p) + (1 - y) log(1 - p)),  p clipped to [eps, 1 - eps]
    """
    from minidl.losses.crossentropy import BinaryCrossentropy  # the losses import minidl.ops

    output = _floats(output)
    target = convert_to_tensor(target).astype(output.dtype, copy=False)
    _check_same_shape(target, output)
    loss = BinaryCrossentropy()
    column = (-1, 1)  # each element a row of one column: the mean over it is the element
    if from_logits:
        e, grad = loss.values_and_gradient_from_logits(target.reshape(column),
                                                       output.reshape(column))
    else:
        e, grad = loss.values_and_gradient(target.reshape(column), output.reshape(column))
    return e.reshape(output.shape), grad.reshape(output.shape)


def categorical_crossentropy_and_gradient(target, output, from_logits=False, axis=-1):
    """Each row's categorical cross-entropy along `axis`, and its derivative (the loss's)."""
    from minidl.losses.crossentropy import CategoricalCrossentropy

    output = _floats(output)
    target = convert_to_tensor(target).astype(output.dtype, copy=False)
    if target.ndim < 1:
        raise ValueError("Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={target.shape}, output.shape={output.shape}")
    _check_same_shape(target, output)
    y, p = np.moveaxis(target, axis, -1), np.moveaxis(output, axis, -1)  # (..., C)
    rows = (-1, p.shape[-1])
    loss = CategoricalCrossentropy()
    if from_logits:
        e, grad = loss.values_and_gradient_from_logits(y.reshape(rows), p.reshape(rows))
    else:
        e, grad = loss.values_and_gradient(y.reshape(rows), p.reshape(rows))
    return e.reshape(p.shape[:-1]), np.moveaxis(grad.reshape(p.shape), -1, axis)


def sparse_categorical_crossentropy_and_gradient(target, output, from_logits=False, axis=-1):
    """Each row's cross-entropy against its integer label, and its derivative (the loss's)."""
    from minidl.losses.crossentropy import SparseCategoricalCrossentropy

    output = _floats(output)
    if axis != -1 and axis != output.ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    target = convert_to_tensor(target)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = target.reshape(target.shape[:-1])
    if output.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. Received: "
                         f"output.shape={output.shape}")
    if target.ndim != output.ndim - 1:
        raise ValueError("Argument `output` must have rank (ndim) `target.ndim - 1`. Received: "
                         f"target.shape={target.shape}, output.shape={output.shape}")
    if target.shape != output.shape[:-1]:
        raise ValueError("Arguments `target` and `output` must have the same shape up until "
                         f"the last dimension: target.shape={target.shape}, "
                         f"output.shape={output.shape}")
    loss = SparseCategoricalCrossentropy()
    labels = target.astype(np.intp)
    if from_logits:
        return loss.values_and_gradient_from_logits(labels, output)
    e, grad = loss.values_and_gradient(labels.reshape(-1), output.reshape(-1, output.shape[-1]))
    return e.reshape(labels.shape), grad.reshape(output.shape)


def binary_crossentropy(target, output, from_logits=False):
    """Binary cross-entropy of each element (no mean: the loss class averages the last axis)."""
    return binary_crossentropy_and_gradient(target, output, from_logits)[0]


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical cross-entropy of each row along `axis`: -sum(target * log(output))."""
    return categorical_crossentropy_and_gradient(target, output, from_logits, axis)[0]


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Categorical cross-entropy of each row against its integer class label."""
    return sparse_categorical_crossentropy_and_gradient(target, output, from_logits, axis)[0]


def polar(abs_, angle):
    """The complex number of magnitude abs_ and angle `angle`: abs_ * (cos(angle) + i sin(angle))
    (complex64 from float32, complex128 from float64)."""
    r, theta = _floats(abs_), _floats(angle)
    dtype = np.result_type(r, theta, np.complex64)  # complex64, or complex128 from float64
    return (r * np.cos(theta) + 1j * (r * np.sin(theta))).astype(dtype)
