"""More ways of making arrays: identity and triangles, copies, spacing on a log scale,
Vandermonde matrices and signal windows.

float32 unless a dtype is given (Keras's floatx). Source: keras/src/ops/numpy.py and
keras/src/backend/tensorflow/numpy.py.
"""
import numpy as np

from minidl import config
from minidl.ops.core import convert_to_tensor, result_type


def identity(n, dtype=None):
    return np.eye(n, dtype=dtype or config.floatx())


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the k-th diagonal of an N x M matrix."""
    return np.tri(N, M, k, dtype=dtype or config.floatx())


def empty(shape, dtype=None):
    """An array of `shape` (zeros, as Keras's TensorFlow version: never uninitialized memory)."""
    return np.zeros(shape, dtype or config.floatx())


def empty_like(x, dtype=None):
    return np.zeros_like(convert_to_tensor(x), dtype=dtype)


def array(x, dtype=None):
    """An array of x (convert_to_tensor: Python floats -> float32, ints -> int32)."""
    return np.array(convert_to_tensor(x, dtype=dtype))


def copy(x):
    return np.array(convert_to_tensor(x))


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """base ** linspace(start, stop, num)."""
    dtype = np.dtype(dtype or config.floatx())
    exponents = np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, axis=axis)
    return np.power(dtype.type(base), exponents).astype(dtype, copy=False)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """num values from start to stop, each a constant factor times the one before."""
    dtype = np.dtype(dtype or config.floatx())
    return np.geomspace(start, stop, num, endpoint=endpoint, axis=axis).astype(dtype)


def vander(x, N=None, increasing=False):
    """Columns x**(N-1), ..., x**1, x**0 (the other way round when increasing)."""
    x = convert_to_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"`x` must be a 1-D array. Received: x.shape={x.shape}")
    return np.vander(x, N, increasing).astype(result_type(x), copy=False)


def _window(fn, x, *args):
    return fn(int(x), *args).astype(config.floatx())


def bartlett(x):
    """The triangular window of length x."""
    return _window(np.bartlett, x)


def blackman(x):
    return _window(np.blackman, x)


def hamming(x):
    return _window(np.hamming, x)


def hanning(x):
    return _window(np.hanning, x)


def kaiser(x, beta):
    return _window(np.kaiser, x, beta)


def vectorize(pyfunc, *, excluded=None, signature=None):
    """pyfunc applied to each element (or each core, given a signature) of its inputs."""
    return np.vectorize(pyfunc, excluded=excluded or set(), signature=signature)
