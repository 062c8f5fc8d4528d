"""MNIST handwritten digits, read from the same `mnist.npz` that Keras downloads."""
import os
import zipfile
import zlib

import numpy as np

from minidl.datasets import files

# URL and hash as in keras/src/datasets/mnist.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # SHA-256
KEYS = ("x_train", "y_train", "x_test", "y_test")


def search_dirs():
    """Where to look for mnist.npz, in order: minidl's cache, then Keras's."""
    return files.cache_dirs()


def load_data(path="mnist.npz"):
    """Load MNIST: 60,000 training and 10,000 test 28x28 grayscale digits, labels 0-9.

    Args:
        path: either an existing file (used as is), or a bare file name looked up in
            `~/.minidl/datasets/` ($MINIDL_HOME), then `~/.keras/datasets/` ($KERAS_HOME),
            and downloaded into minidl's cache if neither has it.

    Returns:
        `(x_train, y_train), (x_test, y_test)`, all uint8, as in Keras: x_train (60000, 28, 28)
        with pixels 0-255, y_train (60000,), x_test (10000, 28, 28), y_test (10000,).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        if os.path.dirname(path):
            # The user named a location: a missing file there is an error, not a cache miss.
            raise files.DatasetNotFoundError(
                f"Received an invalid value for `path`: no file exists at {path!r}. Expected "
                "an existing .npz file, or a bare file name such as 'mnist.npz' to use the "
                f"cache. The file can be downloaded from {BASE_URL}mnist.npz"
            )
        path = files.get_file(
            path,
            origin=BASE_URL + "mnist.npz",
            file_hash=FILE_HASH,
            search_dirs=search_dirs(),
            download_dir=search_dirs()[0],
        )
    return _read_npz(path)


def _read_npz(path):
    """Read and check the four arrays of an mnist.npz file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [key for key in KEYS if key not in f.files]
            if missing:
                raise files.DatasetCorruptError(
                    f"{path} is not an MNIST file: expected the arrays {list(KEYS)}. "
                    f"Missing: {missing}. Received: {sorted(f.files)}"
                )
            x_train, y_train, x_test, y_test = (f[key] for key in KEYS)
    except files.DatasetCorruptError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
        # A truncated zip, a damaged member, or not an .npz at all.
        raise files.DatasetCorruptError(
            f"{path} is not a readable .npz file ({e}). Delete it and load the dataset again."
        ) from e
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.dtype != np.uint8 or y.dtype != np.uint8 or x.ndim != 3 or y.shape != x.shape[:1]:
            raise files.DatasetCorruptError(
                f"{path} has malformed {split} arrays: expected uint8 images (n, rows, cols) "
                f"and uint8 labels (n,). Received: x_{split} {x.dtype}{x.shape}, "
                f"y_{split} {y.dtype}{y.shape}"
            )
    return (x_train, y_train), (x_test, y_test)
