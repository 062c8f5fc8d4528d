"""Masking: the time steps whose features all equal `mask_value` are padding, masked downstream
(keras/src/layers/core/masking.py).

Shapes: N sequences, T time steps, D features.
"""
import numpy as np

from minidl.layers.base import Layer


class Masking(Layer):
    """Marks padded time steps, so that the layers after it skip them (masks.py).

    Formula:
        mask = any(x != mask_value, axis=-1)      # (N,T,D) -> (N,T): a step is real if any
                                                  # of its features differs from mask_value
        y = x where mask else 0                   # (N,T,D): padded steps zeroed
    Backward: dx = dy where mask else 0

    Args:
        mask_value: the padding value (default 0.0), e.g. what pad_sequences filled in.
    """

    supports_masking = True
    _makes_masks = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.built = True  # no weights: built when made, as Keras's (_build_at_init)

    def compute_mask(self, inputs, mask=None):
        return (inputs != self.mask_value).any(axis=-1)  # (N,T)

    def forward(self, x, training=False):
        keep = (x != self.mask_value).any(axis=-1, keepdims=True)  # (N,T,1)
        return np.where(keep, x, x.dtype.type(0)), keep  # (N,T,D)

    def backward(self, dy, keep, need_dx=True):
        return (np.where(keep, dy, dy.dtype.type(0)) if need_dx else None), {}  # (N,T,D)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
