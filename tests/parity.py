"""Checks shared by the Keras-comparison tests: the same numbers from two twin models.

    keras_model, model = ...                     # same architecture, same weights
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=3, batch_size=8, validation_split=0.2)
"""
import numpy as np

from reference.gradients import keras_loss_and_gradients


def assert_same_loss_and_gradients(keras_model, model, x, y, rtol=1e-5, atol=1e-6):
    """The loss `fit` minimises on (x, y) and every weight's gradient agree with Keras's."""
    keras_loss, keras_grads = keras_loss_and_gradients(keras_model, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    np.testing.assert_allclose(loss, keras_loss, rtol=max(rtol / 10, 1e-6))
    assert len(grads) == len(keras_grads)
    for ours, theirs in zip(grads, keras_grads):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def assert_same_fit(keras_model, model, x, y, rtol=1e-5, evaluate=True, **fit_kwargs):
    """Both compiled models fit (x, y) with the same settings: same History keys and values
    (shuffle off, so both see the same batches), and the same evaluate."""
    fit_kwargs = {"shuffle": False, "verbose": 0, **fit_kwargs}
    theirs = keras_model.fit(x, y, **fit_kwargs).history
    ours = model.fit(x, y, **fit_kwargs).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, err_msg=key)
    if evaluate:
        np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                                   keras_model.evaluate(x, y, verbose=0), rtol=rtol)
    return ours


def same_random_weights(models, seed):
    """Give twin models the same weights, drawn from N(0, 1) as float32; returns the models."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in models[0].get_weights()]
    for model in models:
        model.set_weights(weights)
    return models


def assert_same_summary(model, twin, capsys):
    """model.summary() prints exactly what its Keras twin's summary() prints."""
    capsys.readouterr()
    twin.summary()
    theirs = capsys.readouterr().out
    model.summary()
    assert capsys.readouterr().out == theirs
