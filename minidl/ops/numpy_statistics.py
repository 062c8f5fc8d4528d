"""More reductions and statistics: quantiles, weighted averages, NaN-ignoring reductions,
counting, searching and sorting helpers, differences.

Dtypes as keras.ops on TensorFlow (keras/src/backend/tensorflow/numpy.py): statistics that
need a float (median, quantile, average, nanmean, ...) give float32 for ints; sums of bools
and small ints are int32; indices and counts are int32.
"""
import warnings

import numpy as np

from minidl import config
from minidl.ops.core import _as, _axis, _float_type, convert_to_tensor, result_type
from minidl.ops.numpy import _sum_type, argmax, argmin

QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _floats(x):
    x = convert_to_tensor(x)
    return x.astype(_float_type(x), copy=False)


# -- quantiles ------------------------------------------------------------------------------
def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The q-th quantiles (q in [0, 1]) of x over the axes: the sorted values s at
    position p = q * (n - 1), or between two of them by `method`.

    Args:
        x: the values.
        q: a quantile or an array of them; their axes come first in the result.
        axis: the axes to take the quantile over (all by default).
        method: "linear" (interpolate), "lower", "higher", "nearest" (round half to even)
            or "midpoint" (the mean of the lower and the higher).
        keepdims: keep the reduced axes as axes of size 1.
    Formula (linear, as Keras writes it, keras/src/backend/tensorflow/numpy.py::_quantile):
        hi = max(ceil(p), 1) capped at n - 1,  lo = hi - 1,  f = hi - p
        y = s[hi] * (1 - f) + s[lo] * f        (NaN wherever x has a NaN)
    """
    if method not in QUANTILE_METHODS:
        raise ValueError(f"Invalid value for `method`. Expected one of {QUANTILE_METHODS}. "
                         f"Received: method={method}")
    x = _floats(x)
    q = np.asarray(q, np.float64)
    if np.any((q < 0) | (q > 1)):
        raise ValueError(f"Quantiles must be in the range [0, 1]. Received: q={q}")
    reduced = tuple(range(x.ndim)) if axis is None else tuple(
        a % x.ndim for a in np.atleast_1d(axis))
    kept = [a for a in range(x.ndim) if a not in reduced]
    flat = np.transpose(x, kept + list(reduced)).reshape([x.shape[a] for a in kept] + [-1])
    s = np.sort(flat, axis=-1)  # (kept..., n)
    n = s.shape[-1]
    p = (n - 1) * q  # (q...)
    at = lambda i: s[..., np.clip(i, 0, n - 1).astype(np.intp)]  # noqa: E731 (kept..., q...)
    if method == "linear":
        hi = np.clip(np.ceil(p), 0, n - 1)
        lo = np.maximum(hi - 1, 0)
        hi = np.minimum(lo + 1, n - 1)
        f = (hi - p).astype(x.dtype)
        y = at(hi) * (1 - f) + at(lo) * f
    elif method == "midpoint":
        y = x.dtype.type(0.5) * (at(np.floor(p)) + at(np.ceil(p)))
    else:
        y = at({"lower": np.floor, "higher": np.ceil, "nearest": np.round}[method](p))
    y = np.where(np.isnan(flat).any(axis=-1).reshape(flat.shape[:-1] + (1,) * q.ndim),
                 x.dtype.type(np.nan), y)
    y = np.moveaxis(y, tuple(range(len(kept), y.ndim)), tuple(range(q.ndim)))  # (q..., kept...)
    if keepdims:
        y = y.reshape(q.shape + tuple(1 if a in reduced else x.shape[a] for a in range(x.ndim)))
    return y.astype(x.dtype, copy=False)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """quantile(x, q / 100)."""
    return quantile(x, np.asarray(q, config.floatx()) / 100, axis, method, keepdims)


def median(x, axis=None, keepdims=False):
    """quantile(x, 0.5): the middle value, or the mean of the two middle ones."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def average(x, axis=None, weights=None):
    """sum(x * w) / sum(w) over the axis (the mean without weights); 1-D weights along
    `axis` are allowed, as in NumPy."""
    if weights is None:
        x = _floats(x)
        return np.mean(x, axis=_axis(axis))
    x, weights = _as((x, weights), _float_type(x, weights))
    return np.average(x, axis=_axis(axis), weights=weights).astype(x.dtype, copy=False)


def ptp(x, axis=None, keepdims=False):
    """max - min over the axes ("peak to peak"), in x's dtype."""
    x = convert_to_tensor(x)
    return np.ptp(x, axis=_axis(axis), keepdims=keepdims)


# -- reductions that skip NaN -------------------------------------------------------------------
def _nan_as(x, value):
    return np.where(np.isnan(x), x.dtype.type(value), x) if x.dtype.kind == "f" else x


def nansum(x, axis=None, keepdims=False):
    x = convert_to_tensor(x)
    return np.sum(_nan_as(x, 0), axis=_axis(axis), keepdims=keepdims, dtype=_sum_type(x))


def nanprod(x, axis=None, keepdims=False):
    x = convert_to_tensor(x)
    return np.prod(_nan_as(x, 1), axis=_axis(axis), keepdims=keepdims, dtype=_sum_type(x))


def nancumsum(x, axis=None, dtype=None):
    x = convert_to_tensor(x)
    return np.cumsum(_nan_as(x, 0), axis=axis, dtype=dtype or _sum_type(x))


def nancumprod(x, axis=None, dtype=None):
    x = convert_to_tensor(x)
    return np.cumprod(_nan_as(x, 1), axis=axis, dtype=dtype or _sum_type(x))


def nanmax(x, axis=None, keepdims=False):
    """The largest non-NaN value (NaN where all are NaN); for bools, any."""
    x = convert_to_tensor(x)
    if x.dtype.kind != "f":
        return np.max(x, axis=_axis(axis), keepdims=keepdims)
    all_nan = np.all(np.isnan(x), axis=_axis(axis), keepdims=keepdims)
    top = np.max(_nan_as(x, -np.inf), axis=_axis(axis), keepdims=keepdims)
    return np.where(all_nan, x.dtype.type(np.nan), top)


def nanmin(x, axis=None, keepdims=False):
    """The smallest non-NaN value (NaN where all are NaN); for bools, all."""
    x = convert_to_tensor(x)
    if x.dtype.kind != "f":
        return np.min(x, axis=_axis(axis), keepdims=keepdims)
    all_nan = np.all(np.isnan(x), axis=_axis(axis), keepdims=keepdims)
    bottom = np.min(_nan_as(x, np.inf), axis=_axis(axis), keepdims=keepdims)
    return np.where(all_nan, x.dtype.type(np.nan), bottom)


def nanargmax(x, axis=None, keepdims=False):
    """argmax ignoring NaN; -1 where every value is NaN."""
    x = convert_to_tensor(x)
    if x.dtype.kind != "f":
        return argmax(x, axis=axis, keepdims=keepdims)
    all_nan = np.all(np.isnan(x), axis=axis, keepdims=keepdims)
    return np.where(all_nan, np.int32(-1), argmax(_nan_as(x, -np.inf), axis, keepdims))


def nanargmin(x, axis=None, keepdims=False):
    """argmin ignoring NaN; -1 where every value is NaN."""
    x = convert_to_tensor(x)
    if x.dtype.kind != "f":
        return argmin(x, axis=axis, keepdims=keepdims)
    all_nan = np.all(np.isnan(x), axis=axis, keepdims=keepdims)
    return np.where(all_nan, np.int32(-1), argmin(_nan_as(x, np.inf), axis, keepdims))


def nanmean(x, axis=None, keepdims=False):
    """The mean of the non-NaN values."""
    x = _floats(x)
    count = np.sum(~np.isnan(x), axis=_axis(axis), keepdims=keepdims, dtype=x.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return nansum(x, axis, keepdims) / count


def nanvar(x, axis=None, keepdims=False):
    """The variance of the non-NaN values."""
    x = _floats(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = x - nanmean(x, axis, keepdims=True)
        return nanmean(centred * centred, axis, keepdims)


def nanstd(x, axis=None, keepdims=False):
    return np.sqrt(nanvar(x, axis, keepdims))


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """quantile of the non-NaN values (NaN where all are NaN)."""
    if method not in QUANTILE_METHODS:
        raise ValueError(f"Invalid value for `method`. Expected one of {QUANTILE_METHODS}. "
                         f"Received: method={method}")
    x = _floats(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        out = np.nanquantile(x, q, axis=_axis(axis), method=method, keepdims=keepdims)
    return out.astype(x.dtype, copy=False)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return nanquantile(x, np.asarray(q, config.floatx()) / 100, axis, method, keepdims)


def nanmedian(x, axis=None, keepdims=False):
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


# -- counting and searching ---------------------------------------------------------------------
def bincount(x, weights=None, minlength=0, sparse=False):
    """How often each value 0, 1, 2, ... occurs in x (summing `weights` instead of 1s);
    a 2-D x is counted row by row."""
    if sparse:
        raise ValueError("minidl arrays are dense: `sparse=True` is not supported. "
                         f"Received: sparse={sparse}")
    x = convert_to_tensor(x)
    dtype = np.dtype(np.int32) if weights is None else result_type(x, weights)
    length = max(int(x.max()) + 1 if x.size else 0, minlength)
    rows = x.reshape(-1, x.shape[-1]) if x.ndim else x.reshape(1, 1)
    w = None if weights is None else np.asarray(convert_to_tensor(weights)).reshape(rows.shape)
    counts = np.stack([np.bincount(r, None if w is None else w[i], length)
                       for i, r in enumerate(rows)]).astype(dtype)  # (rows, length)
    return counts[0] if x.ndim <= 1 else counts


def digitize(x, bins):
    """The index of the bin of each value: i with bins[i-1] <= x < bins[i] (int32)."""
    return np.digitize(convert_to_tensor(x), np.asarray(bins, np.float64)).astype(np.int32)


def searchsorted(sorted_sequence, values, side="left"):
    """Where each value would go in the 1-D sorted sequence to keep it sorted (int32)."""
    sorted_sequence = convert_to_tensor(sorted_sequence)
    if sorted_sequence.ndim != 1:
        raise ValueError("`searchsorted` only supports 1-D sorted sequences. You can use "
                         "`keras.ops.vectorized_map` to extend it to N-D sequences. Received: "
                         f"sorted_sequence.shape={sorted_sequence.shape}")
    values = convert_to_tensor(values)
    return np.searchsorted(sorted_sequence, values, side=side).astype(np.int32)


def histogram(x, bins=10, range=None):  # noqa: A002 (Keras's name)
    """Counts of x in `bins` equal bins over `range` (x's min to max), and the bin edges;
    both in x's dtype."""
    x = convert_to_tensor(x)
    low, high = (x.min(), x.max()) if range is None else range
    x = x[(x >= low) & (x <= high)]
    edges = np.linspace(low, high, bins + 1).astype(x.dtype)  # (bins+1,)
    index = np.searchsorted(edges[1:-1], x, side="right")
    return np.bincount(index, minlength=bins).astype(x.dtype), edges


def unique(x, sorted=True, return_index=False, return_inverse=False,  # noqa: A002
           return_counts=False, axis=None, size=None, fill_value=None):
    """The distinct values of x (sorted), and optionally where each first occurs, the index
    of each entry's value among them, and how often each occurs (int32)."""
    x = convert_to_tensor(x)
    values, index, inverse, counts = np.unique(x, True, True, True, axis=axis)
    if not sorted:
        order = np.argsort(index, kind="stable")  # first occurrence order, as tf.unique
        values = np.take(values, order, axis=0 if axis is None else axis)
        index, counts = index[order], counts[order]
        inverse = np.argsort(order)[inverse]
    if size is not None:
        n = values.shape[0 if axis is None else axis]
        keep = np.arange(min(n, size))
        values = np.take(values, keep, axis=0 if axis is None else axis)
        width = [(0, 0)] * values.ndim
        width[0 if axis is None else axis] = (0, max(size - n, 0))
        values = np.pad(values, width, constant_values=0 if fill_value is None else fill_value)
        index = np.pad(index[keep], (0, max(size - n, 0)), constant_values=1)
        counts = np.pad(counts[keep], (0, max(size - n, 0)))
    results = [values]
    if return_index:
        results.append(index.astype(np.int32))
    if return_inverse:
        results.append(inverse.reshape(x.shape if axis is None else -1).astype(np.int32))
    if return_counts:
        results.append(counts.astype(np.int32))
    return results[0] if len(results) == 1 else tuple(results)


def nonzero(x):
    """The int32 indices of the non-zero entries, one array per axis."""
    return tuple(i.astype(np.int32) for i in np.nonzero(convert_to_tensor(x)))


def isin(x1, x2, assume_unique=False, invert=False):
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    return np.isin(x1, x2, assume_unique=assume_unique, invert=invert)


def argpartition(x, kth, axis=-1):
    """Indices putting the kth smallest value in place: the kth + 1 smallest first (in
    increasing order), then the rest (in decreasing order), as Keras's TensorFlow version
    (keras/src/backend/tensorflow/numpy.py::argpartition), which computes in int32.
    1-D arrays only: on more axes that version mixes the rows' masks."""
    x = convert_to_tensor(x).astype(np.int32)
    if axis is None:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError("minidl's `argpartition` takes a 1-D array (or axis=None). "
                         f"Received: x.shape={x.shape}")
    n = len(x)
    kth = min(max(kth, 0), n - 1)
    bottom = np.argsort(x, kind="stable")[:kth + 1]  # (kth+1,)
    rest = x.copy()
    rest[bottom] = 0
    top = np.argsort(-rest, kind="stable")[:n - kth - 1]  # (n-kth-1,)
    return np.concatenate([bottom, top]).astype(np.int32)


def select(condlist, choicelist, default=0):
    """The choice of the first condition that holds, entry by entry, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError("condlist must have length equal to choicelist. Received: "
                         f"len(condlist)={len(condlist)}, len(choicelist)={len(choicelist)}")
    choices = _as(choicelist, result_type(*choicelist))
    conds = [np.asarray(convert_to_tensor(c), bool) for c in condlist]
    return np.select(conds, choices, default).astype(choices[0].dtype, copy=False)


# -- differences and correlations -------------------------------------------------------------
def diff(a, n=1, axis=-1):
    """The n-th difference along the axis: a[1:] - a[:-1], n times (!= for bools)."""
    if n < 0:
        raise ValueError(f"Order `n` must be non-negative. Received n={n}")
    a = convert_to_tensor(a)
    if a.ndim == 0:
        raise ValueError("`diff` requires input that is at least one dimensional. "
                         f"Received: a={a}")
    return np.diff(a, n, axis=axis)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of y by the trapezoidal rule: sum(0.5 * (y[1:] + y[:-1]) * dx)."""
    y = _floats(y)
    x = None if x is None else np.asarray(convert_to_tensor(x), y.dtype)
    return np.asarray(np.trapezoid(y, x, dx=y.dtype.type(dx), axis=axis), y.dtype)


def corrcoef(x):
    """The matrix of Pearson correlations between the rows of x, clipped to [-1, 1]."""
    x = _floats(x)
    centred = x - x.mean(axis=-1, keepdims=True)
    cov = centred @ centred.T / x.dtype.type(x.shape[-1] - 1)  # (R,R)
    std = np.sqrt(np.diag(cov))  # (R,)
    return np.clip(cov / np.outer(std, std), -1, 1)


def correlate(x1, x2, mode="valid"):
    """The cross-correlation of two 1-D arrays: c[k] = sum_n x1[n + k] * x2[n]."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"Invalid mode: '{mode}'. Mode must be one of: 'full', 'same', "
                         "'valid'.")
    dtype = result_type(x1, x2)
    dtype = dtype if dtype.kind == "f" else np.dtype(
        np.float64 if dtype == np.int64 else config.floatx())
    x1, x2 = _as((x1, x2), dtype)
    return np.correlate(x1, x2, mode)
