"""Keras's generic `RNN(cell)` with SimpleRNNCell, LSTMCell, GRUCell and StackedRNNCells.

- live Keras: RNN of a drawn cell, or of a drawn stack of two or three cells, made from the
  minidl layer's saved config with the same weights, gives the same outputs (and final states
  with return_state, one cell) and the same input and weight gradients, over drawn shapes and
  options. Tolerance: tests/test_recurrent.py's `close` (rtol 1e-5, atol T * 1e-6 times the
  largest entry: each of the T steps rounds in float32 and the state carries it on; a stack
  adds a few products per step, within the same bound).
- float64 central differences through a stack (every weight of every cell and the input),
  with a negative control: a stack whose backward forgets to send cell 2's input gradient
  down to cell 1 must fail.
- a twin fit (History to rtol 1e-5), masks from Embedding(mask_zero=True), Bidirectional(RNN),
  configs, weight names and order, .keras and .weights.h5 files both ways, summary(), and the
  errors: Keras's for a non-cell, minidl's for a cell of one's own inside a stack (alone, it
  runs: tests/test_rnn_custom_cells.py), dropout inside a stack and return_state with a
  stack.
"""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.models import load_model
from minidl.saving.layer_config import layer_from_config, layer_to_config
from minidl.testing import check_gradients
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, assert_same_summary
from tests.test_recurrent import (as_list, close, keras_outputs_and_grads, keras_twin_layer,
                                  minidl_outputs_and_grads)

CELLS = {"SimpleRNNCell": layers.SimpleRNNCell, "LSTMCell": layers.LSTMCell,
         "GRUCell": layers.GRUCell}


@st.composite
def cell_arguments(draw):
    kind = draw(st.sampled_from(sorted(CELLS)))
    arguments = dict(units=draw(st.integers(1, 4)), use_bias=draw(st.booleans()),
                     activation=draw(st.sampled_from(["tanh", "relu", "sigmoid"])))
    if kind != "SimpleRNNCell":
        arguments["recurrent_activation"] = draw(st.sampled_from(["sigmoid", "hard_sigmoid"]))
    if kind == "LSTMCell":
        arguments["unit_forget_bias"] = draw(st.booleans())
    if kind == "GRUCell":
        arguments["reset_after"] = draw(st.booleans())
    return kind, arguments


@st.composite
def rnn_cases(draw):
    """(cell or cells, RNN arguments, input shape (N,T,D), seed)."""
    stacked = draw(st.booleans())
    cells = draw(st.lists(cell_arguments(), min_size=2, max_size=3)) if stacked else \
        draw(cell_arguments())
    arguments = dict(return_sequences=draw(st.booleans()), go_backwards=draw(st.booleans()),
                     unroll=draw(st.booleans()),
                     return_state=(not stacked) and draw(st.booleans()))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 4)))
    return cells, arguments, shape, draw(st.integers(0, 2**16))


def make_cells(cells):
    if isinstance(cells, list):
        return [CELLS[kind](**arguments) for kind, arguments in cells]
    kind, arguments = cells
    return CELLS[kind](**arguments)


@given(rnn_cases())
def test_rnn_of_cells_matches_keras(case):
    cells, arguments, shape, seed = case
    layer = layers.RNN(make_cells(cells), **arguments)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    layer(x)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32)
                       for w in layer.get_weights()])
    shapes = layer.compute_output_shape(shape)
    dys = [rng.normal(size=s).astype(np.float32)
           for s in (shapes if isinstance(shapes, list) else [shapes])]
    ys, dx, grads = minidl_outputs_and_grads(layer, x, dys)
    twin = keras_twin_layer(layer, shape)
    assert type(twin.cell).__name__ == type(layer.cell).__name__
    assert [w.path for w in twin.weights] == [w.path for w in layer.weights]
    keras_ys, keras_dx, keras_grads = keras_outputs_and_grads(twin, x, dys)
    steps = shape[1]
    assert len(ys) == len(keras_ys)
    for y, keras_y in zip(ys, keras_ys):
        assert y.shape == keras_y.shape
        close(y, keras_y, steps)
    close(dx, keras_dx, steps)
    assert len(grads) == len(keras_grads) == len(layer.trainable_weights)
    for grad, keras_grad in zip(grads, keras_grads):
        close(grad, keras_grad, steps)


def test_rnn_of_a_cell_is_the_layer_of_that_cell():
    """RNN(LSTMCell(3)) computes what LSTM(3) computes, weight for weight."""
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    for cell, layer in [(layers.SimpleRNNCell(3), layers.SimpleRNN(3)),
                        (layers.LSTMCell(3), layers.LSTM(3)), (layers.GRUCell(3), layers.GRU(3))]:
        rnn = layers.RNN(cell)
        rnn(x), layer(x)
        rnn.set_weights(layer.get_weights())
        np.testing.assert_array_equal(rnn(x), layer(x))


# -- gradient checks, with a negative control --------------------------------------------------
class StackWithoutInputGradient(layers.StackedRNNCells):
    """A wrong backward: cell l's input gradient never reaches cell l-1's output."""

    def step_backward(self, dstates, caches, need_dx=True):
        dprev, grads = [], {}
        dstates_per_cell = self._split(dstates)
        dh = None
        for l in reversed(range(len(self.cells))):
            dh_cell, cell_dprev, cell_grads = self.cells[l].step_backward(
                list(dstates_per_cell[l]), caches[l], need_dx=True)
            dh = dh_cell if dh is None else dh_cell  # dh dropped on the way down
            dprev = cell_dprev + dprev
            grads.update(cell_grads)
        return dh, dprev, grads


def stack_cells():
    return [layers.LSTMCell(3), layers.GRUCell(2, reset_after=False), layers.SimpleRNNCell(2)]


def test_stacked_cells_gradient_check_and_negative_control(float64):
    x = np.random.default_rng(1).normal(size=(2, 4, 3))
    layer = layers.RNN(stack_cells(), return_sequences=True)
    result = check_gradients(layer, x)
    assert result.passed, str(result)
    assert len(result.rows) == 3 * 3 + 1  # every weight of every cell, and x
    wrong = check_gradients(layers.RNN(StackWithoutInputGradient(stack_cells()),
                                       return_sequences=True), x)
    assert "x (input)" in wrong.failed and len(wrong.failed) >= 4, str(wrong)


# -- in models: fit, masks, Bidirectional, files, summary --------------------------------------
def stacked_model():
    inputs = minidl.Input((5,))
    h = layers.Embedding(7, 4, mask_zero=True)(inputs)
    h = layers.RNN([layers.GRUCell(4), layers.LSTMCell(3)], return_sequences=True,
                   name="stack")(h)
    h = layers.Bidirectional(layers.RNN(layers.SimpleRNNCell(2), name="simple"))(h)
    model = minidl.Model(inputs, layers.Dense(3, activation="softmax")(h), name="cells")
    model.compile(optimizer=minidl.optimizers.Adam(0.02),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=24, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 7, size=(n, 5))
    x[rng.random((n, 5)) < 0.3] = 0  # padded steps the mask hides
    return x, rng.integers(0, 3, n)


def test_twin_fit_with_masks_and_bidirectional():
    model = stacked_model()
    twin = keras_twin(model)
    x, y = data()
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, validation_split=0.25)


def test_summary_matches_keras(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    model = minidl.Sequential([minidl.Input((5, 3)),
                               layers.RNN(stack_cells(), return_sequences=True, name="stack"),
                               layers.RNN(layers.GRUCell(2), name="gru"), layers.Dense(2)])
    twin = keras_twin(model)
    assert_same_summary(model, twin, capsys)


def test_files_both_ways(tmp_path):
    model = stacked_model()
    x, _ = data(6)
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    theirs.save_weights(tmp_path / "theirs.weights.h5")  # layers/rnn/cell/cells/gru_cell/vars
    fresh = stacked_model()
    fresh.load_weights(tmp_path / "theirs.weights.h5")
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_configs_are_kerass_and_build_each_other():
    for cell in [layers.SimpleRNNCell(3, activation="relu", dropout=0.1, seed=4),
                 layers.LSTMCell(2, unit_forget_bias=False, kernel_regularizer="l2"),
                 layers.GRUCell(2, reset_after=False, recurrent_constraint="non_neg")]:
        written = layer_to_config(cell, "float32")
        keras_cell = keras.layers.deserialize(written)
        assert written["config"] == keras_cell.get_config()
        assert layer_to_config(layer_from_config(keras.layers.serialize(keras_cell)),
                               "float32") == written
    rnn = layers.RNN([layers.LSTMCell(2), layers.GRUCell(3)], go_backwards=True, name="r")
    rnn(np.zeros((1, 2, 3), np.float32))
    written = layer_to_config(rnn, "float32")
    keras_rnn = keras.layers.deserialize(copy.deepcopy(written))  # Keras pops "cell"
    assert type(keras_rnn.cell).__name__ == "StackedRNNCells"
    ours, theirs = written["config"], keras_rnn.get_config()
    strip = lambda c: {k: v for k, v in c.items() if k not in ("cell", "cells")}  # noqa: E731
    assert strip(ours) == strip(theirs)
    assert [c["config"] for c in ours["cell"]["config"]["cells"]] == \
        [c["config"] for c in theirs["cell"]["config"]["cells"]]
    back = layer_from_config(written)
    assert [type(c).__name__ for c in back.cell.cells] == ["LSTMCell", "GRUCell"]


# -- errors -------------------------------------------------------------------------------------
class MyCell(minidl.layers.Layer):
    state_size = 3

    def call(self, inputs, states):
        return inputs, states


def test_errors():
    with pytest.raises(ValueError) as raised:
        layers.RNN(layers.Dense(3))
    with pytest.raises(ValueError) as keras_raised:
        keras.layers.RNN(keras.layers.Dense(3, name=layers.Dense(3).name))
    assert str(raised.value).split("Received")[0] == str(keras_raised.value).split("Received")[0]
    with pytest.raises(ValueError, match=r"StackedRNNCells .* takes Keras's built-in cells "
                                         r"only .* Received: cells=<MyCell"):
        layers.RNN([layers.LSTMCell(2), MyCell()])
    with pytest.raises(ValueError, match=r"`dropout` or `recurrent_dropout` in cells inside "
                                         r"StackedRNNCells"):
        layers.RNN([layers.LSTMCell(2, recurrent_dropout=0.2), layers.GRUCell(2)])
    with pytest.raises(ValueError, match=r"`return_state=True` with StackedRNNCells"):
        layers.RNN([layers.LSTMCell(2), layers.GRUCell(2)], return_state=True)
    with pytest.raises(ValueError, match="Received an invalid value for argument `units`"):
        layers.LSTMCell(0)
    rnn = layers.RNN([layers.LSTMCell(2), layers.GRUCell(2)])
    rnn(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        rnn(np.zeros((1, 2, 4), np.float32))
    assert as_list(rnn(np.zeros((1, 2, 3), np.float32)))[0].shape == (1, 2)
