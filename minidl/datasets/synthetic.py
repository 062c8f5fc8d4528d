"""Small synthetic datasets, drawn exactly as the lab's NumPy snippets draw them.

Each generator uses its own `np.random.RandomState(seed)`, which yields the same numbers as
the lab's `np.random.seed(seed)` followed by calls to `np.random.*`, without touching NumPy's
global generator.
"""
import numbers

import numpy as np


def sum_greater_than_one(n=1000, seed=42, label_noise=0.0):
    """Points in the unit square, labelled 1 where x1 + x2 > 1: a linearly separable task.

    Same numbers as the lab's code:
        np.random.seed(seed); x = np.random.rand(n, 2); y = (np.sum(x, axis=1) > 1).astype(int)

    Args:
        n: number of points.
        seed: seed of the RandomState.
        label_noise: fraction of labels to flip, in [0, 1]; exactly round(label_noise * n)
            labels, chosen by a permutation drawn after x from the same RandomState.

    Returns:
        x (n, 2) float64 in [0, 1), y (n,) int (NumPy's default integer, as in the lab).
    """
    _check_n(n)
    if not isinstance(label_noise, numbers.Real) or not 0 <= label_noise <= 1:
        raise ValueError(
            "Received an invalid value for `label_noise`, expected a fraction in [0, 1]. "
            f"Received: label_noise={label_noise!r}"
        )
    rs = np.random.RandomState(seed)
    x = rs.rand(n, 2)  # (n, 2)
    y = (np.sum(x, axis=1) > 1).astype(int)  # (n,)
    n_flip = int(round(label_noise * n))
    if n_flip:
        flip = rs.permutation(n)[:n_flip]  # (n_flip,) distinct indices
        y[flip] = 1 - y[flip]
    return x, y


def sum_regression(n=1000, seed=42, noise=0.0):
    """Two uniform inputs and their sum as the target, optionally with Gaussian noise.

    Same numbers as the lab's code:
        np.random.seed(seed); x_1 = np.random.rand(n); x_2 = np.random.rand(n)
        x = np.column_stack((x_1, x_2)); y = x_1 + x_2
        # and for noise > 0: y = x_1 + x_2 + np.random.normal(0, noise, n)

    Args:
        n: number of points.
        seed: seed of the RandomState.
        noise: standard deviation of the Gaussian noise added to y, >= 0; drawn after x_1 and
            x_2 from the same RandomState.

    Returns:
        x (n, 2) float64 in [0, 1), y (n,) float64.
    """
    _check_n(n)
    if not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(
            "Received an invalid value for `noise`, expected a standard deviation >= 0. "
            f"Received: noise={noise!r}"
        )
    rs = np.random.RandomState(seed)
    x_1 = rs.rand(n)  # (n,)
    x_2 = rs.rand(n)  # (n,)
    x = np.column_stack((x_1, x_2))  # (n, 2)
    if noise > 0:
        y = x_1 + x_2 + rs.normal(0, noise, n)  # (n,)
    else:
        y = x_1 + x_2  # (n,)
    return x, y


def _check_n(n):
    """Reject a sample count that is not a positive integer."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(
            f"Received an invalid value for `n`, expected a positive integer. Received: n={n!r}"
        )
