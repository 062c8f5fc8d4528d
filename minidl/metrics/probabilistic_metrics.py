"""Cross-entropies, KL divergence and Poisson as metrics: the per-sample loss values, averaged
by Mean.

The same formulas as the losses (values only, no gradient), written from Keras's TensorFlow
backend (keras/src/backend/tensorflow/nn.py) so that they can be read on their own:
- from probabilities p (the default): p is clipped to [eps, 1 - eps], eps = 1e-7, first;
- from logits z (from_logits=True): the exact, stable formulas.
Shapes: N samples, C classes; y_true must have y_pred's shape (or (N,) / (N,1) class
indices for the sparse one). Unlike the accuracies, the binary and categorical cross-entropy
metrics do not read (N,) labels as (N,1): Keras raises an error, and so does minidl.
KLDivergence and Poisson reuse the losses' functions (minidl/losses/probabilistic.py), which
take y_true as given, as Keras's do: labels (N,) against outputs (N,1) broadcast there.
Source: keras/src/metrics/probabilistic_metrics.py, keras/src/losses/losses.py.
"""
import warnings

import numpy as np

from minidl import config, losses, ops
from minidl.metrics.base import MeanMetricWrapper, same_rank


def _clip_bounds(dtype):
    """eps and 1 - eps as Keras computes them: in Python floats, then cast to the dtype."""
    eps = config.epsilon()
    return np.asarray(eps, dtype), np.asarray(1.0 - eps, dtype)


def _check_same_shape(y_true, y_pred):
    if y_true.ndim != y_pred.ndim:
        raise ValueError(
            "Arguments `target` and `output` must have the same rank (ndim). "
            f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}"
        )
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}"
        )


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample binary cross-entropy, the mean over the last axis.

    Formula:  y = y * (1 - s) + 0.5 * s                      (label smoothing s)
              from probs:  p = clip(p, eps, 1-eps);  e = -(y*log(p) + (1-y)*log(1-p))
              from logits: e = max(z, 0) - z*y + log(1 + exp(-|z|))
              bce = mean_c e_c
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = np.asarray(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _check_same_shape(y_true, y_pred)
    if from_logits:
        z = y_pred
        e = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
    else:
        p = np.clip(y_pred, *_clip_bounds(y_pred.dtype))
        e = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    return e.mean(axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample cross-entropy between one-hot (or probability) rows and predictions.

    Formula:  y = y * (1 - s) + s / C                        (label smoothing s)
              from probs:  q = p / sum_c p_c;  q = clip(q, eps, 1-eps);  cce = -sum_c y_c log q_c
              from logits: cce = -sum_c y_c * log_softmax(z)_c
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = np.asarray(y_true, y_pred.dtype)
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be "
            f"(batch_size, num_classes) with num_classes > 1. Received: "
            f"y_pred.shape={y_pred.shape}. Consider using 'binary_crossentropy' if you "
            "only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        classes = np.asarray(y_true.shape[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    _check_same_shape(y_true, y_pred)
    if from_logits:
        return -(y_true * ops.log_softmax(y_pred, axis=-1)).sum(axis=-1)
    q = y_pred / y_pred.sum(axis=-1, keepdims=True)  # rows that sum to 1, (N,C)
    q = np.clip(q, *_clip_bounds(y_pred.dtype))
    return -(y_true * np.log(q)).sum(axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None):
    """Per-sample cross-entropy with integer class labels k.

    Formula:  from probs:  l = log(clip(p, eps, 1-eps))   (Keras feeds these to the logits
                           formula, so rows of p that do not sum to 1 are renormalised)
              from logits: l = z
              sce = logsumexp(l) - l_k;   0 where k == ignore_class
    """
    y_pred = ops.convert_to_tensor(y_pred)
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]  # (N,1) -> (N,)
    valid = np.ones(labels.shape, bool) if ignore_class is None else labels != ignore_class
    labels = np.where(valid, labels, 0).astype(np.intp)
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={labels.shape}, output.shape={y_pred.shape}"
        )
    classes = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)][0]
        raise ValueError(f"Received a label value of {bad} which is outside the valid "
                         f"range of [0, {classes}).")
    logits = y_pred if from_logits else np.log(np.clip(y_pred, *_clip_bounds(y_pred.dtype)))
    log_p = ops.log_softmax(logits, axis=-1)  # (..., C)
    values = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    return np.where(valid, values, np.zeros((), values.dtype))


class BinaryCrossentropy(MeanMetricWrapper):
    """The binary cross-entropy over every sample seen.

    Formula:  bce = mean_n mean_c -(y*log(p) + (1-y)*log(1-p)),  p clipped to [eps, 1-eps]
    """

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(binary_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing
        self._direction = "down"


class CategoricalCrossentropy(MeanMetricWrapper):
    """The categorical cross-entropy over every sample seen, for one-hot labels.

    Formula:  cce = mean_n -sum_c y_nc * log(clip(p_nc / sum_c p_nc, eps, 1-eps))
    """

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        _check_axis(axis)
        super().__init__(categorical_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis
        self._direction = "down"

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The categorical cross-entropy over every sample seen, for integer labels.

    Formula:  sce = mean_n logsumexp(l_n) - l_nk,  l = log(clip(p, eps, 1-eps))
    Samples labelled `ignore_class` add 0; they still count, unless sample weights are
    given, which Keras then multiplies by 0 for those samples.
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        _check_axis(axis)
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis
        self._direction = "down"

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is not None and sample_weight is not None:
            labels = np.asarray(y_true)
            if labels.ndim == np.ndim(y_pred) and labels.shape[-1] == 1:
                labels = labels[..., 0]
            valid = (labels != self.ignore_class).astype(self.dtype)
            valid, sample_weight = same_rank(valid, np.asarray(sample_weight, self.dtype))
            sample_weight = sample_weight * valid
        super().update_state(y_true, y_pred, sample_weight=sample_weight)


class KLDivergence(MeanMetricWrapper):
    """The Kullback-Leibler divergence of predictions from labels, over every sample seen.

    Formula:  kld = mean_n sum_c y_nc * log(y_nc / p_nc),  y and p clipped to [eps, 1]
    """

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(fn=losses.kl_divergence, name=name, dtype=dtype)
        self._direction = "down"  # Keras: a wrapped loss function is minimised


class Poisson(MeanMetricWrapper):
    """The Poisson loss over every sample seen.

    Formula:  poisson = mean_n mean_c p_nc - y_nc * log(p_nc + eps)
    """

    def __init__(self, name="poisson", dtype=None):
        super().__init__(fn=losses.poisson, name=name, dtype=dtype)
        self._direction = "down"  # Keras: a wrapped loss function is minimised


def _check_axis(axis):
    if axis not in (-1,):
        raise ValueError("minidl's cross-entropy metrics take the classes on the last axis. "
                         f"Expected axis=-1. Received: axis={axis}")
