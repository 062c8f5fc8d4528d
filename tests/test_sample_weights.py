"""Sample and class weights: the weighted loss, gradients, metrics and History Keras gives."""
import numpy as np
import pytest

import keras
import minidl
from parity import assert_same_loss_and_gradients

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 30)
W = RNG.uniform(0.1, 2.0, 30).astype(np.float32)


def twins(weighted_metrics=None):
    models = []
    for framework in (keras, minidl):
        model = framework.Sequential([framework.Input((4,)),
                                      framework.layers.Dense(5, activation="relu"),
                                      framework.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=framework.optimizers.SGD(0.1),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      weighted_metrics=weighted_metrics)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def histories(fit_kwargs, weighted_metrics=None):
    keras_model, model = twins(weighted_metrics)
    kwargs = dict(epochs=2, batch_size=8, shuffle=False, verbose=0, **fit_kwargs)
    return keras_model.fit(X, Y, **kwargs).history, model.fit(X, Y, **kwargs).history


@pytest.mark.parametrize("fit_kwargs", [
    {"sample_weight": W},
    {"sample_weight": W, "validation_split": 0.2},
    {"class_weight": {0: 0.5, 1: 2.0, 2: 1.0}},
    {"class_weight": {1: 3.0}, "validation_split": 0.3},  # classes not named weigh 1
    {"validation_data": (X[:9], Y[:9], W[:9])},
], ids=["sample", "sample+split", "class", "class-partial+split", "weighted-validation"])
def test_weighted_fit_matches_keras(fit_kwargs):
    keras_history, history = histories(fit_kwargs, weighted_metrics=["accuracy"])
    assert sorted(history) == sorted(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5, err_msg=key)


def test_weighted_loss_gradients_and_evaluate_match_keras():
    keras_model, model = twins(weighted_metrics=["accuracy"])
    from reference.gradients import keras_loss_and_gradients
    import tensorflow as tf
    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=X, y=Y, y_pred=keras_model(X, training=True),
                                              sample_weight=W, training=True)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    loss, grads = model.loss_and_gradients(X, Y, sample_weight=W)
    np.testing.assert_allclose(loss, float(keras_loss), rtol=1e-6)
    for ours, theirs in zip(grads, keras_grads):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)
    theirs = keras_model.evaluate(X, Y, sample_weight=W, verbose=0, return_dict=True)
    ours = model.evaluate(X, Y, sample_weight=W, verbose=0, return_dict=True)
    assert list(ours) == list(theirs)
    np.testing.assert_allclose(list(ours.values()), list(theirs.values()), rtol=1e-5)
    assert_same_loss_and_gradients(keras_model, model, X, Y)  # and unweighted as before


def test_class_and_sample_weight_together_are_refused_as_keras_refuses_them():
    _, model = twins()
    before = model.get_weights()
    with pytest.raises(ValueError, match="cannot `class_weight` and `sample_weight`"):
        model.fit(X, Y, sample_weight=W, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, Y, sample_weight=W[:5], verbose=0)
    for ours, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)
