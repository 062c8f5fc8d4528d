"""Image files and arrays, as Keras's keras/src/utils/image_utils.py.

    img = load_img("cat.jpg", target_size=(180, 180))   a PIL image, resized by Pillow
    x = img_to_array(img)                                (H, W, C) float32
    img = array_to_img(x)                                back to a PIL image (0-255 by default)
    save_img("out.png", x)                               array_to_img, then Pillow writes it
    y = smart_resize(x, (150, 150))                      centred crop to the aspect ratio, resize

Decoding, encoding, mode conversions and load_img's resize are Pillow's, imported by the
functions that need it, as Keras does (minidl itself needs NumPy only): with the same Pillow the
arrays are Keras's bit for bit. smart_resize is maths, and minidl's own: the crop box of
layers/augmentation.py and TensorFlow's resize of layers/image_sampling.py.
Shapes: H W height and width, C channels (1 grey, 3 RGB, 4 RGBA), N batch. Images are
channels-last, as everywhere in minidl.
"""
import io
import pathlib
import warnings

import numpy as np

from minidl import config
from minidl.layers.augmentation import aspect_crop_box
from minidl.layers.image_sampling import resize

f32 = np.float32
# Keras's names for Pillow's resampling filters (PIL_INTERPOLATION_METHODS), in its order
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
# tf.image.resize's methods, which smart_resize accepts by name; minidl has the first two
RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")


def _pil_image(function):
    """PIL.Image, or Keras's ImportError naming the function that needs it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"Could not import PIL.Image. The use of `{function}` requires "
                          "PIL.") from None
    return Image


def _channels_last(data_format):
    """Keras's standardize_data_format, with channels-first refused: minidl's images are
    (H, W, C) everywhere."""
    if data_format is None:
        return config.image_data_format()
    data_format = str(data_format).lower()
    if data_format not in {"channels_first", "channels_last"}:
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    if data_format != "channels_last":
        raise ValueError("minidl's images are channels-last (height, width, channels) only: "
                         "pass data_format='channels_last' (the default). Received: "
                         f"data_format={data_format!r}")
    return data_format


# -- arrays and PIL images ----------------------------------------------------------------
def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image from an array (H, W, C): "L" for C = 1, "RGB" for 3, "RGBA" for 4.

    Formula (scale=True):  x = (x - min(x)) / (max(x) - min(x)) * 255, then cut to uint8
    (no division when max == min). Unscaled grey values above 255 give a 32-bit "I" image.

    Args:
        x: the image, anything np.asarray takes.
        data_format: "channels_last" (None: config.image_data_format()).
        scale: stretch the values to [0, 255] first (Keras's default).
        dtype: the type the arithmetic runs in (None: floatx()).
    """
    _channels_last(data_format)
    dtype = config.floatx() if dtype is None else dtype
    Image = _pil_image("array_to_img")
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError("Expected image array to have rank 3 (single image). "
                         f"Got array with shape: {x.shape}")
    if scale:
        x = x - np.min(x)  # (H,W,C), a new array: the in-place steps below are on it
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:  # a 32-bit signed integer grey image: PIL's mode "I"
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def img_to_array(img, data_format=None, dtype=None):
    """The array (H, W, C) of a PIL image (a grey one gets C = 1), of `dtype` (None: floatx()).

    Any array np.asarray takes works too: rank 3 is returned as it is, rank 2 gets C = 1.
    """
    _channels_last(data_format)
    dtype = config.floatx() if dtype is None else dtype
    x = np.asarray(img, dtype=dtype)  # PIL's (width, height) image is an (H, W(, C)) array
    if x.ndim == 2:
        return x.reshape((x.shape[0], x.shape[1], 1))  # (H,W,1)
    if x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


# -- files ----------------------------------------------------------------------------------
def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write the array x (H, W, C) as an image file: array_to_img(x), then Pillow's save.

    Args:
        path: a str or pathlib.Path, or a file object (then give file_format).
        x: the image array.
        data_format: "channels_last" (None: config.image_data_format()).
        file_format: "png", "jpeg", ...; None: the path's suffix ("jpg" means "jpeg").
        scale: stretch the values to [0, 255] first, as array_to_img.
        **kwargs: passed to PIL.Image.save (quality=90, ...).
    An RGBA image saved as JPEG loses its alpha channel, with Keras's warning.
    """
    data_format = _channels_last(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.")
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Read an image file into a PIL image, converted to `color_mode` and resized by Pillow.

    keep_aspect_ratio: first the largest centred window of target_size's aspect ratio, with
    Keras's integer arithmetic (image W x H, target w x h):
        crop_h = min(H, W * h // w);  crop_w = min(W, H * w // h)
        box = ((W - crop_w) // 2, (H - crop_h) // 2) and that corner + (crop_w, crop_h)
    (smart_resize computes its window in floats: the two can differ by a pixel.)

    Args:
        path: a str, bytes or pathlib.Path, or an io.BytesIO (Keras takes no other file object).
        color_mode: "grayscale" (8-bit unless the file is 16- or 32-bit grey), "rgb" or "rgba".
        target_size: None (the file's size) or (height, width).
        interpolation: Pillow's filter for the resize: "nearest" (default), "bilinear",
            "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: crop the centre to target_size's aspect ratio before resizing.
    """
    Image = _pil_image("load_img")
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    img = _convert(img, color_mode)
    if target_size is None:
        return img
    width_height = (target_size[1], target_size[0])
    if img.size == width_height:
        return img
    filters = _pil_filters(Image)
    if interpolation not in filters:
        raise ValueError(f"Invalid interpolation method {interpolation} specified. Supported "
                         f"methods are {', '.join(filters)}")
    if not keep_aspect_ratio:
        return img.resize(width_height, filters[interpolation])
    W, H = img.size
    w, h = width_height
    crop_h, crop_w = min(H, W * h // w), min(W, H * w // h)
    left, top = (W - crop_w) // 2, (H - crop_h) // 2
    return img.resize(width_height, filters[interpolation],
                      box=[left, top, left + crop_w, top + crop_h])


def _convert(img, color_mode):
    """The image in color_mode's PIL mode; grey files of 16 or 32 bits stay as they are."""
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    if color_mode == "rgba":
        return img if img.mode == "RGBA" else img.convert("RGBA")
    if color_mode == "rgb":
        return img if img.mode == "RGB" else img.convert("RGB")
    raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')


def _pil_filters(Image):
    """Keras's interpolation names -> Pillow's filters (Image.Resampling from Pillow 9.1)."""
    resampling = getattr(Image, "Resampling", Image)
    return {name: getattr(resampling, name.upper()) for name in PIL_INTERPOLATIONS}


# -- smart_resize: the maths ------------------------------------------------------------------
def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Images resized to `size` without distorting them: the largest centred window of
    size's aspect ratio, resized to size.

    Formula (image H x W, size (h, w); Python floats, as Keras):
        crop_h = max(min(H, int(W * h / w)), 1);  crop_w = max(min(W, int(H * w / h)), 1)
        top = int((H - crop_h) / 2);  left = int((W - crop_w) / 2)
        y = resize(x[top:top + crop_h, left:left + crop_w], (h, w))   tf.image.resize
    "bilinear" reads each value as float32 (TensorFlow's kernel does) and returns float32;
    "nearest" moves values, so it keeps x's dtype, as tf.image.resize.

    Args:
        x: one image (H, W, C) or a batch (N, H, W, C): an array or nested lists.
        size: (height, width) of the result.
        interpolation: "bilinear" (default) or "nearest". TensorFlow's "bicubic", "area",
            "lanczos3" and "lanczos5" are not in minidl and are refused by name.
        data_format: "channels_last" (None means it too, config.image_data_format()).

    Returns:
        A NumPy array (h, w, C) or (N, h, w, C).
    """
    if kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {list(kwargs)}")
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
        x = x.astype(config.floatx()) if x.dtype == np.float64 else x  # Keras: floatx tensors
    if x.ndim not in (3, 4):
        raise ValueError("Expected an image array with shape `(height, width, channels)`, or "
                         "`(batch_size, height, width, channels)`, but got input with "
                         f"incorrect rank, of shape {x.shape}.")
    _channels_last(data_format)
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError("Invalid value for argument `interpolation`. Expected of one "
                         f"{RESIZE_INTERPOLATIONS}. Received: interpolation={interpolation}")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError("minidl's smart_resize has interpolation 'bilinear' and 'nearest' "
                         f"only. Received: interpolation={interpolation!r}")
    images = x if x.ndim == 4 else x[None]  # (N,H,W,C)
    h, w = size
    top, left, crop_h, crop_w = aspect_crop_box(images.shape[1], images.shape[2], h, w)
    window = images[:, top:top + crop_h, left:left + crop_w]  # (N,crop_h,crop_w,C)
    if interpolation == "bilinear":
        window = window.astype(f32, copy=False)
    y, _ = resize(window, (h, w), interpolation)  # (N,h,w,C); the taps are for backward
    return y if x.ndim == 4 else y[0]
