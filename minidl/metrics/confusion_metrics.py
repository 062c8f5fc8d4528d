"""Confusion-matrix metrics: true/false positives and negatives counted at thresholds.

A prediction p is "positive" at threshold t when p > t; a label is positive when it is not 0.
At each of T thresholds, with weights w (1 without sample weights):
    tp[t] = sum of w where label and p > t         fp[t] = sum of w where not label and p > t
    fn[t] = sum of w where label and p <= t        tn[t] = sum of w where not label and p <= t
Every value in y_pred counts as one prediction (the arrays are flattened), unless
`class_id` picks one column or AUC's multi_label keeps one count per column.

Shapes: N samples, C classes (or labels), T thresholds, L labels (multi_label only).
Source: keras/src/metrics/confusion_metrics.py and metrics_utils.py.
"""
import numpy as np

from minidl import config
from minidl.metrics.base import Metric, same_rank
from minidl.ops import divide_no_nan

NEG_INF = -1e10  # what Keras gives the scores outside the top k


def parse_thresholds(thresholds, default):
    """A list of thresholds, each checked to lie in [0, 1]."""
    if thresholds is None:
        return [default]
    thresholds = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) \
        else [thresholds]
    invalid = [t for t in thresholds if t is None or t < 0 or t > 1]
    if invalid:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return thresholds


def evenly_spaced(thresholds):
    """True for [0, 1/(T-1), 2/(T-1), ..., 1] with T >= 3, which can be counted by buckets."""
    count = len(thresholds)
    if count < 3:
        return False
    even = np.arange(count, dtype=np.float32) / (count - 1)
    return bool(np.allclose(thresholds, even, atol=config.epsilon()))


def filter_top_k(scores, k):
    """Keep the k highest scores of each row (the lower index first on ties), the rest -> -1e10.

    Formula:  mask = 1 on the top k, 0 elsewhere;   scores * mask + NEG_INF * (1 - mask)
    """
    top = np.argsort(-scores, axis=-1, kind="stable")[..., :k]  # (..., k)
    mask = np.zeros_like(scores)
    np.put_along_axis(mask, top, 1, axis=-1)
    return scores * mask + np.asarray(NEG_INF, scores.dtype) * (1 - mask)


def prepare(y_true, y_pred, sample_weight, dtype, top_k=None, class_id=None):
    """Labels, predictions and weights in `dtype`, aligned as Keras aligns them.

    (N,) labels against (N,1) predictions become (N,1); weights (N,) become (N,1) so that
    they broadcast over each row's predictions; top_k and class_id are applied last.
    """
    y_true = np.asarray(y_true, dtype)
    y_pred = np.asarray(y_pred, dtype)
    y_pred, y_true = same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype)[..., None]  # (N,) -> (N,1)
        _, sample_weight = same_rank(y_true, sample_weight, expand_rank_1=False)
        sample_weight = np.broadcast_to(sample_weight, y_pred.shape)
    if top_k is not None:
        y_pred = filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]  # (N,1)
        if sample_weight is not None:
            sample_weight = sample_weight[..., class_id, None]
    return y_true, y_pred, sample_weight


def counts_by_comparison(y_true, y_pred, weights, thresholds, multi_label=False):
    """tp, fp, tn, fn at each threshold by comparing every prediction with every threshold.

    Formula:  positive[t, i] = p_i > thresholds[t];   tp[t] = sum_i w_i [label_i and positive[t, i]]
    Returns four arrays (T,), or (T, L) with multi_label.
    """
    dtype = y_pred.dtype
    if not multi_label:
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)  # (M,) every prediction
        weights = None if weights is None else weights.reshape(-1)
    thresholds = np.asarray(thresholds, dtype).reshape((-1,) + (1,) * y_pred.ndim)
    predicted = y_pred > thresholds  # (T, M) or (T, N, L)
    label = y_true != 0  # (M,) or (N, L)
    w = np.ones((), dtype) if weights is None else weights

    def weighted_count(mask):
        return np.where(mask, w, np.zeros((), dtype)).sum(axis=1, dtype=dtype)  # (T,) or (T, L)

    return (weighted_count(label & predicted), weighted_count(~label & predicted),
            weighted_count(~label & ~predicted), weighted_count(label & ~predicted))


def counts_by_buckets(y_true, y_pred, weights, num_thresholds, with_epsilon,
                      multi_label=False):
    """tp, fp, tn, fn at T evenly spaced thresholds in one pass over the predictions.

    Each prediction falls in bucket b = ceil(p * (T-1)) - 1 (p clipped to [0, 1]), the
    highest threshold index it is above; summing each bucket's weights and taking the
    cumulative sum from the top gives every threshold's count at once.
    Formula:  tp[t] = sum_{b >= t} (sum of w*label in bucket b);   fn = sum(w*label) - tp
    With AUC's thresholds [-eps, ..., 1+eps] (with_epsilon), p = 0 falls in bucket 0.
    Source: keras/src/metrics/metrics_utils.py::_update_confusion_matrix_variables_optimized.
    """
    dtype = y_pred.dtype
    if not multi_label:
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)  # (M,)
        weights = None if weights is None else weights.reshape(-1)
    w = np.ones((), dtype) if weights is None else weights
    label = (y_true != 0).astype(dtype)
    true_labels, false_labels = label * w, (1 - label) * w  # (M,) or (N, L)
    y_pred = np.clip(y_pred, np.zeros((), dtype), np.ones((), dtype))
    bucket = np.ceil(y_pred * (np.asarray(num_thresholds, dtype) - 1)) - 1
    if with_epsilon:
        bucket = np.maximum(bucket, 0)
    bucket = bucket.astype(np.intp)
    tp = _reverse_cumsum(_bucket_sums(true_labels, bucket, num_thresholds))
    fp = _reverse_cumsum(_bucket_sums(false_labels, bucket, num_thresholds))
    total_true = true_labels.sum(axis=0, dtype=dtype)  # () or (L,)
    total_false = false_labels.sum(axis=0, dtype=dtype)
    return tp, fp, total_false - fp, total_true - tp


def _bucket_sums(values, bucket, num_buckets):
    """(T,) sums of values per bucket, or (T, L) per bucket and column; bucket -1 is dropped.

    np.add.at adds one value at a time in float32, as TensorFlow's segment sum does.
    """
    columns = values.shape[1:]  # () or (L,)
    sums = np.zeros((num_buckets,) + columns, values.dtype)
    values = np.broadcast_to(values, bucket.shape)
    kept = bucket >= 0
    if columns:
        column = np.broadcast_to(np.arange(columns[0]), bucket.shape)
        np.add.at(sums, (bucket[kept], column[kept]), values[kept])
    else:
        np.add.at(sums, bucket[kept], values[kept])
    return sums


def _reverse_cumsum(sums):
    return np.flip(np.cumsum(np.flip(sums, axis=0), axis=0, dtype=sums.dtype), axis=0)


def count_confusion(y_true, y_pred, sample_weight, thresholds, evenly, dtype, top_k=None,
                    class_id=None):
    """tp, fp, tn, fn at `thresholds` for one batch, by buckets if they are evenly spaced."""
    y_true, y_pred, weights = prepare(y_true, y_pred, sample_weight, dtype, top_k, class_id)
    if evenly:
        with_epsilon = thresholds[0] < 0 or thresholds[-1] > 1
        return counts_by_buckets(y_true, y_pred, weights, len(thresholds), with_epsilon)
    return counts_by_comparison(y_true, y_pred, weights, thresholds)


def _one_or_all(values, thresholds):
    """A scalar for one threshold, an array (T,) for several."""
    return values[0] if len(thresholds) == 1 else values


class _Count(Metric):
    """One of tp, fp, tn, fn at thresholds (default 0.5), kept in a (T,) `accumulator`."""

    index = None  # 0..3: which of tp, fp, tn, fn

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, default=0.5)
        self._evenly = evenly_spaced(self.thresholds)
        self.accumulator = self.add_weight(shape=(len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = count_confusion(y_true, y_pred, sample_weight, self.thresholds, self._evenly,
                                 self.accumulator.dtype)
        self.accumulator.assign_add(counts[self.index])

    def result(self):
        return _one_or_all(self.accumulator.numpy(), self.thresholds)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_Count):
    """Weighted count of positive labels predicted positive (p > threshold)."""

    index = 0


class FalsePositives(_Count):
    """Weighted count of negative labels predicted positive (p > threshold)."""

    index = 1


class TrueNegatives(_Count):
    """Weighted count of negative labels predicted negative (p <= threshold)."""

    index = 2


class FalseNegatives(_Count):
    """Weighted count of positive labels predicted negative (p <= threshold)."""

    index = 3


class _PrecisionRecall(Metric):
    """tp and one other count at thresholds, with Keras's top_k and class_id."""

    def __init__(self, other, thresholds=None, top_k=None, class_id=None, name=None,
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        # with top_k and no threshold, every score in the top k is called positive
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = evenly_spaced(self.thresholds)
        self.true_positives = self.add_weight(shape=(len(self.thresholds),),
                                              name="true_positives")
        self._other = other  # "false_positives" or "false_negatives"
        setattr(self, other, self.add_weight(shape=(len(self.thresholds),), name=other))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = count_confusion(y_true, y_pred, sample_weight, self.thresholds,
                                        self._evenly, self.true_positives.dtype, self.top_k,
                                        self.class_id)
        self.true_positives.assign_add(tp)
        getattr(self, self._other).assign_add(fp if self._other == "false_positives" else fn)

    def result(self):
        tp, other = self.true_positives.value, getattr(self, self._other).value
        return _one_or_all(divide_no_nan(tp, tp + other), self.thresholds)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """Of the predictions called positive, the fraction whose label is positive.

    Formula:  precision = tp / (tp + fp)       (0 when nothing was called positive)
    Args:
        thresholds: one threshold or a list (the result is then one precision per threshold);
            default 0.5, or with top_k every score in the top k is called positive.
        top_k: only the k highest scores of each row can be called positive.
        class_id: count only this column of (N, C) labels and predictions.
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__("false_positives", thresholds, top_k, class_id, name, dtype)


class Recall(_PrecisionRecall):
    """Of the positive labels, the fraction predicted positive.

    Formula:  recall = tp / (tp + fn)       (0 when there was no positive label)
    Args: as Precision.
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__("false_negatives", thresholds, top_k, class_id, name, dtype)


class _BestUnderConstraint(Metric):
    """tp, fp, tn, fn at T evenly spaced thresholds [0, 1/(T-1), ..., 1] (one: [0.5]); the
    result is the best of one rate over the thresholds where another rate reaches `value`.

    Formula:  result = max over t of dependent[t] where constrained[t] >= value  (0 if none)
    Source: keras/src/metrics/confusion_metrics.py::SensitivitySpecificityBase.
    """

    constraint = None  # Keras's argument name: "specificity", "sensitivity", "recall", ...

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if value < 0 or value > 1:
            raise ValueError(f"Argument `{self.constraint}` must be in the range [0, 1]. "
                             f"Received: {self.constraint}={value}")
        if num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds}")
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.value, self.num_thresholds, self.class_id = value, num_thresholds, class_id
        setattr(self, self.constraint, value)
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0] + inner + [1.0], True
        for count in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, count, self.add_weight(shape=(len(self.thresholds),), name=count))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = count_confusion(y_true, y_pred, sample_weight, self.thresholds, self._evenly,
                                 self.true_positives.dtype, class_id=self.class_id)
        for variable, count in zip((self.true_positives, self.false_positives,
                                    self.true_negatives, self.false_negatives), counts):
            variable.assign_add(count)

    def rates(self):
        """(constrained, dependent): the two rates at every threshold, (T,) each."""
        raise NotImplementedError

    def result(self):
        constrained, dependent = self.rates()
        feasible = constrained >= np.asarray(self.value, constrained.dtype)  # (T,)
        return np.max(np.where(feasible, dependent, 0), initial=0).astype(dependent.dtype)

    def sensitivity_specificity_precision(self):
        """tp / (tp + fn), tn / (tn + fp), tp / (tp + fp) at every threshold (0 for 0 / 0)."""
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        return divide_no_nan(tp, tp + fn), divide_no_nan(tn, tn + fp), divide_no_nan(tp, tp + fp)

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self.constraint: self.value}


class SensitivityAtSpecificity(_BestUnderConstraint):
    """The best sensitivity (recall) at a threshold whose specificity is at least `specificity`.

    Formula:  sensitivity = tp / (tp + fn),  specificity = tn / (tn + fp)   at each threshold
              result = max sensitivity[t] over t with specificity[t] >= specificity
    Args:
        specificity: the lowest specificity accepted, in [0, 1].
        num_thresholds: T thresholds evenly spaced over [0, 1] (default 200).
        class_id: count only this column of (N, C) labels and predictions.
    """

    constraint = "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def rates(self):
        sensitivity, specificity, _ = self.sensitivity_specificity_precision()
        return specificity, sensitivity


class SpecificityAtSensitivity(_BestUnderConstraint):
    """The best specificity at a threshold whose sensitivity is at least `sensitivity`.

    Formula:  result = max specificity[t] over t with sensitivity[t] >= sensitivity
    Args: as SensitivityAtSpecificity, with `sensitivity` the lowest sensitivity accepted.
    """

    constraint = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def rates(self):
        sensitivity, specificity, _ = self.sensitivity_specificity_precision()
        return sensitivity, specificity


class PrecisionAtRecall(_BestUnderConstraint):
    """The best precision at a threshold whose recall is at least `recall`.

    Formula:  precision = tp / (tp + fp),  recall = tp / (tp + fn)   at each threshold
              result = max precision[t] over t with recall[t] >= recall
    Args: as SensitivityAtSpecificity, with `recall` the lowest recall accepted.
    """

    constraint = "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def rates(self):
        recall, _, precision = self.sensitivity_specificity_precision()
        return recall, precision


class RecallAtPrecision(_BestUnderConstraint):
    """The best recall at a threshold whose precision is at least `precision`.

    Formula:  result = max recall[t] over t with precision[t] >= precision
    Args: as SensitivityAtSpecificity, with `precision` the lowest precision accepted.
    """

    constraint = "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def rates(self):
        recall, _, precision = self.sensitivity_specificity_precision()
        return precision, recall
