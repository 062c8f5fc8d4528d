"""Losses: the per-sample formula, the batch mean, and the gradient of that mean.

Every loss here is the mean over the batch of a per-sample value (Keras's
"sum_over_batch_size" reduction), so every gradient carries a 1/N.

Shapes: N rows in the batch, C output columns (classes or regression targets).
y_pred and the logits z are (N,C); y_true is (N,C), or (N,) class indices for the sparse loss.

The cross-entropies have two paths, as in Keras's TensorFlow backend
(keras/src/backend/tensorflow/nn.py):
- from logits z (used whenever the model's last activation is sigmoid/softmax, or with
  from_logits=True): the exact, stable formulas; the gradient is the famous (p - y) / N.
- from probabilities p (any other output): p is clipped to [eps, 1 - eps] first, eps = 1e-7.
"""
import warnings

import numpy as np

from minidl import config
from minidl.activations import sigmoid


def match_ranks(y_true, y_pred):
    """Give y_true the rank of y_pred, as Keras's `squeeze_or_expand_to_same_rank`.

    Labels (N,) against outputs (N,1) become (N,1): broadcasting them instead would
    silently compare every label with every prediction, an (N,N) matrix.
    """
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return y_true.reshape(y_pred.shape)  # (N,) -> (N,1)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true.reshape(y_true.shape[:-1])  # (N,1) -> (N,)
    return y_true


def mean_last_axis(values):
    """The mean over the last axis, (N,C) -> (N,): the sum divided by C, in the values' dtype."""
    return values.sum(axis=-1) / np.asarray(values.shape[-1], values.dtype)


def _clip_bounds(dtype):
    """eps and 1 - eps as Keras computes them: in Python floats, then cast to the dtype."""
    eps = config.epsilon()
    return np.asarray(eps, dtype), np.asarray(1.0 - eps, dtype)


class Loss:
    """Base class. Subclasses give `terms(y_true, y_pred, from_logits)`.

    `terms` returns the per-sample losses (N,) and the gradient of their *sum* with
    respect to y_pred (N,C); dividing both by N gives the mean and its gradient.
    """

    name = "loss"
    uses_logits = False  # True for the cross-entropies, which can work from logits

    def __init__(self, name=None):
        if name is not None:
            self.name = name
        self.from_logits = False

    def terms(self, y_true, y_pred, from_logits):
        raise NotImplementedError

    def call(self, y_true, y_pred):
        """Per-sample losses, shape (N,)."""
        y_true, y_pred = self._prepare(y_true, y_pred)
        return self.terms(y_true, y_pred, self.from_logits)[0]

    def __call__(self, y_true, y_pred):
        """The mean loss over the batch."""
        return self.value_and_gradient(y_true, y_pred)[0]

    def value_and_gradient(self, y_true, y_pred, logits=None):
        """The mean loss and its gradient with respect to y_pred, or to `logits` when given.

        `logits` is the input of the sigmoid/softmax that produced y_pred. A cross-entropy
        then works from the logits, exactly as Keras does, and the gradient returned is
        dL/dz; every other loss ignores it.
        """
        y_true, y_pred = self._prepare(y_true, y_pred)
        from_logits = self.from_logits
        if logits is not None and self.uses_logits:
            if self.from_logits:
                warnings.warn(
                    f"`{self.name}` received `from_logits=True`, but the model output was "
                    "produced by a sigmoid or softmax activation and thus does not "
                    "represent logits. Was this intended?",
                    stacklevel=2,
                )
            y_pred, from_logits = logits, True
        per_sample, grad_of_sum = self.terms(y_true, y_pred, from_logits)
        n = np.asarray(per_sample.size, y_pred.dtype)
        loss = per_sample.sum() / n  # Keras's "sum_over_batch_size": sum / N
        grad = grad_of_sum / n  # (N,C)
        return loss, grad

    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(config.floatx())
        y_true = np.asarray(y_true)
        if y_true.dtype != y_pred.dtype:
            y_true = y_true.astype(y_pred.dtype)
        return match_ranks(y_true, y_pred), y_pred

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class MeanSquaredError(Loss):
    """Mean squared error, for regression.

    Formula (per sample, C outputs):
        loss = mean_c (y_c - p_c)**2
        d loss / d p_c = 2 * (p_c - y_c) / C
    """

    name = "mean_squared_error"

    def terms(self, y_true, y_pred, from_logits):
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

    def terms(self, y_true, y_pred, from_logits):
        error = y_pred - y_true  # (N,C)
        c = y_pred.shape[-1]
        per_sample = mean_last_axis(np.abs(error))  # (N,)
        return per_sample, np.sign(error) / np.asarray(c, y_pred.dtype)


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, for yes/no targets (one or more independent columns).

    Formula (per sample, C columns, y in [0,1]):
        from logits z:   e_c = max(z_c, 0) - z_c * y_c + log(1 + exp(-|z_c|))
                         d e_c / d z_c = sigmoid(z_c) - y_c
        from probs p:    p = clip(p, eps, 1 - eps)
                         e_c = -(y_c * log(p_c) + (1 - y_c) * log(1 - p_c))
                         d e_c / d p_c = (p_c - y_c) / (p_c * (1 - p_c))   (0 where clipped)
        loss = mean_c e_c
    """

    name = "binary_crossentropy"
    uses_logits = True

    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = from_logits

    def terms(self, y_true, y_pred, from_logits):
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        if from_logits:
            z = y_pred  # (N,C)
            # the stable form TensorFlow's sigmoid_cross_entropy_with_logits uses
            e = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
            return mean_last_axis(e), (sigmoid(z) - y_true) / c
        low, high = _clip_bounds(y_pred.dtype)
        p = np.clip(y_pred, low, high)
        e = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
        inside = (y_pred >= low) & (y_pred <= high)  # clip passes no gradient outside
        grad = (p - y_true) / (p * (1 - p)) * inside
        return mean_last_axis(e), grad / c


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy, for one-hot (or probability) targets over C classes.

    Formula (per sample):
        from logits z:   loss = logsumexp(z) * sum(y) - sum_c y_c * z_c
                         d loss / d z = softmax(z) * sum(y) - y        (= p - y for one-hot y)
        from probs p:    q = p / sum(p);  q = clip(q, eps, 1 - eps)
                         loss = -sum_c y_c * log(q_c)
    """

    name = "categorical_crossentropy"
    uses_logits = True

    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = from_logits

    def terms(self, y_true, y_pred, from_logits):
        if from_logits:
            z = y_pred
            shifted = z - z.max(axis=-1, keepdims=True)  # (N,C), max entry 0
            log_sum = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (N,1)
            log_p = shifted - log_sum  # log softmax, (N,C)
            per_sample = -(y_true * log_p).sum(axis=-1)  # (N,)
            # TensorFlow's gradient is p - y; times sum(y) it stays exact for labels
            # that do not sum to 1 (the two agree for one-hot labels).
            grad = np.exp(log_p) * y_true.sum(axis=-1, keepdims=True) - y_true
            return per_sample, grad
        low, high = _clip_bounds(y_pred.dtype)
        total = y_pred.sum(axis=-1, keepdims=True)  # (N,1)
        q = y_pred / total  # normalised, (N,C)
        q_clipped = np.clip(q, low, high)
        per_sample = -(y_true * np.log(q_clipped)).sum(axis=-1)
        dq = -y_true / q_clipped * ((q >= low) & (q <= high))  # (N,C)
        # back through q = p / sum(p): dp_j = (dq_j - sum_i dq_i * q_i) / sum(p)
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / total
        return per_sample, grad


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels (N,) instead of one-hot rows.

    Formula (per sample, label k):
        from logits z:   loss = logsumexp(z) - z_k
                         d loss / d z = softmax(z) - onehot(k)
        from probs p:    l = log(clip(p, eps, 1 - eps));  loss = logsumexp(l) - l_k
                         (Keras feeds the clipped log-probabilities to the logits formula)
    """

    name = "sparse_categorical_crossentropy"
    uses_logits = True

    def __init__(self, from_logits=False, name=None):
        super().__init__(name)
        self.from_logits = from_logits

    def _prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(config.floatx())
        labels = np.asarray(y_true)
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])  # (N,1) -> (N,)
        return labels.astype(np.intp, copy=False), y_pred

    def terms(self, labels, y_pred, from_logits):
        rows = np.arange(len(labels))
        if from_logits:
            z = y_pred
        else:
            low, high = _clip_bounds(y_pred.dtype)
            z = np.log(np.clip(y_pred, low, high))  # clipped log-probabilities, (N,C)
        shifted = z - z.max(axis=-1, keepdims=True)  # (N,C)
        exp = np.exp(shifted)
        total = exp.sum(axis=-1, keepdims=True)  # (N,1)
        per_sample = np.log(total[:, 0]) - shifted[rows, labels]  # logsumexp(z) - z_k, (N,)
        grad = exp / total  # softmax(z), (N,C)
        grad[rows, labels] -= 1  # minus onehot(k)
        if not from_logits:
            low, high = _clip_bounds(y_pred.dtype)
            inside = (y_pred >= low) & (y_pred <= high)
            grad = grad / np.clip(y_pred, low, high) * inside  # chain rule through log(clip(p))
        return per_sample, grad


# The Keras strings and aliases, and the per-sample functions they name.
_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
}
_BY_CLASS_NAME = {
    cls.__name__: cls
    for cls in (
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        MeanSquaredError,
        MeanAbsoluteError,
    )
}


def get(identifier):
    """Resolve a loss: a Keras string ("mse", "sparse_categorical_crossentropy"), a class name, or a Loss."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _BY_CLASS_NAME.get(identifier)
        if cls is None:
            raise ValueError(
                f"Could not interpret loss identifier: {identifier}. "
                f"Expected one of {sorted(set(_BY_NAME) | set(_BY_CLASS_NAME))}."
            )
        loss = cls()
        loss.name = identifier  # Keras names a string loss after the string
        return loss
    raise ValueError(
        "Could not interpret loss identifier, expected a string or a "
        f"minidl.losses.Loss. Received: loss={identifier!r}"
    )


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error, shape (N,)."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute error, shape (N,)."""
    return MeanAbsoluteError().call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample binary cross-entropy, shape (N,)."""
    return BinaryCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample categorical cross-entropy, shape (N,)."""
    return CategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample sparse categorical cross-entropy, shape (N,)."""
    return SparseCategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)
