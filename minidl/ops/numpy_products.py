"""Products: einsum, outer, inner, vdot, kron, cross.

Each takes result_type of its inputs (ints stay ints; Keras computes them in float32 and
casts back, which NumPy's exact integer products agree with for values that fit).
Source: keras/src/backend/tensorflow/numpy.py.
"""
import numpy as np

from minidl.ops.core import _as, convert_to_tensor, result_type


def einsum(subscripts, *operands, **kwargs):
    """Sums of products over the letters the output leaves out:
    einsum("ij,jk->ik", a, b) is a @ b, einsum("bi,bi->b", a, b) the row-wise dot.

    Args:
        subscripts: one letter per axis of each operand, comma-separated, then "->" and the
            output's letters ("..." for any leading axes; without "->", the letters used
            once, in alphabetical order).
        *operands: the arrays, as many as the subscripts name.
    Formula: y[out] = sum over the letters not in out of  x_1[s_1] * x_2[s_2] * ...
    """
    operands = _as(operands, result_type(*operands))
    return np.asarray(np.einsum(subscripts, *operands, **kwargs))


def outer(x1, x2):
    """y[i, j] = x1.ravel()[i] * x2.ravel()[j]."""
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    return np.outer(x1, x2)


def inner(x1, x2):
    """Sums of products over the last axes: y[..., ...'] = sum_k x1[..., k] * x2[...', k]."""
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    return np.asarray(np.inner(x1, x2))


def vdot(x1, x2):
    """The dot product of the flattened arrays."""
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    return np.asarray(np.vdot(x1, x2))


def kron(x1, x2):
    """The Kronecker product: blocks x1[i, j] * x2."""
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    return np.kron(x1, x2)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (2-vectors are taken with a zero third component)."""
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    if axis is not None:
        axisa = axisb = axisc = axis
    return np.cross(x1, x2, axisa, axisb, axisc)
