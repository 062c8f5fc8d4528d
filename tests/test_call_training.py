"""`training=` given at a functional call (`base_model(x, training=False)`, keras.io's transfer
learning guide; `Dropout()(x, training=True)` for Monte Carlo dropout) against Keras 3: the
node keeps it, a call of the model without `training` uses it, while fit, evaluate, predict
and `model(x, training=...)` pass their own, which wins (keras/src/models/functional.py::
operation_fn); `.keras` files carry it both ways."""
import numpy as np
import pytest

import keras
import minidl
from reference.twins import keras_twin

X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
Y = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)


def nested_batch_norm(framework, training=False):
    """A base model whose BatchNormalization is called with `training` fixed at the call."""
    i = framework.Input((4,))
    h = framework.layers.BatchNormalization(name="bn")(framework.layers.Dense(3, name="d1")(i))
    base = framework.Model(i, h, name="base")
    o = framework.Input((4,))
    return framework.Model(o, framework.layers.Dense(2, name="head")(base(o, training=training)))


def moved(model):
    """Moving statistics away from 0 and 1, so that inference and training modes differ."""
    weights = model.get_weights()
    rng = np.random.default_rng(2)
    model.set_weights([w + rng.uniform(0.5, 1.0, w.shape).astype(w.dtype) if w.ndim == 1
                       else w for w in weights])
    return model


def test_a_training_fixed_at_a_call_is_used_only_when_the_model_is_called_without_one():
    ours = moved(nested_batch_norm(minidl))
    theirs = keras_twin(ours, compile=False)
    for kwargs in ({}, {"training": True}, {"training": False}):
        np.testing.assert_allclose(ours(X, **kwargs), np.asarray(theirs(X, **kwargs)),
                                   rtol=1e-5, atol=1e-6)
    inference = ours(X, training=False)
    np.testing.assert_array_equal(ours(X), inference)  # the call's training=False: inference
    np.testing.assert_array_equal(ours.predict(X, verbose=0), inference)
    assert np.abs(ours(X, training=True) - inference).max() > 0.1  # the model's own wins


def test_a_dropout_fixed_to_training_drops_in_a_plain_call_but_not_in_predict():
    for framework in (minidl, keras):
        i = framework.Input((4,))
        model = framework.Model(i, framework.layers.Dropout(0.5)(i, training=True))
        assert (np.asarray(model(X)) == 0).mean() > 0.2, framework.__name__  # Monte Carlo
        np.testing.assert_array_equal(np.asarray(model.predict(X, verbose=0)), X)
        np.testing.assert_array_equal(np.asarray(model(X, training=False)), X)


def test_fit_trains_a_base_called_with_training_false_as_keras_does():
    """fit calls the model with training=True, which wins: the unfrozen base's BatchNormalization
    takes batch statistics and updates its moving averages, in both frameworks."""
    ours = moved(nested_batch_norm(minidl))
    ours.compile(optimizer="sgd", loss="mse")
    theirs = keras_twin(ours)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(X, Y, **fit).history["loss"],
                               theirs.fit(X, Y, **fit).history["loss"], rtol=1e-5)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("training", [False, True])
def test_keras_files_keep_the_training_of_a_call_both_ways(tmp_path, training):
    original = moved(nested_batch_norm(keras, training))
    original.save(tmp_path / "keras.keras")
    ours = minidl.models.load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(ours(X), np.asarray(original(X)), rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "minidl.keras")
    back = keras.models.load_model(tmp_path / "minidl.keras")
    np.testing.assert_allclose(np.asarray(back(X)), np.asarray(original(X)), rtol=1e-5,
                               atol=1e-6)
    nodes = [layer["inbound_nodes"] for layer in back.get_config()["layers"]
             if layer["name"] == "base"][0]
    assert nodes[0]["kwargs"]["training"] is training
