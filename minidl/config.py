"""Global settings: the float type every array is cast to, the fuzz factor epsilon, and the
threads minidl's matrix products may use.

float32 is the default, as in Keras. float64 exists for central-difference gradient checks,
where float32 rounding would drown the error being measured.
"""
import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7
_BLAS_THREADS = None  # None: minidl chooses (minidl/threads.py)


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


def blas_threads():
    """The BLAS threads set with `set_blas_threads`, or None (minidl chooses)."""
    return _BLAS_THREADS


def set_blas_threads(value):
    """How many threads NumPy's BLAS uses while minidl trains or predicts; None: minidl chooses.

    By default minidl runs BLAS on one thread and shares big products with a helper thread
    of its own when a core is free (minidl/threads.py). A number n gives BLAS n threads and
    no helper, as the OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS variables do.
    """
    global _BLAS_THREADS
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or value < 1):
        raise ValueError("Invalid value for `blas_threads`, expected a positive integer or "
                         f"None. Received: blas_threads={value!r}")
    _BLAS_THREADS = None if value is None else int(value)
