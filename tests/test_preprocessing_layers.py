"""Normalization (with adapt) and Rescaling against live Keras: the statistics adapt computes,
the outputs, the gradients (central differences, negative control) and a short fit."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.testing import check_gradients
from test_float32_only import trace_float64


def adapted(data, **kwargs):
    """A Normalization adapted to data in both frameworks: (minidl's, Keras's)."""
    ours, theirs = layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    ours.adapt(data), theirs.adapt(data)
    return ours, theirs


def assert_same_weights(ours, theirs):
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)


DATA = {
    "float32": lambda rng: (rng.normal(size=(50, 4)) * 3 + 2).astype(np.float32),
    "float64": lambda rng: rng.normal(size=(50, 4)) * 3 + 2,
    "uint8 images": lambda rng: rng.integers(0, 256, size=(20, 3, 3)).astype(np.uint8),
}


@pytest.mark.parametrize("kind", sorted(DATA))
@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
def test_adapt_gives_keras_s_mean_variance_and_count(kind, axis):
    data = DATA[kind](np.random.default_rng(0))
    if axis == (1, 2) and data.ndim == 2:
        axis = 1
    ours, theirs = adapted(data, axis=axis)
    assert [w.name for w in ours.weights] == ["mean", "variance", "count"]
    assert_same_weights(ours, theirs)  # np.mean and np.var of the data as given, as Keras
    x = data[:5].astype(np.float32)
    np.testing.assert_array_equal(ours(x), theirs(x))


@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=4), seed=st.integers(0, 2**16),
       as_tuples=st.booleans())
def test_adapt_on_batches_merges_them_as_keras(sizes, seed, as_tuples):
    rng = np.random.default_rng(seed)
    batches = [(rng.normal(size=(n, 3)) * 2 + 5).astype(np.float32) for n in sizes]
    if as_tuples:  # (x, y) batches: only x counts
        batches = [(b, np.zeros(len(b))) for b in batches]
    ours, theirs = layers.Normalization(), keras.layers.Normalization()
    ours.adapt(iter(batches)), theirs.adapt(list(batches))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_a_constant_feature_maps_to_zero_and_invert_undoes():
    data = np.ones((10, 3), np.float32)
    data[:, 1] = np.arange(10)
    ours, theirs = adapted(data)
    y = ours(data)
    np.testing.assert_array_equal(y, theirs(data))
    assert np.isfinite(y).all() and (y[:, [0, 2]] == 0).all()  # max(sqrt(0), 1e-7)
    inverse = layers.Normalization(mean=ours.adapt_mean.numpy(),
                                   variance=ours.adapt_variance.numpy(), invert=True)
    np.testing.assert_allclose(inverse(y)[:, 1], data[:, 1], rtol=1e-6)


@pytest.mark.parametrize("mean, variance", [(3.0, 2.0), ([1.0, 2.0, 3.0], [1.0, 4.0, 9.0])])
@pytest.mark.parametrize("invert", [False, True])
def test_given_statistics_match_keras_and_make_no_weights(mean, variance, invert):
    kwargs = dict(mean=mean, variance=variance, invert=invert, name="norm")
    ours, theirs = layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(ours(x), theirs(x))
    assert ours.get_weights() == [] == theirs.get_weights()
    assert ours.get_config() == {k: v for k, v in theirs.get_config().items() if k != "dtype"}
    np.testing.assert_array_equal(ours.mean.numpy(), theirs.mean.numpy())  # (1,3), as Keras's
    np.testing.assert_array_equal(ours.variance.numpy(), theirs.variance.numpy())


def test_the_statistics_read_as_keras_layer_mean_and_variance():
    """The fuel-efficiency tutorial's `normalizer.mean.numpy()`: None before adapt, then the
    broadcast-shaped mean and variance."""
    data = np.random.default_rng(4).normal(size=(20, 3)).astype(np.float32) * 3 + 1
    ours, theirs = layers.Normalization(), keras.layers.Normalization()
    assert ours.mean is None and theirs.mean is None
    ours.adapt(data), theirs.adapt(data)
    for name in ("mean", "variance"):
        a, b = getattr(ours, name).numpy(), getattr(theirs, name).numpy()
        assert a.shape == b.shape == (1, 3)
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_rescaling_matches_keras():
    x = np.random.default_rng(2).integers(0, 256, (4, 5, 5, 3)).astype(np.uint8)
    for scale, offset in [(1 / 255, 0.0), (1 / 127.5, -1), (np.array([0.5, 1.0, 2.0]), 0.0)]:
        ours = layers.Rescaling(scale, offset, name="scale")
        theirs = keras.layers.Rescaling(scale, offset, name="scale")
        np.testing.assert_array_equal(ours(x), theirs(x))
        config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
        assert str(ours.get_config()) == str(config)
        assert str(layers.Rescaling(**config).get_config()) == str(config)


# -- gradients ---------------------------------------------------------------------------------
class NormalizationMultiplyingBack(layers.Normalization):
    """A wrong backward: multiplies by std where forward divided."""

    def backward(self, dy, std, need_dx=True):
        return dy * std, {}


def test_gradient_checks_pass_and_the_negative_control_fails(float64):
    rng = np.random.default_rng(3)
    data, x = rng.normal(size=(30, 4)) * 3, rng.normal(size=(5, 4))
    for invert in (False, True):
        layer = layers.Normalization(invert=invert)
        layer.adapt(data)
        assert check_gradients(layer, x).passed
    assert check_gradients(layers.Rescaling(0.5, offset=2.0), x).passed
    wrong = NormalizationMultiplyingBack()
    wrong.adapt(data)
    assert check_gradients(wrong, x).failed == ["x (input)"]


# -- in a model ---------------------------------------------------------------------------------
def regression_models(data):
    """The regression tutorial's model: Normalization (adapted) -> Dense(16, relu) -> Dense(1)."""
    models = []
    for framework in (keras, minidl):
        norm = framework.layers.Normalization(name="norm")
        norm.adapt(data)
        model = framework.Sequential([framework.Input((4,)), norm,
                                      framework.layers.Dense(16, activation="relu", name="h"),
                                      framework.layers.Dense(1, name="out")], name="regression")
        model.compile(optimizer=framework.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        models.append(model)
    rng = np.random.default_rng(4)
    for keras_layer, layer in zip(*(m.layers for m in models)):
        if isinstance(layer, layers.Dense):  # the same Dense weights, layer by layer
            weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in layer.get_weights()]
            layer.set_weights(weights), keras_layer.set_weights(weights)
    return models


def test_a_normalized_regression_fits_as_in_keras(capsys):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 4)) * [1, 10, 100, 0.1] + [0, 5, 300, 1]  # float64, unscaled
    y = x @ [1.0, 0.1, 0.01, 10.0]
    keras_model, model = regression_models(x)
    kwargs = dict(epochs=3, batch_size=16, shuffle=False, validation_split=0.2, verbose=0)
    theirs, ours = keras_model.fit(x, y, **kwargs).history, model.fit(x, y, **kwargs).history
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    for keras_layer, layer in zip(keras_model.layers, model.layers):
        for a, b in zip(layer.get_weights(), keras_layer.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    keras_model.summary()
    keras_text = capsys.readouterr().out
    model.summary()
    assert capsys.readouterr().out == keras_text  # mean, variance and an int64 count
    assert " Non-trainable params: 9 (40.00 B)" in keras_text


def test_rescaled_images_fit_as_in_keras():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (40, 4, 4, 1)).astype(np.uint8)
    y = rng.integers(0, 2, 40)
    models = []
    for framework in (keras, minidl):
        model = framework.Sequential([framework.Input((4, 4, 1)),
                                      framework.layers.Rescaling(1 / 255, name="scale"),
                                      framework.layers.Flatten(name="flat"),
                                      framework.layers.Dense(1, activation="sigmoid", name="o")])
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
        models.append(model)
    models[0].set_weights(models[1].get_weights())
    kwargs = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs, ours = models[0].fit(x, y, **kwargs).history, models[1].fit(x, y, **kwargs).history
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5)


def test_a_float32_step_through_every_new_layer_holds_no_float64():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(32, 3, 4)), rng.integers(0, 3, 32)  # float64 x: cast at the boundary
    norm = layers.Normalization()
    norm.adapt(x)
    model = minidl.Sequential([
        minidl.Input((3, 4)), norm, layers.Rescaling(0.5, offset=0.1), layers.Dense(6),
        layers.BatchNormalization(), layers.LayerNormalization(), layers.Dropout(0.3),
        layers.SpatialDropout1D(0.2), layers.GaussianNoise(0.1), layers.GaussianDropout(0.2),
        layers.Flatten(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, verbose=0)  # builds the optimizer's slots first

    def step():
        model.train_on_batch(x[:16].astype(np.float32), y[:16])
        model.predict(x[:16].astype(np.float32), verbose=0)

    assert trace_float64(step) == []


# -- errors -------------------------------------------------------------------------------------
def test_errors_are_clear_and_adapt_is_all_or_nothing():
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=1.0)
    layer = layers.Normalization()
    layer.adapt(np.ones((5, 3), np.float32) * [1, 2, 3])
    before = layer.get_weights()
    with pytest.raises(ValueError, match="incompatible shape"):
        layer.adapt(np.ones((5, 4), np.float32))
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"range \[-ndim, ndim\)"):
        layers.Normalization(axis=2).adapt(np.ones((5, 3), np.float32))
    with pytest.raises(TypeError, match="Unsupported data type"):
        layers.Normalization().adapt(3.0)
    with pytest.raises(ValueError, match="nothing to adapt"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="`scale`"):
        layers.Rescaling("1/255")
