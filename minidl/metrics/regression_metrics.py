"""Regression metrics: per-sample errors averaged by Mean, and the root of the mean squared error.

Shapes: N samples, C outputs; y_true (N,) against y_pred (N,1) is read as (N,1).
Every per-sample error is the mean over the last axis, sum / C in the values' dtype; the
errors that are also losses (MAPE, MSLE, log-cosh, cosine similarity) are computed by the
loss's own formula (minidl/losses/regression.py), after Keras's rank matching.
Source: keras/src/metrics/regression_metrics.py, keras/src/losses/losses.py.
"""
import numpy as np

from minidl import losses, ops
from minidl.metrics.base import Mean, MeanMetricWrapper, same_rank


def _aligned(y_true, y_pred):
    """y_pred as an array (floats stay as they are) and y_true in its dtype and rank."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = np.asarray(y_true, y_pred.dtype)
    return same_rank(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean over the last axis of (y - p)**2."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return np.square(y_true - y_pred).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean over the last axis of |y - p|."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return np.abs(y_true - y_pred).mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample 100 * mean |y - p| / max(|y|, eps): the loss's formula (losses/regression.py)."""
    return losses.MeanAbsolutePercentageError().call(*_aligned(y_true, y_pred))


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean of (log(max(p, eps) + 1) - log(max(y, eps) + 1))**2: the loss's formula."""
    return losses.MeanSquaredLogarithmicError().call(*_aligned(y_true, y_pred))


def log_cosh(y_true, y_pred):
    """Per-sample mean of log(cosh(p - y)): the loss's formula (losses/regression.py::LogCosh)."""
    return losses.LogCosh().call(*_aligned(y_true, y_pred))


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample cosine similarity, sum t * q: the loss's value with its sign turned (the
    loss is -1 at best, the metric 1)."""
    return -losses.CosineSimilarity(axis=axis).call(*_aligned(y_true, y_pred))


class MeanSquaredError(MeanMetricWrapper):
    """The mean of (y - p)**2 over every sample seen.

    Formula:  mse = mean_n mean_c (y_nc - p_nc)**2
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=mean_squared_error, name=name, dtype=dtype)
        self._direction = "down"


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of |y - p| over every sample seen.

    Formula:  mae = mean_n mean_c |y_nc - p_nc|
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(fn=mean_absolute_error, name=name, dtype=dtype)
        self._direction = "down"


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean absolute error as a percentage of the label.

    Formula:  mape = mean_n 100 * mean_c |y_nc - p_nc| / max(|y_nc|, 1e-7)
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(fn=mean_absolute_percentage_error, name=name, dtype=dtype)
        self._direction = "down"


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean squared error between log(1 + p) and log(1 + y).

    Formula:  msle = mean_n mean_c (log(max(p_nc, eps) + 1) - log(max(y_nc, eps) + 1))**2
    """

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(fn=mean_squared_logarithmic_error, name=name, dtype=dtype)
        self._direction = "down"


class LogCoshError(MeanMetricWrapper):
    """The mean of log(cosh(p - y)) over every sample seen.

    Formula:  logcosh = mean_n mean_c log(cosh(p_nc - y_nc))
    """

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(fn=log_cosh, name=name, dtype=dtype)
        self._direction = "down"


class CosineSimilarity(MeanMetricWrapper):
    """The mean cosine similarity between labels and predictions: 1 when they align.

    Args:
        axis: the axis the vectors lie along. Default -1.

    Formula:  cosine_similarity = mean_n sum_c (y_n / ||y_n||)_c * (p_n / ||p_n||)_c
    """

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name, dtype=dtype, axis=axis)
        self._direction = "up"


class RootMeanSquaredError(Mean):
    """The square root of the mean squared error over every sample seen.

    Formula:  total += sum_n w_n * mean_c (p_nc - y_nc)**2;   count += sum_n w_n
              rmse = sqrt(total / count)
    The root is taken once, of the whole mean: not a mean of per-batch roots.
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, self.dtype)
        y_pred = np.asarray(y_pred, self.dtype)
        y_true, y_pred = same_rank(y_true, y_pred)
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return np.sqrt(super().result())
