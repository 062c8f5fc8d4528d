"""The rest of Keras 3.15's activations (keras/src/activations/__init__.py ALL_OBJECTS), each a
forward function and its backward.

Each forward is TensorFlow's formula (keras/src/backend/tensorflow/nn.py); each backward is
the gradient TensorFlow's autodiff takes through that formula, kinks included: where two
branches of a tf.where, tf.maximum or tf.clip_by_value meet, the derivative is that of the
branch TensorFlow picks there (celu'(0) = 2: both max(z, 0) and min(z, 0) pass the gradient
at 0). `minidl.activations` resolves their names and re-exports them.

Forward: `a = f(z)`. Backward: `dz = f_backward(da, z, a)`, with the same defaults.

Shapes: z, a, da, dz are (N, U) or any shape; glu halves its axis (a is (N, U/2)); log_softmax
and sparsemax work along the last axis.
"""
import numpy as np

from minidl.more_activations import softplus

# -- piecewise linear: shrinks and clips -----------------------------------------------------


def hard_tanh(x):
    """Clip to [-1, 1]: f(z) = min(max(z, -1), 1)."""
    return np.clip(x, -1, 1)


def hard_tanh_backward(da, z, a):
    """f'(z) = 1 where -1 <= z <= 1 (both ends included, as tf.clip_by_value's gradient)."""
    return da * ((z >= -1) & (z <= 1))


def hard_shrink(x, threshold=0.5):
    """f(z) = z where |z| > threshold, else 0."""
    return np.where(np.abs(x) > threshold, x, x.dtype.type(0))


def hard_shrink_backward(da, z, a, threshold=0.5):
    """f'(z) = 1 where |z| > threshold, else 0."""
    return da * (np.abs(z) > threshold)


def soft_shrink(x, threshold=0.5):
    """f(z) = z - threshold above it, z + threshold below -threshold, else 0."""
    zero = x.dtype.type(0)
    return np.where(x > threshold, x - threshold,
                    np.where(x < -threshold, x + threshold, zero))


def soft_shrink_backward(da, z, a, threshold=0.5):
    """f'(z) = 1 where |z| > threshold, else 0."""
    return da * ((z > threshold) | (z < -threshold))


def threshold(x, threshold, default_value):
    """f(z) = z where z > threshold, else default_value. No defaults, as in Keras: by name
    ("threshold") it cannot be called, in Keras or here."""
    return np.where(x > threshold, x, x.dtype.type(default_value))


def threshold_backward(da, z, a, threshold, default_value):
    """f'(z) = 1 where z > threshold, else 0."""
    return da * (z > threshold)


def sparse_sigmoid(x):
    """f(z) = 0 for z <= -1, (z + 1) / 2 between, 1 for z >= 1."""
    dtype = x.dtype.type
    return np.where(x <= -1, dtype(0), np.where(x >= 1, dtype(1), dtype(0.5) * (x + 1)))


def sparse_sigmoid_backward(da, z, a):
    """f'(z) = 1/2 where -1 < z < 1, else 0 (0 at both ends)."""
    return da * ((z > -1) & (z < 1)) * da.dtype.type(0.5)


def sparse_plus(x):
    """f(z) = 0 for z <= -1, (z + 1)**2 / 4 between, z for z >= 1."""
    dtype = x.dtype.type
    return np.where(x <= -1, dtype(0), np.where(x < 1, dtype(0.25) * (x + 1) ** 2, x))


def sparse_plus_backward(da, z, a):
    """f'(z) = 0 for z <= -1, (z + 1) / 2 for -1 < z < 1, 1 for z >= 1."""
    dtype = da.dtype.type
    middle = da * dtype(0.25) * dtype(2) * (z + 1)  # TensorFlow's Pow gradient: 2 * (z+1)**1
    return np.where(z <= -1, dtype(0), np.where(z < 1, middle, da))


# -- smooth ones -------------------------------------------------------------------------------


def celu(x, alpha=1.0):
    """Continuously differentiable elu: f(z) = max(z, 0) + alpha * expm1(min(z, 0) / alpha)."""
    return np.maximum(x, 0) + alpha * np.expm1(np.minimum(x, 0) / x.dtype.type(alpha))


def celu_backward(da, z, a, alpha=1.0):
    """f'(z) = [z >= 0] + [z <= 0] * exp(min(z, 0) / alpha): 1 above 0, exp(z/alpha) below,
    and 2 at 0, where TensorFlow's Maximum and Minimum gradients both pass it."""
    alpha32 = da.dtype.type(alpha)
    negative = da * alpha32 * np.exp(np.minimum(z, 0) / alpha32) / alpha32  # the chain as TF
    return da * (z >= 0) + np.where(z <= 0, negative, da.dtype.type(0))


def squareplus(x, b=4):
    """f(z) = (z + sqrt(z**2 + b)) / 2, a smooth relu."""
    return (x + np.sqrt(x * x + x.dtype.type(b))) / 2


def squareplus_backward(da, z, a, b=4):
    """f'(z) = (1 + z / sqrt(z**2 + b)) / 2."""
    half = da / 2  # (N,U)
    root = np.sqrt(z * z + z.dtype.type(b))  # (N,U)
    return half + half * z.dtype.type(0.5) / root * (2 * z)  # TF's SqrtGrad, then Square's


def tanh_shrink(x):
    """f(z) = z - tanh(z)."""
    return x - np.tanh(x)


def tanh_shrink_backward(da, z, a):
    """f'(z) = 1 - (1 - tanh(z)**2) = tanh(z)**2, as TensorFlow sums it: da - da * (1 - t*t)."""
    t = np.tanh(z)
    return da - da * (1 - t * t)


def mish(x):
    """Mish: f(z) = z * tanh(softplus(z))."""
    return x * np.tanh(softplus(x))


def mish_backward(da, z, a):
    """f'(z) = t + z * (1 - t**2) * sigmoid(z), t = tanh(softplus(z)) (the product rule,
    TanhGrad, then SoftplusGrad: g / (1 + exp(-z)))."""
    from minidl.activations import sigmoid
    t = np.tanh(softplus(z))  # (N,U)
    return da * t + da * z * (1 - t * t) * sigmoid(z)


def log_sigmoid(x):
    """f(z) = log(sigmoid(z)) = -softplus(-z), as TensorFlow computes it."""
    return -softplus(-x)


def log_sigmoid_backward(da, z, a):
    """f'(z) = sigmoid(-z)."""
    from minidl.activations import sigmoid
    return da * sigmoid(-z)


# -- along an axis -----------------------------------------------------------------------------


def glu(x, axis=-1):
    """Gated linear unit: x split in halves x1, x2 along `axis`; f = x1 * sigmoid(x2)."""
    from minidl.activations import sigmoid
    if x.shape[axis] % 2 != 0:
        raise ValueError("axis size must be divisible by 2. "
                         f"Received: x.shape={x.shape} with axis={axis}")
    x1, x2 = np.split(x, 2, axis=axis)  # (N,U/2) each
    return x1 * sigmoid(x2)


def glu_backward(da, z, a, axis=-1):
    """dx1 = da * s, dx2 = da * x1 * s * (1 - s), s = sigmoid(x2); joined back along axis."""
    from minidl.activations import sigmoid
    x1, x2 = np.split(z, 2, axis=axis)  # (N,U/2) each
    s = sigmoid(x2)  # (N,U/2)
    return np.concatenate([da * s, (da * x1) * (s * (1 - s))], axis=axis)  # (N,U)


def log_softmax(x, axis=-1):
    """f(z) = z - max(z) - log(sum(exp(z - max(z)))), along `axis`."""
    shifted = x - x.max(axis=axis, keepdims=True)  # (N,C)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(da, z, a, axis=-1):
    """dz = da - exp(a) * sum(da) (TensorFlow's LogSoftmax gradient)."""
    return da - np.exp(a) * da.sum(axis=axis, keepdims=True)


def _sparsemax_parts(x):
    """Keras's sparsemax along the last axis: the order, the support and tau."""
    order = np.argsort(-x, axis=-1, kind="stable")  # (N,C): tf.sort descending, ties in order
    s = np.take_along_axis(x, order, axis=-1)  # (N,C) sorted, largest first
    c = np.cumsum(s, axis=-1)  # (N,C)
    r = np.arange(1, x.shape[-1] + 1, dtype=x.dtype)  # (C,) 1..C
    support = s - (c - 1) / r > 0  # (N,C)
    k = support.sum(axis=-1, keepdims=True).astype(x.dtype)  # (N,1)
    # Keras sums the cumulative sums over the support (not the cumulative sum at k, as the
    # paper's tau); keras/src/backend/tensorflow/nn.py::sparsemax
    tau = (np.where(support, c, x.dtype.type(0)).sum(axis=-1, keepdims=True) - 1) / k  # (N,1)
    return order, support, k, tau


def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo) as Keras writes it: f(z) = max(z - tau, 0).

    Formula (along the last axis; s sorted descending, c its cumulative sum, r = 1..C):
        support = s - (c - 1) / r > 0;   k = count(support)
        tau = (sum over the support of c - 1) / k       # Keras's; the paper's is (c_k - 1) / k
    """
    if axis not in (-1, x.ndim - 1):
        raise ValueError(f"minidl's sparsemax works along the last axis: `axis` must be -1. "
                         f"Received: axis={axis}")
    _, _, _, tau = _sparsemax_parts(x)
    return np.maximum(x - tau, 0)


def sparsemax_backward(da, z, a, axis=-1):
    """The gradient TensorFlow's autodiff takes through the formula above:
        g = da * (z - tau >= 0)                  # tf.maximum passes it at 0 too
        dtau = -sum(g);  dc = dtau / k on the support (0 elsewhere)
        ds = reversed cumulative sum of dc;  dz = g + ds put back in z's order
    """
    order, support, k, tau = _sparsemax_parts(z)
    g = da * (z - tau >= 0)  # (N,C)
    dtau = -g.sum(axis=-1, keepdims=True)  # (N,1)
    dc = np.where(support, dtau / k, da.dtype.type(0))  # (N,C), in sorted order
    ds = np.flip(np.cumsum(np.flip(dc, -1), axis=-1), -1)  # (N,C): cumsum's gradient
    dz = g.copy()
    np.put_along_axis(dz, order, np.take_along_axis(dz, order, -1) + ds, axis=-1)  # sort's
    return dz
