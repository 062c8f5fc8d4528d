"""Initializers as Keras's: the distributions (mean, standard deviation and limits over large
draws, within tolerances derived from the sample size, against the formula and against
Keras's own draws), the deterministic ones exactly, names, configs and errors.

NumPy cannot reproduce TensorFlow's random streams, so the random initializers are checked
statistically. For n independent draws of standard deviation s, the sample mean is off by
about s / sqrt(n), and the sample standard deviation by about s * sqrt((k - 1) / (4 n)),
k the kurtosis (3 for a normal, 1.8 for a uniform, less than 3 for a truncated normal): the
tests allow 5 of these standard errors (a chance below 1e-6 of failing by bad luck; the
draws are seeded anyway).
"""
import math
import re

import numpy as np
import pytest

import keras
import minidl
from minidl import initializers

FAN_IN, FAN_OUT = 300, 200
TRUNCATION = 0.87962566103423978  # std of a standard normal cut at +-2

# (class name, arguments, distribution, the standard deviation the formula promises)
CASES = [
    ("GlorotUniform", {}, "uniform", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("GlorotNormal", {}, "truncated", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("HeUniform", {}, "uniform", math.sqrt(2 / FAN_IN)),
    ("HeNormal", {}, "truncated", math.sqrt(2 / FAN_IN)),
    ("LecunUniform", {}, "uniform", math.sqrt(1 / FAN_IN)),
    ("LecunNormal", {}, "truncated", math.sqrt(1 / FAN_IN)),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
     "normal", math.sqrt(2 / FAN_OUT)),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"}, "uniform",
     math.sqrt(0.5 / ((FAN_IN + FAN_OUT) / 2))),
    ("VarianceScaling", {"scale": 3.0, "distribution": "normal"}, "truncated",
     math.sqrt(3 / FAN_IN)),
    ("RandomNormal", {"stddev": 2.0}, "normal", 2.0),
    ("RandomUniform", {"minval": -3.0, "maxval": 3.0}, "uniform", 6 / math.sqrt(12)),
    ("TruncatedNormal", {"stddev": 0.5}, "truncated", 0.5 * TRUNCATION),
]
CASE_IDS = [f"{name}{kwargs}" for name, kwargs, _, _ in CASES]
KURTOSIS = {"normal": 3.0, "truncated": 3.0, "uniform": 1.8}  # truncated: 3 is an upper bound


def assert_distribution(values, kind, std, mean=0.0):
    n = values.size
    values = values.astype(np.float64)
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(values.std() - std) < 5 * std * math.sqrt((KURTOSIS[kind] - 1) / (4 * n))
    if kind == "uniform":  # U[-limit, limit), limit = sqrt(3) * std, reached to within ~1/n
        limit = math.sqrt(3) * std
        assert np.all(np.abs(values - mean) <= limit)
        assert np.abs(values - mean).max() > limit * (1 - 20 / n)
    if kind == "truncated":  # nothing beyond 2 standard deviations of the normal drawn from
        bound = 2 * std / TRUNCATION
        assert np.all(np.abs(values - mean) <= bound * (1 + 1e-6))
        assert np.abs(values - mean).max() > 0.99 * bound


@pytest.mark.parametrize("name, kwargs, kind, std", CASES, ids=CASE_IDS)
def test_draws_have_the_promised_distribution_as_kerass_do(name, kwargs, kind, std):
    minidl.utils.set_random_seed(0)
    ours = getattr(initializers, name)(**kwargs)((FAN_IN, FAN_OUT))
    theirs = np.asarray(getattr(keras.initializers, name)(**kwargs, seed=1)((FAN_IN, FAN_OUT)))
    assert ours.dtype == np.float32 and ours.shape == (FAN_IN, FAN_OUT)
    assert_distribution(theirs, kind, std)  # the formula above is Keras's
    assert_distribution(ours, kind, std)
    n = ours.size  # and the two samples agree with each other
    assert abs(ours.std() - theirs.std()) < 5 * math.sqrt(2) * std * math.sqrt(
        (KURTOSIS[kind] - 1) / (4 * n))


def test_a_convolution_kernel_takes_its_fans_from_the_window():
    shape = (3, 3, 16, 32)  # fan_in = 3*3*16 = 144, fan_out = 3*3*32 = 288
    minidl.utils.set_random_seed(0)
    for name, kind, std in [("HeNormal", "truncated", math.sqrt(2 / 144)),
                            ("GlorotUniform", "uniform", math.sqrt(2 / (144 + 288)))]:
        values = getattr(initializers, name)()(shape)
        assert values.shape == shape
        assert_distribution(values, kind, std)
    assert initializers._fans((5, 7), input_axes=[1], output_axes=[0]) == (7, 5)
    assert initializers._fans((4,)) == (4, 4) and initializers._fans(()) == (1, 1)


def test_means_other_than_zero():
    values = initializers.RandomNormal(mean=0.5, stddev=2.0, seed=3)((FAN_IN, FAN_OUT))
    assert_distribution(values, "normal", 2.0, mean=0.5)
    values = initializers.TruncatedNormal(mean=-1.0, stddev=0.5, seed=3)((FAN_IN, FAN_OUT))
    assert_distribution(values, "truncated", 0.5 * TRUNCATION, mean=-1.0)
    values = initializers.RandomUniform(minval=1.0, maxval=2.0, seed=3)((FAN_IN, FAN_OUT))
    assert_distribution(values, "uniform", 1 / math.sqrt(12), mean=1.5)


@pytest.mark.parametrize("name, kwargs, shape", [
    ("Zeros", {}, (3, 4)), ("Ones", {}, (2, 5)), ("Constant", {"value": 2.5}, (3, 4)),
    ("Constant", {"value": np.array([1.0, -2.0])}, (3, 2)), ("Identity", {}, (3, 3)),
    ("Identity", {"gain": 2.0}, (2, 5)), ("Identity", {"gain": 0.5}, (4, 2))])
def test_the_deterministic_ones_equal_kerass(name, kwargs, shape):
    ours = getattr(initializers, name)(**kwargs)(shape)
    theirs = np.asarray(getattr(keras.initializers, name)(**kwargs)(shape))
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (3, 3, 4, 8), (5, 5)])
def test_orthogonal_gives_orthonormal_rows_or_columns_times_gain(shape):
    w = initializers.Orthogonal(gain=1.5, seed=0)(shape)
    assert w.shape == shape and w.dtype == np.float32
    m = w.reshape(-1, shape[-1]).astype(np.float64)  # (rows, cols)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T  # the smaller side
    np.testing.assert_allclose(gram, 1.5**2 * np.eye(len(gram)), atol=1e-5)
    k = np.asarray(keras.initializers.Orthogonal(gain=1.5, seed=0)(shape)).reshape(m.shape)
    keras_gram = k.T @ k if k.shape[0] >= k.shape[1] else k @ k.T  # the same property in Keras
    np.testing.assert_allclose(keras_gram, gram, atol=1e-5)


def test_a_seed_fixes_the_values_and_none_follows_set_random_seed():
    init = initializers.HeNormal(seed=42)
    np.testing.assert_array_equal(init((4, 3)), init((4, 3)))  # every call, as Keras's
    np.testing.assert_array_equal(init((4, 3)), initializers.HeNormal(seed=42)((4, 3)))
    assert not np.array_equal(init((4, 3)), initializers.HeNormal(seed=43)((4, 3)))
    minidl.utils.set_random_seed(7)
    first = initializers.get("lecun_uniform")((4, 3))
    minidl.utils.set_random_seed(7)
    np.testing.assert_array_equal(first, initializers.get("lecun_uniform")((4, 3)))


def keras_get(name):
    """keras.initializers.get, except that Keras's get("constant") raises KeyError (its
    Constant.from_config needs a value) where minidl's gives Constant(0.0), the default."""
    if name.lower() == "constant":
        return keras.initializers.Constant()
    return keras.initializers.get(name)


def test_every_keras_name_resolves_to_the_same_class():
    names = [name for name in keras.src.initializers.ALL_OBJECTS_DICT
             if "stft" not in name.lower() and name.lower() != "initializer"]
    for name in names:
        assert type(initializers.get(name)).__name__ == type(keras_get(name)).__name__, name
    assert sorted(initializers._BY_NAME) == sorted(names)


@pytest.mark.parametrize("name", sorted(
    {cls.__name__ for cls in initializers._BY_NAME.values()}))
def test_configs_are_kerass_both_ways(name):
    assert initializers.serialize(initializers.get(name)) == \
        keras.initializers.serialize(keras_get(name))


@pytest.mark.parametrize("keras_initializer", [
    keras.initializers.VarianceScaling(scale=3.0, mode="fan_out", distribution="uniform",
                                       seed=7),
    keras.initializers.TruncatedNormal(mean=1.0, stddev=0.3), keras.initializers.Constant(4.0),
    keras.initializers.Orthogonal(gain=2.0), keras.initializers.HeNormal(seed=5),
    keras.initializers.RandomUniform(minval=0.0, maxval=1.0)], ids=lambda i: type(i).__name__)
def test_kerass_serialized_initializers_load_and_save_back(keras_initializer):
    config = keras.initializers.serialize(keras_initializer)
    ours = initializers.get(config)
    assert initializers.serialize(ours) == config
    back = keras.initializers.get(initializers.serialize(ours))
    assert keras.initializers.serialize(back) == config


def test_a_dense_layer_takes_an_initializer_by_name_object_or_array():
    minidl.utils.set_random_seed(0)
    layer = minidl.layers.Dense(FAN_OUT, kernel_initializer="he_uniform",
                                bias_initializer=initializers.Constant(0.1))
    layer.build((None, FAN_IN))
    assert_distribution(layer.kernel.value, "uniform", math.sqrt(2 / FAN_IN))
    assert np.all(layer.bias.value == np.float32(0.1))
    kernel = np.arange(6, dtype=np.float32).reshape(3, 2)
    layer = minidl.layers.Dense(2, kernel_initializer=kernel)
    layer.build((None, 3))
    np.testing.assert_array_equal(layer.kernel.value, kernel)
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(3, 2\)"):
        minidl.layers.Dense(2, kernel_initializer=kernel).build((None, 4))


@pytest.mark.parametrize("make", [
    lambda m: m.VarianceScaling(scale=0.0), lambda m: m.VarianceScaling(mode="fan"),
    lambda m: m.VarianceScaling(distribution="gauss"), lambda m: m.Orthogonal()((3,)),
    lambda m: m.Identity()((2, 2, 2)), lambda m: m.get("he_normall")],
    ids=["scale", "mode", "distribution", "orthogonal-rank", "identity-rank", "name"])
def test_errors_are_kerass(make):
    with pytest.raises(ValueError) as keras_error:
        make(keras.initializers)
    with pytest.raises(ValueError) as error:
        make(initializers)
    # A set of valid values prints in an order that changes from process to process.
    assert sorted_sets(str(error.value)).startswith(sorted_sets(str(keras_error.value)))


def sorted_sets(message):
    """The message with each {'a', 'b'} listed in sorted order."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", ")))
                  + "}", message)


def test_a_seed_must_be_an_int():
    with pytest.raises(ValueError, match="`seed` argument should be an integer.*seed='a'"):
        initializers.RandomNormal(seed="a")


def test_the_statistical_check_catches_a_forgotten_truncation_correction():
    """Negative control: He normal without the / 0.8796 would have std 0.88 * sqrt(2 / fan_in)."""
    std = math.sqrt(2 / FAN_IN)
    forgot = initializers.TruncatedNormal(stddev=std, seed=0)((FAN_IN, FAN_OUT))
    with pytest.raises(AssertionError):
        assert_distribution(forgot, "truncated", std)
    half_open = initializers.RandomUniform(-1.0, 0.0, seed=0)((FAN_IN, FAN_OUT))  # a wrong mean
    with pytest.raises(AssertionError):
        assert_distribution(half_open, "uniform", 1 / math.sqrt(12))
