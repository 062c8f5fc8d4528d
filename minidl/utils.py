"""Small helpers with Keras's names: seeding, one-hot encoding, the data helpers
`normalize`, `pad_sequences` and `split_dataset`, `PyDataset` (and its old name `Sequence`;
py_dataset.py), and the image helpers `load_img`,
`img_to_array`, `array_to_img` and `save_img` (keras.utils; they live in image_utils.py), and
the dataset makers `timeseries_dataset_from_array` (timeseries_dataset.py),
`text_dataset_from_directory` (text_dataset.py) and `image_dataset_from_directory`
(image_dataset.py), and `FeatureSpace` (feature_space.py).
"""
import random

import numpy as np

from minidl import config, rng
from minidl.image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: F401
from minidl.backend import clear_session, is_keras_tensor, standardize_dtype  # noqa: F401
from minidl.file_utils import get_file  # noqa: F401
from minidl.layers.symbolic import get_source_inputs  # noqa: F401
from minidl.utils_config import Config  # noqa: F401
from minidl.data_adapters import pack_x_y_sample_weight, unpack_x_y_sample_weight  # noqa: F401
from minidl.model_visualization import plot_model  # noqa: F401
from minidl.progbar import (Progbar, disable_interactive_logging,  # noqa: F401
                            enable_interactive_logging, is_interactive_logging_enabled)
from minidl.py_dataset import PyDataset, Sequence  # noqa: F401
from minidl.image_dataset import image_dataset_from_directory  # noqa: F401
from minidl.text_dataset import text_dataset_from_directory  # noqa: F401
from minidl.timeseries_dataset import timeseries_dataset_from_array  # noqa: F401
from minidl.feature_space import FeatureSpace  # noqa: F401
from minidl.saving.object_registration import (  # noqa: F401 (keras.utils has them too)
    CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
    get_registered_object, register_keras_serializable)
from minidl.saving.serialization import (  # noqa: F401
    deserialize_keras_object, serialize_keras_object)


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator and minidl's own (weights, shuffling).

    Call it before building layers to make a script reproducible. The same seed does not give
    the numbers Keras would: Keras draws from TensorFlow's generator (see reference/ to copy
    weights across instead).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    rng.seed(seed)


def to_categorical(x, num_classes=None):
    """One-hot rows (N, C) from integer class labels (N,)."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.dtype.kind not in "iu" and not (
            labels.dtype.kind == "f" and np.array_equal(labels, np.floor(labels))):
        raise ValueError(f"Argument `x` must hold integer class labels. Received dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"Class labels must be in [0, {num_classes}). "
                         f"Received labels in [{labels.min()}, {labels.max()}]")
    out = np.zeros(labels.shape + (num_classes,), config.floatx())
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


# ---------------------------------------------------------------------------------------------
# normalize, pad_sequences, split_dataset: the data helpers Keras programs use
# ---------------------------------------------------------------------------------------------

def normalize(x, axis=-1, order=2):
    """Divide `x` by its `order`-norm along `axis`, as `keras.utils.normalize` does for NumPy.

    Formula:
        norm = ||x||_order along axis  (0 replaced by 1);  x / norm

    Keras's NumPy path is copied: norms from `np.linalg.norm(x, order, axis)`, a zero norm
    left as 1, the input dtype kept (integers give float64), and `axis=None` dividing by the
    norm of the whole array. Two places part from Keras 3.15 (keras/src/utils/numerical_utils.py):
    Keras puts the norms back with `axis or -1`, so `axis=0` on an array of 2+ dimensions
    divides by the wrong norms (an error, or silently wrong values when the array is square);
    minidl divides along axis 0 as asked. And Keras sends input that is not a NumPy array
    (a list) down its tensor path, x * rsqrt(sum(x**2)); minidl converts it to an array.

    Args:
        x: array to normalize.
        axis: axis (or axes) along which to take the norm.
        order: order of the norm, as in `np.linalg.norm` (2: Euclidean).

    Returns:
        A new array of x's shape (a 1-D x gives (1, D), as in Keras).
    """
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    put_back = 0 if axis == 0 and x.ndim >= 2 else (axis or -1)  # Keras: `axis or -1`
    return x / np.expand_dims(norm, put_back)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad or cut sequences to one length, as `keras.utils.pad_sequences`.

    Args:
        sequences: list of N sequences (lists or arrays; items may themselves be arrays).
        maxlen: length of the result; None means the longest sequence's.
        dtype: dtype of the result ("int32", as Keras; `object` for strings).
        padding: "pre" or "post": put `value` before or after each shorter sequence.
        truncating: "pre" or "post": drop the start or the end of each longer sequence.
        value: the padding value.

    Returns:
        An array (N, maxlen) + the items' shape, of `dtype`. `maxlen=0` gives (N, 0), where
        Keras fails (its `s[-maxlen:]` is then the whole sequence).
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in ("pre", "post"):
            raise ValueError(f"Received an invalid value for `{name}`, expected 'pre' or "
                             f"'post'. Received: {name}={side!r}")
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be iterable. Received: {type(sequences).__name__}")
    lengths, item_shape = _lengths_and_item_shape(sequences)
    if maxlen is None:
        if not lengths:
            raise ValueError("`sequences` is empty: pass `maxlen` to get an array (0, maxlen).")
        maxlen = max(lengths)
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError("Received an invalid value for `maxlen`, expected a non-negative "
                         f"integer or None. Received: maxlen={maxlen!r}")
    text_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text_dtype:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")
    x = np.full((len(sequences), maxlen) + item_shape, value, dtype=dtype)  # (N, maxlen, ...)
    for i, (s, length) in enumerate(zip(sequences, lengths)):
        # Keras's s[-maxlen:], written so that maxlen=0 keeps nothing rather than everything.
        kept = s[max(length - maxlen, 0):] if truncating == "pre" else s[:maxlen]
        kept = np.asarray(kept, dtype=dtype)  # (n <= maxlen, ...)
        if len(kept) == 0:
            continue
        if kept.shape[1:] != item_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} "
                             f"is different from expected shape {item_shape}")
        if padding == "post":
            x[i, :len(kept)] = kept
        else:
            x[i, -len(kept):] = kept
    return x


def _lengths_and_item_shape(sequences):
    """Each sequence's length, and the shape of one item (from the first non-empty sequence)."""
    lengths, item_shape = [], None
    for s in sequences:
        try:
            lengths.append(len(s))
        except TypeError as e:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: "
                             f"{s}") from e
        if item_shape is None and len(s):
            item_shape = np.asarray(s).shape[1:]
    return lengths, item_shape or ()


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split a dataset into a left and a right part (e.g. train and test), as Keras does.

    `keras.utils.split_dataset` returns two tf.data.Datasets; minidl has no tf.data and returns
    the same rows, in the same order, as NumPy arrays: an array for an array, a tuple of
    arrays for a list or tuple of arrays, so that
    `(x_train, y_train), (x_test, y_test) = split_dataset((x, y), left_size=0.8)`.

    Sizes follow Keras (keras/src/utils/dataset_utils.py): an int is a number of rows, a
    float a fraction of them rounded with Python's `round`; a missing size is the complement
    of the other; the left part is the first `left_size` rows and the right part the last
    `right_size` rows, so rows in neither are dropped. With `shuffle=True`, the rows are
    shuffled first by Python's `random` seeded with `seed`, which reseeds Python's global
    generator exactly as Keras does (`seed=None` draws a seed from it first).

    Args:
        dataset: an array, or a list or tuple of arrays with the same number of rows.
        left_size: rows (int) or fraction (float in (0, 1)) for the left part, or None.
        right_size: rows (int) or fraction (float in (0, 1)) for the right part, or None.
        shuffle: whether to shuffle the rows before splitting.
        seed: seed for the shuffle.

    Returns:
        `(left, right)`, each an array or a tuple of arrays.
    """
    arrays = _dataset_arrays(dataset)
    total = len(arrays[0])
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    left_size, right_size = _split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.seed(seed)
        random.shuffle(order)
    left, right = order[:left_size], order[-right_size:]

    def rows(indices):
        """The rows at `indices`, in the dataset's structure."""
        picked = tuple(a[indices] for a in arrays)
        return picked[0] if isinstance(dataset, np.ndarray) else picked

    return rows(left), rows(right)


def _dataset_arrays(dataset):
    """The dataset's arrays as a list, after Keras's checks: arrays, the same number of rows."""
    if isinstance(dataset, np.ndarray):
        arrays = [dataset]
    elif isinstance(dataset, (list, tuple)):
        kind = type(dataset).__name__
        if not dataset:
            raise ValueError(f"Received an empty {kind} dataset. "
                             f"Please provide a non-empty {kind} of arrays.")
        for i, element in enumerate(dataset):
            if not isinstance(element, np.ndarray):
                raise ValueError(f"Expected a {kind} of `numpy.ndarray` objects. "
                                 f"Received: {type(element)} at index {i}.")
            if element.shape[:1] != dataset[0].shape[:1]:
                raise ValueError(f"Received a {kind} of NumPy arrays with different lengths. "
                                 f"Mismatch found at index {i}, Expected shape="
                                 f"{dataset[0].shape} Received shape={element.shape}.")
        arrays = list(dataset)
    else:
        raise TypeError("The `dataset` argument must be an array or a list/tuple of arrays. "
                        f"Received: dataset of type {type(dataset)}")
    if arrays[0].ndim == 0 or len(arrays[0]) == 0:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty "
                         "array or list/tuple of arrays.")
    return arrays


def _split_sizes(left_size, right_size, total):
    """Keras's `_rescale_dataset_split_sizes`: the two sizes as row counts, checked."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and type(size) not in (int, float):  # exactly, as Keras checks
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None. "
                            f"Received: type({name})={type(size)}.")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. "
                         "At least one of the split sizes must be non-zero.")
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if (type(size) is int and not 0 < size < total
                or type(size) is float and not 0 < size < 1):
            raise ValueError(f"`{name}` should be either a positive integer smaller than "
                             f"{total}, or a float within the range `[0, 1]`. "
                             f"Received: {name}={size}")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. "
                         "It must be less than or equal to 1.")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError("The sum of `left_size` and `right_size` should be smaller than "
                         f"the {total}. Received: left_size + right_size = {left + right} "
                         f"and total_length = {total}")
    for size, side in ((left, "left"), (right, "right")):
        if size == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split "
                             "will be empty. Adjust any of the aforementioned parameters")
    return int(left), int(right)
