"""Small helpers with Keras's names: seeding and one-hot encoding."""
import random

import numpy as np

from minidl import config, rng


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator and minidl's own (weights, shuffling).

    Call it before building layers to make a script reproducible. The same seed does not give
    the numbers Keras would: Keras draws from TensorFlow's generator (see reference/ to copy
    weights across instead).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    rng.seed(seed)


def to_categorical(x, num_classes=None):
    """One-hot rows (N, C) from integer class labels (N,)."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.dtype.kind not in "iu" and not (
            labels.dtype.kind == "f" and np.array_equal(labels, np.floor(labels))):
        raise ValueError(f"Argument `x` must hold integer class labels. Received dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"Class labels must be in [0, {num_classes}). "
                         f"Received labels in [{labels.min()}, {labels.max()}]")
    out = np.zeros(labels.shape + (num_classes,), config.floatx())
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out
