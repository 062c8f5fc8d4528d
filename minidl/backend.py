"""`keras.backend` names programs use: the float type, epsilon, the image layout, automatic
names' counters, and clear_session()."""
import numpy as np

from minidl import naming
from minidl.config import (epsilon, floatx, image_data_format, set_epsilon, set_floatx,
                           set_image_data_format)
from minidl.layers.symbolic import KerasTensor
from minidl.naming import get_uid

__all__ = ["backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format",
           "is_float_dtype", "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon",
           "set_floatx", "set_image_data_format", "standardize_dtype"]

# Keras's dtype names (keras/src/backend/common/dtypes.py), and its names for Python's types
DTYPES = ("float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64", "int8",
          "int16", "int32", "int64", "bfloat16", "bool", "string", "float8_e4m3fn",
          "float8_e5m2", "complex64", "complex128")
PYTHON_DTYPES = {bool: "bool", int: "int64", float: "float32", str: "string", "int": "int64"}


def backend():
    """The name of the engine doing the arithmetic."""
    return "numpy"


def clear_session():
    """Start naming afresh, as `keras.backend.clear_session()`: the next Dense is "dense"."""
    naming.clear_session()


def is_keras_tensor(x):
    """True for the symbolic tensors of a functional model (`Input(...)`, a layer called on one)."""
    return isinstance(x, KerasTensor)


def standardize_dtype(dtype):
    """A dtype as Keras names it: "float32", "int64", ... (None: floatx; Python's int:
    "int64", float: "float32"), or Keras's error for a name it does not know."""
    if dtype is None:
        return floatx()
    dtype = PYTHON_DTYPES.get(dtype, dtype)
    if not isinstance(dtype, str):
        dtype = np.dtype(dtype).name
    if dtype not in DTYPES:
        raise ValueError(f"Invalid dtype: {dtype}")
    return dtype


def is_float_dtype(dtype):
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype):
    return standardize_dtype(dtype).startswith(("int", "uint"))


def result_type(*dtypes):
    """The dtype of an operation on arrays of these dtypes: the widest float if any, else
    the integers promoted as NumPy promotes them, else bool; floatx for none."""
    names = [standardize_dtype(d) for d in dtypes]
    floats = [d for d in names if is_float_dtype(d)]
    ints = [d for d in names if is_int_dtype(d)]
    if floats or ints:
        return np.result_type(*(floats or ints)).name
    return "bool" if names else floatx()
