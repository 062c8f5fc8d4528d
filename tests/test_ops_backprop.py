"""minidl.ops inside a subclassed model's call(): recorded on the tape, differentiated exactly as
Keras differentiates keras.ops."""
import numpy as np
import pytest

import keras
import minidl
from minidl import ops
from minidl.ops import backprop
from minidl.testing import check_gradients
from parity import assert_same_fit, assert_same_loss_and_gradients


def body(o, model, x):
    """The same call() in both frameworks, `o` being keras.ops or minidl.ops."""
    h = o.add(model.a(x), o.multiply(model.b(x), 0.5))
    h = o.concatenate([o.relu(h), o.square(o.tanh(h)), o.exp(o.negative(o.square(h)))], axis=-1)
    norm = o.sqrt(o.add(o.sum(o.square(h), axis=-1, keepdims=True), 1.0))
    h = o.subtract(o.divide(h, norm), o.mean(h, axis=0))  # (N,12)
    gram = o.matmul(o.transpose(h), h)  # (12,N) @ (N,12) -> (12,12)
    h = o.reshape(o.matmul(h, gram), (-1, 12))  # (N,12)
    return o.softmax(model.out(o.log(o.add(o.square(h), 2.0))))


class KerasOps(keras.Model):
    def __init__(self):
        super().__init__()
        self.a, self.b = keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(4)
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return body(keras.ops, self, x)


class MinidlOps(minidl.Model):
    def __init__(self):
        super().__init__()
        self.a, self.b = minidl.layers.Dense(4, activation="tanh"), minidl.layers.Dense(4)
        self.out = minidl.layers.Dense(3)

    def call(self, x):
        return body(ops, self, x)


def twins(n=8):
    x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    keras_model, model = KerasOps(), MinidlOps()
    keras_model(x), model(x)
    model.set_weights(keras_model.get_weights())
    for m in (keras_model, model):
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return keras_model, model, x


def test_a_call_built_from_ops_trains_like_keras():
    keras_model, model, x = twins()
    y = np.random.default_rng(1).integers(0, 3, len(x))
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=2, batch_size=8)


class SquareWithHalfItsGradient(MinidlOps):
    def call(self, x):
        h, = backprop.values(self.a(x))  # as backprop.py's ops begin: the array on the tape
        wrong = backprop.record(np.square(h), "square", [h], lambda dy: [h * dy])  # not 2*h
        return self.out(wrong)


def test_the_gradient_check_passes_through_ops_and_catches_a_wrong_one(float64):
    x = np.random.default_rng(2).normal(size=(5, 3))
    y = np.random.default_rng(3).normal(size=(5, 3))
    for model, passes in ((MinidlOps(), True), (SquareWithHalfItsGradient(), False)):
        model.compile(optimizer="sgd", loss="mse")
        result = check_gradients(model, x, y)
        assert result.passed is passes, str(result)


def test_outside_a_training_step_ops_are_the_plain_numpy_ops():
    a = np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(ops.add(a, a), a + a)
    np.testing.assert_array_equal(ops.softmax(a), minidl.ops.nn.softmax(a))
    assert ops.mean(a).dtype == np.float32
    model = MinidlOps()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="derived from the output of an earlier layer by a path"):
        class NumPyBetween(MinidlOps):
            def call(self, x):
                return self.out(np.sort(self.a(x), axis=-1))  # not an op: not on the tape
        broken = NumPyBetween()
        broken.compile(optimizer="sgd", loss="mse")
        broken.fit(a[:, :3], a[:, :3], verbose=0)


# -- a custom layer computing with its own weights (the Keras guide's `Linear`) ---------------
def make_weighted(base, o):
    class Weighted(base):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="random_normal")
            self.b = self.add_weight(shape=(4,), initializer="random_normal")
            self.log_t = self.add_weight(shape=(1,), initializer="random_normal")
            self.w2 = self.add_weight(shape=(4, 4), initializer="random_normal")

        def call(self, x):
            h = x @ self.w + self.b  # (N,4), operators with the weights
            h = o.multiply(o.tanh(h), o.exp(self.log_t))  # a weight inside an op
            return o.subtract(0.5 * self.b, h @ self.w2)  # weights on either side of operators
    return Weighted


def test_a_custom_layer_computing_with_its_own_weights_trains_like_keras():
    """Before, minidl computed such a layer's output but gave its weights zero gradients:
    fit left them as they were. Now they get Keras's gradients and History."""
    x = np.random.default_rng(5).normal(size=(16, 3)).astype(np.float32)
    y = np.random.default_rng(6).integers(0, 3, 16)
    models = []
    for framework, o in ((keras, keras.ops), (minidl, ops)):
        layer = make_weighted(framework.layers.Layer, o)()
        model = framework.Sequential([framework.Input((3,)), layer,
                                      framework.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        models.append(model)
    keras_model, model = models
    model.set_weights(keras_model.get_weights())
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=3, batch_size=8)
    _, grads = model.loss_and_gradients(x, y)
    assert all(np.abs(g).max() > 0 for g in grads[:4])  # each of the layer's four weights


def test_outside_a_training_step_a_weight_in_a_formula_is_its_value():
    layer = make_weighted(minidl.layers.Layer, ops)()
    x = np.ones((2, 3), np.float32)
    layer(x)
    np.testing.assert_array_equal(x @ layer.w + layer.b, x @ layer.w.value + layer.b.value)
    assert (layer.w * 2).dtype == np.float32 and isinstance(np.exp(layer.b), np.ndarray)


def residual_layers(model, framework):
    model.a = framework.layers.Dense(4, activation="tanh")
    model.b = framework.layers.Dense(4)
    model.out = framework.layers.Dense(3, activation="softmax")
    model.o = framework.ops


def residual_call(model, x):
    """A subclassed model's own arithmetic between arrays, as Keras's guides write it."""
    h = model.a(x)
    h2 = model.b(h) * 0.5 + x[:, :1]  # operators between arrays; a slice of the input
    return model.out(model.o.relu(h2 - h * h2) ** 2)


class ResidualKeras(keras.Model):
    def __init__(self):
        super().__init__()
        residual_layers(self, keras)

    def call(self, x):
        return residual_call(self, x)


class ResidualMinidl(minidl.Model):
    def __init__(self):
        super().__init__()
        residual_layers(self, minidl)

    def call(self, x):
        return residual_call(self, x)


def test_a_subclassed_model_with_numpy_operators_between_arrays_trains_like_keras():
    """Inside your own call() in a training step, layers return arrays whose NumPy operators
    are recorded (backprop.Tracked), and every layer call unwraps them again."""
    x = np.random.default_rng(7).normal(size=(16, 3)).astype(np.float32)
    y = np.random.default_rng(8).integers(0, 3, 16)
    keras_model, model = ResidualKeras(), ResidualMinidl()
    keras_model(x), model(x)
    model.set_weights(keras_model.get_weights())
    for m in (keras_model, model):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=2, batch_size=8)
    assert type(model.predict(x, verbose=0)) is np.ndarray  # plain arrays outside training


def test_a_numpy_function_a_tape_cannot_follow_is_refused_with_what_to_write_instead():
    """np.sort of a layer's output is not an op: a clear error, and nothing changes."""
    class Sorting(minidl.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")

        def call(self, x):
            return np.sort(x @ self.w, axis=-1)

    model = minidl.Sequential([minidl.Input((3,)), Sorting(), minidl.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="cannot differentiate"):
        model.fit(np.ones((4, 3), np.float32), np.ones(4, np.float32), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
