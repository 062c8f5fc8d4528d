"""NumPy constants, casts and conversions in code of one's own, against live Keras.

Keras programs mix their tensors with constants (np.eye(k), a mask or a class-weight
vector made with NumPy) and write `y_pred = ops.convert_to_tensor(y_pred)` and
`y_true = ops.cast(y_true, y_pred.dtype)` at the top of a loss, as Keras's guide does.
TensorFlow treats a NumPy array as a constant: no gradient goes to it. minidl's tape does
the same for an array no recorded call made (tape.py), while an array derived from the
tape's arrays by a path it does not record (a copy, np.sort) is still refused by name.
A comparison's result (boolean) is a constant too, as in TensorFlow.

Each model is written once for either library's ops; the twins start from the same
weights and their Histories must agree to rtol 1e-5 (float32 sums in another order,
carried through a few SGD steps), as the repo's other fit comparisons.
"""
import numpy as np
import pytest

import keras
import minidl
from parity import assert_same_fit

RNG = np.random.default_rng(11)
X = RNG.normal(size=(24, 4)).astype(np.float32)
Y = RNG.normal(size=(24, 3)).astype(np.float32)
SCALE = np.linspace(0.5, 1.5, 6).astype(np.float32)  # a constant vector, made by NumPy
COLUMN_WEIGHTS = np.float32([1.0, 2.0, 0.5])


def guide_loss(api):
    """Keras's guide's opening lines, then constants: a column weighting and a mask."""
    ops = api.ops

    def weighted_mse(y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        positive = ops.cast(y_pred > 0, y_pred.dtype)  # a comparison: a constant
        error = ops.square(y_true - y_pred) * COLUMN_WEIGHTS
        return ops.mean(error * (1.0 + positive), axis=-1)
    return weighted_mse


def model_with_constants(api):
    ops = api.ops
    model = api.Sequential([
        api.Input((4,)),
        api.layers.Dense(6, activation="tanh"),
        api.layers.Lambda(lambda h: h * SCALE + np.eye(6, dtype="float32")[0]),
        api.layers.Dense(3),
    ])
    model.compile(optimizer=api.optimizers.SGD(0.1), loss=guide_loss(api))
    return model, ops


def test_constants_casts_and_conversions_train_as_in_keras():
    (theirs, _), (ours, _) = model_with_constants(keras), model_with_constants(minidl)
    ours.set_weights(theirs.get_weights())
    assert_same_fit(theirs, ours, X, Y, epochs=3, batch_size=8)


def test_a_cast_passes_the_gradient_back_in_the_input_dtype():
    """ops.cast between floats is recorded: dL/dx = dL/dy cast back (tf.cast's gradient)."""
    from minidl.tape import Tape
    from minidl.ops import backprop

    x = RNG.normal(size=(3, 2)).astype(np.float32)
    with Tape() as tape, backprop.tracking():
        tape.watch(x)
        y = minidl.ops.cast(backprop.tracked(x), "float64")
        total = backprop.untracked(minidl.ops.sum(y * y))
    grad, = tape.gradient([(total, np.ones_like(total))], [], inputs=[x])
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6)
    assert not np.allclose(grad, x)  # the negative control: the derivative of sum(y) is 1


def test_an_array_copied_out_of_the_tape_is_still_refused():
    def copied(y_true, y_pred):
        return minidl.ops.mean(minidl.ops.square(y_true - np.copy(y_pred)), axis=-1)

    model = minidl.Sequential([minidl.Input((4,)), minidl.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=copied)
    before = model.get_weights()
    with pytest.raises(ValueError, match="derived from y_pred by a path minidl does not record"):
        model.fit(X, Y, verbose=0)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
