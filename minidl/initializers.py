"""Weight initializers: functions of a shape that return a fresh array.

Keras's glorot_uniform draws from TensorFlow's Philox generator, which NumPy cannot
reproduce; minidl draws from the same distribution with NumPy, and `reference` copies
weights across when the exact values matter.
"""
import numpy as np

from minidl import config, rng


def _fans(shape):
    """fan_in, fan_out as Keras's `compute_fans`.

    (a,) -> (a, a); (a, b) -> (a, b); a convolution kernel (k1, ..., in, out) ->
    (in * k1 * ..., out * k1 * ...): each output sees a window of the input.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: `init(shape, dtype)` returns a new array."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=dtype or config.floatx())


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=dtype or config.floatx())


class RandomUniform(Initializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05):
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        values = rng.generator().uniform(self.minval, self.maxval, size=shape)
        return values.astype(dtype or config.floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    """Normal with the given mean and standard deviation."""

    def __init__(self, mean=0.0, stddev=0.05):
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        values = rng.generator().normal(self.mean, self.stddev, size=shape)
        return values.astype(dtype or config.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class GlorotUniform(Initializer):
    """Glorot (Xavier) uniform: U[-limit, limit), the Keras default for Dense kernels.

    Formula:
        limit = sqrt(6 / (fan_in + fan_out))
    """

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        limit = np.sqrt(6.0 / max(1.0, fan_in + fan_out))
        values = rng.generator().uniform(-limit, limit, size=shape)
        return values.astype(dtype or config.floatx())


_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "random_uniform": RandomUniform,
    "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
}


def get(identifier):
    """Resolve a name ("glorot_uniform"), an Initializer, or a callable(shape, dtype)."""
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Could not interpret initializer identifier: {identifier!r}. "
                f"Expected one of {sorted(_BY_NAME)}."
            )
        return _BY_NAME[identifier]()
    if callable(identifier):
        return identifier
    raise ValueError(
        "Could not interpret initializer identifier, expected a name or a callable. "
        f"Received: {identifier!r}"
    )
