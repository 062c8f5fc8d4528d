"""dropout and recurrent_dropout in SimpleRNN, LSTM, GRU and Bidirectional, against Keras run on
the masks minidl drew (reference/masks.py: Keras's cells replay them through
get_dropout_mask / get_recurrent_dropout_mask).

- live Keras, over hypothesis-drawn shapes, rates and options: the outputs (every state with
  return_state), the input's gradient and every weight's gradient from tf.GradientTape, in
  training mode with the masks shared. Tolerance: `close` from tests/test_recurrent.py
  (rtol 1e-5, atol T * 1e-6 times the largest entry), which derives it: a mask multiplies
  by 0 or by the same float32 scale in both, so it adds one rounding per product at most,
  and the T steps' roundings add up as without dropout.
- a lockstep fit of a stacked model (LSTM with both rates, Bidirectional GRU, SimpleRNN)
  matches Keras's History (rtol 1e-5, as the fits in test_recurrent.py); predict, where
  nothing is dropped, matches Keras's predict and the same model with rates 0 (`close`).
- the masks: drawn once per call, the same at every step, fresh at the next call, one per
  gate in Keras's implementation 1 (its dropout_mask_count), values 0 or Keras's own scale
  (read from masks Keras draws), a share of zeros within 5 standard errors of the rate.
- float64 central differences with fixed masks, and negative controls: a backward that
  forgets a mask must fail the check, and a mask applied where Keras does not apply it
  must fail against Keras.
- configs and .keras files both ways keep the rates; rates outside [0, 1) are refused.
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
from reference.lockstep import lockstep_fit
from reference.masks import shared_noise
from reference.twins import keras_twin
from tests.test_recurrent import close

CLASSES = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


# -- helpers ------------------------------------------------------------------------------------
def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def model_around(layer, shape, seed):
    """A functional model holding only `layer`, with N(0, 0.5**2) weights."""
    inputs = minidl.Input(shape[1:])
    model = minidl.Model(inputs, layer(inputs))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


def training_outputs_and_grads(model, twin, x, dys):
    """Both frameworks, training, on the same masks: ([ys], dx, [grads]) each."""
    with shared_noise(model, twin):
        with Tape() as tape:
            ys = as_list(model(x, training=True))  # minidl first: it draws the masks
        *grads, dx = tape.gradient(list(zip(ys, dys)), model.trainable_weights, inputs=[x])
        x_tensor = tf.constant(x)
        with tf.GradientTape() as keras_tape:
            keras_tape.watch(x_tensor)
            keras_ys = as_list(twin(x_tensor, training=True))  # Keras replays them
        keras_dx, *keras_grads = keras_tape.gradient(
            keras_ys, [x_tensor] + twin.trainable_weights,
            output_gradients=[tf.constant(dy) for dy in dys])
    keras_side = ([np.asarray(y) for y in keras_ys], np.asarray(keras_dx),
                  [np.asarray(g) for g in keras_grads])
    return (ys, dx, grads), keras_side


def check_layer_against_keras(layer, shape, seed):
    model = model_around(layer, shape, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=shape).astype(np.float32)
    shapes = layer.compute_output_shape(shape)  # a list of shapes with return_state
    dys = [rng.normal(size=s).astype(np.float32)
           for s in (shapes if isinstance(shapes, list) else [shapes])]
    (ys, dx, grads), (keras_ys, keras_dx, keras_grads) = training_outputs_and_grads(
        model, keras_twin(model), x, dys)
    assert len(ys) == len(keras_ys) and len(grads) == len(keras_grads) == len(
        model.trainable_weights)
    for ours, theirs in zip(ys + [dx] + grads, keras_ys + [keras_dx] + keras_grads):
        assert ours.shape == theirs.shape
        close(ours, theirs, shape[1])
    return model, x, ys


rates = st.one_of(st.just(0.0), st.floats(0.05, 0.9))


@st.composite
def dropout_cases(draw, kind):
    """(layer arguments, input shape (N,T,D), seed), at least one rate above 0."""
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    dropout, recurrent_dropout = draw(rates), draw(rates)
    if dropout == recurrent_dropout == 0:
        dropout = draw(st.floats(0.05, 0.9))
    arguments = dict(units=draw(st.integers(1, 4)), dropout=dropout,
                     recurrent_dropout=recurrent_dropout, use_bias=draw(st.booleans()),
                     return_sequences=draw(st.booleans()), return_state=draw(st.booleans()),
                     go_backwards=draw(st.booleans()), unroll=draw(st.booleans()),
                     activation=draw(st.sampled_from(["tanh", "relu", "sigmoid"])))
    if kind == "GRU":
        arguments["reset_after"] = draw(st.booleans())
    return arguments, shape, draw(st.integers(0, 2**16))


# -- against live Keras on the same masks --------------------------------------------------------
@given(dropout_cases("SimpleRNN"))
def test_simple_rnn_with_dropout_matches_keras(case):
    arguments, shape, seed = case
    check_layer_against_keras(SimpleRNN(**arguments), shape, seed)


@given(dropout_cases("LSTM"))
def test_lstm_with_dropout_matches_keras(case):
    """recurrent_dropout switches both to implementation 1: a mask per gate."""
    arguments, shape, seed = case
    check_layer_against_keras(LSTM(**arguments), shape, seed)


@given(dropout_cases("GRU"))
def test_gru_with_dropout_matches_keras(case):
    arguments, shape, seed = case
    check_layer_against_keras(GRU(**arguments), shape, seed)


@given(st.sampled_from(sorted(CLASSES)).flatmap(
    lambda kind: st.tuples(st.just(kind), dropout_cases(kind),
                           st.sampled_from(["concat", "sum", "ave", "mul", None]))))
def test_bidirectional_with_dropout_matches_keras(case):
    """Each direction draws its own masks, and Keras's two layers replay each its own."""
    kind, (arguments, shape, seed), merge_mode = case
    arguments.pop("go_backwards")  # Bidirectional refuses a layer that already goes backwards
    layer = Bidirectional(CLASSES[kind](**arguments), merge_mode=merge_mode)
    check_layer_against_keras(layer, shape, seed)


def test_masks_work_with_a_sequence_mask_as_keras():
    """Embedding(mask_zero=True) -> LSTM with both rates: masked steps keep their state, as
    Keras; the dropout masks are the same whether a step is masked or not."""
    inputs = minidl.Input((5,))
    embedded = minidl.layers.Embedding(7, 3, mask_zero=True)(inputs)
    outputs = LSTM(4, dropout=0.3, recurrent_dropout=0.4, return_sequences=True)(embedded)
    model = minidl.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in model.get_weights()])
    ids = np.array([[1, 2, 3, 0, 0], [4, 0, 5, 6, 1], [0, 0, 2, 3, 4]])
    dy = rng.normal(size=(3, 5, 4)).astype(np.float32)
    twin = keras_twin(model)
    with shared_noise(model, twin):
        with Tape() as tape:
            y = model(ids, training=True)
        grads = tape.gradient([(y, dy)], model.trainable_weights)
        with tf.GradientTape() as keras_tape:
            keras_y = twin(ids, training=True)
        keras_grads = keras_tape.gradient(keras_y, twin.trainable_weights,
                                          output_gradients=tf.constant(dy))
    close(y, keras_y, 5)
    for ours, theirs in zip(grads, keras_grads):
        close(ours, tf.convert_to_tensor(theirs), 5)


# -- fit and predict -----------------------------------------------------------------------------
def sequences(n=32, steps=6, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    y = (x[:, :, 0] * 0.8 ** np.arange(steps)[::-1]).sum(axis=1, keepdims=True)
    return x, y.astype(np.float32)


def stacked(scale=1.0):
    """Chollet's uses, a rate of each kind in each layer kind; scale=0 gives rates 0."""
    return minidl.Sequential([
        minidl.Input((6, 3)),
        LSTM(5, dropout=0.2 * scale, recurrent_dropout=0.25 * scale, return_sequences=True),
        Bidirectional(GRU(3, dropout=0.1 * scale, return_sequences=True), merge_mode="sum"),
        SimpleRNN(3, recurrent_dropout=0.5 * scale), Dense(1)])


def test_a_lockstep_fit_matches_keras_history_and_predict_drops_nothing():
    minidl.utils.set_random_seed(5)
    x, y = sequences(n=20)
    model = stacked()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    run = lockstep_fit(model, x, y, epochs=2, batch_size=8, validation_split=0.2, seed=4)
    assert sorted(run.minidl_history) == sorted(run.keras_history)
    for key in run.keras_history:
        np.testing.assert_allclose(run.minidl_history[key], run.keras_history[key], rtol=1e-5,
                                   err_msg=key)
    lstm = run.keras_model.layers[0]
    assert type(lstm) is keras.layers.LSTM and type(lstm.cell) is keras.layers.LSTMCell
    assert "draw_dropout_mask" not in model.layers[0].cell.__dict__  # recording stopped
    # predict: nothing dropped, in Keras (which draws masks there and does not use them) and
    # in minidl, where it equals the same model with rates 0 to float32 rounding only:
    # recurrent_dropout switches LSTM to implementation 1, whose sums run in another order
    # (as Keras's LSTMCell does, at inference too).
    expected = model.predict(x, verbose=0)
    close(expected, run.keras_model.predict(x, verbose=0), 6)
    plain = stacked(scale=0.0)
    plain.set_weights(model.get_weights())
    close(plain.predict(x, verbose=0), expected, 6)
    np.testing.assert_array_equal(model(x), expected)  # a bare call does not train either


# -- the masks -----------------------------------------------------------------------------------
def recorded_draws(cell):
    """Every mask the cell draws, by kind, in order."""
    draws = {"dropout": [], "recurrent_dropout": []}
    for kind, method in (("dropout", "draw_dropout_mask"),
                         ("recurrent_dropout", "draw_recurrent_dropout_mask")):
        def recording(shape, dtype, kind=kind, draw=getattr(cell, method)):
            draws[kind].append(draw(shape, dtype))
            return draws[kind][-1]
        setattr(cell, method, recording)
    return draws


def keras_scale(rate):
    """The value Keras's own dropout masks keep: what a Keras LSTMCell draws for ones."""
    cell = keras.layers.LSTMCell(2, dropout=rate)
    values = np.unique(np.asarray(cell.get_dropout_mask(tf.ones((50, 40)))))
    assert values[0] == 0 and len(values) == 2
    return values[1]


def test_input_mask_is_drawn_once_per_call_and_used_at_every_step():
    """SimpleRNN with W = I, U = 0, no bias, linear, on ones: h_t = x_mask, the same at
    every step; a second call draws a new mask."""
    rate = 0.4
    layer = SimpleRNN(6, dropout=rate, activation="linear", use_bias=False,
                      return_sequences=True)
    x = np.ones((40, 5, 6), np.float32)
    layer(x)
    layer.set_weights([np.eye(6, dtype=np.float32), np.zeros((6, 6), np.float32)])
    draws = recorded_draws(layer.cell)
    y = layer(x, training=True)
    assert len(draws["dropout"]) == 1 and draws["recurrent_dropout"] == []
    assert draws["dropout"][0].shape == (40, 6)
    for t in range(5):
        np.testing.assert_array_equal(y[:, t], draws["dropout"][0])
    assert set(np.unique(y)) == {0, keras_scale(rate)}
    again = layer(x, training=True)
    assert len(draws["dropout"]) == 2 and not np.array_equal(again, y)


def test_recurrent_mask_is_drawn_once_per_call_and_used_at_every_step():
    """SimpleRNN with W = 0, b = 1, U = I, linear: h_t = 1 + m * h_{t-1} with one mask m,
    so h_t = 1 + m + ... + m**t, row by row."""
    layer = SimpleRNN(4, recurrent_dropout=0.5, activation="linear", return_sequences=True)
    x = np.zeros((30, 4, 2), np.float32)
    layer(x)
    layer.set_weights([np.zeros((2, 4), np.float32), np.eye(4, dtype=np.float32),
                       np.ones(4, np.float32)])
    draws = recorded_draws(layer.cell)
    y = layer(x, training=True)
    (m,) = draws["recurrent_dropout"]
    assert m.shape == (30, 4) and draws["dropout"] == []
    expected = np.ones_like(m)
    for t in range(4):
        np.testing.assert_allclose(y[:, t], expected, rtol=1e-6)
        expected = 1 + m * expected


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_implementation_one_draws_a_mask_per_gate_as_keras(kind):
    keras_cell = getattr(keras.layers, kind + "Cell")(3, dropout=0.1, recurrent_dropout=0.2)
    assert keras_cell.implementation == 1
    gates = keras_cell.dropout_mask_count  # 4 for LSTM, 3 for GRU
    layer = CLASSES[kind](3, dropout=0.1, recurrent_dropout=0.2)
    x = np.ones((7, 2, 5), np.float32)
    layer(x)
    draws = recorded_draws(layer.cell)
    layer(x, training=True)
    assert [d.shape for d in draws["dropout"]] == [(gates, 7, 5)]
    assert [d.shape for d in draws["recurrent_dropout"]] == [(gates, 7, 3)]
    assert CLASSES[kind](3, dropout=0.1).cell.implementation \
        == getattr(keras.layers, kind + "Cell")(3, dropout=0.1).implementation == 2
    layer(x)  # inference draws nothing
    assert len(draws["dropout"]) == 1


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_share_of_zeros_and_scale_are_keras_s(rate):
    layer = LSTM(50, recurrent_dropout=rate)
    x = np.ones((200, 1, 2), np.float32)
    layer(x)
    draws = recorded_draws(layer.cell)
    layer(x, training=True)
    (mask,) = draws["recurrent_dropout"]  # (4,200,50): 40,000 draws
    share = np.mean(mask == 0)
    assert abs(share - rate) < 5 * np.sqrt(rate * (1 - rate) / mask.size)  # 5 standard errors
    assert mask.dtype == np.float32 and set(np.unique(mask)) == {0, keras_scale(rate)}


def test_a_seed_gives_the_cell_its_own_generator():
    x = np.ones((8, 3, 4), np.float32)
    a, b, c = (GRU(3, dropout=0.5, recurrent_dropout=0.5, seed=s) for s in (7, 7, 8))
    for layer in (a, b, c):
        layer(x)
        layer.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
    assert not np.array_equal(a(x, training=True), c(x, training=True))
    unseeded = LSTM(3, dropout=0.5)
    unseeded(x)  # built: the draws below are the masks' only
    minidl.utils.set_random_seed(3)
    first = unseeded(x, training=True)
    minidl.utils.set_random_seed(3)
    np.testing.assert_array_equal(unseeded(x, training=True), first)


# -- gradient checks with fixed masks, and negative controls --------------------------------------
def fixed_masks(layer, seed=0, rate=0.4):
    """Replace the cell's draws with masks drawn once here: every evaluation uses them."""
    rng = np.random.default_rng(seed)
    fixed = {}

    def fixed_draw(kind):
        def draw(shape, dtype):
            if kind not in fixed:
                fixed[kind] = np.where(rng.random(shape) >= rate, 1 / (1 - rate), 0.0)
            return fixed[kind].astype(dtype)
        return draw

    layer.cell.draw_dropout_mask = fixed_draw("dropout")
    layer.cell.draw_recurrent_dropout_mask = fixed_draw("recurrent_dropout")
    return layer


def weights_away_from_their_start(layer, x):
    layer(x)
    for w in layer.weights:
        w.assign(np.random.default_rng(3).normal(scale=0.5, size=w.shape))
    return layer


@pytest.mark.parametrize("make", [
    lambda: SimpleRNN(3, dropout=0.4, recurrent_dropout=0.4, return_sequences=True),
    lambda: LSTM(3, dropout=0.4),
    lambda: LSTM(2, dropout=0.4, recurrent_dropout=0.4, go_backwards=True),
    lambda: LSTM(3, recurrent_dropout=0.4, use_bias=False, return_sequences=True),
    lambda: GRU(3, dropout=0.4, recurrent_dropout=0.4),
    lambda: GRU(2, dropout=0.4, recurrent_dropout=0.4, reset_after=False,
                return_sequences=True),
    lambda: GRU(3, dropout=0.4),
])
def test_check_gradients_passes_with_fixed_masks(float64, make):
    x = np.random.default_rng(2).normal(size=(3, 4, 3))
    layer = fixed_masks(weights_away_from_their_start(make(), x))
    result = check_gradients(layer, x)
    assert result.passed, str(result)


class SimpleRNNCellForgettingTheMaskOnDhPrev(SimpleRNNCell):
    def step_backward(self, dstates, cache, need_dx=True):
        x, h_prev, z, h, h_mask = cache
        return super().step_backward(dstates, (x, h_prev, z, h, None), need_dx)


class LSTMCellForgettingTheInputMasksInBackward(LSTMCell):
    def step_per_gate_backward(self, dstates, cache, need_dx=True):
        *rest, masks = cache
        return super().step_per_gate_backward(dstates, (*rest, masks._replace(x=None)),
                                              need_dx)


class GRUCellForgettingTheRecurrentMasksInBackward(GRUCell):
    def step_per_gate_backward(self, dstates, cache, need_dx=True):
        *rest, masks = cache
        return super().step_per_gate_backward(dstates, (*rest, masks._replace(h=None)),
                                              need_dx)


def with_cell(layer_class, cell_class):
    return type("Wrong" + layer_class.__name__, (layer_class,), {"cell_class": cell_class})


@pytest.mark.parametrize("make, must_fail", [
    (lambda: with_cell(SimpleRNN, SimpleRNNCellForgettingTheMaskOnDhPrev)(
        3, recurrent_dropout=0.4, return_sequences=True), None),
    (lambda: with_cell(LSTM, LSTMCellForgettingTheInputMasksInBackward)(
        3, dropout=0.4, recurrent_dropout=0.4), ["x (input)"]),
    (lambda: with_cell(GRU, GRUCellForgettingTheRecurrentMasksInBackward)(
        3, recurrent_dropout=0.4), None),
])
def test_check_gradients_catches_a_backward_forgetting_a_mask(float64, make, must_fail):
    x = np.random.default_rng(2).normal(size=(3, 4, 3))
    layer = fixed_masks(weights_away_from_their_start(make(), x))
    result = check_gradients(layer, x)
    assert not result.passed
    if must_fail is not None:
        assert result.failed == must_fail
    else:
        assert "recurrent_kernel" in [name.split("/")[-1] for name in result.failed]


class SimpleRNNCellMaskingTheNewState(SimpleRNNCell):
    """The recurrent mask on the step's output h instead of on h_prev in the product."""

    def step(self, x, states, h_mask=None):
        h, _, cache = super().step(x, states)
        if h_mask is not None:
            h = h * h_mask
        return h, [h], cache


class LSTMCellWithOneRecurrentMaskForEveryGate(LSTMCell):
    """Gate i's recurrent mask on all four gates (implementation 2's product, masked)."""

    def step_per_gate(self, x, states, masks):
        if masks.h is not None:
            masks = masks._replace(h=np.broadcast_to(masks.h[0], masks.h.shape))
        return super().step_per_gate(x, states, masks)


class GRUCellMaskingHPrevInTheMixToo(GRUCell):
    """The update gate's recurrent mask also on h_prev in h = z * h_prev + (1 - z) * n."""

    def step_per_gate(self, x, states, masks):
        h, _, cache = super().step_per_gate(x, states, masks)
        z = cache[6]
        h = h + z * states[0] * (masks.h[0] - 1)
        return h, [h], cache


@pytest.mark.parametrize("layer, wrong_cell", [
    (SimpleRNN(3, recurrent_dropout=0.5, return_sequences=True), SimpleRNNCellMaskingTheNewState),
    (LSTM(3, recurrent_dropout=0.5), LSTMCellWithOneRecurrentMaskForEveryGate),
    (GRU(3, dropout=0.2, recurrent_dropout=0.5), GRUCellMaskingHPrevInTheMixToo),
], ids=["SimpleRNN", "LSTM", "GRU"])
def test_a_mask_in_the_wrong_place_fails_against_keras(layer, wrong_cell):
    """The same check as above; only the cell's class differs (its config stays Keras's)."""
    check_layer_against_keras(layer, (4, 4, 3), seed=11)
    layer.cell.__class__ = wrong_cell
    with pytest.raises(AssertionError):
        check_layer_against_keras(layer, (4, 4, 3), seed=11)


# -- configs, files, errors ----------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    SimpleRNN(3, dropout=0.25, recurrent_dropout=0.5, name="s"),
    LSTM(4, dropout=0.1, recurrent_dropout=0.3, seed=2, name="l"),
    GRU(2, recurrent_dropout=0.5, reset_after=False, name="g"),
    Bidirectional(GRU(3, dropout=0.2, return_sequences=True), name="b"),
], ids=["SimpleRNN", "LSTM", "GRU", "Bidirectional"])
def test_configs_keep_the_rates_both_ways(layer):
    ours = layer_to_config(layer, "float32")
    keras_layer = keras.layers.deserialize(ours)
    theirs = keras.layers.serialize(keras_layer)
    assert ours["config"] == theirs["config"]
    again = minidl.saving.layer_config.layer_from_config(theirs)
    assert layer_to_config(again, "float32") == ours
    cell = (again.forward_layer if isinstance(again, Bidirectional) else again).cell
    keras_cell = (keras_layer.forward_layer if isinstance(layer, Bidirectional)
                  else keras_layer).cell
    assert (cell.dropout, cell.recurrent_dropout, cell.implementation) == (
        keras_cell.dropout, keras_cell.recurrent_dropout,
        getattr(keras_cell, "implementation", 2))


def test_keras_files_keep_the_rates_both_ways(tmp_path):
    minidl.utils.set_random_seed(7)
    x, _ = sequences(n=6)
    model = stacked()
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "minidl.keras")
    theirs = keras.saving.load_model(tmp_path / "minidl.keras")
    close(theirs.predict(x, verbose=0), expected, 6)
    assert (theirs.layers[0].dropout, theirs.layers[0].recurrent_dropout) == (0.2, 0.25)
    theirs.save(tmp_path / "keras.keras")
    back = minidl.saving.load_model(tmp_path / "keras.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), expected)
    assert [layer_to_config(a, "float32") for a in back.layers] == [
        layer_to_config(b, "float32") for b in model.layers]


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("argument, rate", [("dropout", 1.5), ("recurrent_dropout", -0.2),
                                            ("dropout", 1.0), ("recurrent_dropout", "0.5")])
def test_rates_outside_zero_one_are_refused(name, argument, rate):
    """Keras's cells clip a number into [0, 1] without a word (and at 1, LSTM and GRU drop
    nothing while SimpleRNN drops everything); minidl refuses it by name."""
    if not isinstance(rate, str):
        keras_rate = getattr(getattr(keras.layers, name)(3, **{argument: rate}).cell, argument)
        assert keras_rate == min(1.0, max(0.0, rate))
    with pytest.raises(ValueError) as error:
        CLASSES[name](3, **{argument: rate})
    assert str(error.value) == (
        f"Invalid value received for argument `{argument}`. Expected a float value between "
        f"0 and 1 (1 excluded). Received: {argument}={rate}")


def test_seed_must_be_an_integer():
    with pytest.raises(ValueError, match="Received: seed='s'"):
        LSTM(3, dropout=0.5, seed="s")


def test_keras_without_minidl_s_masks_is_told_what_to_do():
    model = minidl.Sequential([minidl.Input((3, 2)), GRU(2, recurrent_dropout=0.3, name="g")])
    twin = keras_twin(model)
    with shared_noise(model, twin), pytest.raises(Exception, match="run each training step in "
                                                                    "minidl first"):
        twin(np.ones((2, 3, 2), np.float32), training=True)
    other = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(2, name="g")])
    with pytest.raises(ValueError, match="must be a keras.layers.GRU"):
        with shared_noise(model, other):
            pass
