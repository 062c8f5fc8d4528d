"""AUC: the area under the ROC or precision-recall curve, from counts at fixed thresholds.

Keras does not sort the predictions (that would need all of them at once): it counts
tp/fp/tn/fn at T thresholds spread evenly over [0, 1] (T = 200 by default) and sums the
area of the T - 1 slices between neighbouring thresholds, so the result approximates the
exact AUC more closely as T grows.
Shapes: N samples, T thresholds, L labels (multi_label=True keeps one curve per column).
Source: keras/src/metrics/confusion_metrics.py::AUC.
"""
import numpy as np

from minidl import config, ops
from minidl.metrics.base import Metric
from minidl.metrics.confusion_metrics import (counts_by_buckets, counts_by_comparison,
                                              evenly_spaced, prepare)
from minidl.ops import divide_no_nan

CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
SUMMATION_METHODS = ("interpolation", "majoring", "minoring")


def _curve(curve):
    if str(curve).lower() not in CURVES:
        raise ValueError(f'Invalid AUC curve value: "{curve}". '
                         'Expected values are ["PR", "ROC", "PRGAIN"]')
    return CURVES[str(curve).lower()]


def _summation_method(method):
    if str(method).lower() not in SUMMATION_METHODS:
        raise ValueError(f'Invalid AUC summation method value: "{method}". '
                         'Expected values are ["interpolation", "majoring", "minoring"]')
    return str(method).lower()


def auc_thresholds(num_thresholds=200, thresholds=None):
    """The thresholds Keras uses: [0 - eps, 1/(T-1), ..., (T-2)/(T-1), 1 + eps] by default.

    The eps (1e-7) puts predictions of exactly 0 and 1 strictly inside the outer thresholds.
    Returns the thresholds and whether they are evenly spaced (countable by buckets).
    """
    eps = config.epsilon()
    if thresholds is not None:
        inner = sorted(thresholds)
        return [0.0 - eps] + inner + [1.0 + eps], evenly_spaced([0.0] + inner + [1.0])
    if num_thresholds <= 1:
        raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                         f"Received: num_thresholds={num_thresholds}")
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0 - eps] + inner + [1.0 + eps], True


class AUC(Metric):
    """Area under the ROC curve (default) or the precision-recall curve, Keras's approximation.

    Formula (counts at thresholds t_0 < ... < t_{T-1}, slices i = 0..T-2):
        ROC:  x = fp / (fp + tn),  y = tp / (tp + fn);   auc = sum_i (x_i - x_{i+1}) * h_i
              h_i = (y_i + y_{i+1}) / 2 (interpolation), min(y_i, y_{i+1}) (minoring)
                    or max(y_i, y_{i+1}) (majoring)
        PR with interpolation: precision interpolated between thresholds as Davis & Goadrich
              (see interpolate_pr_auc); PR otherwise: x = recall, y = precision as above.
    Args:
        num_thresholds: T, the number of thresholds (default 200).
        curve: "ROC", "PR" or "PRGAIN".
        summation_method: "interpolation", "minoring" or "majoring".
        thresholds: inner thresholds to use instead of T evenly spaced ones.
        multi_label: one curve per column of (N, L) labels, averaged (by label_weights).
        num_labels: L, to make the variables before the first batch (multi_label only).
        label_weights: per-column weights: of the counts, or of the average with multi_label.
        from_logits: y_pred are logits; a sigmoid is applied first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        self._direction = "up"
        self.curve = _curve(curve)
        self.summation_method = _summation_method(summation_method)
        self._init_from_thresholds = thresholds is not None
        self._thresholds, self._evenly = auc_thresholds(num_thresholds, thresholds)
        self.num_thresholds = len(self._thresholds)
        super().__init__(name=name, dtype=dtype)
        self.multi_label, self.num_labels = multi_label, num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights,
                                                                           self.dtype)
        self._from_logits = from_logits
        self._built = False
        if multi_label and num_labels:
            self._build(num_labels)
        elif not multi_label:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, num_labels):
        """Make the four count variables, (T,) or (T, L) with multi_label."""
        shape = (self.num_thresholds,) if num_labels is None else (self.num_thresholds,
                                                                   num_labels)
        self.true_positives = self.add_weight(shape=shape, name="true_positives")
        self.false_positives = self.add_weight(shape=shape, name="false_positives")
        self.true_negatives = self.add_weight(shape=shape, name="true_negatives")
        self.false_negatives = self.add_weight(shape=shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred)
        if not self._built:
            if y_pred.ndim != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                                 f"{y_pred.ndim}. Full shape received for `y_pred`: "
                                 f"{y_pred.shape}")
            self._build(y_pred.shape[1])
        if self._from_logits:
            y_pred = ops.sigmoid(y_pred)
        y_true, y_pred, weights = prepare(y_true, y_pred, sample_weight,
                                          self.true_positives.dtype)
        if self.label_weights is not None and not self.multi_label:
            label_weights = np.broadcast_to(self.label_weights, y_pred.shape)
            weights = label_weights if weights is None else weights * label_weights
        if self._evenly:
            found = counts_by_buckets(y_true, y_pred, weights, self.num_thresholds,
                                      with_epsilon=True, multi_label=self.multi_label)
        else:
            found = counts_by_comparison(y_true, y_pred, weights, self._thresholds,
                                         multi_label=self.multi_label)
        tp, fp, tn, fn = found
        self.true_positives.assign_add(tp)
        self.false_positives.assign_add(fp)
        self.true_negatives.assign_add(tn)
        self.false_negatives.assign_add(fn)

    def _average_over_labels(self, by_label):
        """The AUC of each label (L,) averaged, evenly or by label_weights."""
        if self.label_weights is None:
            return by_label.mean(dtype=by_label.dtype)
        return divide_no_nan((by_label * self.label_weights).sum(), self.label_weights.sum())

    def _total(self, slices):
        """Sum the slices (T-1,) into the area, or (T-1, L) into the averaged label areas."""
        if self.multi_label:
            return self._average_over_labels(slices.sum(axis=0, dtype=slices.dtype))
        return slices.sum(dtype=slices.dtype)

    def interpolate_pr_auc(self):
        """PR-AUC with precision interpolated between thresholds (Davis & Goadrich 2006).

        Within a slice, tp and p = tp + fp vary linearly, so precision = tp / p varies as
        slope + intercept / p, whose integral has a log:
            slope = dtp / dp;   intercept = tp_{i+1} - slope * p_{i+1}
            area_i = slope * (dtp + intercept * log(p_i / p_{i+1})) / (tp_{i+1} + fn_{i+1})
        (the log term is left out where p_i or p_{i+1} is 0).
        """
        tp, fp, fn = self.true_positives.value, self.false_positives.value, \
            self.false_negatives.value
        dtp = tp[:-1] - tp[1:]  # (T-1,)
        p = tp + fp  # predicted positive, (T,)
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both_positive = (p[:-1] > 0) & (p[1:] > 0)
        p_ratio = np.where(both_positive, divide_no_nan(p[:-1], np.maximum(p[1:], 0)),
                           np.ones_like(p[1:]))
        areas = divide_no_nan(slope * (dtp + intercept * np.log(p_ratio)),
                              np.maximum(tp[1:] + fn[1:], 0))
        return self._total(areas)

    def _curve_points(self):
        """x and y of the curve at each threshold, (T,) or (T, L)."""
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            return divide_no_nan(fp, fp + tn), recall  # false positive rate, recall
        if self.curve == "PR":
            return recall, divide_no_nan(tp, tp + fp)  # recall, precision
        # PRGAIN: gains relative to always predicting positive, scaled by P/N
        scale = divide_no_nan(tp + fn, tn + fp)
        recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
        precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
        recall_gain = np.maximum(np.where(tp == 0, 0.0, recall_gain), 0.0).astype(tp.dtype)
        precision_gain = np.where(tp == 0, 1.0, precision_gain).astype(tp.dtype)
        return recall_gain, precision_gain

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        x, y = self._curve_points()
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._total((x[:-1] - x[1:]) * heights)

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        config_ = {**super().get_config(), "num_thresholds": self.num_thresholds,
                   "curve": self.curve, "summation_method": self.summation_method,
                   "multi_label": self.multi_label, "num_labels": self.num_labels,
                   "label_weights": self.label_weights, "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config_["thresholds"] = self.thresholds[1:-1]
        return config_
