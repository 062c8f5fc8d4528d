"""Conv2DTranspose/Conv1DTranspose, DepthwiseConv2D/1D, SeparableConv2D/1D against Keras.

- live Keras, over hypothesis-drawn shapes and arguments (strides, padding, output_padding,
  dilation, depth_multiplier, use_bias): the same layer from the same config and weights
  gives the same output shape, output, and gradients for the input and every weight.
  Tolerance, derived: every number compared is a sum of products (an output of a transposed
  convolution at most KH*KW*C of them; a depthwise output KH*KW; a separable one KH*KW, then
  C*M; a kernel gradient one per output pixel, N*HO*WO). Computed in float32 in any order,
  a sum of n products is within gamma_n * S of the exact value (gamma_n = n*u/(1 - n*u),
  u = 2**-24, S = the same sum of |products|), so two float32 computations differ by at most
  2 * gamma_n * S. `bound` computes S exactly for every entry: the same float64 layer on |x|,
  |weights| and |dy| (a linear activation, so every term is a product), and n is the longest
  such sum the case has.
- float64 central differences (minidl.testing.check_gradients) on the input and every weight,
  with negative controls: a wrong backward (a kernel gradient 1 % off, an input gradient one
  pixel off, a pointwise gradient transposed) must fail.
- models against their Keras twins (reference.twins.keras_twin): a convolutional autoencoder
  (Conv2D strides 2 -> Conv2DTranspose strides 2, sigmoid and binary cross-entropy) and a
  separable classifier on scikit-learn's 8x8 digits, the same History over 3 epochs; summaries
  (param counts); configs and .keras files both ways; Keras's errors for bad arguments.
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.datasets import digits
from minidl.layers import (Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D, DepthwiseConv2D,
                           SeparableConv1D, SeparableConv2D)
from minidl.models import load_model
from minidl.saving.layer_config import layer_from_config, layer_to_config
from minidl.tape import Tape
from minidl.testing import check_gradients
from parity import assert_same_fit, assert_same_loss_and_gradients
from reference.twins import keras_twin

U = 2.0 ** -24  # float32's unit roundoff


# -- drawn cases -------------------------------------------------------------------------------
@st.composite
def transpose_cases(draw, rank=2):
    """(class, arguments, input shape) of a transposed convolution Keras accepts."""
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    dilation = (1,) * rank
    if draw(st.booleans()):
        strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    else:  # Keras: strides > 1 and dilation > 1 do not go together
        strides, dilation = (1,) * rank, tuple(draw(st.integers(1, 3)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    output_padding = None
    if draw(st.booleans()):
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in strides)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if padding == "same" and output_padding is not None and any(
            span % 2 == 0 and op == 0 for span, op in zip(spans, output_padding)):
        output_padding = None  # an even kernel with output_padding 0: TensorFlow's error
    shape = (draw(st.integers(1, 3)),) + tuple(draw(st.integers(1, 5)) for _ in range(rank)) \
        + (draw(st.integers(1, 3)),)
    arguments = dict(filters=draw(st.integers(1, 4)), kernel_size=kernel, strides=strides,
                     padding=padding, output_padding=output_padding, dilation_rate=dilation,
                     use_bias=draw(st.booleans()))
    return (Conv2DTranspose if rank == 2 else Conv1DTranspose), arguments, shape


@st.composite
def depthwise_cases(draw, rank=2, separable=False):
    """(class, arguments, input shape) of a depthwise or separable convolution."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    shape = (draw(st.integers(1, 3)),) + tuple(s + draw(st.integers(0, 4)) for s in spans) \
        + (draw(st.integers(1, 3)),)
    arguments = dict(kernel_size=kernel, strides=strides, padding=padding,
                     dilation_rate=dilation, depth_multiplier=draw(st.integers(1, 3)),
                     use_bias=draw(st.booleans()))
    if separable:
        arguments["filters"] = draw(st.integers(1, 4))
        return (SeparableConv2D if rank == 2 else SeparableConv1D), arguments, shape
    return (DepthwiseConv2D if rank == 2 else DepthwiseConv1D), arguments, shape


any_case = st.one_of(transpose_cases(2), transpose_cases(1), depthwise_cases(2),
                     depthwise_cases(1), depthwise_cases(2, True), depthwise_cases(1, True))


# -- one layer, both frameworks ----------------------------------------------------------------
def layer_grads(layer, x, dy):
    """(y, dx, [gradient of each trainable weight]) of a minidl layer for dL/dy = dy."""
    with Tape() as tape:
        y = layer(x)
    *grads, dx = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
    return y, dx, grads


def keras_layer_grads(layer, x, dy):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    dx, *grads = tape.gradient(y, [x] + layer.trainable_weights, output_gradients=tf.constant(dy))
    return np.asarray(y), np.asarray(dx), [np.asarray(g) for g in grads]


def keras_twin_layer(layer, input_shape):
    """The Keras layer of the same class from the minidl layer's config, with its weights."""
    twin = getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
    twin.build((None,) + tuple(input_shape[1:]))
    twin.set_weights(layer.get_weights())
    return twin


def bound(layer, x, dy):
    """S for y, dx and each weight gradient: the float64 layer on |x|, |weights|, |dy|."""
    minidl.config.set_floatx("float64")
    try:
        same = type(layer).from_config(layer.get_config())
        same(np.abs(x).astype(np.float64))
        same.set_weights([np.abs(w).astype(np.float64) for w in layer.get_weights()])
        return layer_grads(same, np.abs(x).astype(np.float64), np.abs(dy).astype(np.float64))
    finally:
        minidl.config.set_floatx("float32")


def longest_sum(layer, x_shape, y_shape):
    """n: the most products any compared number sums (an upper bound, see the docstring)."""
    k = int(np.prod(layer.kernel_size))
    channels = max(x_shape[-1], y_shape[-1]) * getattr(layer, "depth_multiplier", 1)
    pixels = x_shape[0] * max(int(np.prod(x_shape[1:-1])), int(np.prod(y_shape[1:-1])))
    return k * channels + channels + pixels


def assert_within(ours, theirs, s, n, what):
    tolerance = 2 * n * U / (1 - n * U) * np.asarray(s)
    error = np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64))
    assert np.all(error <= tolerance), (what, float((error - tolerance).max()))


@given(any_case)
def test_output_and_every_gradient_match_keras(case):
    cls, arguments, shape = case
    layer = cls(**arguments)
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape).astype(np.float32)
    layer(x)
    layer.set_weights([rng.normal(size=w.shape).astype(np.float32)
                       for w in layer.get_weights()])  # biases away from zero too
    twin = keras_twin_layer(layer, shape)
    assert layer.compute_output_shape((None,) + shape[1:]) == \
        tuple(twin.compute_output_shape((None,) + shape[1:]))
    dy = rng.normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, grads = layer_grads(layer, x, dy)
    keras_y, keras_dx, keras_grads = keras_layer_grads(twin, x, dy)
    assert y.shape == keras_y.shape and len(grads) == len(keras_grads)
    s_y, s_dx, s_grads = bound(layer, x, dy)
    n = longest_sum(layer, x.shape, y.shape)
    assert_within(y, keras_y, s_y, n, "y")
    assert_within(dx, keras_dx, s_dx, n, "dx")
    for variable, ours, theirs, s in zip(layer.trainable_weights, grads, keras_grads, s_grads):
        assert_within(ours, theirs, s, n, variable.path)


def test_the_tolerance_catches_a_one_pixel_shift():
    """Negative control of the comparison: an output one pixel off is far outside it."""
    layer = Conv2DTranspose(2, 3, strides=2, padding="same")
    x = np.random.default_rng(0).normal(size=(1, 3, 3, 2)).astype(np.float32)
    dy = np.ones(layer.compute_output_shape(x.shape), np.float32)
    y, _, _ = layer_grads(layer, x, dy)
    keras_y = np.asarray(keras_twin_layer(layer, x.shape)(x))
    s_y = bound(layer, x, dy)[0]
    assert_within(y, keras_y, s_y, longest_sum(layer, x.shape, y.shape), "y")
    with pytest.raises(AssertionError):
        assert_within(np.roll(y, 1, axis=2), keras_y, s_y,
                      longest_sum(layer, x.shape, y.shape), "y")


def test_conv2d_transpose_is_conv2ds_input_gradient():
    """The defining property: Conv2DTranspose(x) with Conv2D's kernel is Conv2D's backward.
    A Conv2D from (N, 6, 6, 3) to (N, 3, 3, 2), kernel (3, 3, 3, 2), and a transpose from 2
    channels to 3 with the same kernel array (its (KH, KW, F, C) is Conv2D's (KH, KW, C, F))."""
    minidl.config.set_floatx("float64")
    rng = np.random.default_rng(1)
    conv = minidl.layers.Conv2D(2, 3, strides=2, padding="same", use_bias=False)
    transpose = Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False)
    x, g = rng.normal(size=(2, 6, 6, 3)), rng.normal(size=(2, 3, 3, 2))
    conv(x), transpose(g)
    transpose.set_weights(conv.get_weights())
    _, dx, _ = layer_grads(conv, x, g)
    np.testing.assert_allclose(transpose(g), dx, rtol=1e-12, atol=1e-12)
    assert transpose(g).shape == x.shape


def test_depthwise_orders_channels_as_tensorflow_and_separable_is_depthwise_then_1x1():
    """Output channel c*M + m is channel c's m-th kernel; SeparableConv2D is DepthwiseConv2D
    (no bias) followed by a 1x1 product with the pointwise kernel, plus the bias."""
    minidl.config.set_floatx("float64")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 5, 3))
    depthwise = DepthwiseConv2D(2, depth_multiplier=2, use_bias=False)
    y = depthwise(x)  # (2,4,4,6)
    W = depthwise.get_weights()[0]  # (2,2,3,2)
    c, m = 1, 1
    expected = sum(x[:, p:p + 4, q:q + 4, c] * W[p, q, c, m] for p in range(2) for q in range(2))
    np.testing.assert_allclose(y[..., c * 2 + m], expected, rtol=1e-12)
    separable = SeparableConv2D(4, 2, depth_multiplier=2)
    separable(x)
    Wd, Wp, b = [rng.normal(size=w.shape) for w in separable.get_weights()]
    separable.set_weights([Wd, Wp, b])
    depthwise.set_weights([Wd])
    np.testing.assert_allclose(separable(x), depthwise(x) @ Wp[0, 0] + b, rtol=1e-12)


# -- float64 central differences, with negative controls ---------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: Conv2DTranspose(2, (2, 3), strides=(2, 1), padding="same", output_padding=(1, 0),
                             activation="tanh"), (2, 3, 4, 2)),
    (lambda: Conv2DTranspose(2, 2, dilation_rate=2, activation="sigmoid"), (1, 3, 3, 2)),
    (lambda: Conv1DTranspose(3, 3, strides=2, activation="tanh"), (2, 4, 2)),
    (lambda: DepthwiseConv2D(2, strides=2, padding="same", depth_multiplier=2,
                             dilation_rate=2, activation="tanh"), (2, 5, 5, 2)),
    (lambda: DepthwiseConv1D(3, depth_multiplier=2, activation="tanh"), (2, 6, 2)),
    (lambda: SeparableConv2D(3, 2, strides=(1, 2), depth_multiplier=2, activation="tanh"),
     (2, 4, 5, 2)),
    (lambda: SeparableConv1D(2, 3, padding="same", dilation_rate=2, activation="tanh"),
     (2, 6, 3)),
])
def test_check_gradients_passes(float64, make, shape):
    layer = make()
    result = check_gradients(layer, np.random.default_rng(3).normal(size=shape))
    assert result.passed, str(result)
    assert [row["name"].split("/")[-1] for row in result.rows] == \
        [w.name for w in layer.trainable_weights] + ["x (input)"]


class TransposeWithKernelGradientOnePercentOff(Conv2DTranspose):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01
        return dx, grads


class TransposeWithDxOnePixelOff(Conv2DTranspose):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        return np.roll(dx, 1, axis=2), grads


class DepthwiseWithKernelGradientOnePercentOff(DepthwiseConv2D):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01
        return dx, grads


class SeparableWithDxOnePixelOff(SeparableConv2D):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        return np.roll(dx, 1, axis=1), grads


class SeparableWithPointwiseGradientTransposed(SeparableConv2D):
    """dP with its (C*M) and F axes swapped: the right numbers in the wrong places (C*M == F)."""

    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.pointwise_kernel] = grads[self.pointwise_kernel].transpose(0, 1, 3, 2)
        return dx, grads


@pytest.mark.parametrize("make, wrong", [
    (lambda: TransposeWithKernelGradientOnePercentOff(2, 3, strides=2, activation="tanh"),
     "kernel"),
    (lambda: TransposeWithDxOnePixelOff(2, 3, strides=2, activation="tanh"), "x (input)"),
    (lambda: DepthwiseWithKernelGradientOnePercentOff(2, depth_multiplier=2, activation="tanh"),
     "kernel"),
    (lambda: SeparableWithDxOnePixelOff(3, 2, activation="tanh"), "x (input)"),
    (lambda: SeparableWithPointwiseGradientTransposed(2, 2, activation="tanh"),
     "pointwise_kernel"),
])
def test_check_gradients_catches_a_wrong_backward(float64, make, wrong):
    result = check_gradients(make(), np.random.default_rng(4).normal(size=(2, 4, 4, 2)))
    assert not result.passed
    assert [name.split("/")[-1] for name in result.failed] == [wrong]


# -- models against their Keras twins ------------------------------------------------------------
def digit_images(n=96):
    """The first n of scikit-learn's 8x8 digits, scaled to 0..1, as (n, 8, 8, 1) images."""
    (x, y), _ = digits.load_data()
    return (x[:n, :, :, None] / np.float32(16)).astype(np.float32), y[:n].astype(np.int64)


def autoencoder(framework):
    """8x8 -> 4x4 -> 2x2 with Conv2D strides 2, then back up with Conv2DTranspose strides 2."""
    L = framework.layers
    return framework.Sequential([
        framework.Input((8, 8, 1)),
        L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down1"),
        L.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="down2"),
        L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="up1"),
        L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid", name="up2"),
    ], name="autoencoder")


def separable_net(framework):
    """A MobileNet-like classifier: separable, depthwise (strides 2) and 1x1 convolutions."""
    L = framework.layers
    return framework.Sequential([
        framework.Input((8, 8, 1)),
        L.SeparableConv2D(8, 3, padding="same", depth_multiplier=2, activation="relu",
                          name="separable"),
        L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu", name="depthwise"),
        L.Conv2D(12, 1, activation="relu", name="pointwise"),
        L.SeparableConv2D(10, 2, dilation_rate=2, name="dilated"),
        L.GlobalAveragePooling2D(name="pool"),
        L.Activation("softmax", name="softmax"),
    ], name="separable_net")


def test_a_convolutional_autoencoder_fits_as_kerass():
    """Binary cross-entropy from the sigmoid's logits, as Keras computes it, and Adam: loss,
    gradients, and the History of 3 epochs (validation too) to rtol 1e-4 (after 3 epochs of
    float32 steps in two orders of summation, the losses agree to about 1e-6; 1e-4 leaves room
    without letting a wrong layer through: the negative control below is 100x that)."""
    minidl.utils.set_random_seed(0)
    model = autoencoder(minidl)
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="binary_crossentropy")
    twin = keras_twin(model)
    x, _ = digit_images()
    assert_same_loss_and_gradients(twin, model, x, x, rtol=1e-4, atol=1e-6)
    assert_same_fit(twin, model, x, x, rtol=1e-4, epochs=3, batch_size=16,
                    validation_split=0.25)
    # Negative control: a transposed convolution that forgot to flip its kernel (a convolution
    # with the same weights, the usual mistake) is far outside the tolerance.
    loss = model.evaluate(x, x, verbose=0)
    weights = model.get_weights()
    weights[4] = weights[4][::-1, ::-1]  # up1's kernel (KH,KW,F,C) flipped in space
    model.set_weights(weights)
    assert abs(model.evaluate(x, x, verbose=0) - loss) > 1e-2 * loss


def test_a_separable_classifier_fits_as_kerass():
    minidl.utils.set_random_seed(1)
    model = separable_net(minidl)
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    twin = keras_twin(model)
    x, y = digit_images()
    assert_same_loss_and_gradients(twin, model, x, y, rtol=1e-4, atol=1e-6)
    assert_same_fit(twin, model, x, y, rtol=1e-4, epochs=3, batch_size=16, validation_split=0.25)


def sequence_net(framework):
    """The 1-D layers with non-default arguments and regularizers, in one functional model."""
    L = framework.layers
    steps = framework.Input((6, 3), name="steps")
    h = L.Conv1DTranspose(4, 3, strides=2, output_padding=1, activation="relu",
                          kernel_regularizer="l2", name="up")(steps)  # (14, 4)
    h = L.SeparableConv1D(5, 3, strides=2, depth_multiplier=2, padding="same",
                          pointwise_regularizer="l1", name="separable")(h)  # (7, 5)
    h = L.DepthwiseConv1D(2, dilation_rate=2, depth_multiplier=3, use_bias=False,
                          name="depthwise")(h)  # (5, 15)
    image = framework.Input((5, 5, 2), name="image")
    g = L.Conv2DTranspose(3, (2, 3), strides=(1, 2), padding="valid", output_padding=(0, 1),
                          name="up2d")(image)  # (6, 12, 3)
    g = L.DepthwiseConv2D(3, strides=2, depthwise_regularizer="l2", name="depthwise2d")(g)
    g = L.GlobalMaxPooling2D()(g)
    merged = L.Concatenate()([L.GlobalAveragePooling1D()(h), g])
    return framework.Model([steps, image], L.Dense(2)(merged), name="sequence_net")


def two_inputs(n=4):
    rng = np.random.default_rng(5)
    return [rng.normal(size=(n, 6, 3)).astype(np.float32),
            rng.normal(size=(n, 5, 5, 2)).astype(np.float32)]


def test_summaries_and_param_counts_are_kerass(capsys):
    printed = []
    for build in (autoencoder, separable_net, sequence_net):
        model = build(minidl)
        twin = keras_twin(model, compile=False)
        twin.summary()
        expected = capsys.readouterr().out
        lines = []
        model.summary(print_fn=lines.append)
        assert "".join(lines) == expected
        assert [l.count_params() for l in model.layers] == [l.count_params()
                                                           for l in twin.layers]
        printed.append(expected)
    for name in ("Conv2DTranspose", "Conv1DTranspose", "DepthwiseConv2D", "DepthwiseConv1D",
                 "SeparableConv2D", "SeparableConv1D"):
        assert f"({name})" in "".join(printed), name  # each layer was in a summary


def test_keras_files_both_ways(tmp_path):
    """minidl writes, Keras reads, and the other way; both predict the same (and the weight
    penalties of the regularizers give the same losses)."""
    ours = sequence_net(minidl)
    rng = np.random.default_rng(6)
    ours.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in ours.get_weights()])
    ours.save(tmp_path / "minidl.keras")
    theirs = keras.models.load_model(tmp_path / "minidl.keras")
    theirs.save(tmp_path / "keras.keras")
    again = load_model(tmp_path / "keras.keras")
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in theirs.layers]
    expected = theirs.predict(two_inputs(), verbose=0)
    for model in (ours, again):
        np.testing.assert_allclose(model.predict(two_inputs(), verbose=0), expected,
                                   rtol=1e-5, atol=1e-5)
    theirs(two_inputs())
    np.testing.assert_allclose(sorted(ours.losses), sorted(float(v) for v in theirs.losses),
                               rtol=1e-5)


@pytest.mark.parametrize("layer", [
    Conv2DTranspose(3, (2, 3), strides=2, padding="same", output_padding=1, activation="relu",
                    use_bias=False, kernel_regularizer="l2", name="t"),
    Conv1DTranspose(2, 3, dilation_rate=2, bias_initializer="ones"),
    DepthwiseConv2D(3, strides=2, depth_multiplier=4, dilation_rate=(1, 2), padding="same",
                    depthwise_regularizer=minidl.regularizers.l1(0.5)),
    DepthwiseConv1D(2, activation="tanh"),
    SeparableConv2D(5, 3, depth_multiplier=2, pointwise_initializer="zeros",
                    bias_regularizer="l2"),
    SeparableConv1D(4, 2, strides=2, padding="same"),
])
def test_configs_go_both_ways(layer):
    """minidl's config builds Keras's layer with the same config, and Keras's builds minidl's."""
    keras_layer = getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
    theirs = keras_layer.get_config()
    ours = layer.get_config()
    assert set(ours) == set(theirs) - {"dtype"}
    for key, value in ours.items():
        if not key.endswith(("_initializer", "_regularizer")):
            assert value == theirs[key], key
    written = keras.saving.serialize_keras_object(keras_layer)
    back = layer_from_config(written)
    assert back.get_config() == {**ours, "name": keras_layer.name}
    assert layer_to_config(back, "float32")["config"]["kernel_size"] == list(layer.kernel_size)


def test_weight_names_and_shapes_are_kerass():
    for make, shape in [(lambda L: L.Conv2DTranspose(4, (2, 3)), (None, 5, 5, 3)),
                        (lambda L: L.Conv1DTranspose(4, 2), (None, 5, 3)),
                        (lambda L: L.DepthwiseConv2D(3, depth_multiplier=2), (None, 5, 5, 3)),
                        (lambda L: L.SeparableConv2D(4, 3, depth_multiplier=2), (None, 5, 5, 3)),
                        (lambda L: L.SeparableConv1D(4, 3, use_bias=False), (None, 5, 3))]:
        ours, theirs = make(minidl.layers), make(keras.layers)
        ours.build(shape), theirs.build(shape)
        assert [(w.name, w.shape) for w in ours.weights] == \
            [(w.name, tuple(w.shape)) for w in theirs.weights]


# -- errors ------------------------------------------------------------------------------------
SAME_ERRORS = [
    ("Conv2DTranspose", (0, 3), {}),
    ("Conv2DTranspose", (2, 3), dict(strides=2, output_padding=2)),
    ("Conv2DTranspose", (2, 3), dict(strides=2, dilation_rate=2)),
    ("Conv1DTranspose", (2, 3), dict(strides=(2, 2))),
    ("DepthwiseConv2D", (3,), dict(depth_multiplier=0)),
    ("SeparableConv2D", (0, 3), {}),
    ("SeparableConv1D", (2, 3), dict(depth_multiplier=-1)),
]


@pytest.mark.parametrize("name, args, kwargs", SAME_ERRORS)
def test_bad_arguments_get_kerass_errors(name, args, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(keras.layers, name)(*args, **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(minidl.layers, name)(*args, **kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("make, message", [
    (lambda: Conv2DTranspose(2, 3, padding="causal"), "Received: padding='causal'"),
    (lambda: SeparableConv2D(2, 3, data_format="channels_first"), "data_format"),
    (lambda: DepthwiseConv2D((3, 3, 3)), "must be a tuple of 2 integers"),
])
def test_what_minidl_refuses_is_named(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_an_even_kernel_with_same_padding_and_no_output_padding_is_refused_as_by_tensorflow():
    """Keras accepts the layer, then TensorFlow's Conv2DBackpropInput fails on its first call:
    6 output pixels would go back to ceil(6 / 2) = 3, not the 4 given. minidl says so by name."""
    x = np.zeros((1, 4, 4, 1), np.float32)
    with pytest.raises(Exception):
        keras.layers.Conv2DTranspose(1, 2, strides=2, padding="same", output_padding=0)(x)
    layer = Conv2DTranspose(1, 2, strides=2, padding="same", output_padding=0)
    with pytest.raises(ValueError, match="output_padding > 0"):
        layer(x)
    assert not layer.built
    assert Conv2DTranspose(1, 2, strides=2, padding="same")(x).shape == (1, 8, 8, 1)


def test_inputs_of_the_wrong_shape_are_refused_with_kerass_message():
    layer = SeparableConv2D(2, 3)
    with pytest.raises(ValueError, match="expected min_ndim=4, found ndim=3"):
        layer(np.zeros((2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        DepthwiseConv2D(3, dilation_rate=2)(np.zeros((1, 4, 9, 1), np.float32))
    layer(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 2"):
        layer(np.zeros((1, 5, 5, 3), np.float32))
    transpose = Conv2DTranspose(2, 3)
    transpose(np.zeros((1, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        transpose(np.zeros((1, 3, 3, 1), np.float32))
