"""Stateful recurrent layers (`stateful=True`) against live Keras: Géron's char-RNN (Hands-On
ML, ch. 16), where a stateful GRU reads batches of consecutive windows, each row of a batch
continuing the same row of the batch before, with its states reset at each epoch's start.

What Keras 3.15 does, and these tests check (keras/src/layers/rnn/rnn.py):
- the final states of every call (fit, evaluate, predict, a plain call) start the next call;
  no gradient reaches the batch before (truncated backpropagation through time);
- `layer.reset_state()` (and its alias `reset_states()`) puts them to zeros; a model has no
  `reset_states()` in Keras 3, so the callback resets each stateful layer;
- the batch size is fixed when the layer is built (`Input(batch_shape=...)`), and the
  states are in no `weights` list and in no `.keras` file (a loaded model starts at zeros).

Tolerances: Histories, predictions, weights and states after fit rtol 1e-5 (atol 1e-6 where
values cross zero), as the repo's other recurrent comparisons: each float32 product and
activation agrees with TensorFlow's to a few roundings, and 12 Adam steps carry that along.
The states after one call, before any training: rtol 1e-6, atol 1e-7 (a few float32
roundings through 5 steps). Chunks of a sequence read by a stateful layer against the whole
sequence read at once (minidl alone): the same steps on the same numbers, rtol 1e-6, atol
1e-7 (BLAS may add a product of another shape in another order).
"""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import keras
import minidl
from minidl import layers
from minidl.saving.layer_config import layer_to_config
from parity import assert_same_loss_and_gradients
from reference.gradients import keras_loss_and_gradients
from reference.twins import keras_twin

BATCH, STEPS, VOCAB, BATCHES = 4, 5, 10, 4


def char_windows(seed=0):
    """Géron's layout for a stateful char-RNN: BATCH streams of text side by side; batch k
    holds the k-th window of every stream, so row j of batch k+1 continues row j of batch k.
    Returns the windows (BATCH*BATCHES, STEPS) and the next character of each step."""
    rng = np.random.default_rng(seed)
    streams = rng.integers(0, VOCAB, size=(BATCH, BATCHES * STEPS + 1))
    x = np.concatenate([streams[:, k * STEPS:(k + 1) * STEPS] for k in range(BATCHES)])
    y = np.concatenate([streams[:, k * STEPS + 1:(k + 1) * STEPS + 1] for k in range(BATCHES)])
    return x, y


X, Y = char_windows()


def reset_callback(framework):
    """Géron's ResetStatesCallback, in Keras 3's words: a model has no reset_states(), each
    stateful layer has reset_state()."""
    class ResetStates(framework.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            for layer in self.model.layers:
                if getattr(layer, "stateful", False):
                    layer.reset_state()
    return ResetStates()


RNNS = {
    "GRU": lambda: layers.GRU(8, stateful=True, return_sequences=True, name="rnn"),
    "LSTM": lambda: layers.LSTM(8, stateful=True, return_sequences=True, name="rnn"),
    "SimpleRNN": lambda: layers.SimpleRNN(8, stateful=True, return_sequences=True, name="rnn"),
    "RNN(GRUCell)": lambda: layers.RNN(layers.GRUCell(8), stateful=True,
                                       return_sequences=True, name="rnn"),
    "Bidirectional(LSTM)": lambda: layers.Bidirectional(
        layers.LSTM(4, stateful=True, return_sequences=True), name="rnn"),
}


def char_rnn(name):
    minidl.utils.set_random_seed(3)
    inputs = minidl.Input(batch_shape=(BATCH, STEPS))
    x = layers.Embedding(VOCAB, 3)(inputs)
    x = RNNS[name]()(x)
    outputs = layers.Dense(VOCAB, activation="softmax")(x)
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def states(layer):
    return [np.asarray(v) for v in layer.states]


def assert_same_states(ours, theirs, **tolerance):
    assert len(ours.states) == len(theirs.states)
    for mine, keras_state in zip(states(ours), states(theirs)):
        assert mine.shape == keras_state.shape
        np.testing.assert_allclose(mine, keras_state, **tolerance)


@pytest.mark.parametrize("name", list(RNNS))
def test_a_char_rnn_trains_predicts_and_evaluates_as_in_keras(name):
    model = char_rnn(name)
    twin = keras_twin(model)
    ours_layer, their_layer = model.get_layer("rnn"), twin.get_layer("rnn")
    settings = dict(batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    theirs = twin.fit(X, Y, callbacks=[reset_callback(keras)], **settings).history
    ours = model.fit(X, Y, callbacks=[reset_callback(minidl)], **settings).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    for mine, keras_weight in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(mine, keras_weight, rtol=1e-5, atol=1e-6)
    assert_same_states(ours_layer, their_layer, rtol=1e-5, atol=1e-6)  # fit's last batch

    # predict on the consecutive batches, from zeros: each batch starts where the last ended
    ours_layer.reset_state()
    their_layer.reset_state()
    assert not any(s.any() for s in states(ours_layer))
    np.testing.assert_allclose(model.predict(X, batch_size=BATCH, verbose=0),
                               twin.predict(X, batch_size=BATCH, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert_same_states(ours_layer, their_layer, rtol=1e-5, atol=1e-6)

    # evaluate carries the states on too (from where predict left them)
    np.testing.assert_allclose(model.evaluate(X, Y, batch_size=BATCH, verbose=0),
                               twin.evaluate(X, Y, batch_size=BATCH, verbose=0), rtol=1e-5)
    assert_same_states(ours_layer, their_layer, rtol=1e-5, atol=1e-6)


def test_predictions_on_consecutive_batches_depend_on_the_batches_before():
    """The control of the test above: predicting each batch from zero states (a reset before
    each) gives other numbers than predicting them in turn with the states carried."""
    model = char_rnn("GRU")
    carried = model.predict(X, batch_size=BATCH, verbose=0)  # (BATCH*BATCHES,STEPS,VOCAB)
    fresh = []
    for k in range(BATCHES):
        model.get_layer("rnn").reset_state()
        fresh.append(model.predict(X[k * BATCH:(k + 1) * BATCH], verbose=0))
    np.testing.assert_array_equal(fresh[0], carried[:BATCH])  # the first batch: from zeros
    assert not np.allclose(np.concatenate(fresh[1:]), carried[BATCH:], rtol=1e-3)


def keras_layer(layer, input_shape):
    """The Keras twin of a minidl layer: its config, built for `input_shape`, same weights."""
    twin = keras.saving.deserialize_keras_object(layer_to_config(layer, layer.dtype))
    twin.build(input_shape)
    twin.set_weights(layer.get_weights())
    return twin


LAYERS = {
    "GRU": lambda: layers.GRU(3, stateful=True),
    "GRU(reset_after=False)": lambda: layers.GRU(3, stateful=True, reset_after=False),
    "LSTM": lambda: layers.LSTM(3, stateful=True, return_state=True),
    "SimpleRNN": lambda: layers.SimpleRNN(3, stateful=True, go_backwards=True),
    "RNN(LSTMCell)": lambda: layers.RNN(layers.LSTMCell(3), stateful=True),
    "Bidirectional(GRU)": lambda: layers.Bidirectional(layers.GRU(3, stateful=True)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_the_states_after_each_call_and_after_reset_state_are_keras(name):
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(2, BATCH, STEPS, 2)).astype(np.float32)
    minidl.utils.set_random_seed(5)
    layer = LAYERS[name]()
    first = layer(x1)  # builds the layer (batch BATCH) and advances its states
    twin = keras_layer(layer, (BATCH, STEPS, 2))
    layer.reset_state()
    assert all(not s.any() and s.shape[0] == BATCH for s in states(layer))
    for x in (x1, x2):
        ours, theirs = layer(x), twin(x)
        ours, theirs = (ours, theirs) if isinstance(ours, list) else ([ours], [theirs])
        for mine, keras_output in zip(ours, theirs):  # (LSTM's return_state: [y, h, c])
            np.testing.assert_allclose(mine, keras_output, rtol=1e-6, atol=1e-7)
        assert_same_states(layer, twin, rtol=1e-6, atol=1e-7)  # carried to the next call
    layer.reset_states()  # Keras's alias
    twin.reset_states()
    assert_same_states(layer, twin, rtol=0, atol=0)  # zeros, both
    again = layer(x1)
    for mine, before in zip(again if isinstance(again, list) else [again],
                            first if isinstance(first, list) else [first]):
        np.testing.assert_array_equal(mine, before)  # from zeros again: the first call's


def test_no_gradient_reaches_the_batch_before():
    """The loss of the second batch differentiated from the states the first one left, held
    as constants (truncated BPTT), as Keras's GradientTape sees its state variables; the
    negative control: gradients from zero states differ."""
    model = char_rnn("LSTM")
    twin = keras_twin(model)
    first, second = slice(0, BATCH), slice(BATCH, 2 * BATCH)
    model.predict(X[first], verbose=0)
    twin.predict(X[first], verbose=0)
    assert_same_loss_and_gradients(twin, model, X[second], Y[second])
    _, ours = model.loss_and_gradients(X[second], Y[second])  # from the states just left
    twin.get_layer("rnn").reset_state()
    _, from_zeros = keras_loss_and_gradients(twin, X[second], Y[second])
    assert not all(np.allclose(a, b, rtol=1e-3) for a, b in zip(ours, from_zeros))


def test_states_are_not_weights_and_not_in_keras_files(tmp_path):
    model = char_rnn("GRU")
    twin = keras_twin(model)
    ours, theirs = model.get_layer("rnn"), twin.get_layer("rnn")
    config = layer_to_config(ours, ours.dtype)["config"]  # as a .keras file holds it
    assert sorted(config) == sorted(keras.saving.serialize_keras_object(theirs)["config"])
    assert config["stateful"] is theirs.get_config()["stateful"] is True
    assert [w.path for w in model.weights] == [w.path for w in twin.weights]
    assert ours.non_trainable_weights == [] == theirs.non_trainable_weights
    assert [v.path for v in ours.states] == [v.path for v in theirs.states] == ["rnn/rnn_state"]
    model.predict(X[:BATCH], verbose=0)  # states away from zero: a file does not keep them
    twin.predict(X[:BATCH], verbose=0)
    model.save(tmp_path / "ours.keras")
    twin.save(tmp_path / "theirs.keras")
    for loaded in (keras.models.load_model(tmp_path / "ours.keras", compile=False),
                   minidl.models.load_model(tmp_path / "theirs.keras", compile=False)):
        layer = loaded.get_layer("rnn")
        assert layer.stateful
        assert [s.shape for s in states(layer)] == [(BATCH, 8)]
        assert not any(s.any() for s in states(layer))  # zeros, as Keras loads them
        for mine, keras_weight in zip(loaded.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(mine, keras_weight)
    reloaded = minidl.models.load_model(tmp_path / "ours.keras", compile=False)
    np.testing.assert_allclose(reloaded.predict(X[:BATCH], verbose=0),
                               keras.models.load_model(tmp_path / "theirs.keras", compile=False)
                               .predict(X[:BATCH], verbose=0), rtol=1e-5, atol=1e-6)


def test_fit_builds_a_sequential_on_its_data_without_a_step_of_the_states():
    """A Sequential without an Input is built by fit on the first batch (its batch size
    fixes the states'); building does not advance them: with a learning rate of 0, the states
    after fitting one batch are those of predicting it once, in Keras as in minidl."""
    for framework in (keras, minidl):
        framework.utils.set_random_seed(2)
        model = framework.Sequential([framework.layers.Embedding(VOCAB, 3),
                                      framework.layers.GRU(4, stateful=True),
                                      framework.layers.Dense(VOCAB)])
        model.compile(framework.optimizers.SGD(0.0), "mse")
        model.fit(X[:BATCH], np.zeros((BATCH, VOCAB)), batch_size=BATCH, shuffle=False,
                  verbose=0)
        after_fit = states(model.layers[1])
        model.layers[1].reset_state()
        model.predict(X[:BATCH], verbose=0)
        np.testing.assert_allclose(after_fit[0], states(model.layers[1])[0], rtol=1e-6,
                                   atol=1e-7, err_msg=framework.__name__)


@given(cuts=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       layer_class=st.sampled_from([layers.GRU, layers.LSTM, layers.SimpleRNN]))
def test_a_sequence_read_in_chunks_is_the_sequence_read_at_once(cuts, layer_class):
    """Carrying the states is the point of stateful: any cut of the time axis into chunks
    gives the outputs of one call on the whole sequence (the same steps, the same numbers)."""
    x = np.random.default_rng(len(cuts)).normal(size=(2, sum(cuts), 3)).astype(np.float32)
    minidl.utils.set_random_seed(0)
    stateful = layer_class(4, stateful=True, return_sequences=True)
    stateful(x[:, :1])
    whole = layer_class.from_config({**stateful.get_config(), "stateful": False})
    whole.build((None, None, 3))
    whole.set_weights(stateful.get_weights())
    stateful.reset_state()
    starts = np.cumsum([0] + cuts)
    chunks = [stateful(x[:, a:b]) for a, b in zip(starts[:-1], starts[1:])]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole(x), rtol=1e-6, atol=1e-7)


# -- errors: Keras's messages, and what minidl leaves out, by name -----------------------------
def keras_error(make):
    with pytest.raises(Exception) as error:
        make()
    return str(error.value)


def test_a_stateful_layer_needs_a_known_batch_size_as_in_keras():
    theirs = keras_error(lambda: keras.Sequential([keras.Input((5, 3)),
                                                   keras.layers.GRU(4, stateful=True)]))
    with pytest.raises(ValueError) as ours:
        minidl.Sequential([minidl.Input((5, 3)), layers.GRU(4, stateful=True)])
    assert str(ours.value) == theirs
    assert "Found dynamic batch size: sequence.shape=(None, 5, 3)" in theirs


def test_a_batch_of_another_size_is_refused_as_in_keras():
    x = np.zeros((2, 5, 3), np.float32)
    keras_gru, gru = keras.layers.GRU(4, stateful=True), layers.GRU(4, stateful=True)
    keras_gru(x), gru(x)
    theirs = keras_error(lambda: keras_gru(np.zeros((3, 5, 3), np.float32)))
    message = ("If an RNN is stateful, the batch size of the input sequences must be the same "
               "as the batch size of the initial state. \n- Expected batch size: 2\n"
               "- Received batch size: 3")
    assert message in theirs
    with pytest.raises(ValueError, match=re.escape(message)):
        gru(np.zeros((3, 5, 3), np.float32))
    model = char_rnn("GRU")
    with pytest.raises(ValueError, match="Expected batch size: 4\n- Received batch size: 3"):
        model.predict(X[:3], verbose=0)


def test_reset_state_of_layers_that_are_not_stateful_as_in_keras():
    x = np.zeros((2, 5, 3), np.float32)
    for framework in (keras, minidl):
        gru = framework.layers.GRU(4)
        gru(x)
        assert gru.states is None
        gru.reset_state()  # nothing to reset: no error, as Keras
        both = framework.layers.Bidirectional(framework.layers.GRU(4))
        both(x)
        assert both.states is None
        with pytest.raises(AttributeError, match="^Layer must be stateful.$"):
            both.reset_state()
        assert not hasattr(framework.Model, "reset_states")  # Keras 3: on the layers only


def test_what_minidl_leaves_out_is_refused_by_name():
    class MinimalRNNCell(layers.Layer):
        state_size = 2

        def call(self, inputs, states):
            return inputs, states

    with pytest.raises(ValueError, match=r"`stateful` other than False .*cell of your own.* "
                                         r"Received: stateful=True"):
        layers.RNN(MinimalRNNCell(), stateful=True)
    with pytest.raises(ValueError, match=r"`stateful` other than False .*StackedRNNCells.* "
                                         r"Received: stateful=True"):
        layers.RNN([layers.GRUCell(2), layers.GRUCell(2)], stateful=True)
    with pytest.raises(ValueError, match=r"`stateful` other than False .*ConvLSTM.* "
                                         r"Received: stateful=True"):
        layers.ConvLSTM1D(2, 3, stateful=True)
