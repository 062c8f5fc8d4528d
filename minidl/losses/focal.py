"""Focal cross-entropies (Lin et al., 2017): the cross-entropy of each entry scaled down where
the model is already right, (1 - p_t)**gamma, so that the many easy examples of a detector
do not drown the few hard ones. And the generalized cross-entropy (Zhang & Sabuncu, 2018),
between cross-entropy and MAE, for noisy labels.

Each is written operation for operation as Keras computes it (keras/src/losses/losses.py::
binary_focal_crossentropy, categorical_focal_crossentropy, categorical_generalized_cross_
entropy), and each gradient is the one TensorFlow's autodiff gives for those operations,
worked out by hand: the clips pass no gradient outside [eps, 1 - eps] (ClipByValue), and the
power's derivative is gamma * (1 - p_t)**(gamma - 1) (TensorFlow's Pow gradient).

Shapes: y_true and y_pred are (N,C) (or (N, ..., C)); y are the labels after smoothing,
p the probabilities, z the logits.
"""
import warnings

import numpy as np

from minidl import activations, config
from minidl.activations import sigmoid, softmax
from minidl.losses.base import Loss, clip_bounds


def _mean_over(values, axis):
    """The mean over one axis as TensorFlow's reduce_mean: the sum, divided by the count."""
    return values.sum(axis=axis) / np.asarray(values.shape[axis], values.dtype)


def _check_axis(axis):
    if isinstance(axis, bool):
        raise ValueError("`axis` must be of type `int`. "
                         f"Received: axis={axis} of type {type(axis)}")


class BinaryFocalCrossentropy(Loss):
    """Binary cross-entropy times the focal factor (1 - p_t)**gamma, for yes/no targets.

    Args:
        apply_class_balancing: weigh class 1 by alpha and class 0 by 1 - alpha. Default False.
        alpha: the weight of class 1 when balancing. Default 0.25.
        gamma: the focusing parameter; 0 gives the binary cross-entropy. Default 2.0.
        from_logits: y_pred are logits z rather than probabilities. Default False.
        label_smoothing: s in [0, 1]: labels squeezed towards 0.5. Default 0.0.
        axis: the axis the entries are averaged over. Default -1.

    Formula (per entry; the sample's loss is the mean over the axis):
        y    = y * (1 - s) + 0.5 * s
        p    = sigmoid(z)                        (from logits, or from a sigmoid output)
        bce  = max(z, 0) - z * y + log(1 + exp(-|z|))                     from logits
               -(y * log(pc) + (1 - y) * log(1 - pc)),  pc = clip(p, eps, 1 - eps)  from p
        p_t  = y * p + (1 - y) * (1 - p)         (the probability of the right answer)
        f    = (1 - p_t)**gamma
        w    = y * alpha + (1 - y) * (1 - alpha) (1 without class balancing)
        e    = w * f * bce
        d e / d p = w * (-gamma * (1 - p_t)**(gamma - 1) * (2y - 1) * bce + f * d bce / d p)
            d bce / d p = (pc - y) / (pc * (1 - pc))    (0 where p was clipped)
        d e / d z = w * (-gamma * (1 - p_t)**(gamma - 1) * (2y - 1) * p * (1 - p) * bce
                         + f * (p - y))
    p_t uses the unclipped p, as Keras does. When the model's output is a sigmoid, Keras's
    TensorFlow backend takes bce from the sigmoid's input z (backend/tensorflow/nn.py::
    _get_logits), so minidl's head passes z, and p = sigmoid(z) is the output itself.
    """

    name = "binary_focal_crossentropy"
    # A sigmoid's input only: Keras would read a softmax's input as sigmoid logits in bce
    # but keep the softmax output in p_t, a mixture minidl refuses (head.py).
    logit_activations = (activations.sigmoid,)

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_focal_crossentropy", dtype=None):
        _check_axis(axis)
        self.from_logits = from_logits
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.label_smoothing = label_smoothing
        self.axis = axis

    @property
    def works_from_logits(self):
        """From a sigmoid output's logits, unless y_pred are logits already: Keras's
        from_logits=True applies a sigmoid of its own to the output (and takes bce from
        that sigmoid's input, the output itself)."""
        return not self.from_logits

    def smoothed(self, y_true):
        s = self.label_smoothing
        return y_true * (1.0 - s) + 0.5 * s if s else y_true

    def values_and_gradient_from_logits(self, y_true, z):
        y = self.smoothed(y_true)  # (N,C)
        p = sigmoid(z)  # (N,C)
        bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))  # (N,C), TF's stable form
        dbce = p - y  # d bce / d z
        dpt = (y - (1 - y)) * (p * (1 - p))  # d p_t / d z
        return self._weighted(y, p, bce, dbce, dpt)

    def values_and_gradient(self, y_true, y_pred):
        y = self.smoothed(y_true)  # (N,C)
        low, high = clip_bounds(y_pred.dtype)
        pc = np.clip(y_pred, low, high)  # (N,C)
        bce = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))  # (N,C)
        inside = (y_pred >= low) & (y_pred <= high)  # the clip passes no gradient outside
        dbce = -(y / pc - (1 - y) / (1 - pc)) * inside  # d bce / d p
        dpt = y - (1 - y)  # d p_t / d p
        return self._weighted(y, y_pred, bce, dbce, dpt)

    def _weighted(self, y, p, bce, dbce, dpt):
        """e = w * (1 - p_t)**gamma * bce, its mean over the axis, and d e / d(input), given
        bce's and p_t's derivatives by the input (p or z)."""
        gamma = self.gamma
        p_t = y * p + (1 - y) * (1 - p)  # (N,C)
        f = np.power(1.0 - p_t, gamma)  # (N,C); a Python float keeps the dtype
        df = -gamma * np.power(1.0 - p_t, gamma - 1) * dpt  # (N,C)
        e = f * bce
        grad = df * bce + f * dbce  # (N,C)
        if self.apply_class_balancing:
            w = y * self.alpha + (1 - y) * (1 - self.alpha)  # (N,C)
            e, grad = w * e, w * grad
        c = np.asarray(e.shape[self.axis], e.dtype)
        return _mean_over(e, self.axis), (grad / c).astype(e.dtype, copy=False)

    def prepare(self, y_true, y_pred):
        y_true, y_pred = super().prepare(y_true, y_pred)
        if y_true.shape != y_pred.shape:  # TensorFlow's binary_crossentropy refuses them
            check_same_shape(y_true, y_pred)
        return y_true, y_pred

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis,
                "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


def check_same_shape(y_true, y_pred):
    """TensorFlow's binary_crossentropy's errors (keras/src/backend/tensorflow/nn.py)."""
    if y_true.ndim != y_pred.ndim:
        raise ValueError(
            "Arguments `target` and `output` must have the same rank (ndim). "
            f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}")
    raise ValueError(
        "Arguments `target` and `output` must have the same shape. "
        f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}")


class CategoricalFocalCrossentropy(Loss):
    """Categorical cross-entropy with each class's term scaled by alpha * (1 - q_c)**gamma.

    Args:
        alpha: the classes' weight: a float, or a list of C floats. Default 0.25.
        gamma: the focusing parameter; 0 gives alpha times the cross-entropy. Default 2.0.
        from_logits: y_pred are logits z rather than probabilities. Default False.
        label_smoothing: s in [0, 1]: y = y * (1 - s) + s / C. Default 0.0.
        axis: the classes' axis. Default -1.

    Formula (per sample, C classes along the axis):
        p    = softmax(z)                        (from logits)
        q    = p / sum(p);  o = clip(q, eps, 1 - eps)
        l_c  = alpha_c * (1 - o_c)**gamma * (-y_c * log(o_c))
        loss = sum_c l_c
        d loss / d o_c = alpha_c * (gamma * (1 - o_c)**(gamma - 1) * y_c * log(o_c)
                                    - (1 - o_c)**gamma * y_c / o_c)   (0 where q was clipped)
        d loss / d p_j = (d o_j - sum_c d o_c * q_c) / sum(p)    (back through q = p / sum(p))
        d loss / d z   = p * (d p - sum_c d p_c * p_c)           (back through the softmax)
    Keras never takes this loss from a softmax output's logits (it calls no backend
    cross-entropy), so neither does minidl's head: the softmax output is p.
    """

    name = "categorical_focal_crossentropy"

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy",
                 dtype=None):
        _check_axis(axis)
        self.from_logits = from_logits
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.gamma = gamma
        self.label_smoothing = label_smoothing
        self.axis = axis

    def smoothed(self, y_true, dtype):
        s = self.label_smoothing
        if not s:
            return y_true
        classes = np.asarray(y_true.shape[-1], dtype)  # the last axis, whatever `axis` is
        return y_true * (1.0 - s) + s / classes

    def values_and_gradient_from_logits(self, y_true, z):
        p = softmax(z, axis=self.axis)  # (N,C)
        values, dp = self.values_and_gradient(y_true, p)
        return values, p * (dp - (dp * p).sum(axis=self.axis, keepdims=True))  # (N,C)

    def values_and_gradient(self, y_true, y_pred):
        axis, gamma = self.axis, self.gamma
        if y_pred.shape[-1] == 1:
            warnings.warn(
                "In loss categorical_focal_crossentropy, expected y_pred.shape to be "
                f"(batch_size, num_classes) with num_classes > 1. Received: "
                f"y_pred.shape={y_pred.shape}. Consider using 'binary_crossentropy' if you "
                "only have 2 classes.", SyntaxWarning, stacklevel=3)
        y = self.smoothed(y_true, y_pred.dtype)  # (N,C)
        alpha = np.asarray(self.alpha, y_pred.dtype)  # () or (C,)
        low, high = clip_bounds(y_pred.dtype)
        total = y_pred.sum(axis=axis, keepdims=True)  # (N,1)
        q = y_pred / total  # (N,C)
        o = np.clip(q, low, high)  # (N,C)
        log_o = np.log(o)
        cce = -y * log_o  # (N,C)
        m = np.power(1.0 - o, gamma)  # (N,C), the modulating factor
        values = (m * alpha * cce).sum(axis=axis)  # (N,)
        do = alpha * (gamma * np.power(1.0 - o, gamma - 1) * y * log_o - m * y / o)  # (N,C)
        dq = do * ((q >= low) & (q <= high))
        grad = (dq - (dq * q).sum(axis=axis, keepdims=True)) / total  # (N,C)
        return values, grad.astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis,
                "alpha": self.alpha, "gamma": self.gamma}


class CategoricalGeneralizedCrossEntropy(Loss):
    """Generalized cross-entropy: (1 - p_k**q) / q for the true class k, robust to noisy labels.

    Args:
        q: in (0, 1): near 0 it behaves as cross-entropy, at 1 as MAE. Default 0.5.

    Formula (per sample, integer label k, probabilities p over C classes):
        loss = (1 - p_k**q) / q
        d loss / d p_k = -p_k**(q - 1)            (0 for the other classes)
    y_pred is taken as it is: no clip, no from_logits (Keras has neither for this loss).
    """

    name = "categorical_generalized_cross_entropy"

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.q = q

    def prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(config.floatx())
        labels = np.asarray(y_true)
        if labels.shape != y_pred.shape[:-1]:
            # Keras one-hot encodes labels of any shape and broadcasts: (N,1) labels against
            # (N,C) give an (N,N) loss there. minidl takes the class indices of shape (N,).
            raise ValueError(
                "CategoricalGeneralizedCrossEntropy expects integer class indices of shape "
                f"y_pred.shape[:-1]={y_pred.shape[:-1]}. Received: y_true.shape={labels.shape}")
        return labels.astype(np.intp), y_pred

    def values_and_gradient(self, labels, y_pred):
        q = self.q
        one_hot = np.eye(y_pred.shape[-1], dtype=y_pred.dtype)[labels]  # (N,C)
        p = (y_pred * one_hot).sum(axis=-1)  # (N,), the true class's probability
        values = (1 - np.power(p, q)) / q  # (N,)
        grad = -np.power(p, q - 1)[..., None] * one_hot  # (N,C)
        return values.astype(y_pred.dtype, copy=False), grad.astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "q": self.q}
