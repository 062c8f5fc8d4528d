"""Embedding: token ids in, one learned vector per token out (keras/src/layers/core/embedding.py).

Shapes: N rows in the batch, T tokens per row (any number of axes after N), V the vocabulary
size (`input_dim`), D the size of a vector (`output_dim`); K = N*T occurrences of tokens.
"""
import warnings

import numpy as np

from minidl import constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.sparse import SparseRows


class Embedding(Layer):
    """Turns token ids (integers in [0, V)) into vectors: row x of a learned table W.

    Formula:
        y = W[x]                  # (N,T) ids -> (N,T,D): a gather of rows of W (V,D)
    Backward, given dy (N,T,D):
        dW[i] = sum of dy[p] over the positions p where x[p] == i     (0 for unseen tokens)
        kept as rows, not summed: SparseRows(x.ravel(), dy.reshape(K, D)), one row per
        occurrence, as Keras's TensorFlow backend hands the optimizer a tf.IndexedSlices;
        the optimizers apply TensorFlow's rules for such rows (see minidl/sparse.py).
        dx = 0                    # ids are not differentiable: y is a step function of x
    mask_zero=True: the id 0 is padding; the output carries the mask x != 0 (N,T) to the
    layers after it (masks.py): recurrent layers skip those steps, losses leave them out.
    x arrives as floats (fit casts inputs to floatx, as Keras's does) and is cast to int32 as
    Keras casts it: truncated toward zero. A negative id counts from the end (-1 is row
    V-1, Keras's "fill" of negative indices); an id outside [-V, V) is an error, as
    TensorFlow's gather raises on CPU.

    Args:
        input_dim: V, the vocabulary size (largest id + 1), a positive integer.
        output_dim: D, the size of each vector, a positive integer.
        embeddings_initializer: the table's initializer (Keras's default "uniform":
            U[-0.05, 0.05)).
        embeddings_regularizer, activity_regularizer: penalties, e.g. regularizers.l2(1e-4).
        mask_zero: whether the id 0 is padding, to be masked out downstream (the vocabulary
            then still counts it: V = largest id + 1).
        weights: the initial table, an array (V, D) (or a list holding it).
        embeddings_constraint: a projection of the table after each optimizer step, such as
            constraints.UnitNorm(axis=1) (see constraints.py).
        lora_rank: a Keras option minidl does not implement; accepted at None only.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, **kwargs):
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{name}` must be a positive integer. Received: "
                                 f"{name}={value} (of type {type(value).__name__}).")
        _check_unsupported(lora_rank=lora_rank,
                            quantization_config=kwargs.pop(
                               "quantization_config", None))
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self._makes_masks = self.mask_zero  # as Keras's Embedding
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.embeddings = None
        if weights is not None:  # Keras builds at once and sets them
            self.build(None)
            self.built = True
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1
                             else [weights])

    def build(self, input_shape):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim),
                                          self.embeddings_initializer, "embeddings",
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        """mask_zero: True where the id is not 0 (N,T); else no mask."""
        return inputs != 0 if self.mask_zero else None

    def forward(self, x, training=False):
        ids = self.token_ids(x)  # (N,T) ints in [0, V)
        y = self.embeddings.value[ids]  # W[x]: (V,D)[(N,T)] -> (N,T,D)
        return y, ids

    def backward(self, dy, ids, need_dx=True):
        rows = dy.reshape(-1, self.output_dim)  # (N,T,D) -> (K,D), one row per occurrence
        grads = {self.embeddings: SparseRows(ids.reshape(-1), rows, self.embeddings.shape)}
        dx = np.zeros(ids.shape, dy.dtype) if need_dx else None  # (N,T)
        return dx, grads

    def token_ids(self, x):
        """x as int32 row numbers of the table, or Keras's (TensorFlow's) error if one is out."""
        ids = x.astype(np.int32)  # (N,T): truncated toward zero, as tf.cast
        ids = np.where(ids < 0, ids + self.input_dim, ids)  # -1 -> V-1, as Keras's ops.take
        outside = (ids < 0) | (ids >= self.input_dim)
        if outside.any():
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(
                f"Exception encountered when calling Embedding.call(): indices"
                f"[{','.join(map(str, where))}] = {ids[where]} is not in [0, {self.input_dim}). "
                f"Layer '{self.name}' has input_dim={self.input_dim}: every token id must be "
                f"below it (a negative id counts from the end, down to -{self.input_dim}).")
        return ids

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer,
                "embeddings_regularizer": self.embeddings_regularizer,
                "embeddings_constraint": self.embeddings_constraint,
                "mask_zero": self.mask_zero}


def _check_unsupported(**options):
    """Keras's Embedding options minidl does not implement: accepted only when off."""
    what = {"lora_rank": "LoRA", "quantization_config": "quantization"}
    for name, value in options.items():
        if value not in (None, False):
            raise ValueError(f"minidl's Embedding does not implement {what[name]}: leave "
                             f"`{name}` out. Received: {name}={value!r}")
