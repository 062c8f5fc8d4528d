"""MNIST handwritten digits, read from the same `mnist.npz` that Keras downloads."""
import zipfile
import zlib

import numpy as np

from minidl.datasets import files

# URL and hash as in keras/src/datasets/mnist.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # SHA-256
KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="mnist.npz"):
    """Load MNIST: 60,000 training and 10,000 test 28x28 grayscale digits, labels 0-9.

    Args:
        path: a bare file name, as in Keras, is looked up in `~/.minidl/datasets/`
            ($MINIDL_HOME), then `~/.keras/datasets/` ($KERAS_HOME), checked against the
            published SHA-256 on every read, and downloaded into minidl's cache if no good
            copy is found. A path with a directory part (e.g. "./mnist.npz", which Keras
            refuses) is the user's own file and is read as is, unchecked.

    Returns:
        `(x_train, y_train), (x_test, y_test)`, all uint8, as in Keras: x_train (60000, 28, 28)
        with pixels 0-255, y_train (60000,), x_test (10000, 28, 28), y_test (10000,).
    """
    return _read_npz(files.locate(path, BASE_URL + "mnist.npz", FILE_HASH))


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
