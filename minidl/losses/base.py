"""The Loss protocol every loss follows, and the helpers the losses share.

A loss gives, for prepared y_true and y_pred, one value per sample (N,) and the derivative of
each sample's value with respect to its own y_pred (N,C); the batch's loss is the mean of the
values (Keras's "sum_over_batch_size" reduction), so the head divides the gradient by N.

Shapes: N rows in the batch, C output columns (classes or regression targets).
"""
import numpy as np

from minidl import config, masks


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


def clip_bounds(dtype):
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


# Keras's reductions (keras/src/losses/loss.py::standardize_reduction); "mean" is the same as
# "sum_over_batch_size" there, and those two are the ones fit's head computes.
_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError("Invalid value for argument `reduction`. Expected one of "
                         f"{set(_REDUCTIONS)}. Received: reduction={reduction}")
    if reduction not in ("sum_over_batch_size", "mean"):
        raise ValueError(f"minidl's losses take the mean over the batch: reduction="
                         f"'sum_over_batch_size' (or 'mean'). Received: reduction={reduction}")
    return reduction


class Loss:
    """Base class: per-sample loss values and their gradient with respect to y_pred.

    A loss of your own, Keras's way: define only `call(y_true, y_pred)`, written with
    minidl.ops; training differentiates its ops on the tape (wrapper.py, head.py). Or
    minidl's way, with its derivative written out:

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
        self.reduction = _check_reduction(reduction)

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
        """The loss over the batch (the mean of the per-sample values, as Keras). On a y_pred
        a GradientTape recorded, it is recorded too (custom_step.py)."""
        from minidl import custom_step
        tape = custom_step.on_tape(y_pred)
        if tape is not None:
            return custom_step.recorded_loss(self, y_true, y_pred, sample_weight, tape)
        mask = masks.mask_of(y_pred)  # the real steps, if y_pred carries a mask (masks.py)
        values = self.call(*self.prepare(y_true, y_pred))  # (N,)
        if mask is not None:
            return sum_over_batch_size(values, masks.loss_weights(mask, values, sample_weight))
        weight = None if sample_weight is None else np.asarray(sample_weight, values.dtype)
        if weight is not None and weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
            weight = weight[..., 0]  # (N,1) weights of (N,) values, squeezed as Keras's
        return sum_over_batch_size(values, weight)  # squeeze_or_expand_to_same_rank

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

