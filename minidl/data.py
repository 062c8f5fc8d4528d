"""Checking and preparing data at the public boundary (fit, evaluate, predict, ...).

Everything is checked here, once, before a model changes: a call that fails leaves the
model exactly as it was. Arrays are cast to floatx once, so the training loop never
converts anything.
"""
import math

import numpy as np

from minidl import config


def as_array(name, value):
    """`value` as a NumPy array of numbers (lists accepted), or a TypeError naming `name`."""
    if value is None:
        raise ValueError(f"Argument `{name}` is required. Received: {name}=None")
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(
            f"Argument `{name}` must be a rectangular array of numbers. Received a ragged "
            f"{type(value).__name__}: {error}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Argument `{name}` must be an array of numbers (bool, int or float). "
            f"Received an array of dtype {array.dtype}"
            + (f": {_preview(array)}" if array.size else "")
        )
    return array


def _preview(array):
    text = repr(array.ravel()[:3].tolist())
    return text if len(text) < 80 else text[:77] + "..."


def check_finite(name, array):
    """Raise if `array` holds NaN or infinity (they would silently poison every weight)."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"Argument `{name}` contains NaN or infinite values (first at index "
            f"{tuple(int(i) for i in bad)}). Clean or impute the data before training."
        )


def prepare_x(x, input_dim=None, name="x"):
    """x as a finite (N, D) floatx array with N > 0; D must match the model when known."""
    x = as_array(name, x)
    if x.ndim != 2:
        hint = ""
        if x.ndim > 2:
            hint = (f" Flatten each sample first, e.g. {name}.reshape(len({name}), "
                    f"{int(np.prod(x.shape[1:]))}).")
        raise ValueError(
            f"Argument `{name}` must be a 2-D array of shape (samples, features)."
            f"{hint} Received: {name}.shape={x.shape}"
        )
    if len(x) == 0:
        raise ValueError(f"Argument `{name}` is empty: there are no samples. "
                         f"Received: {name}.shape={x.shape}")
    if input_dim is not None and x.shape[1] != input_dim:
        raise ValueError(
            f"Argument `{name}` has {x.shape[1]} features per sample, but the model expects "
            f"{input_dim}. Received: {name}.shape={x.shape}, expected (samples, {input_dim})"
        )
    if x.dtype != config.floatx():
        x = x.astype(config.floatx())
    check_finite(name, x)
    return x


def prepare_y(y, n, loss, output_dim, name="y"):
    """Labels checked against the loss and the output width, cast for that loss.

    Sparse cross-entropy keeps integer class indices (N,); every other loss gets
    floatx targets of shape (N,) or (N, C) that match the output width C.
    """
    y = as_array(name, y)
    if y.ndim == 0:
        raise ValueError(f"Argument `{name}` must have one label per sample. "
                         f"Received a scalar: {name}={y!r}")
    if len(y) != n:
        raise ValueError(
            "Data cardinality is ambiguous: x and y must have the same number of samples. "
            f"Received: x has {n} samples, {name} has {len(y)} samples"
        )
    if y.dtype.kind == "f":
        check_finite(name, y)
    kind = getattr(loss, "name", "")
    sparse = type(loss).__name__ == "SparseCategoricalCrossentropy"
    categorical = type(loss).__name__ == "CategoricalCrossentropy"
    if sparse:
        return _sparse_labels(y, output_dim, kind, name)
    if categorical and (y.ndim == 1 or y.shape[-1] == 1) and output_dim > 1:
        raise ValueError(
            f"Argument `{name}` holds one integer class label per sample, shape {y.shape}, "
            f"but loss `{kind}` expects one-hot rows of shape (samples, {output_dim}). "
            "Use loss='sparse_categorical_crossentropy' for integer labels, or one-hot "
            f"encode them with minidl.utils.to_categorical({name}, {output_dim})."
        )
    width = 1 if y.ndim == 1 else y.shape[-1]
    if y.ndim > 2 or width != output_dim:
        raise ValueError(
            f"Argument `{name}` has shape {y.shape}, which does not match the model output "
            f"of shape (samples, {output_dim}) for loss `{kind}`. Expected {name} of shape "
            + (f"({n},) or ({n}, 1)." if output_dim == 1 else f"({n}, {output_dim}).")
        )
    return y if y.dtype == config.floatx() else y.astype(config.floatx())


def _sparse_labels(y, classes, loss_name, name):
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"Argument `{name}` has shape {y.shape}, which looks like one-hot rows, but loss "
            f"`{loss_name}` expects integer class labels of shape (samples,). Use "
            "loss='categorical_crossentropy' for one-hot labels, or pass "
            f"{name}.argmax(axis=1)."
        )
    if y.dtype.kind == "f" and not np.array_equal(y, np.floor(y)):
        raise ValueError(
            f"Argument `{name}` must hold integer class labels for loss `{loss_name}`. "
            f"Received non-integer values such as {y[y != np.floor(y)][0]!r}"
        )
    low, high = y.min(), y.max()
    if low < 0 or high >= classes:
        raise ValueError(
            f"Argument `{name}` has class labels outside [0, {classes}): received labels in "
            f"[{low}, {high}], but the model outputs {classes} classes."
        )
    return y.astype(np.int64, copy=False)


def check_batch_size(batch_size):
    """None (-> 32, Keras's default) or a positive int."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(
            "Argument `batch_size` must be a positive integer. "
            f"Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def check_verbose(verbose):
    if verbose not in ("auto", 0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            "Argument `verbose` must be 'auto', 0, 1 or 2. "
            f"Received: verbose={verbose!r}"
        )
    return 1 if verbose == "auto" else verbose


def check_non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"Argument `{name}` must be a non-negative integer. Received: {name}={value!r}"
        )
    return int(value)


def check_validation_split(validation_split):
    """A float in [0, 1)."""
    if isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float, np.floating)) or not 0 <= validation_split < 1:
        raise ValueError(
            "Argument `validation_split` must be a float in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    return validation_split


def split_validation(x, y, validation_split):
    """Keras's split: the LAST floor-fraction of rows, taken before any shuffling."""
    split_at = int(math.floor(len(x) * (1.0 - validation_split)))
    if split_at == 0 or split_at == len(x):
        raise ValueError(
            f"Training data contains {len(x)} samples, which is not sufficient to split it "
            f"into a validation and training set as specified by `validation_split="
            f"{validation_split}`. Either provide more data, or a different value for the "
            "`validation_split` argument."
        )
    return (x[:split_at], y[:split_at]), (x[split_at:], y[split_at:])


def batches(n, batch_size, order=None):
    """Index slices (or index arrays, when `order` is a permutation) of consecutive batches.

    The last batch keeps the N mod batch_size leftover rows: nothing is dropped or padded.
    """
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        yield slice(start, stop) if order is None else order[start:stop]
