"""AutoContrast, Solarization, RandomInvert, RandomGrayscale, RandomPosterization,
RandomColorDegeneration, RandomSharpness, MixUp, RandomErasing, RandomGaussianBlur,
Equalization, RandomShear, RandomSaturation, RandomHue, CutMix, RandomPerspective,
RandomColorJitter and Pipeline against Keras 3's.

Keras's random numbers (TensorFlow's) cannot be reproduced, so a random layer is compared on
a transformation minidl drew: `t = layer.get_random_transformation(x)`, then
`transform_images(x, t)` in both frameworks; AutoContrast is not random and is compared on its
call. Tolerances:
- exact for RandomInvert (one subtraction) and RandomGrayscale (where(), and the same three
  float32 weights: TensorFlow's tensordot and NumPy's sum three products, compared at
  2 * eps * max|x| for the order of that sum).
- RandomPosterization: exact (the same float32 scaling in Keras's order, then integers).
- AutoContrast, Solarization, RandomColorDegeneration, RandomSharpness: the same float32
  operations in Keras's order (to (0, 255), the map, back), but TensorFlow may fuse or reorder
  a multiply-add, and sums the blur's nine products or the grey's three in its own order:
  a few roundings of values up to m = max(|a|, |b|, 255): atol = 8 * eps * m.
- Equalization: the same float32 scaling to (0, 255), integer histogram, table and lookup
  (exact); the scaling back, v * scale + offset, is one rounding apart where TensorFlow fuses
  it: atol = 2 * eps * max(|a|, |b|) (0 for (0, 255), where the scale is 1).
- RandomGaussianBlur: a K0 x K1 depthwise convolution summed in TensorFlow's order:
  K0 * K1 roundings of values up to 255: atol = 2 * K0 * K1 * eps * 255.
- RandomShear: exact (the transform holds the drawn numbers as they are, and the resampling
  is TensorFlow's kernel's float32 formula in its order, as test_augmentation.py checks).
- RandomSaturation, RandomHue: TensorFlow's rgb_to_hsv / hsv_to_rgb kernels' formulas in
  float32 (ops/image.py), a division and a few products and sums apart in order: relative
  rounding of a few eps on values up to m = max(|a|, |b|, 255): atol = 16 * eps * m.
- RandomPerspective: the projective map comes from an 8 x 8 float32 solve (NumPy's LAPACK,
  not TensorFlow's LU; test_ops_image.py saw 4e-6 of a pixel's coordinate), so a bilinear
  read may differ by 1e-5 of the largest step between neighbouring values (<= 255 here):
  atol = 1e-5 * 255; nearest reads land on the same pixels.
- RandomColorJitter: its four layers' tolerances added: RandomContrast's (2*H*W + 4) * eps
  * 255 (test_augmentation.py), then 16 * eps * 255 for each of brightness, saturation, hue.
- MixUp: w * x + (1 - w) * x[perm] in float32; TensorFlow may fuse the multiply-add:
  atol = 4 * eps * max|x|. CutMix's images: exact (where() picks values); its label
  weights 1 - area / (W * H) as MixUp's labels. RandomErasing: exact (where() picks values);
  its box from the same corners: exact (the same float32 comparisons).
- gradients by central differences in float64: relative error 1e-7 (the maps are piecewise
  linear: only rounding of ~1e-16 / h with h = 1e-6 is left, away from kinks), with a wrong
  backward that must fail.
Draws: shares of inverted / grey / erased images over 4,000 images within 5 standard
deviations of p; erased boxes' areas within `scale`; shear signs and ranges; perspective
corners within their range. RandomSaturation and RandomHue pass no gradient, as TensorFlow
(whose tape gives None through hsv_to_rgb, checked here).
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from minidl.layers import (AutoContrast, CutMix, Equalization, Input, MixUp,
                           RandomColorDegeneration, RandomColorJitter, RandomErasing,
                           RandomGaussianBlur, RandomGrayscale, RandomHue, RandomInvert,
                           RandomPerspective, RandomPosterization, RandomSaturation,
                           RandomSharpness, RandomShear, Solarization)
from minidl.layers.augmentation_mix import erasing_mask
from minidl.models import Sequential, load_model
from minidl.saving.layer_config import layer_from_config, layer_to_config
from minidl.testing import numerical_gradient, relative_error
from reference.twins import keras_twin

EPS = float(np.finfo(np.float32).eps)


def keras_layer(layer):
    return getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())


def pictures(seed=0, shape=(3, 5, 4, 3), low=0.0, high=255.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def tol(value_range):
    return 8 * EPS * max(255, abs(value_range[0]), abs(value_range[1]))


# -- the same transformation gives the same images -------------------------------------------
@pytest.mark.parametrize("value_range", [(0, 255), (-1, 1), (2, 0)])
def test_auto_contrast_equals_keras_in_training_and_inference(value_range):
    low, high = sorted(value_range)
    x = pictures(1, low=low + 0.2 * (high - low), high=low + 0.7 * (high - low))
    x[1, :, :, 2] = x[1, 0, 0, 2]  # a flat channel: Keras keeps it (NaN -> the input)
    layer = AutoContrast(value_range)
    theirs = keras_layer(layer)
    for training in (True, False):
        ours = layer(x, training=training)
        np.testing.assert_allclose(ours, theirs(x, training=training), rtol=0,
                                   atol=tol(value_range))
    np.testing.assert_array_equal(ours[1, :, :, 2], x[1, :, :, 2])
    assert np.isclose(ours[0].min(), low) and np.isclose(ours[0].max(), high)


@pytest.mark.parametrize("args", [dict(), dict(addition_factor=0.2, threshold_factor=(0.3, 0.8)),
                                  dict(addition_factor=(0.5, 0.5), threshold_factor=0.5,
                                       value_range=(-1, 1))])
def test_solarization_equals_keras_on_the_same_draw(args):
    layer = Solarization(seed=4, **args)
    low, high = layer.value_range
    x = pictures(2, low=low, high=high)
    t = layer.get_random_transformation(x)
    theirs = keras_layer(layer)
    np.testing.assert_allclose(layer.transform_images(x, t),
                               theirs.transform_images(x, t, training=True), rtol=0,
                               atol=tol(layer.value_range))
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(theirs(x, training=False), x)


def test_solarization_defaults_invert_every_value_as_keras():
    x = pictures(3)
    layer = Solarization()
    np.testing.assert_allclose(layer(x, training=True), 255 - x, rtol=0, atol=tol((0, 255)))
    np.testing.assert_allclose(layer(x, training=True),
                               keras_layer(layer)(x, training=True), rtol=0, atol=tol((0, 255)))


def test_invert_and_grayscale_equal_keras_on_the_same_draw():
    x = pictures(5, shape=(6, 4, 3, 3))
    for layer in [RandomInvert(seed=1), RandomInvert((0.3, 0.9), (0, 1), seed=2),
                  RandomGrayscale(0.5, seed=3)]:
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        np.testing.assert_allclose(layer.transform_images(x, t),
                                   theirs.transform_images(x, t, training=True), rtol=0,
                                   atol=2 * EPS * 255)
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)


@pytest.mark.parametrize("value_range", [(0, 255), (-1, 1)])
def test_posterization_degeneration_sharpness_equal_keras_on_the_same_draw(value_range):
    low, high = value_range
    x = pictures(9, shape=(6, 5, 4, 3), low=low, high=high)
    cases = [(RandomPosterization((1, 8), value_range, seed=1), 0),
             (RandomColorDegeneration((-0.8, 1.0), value_range, seed=2), tol(value_range)),
             (RandomSharpness((0.0, 1.0), value_range, seed=3), tol(value_range))]
    for layer, atol in cases:
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        ours = layer.transform_images(x, t)
        np.testing.assert_allclose(ours, theirs.transform_images(x, t, training=True), rtol=0,
                                   atol=atol, err_msg=layer.name)
        assert not np.allclose(ours, x)  # the layer did something
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)


def test_posterization_bits_as_keras_draws_them():
    # Keras draws randint(factor[0], factor[1]): the upper end is never drawn; equal ends fix it
    x = np.zeros((2000, 1, 1, 1), np.float32)
    shifts = RandomPosterization((2, 5), seed=0).get_random_transformation(x)["shift_factor"]
    assert set(8 - shifts.astype(int)) == {2, 3, 4}
    t = RandomPosterization((3, 3)).get_random_transformation(x[:4])
    np.testing.assert_array_equal(t["shift_factor"], 5)
    keras_t = keras.layers.RandomPosterization((3, 3)).get_random_transformation(x[:4])
    np.testing.assert_array_equal(np.asarray(keras_t["shift_factor"]), t["shift_factor"])


def test_mix_up_and_erasing_equal_keras_on_the_same_draw():
    x = pictures(10, shape=(5, 6, 7, 3))
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    for layer, atol in [(MixUp(0.4, seed=1), 4 * EPS * 255), (CutMix(seed=5), 0),
                        (CutMix((0.5, 0.9), seed=6), 0),
                        (RandomErasing(0.8, seed=2), 0), (RandomErasing(seed=3, fill_value=7), 0),
                        (RandomErasing(fill_value=(1, 2, 300), seed=4), 0)]:
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        ours = layer.transform_images(x, t)
        np.testing.assert_allclose(ours, theirs.transform_images(x, t, training=True), rtol=0,
                                   atol=atol, err_msg=layer.name)
        assert not np.array_equal(ours, x)
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)
        if isinstance(layer, (MixUp, CutMix)):
            np.testing.assert_allclose(layer.transform_labels(labels, t),
                                       theirs.transform_labels(labels, t), rtol=0,
                                       atol=4 * EPS)
            assert sorted(t["permutation_order"]) == list(range(len(x)))


def test_erasing_boxes_equal_keras_from_the_same_corners():
    rng = np.random.default_rng(11)
    shape = (4, 9, 8, 2)
    corners = [rng.uniform(-1, 9, 4).astype(np.float32) for _ in range(4)]
    corners[1], corners[3] = corners[0] + 2.5, corners[2] + 3.0
    theirs = keras.layers.RandomErasing()._generate_batch_mask(shape, corners)
    np.testing.assert_array_equal(erasing_mask(shape, corners), np.asarray(theirs))


def test_cut_mix_label_weights_match_its_boxes():
    x = pictures(17, shape=(3, 8, 9, 2))
    t = CutMix(seed=7).get_random_transformation(x)
    area = t["batch_masks"][..., 0].mean(axis=(1, 2))
    # the weight is 1 - the float box's area share; the pixels' share is within a border
    assert np.all(np.abs((1 - t["mix_weight"]) - area) <= (8 + 9 + 1) / 72)


def test_erased_shares_and_box_areas():
    # the share's bound as for the invert / grey shares below; a box of sides rw * W, rh * H
    # covers between floor and ceil of them: its area share lies within scale widened by the
    # pixels one side can gain or lose (W = H = 20: at most (rw * W + 1)(rh * H + 1)).
    x = np.zeros((4000, 20, 20, 1), np.float32)
    t = RandomErasing((0.3, 0.3), scale=(0.1, 0.2), seed=5).get_random_transformation(x)
    assert abs(np.mean(t["apply_erasing"]) - 0.3) < 0.04
    area = t["batch_masks"].mean(axis=(1, 2, 3))
    low, high = (np.sqrt(0.1) * 20 - 1) ** 2 / 400, (np.sqrt(0.2) * 20 + 1) ** 2 / 400
    assert area.min() >= low and area.max() <= high
    assert area.min() < 0.11 and area.max() > 0.19  # and the range is used


@pytest.mark.parametrize("value_range", [(0, 255), (-1, 1)])
def test_equalization_equals_keras(value_range):
    low, high = value_range
    x = pictures(12, shape=(3, 6, 5, 3), low=low, high=low + 0.6 * (high - low))
    x[..., 2] = low + 0.25 * (high - low)  # one value: the channel passes unchanged
    for layer in [Equalization(value_range), Equalization(value_range, bins=16)]:
        theirs = keras_layer(layer)
        ours = layer(x, training=True)
        atol = 0 if value_range == (0, 255) else 2 * EPS * max(abs(low), abs(high))
        np.testing.assert_allclose(ours, theirs(x, training=True), rtol=0, atol=atol)
        np.testing.assert_array_equal(ours[..., 2], x[..., 2])
        np.testing.assert_array_equal(layer(x, training=False), theirs(x, training=False))


def test_gaussian_blur_equals_keras_on_the_same_draw():
    x = pictures(13, shape=(5, 7, 6, 3))
    changed = []
    for layer in [RandomGaussianBlur(seed=1), RandomGaussianBlur(0.6, (3, 5), (0.3, 0.9), seed=2),
                  RandomGaussianBlur(1.0, 5, 0.5, (0, 100), seed=3)]:
        k0, k1 = layer.kernel_size
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        ours = layer.transform_images(x, t)
        np.testing.assert_allclose(ours, theirs.transform_images(x, t, training=True), rtol=0,
                                   atol=2 * k0 * k1 * EPS * 255, err_msg=layer.name)
        changed.append(not np.array_equal(ours, x))  # a narrow sigma may leave x as it is
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)
    assert sum(changed) >= 2, changed


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_shear_equals_keras_on_the_same_draw(fill_mode):
    x = pictures(14, shape=(4, 7, 6, 2))
    # pairs: Keras's RandomShear(f) writes (-f, f) to its config and refuses it on reading
    for layer in [RandomShear((0.1, 0.5), (0, 0.3), fill_mode=fill_mode, fill_value=9.0, seed=1),
                  RandomShear((0.2, 0.9), interpolation="nearest", fill_mode=fill_mode, seed=2)]:
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        ours = layer.transform_images(x, t)
        np.testing.assert_array_equal(ours, theirs.transform_images(x, t, training=True))
        assert not np.array_equal(ours, x)
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)


def test_perspective_equals_keras_on_the_same_draw():
    x = pictures(18, shape=(5, 8, 7, 2))
    for layer, atol in [(RandomPerspective(seed=1), 1e-5 * 255),
                        (RandomPerspective((0.5, 0.9), 0.4, fill_value=3.0, seed=2), 1e-5 * 255),
                        (RandomPerspective(1.0, 0.3, "nearest", seed=3), 0)]:
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        ours = layer.transform_images(x, t)
        np.testing.assert_allclose(ours, theirs.transform_images(x, t, training=True), rtol=0,
                                   atol=atol, err_msg=layer.name)
        assert not np.array_equal(ours, x)
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)
    start, end = t["start_points"], t["end_points"]  # coordinates move by c * U[-0.15, 0.15)
    moved = start > 0
    assert np.all(np.abs(end[moved] / start[moved] - 1) <= 0.15 + 1e-6)
    np.testing.assert_array_equal(end[~moved], 0)


def test_shear_draws_one_sign_for_both_axes_within_the_factors():
    x = np.zeros((2000, 1, 1, 1), np.float32)
    s = RandomShear((0.2, 0.4), (0.1, 0.3), seed=3).get_random_transformation(x)["shear_factor"]
    assert np.all(np.sign(s[:, 0]) == np.sign(s[:, 1]))
    assert np.all((np.abs(s[:, 0]) >= 0.2) & (np.abs(s[:, 0]) < 0.4))
    assert np.all((np.abs(s[:, 1]) >= 0.1) & (np.abs(s[:, 1]) < 0.3))
    assert abs(np.mean(s[:, 0] < 0) - 0.5) < 0.06  # 5 standard deviations of a share, n=2000


def test_shear_from_one_number_cannot_be_read_back_in_either():
    # Keras 3.15: RandomShear(0.2) keeps x_factor=(-0.2, 0.2), which its own check refuses
    with pytest.raises(TypeError, match="Received: input_number=-0.2"):
        keras.layers.RandomShear.from_config(keras.layers.RandomShear(0.2).get_config())
    with pytest.raises(ValueError, match="Received: input_number=-0.2"):
        RandomShear.from_config(RandomShear(0.2).get_config())


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_saturation_and_hue_equal_keras_on_the_same_draw(value_range):
    x = pictures(15, shape=(6, 5, 4, 3), low=value_range[0], high=value_range[1])
    x[0, 0, 0] = x[0, 0, 0, 0]  # a grey pixel: no hue
    for layer in [RandomSaturation((0.1, 0.9), value_range, seed=1), RandomSaturation(0.7),
                  RandomHue(0.8, value_range, seed=2), RandomHue((0.2, 0.4), value_range)]:
        t = layer.get_random_transformation(x)
        theirs = keras_layer(layer)
        ours = layer.transform_images(x, t)
        keras_out = np.asarray(theirs.transform_images(x, t, training=True))
        # saturation is unclipped above for (0, 255): the outputs can leave the range
        np.testing.assert_allclose(ours, keras_out, rtol=0, err_msg=layer.name,
                                   atol=16 * EPS * max(255, *value_range, np.abs(keras_out).max()))
        assert not np.allclose(ours, x)
        np.testing.assert_array_equal(layer(x, training=False), x)
        np.testing.assert_array_equal(theirs(x, training=False), x)


def test_saturation_and_hue_pass_no_gradient_as_keras():
    x = pictures(16, shape=(2, 3, 3, 3))
    for layer in [RandomSaturation(0.5), RandomHue(0.5)]:
        y, cache = layer.forward(x, training=True)
        dx, grads = layer.backward(np.ones_like(y), cache)
        np.testing.assert_array_equal(dx, 0)  # TensorFlow's None: nothing learns through it
        xt = tf.Variable(x)
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(keras_layer(layer)(xt, training=True))
        assert tape.gradient(out, xt) is None  # Keras's: none either


def test_color_jitter_equals_keras_layers_in_turn_on_the_same_draw():
    x = pictures(19, shape=(4, 5, 6, 3))
    layer = RandomColorJitter((0, 255), 0.2, 0.3, 0.4, 0.5, seed=1)
    t = layer.get_random_transformation(x)
    theirs = keras_layer(layer)
    expected = x
    for name in ("brightness", "contrast", "saturation", "hue"):
        expected = getattr(theirs, "random_" + name).transform_images(expected, t[name])
    atol = (2 * 5 * 6 + 4 + 3 * 16) * EPS * 255
    np.testing.assert_allclose(layer.transform_images(x, t), expected, rtol=0, atol=atol)
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(theirs(x, training=False), x)
    # factors that fix the draw: Keras's own call (it draws inside transform_images)
    fixed = RandomColorJitter((0, 255), (0.1, 0.1), 0.0, (0.3, 0.3), 0.0)
    np.testing.assert_allclose(fixed(x, training=True), keras_layer(fixed)(x, training=True),
                               rtol=0, atol=atol)


def test_factors_that_fix_the_draw_equal_keras_on_the_call():
    x = pictures(6, shape=(4, 3, 3, 3))
    for layer in [RandomInvert((1.0, 1.0)), RandomInvert(0.0), RandomGrayscale(1.0),
                  RandomGrayscale(0.0), RandomGrayscale(1.0)]:
        np.testing.assert_allclose(layer(x, training=True),
                                   keras_layer(layer)(x, training=True), rtol=0,
                                   atol=2 * EPS * 255)
    one_channel = pictures(7, shape=(2, 3, 3, 1))
    np.testing.assert_array_equal(RandomGrayscale(1.0)(one_channel, training=True), one_channel)


def test_shares_of_inverted_and_grey_images():
    # n = 4000 Bernoulli(p) draws: the share's standard deviation is sqrt(p(1-p)/n) <= 0.0079;
    # 5 of them (0.04) is a bound a correct draw misses once in ~2 million runs.
    x = np.zeros((4000, 1, 1, 3), np.float32)
    cases = [(RandomInvert(seed=0), 0.5, "apply_inversion"),
             (RandomInvert((0.2, 0.2), seed=1), 0.2, "apply_inversion"),
             (RandomGrayscale(0.3, seed=2), 0.3, None)]
    for layer, p, key in cases:
        t = layer.get_random_transformation(x)
        share = np.mean(t[key] if key else t)
        assert abs(share - p) < 0.04, (type(layer).__name__, share, p)


# -- gradients ---------------------------------------------------------------------------------
def gradient_cases():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (2, 3, 4, 3))
    solar = Solarization(0.1, (0.2, 0.8), (0, 1), seed=1)
    invert = RandomInvert(seed=2)
    grey = RandomGrayscale(seed=3)
    degenerate = RandomColorDegeneration((-0.5, 0.9), (0, 1), seed=4)
    sharp = RandomSharpness((0.0, 1.0), (0, 1), seed=5)
    mix, erase = MixUp(seed=6), RandomErasing(seed=7, value_range=(0, 1))
    cut = CutMix(seed=10)
    warp = RandomPerspective(seed=11, scale=0.3)
    jitter = RandomColorJitter((0, 1), 0.1, 0.2, seed=12)
    blur = RandomGaussianBlur(0.5, (3, 5), 0.8, (0, 1), seed=8)
    shear = RandomShear(0.4, 0.3, fill_mode="constant", seed=9)  # (-0.4, 0.4), (-0.3, 0.3)
    return x, [(AutoContrast((0, 1)), None), (solar, solar.get_random_transformation(x)),
               (mix, mix.get_random_transformation(x)),
               (cut, cut.get_random_transformation(x)),
               (jitter, jitter.get_random_transformation(x)),
               (warp, {**warp.get_random_transformation(x),
                       "apply_perspective": np.array([True, False])}),
               (erase, erase.get_random_transformation(x)),
               (shear, shear.get_random_transformation(x)),
               (blur, {"should_apply_blur": np.array([True, False]),
                       "blur_factor": np.array([0.6, 0.9])}),
               (degenerate, degenerate.get_random_transformation(x)),
               (sharp, sharp.get_random_transformation(x)),
               (invert, {"apply_inversion": np.array([True, False])}),
               (grey, np.array([True, False]).reshape(2, 1, 1, 1))]


def test_backward_is_the_derivative_by_central_differences():
    x, cases = gradient_cases()
    dy = np.random.default_rng(1).normal(size=x.shape)
    for layer, t in cases:
        v = x.copy()

        def loss():
            return np.sum(layer._transform(v, t, True)[0] * dy)
        y, cache = layer._transform(x, t, True)
        dx = dy if cache is None else layer._transform_backward(dy, cache)
        numeric = numerical_gradient(loss, v)
        assert relative_error(dx, numeric) < 1e-7, layer.name
        wrong = dx.copy()
        wrong.flat[0] += 0.1  # the negative control: one wrong entry must fail
        assert relative_error(wrong, numeric) > 1e-7


# -- in a model, files, configs, errors --------------------------------------------------------
def rows():
    return [AutoContrast((0, 1)), Solarization(0.1, (0.4, 0.6), (0, 1), seed=1),
            RandomInvert(0.4, (0, 1), seed=2), RandomGrayscale(0.2, seed=3),
            RandomColorDegeneration(0.3, (0, 1), seed=4), RandomSharpness(0.4, (0, 1), seed=5),
            RandomPosterization(6, (0, 1), seed=6), MixUp(0.3, seed=7),
            RandomErasing(0.5, (0.1, 0.2), 0.5, (0, 1), seed=8),
            RandomGaussianBlur(0.5, 3, (0.2, 0.8), (0, 1), seed=9),
            RandomShear((0.1, 0.2), (0, 0.1), fill_mode="nearest", seed=10), CutMix(0.5, seed=13),
            RandomPerspective(0.5, 0.2, seed=14),
            RandomColorJitter((0, 1), 0.1, 0.1, 0.2, 0.1, seed=15)]


def colour_rows():
    return [RandomSaturation(0.3, (0, 1), seed=11), RandomHue(0.2, (0, 1), seed=12)]


def test_a_model_fits_and_predicts_as_keras_and_files_load_both_ways(tmp_path):
    x = pictures(8, shape=(8, 6, 6, 3), low=0, high=1)
    y = np.arange(8) % 2
    model = Sequential([Input((6, 6, 3))] + colour_rows() + rows() + [minidl.layers.Flatten(),
                                                      minidl.layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(x, y, epochs=2, batch_size=4, verbose=0).history["loss"]).all()
    twin = keras_twin(model, compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)  # AutoContrast's tol, then a Dense
    model.save(tmp_path / "ours.keras")
    twin.save(tmp_path / "theirs.keras")
    theirs, ours = keras.models.load_model(tmp_path / "ours.keras"), load_model(
        tmp_path / "theirs.keras")
    for a, b in zip(ours.layers[:16], theirs.layers[:16]):
        assert type(a).__name__ == type(b).__name__
        _same(a, b)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def _same(ours, theirs):
    keras_config = theirs.get_config()
    for key, value in ours.get_config().items():
        other = keras_config[key]
        if isinstance(value, (tuple, list)):
            value, other = list(value), list(other)
        assert value == other, (key, value, other)


def test_configs_both_ways():
    # Keras's Equalization cannot sit in a Keras model (its compute_output_spec returns its
    # input, which Keras then finds to be a cycle), so it is checked here and not in a model
    for layer in colour_rows() + rows() + [Solarization(), RandomInvert(), RandomGrayscale(),
                           Equalization((0, 1), 64)]:
        theirs = keras_layer(layer)
        _same(layer, theirs)
        back = layer_from_config(keras.saving.serialize_keras_object(theirs))
        assert type(back) is type(layer)
        _same(back, theirs)


BAD = [("AutoContrast", dict(value_range=5)), ("AutoContrast", dict(value_range=(0, 1, 2))),
       ("Solarization", dict(addition_factor=1.5)),
       ("Solarization", dict(threshold_factor=(0.1, 0.2, 0.3))),
       ("Solarization", dict(threshold_factor="x")), ("Solarization", dict(value_range=3)),
       ("RandomInvert", dict(factor=2.0)), ("RandomInvert", dict(factor=(1.5, 2))),
       ("RandomGrayscale", dict(factor=1.5)), ("RandomGrayscale", dict(factor=-0.1)),
       ("RandomPosterization", dict(factor=0)), ("RandomPosterization", dict(factor=9)),
       ("RandomPosterization", dict(factor=4, value_range=(1,))),
       ("RandomColorDegeneration", dict(factor=1.5)),
       ("RandomColorDegeneration", dict(factor=0.5, value_range="x")),
       ("RandomSharpness", dict(factor=-0.5)), ("RandomSharpness", dict(factor=(2, 3))),
       ("RandomErasing", dict(factor=1.5)), ("RandomErasing", dict(scale=(0.1, 0.2, 0.3))),
       ("RandomErasing", dict(scale=2.0)),
       ("RandomGaussianBlur", dict(kernel_size=4)),
       ("RandomGaussianBlur", dict(kernel_size=(3, 4))),
       ("RandomGaussianBlur", dict(kernel_size=(3, 3, 3))),
       ("RandomGaussianBlur", dict(sigma=1.5)), ("RandomGaussianBlur", dict(factor=-0.5)),
       ("RandomShear", dict(x_factor=1.5)), ("RandomShear", dict(y_factor=(-0.1, 0.2))),
       ("RandomShear", dict(x_factor="x")), ("RandomShear", dict(fill_mode="mirror")),
       ("RandomShear", dict(interpolation="bicubic")), ("RandomHue", dict(factor=1.5)),
       ("RandomHue", dict(factor=(0.1, 0.2, 0.3))), ("RandomSaturation", dict(factor=2)),
       ("RandomSaturation", dict(factor=0.5, value_range=(1,))),
       ("CutMix", dict(factor=1.5)), ("CutMix", dict(factor=(0.1, 0.2, 0.3))),
       ("RandomPerspective", dict(scale=1.5)), ("RandomPerspective", dict(factor=2)),
       ("RandomPerspective", dict(interpolation="bicubic")),
       ("RandomColorJitter", dict(brightness_factor=2)),
       ("RandomColorJitter", dict(hue_factor=(0.1, 0.2, 0.3)))]


@pytest.mark.parametrize("name, kwargs", BAD)
def test_keras_errors_for_bad_arguments(name, kwargs):
    with pytest.raises(Exception) as theirs:
        getattr(keras.layers, name)(**kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(minidl.layers, name)(**kwargs)
    assert str(ours.value) == str(theirs.value)


def test_erasing_refuses_a_bad_fill_value_when_it_draws_as_keras():
    x = np.zeros((2, 3, 3, 3), np.float32)
    for fill_value in ["grey", (1, 2)]:
        with pytest.raises(ValueError) as theirs:
            keras.layers.RandomErasing(fill_value=fill_value).get_random_transformation(x)
        with pytest.raises(ValueError) as ours:
            RandomErasing(fill_value=fill_value).get_random_transformation(x)
        assert str(ours.value) == str(theirs.value)


def test_equalization_names_a_bad_value_range_where_keras_fails_on_its_own_attribute():
    with pytest.raises(AttributeError):  # Keras 3.15's message constant is missing
        keras.layers.Equalization(value_range=1)
    with pytest.raises(ValueError, match="The `value_range` argument should be a list of two "
                                         "numbers. Received: value_range=1"):
        Equalization(value_range=1)


# -- Pipeline ------------------------------------------------------------------------------------
def fixed_pipeline():
    """Layers whose factors fix the draw: the same result in Keras on every call."""
    return minidl.layers.Pipeline([AutoContrast((0, 1)), RandomSharpness((0.3, 0.3), (0, 1)),
                                   Solarization(value_range=(0, 1)),
                                   RandomInvert((1.0, 1.0), (0, 1))])


def test_pipeline_equals_keras_on_the_call_and_in_a_model(tmp_path):
    x = pictures(20, shape=(8, 6, 6, 3), low=0, high=1)
    pipeline = fixed_pipeline()
    theirs = keras.layers.deserialize(layer_to_config(pipeline, "float32"))
    assert [type(layer).__name__ for layer in theirs.layers] == \
           [type(layer).__name__ for layer in pipeline.pipeline_layers]
    for training in (True, False):  # AutoContrast works at inference too, as Keras's
        np.testing.assert_allclose(pipeline(x, training=training),
                                   theirs(x, training=training), rtol=0, atol=tol((0, 1)))
    model = Sequential([Input((6, 6, 3)), fixed_pipeline(), minidl.layers.Flatten(),
                        minidl.layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(x, np.arange(8) % 2, epochs=2, batch_size=4,
                                 verbose=0).history["loss"]).all()
    twin = keras_twin(model, compile=False)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)  # as the model test above
    model.save(tmp_path / "ours.keras")
    twin.save(tmp_path / "theirs.keras")
    theirs_back, ours_back = keras.models.load_model(tmp_path / "ours.keras"), load_model(
        tmp_path / "theirs.keras")
    assert type(ours_back.layers[0]).__name__ == "Pipeline"
    for a, b in zip(ours_back.layers[0].pipeline_layers, theirs_back.layers[0].layers):
        _same(a, b)
    np.testing.assert_allclose(ours_back.predict(x, verbose=0),
                               theirs_back.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_pipeline_backward_by_central_differences():
    x = np.random.default_rng(2).uniform(0.1, 0.9, (2, 4, 3, 3))
    dy = np.random.default_rng(3).normal(size=x.shape)
    pipeline = fixed_pipeline()
    pipeline.build(x.shape)
    v = x.copy()

    def loss():
        return np.sum(pipeline.forward(v, training=True)[0] * dy)
    y, caches = pipeline.forward(x, training=True)
    dx, _ = pipeline.backward(dy, caches)
    numeric = numerical_gradient(loss, v)
    assert relative_error(dx, numeric) < 1e-7
    wrong = dx.copy()
    wrong.flat[0] += 0.1  # the negative control
    assert relative_error(wrong, numeric) > 1e-7


def test_pipeline_error_as_keras():
    with pytest.raises(ValueError) as theirs:
        keras.layers.Pipeline.from_config({"layers": 3, "name": "p"})
    with pytest.raises(ValueError) as ours:
        minidl.layers.Pipeline(3)
    assert str(ours.value) == str(theirs.value)
