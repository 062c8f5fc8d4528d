"""A tf.data.Dataset as fit's, evaluate's and predict's data, against live Keras.

Programs that build their input pipeline with tf.data (from_tensor_slices, batch, map,
repeat) keep it when only the Keras import changes: minidl iterates the dataset afresh
for every pass and turns each batch's tensors into NumPy arrays (data_adapters.py's
IterableAdapter). Both twins read the same unshuffled batches, so their Histories,
evaluate and predict must agree to rtol 1e-5 (float32 sums in another order, carried
through a few SGD steps), as the repo's other fit comparisons.
"""
import warnings

import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from reference.twins import keras_twin

RNG = np.random.default_rng(5)
X = RNG.normal(size=(50, 3)).astype(np.float32)
Y = RNG.integers(0, 3, 50)
RTOL = 1e-5


def twins():
    minidl.utils.set_random_seed(3)
    model = minidl.Sequential([minidl.Input((3,)), minidl.layers.Dense(8, activation="relu"),
                               minidl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, keras_twin(model)


def fit_both(x, quiet=True, **kwargs):
    model, twin = twins()
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")  # shuffle=True is ignored, in both
        ours, theirs = model.fit(x, verbose=0, **kwargs), twin.fit(x, verbose=0, **kwargs)
    assert ours.history.keys() == theirs.history.keys()
    for key in theirs.history:
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=RTOL, err_msg=key)
    return model, twin


def test_a_batched_dataset_fits_evaluates_and_predicts_as_in_keras():
    train = tf.data.Dataset.from_tensor_slices((X[:40], Y[:40])).batch(16)
    val = tf.data.Dataset.from_tensor_slices((X[40:], Y[40:])).batch(4)
    model, twin = fit_both(train, epochs=3, validation_data=val)
    np.testing.assert_allclose(model.evaluate(val, verbose=0), twin.evaluate(val, verbose=0),
                               rtol=RTOL)
    np.testing.assert_allclose(model.predict(val, verbose=0), twin.predict(val, verbose=0),
                               rtol=RTOL, atol=1e-7)


def test_repeat_with_steps_per_epoch_map_and_unknown_length_as_in_keras():
    """An infinite dataset carries its pass across epochs; a filtered one (length unknown to
    TensorFlow) is counted on its first pass; map runs TensorFlow's function per batch."""
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8)
    fit_both(ds.repeat(), epochs=3, steps_per_epoch=4)
    fit_both(ds.filter(lambda x, y: tf.reduce_sum(x) > -100.0), epochs=2)
    fit_both(ds.map(lambda x, y: (x * 2.0, y)), epochs=2, class_weight={0: 1.0, 1: 2.0, 2: 0.5})


def test_dict_inputs_for_a_two_input_model():
    inputs = [minidl.Input((2,), name="a"), minidl.Input((1,), name="b")]
    joined = minidl.layers.Concatenate()(inputs)
    model = minidl.Model(inputs, minidl.layers.Dense(3, activation="softmax")(joined))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    twin = keras_twin(model)
    ds = tf.data.Dataset.from_tensor_slices(({"a": X[:, :2], "b": X[:, 2:]}, Y)).batch(10)
    kwargs = dict(epochs=2, verbose=0, shuffle=False)
    np.testing.assert_allclose(model.fit(ds, **kwargs).history["loss"],
                               twin.fit(ds, **kwargs).history["loss"], rtol=RTOL)


def test_keras_messages_for_what_a_dataset_must_carry():
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(16)
    messages = []
    for model in twins():
        with pytest.raises(ValueError) as error:
            model.fit(ds, Y, verbose=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(ds, epochs=1, verbose=0)
        shuffle = [str(w.message) for w in caught if "shuffle" in str(w.message)]
        messages.append((str(error.value), shuffle))
    assert messages[0] == messages[1]
    assert "should not be passed" in messages[0][0] and len(messages[0][1]) == 1
