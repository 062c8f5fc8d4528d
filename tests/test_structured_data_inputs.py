"""keras.io's "structured data classification from scratch", against live Keras: a dict of
columns of mixed types (int64 ids, strings, float64 numbers) from a tf.data.Dataset, each
column an Input of its own dtype (IntegerLookup on "int64", StringLookup on "string",
Normalization on floats), as Keras keeps each Input's dtype and adjusts a column of shape
(N,) to the Input's (N, 1).

The twin is built from minidl's config with the adapted vocabularies and statistics
(reference/twins.py); both read the same unshuffled batches. Predictions rtol 1e-6, and the
History rtol 1e-5 (float32 sums in another order through a few Adam steps).
"""
import numpy as np
import tensorflow as tf

import minidl
from minidl import layers
from reference.twins import keras_twin

RNG = np.random.default_rng(0)
N = 60
COLUMNS = {"sex": RNG.integers(0, 2, N), "cp": RNG.integers(0, 4, N),
           "thal": RNG.choice(["fixed", "normal", "reversible"], N),
           "age": RNG.integers(20, 80, N).astype(np.float64),
           "thalach": RNG.normal(150, 20, N)}
TARGET = RNG.integers(0, 2, N)


def dataset():
    return tf.data.Dataset.from_tensor_slices((dict(COLUMNS), TARGET)).batch(16)


def encoded(feature, name, kind):
    layer = {"int": layers.IntegerLookup(output_mode="binary"),
             "str": layers.StringLookup(output_mode="binary"),
             "num": layers.Normalization()}[kind]
    layer.adapt(dataset().map(lambda x, y: tf.expand_dims(x[name], -1)))
    return layer(feature)


def model():
    minidl.utils.set_random_seed(1)
    inputs = {"sex": minidl.Input((1,), name="sex", dtype="int64"),
              "cp": minidl.Input((1,), name="cp", dtype="int64"),
              "thal": minidl.Input((1,), name="thal", dtype="string"),
              "age": minidl.Input((1,), name="age"), "thalach": minidl.Input((1,), name="thalach")}
    kinds = {"sex": "int", "cp": "int", "thal": "str", "age": "num", "thalach": "num"}
    features = layers.concatenate([encoded(inputs[n], n, kinds[n]) for n in inputs])
    x = layers.Dense(8, activation="relu")(features)
    output = layers.Dense(1, activation="sigmoid")(x)
    net = minidl.Model(list(inputs.values()), output)
    net.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return net


def test_mixed_column_types_train_and_predict_as_in_keras():
    ours = model()
    theirs = keras_twin(ours)
    assert [t.dtype for t in theirs.inputs] == ["int64", "int64", "string", "float32", "float32"]
    sample = {name: column[:5] for name, column in COLUMNS.items()}  # (5,) columns
    sample["thal"] = sample["thal"].astype(object)  # (Keras refuses NumPy's unicode arrays)
    np.testing.assert_allclose(ours.predict(sample, verbose=0),
                               theirs.predict(sample, verbose=0), rtol=1e-6)
    kwargs = dict(epochs=2, verbose=0, shuffle=False)
    h_ours, h_theirs = ours.fit(dataset(), **kwargs).history, theirs.fit(dataset(), **kwargs).history
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-5, err_msg=key)


def test_float_ids_for_an_integer_input_are_converted_as_keras_converts_them():
    ours = model()
    ids = {name: column[:4] for name, column in COLUMNS.items()}
    as_floats = {**ids, "sex": ids["sex"].astype(np.float32), "cp": ids["cp"].astype(np.float64)}
    np.testing.assert_array_equal(ours.predict(ids, verbose=0),
                                  ours.predict(as_floats, verbose=0))
