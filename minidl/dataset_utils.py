"""The dataset the dataset-making utilities return: batches read by index, as a PyDataset.

Keras's timeseries_dataset_from_array, text_dataset_from_directory and
image_dataset_from_directory return a tf.data.Dataset of batches. minidl has no TensorFlow:
they return a BatchDataset, a PyDataset that programs use the way they use the tf.data one:

    model.fit(train_ds, validation_data=val_ds, epochs=10)
    for inputs, targets in train_ds: ...          NumPy arrays, one batch at a time
    len(train_ds)                                 the number of batches
    train_ds.map(lambda x, y: x)                  fn on each batch's arrays
    train_ds.take(2), .prefetch(n), .cache()      the first 2 batches; nothing to do

A BatchDataset holds `count` elements and a function `load(indices)` that reads the elements at
those indices as one batch (a tuple of arrays with a leading axis, or one array). Batch i is
load(order[i * B:(i + 1) * B]): nothing is read before it is asked for.
Shapes: N elements, B batch size.
"""
import math
import os

import numpy as np

from minidl import rng
from minidl.py_dataset import PyDataset

# tf.data methods the published programs do not chain on these datasets: refused by name
_NOT_IN_MINIDL = ("batch", "shuffle", "repeat", "filter", "skip", "concatenate", "zip",
                  "rebatch", "padded_batch", "interleave", "flat_map", "window", "apply",
                  "with_options", "enumerate", "shard", "bucket_by_sequence_length")


def check_format(format):
    """Keras's `format` argument of the dataset makers: "tf" (minidl's BatchDataset) only."""
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if format != "tf":
        raise ValueError('minidl has no Grain datasets: pass format="tf" (the default; minidl '
                         f"returns a BatchDataset). Received: format={format!r}")


def buffer_shuffle(count, buffer_size, generator):
    """The element order of tf.data's `shuffle(buffer_size)` over elements 0 .. count-1.

    Formula: fill a buffer with the first buffer_size elements; then, until it is empty,
    emit a uniformly drawn element of the buffer and put the next element in its place.
    (The draws are minidl's generator's, not TensorFlow's: same kind of order, not the same.)
    """
    buffer = list(range(min(buffer_size, count)))
    following, order = len(buffer), []
    while buffer:
        j = int(generator.integers(len(buffer)))
        order.append(buffer[j])
        if following < count:
            buffer[j] = following
            following += 1
        else:
            buffer[j] = buffer[-1]
            buffer.pop()
    return np.array(order, dtype=np.int64)  # (N,)


class BatchDataset(PyDataset):
    """Batches of `batch_size` elements (the last one may be shorter), read by `load`.

    Args:
        count: the number of elements N.
        load: function(indices) -> the elements at `indices` (an int array) as one batch:
            a tuple of arrays, each with a leading axis of len(indices), or one such array.
        batch_size: elements per batch; None yields single elements (no batch axis), as Keras.
        shuffle_buffer: None for the elements in order; else tf.data's buffer size, and every
            pass (every `for` loop over the dataset, every epoch of fit) draws a new order.
        seed: seed of this dataset's own generator for that order (None: minidl's generator).
    `class_names` and `file_paths` are set by the utilities that have them, as Keras's.
    """

    def __init__(self, count, load, batch_size, shuffle_buffer=None, seed=None):
        super().__init__()
        self._count, self._load, self._batch_size = count, load, batch_size
        self._shuffle_buffer, self._maps, self._limit = shuffle_buffer, (), None
        self._generator = rng.generator() if seed is None else np.random.default_rng(seed)
        self._order = np.arange(count)  # (N,)
        self._new_order()

    def _new_order(self):
        if self._shuffle_buffer is not None:
            self._order = buffer_shuffle(self._count, self._shuffle_buffer, self._generator)

    def _copy(self, **changes):
        ds = object.__new__(type(self))
        ds.__dict__.update(self.__dict__)
        ds.__dict__.update(changes)
        return ds

    # -- PyDataset ------------------------------------------------------------------------------
    def __len__(self):
        B = self._batch_size
        n = self._count if B is None else math.ceil(self._count / B)
        return n if self._limit is None else min(n, self._limit)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for a dataset of {len(self)} "
                             "batches.")
        if self._batch_size is None:
            item = self._load(self._order[index:index + 1])
            item = tuple(a[0] for a in item) if isinstance(item, tuple) else item[0]
        else:
            B = self._batch_size
            item = self._load(self._order[index * B:(index + 1) * B])
        for fn in self._maps:
            item = fn(*item) if isinstance(item, tuple) else fn(item)
        return item

    def __iter__(self):
        """One pass over the batches (a new order first, if shuffled), as iterating tf.data."""
        self._new_order()
        for index in range(len(self)):
            yield self[index]

    def on_epoch_end(self):
        """fit's next epoch sees a new order, as tf.data reshuffles for every iteration."""
        self._new_order()

    # -- the tf.data methods programs chain on these datasets -----------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A dataset of map_func(*batch) for each batch (map_func(batch) for a lone array)."""
        return self._copy(_maps=self._maps + (map_func,))

    def take(self, count, name=None):
        """The first `count` batches (all of them for -1)."""
        return self._copy(_limit=None if count == -1 else max(int(count), 0))

    def prefetch(self, buffer_size, name=None):
        """The dataset itself: minidl reads each batch when it is asked for."""
        return self

    def cache(self, filename="", name=None):
        """The dataset itself: minidl keeps no cache."""
        return self

    def unbatch(self):
        """The same elements one at a time (before any `map`, whose batches minidl would have
        to split; then it is refused)."""
        if self._maps:
            raise NotImplementedError("minidl's unbatch() works on a dataset before `map`: "
                                      "call unbatch() first, then map().")
        if self._limit is not None:
            raise NotImplementedError("minidl's unbatch() works on a dataset before `take`: "
                                      "call unbatch() first, then take().")
        return self._copy(_batch_size=None)

    def as_numpy_iterator(self):
        """The batches as NumPy arrays: they already are."""
        return iter(self)

    def __getattr__(self, name):
        if name in _NOT_IN_MINIDL:
            raise NotImplementedError(
                f"minidl's datasets have map, take, prefetch, cache, unbatch and "
                f"as_numpy_iterator of tf.data.Dataset's methods, not `{name}`. "
                "Write a PyDataset of your own for other pipelines.")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


# ---------------------------------------------------------------------------------------------
# Files in class folders: Keras's keras/src/utils/dataset_utils.py, for the text and image makers
# ---------------------------------------------------------------------------------------------

def check_validation_split_arg(validation_split, subset, shuffle, seed):
    """Keras's checks of validation_split, subset, shuffle and seed, with its messages."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide "
                         "a `seed` argument, to make sure that there is no overlap between the "
                         "training and validation subset.")


def check_labels_arguments(labels, label_mode, class_names, what):
    """Keras's checks of labels and label_mode (what: "text" or "image")."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            samples = "text samples" if what == "text" else "images"
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size "
                f"as the number of {what} files in the target directory. If you wish to infer "
                "the labels from the subdirectory names in the target directory, pass "
                '`labels="inferred"`. If you wish to get a dataset that only contains '
                f"{samples} (no labels), pass `labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", '
                         f"or None. Received: label_mode={label_mode}")


def _valid_files(directory, follow_links, formats):
    """(folder, file name) of every file with an allowed suffix, folders and names sorted."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda walked: walked[0]):
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                yield root, fname


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, verbose=True):
    """The files under `directory` with their labels, as Keras's index_directory.

    labels="inferred": one class per subfolder (sorted by name, or in class_names' order),
    label = the folder's index; each folder's files are walked recursively in sorted order,
    folder after folder. Otherwise every file under `directory`, with `labels` (a list, in
    that sorted order) or none. shuffle=True then permutes files and labels with
    np.random.RandomState(seed), twice from the same seed: Keras's own, reproducible, shuffle.

    Returns:
        (file_paths, labels, class_names): labels an int32 array for inferred labels, the
        list given, or None; class_names the folders, str(each distinct label), or None.
    """
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the "
                                 "subdirectories of the target directory. Expected: "
                                 f"{subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = class_names  # the order given
    else:
        subdirs = [""]  # every file under the directory itself
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` "
                                 "cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` "
                             "cannot be specified (the `class_names` will be the sorted list "
                             "of labels).")
    class_names = subdirs
    filenames, folder_labels = [], []
    for index, subdir in enumerate(subdirs):
        folder = os.path.join(directory, subdir)
        for root, fname in _valid_files(folder, follow_links, formats):
            relative = os.path.relpath(os.path.join(root, fname), folder)
            filenames.append(os.path.join(os.path.basename(folder), relative))
            folder_labels.append(index)
    if labels == "inferred":
        labels = np.array(folder_labels, dtype="int32")  # (N,)
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError("Expected the lengths of `labels` to match the number of files in "
                             f"the target directory. len(labels) is {len(labels)} while we "
                             f"found {len(filenames)} files in directory {directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = list(labels)  # shuffled below: a copy (Keras shuffles the caller's list)
    if verbose:
        print(f"Found {len(filenames)} files." if labels is None else
              f"Found {len(filenames)} files belonging to {len(class_names)} classes.")
    file_paths = [os.path.join(directory, fname) for fname in filenames]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)  # the same permutation
    return file_paths, labels, class_names


def training_or_validation_split(samples, labels, validation_split, subset):
    """The last int(validation_split * N) samples are validation, the rest training."""
    if not validation_split:
        return samples, labels
    num_val_samples = int(validation_split * len(samples))
    if subset == "training":
        print(f"Using {len(samples) - num_val_samples} files for training.")
        samples = samples[:-num_val_samples]  # Keras's slice: a split of 0 keeps nothing
        labels = None if labels is None else labels[:-num_val_samples]
    elif subset == "validation":
        print(f"Using {num_val_samples} files for validation.")
        samples = samples[-num_val_samples:]
        labels = None if labels is None else labels[-num_val_samples:]
    else:
        raise ValueError(f'`subset` must be either "training" or "validation", received: '
                         f"{subset}")
    return samples, labels


def encode_labels(labels, label_mode, num_classes):
    """Labels as Keras's dataset yields them: int32 (N,) for "int" (a list of Python ints
    becomes int32, as TensorFlow makes it), float32 (N, 1) for "binary", float32 one-hot
    (N, C) for "categorical" (tf.one_hot: a label outside [0, C) is a row of zeros)."""
    labels = np.asarray(labels)
    if labels.dtype == np.int64:
        labels = labels.astype(np.int32)
    if labels.dtype == np.float64:
        labels = labels.astype(np.float32)
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]  # (N,1)
    if label_mode == "categorical":
        return (labels[:, None] == np.arange(num_classes)[None, :]).astype(np.float32)  # (N,C)
    return labels  # (N,)
