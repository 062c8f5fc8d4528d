"""What Keras's two regression tables (Boston Housing, California Housing) share: the check of
`test_split`, the check of the arrays read, and the seeded shuffle before the split.

Source: keras/src/datasets/boston_housing.py and california_housing.py (the same code).
"""
import numbers

import numpy as np

from minidl.datasets import files


def check_test_split(test_split):
    """A fraction in [0, 1), or Keras's error."""
    valid = isinstance(test_split, numbers.Real) and not isinstance(test_split, bool)
    if not valid or not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         "and 1 (exclusive of 1).")


def check_table(x, y, path, columns):
    """Reject arrays that are not numbers, x (N, columns) beside y (N,)."""
    numeric = x.dtype.kind in "iuf" and y.dtype.kind in "iuf"
    if not numeric or x.ndim != 2 or y.shape != x.shape[:1]:
        raise files.DatasetCorruptError(
            f"{path} has malformed arrays: expected numbers, x (N, {columns}) and y (N,). "
            f"Received: x {x.dtype}{x.shape}, y {y.dtype}{y.shape}")
    return x, y


def shuffled_split(x, y, test_split, seed):
    """The rows shuffled by np.random.RandomState(seed), the last test_split of them for test.

    Returns:
        (x_train, y_train), (x_test, y_test).
    """
    indices = np.arange(len(x))  # (N,)
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
