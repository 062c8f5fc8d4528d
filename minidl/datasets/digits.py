"""scikit-learn's bundled 8x8 handwritten digits (1,797 images), split like the Keras loaders.

Nothing is downloaded: the data ships inside scikit-learn, which this loader imports lazily
(minidl itself needs only NumPy).
"""
import math

import numpy as np


def load_data(test_size=0.2, seed=0):
    """Load the 8x8 digits as `(x_train, y_train), (x_test, y_test)`, split deterministically.

    Pixels keep scikit-learn's range 0..16 (not 0..255 as in MNIST), stored as uint8; divide by
    16, not 255, to scale them to 0..1. Labels are uint8 digits 0-9.

    Args:
        test_size: fraction of the 1,797 images held out for testing, in (0, 1); the test set
            gets ceil(test_size * 1797) images, as in scikit-learn's train_test_split.
        seed: seed of the shuffle that decides the split; the same seed gives the same split.

    Returns:
        x_train (n_train, 8, 8) uint8, y_train (n_train,) uint8, x_test (n_test, 8, 8) uint8,
        y_test (n_test,) uint8.
    """
    valid = isinstance(test_size, (int, float)) and not isinstance(test_size, bool)
    if not valid or not 0 < test_size < 1:
        raise ValueError(
            "Received an invalid value for `test_size`, expected a float strictly between "
            f"0 and 1. Received: test_size={test_size!r}"
        )
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            "`minidl.datasets.digits` reads the copy of the digits bundled with scikit-learn, "
            "which is not installed. Install it with `pip install scikit-learn`."
        ) from e
    bunch = load_digits()
    x = bunch.images.astype(np.uint8)  # (1797, 8, 8), float64 0..16 -> uint8 0..16
    y = bunch.target.astype(np.uint8)  # (1797,)
    n = len(x)
    n_test = math.ceil(test_size * n)
    order = np.random.default_rng(seed).permutation(n)  # (n,)
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])
