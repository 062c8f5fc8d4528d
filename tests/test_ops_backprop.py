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
        h = self.a(x)
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
    with pytest.raises(ValueError, match="computed outside"):
        class NumPyBetween(MinidlOps):
            def call(self, x):
                return self.out(self.a(x) * 2)  # a NumPy operator: not on the tape
        broken = NumPyBetween()
        broken.compile(optimizer="sgd", loss="mse")
        broken.fit(a[:, :3], a[:, :3], verbose=0)
