"""RNN(cell) with a cell of your own: the same program in minidl and in Keras, the same numbers.

The cells, each written once and made for both libraries (`cell_classes`):
- MinimalRNNCell, from the Keras RNN docstring (its own kernel and recurrent kernel, ops.matmul);
- LNSimpleRNNCell, Géron's (ch. 15): a built-in SimpleRNNCell called inside, then
  LayerNormalization and tanh;
- RunningSumCell: two states (state_size a list), an output that is neither state, its own
  get_initial_state (ones), and a config only its own from_config reads, so every part of
  Keras's protocol is used.

What is checked, against live Keras:
- layer by layer (hypothesis over the cell, return_sequences, go_backwards, return_state,
  unroll, initial_state and shapes): outputs, and from tf.GradientTape the gradients of the
  input, of the initial states and of every weight of the cell and its sublayers. Keras's RNN
  is made from minidl's config (the cell through custom objects), with minidl's weights.
  Tolerance: tests/test_recurrent.py's `close` (rtol 1e-5, atol T * 1e-6 times the largest
  entry): each step rounds a few float32 products and sums (eps 6e-8), and the state carries
  every step's rounding into the next, T steps forward and T back.
- models with masks (Masking; Embedding(mask_zero=True) feeding two RNNs of own cells, one
  with return_sequences): a fit of 2 epochs against the Keras twin, History to rtol 1e-5 (the
  float32 rounding above, over a few batches of updates: ~1e-6 relative; a wrong gradient
  term moves the loss by far more after the first update), and the weights after one SGD
  step (lr 1): w0 - w1 is the gradient, compared at rtol 1e-5 and an atol of
  eps32 * max|w|, the rounding of w0 - g to float32 in both libraries.
- negative controls: a cell whose recurrent product passes no gradient back to the previous
  state (a truncated BPTT: the same forward, a wrong gradient) must fail the SGD-step
  comparison and the float64 central differences (minidl.testing.check_gradients, every
  weight and the input, tolerance 1e-5 relative), which the three cells pass.
- Bidirectional over Géron's cell (the cell a custom object in both), outputs and gradients.
- built-in cells called by themselves, `cell(x, states)`, as Keras's (what Géron's cell does).
- configs, and .keras files both ways with the cells as custom objects.
- the refusals: nested states (the Keras guide's NestedCell), a list of own cells, stateful,
  add_loss inside a cell, dropout in a built-in cell called by itself; and Keras's errors for
  a cell without `state_size` and with a bad output.
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.models import load_model
from minidl.saving.layer_config import layer_to_config
from minidl.tape import Tape
from minidl.testing import check_gradients
from minidl.saving.config import model_to_config
from reference.twins import keras_optimizer
from tests.parity import assert_same_fit
from tests.test_recurrent import as_list, close


# -- the cells, written once for both libraries ------------------------------------------------
def cell_classes(lib, ops, activations):
    """{name: class} of the three cells (and the wrong one), for keras or minidl."""

    class MinimalRNNCell(lib.layers.Layer):
        """The Keras RNN docstring's cell: output = x @ W + h_prev @ U, the state."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class LNSimpleRNNCell(lib.layers.Layer):
        """Géron's cell (Hands-On Machine Learning, ch. 15): SimpleRNNCell, then LayerNorm."""

        def __init__(self, units, activation="tanh", **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units
            self.output_size = units
            self.simple_rnn_cell = lib.layers.SimpleRNNCell(units, activation=None)
            self.layer_norm = lib.layers.LayerNormalization()
            self.activation = activations.get(activation)

        def call(self, inputs, states):
            outputs, new_states = self.simple_rnn_cell(inputs, states)
            norm_outputs = self.activation(self.layer_norm(outputs))
            return norm_outputs, [norm_outputs]

        def get_config(self):
            return {**super().get_config(), "units": self.units,
                    "activation": activations.serialize(self.activation)}

    class RunningSumCell(lib.layers.Layer):
        """Two states, h and a running sum s of h; the output tanh(s) is neither."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, units]
            self.output_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            h_prev, s_prev = states
            h = ops.tanh(ops.matmul(inputs, self.kernel)
                         + ops.matmul(h_prev, self.recurrent_kernel))
            s = s_prev * 0.5 + h
            return ops.tanh(s), [h, s]

        def get_initial_state(self, batch_size=None):
            return [ops.zeros((batch_size, self.units)), ops.ones((batch_size, self.units))]

        def get_config(self):  # "size", which only its own from_config reads
            return {**super().get_config(), "size": self.units}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            return cls(config.pop("size"), **config)

    return {"MinimalRNNCell": MinimalRNNCell, "LNSimpleRNNCell": LNSimpleRNNCell,
            "RunningSumCell": RunningSumCell}


OURS = cell_classes(minidl, minidl.ops, minidl.activations)
THEIRS = cell_classes(keras, keras.ops, keras.activations)


class _NoStateGradient(layers.Layer):
    """h_prev @ U with a deliberately wrong backward: no gradient to h_prev (truncated BPTT)."""

    def forward(self, inputs, training=False):
        h_prev, U = inputs
        return h_prev @ U, inputs  # (N,U) @ (U,U) -> (N,U)

    def backward(self, dy, cache, need_dx=True):
        h_prev, U = cache
        return [np.zeros_like(h_prev), h_prev.T @ dy], {}  # the first should be dy @ U.T


class TruncatedRNNCell(OURS["MinimalRNNCell"]):
    """MinimalRNNCell's forward, with a wrong gradient: the negative control."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.product = _NoStateGradient()

    def call(self, inputs, states):
        output = minidl.ops.matmul(inputs, self.kernel) + self.product(
            [states[0], minidl.ops.multiply(self.recurrent_kernel, 1.0)])
        return output, [output]


def ours(name, units):
    return OURS[name](units)


def randomize(layer_or_model, seed):
    """N(0, 0.5) weights (LayerNormalization's gamma and beta too), as float32."""
    rng = np.random.default_rng(seed)
    layer_or_model.set_weights([(0.5 * rng.normal(size=w.shape)).astype(np.float32)
                                for w in layer_or_model.get_weights()])


def keras_layer(layer, inputs):
    """Keras's RNN from minidl's config (the cell a custom object), called once to build the
    cell's sublayers, with minidl's weights."""
    with keras.saving.custom_object_scope(THEIRS):
        twin = keras.layers.deserialize(layer_to_config(layer, "float32"))
    twin(inputs[0], initial_state=inputs[1:] or None)
    twin.set_weights(layer.get_weights())
    return twin


# -- layer by layer, against Keras -------------------------------------------------------------
@st.composite
def layer_cases(draw):
    name = draw(st.sampled_from(sorted(OURS)))
    arguments = dict(return_sequences=draw(st.booleans()), go_backwards=draw(st.booleans()),
                     return_state=draw(st.booleans()), unroll=draw(st.booleans()))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    return name, draw(st.integers(1, 3)), arguments, shape, draw(st.booleans()), \
        draw(st.integers(0, 2**16))


@given(layer_cases())
def test_outputs_and_gradients_match_keras(case):
    name, units, arguments, shape, with_states, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)  # (N,T,D)
    layer = layers.RNN(ours(name, units), **arguments)
    sizes = layer.state_sizes
    states = [rng.normal(size=(shape[0], s)).astype(np.float32) for s in sizes] \
        if with_states else []
    layer(x, initial_state=states or None)
    randomize(layer, seed)
    twin = keras_layer(layer, [x] + states)

    with Tape() as tape:
        ys = as_list(layer(x, initial_state=states or None, training=True))
    dys = [rng.normal(size=y.shape).astype(np.float32) for y in ys]
    grads = tape.gradient(list(zip(ys, dys)), layer.trainable_weights, inputs=[x] + states)

    watched = [tf.constant(a) for a in [x] + states]
    with tf.GradientTape() as keras_tape:
        keras_tape.watch(watched)
        keras_ys = as_list(twin(watched[0], initial_state=watched[1:] or None))
    keras_grads = keras_tape.gradient(keras_ys, twin.trainable_weights + watched,
                                      output_gradients=[tf.constant(d) for d in dys])
    steps = shape[1]
    assert len(ys) == len(keras_ys) and len(grads) == len(keras_grads)
    for y, keras_y in zip(ys, keras_ys):
        close(y, keras_y, steps)
    for grad, keras_grad in zip(grads, keras_grads):
        close(grad, keras_grad, steps)
    for y, keras_y in zip(as_list(layer(x, initial_state=states or None)), keras_ys):
        close(y, keras_y, steps)  # outside a training step: the same loop, unrecorded


def test_bidirectional_over_an_own_cell_matches_keras():
    """Bidirectional copies its layer through the config, so the cell must be a custom object
    there, in both libraries."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    with minidl.saving.custom_object_scope(OURS):
        layer = layers.Bidirectional(layers.RNN(ours("LNSimpleRNNCell", 3),
                                                return_sequences=True), merge_mode="sum")
        layer(x)
    randomize(layer, 9)
    with keras.saving.custom_object_scope(THEIRS):
        twin = keras.layers.Bidirectional(keras.layers.RNN(
            THEIRS["LNSimpleRNNCell"](3), return_sequences=True), merge_mode="sum")
        twin(x)
    twin.set_weights(layer.get_weights())
    with Tape() as tape:
        y = layer(x, training=True)
    dy = rng.normal(size=y.shape).astype(np.float32)
    grads = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
    x_tf = tf.constant(x)
    with tf.GradientTape() as keras_tape:
        keras_tape.watch(x_tf)
        keras_y = twin(x_tf)
    keras_grads = keras_tape.gradient(keras_y, twin.trainable_weights + [x_tf],
                                      output_gradients=tf.constant(dy))
    close(y, keras_y, 4)
    assert len(grads) == len(keras_grads) == 11
    for grad, keras_grad in zip(grads, keras_grads):
        close(grad, keras_grad, 4)


# -- models with masks: a fit, and one SGD step ------------------------------------------------
T, D, V = 5, 3, 7


def padded_ids(n=24, seed=0):
    """Token ids (N,T) with 0 as padding, at the end or the start of a row."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, V, size=(n, T))
    for row, length in enumerate(rng.integers(1, T + 1, size=n)):
        if row % 2:
            ids[row, length:] = 0
        else:
            ids[row, :T - length] = 0
    return ids.astype(np.float32)


def masked_model(cell="MinimalRNNCell"):
    """Masking (0.0) -> RNN(cell, go_backwards=True) -> Dense(1)."""
    cell = TruncatedRNNCell(4) if cell == "truncated" else ours(cell, 4)
    return minidl.Sequential([minidl.Input((T, D)), layers.Masking(0.0),
                              layers.RNN(cell, go_backwards=True), layers.Dense(1)])


def embedded_model():
    """Embedding(mask_zero=True) -> RNN(LNSimpleRNNCell, return_sequences) -> RNN(RunningSum)."""
    return minidl.Sequential([minidl.Input((T,)), layers.Embedding(V, D, mask_zero=True),
                              layers.RNN(ours("LNSimpleRNNCell", 4), return_sequences=True),
                              layers.RNN(ours("RunningSumCell", 3)), layers.Dense(1)])


def data(model_kind, n=24):
    ids = padded_ids(n)
    rng = np.random.default_rng(1)
    if model_kind == "embedded":
        x = ids
    else:
        x = rng.normal(size=(n, T, D)).astype(np.float32) * (ids[:, :, None] > 0)
    y = rng.normal(size=(n, 1)).astype(np.float32)
    return x, y


def twins(model, seed, x, **compile_arguments):
    """The model compiled with N(0, 0.5) weights, and its Keras twin: made from its config
    (the cells custom objects), called once (Keras builds the layers a cell makes in __init__
    on its first call), given the same weights and compiled alike."""
    model.compile(**compile_arguments)
    randomize(model, seed)
    with keras.saving.custom_object_scope({**THEIRS, "TruncatedRNNCell":
                                           THEIRS["MinimalRNNCell"]}):
        twin = keras.saving.deserialize_keras_object(
            model_to_config(model, with_compile=False, nearest_builtin=True))
    twin.predict(x[:1], verbose=0)
    twin.set_weights(model.get_weights())
    twin.compile(**{**compile_arguments, "optimizer": keras_optimizer(model.optimizer)})
    return model, twin


@pytest.mark.parametrize("kind", ["masked", "embedded"])
def test_a_fit_of_two_epochs_matches_keras(kind):
    model = masked_model() if kind == "masked" else embedded_model()
    x, y = data(kind)
    model, twin = twins(model, 3, x, optimizer="adam", loss="mse", metrics=["mae"])
    history = assert_same_fit(twin, model, x, y, epochs=2, batch_size=8)
    assert history["loss"][-1] < history["loss"][0]


def sgd_step_deltas(model, x, y):
    """w0 - w1 for every weight after one SGD step with lr 1 on the whole batch: -gradient."""
    before = model.get_weights()
    model.train_on_batch(x, y)
    return before, [b - a for b, a in zip(before, model.get_weights())]


def assert_same_step(model, twin, x, y):
    before, ours_ = sgd_step_deltas(model, x, y)
    _, theirs = sgd_step_deltas(twin, x, y)
    for w, d, keras_d in zip(before, ours_, theirs):
        atol = np.finfo(np.float32).eps * max(1.0, float(np.abs(w).max()))  # w0 - g, rounded
        np.testing.assert_allclose(d, keras_d, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("kind", ["masked", "embedded", "truncated"])
def test_weights_after_one_sgd_step_match_keras_and_a_wrong_gradient_does_not(kind):
    model = embedded_model() if kind == "embedded" else masked_model(
        "truncated" if kind == "truncated" else "MinimalRNNCell")
    x, y = data(kind)
    model, twin = twins(model, 4, x, optimizer=minidl.optimizers.SGD(1.0), loss="mse")
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # the same forward, even the wrong one
    if kind != "truncated":
        assert_same_step(model, twin, x, y)
    else:  # the negative control: the comparison sees a gradient that stops at one step
        with pytest.raises(AssertionError):
            assert_same_step(model, twin, x, y)


# -- float64 central differences, with a negative control --------------------------------------
@pytest.mark.parametrize("name, arguments", [
    ("MinimalRNNCell", dict(return_sequences=True)),
    ("LNSimpleRNNCell", dict(go_backwards=True)),
    ("RunningSumCell", dict(return_sequences=True, go_backwards=True)),
])
def test_central_differences_pass(float64, name, arguments):
    x = np.random.default_rng(5).normal(size=(2, 4, 3))
    layer = layers.RNN(ours(name, 3), **arguments)
    layer(x)
    randomize(layer, 5)
    result = check_gradients(layer, x)
    assert result.passed, result


def test_central_differences_catch_a_gradient_that_stops_at_one_step(float64):
    x = np.random.default_rng(5).normal(size=(2, 4, 3))
    layer = layers.RNN(TruncatedRNNCell(3))
    layer(x)
    randomize(layer, 5)
    result = check_gradients(layer, x)
    assert not result.passed
    assert {"x (input)", "kernel", "recurrent_kernel"} <= {
        name.split("/")[-1] for name in result.failed}


# -- built-in cells called by themselves -------------------------------------------------------
@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_a_builtin_cell_called_by_itself_is_kerass(name):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    cell, keras_cell = getattr(layers, name)(4), getattr(keras.layers, name)(4)
    states = [rng.normal(size=(2, 4)).astype(np.float32) for _ in cell.state_sizes]
    h, new = cell(x, states)
    keras_cell.build((None, 3))
    keras_cell.set_weights(cell.get_weights())
    keras_h, keras_new = keras_cell(x, states)
    assert isinstance(new, list) and len(new) == len(keras_new)
    for ours_, theirs in zip([h] + new, [keras_h] + list(keras_new)):
        np.testing.assert_allclose(ours_, theirs, rtol=1e-5, atol=1e-6)
    if name != "LSTMCell":  # a single state in, a single state out (Keras's SimpleRNNCell, GRU)
        h, new = cell(x, states[0])
        np.testing.assert_allclose(new, keras_cell(x, states[0])[1], rtol=1e-5, atol=1e-6)


# -- configs and files ---------------------------------------------------------------------------
def test_configs_are_kerass_and_files_cross_both_ways(tmp_path):
    """minidl's file of Minimal and RunningSum cells into Keras, Keras's file of Géron's cell
    into minidl. (Keras cannot read its own file of Géron's cell: it builds the cell's
    SimpleRNNCell and LayerNormalization on a first call, after the weights are read.)"""
    x, _ = data("embedded", n=6)
    model, twin = twins(embedded_model(), 7, x, optimizer="sgd", loss="mse")
    for ours_, theirs in zip(model.layers[1:3], twin.layers[1:3]):
        config, keras_config = ours_.get_config(), theirs.get_config()
        cell, keras_cell = config.pop("cell"), keras_config.pop("cell")
        assert config == {k: v for k, v in keras_config.items() if k != "dtype"}
        assert cell["class_name"] == keras_cell["class_name"]
        assert {k: v for k, v in cell["config"].items() if k != "dtype"} == \
            {k: v for k, v in keras_cell["config"].items() if k != "dtype"}
    twin.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras", custom_objects=OURS)
    assert type(back.layers[1].cell) is OURS["LNSimpleRNNCell"]
    np.testing.assert_allclose(back.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)

    x, _ = data("masked", n=6)
    model = minidl.Sequential([minidl.Input((T, D)), layers.Masking(0.0),
                               layers.RNN(ours("MinimalRNNCell", 4), return_sequences=True),
                               layers.RNN(ours("RunningSumCell", 3)), layers.Dense(1)])
    randomize(model, 8)
    model.save(tmp_path / "ours.keras")
    loaded = keras.saving.load_model(tmp_path / "ours.keras", custom_objects=THEIRS)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# -- refusals and errors -------------------------------------------------------------------------
class NestedCell(minidl.layers.Layer):
    """The Keras guide's NestedCell, in outline: a state_size of shapes."""

    state_size = [[3], [2, 2]]

    def call(self, inputs, states):
        return inputs, states


class LossyCell(OURS["MinimalRNNCell"]):
    def call(self, inputs, states):
        output, new = super().call(inputs, states)
        self.add_loss(minidl.ops.mean(output))
        return output, new


class NoStateSize(minidl.layers.Layer):
    def call(self, inputs, states):
        return inputs, states


def test_what_is_left_out_is_refused_by_name():
    x = np.zeros((2, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"nested states .* NestedCell\) are not implemented"
                                         r"\. Received: state_size=\[\[3\], \[2, 2\]\]"):
        layers.RNN(NestedCell())
    with pytest.raises(ValueError, match=r"StackedRNNCells .* takes Keras's built-in cells "
                                         r"only .* Received: cells=<MinimalRNNCell"):
        layers.RNN([ours("MinimalRNNCell", 2), ours("MinimalRNNCell", 2)])
    with pytest.raises(ValueError, match=r"minidl does not support `stateful` other than "
                                         r"False .* Received: stateful=True"):
        layers.RNN(ours("MinimalRNNCell", 2), stateful=True)
    rnn = layers.RNN(LossyCell(2))
    rnn(x)  # outside a training step, add_loss only notes the value
    with pytest.raises(ValueError, match=r"add_loss\(\) or an activity_regularizer inside the "
                                         r"cell of RNN"):
        with Tape():
            rnn(x, training=True)
    cell = layers.SimpleRNNCell(2, dropout=0.5)
    with pytest.raises(ValueError, match=r"`dropout` or `recurrent_dropout` in a SimpleRNNCell "
                                         r"called by itself"):
        cell(x[:, 0], [np.zeros((2, 2), np.float32)])


def test_kerass_errors_for_a_cell_without_state_size_and_a_bad_output():
    with pytest.raises(ValueError) as raised:
        layers.RNN(NoStateSize())
    with pytest.raises(ValueError) as keras_raised:
        keras.layers.RNN(keras.layers.Dense(2))
    assert str(raised.value).split("Received")[0] == str(keras_raised.value).split("Received")[0]

    class WrongSize(OURS["MinimalRNNCell"]):
        def call(self, inputs, states):
            return inputs, states  # (N,D) is not (N,U)
    with pytest.raises(ValueError, match=r"must return \(output, new_states\) with an output "
                                         r"of shape \(batch_size, 2\)"):
        layers.RNN(WrongSize(2))(np.zeros((2, 3, 5), np.float32))
