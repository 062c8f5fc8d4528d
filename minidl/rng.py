"""The random number generator behind weight initialisation and shuffling.

`minidl.utils.set_random_seed(s)` reseeds it (and Python's and NumPy's global generators),
so a seeded script is reproducible from run to run.
"""
import numpy as np

_generator = np.random.default_rng()


def generator():
    """The generator minidl draws initial weights and shuffles from."""
    return _generator


def seed(value):
    """Reseed minidl's generator."""
    global _generator
    _generator = np.random.default_rng(value)
