"""CIFAR-10: 32x32 colour images in 10 classes, read from the python version's `.tar.gz`.

Labels: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
9 truck. The archive holds six pickled batches (`data_batch_1`..`_5`, `test_batch`) of 10,000
images each, every image a row of 3072 bytes: the 1024 red, then green, then blue pixels.
minidl reads the batches straight from the archive, checked against its SHA-256 on every
read, and extracts nothing to disk (Keras extracts them on every call).
"""
import io
import os
import tarfile
import zlib

import numpy as np

from minidl.datasets import files, unpickle

# URL and hash as in keras/src/datasets/cifar10.py.
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # SHA-256
FNAME = "cifar-10-python.tar.gz"  # minidl's cache keeps the archive under its own name
KERAS_NAMES = (
    "cifar-10-batches-py-target_archive",  # Keras 3: get_file(fname=..., extract=True)
    "cifar-10-batches-py.tar.gz",  # tf.keras and Keras 2: get_file(..., untar=True)
)
FOLDER = "cifar-10-batches-py"  # the archive's one top-level folder
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
SIDE, CHANNELS = 32, 3


def candidates():
    """Where to look for the archive, in order: minidl's cache, then Keras's, under its names."""
    ours, keras = files.cache_dirs()
    return [os.path.join(ours, FNAME)] + [os.path.join(keras, name) for name in KERAS_NAMES]


def load_data():
    """Load CIFAR-10 as `keras.datasets.cifar10.load_data()` does with "channels_last".

    Looks in `~/.minidl/datasets/` ($MINIDL_HOME), then in `~/.keras/datasets/` ($KERAS_HOME)
    under the names Keras gives the archive, and downloads into minidl's cache if no copy
    matches the published SHA-256.

    Returns:
        `(x_train, y_train), (x_test, y_test)`, all uint8, as in Keras: x_train
        (50000, 32, 32, 3) with pixels 0-255, y_train (50000, 1), x_test (10000, 32, 32, 3),
        y_test (10000, 1).
    """
    target = candidates()[0]
    path = files.find_or_download(candidates(), ORIGIN, FILE_HASH, target)
    batches = read_batches(path)
    x_train, y_train = stack([batches[name] for name in TRAIN_BATCHES])
    x_test, y_test = stack([batches[TEST_BATCH]])
    return (x_train, y_train), (x_test, y_test)


def read_batches(path):
    """The six batches of the archive at `path`, by name, as (data (n, 3072), labels (n,))."""
    wanted = {f"{FOLDER}/{name}": name for name in TRAIN_BATCHES + (TEST_BATCH,)}
    batches = {}
    try:
        with tarfile.open(path, "r|gz") as archive:  # one pass, members in stored order
            for member in archive:
                if member.name in wanted and member.isfile():
                    data = archive.extractfile(member).read()  # archive damage surfaces here
                    source = f"{path} (member {member.name})"
                    batches[wanted[member.name]] = read_batch(io.BytesIO(data), source)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:  # BadGzipFile is an OSError
        raise files.DatasetCorruptError(
            f"{path} is not a readable .tar.gz file ({e}). Delete it and load CIFAR-10 again."
        ) from e
    missing = sorted(set(wanted) - {f"{FOLDER}/{name}" for name in batches})
    if missing:
        raise files.DatasetCorruptError(
            f"{path} is not the CIFAR-10 python archive: expected the batches "
            f"{sorted(wanted)}. Missing: {missing}"
        )
    return batches


def read_batch(f, source):
    """One pickled batch (Python 2, so its strings are bytes) -> (data (n, 3072), labels (n,))."""
    batch = unpickle.load_pickle(f, source, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise files.DatasetCorruptError(
            f"{source} is not a CIFAR-10 batch: expected a dict with b'data' and b'labels'. "
            f"Received: {type(batch).__name__}"
        )
    data, labels = batch[b"data"], np.asarray(batch[b"labels"])
    n = len(labels)
    pixels = SIDE * SIDE * CHANNELS
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != (n, pixels):
        raise files.DatasetCorruptError(
            f"{source} is malformed: expected uint8 data of shape ({n}, {pixels}) for its "
            f"{n} labels. Received: {getattr(data, 'dtype', type(data).__name__)} "
            f"{getattr(data, 'shape', '')}"
        )
    integers = labels.ndim == 1 and labels.dtype.kind in "iu"
    if not integers or (n and (labels.min() < 0 or labels.max() > 255)):
        raise files.DatasetCorruptError(
            f"{source} is malformed: expected integer labels 0-255. Received: {labels.dtype} "
            f"values of shape {labels.shape}"
        )
    return data, labels


def stack(batches):
    """Batches of (data (n, 3072), labels (n,)) -> x (N, 32, 32, 3) uint8, y (N, 1) uint8."""
    total = sum(len(labels) for _, labels in batches)
    x = np.empty((total, SIDE, SIDE, CHANNELS), np.uint8)  # (N, 32, 32, 3): channels_last
    y = np.empty((total, 1), np.uint8)  # (N, 1), as Keras shapes the labels
    start = 0
    for data, labels in batches:
        n = len(labels)
        # Each row is 3 planes of 32x32: (n, 3072) -> (n, 3, 32, 32) -> (n, 32, 32, 3).
        x[start:start + n] = data.reshape(n, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)
        y[start:start + n, 0] = labels
        start += n
    return x, y
