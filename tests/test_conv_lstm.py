"""ConvLSTM2D and ConvLSTM1D against live Keras: outputs (return_sequences, return_state,
go_backwards) and every gradient on hypothesis-drawn kernels, strides, padding and dilation;
central differences with a negative control; a fit of twin models; summary(), configs,
.keras files both ways (Keras's weight paths), Keras's errors and minidl's refusals.

Tolerance: rtol 1e-5, atol 1e-5 * (the largest |value| of Keras's array). Both run the same
convolutions and gates in float32 (TensorFlow's conv2d against im2col and one product, sums
in other orders, over T <= 3 steps): a few ulps of the array's scale.
"""
import copy
import json

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.layers.conv_lstm import ConvLSTMCell
from minidl.models import load_model
from minidl.saving.layer_config import layer_from_config, layer_to_config
from minidl.tape import Tape
from minidl.testing import check_gradients
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, assert_same_summary

RTOL, ATOL = 1e-5, 1e-5


def outputs_and_gradients(framework, layer, x, dys):
    """The outputs (a list), then the weights' gradients and dx of sum(dy * output)."""
    if framework is minidl:
        with Tape() as tape:
            ys = layer(x)
        ys = ys if isinstance(ys, list) else [ys]
        *grads, dx = tape.gradient(list(zip(ys, dys)), layer.trainable_weights, inputs=[x])
        return ys + [dx] + grads
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ys = layer(x)
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        total = sum(tf.reduce_sum(y * dy) for y, dy in zip(ys, dys))
    *grads, dx = tape.gradient(total, layer.trainable_weights + [x])
    return [y.numpy() for y in ys] + [dx.numpy()] + [g.numpy() for g in grads]


def assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL * max(1.0, np.abs(b).max()))


@st.composite
def cases(draw):
    """(rank, layer arguments, input shape): kernels, strides with "valid", dilation, the
    loop's options, one to three steps."""
    rank = draw(st.sampled_from([1, 2]))
    padding = draw(st.sampled_from(["valid", "same"]))
    kernel = draw(st.integers(1, 3))
    strides = draw(st.sampled_from([1, 2])) if padding == "valid" else 1
    dilation = draw(st.sampled_from([1, 2])) if strides == 1 else 1
    arguments = dict(filters=draw(st.integers(1, 3)), kernel_size=kernel, strides=strides,
                     padding=padding, dilation_rate=dilation, use_bias=draw(st.booleans()),
                     return_sequences=draw(st.booleans()), return_state=draw(st.booleans()),
                     go_backwards=draw(st.booleans()))
    steps, channels = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    shape = (2, steps) + (draw(st.integers(5, 6)),) * rank + (channels,)
    return rank, arguments, shape


@settings(max_examples=12)
@given(case=cases(), seed=st.integers(0, 2**16))
def test_conv_lstm_matches_keras(case, seed):
    rank, arguments, shape = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    ours = getattr(layers, f"ConvLSTM{rank}D")(**arguments)
    theirs = getattr(keras.layers, f"ConvLSTM{rank}D")(**arguments)
    ours(x), theirs(x)
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in ours.get_weights()]
    ours.set_weights(weights), theirs.set_weights(weights)
    symbolic = (None,) + shape[1:]
    shapes = [ours.compute_output_shape(symbolic), theirs.compute_output_shape(symbolic)]
    assert [list(s) if isinstance(s[0], tuple) else s for s in shapes] == [shapes[0]] * 2
    ys = ours(x)
    dys = [rng.normal(size=y.shape).astype(np.float32) for y in
           (ys if isinstance(ys, list) else [ys])]
    assert_close(outputs_and_gradients(minidl, ours, x, dys),
                 outputs_and_gradients(keras, theirs, x, dys))


def test_the_forget_gates_bias_starts_at_one_as_keras():
    x = np.zeros((1, 2, 4, 4, 1), np.float32)
    ours, theirs = layers.ConvLSTM2D(2, 3), keras.layers.ConvLSTM2D(2, 3)
    ours(x), theirs(x)
    np.testing.assert_array_equal(ours.cell.bias.numpy(), theirs.cell.bias.numpy())


# -- central differences, with a negative control ---------------------------------------------
class ConvLSTMCellWithoutRecurrence(ConvLSTMCell):
    """A wrong backward: no gradient goes to h_prev through the recurrent convolution."""

    def step_backward(self, dstates, cache, need_dx=True):
        dx, (dh_prev, dc_prev), grads = super().step_backward(dstates, cache, need_dx)
        return dx, [np.zeros_like(dh_prev), dc_prev], grads


@pytest.mark.parametrize("rank, arguments, shape", [
    (2, dict(filters=2, kernel_size=2, padding="same", return_sequences=True), (2, 3, 3, 3, 2)),
    (1, dict(filters=2, kernel_size=2, strides=2, go_backwards=True), (2, 3, 5, 2))])
def test_gradient_check_and_negative_control(float64, rank, arguments, shape):
    x = np.random.default_rng(1).normal(size=shape)
    make = getattr(layers, f"ConvLSTM{rank}D")
    result = check_gradients(make(**arguments, bias_initializer="random_normal"), x)
    assert result.passed, str(result)
    assert len(result.rows) == 4, str(result)  # kernel, recurrent kernel, bias, x
    wrong = make(**arguments, bias_initializer="random_normal")
    wrong.cell.__class__ = ConvLSTMCellWithoutRecurrence
    failed = check_gradients(wrong, x).failed
    assert "x (input)" in failed and any("recurrent_kernel" in name for name in failed)


# -- in a model: gradients, fit, summary, files -----------------------------------------------
def small_model():
    """Next-frame prediction, as keras.io's example, in miniature: ConvLSTM2D layers over a
    sequence of frames, then a per-pixel sigmoid."""
    model = minidl.Sequential([
        minidl.Input((3, 5, 5, 1)),
        layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True,
                          kernel_regularizer="l2", name="clstm"),
        layers.ConvLSTM2D(2, 2, name="clstm_last"),
        layers.Conv2D(1, 3, padding="same", activation="sigmoid")], name="frames")
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="binary_crossentropy")
    return model


def data(n=12, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(n, 3, 5, 5, 1)).astype(np.float32),
            (rng.uniform(size=(n, 4, 4, 1)) > 0.5).astype(np.float32))


def test_twin_models_have_the_same_gradients_and_fit():
    model = small_model()
    twin = keras_twin(model)
    x, y = data()
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=2, batch_size=4, validation_split=0.25)


def test_summary_matches_keras(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    model = small_model()
    twin = keras_twin(model)
    assert_same_summary(model, twin, capsys)


def test_keras_files_both_ways(tmp_path):
    model = small_model()
    x, _ = data(4)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.3
                       for w in model.get_weights()])
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=RTOL, atol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras")
    for name in ("clstm", "clstm_last"):
        assert layer_to_config(back.get_layer(name), "float32") == \
            layer_to_config(model.get_layer(name), "float32")
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_configs_build_each_other():
    for ours in (layers.ConvLSTM2D(4, (2, 3), strides=(1, 2), padding="valid",
                                   recurrent_activation="hard_sigmoid", unit_forget_bias=False,
                                   return_state=True, name="c2"),
                 layers.ConvLSTM1D(2, 3, dilation_rate=2, padding="same", go_backwards=True,
                                   name="c1")):
        written = layer_to_config(ours, "float32")
        theirs = keras.layers.deserialize(copy.deepcopy(written))
        assert written["config"] == json.loads(json.dumps(theirs.get_config()))  # as a file
        back = layer_from_config(keras.layers.serialize(theirs))
        assert layer_to_config(back, "float32") == written


# -- errors -----------------------------------------------------------------------------------
def keras_error(make):
    with pytest.raises(Exception) as raised:
        make(keras)
    return str(raised.value)


def test_a_kernel_larger_than_the_image():
    """Keras wraps its message in a call error, with the gate's kernel shape and NumPy's
    print of the dilation; the sentence is the same."""
    def make(f):
        return f.layers.ConvLSTM2D(2, 3)(np.zeros((1, 2, 2, 2, 1), np.float32))

    sentence = "Computed output size would be zero or negative."
    with pytest.raises(ValueError, match=sentence):
        make(minidl)
    assert sentence in keras_error(make)


@pytest.mark.parametrize("make", [
    lambda f: f.layers.ConvLSTM2D(2, 3)(f.Input((2, None, 4, 1))),  # unknown height
    lambda f: f.layers.ConvLSTM2D(2, (1, 2, 3)),
])
def test_errors_are_keras_errors_word_for_word(make):
    with pytest.raises(ValueError) as raised:
        make(minidl)
    assert str(raised.value) == keras_error(make)


def test_what_minidl_refuses_by_name():
    for name in ("dropout", "recurrent_dropout"):
        with pytest.raises(ValueError, match=f"minidl does not support `{name}` other than 0.0"):
            layers.ConvLSTM2D(2, 3, **{name: 0.2})
    with pytest.raises(ValueError, match="channels-last"):
        layers.ConvLSTM2D(2, 3, data_format="channels_first")
    layer = layers.ConvLSTM1D(2, 1)
    x = np.zeros((1, 3, 2, 2), np.float32)
    layer(x)
    with pytest.raises(ValueError, match="does not implement masks"):
        layer.forward(x, mask=np.array([[True, True, False]]))
    layer = layers.ConvLSTM2D(2, 3)
    layer(np.zeros((1, 2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 2, 4, 4, 1\)"):
        layer(np.zeros((1, 2, 5, 4, 1), np.float32))
