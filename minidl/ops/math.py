"""top_k, in_top_k and logsumexp. Source: keras/src/ops/math.py."""
import numpy as np

from minidl.ops.core import _axis, _float_type, convert_to_tensor


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
