"""HashedCrossing and FeatureSpace against live Keras: TensorFlow's crossed hash bit for bit,
keras.io's "Structured data classification with FeatureSpace" feature spec adapted on the same
small table in both libraries, its outputs ("concat" and "dict"), feature crosses, an
end-to-end model from get_inputs()/get_encoded_features() fit as its Keras twin, configs, and
Keras's errors.

Tolerances: HashedCrossing, the categorical, hashed, discretized and crossed columns are
integers or one-hot rows, compared exactly. The "float_normalized" columns are compared to
rtol 1e-6 / atol 1e-6: both adapt mean and variance in float32 over the same batches of 32
with the same merge formula, but Keras's TensorFlow reductions sum a batch in another order
(pairwise, vectorised) than NumPy's, so the statistics may differ in the last float32 bit,
and (x - mean) / sqrt(var) then in a few ulps. The fit compares History to rtol 1e-5, as the
other fit tests do: the same float32 maths, with sums over a batch taken in another order.
"""
import json
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers

TEXT = ["a", "b", "", "cat", "日本", "naïve", "x" * 17, "y" * 40, "z" * 70, "fixed"]


# -- HashedCrossing ------------------------------------------------------------------------------
@st.composite
def columns(draw):
    """A column of strings or integers (int64 extremes included), of shape (N,) or (N,1)."""
    n = draw(st.integers(1, 6))
    if draw(st.booleans()):
        values = np.array(draw(st.lists(st.sampled_from(TEXT), min_size=n, max_size=n)))
    else:
        values = np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n,
                                        max_size=n)), np.int64)
    return values


@given(st.lists(columns(), min_size=2, max_size=3), st.sampled_from([1, 7, 32, 10**9]),
       st.booleans())
def test_hashed_crossing_bit_for_bit(cols, num_bins, column_shape):
    """Two or three columns of strings or ints crossed into bins, exactly as TensorFlow."""
    n = min(len(c) for c in cols)
    cols = [c[:n, None] if column_shape else c[:n] for c in cols]
    ours = layers.HashedCrossing(num_bins)(cols)
    theirs = keras.layers.HashedCrossing(num_bins)(cols)
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours, np.asarray(theirs))


def test_hashed_crossing_modes_scalars_and_config():
    """one_hot rows, int32 and bytes inputs, a scalar pair, and the config Keras gives."""
    a, b = np.array([b"A", b"B", b"A", b"B", b"A"]), np.array([101, 101, 101, 102, 102], np.int32)
    for kwargs in ({"num_bins": 5}, {"num_bins": 5, "output_mode": "one_hot"}):
        ours, theirs = layers.HashedCrossing(**kwargs), keras.layers.HashedCrossing(**kwargs)
        for inputs in ((a, b), (a[:, None], b[:, None]), (np.array("A"), np.array(3))):
            y, z = ours(list(inputs)), np.asarray(theirs(inputs))
            assert y.shape == z.shape and y.dtype == z.dtype
            np.testing.assert_array_equal(y, z)
        words = np.array(["fixed", "日本", "x" * 70, ""])
        for inputs in ((words, words[::-1]), (b.astype(np.int64), -b.astype(np.int64))):
            np.testing.assert_array_equal(ours(list(inputs)), np.asarray(theirs(inputs)))
        config, keras_config = ours.get_config(), theirs.get_config()
        assert {k: v for k, v in config.items() if k != "name"} == \
            {k: v for k, v in keras_config.items() if k != "name"}
        again = layers.HashedCrossing.from_config(config)
        np.testing.assert_array_equal(again([a, b]), ours([a, b]))


def _keras_error(call):
    with pytest.raises(Exception) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("inputs", [
    np.array([1, 2]), [np.array([1])], [np.array([1., 2.]), np.array([1, 2])],
    [np.array([[1, 2]]), np.array([[1, 2]])], [np.array([1, 2]), np.array([1, 2, 3])],
    [np.array([True]), np.array([1])]])
def test_hashed_crossing_errors_are_keras_errors(inputs):
    """Each bad input gets Keras's message (up to how the arrays print)."""
    with pytest.raises(ValueError) as ours:
        layers.HashedCrossing(5)(inputs)
    theirs = _keras_error(lambda: keras.layers.HashedCrossing(5)(inputs))
    head = str(ours.value).split("Received")[0]
    assert head in theirs, (head, theirs)


def test_hashed_crossing_argument_errors():
    with pytest.raises(ValueError) as ours:
        layers.HashedCrossing(5, output_mode="multi_hot")
    assert str(ours.value) == _keras_error(
        lambda: keras.layers.HashedCrossing(5, output_mode="multi_hot"))
    with pytest.raises(ValueError, match=re.escape("pass sparse=False. Received: sparse=True")):
        layers.HashedCrossing(5, sparse=True)


# -- FeatureSpace: keras.io's feature spec on a small heart-disease-like table ---------------------
FS = minidl.utils.FeatureSpace
KFS = keras.utils.FeatureSpace
N = 60
THAL = ["fixed", "normal", "reversible", "1", "2"]


def table(seed=0, n=N):
    """~60 rows with keras.io's columns: integer codes, integer and float measurements and a
    string code, as the CSV gives them."""
    rng = np.random.default_rng(seed)
    ints = {"sex": (0, 2), "cp": (0, 5), "fbs": (0, 2), "restecg": (0, 3), "exang": (0, 2),
            "ca": (0, 4), "age": (29, 78), "trestbps": (94, 200), "chol": (126, 564),
            "thalach": (71, 202), "slope": (1, 4)}
    data = {key: rng.integers(low, high, n) for key, (low, high) in ints.items()}
    data["oldpeak"] = np.round(rng.uniform(0, 6.2, n), 1)
    data["thal"] = rng.choice(THAL, n)
    return data


def for_keras(data):
    """Keras's model.fit/predict take strings as an object array (TensorFlow's tf.string)."""
    return {key: value.astype(object) if value.dtype.kind == "U" else value
            for key, value in data.items()}


KERAS_IO_SPEC = {  # the keras.io example's first FeatureSpace, by type name
    "sex": "integer_categorical", "cp": "integer_categorical", "fbs": "integer_categorical",
    "restecg": "integer_categorical", "exang": "integer_categorical",
    "ca": "integer_categorical", "thal": "string_categorical", "age": "float_discretized",
    "trestbps": "float_normalized", "chol": "float_normalized", "thalach": "float_normalized",
    "oldpeak": "float_normalized", "slope": "float_normalized"}
KERAS_IO_ARGS = {"crosses": [("sex", "age"), ("thal", "ca")], "crossing_dim": 32,
                 "output_mode": "concat"}
NORMALIZED = sorted(key for key, kind in KERAS_IO_SPEC.items() if kind == "float_normalized")


@pytest.fixture(scope="module")
def keras_io_pair():
    """The example's FeatureSpace in both libraries, each adapted on the same table (Keras's
    on a tf.data.Dataset of its rows, as the example; minidl's on the dict): one Keras adapt.
    Both start their layer names afresh, whatever tests ran before (the names are compared)."""
    keras.backend.clear_session()
    minidl.backend.clear_session()
    data = table()
    theirs = KFS(features=KERAS_IO_SPEC, **KERAS_IO_ARGS)
    theirs.adapt(tf.data.Dataset.from_tensor_slices(data))
    ours = FS(features=KERAS_IO_SPEC, **KERAS_IO_ARGS)
    ours.adapt(data)
    return ours, theirs, data


def concat_columns(fs):
    """{name: the slice of the "concat" output it fills}: features, then crosses, by name."""
    names = sorted(fs.features) + sorted(cross.name for cross in fs.crosses)
    widths = [fs.one_hot_encoders[name].num_tokens if name in fs.one_hot_encoders else 1
              for name in names]
    ends = np.cumsum(widths)
    return {name: slice(end - width, end) for name, width, end in zip(names, widths, ends)}


def assert_same_encoding(ours, theirs, columns):
    """Exact on every column but the normalized ones (float32 rounding: module docstring)."""
    theirs = np.asarray(theirs)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
    for name, where in columns.items():
        if name in NORMALIZED:
            np.testing.assert_allclose(ours[..., where], theirs[..., where], rtol=1e-6,
                                       atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(ours[..., where], theirs[..., where], err_msg=name)


def test_keras_io_feature_space_concat_as_keras(keras_io_pair):
    """Same columns in the same order: one-hot lookups, discretized age, normalized columns
    and the two 32-bin crosses; on the adapt table, on new rows (unseen values: OOV) and on
    one row's scalars (the example's inference sample)."""
    ours, theirs, data = keras_io_pair
    columns = concat_columns(ours)
    assert list(columns)[-2:] == ["sex_X_age", "thal_X_ca"]
    for rows in (data, table(seed=1, n=20)):
        out = ours(rows)
        assert_same_encoding(out, theirs(rows), columns)
        assert out.shape == (len(rows["sex"]), 131)
    sample = {"age": 60, "sex": 1, "cp": 1, "trestbps": 145, "chol": 233, "fbs": 1,
              "restecg": 2, "thalach": 150, "exang": 0, "oldpeak": 2.3, "slope": 3, "ca": 0,
              "thal": "fixed"}
    assert_same_encoding(ours(sample), theirs(sample), columns)
    assert ours(sample).shape == (131,)
    for name in NORMALIZED:  # the float columns are not trivially equal: they vary
        assert np.ptp(ours(data)[:, columns[name]]) > 1


def test_adapt_on_a_tf_dataset_and_on_a_minidl_dataset_as_on_the_dict(keras_io_pair):
    """adapt on tf.data's rows, on its batches of 32 (as keras.io adapts) and on a minidl
    PyDataset of dict batches learns what adapt on the dict learnt: identical outputs."""
    ours, _, data = keras_io_pair
    expected = ours(data)

    class Batches(minidl.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {key: value[32 * i:32 * (i + 1)] for key, value in data.items()}

    for dataset in (tf.data.Dataset.from_tensor_slices(data),
                    tf.data.Dataset.from_tensor_slices(data).batch(32), Batches()):
        again = FS(features=KERAS_IO_SPEC, **KERAS_IO_ARGS)
        again.adapt(dataset)
        np.testing.assert_array_equal(again(data), expected)


def test_end_to_end_model_fits_as_keras(keras_io_pair):
    """keras.io's inference model (raw dict -> FeatureSpace graph -> Dense -> Dense), built
    from get_inputs()/get_encoded_features() in both, with the same Dense weights: predict,
    then 2 epochs of fit on the raw columns, History to rtol 1e-5."""
    ours, theirs, data = keras_io_pair
    y = (data["chol"] > 300).astype("float32")

    def head(lib, inputs, encoded):
        h = lib.layers.Dense(8, activation="relu")(encoded)
        return lib.Model(inputs, lib.layers.Dense(1, activation="sigmoid")(h))

    model = head(minidl, ours.get_inputs(), ours.get_encoded_features())
    twin = head(keras, theirs.get_inputs(), theirs.get_encoded_features())
    assert [layer.name for layer in model.layers][:-3] == \
        [layer.name for layer in twin.layers][:-3]  # Keras's order (its concat: tfd_concat)
    for layer, keras_layer in zip(model.layers[-2:], twin.layers[-2:]):
        keras_layer.set_weights(layer.get_weights())
    for m in (model, twin):
        m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    np.testing.assert_allclose(model.predict(data, verbose=0),
                               twin.predict(for_keras(data), verbose=0), rtol=1e-5, atol=1e-7)
    ours_history = model.fit(data, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    their_history = twin.fit(for_keras(data), y, epochs=2, batch_size=16, shuffle=False,
                             verbose=0)
    assert ours_history.history.keys() == their_history.history.keys()
    for key, values in their_history.history.items():
        np.testing.assert_allclose(ours_history.history[key], values, rtol=1e-5, err_msg=key)


def test_dict_mode_custom_features_and_crosses_as_keras():
    """output_mode="dict" with every helper and its options (int and one_hot outputs, hashed
    strings and integers, max_tokens, rescaling, plain floats, given bin counts, a cross of
    int output and one over a string column), adapted on a batched tf.data.Dataset in both:
    each encoded column equal, integer ones with Keras's dtype."""
    data = table(seed=2)
    data["city"] = np.array([f"c{i % 7}" for i in range(N)])

    def spec(lib):
        F = lib.utils.FeatureSpace
        return dict(features={
            "sex": F.integer_categorical(num_oov_indices=0, output_mode="int"),
            "thal": F.string_categorical(max_tokens=4),
            "cp": F.integer_hashed(8), "city": "string_hashed",
            "age": F.float_discretized(num_bins=5), "ca": "integer_categorical",
            "chol": F.float_rescaled(scale=0.01, offset=-1.0), "oldpeak": "float",
            "trestbps": F.float_normalized()},
            crosses=[F.cross(("sex", "cp"), crossing_dim=16, output_mode="int"),
                     F.cross(("thal", "age"), crossing_dim=8), ("city", "ca")],
            crossing_dim=4, hashing_dim=6, output_mode="dict")

    theirs, ours = KFS(**spec(keras)), FS(**spec(minidl))
    theirs.adapt(tf.data.Dataset.from_tensor_slices(data).batch(16))
    ours.adapt(tf.data.Dataset.from_tensor_slices(data).batch(16))
    rows = table(seed=3, n=12)
    rows["city"] = np.array([f"c{i}" for i in range(12)])
    rows = {key: rows[key] for key in ours.features}  # (Keras refuses other keys)
    out, expected = ours(rows), theirs(rows)
    assert sorted(out) == sorted(expected)
    assert list(out) == list(expected)  # the same order: features, then crosses, by name
    for key, value in expected.items():
        value = np.asarray(value)
        assert out[key].dtype == value.dtype and out[key].shape == value.shape, key
        if key == "trestbps":
            np.testing.assert_allclose(out[key], value, rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(out[key], value, err_msg=key)
    one = {key: value[0] for key, value in rows.items()}
    assert {key: v.shape for key, v in ours(one).items()} == \
        {key: tuple(v.shape) for key, v in theirs(one).items()}


def test_config_as_keras_and_back(keras_io_pair):
    """get_config has Keras's keys and crosses; each feature its dtype, encoding and
    preprocessor (class, name, options); from_config rebuilds a FeatureSpace that, adapted
    on the same data, encodes as the original."""
    ours, theirs, data = keras_io_pair
    config, keras_config = ours.get_config(), theirs.get_config()
    assert list(config) == list(keras_config)
    assert config["crosses"] == keras_config["crosses"]
    for key in ("output_mode", "crossing_dim", "hashing_dim", "num_discretization_bins"):
        assert config[key] == keras_config[key]
    for name, feature in keras_config["features"].items():
        mine = config["features"][name]
        assert {k: v for k, v in mine.items() if k != "config"} == \
            {k: v for k, v in feature.items() if k != "config"}
        assert mine["config"]["dtype"] == feature["config"]["dtype"]
        assert mine["config"]["output_mode"] == feature["config"]["output_mode"]
        layer, keras_layer = mine["config"]["preprocessor"], feature["config"]["preprocessor"]
        assert layer["class_name"] == keras_layer["class_name"]
        for option in ("name", "num_oov_indices", "max_tokens", "num_bins", "axis"):
            assert json.dumps(layer["config"].get(option)) == \
                json.dumps(keras_layer["config"].get(option)), option  # [-1] as (-1,)
    again = FS.from_config(config)
    again.adapt(data)
    np.testing.assert_array_equal(again(data), ours(data))


# -- errors, as Keras's ---------------------------------------------------------------------------
def keras_and_minidl_errors(make):
    """The exception each library raises from make(its FeatureSpace class)."""
    raised = []
    for cls in (FS, KFS):
        with pytest.raises(Exception) as info:
            make(cls)
        raised.append(info.value)
    return raised


@pytest.mark.parametrize("make", [
    lambda F: F({"a": "floaty"}),
    lambda F: F({}),
    lambda F: F({"a": "float"}, output_mode="stacked"),
    lambda F: F({"a": "float"}, crosses=[("a", "b")]),
    lambda F: F.cross(("a", "b"), 4, output_mode="multi_hot"),
    lambda F: F({"a": "float_normalized"}).get_inputs(),
    lambda F: F({"a": F.integer_hashed(4, output_mode="int")}).get_inputs(),
    lambda F: F({"a": F.float_rescaled(name="r")})([1.0, 2.0]),
], ids=["unknown type", "no features", "output_mode", "unknown cross", "cross mode",
        "not adapted", "int in concat", "not a dict"])
def test_errors_are_keras_errors(make):
    ours, theirs = keras_and_minidl_errors(make)
    assert type(ours) is type(theirs) and str(ours) == str(theirs)


def test_a_float_feature_cannot_be_one_hot_as_in_keras():
    ours, theirs = keras_and_minidl_errors(lambda F: F(
        {"a": F.feature("float32", (layers if F is FS else keras.layers).Rescaling(2.0),
                        "one_hot")}).get_inputs())
    assert str(ours) == str(theirs)


def test_a_feature_missing_from_the_data_is_a_key_error(keras_io_pair):
    """Keras: KeyError('sex') from a dict lookup; minidl: KeyError naming it and the keys."""
    ours, theirs, data = keras_io_pair
    rows = {key: value for key, value in data.items() if key != "sex"}
    for fs in (ours, theirs):
        with pytest.raises(KeyError, match="sex"):
            fs(rows)
    with pytest.raises(KeyError, match="extra"):
        ours({**data, "extra": data["sex"]})


def test_tf_data_map_is_refused_with_the_numpy_way(keras_io_pair):
    """Inside tf.data's map the columns are graph tensors, which NumPy cannot read."""
    ours, _, data = keras_io_pair
    ds = tf.data.Dataset.from_tensor_slices(data).batch(8)
    with pytest.raises(ValueError, match=re.escape("model.fit(feature_space(x), y)")):
        ds.map(ours)


def test_a_feature_space_is_not_called_in_a_model(keras_io_pair):
    ours = keras_io_pair[0]
    with pytest.raises(ValueError, match=re.escape("get_encoded_features()")):
        ours(ours.get_inputs())


def test_save_is_refused_by_name(keras_io_pair, tmp_path):
    with pytest.raises(NotImplementedError, match="minidl cannot save a FeatureSpace"):
        keras_io_pair[0].save(str(tmp_path / "fs.keras"))
