"""keras.ops.math: top_k, in_top_k, logsumexp, extract_sequences, the segment reductions,
the error function and its relatives, rsqrt and cdist. Source: keras/src/ops/math.py and
keras/src/backend/tensorflow/math.py. The Fourier transforms are in math_fft.py.

Letters: N the rows of `data`, S the number of segments.
"""
import numpy as np

from minidl.more_activations import _ERF_DEN, _ERF_NUM, _polynomial, erfc as _erfc
from minidl.ops.core import _axis, _float_type, convert_to_tensor, result_type
from minidl.ops.math_fft import (fft, fft2, ifft2, irfft, istft, rfft,  # noqa: F401
                                 stft, view_as_complex, view_as_real)  # (keras.ops.math's)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed stably from the maximum."""
    x = convert_to_tensor(x)
    x = x.astype(_float_type(x), copy=False)
    top = np.max(x, axis=_axis(axis), keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    out = np.log(np.sum(np.exp(x - top), axis=_axis(axis), keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=_axis(axis))


def top_k(x, k, sorted=True):  # noqa: A002 (Keras's name)
    """The k largest values on the last axis and their int32 indices (lower index first on ties)."""
    x = convert_to_tensor(x)
    indices = np.argsort(-x, axis=-1, kind="stable")[..., :k].astype(np.int32)  # (..., k)
    return np.take_along_axis(x, indices, axis=-1), indices


def in_top_k(targets, predictions, k):
    """Whether each target class is among the k highest predictions (ties count as in).

    Formula: in_top_k[n] = #{c : p[n,c] > p[n,target[n]]} < k, and p[n,target[n]] finite.
    """
    predictions = convert_to_tensor(predictions)
    targets = convert_to_tensor(targets).astype(np.intp)
    rows = np.arange(len(predictions))
    target_value = predictions[rows, targets][:, None]  # (N,1)
    higher = np.count_nonzero(predictions > target_value, axis=-1)  # (N,)
    return (higher < k) & np.isfinite(target_value[:, 0])


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of the last axis: (..., L) -> (..., F, sequence_length), F = 1 + (L - len) // stride.

    Formula: y[..., f, i] = x[..., f * sequence_stride + i]
    """
    from numpy.lib.stride_tricks import sliding_window_view

    x = convert_to_tensor(x)
    frames = sliding_window_view(x, sequence_length, axis=-1)  # (..., L-len+1, len), a view
    return frames[..., ::sequence_stride, :].copy()  # (..., F, len)


# -- segment reductions ------------------------------------------------------------------------
def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """The sum of data's rows in each segment: y[s] = sum of data[n] over n with ids[n] = s.

    Args:
        data: (N, ...) the rows to reduce.
        segment_ids: (N,) integer segment of each row; a negative id drops its row.
        num_segments: S, the number of segments. By default, as Keras's TensorFlow backend,
            the number of distinct ids (not max(ids) + 1), so ids must run 0 .. S-1.
        sorted: whether the ids are sorted (then num_segments must be None, and S is
            max(ids) + 1).
    Formula: y[s] = sum_{n: ids[n] = s} data[n]   (0 for an empty segment)
    """
    return _segment_reduce("sum", data, segment_ids, num_segments, sorted)


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """The largest of data's rows in each segment (entry by entry). S is max(ids) + 1 by
    default. An empty segment gets the dtype's lowest value (0 when sorted=True), as
    TensorFlow's.

    Formula: y[s] = max_{n: ids[n] = s} data[n]
    """
    return _segment_reduce("max", data, segment_ids, num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """The smallest of data's rows in each segment; an empty one gets the dtype's highest
    value (0 when sorted=True).

    Formula: y[s] = min_{n: ids[n] = s} data[n]
    """
    return _segment_reduce("min", data, segment_ids, num_segments, sorted)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """The product of data's rows in each segment; an empty one gets 1.

    Formula: y[s] = prod_{n: ids[n] = s} data[n]
    """
    return _segment_reduce("prod", data, segment_ids, num_segments, sorted)


_SEGMENT_UFUNCS = {"sum": np.add, "max": np.maximum, "min": np.minimum, "prod": np.multiply}


def _segment_reduce(kind, data, segment_ids, num_segments, sorted):  # noqa: A002
    data, ids = convert_to_tensor(data), convert_to_tensor(segment_ids)
    ids, num_segments = segment_layout(kind, data, ids, num_segments, sorted)
    if kind == "sum":
        start = np.zeros((), data.dtype)
    elif kind == "prod":
        start = np.ones((), data.dtype)
    else:
        lowest, highest = _dtype_limits(data.dtype)
        start = np.asarray(lowest if kind == "max" else highest, data.dtype)
    y = np.full((num_segments,) + data.shape[1:], start, data.dtype)  # (S, ...)
    kept = ids >= 0  # unsorted_segment_*: a negative id drops its row
    _SEGMENT_UFUNCS[kind].at(y, ids[kept], data[kept])
    if sorted and kind in ("max", "min"):  # tf.math.segment_max/min: 0 in an empty segment
        empty = np.bincount(ids, minlength=num_segments) == 0
        y[empty] = 0
    return y


def segment_layout(kind, data, ids, num_segments, sorted):  # noqa: A002
    """segment_ids as int array and S, checked as Keras and its TensorFlow backend check them."""
    if ids.ndim > 1:
        raise ValueError(
            f"Argument `segment_ids` should be an 1-D vector, got shape: {ids.ndim}. "
            "Consider either flatten input with segment_ids.reshape((-1)) and "
            "data.reshape((-1, ) + data.shape[len(segment_ids.shape):]) or vectorize with vmap.")
    if ids.shape[0] != data.shape[0]:
        raise ValueError("Argument `segment_ids` and `data` should have same leading "
                         f"dimension. Got {ids.shape} v.s. {data.shape}.")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"`segment_ids` must be integers. Received: segment_ids.dtype={ids.dtype}")
    ids = ids.astype(np.intp)
    if sorted:
        if num_segments is not None:
            raise ValueError("Argument `num_segments` cannot be set when sorted is True when "
                             "using the tensorflow backend."
                             f"Received: num_segments={num_segments}, sorted={sorted}.")
        if (ids < 0).any() or (np.diff(ids) < 0).any():
            raise ValueError("segment ids must be >= 0 and sorted when sorted=True. "
                             f"Received: segment_ids={ids.tolist()}")
        return ids, int(ids.max()) + 1 if len(ids) else 0
    if num_segments is None:
        num_segments = len(np.unique(ids)) if kind == "sum" else int(ids.max()) + 1
    num_segments = int(num_segments)
    outside = np.flatnonzero(ids >= num_segments)
    if len(outside):
        n = outside[0]
        raise ValueError(f"segment_ids[{n}] = {ids[n]} is out of range [0, {num_segments}). "
                         f"Received: num_segments={num_segments}")
    return ids, num_segments


def _dtype_limits(dtype):
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return info.min, info.max


# -- the error function and rsqrt ------------------------------------------------------------
def _float_input(x, name):
    """x as an array, refused unless it holds floats (TensorFlow's Erf, Rsqrt, ... take only
    floats, and Keras does not cast)."""
    x = convert_to_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"`{name}` takes a float tensor (float16, float32 or float64). "
                        f"Received: x.dtype={x.dtype}")
    return x


def erf(x):
    """The error function, erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t**2) dt.

    Computed in float64 with Cody's rational approximations (more_activations.py) and
    rounded once to x's dtype; TensorFlow's float32 Erf is Eigen's polynomial, within a
    few float32 ulps of that.

    Formula: |x| <= 0.46875: erf(x) = x * P1(x**2) / Q1(x**2);  otherwise 1 - erfc(x)
    """
    x = _float_input(x, "erf")
    z = x.astype(np.float64)
    small = np.abs(z) <= 0.46875  # where 1 - erfc(z) would lose digits
    y = np.asarray(1 - _erfc(z))  # (x's shape), float64
    s = z[small]
    y[small] = s * _polynomial(_ERF_NUM, s * s) / _polynomial(_ERF_DEN, s * s)
    return y.astype(x.dtype)


def erfc(x):
    """The complementary error function, erfc(x) = 1 - erf(x), without the loss of digits
    of 1 - erf(x) for large x (Cody's approximations in float64, more_activations.py)."""
    x = _float_input(x, "erfc")
    return _erfc(x.astype(np.float64)).astype(x.dtype)


def erfinv(x):
    """The inverse error function: erfinv(erf(y)) = y, for -1 < x < 1 (+-inf at +-1, NaN
    outside).

    Computed by other means than TensorFlow's polynomial: Giles's single-precision
    approximation ("Approximating the erfinv function", GPU Computing Gems, 2011) as the
    first guess, then two Newton steps on erf(y) = x in float64, rounded once to x's dtype.

    Formula: w = -log((1 - x) * (1 + x));  y0 = x * P(w - 2.5) if w < 5 else x * Q(sqrt(w) - 3)
             y <- y - (erf(y) - x) / (2/sqrt(pi) * exp(-y**2))   (twice)
    """
    x = _float_input(x, "erfinv")
    z = x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1 - z) * (1 + z))
        central = w < 5
        p = np.where(central, _polynomial(_ERFINV_CENTRAL, w - 2.5),
                     _polynomial(_ERFINV_TAIL, np.sqrt(np.abs(w)) - 3))
        y = p * z
        finite = np.abs(z) < 1
        for _ in range(2):
            step = (erf(y[finite]) - z[finite]) / (1.1283791670955126 * np.exp(-y[finite] ** 2))
            y[finite] -= step  # 1.128... = 2/sqrt(pi)
        y[np.abs(z) == 1] = np.copysign(np.inf, z[np.abs(z) == 1])
        y[~(np.abs(z) <= 1)] = np.nan
    return y.astype(x.dtype)


# Giles's coefficients, highest power first.
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                   0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def rsqrt(x):
    """The reciprocal square root, 1 / sqrt(x), in x's float dtype."""
    x = _float_input(x, "rsqrt")
    return (1 / np.sqrt(x)).astype(x.dtype, copy=False)


def cdist(x, y):
    """The Euclidean distance between every row of x and every row of y (as Keras 3.15's:
    no p argument).

    Args:
        x: (..., M, D) float array.
        y: (..., K, D) float array; the leading axes broadcast with x's.
    Formula: d[..., m, k] = sqrt(sum_j (x[..., m, j] - y[..., k, j])**2)   (..., M, K)
    """
    x, y = convert_to_tensor(x), convert_to_tensor(y)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError("`cdist` inputs must have rank >= 2")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError("Last dimension of inputs to `cdist` must match")
    dtype = result_type(x, y)
    if dtype.kind != "f":
        raise TypeError(f"`cdist` takes float tensors. Received: x.dtype={x.dtype}, "
                        f"y.dtype={y.dtype}")
    diff = x[..., :, None, :].astype(dtype) - y[..., None, :, :].astype(dtype)  # (..., M, K, D)
    return np.sqrt(np.sum(np.square(diff), axis=-1))  # (..., M, K)
