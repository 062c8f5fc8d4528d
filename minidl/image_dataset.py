"""Image files in class folders as a dataset, as Keras's keras/src/utils/image_dataset_utils.py.

    train_ds = image_dataset_from_directory("cats_vs_dogs/train", image_size=(180, 180))
    for images, labels in train_ds: ...    images (B, h, w, C) float32, labels (B,) int32

Keras decodes with TensorFlow (tf.image.decode_image) and resizes with tf.image.resize; minidl
decodes with Pillow (imported here only, as image_utils.py) and resizes with TensorFlow's
formulas (layers/image_sampling.py). Shapes: B batch size, h w image_size, C channels.
"""
import numpy as np

from minidl.dataset_utils import (BatchDataset, check_format, check_labels_arguments,
                                  check_validation_split_arg, encode_labels, index_directory,
                                  training_or_validation_split)
from minidl.image_utils import _channels_last, _pil_image, smart_resize
from minidl.layers.image_sampling import resize

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# tf.image.resize's methods, which Keras accepts; minidl has the first two
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
                  "mitchellcubic")


def decode(path, channels):
    """The image file as uint8 (H, W, channels), as tf.image.decode_image(channels=...).

    Pillow decodes; 16-bit grey is cut to 8 bits as TensorFlow does (v >> 8); colour images
    asked for as grey use Pillow's L = R*299/1000 + G*587/1000 + B*114/1000, which is within 1
    of libpng's own weights that TensorFlow uses (the one place PNG decoding is not exact).
    """
    Image = _pil_image("image_dataset_from_directory")
    with Image.open(path) as img:
        if img.format == "GIF" and channels != 3:  # TensorFlow's DecodeImage refuses these
            raise ValueError(f"channels must be 0 or 3 for GIF, got {channels} ({path})")
        if img.format == "BMP" and channels == 1:
            raise ValueError(f"`channels` must be 0, 3 or 4 for BMP, but got 1 ({path})")
        img.seek(0)  # an animated GIF: its first frame, as expand_animations=False
        if img.mode in ("I;16", "I;16B", "I"):
            img = Image.fromarray((np.asarray(img, dtype=np.int64) >> 8).astype(np.uint8), "L")
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
        x = np.asarray(img if img.mode == mode else img.convert(mode))  # (H,W(,C)) uint8
    return x.reshape(x.shape[0], x.shape[1], channels)  # (H,W,C)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf",
                                 verbose=True):
    """Batches of (images, labels) from the image files under `directory`.

    Files, labels, the seeded shuffle and the split are text_dataset_from_directory's (Keras's
    index_directory: NumPy's RandomState, copied; TensorFlow's buffer shuffle of the training
    elements drawn from minidl's generator instead). Each image is decoded, then

    Formula:
        y = resize(x, image_size)                         tf.image.resize, half-pixel centres
        crop_to_aspect_ratio: y = smart_resize(x, image_size)   centred crop, then resize
    "bilinear" gives float32 (B, h, w, C); "nearest" keeps the file's uint8, as TensorFlow.

    Args:
        directory, labels, label_mode, class_names, batch_size, shuffle, seed,
            validation_split, subset, follow_links, verbose: as text_dataset_from_directory.
        color_mode: "rgb" (C = 3), "rgba" (4) or "grayscale" (1).
        image_size: (h, w) of every image (an int: square).
        interpolation: "bilinear" or "nearest" (TensorFlow's others are refused by name).
        crop_to_aspect_ratio: crop the centre to image_size's aspect ratio before resizing.
        pad_to_aspect_ratio: refused (tf.image.resize_with_pad is not in minidl).
        data_format: "channels_last" (None: config.image_data_format()).
        format: "tf" (minidl returns a BatchDataset; it has no Grain).

    Returns:
        A BatchDataset with `class_names` and `file_paths`, or [training, validation] for
        subset="both".
    """
    check_labels_arguments(labels, label_mode, class_names, "image")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or not len(image_size) == 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of {INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation}")
    check_format(format)
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError("minidl's image_dataset_from_directory has interpolation 'bilinear' "
                         f"and 'nearest' only. Received: interpolation={interpolation!r}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be "
                         "set to `True`.")
    if pad_to_aspect_ratio:
        raise ValueError("minidl has no `pad_to_aspect_ratio` (tf.image.resize_with_pad): pass "
                         "crop_to_aspect_ratio=True or neither. Received: "
                         f"pad_to_aspect_ratio={pad_to_aspect_ratio!r}")
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    file_paths, labels, class_names = index_directory(
        directory, labels, formats=ALLOWLIST_FORMATS, class_names=class_names, shuffle=shuffle,
        seed=seed, follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")
    _channels_last(data_format)
    buffer = 8 * batch_size if batch_size is not None else 1024
    num_classes = len(class_names) if class_names else 0
    image = (channels, tuple(image_size), interpolation, crop_to_aspect_ratio)

    def dataset(subset, shuffled, which=""):
        paths, kept = training_or_validation_split(file_paths, labels, validation_split, subset)
        if not paths:
            raise ValueError(f"No {which}images found in directory {directory}. "
                             f"Allowed formats: {ALLOWLIST_FORMATS}")
        encoded = None if label_mode is None else encode_labels(kept, label_mode, num_classes)
        ds = BatchDataset(len(paths), _images_loader(paths, encoded, *image), batch_size,
                          shuffle_buffer=buffer if shuffled else None, seed=seed)
        ds.class_names, ds.file_paths = class_names, paths
        return ds

    if subset == "both":  # Keras never shuffles the validation part
        return [dataset("training", shuffle, "training "),
                dataset("validation", False, "validation ")]
    return dataset(subset, shuffle)


def load_image(path, channels, size, interpolation, crop_to_aspect_ratio):
    """One file, decoded and resized to size: (h, w, C), float32 (bilinear) or uint8."""
    x = decode(path, channels)  # (H,W,C) uint8
    if crop_to_aspect_ratio:
        return smart_resize(x, size, interpolation=interpolation)
    if interpolation == "bilinear":
        x = x.astype(np.float32)  # TensorFlow's ResizeBilinear reads float32
    y, _ = resize(x[None], size, interpolation)  # (1,h,w,C); the taps are for backward
    return y[0]


def _images_loader(paths, labels, channels, size, interpolation, crop_to_aspect_ratio):
    """load(indices) for a BatchDataset: the images (B, h, w, C) (and their labels)."""

    def load(indices):
        images = np.stack([load_image(paths[i], channels, size, interpolation,
                                      crop_to_aspect_ratio) for i in indices])  # (B,h,w,C)
        return images if labels is None else (images, labels[indices])

    return load
