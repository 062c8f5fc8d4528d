"""`keras.backend` names programs use: the float type, epsilon, the image layout, automatic
names' counters, and clear_session()."""
from minidl import naming
from minidl.config import epsilon, floatx, image_data_format, set_floatx, set_image_data_format
from minidl.layers.symbolic import KerasTensor
from minidl.naming import get_uid

__all__ = ["backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format",
           "is_keras_tensor", "set_floatx", "set_image_data_format"]


def backend():
    """The name of the engine doing the arithmetic."""
    return "numpy"


def clear_session():
    """Start naming afresh, as `keras.backend.clear_session()`: the next Dense is "dense"."""
    naming.clear_session()


def is_keras_tensor(x):
    """True for the symbolic tensors of a functional model (`Input(...)`, a layer called on one)."""
    return isinstance(x, KerasTensor)
