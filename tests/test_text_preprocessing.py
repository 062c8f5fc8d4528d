"""TextVectorization, StringLookup, IntegerLookup, CategoryEncoding, Hashing and Discretization
against live Keras: vocabularies after adapt, outputs in every mode, inverted lookups,
TensorFlow's string hashes, configs both ways, files, summaries, errors, and two small text
classifiers that fit as their Keras twins.

Tolerances: the outputs are integers or counts, compared exactly, and so are the "tf_idf"
rows, whose idf weights are log(1 + n / (1 + df)) computed in float64 and rounded to float32
by both, with the special tokens' weight a float32 mean of at most ~20 weights: summed in a
different order it may differ in the last bit, so tf_idf is compared to rtol 1e-6 (a few
float32 ulps). The fits compare History and predict to rtol 1e-5, as the other fit tests
do (float32 sums over a batch in another order), and a Dense layer's predictions on counts
read from a .keras file to rtol 1e-6 (one float32 product of 3 terms, summed in another order).
"""
import json
import re
import zipfile

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.layers.string_hash import fingerprint64, siphash24
from reference.twins import keras_twin

# -- drawn corpora: words with punctuation, case, unicode, repeats (so ties in counts) ------
WORDS = ["cat", "Cat", "CAT!", "dog", "dog's", "a", "b", "é", "É", "ß", "naïve", "x-y",
         "(hi)", "1.5", "日本", "a_b", "@home", "..."]
SPACES = [" ", "  ", "\t", "\n", "\x0b", "\xa0", "\u2003", " \r\n "]  # TF splits on ASCII only


@st.composite
def corpora(draw, min_size=1):
    def text(min_words=0):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=6))
        out = draw(st.sampled_from(["", " "]))
        for w in words:
            out += w + draw(st.sampled_from(SPACES))
        return out
    # Keras cannot call a layer whose adapt found no token ("Table not initialized"; minidl
    # raises too): the first text has a word.
    return [text(1)] + [text() for _ in range(draw(st.integers(min_size, 6)) - 1)]


def keras_array(y):
    y = np.asarray(y)
    return np.vectorize(lambda b: b.decode())(y) if y.dtype.kind in "OS" else y


def assert_same(ours, theirs, tf_idf=False):
    theirs = keras_array(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if tf_idf:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    else:
        np.testing.assert_array_equal(ours, theirs)


def pair(name, *args, **kwargs):
    """The same layer, named "layer", in both frameworks: (minidl's, Keras's)."""
    return (getattr(layers, name)(*args, name="layer", **kwargs),
            getattr(keras.layers, name)(*args, name="layer", **kwargs))


def keras_config(layer):
    config = layer.get_config()
    config.pop("dtype", None)
    return config


# -- TextVectorization ------------------------------------------------------------------------
TV_SETTINGS = [dict(),
               dict(output_mode="multi_hot", standardize="lower"),
               dict(output_mode="count", ngrams=2, standardize="strip_punctuation"),
               dict(output_mode="tf_idf", max_tokens=6),
               dict(split="character", output_sequence_length=5, max_tokens=8),
               dict(standardize=None, ngrams=(1, 3), output_sequence_length=4),
               dict(split=None, max_tokens=4),
               dict(output_mode="count", max_tokens=9, pad_to_max_tokens=True)]


@settings(max_examples=5)  # 8 Keras layers adapted per example: the slowest test here
@given(corpus=corpora(), queries=corpora())
def test_text_vectorization_adapts_and_vectorizes_as_keras(corpus, queries):
    for kwargs in TV_SETTINGS:
        ours, theirs = pair("TextVectorization", **kwargs)
        ours.adapt(corpus), theirs.adapt(corpus)
        assert ours.get_vocabulary() == theirs.get_vocabulary(), kwargs  # ties: token, high first
        assert ours.vocabulary_size() == theirs.vocabulary_size()
        tf_idf = kwargs.get("output_mode") == "tf_idf"
        assert_same(ours(queries), theirs(queries), tf_idf)
        assert_same(ours(np.array(queries)[:, None]), theirs(np.array(queries)[:, None]), tf_idf)
        assert ours.get_config() == keras_config(theirs)
        if tf_idf:
            np.testing.assert_allclose(ours.idf_weights,
                                       theirs._lookup_layer.idf_weights_const, rtol=1e-6)


def test_standardize_and_split_are_keras_s_exact_rules():
    texts = np.array(["Hello, WORLD! It's  é-É ß\tfoo\x0bbar\xa0baz\u2003qux [x]_{y}"])
    for standardize in ("lower_and_strip_punctuation", "lower", "strip_punctuation", None):
        for split in ("whitespace", "character"):
            kwargs = dict(standardize=standardize, split=split)
            ours, theirs = pair("TextVectorization", **kwargs)
            ours.adapt(texts), theirs.adapt(texts)
            assert ours.get_vocabulary() == theirs.get_vocabulary(), kwargs
    assert "é-é" not in layers.TextVectorization().preprocess(texts)[0]  # ASCII-only lower


def test_a_given_vocabulary_and_set_vocabulary_as_keras():
    vocab, idf = ["the", "cat", "dog"], [0.5, 1.5, 2.0]
    texts = ["The cat and the DOG", "a dog"]
    for kwargs in (dict(vocabulary=vocab), dict(vocabulary=["", "[UNK]"] + vocab),
                   dict(vocabulary=vocab, output_mode="tf_idf", idf_weights=idf),
                   dict(vocabulary=vocab, output_mode="multi_hot", max_tokens=7,
                        pad_to_max_tokens=True)):
        ours, theirs = pair("TextVectorization", **kwargs)
        assert ours.get_vocabulary() == theirs.get_vocabulary()
        assert_same(ours(texts), theirs(texts), tf_idf="idf_weights" in kwargs)
        assert ours.get_config() == keras_config(theirs)
    ours, theirs = pair("TextVectorization")
    ours.set_vocabulary(vocab), theirs.set_vocabulary(vocab)
    assert_same(ours(texts), theirs(texts))


# -- StringLookup / IntegerLookup ------------------------------------------------------------------
tokens = st.lists(st.sampled_from(["a", "b", "é", "日本", "", "[UNK]", "B", "zz"]),
                  min_size=4, max_size=4)
STRING_SETTINGS = [dict(), dict(mask_token=""), dict(num_oov_indices=0, mask_token="zz"),
                   dict(num_oov_indices=3), dict(num_oov_indices=2, salt=(7, 9)),
                   dict(output_mode="one_hot", mask_token=""), dict(output_mode="multi_hot"),
                   dict(output_mode="count", max_tokens=4), dict(output_mode="tf_idf"),
                   dict(output_mode="count", max_tokens=6, pad_to_max_tokens=True)]


@settings(max_examples=6)  # 10 Keras layers per example
@given(rows=st.lists(tokens, min_size=1, max_size=4), queries=st.lists(tokens, min_size=1,
                                                                       max_size=3))
def test_string_lookup_as_keras(rows, queries):
    data, q = np.array([["b", "a", "a", "b"]] + rows), np.array(queries)  # (see integers)
    for kwargs in STRING_SETTINGS:
        ours, theirs = pair("StringLookup", **kwargs)
        ours.adapt(data), theirs.adapt(data)
        assert ours.get_vocabulary() == theirs.get_vocabulary(), kwargs
        if kwargs.get("num_oov_indices") == 0:
            q = np.where(np.isin(q, ours.get_vocabulary()), q, "zz")
        if kwargs.get("output_mode") == "one_hot":
            q = q[:, :1]
        assert_same(ours(q), theirs(q), kwargs.get("output_mode") == "tf_idf")
        assert_same(ours(q[0]), theirs(q[0]), kwargs.get("output_mode") == "tf_idf")
        assert ours.get_config() == keras_config(theirs)
    ours = layers.StringLookup(vocabulary=ours.get_vocabulary()[1:], invert=True)
    theirs = keras.layers.StringLookup(vocabulary=theirs.get_vocabulary()[1:], invert=True)
    ids = np.array([[0, 1, 2, 3, 40]])
    assert_same(ours(ids), theirs(ids))


def test_a_lookup_and_embedding_on_scalar_strings_as_keras(capsys):
    """Géron's ch. 13 `lookup_and_embed`: InputLayer(shape=[], dtype="string") (one string
    per sample, no feature axis), a StringLookup, an Embedding: each sample's vector, (N, 2),
    and the summary as Keras's; predict takes the (N,) strings as they are."""
    from tests.parity import assert_same_summary

    def make(framework):
        lookup = framework.layers.StringLookup(name="lookup")
        lookup.adapt(["Auckland", "Paris", "Paris", "San Francisco"])
        return framework.Sequential([
            framework.layers.InputLayer(shape=[], dtype="string"), lookup,
            framework.layers.Embedding(input_dim=lookup.vocabulary_size(), output_dim=2,
                                       name="embed")])

    keras.backend.clear_session()
    minidl.backend.clear_session()
    ours, theirs = make(minidl), make(keras)
    ours.set_weights(theirs.get_weights())
    cities = np.array(["<1H OCEAN", "Paris", "Auckland"])
    expected = np.asarray(theirs(tf.constant(cities)))
    assert expected.shape == (3, 2)
    np.testing.assert_array_equal(ours(cities), expected)
    np.testing.assert_array_equal(ours.predict(cities, verbose=0), expected)
    assert ours.input_shape == theirs.input_shape == (None,)
    assert_same_summary(ours, theirs, capsys)


@settings(max_examples=6)  # 8 Keras layers per example
@given(rows=st.lists(st.lists(st.integers(-3, 12), min_size=3, max_size=3), min_size=1,
                     max_size=5),
       queries=st.lists(st.lists(st.integers(-50, 10**12), min_size=3, max_size=3),
                        min_size=1, max_size=3))
def test_integer_lookup_as_keras(rows, queries):
    # A fixed first row: data of mask and OOV tokens only leaves Keras an empty table.
    data, q = np.array([[1, 2, 2]] + rows, np.int64), np.array(queries, np.int64)
    for kwargs in (dict(), dict(mask_token=0), dict(num_oov_indices=4),
                   dict(num_oov_indices=3, oov_method="farmhash"),
                   dict(num_oov_indices=2, oov_method="farmhash", salt=11),
                   dict(output_mode="multi_hot", mask_token=0), dict(output_mode="tf_idf"),
                   dict(max_tokens=3, output_mode="count")):
        ours, theirs = pair("IntegerLookup", **kwargs)
        ours.adapt(data), theirs.adapt(data)
        assert ours.get_vocabulary() == [int(v) for v in theirs.get_vocabulary()], kwargs
        assert_same(ours(q), theirs(q), kwargs.get("output_mode") == "tf_idf")
        assert ours.get_config() == keras_config(theirs)
    vocab = [v for v in ours.get_vocabulary()[1:] if v != 0] or [5]
    ours = layers.IntegerLookup(vocabulary=vocab, invert=True, mask_token=0)
    theirs = keras.layers.IntegerLookup(vocabulary=vocab, invert=True, mask_token=0)
    ids = np.array([[0, 1, 2, len(vocab) + 1, 99]])
    assert_same(ours(ids), theirs(ids))


def test_adapt_on_batches_counts_them_all_as_keras():
    batches = [np.array(["a", "b", "b"]), np.array(["c", "c", "c", "a"])]
    ours, theirs = pair("StringLookup")
    ours.adapt(iter(batches)), theirs.adapt(iter(batches))
    assert ours.get_vocabulary() == theirs.get_vocabulary() == ["[UNK]", "c", "b", "a"]


# -- CategoryEncoding, Hashing, Discretization -----------------------------------------------------
@given(ids=st.lists(st.lists(st.integers(0, 7), min_size=2, max_size=2), min_size=1, max_size=4))
def test_category_encoding_as_keras(ids):
    x = np.array(ids)
    for mode in ("multi_hot", "count", "one_hot"):
        ours, theirs = pair("CategoryEncoding", 6, output_mode=mode)
        for xi in (x, x[:, :1], x[0]):  # ids of 6 and 7 fall outside: dropped, as TF's bincount
            assert_same(ours(xi), theirs(xi))
        assert ours.get_config() == keras_config(theirs)


@given(texts=st.lists(st.text(max_size=80), min_size=1, max_size=20))
def test_fingerprint64_and_siphash_are_tensorflow_s(texts):
    data = [t.encode("utf-8") for t in texts] + [bytes(range(n)) for n in (0, 3, 9, 17, 40, 65,
                                                                         130, 200)]
    bins = 2**63 - 1  # nearly every bit of the 64-bit hash
    fast = tf.strings.to_hash_bucket_fast(data, bins).numpy()
    strong = tf.strings.to_hash_bucket_strong(data, bins, key=[3, 2**40 + 5]).numpy()
    assert [fingerprint64(s) % bins for s in data] == fast.tolist()
    assert [siphash24(s, (3, 2**40 + 5)) % bins for s in data] == strong.tolist()
    assert [siphash24(s, (2**40 + 5, 3)) % bins for s in data] != strong.tolist()  # key order


@given(texts=st.lists(st.sampled_from(WORDS + ["", "a longer text of more than sixty-four "
                                               "bytes, so FarmHash's block loop runs too"]),
                      min_size=2, max_size=6),
       numbers=st.lists(st.integers(-10**12, 10**12), min_size=2, max_size=6))
def test_hashing_as_keras(texts, numbers):
    x, n = np.array(texts)[:, None], np.array(numbers)[:, None]
    for kwargs in (dict(), dict(mask_value=""), dict(salt=5), dict(salt=(1, 2)),
                   dict(output_mode="one_hot"), dict(output_mode="multi_hot"),
                   dict(output_mode="count", mask_value="cat")):
        ours, theirs = pair("Hashing", 5, **kwargs)
        assert_same(ours(x), theirs(x))
        assert ours.get_config() == keras_config(theirs)
    ours, theirs = pair("Hashing", 7, mask_value=0)
    assert_same(ours(n), theirs(n))  # integers hash as their decimal text
    f = n.astype(np.float32) / 7
    assert_same(layers.Hashing(7)(f), keras.layers.Hashing(7)(f))  # floats: truncated first


@given(values=st.lists(st.floats(-100, 100, width=32), min_size=2, max_size=300),
       num_bins=st.integers(1, 6), epsilon=st.sampled_from([0.01, 0.1, 0.3]),
       split=st.integers(1, 3))
def test_discretization_adapt_and_bins_as_keras(values, num_bins, epsilon, split):
    data = np.array(values, np.float32)
    batches = np.array_split(data, split)
    ours = layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    theirs = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    ours.adapt(iter(batches)), theirs.adapt(iter(batches))
    assert ours.bin_boundaries == theirs.bin_boundaries
    x = np.concatenate([data, [-1e9, 1e9]])[:, None]
    for mode in ("int", "one_hot"):
        ours.output_mode = theirs.output_mode = mode
        assert_same(ours(x), theirs(x))
    boundaries = sorted(set(np.round(data[:5], 1).tolist()))
    ours, theirs = pair("Discretization", bin_boundaries=boundaries, output_mode="count")
    assert_same(ours(x.reshape(-1, 2) if len(x) % 2 == 0 else x), theirs(
        x.reshape(-1, 2) if len(x) % 2 == 0 else x))
    assert ours.get_config() == keras_config(theirs)


# -- configs both ways, files --------------------------------------------------------------------
def test_configs_both_ways():
    corpus = ["one two two", "three three three two"]
    made = [layers.TextVectorization(max_tokens=9, ngrams=2, output_mode="tf_idf", name="tv"),
            layers.StringLookup(num_oov_indices=2, mask_token="", name="sl"),
            layers.IntegerLookup(oov_method="farmhash", name="il"),
            layers.Discretization(num_bins=3, name="d")]
    made[0].adapt(corpus), made[1].adapt(corpus[0].split()), made[2].adapt([5, 5, 6])
    made[3].adapt(np.arange(10.0))
    for layer in made:
        theirs = getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
        again = type(layer).from_config(keras_config(theirs))
        configs = [layer.get_config(), keras_config(theirs), again.get_config()]
        if not isinstance(layer, layers.Discretization):  # adapted: the vocabulary's size is
            for config in configs:  # state, not in the config's vocabulary (Keras: in assets)
                config.pop("vocabulary_size")
        assert configs[0] == configs[1] == configs[2]


def test_keras_files_hold_a_given_vocabulary_and_refuse_an_adapted_one(tmp_path):
    vocab = ["good", "bad", "film"]
    model = minidl.Sequential([minidl.Input((1,), dtype="string"),
                               layers.TextVectorization(vocabulary=vocab, output_mode="count",
                                                        name="vec"),
                               layers.Dense(1, name="out")])
    path = str(tmp_path / "text.keras")
    model.save(path)
    texts = np.array([["good good film"], ["bad"]])
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(model.predict(texts, verbose=0),
                               theirs.predict(tf.constant(texts), verbose=0),
                               rtol=1e-6)
    back = minidl.saving.load_model(path)
    np.testing.assert_array_equal(back.predict(texts, verbose=0), model.predict(texts, verbose=0))
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["config"]["layers"][0]["config"]["dtype"] == "string"
    adapted = layers.TextVectorization(name="vec2")
    adapted.adapt(["x y"])
    with pytest.raises(ValueError, match="vocabulary from adapt"):
        minidl.Sequential([minidl.Input((1,), dtype="string"), adapted]).save(path)


# -- models: summaries and fits beside Keras's twins -----------------------------------------------
TEXTS = ["good great fun film", "bad awful boring", "great good fun", "awful bad film",
         "fun good great acting", "boring bad awful plot", "good film", "bad film"] * 3
LABELS = np.array([1, 0, 1, 0, 1, 0, 1, 0] * 3)


def text_models():
    multi_hot = layers.TextVectorization(output_mode="multi_hot", name="vec")
    ids = layers.TextVectorization(output_sequence_length=5, name="ids")
    multi_hot.adapt(TEXTS), ids.adapt(TEXTS)
    yield minidl.Sequential([minidl.Input((1,), dtype="string"), multi_hot,
                             layers.Dense(4, activation="relu", name="hidden"),
                             layers.Dense(1, activation="sigmoid", name="out")], name="bag")
    yield minidl.Sequential([minidl.Input((1,), dtype="string"), ids,
                             layers.Embedding(ids.vocabulary_size(), 3, name="embed"),
                             layers.GlobalAveragePooling1D(name="pool"),
                             layers.Dense(1, activation="sigmoid", name="out")], name="seq")


@pytest.mark.parametrize("index", [0, 1])
def test_text_classifiers_fit_as_their_keras_twins(index, capsys):
    model = list(text_models())[index]
    model.compile(optimizer=minidl.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    twin = keras_twin(model)
    assert twin.layers[0].get_vocabulary() == model.layers[0].get_vocabulary()
    kwargs = dict(epochs=3, batch_size=8, shuffle=False, verbose=0)
    ours, theirs = model.fit(TEXTS, LABELS, **kwargs).history, twin.fit(
        tf.constant(TEXTS), LABELS, **kwargs).history
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    queries = ["good fun", "awful boring unseen words"]
    np.testing.assert_allclose(model.predict(queries, verbose=0),
                               twin.predict(tf.constant(queries), verbose=0), rtol=1e-5)
    capsys.readouterr()
    twin.summary()
    keras_text = capsys.readouterr().out
    model.summary()
    ours = capsys.readouterr().out
    if index == 0:  # Keras's static shape of a split text's multi_hot rows is (None, 1, V),
        # its real rows (N, V); minidl's summary shows the real ones
        V = model.layers[0].vocabulary_size()
        keras_text = keras_text.replace(f"(None, 1, {V})   ", f"(None, {V})      ")
        keras_text = keras_text.replace("(None, 1, 4)    ", "(None, 4)       ")
        keras_text = keras_text.replace("(None, 1, 1)    ", "(None, 1)       ")
    assert ours == keras_text


def test_a_layer_before_a_lookup_has_no_gradient_and_strings_need_a_text_layer():
    model = minidl.Sequential([minidl.Input((2,)), layers.Dense(2, name="d"),
                               layers.Discretization(bin_boundaries=[0.0]),
                               layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no gradient"):
        model.fit(np.ones((2, 2)), np.ones(2), verbose=0)
    plain = minidl.Sequential([minidl.Input((1,)), layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match=r"`x`.*`x = vectorizer\(x\)`"):
        plain.fit(["some text"], [1.0], verbose=0)


# -- errors: Keras's words -------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda L: L.TextVectorization(output_mode="multi_hot", output_sequence_length=3),
    lambda L: L.TextVectorization(standardize="upper"),
    lambda L: L.TextVectorization(ngrams="2"),
    lambda L: L.StringLookup(max_tokens=1),
    lambda L: L.StringLookup(num_oov_indices=-1),
    lambda L: L.StringLookup(invert=True, output_mode="count"),
    lambda L: L.StringLookup(vocabulary=["a", "a"]),
    lambda L: L.StringLookup(vocabulary=["a", "[UNK]"], invert=True),
    lambda L: L.StringLookup(max_tokens=2, vocabulary=["a", "b"]),
    lambda L: L.IntegerLookup(vocabulary_dtype="int32"),
    lambda L: L.IntegerLookup(salt=3),
    lambda L: L.CategoryEncoding(),
    lambda L: L.CategoryEncoding(3, output_mode="tf_idf"),
    lambda L: L.Hashing(0),
    lambda L: L.Hashing(3, salt="x"),
    lambda L: L.Discretization(),
    lambda L: L.Discretization(bin_boundaries=[1.0], num_bins=2),
    lambda L: L.Discretization(bin_boundaries=[1.0]).adapt(np.ones(3)),
    lambda L: L.StringLookup(output_mode="multi_hot")(["a"]),
    lambda L: L.StringLookup(vocabulary=["a"], num_oov_indices=0)(["b"]),
])
def test_errors_are_keras_s(make):
    with pytest.raises(Exception) as theirs:
        make(keras.layers)
    with pytest.raises(type(theirs.value) if not isinstance(
            theirs.value, tf.errors.InvalidArgumentError) else ValueError) as ours:
        make(layers)
    lines = [line for line in re.sub(r"\x1b\[\d+m", "", str(theirs.value)).split("\n")
             if line.strip() and not line.startswith("Exception encountered")]
    expected = lines[0]  # (Keras wraps an error raised in call() in a header)
    if isinstance(theirs.value, tf.errors.InvalidArgumentError):  # TF's assertion, in words
        expected = "When `num_oov_indices=0` all inputs should be in vocabulary"
    assert expected[:60] in str(ours.value)


@pytest.mark.parametrize("kwargs, name", [
    (dict(sparse=True), "sparse"), (dict(ragged=True), "ragged"),
    (dict(standardize=str.lower), "standardize"), (dict(output_mode="one_hot"), "one_hot"),
    (dict(split=None, ngrams=2), "ngrams")])
def test_what_minidl_leaves_out_is_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        layers.TextVectorization(**kwargs)
