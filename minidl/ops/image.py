"""keras.ops.image on arrays: resizing, colour spaces, padding and cropping, patches, affine
transforms, map_coordinates and gaussian_blur. Plain values: no gradients.

Source: keras/src/ops/image.py and keras/src/backend/tensorflow/image.py (which call
tf.image and TensorFlow's image kernels). The resampling is the Resizing and random affine
layers' maths (layers/image_sampling.py: TensorFlow's half-pixel resize and
ImageProjectiveTransformV3), the patches are the convolutions' windows (im2col), the blur is
a depthwise convolution (ops/nn_windows.py): one place per formula.

Shapes: one image (H, W, C) or a batch (N, H, W, C); channels_first (C, H, W) / (N, C, H, W)
is turned to channels_last and back, as Keras's TensorFlow backend does.
"""
import itertools

import numpy as np

from minidl import config
from minidl.ops.core import convert_to_tensor

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")
AFFINE_TRANSFORM_INTERPOLATIONS = ("nearest", "bilinear")
AFFINE_TRANSFORM_FILL_MODES = ("constant", "nearest", "wrap", "reflect")
MAP_COORDINATES_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _data_format(data_format):
    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return data_format


def _check_rank(images):
    if images.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 (batch "
                         f"of images). Received input with shape: images.shape={images.shape}")


def _batch(images, data_format):
    """(N,H,W,C) from one image or a batch, in either data format."""
    batch = images if images.ndim == 4 else images[None]
    return batch if data_format == "channels_last" else batch.transpose(0, 2, 3, 1)


def _unbatch(y, images, data_format):
    """The inverse of _batch for a result y (N,h,w,c)."""
    y = y if data_format == "channels_last" else y.transpose(0, 3, 1, 2)
    return y if images.ndim == 4 else y[0]


# -- colour spaces ------------------------------------------------------------------------------
def rgb_to_grayscale(images, data_format=None):
    """One channel: y = 0.2989 R + 0.5870 G + 0.1140 B (tf.image.rgb_to_grayscale's weights).

    Integer images are weighed in float32 and cast back (truncated), as Keras's.
    """
    images = convert_to_tensor(images)
    data_format = _data_format(data_format)
    _check_rank(images)
    axis = -1 if data_format == "channels_last" else -3
    if images.shape[axis] not in (1, 3):
        raise ValueError("Invalid channel size: expected 3 (RGB) or 1 (Grayscale). Received "
                         f"input with shape: images.shape={images.shape}")
    if images.shape[axis] == 1:
        return images.copy()
    dtype = images.dtype if images.dtype.kind == "f" else np.dtype(config.floatx())
    weights = np.array([0.2989, 0.5870, 0.1140], dtype)  # (3,)
    gray = np.tensordot(images.astype(dtype, copy=False), weights, axes=([axis], [0]))
    return np.expand_dims(gray, axis).astype(images.dtype, copy=False)


def _check_float(images):
    if images.dtype.kind != "f":
        raise ValueError("Invalid images dtype: expected float dtype. "
                         f"Received: images.dtype={images.dtype}")


def rgb_to_hsv(images, data_format=None):
    """Hue, saturation and value in [0, 1] from RGB in [0, 1] (tf.image.rgb_to_hsv's kernel).

    Formula (per pixel; v the largest of r, g, b, m the smallest, d = v - m):
        s = d / v (0 where v = 0);  n = 1 / (6 d)
        h = n (g - b)          if r is the largest
            n (b - r) + 2/6    if g is
            n (r - g) + 4/6    otherwise;   h = 0 where d = 0;  h += 1 where h < 0
    """
    images = convert_to_tensor(images)
    data_format = _data_format(data_format)
    _check_rank(images)
    _check_float(images)
    x = _batch(images, data_format)  # (N,H,W,3)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]  # (N,H,W) each
    v = x.max(axis=-1)
    d = v - x.min(axis=-1)
    one = x.dtype.type(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(v > 0, d / v, 0).astype(x.dtype)
        n = one / (x.dtype.type(6) * d)
        h = np.where(r == v, n * (g - b), np.where(g == v, n * (b - r) + x.dtype.type(2 / 6),
                                                   n * (r - g) + x.dtype.type(4 / 6)))
    h = np.where(d > 0, h, 0).astype(x.dtype)
    h = np.where(h < 0, h + one, h)
    return _unbatch(np.stack([h, s, v], axis=-1), images, data_format)


def hsv_to_rgb(images, data_format=None):
    """RGB from hue, saturation and value (tf.image.hsv_to_rgb's kernel).

    Formula (per pixel, h6 = 6 h):
        r' = clip(|h6 - 3| - 1, 0, 1);  g' = clip(2 - |h6 - 2|, 0, 1)
        b' = clip(2 - |h6 - 4|, 0, 1)
        rgb = ((1 - s) + s * rgb') * v
    """
    images = convert_to_tensor(images)
    data_format = _data_format(data_format)
    _check_rank(images)
    _check_float(images)
    x = _batch(images, data_format)  # (N,H,W,3)
    h, s, v = x[..., 0:1], x[..., 1:2], x[..., 2:3]  # (N,H,W,1) each
    t = x.dtype.type
    h6 = h * t(6)
    primes = np.concatenate([np.abs(h6 - t(3)) - t(1), t(2) - np.abs(h6 - t(2)),
                             t(2) - np.abs(h6 - t(4))], axis=-1)  # (N,H,W,3)
    rgb = ((t(1) - s) + s * np.clip(primes, t(0), t(1))) * v
    return _unbatch(rgb, images, data_format)


# -- resizing -----------------------------------------------------------------------------------
def _aspect_box(height, width, target_height, target_width, grow):
    """Keras's crop (grow=False) or pad (grow=True) box of the target's aspect ratio, computed
    in float32 and truncated, as keras/src/backend/tensorflow/image.py::resize."""
    box_h = int(np.float32(width * target_height) / np.float32(target_width))
    box_w = int(np.float32(height * target_width) / np.float32(target_height))
    if grow:
        return max(height, box_h), max(width, box_w)
    return max(min(height, box_h), 1), max(min(width, box_w), 1)


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Images resized to size = (height, width), as tf.image.resize (half-pixel centres).

    Args:
        images: (H, W, C) or (N, H, W, C) (channels first: (C, H, W) or (N, C, H, W)).
        size: (height, width) of the result.
        interpolation: "bilinear" or "nearest" (Keras's others are refused by name).
        crop_to_aspect_ratio / pad_to_aspect_ratio: first cut (or pad with fill_value) the
            images to size's aspect ratio, centred, so that nothing is distorted.

    Formula (bilinear, each output row i, as each column):
        s = (i + 0.5) * H / h - 0.5;  y = lerp(x[floor(s)], x[ceil(s)], s - floor(s))

    The result has the images' dtype: "bilinear" computes in float32 (TensorFlow's kernel),
    then Keras casts back, rounding integers to the nearest (ties to even) and saturating.
    crop_to_aspect_ratio first cuts the largest centred box of the target's aspect ratio;
    pad_to_aspect_ratio first pads with fill_value to it. minidl has "bilinear" and "nearest"
    without antialias; the other interpolations and antialias=True are refused by name.
    """
    from minidl.layers.image_sampling import resize as resample

    data_format = _data_format(data_format)
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if fill_mode != "constant":
        raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` is "
                         f"supported. Received: fill_mode={fill_mode}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be "
                         "`True`.")
    if not len(size) == 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size}")
    images = convert_to_tensor(images)
    _check_rank(images)
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError("minidl's resize has interpolation 'bilinear' and 'nearest' only. "
                         f"Received: interpolation={interpolation}")
    if antialias:
        raise ValueError("minidl's resize has no antialiasing filter (TensorFlow's "
                         f"scale_and_translate kernels). Received: antialias={antialias}")
    x = _batch(images, data_format)  # (N,H,W,C)
    n, height, width, c = x.shape
    h, w = size
    if crop_to_aspect_ratio:
        box_h, box_w = _aspect_box(height, width, h, w, grow=False)
        top, left = int((height - box_h) / 2), int((width - box_w) / 2)
        x = x[:, top:top + box_h, left:left + box_w]  # (N,box_h,box_w,C)
    elif pad_to_aspect_ratio:
        box_h, box_w = _aspect_box(height, width, h, w, grow=True)
        top, left = int((box_h - height) / 2), int((box_w - width) / 2)
        x = np.pad(x, ((0, 0), (top, top), (left, left), (0, 0)),
                   constant_values=x.dtype.type(fill_value))  # Keras pads both sides alike
    if interpolation == "bilinear":
        x = x.astype(np.float32, copy=False)  # TensorFlow's ResizeBilinear gives float32
    y, _ = resample(x, (h, w), interpolation)  # (N,h,w,C); the taps are for a backward
    if y.dtype != images.dtype and images.dtype.kind in "iu":  # keras/src/ops/image.py::_resize
        limits = np.iinfo(images.dtype)
        y = np.clip(np.round(y), limits.min, limits.max)
    return _unbatch(y.astype(images.dtype, copy=False), images, data_format)


# -- padding and cropping -----------------------------------------------------------------------
def _one_missing(names, values_):
    if list(values_).count(None) != 1:
        received = ", ".join(f"{n}={v}" for n, v in zip(names, values_))
        raise ValueError(f"Must specify exactly two of {', '.join(names)}. Received: {received}")


def _height_width(images, data_format):
    return images.shape[-3:-1] if data_format == "channels_last" else images.shape[-2:]


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    """Images with rows and columns of zeros around them; two of each (top, bottom, target
    height) and (left, right, target width) are given, the third follows."""
    data_format = _data_format(data_format)
    images = convert_to_tensor(images)
    if images.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 (batch "
                         f"of images). Received: images.shape={images.shape}")
    _one_missing(("top_padding", "bottom_padding", "target_height"),
                 (top_padding, bottom_padding, target_height))
    _one_missing(("left_padding", "right_padding", "target_width"),
                 (left_padding, right_padding, target_width))
    for name, value in (("top_padding", top_padding), ("bottom_padding", bottom_padding),
                        ("target_height", target_height), ("left_padding", left_padding),
                        ("right_padding", right_padding), ("target_width", target_width)):
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    height, width = _height_width(images, data_format)
    top = target_height - bottom_padding - height if top_padding is None else top_padding
    bottom = target_height - top - height if bottom_padding is None else bottom_padding
    left = target_width - right_padding - width if left_padding is None else left_padding
    right = target_width - left - width if right_padding is None else right_padding
    for name, value in (("top_padding", top), ("left_padding", left),
                        ("right_padding", right), ("bottom_padding", bottom)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    pads = [(top, bottom), (left, right)]
    pads = pads + [(0, 0)] if data_format == "channels_last" else [(0, 0)] + pads
    return np.pad(images, [(0, 0)] * (images.ndim - 3) + pads)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """The window of images that two of (top, bottom, target height) and two of (left, right,
    target width) describe."""
    data_format = _data_format(data_format)
    images = convert_to_tensor(images)
    if images.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 (batch "
                         f"of images). Received: images.shape={images.shape}")
    _one_missing(("top_cropping", "bottom_cropping", "target_height"),
                 (top_cropping, bottom_cropping, target_height))
    _one_missing(("left_cropping", "right_cropping", "target_width"),
                 (left_cropping, right_cropping, target_width))
    height, width = _height_width(images, data_format)
    top = height - target_height - bottom_cropping if top_cropping is None else top_cropping
    h = height - bottom_cropping - top if target_height is None else target_height
    left = width - target_width - right_cropping if left_cropping is None else left_cropping
    w = width - right_cropping - left if target_width is None else target_width
    for name, value in (("top_cropping", top), ("target_height", h),
                        ("left_cropping", left), ("target_width", w)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    if top + h > height or left + w > width:  # Keras's slice fails in TensorFlow instead
        raise ValueError("The crop reaches outside the images: top_cropping + target_height "
                         f"must be <= {height} and left_cropping + target_width <= {width}. "
                         f"Received: top_cropping={top}, target_height={h}, "
                         f"left_cropping={left}, target_width={w}")
    window = (slice(top, top + h), slice(left, left + w))
    window = window + (slice(None),) if data_format == "channels_last" else (slice(None),) + window
    return images[(slice(None),) * (images.ndim - 3) + window].copy()


# -- patches ------------------------------------------------------------------------------------
def _patches(volumes, size, strides, dilation_rate, padding, data_format, rank):
    """Every window of `size` as a vector, in the kernel's (p, q, c) order: Keras's
    convolution with an identity kernel, which is im2col (layers/convolutional.py)."""
    from minidl.layers.convolutional import (im2col, padding_amounts, standardize_tuple,
                                             zero_pad)

    volumes = convert_to_tensor(volumes)
    data_format = _data_format(data_format)
    size = standardize_tuple(size, rank, "size")
    strides = standardize_tuple(strides or size, rank, "strides")
    dilation = standardize_tuple(dilation_rate, rank, "dilation_rate")
    single = volumes.ndim == rank + 1
    x = volumes[None] if single else volumes
    x = x if data_format == "channels_last" else np.moveaxis(x, 1, -1)  # (N,H,W,C)
    pads = padding_amounts(x.shape[1:-1], size, strides, padding.lower(), dilation)
    padded = zero_pad(x, pads)
    cols = im2col(padded, size, strides, dilation)  # (N*HO*WO, PH*PW*C)
    out = tuple((n - (k - 1) * d - 1) // s + 1 for n, k, d, s in
                zip(padded.shape[1:-1], size, dilation, strides))
    y = cols.reshape((len(x),) + out + (-1,))  # (N,HO,WO,PH*PW*C)
    y = y if data_format == "channels_last" else np.moveaxis(y, -1, 1)
    return y[0] if single else y


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """Each size[0] x size[1] patch of the images flattened into the channel axis:
    (N,H,W,C) -> (N,HO,WO,PH*PW*C)."""
    if not isinstance(size, int) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    if not isinstance(size, int) and len(size) != 2:
        raise ValueError("Invalid `size` argument. Expected a tuple of length 2 or 3. "
                         f"Received: size={size} with length {len(size)}")
    return _patches(images, size, strides, dilation_rate, padding, data_format, rank=2)


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                       data_format=None):
    """The same for volumes: (N,D,H,W,C) -> (N,DO,HO,WO,PD*PH*PW*C)."""
    return _patches(volumes, size, strides, dilation_rate, padding, data_format, rank=3)


# -- resampling at given points -------------------------------------------------------------------
def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """Each output pixel read from the point the 8-number transform maps it to
    (ImageProjectiveTransformV3: layers/image_sampling.py's affine_transform).

    Args:
        images: (H, W, C) or (N, H, W, C), channels first or last.
        transform: [a0, a1, a2, b0, b1, b2, c0, c1], or one such row per image.
        interpolation: "nearest" or "bilinear"; fill_mode: "constant" (fill_value),
            "nearest", "wrap" or "reflect": what a read outside the image gives.

    Formula: k = c0*j + c1*i + 1;  y[i, j] = x[(b0*j + b1*i + b2) / k, (a0*j + a1*i + a2) / k]
    """
    from minidl.layers.image_sampling import affine_transform as resample

    data_format = _data_format(data_format)
    if interpolation not in AFFINE_TRANSFORM_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{AFFINE_TRANSFORM_INTERPOLATIONS}. Received: "
                         f"interpolation={interpolation}")
    if fill_mode not in AFFINE_TRANSFORM_FILL_MODES:
        raise ValueError("Invalid value for argument `fill_mode`. Expected of one "
                         f"{AFFINE_TRANSFORM_FILL_MODES}. Received: fill_mode={fill_mode}")
    images, transform = convert_to_tensor(images), convert_to_tensor(transform)
    _check_rank(images)
    if transform.ndim not in (1, 2):
        raise ValueError("Invalid transform rank: expected rank 1 (single transform) or rank 2 "
                         "(batch of transforms). Received input with shape: "
                         f"transform.shape={transform.shape}")
    y, _ = resample(_batch(images, data_format), transform, interpolation, fill_mode,
                    fill_value)  # (N,H,W,C)
    return _unbatch(y, images, data_format)


def _fixed_coordinates(coords, size, fill_mode):
    """Indices outside [0, size) brought inside per fill_mode; and where they were valid."""
    if fill_mode == "constant":
        return np.clip(coords, 0, size - 1), (coords >= 0) & (coords < size)
    if fill_mode == "nearest":
        return np.clip(coords, 0, size - 1), True
    if fill_mode == "wrap":
        return np.mod(coords, size), True
    coords = np.abs(coords)  # mirror and reflect (Keras's TensorFlow formulas)
    mod = np.mod(coords, 2 * size)
    under = mod < size
    coords = np.where(under, mod, 2 * size - mod)
    if fill_mode == "reflect":
        coords = np.where(under, coords, coords - 1)
    return coords, True


def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """inputs read at fractional coordinates (one row of coordinates per input axis).

    Args:
        inputs: an array of any rank R.
        coordinates: (R, ...): for each output point, its coordinate on every input axis.
        order: 0 (the nearest value) or 1 (linear interpolation).
        fill_mode: "constant" (fill_value), "nearest", "wrap", "mirror" or "reflect".

    Formula (order 1; order 0 rounds to the nearest index, weight 1):
        for each axis: i0 = floor(c), i1 = i0 + 1, weights 1 - (c - i0) and c - i0
        y = sum over the 2**rank corners of prod(weights) * inputs[corner]
    Corners outside the input follow fill_mode ("constant": fill_value).
    """
    x = convert_to_tensor(inputs)
    coordinates = convert_to_tensor(coordinates)
    if coordinates.shape[0] != x.ndim:
        raise ValueError("First dim of `coordinates` must be the same as the rank of `inputs`. "
                         f"Received inputs with shape: {x.shape} and coordinate leading dim of "
                         f"{coordinates.shape[0]}")
    if coordinates.ndim < 2:
        raise ValueError("Invalid coordinates rank: expected at least rank 2. Received input "
                         f"with shape: {coordinates.shape}")
    if fill_mode not in MAP_COORDINATES_FILL_MODES:
        raise ValueError("Invalid value for argument `fill_mode`. Expected one of "
                         f"{set(MAP_COORDINATES_FILL_MODES)}. Received: fill_mode={fill_mode}")
    if order not in (0, 1):
        raise NotImplementedError("map_coordinates currently requires order<=1")
    corners_per_axis = []
    for c, size in zip(coordinates, x.shape):
        if order == 0:
            c = c if c.dtype.kind in "iu" else np.round(c)
            nodes = [(c.astype(np.int64), c.dtype.type(1) if c.dtype.kind == "f" else 1)]
        else:
            lower = np.floor(c)
            upper_weight = c - lower
            nodes = [(lower.astype(np.int64), 1 - upper_weight),
                     (lower.astype(np.int64) + 1, upper_weight)]
        corners_per_axis.append([(*_fixed_coordinates(i, size, fill_mode), w) for i, w in nodes])
    result = 0
    for corner in itertools.product(*corners_per_axis):
        indices, valid, weights = zip(*corner)
        value = x[tuple(indices)]
        dtype = np.result_type(weights[0])
        value = value.astype(dtype) if dtype.kind == "f" else value
        if fill_mode == "constant":
            value = np.where(np.logical_and.reduce(valid), value, np.asarray(fill_value, dtype))
        weight = weights[0]
        for w in weights[1:]:
            weight = weight * w
        result = result + weight * value
    result = np.asarray(result)
    if x.dtype.kind in "iu":
        result = np.round(result)
    return result.astype(x.dtype)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Each channel convolved ("same" padding) with a normalized Gaussian kernel.

    Formula: g(t) = exp(-0.5 (t / sigma)**2), t = 0..K-1 minus (K - 1) / 2, g /= sum(g);
             kernel = outer(g_y, g_x)   (Keras's: g_x from kernel_size[0] and sigma[0])
    """
    from minidl.ops.nn_windows import depthwise_conv

    images = convert_to_tensor(images)
    data_format = _data_format(data_format)
    _check_rank(images)
    dtype = images.dtype

    def gaussian(size, s):
        t = np.arange(size, dtype=dtype) - dtype.type((size - 1) / 2)
        g = np.exp(dtype.type(-0.5) * (t / dtype.type(s)) ** 2)
        return g / g.sum()
    kernel = np.multiply.outer(gaussian(kernel_size[1], sigma[1]),
                               gaussian(kernel_size[0], sigma[0]))  # (K1,K0)
    x = _batch(images, data_format)  # (N,H,W,C)
    kernel = np.tile(kernel.reshape(kernel_size[0], kernel_size[1], 1, 1), (1, 1, x.shape[-1], 1))
    y = depthwise_conv(x, kernel, padding="same")  # (N,H,W,C)
    return _unbatch(y, images, data_format)


def sobel_edges(images, data_format=None):
    """The vertical and horizontal Sobel responses of each channel: (N,H,W,C) -> (N,H,W,C,2).

    Formula (tf.image.sobel_edges: the images reflect-padded by one pixel, then a depthwise
    convolution with two kernels):
        dy = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]];  dx = dy's transpose
    channels_first gives (N, C, H, W, 2).
    """
    from minidl.ops.nn_windows import depthwise_conv

    images = convert_to_tensor(images)
    x = images if data_format != "channels_first" else images.transpose(0, 2, 3, 1)
    dy = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], x.dtype)  # (3,3)
    kernels = np.stack([dy, dy.T], axis=-1)[:, :, None, :]  # (3,3,1,2)
    kernels = np.tile(kernels, (1, 1, x.shape[-1], 1))  # (3,3,C,2)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")  # (N,H+2,W+2,C)
    edges = depthwise_conv(padded, kernels).reshape(x.shape + (2,))  # (N,H,W,C,2)
    return edges if data_format != "channels_first" else edges.transpose(0, 3, 1, 2, 4)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """The structural similarity of two images (batches), averaged over pixels and channels.

    Formula (each channel; mu, sigma**2, sigma12: Gaussian-weighted local means, variances and
    covariance over filter_size x filter_size windows, "valid" windows only):
        c1 = (k1 * max_val)**2;  c2 = (k2 * max_val)**2
        ssim = mean((2 mu1 mu2 + c1) (2 sigma12 + c2) / ((mu1**2 + mu2**2 + c1)
                                                         (sigma1**2 + sigma2**2 + c2)))
    Keras's own formula (keras/src/ops/image.py::_ssim), not tf.image.ssim's.
    """
    from minidl.ops.nn_windows import conv

    data_format = _data_format(data_format)
    image1, image2 = convert_to_tensor(image1), convert_to_tensor(image2)
    dtype = image1.dtype if image1.dtype.kind == "f" else np.dtype(config.floatx())
    for name, image in (("image1", image1), ("image2", image2)):
        if image.ndim not in (3, 4):
            raise ValueError(f"Invalid {name} rank: expected rank 3 (single image) or rank 4 "
                             f"(batch of images). Received input with shape: "
                             f"{name}.shape={image.shape}")
    a, b = [_batch(image.astype(dtype, copy=False), data_format) for image in (image1, image2)]
    n, h, w, c = a.shape
    t = np.arange(filter_size, dtype=dtype) - dtype.type((filter_size - 1) / 2.0)
    g = np.exp(-(t ** 2) / dtype.type(2.0 * filter_sigma ** 2))
    g = g / g.sum()
    kernel = np.multiply.outer(g, g).reshape(filter_size, filter_size, 1, 1)  # (K,K,1,1)
    a, b = [v.transpose(0, 3, 1, 2).reshape(-1, h, w, 1) for v in (a, b)]  # (N*C,H,W,1)

    def local_mean(v):
        return conv(v, kernel)  # (N*C,H-K+1,W-K+1,1)
    mu1, mu2 = local_mean(a), local_mean(b)
    c1, c2 = dtype.type((k1 * max_val) ** 2), dtype.type((k2 * max_val) ** 2)
    sigma1 = local_mean(a * a) - mu1 * mu1
    sigma2 = local_mean(b * b) - mu2 * mu2
    sigma12 = local_mean(a * b) - mu1 * mu2
    numerator = (2.0 * mu1 * mu2 + c1) * (2.0 * sigma12 + c2)
    denominator = (mu1 * mu1 + mu2 * mu2 + c1) * (sigma1 + sigma2 + c2)
    per_image = (numerator / denominator).mean(axis=(1, 2, 3)).reshape(n, c).mean(axis=-1)
    result = per_image if image1.ndim == 4 else per_image[0]
    return np.asarray(result).astype(image1.dtype)


def _homography(start_points, end_points):
    """The 8 numbers of the projective map taking each end point to its start point (the
    output pixel to the input point it reads), solved in float32 as Keras's.

    Formula (for each of the 4 pairs, (x, y) = end point, (u, v) = start point):
        [x, y, 1, 0, 0, 0, -u x, -u y] . t = u;   [0, 0, 0, x, y, 1, -v x, -v y] . t = v
    """
    start = np.asarray(start_points, np.float32).reshape(-1, 4, 2)  # (N,4,2)
    end = np.asarray(end_points, np.float32).reshape(-1, 4, 2)
    u, v = start[..., 0], start[..., 1]  # (N,4)
    x, y = end[..., 0], end[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows_u = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y], axis=-1)  # (N,4,8)
    rows_v = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y], axis=-1)  # (N,4,8)
    a = np.stack([rows_u, rows_v], axis=2).reshape(-1, 8, 8)  # rows u1, v1, u2, v2, ...
    b = np.stack([u, v], axis=-1).reshape(-1, 8, 1)  # (N,8,1)
    return np.linalg.solve(a, b).reshape(-1, 8)  # (N,8)


def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """Each image warped so that its 4 start points land on the 4 end points (a projective
    map, solved from the point pairs), read as affine_transform reads (constant fill).

    Args:
        start_points, end_points: (4, 2) (x, y) points, or (N, 4, 2) one set per image.
    """
    from minidl.layers.image_sampling import affine_transform as resample

    data_format = _data_format(data_format)
    if interpolation not in AFFINE_TRANSFORM_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{AFFINE_TRANSFORM_INTERPOLATIONS}. Received: "
                         f"interpolation={interpolation}")
    images = convert_to_tensor(images)
    _check_rank(images)
    start, end = np.asarray(start_points, np.float32), np.asarray(end_points, np.float32)
    for name, points in (("start_points", start), ("end_points", end)):
        if points.ndim not in (2, 3) or points.shape[-2:] != (4, 2):
            raise ValueError(f"Invalid {name} shape: expected (4,2) for a single image or "
                             f"(N,4,2) for a batch. Received shape: {points.shape}")
    if start.shape != end.shape:
        raise ValueError("start_points and end_points must have the same shape. Received "
                         f"start_points.shape={start.shape}, end_points.shape={end.shape}")
    transform = _homography(start, end)  # (N,8)
    y, _ = resample(_batch(images, data_format), transform, interpolation, "constant",
                    fill_value)  # (N,H,W,C)
    return _unbatch(y, images, data_format)
