"""`keras.backend` names programs use: the float type, epsilon, and clear_session()."""
from minidl import naming
from minidl.config import epsilon, floatx, set_floatx

__all__ = ["backend", "clear_session", "epsilon", "floatx", "set_floatx"]


def backend():
    """The name of the engine doing the arithmetic."""
    return "numpy"


def clear_session():
    """Start naming afresh, as `keras.backend.clear_session()`: the next Dense is "dense"."""
    naming.clear_session()
