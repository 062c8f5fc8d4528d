"""Flatten, Reshape and ZeroPadding2D: layers that move numbers around without changing them.

Their backward passes move the gradient back the same way: a reshape is undone by the
inverse reshape, a border of zeros by cutting the border's gradient off (nothing upstream
made those zeros).

Shapes: N samples; the other axes are whatever the layer is given, e.g. images (N,H,W,C).
"""
import math

import numpy as np

from minidl.layers.base import Layer
from minidl.layers.convolutional import check_channels_last, standardize_tuple, unpad, zero_pad
from minidl.layers.core import check_rank


class Flatten(Layer):
    """Every sample as one row of numbers, in C order (the last axis varies fastest).

    Formula:
        y = x.reshape(N, -1)          # (N,H,W,C) -> (N, H*W*C)
    Backward: dx = dy.reshape(x.shape)

    Args:
        data_format: "channels_last" only (Keras's "channels_first" would move the channel
            axis last before flattening).
    """

    def __init__(self, data_format=None, **kwargs):
        data_format = check_channels_last(data_format)
        super().__init__(**kwargs)
        self.data_format = data_format

    def check_input_shape(self, shape):
        check_rank(self, shape, min_ndim=1)

    def compute_output_shape(self, input_shape):
        sample = tuple(input_shape[1:])
        return (input_shape[0], None if None in sample else math.prod(sample))

    def forward(self, x, training=False):
        return x.reshape(len(x), -1), x.shape  # (N,...) -> (N,D)

    def backward(self, dy, cache, need_dx=True):
        return dy.reshape(cache), {}  # (N,D) -> (N,...)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Every sample reshaped to `target_shape` (the batch axis is kept).

    Formula:
        y = x.reshape((N,) + target_shape)     # e.g. (N, 784) -> (N, 28, 28, 1)
    Backward: dx = dy.reshape(x.shape)

    Args:
        target_shape: the shape of one sample, without the batch axis; one entry may be -1,
            worked out from the others (as NumPy and Keras do).
    """

    def __init__(self, target_shape, **kwargs):
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise ValueError("Argument `target_shape` must be a tuple of integers, such as "
                             f"(28, 28, 1). Received: target_shape={target_shape!r}") from None
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                   for d in target_shape):
            raise ValueError("Argument `target_shape` must be a tuple of integers, such as "
                             f"(28, 28, 1). Received: target_shape={target_shape!r}")
        if any(d < -1 for d in target_shape):
            raise ValueError("Each dimension in `target_shape` must be a non-negative integer, "
                             "or `-1` for a single unknown dimension. Received: "
                             f"target_shape={target_shape}.")
        if target_shape.count(-1) > 1:
            raise ValueError("There must be at most one unknown dimension (-1) in "
                             f"`target_shape`. Received: target_shape={target_shape}.")
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def check_input_shape(self, shape):
        self.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        """(N,) + target_shape with its -1 worked out (None when the input's size is not known)."""
        sample, target = tuple(input_shape[1:]), self.target_shape
        if None in sample:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in target)
        size, known = math.prod(sample), math.prod(d for d in target if d != -1)
        if -1 not in target and size != known:
            raise ValueError("The total size of the tensor must be unchanged. Received: "
                             f"input_shape={sample}, target_shape={target}")
        if -1 in target and (known == 0 or size % known):
            raise ValueError("The total size of the tensor must be unchanged, however, the "
                             "input size cannot by divided by the specified dimensions in "
                             f"target_shape. Received: input_shape={sample}, "
                             f"target_shape={target}")
        return (input_shape[0],) + tuple(size // known if d == -1 else d for d in target)

    def forward(self, x, training=False):
        return x.reshape((len(x),) + self.target_shape), x.shape  # (N,...) -> (N,*target)

    def backward(self, dy, cache, need_dx=True):
        return dy.reshape(cache), {}

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class ZeroPadding2D(Layer):
    """A border of zeros around every image.

    Formula:
        y = x with `top` zero rows above, `bottom` below, `left` and `right` zero columns
            # (N,H,W,C) -> (N, top+H+bottom, left+W+right, C)
    Backward: dx = dy without the border

    Args:
        padding: an int (the same on every side), (rows, columns) (each on both sides), or
            ((top, bottom), (left, right)).
        data_format: "channels_last" only.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
            padding = ((padding, padding), (padding, padding))
        elif hasattr(padding, "__len__") and len(padding) == 2:
            padding = (standardize_tuple(padding[0], 2, "1st entry of padding", allow_zero=True),
                       standardize_tuple(padding[1], 2, "2nd entry of padding", allow_zero=True))
        else:
            raise ValueError("`padding` should be either an int, a tuple of 2 ints "
                             "(symmetric_height_pad, symmetric_width_pad), or a tuple of 2 "
                             "tuples of 2 ints ((top_pad, bottom_pad), (left_pad, right_pad)). "
                             f"Received: padding={padding}.")
        if min(min(pair) for pair in padding) < 0:
            raise ValueError(f"`padding` cannot be negative. Received: padding={padding}.")
        data_format = check_channels_last(data_format)
        super().__init__(**kwargs)
        self.padding = tuple(tuple(int(v) for v in pair) for pair in padding)
        self.data_format = data_format

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=4)

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.padding
        n, h, w, c = input_shape
        return (n, None if h is None else h + top + bottom,
                None if w is None else w + left + right, c)

    def forward(self, x, training=False):
        return zero_pad(x, self.padding), None  # (N,H,W,C) -> (N,Hp,Wp,C)

    def backward(self, dy, cache, need_dx=True):
        return unpad(dy, self.padding), {}  # (N,Hp,Wp,C) -> (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}
