"""Losses: the per-sample formula, the batch mean, and the gradient of that mean.

Every loss here is the mean over the batch of a per-sample value (Keras's
"sum_over_batch_size" reduction), so every gradient carries a 1/N.

Shapes: N rows in the batch, C output columns (classes or regression targets).
y_pred and the logits z are (N,C); y_true is (N,C), or (N,) class indices for the sparse loss.

Where each family lives:
    base.py           Loss (the protocol: per-sample values and their gradient), the batch mean
    crossentropy.py   BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
                      (from logits or from clipped probabilities, as Keras's TensorFlow backend)
    regression.py     MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
                      MeanSquaredLogarithmicError, Huber, LogCosh, CosineSimilarity
    hinge.py          Hinge, SquaredHinge, CategoricalHinge
    probabilistic.py  KLDivergence, Poisson
    focal.py          BinaryFocalCrossentropy, CategoricalFocalCrossentropy,
                      CategoricalGeneralizedCrossEntropy
    overlap.py        Dice, Tversky (segmentation masks)
    ctc.py            CTC (sequence labelling without an alignment), through ops.ctc_loss
    wrapper.py        LossFunctionWrapper: a function of your own, written with minidl.ops,
                      differentiated on the tape (as a Loss subclass defining only `call`)
This file maps Keras's names to them (`get`; CategoricalGeneralizedCrossEntropy, which
Keras's get does not know either, is used as an object) and holds the function forms
(`minidl.losses.huber(y_true, y_pred)`: one value per sample), which the metrics of the same
names reuse. Source: keras/src/losses/__init__.py and losses.py.
"""
import numpy as np

from minidl.losses.base import Loss, match_ranks, mean_last_axis, sum_over_batch_size
from minidl.losses.ctc import CTC, ctc
from minidl.losses.crossentropy import (BinaryCrossentropy, CategoricalCrossentropy,
                                        SparseCategoricalCrossentropy)
from minidl.losses.focal import (BinaryFocalCrossentropy, CategoricalFocalCrossentropy,
                                 CategoricalGeneralizedCrossEntropy, check_same_shape)
from minidl.losses.hinge import CategoricalHinge, Hinge, SquaredHinge
from minidl.losses.overlap import Dice, Tversky
from minidl.losses.probabilistic import KLDivergence, Poisson
from minidl.losses.wrapper import LossFunctionWrapper
from minidl.losses.regression import (CosineSimilarity, Huber, LogCosh, MeanAbsoluteError,
                                      MeanAbsolutePercentageError, MeanSquaredError,
                                      MeanSquaredLogarithmicError)


# The Keras strings and aliases, and the per-sample functions they name
# (keras/src/losses/__init__.py::ALL_OBJECTS_DICT: the function names and a few aliases).
_BY_NAME = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "huber": Huber,
    "log_cosh": LogCosh,
    "cosine_similarity": CosineSimilarity,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "KLD": KLDivergence,
    "poisson": Poisson,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "dice": Dice,
    "tversky": Tversky,
    "ctc": CTC,
}
_BY_CLASS_NAME = {
    cls.__name__: cls
    for cls in (
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Huber,
        LogCosh,
        CosineSimilarity,
        Hinge,
        SquaredHinge,
        CategoricalHinge,
        KLDivergence,
        Poisson,
        BinaryFocalCrossentropy,
        CategoricalFocalCrossentropy,
        Dice,
        Tversky,
        CTC,
    )
}


def get(identifier):
    """Resolve a loss: a Keras string ("mse", "sparse_categorical_crossentropy"), a class name,
    a Loss, or a function fn(y_true, y_pred) written with minidl.ops."""
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
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()  # a Loss class, as Keras's get instantiates it
    if callable(identifier):  # fn(y_true, y_pred) written with minidl.ops (wrapper.py)
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
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


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample mean absolute percentage error, shape (N,)."""
    return _per_sample(MeanAbsolutePercentageError(), y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean squared logarithmic error, shape (N,)."""
    return _per_sample(MeanSquaredLogarithmicError(), y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss, shape (N,)."""
    return _per_sample(Huber(delta=delta), y_true, y_pred)


def log_cosh(y_true, y_pred):
    """Per-sample log(cosh(p - y)), shape (N,)."""
    return _per_sample(LogCosh(), y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample minus the cosine similarity, shape (N,) (the loss: -1 is best)."""
    return _per_sample(CosineSimilarity(axis=axis), y_true, y_pred)


# Keras's functions for these five take y_true as given (no squeeze_or_expand_to_same_rank):
# labels (N,) against outputs (N,1) broadcast to (N,N) there, and so they do here. The Loss
# classes, as Keras's LossFunctionWrapper, match the ranks first.

def hinge(y_true, y_pred):
    """Per-sample hinge loss, shape (N,)."""
    return _per_sample(Hinge(), y_true, y_pred, same_rank=False)


def squared_hinge(y_true, y_pred):
    """Per-sample squared hinge loss, shape (N,)."""
    return _per_sample(SquaredHinge(), y_true, y_pred, same_rank=False)


def categorical_hinge(y_true, y_pred):
    """Per-sample categorical hinge loss, shape (N,)."""
    return _per_sample(CategoricalHinge(), y_true, y_pred, same_rank=False)


def kl_divergence(y_true, y_pred):
    """Per-sample Kullback-Leibler divergence, shape (N,)."""
    return _per_sample(KLDivergence(), y_true, y_pred, same_rank=False)


def poisson(y_true, y_pred):
    """Per-sample Poisson loss, shape (N,)."""
    return _per_sample(Poisson(), y_true, y_pred, same_rank=False)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary focal cross-entropy, the mean over `axis`, shape (N,)."""
    loss = BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits,
                                   label_smoothing, axis)
    if np.shape(y_true) != np.shape(y_pred):  # no rank matching here: TensorFlow refuses
        check_same_shape(np.asarray(y_true), np.asarray(y_pred))
    return _per_sample(loss, y_true, y_pred, same_rank=False)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Per-sample categorical focal cross-entropy, the sum over `axis`, shape (N,)."""
    loss = CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis)
    return _per_sample(loss, y_true, y_pred, same_rank=False)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """Per-sample (1 - p_k**q) / q for integer labels k, shape (N,)."""
    return _per_sample(CategoricalGeneralizedCrossEntropy(q=q), y_true, y_pred)


def dice(y_true, y_pred, axis=None):
    """The Dice loss over `axis` (None: one value for everything), Keras's function form."""
    return _per_sample(Dice(axis=axis), y_true, y_pred, same_rank=False)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """The Tversky loss over `axis` (None: one value for everything), Keras's function form."""
    return _per_sample(Tversky(alpha=alpha, beta=beta, axis=axis), y_true, y_pred,
                       same_rank=False)


def _per_sample(loss, y_true, y_pred, same_rank=True):
    """loss.call on y_true and y_pred prepared as the loss prepares them (see Loss.prepare).
    On a y_pred a GradientTape recorded, the values are recorded too (custom_step.py)."""
    from minidl import custom_step
    tape = custom_step.on_tape(y_pred)
    if tape is not None:
        return custom_step.recorded_values(loss, y_true, y_pred, tape, same_rank)
    ranked_y_true, y_pred = loss.prepare(y_true, y_pred)
    if not same_rank:
        ranked_y_true = np.asarray(y_true, y_pred.dtype)
    return loss.call(ranked_y_true, y_pred)
