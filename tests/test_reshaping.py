"""Flatten, Reshape and ZeroPadding2D: NumPy's own reshape and pad, Keras's shapes and errors,
and backward passes that move the gradient back where it came from."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.layers import Flatten, Reshape, ZeroPadding2D
from minidl.testing import check_gradients

from test_conv import close, keras_layer_grads, keras_twin_layer, layer_grads


@given(st.lists(st.integers(1, 4), min_size=0, max_size=4), st.integers(1, 3))
def test_flatten_is_a_c_order_reshape_and_keras_agrees(sample, n):
    shape = (n,) + tuple(sample)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    layer = Flatten()
    dy = np.random.default_rng(1).normal(size=(n, int(np.prod(sample)))).astype(np.float32)
    y, dx, _ = layer_grads(layer, x, dy)
    np.testing.assert_array_equal(y, x.reshape(n, -1))
    np.testing.assert_array_equal(dx, dy.reshape(shape))
    assert layer.compute_output_shape((None,) + tuple(sample)) == (None, y.shape[1])
    keras_y, keras_dx, _ = keras_layer_grads(keras_twin_layer(layer, shape), x, dy)
    np.testing.assert_array_equal(y, keras_y)
    np.testing.assert_array_equal(dx, keras_dx)


@pytest.mark.parametrize("sample, target, expected", [
    ((12,), (3, 4), (3, 4)), ((12,), (-1, 2, 2), (3, 2, 2)), ((2, 3, 4), (-1,), (24,)),
    ((784,), (28, 28, 1), (28, 28, 1)), ((6, 4), (4, -1), (4, 6)),
])
def test_reshape_works_out_minus_one_as_keras(sample, target, expected):
    layer = Reshape(target)
    assert layer.compute_output_shape((None,) + sample) == (None,) + expected
    twin = keras.layers.Reshape(target)
    assert twin.compute_output_shape((None,) + sample) == (None,) + expected
    x = np.arange(2 * np.prod(sample), dtype=np.float32).reshape((2,) + sample)
    dy = np.random.default_rng(2).normal(size=(2,) + expected).astype(np.float32)
    y, dx, _ = layer_grads(layer, x, dy)
    np.testing.assert_array_equal(y, np.asarray(twin(x)))
    np.testing.assert_array_equal(dx, dy.reshape(x.shape))


def test_reshape_with_an_unknown_size_keeps_none():
    assert Reshape((-1, 2)).compute_output_shape((None, None)) == (None, None, 2)


@pytest.mark.parametrize("padding, expected", [
    (1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))), (((0, 1), (2, 3)), ((0, 1), (2, 3))),
])
def test_zero_padding_matches_keras(padding, expected):
    layer = ZeroPadding2D(padding)
    assert layer.padding == expected == keras.layers.ZeroPadding2D(padding).padding
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 2)).astype(np.float32)
    (top, bottom), (left, right) = expected
    dy = np.random.default_rng(4).normal(
        size=(2, 3 + top + bottom, 4 + left + right, 2)).astype(np.float32)
    y, dx, _ = layer_grads(layer, x, dy)
    keras_y, keras_dx, _ = keras_layer_grads(keras_twin_layer(layer, x.shape), x, dy)
    np.testing.assert_array_equal(y, keras_y)
    np.testing.assert_array_equal(dx, keras_dx)
    np.testing.assert_array_equal(y[:, top:top + 3, left:left + 4], x)
    assert y.sum() == pytest.approx(x.sum(), rel=1e-5)  # the border is zeros


@pytest.mark.parametrize("layer, shape", [
    (lambda: Flatten(), (2, 3, 2, 2)), (lambda: Reshape((2, -1)), (2, 6)),
    (lambda: ZeroPadding2D(((1, 0), (2, 1))), (2, 3, 3, 2)),
])
def test_check_gradients_passes(float64, layer, shape):
    result = check_gradients(layer(), np.random.default_rng(5).normal(size=shape))
    assert result.passed, str(result)


class FlattenInFortranOrder(Flatten):
    """A backward that undoes the reshape in the wrong order."""

    def backward(self, dy, cache, need_dx=True):
        return dy.reshape(cache, order="F"), {}


def test_check_gradients_catches_a_wrong_backward(float64):
    result = check_gradients(FlattenInFortranOrder(), np.random.default_rng(6).normal(
        size=(2, 3, 2)))
    assert result.failed == ["x (input)"]


def test_dense_on_a_flattened_image_matches_keras():
    """Input((28, 28)) -> Flatten -> Dense: the first programs past the seed lab."""
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.Input((6, 5)), Flatten(),
                               minidl.layers.Dense(4, activation="relu"),
                               minidl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    from reference.gradients import keras_loss_and_gradients
    from reference.twins import keras_twin

    twin = keras_twin(model)
    x = np.random.default_rng(7).normal(size=(8, 6, 5)).astype(np.float32)
    y = np.arange(8) % 3
    loss, grads = model.loss_and_gradients(x, y)
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y)
    close(loss, keras_loss)
    for ours, theirs in zip(grads, keras_grads):
        close(ours, theirs)


@pytest.mark.parametrize("make, message", [
    (lambda: Reshape((-1, -1)), "at most one unknown dimension"),
    (lambda: Reshape((2, -3)), "must be a non-negative integer"),
    (lambda: Reshape(7), "must be a tuple of integers"),
    (lambda: ZeroPadding2D((1, 2, 3)), "`padding` should have two elements"),  # as Keras
    (lambda: ZeroPadding2D(1.5), "`padding` should be either an int"),
    (lambda: ZeroPadding2D(-1), "cannot be negative"),
    (lambda: Flatten(data_format="channels_first"), "channels_last"),
])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_bad_inputs_are_refused_with_keras_messages():
    with pytest.raises(ValueError, match="The total size of the tensor must be unchanged"):
        Reshape((5, 5))(np.zeros((2, 12), np.float32))
    with pytest.raises(ValueError, match="cannot by divided"):
        Reshape((-1, 5))(np.zeros((2, 12), np.float32))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        ZeroPadding2D(1)(np.zeros((2, 4, 4), np.float32))


def test_configs_have_keras_keys():
    for layer in (Flatten(), Reshape((2, -1)), ZeroPadding2D(((1, 0), (2, 1)))):
        keras_config = getattr(keras.layers, type(layer).__name__).from_config(
            layer.get_config()).get_config()
        assert set(layer.get_config()) == set(keras_config) - {"dtype"}
        for key in set(layer.get_config()) - {"name"}:
            assert layer.get_config()[key] == keras_config[key], key
