"""Datasets with the Keras loader API: `(x_train, y_train), (x_test, y_test) = mnist.load_data()`.

- `mnist`, `fashion_mnist`: the Keras files, found locally (minidl's cache, Keras's cache,
  system packages) or downloaded once and checked against their SHA-256.
- `digits`: scikit-learn's bundled 8x8 digits, no download.
- `synthetic`: tiny generated datasets for first experiments.
"""
from minidl.datasets import digits, fashion_mnist, mnist, synthetic
from minidl.datasets.files import DatasetCorruptError, DatasetNotFoundError

__all__ = [
    "mnist",
    "fashion_mnist",
    "digits",
    "synthetic",
    "DatasetNotFoundError",
    "DatasetCorruptError",
]
