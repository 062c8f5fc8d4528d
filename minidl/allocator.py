"""Speed beside the maths: freed arrays kept for the next training step instead of unmapped.

A convolutional network's step makes and frees arrays of several megabytes (the im2col
rows, each layer's outputs and gradients). glibc's malloc gives such blocks back to the
operating system when they are freed (unmapping them, or trimming the top of its heap),
so the next step gets fresh pages from the kernel and fills each of them in on first
touch: about 4,000 page faults per step of the classic convnet at batch 64, a fifth of
its time. NumPy, like any C program, allocates through malloc.

So while minidl works (`threads.working()`, entered by fit, evaluate and predict) glibc's
two thresholds are raised, as `MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=
67108864` in the environment would do for the whole process:
- blocks under 32 MiB come from the heap rather than from their own mapping (glibc raises
  this threshold to 32 MiB by itself once it has seen such blocks freed; this starts there);
- up to 64 MiB of free memory stays at the top of the heap instead of being unmapped.
When the outermost block ends, `malloc_trim(0)` gives the freed memory back to the
system, so that a process holds no more memory after `fit` than it would have.

The thresholds stay as set for the rest of the process (glibc has no way back to its
automatic setting). Nothing happens if the C library is not glibc, or if the user set
any of glibc's malloc variables (MALLOC_*_ or a glibc.malloc tunable in GLIBC_TUNABLES):
the user's choice wins.
"""
import ctypes
import os
import platform

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's own ceiling for its automatic threshold
TRIM_THRESHOLD = 64 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def _user_tuned_malloc():
    """True if the environment already sets glibc's malloc parameters."""
    return (any(name.startswith("MALLOC_") and name.endswith("_") for name in os.environ)
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""))


def _glibc():
    """The C library as a ctypes handle if it is glibc with mallopt and malloc_trim, else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int] * 2, [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()
_raised = False  # the thresholds are set (once per process)


def keep_freed_memory():
    """Raise glibc's thresholds so that freed blocks are reused (once; see the docstring)."""
    global _raised
    if _raised or _LIBC is None or _user_tuned_malloc():
        return False
    _raised = bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                   and _LIBC.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _raised


def give_back_freed_memory():
    """Return the free memory the raised thresholds kept to the system (malloc_trim)."""
    if _raised:
        _LIBC.malloc_trim(0)


def thresholds_raised():
    """True once minidl has raised glibc's thresholds in this process."""
    return _raised
