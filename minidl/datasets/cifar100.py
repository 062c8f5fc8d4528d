"""CIFAR-100: 32x32 colour images in 100 fine classes grouped into 20 coarse ones, read from
the python version's `.tar.gz`.

The archive's folder `cifar-100-python` holds two pickled dicts, `train` (50,000 images) and
`test` (10,000), each with b"data" (one row of 3072 bytes per image: the 1024 red, then green,
then blue pixels), b"fine_labels" and b"coarse_labels". As for CIFAR-10 (cifar10.py), minidl
reads them straight from the archive, checked against its SHA-256 on every read.
"""
import io
import os
import tarfile
import zlib

import numpy as np

from minidl.datasets import files, unpickle
from minidl.datasets.cifar10 import CHANNELS, SIDE

# URL and hash as in keras/src/datasets/cifar100.py.
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # SHA-256
FNAME = "cifar-100-python.tar.gz"  # minidl's cache keeps the archive under its own name
KERAS_NAMES = ("cifar-100-python-target_archive",)  # Keras 3: get_file(fname=..., extract=True)
FOLDER = "cifar-100-python"


def candidates():
    """Where to look for the archive, in order: minidl's cache, then Keras's, under its name."""
    ours, keras = files.cache_dirs()
    return [os.path.join(ours, FNAME)] + [os.path.join(keras, name) for name in KERAS_NAMES]


def load_data(label_mode="fine"):
    """Load CIFAR-100 as `keras.datasets.cifar100.load_data()` does with "channels_last".

    Args:
        label_mode: "fine" (100 classes) or "coarse" (20 superclasses).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x uint8 (50000 or 10000, 32, 32, 3), y int64
        (N, 1), as Keras's (its labels come from a Python list).
    """
    if label_mode not in ["fine", "coarse"]:
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. Received: '
                         f"label_mode={label_mode}.")
    path = files.find_or_download(candidates(), ORIGIN, FILE_HASH, candidates()[0])
    batches = read_batches(path, f"{label_mode}_labels".encode())
    return batches["train"], batches["test"]


def read_batches(path, label_key):
    """{"train": (x, y), "test": (x, y)} from the archive at `path`."""
    wanted = {f"{FOLDER}/train": "train", f"{FOLDER}/test": "test"}
    batches = {}
    try:
        with tarfile.open(path, "r|gz") as archive:  # one pass, members in stored order
            for member in archive:
                if member.name in wanted and member.isfile():
                    source = f"{path} (member {member.name})"
                    data = io.BytesIO(archive.extractfile(member).read())
                    batches[wanted[member.name]] = read_batch(data, source, label_key)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise files.DatasetCorruptError(
            f"{path} is not a readable .tar.gz file ({e}). Delete it and load CIFAR-100 again."
        ) from e
    missing = sorted(set(wanted.values()) - set(batches))
    if missing:
        raise files.DatasetCorruptError(f"{path} is not the CIFAR-100 python archive: "
                                        f"expected {sorted(wanted)}. Missing: {missing}")
    return batches


def read_batch(f, source, label_key):
    """One pickled dict -> x (n, 32, 32, 3) uint8, y (n, 1) int64."""
    batch = unpickle.load_pickle(f, source, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise files.DatasetCorruptError(f"{source} is not a CIFAR-100 batch: expected a dict "
                                        f"with b'data' and {label_key!r}.")
    data, labels = batch[b"data"], np.asarray(batch[label_key])
    n = len(labels)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or \
            data.shape != (n, SIDE * SIDE * CHANNELS) or labels.dtype.kind not in "iu":
        raise files.DatasetCorruptError(f"{source} is malformed: expected uint8 data of shape "
                                        f"({n}, 3072) and integer labels.")
    x = data.reshape(n, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)  # (n, 32, 32, 3)
    return x, labels.astype(np.int64).reshape(n, 1)  # (n, 1)
