"""Metrics: running means over an epoch, kept as Keras keeps them (a float32 total and count).

Each metric turns a batch into per-sample values (N,), adds their sum to `total` and N to
`count`; `result()` is total / count. So epoch accuracy is correct / N over every sample seen.
"""
import numpy as np

from minidl import config
from minidl.losses import match_ranks, mean_last_axis


class Metric:
    """Base class: update_state(y_true, y_pred), result(), reset_state()."""

    def __init__(self, name=None):
        self.name = name or type(self).__name__
        self.reset_state()

    def reset_state(self):
        self.total = np.zeros((), config.floatx())
        self.count = np.zeros((), config.floatx())

    def result(self):
        """total / count, 0 when nothing was counted (Keras's divide_no_nan)."""
        if self.count == 0:
            return np.zeros((), self.total.dtype)
        return self.total / self.count

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given to it; `fit` tracks its loss with one."""

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, self.total.dtype)
        if sample_weight is None:
            self.total += values.sum()
            self.count += values.size
        else:  # the loss tracker: update_state(batch_loss, sample_weight=batch_size)
            weight = np.asarray(sample_weight, self.total.dtype)
            self.total += (values * weight).sum()
            self.count += weight * (values.size if values.ndim else 1)


class MeanMetricWrapper(Metric):
    """A metric defined by a per-sample function `fn(y_true, y_pred) -> (N,)`."""

    fn = None

    def update_state(self, y_true, y_pred):
        values = self.fn(y_true, y_pred)  # (N,) or (N,C)
        if values.ndim > 1:
            values = mean_last_axis(values.reshape(len(values), -1))  # one value per sample
        self.total += values.sum(dtype=self.total.dtype)
        self.count += len(values)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (p > threshold) equals the label, else 0.0 (p == threshold counts as class 0)."""
    y_true = match_ranks(np.asarray(y_true), y_pred)
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return (y_true == predicted).astype(y_pred.dtype)


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of the one-hot label equals the arg-max of the prediction."""
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals the arg-max of the prediction."""
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels.reshape(labels.shape[:-1])  # (N,1) -> (N,)
    return (labels == np.argmax(y_pred, axis=-1)).astype(y_pred.dtype)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean over the last axis of (y - p)**2."""
    error = y_pred - match_ranks(np.asarray(y_true, y_pred.dtype), y_pred)
    return mean_last_axis(error * error)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean over the last axis of |y - p|."""
    error = y_pred - match_ranks(np.asarray(y_true, y_pred.dtype), y_pred)
    return mean_last_axis(np.abs(error))


class BinaryAccuracy(MeanMetricWrapper):
    """How often (p > threshold) matches a 0/1 label."""

    def __init__(self, name="binary_accuracy", threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def fn(self, y_true, y_pred):
        return binary_accuracy(y_true, y_pred, self.threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches a one-hot label."""

    def __init__(self, name="categorical_accuracy"):
        super().__init__(name)

    fn = staticmethod(categorical_accuracy)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches an integer label."""

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(name)

    fn = staticmethod(sparse_categorical_accuracy)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of (y - p)**2 over every sample seen."""

    def __init__(self, name="mean_squared_error"):
        super().__init__(name)

    fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of |y - p| over every sample seen."""

    def __init__(self, name="mean_absolute_error"):
        super().__init__(name)

    fn = staticmethod(mean_absolute_error)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_BY_CLASS_NAME = {cls.__name__: cls for cls in set(_BY_NAME.values())}
_VALID = sorted({"accuracy", "acc"} | set(_BY_NAME) | set(_BY_CLASS_NAME))


def check_identifier(identifier):
    """Raise the Keras-style error for a metric identifier `get` could never resolve."""
    if isinstance(identifier, Metric):
        return
    if isinstance(identifier, str) and (
        identifier.lower() in ("accuracy", "acc")
        or identifier in _BY_NAME
        or identifier in _BY_CLASS_NAME
    ):
        return
    raise ValueError(
        f"Could not interpret metric identifier: {identifier!r}. Expected a Metric or "
        f"one of {_VALID}."
    )


def get(identifier, y_true=None, y_pred=None):
    """Resolve a metric as Keras's compile does; "accuracy"/"acc" need the label and output shapes.

    "accuracy" becomes BinaryAccuracy when the output has one column (even for a
    regression model), SparseCategoricalAccuracy when labels are class indices, and
    CategoricalAccuracy otherwise. A string metric is named after the string.
    """
    check_identifier(identifier)
    if isinstance(identifier, Metric):
        return identifier
    if identifier.lower() in ("accuracy", "acc"):
        if y_pred.shape[-1] == 1:
            metric = BinaryAccuracy()
        elif y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
            metric = SparseCategoricalAccuracy()
        else:
            metric = CategoricalAccuracy()
    else:
        metric = (_BY_NAME.get(identifier) or _BY_CLASS_NAME[identifier])()
    metric.name = identifier
    return metric
