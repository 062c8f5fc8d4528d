"""Conversion and Keras's dtype rules, which the other ops modules follow.

Source: keras/src/ops/core.py, keras/src/backend/common/dtypes.py::result_type.
"""
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
