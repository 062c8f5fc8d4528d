"""Hinge losses, for classifiers that output scores instead of probabilities (as an SVM does).

Labels are -1 or 1; a batch whose labels are all 0 or 1 is converted to -1 or 1 first, as
Keras does (keras/src/losses/losses.py::convert_binary_labels_to_hinge). The decision is
made for the whole batch: a batch mixing 0, 1 and -1 is used as it is.

Keras's max(m, 0) is TensorFlow's Maximum, whose gradient passes to m at a tie: where a
margin is exactly 0, the hinge's gradient is that of the margin, not 0. And the gradient of
a max over C entries is shared equally between the entries that tie for it.

Shapes: y_true and y_pred are (N,C); m, the margin 1 - y * p, is (N,C).
"""
import numpy as np

from minidl.losses.base import Loss, mean_last_axis


def hinge_labels(y_true):
    """Labels in {0, 1} as -1/1 (2y - 1) when every label of the batch is 0 or 1, else y."""
    if np.all((y_true == 0) | (y_true == 1)):
        return 2.0 * y_true - 1.0
    return y_true


class Hinge(Loss):
    """Hinge loss: how far each score falls short of a margin of 1 on the right side.

    Formula (per sample, C outputs, y in {-1, 1}):
        m_c = 1 - y_c * p_c
        loss = mean_c max(m_c, 0)
        d loss / d p_c = -y_c / C      where m_c >= 0, else 0
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        y = hinge_labels(y_true)
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        margin = 1.0 - y * y_pred  # (N,C)
        per_sample = mean_last_axis(np.maximum(margin, 0.0))  # (N,)
        return per_sample, -y * (margin >= 0) / c


class SquaredHinge(Loss):
    """Squared hinge loss: the hinge's shortfall, squared (smooth at the margin).

    Formula (per sample, C outputs, y in {-1, 1}):
        h_c = max(1 - y_c * p_c, 0)
        loss = mean_c h_c**2
        d loss / d p_c = -2 * h_c * y_c / C
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        y = hinge_labels(y_true)
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        h = np.maximum(1.0 - y * y_pred, 0.0)  # (N,C)
        return mean_last_axis(h * h), -2 * h * y / c


class CategoricalHinge(Loss):
    """Categorical hinge: the true class's score must beat the best other score by 1.

    Formula (per sample, one-hot y over C classes):
        pos = sum_c y_c * p_c                       (the true class's score)
        neg = max_c (1 - y_c) * p_c                 (the best other score, or 0 if all are < 0)
        loss = max(neg - pos + 1, 0)
        d loss / d p_c = (1 - y_c) * s_c - y_c      where neg - pos + 1 >= 0, else 0
        s_c = 1 / k for the k entries of (1 - y) * p that equal neg, else 0
    Labels are used as they are (no 0/1 -> -1/1 conversion here, as in Keras).
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        pos = np.sum(y_true * y_pred, axis=-1)  # (N,)
        others = (1.0 - y_true) * y_pred  # (N,C)
        neg = np.max(others, axis=-1)  # (N,)
        margin = neg - pos + 1.0  # (N,)
        per_sample = np.maximum(margin, np.zeros((), y_pred.dtype))
        ties = others == neg[..., None]  # (N,C): the entries the max shares its gradient with
        share = ties / np.sum(ties, axis=-1, keepdims=True).astype(y_pred.dtype)  # s, (N,C)
        grad = ((1.0 - y_true) * share - y_true) * (margin >= 0)[..., None]  # (N,C)
        return per_sample, grad
