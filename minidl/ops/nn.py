"""Activations and one_hot on arrays. Source: keras/src/ops/nn.py."""
import numpy as np

from minidl import config
from minidl.ops.core import _float_type, convert_to_tensor


def one_hot(x, num_classes, axis=-1, dtype=None):
    """Rows of zeros with a one at each class index; an index outside [0, C) gives all zeros."""
    x = convert_to_tensor(x)
    classes = np.arange(num_classes)  # (C,)
    out = (x[..., None] == classes).astype(dtype or config.floatx())  # (..., C)
    return np.moveaxis(out, -1, axis)


def relu(x):
    x = convert_to_tensor(x)
    return np.maximum(x, np.zeros((), x.dtype))


def sigmoid(x):
    """1 / (1 + exp(-x)), written so that exp never overflows."""
    x = convert_to_tensor(x)
    x = x.astype(_float_type(x), copy=False)
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(x, axis=-1):
    x = convert_to_tensor(x)
    x = x.astype(_float_type(x), copy=False)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = convert_to_tensor(x)
    x = x.astype(_float_type(x), copy=False)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
