"""The image preprocessing and augmentation layers against Keras 3's.

Keras's random numbers (TensorFlow's) cannot be reproduced, so each random layer is compared
on a transformation minidl drew: `t = layer.get_random_transformation(x)` in minidl, then
`transform_images(x, t)` in both frameworks on the same t. Tolerances:
- exact (bit for bit) for everything but RandomContrast: flips and crops move values; the
  affine layers and Resizing evaluate TensorFlow's kernels' float32 formulas in the kernels'
  order (image_sampling.py; 2,400 random transforms of every fill mode and interpolation
  were equal to ImageProjectiveTransformV3 before this file was written), and brightness is
  one float32 addition and a clip.
- RandomContrast: the per-channel mean is a sum of H*W float32 values whose order differs
  (NumPy's and TensorFlow's reductions), so the means may differ by up to H*W*eps*max|x|;
  with the factor c <= 2 and the final two float32 operations: atol = (2*H*W + 4)*eps*max|x|.
- the rotation matrix from an angle: cos and sin may differ by an ulp between NumPy and
  TensorFlow, and a2, b2 add (W + H) times them: atol = 4 * eps * (1 + H + W).
- gradients against tf.GradientTape: exact maps of the same weights, summed in another order:
  rtol 1e-6, atol 1e-6 * max|dy| * 4 (at most four taps add into one pixel of a resize).
- central differences in float64: relative error 1e-7 (the maps are linear in x: only
  rounding of ~1e-16 / h with h = 1e-6 is left), with a wrong backward that must fail.
Draws are checked with fixed seeds over many draws: ranges exactly, flip frequency within a
band wider than 8 standard deviations (explained at the test).
"""
import io
import math
from contextlib import redirect_stdout

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.layers import (CenterCrop, Conv2D, Dense, Flatten, Input, MaxPooling2D,
                           RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
                           RandomRotation, RandomTranslation, RandomZoom, Resizing)
from minidl.layers.augmentation import rotation_matrix
from minidl.models import Sequential, load_model
from minidl.saving.layer_config import layer_from_config
from minidl.tape import Tape
from minidl.testing import numerical_gradient, relative_error
from reference.twins import keras_twin

EPS = float(np.finfo(np.float32).eps)
FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


def images(draw, max_side=7, channels=2, batch=3):
    n = draw(st.integers(1, batch))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    c = draw(st.integers(1, channels))
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).normal(size=(n, h, w, c)).astype(np.float32)


def keras_layer(layer):
    """The Keras layer of the same class and config."""
    return getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())


def keras_transform(layer, x, t):
    return np.asarray(keras_layer(layer).transform_images(x, t, training=True))


# -- the same transformation gives the same images ---------------------------------------------
@st.composite
def affine_cases(draw):
    x = images(draw)
    kind = draw(st.sampled_from(["rotation", "zoom", "translation"]))
    options = dict(fill_mode=draw(st.sampled_from(FILL_MODES)),
                   interpolation=draw(st.sampled_from(["bilinear", "nearest"])),
                   fill_value=draw(st.sampled_from([0.0, -1.5])), seed=draw(st.integers(0, 99)))
    pair = st.tuples(st.floats(-0.9, 1.0), st.floats(-0.9, 1.0)).map(list)
    factor = draw(st.one_of(st.floats(0, 1.0), pair))
    if kind == "rotation":
        layer = RandomRotation(factor, **options)
    elif kind == "zoom":
        layer = RandomZoom(factor, draw(st.one_of(st.none(), pair)), **options)
    else:
        layer = RandomTranslation(factor, draw(pair), **options)
    return layer, x


@given(affine_cases())
def test_rotation_zoom_translation_equal_keras_on_the_same_draw(case):
    layer, x = case
    t = layer.get_random_transformation(x)
    config = layer.get_config()
    for fill_mode in FILL_MODES:  # the same draw through every fill mode and interpolation
        for interpolation in ("bilinear", "nearest"):
            config.update(fill_mode=fill_mode, interpolation=interpolation)
            layer = type(layer).from_config(config)
            np.testing.assert_array_equal(layer.transform_images(x, t),
                                          keras_transform(layer, x, t), err_msg=str(config))


def test_half_pixel_and_far_shifts_equal_keras():
    """Ties of "nearest" (std::round takes halves away from zero) and shifts beyond one and
    two image sizes (the reflect and wrap periods), on transforms handed to both."""
    x = np.random.default_rng(0).normal(size=(6, 4, 5, 1)).astype(np.float32)
    shifts = np.array([[0.5, -1.5], [2.5, -0.5], [-7.5, 9.0], [13.0, -11.5], [4.5, 4.5],
                       [-19.0, 17.5]], np.float32)
    t = {"translations": shifts, "input_shape": x.shape}
    for fill_mode in FILL_MODES:
        for interpolation in ("bilinear", "nearest"):
            layer = RandomTranslation(0.1, 0.1, fill_mode, interpolation, fill_value=-1.0)
            np.testing.assert_array_equal(layer.transform_images(x, t),
                                          keras_transform(layer, x, t))


@given(st.integers(1, 9), st.integers(1, 9), st.floats(-1, 1))
def test_rotation_matrix_equals_keras_from_the_same_angles(H, W, turns):
    angle = np.array([turns * 360.0, -turns * 180.0, 0.0], np.float32)
    layer = keras.layers.RandomRotation(0.1)
    theirs = layer._compute_affine_matrix(
        center_x=0.5, center_y=0.5, angle=tf.constant(angle), translate_x=tf.zeros(3),
        translate_y=tf.zeros(3), scale=tf.ones(3), shear_x=tf.zeros(3), shear_y=tf.zeros(3),
        height=H, width=W)
    np.testing.assert_allclose(rotation_matrix(angle, H, W), theirs, rtol=0,
                               atol=4 * EPS * (1 + H + W))


@given(st.data())
def test_flip_crop_brightness_equal_keras_on_the_same_draw(data):
    x = images(data.draw, max_side=8) * 60 + 100  # pixel-like values, some clipped by 0..255
    seed = data.draw(st.integers(0, 99))
    mode = data.draw(st.sampled_from(RandomFlip.MODES))
    height, width = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
    factor = data.draw(st.one_of(st.floats(0, 1), st.tuples(st.floats(-1, 1),
                                                            st.floats(-1, 1)).map(list)))
    value_range = data.draw(st.sampled_from([(0, 255), [255, 0], (-10.5, 130)]))
    for layer in (RandomFlip(mode, seed=seed), RandomCrop(height, width, seed=seed),
                  RandomBrightness(factor, value_range, seed=seed)):
        t = layer.get_random_transformation(x)
        np.testing.assert_array_equal(layer.transform_images(x, t), keras_transform(layer, x, t),
                                      err_msg=type(layer).__name__)


@given(st.data())
def test_contrast_equals_keras_on_the_same_draw(data):
    x = images(data.draw, max_side=8) * 60 + 100
    factor = data.draw(st.one_of(st.floats(0, 1), st.tuples(st.floats(0, 1),
                                                            st.floats(0, 1)).map(list)))
    layer = RandomContrast(factor, data.draw(st.sampled_from([(0, 255), (-50, 300)])),
                           seed=data.draw(st.integers(0, 99)))
    t = layer.get_random_transformation(x)
    H, W = x.shape[1:3]
    np.testing.assert_allclose(layer.transform_images(x, t), keras_transform(layer, x, t),
                               rtol=0, atol=(2 * H * W + 4) * EPS * np.abs(x).max())


@given(st.data())
def test_resizing_and_center_crop_equal_keras(data):
    x = images(data.draw, max_side=9, channels=3)
    height, width = data.draw(st.integers(1, 11)), data.draw(st.integers(1, 11))
    aspect = data.draw(st.sampled_from([{}, {"crop_to_aspect_ratio": True},
                                        {"pad_to_aspect_ratio": True, "fill_value": 2.5}]))
    interpolation = data.draw(st.sampled_from(["bilinear", "nearest"]))
    for layer in (Resizing(height, width, interpolation, **aspect), CenterCrop(height, width)):
        for training in (False, True):  # both layers ignore it, as Keras's do
            np.testing.assert_array_equal(layer(x, training=training),
                                          keras_layer(layer)(x, training=training),
                                          err_msg=str(layer.get_config()))


def every_random_layer(seed=1):
    return [RandomFlip(seed=seed), RandomRotation(0.2, seed=seed), RandomZoom(0.3, seed=seed),
            RandomTranslation(0.2, 0.3, seed=seed), RandomCrop(3, 2, seed=seed),
            RandomContrast(0.5, seed=seed), RandomBrightness(0.3, seed=seed)]


def test_inference_is_the_identity_as_in_keras():
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 3)).astype(np.float32)
    for layer in every_random_layer():
        ours = layer(x, training=False)
        assert ours is x or np.array_equal(ours, x), type(layer).__name__
        # RandomCrop too: Keras 3.15 returns the images uncut at inference
        np.testing.assert_array_equal(keras_layer(layer)(x, training=False), x)


def test_a_bare_call_transforms_as_keras_and_predict_does_not():
    """Keras's call(data, training=True): layer(x) and model(x) augment; predict does not."""
    x = np.random.default_rng(0).uniform(0, 255, (4, 5, 4, 3)).astype(np.float32)
    for layer in every_random_layer():
        model = Sequential([Input((5, 4, 3)), type(layer).from_config(layer.get_config())])
        changed = [not np.array_equal(layer(x), x[:, :3, :2] if isinstance(layer, RandomCrop)
                                      else x) for _ in range(5)]
        assert any(changed), type(layer).__name__  # 5 calls x 4 images: seeded, not luck
        assert not np.array_equal(model(x), x) or isinstance(layer, RandomCrop)
        np.testing.assert_array_equal(model.predict(x, verbose=0), x)
        keras_model = keras.Sequential([keras.Input((5, 4, 3)), keras_layer(layer)])
        theirs = [np.asarray(keras_model(x)) for _ in range(5)]
        assert any(t.shape != x.shape or not np.array_equal(t, x) for t in theirs)


# -- the draws ---------------------------------------------------------------------------------
@given(st.integers(0, 1000), st.floats(0.01, 1), st.floats(-1, 1))
def test_draws_stay_in_their_ranges(seed, f, g):
    x = np.zeros((200, 6, 5, 1), np.float32)
    lower, upper = sorted((g, f))
    angle = RandomRotation((lower, upper), seed=seed).get_random_transformation(x)["angle"]
    assert angle.min() >= np.float32(lower * 360) and angle.max() <= np.float32(upper * 360)
    zoom = RandomZoom(-f * 0.99, (lower * 0.99, upper), seed=seed).get_random_transformation(x)
    assert np.all(np.abs(zoom["height_zoom"] - 1) <= f * 0.99 + 1e-6)
    assert np.all((zoom["width_zoom"] >= 1 + lower * 0.99 - 1e-6)
                  & (zoom["width_zoom"] <= 1 + upper + 1e-6))
    shift = RandomTranslation(f, (lower, upper), seed=seed).get_random_transformation(x)
    dx, dy = shift["translations"].T
    assert np.all(np.abs(dy) <= f * 6 + 1e-5)  # fractions of the height, 6
    assert np.all((dx >= lower * 5 - 1e-5) & (dx <= upper * 5 + 1e-5))
    c = RandomContrast(f, seed=seed).get_random_transformation(x)["contrast_factor"]
    assert c.min() >= 1 and c.max() <= 1 + f  # a number f is (0, f), as Keras
    d = RandomBrightness((lower, upper), (0, 2), seed=seed).get_random_transformation(x)
    assert d["rgb_delta"].min() >= 2 * lower - 1e-6 and d["rgb_delta"].max() <= 2 * upper + 1e-6
    starts = {RandomCrop(3, 2, seed=seed + i).get_random_transformation(x) for i in range(60)}
    assert starts <= {(top, left) for top in range(4) for left in range(4)}


def test_draws_cover_their_ranges_and_flip_half_the_images():
    x = np.zeros((4000, 3, 3, 1), np.float32)
    flips = RandomFlip(seed=3).get_random_transformation(x)["flips"]
    # Binomial(4000, 1/2): sd 0.008, so 0.45..0.55 is over 6 sd wide; the seed is fixed anyway
    assert 0.45 < flips.mean() < 0.55
    angle = RandomRotation((-0.25, 0.5), seed=3).get_random_transformation(x)["angle"]
    assert angle.min() < -80 and angle.max() > 170  # 4000 draws reach within 0.3 % of the ends
    starts = {RandomCrop(3, 2, seed=s).get_random_transformation(np.zeros((1, 6, 5, 1)))
              for s in range(200)}
    assert starts == {(top, left) for top in range(4) for left in range(4)}


# -- gradients ---------------------------------------------------------------------------------
def layer_gradient(layer, x, t, dy):
    y, cache = layer._transform(x, t, True)
    return y, layer.backward(dy, cache)[0]


@st.composite
def gradient_cases(draw):
    layer, x = draw(affine_cases())
    others = [RandomFlip(draw(st.sampled_from(RandomFlip.MODES)), seed=1),
              RandomCrop(draw(st.integers(1, 8)), draw(st.integers(1, 8)), seed=1),
              RandomContrast((0.2, 0.6), (-3, 3), seed=1),
              RandomBrightness(0.2, (-3, 3), seed=1),
              Resizing(draw(st.integers(1, 9)), draw(st.integers(1, 9)),
                       draw(st.sampled_from(["bilinear", "nearest"])),
                       **draw(st.sampled_from([{}, {"crop_to_aspect_ratio": True},
                                               {"pad_to_aspect_ratio": True}]))),
              CenterCrop(draw(st.integers(1, 8)), draw(st.integers(1, 8)))]
    return [layer] + others, x


@given(gradient_cases())
def test_backward_is_the_transpose_by_central_differences(float64, case):
    layers, x = case
    x = x.astype(np.float64)
    for layer in layers:
        t = layer.get_random_transformation(x.astype(np.float32))
        y = layer._transform(x, t, True)[0]
        w = np.random.default_rng(1).normal(size=y.shape)
        _, dx = layer_gradient(layer, x, t, w)
        numeric = numerical_gradient(lambda: np.sum(layer._transform(x, t, True)[0] * w), x)
        assert relative_error(dx, numeric) < 1e-7 or np.abs(dx - numeric).max() < 1e-8, \
            layer.get_config()


def test_central_differences_catch_a_wrong_backward(float64):
    """Negative control: TensorFlow's gradient of an affine transform (the inverse warp of dy,
    tensorflow/python/ops/image_ops.py) is not the transpose for a rotation, and fails."""
    x = np.random.default_rng(0).normal(size=(1, 5, 6, 1))
    layer = RandomRotation((0.1, 0.1), fill_mode="constant", seed=0)
    t = layer.get_random_transformation(x)
    w = np.random.default_rng(1).normal(size=x.shape)
    numeric = numerical_gradient(lambda: np.sum(layer._transform(x, t, True)[0] * w), x)
    inverse = RandomRotation((-0.1, -0.1), fill_mode="constant", seed=0)
    wrong = inverse._transform(w, inverse.get_random_transformation(x), True)[0]
    assert relative_error(wrong, numeric) > 1e-2
    assert relative_error(layer_gradient(layer, x, t, w)[1], numeric) < 1e-7


def test_gradients_equal_tensorflow_where_its_gradient_is_the_transpose():
    """Flips, crops, resizes, brightness, contrast and whole-pixel translations (there
    TensorFlow's inverse warp is the transpose) against tf.GradientTape on Keras's layers."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, (2, 6, 7, 2)).astype(np.float32)
    shift = RandomTranslation(0.3, 0.3, fill_mode="constant", interpolation="nearest", seed=2)
    whole = {"translations": np.array([[2, -1], [-3, 1]], np.float32),
             "input_shape": x.shape}
    cases = [(RandomFlip(seed=2), None), (RandomCrop(4, 3, seed=2), None),
             (RandomCrop(8, 5, seed=2), None), (CenterCrop(3, 9), None),
             (Resizing(4, 11), None), (Resizing(9, 3, "nearest", pad_to_aspect_ratio=True), None),
             (RandomBrightness(0.2, (-2.2, 2), seed=2), None),
             (RandomContrast(0.5, (-2.5, 2.5), seed=2), None), (shift, whole)]
    for layer, t in cases:
        t = layer.get_random_transformation(x) if t is None else t
        y, dx = layer_gradient(layer, x, t, dy := rng.normal(size=layer._transform(
            x, t, True)[0].shape).astype(np.float32))
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            theirs = keras_layer(layer).transform_images(xt, t, training=True)
        np.testing.assert_array_equal(y, theirs)
        np.testing.assert_allclose(dx, tape.gradient(theirs, xt, output_gradients=dy),
                                   rtol=1e-6, atol=4e-6 * np.abs(dy).max(),
                                   err_msg=type(layer).__name__)


# -- models: fit, predict, summary, files, configs -----------------------------------------------
def augmented_model():
    minidl.utils.set_random_seed(0)
    model = Sequential([Input((16, 16, 1)), RandomFlip("horizontal"), RandomRotation(0.1),
                        RandomZoom(0.1), RandomTranslation(0.1, 0.1), RandomContrast(0.2),
                        RandomBrightness(0.1), Conv2D(4, 3, activation="relu"),
                        MaxPooling2D(2), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def shapes_data(n=64):
    """Bright squares on the left or the right half (label 0/1): flips make it hard, rotations
    do not, so the accuracy must rise above chance while augmenting."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 40, (n, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for image, label in zip(x, y):
        image[4:12, 2:7] += 200 if label else 0
        image[4:12, 9:14] += 0 if label else 200
    return x / 255, y


def test_a_model_starting_with_augmentation_trains_and_predicts_as_keras():
    x, y = shapes_data()
    model = augmented_model()
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    twin = keras_twin(model, compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # the Conv2D/Dense parity tolerance


def test_summary_shapes_and_files_both_ways(tmp_path):
    x, _ = shapes_data(4)
    rows = [RandomFlip(seed=1), RandomRotation(0.1, fill_mode="wrap", seed=2),
            RandomZoom(0.1, (-0.2, 0.3), interpolation="nearest"),
            RandomTranslation((-0.1, 0.2), 0.1, fill_mode="constant", fill_value=0.5),
            RandomContrast((0.1, 0.3), (0, 1)), RandomBrightness(0.1, (0, 1)),
            Resizing(12, 10, pad_to_aspect_ratio=True), CenterCrop(8, 8), RandomCrop(6, 6)]
    model = Sequential([Input((16, 16, 1))] + rows, name="augment")
    twin = keras_twin(model, compile=False)
    assert [layer.output_shape for layer in model.layers] == \
           [tuple(layer.output.shape) for layer in twin.layers]
    text = io.StringIO()
    with redirect_stdout(text):
        model.summary()
    assert "(None, 6, 6, 1)" in text.getvalue() and "RandomContrast" in text.getvalue()
    model.save(tmp_path / "ours.keras")
    twin.save(tmp_path / "theirs.keras")
    theirs, ours = keras.models.load_model(tmp_path / "ours.keras"), load_model(
        tmp_path / "theirs.keras")
    for a, b in zip(ours.layers, theirs.layers):
        _same_config(a, b)
    # inference: the images pass the random layers, and are resized and cut as Keras does
    body = Sequential([Input((16, 16, 1))] + rows[:-1])
    np.testing.assert_array_equal(body.predict(x, verbose=0),
                                  keras_twin(body, compile=False).predict(x, verbose=0))


def _same_config(ours, theirs):
    """Every key minidl writes has Keras's value (tuples and lists alike)."""
    mine, keras_config = ours.get_config(), theirs.get_config()
    for key, value in mine.items():
        other = keras_config[key]
        if isinstance(value, (tuple, list)):
            value, other = list(value), list(other)
        assert value == other, (key, value, other)
    return True


def test_configs_both_ways():
    for layer in every_random_layer(seed=5) + [Resizing(3, 4, "nearest", True),
                                                CenterCrop(2, 3)]:
        theirs = keras_layer(layer)
        _same_config(layer, theirs)
        config = keras.saving.serialize_keras_object(theirs)
        back = layer_from_config(config)
        _same_config(back, theirs)
        assert type(back) is type(layer)


# -- errors --------------------------------------------------------------------------------------
BAD = [("RandomRotation", dict(factor=1.5)), ("RandomRotation", dict(factor=(0.1, 0.2, 0.3))),
       ("RandomRotation", dict(factor="big")), ("RandomRotation", dict(factor=0.1, fill_mode="x")),
       ("RandomRotation", dict(factor=0.1, interpolation="bicubic")),
       ("RandomRotation", dict(factor=0.1, seed=1.5)),
       ("RandomZoom", dict(height_factor=-1.0)), ("RandomZoom", dict(height_factor=(0.1,))),
       ("RandomZoom", dict(height_factor=0.1, width_factor=2)),
       ("RandomTranslation", dict(height_factor=1.2, width_factor=0.1)),
       ("RandomTranslation", dict(height_factor=0.1, width_factor=None)),
       ("RandomContrast", dict(factor=-0.2)), ("RandomContrast", dict(factor=(1.5, 2))),
       ("RandomBrightness", dict(factor=0.1, value_range=5)),
       ("RandomBrightness", dict(factor=0.1, value_range=(0, 1, 2))),
       ("RandomBrightness", dict(factor=2))]


@pytest.mark.parametrize("name, kwargs", BAD)
def test_keras_errors_for_bad_arguments(name, kwargs):
    with pytest.raises(Exception) as theirs:
        getattr(keras.layers, name)(**kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(minidl.layers, name)(**kwargs)
    assert str(ours.value) == str(theirs.value)


def test_errors_for_what_minidl_leaves_out():
    x = np.zeros((2, 4, 4, 1), np.float32)
    for kwargs, word in [(dict(interpolation="bicubic"), "interpolation"),
                         (dict(antialias=True), "antialias"),
                         (dict(fill_mode="reflect"), "fill_mode"),
                         (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "Only one")]:
        with pytest.raises(ValueError, match=word):
            Resizing(2, 2, **kwargs)
    with pytest.raises(ValueError, match="interpolation"):
        Resizing(2, 2, interpolation="cubic")  # Keras's list of names
    with pytest.raises(ValueError, match="channels_last"):
        RandomFlip(data_format="channels_first")
    with pytest.raises(ValueError, match="mode"):
        RandomFlip("diagonal")  # Keras accepts it and flips nothing
    with pytest.raises(ValueError, match="rank 4"):
        RandomFlip()(x[0])
