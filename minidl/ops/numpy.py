"""The NumPy-named ops: arithmetic, comparisons, reductions, shapes, making arrays, matmul.

Source: keras/src/ops/numpy.py (and its TensorFlow backend for dtypes and edge cases).
"""
import numpy as np

from minidl import config
from minidl.ops.core import _as, _axis, _float_type, convert_to_tensor, result_type


# -- element-wise arithmetic --------------------------------------------------------------
def _binary(fn, x, y, dtype=None):
    x, y = _as((x, y), dtype or result_type(x, y))
    return fn(x, y)


def add(x1, x2):
    return _binary(np.add, x1, x2)


def subtract(x1, x2):
    return _binary(np.subtract, x1, x2)


def multiply(x1, x2):
    return _binary(np.multiply, x1, x2)


def divide(x1, x2):
    """x1 / x2 as floats."""
    return _binary(np.true_divide, x1, x2, _float_type(x1, x2))


true_divide = divide


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 wherever x2 == 0 (Keras's safe division for metrics)."""
    x1, x2 = _as((x1, x2), _float_type(x1, x2))
    out = np.zeros(np.broadcast_shapes(x1.shape, x2.shape), x1.dtype)
    return np.divide(x1, x2, out=out, where=x2 != 0)


def floor_divide(x1, x2):
    return _binary(np.floor_divide, x1, x2)


def mod(x1, x2):
    return _binary(np.mod, x1, x2)


def power(x1, x2):
    return _binary(np.power, x1, x2)


def maximum(x1, x2):
    return _binary(np.maximum, x1, x2)


def minimum(x1, x2):
    return _binary(np.minimum, x1, x2)


def negative(x):
    return np.negative(convert_to_tensor(x))


def abs(x):  # noqa: A001 (Keras's name)
    return np.abs(convert_to_tensor(x))


absolute = abs


def square(x):
    """x * x (bools count as int32, as in Keras)."""
    x = convert_to_tensor(x)
    return np.square(x.astype(np.int32) if x.dtype == bool else x)


def sign(x):
    x = convert_to_tensor(x)
    return np.sign(x.astype(np.int32) if x.dtype == bool else x)


def round(x, decimals=0):  # noqa: A001 (Keras's name)
    """Round half to even, as NumPy and Keras do."""
    return np.round(convert_to_tensor(x), decimals)


def _float_unary(fn):
    def op(x):
        x = convert_to_tensor(x)
        return fn(x.astype(_float_type(x), copy=False))
    op.__name__ = fn.__name__
    op.__doc__ = f"np.{fn.__name__} in floats (ints become float32)."
    return op


sqrt = _float_unary(np.sqrt)
exp = _float_unary(np.exp)
expm1 = _float_unary(np.expm1)
log = _float_unary(np.log)
log1p = _float_unary(np.log1p)
log2 = _float_unary(np.log2)
log10 = _float_unary(np.log10)
floor = _float_unary(np.floor)
ceil = _float_unary(np.ceil)
sin = _float_unary(np.sin)
cos = _float_unary(np.cos)
tanh = _float_unary(np.tanh)
reciprocal = _float_unary(np.reciprocal)


def clip(x, x_min, x_max):
    """x limited to [x_min, x_max], in x's dtype (bools clip as int32)."""
    x = convert_to_tensor(x)
    if x.dtype == bool:
        x = x.astype(np.int32)
    return np.clip(x, x_min, x_max).astype(x.dtype, copy=False)


# -- comparisons and logic ----------------------------------------------------------------
def _compare(fn):
    def op(x1, x2):
        return _binary(fn, x1, x2)
    op.__name__ = fn.__name__
    op.__doc__ = f"Element-wise np.{fn.__name__}, a bool array."
    return op


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)


def logical_and(x1, x2):
    return np.logical_and(convert_to_tensor(x1), convert_to_tensor(x2))


def logical_or(x1, x2):
    return np.logical_or(convert_to_tensor(x1), convert_to_tensor(x2))


def logical_xor(x1, x2):
    return np.logical_xor(convert_to_tensor(x1), convert_to_tensor(x2))


def logical_not(x):
    return np.logical_not(convert_to_tensor(x))


def isnan(x):
    return np.isnan(convert_to_tensor(x))


def isinf(x):
    return np.isinf(convert_to_tensor(x))


def isfinite(x):
    return np.isfinite(convert_to_tensor(x))


def where(condition, x1=None, x2=None):
    """x1 where condition holds, else x2 (both given), or the indices where it holds."""
    condition = convert_to_tensor(condition).astype(bool)
    if x1 is None and x2 is None:
        return tuple(i.astype(np.int32) for i in np.nonzero(condition))
    return _binary(lambda a, b: np.where(condition, a, b), x1, x2)


# -- reductions ---------------------------------------------------------------------------
def _sum_type(x):
    """Sums of bools and narrow ints are int32 in Keras; everything else keeps its dtype."""
    if x.dtype == bool or (x.dtype.kind in "iu" and x.dtype.itemsize < 4):
        return np.dtype(np.int32)
    return x.dtype


def sum(x, axis=None, keepdims=False):  # noqa: A001 (Keras's name)
    x = convert_to_tensor(x)
    return np.sum(x, axis=_axis(axis), keepdims=keepdims, dtype=_sum_type(x))


def prod(x, axis=None, keepdims=False, dtype=None):
    x = convert_to_tensor(x)
    return np.prod(x, axis=_axis(axis), keepdims=keepdims, dtype=dtype or _sum_type(x))


def mean(x, axis=None, keepdims=False):
    """The mean in floats: float32 stays float32, ints give float32."""
    x = convert_to_tensor(x)
    return np.mean(x, axis=_axis(axis), keepdims=keepdims, dtype=_float_type(x))


def var(x, axis=None, keepdims=False):
    x = convert_to_tensor(x)
    return np.var(x, axis=_axis(axis), keepdims=keepdims, dtype=_float_type(x))


def std(x, axis=None, keepdims=False):
    x = convert_to_tensor(x)
    return np.std(x, axis=_axis(axis), keepdims=keepdims, dtype=_float_type(x))


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001 (Keras's name)
    kwargs = {} if initial is None else {"initial": initial}
    return np.max(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, **kwargs)


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001 (Keras's name)
    kwargs = {} if initial is None else {"initial": initial}
    return np.min(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, **kwargs)


amax, amin = max, min


def any(x, axis=None, keepdims=False):  # noqa: A001 (Keras's name)
    return np.any(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001 (Keras's name)
    return np.all(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def _below_zero_if_negative_zero(x):
    """-0.0 replaced by the tiniest negative float, so -0.0 < 0.0 as in Keras's arg-max/min."""
    if x.dtype.kind != "f" or x.ndim == 0:
        return x
    zero = x == 0
    if not zero.any():
        return x
    negative_zero = zero & np.signbit(x)
    return np.where(negative_zero, -np.finfo(x.dtype).tiny, x)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest value (the first one on ties), int32; -0.0 counts below 0.0."""
    x = _below_zero_if_negative_zero(convert_to_tensor(x))
    return np.asarray(np.argmax(x, axis=axis, keepdims=keepdims), np.int32)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest value (the first one on ties), int32; -0.0 counts below 0.0."""
    x = _below_zero_if_negative_zero(convert_to_tensor(x))
    return np.asarray(np.argmin(x, axis=axis, keepdims=keepdims), np.int32)


def count_nonzero(x, axis=None):
    return np.asarray(np.count_nonzero(convert_to_tensor(x), axis=_axis(axis)), np.int32)


def cumsum(x, axis=None, dtype=None):
    x = convert_to_tensor(x)
    return np.cumsum(x, axis=axis, dtype=dtype or _sum_type(x))


def cumprod(x, axis=None, dtype=None):
    x = convert_to_tensor(x)
    return np.cumprod(x, axis=axis, dtype=dtype or _sum_type(x))


# -- shapes -------------------------------------------------------------------------------
def reshape(x, newshape):
    return np.reshape(convert_to_tensor(x), newshape)


def expand_dims(x, axis):
    return np.expand_dims(convert_to_tensor(x), axis)


def squeeze(x, axis=None):
    return np.squeeze(convert_to_tensor(x), axis=_axis(axis))


def transpose(x, axes=None):
    return np.transpose(convert_to_tensor(x), axes)


def broadcast_to(x, shape):
    return np.broadcast_to(convert_to_tensor(x), shape)


def tile(x, repeats):
    return np.tile(convert_to_tensor(x), repeats)


def repeat(x, repeats, axis=None):
    return np.repeat(convert_to_tensor(x), repeats, axis=axis)


def flip(x, axis=None):
    return np.flip(convert_to_tensor(x), axis=_axis(axis))


def concatenate(xs, axis=0):
    xs = _as(xs, result_type(*xs))
    return np.concatenate(xs, axis=axis)


def stack(x, axis=0):
    xs = _as(x, result_type(*x))
    return np.stack(xs, axis=axis)


def take(x, indices, axis=None):
    return np.take(convert_to_tensor(x), _ids(indices), axis=axis)


def _ids(indices):
    """Indices as ints. A layer's integer inputs reach its call() as floats (minidl casts
    them, layers/base.py::_cast, where Keras passes ints on): whole floats are taken as ints."""
    indices = convert_to_tensor(indices)
    if indices.dtype.kind == "f" and np.array_equal(indices, np.round(indices)):
        return indices.astype(np.int64)
    return indices


def take_along_axis(x, indices, axis=None):
    return np.take_along_axis(convert_to_tensor(x), convert_to_tensor(indices), axis=axis)


def sort(x, axis=-1):
    return np.sort(convert_to_tensor(x), axis=axis)


def argsort(x, axis=-1):
    return np.argsort(convert_to_tensor(x), axis=axis, kind="stable").astype(np.int32)


# -- making arrays ------------------------------------------------------------------------
def ones(shape, dtype=None):
    return np.ones(shape, dtype or config.floatx())


def zeros(shape, dtype=None):
    return np.zeros(shape, dtype or config.floatx())


def full(shape, fill_value, dtype=None):
    return np.full(shape, fill_value, dtype or config.floatx())


def eye(N, M=None, k=0, dtype=None):
    return np.eye(N, M, k, dtype=dtype or config.floatx())


def ones_like(x, dtype=None):
    return np.ones_like(convert_to_tensor(x), dtype=dtype)


def zeros_like(x, dtype=None):
    return np.zeros_like(convert_to_tensor(x), dtype=dtype)


def full_like(x, fill_value, dtype=None):
    return np.full_like(convert_to_tensor(x), fill_value, dtype=dtype)


def arange(start, stop=None, step=1, dtype=None):
    """Keras's dtypes: int32 for Python ints, float32 as soon as one bound is a float."""
    return np.arange(start, stop, step, dtype=dtype or result_type(start, stop or 0, step))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype or config.floatx())


# -- linear algebra -----------------------------------------------------------------------
def matmul(x1, x2):
    return _binary(np.matmul, x1, x2)


def dot(x1, x2):
    return _binary(np.dot, x1, x2)


def tensordot(x1, x2, axes=2):
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    return np.tensordot(x1, x2, axes)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 (Keras's name)
    x = convert_to_tensor(x)
    return np.linalg.norm(x.astype(_float_type(x), copy=False), ord, _axis(axis), keepdims)


# -- other element-wise functions ---------------------------------------------------------
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(convert_to_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


# keras.ops.numpy's other functions live in files of their kind; they are names here too, as
# in keras.ops.numpy (ops/submodules.py hands your Tracked arrays to their recorded versions).
from minidl.ops.core import ndim, size  # noqa: E402,F401
from minidl.ops.linalg import slogdet  # noqa: E402,F401
from minidl.ops.numpy_elementwise import (allclose, angle, arccos, arccosh, arcsin,  # noqa: E402,F401
                                          arcsinh, arctan, arctan2, arctanh, bitwise_and,
                                          bitwise_invert, bitwise_left_shift, bitwise_not,
                                          bitwise_or, bitwise_right_shift, bitwise_xor, cbrt,
                                          conj, conjugate, cosh, deg2rad, exp2, fabs, fmax,
                                          fmin, fmod, gcd, heaviside, hypot, i0, imag, isclose,
                                          isneginf, isposinf, isreal, lcm, ldexp, left_shift,
                                          logaddexp, logaddexp2, nextafter, rad2deg, real,
                                          right_shift, signbit, sinc, sinh, tan, trunc)
from minidl.ops.numpy_making import (array, bartlett, blackman, copy, empty,  # noqa: E402,F401
                                     empty_like, geomspace, hamming, hanning, identity,
                                     kaiser, logspace, tri, vander, vectorize)
from minidl.ops.numpy_products import cross, einsum, inner, kron, outer, vdot  # noqa: E402,F401
from minidl.ops.numpy_shapes import (append, array_split, diag, diagflat,  # noqa: E402,F401
                                     diagonal, dsplit, dstack, fliplr, flipud, get_item, hsplit,
                                     hstack, meshgrid, moveaxis, pad, ravel, roll, rot90, split,
                                     swapaxes, trace, tril, triu, unravel_index, view, vsplit,
                                     vstack)
from minidl.ops.numpy_statistics import (argpartition, average, bincount,  # noqa: E402,F401
                                         corrcoef, correlate, diff, digitize, histogram, isin,
                                         median, nanargmax, nanargmin, nancumprod, nancumsum,
                                         nanmax, nanmean, nanmedian, nanmin, nanpercentile,
                                         nanprod, nanquantile, nanstd, nansum, nanvar, nonzero,
                                         percentile, ptp, quantile, searchsorted, select,
                                         trapezoid, unique)
