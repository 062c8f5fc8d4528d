"""Datasets with the Keras loader API: `(x_train, y_train), (x_test, y_test) = mnist.load_data()`.

- `mnist`, `fashion_mnist`, `cifar10`, `cifar100`, `imdb`, `reuters`, `boston_housing`,
  `california_housing`: the files Keras
  uses, found locally (minidl's cache, Keras's cache, system packages) or downloaded once,
  and checked against their published hash on every read; the same outputs as Keras's loaders.
- `digits`: scikit-learn's bundled 8x8 digits, no download.
- `synthetic`: tiny generated datasets for first experiments.

No code is ever run from a dataset file: pickled data (IMDB's and Reuters' ragged arrays,
CIFAR-10's batches) is read by `unpickle.RestrictedUnpickler`, which rebuilds NumPy arrays
and nothing else.
"""
from minidl.datasets import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    digits,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
    synthetic,
)
from minidl.datasets.files import DatasetCorruptError, DatasetNotFoundError
from minidl.datasets.unpickle import UnsafePickleError

__all__ = [
    "mnist",
    "fashion_mnist",
    "cifar10",
    "imdb",
    "reuters",
    "boston_housing",
    "california_housing",
    "cifar100",
    "digits",
    "synthetic",
    "DatasetNotFoundError",
    "DatasetCorruptError",
    "UnsafePickleError",
]
