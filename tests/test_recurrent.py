"""SimpleRNN, LSTM and GRU compute what Keras computes, and their backward is right.

- live Keras, layer by layer: the Keras layer made from the minidl layer's saved config, with
  the same weights, gives the same outputs (every output with return_state) and, from
  tf.GradientTape, the same gradients for the input and every weight, over drawn shapes and
  options. Tolerance (`close`): rtol 1e-5 and an atol of T * 1e-6 times the largest entry. Each
  step rounds a sum of D + U products and a few elementwise operations in float32 (eps 6e-8),
  which is within ~1e-6 of the values' scale; the state carries every step's rounding into
  the next, so over T steps up to T of them add up (and backward walks the same T steps).
- float64 central differences (minidl.testing.check_gradients) on every weight and the input,
  with negative controls: a kernel gradient 1 % off, an LSTM backward that drops the carry's
  gradient from the next step, and a GRU that forgets the reset gate on the recurrent side
  must all fail.
- Bidirectional over the same drawn cases, every merge mode, against Keras the same way.
- a short fit of a stacked LSTM -> GRU -> Dense against its Keras twin (History to rtol 1e-5),
  the loss and gradients with every kind of regularizer, files both ways, configs, summary()
  and Keras's errors.
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.layers import GRU, LSTM, Bidirectional, Dense, SimpleRNN
from minidl.layers.recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell
from minidl.saving.layer_config import layer_to_config
from minidl.tape import Tape
from minidl.testing import check_gradients
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients

CLASSES = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


# -- helpers ------------------------------------------------------------------------------------
def keras_twin_layer(layer, input_shape):
    """The Keras layer a file would give for this minidl layer's config, with its weights."""
    twin = keras.layers.deserialize(layer_to_config(layer, "float32"))
    twin.build((None,) + tuple(input_shape[1:]))
    twin.set_weights(layer.get_weights())
    return twin


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def minidl_outputs_and_grads(layer, x, dys):
    """([outputs], dx, [grad per weight]) for the output gradients dys (one per output)."""
    with Tape() as tape:
        ys = as_list(layer(x))
    *grads, dx = tape.gradient(list(zip(ys, dys)), layer.trainable_weights, inputs=[x])
    return ys, dx, grads


def keras_outputs_and_grads(layer, x, dys):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ys = as_list(layer(x))
    dx, *grads = tape.gradient(ys, [x] + layer.trainable_weights,
                               output_gradients=[tf.constant(dy) for dy in dys])
    return [np.asarray(y) for y in ys], np.asarray(dx), [np.asarray(g) for g in grads]


def close(ours, theirs, steps):
    """float32 agreement after `steps` time steps (see the module docstring)."""
    theirs = np.asarray(theirs, np.float64)
    scale = max(1.0, float(np.abs(theirs).max(initial=0)))
    np.testing.assert_allclose(np.asarray(ours, np.float64), theirs, rtol=1e-5,
                               atol=steps * 1e-6 * scale)


@st.composite
def rnn_cases(draw, kind):
    """(layer arguments, input shape (N,T,D), seed) with every option drawn."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4)))
    arguments = dict(units=draw(st.integers(1, 5)), use_bias=draw(st.booleans()),
                     return_sequences=draw(st.booleans()), return_state=draw(st.booleans()),
                     go_backwards=draw(st.booleans()), unroll=draw(st.booleans()),
                     activation=draw(st.sampled_from(["tanh", "relu", "sigmoid", "linear"])))
    if kind != "SimpleRNN":
        arguments["recurrent_activation"] = draw(st.sampled_from(
            ["sigmoid", "hard_sigmoid", "tanh"]))
    if kind == "LSTM":
        arguments["unit_forget_bias"] = draw(st.booleans())
    if kind == "GRU":
        arguments["reset_after"] = draw(st.booleans())
    return arguments, shape, draw(st.integers(0, 2**16))


def check_against_keras(kind, case):
    arguments, shape, seed = case
    layer = CLASSES[kind](**arguments)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    layer(x)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in layer.get_weights()])
    shapes = layer.compute_output_shape(shape)  # a list of shapes with return_state
    dys = [rng.normal(size=s).astype(np.float32)
           for s in (shapes if isinstance(shapes, list) else [shapes])]
    ys, dx, grads = minidl_outputs_and_grads(layer, x, dys)
    keras_ys, keras_dx, keras_grads = keras_outputs_and_grads(
        keras_twin_layer(layer, shape), x, dys)
    steps = shape[1]
    assert len(ys) == len(keras_ys) == (1 + (2 if kind == "LSTM" else 1) * layer.return_state)
    for y, keras_y in zip(ys, keras_ys):
        assert y.shape == keras_y.shape and y.dtype == np.float32
        close(y, keras_y, steps)
    close(dx, keras_dx, steps)
    assert len(grads) == len(keras_grads) == 2 + layer.cell.use_bias
    for grad, keras_grad in zip(grads, keras_grads):
        close(grad, keras_grad, steps)


# -- against live Keras -------------------------------------------------------------------------
@given(rnn_cases("SimpleRNN"))
def test_simple_rnn_outputs_and_gradients_match_keras(case):
    check_against_keras("SimpleRNN", case)


@given(rnn_cases("LSTM"))
def test_lstm_outputs_and_gradients_match_keras(case):
    check_against_keras("LSTM", case)


@given(rnn_cases("GRU"))
def test_gru_outputs_and_gradients_match_keras(case):
    check_against_keras("GRU", case)


@st.composite
def bidirectional_cases(draw):
    kind = draw(st.sampled_from(sorted(CLASSES)))
    arguments, shape, seed = draw(rnn_cases(kind))
    merge_mode = draw(st.sampled_from(["concat", "sum", "ave", "mul", None]))
    return kind, arguments, merge_mode, shape, seed


@given(bidirectional_cases())
def test_bidirectional_outputs_and_gradients_match_keras(case):
    """Both directions' outputs, merged each way Keras merges them; every state; every weight
    of both layers and the input."""
    kind, arguments, merge_mode, shape, seed = case
    arguments.pop("go_backwards")  # Bidirectional refuses a layer that already goes backwards
    layer = Bidirectional(CLASSES[kind](**arguments), merge_mode=merge_mode)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    layer(x)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in layer.get_weights()])
    shapes = layer.compute_output_shape(shape)
    dys = [rng.normal(size=s).astype(np.float32)
           for s in (shapes if isinstance(shapes, list) else [shapes])]
    ys, dx, grads = minidl_outputs_and_grads(layer, x, dys)
    keras_ys, keras_dx, keras_grads = keras_outputs_and_grads(
        keras_twin_layer(layer, shape), x, dys)
    assert len(ys) == len(keras_ys) and len(grads) == len(keras_grads)
    for ours, theirs in zip(ys + [dx] + grads, keras_ys + [keras_dx] + keras_grads):
        assert ours.shape == theirs.shape
        close(ours, theirs, shape[1])


def test_weights_have_keras_shapes_names_and_initial_biases():
    """Shapes and paths as Keras's; LSTM's forget-gate bias starts at 1 (unit_forget_bias)."""
    x = np.zeros((2, 3, 4), np.float32)
    for ours, theirs in [(SimpleRNN(5), keras.layers.SimpleRNN(5)),
                         (LSTM(5), keras.layers.LSTM(5)),
                         (LSTM(5, unit_forget_bias=False),
                          keras.layers.LSTM(5, unit_forget_bias=False)),
                         (GRU(5), keras.layers.GRU(5)),
                         (GRU(5, reset_after=False), keras.layers.GRU(5, reset_after=False)),
                         (GRU(5, use_bias=False), keras.layers.GRU(5, use_bias=False))]:
        ours(x), theirs(x)
        assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
        assert ([w.path.split("/", 1)[1] for w in ours.weights]
                == [w.path.split("/", 1)[1] for w in theirs.weights])  # lstm_cell/kernel
        if ours.cell.use_bias:  # zeros and ones: no random draw, so the same numbers
            np.testing.assert_array_equal(ours.weights[-1].value, theirs.weights[-1].numpy())
    layer = LSTM(4)  # the recurrent kernel starts orthogonal
    layer(np.zeros((1, 2, 3), np.float32))
    q = layer.cell.recurrent_kernel.value  # (4,16): orthonormal rows
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)


def test_unroll_gives_the_same_numbers():
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    rolled = LSTM(3, return_sequences=True)
    rolled(x)
    unrolled = LSTM(3, return_sequences=True, unroll=True)
    unrolled(x)
    unrolled.set_weights(rolled.get_weights())
    np.testing.assert_array_equal(unrolled(x), rolled(x))


def test_go_backwards_reads_from_the_end_and_returns_the_steps_in_that_order():
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype(np.float32)
    forwards = GRU(4, return_sequences=True)
    forwards(x)
    backwards = GRU(4, return_sequences=True, go_backwards=True)
    backwards(x)
    backwards.set_weights(forwards.get_weights())
    np.testing.assert_array_equal(backwards(x), forwards(x[:, ::-1]))


# -- gradient checks, with negative controls ----------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: SimpleRNN(3, return_sequences=True, go_backwards=True),
    lambda: SimpleRNN(2, activation="sigmoid", use_bias=False),
    lambda: LSTM(3),
    lambda: LSTM(2, return_sequences=True, go_backwards=True, use_bias=False,
                 recurrent_activation="tanh"),
    lambda: GRU(3),
    lambda: GRU(2, reset_after=False, return_sequences=True),
    lambda: GRU(2, reset_after=False, use_bias=False, go_backwards=True),
])
def test_check_gradients_passes(float64, make):
    layer = make()
    x = np.random.default_rng(2).normal(size=(2, 4, 3))
    layer(x)
    for w in layer.weights:  # biases away from their zero/one start, so that they matter
        w.assign(np.random.default_rng(3).normal(scale=0.5, size=w.shape))
    result = check_gradients(layer, x)
    assert result.passed, str(result)
    names = [row["name"].split("/")[-1] for row in result.rows]
    assert names == ["kernel", "recurrent_kernel", "bias"][:2 + layer.cell.use_bias] + [
        "x (input)"]


class SimpleRNNCellWithRecurrentGradientOnePercentOff(SimpleRNNCell):
    def step_backward(self, dstates, cache, need_dx=True):
        dx, dstates, grads = super().step_backward(dstates, cache, need_dx)
        grads[self.recurrent_kernel] = grads[self.recurrent_kernel] * 1.01
        return dx, dstates, grads


class LSTMCellDroppingTheCarryFromTheNextStep(LSTMCell):
    """The classic BPTT bug: dc starts afresh at every step instead of adding dc from t+1."""

    def step_backward(self, dstates, cache, need_dx=True):
        dh, dc = dstates
        return super().step_backward([dh, np.zeros_like(dc)], cache, need_dx)


class GRUCellForgettingTheResetGateOnTheRecurrentSide(GRUCell):
    """dL/d(h_prev @ U_h) taken as dzn instead of r * dzn (reset_after=True)."""

    def step(self, x, states):
        h, states, cache = super().step(x, states)
        x, h_prev, zz, zr, z, r, hh, zn, n = cache
        return h, states, (x, h_prev, zz, zr, z, np.ones_like(r), hh, zn, n)


@pytest.mark.parametrize("layer_class, cell_class, arguments, must_fail", [
    (SimpleRNN, SimpleRNNCellWithRecurrentGradientOnePercentOff, {}, ["recurrent_kernel"]),
    (LSTM, LSTMCellDroppingTheCarryFromTheNextStep, {}, None),
    (GRU, GRUCellForgettingTheResetGateOnTheRecurrentSide, {"return_sequences": True}, None),
])
def test_check_gradients_catches_a_wrong_backward(float64, layer_class, cell_class, arguments,
                                                  must_fail):
    wrong = type("Wrong" + layer_class.__name__, (layer_class,), {"cell_class": cell_class})
    layer = wrong(3, **arguments)
    x = np.random.default_rng(4).normal(size=(2, 4, 3))
    layer(x)
    for w in layer.weights:
        w.assign(np.random.default_rng(5).normal(scale=0.5, size=w.shape))
    result = check_gradients(layer, x)
    assert not result.passed
    failed = [name.split("/")[-1] for name in result.failed]
    if must_fail is not None:
        assert failed == must_fail
    assert "recurrent_kernel" in failed


# -- models: training, regularizers, files, configs, summary ------------------------------------
def sequences(n=40, steps=6, features=3, seed=0):
    """Synthetic sequences; the target is a damped running sum of the first feature."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    y = (x[:, :, 0] * 0.8 ** np.arange(steps)[::-1]).sum(axis=1, keepdims=True)
    return x, y.astype(np.float32)


def stacked(steps=6, features=3):
    return minidl.Sequential([minidl.Input((steps, features)),
                              LSTM(5, return_sequences=True), GRU(4), Dense(1)])


def test_a_short_fit_matches_keras():
    minidl.utils.set_random_seed(0)
    x, y = sequences()
    model = stacked()
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = assert_same_fit(keras_twin(model), model, x, y, epochs=3, batch_size=8,
                              validation_split=0.25)
    assert history["loss"][-1] < history["loss"][0]


def test_loss_and_gradients_with_regularizers_match_keras():
    """kernel, recurrent, bias and activity penalties reach the loss and the gradients."""
    minidl.utils.set_random_seed(1)
    x, y = sequences(n=8, steps=4)
    l2 = minidl.regularizers.l2(0.01)
    model = minidl.Sequential([
        minidl.Input((4, 3)),
        SimpleRNN(3, return_sequences=True, kernel_regularizer=l2),
        LSTM(3, return_sequences=True, recurrent_regularizer=minidl.regularizers.l1(0.01),
             bias_regularizer=l2, activity_regularizer="l2"),
        GRU(2, reset_after=False, kernel_regularizer=l2, go_backwards=True), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert_same_loss_and_gradients(keras_twin(model), model, x, y)


def test_a_state_returned_by_lstm_trains_like_keras():
    """A functional model reading LSTM's [output, h, c]: the state's gradient flows back."""
    minidl.utils.set_random_seed(2)
    x, y = sequences(n=8, steps=5)
    inputs = minidl.Input((5, 3))
    sequence, h, c = LSTM(4, return_sequences=True, return_state=True)(inputs)
    last, h2 = GRU(3, return_state=True)(sequence)
    outputs = Dense(1)(minidl.layers.Concatenate()([c, h2]))
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    assert_same_loss_and_gradients(keras_twin(model), model, x, y)


def test_a_bidirectional_fit_matches_keras():
    minidl.utils.set_random_seed(4)
    x, y = sequences(n=32)
    model = minidl.Sequential([minidl.Input((6, 3)),
                               Bidirectional(LSTM(4, return_sequences=True)),
                               Bidirectional(GRU(3), merge_mode="ave"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert_same_fit(keras_twin(model), model, x, y, epochs=2, batch_size=8)


def models_for_files():
    minidl.utils.set_random_seed(3)
    return minidl.Sequential([minidl.Input((6, 3)), Bidirectional(LSTM(4, return_sequences=True),
                                                                   merge_mode="sum"),
                              GRU(3, reset_after=False, return_sequences=True),
                              SimpleRNN(3, go_backwards=True), Dense(2)])


def test_keras_files_cross_both_ways(tmp_path):
    x, _ = sequences()
    model = models_for_files()
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "minidl.keras")
    theirs = keras.saving.load_model(tmp_path / "minidl.keras")
    close(theirs.predict(x, verbose=0), expected, steps=6)
    theirs.save(tmp_path / "keras.keras")
    back = minidl.saving.load_model(tmp_path / "keras.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), expected)
    # .weights.h5: Keras's file into minidl, and minidl's into Keras
    for w in theirs.weights:
        w.assign(np.random.default_rng(0).normal(scale=0.5, size=w.shape))
    theirs.save_weights(tmp_path / "keras.weights.h5")
    model.load_weights(tmp_path / "keras.weights.h5")
    close(model.predict(x, verbose=0), theirs.predict(x, verbose=0), steps=6)
    model.save_weights(tmp_path / "minidl.weights.h5")
    fresh = keras.saving.load_model(tmp_path / "minidl.keras")
    fresh.load_weights(tmp_path / "minidl.weights.h5")
    for ours, keras_weight in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(ours.value, keras_weight.numpy())


@pytest.mark.parametrize("layer", [
    SimpleRNN(3, activation="relu", use_bias=False, return_sequences=True, name="s"),
    LSTM(4, recurrent_activation="hard_sigmoid", unit_forget_bias=False, go_backwards=True,
         kernel_regularizer=minidl.regularizers.l2(0.01), return_state=True, seed=3),
    GRU(2, reset_after=False, unroll=True, bias_initializer="ones", trainable=False),
    GRU(5, activity_regularizer=minidl.regularizers.l2(0.01),
        recurrent_initializer="glorot_normal"),
    Bidirectional(LSTM(3, return_sequences=True, name="l"), merge_mode=None, name="b"),
], ids=["SimpleRNN", "LSTM", "GRU reset_after=False", "GRU", "Bidirectional"])
def test_config_is_keras_config_and_round_trips(layer):
    ours = layer_to_config(layer, "float32")
    theirs = keras.layers.serialize(keras.layers.deserialize(ours))
    assert ours["class_name"] == theirs["class_name"] == type(layer).__name__
    assert ours["config"] == {key: value for key, value in theirs["config"].items()}
    again = type(layer).from_config(layer.get_config())
    assert layer_to_config(again, "float32") == ours


def test_summary_prints_what_keras_prints(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    inputs = minidl.Input((5, 3))
    sequence, h, c = LSTM(4, return_sequences=True, return_state=True)(inputs)
    outputs = Dense(1)(SimpleRNN(2)(GRU(3, return_sequences=True)(sequence)))
    for model in (minidl.Model(inputs, [outputs, c]), models_for_files()):
        twin = keras_twin(model)
        capsys.readouterr()
        twin.summary()
        theirs = capsys.readouterr().out
        model.summary()
        assert capsys.readouterr().out == theirs
    assert "(Bidirectional)" in theirs and "(SimpleRNN)" in theirs


# -- errors: Keras's messages, and minidl's limits by name --------------------------------------
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("units", [0, -2])
def test_units_must_be_positive_with_keras_message(name, units):
    with pytest.raises(ValueError) as theirs:
        getattr(keras.layers, name)(units)
    with pytest.raises(ValueError) as ours:
        CLASSES[name](units)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("make, message", [
    (lambda: LSTM(2.5), "expected a positive integer, got 2.5"),
    (lambda: LSTM("4"), "expected a positive integer, got 4"),
    (lambda: SimpleRNN(3, dropout=1.2), "Received: dropout=1.2"),
    (lambda: LSTM(3, recurrent_dropout=1.0), "Received: recurrent_dropout=1.0"),
    (lambda: LSTM(3, kernel_constraint="nope"), "Could not interpret constraint identifier: nope"),
    (lambda: LSTM(3, use_cudnn="yes"), "Received: use_cudnn=yes"),
    (lambda: GRU(3, use_cudnn=True), "Received: use_cudnn=True"),
    (lambda: GRU(3, activation="nope"), "nope"),
])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_simple_rnn_refuses_the_activity_regularizer_keras_ignores():
    """Keras 3.15's SimpleRNN takes activity_regularizer and drops it (it is not passed on to
    the layer: no penalty, and None in its config); minidl says so instead of agreeing."""
    assert keras.layers.SimpleRNN(3, activity_regularizer="l2").activity_regularizer is None
    assert keras.layers.GRU(3, activity_regularizer="l2").activity_regularizer is not None
    with pytest.raises(ValueError, match="ActivityRegularization layer after the SimpleRNN"):
        SimpleRNN(3, activity_regularizer="l2")


@pytest.mark.parametrize("make, message", [
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "Invalid merge mode. Received: max"),
    (lambda: Bidirectional(Dense(3)), "wraps a SimpleRNN, LSTM or GRU"),
    (lambda: Bidirectional("lstm"), "Please initialize `Bidirectional` layer with a"),
    (lambda: Bidirectional(LSTM(3), weights=[np.zeros(3)]), "weights"),
    (lambda: Bidirectional(LSTM(3, go_backwards=True)), "should have different `go_backwards`"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True,
                                                        return_sequences=True)),
     'the same value for attribute "return_sequences"'),
    (lambda: Bidirectional(LSTM(3, activity_regularizer="l2")), "layer.activity_regularizer"),
])
def test_bidirectional_refuses_what_keras_refuses_and_what_minidl_lacks(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


def test_bad_inputs_get_keras_messages():
    layer = LSTM(3, name="lstm_x")
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2. Full shape received: "
                                         r"\(2, 5\)"):
        layer(np.zeros((2, 5), np.float32))
    assert not layer.built
    layer(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="needs at least one time step"):
        SimpleRNN(2)(np.zeros((2, 0, 3), np.float32))
    with pytest.raises(ValueError, match="Cannot unroll a RNN if the time dimension is "
                                         "undefined"):
        GRU(2, unroll=True)(minidl.Input((None, 3)))
