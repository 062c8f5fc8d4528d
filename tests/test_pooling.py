"""Pooling layers: equal to a slow loop, gradients checked, and Keras's numbers, ties included.

Max pooling's backward has a choice to make when a window holds its maximum twice (a window
of zeros after a relu, or of saturated pixels): TensorFlow's MaxPoolGrad gives the whole
gradient to the FIRST maximum in row-major order, and so must minidl. The loops below do it
the plainest way (np.argmax returns the first maximum of the flattened window), and the Keras
comparisons draw integer-valued inputs, so that most windows have ties.

GlobalMaxPooling's gradient is TensorFlow's reduce_max gradient instead, which splits the
gradient equally among tied maxima: checked the same way.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from minidl.layers import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D,
                           GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                           MaxPooling1D, MaxPooling2D)
from minidl.testing import check_gradients

from test_conv import close, keras_layer_grads, keras_twin_layer, layer_grads, tf_padding


# -- the slow, obviously correct versions ------------------------------------------------------
def windows_of(shape, pool, strides, padding):
    """[(i, j, rows, cols)] of every output pixel: the input rows and columns its window covers
    (cut to the image: "same" padding's outside pixels are no pixels)."""
    (ho, top), (wo, left) = (tf_padding(shape[1], pool[0], strides[0], padding),
                             tf_padding(shape[2], pool[1], strides[1], padding))
    found = []
    for i in range(ho):
        for j in range(wo):
            first_row, first_col = i * strides[0] - top, j * strides[1] - left
            rows = range(max(first_row, 0), min(first_row + pool[0], shape[1]))
            cols = range(max(first_col, 0), min(first_col + pool[1], shape[2]))
            found.append((i, j, rows, cols))
    return found, (ho, wo)


def pool_loops(x, dy_or_none, pool, strides, padding, mode):
    """y (and dx, given dy) one window and one channel at a time."""
    found, (ho, wo) = windows_of(x.shape, pool, strides, padding)
    y = np.zeros((x.shape[0], ho, wo, x.shape[3]), x.dtype)
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[3]):
            for i, j, rows, cols in found:
                window = x[n, rows.start:rows.stop, cols.start:cols.stop, c]
                if mode == "max":
                    y[n, i, j, c] = window.max()
                    first = np.unravel_index(np.argmax(window), window.shape)  # first maximum
                    if dy_or_none is not None:
                        dx[n, rows.start + first[0], cols.start + first[1], c] += \
                            dy_or_none[n, i, j, c]
                else:
                    y[n, i, j, c] = window.sum() / window.size
                    if dy_or_none is not None:
                        dx[n, rows.start:rows.stop, cols.start:cols.stop, c] += \
                            dy_or_none[n, i, j, c] / window.size
    return y, dx


@st.composite
def pooling_cases(draw, rank=2):
    pool = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    spatial = tuple(p + draw(st.integers(0, 5)) for p in pool)
    shape = (draw(st.integers(1, 3)),) + spatial + (draw(st.integers(1, 3)),)
    return pool, strides, padding, shape


def tied(shape, seed):
    """Integer-valued inputs in 0..2: most windows hold their maximum more than once."""
    return np.random.default_rng(seed).integers(0, 3, size=shape).astype(np.float32)


# -- the fast layers equal the loops -------------------------------------------------------------
@given(pooling_cases(), st.sampled_from(["max", "average"]))
def test_pooling_2d_equals_the_loops_ties_included(case, mode):
    pool, strides, padding, shape = case
    cls = MaxPooling2D if mode == "max" else AveragePooling2D
    layer = cls(pool, strides, padding=padding)
    x = tied(shape, sum(shape))
    dy = np.random.default_rng(0).normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, grads = layer_grads(layer, x, dy)
    y_loops, dx_loops = pool_loops(x, dy, pool, strides, padding, mode)
    np.testing.assert_allclose(y, y_loops, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, dx_loops, rtol=1e-6, atol=1e-6)
    assert grads == []


@pytest.mark.parametrize("cls, mode", [(MaxPooling1D, "max"), (AveragePooling1D, "average")])
def test_pooling_1d_is_pooling_2d_one_pixel_high(cls, mode):
    x = tied((2, 9, 3), 1)
    for padding in ("valid", "same"):
        layer = cls(3, strides=2, padding=padding)
        dy = np.random.default_rng(1).normal(size=layer.compute_output_shape(x.shape))
        y, dx, _ = layer_grads(layer, x, dy.astype(np.float32))
        y_loops, dx_loops = pool_loops(x[:, None], dy[:, None], (1, 3), (1, 2), padding, mode)
        np.testing.assert_allclose(y, y_loops[:, 0], rtol=1e-6)
        np.testing.assert_allclose(dx, dx_loops[:, 0], rtol=1e-6, atol=1e-7)


def test_max_pooling_routes_a_tie_to_the_first_maximum_in_row_major_order():
    """The worked case: a 2x2 window holding 1 at (0, 1) and (1, 0), then a window of zeros."""
    x = np.zeros((1, 2, 4, 1), np.float32)
    x[0, 0, 1, 0] = x[0, 1, 0, 0] = 1.0
    dy = np.array([3.0, 5.0], np.float32).reshape(1, 1, 2, 1)
    _, dx, _ = layer_grads(MaxPooling2D(2), x, dy)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0, 3, 5, 0],  # (0, 1) before (1, 0); zeros:
                                                   [0, 0, 0, 0]])  # the window's top-left


def test_same_average_pooling_counts_only_pixels_inside_the_image():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    y = AveragePooling2D(2, padding="same")(x)
    np.testing.assert_allclose(y[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2],
                                               [(6 + 7) / 2, 8]])


def test_global_poolings_equal_their_definitions():
    x = tied((2, 4, 5, 3), 2)  # ties in the max
    dy = np.random.default_rng(2).normal(size=(2, 3)).astype(np.float32)
    y, dx, _ = layer_grads(GlobalAveragePooling2D(), x, dy)
    np.testing.assert_allclose(y, x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(dx, np.broadcast_to(dy[:, None, None, :] / 20, x.shape), rtol=1e-6)
    y, dx, _ = layer_grads(GlobalMaxPooling2D(), x, dy)
    np.testing.assert_array_equal(y, x.max(axis=(1, 2)))
    is_max = x == y[:, None, None, :]
    ties = is_max.sum(axis=(1, 2))  # (N,C): how many pixels share each max
    assert ties.max() > 1
    np.testing.assert_allclose(dx, is_max * (dy / ties)[:, None, None, :], rtol=1e-6)
    assert GlobalMaxPooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    assert GlobalAveragePooling1D()(x[:, 0]).shape == (2, 3)


# -- gradient checks, with negative controls ---------------------------------------------------
def distinct(shape, seed):
    """Values with no ties and no near-ties (central differences cannot cross a kink)."""
    values = np.random.default_rng(seed).permutation(math.prod(shape)).reshape(shape)
    return values / 10.0


@pytest.mark.parametrize("layer, shape", [
    (lambda: MaxPooling2D(2), (2, 4, 5, 2)),
    (lambda: MaxPooling2D(3, 2, padding="same"), (2, 5, 6, 2)),
    (lambda: AveragePooling2D((2, 3), 1, padding="same"), (2, 4, 4, 2)),
    (lambda: MaxPooling1D(3, 1), (2, 6, 2)),
    (lambda: AveragePooling1D(2, padding="same"), (2, 5, 2)),
    (lambda: GlobalMaxPooling2D(), (2, 3, 3, 2)),
    (lambda: GlobalAveragePooling2D(), (2, 3, 3, 2)),
    (lambda: GlobalMaxPooling1D(), (2, 5, 2)),
    (lambda: GlobalAveragePooling1D(), (2, 5, 2)),
])
def test_check_gradients_passes(float64, layer, shape):
    result = check_gradients(layer(), distinct(shape, 3))
    assert result.passed, str(result)
    assert [row["name"] for row in result.rows] == ["x (input)"]


class MaxPoolingToTheLastMaximum(MaxPooling2D):
    """Routes each window's gradient to its max... but counted from the window's end."""

    def backward(self, dy, cache, need_dx=True):
        x_shape, padded, pads, out, y = cache
        dx, _ = super().backward(dy[:, ::-1, ::-1], (x_shape, padded[:, ::-1, ::-1], pads, out,
                                                      y[:, ::-1, ::-1]), need_dx)
        return dx[:, ::-1, ::-1], {}


class AveragePoolingCountingThePadding(AveragePooling2D):
    def backward(self, dy, cache, need_dx=True):
        x_shape, padded_shape, pads, out, counts = cache
        full = np.full_like(counts, self.pool_size[0] * self.pool_size[1])
        return super().backward(dy, (x_shape, padded_shape, pads, out, full), need_dx)


def test_check_gradients_catches_a_wrong_backward(float64):
    result = check_gradients(AveragePoolingCountingThePadding(2, padding="same"),
                             distinct((2, 3, 3, 1), 4))
    assert result.failed == ["x (input)"]


def test_the_loops_catch_ties_routed_to_the_last_maximum():
    """Distinct values leave one max per window, where routing to the last one is right too:
    only a tie tells the two apart. So the negative control compares on ties, with the loops."""
    x = tied((2, 4, 4, 2), 5)
    dy = np.ones((2, 2, 2, 2), np.float32)
    _, dx_loops = pool_loops(x, dy, (2, 2), (2, 2), "valid", "max")
    _, dx, _ = layer_grads(MaxPoolingToTheLastMaximum(2), x, dy)
    assert not np.allclose(dx, dx_loops)
    _, dx, _ = layer_grads(MaxPooling2D(2), x, dy)
    np.testing.assert_array_equal(dx, dx_loops)


# -- against live Keras ----------------------------------------------------------------------
@given(pooling_cases(), st.sampled_from([MaxPooling2D, AveragePooling2D]))
def test_pooling_2d_matches_keras_ties_included(case, cls):
    pool, strides, padding, shape = case
    layer = cls(pool, strides, padding=padding)
    x = tied(shape, sum(shape) + 1)
    dy = np.random.default_rng(6).normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, _ = layer_grads(layer, x, dy)
    keras_y, keras_dx, _ = keras_layer_grads(keras_twin_layer(layer, shape), x, dy)
    close(y, keras_y)
    close(dx, keras_dx)


@given(st.integers(1, 3), st.integers(1, 2), st.sampled_from(["valid", "same"]),
       st.sampled_from([MaxPooling1D, AveragePooling1D]))
def test_pooling_1d_matches_keras(pool, strides, padding, cls):
    layer = cls(pool, strides, padding=padding)
    shape = (2, pool + 4, 3)
    x = tied(shape, pool)
    dy = np.random.default_rng(7).normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, _ = layer_grads(layer, x, dy)
    keras_y, keras_dx, _ = keras_layer_grads(keras_twin_layer(layer, shape), x, dy)
    close(y, keras_y)
    close(dx, keras_dx)


@pytest.mark.parametrize("cls, shape, keepdims", [
    (GlobalMaxPooling2D, (3, 4, 4, 2), False), (GlobalAveragePooling2D, (3, 4, 5, 2), False),
    (GlobalMaxPooling2D, (2, 3, 3, 2), True), (GlobalMaxPooling1D, (3, 6, 2), False),
    (GlobalAveragePooling1D, (3, 6, 2), True),
])
def test_global_pooling_matches_keras_ties_included(cls, shape, keepdims):
    layer = cls(keepdims=keepdims)
    x = tied(shape, 8)
    dy = np.random.default_rng(8).normal(size=layer.compute_output_shape(shape)).astype(np.float32)
    y, dx, _ = layer_grads(layer, x, dy)
    keras_y, keras_dx, _ = keras_layer_grads(keras_twin_layer(layer, shape), x, dy)
    close(y, keras_y)
    close(dx, keras_dx)


def test_max_pooling_after_a_relu_conv_trains_as_keras_on_ties():
    """A relu convnet on images with flat regions (equal maxima) takes Keras's SGD steps."""
    from reference.lockstep import lockstep_steps

    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([
        minidl.Input((8, 8, 1)), minidl.layers.Conv2D(3, 2, activation="relu"),
        minidl.layers.MaxPooling2D(2), minidl.layers.Flatten(),
        minidl.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=minidl.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    x = np.repeat(np.repeat(tied((16, 4, 4, 1), 9), 2, axis=1), 2, axis=2)  # 2x2 flat blocks
    y = np.arange(16) % 2
    steps = lockstep_steps(model, x, y, batch_size=8, steps=4)
    assert max(steps.max_weight_diff()) < 1e-6
    np.testing.assert_allclose(steps.minidl_losses, steps.keras_losses, rtol=1e-6)


# -- configs and errors ------------------------------------------------------------------------
def test_configs_have_keras_keys():
    import keras

    for layer in (MaxPooling2D((2, 3), padding="same"), AveragePooling1D(3, 2),
                  GlobalMaxPooling2D(keepdims=True), GlobalAveragePooling1D()):
        keras_config = getattr(keras.layers, type(layer).__name__).from_config(
            layer.get_config()).get_config()
        assert set(layer.get_config()) == set(keras_config) - {"dtype"}
        for key in set(layer.get_config()) - {"name"}:
            assert layer.get_config()[key] == keras_config[key], key
    assert MaxPooling2D(3).get_config()["strides"] == (3, 3)  # strides default to pool_size


@pytest.mark.parametrize("make, message", [
    (lambda: MaxPooling2D(0), "Received pool_size=0"),
    (lambda: MaxPooling2D(2, strides=(1, 2, 3)), "must be a tuple of 2 integers"),
    (lambda: AveragePooling2D(2, padding="full"), "Received: padding='full'"),
    (lambda: MaxPooling2D(2, data_format="channels_first"), "channels_last"),
    (lambda: GlobalMaxPooling2D(data_format="channels_first"), "channels_last"),
])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_bad_inputs_are_refused_with_keras_messages():
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        MaxPooling2D(2, name="pool")(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        MaxPooling2D(3)(np.zeros((2, 2, 4, 1), np.float32))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        GlobalMaxPooling1D()(np.zeros((2, 4, 4, 1), np.float32))
