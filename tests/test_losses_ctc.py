"""keras.losses.CTC and keras.losses.ctc against live Keras: the values per sequence and over
the batch, the config, Keras's shape errors, and a recurrent model trained with the loss
(compile(loss=CTC()) and loss="ctc") to the same History as its Keras twin.

minidl differentiates the loss on the tape through ops.ctc_loss (whose own gradient
test_ops_nn_more.py checks against TensorFlow). Tolerances: values rtol 1e-6 (TensorFlow's
kernel sums the paths' log-probabilities in another order), History rtol 1e-5 over a few
Adam steps, as the repo's other fit comparisons.
"""
import numpy as np
import pytest

import keras
import minidl
from reference.twins import keras_twin

RNG = np.random.default_rng(6)
LABELS = RNG.integers(1, 5, (12, 3))
LABELS[::3, 2] = 0  # a shorter label, padded with the blank
FRAMES = RNG.normal(size=(12, 7, 4)).astype(np.float32)


def test_values_config_and_errors_as_in_keras():
    logits = RNG.normal(size=(12, 7, 5)).astype(np.float32)
    np.testing.assert_allclose(minidl.losses.ctc(LABELS, logits),
                               keras.losses.ctc(LABELS, logits), rtol=1e-6)
    np.testing.assert_allclose(minidl.losses.CTC()(LABELS, logits),
                               float(keras.losses.CTC()(LABELS, logits)), rtol=1e-6)
    assert minidl.losses.CTC().get_config() == keras.losses.CTC().get_config()
    for api in (minidl, keras):
        with pytest.raises(ValueError, match="Targets `y_true` are expected to be a tensor"):
            api.losses.ctc(LABELS[:, :, None], logits)
        with pytest.raises(ValueError, match="Logits `y_pred` are expected to be a tensor"):
            api.losses.ctc(LABELS, logits[:, 0])


@pytest.mark.parametrize("loss", [minidl.losses.CTC(), "ctc"], ids=["object", "string"])
def test_a_recurrent_model_trains_with_ctc_as_in_keras(loss):
    minidl.utils.set_random_seed(2)
    model = minidl.Sequential([minidl.Input((7, 4)),
                               minidl.layers.GRU(8, return_sequences=True),
                               minidl.layers.Dense(5)])  # logits: blank 0 and classes 1-4
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss=loss)
    twin = keras_twin(model)
    fit = dict(epochs=3, batch_size=4, shuffle=False, verbose=0)
    ours, theirs = model.fit(FRAMES, LABELS, **fit), twin.fit(FRAMES, LABELS, **fit)
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)
    assert ours.history["loss"][-1] < ours.history["loss"][0]
