"""keras.random: random draws inside a layer's call(), as Keras programs write them.

    class Sampling(minidl.layers.Layer):            # the keras.io VAE's sampling layer
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = minidl.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = minidl.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * eps      # (N, Z)

`seed` works as Keras's: an int gives the same numbers at every call (a stateless draw from
the pair [seed, 0]); a SeedGenerator gives new numbers at every call (it hands out
[seed, 0], [seed, 1], ...); None draws from minidl's own generator (minidl/rng.py), which
`minidl.utils.set_random_seed` makes repeatable. The numbers come from NumPy's generator
(np.random.default_rng), so they never equal TensorFlow's bit for bit: Keras draws from
TensorFlow's Philox generator. Same distributions, shapes and dtypes; different numbers.

For backpropagation a draw is a constant (as in TensorFlow, where a random op has no
gradient): inside a training step each array drawn here is handed to the tape as an input
from outside (tape.watch), so `z_mean + ops.exp(0.5 * z_log_var) * eps` trains z_mean and
z_log_var and sends nothing back into eps. dropout and shuffle are differentiable in their
inputs: x * mask and x[order].
"""
import numpy as np

from minidl import config, rng
from minidl.tape import active_tape


class SeedGenerator:
    """The state of a stream of random draws: each draw takes the state, then moves it on.

    Args:
        seed: an int, or None for one drawn from minidl's generator (set_random_seed fixes it).
        name: its name (default "seed_generator", numbered as Keras numbers names).

    Formula:
        state = [seed, 0];  next(): s = state;  state = state + [0, 1];  return s
        (next(ordered=False): state = (state + 1) * 5387 % 933199, as Keras's)
    """

    def __init__(self, seed=None, name=None, **kwargs):
        from minidl import naming
        from minidl.variable import Variable

        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name or naming.auto_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = int(rng.generator().integers(1, int(1e9)))  # Keras: python_random.randint
        if not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        # int64, as Keras's state on TensorFlow (backend.random_seed_dtype()); not a weight
        self.state = Variable(np.array([seed, 0], np.int64), "seed_generator_state",
                              trainable=False)
        self.state.path = f"{self.name}/seed_generator_state"

    def next(self, ordered=True):
        """The state to draw from now; the state moves on for the next draw."""
        seed = self.state.numpy()  # (2,)
        if ordered:
            self.state.assign(seed + np.array([0, 1], np.int64))
        else:
            self.state.assign((seed + 1) * 5387 % 933199)
        return seed

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def draw_seed(seed):
    """The NumPy generator a draw with this `seed` argument uses (see the module docstring)."""
    if isinstance(seed, SeedGenerator):
        state = seed.next()
    elif isinstance(seed, (int, np.integer)):
        state = np.array([seed, 0], np.int64)  # what SeedGenerator(seed) hands out first
    elif seed is None:
        return rng.generator()
    else:
        raise ValueError("Argument `seed` must be either an integer or an instance of "
                         f"`SeedGenerator`. Received: seed={seed} (of type {type(seed)})")
    return np.random.default_rng([int(s) % 2 ** 64 for s in state])


def _constant(y):
    """A drawn array, on the active tape as an input from outside: no gradient goes into it."""
    tape = active_tape()
    if tape is not None:
        tape.watch([y])
    return y


def _float_dtype(dtype, function):
    dtype = np.dtype(dtype or config.floatx())
    if dtype.kind != "f":
        raise ValueError(f"`keras.random.{function}` requires a floating point `dtype`. "
                         f"Received: dtype={dtype} ")
    return dtype


def _shape(shape):
    return tuple(int(n) for n in shape)


# -- draws from a distribution, in increasing complexity ------------------------------------
def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Floats drawn uniformly from [minval, maxval).

    Formula:  y = minval + (maxval - minval) * u,  u ~ U[0, 1)
    """
    dtype = _float_dtype(dtype, "uniform")
    u = draw_seed(seed).random(_shape(shape))  # (shape), float64 draws on [0, 1)
    return _constant((minval + (maxval - minval) * u).astype(dtype))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Floats drawn from the normal distribution N(mean, stddev**2).

    Formula:  y = mean + stddev * n,  n ~ N(0, 1)
    """
    dtype = np.dtype(dtype or config.floatx())
    n = draw_seed(seed).standard_normal(_shape(shape))  # (shape)
    return _constant((mean + stddev * n).astype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws, each one further than 2 stddev from the mean drawn again (TensorFlow's
    truncated normal, which keras.random.truncated_normal uses).

    Formula:  n ~ N(0, 1) redrawn until |n| <= 2;  y = mean + stddev * n
    """
    dtype = np.dtype(dtype or config.floatx())
    generator = draw_seed(seed)
    n = generator.standard_normal(_shape(shape))  # (shape)
    outside = np.abs(n) > 2
    while outside.any():
        n[outside] = generator.standard_normal(int(outside.sum()))
        outside = np.abs(n) > 2
    return _constant((mean + stddev * n).astype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    if dtype and np.dtype(dtype).kind not in "iu":
        raise ValueError("`keras.random.randint` requires an integer `dtype`. "
                         f"Received: dtype={np.dtype(dtype)} ")
    values = draw_seed(seed).integers(minval, maxval, size=_shape(shape))  # (shape)
    return _constant(values.astype(dtype or "int32"))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """For each row of logits (N, C), num_samples class indices drawn with probabilities
    softmax(logits) -> (N, num_samples).

    Formula (the Gumbel-max trick):  k = argmax_c(logits[n, c] + g[n, s, c]),  g ~ Gumbel(0, 1)
    """
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError("`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
                         f"Received: logits={logits}")
    n, c = logits.shape
    g = draw_seed(seed).gumbel(size=(n, int(num_samples), c))  # (N, S, C)
    return _constant(np.argmax(logits[:, None, :] + g, axis=-1).astype(dtype))  # (N, S)


def gamma(shape, alpha, dtype=None, seed=None):
    """Floats drawn from the gamma distribution with shape parameter alpha and scale 1."""
    dtype = np.dtype(dtype or config.floatx())
    values = draw_seed(seed).gamma(alpha, size=_shape(shape))  # (shape)
    return _constant(values.astype(dtype))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Floats drawn from the beta distribution Beta(alpha, beta), on [0, 1].

    Formula (Keras's TensorFlow backend):  x ~ Gamma(alpha), y ~ Gamma(beta);  x / (x + y)
    """
    dtype = np.dtype(dtype or config.floatx())
    values = draw_seed(seed).beta(alpha, beta, size=_shape(shape))  # (shape)
    return _constant(values.astype(dtype))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """The number of successes in `counts` trials of probability `probabilities`, as floats
    (Keras's default dtype is floatx)."""
    dtype = np.dtype(dtype or config.floatx())
    values = draw_seed(seed).binomial(counts, probabilities, size=_shape(shape))  # (shape)
    return _constant(values.astype(dtype))


# -- draws applied to an array: differentiable in it -------------------------------------------
def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability `rate`, scale the others by 1 / (1 - rate).

    Args:
        inputs: the array (its dtype is kept).
        rate: the probability of dropping an entry, in [0, 1]; 1 gives zeros, 0 the inputs.
        noise_shape: the mask's shape, broadcast over inputs (None entries: inputs' sizes).

    Formula:  keep = u >= rate, u ~ U[0, 1) of shape noise_shape;  y = x * keep / (1 - rate)
    """
    if rate == 1.0:
        return inputs * np.zeros((), np.asarray(inputs).dtype)
    if rate == 0.0:
        return inputs
    if not 0 < rate < 1:
        raise ValueError("`rate` must be a scalar tensor or a float in the range [0, 1). "
                         f"Received: rate={rate}")
    shape = np.shape(inputs)
    if noise_shape is not None:
        shape = tuple(n if m is None else m for n, m in zip(shape, noise_shape))
    dtype = np.asarray(inputs).dtype
    keep = draw_seed(seed).random(shape) >= rate  # (noise_shape)
    scale = _constant((keep / (1 - rate)).astype(dtype))  # (noise_shape)
    return inputs * scale  # a Tracked input records this product (ops/backprop.py)


def shuffle(x, axis=0, seed=None):
    """x with its entries along `axis` in a random order (its dtype kept)."""
    order = np.argsort(draw_seed(seed).random(np.shape(x)[axis]))  # (n,) a permutation
    return x[(slice(None),) * (axis % np.ndim(x)) + (order,)]  # a Tracked x records the take
