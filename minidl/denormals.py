"""Denormal floats flushed to zero while minidl computes, as TensorFlow does on the CPU.

A float32 below 2**-126 (~1.2e-38) in magnitude is "denormal" (subnormal): it trades
precision for range, down to 2**-149 (~1.4e-45). CPUs handle such numbers in a slow path,
often a hundred times slower per operation. TensorFlow runs its kernels with two CPU flags
set (x86's MXCSR bits FTZ, "flush to zero", and DAZ, "denormals are zero"; see
tensorflow/core/platform/denormal.h), so in Keras every denormal result or input is 0.

This matters to minidl twice over:
- exactness: an RMSprop or Adam slot whose gradient stays 0 decays as v *= rho. In Keras it
  reaches 0; in plain NumPy it shrinks to 2**-149 and stays there forever
  (0.9 * 2**-149 rounds back to 2**-149). A softmax of logits 95 apart gives exp(-95), a
  denormal in NumPy and 0 in Keras.
- speed: those stuck slots (dead relu units, always-black pixels) make every later update
  step take the slow path.

`flushed()` sets the two flags for the calling thread and puts the previous state back on
exit. minidl's steps run inside it: a training, test or predict step, `loss_and_gradients`,
an optimizer's `apply`. Callbacks and the rest of the user's code run with NumPy's ordinary
arithmetic, as they do next to Keras. (The flags belong to a thread: the share of a matrix
product that OpenBLAS hands to its own worker threads keeps denormals, which the next
element-wise operation, running in this thread, then reads as 0.)

The flags are set through the C library's fegetenv/fesetenv, whose fenv_t on x86-64 Linux
ends with the MXCSR register. On any other platform `AVAILABLE` is False and `flushed()`
does nothing (minidl then keeps denormals, as NumPy does).
"""
import ctypes
import ctypes.util
import functools
import platform
import sys

import numpy as np

from minidl.interrupts import deferred_interrupt

_FTZ = 1 << 15  # MXCSR bit 15: a denormal RESULT is written as 0
_DAZ = 1 << 6   # MXCSR bit 6: a denormal INPUT is read as 0
_FLAGS = _FTZ | _DAZ


class _FloatEnvironment(ctypes.Structure):
    """glibc's (and musl's) fenv_t on x86-64: the x87 environment, then the SSE MXCSR."""
    _fields_ = [("x87", ctypes.c_uint8 * 28), ("mxcsr", ctypes.c_uint32)]


def _c_functions():
    """(fegetenv, fesetenv) from the C maths library, or None where they cannot be used."""
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        get, set_ = libm.fegetenv, libm.fesetenv
    except (OSError, AttributeError):
        return None
    for function in (get, set_):
        function.argtypes, function.restype = [ctypes.POINTER(_FloatEnvironment)], ctypes.c_int
    return get, set_


def _with_flags(environment, on):
    """A copy of `environment` with FTZ and DAZ set (on=True) or cleared."""
    copy = _FloatEnvironment.from_buffer_copy(environment)
    copy.mxcsr = copy.mxcsr | _FLAGS if on else copy.mxcsr & ~_FLAGS
    return copy


def _numpy_flushes():
    return np.multiply(np.array([np.finfo(np.float32).tiny / 4], np.float32), 1)[0] == 0


def _works(functions):
    """Check that NumPy flushes with the flags set and does not with them cleared."""
    get, set_ = functions
    saved = _FloatEnvironment()
    if get(saved) != 0:
        return False
    try:
        return (set_(_with_flags(saved, True)) == 0 and _numpy_flushes()
                and set_(_with_flags(saved, False)) == 0 and not _numpy_flushes())
    finally:
        set_(saved)


_FUNCTIONS = _c_functions()
AVAILABLE = _FUNCTIONS is not None and _works(_FUNCTIONS)


class flushed:
    """Context manager: denormals are 0 inside (FTZ and DAZ set), as before on exit.

    Setting the flags and noting their old state happen with Ctrl-C held (interrupts.py),
    and so does the whole block: a KeyboardInterrupt is raised only once the flags are back
    as they were, never between setting them and noting that they must be put back.
    Nested scopes cost one C call: the inner one finds the flags set and leaves them alone.
    """

    __slots__ = ("_saved", "_hold")

    def __enter__(self):
        self._saved = None
        if AVAILABLE:
            get, set_ = _FUNCTIONS
            saved = _FloatEnvironment()
            get(saved)
            if saved.mxcsr & _FLAGS != _FLAGS:
                self._hold = deferred_interrupt()
                self._hold.__enter__()  # before this line nothing has changed; after it no
                self._saved = saved     # Ctrl-C can land until __exit__ restored the flags
                set_(_with_flags(saved, True))
        return self

    def __exit__(self, *exc_info):
        if self._saved is None:
            return False
        _FUNCTIONS[1](self._saved)
        self._saved = None
        return self._hold.__exit__(*exc_info)  # a Ctrl-C held meanwhile is raised here


def flushing(method):
    """Decorator: run `method` inside `flushed()`."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with flushed():
            return method(*args, **kwargs)

    return wrapper
