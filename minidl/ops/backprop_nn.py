"""keras.ops.nn's activations and cross-entropies, recorded for backpropagation.

As backprop.py's ops: each computes its value with the plain op (nn.py) and, in a training
step, writes itself on the tape with its derivative, which is minidl.activations' backward
partner of the same formula (or the cross-entropy loss class's gradient). Outside a training
step each is just the plain op.

    def call(self, x):
        return ops.multiply(ops.gelu(self.dense(x)), ops.sigmoid(self.gate(x)))

The normalizations (moments, batch/layer/rms_normalization, normalize) and psnr are here
too, each with its derivative with respect to every array it takes (a custom layer's own
gamma and beta included). The convolutions, poolings and attention record themselves in
nn_windows.py.
"""
import numpy as np

from minidl import activations
from minidl.ops import nn
from minidl.ops.backprop import record, unbroadcast, values


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


# -- statistics and normalizations ----------------------------------------------------------------
def _rows(ndim, axes):
    """The axes not in `axes` (normalized over): those a gamma or beta is summed over."""
    axes = {a % ndim for a in ((axes,) if isinstance(axes, int) else axes)}
    return tuple(i for i in range(ndim) if i not in axes)


def moments(x, axes, keepdims=False, synchronized=False):
    """m = mean(x), v = mean((x - m)**2) over axes;  dx = (dm + 2 (x - m) dv) / M (the path
    through m in v adds nothing: sum(x - m) = 0; TensorFlow stops it)."""
    x, = values(x)
    mean, variance = nn.moments(x, axes, keepdims)
    xf = nn._floats(x)
    axes_ = nn._axis(axes)
    count = xf.size // max(np.size(mean), 1)
    centred = xf - xf.mean(axis=axes_, keepdims=True)  # (N,D)

    def gradient(dys):
        dm, dv = [d if keepdims else np.expand_dims(d, axes_) for d in dys]
        return [((dm + 2 * centred * dv) / count).astype(xf.dtype)]
    return record((mean, variance), "moments", [x], gradient)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """y = x * inv + offset - mean * inv, inv = scale / sqrt(variance + eps);
    dx = dy * inv, d offset = sum(dy), d mean = -sum(dy) * inv,
    d scale = sum(dy * (x - mean)) * rstd, d variance = -sum(dy * (x - mean)) * scale * rstd**3 / 2
    (sums over every axis but `axis`)."""
    arrays = values(x, mean, variance, offset, scale)
    y, (xf, m, rstd, inv, shape) = nn.batch_normalization_parts(*arrays[:3], axis, *arrays[3:],
                                                                epsilon)
    rows = _rows(xf.ndim, axis)

    def gradient(dy):
        total = dy.sum(axis=rows)  # (C,)
        spread = (dy * (xf - m)).sum(axis=rows)  # (C,)
        scale_ = 1 if arrays[4] is None else np.asarray(arrays[4], xf.dtype)
        r = rstd.reshape(-1)
        return [dy * inv, -total * inv.reshape(-1), -0.5 * spread * scale_ * r ** 3, total,
                spread * r]
    return record(y, "batch_normalization", arrays, gradient)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """y = xhat * gamma + beta, xhat = (x - m) * rstd;  dx = normalize_backward(dy * gamma)
    (the layers' formula, layers/normalization.py), d gamma = sum(dy * xhat), d beta = sum(dy)
    over the rows. rms_scaling (y = x * rstd * gamma): dx = rstd * (u - xhat * mean(u * x *
    rstd)), u = dy * gamma, as LayerNormalization._rms_scaling_backward."""
    from minidl.layers.normalization import normalize_backward  # the layers import minidl.ops

    x, gamma, beta = values(x, gamma, beta)
    y, (xf, xhat, rstd, axes, g, rms) = nn.layer_normalization_parts(x, gamma, beta, axis,
                                                                      epsilon, **kwargs)
    rows = _rows(xf.ndim, axes)

    def gradient(dy):
        u = dy if g is None else dy * g  # (N,D)
        if rms:
            xr = xf * rstd  # (N,D)
            dx = rstd * (u - xhat * (u * xr).mean(axis=axes, keepdims=True))
            dgamma = (dy * xr).sum(axis=rows)
        else:
            dx = normalize_backward(u, xhat, rstd, axes)  # (N,D)
            dgamma = (dy * xhat).sum(axis=rows)
        dbeta = dy.sum(axis=rows) * (not rms)  # rms_scaling leaves beta out
        return [dx, None if gamma is None else dgamma.reshape(np.shape(gamma)),
                None if beta is None else dbeta.reshape(np.shape(beta))]
    return record(y, "layer_normalization", [x, gamma, beta], gradient)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """y = x * r * scale, r = 1 / sqrt(mean(x**2) + eps);  dx = r * (u - x r**2 mean(u * x)),
    u = dy * scale (as RMSNormalization's backward);  d scale = dy * x * r, summed to its
    shape."""
    x, scale = values(x, scale)
    y, (xf, xr, rrms, axes, s) = nn.rms_normalization_parts(x, scale, axis, epsilon)

    def gradient(dy):
        u = dy if s is None else dy * s  # (N,D)
        dx = rrms * (u - xr * (u * xr).mean(axis=axes, keepdims=True))  # (N,D)
        return [dx.reshape(np.shape(x)), None if s is None else unbroadcast(dy * xr, s)]
    return record(y, "rms_normalization", [x, scale], gradient)


def normalize(x, axis=-1, order=2, epsilon=None):
    """order 2: y = x * n, n = 1 / ||x||;  dx = n * (dy - y * sum(dy * y)) (dy / eps where n is
    capped at 1 / eps). Other orders: y = x / d, d = max(||x||_p, eps);
    dx = dy / d - sum(dy * x) / d**2 * sign(x) |x|**(p-1) / ||x||_p**(p-1) where ||x||_p > eps."""
    x, = values(x)
    y, saved = nn.normalize_parts(x, axis, order, epsilon)

    def gradient(dy):
        if order == 2:
            xf, y_, inv_norm, capped = saved
            dx = inv_norm * (dy - y_ * (dy * y_).sum(axis=axis, keepdims=True))
            cap = np.asarray(1.0 / (epsilon or nn.config.epsilon()), dy.dtype)
            return [np.where(capped, dy * cap, dx).reshape(np.shape(x))]
        xf, norm, d, uncapped = saved
        with np.errstate(divide="ignore", invalid="ignore"):
            dnorm = np.sign(xf) * np.abs(xf) ** (order - 1) / norm ** (order - 1)  # (N,D)
        through = (dy * xf).sum(axis=axis, keepdims=True) / (d * d) * dnorm
        return [(dy / d - np.where(uncapped, through, 0)).reshape(np.shape(x))]
    return record(y, "normalize", [x], gradient)


def psnr(x1, x2, max_val):
    """y = 20 log10(max_val) - 10 log10(mse), mse = mean((x1 - x2)**2);
    dx1 = -dy * 20 (x1 - x2) / (M * mse * ln 10) = -dx2."""
    x1, x2 = values(x1, x2)
    y = nn.psnr(x1, x2, max_val)
    diff = nn._floats(x1) - nn._floats(x2)
    mse = np.square(diff).mean()

    def gradient(dy):
        d1 = -dy * 20 * diff / (diff.size * mse * np.log(10))
        return [d1.astype(diff.dtype), -d1.astype(diff.dtype)]
    return record(y, "psnr", [x1, x2], gradient)
