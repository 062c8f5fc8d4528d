"""More shape ops: splitting and joining, padding, moving axes, rolls and flips, triangles
and diagonals, indexing.

Every one moves or picks x's entries without computing new values, so x's dtype is kept
(joins take result_type of their inputs). Source: keras/src/ops/numpy.py and
keras/src/backend/tensorflow/numpy.py.
"""
import numpy as np

from minidl.ops.core import _as, convert_to_tensor, result_type


def _joined(xs):
    """The arrays of a join, as one dtype (result_type of all)."""
    return _as(xs, result_type(*xs))


# -- splitting and joining --------------------------------------------------------------------
def split(x, indices_or_sections, axis=0):
    """x cut along an axis into a list of arrays.

    Args:
        x: the array.
        indices_or_sections: an int k (k equal sections; the length must divide), or the
            indices to cut before ([2, 5]: x[:2], x[2:5], x[5:]).
        axis: the axis to cut.
    """
    return np.split(convert_to_tensor(x), indices_or_sections, axis=axis)


def array_split(x, indices_or_sections, axis=0):
    """x cut into `indices_or_sections` nearly equal parts (the first ones one longer)."""
    if not isinstance(indices_or_sections, int) or indices_or_sections <= 0:
        raise ValueError("Argument `indices_or_sections` must be of type `int` and greater "
                         f"than 0. Received: indices_or_sections={indices_or_sections}")
    return np.array_split(convert_to_tensor(x), indices_or_sections, axis=axis)


def hsplit(x, indices_or_sections):
    return np.hsplit(convert_to_tensor(x), indices_or_sections)


def vsplit(x, indices_or_sections):
    return np.vsplit(convert_to_tensor(x), indices_or_sections)


def dsplit(x, indices_or_sections):
    return np.dsplit(convert_to_tensor(x), indices_or_sections)


def hstack(xs):
    """Joined along axis 1 (axis 0 for 1-D arrays)."""
    return np.hstack(_joined(xs))


def vstack(xs):
    """Joined along axis 0. 1-D arrays are joined end to end, as Keras's TensorFlow version
    does (NumPy makes them rows)."""
    return np.concatenate(_joined(xs), axis=0)


def dstack(xs):
    """Joined along axis 2 (1-D and 2-D arrays get the missing axes first)."""
    return np.dstack(_joined(xs))


def append(x1, x2, axis=None):
    """x2 after x1 along an axis; with axis=None both are flattened first."""
    return np.append(*_joined((x1, x2)), axis=axis)


# -- padding and moving axes ------------------------------------------------------------------
PAD_MODES = ("constant", "reflect", "symmetric")


def pad(x, pad_width, mode="constant", constant_values=None):
    """x with `pad_width` entries added before and after each axis: constant values, or x's
    own mirrored ("reflect" without the edge, "symmetric" with it).

    Args:
        x: the array.
        pad_width: ((before, after), ...) for each axis of x.
        mode: "constant", "reflect" or "symmetric" (tf.pad's modes).
        constant_values: the value of the added entries in "constant" mode (0 by default).
    Formula (one axis of length n, reflect): [x[p], ..., x[1], x[0], ..., x[n-1], x[n-2], ...]
    """
    if mode not in PAD_MODES:
        raise ValueError(f"`mode` must be one of {PAD_MODES} (TensorFlow's tf.pad). "
                         f"Received: mode={mode}")
    if constant_values is not None and mode != "constant":
        raise ValueError("Argument `constant_values` can only be provided when "
                         f"`mode == 'constant'`. Received: mode={mode}")
    x = convert_to_tensor(x)
    if mode != "constant":
        return np.pad(x, pad_width, mode=mode)
    return np.pad(x, pad_width, constant_values=0 if constant_values is None else constant_values)


def moveaxis(x, source, destination):
    return np.moveaxis(convert_to_tensor(x), source, destination)


def swapaxes(x, axis1, axis2):
    return np.swapaxes(convert_to_tensor(x), axis1, axis2)


def ravel(x):
    return np.ravel(convert_to_tensor(x))


def roll(x, shift, axis=None):
    """x shifted by `shift` places along the axes, the ends wrapping round."""
    return np.roll(convert_to_tensor(x), shift, axis=axis)


def flipud(x):
    return np.flipud(convert_to_tensor(x))


def fliplr(x):
    return np.fliplr(convert_to_tensor(x))


def rot90(array, k=1, axes=(0, 1)):
    """x turned by k quarter turns in the plane of `axes` (from the first axis to the second)."""
    array = convert_to_tensor(array)
    if array.ndim < 2:
        raise ValueError("Input array must have at least 2 dimensions. "
                         f"Received: array.ndim={array.ndim}")
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"Invalid axes: {axes}. Axes must be a tuple of two different "
                         "dimensions.")
    return np.rot90(array, k, axes)


# -- triangles and diagonals ------------------------------------------------------------------
def tril(x, k=0):
    """x with the entries above the k-th diagonal zeroed (on the last two axes)."""
    return np.tril(convert_to_tensor(x), k)


def triu(x, k=0):
    """x with the entries below the k-th diagonal zeroed (on the last two axes)."""
    return np.triu(convert_to_tensor(x), k)


def diag(x, k=0):
    """A 1-D x on the k-th diagonal of a square matrix, or a 2-D x's k-th diagonal."""
    x = convert_to_tensor(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"`x` must be 1d or 2d. Received: x.shape={x.shape}")
    return np.diag(x, k)


def diagflat(x, k=0):
    return np.diagflat(convert_to_tensor(x), k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The entries x[..., i, i + offset] of the plane (axis1, axis2), on a new last axis."""
    return np.diagonal(convert_to_tensor(x), offset, axis1, axis2).copy()


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the diagonal (diagonal(...).sum(-1)); bools and small ints sum as int32."""
    x = convert_to_tensor(x)
    dtype = np.int32 if x.dtype == bool or (x.dtype.kind == "i" and x.dtype.itemsize < 4) \
        else np.uint32 if x.dtype.kind == "u" and x.dtype.itemsize < 4 else x.dtype
    return np.asarray(np.trace(x, offset, axis1, axis2, dtype=dtype))


# -- indexing -----------------------------------------------------------------------------------
def get_item(x, key):
    """x[key]."""
    return np.asarray(convert_to_tensor(x)[key])


def unravel_index(indices, shape):
    """The coordinates in an array of `shape` of each flat index, in the indices' dtype."""
    if None in shape:
        raise ValueError(f"`shape` argument cannot contain `None`. Received: shape={shape}")
    indices = convert_to_tensor(indices)
    return tuple(c.astype(indices.dtype) for c in np.unravel_index(indices, shape))


def meshgrid(*x, indexing="xy"):
    """Coordinate arrays: the i-th input repeated along every other input's axis."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'. "
                         f"Received: indexing={indexing}")
    return list(np.meshgrid(*[convert_to_tensor(v) for v in x], indexing=indexing))


def view(x, dtype=None):
    """The same bytes read as another dtype."""
    x = convert_to_tensor(x)
    return x if dtype is None else x.view(dtype)
