"""A loss of your own, written with minidl.ops, as Keras programs write them:

    def my_loss(y_true, y_pred):                          # one value per sample, (N,)
        return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)
    model.compile(loss=my_loss)

or a `minidl.losses.Loss` subclass that defines only `call(y_true, y_pred)`. minidl has no
autograd, but each minidl.ops call writes itself on the training step's tape with its
derivative (minidl/ops/backprop.py), so the output head (head.py) calls the function on the
tape and starts backward from the values it returned. Keras's reduction follows
(keras/src/losses/loss.py::reduce_weighted_values):

Formula:
    values = fn(y_true, y_pred)                  (N,), (N,T), ... or a scalar
    w = sample_weight, or mask * total / valid   ranks matched to values (same_rank_weight)
    loss = sum(values * w) / size(values * w)    a scalar values * w is the loss itself
    dloss/dvalues = w / size, summed back to values' shape

y_pred reaches the function as a Tracked array (ops/backprop.py): its NumPy operators and
ufuncs (`y_true - y_pred`, `** 2`, np.exp, np.mean) are recorded as the ops of the same name,
as Keras's guide writes losses; so are slices (`y_pred[:, 0]`), and y_true is tracked the
same way. A copy or an array method (`.mean()`, `.copy()`) leaves the tape: evaluate() can still use such a loss, and a training step refuses it by name
before any weight changes.

Shapes: N rows in the batch, T time steps, C output columns.
"""
import numpy as np

from minidl.losses.base import Loss
from minidl.ops import backprop
from minidl.tape import active_tape


def same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank(y_true, y_pred): expand or squeeze a last axis
    of size 1 when the ranks differ by one (y_pred is reshaped on the tape)."""
    true_rank, pred_rank = np.ndim(y_true), np.ndim(y_pred)
    if true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
        if pred_rank == 1:
            y_pred = backprop.reshape(y_pred, y_pred.shape + (1,))  # (N,) -> (N,1)
        else:
            y_true = y_true.reshape(y_true.shape[:-1])  # (N,T,1) -> (N,T)
    if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
        if true_rank == 1:
            y_true = y_true.reshape(y_true.shape + (1,))  # (N,) -> (N,1)
        else:
            y_pred = backprop.reshape(y_pred, y_pred.shape[:-1])  # (N,T,1) -> (N,T)
    return y_true, y_pred


def same_rank_weight(values, weight):
    """The weight shaped as Keras's squeeze_or_expand_to_same_rank(values, weight) leaves
    it, up to broadcasting: (N,) against values (N,1) -> (N,1); (N,T,1) against (N,T) -> (N,T)."""
    values_rank, weight_rank = np.ndim(values), weight.ndim
    if values_rank == weight_rank + 1 and np.shape(values)[-1] == 1:
        weight = weight.reshape(weight.shape + (1,))
    elif weight_rank == values_rank + 1 and weight.shape[-1] == 1:
        weight = weight.reshape(weight.shape[:-1])
    try:
        np.broadcast_shapes(np.shape(values), weight.shape)
    except ValueError:
        raise ValueError(
            f"The loss returned values of shape {np.shape(values)}, which the sample weights "
            f"of shape {weight.shape} cannot weigh (Keras multiplies the two). Return one value "
            "per sample, shape (N,), or leave the weights out.") from None
    return weight


def reduce_with_gradient(values, weight=None):
    """Keras's sum_over_batch_size of values * weight, and its derivative by the values.

    Returns:
        (loss, dloss/dvalues): a scalar, and an array of values' shape.
    """
    dtype = np.result_type(values)
    if weight is None:
        n = np.size(values)
        if np.ndim(values) == 0:
            return values, np.ones_like(values)  # a scalar is the loss (reduce_values)
        return values.sum() / dtype.type(n), np.full(np.shape(values), 1 / n, dtype)
    weighted = values * weight  # broadcast: values' shape, or wider for a scalar value
    n = weighted.size
    if weighted.ndim == 0:
        return weighted, np.asarray(weight, dtype)
    share = np.broadcast_to(weight / dtype.type(n), weighted.shape)  # d loss / d weighted * w
    return weighted.sum() / dtype.type(n), backprop.unbroadcast(share, values).astype(dtype)


class LossFunctionWrapper(Loss):
    """A function fn(y_true, y_pred, **kwargs) -> per-sample values, as a Loss (Keras's
    keras/src/losses/losses.py::LossFunctionWrapper): y_true and y_pred first get the same
    rank (`same_rank`), the batch's loss is Keras's weighted mean of the values, and the
    gradient comes from the tape (the function must be written with minidl.ops).

    Args:
        fn: the function; compile(loss=fn) names the loss after it (fn.__name__).
        reduction: "sum_over_batch_size" (or "mean"), the only one fit's head computes.
        name: the loss's name.
        **kwargs: passed to fn on every call.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"Argument `fn` must be a function. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def prepare(self, y_true, y_pred):
        """y_pred as it is (the tape knows it by identity); y_true in its dtype (Keras's
        Loss.__call__ converts both to the loss's float type)."""
        y_true = np.asarray(y_true)
        return y_true.astype(np.result_type(y_pred), copy=False), y_pred

    def call(self, y_true, y_pred):
        y_true, y_pred = same_rank(y_true, y_pred)
        tape = active_tape()
        if tape is not None:  # the labels are a given of the step, like the model's inputs
            labels = backprop.untracked(y_true)  # (reshaped by same_rank, a new array)
            tape.watch(labels)
            y_true = backprop.tracked(labels)  # their NumPy arithmetic is recorded too
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss over the batch, reduced as Keras reduces a function loss."""
        from minidl import masks

        y_true, y_pred = self.prepare(y_true, np.asarray(y_pred))
        values = np.asarray(self.call(y_true, y_pred))
        weight = weight_of(values, sample_weight, masks.mask_of(y_pred))
        return reduce_with_gradient(values, weight)[0]

    def get_config(self):
        return {**super().get_config(), "fn": function_config(self.fn), **self._fn_kwargs}

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"


def weight_of(values, sample_weight, mask):
    """The weights of the values: the mask's (masks.py), or the sample weights, or None."""
    from minidl import masks

    if mask is not None:
        return masks.loss_weights(mask, values, sample_weight)
    if sample_weight is None:
        return None
    return same_rank_weight(values, np.asarray(sample_weight, np.result_type(values)))


def function_config(fn):
    """A named function as Keras's serialize_keras_object writes one (loaded back only from
    custom_objects: minidl runs no code from a file)."""
    return {"module": "builtins", "class_name": "function",
            "config": getattr(fn, "__name__", repr(fn)), "registered_name": "function"}


def by_tape(loss):
    """True for a loss whose gradient comes from the tape: a LossFunctionWrapper, or a Loss
    subclass with `call` and neither `gradient` nor `values_and_gradient` of its own."""
    cls = type(loss)
    return cls.gradient is Loss.gradient and cls.values_and_gradient is Loss.values_and_gradient
