"""Pooling: the max or the mean of every window, channel by channel; no weights.

A PH x PW window moved SH rows and SW columns at a time. Position (p, q) of every window
sees one strided grid of the image (`window_grid`), so the pooled image is the max (or the
mean) of PH*PW shifted grids, computed in PH*PW whole-array steps, never pixel by pixel:

    y = max over (p, q) of x[:, p::SH, q::SW, :]     # (N,H,W,C) -> (N,HO,WO,C)

Backward, given dy:
- max: each window's gradient goes to the one pixel that held its max. With ties (a window
  of zeros after a relu), TensorFlow's MaxPoolGrad gives all of it to the FIRST maximum in
  row-major order (top row first, left to right), so minidl does too; TensorFlow's
  MaxPool3DGrad gives the whole gradient to EACH tied max, so MaxPooling3D does that.
- average: each pixel of a window gets dy / count, count = the pixels of the window inside
  the image ("same" padding's zeros are not counted, as TensorFlow's AvgPool).
Where windows overlap (strides < pool size), a pixel's gradients from its windows add up.

The global poolings reduce each channel over the whole image: (N,H,W,C) -> (N,C). Keras's
GlobalMaxPooling uses TensorFlow's reduce_max, whose gradient, unlike MaxPoolGrad, SPLITS
the gradient equally among tied maxima.

Shapes: N images, H x W pixels, C channels (channels last), HO x WO output pixels. The 1-D
layers (N, L, C) run the 2-D code on images one pixel high; the 3-D layers run it on volumes
(N, D, H, W, C) with a depth axis in every index (`window_grid` is N-d).
"""
import numpy as np

from minidl.layers.base import Layer
from minidl.layers.convolutional import (as_2d, check_channels_last, check_padding,
                                         kernel_positions, output_length, padding_amounts,
                                         standardize_tuple, unpad, window_grid, zero_pad)
from minidl.layers.core import check_rank


class BasePooling(Layer):
    """What the max and average poolings share: arguments, shapes and the windows."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        strides = standardize_tuple(pool_size if strides is None else strides, self.rank,
                                    "strides")
        padding = check_padding(padding)
        data_format = check_channels_last(data_format)
        super().__init__(name=name, **kwargs)
        self.pool_size, self.strides = pool_size, strides
        self.padding, self.data_format = padding, data_format

    # The windows as the maths sees them: the 1-D layers run as 2-D ones one pixel high.
    @property
    def pool_2d(self):
        return (1,) + self.pool_size if self.rank == 1 else self.pool_size

    @property
    def strides_2d(self):
        return (1,) + self.strides if self.rank == 1 else self.strides

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=self.rank + 2)
        self.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        sizes = [output_length(size, k, s, self.padding) for size, k, s in
                 zip(input_shape[1:-1], self.pool_size, self.strides)]
        if any(size is not None and size <= 0 for size in sizes):
            raise ValueError(
                "Computed output size would be zero or negative. Received: "
                f"`inputs.shape={list(input_shape)}`, `pool_size={list(self.pool_size)}`, "
                f"`strides={list(self.strides)}`, `padding={self.padding}`.")
        return (input_shape[0],) + tuple(sizes) + (input_shape[-1],)

    def _windows(self, x, fill):
        """(padded images, pads, output size (HO, WO), [(p, q) for every window position])."""
        images = as_2d(x, self.rank)  # (N,H,W,C), or volumes (N,D,H,W,C)
        pads = padding_amounts(images.shape[1:-1], self.pool_2d, self.strides_2d, self.padding)
        padded = zero_pad(images, pads, fill)  # (N,Hp,Wp,C)
        out = tuple(output_length(size, k, s, self.padding) for size, k, s in
                    zip(images.shape[1:-1], self.pool_2d, self.strides_2d))
        return padded, pads, out, kernel_positions(self.pool_2d)

    def _output(self, y, x):
        """(N,HO,WO,C) back to (N,LO,C) for the 1-D layers."""
        return y.reshape((len(x),) + self.compute_output_shape((None,) + x.shape[1:])[1:])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling2D(BasePooling):
    """The largest value of every PH x PW window, channel by channel.

    Formula:
        y[n, i, j, c] = max over p, q of x[n, i*SH + p, j*SW + q, c]   # (N,HO,WO,C)
    Backward: dx[the first (row-major) max of each window] += dy[that window]

    Args:
        pool_size: an int or (PH, PW); default (2, 2).
        strides: an int or (SH, SW); default: pool_size (windows side by side).
        padding: "valid", or "same" (windows may cross the border; the outside never wins).
        data_format: "channels_last" only.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)

    first_max_only = True  # ties: the gradient to the first max only (MaxPooling3D: to all)

    def forward(self, x, training=False):
        padded, pads, out, positions = self._windows(x, -np.inf)  # -inf: padding never wins
        y = window_grid(padded, positions[0], out, self.strides_2d).copy()  # (N,HO,WO,C)
        for position in positions[1:]:
            np.maximum(y, window_grid(padded, position, out, self.strides_2d), out=y)
        return self._output(y, x), (x.shape, padded, pads, out, y)

    def backward(self, dy, cache, need_dx=True):
        x_shape, padded, pads, out, y = cache
        dy = dy.reshape(y.shape)  # (N,HO,WO,C)
        dx = np.zeros(padded.shape, dy.dtype)  # (N,Hp,Wp,C)
        unrouted = np.ones(y.shape, bool)  # windows whose max has not had its gradient yet
        overlapping = any(s < k for s, k in zip(self.strides_2d, self.pool_2d))
        for position in kernel_positions(self.pool_2d):
            routed = window_grid(padded, position, out, self.strides_2d) == y  # (N,HO,WO,C)
            if self.first_max_only:  # the first max in row-major order (TF's MaxPoolGrad)
                routed &= unrouted
                unrouted ^= routed
            grid = window_grid(dx, position, out, self.strides_2d)  # a view of dx
            if overlapping:  # a pixel may be in several windows: its gradients add up
                grid += dy * routed
            else:  # each pixel is in one window at most: its gradient is written once
                np.multiply(dy, routed, out=grid)
        return unpad(dx, pads).reshape(x_shape), {}


class AveragePooling2D(BasePooling):
    """The mean of every PH x PW window, channel by channel.

    Formula:
        y[n, i, j, c] = sum over p, q of x[n, i*SH + p, j*SW + q, c] / count[i, j]
        count[i, j] = pixels of window (i, j) inside the image (PH*PW with "valid")
    Backward: every pixel of window (i, j) gets dy[n, i, j, c] / count[i, j]

    Args:
        pool_size, strides, padding, data_format: as MaxPooling2D.
    """

    mode = "average"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)

    def _counts(self, x, pads, out):
        """Pixels of each window inside the image: (HO,WO,1); "same" windows may have fewer."""
        inside = np.ones((1,) + as_2d(x, self.rank).shape[1:-1] + (1,), x.dtype)  # (1,H,W,1)
        mask = zero_pad(inside, pads)  # (1,Hp,Wp,1): 1 inside the image, 0 on the padding
        counts = sum(window_grid(mask, position, out, self.strides_2d)
                     for position in kernel_positions(self.pool_2d))
        return counts[0]  # (HO,WO,1)

    def forward(self, x, training=False):
        padded, pads, out, positions = self._windows(x, 0)  # zeros add nothing to a sum
        total = window_grid(padded, positions[0], out, self.strides_2d).copy()  # (N,HO,WO,C)
        for position in positions[1:]:
            total += window_grid(padded, position, out, self.strides_2d)
        counts = self._counts(x, pads, out)  # (HO,WO,1)
        return self._output(total / counts, x), (x.shape, padded.shape, pads, out, counts)

    def backward(self, dy, cache, need_dx=True):
        x_shape, padded_shape, pads, out, counts = cache
        share = dy.reshape((len(dy),) + counts.shape[:-1] + (-1,)) / counts  # (N,HO,WO,C)
        dx = np.zeros(padded_shape, dy.dtype)  # (N,Hp,Wp,C)
        for position in kernel_positions(self.pool_2d):
            window_grid(dx, position, out, self.strides_2d)[...] += share
        return unpad(dx, pads).reshape(x_shape), {}


class MaxPooling1D(MaxPooling2D):
    """MaxPooling2D on sequences (N, L, C): the max of every window of `pool_size` steps."""

    rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(AveragePooling2D):
    """AveragePooling2D on sequences (N, L, C): the mean of every window of `pool_size` steps."""

    rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


# -- global pooling: one window as large as the image -----------------------------------------
class BaseGlobalPooling(Layer):
    """Reduces every channel over all the image's pixels: (N, ..., C) -> (N, C)."""

    rank = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        data_format = check_channels_last(data_format)
        super().__init__(**kwargs)
        self.data_format, self.keepdims = data_format, bool(keepdims)

    @property
    def axes(self):
        return tuple(range(1, self.rank + 1))  # the pixel axes

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=self.rank + 2)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(BaseGlobalPooling):
    """The mean of each channel over the image.

    Formula:
        y[n, c] = sum over i, j of x[n, i, j, c] / (H*W)     # (N,H,W,C) -> (N,C)
    Backward: dx[n, i, j, c] = dy[n, c] / (H*W)

    Args:
        data_format: "channels_last" only.
        keepdims: keep the pixel axes as size 1: (N,1,1,C).
    """

    def forward(self, x, training=False):
        return x.mean(axis=self.axes, keepdims=self.keepdims), x.shape

    def backward(self, dy, cache, need_dx=True):
        x_shape = cache
        pixels = dy.dtype.type(np.prod(x_shape[1:-1]))
        share = dy.reshape((len(dy),) + (1,) * self.rank + (-1,)) / pixels  # (N,1,1,C)
        return np.broadcast_to(share, x_shape).copy(), {}  # (N,H,W,C)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """The largest value of each channel over the image.

    Formula:
        y[n, c] = max over i, j of x[n, i, j, c]               # (N,H,W,C) -> (N,C)
    Backward: dy[n, c] shared EQUALLY by the pixels holding the max (TensorFlow's
    reduce_max gradient; unlike MaxPooling2D, which gives it all to the first one)

    Args:
        data_format: "channels_last" only.
        keepdims: keep the pixel axes as size 1: (N,1,1,C).
    """

    def forward(self, x, training=False):
        y = x.max(axis=self.axes, keepdims=True)  # (N,1,1,C)
        return (y if self.keepdims else y.reshape(len(x), -1)), (x, y)

    def backward(self, dy, cache, need_dx=True):
        x, y = cache
        is_max = x == y  # (N,H,W,C)
        ties = is_max.sum(axis=self.axes, keepdims=True).astype(dy.dtype)  # (N,1,1,C)
        return is_max / ties * dy.reshape(y.shape), {}  # (N,H,W,C), TF's order of operations


class GlobalAveragePooling1D(GlobalAveragePooling2D):
    """The mean of each channel over the sequence: (N, L, C) -> (N, C).

    With a mask (N,L) from the layers before (masks.py), the mean of the real steps only
    (keras/src/layers/pooling/global_average_pooling1d.py); the output has no mask:
        y[n, c] = sum over real l of x[n, l, c] / (number of real steps of row n)
    A row with no real step is 0 / 0 = nan, as in Keras.
    Backward: dx[n, l, c] = dy[n, c] / count[n] at the real steps, 0 at the others.
    """

    rank = 1
    supports_masking = True

    def compute_mask(self, inputs, mask):
        return None

    def forward(self, x, training=False, mask=None):
        if mask is None:
            return super().forward(x, training)
        keep = mask[:, :, None]  # (N,L,1)
        count = keep.sum(axis=1, keepdims=self.keepdims, dtype=x.dtype)  # (N,1) or (N,1,1)
        with np.errstate(invalid="ignore"):  # an all-padding row: 0 / 0, nan as in Keras
            y = np.where(keep, x, 0).sum(axis=1, keepdims=self.keepdims) / count  # (N,C)
        return y, (keep, count)

    def backward(self, dy, cache, need_dx=True):
        if not isinstance(cache[0], np.ndarray):  # no mask: the cache is x's shape
            return super().backward(dy, cache, need_dx)
        keep, count = cache
        with np.errstate(divide="ignore", invalid="ignore"):  # an all-padding row: 0 below
            share = (dy / count).reshape(len(dy), 1, -1)  # (N,1,C)
        return np.where(keep, share, dy.dtype.type(0)), {}  # (N,L,C): 0 at padded steps


class GlobalMaxPooling1D(GlobalMaxPooling2D):
    """The largest value of each channel over the sequence: (N, L, C) -> (N, C)."""

    rank = 1


# -- volumes (N, D, H, W, C): the same windows with a depth axis --------------------------------
class MaxPooling3D(MaxPooling2D):
    """The largest value of every PD x PH x PW window of a volume, channel by channel.

    Formula:
        y[n, t, i, j, c] = max over o, p, q of x[n, t*SD + o, i*SH + p, j*SW + q, c]
    Backward: dx[every max of each window] += dy[that window]. With ties, TensorFlow's
    MaxPool3DGrad (tensorflow/core/kernels/pooling_ops_3d.cc) gives EACH tied max the whole
    gradient, where MaxPooling2D's MaxPoolGrad gives it to the first one only.

    Args:
        pool_size: an int or (PD, PH, PW); default (2, 2, 2).
        strides: an int or (SD, SH, SW); default: pool_size.
        padding, data_format: as MaxPooling2D.
    """

    rank = 3
    first_max_only = False

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling3D(AveragePooling2D):
    """The mean of every PD x PH x PW window of a volume, channel by channel.

    Formula:
        y[n, t, i, j, c] = sum over o, p, q of x[n, t*SD + o, i*SH + p, j*SW + q, c]
                           / count[t, i, j]    (the window's voxels inside the volume)

    Args:
        pool_size, strides, padding, data_format: as MaxPooling3D.
    """

    rank = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class GlobalAveragePooling3D(GlobalAveragePooling2D):
    """The mean of each channel over the volume: (N, D, H, W, C) -> (N, C)."""

    rank = 3


class GlobalMaxPooling3D(GlobalMaxPooling2D):
    """The largest value of each channel over the volume: (N, D, H, W, C) -> (N, C); ties
    share the gradient equally, as GlobalMaxPooling2D."""

    rank = 3
