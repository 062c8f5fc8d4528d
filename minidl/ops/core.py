"""Conversion and Keras's dtype rules, which the other ops modules follow.

Source: keras/src/ops/core.py, keras/src/backend/common/dtypes.py::result_type.
Also keras.ops.core's array ops: is_tensor, dtype, saturate_cast, unstack, slice,
slice_update, scatter and scatter_update (plain values; backprop_core.py records them).
"""
import builtins

import numpy as np

from minidl import config

_PYTHON_SCALARS = (bool, int, float)


def _is_python_scalar(x):
    """A Python bool, int or float (not np.float64, which subclasses float but has a dtype)."""
    return type(x) in _PYTHON_SCALARS


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """An array of `x`: NumPy values keep their dtype; Python floats -> float32, ints -> int32."""
    if dtype is not None:
        return np.asarray(x, dtype=dtype)
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    array = np.asarray(x)
    if hasattr(x, "__array__"):  # a Variable or another array-like: its own dtype
        return array
    if array.dtype == np.float64:
        return array.astype(config.floatx())
    if array.dtype == np.int64:
        return array.astype(np.int32)
    return array


def convert_to_numpy(x):
    """The value of `x` as a NumPy array."""
    return np.array(x)


def result_type(*values):
    """The dtype Keras gives an operation on `values` (Python numbers are "weak").

    Floats win over ints and bools and the widest float wins; a Python float next to
    int or bool arrays gives floatx; otherwise ints promote as in NumPy, bool stays bool.
    """
    dtypes = [convert_to_tensor(v).dtype for v in values if not _is_python_scalar(v)]
    weak = {type(v) for v in values if _is_python_scalar(v)}
    floats = [d for d in dtypes if d.kind == "f"]
    if floats:
        return np.result_type(*floats)
    if float in weak:
        return np.dtype(config.floatx())
    ints = [d for d in dtypes if d.kind in "iu"]
    if ints:
        return np.result_type(*ints)
    return np.dtype(np.int32) if int in weak else np.dtype(bool)


def _float_type(*values):
    """result_type, but ints and bools become floatx (for mean, sqrt, divide, ...)."""
    dtype = result_type(*values)
    return dtype if dtype.kind == "f" else np.dtype(config.floatx())


def _as(values, dtype):
    """Every value as an array of `dtype`."""
    return [np.asarray(v, dtype) for v in values]


def cast(x, dtype):
    """`x` as `dtype` ("float32", "int32", "bool", ...); `x` itself when it has that dtype
    already, as tf.cast (so a loss's `cast(y_true, y_pred.dtype)` stays the array the tape
    knows)."""
    return np.asarray(convert_to_tensor(x)).astype(dtype, copy=False)


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def shape(x):
    """x's shape, a tuple; None for a symbolic tensor's unknown dimensions, as Keras's."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def ndim(x):
    return len(x.shape) if hasattr(x, "shape") else np.ndim(x)


def size(x):
    return np.asarray(np.size(x), np.int32)


def stop_gradient(variable):
    """The value itself: NumPy arrays carry no gradient."""
    return variable


def is_tensor(x):
    """Whether x is one of minidl's tensors: a NumPy array or NumPy scalar (as Keras's NumPy
    backend says; its TensorFlow backend says so of tf.Tensors, which minidl does not make)."""
    return isinstance(x, (np.ndarray, np.generic))


def dtype(x):
    """x's dtype as Keras names it ("float32", "int32", ...)."""
    return np.dtype(x.dtype).name


def saturate_cast(x, dtype):
    """x as `dtype`, clipped first to the range both dtypes hold, so that values out of the
    new dtype's range saturate instead of wrapping around (cast(-1.0, "uint8") is 255,
    saturate_cast(-1.0, "uint8") is 0).

    Formula: y = cast(clip(x, max(lo_in, lo_out), min(hi_in, hi_out)), dtype), the limits
    nudged towards 0 when rounding them to x's dtype put them past the new dtype's range.
    As keras/src/ops/core.py::_saturate_cast: float32 -> int32 keeps the limit 2**31 (NumPy
    2 compares it with 2**31 - 1 in float32, where they are equal), so values at or past it
    become int32's minimum, as in Keras.
    """
    x = convert_to_tensor(x)
    dtype = np.dtype(dtype)
    in_min, in_max = _dtype_range(x.dtype)
    out_min, out_max = _dtype_range(dtype)
    min_limit = np.maximum(in_min, out_min).astype(x.dtype)
    if min_limit < out_min:
        min_limit = np.nextafter(min_limit, 0, dtype=x.dtype)
    max_limit = np.minimum(in_max, out_max).astype(x.dtype)
    if max_limit > out_max:
        max_limit = np.nextafter(max_limit, 0, dtype=x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and 2**31 wrap, as in TensorFlow
        return np.clip(x, min_limit, max_limit).astype(dtype)


def _dtype_range(dtype):
    """(lowest, highest) value of a dtype, as Python numbers (bool: 0 and 1)."""
    if dtype == np.bool_:
        return 0, 1
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    return info.min.item() if hasattr(info.min, "item") else info.min, \
        info.max.item() if hasattr(info.max, "item") else info.max


# -- slices, scatters and unstacking (keras.ops.core) -----------------------------------------
def unstack(x, num=None, axis=0):
    """The slices of x along `axis`, as a list (x of shape (3, 4) -> 3 arrays of shape (4,)).

    Args:
        x: the array.
        num: the number of slices, if given it must be x.shape[axis].
        axis: the axis to take apart.
    """
    x = convert_to_tensor(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"Input shape axis {axis} must equal {num}, got shape "
                         f"{list(x.shape)}. Received: num={num}")
    return [np.take(x, i, axis=axis) for i in range(x.shape[axis])]


def slice(inputs, start_indices, shape):  # noqa: A001 (Keras's name)
    """inputs[start:start + shape] on every axis (a size of -1: to the end of that axis).

    Formula: y[i0, i1, ...] = inputs[start0 + i0, start1 + i1, ...]
    """
    inputs = convert_to_tensor(inputs)
    return np.array(inputs[_slice_key(inputs.shape, start_indices, shape)])


def _slice_key(full_shape, start_indices, shape):
    """The tuple of Python slices for `slice`, checked as tf.slice checks it."""
    start_indices = [int(s) for s in np.asarray(start_indices).reshape(-1)]
    sizes = [int(s) for s in np.asarray(shape).reshape(-1)]
    if len(start_indices) != len(full_shape) or len(sizes) != len(full_shape):
        raise ValueError("`start_indices` and `shape` must have one entry per axis of "
                         f"`inputs`. Received: inputs.shape={tuple(full_shape)}, "
                         f"start_indices={start_indices}, shape={sizes}")
    key = []
    for axis, (start, size, n) in enumerate(zip(start_indices, sizes, full_shape)):
        size = n - start if size == -1 else size
        if not (0 <= start <= n and 0 <= size <= n - start):
            raise ValueError(f"Expected size[{axis}] in [0, {n - start}], but got {size}. "
                             f"Received: start_indices={start_indices}, shape={sizes}")
        key.append(builtins.slice(start, start + size))
    return tuple(key)


def slice_update(inputs, start_indices, updates):
    """inputs with the block at start_indices replaced by updates (in inputs' dtype). As
    XLA's dynamic_update_slice, a start that would put the block past the end is moved back
    until it fits (start = clip(start, 0, inputs.shape - updates.shape)).

    Formula: y = inputs;  y[start0:start0 + u0, start1:start1 + u1, ...] = updates
    """
    inputs, updates = convert_to_tensor(inputs), convert_to_tensor(updates)
    key = _update_key(inputs.shape, start_indices, updates.shape)
    y = inputs.copy()
    y[key] = updates
    return y


def _update_key(full_shape, start_indices, block_shape):
    """The slices where slice_update puts its block (starts clipped so that it fits)."""
    start_indices = [int(s) for s in np.asarray(start_indices).reshape(-1)]
    if len(start_indices) != len(full_shape) or len(block_shape) != len(full_shape):
        raise ValueError("`updates` must have the rank of `inputs` and `start_indices` one "
                         f"entry per axis. Received: inputs.shape={tuple(full_shape)}, "
                         f"updates.shape={tuple(block_shape)}, start_indices={start_indices}")
    starts = [min(max(s, 0), n - u) for s, n, u in zip(start_indices, full_shape, block_shape)]
    return tuple(builtins.slice(s, s + u) for s, u in zip(starts, block_shape))


def scatter(indices, values, shape):
    """An array of zeros of `shape` with `values` added at `indices` (tf.scatter_nd: an index
    given twice gets the sum of its values).

    Args:
        indices: (N, k) integer indices into the first k axes of the result.
        values: (N, *shape[k:]) the values to put there.
        shape: the result's shape.
    Formula: y = zeros(shape);  y[indices[n]] += values[n]  for n = 0 .. N-1
    """
    values = convert_to_tensor(values)
    y = np.zeros(tuple(int(s) for s in shape), values.dtype)
    np.add.at(y, _index_tuple(indices, y.shape), values)
    return y


def _index_tuple(indices, full_shape):
    """(N, k) indices as the tuple of k index arrays NumPy indexes with, range-checked."""
    indices = np.asarray(indices)
    if indices.ndim < 1 or indices.shape[-1] > len(full_shape):
        raise ValueError(f"`indices` must have shape (N, k) with k <= {len(full_shape)}, the "
                         f"rank of the result. Received: indices.shape={indices.shape}")
    bound = np.asarray(full_shape[:indices.shape[-1]])
    if ((indices < 0) | (indices >= bound)).any():
        raise ValueError(f"`indices` out of bounds for shape {tuple(full_shape)}. "
                         f"Received: indices={indices.tolist()}")
    return tuple(np.moveaxis(indices, -1, 0))


def scatter_update(inputs, indices, updates, reduction=None):
    """inputs with the entries (or slices) at `indices` replaced by `updates` (the last one
    wins where an index repeats), or combined with them by `reduction`.

    Args:
        inputs: the array to update (its dtype is the result's).
        indices: (N, k) integer indices into the first k axes of inputs.
        updates: (N, *inputs.shape[k:]) the new values.
        reduction: None (replace), "add", "max", "min" or "mul".
    Formula: y = inputs;  y[indices[n]] = updates[n]  (or y[indices[n]] (op)= updates[n])
    """
    if reduction is not None:
        reduction = reduction.lower()
        if reduction not in ("add", "max", "min", "mul"):
            raise ValueError(f"Invalid reduction: {reduction}. "
                             "Supported values are: None, 'add', 'max', 'min', 'mul'.")
    inputs = convert_to_tensor(inputs)
    y = inputs.copy()
    key = _index_tuple(indices, y.shape)
    updates = np.asarray(convert_to_tensor(updates), y.dtype)
    if reduction is None:
        y[key] = updates  # NumPy assigns in order: the last update of an index wins
    else:
        ufunc = {"add": np.add, "max": np.maximum, "min": np.minimum, "mul": np.multiply}
        ufunc[reduction].at(y, key, updates)
    return y
