"""Regression metrics: per-sample errors averaged by Mean, and the root of the mean squared error.

Shapes: N samples, C outputs; y_true (N,) against y_pred (N,1) is read as (N,1).
Every per-sample error is the mean over the last axis, sum / C in the values' dtype; the
errors that are also losses (MAPE, MSLE, log-cosh, cosine similarity) are computed by the
loss's own formula (minidl/losses/regression.py), after Keras's rank matching.
Source: keras/src/metrics/regression_metrics.py, keras/src/losses/losses.py.
"""
import warnings

import numpy as np

from minidl import losses, ops
from minidl.metrics.base import Mean, MeanMetricWrapper, Metric, same_rank


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


class R2Score(Metric):
    """The coefficient of determination: 1 - residual sum of squares / total sum of squares.

    1 is a perfect fit, 0 is as good as predicting each output's mean, below 0 is worse.
    Args:
        class_aggregation: how the per-output scores combine: "uniform_average" (default,
            their mean), "variance_weighted_average" (weighted by each output's variance),
            or None (one score per output).
        num_regressors: p, the number of independent variables, for the adjusted R2
            (default 0: the plain R2).
        name, dtype: see `Metric`.
    Formula (per output c, weights w; y_true and y_pred are (N, C)):
        sum_c += sum_n w*y;  squared_sum_c += sum_n w*y**2;  residual_c += sum_n w*(y - p)**2
        count_c += sum_n w;  num_samples += N*C
        total_c = squared_sum_c - sum_c * (sum_c / count_c)        (the weighted variance * count)
        r2_c = 1 - residual_c / total_c                             (inf -> 0)
        adjusted (p > 0): 1 - (1 - r2) * (n - 1) / (n - p - 1)     n = num_samples
    Keras counts n as the number of values (N*C), not samples (regression_metrics.py).
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(
                "Invalid value for argument `class_aggregation`. Expected one of "
                f"{valid}. Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_weight((), name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        """The per-output state, once the number of outputs is known."""
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim). Received "
                f"input shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}.")
        outputs = y_pred_shape[-1]
        self.squared_sum = self.add_weight((outputs,), name="squared_sum")
        self.sum = self.add_weight((outputs,), name="sum")
        self.total_mse = self.add_weight((outputs,), name="residual")
        self.count = self.add_weight((outputs,), name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, self.dtype)
        y_pred = np.asarray(y_pred, self.dtype)
        y_true, y_pred = same_rank(y_true, y_pred)  # (N,C) each
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        w = np.asarray(1 if sample_weight is None else sample_weight, self.dtype)
        w = np.broadcast_to(w[:, None] if w.ndim == 1 else w, y_true.shape)  # (N,C)
        weighted_y_true = y_true * w  # (N,C)
        self.sum.assign_add(weighted_y_true.sum(axis=0))
        self.squared_sum.assign_add((y_true * weighted_y_true).sum(axis=0))
        self.total_mse.assign_add((np.square(y_true - y_pred) * w).sum(axis=0))
        self.count.assign_add(w.sum(axis=0))
        self.num_samples.assign_add(y_true.size)

    def result(self):
        if not self._built:  # nothing seen yet (Keras raises here; 0, as other metrics give)
            return np.zeros((), self.dtype)
        total_sum, count = self.sum.value, self.count.value
        total = self.squared_sum.value - total_sum * (total_sum / count)  # (C,)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 is NaN, x/0 inf, as Keras
            raw = 1 - self.total_mse.value / total
        raw = np.where(np.isinf(raw), np.zeros((), raw.dtype), raw)
        if self.class_aggregation == "uniform_average":
            r2 = raw.mean(dtype=raw.dtype)
        elif self.class_aggregation == "variance_weighted_average":
            with np.errstate(divide="ignore", invalid="ignore"):  # no variance: NaN, as Keras
                r2 = (total * raw).sum() / total.sum()
        else:
            r2 = raw
        if self.num_regressors != 0:
            n = np.float32(self.num_samples.value)
            p = np.float32(self.num_regressors)
            if self.num_regressors > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 "
                              "score. Falling back to standard R2 score.", stacklevel=2)
            elif self.num_regressors == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to "
                              "standard R2 score.", stacklevel=2)
            else:
                r2 = 1 - ((1 - r2) * (n - 1)) / ((n - p) - 1)
        return r2

    def check_loggable(self):
        """compile() asks: fit's logs hold one number per metric (Keras's hold this array)."""
        if self.class_aggregation is None:
            raise ValueError(
                f"minidl's fit and evaluate log one number per metric, and {self.name} with "
                "class_aggregation=None gives one per output. Pass 'uniform_average' or "
                "'variance_weighted_average' to compile it, or call the metric yourself. "
                "Received: class_aggregation=None")

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
