"""Accuracies: per-sample 1.0 (right) or 0.0 (wrong), averaged by Mean over every sample seen.

Shapes: N samples, C classes. y_pred is (N,C) scores or (N,1)/(N,) probabilities;
y_true is (N,C) one-hot rows, (N,) or (N,1) class indices, or 0/1 labels.
Source: keras/src/metrics/accuracy_metrics.py.
"""
import numpy as np

from minidl import config, ops
from minidl.metrics.base import MeanMetricWrapper, same_rank


def accuracy(y_true, y_pred):
    """1.0 where the label equals the prediction exactly."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = np.asarray(y_true, y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(config.floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (p > threshold) equals the 0/1 label (p == threshold counts as class 0)."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    y_true, y_pred = same_rank(y_true, y_pred)  # (N,) labels against (N,1) become (N,1)
    predicted = (y_pred > np.float32(threshold)).astype(y_true.dtype)  # Keras: a float32 threshold
    return (y_true == predicted).astype(config.floatx())


def categorical_accuracy(y_true, y_pred):
    """1.0 where the arg-max of the one-hot label equals the arg-max of the prediction."""
    return (ops.argmax(y_true, axis=-1) == ops.argmax(y_pred, axis=-1)).astype(config.floatx())


def _sparse_labels(y_true, y_pred):
    """Class indices (N,) from (N,) or (N,1) labels, in y_pred's dtype as Keras compares them."""
    y_true = np.asarray(y_true, y_pred.dtype)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]  # (N,1) -> (N,)
    return y_true


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals the arg-max of the prediction."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = _sparse_labels(y_true, y_pred)  # (N,)
    return (labels == ops.argmax(y_pred, axis=-1)).astype(config.floatx())


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot label's class is among the k highest scores (ties count as in)."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.argmax(np.asarray(y_true, y_pred.dtype), axis=-1)  # (N,)
    return _in_top_k(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k highest scores (ties count as in).

    With from_sorted_ids=True, y_pred holds class ids sorted by score, (N, >=k), and the
    label is looked for among the first k.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    labels = np.asarray(y_true, y_pred.dtype if from_sorted_ids else np.int32)
    if not from_sorted_ids:
        return _in_top_k(labels, y_pred, k)
    labels = labels.reshape(-1)  # (N,)
    return (labels[:, None] == y_pred[:, :k]).any(axis=1).astype(config.floatx())


def _in_top_k(labels, y_pred, k):
    """in_top_k over the last axis, for labels and scores of any matching leading shape."""
    shape = labels.shape
    labels = labels.reshape(-1)  # (N,)
    scores = y_pred.reshape(-1, y_pred.shape[-1])  # (N,C)
    valid = (labels >= 0) & (labels < scores.shape[-1])  # TensorFlow: out of range is a miss
    hits = ops.in_top_k(np.where(valid, labels, 0), scores, k) & valid
    return hits.astype(config.floatx()).reshape(shape)


class Accuracy(MeanMetricWrapper):
    """How often the prediction equals the label exactly.

    Formula:  accuracy = mean_n [y_n == p_n]
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=accuracy, name=name, dtype=dtype)
        self._direction = "up"


class BinaryAccuracy(MeanMetricWrapper):
    """How often (p > threshold) matches a 0/1 label.

    Formula:  accuracy = mean_n [y_n == (p_n > threshold)]
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(fn=binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold
        self._direction = "up"


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches a one-hot label.

    Formula:  accuracy = mean_n [argmax_c y_nc == argmax_c p_nc]
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max matches an integer label.

    Formula:  accuracy = mean_n [y_n == argmax_c p_nc]
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often a one-hot label's class is among the k highest scores.

    Formula:  accuracy = mean_n [#{c : p_nc > p_ny} < k],  y = argmax_c y_nc
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often an integer label is among the k highest scores.

    Formula:  accuracy = mean_n [#{c : p_nc > p_ny} < k]
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids=False):
        super().__init__(fn=sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids
        self._direction = "up"

    def get_config(self):
        config_ = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:  # Keras writes it only when set
            config_["from_sorted_ids"] = True
        return config_
