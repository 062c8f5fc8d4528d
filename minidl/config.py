"""Global settings: the float type every array is cast to, the fuzz factor epsilon, and the
threads minidl's matrix products may use.

float32 is the default, as in Keras. float64 exists for central-difference gradient checks,
where float32 rounding would drown the error being measured.
"""
import numpy as np

from minidl.progbar import (disable_interactive_logging, enable_interactive_logging,  # noqa: F401
                            is_interactive_logging_enabled)  # where the bars are printed

_FLOATX = "float32"
_EPSILON = 1e-7
_BLAS_THREADS = None  # None: minidl chooses (minidl/threads.py)
_IMAGE_DATA_FORMAT = "channels_last"  # images are (N, H, W, C), the only layout minidl has


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


def set_epsilon(value):
    """Set the fuzz factor: the losses' clipping of probabilities to [eps, 1 - eps], the
    metrics' and constraints' eps read it at each call, as Keras's do."""
    global _EPSILON
    _EPSILON = value


def backend():
    """The name of the engine doing the arithmetic (Keras's says "tensorflow", "jax", ...)."""
    return "numpy"


def dtype_policy():
    """The float-type policy layers are built with (dtype_policies.py)."""
    from minidl import dtype_policies

    return dtype_policies.dtype_policy()


def set_dtype_policy(policy):
    """"float32" or "float64" (minidl's float types); mixed and 16-bit policies are refused."""
    from minidl import dtype_policies

    dtype_policies.set_dtype_policy(policy)


def enable_unsafe_deserialization():
    """Keras's switch to run Python code (a Lambda's lambda) from a saved file: minidl has
    none, and says so."""
    raise ValueError(
        "minidl runs no code from files, so it has no unsafe deserialization to enable. A "
        "Lambda layer whose function is a Python lambda cannot be loaded from a .keras file "
        "(load_model refuses it with Keras's safe-mode message, even with safe_mode=False); "
        "a Lambda calling a named function loads when that function is given in "
        "`custom_objects` or registered with register_keras_serializable.")


def image_data_format():
    """Where images keep their channels: "channels_last", (N, H, W, C), as Keras's default."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Keras's setting of the image layout; minidl has channels-last images only.

    The classic `if K.image_data_format() == "channels_first": ...` branches of Keras
    programs then take their channels-last path.
    """
    data_format = str(data_format).lower()
    if data_format not in {"channels_first", "channels_last"}:
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    if data_format != "channels_last":
        raise ValueError("minidl's layers take channels-last images (N, H, W, C) only, so "
                         "the image data format stays 'channels_last'. Received: "
                         f"data_format={data_format!r}")


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
