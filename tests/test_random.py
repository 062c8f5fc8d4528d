"""minidl.random against keras.random: the same names, signatures, default dtypes, seed rules
and errors, draws from the same distributions (sample statistics within sampling error of
Keras's own), and a VAE-style sampling layer that trains in fit as its Keras twin does when
both see the same noise.

The numbers themselves cannot match (NumPy's generator, not TensorFlow's Philox), so
distributions are compared through statistics of N = 20000 draws from each: a mean is checked
to within 6 standard errors of the difference of two sample means, 6 * sqrt(2) * sd / sqrt(N)
(a false alarm about once in 5e8 runs; a wrong parameter, say a scale off by 10%, moves a mean
by tens of standard errors), and supports (ranges, truncation) exactly.
"""
import collections
import inspect

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import ops
from minidl.ops import backprop
from minidl.testing import check_gradients

N = 20000
FUNCTIONS = ["normal", "uniform", "truncated_normal", "randint", "categorical", "dropout",
             "shuffle", "gamma", "beta", "binomial"]


def test_every_keras_random_name_exists_with_keras_signature():
    names = sorted(n for n in dir(keras.random) if not n.startswith("_"))
    assert names == sorted(FUNCTIONS + ["SeedGenerator"])
    for name in names:
        assert inspect.signature(getattr(minidl.random, name)) == \
            inspect.signature(getattr(keras.random, name)), name


# Each function called with its required arguments only: (args, kwargs)
CALLS = {
    "normal": ((3, 4),), "uniform": ((3, 4),), "truncated_normal": ((3, 4),),
    "randint": ((3, 4), 0, 5), "categorical": (np.zeros((3, 4), np.float32), 2),
    "gamma": ((3, 4), 2.0), "beta": ((3, 4), 2.0, 3.0), "binomial": ((3, 4), 5, 0.5),
    "dropout": (np.ones((3, 4), np.float64), 0.5), "shuffle": (np.arange(4),),
}


def test_default_dtypes_and_shapes_are_keras_s():
    for name, args in CALLS.items():
        ours = getattr(minidl.random, name)(*args, seed=1)
        theirs = getattr(keras.random, name)(*args, seed=1)
        theirs = np.asarray(theirs)
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape), name


def test_keras_s_errors():
    calls = [
        ("uniform", ((2,),), {"dtype": "int32"}), ("randint", ((2,), 0, 3), {"dtype": "float32"}),
        ("categorical", (np.zeros(3), 2), {}), ("normal", ((2,),), {"seed": "a"}),
        ("dropout", (np.ones(3), 1.5), {}),
    ]
    for name, args, kwargs in calls:
        with pytest.raises(ValueError) as ours:
            getattr(minidl.random, name)(*args, **kwargs)
        with pytest.raises(ValueError) as theirs:
            getattr(keras.random, name)(*args, **kwargs)
        assert str(ours.value) == str(theirs.value), name
    for kwargs in ({"seed": 1.5}, {"seed": 1, "foo": 2}):
        with pytest.raises(ValueError) as ours:
            minidl.random.SeedGenerator(**kwargs)
        with pytest.raises(ValueError) as theirs:
            keras.random.SeedGenerator(**kwargs)
        assert str(ours.value) == str(theirs.value)


def test_seed_rules_are_keras_s():
    """In both: an int seed repeats its numbers and equals a SeedGenerator's first draw; a
    SeedGenerator moves on ([s, 0] -> [s, 1]; Keras's unordered step too); get_config."""
    for random in (minidl.random, keras.random):
        def draw(seed):
            return np.asarray(random.normal((5,), seed=seed))
        generator = random.SeedGenerator(7)
        first, second = draw(generator), draw(generator)
        assert not np.array_equal(first, second)
        np.testing.assert_array_equal(draw(7), draw(7))
        np.testing.assert_array_equal(draw(7), first)
    for ordered in (True, False):
        ours, theirs = minidl.random.SeedGenerator(3), keras.random.SeedGenerator(3)
        for generator in (ours, theirs):
            generator.next(ordered=ordered)
        np.testing.assert_array_equal(ours.state.numpy(), theirs.state.numpy())
        assert ours.state.dtype == theirs.state.dtype and not ours.state.trainable
    ours, theirs = minidl.random.SeedGenerator(5).get_config(), \
        keras.random.SeedGenerator(5).get_config()
    assert ours.keys() == theirs.keys() and ours["seed"] == theirs["seed"] == 5
    assert minidl.random.SeedGenerator(name="g").get_config() == {"seed": None, "name": "g"}


def test_set_random_seed_makes_unseeded_draws_and_generators_repeatable():
    runs = []
    for _ in range(2):
        minidl.utils.set_random_seed(11)
        runs.append([minidl.random.uniform((4,)),
                     minidl.random.normal((3,), seed=minidl.random.SeedGenerator())])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)
DRAWS = {"normal": (), "uniform": (), "truncated_normal": (), "gamma": (2.0,),
         "beta": (2.0, 3.0), "binomial": (4, 0.5)}


@given(shapes, st.sampled_from(sorted(DRAWS)), st.integers(0, 2 ** 31 - 1),
       st.sampled_from([None, "float64"]))
def test_any_shape_and_int_seed_give_that_shape_dtype_and_the_same_numbers(
        shape, name, seed, dtype):
    draw = getattr(minidl.random, name)
    first = draw(shape, *DRAWS[name], dtype=dtype, seed=seed)
    assert first.shape == shape and first.dtype == np.dtype(dtype or "float32")
    np.testing.assert_array_equal(first, draw(shape, *DRAWS[name], dtype=dtype, seed=seed))
    if name == "uniform":
        low_high = draw(shape, -2.0, 5.0, dtype="float64", seed=seed)
        assert ((low_high >= -2.0) & (low_high < 5.0)).all()


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_shuffle_moves_whole_slices_and_dropout_keeps_or_zeroes(sizes, data):
    x = np.arange(np.prod(sizes), dtype=np.float32).reshape(sizes)
    axis = data.draw(st.integers(-len(sizes), len(sizes) - 1))
    seed = data.draw(st.integers(0, 1000))
    y = minidl.random.shuffle(x, axis=axis, seed=seed)
    slices = sorted(np.moveaxis(y, axis, 0).reshape(sizes[axis], -1).tolist())
    assert slices == sorted(np.moveaxis(x, axis, 0).reshape(sizes[axis], -1).tolist())
    rate = data.draw(st.floats(0.05, 0.95))
    dropped = minidl.random.dropout(x, rate, seed=seed)
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], x[kept] / np.float32(1 - rate), rtol=1e-6)
    assert dropped.dtype == x.dtype


def stats(x):
    x = np.asarray(x, np.float64)
    return x.mean(), x.std(), x.min(), x.max()


def assert_same_mean(ours, theirs, name):
    (m1, s1, *_), (m2, s2, *_) = stats(ours), stats(theirs)
    bound = 6 * np.sqrt(2) * max(s1, s2) / np.sqrt(np.size(ours))
    assert abs(m1 - m2) <= bound, (name, m1, m2, bound)
    bound_sd = 6 * np.sqrt(2) * max(s1, s2) / np.sqrt(2 * np.size(ours))  # sd's standard error
    assert abs(s1 - s2) <= bound_sd + 1e-12, (name, s1, s2, bound_sd)  # ~ sd/sqrt(2N), normal


def test_draws_follow_keras_s_distributions():
    """The same N draws from each, moments within sampling error, supports exactly."""
    cases = [("normal", ((N,), 1.5, 2.0)), ("uniform", ((N,), -1.0, 3.0)),
             ("truncated_normal", ((N,), 0.5, 2.0)), ("randint", ((N,), -2, 7)),
             ("gamma", ((N,), 2.5)), ("beta", ((N,), 2.0, 5.0)),
             ("binomial", ((N,), 10, 0.3))]
    for name, args in cases:
        ours = getattr(minidl.random, name)(*args, seed=1)
        theirs = np.asarray(getattr(keras.random, name)(*args, seed=1))
        assert_same_mean(ours, theirs, name)
        if name in ("uniform", "randint", "truncated_normal", "beta", "binomial"):
            low, high = stats(theirs)[2:]
            assert stats(ours)[2] >= np.floor(low) and stats(ours)[3] <= np.ceil(high), name
    t = minidl.random.truncated_normal((N,), 0.5, 2.0, seed=2)
    assert np.abs(t - 0.5).max() <= 4.0 + 1e-6  # Keras's cut: 2 stddev
    assert set(np.unique(minidl.random.randint((N,), -2, 7, seed=3))) == set(range(-2, 7))


def test_categorical_frequencies_are_keras_s():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], np.float32))
    ours = minidl.random.categorical(logits, N, seed=1)
    theirs = np.asarray(keras.random.categorical(logits, N, seed=1))
    assert ours.shape == theirs.shape == (2, N)
    for k in range(3):  # a frequency's sd is sqrt(p(1-p)/N) <= 0.0036; bound 6*sqrt(2)*that
        np.testing.assert_allclose((ours == k).mean(axis=1), (theirs == k).mean(axis=1),
                                   atol=6 * np.sqrt(2) * 0.5 / np.sqrt(N))


def test_dropout_and_shuffle_as_keras():
    x = np.arange(1, 2 * N + 1, dtype=np.float32).reshape(2, N)
    ours = minidl.random.dropout(x, 0.3, seed=1)
    theirs = np.asarray(keras.random.dropout(x, 0.3, seed=1))
    for y in (ours, theirs):  # kept entries scaled by 1/(1 - rate), the rest zero
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] / np.float32(0.7), rtol=1e-6)
    assert_same_mean(ours != 0, theirs != 0, "dropout keep rate")
    columns = minidl.random.dropout(np.ones((4, 3)), 0.5, noise_shape=(None, 1), seed=2)
    assert (columns == columns[:, :1]).all()  # one draw per row, as Keras's noise_shape
    for rate in (0.0, 1.0):
        np.testing.assert_array_equal(minidl.random.dropout(x[:, :5], rate, seed=1),
                                      keras.random.dropout(x[:, :5], rate, seed=1))
    grid = np.arange(12).reshape(3, 4)
    for axis in (0, 1, -1):
        ours = minidl.random.shuffle(grid, axis=axis, seed=4)
        assert ours.dtype == grid.dtype
        np.testing.assert_array_equal(np.sort(ours, axis=axis), grid)  # a permutation
        assert not np.array_equal(ours, grid)  # of 3! or 4! orders, this seed's is not 1


# -- in call(): a VAE's sampling layer (keras.io's "Variational AutoEncoder") ------------------
class Sampling(minidl.layers.Layer):
    """z = z_mean + exp(z_log_var / 2) * eps, with the KL term added as a loss."""

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed if isinstance(seed, int) else minidl.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = minidl.random.normal(shape=ops.shape(z_mean), seed=self.seed)
        kl = -0.5 * ops.mean(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        self.add_loss(kl)
        return z_mean + self.scale(z_log_var) * eps

    def scale(self, z_log_var):
        return ops.exp(0.5 * z_log_var)


class SamplingWithAWrongGradient(Sampling):
    def scale(self, z_log_var):
        v, = backprop.values(z_log_var)  # as backprop.py's ops begin: the array on the tape
        s = np.exp(0.5 * v)
        return backprop.tracked(backprop.record(s, "exp", [v], lambda dy: [dy * s]))  # not s/2


def vae(framework, sampling, d=6, z=2):
    x = framework.Input((d,))
    h = framework.layers.Dense(8, activation="tanh", name="encoder")(x)
    z_mean = framework.layers.Dense(z, name="z_mean")(h)
    z_log_var = framework.layers.Dense(z, name="z_log_var")(h)
    out = framework.layers.Dense(d, name="decoder")(sampling([z_mean, z_log_var]))
    model = framework.Model(x, out)
    model.compile(optimizer="adam", loss="mse", **({} if framework is minidl else
                                                   {"jit_compile": False}))
    return model


def test_the_draw_is_a_constant_for_backprop_and_a_wrong_gradient_fails(float64):
    """Central differences through the sampling layer (an int seed: the same eps at every
    call, as the check needs); a scale gradient missing its 1/2 must fail."""
    x = np.random.default_rng(0).normal(size=(5, 6))
    for layer, passes in ((Sampling(seed=7), True), (SamplingWithAWrongGradient(seed=7), False)):
        result = check_gradients(vae(minidl, layer), x, x)
        assert result.passed is passes, str(result)


class KerasSampling(keras.layers.Layer):
    """Keras's sampling layer, replaying minidl's draws in order (TensorFlow cannot draw
    NumPy's numbers): tf.numpy_function runs at every step of Keras's traced train function."""

    def __init__(self, draws, **kwargs):
        super().__init__(**kwargs)
        self.draws = draws

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = tf.numpy_function(self.draws.popleft, [], tf.float32)
        eps = tf.reshape(eps, tf.shape(z_mean))
        kl = -0.5 * keras.ops.mean(1 + z_log_var - keras.ops.square(z_mean)
                                   - keras.ops.exp(z_log_var))
        self.add_loss(kl)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps


def test_a_vae_trains_in_fit_as_its_keras_twin_on_the_same_noise(monkeypatch):
    """minidl fits first, keeping each eps it draws (a SeedGenerator: new noise per step);
    Keras replays them. History (reconstruction + KL) within 1e-5 relative: float32
    arithmetic in a different order over 12 Adam steps, as the other lockstep tests."""
    minidl.utils.set_random_seed(0)
    x = np.random.default_rng(1).normal(size=(48, 6)).astype(np.float32)
    model = vae(minidl, Sampling(seed=None, name="sampling"))
    draws, normal = collections.deque(), minidl.random.normal

    def keep(*args, **kwargs):
        eps = normal(*args, **kwargs)
        draws.append(np.array(eps))
        return eps

    twin = vae(keras, KerasSampling(draws, name="sampling"))
    for layer in model.layers:
        if layer.weights:
            twin.get_layer(layer.name).set_weights(layer.get_weights())
    monkeypatch.setattr(minidl.random, "normal", keep)
    ours = model.fit(x, x, epochs=4, batch_size=16, shuffle=False, verbose=0).history["loss"]
    assert len(draws) == 12 and not np.array_equal(draws[0], draws[1])
    theirs = twin.fit(x, x, epochs=4, batch_size=16, shuffle=False, verbose=0).history["loss"]
    assert not draws  # Keras used every draw, one per step
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert np.isfinite(ours).all() and ours[-1] < ours[0]
