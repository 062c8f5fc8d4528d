"""Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) against
Keras's: outputs and every input's gradient over hypothesis shapes (broadcasting, inputs of
fewer axes, ties), central differences with negative controls, functional models with two
inputs (loss, gradients, fit History, evaluate, predict), output shapes, configs, errors."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from parity import assert_same_fit, assert_same_loss_and_gradients
import tensorflow as tf
from minidl.layers import (Add, Average, Concatenate, Dense, Dot, Input, Maximum, Minimum,
                           Multiply, Subtract)
from minidl.tape import Tape
from minidl.testing import numerical_gradient, relative_error

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def keras_outputs_and_gradients(layer, xs, dy):
    ts = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        y = layer(ts)
    return np.asarray(y), [np.asarray(g) for g in tape.gradient(y, ts, output_gradients=dy)]


def minidl_outputs_and_gradients(layer, xs, dy):
    with Tape() as tape:
        y = layer(xs)
    return y, tape.gradient([(y, dy)], [], inputs=xs)


@st.composite
def elementwise_inputs(draw):
    """A merge layer and 2-4 inputs whose sample shapes broadcast the way Keras's do."""
    name = draw(st.sampled_from(ELEMENTWISE))
    n = draw(st.integers(1, 4))
    full = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    count = 2 if name == "Subtract" else draw(st.integers(2, 4))
    values = st.floats(-4, 4, width=32)
    if name in ("Maximum", "Minimum") and draw(st.booleans()):
        values = st.sampled_from([-1.0, 0.0, 0.5, 2.0])  # many ties
    xs = []
    for _ in range(count):
        shape = list(full[draw(st.integers(0, len(full) - 1)):])  # fewer axes: on the left
        shape = [1 if draw(st.booleans()) and draw(st.booleans()) else d for d in shape]
        xs.append(draw(hnp.arrays(np.float32, (n,) + tuple(shape), elements=values)))
    return name, xs


def keras_adds_as_a_bias(name, xs):
    """Whether Keras's ops.add would misread one of the sums as a bias.

    keras/src/backend/tensorflow/numpy.py::add turns x1 + x2 into tf.nn.bias_add when x2
    has one axis longer than 1 and its size is that of x1's axis 1 or last axis; bias_add
    then adds x2 along that axis of x1, even when x2's long axis is its batch axis. So
    Keras's Add()([x (3,3), y (3,1)]) adds y[j] to column j instead of y[n] to row n (with a
    batch of 2 it is right). minidl broadcasts as Keras's merge layers promise.
    """
    if name not in ("Add", "Average"):
        return False
    ndim = max(x.ndim for x in xs)
    xs = [x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:]) for x in xs]
    total = xs[0]
    for x in xs[1:]:
        long = [axis for axis, size in enumerate(x.shape) if size > 1]
        if len(long) == 1 and ndim > 1 and x.shape[long[0]] in (total.shape[1], total.shape[-1]):
            bias_axis = ndim - 1 if total.shape[-1] == x.shape[long[0]] else 1
            if bias_axis != long[0]:
                return True
        total = total + x
    return False


def test_keras_add_misreads_a_column_as_a_bias_when_the_batch_matches():
    x, y = np.zeros((3, 3), np.float32), np.float32([[1.0], [2.0], [3.0]])
    assert keras_adds_as_a_bias("Add", [x, y])
    assert np.asarray(keras.layers.Add()([x, y])).tolist() == [[1.0, 2.0, 3.0]] * 3  # Keras
    assert Add()([x, y]).tolist() == [[1.0] * 3, [2.0] * 3, [3.0] * 3]  # y[n] added to row n
    assert np.asarray(keras.layers.Add()([x[:2], y[:2]])).tolist() == Add()(
        [x[:2], y[:2]]).tolist()  # a batch of 2: Keras agrees


@given(case=elementwise_inputs())
def test_elementwise_merges_match_keras_with_broadcasting_and_ties(case):
    name, xs = case
    assume(not keras_adds_as_a_bias(name, xs))
    theirs, ours = getattr(keras.layers, name)(), getattr(minidl.layers, name)()
    keras_y = np.asarray(theirs(xs))
    dy = np.random.default_rng(0).normal(size=keras_y.shape).astype(np.float32)
    keras_y, keras_dxs = keras_outputs_and_gradients(theirs, xs, dy)
    y, dxs = minidl_outputs_and_gradients(ours, xs, dy)
    assert y.dtype == np.float32 and y.shape == keras_y.shape
    np.testing.assert_allclose(y, keras_y, rtol=1e-6, atol=1e-6)
    for dx, keras_dx, x in zip(dxs, keras_dxs, xs):
        assert dx.shape == x.shape and dx.dtype == np.float32
        np.testing.assert_allclose(dx, keras_dx, rtol=1e-5, atol=1e-5)


@given(data=st.data())
def test_concatenate_matches_keras_on_any_axis(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, max_side=4))
    axis = data.draw(st.sampled_from([-1] + list(range(1, len(shape)))))
    xs = []
    for _ in range(data.draw(st.integers(1, 3))):
        size = data.draw(st.integers(1, 4))
        this = list(shape)
        this[axis] = size
        xs.append(data.draw(hnp.arrays(np.float32, tuple(this), elements=st.floats(-4, 4,
                                                                                   width=32))))
    theirs, ours = keras.layers.Concatenate(axis=axis), Concatenate(axis=axis)
    dy = np.random.default_rng(1).normal(size=np.asarray(theirs(xs)).shape).astype(np.float32)
    keras_y, keras_dxs = keras_outputs_and_gradients(theirs, xs, dy)
    y, dxs = minidl_outputs_and_gradients(ours, xs, dy)
    np.testing.assert_array_equal(y, keras_y)
    for dx, keras_dx in zip(dxs, keras_dxs):
        np.testing.assert_array_equal(dx, keras_dx)


DOT_CASES = [((4,), (4,), 1), ((4,), (4,), -1), ((3, 4), (4, 5), (2, 1)), ((3, 4), (5, 4), 2),
             ((3, 4), (3, 2), 1), ((2, 3, 4), (4,), (3, 1)), ((4,), (4, 3), (1, 1))]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("shape1, shape2, axes", DOT_CASES)
def test_dot_matches_keras(shape1, shape2, axes, normalize):
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(3,) + shape1).astype(np.float32),
          rng.normal(size=(3,) + shape2).astype(np.float32)]
    theirs, ours = keras.layers.Dot(axes, normalize), Dot(axes, normalize)
    dy = rng.normal(size=np.asarray(theirs(xs)).shape).astype(np.float32)
    keras_y, keras_dxs = keras_outputs_and_gradients(theirs, xs, dy)
    y, dxs = minidl_outputs_and_gradients(ours, xs, dy)
    assert y.shape == keras_y.shape
    assert ours.compute_output_shape([(None,) + shape1, (None,) + shape2]) == \
        theirs.compute_output_shape([(None,) + shape1, (None,) + shape2])
    np.testing.assert_allclose(y, keras_y, rtol=1e-5, atol=1e-6)
    for dx, keras_dx in zip(dxs, keras_dxs):
        np.testing.assert_allclose(dx, keras_dx, rtol=1e-5, atol=1e-6)


def merge_gradient_errors(layer, xs, seed=0):
    """Backprop against central differences for each input of a merge layer, in float64."""
    with Tape() as tape:
        y = layer(xs)
    w = np.random.default_rng(seed).normal(size=y.shape)  # L = sum(w * layer(xs))
    analytic = tape.gradient([(y, w)], [], inputs=xs)
    return [relative_error(a, numerical_gradient(lambda: (w * layer(xs)).sum(), x))
            for a, x in zip(analytic, xs)]


def float64_inputs(*shapes, seed=3):
    """Distinct values spread apart, so max and min have no ties for h to cross."""
    rng = np.random.default_rng(seed)
    total = sum(int(np.prod(s)) for s in shapes)
    values = rng.permutation(total) * 0.1 - total * 0.05 + 0.013
    xs, start = [], 0
    for shape in shapes:
        xs.append(values[start:start + int(np.prod(shape))].reshape(shape).copy())
        start += int(np.prod(shape))
    return xs


@pytest.mark.parametrize("layer, shapes", [
    (Add(), [(3, 4), (3, 1), (3, 2, 4)]), (Subtract(), [(3, 4), (3, 4)]),
    (Multiply(), [(3, 4), (3, 1), (3, 2, 4)]), (Average(), [(3, 4), (3, 2, 4)]),
    (Maximum(), [(3, 4), (3, 4), (3, 2, 4)]), (Minimum(), [(3, 1), (3, 4), (3, 4)]),
    (Concatenate(axis=1), [(3, 2, 4), (3, 1, 4)]), (Dot(axes=(2, 1)), [(3, 2, 4), (3, 4, 5)]),
    (Dot(axes=1, normalize=True), [(3, 4), (3, 4)])], ids=lambda v: type(v).__name__)
def test_backward_matches_central_differences(float64, layer, shapes):
    errors = merge_gradient_errors(layer, float64_inputs(*shapes))
    assert max(errors) < 1e-7, errors


class SubtractForgetsTheMinus(Subtract):
    def backward(self, dy, cache, need_dx=True):
        return [dy, dy], {}


class ConcatenateSplitsAtTheWrongPlace(Concatenate):
    def backward(self, dy, cache, need_dx=True):
        return np.split(dy, [cache[1]], axis=self.axis), {}  # the second size, not the first


class MultiplyForgetsTheOthers(Multiply):
    def backward(self, dy, cache, need_dx=True):
        shapes, xs, products = cache
        return [dy * xs[1], dy * xs[0], dy * xs[1]], {}  # as if there were two inputs


@pytest.mark.parametrize("layer, shapes", [
    (SubtractForgetsTheMinus(), [(3, 4), (3, 4)]),
    (ConcatenateSplitsAtTheWrongPlace(axis=1), [(3, 1), (3, 3)]),
    (MultiplyForgetsTheOthers(), [(3, 4), (3, 4), (3, 4)])], ids=lambda v: type(v).__name__)
def test_the_gradient_check_catches_a_wrong_backward(float64, layer, shapes):
    assert max(merge_gradient_errors(layer, float64_inputs(*shapes))) > 1e-2


def test_maximum_sends_a_tie_to_the_first_input_as_tensorflow():
    xs = [np.float32([[1.0, 2.0, 3.0]]), np.float32([[1.0, 5.0, 3.0]]),
          np.float32([[1.0, 0.0, 3.0]])]
    dy = np.float32([[1.0, 1.0, 1.0]])
    for name in ("Maximum", "Minimum"):
        _, keras_dxs = keras_outputs_and_gradients(getattr(keras.layers, name)(), xs, dy)
        _, dxs = minidl_outputs_and_gradients(getattr(minidl.layers, name)(), xs, dy)
        assert [dx.tolist() for dx in dxs] == [dx.tolist() for dx in keras_dxs]
        assert dxs[0][0, 0] == 1 and dxs[1][0, 0] == dxs[2][0, 0] == 0  # the tie: first wins


def concatenate_model(f):
    """The functional-API guide's shape: two inputs, one of them through a Dense first."""
    x1, x2 = f.Input((3,), name="a"), f.Input((4,), name="b")
    y = f.layers.Dense(2)(f.layers.Concatenate()([f.layers.Dense(5, activation="tanh")(x1), x2]))
    return f.Model([x1, x2], y)


def every_merge_model(f):
    """Every merge layer in one graph, merging the outputs of two Dense layers."""
    x1, x2 = f.Input((3,), name="a"), f.Input((4,), name="b")
    a = f.layers.Dense(4, activation="tanh")(x1)
    b = f.layers.Dense(4, activation="tanh")(x2)
    s = f.layers.Add()([a, b])
    d = f.layers.Subtract()([a, b])
    merged = [s, d, f.layers.Multiply()([a, b, s]), f.layers.Average()([a, b]),
              f.layers.Maximum()([a, b]), f.layers.Minimum()([a, b, d]),
              f.layers.Dot(axes=1)([a, b]), f.layers.Dot(axes=1, normalize=True)([a, d])]
    y = f.layers.Dense(3, activation="softmax")(f.layers.Concatenate()(merged))
    return f.Model([x1, x2], y)


@pytest.mark.parametrize("build, loss", [(concatenate_model, "mse"),
                                         (every_merge_model, "sparse_categorical_crossentropy")])
def test_functional_models_with_two_inputs_match_keras(build, loss):
    models = []
    for f in (keras, minidl):
        model = build(f)
        model.compile(optimizer=f.optimizers.SGD(0.1), loss=loss)
        models.append(model)
    keras_model, model = models
    assert [type(layer).__name__ for layer in model.layers] == \
        [type(layer).__name__ for layer in keras_model.layers]  # Keras's graph order
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32)
                       for w in keras_model.get_weights()])
    keras_model.set_weights(model.get_weights())
    xs = [rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 4)).astype(np.float32)]
    y = (rng.normal(size=(20, 2)).astype(np.float32) if loss == "mse"
         else rng.integers(0, 3, 20))
    assert_same_loss_and_gradients(keras_model, model, xs, y)
    assert_same_fit(keras_model, model, xs, y, epochs=3, batch_size=6, validation_split=0.25)
    np.testing.assert_allclose(model.predict(xs, verbose=0), keras_model.predict(xs, verbose=0),
                               rtol=1e-5, atol=1e-6)


SHAPES = [("Add", {}, [(None, 3), (None, 1)]), ("Add", {}, [(None, 3), (None, 2, 3)]),
          ("Multiply", {}, [(None, 2, 1), (None, 1, 4), (None, 4)]),
          ("Maximum", {}, [(None, 5), (None, 5)]), ("Average", {}, [(None, None, 3), (None, 3)]),
          ("Concatenate", {}, [(None, 3), (None, 4)]),
          ("Concatenate", {"axis": 1}, [(None, 2, 3), (None, 4, 3)]),
          ("Concatenate", {}, [(None, 2, None), (None, 2, 3)]),
          ("Dot", {"axes": (1, 2)}, [(None, 3, 2), (None, 4, 3)])]


@pytest.mark.parametrize("name, kwargs, shapes", SHAPES)
def test_symbolic_output_shapes_are_kerass(name, kwargs, shapes):
    theirs = getattr(keras.layers, name)(**kwargs)([keras.Input(s[1:]) for s in shapes])
    ours = getattr(minidl.layers, name)(**kwargs)([Input(s[1:]) for s in shapes])
    assert ours.shape == tuple(theirs.shape)


@pytest.mark.parametrize("name, kwargs", [
    ("Add", {}), ("Subtract", {}), ("Multiply", {}), ("Average", {}), ("Maximum", {}),
    ("Minimum", {}), ("Concatenate", {"axis": 1}), ("Dot", {"axes": (1, 2)}),
    ("Dot", {"axes": 1, "normalize": True})])
def test_configs_are_kerass_both_ways(name, kwargs):
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(minidl.layers, name)(**kwargs)
    keras_config = {k: v for k, v in theirs.get_config().items() if k not in ("dtype", "name")}
    config = ours.get_config()
    assert {k: v for k, v in config.items() if k != "name"} == keras_config
    assert getattr(keras.layers, name).from_config(config).get_config()["name"] == ours.name
    assert getattr(minidl.layers, name).from_config(config).get_config() == config


ERRORS = [  # (layer name, arguments, input shapes): symbolic calls Keras refuses
    ("Add", {}, [(None, 3), (None, 4)]), ("Subtract", {}, [(None, 3)] * 3),
    ("Concatenate", {}, [(None, 2, 3), (None, 4, 3)]),
    ("Concatenate", {"axis": 1}, [(None, 3), (None, 2, 3)]),
    ("Dot", {"axes": 1}, [(None, 3), (None, 4)]), ("Maximum", {}, [(None, 2, 3), (None, 3, 3)])]


@pytest.mark.parametrize("name, kwargs, shapes", ERRORS)
def test_shape_errors_are_kerass(name, kwargs, shapes):
    with pytest.raises(ValueError) as keras_error:
        getattr(keras.layers, name)(**kwargs)([keras.Input(s[1:]) for s in shapes])
    with pytest.raises(ValueError) as error:
        getattr(minidl.layers, name)(**kwargs)([Input(s[1:]) for s in shapes])
    assert str(error.value) == str(keras_error.value)


def test_data_errors_are_kerass():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 3), np.float32)
    for name in ("Add", "Concatenate"):
        with pytest.raises(ValueError) as keras_error:
            getattr(keras.layers, name)()([a, b])
        with pytest.raises(ValueError) as error:
            getattr(minidl.layers, name)()([a, b])
        assert str(error.value) == str(keras_error.value)  # different batch sizes
    with pytest.raises(ValueError, match="A merge layer should be called on a list of inputs. "
                                         r"Received: input_shape=\(.*, 3\) \(not a list"):
        Add()(a)
    with pytest.raises(ValueError, match="A `Dot` layer should be called on a list of 2 inputs"):
        Dot(axes=1)([a, a, a])
    with pytest.raises(ValueError, match="Invalid format for argument `axes`"):
        Dot(axes=(1, 2, 3))


def test_a_merge_passes_dense_outputs_back_to_both_branches():
    """The tape hands each input its own gradient: Add()([Dense(x), x]) gives dL/dx from both."""
    x = Input((3,))
    dense = Dense(3, use_bias=False, kernel_initializer="identity")
    model = minidl.Model(x, Add()([dense(x), x]))
    data = np.float32([[1.0, 2.0, 3.0]])
    with Tape() as tape:
        y = model(data)
    (dx,) = tape.gradient([(y, np.ones_like(y))], [], inputs=[data])
    np.testing.assert_array_equal(dx, [[2.0, 2.0, 2.0]])  # identity kernel + the skip: 1 + 1
