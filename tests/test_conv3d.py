"""Conv3D, Conv3DTranspose, the 3-D poolings and SpatialDropout3D (volumes (N, D, H, W, C))
against Keras.

- live Keras, over hypothesis-drawn shapes and arguments (kernel, strides, padding, dilation,
  groups, use_bias; Conv1D and Conv2D with dilation and groups too, which share the code):
  the same layer from the same config and weights gives the same output shape, output, and
  gradients for the input, kernel and bias. Tolerance, derived as in test_conv_more.py: every
  number compared is a sum of products (an output KD*KH*KW*C of them plus the bias, a kernel
  gradient one per output voxel, N*DO*HO*WO, an input gradient at most KD*KH*KW*F); two
  float32 computations of a sum of n products in different orders differ by at most
  2 * gamma_n * S (gamma_n = n*u/(1 - n*u), u = 2**-24, S the sum of |products|, computed
  exactly by the float64 layer on |x|, |weights| and |dy|). A one-voxel shift is the negative
  control. With groups each sum has fewer products than the bound counts (C/G channels).
  Conv3DTranspose is drawn as test_conv_more.py draws Conv2DTranspose (output_padding too),
  and is Conv3D's input gradient (float64, to rounding).
- the poolings on drawn volumes of small integers (many ties, as after a relu) and of normal
  numbers, "valid" and "same": max pooling's output exactly (a max is exact) and its gradient
  to 2 * gamma_P * P * max|dy| (P windows at most cover a voxel, so a voxel's gradient is a sum
  of at most P numbers of dy); average pooling's to the float32 bound of its sums. TensorFlow's
  MaxPool3DGrad gives the whole gradient to each tied max; the 2-D rule (the first max only)
  is the negative control and must fail on tied volumes. Global pooling 3D likewise.
- float64 central differences (minidl.testing.check_gradients) for every layer, with negative
  controls: a kernel gradient 1 % off, an input gradient one voxel off along the depth axis,
  a grouped input gradient with its groups' channel blocks swapped, an average pooling whose
  backward divides by the whole window, padding included.
- a small volumetric classifier (Conv3D, MaxPool3D, SpatialDropout3D, AvgPool3D, global
  pooling) trained in lockstep with its Keras twin, Keras replaying minidl's dropout masks
  (reference/masks.py): the History of 2 epochs with validation to 1e-5; summaries; configs
  and .keras files both ways; SpatialDropout3D's mask shape and scale; Keras's alias names;
  Keras's errors for bad arguments.
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.layers import (AveragePooling3D, Conv1D, Conv2D, Conv3D, Conv3DTranspose,
                           GlobalAveragePooling3D, GlobalMaxPooling3D, MaxPooling2D,
                           MaxPooling3D, SpatialDropout3D)
from minidl.models import load_model
from minidl.testing import check_gradients
from reference.lockstep import lockstep_fit
from reference.twins import keras_twin
from test_conv_more import (U, assert_within, bound, keras_layer_grads, keras_twin_layer,
                            layer_grads, transpose_cases)


# -- drawn cases -------------------------------------------------------------------------------
@st.composite
def conv_cases(draw, rank=3):
    """(class, arguments, input shape) of a convolution Keras accepts."""
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides, dilation = (1,) * rank, (1,) * rank
    if draw(st.booleans()):
        strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    else:  # Keras: strides > 1 and dilation > 1 do not go together
        dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    groups = draw(st.sampled_from([1, 1, 2, 3]))  # channels and filters: multiples of groups
    shape = (draw(st.integers(1, 2)),) + tuple(s + draw(st.integers(0, 3)) for s in spans) \
        + (groups * draw(st.integers(1, 2)),)
    arguments = dict(filters=groups * draw(st.integers(1, 2)), kernel_size=kernel,
                     strides=strides, padding=draw(st.sampled_from(["valid", "same"])),
                     dilation_rate=dilation, groups=groups, use_bias=draw(st.booleans()))
    return {1: Conv1D, 2: Conv2D, 3: Conv3D}[rank], arguments, shape


def longest_sum(layer, x_shape, y_shape):
    """n: the most products any compared number sums (an upper bound, see the docstring)."""
    channels = max(x_shape[-1], y_shape[-1])
    voxels = x_shape[0] * max(int(np.prod(x_shape[1:-1])), int(np.prod(y_shape[1:-1])))
    return int(np.prod(layer.kernel_size)) * channels + 1 + voxels


def assert_layer_matches_keras(cls, arguments, shape):
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
    assert y.shape == keras_y.shape and len(grads) == len(keras_grads) == len(layer.weights)
    s_y, s_dx, s_grads = bound(layer, x, dy)
    n = longest_sum(layer, x.shape, y.shape)
    assert_within(y, keras_y, s_y, n, "y")
    assert_within(dx, keras_dx, s_dx, n, "dx")
    for variable, ours, theirs, s in zip(layer.trainable_weights, grads, keras_grads, s_grads):
        assert_within(ours, theirs, s, n, variable.path)


@given(conv_cases(3))
def test_conv3d_output_and_gradients_match_keras(case):
    assert_layer_matches_keras(*case)


@given(st.one_of(conv_cases(2), conv_cases(1)))
def test_conv1d_and_conv2d_with_dilation_and_groups_match_keras(case):
    """The code is shared: Conv1D and Conv2D take dilation_rate and groups through it too."""
    assert_layer_matches_keras(*case)


@given(transpose_cases(3).map(lambda case: (Conv3DTranspose,) + case[1:]))
def test_conv3d_transpose_output_and_gradients_match_keras(case):
    """Drawn as test_conv_more.py draws Conv2DTranspose (strides, padding, output_padding,
    dilation), with three axes: the same bound (an output sums at most KD*KH*KW*C products)."""
    assert_layer_matches_keras(*case)


def test_conv3d_transpose_is_conv3ds_input_gradient():
    """The defining property, in 3-D: Conv3DTranspose(g) with Conv3D's kernel array is
    Conv3D's input gradient for the output gradient g (float64, to rounding)."""
    minidl.config.set_floatx("float64")
    rng = np.random.default_rng(9)
    conv = Conv3D(2, (3, 2, 3), strides=2, padding="same", use_bias=False)
    transpose = Conv3DTranspose(3, (3, 2, 3), strides=2, padding="same", use_bias=False)
    x, g = rng.normal(size=(2, 4, 6, 6, 3)), rng.normal(size=(2, 2, 3, 3, 2))
    conv(x), transpose(g)
    transpose.set_weights(conv.get_weights())
    _, dx, _ = layer_grads(conv, x, g)
    assert transpose(g).shape == x.shape
    np.testing.assert_allclose(transpose(g), dx, rtol=1e-12, atol=1e-12)


def test_the_tolerance_catches_a_one_voxel_shift():
    """Negative control of the comparison: an output one voxel off in depth is far outside."""
    layer = Conv3D(2, 2, padding="same")
    x = np.random.default_rng(0).normal(size=(1, 4, 3, 3, 2)).astype(np.float32)
    dy = np.ones(layer.compute_output_shape(x.shape), np.float32)
    y, _, _ = layer_grads(layer, x, dy)
    keras_y = np.asarray(keras_twin_layer(layer, x.shape)(x))
    s_y, n = bound(layer, x, dy)[0], longest_sum(layer, x.shape, y.shape)
    assert_within(y, keras_y, s_y, n, "y")
    with pytest.raises(AssertionError):
        assert_within(np.roll(y, 1, axis=1), keras_y, s_y, n, "y")


def test_conv3d_is_the_formula_written_as_loops():
    """z[n,t,i,j,f] = b[f] + sum over o,p,q,c of x[n, t*SD+o*DD, i*SH+p*DH, j*SW+q*DW, c] *
    W[o,p,q,c,f], looped in float64 (to rounding), with dilation and with strides."""
    minidl.config.set_floatx("float64")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 6, 4, 3))
    for strides, dilation in (((2, 1, 2), (1, 1, 1)), ((1, 1, 1), (2, 1, 2))):
        layer = Conv3D(2, (2, 3, 2), strides=strides, dilation_rate=dilation)
        layer(x)
        W, b = [rng.normal(size=w.shape) for w in layer.get_weights()]
        layer.set_weights([W, b])
        y = layer(x)
        expected = np.zeros_like(y)
        for t, i, j in np.ndindex(*y.shape[1:4]):
            for o, p, q in np.ndindex(2, 3, 2):
                voxel = x[:, t * strides[0] + o * dilation[0], i * strides[1] + p * dilation[1],
                          j * strides[2] + q * dilation[2]]  # (N,C)
                expected[:, t, i, j] += voxel @ W[o, p, q]
        np.testing.assert_allclose(y, expected + b, rtol=1e-12, atol=1e-12)


# -- pooling -------------------------------------------------------------------------------------
@st.composite
def pooling_cases(draw):
    """(class, arguments, volume): pool, strides, padding, and values with or without ties."""
    pool = tuple(draw(st.integers(1, 3)) for _ in range(3))
    strides = draw(st.one_of(st.none(), st.tuples(*(st.integers(1, 3) for _ in range(3)))))
    padding = draw(st.sampled_from(["valid", "same"]))
    shape = (draw(st.integers(1, 2)),) + tuple(k + draw(st.integers(0, 3)) for k in pool) \
        + (draw(st.integers(1, 3)),)
    rng = np.random.default_rng(sum(shape))
    ties = draw(st.booleans())
    x = (rng.integers(0, 2, shape) if ties else rng.normal(size=shape)).astype(np.float32)
    cls = draw(st.sampled_from([MaxPooling3D, AveragePooling3D]))
    return cls, dict(pool_size=pool, strides=strides, padding=padding), x


def pool_grads(layer, x, dy):
    y, cache = layer.forward(x)
    return y, layer.backward(dy, cache)[0]


def keras_pool_grads(cls, arguments, x, dy):
    return keras_layer_grads(getattr(keras.layers, cls.__name__)(**arguments), x, dy)[:2]


def most_windows_per_voxel(layer):
    """P: the most windows that cover one voxel: prod of ceil(pool / stride) over the axes."""
    return int(np.prod([-(-k // s) for k, s in zip(layer.pool_size, layer.strides)]))


def assert_pooling_matches(y, dx, keras_y, keras_dx, layer, x, dy):
    p = most_windows_per_voxel(layer)
    if isinstance(layer, MaxPooling3D):
        np.testing.assert_array_equal(y, keras_y)
        tolerance = 2 * p * U / (1 - p * U) * p * np.abs(dy).max()
        np.testing.assert_allclose(dx, keras_dx, rtol=0, atol=tolerance)
    else:  # sums of pool-size numbers, then of P shares: float32's bound on each
        n = int(np.prod(layer.pool_size)) + p
        minidl.config.set_floatx("float64")
        try:
            same = type(layer).from_config(layer.get_config())
            s_y, s_dx = pool_grads(same, np.abs(x).astype(np.float64),
                                   np.abs(dy).astype(np.float64))
        finally:
            minidl.config.set_floatx("float32")
        assert_within(y, keras_y, s_y, n, "y")
        assert_within(dx, keras_dx, s_dx, n, "dx")


@given(pooling_cases())
def test_pooling3d_output_and_gradient_match_keras(case):
    cls, arguments, x = case
    layer = cls(**arguments)
    shape = layer.compute_output_shape(x.shape)
    dy = np.random.default_rng(x.size).normal(size=shape).astype(np.float32)
    y, dx = pool_grads(layer, x, dy)
    keras_y, keras_dx = keras_pool_grads(cls, arguments, x, dy)
    assert y.shape == keras_y.shape == shape
    assert_pooling_matches(y, dx, keras_y, keras_dx, layer, x, dy)


class MaxPooling3DFirstMaxOnly(MaxPooling3D):
    """MaxPooling2D's tie rule (TensorFlow's 2-D MaxPoolGrad) in 3-D: wrong for MaxPool3DGrad."""

    first_max_only = True


def test_max_pooling3d_gives_each_tied_max_the_whole_gradient():
    """A window of equal values: TensorFlow's MaxPool3DGrad gives all of them dy (not dy / 8,
    not dy to the first). The 2-D rule is the negative control and must fail."""
    x = np.zeros((1, 4, 4, 4, 2), np.float32)  # every window tied
    x[0, 0, 0, 0, 1] = 1  # one window with a single max
    arguments = dict(pool_size=2, strides=(1, 2, 2), padding="same")
    layer = MaxPooling3D(**arguments)
    dy = np.random.default_rng(2).normal(size=layer.compute_output_shape(x.shape))
    dy = dy.astype(np.float32)
    y, dx = pool_grads(layer, x, dy)
    keras_y, keras_dx = keras_pool_grads(MaxPooling3D, arguments, x, dy)
    assert_pooling_matches(y, dx, keras_y, keras_dx, layer, x, dy)
    wrong_y, wrong_dx = pool_grads(MaxPooling3DFirstMaxOnly(**arguments), x, dy)
    with pytest.raises(AssertionError):
        assert_pooling_matches(wrong_y, wrong_dx, keras_y, keras_dx, layer, x, dy)
    assert MaxPooling2D().first_max_only  # and the 2-D layer keeps its own rule


@pytest.mark.parametrize("cls", [GlobalMaxPooling3D, GlobalAveragePooling3D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling3d_matches_keras(cls, keepdims):
    """Tied maxima share GlobalMaxPooling3D's gradient (TensorFlow's reduce_max); the mean is
    a sum of D*H*W numbers (tolerance 2 * gamma_n * sum|x| / n, and likewise for dx)."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (2, 3, 4, 2, 3)).astype(np.float32)  # ties
    layer = cls(keepdims=keepdims)
    dy = rng.normal(size=layer.compute_output_shape(x.shape)).astype(np.float32)
    y, dx = pool_grads(layer, x, dy)
    keras_y, keras_dx = keras_pool_grads(cls, dict(keepdims=keepdims), x, dy)
    assert y.shape == keras_y.shape
    n = 24
    tolerance = 2 * n * U / (1 - n * U) * np.abs(x).max()
    np.testing.assert_allclose(y, keras_y, rtol=0, atol=tolerance)
    np.testing.assert_allclose(dx, keras_dx, rtol=2 * U, atol=2 * U * np.abs(dy).max())


# -- float64 central differences, with negative controls ---------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: Conv3D(2, (2, 3, 2), strides=(2, 1, 2), padding="same", activation="tanh"),
     (2, 3, 4, 5, 2)),
    (lambda: Conv3D(2, 2, dilation_rate=(2, 1, 2), activation="sigmoid"), (1, 4, 3, 4, 2)),
    (lambda: Conv3D(3, 1, use_bias=False), (2, 2, 2, 2, 3)),
    (lambda: Conv3D(4, 2, groups=2, padding="same", activation="tanh"), (2, 3, 3, 2, 4)),
    (lambda: Conv3DTranspose(2, (2, 3, 2), strides=(2, 1, 2), padding="same",
                             output_padding=(1, 0, 1), activation="tanh"), (2, 2, 3, 2, 2)),
    (lambda: MaxPooling3D(2, strides=1, padding="same"), (2, 3, 3, 4, 2)),
    (lambda: AveragePooling3D((2, 3, 2), strides=(1, 2, 2), padding="same"), (2, 3, 5, 4, 2)),
    (lambda: GlobalMaxPooling3D(), (2, 2, 3, 2, 3)),
    (lambda: GlobalAveragePooling3D(keepdims=True), (2, 2, 3, 2, 3)),
])
def test_check_gradients_passes(float64, make, shape):
    layer = make()
    result = check_gradients(layer, np.random.default_rng(4).normal(size=shape))
    assert result.passed, str(result)
    assert [row["name"].split("/")[-1] for row in result.rows] == \
        [w.name for w in layer.trainable_weights] + ["x (input)"]


class Conv3DWithKernelGradientOnePercentOff(Conv3D):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01
        return dx, grads


class Conv3DTransposeWithKernelGradientOnePercentOff(Conv3DTranspose):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01
        return dx, grads


class Conv3DWithDxOneVoxelOffInDepth(Conv3D):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        return np.roll(dx, 1, axis=1), grads


class Conv3DWithGroupsInputGradientSwapped(Conv3D):
    """dx with its channel blocks (one per group) swapped: the right numbers, wrong group."""

    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        return np.roll(dx, dx.shape[-1] // self.groups, axis=-1), grads


class AveragePooling3DCountingThePadding(AveragePooling3D):
    """Backward divides by the whole window, padding included (a "same" border window's
    voxels then get too little): Keras counts only the voxels inside the volume."""

    def backward(self, dy, cache, need_dx=True):
        x_shape, padded_shape, pads, out, counts = cache
        whole = np.full_like(counts, np.prod(self.pool_size))  # (DO,HO,WO,1)
        return super().backward(dy, (x_shape, padded_shape, pads, out, whole), need_dx)


@pytest.mark.parametrize("make, wrong", [
    (lambda: Conv3DWithKernelGradientOnePercentOff(2, 2, activation="tanh"), "kernel"),
    (lambda: Conv3DTransposeWithKernelGradientOnePercentOff(2, 2, strides=2, activation="tanh"),
     "kernel"),
    (lambda: Conv3DWithDxOneVoxelOffInDepth(2, 2, padding="same", activation="tanh"),
     "x (input)"),
    (lambda: AveragePooling3DCountingThePadding(2, padding="same"), "x (input)"),
    (lambda: Conv3DWithGroupsInputGradientSwapped(2, 2, groups=2, activation="tanh"),
     "x (input)"),
])
def test_check_gradients_catches_a_wrong_backward(float64, make, wrong):
    result = check_gradients(make(), np.random.default_rng(5).normal(size=(2, 3, 3, 3, 2)))
    assert not result.passed
    assert [name.split("/")[-1] for name in result.failed] == [wrong]


# -- SpatialDropout3D ----------------------------------------------------------------------------
def test_spatial_dropout3d_drops_whole_channels_and_scales_the_rest():
    """One keep/drop per (volume, channel): mask shape (N,1,1,1,C) (channels_first:
    (N,C,1,1,1)); kept values scaled by 1 / (1 - rate), as Keras's; identity at inference."""
    x = np.random.default_rng(6).uniform(1, 2, (40, 2, 3, 2, 5)).astype(np.float32)
    rate = 0.4
    for data_format, channel_axis in (("channels_last", 4), ("channels_first", 1)):
        layer = SpatialDropout3D(rate, data_format=data_format)
        y = layer(x, training=True)
        axes = tuple(a for a in (1, 2, 3, 4) if a != channel_axis)
        kept = (y != 0).all(axis=axes)  # (N,C): a channel is kept whole or dropped whole
        assert ((y == 0).all(axis=axes) | kept).all()
        assert 0.4 < kept.mean() < 0.8  # 1 - rate = 0.6 of 200 draws
        scale = np.float32(1) / np.float32(1 - rate)
        np.testing.assert_array_equal(y[y != 0], (x * scale)[y != 0])
        assert layer(x) is x
        keras_y = keras.layers.SpatialDropout3D(rate, data_format=data_format)(x, training=True)
        keras_kept = (np.asarray(keras_y) != 0).all(axis=axes)
        assert ((np.asarray(keras_y) == 0).all(axis=axes) | keras_kept).all()  # Keras's too


# -- a model, its Keras twin, files --------------------------------------------------------------
def volume_net(framework, rate=0.3):
    L = framework.layers
    return framework.Sequential([
        framework.Input((4, 6, 6, 1)),
        L.Conv3D(4, 3, padding="same", activation="relu", kernel_regularizer="l2", name="c1"),
        L.MaxPool3D((1, 2, 2), name="max"),
        L.SpatialDropout3D(rate, name="drop"),
        L.Convolution3D(6, 2, dilation_rate=(1, 2, 1), activation="relu", name="c2"),
        L.Conv3DTranspose(4, 2, strides=(1, 2, 2), padding="same", name="up"),
        L.AvgPool3D(2, strides=1, padding="same", name="avg"),
        L.GlobalMaxPool3D(name="gmax"),
        L.Dense(3, activation="softmax", name="out"),
    ], name="volume_net")


def volumes(n=40):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, 4, 6, 6, 1)).astype(np.float32)
    return x, (x[:, :2].mean(axis=(1, 2, 3, 4)) > 0).astype(np.int64) + (x[:, 0, 0, 0, 0] > 1)


def test_a_volumetric_classifier_fits_as_its_keras_twin():
    """2 epochs of Adam with validation, Keras replaying minidl's SpatialDropout3D masks:
    every History value to 1e-5 (float32 steps summed in other orders agree to ~1e-6)."""
    minidl.utils.set_random_seed(0)
    model = volume_net(minidl)
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = volumes()
    run = lockstep_fit(model, x, y, epochs=2, batch_size=8, validation_split=0.25, seed=1)
    assert all(diff < 1e-5 for diff in run.max_abs_diff().values()), run.max_abs_diff()


def test_summary_configs_and_keras_files_both_ways(tmp_path, capsys):
    model = volume_net(minidl)
    twin = keras_twin(model, compile=False)
    twin.summary()
    expected = capsys.readouterr().out
    lines = []
    model.summary(print_fn=lines.append)
    assert "".join(lines) == expected
    for name in ("Conv3D", "MaxPooling3D", "SpatialDropout3D", "Conv3DTranspose",
                 "AveragePooling3D", "GlobalMaxPooling3D"):
        assert f"({name})" in expected, name
    for layer in model.layers[:-1]:  # each new layer's config is Keras's, key for key
        keras_config = twin.get_layer(layer.name).get_config()
        config = layer.get_config()
        assert set(config) - {"dtype"} == set(keras_config) - {"dtype"}, layer.name
        for key in set(config) - {"kernel_regularizer", "kernel_initializer",
                                  "bias_initializer", "dtype"}:
            assert config[key] == keras_config[key] or \
                list(np.atleast_1d(config[key])) == list(np.atleast_1d(keras_config[key])), key
    rng = np.random.default_rng(8)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(tmp_path / "minidl.keras")
    theirs = keras.models.load_model(tmp_path / "minidl.keras")
    theirs.save(tmp_path / "keras.keras")
    again = load_model(tmp_path / "keras.keras")
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in theirs.layers]
    x, _ = volumes(4)
    expected = theirs.predict(x, verbose=0)
    for ours in (model, again):
        np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    theirs(x)
    np.testing.assert_allclose(model.losses, [float(v) for v in theirs.losses], rtol=1e-5)


def test_keras_alias_names():
    for alias, name in (("Convolution3D", "Conv3D"), ("MaxPool3D", "MaxPooling3D"),
                        ("Convolution3DTranspose", "Conv3DTranspose"),
                        ("AvgPool3D", "AveragePooling3D"), ("GlobalMaxPool3D",
                                                             "GlobalMaxPooling3D"),
                        ("GlobalAvgPool3D", "GlobalAveragePooling3D")):
        assert getattr(minidl.layers, alias) is getattr(minidl.layers, name)
        assert getattr(keras.layers, alias) is getattr(keras.layers, name)
        assert alias in minidl.layers.__all__ and name in minidl.layers.__all__


# -- errors: Keras's messages ------------------------------------------------------------------
@pytest.mark.parametrize("cls, arguments, named", [
    ("Conv3D", dict(filters=0, kernel_size=3), "Received filters=0"),
    ("Conv3D", dict(filters=4, kernel_size=(3, 3)), "Received kernel_size=(3, 3)"),
    ("Conv3D", dict(filters=4, kernel_size=(0, 3, 3)), "Received kernel_size=(0, 3, 3)"),
    ("Conv3D", dict(filters=4, kernel_size=3, strides=0), "Received strides=0"),
    ("Conv3D", dict(filters=4, kernel_size=3, padding="causal"), "causal"),
    ("Conv3D", dict(filters=4, kernel_size=3, strides=2, dilation_rate=2),
     "Received: strides=(2, 2, 2) and dilation_rate=(2, 2, 2)"),
    ("Conv3D", dict(filters=4, kernel_size=3, groups=0), "Received: groups=0."),
    ("Conv3D", dict(filters=4, kernel_size=3, groups=3), "Received: groups=3, filters=4."),
    ("MaxPooling3D", dict(pool_size=(2, 2)), "Received pool_size=(2, 2)"),
    ("SpatialDropout3D", dict(rate=0.5, data_format="ndhwc"), "Received: data_format=ndhwc"),
])
def test_bad_arguments_are_refused_as_keras_refuses_them(cls, arguments, named):
    """Both refuse at construction; minidl's message names the argument and what it got
    (`named`, the part of Keras's message that says so)."""
    with pytest.raises(ValueError) as theirs:
        getattr(keras.layers, cls)(**arguments)
    with pytest.raises(ValueError) as ours:
        getattr(minidl.layers, cls)(**arguments)
    assert named in str(ours.value)
    assert named.split("=")[-1].strip("'") in str(theirs.value)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="expected min_ndim=5, found ndim=4"):
        Conv3D(2, 2)(np.zeros((1, 3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        Conv3D(2, 3, dilation_rate=2)(np.zeros((1, 4, 9, 9, 1), np.float32))
    with pytest.raises(ValueError, match="expected ndim=5, found ndim=4"):
        MaxPooling3D()(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="expected ndim=5, found ndim=4"):
        SpatialDropout3D(0.5)(np.zeros((1, 4, 4, 1), np.float32))
    layer = Conv3D(4, 2, groups=2)
    message = "The number of input channels must be evenly divisible by the number of groups. " \
        "Received groups=2, but the input has 3 channels"
    with pytest.raises(ValueError, match=message):
        layer(np.zeros((1, 3, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=message):
        keras.layers.Conv3D(4, 2, groups=2)(np.zeros((1, 3, 3, 3, 3), np.float32))
    assert not layer.built
