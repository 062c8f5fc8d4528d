"""Flatten, Reshape, Permute, RepeatVector and Identity: layers that move numbers around
without changing them.

Their backward passes move the gradient back the same way: a reshape is undone by the
inverse reshape, a transpose by the inverse transpose, and a copy made R times gets the sum
of its R copies' gradients. (Padding, cropping and upsampling along the spatial axes of
images and sequences are in spatial.py.)

Shapes: N samples; the other axes are whatever the layer is given, e.g. images (N,H,W,C).
"""
import math

import numpy as np

from minidl.layers.base import Layer
from minidl.layers.convolutional import check_channels_last
from minidl.layers.core import check_rank
from minidl.tape import active_tape


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


class Permute(Layer):
    """The axes of every sample put in a new order (the batch axis stays first).

    Formula:
        y = x.transpose((0,) + dims)      # dims=(2, 1): (N,A,B) -> (N,B,A)
    Backward: dx = dy.transpose(argsort((0,) + dims)), the inverse permutation

    Args:
        dims: the sample's axes in their new order, counted from 1 (the batch axis is 0):
            (2, 1) swaps the two axes of (N, A, B).
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute Layer. The set of "
                             "indices in `dims` must be consecutive and start from 1. "
                             f"Received dims={dims}")
        self.dims = tuple(int(d) for d in dims)

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=len(self.dims) + 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        return x.transpose((0,) + self.dims), None  # (N,A,B) -> (N,B,A), a view

    def backward(self, dy, cache, need_dx=True):
        return dy.transpose(np.argsort((0,) + self.dims)), {}  # (N,B,A) -> (N,A,B)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Every row repeated n times, into a sequence of n equal steps.

    Formula:
        y[:, r, :] = x  for r < n         # (N,D) -> (N,n,D)
    Backward: dx = dy.sum(axis=1)         # (N,n,D) -> (N,D): each copy's gradient adds up

    Args:
        n: the number of repeats, a positive int.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = n

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x, training=False):
        return np.repeat(x[:, None, :], self.n, axis=1), None  # (N,1,D) -> (N,n,D)

    def backward(self, dy, cache, need_dx=True):
        return dy.sum(axis=1), {}  # (N,n,D) -> (N,D)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


def pass_through(x):
    """x itself, as Keras's Identity returns it, when a layer call on the tape made it: a loss
    on y then still sees the sigmoid or softmax that made x, and works from its logits as
    Keras's does (head.py). Otherwise (x is the model's input) a view of x: an array this
    call made, where the tape (tape.py) can start backward, as an activity penalty does."""
    tape = active_tape()
    return x if tape is not None and tape.producer(x) is not None else x[...]


class Identity(Layer):
    """x itself: a placeholder where a model needs a layer that does nothing.

    Formula:
        y = x  (see pass_through; a list of inputs gives a list)
    Backward: dx = dy
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True  # nothing to build; Keras builds it at once (summary: 0, not unbuilt)

    def compute_output_shape(self, input_shape):
        return input_shape

    def forward(self, x, training=False):
        return ([pass_through(a) for a in x] if isinstance(x, list) else pass_through(x)), None

    def backward(self, dy, cache, need_dx=True):
        return dy, {}
