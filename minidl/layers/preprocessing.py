"""Normalization, Rescaling, Resizing and CenterCrop: fixed maps of the inputs, part of the model.

    Normalization()  then  .adapt(x_train)    y = (x - mean) / std, mean and std of x_train
    Rescaling(1 / 255)                        y = x * scale + offset
    Resizing(64, 64)                          images resampled to 64 x 64 (tf.image.resize)
    CenterCrop(24, 24)                        the centred 24 x 24 window of each image

None has trainable weights; backward passes the gradient back through the map (for the image
layers, the transposed resampling of image_sampling.py).
Shapes: N rows in the batch, D features (any (N, ...) for Rescaling); images (N, H, W, C).
"""
import itertools
import math

import numpy as np

from minidl import config
from minidl.layers.augmentation import (ImagePreprocessingLayer, aspect_crop_box, crop,
                                        crop_backward, crop_then_resize,
                                        crop_then_resize_backward)
from minidl.layers.base import Layer
from minidl.layers.image_sampling import resample_backward, resize
from minidl.variable import Variable

f32 = np.float32


class Normalization(Layer):
    """Shifts and scales features to mean 0 and variance 1, with statistics from `adapt(data)`.

    Formula (mean, var per position of the `axis` axes, over every other axis of the data):
        std = max(sqrt(var), 1e-7)           # (D,): a constant feature maps to 0, not inf
        y = (x - mean) / std                 # (N,D)
        y = mean + x * std                   # invert=True: undoes the normalization
    Backward: dx = dy / std  (dy * std when inverted).

    `adapt(data)` on a NumPy array takes np.mean and np.var of the array as given (its own
    dtype), as Keras does; on an iterable of batches it merges the batches' statistics with
    Keras's formula (keras/src/layers/preprocessing/normalization.py::adapt).
    The weights are Keras's [mean, variance, count]; count stays 0, as in Keras. Unlike Keras,
    which reads them once after adapt or loading, `set_weights` takes effect at once here.

    Args:
        axis: the axis (or tuple of axes) that keep their own mean and variance (default -1,
            one per feature); None for a single mean and variance over everything.
        mean, variance: fixed statistics instead of adapt (scalars or arrays); the layer then
            has no weights.
        invert: apply the inverse map, y = mean + x * std.
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            axis = tuple(axis)
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be "
                             f"set. Received: mean={mean} and variance={variance}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError("When setting values directly, `mean` and `variance` must have the "
                             f"same shape. Received: mean shape {np.shape(mean)} and variance "
                             f"shape {np.shape(variance)}")
        if mean is not None and len(np.shape(mean)) > len(axis):
            raise ValueError("The rank of `mean` must be less than or equal to the number of "
                             f"axes ({len(axis)}). Received: mean shape {np.shape(mean)} for "
                             f"axis {axis}")
        super().__init__(**kwargs)
        self.axis, self.invert = axis, invert
        self.input_mean, self.input_variance = mean, variance
        self.adapt_mean = self.adapt_variance = self.count = None

    # -- shapes --------------------------------------------------------------------------------
    def _keep_axes(self, ndim):
        """The kept axes as sorted positive numbers (Keras's _keep_axis)."""
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError("All `axis` values must be in the range [-ndim, ndim). Received "
                             f"inputs with ndim={ndim}, while axis={self.axis}")
        return tuple(sorted(a % ndim for a in self.axis))

    def check_input_shape(self, shape):
        keep = self._keep_axes(len(shape))
        for d in keep:
            if shape[d] is None:
                raise ValueError("All `axis` values to be kept must have a known shape. "
                                 f"Received axis={self.axis}, inputs.shape={tuple(shape)}, "
                                 f"with unknown axis at index {d}")
        if self.built and any(shape[d] != self.input_shape[d] for d in keep):
            raise ValueError(f"The layer was built with input_shape={self.input_shape}, but "
                             f"received data with an incompatible shape: {tuple(shape)}")

    def build(self, input_shape):
        keep = self._keep_axes(len(input_shape))
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1
                                      for d in range(len(input_shape)))  # e.g. (1,D)
        self._reduce_axes = tuple(d for d in range(len(input_shape)) if d not in keep)
        shape = tuple(input_shape[d] for d in keep)  # (D,)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape, "zeros", "mean", trainable=False)
            self.adapt_variance = self.add_weight(shape, "ones", "variance", trainable=False)
            self.count = self.add_weight((), "zeros", "count", trainable=False, dtype="int64")
        else:
            self._fixed = [_broadcast_fixed(value, keep, self._broadcast_shape, self.dtype)
                           for value in (self.input_mean, self.input_variance)]

    def _statistics(self):
        """mean and variance, shaped to broadcast against x: (1,D)."""
        if self.input_mean is not None:
            return self._fixed
        return [w.value.reshape(self._broadcast_shape)
                for w in (self.adapt_mean, self.adapt_variance)]

    @property
    def mean(self):
        """The mean subtracted, shaped to broadcast against x, (1,D), as Keras's `layer.mean`
        (`.numpy()` gives it as an array); None before the layer is built."""
        return self._statistic(0, "mean")

    @property
    def variance(self):
        """The variance whose root divides, (1,D), as Keras's `layer.variance`."""
        return self._statistic(1, "variance")

    def _statistic(self, index, name):
        if getattr(self, "_broadcast_shape", None) is None:
            return None
        return Variable(self._statistics()[index].copy(), name, trainable=False)

    # -- adapt ---------------------------------------------------------------------------------
    def adapt(self, data):
        """Compute the mean and variance of `data` (an array, or an iterable of batches).

        Everything is checked and computed before the layer changes.
        """
        if isinstance(data, np.ndarray):
            batches, first = None, data
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            batches = iter(data)
            first = _batch_x(next(batches, None))
            if first is None:
                raise ValueError("adapt() received an empty iterable (no batches). Expected at "
                                 "least one batch. Pass a non-empty iterable of arrays, e.g. "
                                 "layer.adapt([x]) or layer.adapt(list_of_batches).")
            if not hasattr(first, "shape"):
                raise TypeError("adapt() expects an iterable that yields arrays with a `.shape` "
                                f"attribute. Got an element of type {type(first).__name__}.")
        else:
            raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports "
                            "`np.ndarray` and iterables of batches (e.g. list, generator).")
        shape = (None,) + tuple(first.shape[1:])
        self.check_input_shape(shape)
        if self.input_mean is not None:
            raise ValueError("This Normalization layer was given `mean` and `variance`: it has "
                             "nothing to adapt.")
        keep = self._keep_axes(len(shape))
        reduce_axes = tuple(d for d in range(len(shape)) if d not in keep)
        if batches is None:
            mean, var = np.mean(first, axis=reduce_axes), np.var(first, axis=reduce_axes)
        else:
            batches = itertools.chain([first], (_batch_x(batch) for batch in batches))
            mean, var = _merged_statistics(batches, reduce_axes, self.dtype)
        self._maybe_build(shape)
        self.adapt_mean.assign(mean)
        self.adapt_variance.assign(var)

    # -- the maths -----------------------------------------------------------------------------
    def forward(self, x, training=False):
        mean, var = self._statistics()  # (1,D)
        std = np.maximum(np.sqrt(var), config.epsilon())  # (1,D)
        if self.invert:
            return mean + x * std, std  # (1,D) + (N,D) * (1,D)
        return (x - mean) / std, std  # ((N,D) - (1,D)) / (1,D)

    def backward(self, dy, std, need_dx=True):
        return (dy * std if self.invert else dy / std), {}  # (N,D)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}


def _batch_x(batch):
    """The inputs of a batch: x of an (x, y) or (x, y, sample_weight) tuple."""
    return batch[0] if isinstance(batch, tuple) else batch


def _merged_statistics(batches, axes, dtype):
    """Mean and variance over several batches, merged one batch at a time as Keras merges them.

    Formula, after a batch of n values (total count so far: t):
        w = n / t;  new_mean = mean * (1 - w) + batch_mean * w
        var = (var + (mean - new_mean)**2) * (1 - w) + (batch_var + (batch_mean - new_mean)**2) * w
    """
    mean = var = None
    total = 0
    for batch in batches:
        batch = np.asarray(batch, dtype)  # (N,D)
        batch_mean = batch.mean(axis=axes)  # (D,)
        centred = batch - batch.mean(axis=axes, keepdims=True)  # (N,D)
        batch_var = (centred * centred).mean(axis=axes)  # (D,)
        if mean is None:
            mean, var = np.zeros_like(batch_mean), np.zeros_like(batch_var)  # (D,)
        n = math.prod(batch.shape[d] for d in axes) if axes else 1
        total += n
        weight = float(n) / total
        new_mean = mean * (1.0 - weight) + batch_mean * weight  # (D,)
        var = ((var + (mean - new_mean) ** 2) * (1.0 - weight)
               + (batch_var + (batch_mean - new_mean) ** 2) * weight)  # (D,)
        mean = new_mean
    return mean, var


def _broadcast_fixed(value, keep, broadcast_shape, dtype):
    """A given mean or variance, its dims aligned right to left with the kept axes, as Keras."""
    value = np.asarray(value)
    expanded = [1] * len(broadcast_shape)
    for i in range(1, value.ndim + 1):
        expanded[keep[-i]] = value.shape[-i]
    shape = tuple(1 if d is None else d for d in broadcast_shape)
    return np.broadcast_to(value.reshape(expanded), shape).astype(dtype)


class Rescaling(Layer):
    """Multiplies and shifts the inputs by constants: y = x * scale + offset (e.g. x / 255).

    Formula:
        y = x * scale + offset               # (N,D)
    Backward: dx = dy * scale.

    Args:
        scale: a number (or an array broadcasting against x), e.g. 1 / 255.
        offset: a number (or array) added after scaling (default 0.0).
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, scale, offset=0.0, **kwargs):
        scale, offset = _deserialize_number(scale), _deserialize_number(offset)
        for name, value in (("scale", scale), ("offset", offset)):
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise ValueError(f"Argument `{name}` must be a number or an array of numbers. "
                                 f"Received: {name}={value!r}")
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def forward(self, x, training=False):
        scale = np.asarray(self.scale, x.dtype)  # rounded to x's float type, as Keras
        y = x * scale + np.asarray(self.offset, x.dtype)  # (N,D)
        return y, scale

    def backward(self, dy, scale, need_dx=True):
        return dy * scale, {}  # (N,D)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": _serialize_number(self.scale),
                "offset": _serialize_number(self.offset)}


def _serialize_number(value):
    """A number as itself, an array as Keras's {"class_name": "__numpy__", ...} form."""
    if isinstance(value, np.ndarray):
        return {"class_name": "__numpy__",
                "config": {"value": value.tolist(), "dtype": str(value.dtype)}}
    return value


def _deserialize_number(value):
    """The inverse of _serialize_number (a config read back)."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        return np.asarray(value["config"]["value"], value["config"]["dtype"])
    return value


# -- image sizes (layers/augmentation.py has the random image layers) --------------------------
RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")


class Resizing(ImagePreprocessingLayer):
    """Resizes images to (height, width), as tf.image.resize: in training and at inference.

    Formula (half-pixel centres, image_sampling.resize): output pixel i of h reads the input
    at s = (i + 0.5) * H / h - 0.5, interpolated between its neighbours ("bilinear") or
    taken from floor(s + 0.5) ("nearest").
        crop_to_aspect_ratio: first the largest centred window of height:width's shape
        pad_to_aspect_ratio: first pad (fill_value) to that shape, equally on both sides
    Backward: the transposed map (each dy value back to the pixels it was read from).

    Args:
        height, width: the output size.
        interpolation: "bilinear" (default) or "nearest"; Keras's "bicubic", "area",
            "lanczos3" and "lanczos5" are not in minidl and are refused by name.
        crop_to_aspect_ratio, pad_to_aspect_ratio: keep the aspect ratio (at most one).
        fill_mode: "constant" only (as Keras); fill_value: the padding's value.
        antialias: False only (minidl has no antialiasing filter).
        data_format: "channels_last" only.
    """

    training_default = None  # deterministic: training changes nothing

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                             f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"minidl's Resizing has interpolation 'bilinear' and 'nearest' "
                             f"only. Received: interpolation={interpolation!r}")
        if antialias:
            raise ValueError("minidl's Resizing has no antialiasing filter: pass "
                             f"antialias=False. Received: antialias={antialias!r}")
        if fill_mode != "constant":
            raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` is "
                             f"supported. Received: fill_mode={fill_mode}")
        if pad_to_aspect_ratio and crop_to_aspect_ratio:
            raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can "
                             "be `True`.")
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width, self.interpolation = height, width, interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode, self.fill_value, self.antialias = fill_mode, fill_value, bool(antialias)

    def get_random_transformation(self, images, training=True):
        return images.shape[1], images.shape[2]  # (input height, input width), as Keras

    def _transform(self, x, t, training):
        x_shape, first = x.shape, None
        if self.crop_to_aspect_ratio:
            first = _tf_aspect_box(x.shape[1], x.shape[2], self.height, self.width)
            top, left, crop_h, crop_w = first
            x = x[:, top:top + crop_h, left:left + crop_w]  # (N,H',W,C) or (N,H,W',C)
        elif self.pad_to_aspect_ratio:
            first = _tf_pad_box(x.shape[1], x.shape[2], self.height, self.width)
            x = _pad(x, *first, x.dtype.type(self.fill_value))  # (N,H+2r,W+2c,C)
        y, taps = resize(x, (self.height, self.width), self.interpolation)  # (N,h,w,C)
        return y, (first, taps, x.shape, x_shape)

    def _transform_backward(self, dy, cache):
        first, taps, resized_shape, x_shape = cache
        dx = resample_backward(dy, taps, resized_shape)  # the cropped or padded x's shape
        if self.crop_to_aspect_ratio:
            return crop_backward(dx, (first[0], first[1], x_shape))
        if self.pad_to_aspect_ratio:
            rows, cols = first
            return dx[:, rows:rows + x_shape[1], cols:cols + x_shape[2]]
        return dx

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


def _tf_aspect_box(H, W, h, w):
    """crop_to_aspect_ratio's window, as keras/src/backend/tensorflow/image.py::resize
    computes it (in float32, where CenterCrop's smart_resize uses Python floats)."""
    crop_h = max(min(H, int(f32(W * h) / f32(w))), 1)
    crop_w = max(min(W, int(f32(H * w) / f32(h))), 1)
    return int(f32(H - crop_h) / f32(2)), int(f32(W - crop_w) / f32(2)), crop_h, crop_w


def _tf_pad_box(H, W, h, w):
    """pad_to_aspect_ratio's rows and columns added on each side (the TensorFlow backend's
    resize: (padded size - size) / 2 on both sides, so an odd difference loses one)."""
    pad_h = max(H, int(f32(W * h) / f32(w)))
    pad_w = max(W, int(f32(H * w) / f32(h)))
    return int(f32(pad_h - H) / f32(2)), int(f32(pad_w - W) / f32(2))


def _pad(x, rows, cols, fill):
    """x with `rows` rows of fill above and below, then `cols` columns left and right."""
    N, H, W, C = x.shape
    padded = np.full((N, H + 2 * rows, W + 2 * cols, C), fill, x.dtype)  # (N,H+2r,W+2c,C)
    padded[:, rows:rows + H, cols:cols + W] = x
    return padded


class CenterCrop(ImagePreprocessingLayer):
    """The centred (height, width) window of the images, in training and at inference.

    Formula (H >= height and W >= width):
        top = (H - height) // 2;  left = (W - width) // 2
        y = x[:, top:top + height, left:left + width]
    An image smaller on either axis is first cut to the largest centred window of
    height:width's aspect ratio, then resized (bilinear) to (height, width): Keras's
    smart_resize (keras/src/utils/image_utils.py).
    Backward: dy put back in the window, zeros elsewhere (after the resize's transpose).

    Args:
        height, width: the output size.
        data_format: "channels_last" only.
    """

    training_default = None  # deterministic: training changes nothing

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = height, width

    def get_random_transformation(self, images, training=True):
        return {"input_shape": tuple(images.shape)}

    def _transform(self, x, t, training):
        N, H, W, C = x.shape
        if H >= self.height and W >= self.width:
            return crop(x, (H - self.height) // 2, (W - self.width) // 2, self.height,
                        self.width)
        top, left, crop_h, crop_w = aspect_crop_box(H, W, self.height, self.width)
        return crop_then_resize(x, top, left, crop_h, crop_w, self.height, self.width)

    def _transform_backward(self, dy, cache):
        if len(cache) == 3:  # a crop alone
            return crop_backward(dy, cache)
        return crop_then_resize_backward(dy, cache)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
