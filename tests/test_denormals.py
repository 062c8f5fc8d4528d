"""Denormal floats are flushed to zero while minidl computes, as TensorFlow does on the CPU.

TensorFlow runs its kernels with the CPU's flush-to-zero / denormals-are-zero flags set, so a
float32 result below 2**-126 becomes 0 in Keras. Plain NumPy keeps such "denormal" numbers,
which (a) gives numbers Keras does not have and (b) takes a slow path in the CPU: an RMSprop
velocity that decays below 2**-126 sticks at 1.4e-45 forever and slows every later step.
"""
import numpy as np
import pytest

import keras
import minidl
from minidl import denormals
from minidl.layers import Dense
from reference.twins import keras_twin

TINY = np.finfo(np.float32).tiny  # the smallest normal float32, 2**-126
DENORMAL = np.float32(TINY / 4)

pytestmark = pytest.mark.skipif(not denormals.AVAILABLE,
                                reason="this platform gives no way to set the CPU's flags")


def numpy_keeps_denormals():
    return np.multiply(np.array([DENORMAL]), np.float32(1.0))[0] != 0


def rmsprop_velocity_run(optimizer, variable_class, steps=40):
    """One step with gradients ~1e-18 (velocity ~1e-37), then zero gradients: v *= rho."""
    variable = variable_class(np.ones((3, 4), np.float32))
    grads = np.full((3, 4), 1e-18, np.float32)
    optimizer.apply_gradients([(grads, variable)])
    for _ in range(steps):
        optimizer.apply_gradients([(np.zeros((3, 4), np.float32), variable)])
    return variable


def test_rmsprop_velocity_decays_to_zero_exactly_as_in_keras():
    ours = minidl.optimizers.RMSprop()
    theirs = keras.optimizers.RMSprop()
    variable = rmsprop_velocity_run(ours, lambda v: minidl.variable.Variable(v, "w"))
    keras_variable = rmsprop_velocity_run(theirs, keras.Variable)

    keras_velocity = np.asarray(theirs.variables[2])
    assert np.all(keras_velocity == 0)  # 1e-37 * 0.9**40 is below 2**-126: Keras flushed it
    np.testing.assert_array_equal(ours.slot("velocity", 0), keras_velocity)
    np.testing.assert_array_equal(variable.value, np.asarray(keras_variable))
    assert numpy_keeps_denormals()  # the flags were put back after each step


def test_without_flushing_numpy_would_differ_from_keras():
    """Negative control: the same arithmetic in plain NumPy ends on a denormal, not on 0."""
    rho, one_minus_rho = np.float32(0.9), np.float32(0.1)
    g = np.float32(1e-18)
    v = rho * np.float32(0) + one_minus_rho * (g * g)
    for _ in range(40):
        v = rho * v
    assert 0 < v < TINY


def test_predict_flushes_tiny_probabilities_like_keras():
    """Logits 95 apart: exp(-95) ~ 5e-42 is a denormal, which Keras's softmax returns as 0."""
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.layers.Input((1,)), Dense(3, activation="softmax")])
    model.set_weights([np.array([[0.0, 95.0, 40.0]], np.float32), np.zeros(3, np.float32)])
    twin = keras_twin(model)
    x = np.array([[1.0], [0.5], [-1.0]], np.float32)
    ours, theirs = model.predict(x, verbose=0), twin.predict(x, verbose=0)
    assert np.any(theirs == 0)  # the case the test is about really happens in Keras
    np.testing.assert_array_equal(ours == 0, theirs == 0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    plain = np.exp(x @ model.get_weights()[0] - np.max(x @ model.get_weights()[0], axis=1,
                                                         keepdims=True))
    assert np.any((plain > 0) & (plain < TINY))  # without the flags NumPy keeps denormals


def test_the_flags_are_only_set_inside_minidl_steps():
    """Callbacks run user code: they see NumPy's ordinary arithmetic, as they do in Keras."""
    seen = []
    record = minidl.callbacks.LambdaCallback(
        on_batch_end=lambda batch, logs: seen.append(numpy_keeps_denormals()))
    model = minidl.Sequential([minidl.layers.Input((2,)), Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 2)), np.ones(8), batch_size=4, verbose=0, callbacks=[record])
    assert seen == [True, True]
    assert numpy_keeps_denormals()


def test_flushing_is_undone_when_the_step_raises():
    with pytest.raises(RuntimeError):
        with denormals.flushed():
            assert not numpy_keeps_denormals()
            raise RuntimeError("stop")
    assert numpy_keeps_denormals()


def test_nested_scopes_keep_flushing_until_the_outer_one_ends():
    with denormals.flushed():
        with denormals.flushed():
            assert not numpy_keeps_denormals()
        assert not numpy_keeps_denormals()
    assert numpy_keeps_denormals()
