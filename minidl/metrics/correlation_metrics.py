"""Correlation metrics: Pearson's and Lin's concordance coefficient of each sample's values
along an axis, averaged over the samples by Mean.

Written operation for operation as Keras computes them (keras/src/metrics/
correlation_metrics.py), after Keras's rank matching (labels (N,) against outputs (N,1) are
read as (N,1)). The variances are TensorFlow's reduce_variance: the mean of the squared
deviations from the mean (divided by C, not C - 1), computed again from what it is given.
A row of constant values has no Pearson coefficient: 0 / 0 gives NaN there, as in Keras.

Shapes: N samples, C values per sample along the axis (the last by default).
"""
import numpy as np

from minidl import config, ops
from minidl.metrics.base import MeanMetricWrapper, same_rank


def _mean(x, axis):
    """TensorFlow's reduce_mean with the axis kept: the sum, divided by the count."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    count = int(np.prod([x.shape[a] for a in axes]))
    return x.sum(axis=axis, keepdims=True) / np.asarray(count, x.dtype)


def _variance(x, axis):
    """TensorFlow's reduce_variance with the axis kept: mean((x - mean(x))**2)."""
    deviation = x - _mean(x, axis)
    return _mean(deviation * deviation, axis)


def _aligned(y_true, y_pred, axis):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = np.asarray(y_true, y_pred.dtype)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return (*same_rank(y_true, y_pred), axis)


def pearson_correlation(y_true, y_pred, axis=-1):
    """Per-sample Pearson correlation coefficient along `axis`, shape (N,).

    Formula:
        t = y - mean(y);  t = t / std(t)          (std: the root of the population variance)
        u = p - mean(p);  u = u / std(u)
        r = mean(t * u)
    """
    y_true, y_pred, axis = _aligned(y_true, y_pred, axis)
    t = y_true - _mean(y_true, axis)  # (N,C)
    u = y_pred - _mean(y_pred, axis)  # (N,C)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant row: 0 / 0 = NaN
        t = t / np.sqrt(_variance(t, axis))
        u = u / np.sqrt(_variance(u, axis))
    return _mean(t * u, axis).squeeze(axis=axis)  # (N,)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Per-sample concordance correlation coefficient (Lin, 1989) along `axis`, shape (N,).

    Formula (eps = 1e-7):
        my = mean(y);  mp = mean(p);  vy = var(y - my);  vp = var(p - mp)
        ccc = mean(2 * (y - mp) * (p - mp) / (vy + vp + (my - mp)**2 + eps))
    Keras centres y on the mean of p, mp, not on its own mean my (correlation_metrics.py::
    concordance_correlation), where the textbook's covariance has (y - my). The two agree, as
    sum(p - mp) = 0, up to rounding; minidl computes Keras's, for the same rounding.
    """
    y_true, y_pred, axis = _aligned(y_true, y_pred, axis)
    true_mean = _mean(y_true, axis)  # (N,1)
    pred_mean = _mean(y_pred, axis)  # (N,1)
    true_var = _variance(y_true - true_mean, axis)  # (N,1)
    pred_var = _variance(y_pred - pred_mean, axis)  # (N,1)
    covar = (y_true - pred_mean) * (y_pred - pred_mean)  # (N,C), Keras's centring
    norm = true_var + pred_var + np.square(true_mean - pred_mean)  # (N,1)
    return _mean(2 * covar / (norm + config.epsilon()), axis).squeeze(axis=axis)  # (N,)


class PearsonCorrelation(MeanMetricWrapper):
    """The mean over the samples of each one's Pearson correlation coefficient.

    Args:
        axis: the axis (or axes) the values of one sample lie along. Default -1.

    Formula:  pcc = mean_n r_n,   r_n = pearson_correlation(y_n, p_n)
    """

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(fn=pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"


class ConcordanceCorrelation(MeanMetricWrapper):
    """The mean over the samples of each one's concordance correlation coefficient.

    Args:
        axis: the axis (or axes) the values of one sample lie along. Default -1.

    Formula:  ccc = mean_n c_n,   c_n = concordance_correlation(y_n, p_n)
    """

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(fn=concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
        self._direction = "up"
