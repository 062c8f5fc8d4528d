"""Masks: which time steps of a padded batch are real, riding beside the arrays of a pass.

    ids = [[5, 2, 0, 0],          Embedding(V, D, mask_zero=True)(ids) -> y (N,T,D)
           [7, 7, 7, 1]]          mask = ids != 0:  [[T, T, F, F], [T, T, T, T]]   (N,T) bool

Keras lets the mask ride on the tensor (`tensor._keras_mask`, keras/src/layers/layer.py):
every layer call reads the mask of its first input, passes it to `call(..., mask=)` if
`call` takes one, and, if the layer `supports_masking`, sets `compute_mask(inputs, mask)`
on its outputs; a layer that does not support masking drops it with a warning. A loss and a
mean metric read the mask of y_pred (keras/src/losses/loss.py::apply_mask).

NumPy arrays take no attributes, so minidl keeps the same table beside them: for one pass
(one outermost layer or model call, in one thread) `id(array) -> (array, mask)`. The array
is kept with its mask so that its id cannot be reused while the table lives (as on the
tape, tape.py). A new outermost call starts a new table that keeps only the masks of its
own inputs (an eager `lstm(embedding(ids))` keeps the embedding's mask). A model without
masks never writes to the table: its layer calls each make one empty-table check.

Shapes: N rows in the batch, T time steps; a mask is (N,T) bool, True where a step is real.
"""
import threading
import warnings

import numpy as np

_local = threading.local()  # .table: {id(array): (array, mask)} of the pass running here


def new_pass(inputs):
    """An outermost call begins: forget every mask but those of its inputs."""
    table = getattr(_local, "table", None)
    if not table:
        return
    kept = {}
    for x in inputs if isinstance(inputs, (list, tuple)) else [inputs]:
        entry = table.get(id(x))
        if entry is not None and entry[0] is x:
            kept[id(x)] = entry
    _local.table = kept


def mask_of(array):
    """The mask riding on `array` (Keras's backend.get_keras_mask), or None."""
    table = getattr(_local, "table", None)
    if not table:
        return None
    entry = table.get(id(array))
    return entry[1] if entry is not None and entry[0] is array else None


def input_mask(inputs):
    """Keras's `previous_mask`: the first input's mask, or a list of masks for a list of
    inputs; None when there is none at all (the usual case, and the fast one)."""
    if not getattr(_local, "table", None):
        return None
    if isinstance(inputs, (list, tuple)):
        masks = [mask_of(x) for x in inputs]
        return masks if any(m is not None for m in masks) else None
    return mask_of(inputs)


def set_masks(outputs, masks):
    """Let `masks` ride on `outputs` (an array and a mask, or lists of them); None rides
    nowhere, and an output that has a mask already keeps it (Keras's _set_mask_metadata)."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    masks = masks if isinstance(masks, (list, tuple)) else [masks]
    table = getattr(_local, "table", None)
    if table is None:
        table = _local.table = {}
    for y, mask in zip(outputs, masks):
        if mask is not None and id(y) not in table:
            table[id(y)] = (y, mask)


def warn_dropped(layer):
    """Keras's warning when a layer that does not support masking receives a mask."""
    warnings.warn(
        f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with a "
        "mask attached to it. However, this layer does not support masking and will "
        "therefore destroy the mask information. Downstream layers will not see the mask.",
        stacklevel=3)


def as_weights(mask, dtype, reduction):
    """A mask as sample weights, as keras/src/losses/loss.py::apply_mask makes them.

    Formula:
        reduction "sum_over_batch_size" (a loss):  w = mask * (total / valid)
            total = mask.size, valid = number of True (w = 0 when valid is 0), so that
            sum(values * w) / total = sum of the real steps' values / valid
        reduction "sum" (a mean metric):           w = mask as 0. and 1.
    """
    if reduction == "sum":
        return mask.astype(dtype)
    total = dtype.type(mask.size)
    valid = dtype.type(mask.sum())
    weight = total / valid if valid != 0 else dtype.type(0)  # Keras's divide_no_nan
    return mask * weight  # (N,T), in dtype


def refuse(layer, mask, what):
    """The error of a layer whose Keras twin uses a mask in a way minidl does not implement."""
    shapes = [None if m is None else tuple(m.shape)
              for m in (mask if isinstance(mask, list) else [mask])]
    return ValueError(
        f"Layer '{layer.name}' (of type {type(layer).__name__}) received an input with a mask, "
        f"and minidl's {type(layer).__name__} does not implement masks: Keras's {what}. Put "
        "a layer that drops the mask before it (e.g. a recurrent layer without "
        "return_sequences, or GlobalAveragePooling1D), or remove the mask (mask_zero=False, "
        f"no Masking layer). Received: mask shapes {shapes}")


def loss_weights(mask, values, sample_weight):
    """The loss weights of a mask: w = mask * (total / valid), so that sum(values * w) / total
    is the mean of the real steps' values (as_weights)."""
    if sample_weight is not None:
        raise ValueError(
            "minidl does not weigh the loss of a masked output by `sample_weight` (or "
            "`class_weight`): Keras multiplies the (N,) sample weights into the "
            f"{tuple(mask.shape)} mask, which fails (or, when N equals the number of steps, "
            "weighs steps instead of samples). Leave the weights out, or remove the mask "
            f"(mask_zero=False, no Masking layer). Received: sample weights of shape "
            f"{np.shape(sample_weight)}")
    if mask.shape != values.shape:
        raise ValueError(
            f"The mask riding on the model's output has shape {tuple(mask.shape)}, but its "
            f"loss has values of shape {tuple(values.shape)}: the output's time steps must be "
            "the loss's own axes (e.g. a Dense on each step of a return_sequences output).")
    return as_weights(mask, values.dtype, "sum_over_batch_size")  # (N,T)
