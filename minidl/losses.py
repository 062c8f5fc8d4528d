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


def sum_over_batch_size(values, sample_weight=None):
    """Keras's default reduction: sum(values * sample_weight) / number of values.

    Note the division by the count of values, not by the sum of the weights
    (keras/src/losses/loss.py::reduce_values); a partial last batch divides by its own size.
    """
    if sample_weight is not None:
        values = values * sample_weight
    return values.sum() / np.asarray(values.size, values.dtype)


class Loss:
    """Base class: per-sample loss values and their gradient with respect to y_pred.

    A loss of your own (minidl has no autograd, so it needs its derivative too):

        class Huberish(minidl.losses.Loss):
            def call(self, y_true, y_pred):          # (N,C) -> (N,): one value per sample
                return mean_last_axis((y_pred - y_true) ** 2)
            def gradient(self, y_true, y_pred):      # d call(...)_n / d y_pred_n, shape (N,C)
                return 2 * (y_pred - y_true) / y_pred.shape[-1]

    `loss(y_true, y_pred)` is the mean over the batch; training takes the same mean
    (`sum_over_batch_size`), in the output head (head.py).
    """

    name = "loss"
    works_from_logits = False  # True for the cross-entropies, which can work from logits

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if name is not None:
            self.name = name
        self.from_logits = getattr(self, "from_logits", False)
        self.reduction = reduction

    def call(self, y_true, y_pred):
        """Per-sample losses, shape (N,), for prepared y_true, y_pred (see `prepare`)."""
        if self.from_logits:
            return self.values_and_gradient_from_logits(y_true, y_pred)[0]
        return self.values_and_gradient(y_true, y_pred)[0]

    def gradient(self, y_true, y_pred):
        """d(per-sample loss)/d y_pred, shape of y_pred."""
        raise NotImplementedError(
            f"Loss {type(self).__name__} has no `gradient(y_true, y_pred)`: minidl has no "
            "autograd, so a loss needs its derivative. Define `call(y_true, y_pred)` (the "
            "per-sample values, shape (N,)) and `gradient(y_true, y_pred)` (the derivative of "
            "each sample's value with respect to its y_pred, shape of y_pred)."
        )

    def values_and_gradient(self, y_true, y_pred):
        """Per-sample values (N,) and their gradient with respect to y_pred (N,C)."""
        if type(self).call is Loss.call:
            raise NotImplementedError(
                f"Loss {type(self).__name__} must define `call(y_true, y_pred)`.")
        return self.call(y_true, y_pred), self.gradient(y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss over the batch (the mean of the per-sample values, as Keras)."""
        values = self.call(*self.prepare(y_true, y_pred))  # (N,)
        weight = None if sample_weight is None else np.asarray(sample_weight, values.dtype)
        return sum_over_batch_size(values, weight)

    def prepare(self, y_true, y_pred):
        """y_pred as floats; y_true in y_pred's dtype and rank (see match_ranks)."""
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(config.floatx())
        y_true = np.asarray(y_true)
        if y_true.dtype != y_pred.dtype:
            y_true = y_true.astype(y_pred.dtype)
        return match_ranks(y_true, y_pred), y_pred

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


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


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, for yes/no targets (one or more independent columns).

    Formula (per sample, C columns, y in [0,1]):
        from logits z:   e_c = max(z_c, 0) - z_c * y_c + log(1 + exp(-|z_c|))
                         d e_c / d z_c = sigmoid(z_c) - y_c            (p - y)
        from probs p:    p = clip(p, eps, 1 - eps)
                         e_c = -(y_c * log(p_c) + (1 - y_c) * log(1 - p_c))
                         d e_c / d p_c = (p_c - y_c) / (p_c * (1 - p_c))   (0 where clipped)
        loss = mean_c e_c
    """

    name = "binary_crossentropy"
    works_from_logits = True

    def __init__(self, from_logits=False, name=None, **kwargs):
        self.from_logits = from_logits
        super().__init__(name, **kwargs)

    def values_and_gradient_from_logits(self, y_true, z):
        c = np.asarray(z.shape[-1], z.dtype)
        # the stable form of TensorFlow's sigmoid_cross_entropy_with_logits
        e = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))  # (N,C)
        return mean_last_axis(e), (sigmoid(z) - y_true) / c

    def values_and_gradient(self, y_true, y_pred):
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        low, high = _clip_bounds(y_pred.dtype)
        p = np.clip(y_pred, low, high)
        e = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))  # (N,C)
        inside = (y_pred >= low) & (y_pred <= high)  # clip passes no gradient outside
        grad = (p - y_true) / (p * (1 - p)) * inside
        return mean_last_axis(e), grad / c

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy, for one-hot (or probability) targets over C classes.

    Formula (per sample):
        from logits z:   loss = logsumexp(z) * sum(y) - sum_c y_c * z_c
                         d loss / d z = softmax(z) * sum(y) - y        (= p - y for one-hot y)
        from probs p:    q = p / sum(p);  q = clip(q, eps, 1 - eps)
                         loss = -sum_c y_c * log(q_c)
    """

    name = "categorical_crossentropy"
    works_from_logits = True

    def __init__(self, from_logits=False, name=None, **kwargs):
        self.from_logits = from_logits
        super().__init__(name, **kwargs)

    def values_and_gradient_from_logits(self, y_true, z):
        shifted = z - z.max(axis=-1, keepdims=True)  # (N,C), max entry 0
        log_sum = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (N,1)
        log_p = shifted - log_sum  # log softmax, (N,C)
        per_sample = -(y_true * log_p).sum(axis=-1)  # (N,)
        # TensorFlow's gradient is p - y; times sum(y) it stays exact for labels that do
        # not sum to 1 (the two agree for one-hot labels).
        grad = np.exp(log_p) * y_true.sum(axis=-1, keepdims=True) - y_true
        return per_sample, grad

    def values_and_gradient(self, y_true, y_pred):
        low, high = _clip_bounds(y_pred.dtype)
        total = y_pred.sum(axis=-1, keepdims=True)  # (N,1)
        q = y_pred / total  # normalised, (N,C)
        q_clipped = np.clip(q, low, high)
        per_sample = -(y_true * np.log(q_clipped)).sum(axis=-1)
        dq = -y_true / q_clipped * ((q >= low) & (q <= high))  # (N,C)
        # back through q = p / sum(p): dp_j = (dq_j - sum_i dq_i * q_i) / sum(p)
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / total
        return per_sample, grad

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels (N,) instead of one-hot rows.

    Formula (per sample, label k):
        from logits z:   loss = logsumexp(z) - z_k
                         d loss / d z = softmax(z) - onehot(k)          (p - y)
        from probs p:    l = log(clip(p, eps, 1 - eps));  loss = logsumexp(l) - l_k
                         (Keras feeds the clipped log-probabilities to the logits formula)
    """

    name = "sparse_categorical_crossentropy"
    works_from_logits = True

    def __init__(self, from_logits=False, name=None, **kwargs):
        self.from_logits = from_logits
        super().__init__(name, **kwargs)

    def prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(config.floatx())
        labels = np.asarray(y_true)
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])  # (N,1) -> (N,)
        return labels.astype(np.intp, copy=False), y_pred

    def values_and_gradient_from_logits(self, labels, z):
        rows_z = z.reshape(-1, z.shape[-1])  # (N,C); (N, ..., C): every position is a row
        k = labels.reshape(-1)  # (N,)
        n = np.arange(len(k))  # row numbers: [n, k] picks each row's label
        shifted = rows_z - rows_z.max(axis=-1, keepdims=True)  # (N,C)
        exp = np.exp(shifted)
        total = exp.sum(axis=-1)  # (N,)
        per_sample = np.log(total) - shifted[n, k]  # logsumexp(z) - z_k, (N,)
        grad = exp / total[:, None]  # softmax(z), (N,C)
        grad[n, k] -= 1  # minus onehot(k)
        return per_sample.reshape(labels.shape), grad.reshape(z.shape)

    def values_and_gradient(self, labels, y_pred):
        low, high = _clip_bounds(y_pred.dtype)
        log_p = np.log(np.clip(y_pred, low, high))  # clipped log-probabilities, (N,C)
        per_sample, grad = self.values_and_gradient_from_logits(labels, log_p)
        inside = (y_pred >= low) & (y_pred <= high)
        return per_sample, grad / np.clip(y_pred, low, high) * inside  # through log(clip(p))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


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
    if callable(identifier) and getattr(identifier, "__name__", None) in _BY_NAME \
            and globals().get(identifier.__name__) is identifier:
        return get(identifier.__name__)  # minidl.losses.mean_squared_error and friends
    if callable(identifier):
        raise ValueError(
            f"minidl cannot train with the loss function {identifier!r}: it has no autograd, "
            "so a loss needs its gradient as well as its value. Write it as a "
            "minidl.losses.Loss subclass with `call(y_true, y_pred)` (one value per sample, "
            "shape (N,)) and `gradient(y_true, y_pred)` (the derivative of each sample's "
            "value with respect to its y_pred); see the Loss docstring in minidl/losses.py."
        )
    raise ValueError(
        "Could not interpret loss identifier, expected a string or a "
        f"minidl.losses.Loss. Received: loss={identifier!r}"
    )


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error, shape (N,)."""
    return _per_sample(MeanSquaredError(), y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute error, shape (N,)."""
    return _per_sample(MeanAbsoluteError(), y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample binary cross-entropy, shape (N,)."""
    return _per_sample(BinaryCrossentropy(from_logits=from_logits), y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample categorical cross-entropy, shape (N,)."""
    return _per_sample(CategoricalCrossentropy(from_logits=from_logits), y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample sparse categorical cross-entropy, shape (N,)."""
    return _per_sample(SparseCategoricalCrossentropy(from_logits=from_logits), y_true, y_pred)


def _per_sample(loss, y_true, y_pred):
    return loss.call(*loss.prepare(y_true, y_pred))
