"""Conv2D and Conv1D: the fast im2col layer equals a slow loop, its gradients are right, and
it computes what Keras computes.

Three independent checks:
- `conv2d_loops` below, one output pixel and one kernel position at a time, written from the
  definition and TensorFlow's documented "same" padding, shares no code with minidl; the
  im2col layer must equal it (float64, to rounding) over random shapes, strides and padding.
- check_gradients (central differences) on every weight and the input, with negative controls:
  a kernel gradient 1 % off and a col2im that drops one kernel position must fail.
- live Keras: the same layer from the same config and weights gives the same output and the
  same gradients for the kernel, the bias and the input (float32: rtol 1e-5, and an atol
  scaled by the largest entry, since a sum of K products is rounded at that scale).
"""
import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.layers import Conv1D, Conv2D
from minidl.layers.convolutional import col2im, im2col, same_padding
from minidl.tape import Tape
from minidl.testing import check_gradients


# -- the slow, obviously correct version ------------------------------------------------------
def tf_padding(size, kernel, stride, padding):
    """(output size, zeros before) as TensorFlow's documentation defines them."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0
    out = math.ceil(size / stride)
    return out, max((out - 1) * stride + kernel - size, 0) // 2


def conv2d_loops(x, W, b, strides, padding):
    """One output pixel and one kernel position at a time:

        z[n, i, j, f] = b[f] + sum over p, q, c of x[n, i*SH+p-top, j*SW+q-left, c] * W[p, q, c, f]
    """
    n, h, w, c = x.shape
    kh, kw, _, f = W.shape
    ho, top = tf_padding(h, kh, strides[0], padding)
    wo, left = tf_padding(w, kw, strides[1], padding)
    z = np.zeros((n, ho, wo, f), x.dtype)
    for i in range(ho):
        for j in range(wo):
            z[:, i, j, :] = b
            for p in range(kh):
                for q in range(kw):
                    row, col = i * strides[0] + p - top, j * strides[1] + q - left
                    if 0 <= row < h and 0 <= col < w:  # outside: a padded zero
                        z[:, i, j, :] += x[:, row, col, :] @ W[p, q]  # (N,C) @ (C,F)
    return z


def conv2d_loops_backward(x, W, dz, strides, padding):
    """dx, dW, db of `conv2d_loops`, summed term by term over the same loops."""
    n, h, w, c = x.shape
    kh, kw = W.shape[:2]
    _, top = tf_padding(h, kh, strides[0], padding)
    _, left = tf_padding(w, kw, strides[1], padding)
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for i in range(dz.shape[1]):
        for j in range(dz.shape[2]):
            for p in range(kh):
                for q in range(kw):
                    row, col = i * strides[0] + p - top, j * strides[1] + q - left
                    if 0 <= row < h and 0 <= col < w:
                        dW[p, q] += x[:, row, col, :].T @ dz[:, i, j, :]  # (C,N) @ (N,F)
                        dx[:, row, col, :] += dz[:, i, j, :] @ W[p, q].T  # (N,F) @ (F,C)
    return dx, dW, dz.sum(axis=(0, 1, 2))


def layer_grads(layer, x, dy):
    """(y, dx, [dW, db]) of a minidl layer for the output gradient dy."""
    with Tape() as tape:
        y = layer(x)
    *grads, dx = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
    return y, dx, grads


def keras_layer_grads(layer, x, dy):
    """The same for a built Keras layer, from TensorFlow's GradientTape."""
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


def close(ours, theirs, rtol=1e-5):
    """float32 agreement: rtol, and an atol at the rounding scale of the largest entry."""
    theirs = np.asarray(theirs, np.float64)
    atol = 1e-6 * max(1.0, float(np.abs(theirs).max(initial=0)))
    np.testing.assert_allclose(np.asarray(ours, np.float64), theirs, rtol=rtol, atol=atol)


@st.composite
def conv_cases(draw, rank=2):
    """(layer arguments, input shape) with the kernel never larger than the padded input."""
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"] + (["causal"] if rank == 1 else [])))
    spatial = tuple(k + draw(st.integers(0, 5)) for k in kernel)
    shape = (draw(st.integers(1, 3)),) + spatial + (draw(st.integers(1, 4)),)
    arguments = dict(filters=draw(st.integers(1, 5)), kernel_size=kernel, strides=strides,
                     padding=padding, use_bias=draw(st.booleans()),
                     activation=draw(st.sampled_from(["linear", "relu", "tanh", "sigmoid"])))
    return arguments, shape


# -- im2col and col2im --------------------------------------------------------------------------
def test_im2col_lays_each_window_out_as_a_row_in_the_kernels_order():
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float64).reshape(2, 4, 5, 3)
    cols = im2col(x, (2, 3), (2, 1))  # output 2 x 3 per image
    assert cols.shape == (2 * 2 * 3, 2 * 3 * 3)
    assert np.array_equal(cols[0], x[0, 0:2, 0:3, :].ravel())  # (p, q, c) order
    assert np.array_equal(cols[2 * 3 + 4], x[1, 2:4, 1:4, :].ravel())  # image 1, row 1, col 1


def test_col2im_adds_every_row_back_where_its_window_came_from():
    """col2im is im2col's transpose: <im2col(x), d> == <x, col2im(d)> for every x and d."""
    rng = np.random.default_rng(0)
    for kernel, strides, shape in (((3, 3), (1, 1), (2, 6, 7, 3)), ((2, 3), (2, 3), (1, 7, 9, 2)),
                                   ((3, 2), (2, 1), (2, 5, 5, 1))):
        x = rng.normal(size=shape)
        d = rng.normal(size=im2col(x, kernel, strides).shape)
        assert np.isclose((im2col(x, kernel, strides) * d).sum(),
                          (x * col2im(d, shape, kernel, strides)).sum())


def test_same_padding_puts_the_odd_zero_after():
    assert same_padding(4, 3, 2) == (0, 1)  # out 2: (2-1)*2 + 3 - 4 = 1 zero, at the bottom
    assert same_padding(5, 3, 1) == (1, 1)
    assert same_padding(6, 4, 1) == (1, 2)
    assert same_padding(7, 1, 3) == (0, 0)


# -- the fast layer equals the loops -----------------------------------------------------------
@given(conv_cases())
def test_conv2d_equals_the_loops(float64, case):
    arguments, shape = case
    arguments["activation"] = "linear"
    layer = Conv2D(**arguments)
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape)
    y = layer(x)
    W = layer.kernel.value
    b = layer.bias.value if layer.use_bias else np.zeros(W.shape[-1])
    np.testing.assert_allclose(y, conv2d_loops(x, W, b, layer.strides, layer.padding),
                               rtol=1e-12, atol=1e-12)
    dy = rng.normal(size=y.shape)
    _, dx, grads = layer_grads(layer, x, dy)
    dx_loops, dW_loops, db_loops = conv2d_loops_backward(x, W, dy, layer.strides, layer.padding)
    np.testing.assert_allclose(dx, dx_loops, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[0], dW_loops, rtol=1e-12, atol=1e-12)
    if layer.use_bias:
        np.testing.assert_allclose(grads[1], db_loops, rtol=1e-12, atol=1e-12)


def test_conv1d_is_conv2d_on_images_one_pixel_high(float64):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 9, 3))  # (N,L,C)
    for padding in ("valid", "same"):
        layer = Conv1D(4, 3, strides=2, padding=padding)
        y = layer(x)
        W, b = layer.get_weights()
        z = conv2d_loops(x[:, None], W[None], b, (1, 2), padding)[:, 0]  # (N,1,LO,F) -> (N,LO,F)
        np.testing.assert_allclose(y, z, rtol=1e-12, atol=1e-12)


def test_causal_padding_sees_no_future(float64):
    """Output i of a causal Conv1D does not change when inputs after i change."""
    layer = Conv1D(2, 3, padding="causal")
    x = np.random.default_rng(3).normal(size=(1, 6, 2))
    y = layer(x)
    later = x.copy()
    later[:, 4:] += 1.0
    assert y.shape == (1, 6, 2)
    np.testing.assert_array_equal(layer(later)[:, :4], y[:, :4])
    assert not np.allclose(layer(later)[:, 4:], y[:, 4:])


# -- gradient checks, with negative controls ---------------------------------------------------
@pytest.mark.parametrize("layer, shape", [
    (lambda: Conv2D(3, 3, activation="tanh"), (2, 5, 6, 2)),
    (lambda: Conv2D(2, (2, 3), strides=(2, 1), padding="same", activation="sigmoid"), (2, 5, 5, 3)),
    (lambda: Conv1D(3, 2, strides=2, padding="causal", activation="tanh"), (2, 7, 2)),
])
def test_check_gradients_passes(float64, layer, shape):
    x = np.random.default_rng(4).normal(size=shape)
    result = check_gradients(layer(), x)
    assert result.passed, str(result)
    assert [row["name"].split("/")[-1] for row in result.rows] == ["kernel", "bias", "x (input)"]


class Conv2DWithKernelGradientOnePercentOff(Conv2D):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01
        return dx, grads


class Conv2DWithDxOnePixelOff(Conv2D):
    """An off-by-one col2im: every pixel's gradient lands one column to the right."""

    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        return np.roll(dx, 1, axis=2), grads


@pytest.mark.parametrize("cls, wrong", [(Conv2DWithKernelGradientOnePercentOff, "kernel"),
                                        (Conv2DWithDxOnePixelOff, "x (input)")])
def test_check_gradients_catches_a_wrong_backward(float64, cls, wrong):
    x = np.random.default_rng(5).normal(size=(2, 5, 5, 2))
    result = check_gradients(cls(3, 3, activation="tanh"), x)
    assert not result.passed
    assert [name.split("/")[-1] for name in result.failed] == [wrong]


# -- against live Keras ----------------------------------------------------------------------
@given(conv_cases(rank=2))
def test_conv2d_forward_and_gradients_match_keras(case):
    arguments, shape = case
    minidl.utils.set_random_seed(shape[1])
    layer = Conv2D(**arguments)
    rng = np.random.default_rng(6)
    x = rng.normal(size=shape).astype(np.float32)
    layer(x)
    if layer.use_bias:
        layer.bias.assign(rng.normal(size=layer.bias.shape))
    dy = rng.normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, grads = layer_grads(layer, x, dy)
    keras_y, keras_dx, keras_grads = keras_layer_grads(keras_twin_layer(layer, shape), x, dy)
    close(y, keras_y)
    close(dx, keras_dx)
    for ours, theirs in zip(grads, keras_grads):
        close(ours, theirs)


@given(conv_cases(rank=1))
def test_conv1d_forward_and_gradients_match_keras(case):
    arguments, shape = case
    layer = Conv1D(**{**arguments, "kernel_size": arguments["kernel_size"][0],
                      "strides": arguments["strides"][0]})
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape).astype(np.float32)
    dy = rng.normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, grads = layer_grads(layer, x, dy)
    keras_y, keras_dx, keras_grads = keras_layer_grads(keras_twin_layer(layer, shape), x, dy)
    close(y, keras_y)
    close(dx, keras_dx)
    for ours, theirs in zip(grads, keras_grads):
        close(ours, theirs)


def test_same_padding_with_stride_2_matches_keras_asymmetric_split():
    """A 4x4 image, 3x3 kernel, stride 2: one zero row/column, at the bottom/right."""
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    kernel = np.zeros((3, 3, 1, 1), np.float32)
    kernel[0, 0] = 1  # picks each window's top-left pixel
    layer = Conv2D(1, 3, strides=2, padding="same", use_bias=False)
    layer(x)
    layer.set_weights([kernel])
    twin = keras_twin_layer(layer, x.shape)
    np.testing.assert_array_equal(layer(x), np.asarray(twin(x)))
    np.testing.assert_array_equal(layer(x)[0, :, :, 0], x[0, ::2, ::2, 0])  # no zero on top


def test_config_has_keras_keys_and_builds_either_layer():
    layer = Conv2D(8, (3, 2), strides=2, padding="same", activation="relu", use_bias=False,
                   kernel_regularizer=minidl.regularizers.l2(0.01), name="c")
    config = layer.get_config()
    keras_layer = keras.layers.Conv2D.from_config(config)
    keras_config = keras_layer.get_config()
    assert set(config) == set(keras_config) - {"dtype"}
    for key in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                "groups", "activation", "use_bias", "name", "trainable"):
        assert config[key] == keras_config[key], key
    assert keras_config["kernel_regularizer"]["config"] == {"l2": 0.01}
    again = Conv2D.from_config(config)
    assert again.get_config() == config
    assert Conv1D(2, 3, padding="causal").get_config()["kernel_size"] == (3,)


# -- errors: Keras's messages, raised before anything changes ---------------------------------
@pytest.mark.parametrize("arguments, message", [
    (dict(filters=0, kernel_size=3), "Received filters=0"),
    (dict(filters=4, kernel_size=(0, 3)), "Received kernel_size=(0, 3)"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "must be a tuple of 2 integers"),
    (dict(filters=4, kernel_size=3, strides=0), "Received strides=0"),
    (dict(filters=4, kernel_size=3, padding="full"), "Received: padding='full'"),
    (dict(filters=4, kernel_size=3, padding="causal"), "Received: padding='causal'"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), "dilation_rate > 1"),
    (dict(filters=4, kernel_size=3, groups=3), "Received: groups=3, filters=4"),
    (dict(filters=4, kernel_size=3, data_format="channels_first"), "channels_last"),
    (dict(filters=4, kernel_size=3, activation="nope"), "nope"),
])
def test_bad_arguments_are_refused_by_name(arguments, message):
    with pytest.raises(ValueError) as error:
        Conv2D(**arguments)
    assert message in str(error.value)


def test_bad_inputs_are_refused_and_leave_the_layer_unbuilt():
    layer = Conv2D(4, 3, name="conv")
    with pytest.raises(ValueError, match=r"expected min_ndim=4, found ndim=3"):
        layer(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        layer(np.zeros((2, 2, 5, 1), np.float32))
    assert not layer.built and layer.weights == []
    layer(np.zeros((2, 5, 5, 1), np.float32))
    kernel = layer.get_weights()[0]
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 1"):
        layer(np.zeros((2, 5, 5, 3), np.float32))
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)
