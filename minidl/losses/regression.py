"""Regression losses: an error per output column, averaged over the C columns of each sample.

Shapes: y_true and y_pred are (N,C) (a label of shape (N,) against an (N,1) output is read as
(N,1), see base.match_ranks); e = y_pred - y_true, the error, is (N,C).
"""
import numpy as np

from minidl.losses.base import Loss, mean_last_axis


class MeanSquaredError(Loss):
    """Mean squared error, for regression.

    Formula (per sample, C outputs):
        loss = mean_c (y_c - p_c)**2
        d loss / d p_c = 2 * (p_c - y_c) / C
    """

    name = "mean_squared_error"

    def values_and_gradient(self, y_true, y_pred):
        error = y_pred - y_true  # (N,C)
        c = y_pred.shape[-1]
        per_sample = mean_last_axis(error * error)  # (N,)
        return per_sample, error * np.asarray(2.0 / c, y_pred.dtype)


class MeanAbsoluteError(Loss):
    """Mean absolute error, for regression.

    Formula (per sample, C outputs):
        loss = mean_c |y_c - p_c|
        d loss / d p_c = sign(p_c - y_c) / C      (0 where they are equal)
    """

    name = "mean_absolute_error"

    def values_and_gradient(self, y_true, y_pred):
        error = y_pred - y_true  # (N,C)
        c = y_pred.shape[-1]
        per_sample = mean_last_axis(np.abs(error))  # (N,)
        return per_sample, np.sign(error) / np.asarray(c, y_pred.dtype)

