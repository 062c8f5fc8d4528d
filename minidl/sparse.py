"""SparseRows: a gradient given as rows of a big table, one row per occurrence of a token.

An Embedding's output is rows of its table W gathered by token id, `y = W[x]`, so its
gradient is non-zero only on the rows of the tokens in the batch. Keras's TensorFlow backend
hands optimizers that gradient as a `tf.IndexedSlices`: the indices x (one per occurrence,
repeats included) and the rows of dy, NOT summed per token. Keras's optimizers then apply
TensorFlow's sparse rules (keras/src/backend/tensorflow/sparse.py, numpy.py, optimizer.py):

    square(g), abs(g), lr * g, g / dense     act on each occurrence's row
    g + dense, g - dense, maximum(g, dense)  sum the rows per token first (g.dense()), then act
    w -= g  (assign_sub of the rows)          a scatter: w[i] -= row, one occurrence after another

so a token seen twice puts row1**2 + row2**2 into RMSprop's velocity, not (row1 + row2)**2.
Each optimizer's `sparse_update_step` (optimizers/) writes its formula with these rules.

Shapes: K occurrences (N*T for a batch of N sequences of T tokens), V rows in the table,
D numbers per row.
"""
import numpy as np


class SparseRows:
    """The gradient of a (V, D) table as K rows: row k belongs to table row indices[k].

    Args:
        indices: (K,) ints in [0, V), repeats allowed (one per occurrence).
        values: (K, D) the gradient rows, in the order of `indices`.
        shape: (V, D), the shape of the table (of the dense gradient).

    `dense()` is the ordinary gradient: the rows summed per token, dense[i] = sum of values[k]
    over the k with indices[k] == i, added one occurrence after another, starting from zeros,
    as tf.unsorted_segment_sum does. NumPy sees a SparseRows as that dense array
    (`np.asarray(g)`); `+` with a dense array adds the dense sum (TensorFlow's add_n of a dense
    and a sparse gradient); `+` with another SparseRows puts the rows end to end (a shared
    Embedding's two calls, as TensorFlow aggregates IndexedSlices).
    """

    __array_ufunc__ = None  # `array + g` calls g.__radd__ rather than broadcasting an object

    def __init__(self, indices, values, shape):
        self.indices, self.values, self.shape = indices, values, tuple(shape)

    @property
    def dtype(self):
        return self.values.dtype

    def dense(self, values=None):
        """`values` (default: this gradient's rows), one per occurrence, summed per token."""
        values = self.values if values is None else values
        out = np.zeros(self.shape, values.dtype)  # (V,D)
        np.add.at(out, self.indices, values)  # out[indices[k]] += values[k], k = 0, 1, ...
        return out

    def with_values(self, values):
        """The same occurrences with other rows (a clipped gradient)."""
        return SparseRows(self.indices, values, self.shape)

    def __array__(self, dtype=None, copy=None):
        dense = self.dense()
        return dense if dtype is None else dense.astype(dtype)

    def __add__(self, other):
        if isinstance(other, SparseRows):
            return SparseRows(np.concatenate([self.indices, other.indices]),
                              np.concatenate([self.values, other.values]), self.shape)
        return self.dense() + other

    def __radd__(self, other):
        return other + self.dense()

    def __repr__(self):
        return (f"SparseRows(shape={self.shape}, {len(self.indices)} rows for "
                f"{len(np.unique(self.indices))} distinct indices)")
