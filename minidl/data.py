"""Checking and preparing data at the public boundary (fit, evaluate, predict, ...).

Everything is checked here, once, before a model changes: a call that fails leaves the
model exactly as it was. Arrays are cast to floatx once, so the training loop never
converts anything.

fit, evaluate and predict work on their own copy of the data, as Keras does (it turns the
arrays into tensors): a callback that edits the caller's `x` or `y` mid-fit changes nothing
in training. The price is one copy of the arrays per call, made here.
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
        text = (" A model takes strings only when its first layer is a TextVectorization, "
                "StringLookup or Hashing layer (or its Input has dtype='string'); or turn "
                f"the strings into numbers first, e.g. `{name} = vectorizer({name})`."
                if array.dtype.kind in "OUS" else "")
        raise TypeError(
            f"Argument `{name}` must be an array of numbers (bool, int or float). "
            f"Received an array of dtype {array.dtype}"
            + (f": {_preview(array)}" if array.size else "") + "." * bool(text) + text
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


def prepare_x(x, expected_shape=None, name="x", raw=False):
    """x as a finite floatx array of its own with N > 0 samples, matching the input shape.

    `expected_shape` is the model's input shape, batch axis first, e.g. (None, 784) or
    (None, 28, 28) (None where any size goes), or None when nothing fixes it yet. As Keras,
    x of shape (N,) is taken for a model that expects (N, 1).
    raw: the model starts with a layer that takes strings or integers as they are
    (TextVectorization, StringLookup, ...): x is kept as given, and texts (N,) become (N, 1),
    the shape of Keras's Input(shape=(1,), dtype="string").
    """
    if raw:
        return _raw_x(x, expected_shape, name)
    value, x = x, as_array(name, x)
    if x.ndim == 0:
        raise ValueError(f"Argument `{name}` must have one row per sample. "
                         f"Received a scalar: {name}={x!r}")
    if len(x) == 0:
        raise ValueError(f"Argument `{name}` is empty: there are no samples. "
                         f"Received: {name}.shape={x.shape}")
    if expected_shape is not None:
        expected = tuple(expected_shape)
        if x.ndim == len(expected) - 1 and expected[-1] == 1:
            x = x.reshape(x.shape + (1,))  # (N,) -> (N, 1), as Keras adjusts the input rank
        _check_sample_shape(x, expected, name)
    return to_floatx(name, x, copy=not isinstance(value, (list, tuple)))


def _raw_x(x, expected_shape, name):
    """x for a model that takes text or tokens: an array of its own, not cast."""
    if x is None:
        raise ValueError(f"Argument `{name}` is required. Received: {name}=None")
    x = np.array(x, dtype=object if _holds_text(x) else None)  # a copy, like to_floatx's
    if x.dtype.kind not in "biufOUS":
        raise TypeError(f"Argument `{name}` must be an array of strings or numbers. "
                        f"Received an array of dtype {x.dtype}")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"Argument `{name}` must have one row per sample, at least one. "
                         f"Received: {name}.shape={x.shape}")
    if x.ndim == 1 and x.dtype.kind in "OUS" and (expected_shape is None
                                                  or len(expected_shape) != 1):
        x = x.reshape(-1, 1)  # (N,) texts -> (N, 1), unless the Input is of scalars: shape=()
    if expected_shape is not None:
        expected = tuple(expected_shape)
        if x.ndim == len(expected) - 1 and expected[-1] == 1:
            x = x.reshape(x.shape + (1,))  # (N,) ids -> (N, 1), as Keras adjusts the rank
        _check_sample_shape(x, expected, name)
    return x


def _holds_text(x):
    first = np.asarray(x).ravel()[:1]
    return first.dtype.kind in "OUS"


def to_floatx(name, array, copy=True):
    """`array` as a finite floatx array of its own (a copy: see the module docstring).

    Args:
        copy: False when `array` was made here (from a list) and so belongs to nobody else.
    A finite float64 value beyond float32's range (1e300) would become infinite in the
    cast: the error says so, rather than calling it NaN or infinite.
    """
    if array.dtype != config.floatx():
        with np.errstate(over="ignore"):  # reported below, with the value that overflowed
            cast = array.astype(config.floatx())
    else:
        cast = array.copy() if copy else array
    if not np.isfinite(cast).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(cast))[0])
        if np.isfinite(array[bad]):
            raise ValueError(
                f"Argument `{name}` holds {array[bad].item()!r} (first at index {bad}), which "
                f"overflows {config.floatx()}: its largest value is "
                f"{float(np.finfo(config.floatx()).max):.4g}. Scale the data first, e.g. "
                f"divide it by its largest magnitude."
            )
        check_finite(name, cast)
    return cast


def _check_sample_shape(x, expected, name):
    """Raise a clear error when x's sample shape differs from the model's input shape."""
    sample = "(samples, " + ", ".join("any" if d is None else str(d) for d in expected[1:]) + ")"
    if x.ndim != len(expected):
        hint = ""
        if len(expected) == 2 and x.ndim > 2 and expected[1] == int(np.prod(x.shape[1:])):
            hint = (f" Flatten each sample first, e.g. {name}.reshape(len({name}), "
                    f"{expected[1]}), or start the model with a Flatten layer.")
        raise ValueError(
            f"Argument `{name}` must be a {len(expected)}-D array of shape {sample}, as the "
            f"model expects.{hint} Received: {name}.shape={x.shape}"
        )
    for axis, (got, want) in enumerate(zip(x.shape[1:], expected[1:]), start=1):
        if want is not None and got != want:
            what = "features per sample" if len(expected) == 2 else f"entries on axis {axis}"
            raise ValueError(
                f"Argument `{name}` has {got} {what}, but the model expects {want}. "
                f"Received: {name}.shape={x.shape}, expected {sample}"
            )


def prepare_y(y, n, loss, output_shape, name="y"):
    """Labels checked against the loss and the output shape, cast for that loss.

    Sparse cross-entropy keeps integer class indices (N, ...); every other loss gets floatx
    targets shaped like the output (N, ..., C), or (N, ...) when C is 1.
    `output_shape` is the model output's shape, batch axis first, or None if unknown.
    """
    from minidl import losses

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
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return _sparse_labels(y, output_shape, loss.name, name)
    known = output_shape is not None and None not in output_shape[1:] and type(loss) in (
        losses.CategoricalCrossentropy, losses.BinaryCrossentropy, losses.MeanSquaredError,
        losses.MeanAbsoluteError)
    if known:
        _check_dense_labels(y, tuple(output_shape), loss, name)
    return to_floatx(name, y)


def _check_dense_labels(y, output_shape, loss, name):
    """y must be shaped like the output, or lack its last axis when that axis has size 1."""
    from minidl import losses

    n, sample, width = len(y), output_shape[1:], output_shape[-1]
    if y.shape[1:] == sample or (width == 1 and y.shape[1:] == sample[:-1]):
        return  # (N, ..., C), or (N, ...) when C = 1
    one_label_each = y.shape[1:] in (sample[:-1], sample[:-1] + (1,))
    if isinstance(loss, losses.CategoricalCrossentropy) and width > 1 and one_label_each:
        raise ValueError(
            f"Argument `{name}` holds one integer class label per sample, shape {y.shape}, "
            f"but loss `{loss.name}` expects one-hot rows of shape {(n,) + sample}. Use "
            "loss='sparse_categorical_crossentropy' for integer labels, or one-hot encode "
            f"them with minidl.utils.to_categorical({name}, {width})."
        )
    expected = f"{(n,) + sample}" + (f" or {(n,) + sample[:-1]}" if width == 1 else "")
    raise ValueError(
        f"Argument `{name}` has shape {y.shape}, which does not match the model output of "
        f"shape {('samples',) + sample} for loss `{loss.name}`. Expected {name} of shape "
        f"{expected}."
    )


def _sparse_labels(y, output_shape, loss_name, name):
    """Integer class labels (N, ...) for a (N, ..., C) output, checked against C."""
    rank = None if output_shape is None else len(output_shape)
    if rank is not None and y.ndim == rank and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])  # (N, 1) -> (N,)
    if rank is not None and y.ndim != rank - 1:
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
    classes = None if output_shape is None else output_shape[-1]
    low, high = y.min(), y.max()
    if low < 0 or (classes is not None and high >= classes):
        raise ValueError(
            f"Argument `{name}` has class labels outside [0, {classes}): received labels in "
            f"[{low}, {high}], but the model outputs {classes} classes."
        )
    return y.astype(np.int64)  # a copy, like x


def check_batch_size(batch_size, name="batch_size"):
    """None (-> 32, Keras's default) or a positive int."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={batch_size!r}"
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


def split_validation(batch, validation_split):
    """Keras's split: the LAST floor-fraction of rows, taken before any shuffling."""
    n = len(batch)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it "
            f"into a validation and training set as specified by `validation_split="
            f"{validation_split}`. Either provide more data, or a different value for the "
            "`validation_split` argument."
        )
    return batch.rows(slice(0, split_at)), batch.rows(slice(split_at, n))


def sample_weights(sample_weight, class_weight, ys, n, outputs):
    """One floatx weight per sample and output (a list), or None: Keras's rules.

    class_weight {class: weight} gives each sample the weight of its label (the arg-max of
    a one-hot row, the rounded value of a label); only for single-output models, and not
    together with sample_weight. One sample_weight array serves every output.
    """
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if class_weight is not None:
        if outputs > 1:
            raise ValueError("`class_weight` is only supported for Models with a single output.")
        if not isinstance(class_weight, dict):
            raise ValueError("Argument `class_weight` must be a dict {class index: weight}. "
                             f"Received: class_weight={class_weight!r}")
        labels = ys[0]
        if labels.ndim > 1:
            labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
        labels = np.round(labels).astype(np.int32)
        weights = np.array([class_weight.get(int(k), 1.0) for k in labels], config.floatx())
        return [weights]
    if sample_weight is None:
        return None
    given = sample_weight if isinstance(sample_weight, (list, tuple)) else [sample_weight] * outputs
    if len(given) != outputs:
        raise ValueError(f"You should provide one `sample_weight` array per output: the model "
                         f"has {outputs} outputs, received {len(given)} arrays.")
    result = []
    for i, weights in enumerate(given):
        if weights is None:  # an output left out of a dict of targets and weights
            result.append(None)
            continue
        name = "sample_weight" if outputs == 1 else f"sample_weight[{i}]"
        weights = as_array(name, weights).astype(config.floatx())  # a copy, like x
        if weights.ndim == 2 and weights.shape[1] == 1:
            weights = weights[:, 0]
        if len(weights) != n:
            raise ValueError(
                "Data cardinality is ambiguous: x and sample_weight must have the same number "
                f"of samples. Received: x has {n} samples, {name} has {len(weights)} samples")
        check_finite(name, weights)
        result.append(weights)
    return result


def batches(n, batch_size, order=None):
    """Index slices (or index arrays, when `order` is a permutation) of consecutive batches.

    The last batch keeps the N mod batch_size leftover rows: nothing is dropped or padded.
    """
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        yield slice(start, stop) if order is None else order[start:stop]
