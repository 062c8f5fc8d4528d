"""Dropout and its kin: layers that add randomness while training, and do nothing at inference.

    Dropout(0.5)            keep each value with probability 1 - rate, scaled by 1 / (1 - rate)
    AlphaDropout(0.1)       the same mask, dropped values set to SELU's floor, then a*x + b
    SpatialDropout1D/2D/3D  the same, one draw per whole channel (feature map)
    GaussianNoise(0.1)      add N(0, stddev**2) noise
    GaussianDropout(0.2)    multiply by N(1, rate / (1 - rate)) noise
    ActivityRegularization  no noise: x passed through, with an L1/L2 penalty on it

Each draws its random numbers (`draw_noise`) at forward time, from minidl's seeded generator
(minidl/rng.py, reseeded by `minidl.utils.set_random_seed`) or from its own generator when
given a `seed`, and keeps them in the cache: backward uses exactly the noise forward used.
Keras draws from TensorFlow's Philox generator, which NumPy cannot reproduce; to run Keras on
the same noise, reference/masks.py records what `draw_noise` returns and replays it in Keras.

Shapes: N rows in the batch, D features; the layers take any shape (N, ...).
"""
import math

import numpy as np

from minidl import regularizers, rng
from minidl.layers.base import Layer
from minidl.layers.core import check_rank
from minidl.layers.reshaping import pass_through


class NoiseLayer(Layer):
    """Base class: a layer that draws random numbers when training, and passes x through otherwise.

    Args:
        seed: None draws from minidl's generator (minidl/rng.py); an integer gives the layer
            its own generator, np.random.default_rng(seed), as Keras gives it its own seed.
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, seed=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"Argument `seed` must be an integer or None. Received: seed={seed!r}")
        super().__init__(**kwargs)
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(seed)

    def generator(self):
        """The layer's own generator if it was seeded, else minidl's (looked up at each draw)."""
        return self._generator if self._generator is not None else rng.generator()

    def draw_noise(self, shape, dtype):
        """The random array of one training call (a keep mask, or noise)."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape


def _check_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not 0 <= rate <= 1:
        raise ValueError("Invalid value received for argument `rate`. Expected a float value "
                         f"between 0 and 1. Received: rate={rate}")
    return float(rate)


def _check_noise_shape(noise_shape):
    """None, or a tuple of positive ints and Nones (Keras's _validate_noise_shape)."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str):
        raise ValueError("Invalid value received for argument `noise_shape`. Expected a tuple "
                         f"or list of integers. Received: noise_shape={noise_shape}")
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError("Invalid value received for argument `noise_shape`. Expected an "
                         "iterable of integers (e.g., a tuple or list). "
                         f"Received: noise_shape={noise_shape}") from None
    for i, dim in enumerate(noise_shape):
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))
                                or dim <= 0):
            raise ValueError("Invalid value received for argument `noise_shape`. Expected all "
                             "elements to be positive integers or None. "
                             f"Received element at index {i}: {dim!r}")
    return noise_shape


class Dropout(NoiseLayer):
    """Inverted dropout: when training, zero each value with probability `rate`, scale the rest.

    Formula (training; at inference y = x):
        keep = u >= rate,  u ~ U[0, 1)          # (N,D) bools, True with probability 1 - rate
        y = where(keep, x * scale, 0)           # (N,D);  scale = 1 / (1 - rate)
    Backward:
        dx = where(keep, dy * scale, 0)         # (N,D)
    `scale` is rounded to float32 once, as TensorFlow's dropout computes it
    (tensorflow/python/ops/nn_ops.py::_dropout); rate 1 gives zeros, rate 0 the input itself.

    Args:
        rate: the fraction of values to drop, in [0, 1].
        noise_shape: the shape of the mask, broadcast against x; None entries take x's size.
            (N, 1, D) on (N, T, D) drops the same features at every time step.
        seed: an integer gives the layer its own generator (see NoiseLayer).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        rate = _check_rate(rate)
        noise_shape = _check_noise_shape(noise_shape)
        super().__init__(seed=seed, **kwargs)
        self.rate, self.noise_shape = rate, noise_shape

    def check_input_shape(self, shape):
        noise_shape = self.noise_shape
        if noise_shape is None:
            return
        fits = len(noise_shape) == len(shape) and all(
            n is None or n == 1 or d is None or n == d for n, d in zip(noise_shape, shape))
        if not fits:
            raise ValueError(
                f"Layer \"{self.name}\": argument `noise_shape` must broadcast against the "
                f"input: one entry per axis, each None, 1 or the input's size. Received: "
                f"noise_shape={noise_shape} for input shape {tuple(shape)}")

    def mask_shape(self, x_shape):
        """The shape of the keep mask for inputs of `x_shape`: noise_shape with Nones filled in."""
        if self.noise_shape is None:
            return tuple(x_shape)
        return tuple(d if n is None else n for n, d in zip(self.noise_shape, x_shape))

    def draw_noise(self, shape, dtype):
        """The keep mask: True with probability 1 - rate (compared in float32, as TensorFlow)."""
        u = self.generator().random(shape, dtype=np.float32)  # (N,D) uniform on [0, 1)
        return u >= np.float32(self.rate)  # (N,D) bools

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None  # the input itself: nothing to undo in backward
        if self.rate == 1:
            keep = np.zeros(self.mask_shape(x.shape), bool)  # Keras draws nothing: all dropped
            scale = x.dtype.type(0)
        else:
            keep = self.draw_noise(self.mask_shape(x.shape), x.dtype)  # (N,D) bools
            scale = x.dtype.type(1.0 / (1.0 - self.rate))  # rounded once, as TensorFlow
        y = np.where(keep, x * scale, x.dtype.type(0))  # (N,D)
        return y, (keep, scale)

    def backward(self, dy, cache, need_dx=True):
        if cache is None:
            return dy, {}
        keep, scale = cache
        return np.where(keep, dy * scale, dy.dtype.type(0)), {}  # (N,D)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class AlphaDropout(Dropout):
    """Dropout for SELU networks: dropped values become SELU's negative saturation, and an
    affine map keeps the mean and variance of standardized inputs.

    Formula (training; at inference y = x; alpha, scale: SELU's constants):
        keep = u >= rate,  u ~ U[0, 1)                      # (N,D) as Dropout's, 1. or 0.
        alpha_p = -alpha * scale                            # -1.7581, SELU's limit at -inf
        a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5;  b = -a * alpha_p * rate
        y = a * (x * keep + alpha_p * (1 - keep)) + b       # (N,D)
    Backward:
        dx = dy * a * keep                                  # (N,D)
    a, b and alpha_p are computed in Python floats, then rounded to float32 where they meet
    the array, as keras/src/layers/regularization/alpha_dropout.py does; rate 1 divides by 0
    there as in Keras.

    Args:
        rate: the fraction of values to drop, in [0, 1].
        noise_shape: the shape of the mask, broadcast against x (None entries: x's size).
        seed: an integer gives the layer its own generator (see NoiseLayer).
    """

    ALPHA = 1.6732632423543772848170429916717  # Keras's literals, as SELU's
    SCALE = 1.0507009873554804934193349852946

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None
        alpha_p = -self.ALPHA * self.SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        dtype = x.dtype.type
        keep = self.draw_noise(self.mask_shape(x.shape), x.dtype).astype(x.dtype)  # (N,D) 1./0.
        dropped = x * keep + dtype(alpha_p) * (1 - keep)  # (N,D)
        return dtype(a) * dropped + dtype(b), (keep, dtype(a))  # (N,D)

    def backward(self, dy, cache, need_dx=True):
        if cache is None:
            return dy, {}
        keep, a = cache
        return dy * a * keep, {}  # (N,D)


class SpatialDropout1D(Dropout):
    """Dropout of whole channels of (N, T, C) inputs: one keep/drop per row and channel.

    Formula: Dropout with mask shape (N, 1, C), broadcast over the T steps.
    """

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=3)

    def mask_shape(self, x_shape):
        return (x_shape[0], 1, x_shape[2])  # (N,1,C)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps of images: one keep/drop per image and channel.

    Formula: Dropout with mask shape (N, 1, 1, C) for channels_last (N, H, W, C) inputs,
    (N, C, 1, 1) for channels_first (N, C, H, W).
    """

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        data_format = "channels_last" if data_format is None else data_format
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError("The `data_format` argument must be one of {'channels_first', "
                             f"'channels_last'}}. Received: data_format={data_format}")
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.data_format = data_format

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=4)

    def mask_shape(self, x_shape):
        if self.data_format == "channels_first":
            return (x_shape[0], x_shape[1], 1, 1)  # (N,C,1,1)
        return (x_shape[0], 1, 1, x_shape[3])  # (N,1,1,C)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype,
                "data_format": self.data_format}


class SpatialDropout3D(SpatialDropout2D):
    """Dropout of whole feature volumes: one keep/drop per volume and channel.

    Formula: Dropout with mask shape (N, 1, 1, 1, C) for channels_last (N, D, H, W, C)
    inputs, (N, C, 1, 1, 1) for channels_first (N, C, D, H, W).
    """

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=5)

    def mask_shape(self, x_shape):
        if self.data_format == "channels_first":
            return (x_shape[0], x_shape[1], 1, 1, 1)  # (N,C,1,1,1)
        return (x_shape[0], 1, 1, 1, x_shape[4])  # (N,1,1,1,C)


class GaussianNoise(NoiseLayer):
    """Adds zero-centred Gaussian noise when training.

    Formula (training; at inference y = x):
        noise = z * stddev,  z ~ N(0, 1)        # (N,D)
        y = x + noise                           # (N,D)
    Backward:
        dx = dy

    Args:
        stddev: the standard deviation of the noise, in [0, 1] (as Keras checks it).
        seed: an integer gives the layer its own generator (see NoiseLayer).
    """

    def __init__(self, stddev, seed=None, **kwargs):
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float, np.integer,
                                                               np.floating)) \
                or not 0 <= stddev <= 1:
            raise ValueError("Invalid value received for argument `stddev`. Expected a float "
                             f"value between 0 and 1. Received: stddev={stddev}")
        super().__init__(seed=seed, **kwargs)
        self.stddev = float(stddev)

    def draw_noise(self, shape, dtype):
        z = self.generator().standard_normal(shape, dtype=dtype)  # (N,D)
        return z * self.stddev  # (N,D)

    def forward(self, x, training=False):
        if not training or self.stddev == 0:
            return x, None
        return x + self.draw_noise(x.shape, x.dtype), None  # (N,D) + (N,D)

    def backward(self, dy, cache, need_dx=True):
        return dy, {}

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(NoiseLayer):
    """Multiplies by Gaussian noise centred on 1 when training: dropout's variance, no zeros.

    Formula (training; at inference y = x):
        noise = 1 + z * sqrt(rate / (1 - rate)),  z ~ N(0, 1)     # (N,D)
        y = x * noise                                             # (N,D)
    Backward:
        dx = dy * noise                                           # (N,D)

    Args:
        rate: the drop probability of the Dropout this imitates, in [0, 1).
        seed: an integer gives the layer its own generator (see NoiseLayer).
    """

    def __init__(self, rate, seed=None, **kwargs):
        rate = _check_rate(rate)
        super().__init__(seed=seed, **kwargs)
        self.rate = rate

    def draw_noise(self, shape, dtype):
        stddev = math.sqrt(self.rate / (1.0 - self.rate))  # in float64, as Keras
        z = self.generator().standard_normal(shape, dtype=dtype)  # (N,D)
        return z * stddev + 1.0  # (N,D)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None
        if self.rate == 1:
            raise ValueError(f"Layer \"{self.name}\": GaussianDropout cannot train with rate=1 "
                             "(its noise would have infinite variance). Use a rate below 1.")
        noise = self.draw_noise(x.shape, x.dtype)  # (N,D)
        return x * noise, noise

    def backward(self, dy, cache, need_dx=True):
        if cache is None:
            return dy, {}
        return dy * cache, {}  # (N,D) * (N,D)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Layer):
    """x passed through, with a penalty on x added to the training loss.

    The penalty is the activity regularizer every layer can have (layers/base.py::
    Layer._penalise_activity, the one place it is computed), here an L1L2 on the input:

    Formula:
        y = x;  loss += (l1 * sum(|x|) + l2 * sum(x**2)) / N
    Backward: dx = dy, plus the penalty's gradient (l1 * sign(x) + 2 * l2 * x) / N, which the
        tape adds at y (y is x, or a view of it: reshaping.py::pass_through)

    Args:
        l1, l2: the penalty factors, non-negative (None counts as 0.0, as in Keras).
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        penalty = regularizers.L1L2(0.0 if l1 is None else l1, 0.0 if l2 is None else l2)
        super().__init__(activity_regularizer=penalty, **kwargs)
        self.l1, self.l2 = l1, l2
        self.built = True  # nothing to build; Keras builds it at once (summary: 0, not unbuilt)

    def compute_output_shape(self, input_shape):
        return input_shape

    def forward(self, x, training=False):
        return pass_through(x), None  # (N,...)

    def backward(self, dy, cache, need_dx=True):
        return dy, {}

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)  # written as l1 and l2, as Keras writes it
        return {**config, "l1": self.l1, "l2": self.l2}
