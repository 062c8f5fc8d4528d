"""F-scores: the harmonic mean of precision and recall, per class or averaged.

Shapes: N samples, C classes; y_true and y_pred are (N, C) (one-hot or multi-label labels,
scores or probabilities). Each class's tp, fp, fn are weighted sums over the samples.
Source: keras/src/metrics/f_score_metrics.py.
"""
import numpy as np

from minidl import config
from minidl.metrics.base import Metric


class FBetaScore(Metric):
    """F-beta: precision and recall combined, recall counting beta times as much.

    Args:
        average: None (one score per class, an array (C,)), "micro" (tp, fp, fn summed over
            the classes first), "macro" (the mean of the classes' scores), or "weighted" (their
            mean weighted by each class's count of positive labels).
        beta: recall's weight, a float > 0 (default 1.0, the F1 score).
        threshold: a prediction > threshold is positive; None (default): each row's highest
            score is positive (unless it is 0).
        name, dtype: see `Metric`.
    Formula (per class; eps = 1e-7, Keras's epsilon):
        tp += sum_n w_n * p_nc * y_nc;  fp += sum_n w_n * p_nc * (1 - y_nc)
        fn += sum_n w_n * (1 - p_nc) * y_nc;  support += sum_n w_n * y_nc
        precision = tp / (tp + fp + eps);  recall = tp / (tp + fn + eps)
        f = (1 + beta**2) * precision * recall / (beta**2 * precision + recall + eps)
    micro sums tp, fp, fn over the classes as well (state of shape ()).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                "Invalid `average` argument value. Expected one of: "
                "{None, 'micro', 'macro', 'weighted'}. "
                f"Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(
                "Invalid `beta` argument value. It should be a Python float. "
                f"Received: beta={beta} of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(
                f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    "Invalid `threshold` argument value. It should be a Python float. "
                    f"Received: threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(
                    "Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                    f"Received: threshold={threshold}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0  # micro: sum over samples and classes
        self._built = False

    def _build(self, y_true_shape, y_pred_shape):
        """The state, once the number of classes is known (the first update_state)."""
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                "FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received "
                f"input shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}.")
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives",
                     "intermediate_weights"):
            setattr(self, name, self.add_weight(shape, name=name, dtype=self.dtype))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(y_true, self.dtype)  # (N,C)
        y_pred = np.asarray(y_pred, self.dtype)  # (N,C)
        if not self._built:
            self._build(y_true.shape, y_pred.shape)
        if self.threshold is None:  # each row's highest score, unless it is 0
            positive = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            positive = y_pred > self.threshold
        p = positive.astype(self.dtype)  # (N,C) 0 or 1
        one = np.ones((), self.dtype)
        w = None if sample_weight is None else np.asarray(sample_weight, self.dtype)[:, None]

        def weighted_sum(values):  # (N,C) -> (C,), or () for micro
            return (values if w is None else values * w).sum(axis=self.axis, dtype=self.dtype)

        self.true_positives.assign_add(weighted_sum(p * y_true))
        self.false_positives.assign_add(weighted_sum(p * (one - y_true)))
        self.false_negatives.assign_add(weighted_sum((one - p) * y_true))
        self.intermediate_weights.assign_add(weighted_sum(y_true))

    def result(self):
        if not self._built:  # nothing seen yet (Keras raises here; 0, as other metrics give)
            return np.zeros((), self.dtype)
        eps, beta_squared, one_plus = (np.asarray(v, self.dtype) for v in (
            config.epsilon(), self.beta ** 2, 1 + self.beta ** 2))
        tp = self.true_positives.value
        precision = tp / (tp + self.false_positives.value + eps)
        recall = tp / (tp + self.false_negatives.value + eps)
        f_score = (precision * recall) / (beta_squared * precision + recall + eps) * one_plus
        if self.average == "weighted":  # each class by its share of the positive labels
            support = self.intermediate_weights.value
            return (f_score * (support / (support.sum() + eps))).sum()
        if self.average is not None:  # micro (one number already) and macro
            return f_score.mean(dtype=self.dtype)
        return f_score

    def check_loggable(self):
        """compile() asks: fit's logs hold one number per metric (Keras's hold this array)."""
        if self.average is None:
            raise ValueError(
                f"minidl's fit and evaluate log one number per metric, and {self.name} with "
                "average=None gives one per class. Pass average='micro', 'macro' or 'weighted' "
                "to compile it, or call the metric yourself. Received: average=None")

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score: the harmonic mean of precision and recall, FBetaScore with beta = 1.

    Args: average, threshold, name, dtype as FBetaScore.
    Formula:  f1 = 2 * precision * recall / (precision + recall)   (eps as FBetaScore)
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
