"""Overlap losses for segmentation masks: Dice and Tversky, one minus how much of the true
mask the predicted one covers.

Both sum over `axis` (by default every axis, the batch's too: then the whole batch has one
value, which Keras's mean over the batch leaves as it is). Written operation for operation as
Keras computes them (keras/src/losses/losses.py::dice, tversky), eps = 1e-7 added to the
denominator; the gradients are the quotient rule on those sums.

Shapes: y_true and y_pred are (N, ..., C), typically (N,H,W,1) masks; `axis` names the axes
summed, e.g. (1, 2, 3) for one value per image.
"""
import numpy as np

from minidl import config
from minidl.losses.base import Loss


def _sum(x, axis):
    """Keras's ops.sum over `axis` (None: every axis), with the summed axes kept, so that the
    result broadcasts back against x."""
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return x.sum(axis=axis, keepdims=True)


def _drop_kept(x, y_pred, axis):
    """x with the axes `_sum` kept removed: () for axis=None, else y_pred's other axes."""
    if axis is None:
        return x.reshape(())
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    return x.squeeze(axis=tuple(a % y_pred.ndim for a in axes))


class Dice(Loss):
    """Dice loss: 1 - 2 |Y n P| / (|Y| + |P|), the soft overlap of two masks.

    Args:
        axis: the axes summed over; None (the default) sums everything, batch included.

    Formula (sums over the axis; eps = 1e-7):
        I    = sum(y * p);   S = sum(y) + sum(p) + eps
        d    = 2 * I / S
        loss = 1 - d
        d loss / d p = (d - 2 * y) / S
    """

    name = "dice"

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis

    def values_and_gradient(self, y_true, y_pred):
        axis = self.axis
        intersection = _sum(y_true * y_pred, axis)  # (1,...,1) or the kept axes
        total = _sum(y_true, axis) + _sum(y_pred, axis) + config.epsilon()
        dice = (2.0 * intersection) / total
        grad = (dice - 2.0 * y_true) / total  # shape of y_pred
        return _drop_kept(1 - dice, y_pred, axis), grad.astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Tversky(Loss):
    """Tversky loss: Dice with the two kinds of miss weighed by alpha and beta.

    Args:
        alpha: the weight of sum((1 - p) * y), true pixels predicted off. Default 0.5.
        beta: the weight of sum(p * (1 - y)), false pixels predicted on. Default 0.5.
        axis: the axes summed over; None (the default) sums everything, batch included.

    Formula (sums over the axis; eps = 1e-7; alpha = beta = 0.5 gives Dice):
        I  = sum(y * p);  A = sum((1 - p) * y);  B = sum(p * (1 - y))
        D  = I + alpha * A + beta * B + eps;  t = I / D
        loss = 1 - t
        d loss / d p = (t * ((1 - alpha) * y + beta * (1 - y)) - y) / D
    Keras names A "fp" and B "fn" (losses.py::tversky): with y as the truth they are the
    false negatives and false positives, so alpha weighs the misses, as above.
    """

    name = "tversky"

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis

    def values_and_gradient(self, y_true, y_pred):
        axis, alpha, beta = self.axis, self.alpha, self.beta
        intersection = _sum(y_true * y_pred, axis)
        missed = _sum((1 - y_pred) * y_true, axis)  # Keras's "fp"
        extra = _sum(y_pred * (1 - y_true), axis)  # Keras's "fn"
        denominator = intersection + missed * alpha + extra * beta + config.epsilon()
        tversky = intersection / denominator
        grad = (tversky * ((1 - alpha) * y_true + beta * (1 - y_true)) - y_true) / denominator
        return _drop_kept(1 - tversky, y_pred, axis), grad.astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta,
                "axis": self.axis}
