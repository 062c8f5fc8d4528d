"""Weight initializers: objects called on a shape that return a fresh array, as Keras's.

Keras draws from TensorFlow's Philox generator, which NumPy cannot reproduce: minidl draws
from the same distributions with NumPy (from minidl's generator, reseeded by
`minidl.utils.set_random_seed`, or from the initializer's own `seed`), and `reference`
copies weights across when the exact values matter.

Fans (`_fans`): for a Dense kernel (D, U), fan_in = D and fan_out = U; for a convolution
kernel (k1, ..., in, out), each is multiplied by the window size k1 * ... .

Ordered from constants to the variance-scaling family (Glorot, He, LeCun), then Orthogonal.
"""
import math

import numpy as np

from minidl import config, rng


def _fans(shape, input_axes=None, output_axes=None):
    """fan_in, fan_out as Keras's `compute_fans` (keras/src/initializers/random_initializers.py).

    (a,) -> (a, a); (a, b) -> (a, b); a convolution kernel (k1, ..., in, out) ->
    (in * k1 * ..., out * k1 * ...): each output sees a window of the input. With
    input_axes and output_axes, the products of those axes.
    """
    if input_axes is not None and output_axes is not None:
        return (int(np.prod([shape[a] for a in input_axes])),
                int(np.prod([shape[a] for a in output_axes])))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: `initializer(shape, dtype)` returns a new array."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` "
                                  "method.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())


# -- constants -----------------------------------------------------------------------------


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=dtype or config.floatx())


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=dtype or config.floatx())


class Constant(Initializer):
    """Every entry `value` (a number, or an array that broadcasts to the shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dtype = dtype or config.floatx()
        return np.asarray(self.value, dtype) * np.ones(shape, dtype)

    def get_config(self):
        value = self.value.tolist() if isinstance(self.value, np.ndarray) else self.value
        return {"value": value}


class Identity(Initializer):
    """gain times the identity matrix (ones on the diagonal of a 2-D shape, even a rectangle)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={tuple(shape)} of rank {len(shape)}.")
        dtype = dtype or config.floatx()
        return self.gain * np.eye(*shape, dtype=dtype)

    # get_config: Keras's Identity returns {} (its gain is not saved); so does minidl's.


# -- random --------------------------------------------------------------------------------


class RandomInitializer(Initializer):
    """An initializer that draws: from minidl's generator, or from its own fixed `seed`.

    With an int seed, every call draws the same values (Keras's stateless draws do too).
    """

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError("`seed` argument should be an integer (minidl has no "
                             f"SeedGenerator). Received: seed={seed!r}")
        self.seed = seed

    def _generator(self):
        return rng.generator() if self.seed is None else np.random.default_rng(self.seed)

    def _uniform(self, shape, dtype, low, high):
        values = self._generator().uniform(low, high, size=shape)  # U[low, high)
        return values.astype(dtype or config.floatx())

    def _normal(self, shape, dtype, mean, stddev):
        values = self._generator().normal(mean, stddev, size=shape)
        return values.astype(dtype or config.floatx())

    def _truncated_normal(self, shape, dtype, mean, stddev):
        """Normal draws, each one outside mean +- 2 stddev drawn again (as TensorFlow)."""
        generator = self._generator()
        z = generator.standard_normal(size=shape)
        outside = np.abs(z) > 2
        while outside.any():
            z[outside] = generator.standard_normal(size=int(outside.sum()))
            outside = np.abs(z) > 2
        return (mean + stddev * z).astype(dtype or config.floatx())

    def get_config(self):
        return {"seed": self.seed}


class RandomUniform(RandomInitializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._uniform(shape, dtype, self.minval, self.maxval)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class RandomNormal(RandomInitializer):
    """Normal with the given mean and standard deviation."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return self._normal(shape, dtype, self.mean, self.stddev)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal, with every value beyond two standard deviations from the mean drawn again.

    The result's standard deviation is 0.8796 * stddev (the truncation removes the tails).
    """

    def __call__(self, shape, dtype=None):
        return self._truncated_normal(shape, dtype, self.mean, self.stddev)


class VarianceScaling(RandomInitializer):
    """Draws with variance scale / fan, the rule behind Glorot, He and LeCun initialisation.

    Formula:
        fan = fan_in, fan_out or (fan_in + fan_out) / 2, as `mode` says; s = scale / max(1, fan)
        truncated_normal:    stddev = sqrt(s) / 0.87962566103423978, cut at 2 stddev
                             (0.8796... is the std of a standard normal cut at +-2: the
                             result has variance s)
        untruncated_normal:  stddev = sqrt(s)
        uniform:             U[-limit, limit), limit = sqrt(3 * s)

    Args:
        scale: a positive float.
        mode: "fan_in", "fan_out" or "fan_avg".
        distribution: "truncated_normal" ("normal" means it too), "untruncated_normal" or
            "uniform".
        seed: an int for the same values at every call, or None.
        input_axes, output_axes: the axes whose sizes make fan_in and fan_out (optional).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        modes = {"fan_in", "fan_out", "fan_avg"}
        if mode not in modes:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {modes}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        distributions = {"uniform", "truncated_normal", "untruncated_normal"}
        if distribution not in distributions:
            raise ValueError(f"Invalid `distribution` argument: {distribution}."
                             f"Please use one of {distributions}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        scale = self.scale / max(1.0, fan[self.mode])
        if self.distribution == "truncated_normal":
            return self._truncated_normal(shape, dtype, 0.0,
                                          math.sqrt(scale) / 0.87962566103423978)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, dtype, 0.0, math.sqrt(scale))
        limit = math.sqrt(3.0 * scale)
        return self._uniform(shape, dtype, -limit, limit)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _Named(VarianceScaling):
    """A VarianceScaling with fixed settings; only seed and the axes are arguments."""

    SETTINGS = None  # (scale, mode, distribution)

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self.SETTINGS
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_Named):
    """Glorot (Xavier) uniform, Keras's default for kernels: U[-limit, limit),
    limit = sqrt(6 / (fan_in + fan_out))."""

    SETTINGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Named):
    """Glorot (Xavier) normal: truncated normal with variance 2 / (fan_in + fan_out)."""

    SETTINGS = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Named):
    """He uniform, for relu layers: U[-limit, limit), limit = sqrt(6 / fan_in)."""

    SETTINGS = (2.0, "fan_in", "uniform")


class HeNormal(_Named):
    """He normal, for relu layers: truncated normal with variance 2 / fan_in."""

    SETTINGS = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Named):
    """LeCun uniform: U[-limit, limit), limit = sqrt(3 / fan_in)."""

    SETTINGS = (1.0, "fan_in", "uniform")


class LecunNormal(_Named):
    """LeCun normal, for selu layers: truncated normal with variance 1 / fan_in."""

    SETTINGS = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix (orthonormal rows or columns), times gain.

    Formula (rows = product of all but the last axis, cols = the last axis):
        A ~ N(0, 1) of shape (max(rows, cols), min(rows, cols))
        Q, R = qr(A);  Q = Q * sign(diag(R))     # the sign fix makes Q uniformly distributed
        W = gain * (Q if rows >= cols else Q.T), reshaped to the shape
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={tuple(shape)} of rank {len(shape)}.")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)  # (max,min) @ (min,min)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T  # a transposed view: the copy below is made C-ordered, as every weight is
        return np.ascontiguousarray(self.gain * q.reshape(shape), dtype or config.floatx())

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


_CLASSES = (Zeros, Ones, Constant, Identity, RandomUniform, RandomNormal, TruncatedNormal,
            VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
            LecunNormal, Orthogonal)
# Keras's names: each class name and its snake_case form, plus a few aliases
# (keras/src/initializers/__init__.py).
_BY_NAME = {
    **{cls.__name__: cls for cls in _CLASSES},
    "zeros": Zeros, "ones": Ones, "constant": Constant, "identity": Identity,
    "random_uniform": RandomUniform, "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
    "zero": Zeros, "one": Ones, "uniform": RandomUniform, "normal": RandomNormal,
    "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
}

# ... and as module attributes, `minidl.initializers.he_normal()` as `keras.initializers.he_normal()`
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal
variance_scaling, orthogonal = VarianceScaling, Orthogonal
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, \
    HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal

def get(identifier):
    """An initializer from None, a name ("he_normal" or "HeNormal"), a config dict
    ({"class_name": "HeNormal", "config": {...}}), a class, an Initializer, an array (its
    values) or a callable(shape, dtype)."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret initializer identifier: {identifier}. "
                             f"Expected one of {sorted(_BY_NAME)}.")
        return _BY_NAME[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, np.ndarray):
        return _from_array(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}. Expected a "
                     "name, a config dict, an Initializer or a callable(shape, dtype).")


def _from_array(array):
    """An initializer that returns a copy of `array` (Keras accepts an array as initializer)."""

    def initialize(shape, dtype=None):
        if tuple(shape) != array.shape:
            raise ValueError(f"Expected `shape` to be {array.shape} for direct tensor as "
                             f"initializer. Received shape={tuple(shape)}")
        return array.astype(dtype or config.floatx())

    return initialize


def serialize(initializer):
    """Keras's config form: {"module", "class_name", "config", "registered_name"}."""
    if initializer is None:
        return None
    if not isinstance(initializer, Initializer):
        raise ValueError("Only minidl's initializers can be serialized (Keras could not load "
                         f"a custom function). Received: {initializer!r}")
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def deserialize(config):
    """The initializer a `serialize` dict (or Keras's) describes."""
    class_name = config.get("class_name")
    if class_name not in _BY_NAME:
        raise ValueError(f"Could not interpret initializer identifier: {class_name}. "
                         f"Expected one of {sorted(_BY_NAME)}.")
    return _BY_NAME[class_name].from_config(dict(config.get("config") or {}))
