"""Losses between distributions or rates: Kullback-Leibler divergence and Poisson.

Written operation for operation as Keras computes them (keras/src/losses/losses.py), with
Keras's epsilon (config.epsilon(), 1e-7) where it keeps a log away from 0. Where Keras clips
p, the gradient is 0 outside the range and passes at its ends (TensorFlow's ClipByValue
gradient).

Shapes: y_true and y_pred are (N,C).
"""
import numpy as np

from minidl import config
from minidl.losses.base import Loss, mean_last_axis


class KLDivergence(Loss):
    """Kullback-Leibler divergence of the predicted distribution p from the true one y.

    Formula (per sample, C classes; y and p clipped to [eps, 1], eps = 1e-7):
        loss = sum_c y_c * log(y_c / p_c)          (a sum over the classes, not a mean)
        d loss / d p_c = -y_c / p_c                (0 where p_c was outside [eps, 1])
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        eps = config.epsilon()
        y = np.clip(y_true, eps, 1)  # (N,C); NumPy keeps the dtype
        p = np.clip(y_pred, eps, 1)  # (N,C)
        per_sample = np.sum(y * np.log(y / p), axis=-1)  # (N,)
        inside = (y_pred >= np.asarray(eps, y_pred.dtype)) & (y_pred <= 1)
        return per_sample, -y / p * inside


class Poisson(Loss):
    """Poisson loss: the negative log-likelihood of counts y under rates p (up to a constant).

    Formula (per sample, C outputs, p >= 0; eps = 1e-7 keeps log away from 0):
        loss = mean_c p_c - y_c * log(p_c + eps)
        d loss / d p_c = (1 - y_c / (p_c + eps)) / C
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values_and_gradient(self, y_true, y_pred):
        eps = np.asarray(config.epsilon(), y_pred.dtype)
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        shifted = y_pred + eps  # (N,C)
        per_sample = mean_last_axis(y_pred - y_true * np.log(shifted))  # (N,)
        return per_sample, (1 - y_true / shifted) / c
