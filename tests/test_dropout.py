"""Dropout and its kin: the masks' statistics, backward with a fixed mask, and Keras running on
minidl's masks (reference/masks.py) in lockstep runs and the divergence finder."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.tape import Tape
from minidl.testing import check_gradients
from reference.divergence import find_divergence
from reference.lockstep import lockstep_fit, lockstep_steps
from reference.masks import shared_noise


# -- the mask ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_share_of_zeros_and_scale_are_keras_s(rate):
    x = np.ones((200, 50), np.float32)  # 10,000 draws
    y = layers.Dropout(rate)(x, training=True)
    share = np.mean(y == 0)
    assert abs(share - rate) < 5 * np.sqrt(rate * (1 - rate) / x.size)  # 5 standard errors
    keras_y = np.asarray(keras.layers.Dropout(rate)(x, training=True))
    kept, keras_kept = np.unique(y[y != 0]), np.unique(keras_y[keras_y != 0])
    assert kept.dtype == np.float32 and kept.tolist() == keras_kept.tolist()  # one value each
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(rate / (1 - rate) / x.size)  # E[y] = x


@given(shape=st.sampled_from([(3, 4), (2, 3, 5), (4, 1, 2, 3)]), rate=st.floats(0.05, 0.95),
       seed=st.integers(0, 2**16))
def test_each_value_is_dropped_or_scaled_and_backward_uses_the_same_mask(shape, rate, seed):
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32) + 3  # no zeros
    layer = layers.Dropout(rate, seed=seed)
    with Tape() as tape:
        y = layer(x, training=True)
    dy = np.ones_like(y)
    (dx,) = tape.gradient([(y, dy)], [], inputs=[x])
    scale = np.float32(1 / (1 - rate))
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept] * scale)
    np.testing.assert_array_equal(dx, np.where(kept, scale, np.float32(0)))


def test_inference_returns_the_input_itself_and_extreme_rates():
    x = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    assert layers.Dropout(0.5)(x) is x
    assert layers.Dropout(0.5)(x, training=False) is x
    assert layers.Dropout(0.0)(x, training=True) is x  # Keras returns it too, drawing nothing
    np.testing.assert_array_equal(layers.Dropout(1.0)(x, training=True), np.zeros_like(x))
    np.testing.assert_array_equal(keras.layers.Dropout(1.0)(x, training=True), np.zeros_like(x))
    for noise in (layers.GaussianNoise(0.3), layers.GaussianDropout(0.3)):
        assert noise(x) is x


def test_noise_shape_and_spatial_dropout_share_one_draw_per_channel():
    x = np.ones((30, 7, 5), np.float32)
    for layer in (layers.Dropout(0.5, noise_shape=(None, 1, 5)), layers.SpatialDropout1D(0.5)):
        y = layer(x, training=True)
        assert (y == y[:, :1, :]).all()  # the same along the 7 steps
        assert 0 < np.mean(y == 0) < 1
    images = np.ones((20, 4, 3, 6), np.float32)
    y = layers.SpatialDropout2D(0.5)(images, training=True)
    assert (y == y[:, :1, :1, :]).all()
    y = layers.SpatialDropout2D(0.5, data_format="channels_first")(images, training=True)
    assert (y == y[:, :, :1, :1]).all()


def test_masks_are_reproducible_from_minidl_s_seed_or_the_layer_s():
    x = np.ones((8, 10), np.float32)
    minidl.utils.set_random_seed(3)
    first = layers.Dropout(0.5)(x, training=True)
    minidl.utils.set_random_seed(3)
    np.testing.assert_array_equal(layers.Dropout(0.5)(x, training=True), first)
    a, b, c = layers.Dropout(0.5, seed=7), layers.Dropout(0.5, seed=7), layers.Dropout(0.5, seed=8)
    for _ in range(2):
        np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
    assert not np.array_equal(a(x, training=True), c(x, training=True))


def test_gaussian_noise_statistics():
    x = np.ones((400, 50), np.float32)
    added = layers.GaussianNoise(0.2)(x, training=True) - x
    assert abs(added.mean()) < 0.01 and abs(added.std() - 0.2) < 0.01
    factor = layers.GaussianDropout(0.2)(x, training=True)
    assert abs(factor.mean() - 1) < 0.01 and abs(factor.std() - np.sqrt(0.2 / 0.8)) < 0.01
    assert added.dtype == factor.dtype == np.float32


# -- gradients, with a fixed mask ----------------------------------------------------------------
class DropoutForgettingTheScale(layers.Dropout):
    """A wrong backward: passes dy through the kept units without the 1 / (1 - rate)."""

    def backward(self, dy, cache, need_dx=True):
        keep, _ = cache
        return np.where(keep, dy, 0.0), {}


def fixed_noise(layer, noise):
    layer.draw_noise = lambda shape, dtype: noise  # every call uses the same mask or noise
    return layer


def test_gradient_check_with_a_fixed_mask_and_its_negative_control(float64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5))
    keep = rng.random((6, 5)) >= 0.4
    assert check_gradients(fixed_noise(layers.Dropout(0.4), keep), x).passed
    channels = rng.random((6, 1, 5)) >= 0.4
    x3 = rng.normal(size=(6, 3, 5))
    assert check_gradients(fixed_noise(layers.SpatialDropout1D(0.4), channels), x3).passed
    noise = 1 + 0.5 * rng.normal(size=(6, 5))
    assert check_gradients(fixed_noise(layers.GaussianDropout(0.2), noise), x).passed
    assert check_gradients(fixed_noise(layers.GaussianNoise(0.2), noise), x).passed
    wrong = check_gradients(fixed_noise(DropoutForgettingTheScale(0.4), keep), x)
    assert wrong.failed == ["x (input)"]


# -- Keras on the same masks -----------------------------------------------------------------------
def dropout_model(kinds=("Dropout",), rate=0.3, optimizer="adam"):
    """A small classifier with the given noise layers after the hidden layer, fixed weights."""
    noise = {"Dropout": lambda: layers.Dropout(rate, name="drop"),
             "SpatialDropout1D": lambda: layers.SpatialDropout1D(rate, name="spatial"),
             "GaussianNoise": lambda: layers.GaussianNoise(0.2, name="noise"),
             "GaussianDropout": lambda: layers.GaussianDropout(rate, name="gdrop"),
             "AlphaDropout": lambda: layers.AlphaDropout(rate, name="alpha")}
    model = minidl.Sequential(
        [minidl.Input((3, 4)), layers.Dense(8, activation="relu", name="hidden")]
        + [noise[kind]() for kind in kinds]
        + [layers.Flatten(name="flat"), layers.Dense(3, activation="softmax", name="out")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


def data(n=50):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 3, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_rate_zero_trains_as_keras_s_dropout():
    x, y = data()
    model = dropout_model(rate=0.0)
    twin = keras.Sequential([keras.Input((3, 4)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dropout(0.0), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax")])
    twin.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    twin.set_weights(model.get_weights())
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    ours, theirs = model.fit(x, y, **kwargs).history, twin.fit(x, y, **kwargs).history
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kinds", [("Dropout",), ("SpatialDropout1D", "GaussianNoise"),
                                   ("GaussianDropout",), ("AlphaDropout",)])
def test_lockstep_steps_with_the_same_masks_give_the_same_weights(kinds):
    x, y = data()
    run = lockstep_steps(dropout_model(kinds), x, y, batch_size=16, steps=6)
    np.testing.assert_allclose(run.minidl_losses, run.keras_losses, rtol=1e-5)
    assert max(run.max_weight_diff()) < 1e-5


def test_lockstep_fit_history_with_dropout_and_validation():
    x, y = data()
    model = dropout_model(rate=0.5)
    run = lockstep_fit(model, x, y, epochs=3, batch_size=8, validation_split=0.2, seed=4)
    assert all(diff < 1e-5 for diff in run.max_abs_diff().values()), run.max_abs_diff()
    assert "draw_noise" not in model.get_layer("drop").__dict__  # recording stopped
    assert type(run.keras_model.get_layer("drop")) is keras.layers.Dropout  # its own again
    run.keras_model.fit(x, y, epochs=1, verbose=0)  # and Keras trains alone again


def test_divergence_finder_agrees_with_dropout_and_finds_a_wrong_dropout_backward():
    x, y = data()
    assert find_divergence(dropout_model(), x, y, batch_size=16, steps=6, shuffle=True) is None
    model = dropout_model()
    wrong = DropoutForgettingTheScale(0.3, name="drop")
    model = minidl.Sequential([minidl.Input((3, 4)), model.get_layer("hidden"), wrong,
                               model.get_layer("flat"), model.get_layer("out")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    twin = keras.Sequential([keras.Input((3, 4)),
                             keras.layers.Dense(8, activation="relu", name="hidden"),
                             keras.layers.Dropout(0.3, name="drop"),
                             keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(3, activation="softmax", name="out")])
    twin.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    twin.set_weights(model.get_weights())
    found = find_divergence(model, x, y, batch_size=16, keras_model=twin)
    assert (found.step, found.stage, found.name) == (0, "gradient", "hidden/kernel")


def test_keras_without_minidl_s_masks_is_told_what_to_do():
    x, y = data(16)
    model = dropout_model()
    twin = keras.Sequential([keras.Input((3, 4)),
                             keras.layers.Dense(8, activation="relu", name="hidden"),
                             keras.layers.Dropout(0.3, name="drop"),
                             keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(3, activation="softmax", name="out")])
    twin.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with shared_noise(model, twin), pytest.raises(Exception, match="run each training step in "
                                                                    "minidl first"):
        twin.train_on_batch(x, y)  # Keras first: no mask to replay
    misnamed = keras.Sequential([keras.Input((3, 4)), keras.layers.Dropout(0.3, name="other")])
    with pytest.raises(ValueError, match="no layer named 'drop'"):
        with shared_noise(model, misnamed):
            pass


# -- configs and errors ------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    layers.Dropout(0.25, noise_shape=(None, 1, 4), seed=3, name="d"),
    layers.SpatialDropout1D(0.2, seed=1, name="s1"),
    layers.SpatialDropout2D(0.2, data_format="channels_first", name="s2"),
    layers.GaussianNoise(0.1, seed=2, name="g"), layers.GaussianDropout(0.4, name="gd"),
    layers.AlphaDropout(0.3, noise_shape=(None, 1, 4), seed=5, name="ad")])
def test_configs_are_keras_s(layer):
    cls = getattr(keras.layers, type(layer).__name__)
    theirs = cls.from_config(layer.get_config()).get_config()
    assert layer.get_config() == {k: v for k, v in theirs.items()
                                  if k != "dtype" or isinstance(v, str)}
    theirs.pop("dtype")
    assert type(layer)(**theirs).get_config() == layer.get_config()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"`rate`.*between 0 and 1. Received: rate=1.5"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="`noise_shape`"):
        layers.Dropout(0.5, noise_shape="(None, 1)")
    with pytest.raises(ValueError, match="`noise_shape` must broadcast"):
        layers.Dropout(0.5, noise_shape=(None, 3))(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layers.SpatialDropout1D(0.5)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="data_format"):
        layers.SpatialDropout2D(0.5, data_format="nhwc")
    with pytest.raises(ValueError, match="`stddev`"):
        layers.GaussianNoise(2.0)
    with pytest.raises(ValueError, match="`seed`"):
        layers.Dropout(0.5, seed="s")


# -- AlphaDropout ------------------------------------------------------------------------------
def test_alpha_dropout_values_are_keras_s_and_keep_mean_and_variance():
    """On ones, each output is a + b (kept) or a * alpha_p + b (dropped): the same two float32
    numbers as Keras's; on standardized inputs the mean stays 0 and the variance 1."""
    rate = 0.2
    ones = np.ones((100, 100), np.float32)
    ours = np.unique(layers.AlphaDropout(rate)(ones, training=True))
    theirs = np.unique(np.asarray(keras.layers.AlphaDropout(rate)(ones, training=True)))
    assert ours.dtype == np.float32 and ours.tolist() == theirs.tolist() and len(ours) == 2
    x = np.random.default_rng(0).normal(size=(200, 100)).astype(np.float32)
    y = layers.AlphaDropout(rate, seed=1)(x, training=True)
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.05  # 20,000 draws: ~4 standard errors
    assert layers.AlphaDropout(rate)(x) is x  # inference: the input itself


def test_alpha_dropout_gradient_check_with_a_fixed_mask_and_its_negative_control(float64):
    rng = np.random.default_rng(0)
    x, keep = rng.normal(size=(6, 5)), rng.random((6, 5)) >= 0.3
    assert check_gradients(fixed_noise(layers.AlphaDropout(0.3), keep), x).passed

    class ForgettingA(layers.AlphaDropout):
        def backward(self, dy, cache, need_dx=True):
            return (dy if cache is None else dy * cache[0]), {}

    wrong = check_gradients(fixed_noise(ForgettingA(0.3), keep), x)
    assert wrong.failed == ["x (input)"]


def test_alpha_dropout_errors_as_keras():
    for framework in (layers, keras.layers):
        with pytest.raises(ValueError, match=r"`rate`.*between 0 and 1. Received: rate=1.5"):
            framework.AlphaDropout(1.5)
        with pytest.raises(ZeroDivisionError):  # a = 0 ** -0.5 in both
            framework.AlphaDropout(1.0)(np.ones((2, 3), np.float32), training=True)
