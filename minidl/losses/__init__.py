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
from minidl.losses.base import Loss, match_ranks, mean_last_axis, sum_over_batch_size
from minidl.losses.crossentropy import (BinaryCrossentropy, CategoricalCrossentropy,
                                        SparseCategoricalCrossentropy)
from minidl.losses.regression import MeanAbsoluteError, MeanSquaredError


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
            "value with respect to its y_pred); see the Loss docstring in minidl/losses/base.py."
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
