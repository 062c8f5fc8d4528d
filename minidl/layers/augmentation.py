"""Image augmentation: layers that change each training image at random, and pass it at inference.

    RandomFlip("horizontal")          mirror left-right, each image with probability 1/2
    RandomRotation(0.1)               rotate by an angle in [-0.1, 0.1] * 360 degrees
    RandomZoom(0.2)                   zoom each axis by a factor in [0.8, 1.2]
    RandomTranslation(0.1, 0.1)       shift by up to 10 % of the height and of the width
    RandomCrop(24, 24)                a random 24 x 24 window
    RandomContrast(0.2)               stretch each channel about its mean, then clip
    RandomBrightness(0.2)             add a constant, then clip

Keras 3 splits each layer in two, and so does minidl, by the same names:
    t = layer.get_random_transformation(images, training)   the draw
    y = layer.transform_images(images, t, training)          the maths, fixed once t is
The draw comes from minidl's generator (minidl/rng.py) or the layer's own (`seed`): Keras's
TensorFlow random numbers cannot be reproduced, so tests hand the `t` minidl drew to Keras's
`transform_images` and compare the images. The transformations are Keras's dicts, with NumPy
arrays for tensors. Rotation, zoom and translation are affine maps sampled with TensorFlow's
kernel (image_sampling.py); flips and crops move pixels; contrast and brightness are per-image
affine maps of the values, clipped to `value_range`.

As in Keras (base_image_preprocessing_layer.py), a call that says nothing about training
transforms: `layer(x)` and `model(x)` augment, and only fit passes training=True while
predict and evaluate pass training=False. Every backward is the transposed map of the forward,
so a gradient through these layers is the exact one (see image_sampling.py for where
TensorFlow's gradient of an affine transform differs).

Images are batches (N, H, W, C), channels_last, as everywhere in minidl.
"""
import math
import random

import numpy as np

from minidl import rng
from minidl.layers.base import Layer
from minidl.layers.convolutional import check_channels_last
from minidl.layers.image_sampling import affine_transform, resample_backward, resize

f32 = np.float32
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def check_seed(seed):
    """None or an int, with Keras's SeedGenerator message."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
    return seed


def check_fill_and_interpolation(fill_mode, interpolation):
    """Keras's NotImplementedError for an unknown fill_mode or interpolation."""
    if fill_mode not in FILL_MODES:
        raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one "
                                  f"{FILL_MODES}.")
    if interpolation not in INTERPOLATIONS:
        raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one "
                                  f"{INTERPOLATIONS}.")


class ImagePreprocessingLayer(Layer):
    """Base class of the image layers: a transformation drawn, then applied to the images.

    Subclasses write `get_random_transformation(images, training)` and
    `_transform(x, t, training) -> (y, cache)` with `_transform_backward(dy, cache) -> dx`;
    a cache of None means y is x itself.

    Args:
        seed: None draws from minidl's generator; an int gives the layer its own.
        data_format: "channels_last" only (minidl's images are (N, H, W, C)).
    """

    training_default = True  # Keras's call(data, training=True): a bare call transforms

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.data_format = check_channels_last(data_format) or "channels_last"
        self._generator = None if seed is None else np.random.default_rng(seed)

    def generator(self):
        return self._generator if self._generator is not None else rng.generator()

    def check_input_shape(self, shape):
        if len(shape) != 4:
            raise ValueError(
                f"Layer \"{self.name}\" ({type(self).__name__}) expects a batch of images "
                "(batch, height, width, channels): rank 4 (minidl does not take a single "
                f"rank-3 image; add a batch axis). Received: inputs.shape={tuple(shape)}")

    def compute_output_shape(self, input_shape):
        return input_shape

    # -- Keras's two halves ------------------------------------------------------------------
    def get_random_transformation(self, images, training=True):
        return None

    def transform_images(self, images, transformation, training=True):
        x = np.asarray(images, f32) if np.asarray(images).dtype.kind != "f" else images
        return self._transform(x, transformation, training)[0]

    def _transform(self, x, t, training):
        raise NotImplementedError

    def _transform_backward(self, dy, cache):
        raise NotImplementedError

    # -- the layer protocol ------------------------------------------------------------------
    def forward(self, x, training=False):
        t = self.get_random_transformation(x, training=training)
        return self._transform(x, t, training)

    def backward(self, dy, cache, need_dx=True):
        return (dy if cache is None else self._transform_backward(dy, cache)), {}

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def check_factor(factor, bounds):
    """(lower, upper) from a number f or a pair, as Keras's BaseImagePreprocessingLayer.

    A number f gives (max(-f, bounds[0]), f): (-f, f) for bounds (-1, 1), (0, f) for (0, 1).
    """
    message = ("The `factor` argument should be a number (or a list of two numbers) in the "
               f"range [{bounds[0]}, {bounds[1]}]. Received: factor={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(message)
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        if factor < bounds[0] or factor > bounds[1]:
            raise ValueError(message)
        factor = abs(factor)
        return max(-factor, bounds[0]), factor
    raise ValueError(message)


def uniform(generator, low, high, shape):
    """float32 draws on [low, high): low + (high - low) * u, as keras.random.uniform."""
    u = generator.random(shape, dtype=f32)
    return f32(low) + (f32(high) - f32(low)) * u


# -- flips -----------------------------------------------------------------------------------
class RandomFlip(ImagePreprocessingLayer):
    """Mirrors each image with probability 1/2 when training.

    Formula (flip ~ U[0, 1) <= 0.5, one draw per image):
        "horizontal": y = where(flip, x[:, :, ::-1], x)       (left-right)
        "vertical":   y = where(flip, x[:, ::-1], x)          (top-bottom)
        "horizontal_and_vertical": both, with the same draw (Keras's random_flip.py draws
        once per image: an image is turned 180 degrees or left alone)
    Backward: the same flips of dy.

    Args:
        mode: "horizontal", "vertical" or "horizontal_and_vertical" (the default).
        seed, data_format: see ImagePreprocessingLayer.
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        # Keras accepts any mode and then flips nothing; minidl names the valid ones.
        if mode not in self.MODES:
            raise ValueError(f"Argument `mode` must be one of {self.MODES}. Received: "
                             f"mode={mode!r}")
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = mode

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        flips = self.generator().random((len(images), 1, 1, 1), dtype=f32) <= 0.5
        return {"flips": flips, "input_shape": tuple(images.shape)}  # (N,1,1,1) bools

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        return self._flip(x, t["flips"]), t["flips"]

    def _flip(self, x, flips):
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = np.where(flips, x[:, :, ::-1], x)  # (N,H,W,C)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = np.where(flips, x[:, ::-1], x)  # (N,H,W,C)
        return x

    def _transform_backward(self, dy, flips):
        return self._flip(dy, flips)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


# -- affine maps: rotation, zoom, translation ------------------------------------------------
class AffineLayer(ImagePreprocessingLayer):
    """Base class of the layers that resample each image through an affine map.

    Subclasses give `matrix(t, H, W)`: the (N, 8) transforms of image_sampling.affine_transform.
    """

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        check_fill_and_interpolation(fill_mode, interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        N, H, W, C = x.shape
        y, taps = affine_transform(x, self.matrix(t, H, W), self.interpolation, self.fill_mode,
                                   self.fill_value)
        return y, (taps, x.shape)

    def _transform_backward(self, dy, cache):
        taps, x_shape = cache
        return resample_backward(dy, taps, x_shape)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "interpolation": self.interpolation,
                "seed": self.seed}


def rotation_matrix(angle, H, W):
    """The (N, 8) transform that rotates images (H, W) about their centre by `angle` degrees.

    Formula (float32, keras base_image_preprocessing_layer.py::_compute_affine_matrix with no
    shear, scale 1, no translation; cx = 0.5 * (W - 1), cy = 0.5 * (H - 1)):
        a0 = cos;  a1 = -sin;  a2 = cx - cx * a0 - cy * a1
        b0 = sin;  b1 = cos;   b2 = cy - cx * b0 - cy * b1
    """
    theta = np.asarray(angle, f32) * f32(math.pi / 180.0)  # (N,)
    cos, sin = np.cos(theta), np.sin(theta)  # (N,)
    cx, cy = f32(0.5) * (f32(W) - f32(1)), f32(0.5) * (f32(H) - f32(1))
    zero = np.zeros_like(cos)
    a2 = cx - cx * cos - cy * -sin  # (N,)
    b2 = cy - cx * sin - cy * cos  # (N,)
    return np.stack([cos, -sin, a2, sin, cos, b2, zero, zero], axis=1)  # (N,8)


class RandomRotation(AffineLayer):
    """Rotates each image about its centre by a random angle when training.

    Formula (one angle per image, in degrees; positive turns counter-clockwise):
        angle ~ U[factor[0] * 360, factor[1] * 360)
        y = affine_transform(x, rotation_matrix(angle))      # image_sampling.py
    Backward: the transposed resampling (each dy value back to the pixels it was read from).

    Args:
        factor: a fraction of a full turn: f for [-f, f], or a pair (lower, upper), in [-1, 1].
        fill_mode: how points outside the image are filled: "reflect" (default), "wrap",
            "constant" (with fill_value) or "nearest".
        interpolation: "bilinear" (default) or "nearest".
        seed, fill_value, data_format: as above.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        self.factor = check_factor(factor, (-1, 1))
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        N, H, W, C = images.shape
        angle = uniform(self.generator(), self.factor[0] * 360.0, self.factor[1] * 360.0, (N,))
        return {"angle": angle, "rotation_matrix": rotation_matrix(angle, H, W),
                "image_height": H, "image_width": W, "batch_size": N}

    def matrix(self, t, H, W):
        return t["rotation_matrix"]

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def check_axis_factor(factor, name, open_below):
    """(lower, upper) of a zoom or translation factor: Keras's own check, message and range.

    Zoom factors lie in (-1, 1] (a zoom of 1 + (-1) would be 0); translations in [-1, 1].
    """
    message = (f"The `{'height_factor` and `width_factor' if open_below else 'factor'}` "
               "argument" + ("s" if open_below else "") + " should be a number (or a list of "
               f"two numbers) in the range {'(' if open_below else '['}-1.0, 1.0]. ")

    return symmetric_range(factor, name, message, lambda number: number > 1.0 or (
        number <= -1.0 if open_below else number < -1.0))


def symmetric_range(factor, name, message, out_of_range):
    """(lower, upper) from a number f, as (-f, f), or from a pair (sorted), each end checked
    (out_of_range(end) raises with Keras's `message`)."""
    def check(number):
        if out_of_range(number):
            raise ValueError(message + f"Received: input_number={number}")

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(message + f"Received: {name}={factor}")
        check(factor[0])
        check(factor[1])
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        check(factor)
        return -abs(factor), abs(factor)
    raise ValueError(message + f"Received: {name}={factor}")


class RandomZoom(AffineLayer):
    """Zooms each image about its centre by a random factor per axis when training.

    Formula (one draw per image; a factor z > 1 shows more of the scene: zooms out):
        zy ~ U[1 + height_factor[0], 1 + height_factor[1]);  zx likewise (zx = zy if
        width_factor is None: the aspect ratio kept)
        t = [zx, 0, (W - 1) / 2 * (1 - zx),  0, zy, (H - 1) / 2 * (1 - zy),  0, 0]
        y = affine_transform(x, t)
    Backward: the transposed resampling.

    Args:
        height_factor: f for [-f, f], or (lower, upper), in (-1, 1]: negative zooms in.
        width_factor: the same for the width; None zooms both axes alike.
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        self.height_lower, self.height_upper = check_axis_factor(height_factor, "height_factor",
                                                                 open_below=True)
        if width_factor is not None:
            self.width_lower, self.width_upper = check_axis_factor(width_factor, "width_factor",
                                                                   open_below=True)
        self.height_factor, self.width_factor = height_factor, width_factor
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        n = len(images)
        height_zoom = uniform(self.generator(), 1.0 + self.height_lower, 1.0 + self.height_upper,
                              (n, 1))  # (N,1)
        width_zoom = height_zoom if self.width_factor is None else uniform(
            self.generator(), 1.0 + self.width_lower, 1.0 + self.width_upper, (n, 1))
        return {"height_zoom": height_zoom, "width_zoom": width_zoom,
                "input_shape": tuple(images.shape)}

    def matrix(self, t, H, W):
        zx, zy = np.asarray(t["width_zoom"], f32), np.asarray(t["height_zoom"], f32)  # (N,1)
        x_offset = (f32(W) - f32(1)) / f32(2) * (f32(1) - zx)  # (N,1)
        y_offset = (f32(H) - f32(1)) / f32(2) * (f32(1) - zy)
        zero = np.zeros_like(zx)
        return np.concatenate([zx, zero, x_offset, zero, zy, y_offset, zero, zero], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(AffineLayer):
    """Shifts each image by a random fraction of its height and width when training.

    Formula (one draw per image, in pixels; positive moves the content down / right):
        ty = U[height_factor[0], height_factor[1]) * H;  tx = U[width_factor...) * W
        t = [1, 0, -tx,  0, 1, -ty,  0, 0];   y = affine_transform(x, t)
    Backward: the transposed resampling.

    Args:
        height_factor, width_factor: f for [-f, f], or (lower, upper), in [-1, 1].
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        self.height_lower, self.height_upper = check_axis_factor(height_factor, "height_factor",
                                                                 open_below=False)
        self.width_lower, self.width_upper = check_axis_factor(width_factor, "width_factor",
                                                               open_below=False)
        self.height_factor, self.width_factor = height_factor, width_factor
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        N, H, W, C = images.shape
        dy = uniform(self.generator(), self.height_lower, self.height_upper, (N, 1)) * f32(H)
        dx = uniform(self.generator(), self.width_lower, self.width_upper, (N, 1)) * f32(W)
        return {"translations": np.concatenate([dx, dy], axis=1),  # (N,2): x then y, pixels
                "input_shape": tuple(images.shape)}

    def matrix(self, t, H, W):
        shift = np.asarray(t["translations"], f32)  # (N,2)
        one, zero = np.ones_like(shift[:, :1]), np.zeros_like(shift[:, :1])
        return np.concatenate([one, zero, -shift[:, :1], zero, one, -shift[:, 1:], zero, zero],
                              axis=1)  # (N,8)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


# -- crops -----------------------------------------------------------------------------------
def aspect_crop_box(H, W, h, w):
    """The largest centred window of (H, W) with the aspect ratio of (h, w): start and size.

    Keras's smart_resize and RandomCrop (Python floats): crop_h = int(W * h / w) at most H.
    """
    crop_h = max(min(H, int(float(W * h) / w)), 1)
    crop_w = max(min(W, int(float(H * w) / h)), 1)
    return int(float(H - crop_h) / 2), int(float(W - crop_w) / 2), crop_h, crop_w


def crop(x, top, left, h, w):
    """x[:, top:top + h, left:left + w] and what backward needs to put it back."""
    return x[:, top:top + h, left:left + w], (top, left, x.shape)


def crop_backward(dy, cache):
    """Zeros the shape of x, with dy where the window was."""
    top, left, x_shape = cache
    dx = np.zeros(x_shape, dy.dtype)  # (N,H,W,C)
    dx[:, top:top + dy.shape[1], left:left + dy.shape[2]] = dy
    return dx


def crop_then_resize(x, top, left, crop_h, crop_w, h, w):
    """A window of x, resized (bilinear) to (h, w) unless it is that size: y, cache."""
    y, crop_cache = crop(x, top, left, crop_h, crop_w)
    if y.shape[1:3] == (h, w):
        return y, (crop_cache, None)
    window_shape = y.shape
    y, taps = resize(y, (h, w), "bilinear")
    return y, (crop_cache, (taps, window_shape))


def crop_then_resize_backward(dy, cache):
    crop_cache, resized = cache
    if resized is not None:
        dy = resample_backward(dy, *resized)
    return crop_backward(dy, crop_cache)


class RandomCrop(ImagePreprocessingLayer):
    """A random (height, width) window of the images when training (one window per batch).

    Formula (training, images larger than the window on both axes):
        top ~ integers in [0, H - height],  left ~ integers in [0, W - width]
        y = x[:, top:top + height, left:left + width]
    Otherwise (an image not larger on both axes) the window starts at the centred box of
    height:width's aspect ratio and, cut to the image, is resized (bilinear) to
    (height, width), as keras/src/layers/preprocessing/image_preprocessing/random_crop.py.
    At inference the images pass unchanged, in their own size, as in Keras 3.15 (whose
    summary nevertheless shows (height, width)).
    Backward: dy put back in the window (zeros elsewhere), after the resize's transpose.

    Args:
        height, width: the window's size.
        seed, data_format: see ImagePreprocessingLayer. Keras writes a random seed in the
            config when given none (while drawing from its global generator); so does minidl.
    """

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        self.height, self.width = height, width
        self.seed = seed if seed is not None else random.randint(1, int(1e9))

    def get_random_transformation(self, images, training=True):
        N, H, W, C = images.shape
        if training and H > self.height and W > self.width:
            top = int(self.generator().integers(0, H - self.height + 1))
            left = int(self.generator().integers(0, W - self.width + 1))
            return top, left
        top, left, _, _ = aspect_crop_box(H, W, self.height, self.width)
        return top, left

    def _transform(self, x, t, training):
        if not training:
            return x, None
        top, left = t
        # Keras slices (height, width) from the start, whatever the box's size, then resizes
        # what the image had there.
        return crop_then_resize(x, top, left, self.height, self.width, self.height, self.width)

    def _transform_backward(self, dy, cache):
        return crop_then_resize_backward(dy, cache)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "seed": self.seed}


# -- colour: contrast and brightness ---------------------------------------------------------
class RandomContrast(ImagePreprocessingLayer):
    """Stretches (or flattens) each image's channels about their means when training.

    Formula (one factor c per image; mean over height and width, per channel):
        c ~ U[1 - factor[0], 1 + factor[1])
        m = mean(x, axes (H, W));   y = clip((x - m) * c + m, *value_range)
    A single number f is the factor (0, f) (Keras's _FACTOR_BOUNDS (0, 1) turns f into
    (max(-f, 0), f)), so c lies in [1, 1 + f): contrast only rises, as in Keras 3.15.
    Backward (g = dy where the value was not clipped, else 0; HW = H * W):
        dx = g * c + (1 - c) * sum(g, axes (H, W)) / HW

    Args:
        factor: f, or a pair (lower, upper), in [0, 1].
        value_range: (low, high) the outputs are clipped to, default (0, 255).
        seed: see ImagePreprocessingLayer.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        self.factor = check_factor(factor, (0, 1))
        super().__init__(seed=seed, **kwargs)
        self.value_range = value_range

    def get_random_transformation(self, images, training=True):
        shape = (len(images), 1, 1, 1)
        if not training:
            return {"contrast_factor": np.zeros(shape, f32)}
        return {"contrast_factor": uniform(self.generator(), 1.0 - self.factor[0],
                                           1.0 + self.factor[1], shape)}  # (N,1,1,1)

    def _transform(self, x, t, training):
        if not training:
            return x, None
        c = np.asarray(t["contrast_factor"]).astype(x.dtype)  # (N,1,1,1)
        m = x.mean(axis=1, keepdims=True).mean(axis=2, keepdims=True)  # (N,1,1,C)
        z = (x - m) * c + m  # (N,H,W,C)
        low, high = (x.dtype.type(v) for v in self.value_range)
        return np.clip(z, low, high), (c, (z >= low) & (z <= high))

    def _transform_backward(self, dy, cache):
        c, inside = cache
        g = np.where(inside, dy, dy.dtype.type(0))  # (N,H,W,C): clipped values send nothing
        return g * c + (1 - c) * g.mean(axis=(1, 2), keepdims=True)  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomBrightness(ImagePreprocessingLayer):
    """Adds a random constant to each image when training, then clips to `value_range`.

    Formula (one delta per image, the same for every pixel and channel):
        delta ~ U[factor[0], factor[1]) * (high - low)
        y = clip(x + delta, low, high)
    Backward: dx = dy where low <= x + delta <= high, else 0.

    Args:
        factor: f for [-f, f], or a pair (lower, upper), in [-1, 1]: fractions of the range.
        value_range: (low, high) of the images, default (0, 255).
        seed: see ImagePreprocessingLayer.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        self.factor = check_factor(factor, (-1, 1))
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError("The `value_range` argument should be a list of two numbers. "
                             f"Received: value_range={value_range}")
        super().__init__(seed=seed, **kwargs)
        self.value_range = sorted(value_range)

    def get_random_transformation(self, images, training=True):
        shape = (len(images), 1, 1, 1)
        if not training:
            return {"rgb_delta": np.zeros(shape, f32)}
        delta = uniform(self.generator(), self.factor[0], self.factor[1], shape)  # (N,1,1,1)
        return {"rgb_delta": delta * f32(self.value_range[1] - self.value_range[0])}

    def _transform(self, x, t, training):
        if not training:
            return x, None
        z = x + np.asarray(t["rgb_delta"]).astype(x.dtype)  # (N,H,W,C)
        low, high = (x.dtype.type(v) for v in self.value_range)
        return np.clip(z, low, high), (z >= low) & (z <= high)

    def _transform_backward(self, dy, inside):
        return np.where(inside, dy, dy.dtype.type(0))  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}
