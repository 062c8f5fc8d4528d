"""Regression metrics: per-sample errors averaged by Mean, and the root of the mean squared error.

Shapes: N samples, C outputs; y_true (N,) against y_pred (N,1) is read as (N,1).
Every per-sample error is the mean over the last axis, sum / C in the values' dtype.
Source: keras/src/metrics/regression_metrics.py, keras/src/losses/losses.py.
"""
import numpy as np

from minidl import config, ops
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
    """Per-sample 100 * mean |y - p| / max(|y|, eps), eps = 1e-7."""
    y_true, y_pred = _aligned(y_true, y_pred)
    eps = np.asarray(config.epsilon(), y_pred.dtype)
    ratio = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), eps))
    return 100.0 * ratio.mean(axis=-1)  # a Python float keeps the array's dtype


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean of (log(max(p, eps) + 1) - log(max(y, eps) + 1))**2, eps = 1e-7."""
    y_true, y_pred = _aligned(y_true, y_pred)
    eps = np.float32(config.epsilon())  # Keras makes it a float32 tensor, whatever y's dtype
    first_log = np.log(np.maximum(y_pred, eps) + 1.0)
    second_log = np.log(np.maximum(y_true, eps) + 1.0)
    return np.square(first_log - second_log).mean(axis=-1)


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
