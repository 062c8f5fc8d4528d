"""Global numeric settings: the float type every array is cast to, and the fuzz factor epsilon.

float32 is the default, as in Keras. float64 exists for central-difference gradient checks,
where float32 rounding would drown the error being measured.
"""
import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7


def floatx():
    """The default float type, as a string: "float32" or "float64"."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type used for weights, inputs and all arithmetic."""
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(
            "Unknown `floatx` value, expected one of {'float32', 'float64'}. "
            f"Received: floatx={value!r}"
        )
    _FLOATX = value


def epsilon():
    """The fuzz factor Keras uses to keep logs and divisions finite (1e-7)."""
    return _EPSILON


def dtype():
    """floatx() as a NumPy dtype."""
    return np.dtype(_FLOATX)
