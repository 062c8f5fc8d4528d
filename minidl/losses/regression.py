"""Regression losses: an error per output column, averaged over the C columns of each sample
(cosine similarity instead sums over its axis).

Each is written operation for operation as Keras computes it (keras/src/losses/losses.py), and
each gradient is the one TensorFlow's autodiff gives for those operations, worked out by hand.
Where a value is clipped or floored, the gradient is 0 beyond the bound and passes at the
bound itself (TensorFlow's Maximum and ClipByValue gradients), and |x| passes sign(x), so 0
where x == 0.

Shapes: y_true and y_pred are (N,C) (a label of shape (N,) against an (N,1) output is read as
(N,1), see base.match_ranks); e = y_pred - y_true, the error, is (N,C).
"""
import numpy as np

from minidl import config
from minidl.activations import sigmoid
from minidl.losses.base import Loss, mean_last_axis
from minidl.more_activations import softplus


class MeanSquaredError(Loss):
    """Mean squared error, for regression.

    Formula (per sample, C outputs):
        loss = mean_c (y_c - p_c)**2
        d loss / d p_c = 2 * (p_c - y_c) / C
    """

    name = "mean_squared_error"

    def values_and_gradient(self, y_true, y_pred):
        error = y_pred - y_true  # (N,C)
        c = y_pred.shape[-1]
        per_sample = mean_last_axis(error * error)  # (N,)
        return per_sample, error * np.asarray(2.0 / c, y_pred.dtype)


class MeanAbsoluteError(Loss):
    """Mean absolute error, for regression.

    Formula (per sample, C outputs):
        loss = mean_c |y_c - p_c|
        d loss / d p_c = sign(p_c - y_c) / C      (0 where they are equal)
    """

    name = "mean_absolute_error"

    def values_and_gradient(self, y_true, y_pred):
        error = y_pred - y_true  # (N,C)
        c = y_pred.shape[-1]
        per_sample = mean_last_axis(np.abs(error))  # (N,)
        return per_sample, np.sign(error) / np.asarray(c, y_pred.dtype)



class MeanAbsolutePercentageError(Loss):
    """The absolute error as a percentage of the label, for positive targets.

    Formula (per sample, C outputs; eps = 1e-7 keeps a label of 0 from dividing by 0):
        s_c = max(|y_c|, eps)
        r_c = (y_c - p_c) / s_c
        loss = 100 * mean_c |r_c|
        d loss / d p_c = -100 * sign(r_c) / s_c / C      (0 where p_c == y_c)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        eps = np.asarray(config.epsilon(), y_pred.dtype)
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        scale = np.maximum(np.abs(y_true), eps)  # (N,C)
        ratio = (y_true - y_pred) / scale  # (N,C)
        per_sample = 100.0 * mean_last_axis(np.abs(ratio))  # a Python float keeps the dtype
        return per_sample, -np.sign(ratio) / scale * (100.0 / c)


class MeanSquaredLogarithmicError(Loss):
    """The squared error between log(1 + p) and log(1 + y): relative errors, for positive targets.

    Formula (per sample, C outputs; eps = 1e-7 floors values that are 0 or negative):
        d_c = log(max(p_c, eps) + 1) - log(max(y_c, eps) + 1)
        loss = mean_c d_c**2
        d loss / d p_c = 2 * d_c / (max(p_c, eps) + 1) / C      (0 where p_c < eps)
    Keras makes eps a float32 constant, whatever the dtype of y (losses.py::
    mean_squared_logarithmic_error), so a float64 p is floored at float32(1e-7).
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        eps = np.float32(config.epsilon())
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        floored = np.maximum(y_pred, eps)  # (N,C)
        d = np.log(floored + 1.0) - np.log(np.maximum(y_true, eps) + 1.0)  # (N,C)
        per_sample = mean_last_axis(d * d)  # (N,)
        grad = 2 * d / (floored + 1.0) * (y_pred >= eps)  # max passes the gradient at a tie
        return per_sample, grad / c


class Huber(Loss):
    """Huber loss: squared error for small errors, absolute error (times delta) beyond delta.

    Args:
        delta: where the loss turns from quadratic to linear. Default 1.0.

    Formula (per sample, C outputs; e = p - y):
        l_c = 0.5 * e_c**2                        where |e_c| <= delta
              delta * |e_c| - 0.5 * delta**2      elsewhere
        loss = mean_c l_c
        d loss / d p_c = e_c / C                  where |e_c| <= delta
                         delta * sign(e_c) / C    elsewhere
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = delta

    def values_and_gradient(self, y_true, y_pred):
        delta = np.asarray(self.delta, y_pred.dtype)
        half = np.asarray(0.5, y_pred.dtype)
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        error = y_pred - y_true  # (N,C)
        abs_error = np.abs(error)
        quadratic = abs_error <= delta  # (N,C)
        l = np.where(quadratic, half * error * error, delta * abs_error - half * delta * delta)
        grad = np.where(quadratic, error, delta * np.sign(error))  # (N,C)
        return mean_last_axis(l), grad / c

    def get_config(self):
        # Keras 3.15's Huber.get_config leaves delta out (a loaded Huber(delta=2.0) gets
        # delta=1.0); minidl writes it, and Keras's Huber(**config) reads it back.
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    """log(cosh(e)): about e**2 / 2 for small errors, |e| - log(2) for large ones.

    Formula (per sample, C outputs; e = p - y):
        l_c = e_c + softplus(-2 * e_c) - log(2)      (= log(cosh(e_c)), without overflow)
        loss = mean_c l_c
        d loss / d p_c = (1 - 2 * sigmoid(-2 * e_c)) / C      (= tanh(e_c) / C)
    The gradient is written as TensorFlow differentiates Keras's stable form (losses.py::
    log_cosh); log(2) is taken in float32 and then cast, as Keras does.
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        log2 = np.asarray(np.log(np.float32(2.0)), y_pred.dtype)
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        error = y_pred - y_true  # (N,C)
        l = error + softplus(error * -2.0) - log2  # (N,C)
        grad = 1 - 2 * sigmoid(error * -2.0)  # (N,C)
        return mean_last_axis(l), grad / c


def l2_normalize(x, axis):
    """x / ||x|| along `axis`, as Keras's ops.normalize: x * min(1 / sqrt(sum x**2), 1 / eps).

    Returns the normalised x, the factor r it was multiplied by, and where r is the root
    (False where a norm below eps made r the constant 1 / eps, as for an all-zero x).
    """
    square_sum = np.sum(x * x, axis=axis, keepdims=True)  # (N,1)
    with np.errstate(divide="ignore"):
        root = 1 / np.sqrt(square_sum)  # inf for an all-zero x
    cap = np.asarray(1.0 / config.epsilon(), x.dtype)
    return x * np.minimum(root, cap), np.minimum(root, cap), root <= cap


class CosineSimilarity(Loss):
    """Minus the cosine of the angle between y and p: -1 when they point the same way.

    Args:
        axis: the axis the vectors lie along (the features axis). Default -1.

    Formula (per sample, along the axis; r = 1 / ||p||, capped at 1 / eps, eps = 1e-7):
        t = y / ||y||,  q = p * r
        loss = -sum_c t_c * q_c
        d loss / d p = -r * t + r**3 * (t . p) * p    (= -r * (t - (t . q) q), the part of -t
                                                       across q, scaled by 1 / ||p||)
        where the cap holds (||p|| < eps, e.g. p = 0): d loss / d p = -r * t
    A zero y or p gives loss 0, as in Keras (keras/src/ops/nn.py::normalize).
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis

    def values_and_gradient(self, y_true, y_pred):
        axis = self.axis
        t = l2_normalize(y_true, axis)[0]  # (N,C)
        q, r, root_used = l2_normalize(y_pred, axis)  # (N,C), (N,1), (N,1)
        per_sample = -np.sum(t * q, axis=axis)  # (N,)
        along = np.sum(t * y_pred, axis=axis, keepdims=True)  # t . p, (N,1)
        grad = -r * t + (r * r * r * along) * y_pred * root_used  # (N,C)
        return per_sample, grad

    def get_config(self):
        # Keras 3.15 leaves `axis` out of this config too; minidl writes it (see Huber).
        return {**super().get_config(), "axis": self.axis}
