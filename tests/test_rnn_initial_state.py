"""Recurrent layers started from given states (`layer(x, initial_state=[h, c])`), against
live Keras: the seq2seq pattern of Keras's examples, where an encoder's final states start
the decoder, and the gradient of the decoder's loss flows back into the encoder through them.

Each minidl model's twin is built from minidl's own config (reference/twins.py), so the
`.keras` form of the call (Keras's `initial_state` kwargs) is exercised too. Tolerances:
loss and gradients rtol 1e-5, atol 1e-6; Histories rtol 1e-5 (float32 sums in another order
through a few steps), as the repo's other recurrent comparisons.
"""
import numpy as np
import pytest

import keras
import minidl
from parity import assert_same_fit, assert_same_loss_and_gradients
from reference.twins import keras_twin

RNG = np.random.default_rng(9)
ENC = RNG.normal(size=(12, 5, 3)).astype(np.float32)
DEC = RNG.normal(size=(12, 4, 2)).astype(np.float32)
TARGET = RNG.integers(0, 3, size=(12, 4))


def seq2seq(layer_class, go_backwards=False, masked=False):
    minidl.utils.set_random_seed(4)
    layers = minidl.layers
    encoder_inputs = minidl.Input((None, 3))
    encoded = layer_class(6, return_state=True, name="encoder")(encoder_inputs)
    states = encoded[1:]
    decoder_inputs = minidl.Input((4,) if masked else (None, 2))
    x = decoder_inputs
    if masked:
        x = layers.Embedding(5, 2, mask_zero=True)(x)
    x = layer_class(6, return_sequences=True, go_backwards=go_backwards,
                    name="decoder")(x, initial_state=states)
    outputs = layers.Dense(3, activation="softmax")(x)
    model = minidl.Model([encoder_inputs, decoder_inputs], outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


CASES = [(minidl.layers.LSTM, {}), (minidl.layers.GRU, {}), (minidl.layers.SimpleRNN, {}),
         (minidl.layers.LSTM, {"go_backwards": True}), (minidl.layers.GRU, {"masked": True})]


@pytest.mark.parametrize("layer_class,options", CASES,
                         ids=[f"{c.__name__}-{o}" for c, o in CASES])
def test_an_encoders_states_start_the_decoder_as_in_keras(layer_class, options):
    model = seq2seq(layer_class, **options)
    twin = keras_twin(model)
    decoder_data = (RNG.integers(0, 5, size=(12, 4)) * (np.arange(4) < 3)
                    if options.get("masked") else DEC)  # the last step padded: masked
    x = [ENC, decoder_data]
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert_same_loss_and_gradients(twin, model, x, TARGET)
    assert_same_fit(twin, model, x, TARGET, epochs=2, batch_size=4)


def test_the_gradient_reaches_the_encoder_only_through_the_states():
    """A negative control: with zero states instead, the encoder gets no gradient at all."""
    model = seq2seq(minidl.layers.LSTM)
    _, grads = model.loss_and_gradients([ENC, DEC], TARGET)
    encoder = model.get_layer("encoder")
    encoder_grads = grads[:len(encoder.trainable_weights)]
    assert all(np.abs(g).max() > 0 for g in encoder_grads)
    decoder = model.get_layer("decoder")
    out = decoder(DEC)  # no initial_state: the loop starts from zeros, as before
    np.testing.assert_allclose(out, keras_twin(model).get_layer("decoder")(DEC), rtol=1e-5,
                               atol=1e-6)


def test_keras_files_both_ways(tmp_path):
    model = seq2seq(minidl.layers.LSTM)
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    x = [ENC, DEC]
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = minidl.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_a_wrong_number_of_states_and_convlstm_are_refused_by_name():
    x = minidl.Input((None, 3))
    with pytest.raises(ValueError, match="expects 2 state\\(s\\) in `initial_state`"):
        minidl.layers.LSTM(4)(x, initial_state=[minidl.Input((4,))])
    images = minidl.Input((3, 5, 5, 1))
    with pytest.raises(ValueError, match="does not take `initial_state`"):
        minidl.layers.ConvLSTM2D(2, 3)(images, initial_state=[minidl.Input((3, 3, 2))] * 2)
