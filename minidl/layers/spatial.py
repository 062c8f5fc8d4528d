"""ZeroPadding, Cropping and UpSampling (1D, 2D, 3D): sequences and images made longer, shorter
or larger along their spatial axes, with no weights.

    ZeroPadding2D(1)       a border of zeros          (N,H,W,C) -> (N, H+2, W+2, C)
    Cropping2D(1)          the border cut off         (N,H,W,C) -> (N, H-2, W-2, C)
    UpSampling2D(2)        every pixel repeated       (N,H,W,C) -> (N, 2H, 2W, C)

Padding and cropping undo each other, and so do their backward passes: the gradient of a
padded border is cut off (nothing upstream made those zeros), and a cropped border gets a
gradient of zero (nothing downstream saw it). Upsampling's backward adds up the gradient of
each repeated block: a pixel copied s times gets the sum of its s copies' gradients.

Shapes: N samples, then S spatial axes (S = 1: steps L; 2: H, W; 3: D, H, W), then C channels
last. Keras's data_format="channels_first" is refused, as in minidl's convolution layers.
The 1-D, 2-D and 3-D layers share one implementation, written for S spatial axes.
"""
import numpy as np

from minidl.layers.base import Layer
from minidl.layers.convolutional import check_channels_last, check_unsupported, standardize_tuple
from minidl.layers.core import check_rank


def pad(x, pads):
    """x with pads[i] = (before, after) zeros at the ends of spatial axis i + 1."""
    return np.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),))  # (N,*S,C) -> (N,*S+before+after,C)


def crop(x, crops):
    """x without crops[i] = (before, after) entries at the ends of spatial axis i + 1 (a view)."""
    spatial = x.shape[1:1 + len(crops)]
    kept = tuple(slice(before, size - after) for (before, after), size in zip(crops, spatial))
    return x[(slice(None),) + kept]  # (N,*S,C) -> (N,*S-before-after,C)


def standardize_data_format(data_format):
    """Keras's check of `data_format`, then minidl's: channels last only."""
    if data_format is not None:
        data_format = str(data_format).lower()
        if data_format not in {"channels_first", "channels_last"}:
            raise ValueError("The `data_format` argument must be one of {'channels_first', "
                             f"'channels_last'}}. Received: data_format={data_format}")
    return check_channels_last(data_format)


def standardize_pairs(value, rank, name):
    """`padding` or `cropping` of a 2-D or 3-D layer as ((before, after),) * rank, Keras's way.

    An int is the same on every side; `rank` ints are each on both sides of their axis; `rank`
    pairs are (before, after) of each axis.
    """
    ordinals = ("1st", "2nd", "3rd")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:  # Keras refuses it for cropping here, and for padding later (in tf.pad)
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((value, value),) * rank
    if hasattr(value, "__len__"):
        if len(value) != rank:
            raise ValueError(f"`{name}` should have two elements. Received: {name}={value}."
                             if rank == 2 else
                             f"`{name}` should have {rank} elements. Received: {value}.")
        return tuple(standardize_tuple(entry, 2, f"{ordinals[i]} entry of {name}",
                                       allow_zero=True) for i, entry in enumerate(value))
    verb = "pad" if name == "padding" else "crop"
    if rank == 2:
        forms = (f"a tuple of 2 ints (symmetric_height_{verb}, symmetric_width_{verb}), or a "
                 f"tuple of 2 tuples of 2 ints ((top_{verb}, bottom_{verb}), (left_{verb}, "
                 f"right_{verb}))")
    else:
        forms = (f"a tuple of 3 ints (symmetric_dim1_{verb}, symmetric_dim2_{verb}, "
                 f"symmetric_dim3_{verb}), or a tuple of 3 tuples of 2 ints "
                 f"((left_dim1_{verb}, right_dim1_{verb}), (left_dim2_{verb}, "
                 f"right_dim2_{verb}), (left_dim3_{verb}, right_dim3_{verb}))")
    raise ValueError(f"`{name}` should be either an int, {forms}. Received: {name}={value}.")


def check_positive_int(name, value):
    """UpSampling1D's `size`: a Python int above 0, as Keras checks it."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Expected an integer value for `{name}`, got {type(value)}.")
    if value <= 0:
        raise ValueError(f"Argument `{name}` should be a positive integer. "
                         f"Received: {name}={value}")
    return value


class SpatialLayer(Layer):
    """Base class: a layer on (N, *S, C) inputs with `rank` = S spatial axes and no weights."""

    rank = 2

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=self.rank + 2)

    def compute_output_shape(self, input_shape):
        n, *spatial, c = input_shape
        sizes = tuple(None if d is None else self.output_size(axis, d)
                      for axis, d in enumerate(spatial))
        return (n,) + sizes + (c,)

    def output_size(self, axis, size):
        """The output's length along spatial axis `axis` (0-based) for an input of `size`."""
        raise NotImplementedError


# -- zero padding ---------------------------------------------------------------------------------
class ZeroPadding(SpatialLayer):
    """Zeros added before and after each spatial axis.

    Formula:
        y = x with pads[i] = (before, after) zeros at the ends of spatial axis i
            # (N,*S,C) -> (N, *(S + before + after), C)
    Backward: dx = dy without those zeros (crop)
    """

    def output_size(self, axis, size):
        return size + sum(self.pads[axis])

    def forward(self, x, training=False):
        return pad(x, self.pads), None  # (N,*S,C) -> (N,*Sp,C)

    def backward(self, dy, cache, need_dx=True):
        return crop(dy, self.pads), {}  # (N,*Sp,C) -> (N,*S,C)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}


class ZeroPadding1D(ZeroPadding):
    """Zeros before and after every sequence.

    Args:
        padding: an int (as many zeros at both ends) or (before, after).
        data_format: "channels_last" only.
    """

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        super().__init__(**kwargs)
        self.padding, self.pads = padding, (padding,)  # Keras's form; one pair per axis
        self.data_format = data_format


class ZeroPadding2D(ZeroPadding):
    """A border of zeros around every image.

    Args:
        padding: an int (the same on every side), (rows, columns) (each on both sides), or
            ((top, bottom), (left, right)).
        data_format: "channels_last" only.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        padding = standardize_pairs(padding, 2, "padding")
        super().__init__(**kwargs)
        self.padding = self.pads = padding
        self.data_format = data_format


class ZeroPadding3D(ZeroPadding):
    """Zeros around every volume: ZeroPadding2D with a third spatial axis.

    Args:
        padding: an int, 3 ints (each on both sides of its axis), or 3 (before, after) pairs.
        data_format: "channels_last" only.
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        padding = standardize_pairs(padding, 3, "padding")
        super().__init__(**kwargs)
        self.padding = self.pads = padding
        self.data_format = data_format


# -- cropping -------------------------------------------------------------------------------------
class Cropping(SpatialLayer):
    """Entries cut off the ends of each spatial axis.

    Formula:
        y = x[:, before_1 : S_1 - after_1, ..., before_S : S_S - after_S, :]
            # (N,*S,C) -> (N, *(S - before - after), C)
    Backward: dx = dy with (before, after) zeros put back (pad): the cut entries reached nothing
    """

    def compute_output_shape(self, input_shape):
        spatial = input_shape[1:1 + self.rank]
        if any(d is not None and sum(pair) >= d for pair, d in zip(self.crops, spatial)):
            raise ValueError(self.too_much(f"input_shape={tuple(input_shape)}"))
        return super().compute_output_shape(input_shape)

    def output_size(self, axis, size):
        return size - sum(self.crops[axis])

    def too_much(self, received):
        return ("Values in `cropping` argument should be smaller than the corresponding "
                f"spatial dimension of the input. Received: {received}, "
                f"cropping={self.cropping}")

    def forward(self, x, training=False):
        if any(sum(pair) >= size for pair, size in zip(self.crops, x.shape[1:])):
            raise ValueError(self.too_much(f"inputs.shape={x.shape}"))
        return crop(x, self.crops), None  # (N,*S,C) -> (N,*Sc,C), a view

    def backward(self, dy, cache, need_dx=True):
        return pad(dy, self.crops), {}  # (N,*Sc,C) -> (N,*S,C)

    def get_config(self):
        config = {**super().get_config(), "cropping": self.cropping}
        if self.rank > 1:  # Keras's Cropping1D has no data_format
            config["data_format"] = self.data_format
        return config


class Cropping1D(Cropping):
    """Steps cut off both ends of every sequence.

    Args:
        cropping: an int (as many steps at both ends) or (before, after).
    """

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        super().__init__(**kwargs)
        self.cropping, self.crops = cropping, (cropping,)

    def too_much(self, received):
        return ("`cropping` parameter of `Cropping1D` layer must be smaller than the input "
                f"length. Received: {received}, cropping={self.cropping}")


class Cropping2D(Cropping):
    """Rows and columns cut off every image's border.

    Args:
        cropping: an int (the same on every side), (rows, columns) (each on both sides), or
            ((top, bottom), (left, right)).
        data_format: "channels_last" only.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        cropping = standardize_pairs(cropping, 2, "cropping")
        super().__init__(**kwargs)
        self.cropping = self.crops = cropping
        self.data_format = data_format


class Cropping3D(Cropping):
    """Cropping2D with a third spatial axis.

    Args:
        cropping: an int, 3 ints (each on both sides of its axis), or 3 (before, after) pairs.
        data_format: "channels_last" only.
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        cropping = standardize_pairs(cropping, 3, "cropping")
        super().__init__(**kwargs)
        self.cropping = self.crops = cropping
        self.data_format = data_format


# -- upsampling -----------------------------------------------------------------------------------
class UpSampling(SpatialLayer):
    """Every entry repeated `factors[i]` times along spatial axis i ("nearest" interpolation).

    Formula:
        y = x repeated s_1 times along axis 1, then s_2 times along axis 2, ...
            # (N,*S,C) -> (N, *(S * s), C);  y[n, i*s + r, ...] = x[n, i, ...] for r < s
    Backward: dx[n, i, ...] = sum over r < s of dy[n, i*s + r, ...], axis by axis from the last
        (the order of TensorFlow's gradient of its repeats)
    """

    def output_size(self, axis, size):
        return size * self.factors[axis]

    def forward(self, x, training=False):
        y = x
        for axis, s in enumerate(self.factors, start=1):
            y = np.repeat(y, s, axis=axis)  # (..., S_axis, ...) -> (..., S_axis * s, ...)
        return y, None

    def backward(self, dy, cache, need_dx=True):
        dx = dy
        for axis, s in reversed(list(enumerate(self.factors, start=1))):
            blocks = dx.shape[:axis] + (dx.shape[axis] // s, s) + dx.shape[axis + 1:]
            dx = dx.reshape(blocks).sum(axis=axis + 1)  # (..., S*s, ...) -> (..., S, ...)
        return dx, {}


class UpSampling1D(UpSampling):
    """Every step of every sequence repeated `size` times.

    Args:
        size: the upsampling factor, a positive int.
    """

    rank = 1

    def __init__(self, size=2, **kwargs):
        size = check_positive_int("size", size)
        super().__init__(**kwargs)
        self.size, self.factors = size, (size,)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(UpSampling):
    """Every pixel of every image repeated into a size[0] x size[1] block.

    Args:
        size: an int or (rows, columns): the upsampling factors.
        data_format: "channels_last" only.
        interpolation: "nearest" only (Keras's "bilinear", "bicubic", "lanczos3" and
            "lanczos5" resize with tf.image, which minidl does not implement).
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        data_format = standardize_data_format(data_format)
        size = standardize_tuple(size, 2, "size")
        interpolation = interpolation.lower()
        check_unsupported("interpolation", interpolation, "nearest",
                          "it repeats pixels; the other methods resize with tf.image")
        super().__init__(**kwargs)
        self.size = self.factors = size
        self.data_format, self.interpolation = data_format, interpolation

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling3D(UpSampling):
    """UpSampling2D with a third spatial axis.

    Args:
        size: an int or 3 ints: the upsampling factors.
        data_format: "channels_last" only.
    """

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        size = standardize_tuple(size, 3, "size")
        super().__init__(**kwargs)
        self.size = self.factors = size
        self.data_format = data_format

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}
