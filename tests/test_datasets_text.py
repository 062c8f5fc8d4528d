"""IMDB and Reuters against Keras's own loaders on the same made files; the restricted unpickler.

Keras's loaders read the made files from a temporary Keras home (see
`datasets_support.keras_on_made_files`); nothing touches the network.
"""
import hashlib
import importlib
import inspect
import io
import json
import os
import pickle
import subprocess

import numpy as np
import pytest
from datasets_support import (  # noqa: F401 (fixtures)
    Gadget,
    isolated,
    keras_cache,
    keras_on_made_files,
    minidl_cache,
    python2_pickle,
    ragged,
    serve,
    server,
    write_imdb,
    write_npz,
    write_reuters,
)
from hypothesis import given
from hypothesis import strategies as st

from minidl.datasets import DatasetCorruptError, UnsafePickleError, imdb, reuters, unpickle


def as_lists(x):
    """An object array of sequences as plain nested lists, for exact comparison."""
    return [np.asarray(row).tolist() for row in x]


def assert_same_as_keras(ours, theirs):
    """minidl's and Keras's `(x_train, y_train), (x_test, y_test)`: equal values, dtypes, shapes."""
    for (x_ours, y_ours), (x_keras, y_keras) in zip(ours, theirs):
        assert x_ours.dtype == x_keras.dtype == object
        assert x_ours.shape == x_keras.shape
        assert as_lists(x_ours) == as_lists(x_keras)
        assert [type(w) for row in x_ours for w in row] == \
               [type(w) for row in x_keras for w in row]  # Python ints, as Keras
        assert y_ours.dtype == y_keras.dtype and y_ours.shape == y_keras.shape
        np.testing.assert_array_equal(y_ours, y_keras)


def run_both(ours, theirs, **options):
    """Call both loaders; both must fail with the same error type, or agree."""
    try:
        expected = theirs(**options)
    except ValueError:
        with pytest.raises(ValueError):
            ours(**options)
        return
    assert_same_as_keras(ours(**options), expected)


@pytest.fixture
def imdb_pair(tmp_path, monkeypatch, keras_on_made_files):
    """A made imdb.npz in Keras's cache, readable by both loaders."""
    from keras.src.datasets import imdb as keras_imdb

    path = keras_cache(tmp_path) / "imdb.npz"
    write_imdb(path)
    monkeypatch.setattr(imdb, "FILE_HASH", keras_on_made_files(keras_imdb, imdb.FILE_HASH, path))
    return keras_imdb


@pytest.fixture
def reuters_pair(tmp_path, monkeypatch, keras_on_made_files):
    """A made reuters.npz in Keras's cache, readable by both loaders."""
    from keras.src.datasets import reuters as keras_reuters

    path = keras_cache(tmp_path) / "reuters.npz"
    write_reuters(path)
    made_hash = keras_on_made_files(keras_reuters, reuters.FILE_HASH, path)
    monkeypatch.setattr(reuters, "FILE_HASH", made_hash)
    return keras_reuters


sequence_options = dict(
    num_words=st.one_of(st.none(), st.integers(0, 45)),
    skip_top=st.integers(0, 6),
    maxlen=st.one_of(st.none(), st.integers(0, 14)),
    seed=st.integers(0, 2**32 - 1),
    start_char=st.one_of(st.none(), st.integers(0, 3)),
    oov_char=st.one_of(st.none(), st.integers(0, 3)),
    index_from=st.integers(0, 4),
)


# ---------------------------------------------------------------------------------------------
# IMDB and Reuters against Keras
# ---------------------------------------------------------------------------------------------

def test_imdb_defaults_equal_keras(imdb_pair):
    assert_same_as_keras(imdb.load_data(), imdb_pair.load_data())


@given(**sequence_options)
def test_imdb_options_equal_keras(imdb_pair, **options):
    run_both(imdb.load_data, imdb_pair.load_data, **options)


def test_reuters_defaults_equal_keras(reuters_pair):
    assert_same_as_keras(reuters.load_data(), reuters_pair.load_data())


@given(test_split=st.floats(0, 1), **sequence_options)
def test_reuters_options_equal_keras(reuters_pair, **options):
    run_both(reuters.load_data, reuters_pair.load_data, **options)


def test_equal_length_sequences_give_keras_2d_object_array(tmp_path, monkeypatch,
                                                           keras_on_made_files):
    from keras.src.datasets import reuters as keras_reuters

    path = keras_cache(tmp_path) / "reuters.npz"
    x = np.empty(10, dtype=object)
    x[:] = [[1, 2, 3]] * 10  # all one length
    write_npz(path, {"x": x, "y": np.arange(10)}, compressed=False)
    monkeypatch.setattr(reuters, "FILE_HASH",
                        keras_on_made_files(keras_reuters, reuters.FILE_HASH, path))
    ours, theirs = reuters.load_data(), keras_reuters.load_data()
    assert ours[0][0].shape == theirs[0][0].shape == (8, 4)  # start_char + 3 words
    assert_same_as_keras(ours, theirs)


def test_maxlen_keeps_only_shorter_sequences_as_keras_does(imdb_pair):
    (x_train, _), (x_test, _) = imdb.load_data(maxlen=6)
    assert max(len(x) for x in list(x_train) + list(x_test)) <= 5  # strictly shorter
    assert_same_as_keras(imdb.load_data(maxlen=6), imdb_pair.load_data(maxlen=6))
    with pytest.raises(ValueError, match="maxlen=1, no sequence was kept"):
        imdb.load_data(maxlen=1)  # every review has start_char + at least one word


def test_reuters_maxlen_may_keep_nothing_when_num_words_is_given(reuters_pair):
    options = dict(maxlen=1, num_words=5)  # Keras returns empty splits (labels float64!)
    ours, theirs = reuters.load_data(**options), reuters_pair.load_data(**options)
    assert_same_as_keras(ours, theirs)
    assert ours[0][0].shape == (0,) and ours[0][1].dtype == np.float64
    with pytest.raises(ValueError, match="maxlen=1, no sequence was kept"):
        reuters.load_data(maxlen=1)  # without num_words Keras fails too, on max() of nothing
    with pytest.raises(ValueError):
        reuters_pair.load_data(maxlen=1)


def test_signatures_and_defaults_equal_keras():
    from keras.src.datasets import imdb as keras_imdb
    from keras.src.datasets import reuters as keras_reuters

    for ours, theirs in ((imdb.load_data, keras_imdb.load_data),
                         (reuters.load_data, keras_reuters.load_data),
                         (imdb.get_word_index, keras_imdb.get_word_index),
                         (reuters.get_word_index, keras_reuters.get_word_index)):
        keras_parameters = {name: p.default for name, p in
                            inspect.signature(theirs).parameters.items()
                            if p.kind != p.VAR_KEYWORD}  # imdb's **kwargs are ignored by Keras
        ours_parameters = {name: p.default for name, p in
                           inspect.signature(ours).parameters.items()}
        assert ours_parameters == keras_parameters
    assert reuters.get_label_names() == keras_reuters.get_label_names()


@pytest.mark.parametrize("module, fname", [(imdb, "imdb_word_index.json"),
                                           (reuters, "reuters_word_index.json")])
def test_word_index_equals_keras(module, fname, tmp_path, monkeypatch, keras_on_made_files):
    keras_module = importlib.import_module(module.__name__.replace("minidl.", "keras.src."))
    path = keras_cache(tmp_path) / fname
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"the": 1, "and": 2, "café": 3}), encoding="utf-8")
    keras_on_made_files(keras_module, module.WORD_INDEX_HASH, path)  # checks Keras's MD5
    monkeypatch.setattr(module, "WORD_INDEX_HASH", hashlib.md5(path.read_bytes()).hexdigest())
    assert module.get_word_index() == keras_module.get_word_index() == {"the": 1, "and": 2,
                                                                        "café": 3}


def test_imdb_downloads_from_the_server_and_checks_it(tmp_path, server, monkeypatch):
    body = write_imdb(tmp_path / "served.npz")
    serve(server, "imdb.npz", body)
    monkeypatch.setattr(imdb, "BASE_URL", server.url)
    monkeypatch.setattr(imdb, "FILE_HASH", hashlib.sha256(body).hexdigest())
    (x_train, y_train), _ = imdb.load_data()
    assert len(x_train) == len(y_train) == 30
    assert (minidl_cache(tmp_path) / "imdb.npz").read_bytes() == body
    assert server.requests == ["/imdb.npz"]


@pytest.mark.parametrize("argument, value", [
    ("num_words", -1), ("num_words", 2.5), ("skip_top", None), ("maxlen", "10"),
    ("seed", -3), ("start_char", True), ("oov_char", 1.0), ("index_from", None),
])
def test_bad_options_name_the_argument(argument, value):
    for loader in (imdb.load_data, reuters.load_data):
        with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}="):
            loader(**{argument: value})


@pytest.mark.parametrize("test_split", [-0.1, 1.5, "0.2", None])
def test_reuters_bad_test_split(test_split):
    with pytest.raises(ValueError, match="`test_split`"):
        reuters.load_data(test_split=test_split)


def test_file_without_the_expected_arrays(tmp_path):
    write_npz(tmp_path / "imdb.npz", {"x": ragged(np.random.default_rng(0), 3)})
    with pytest.raises(DatasetCorruptError, match=r"Missing: \['x_train', 'y_train'"):
        imdb.load_data(path=tmp_path / "imdb.npz")


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.7, 0.99])
def test_truncated_file_is_a_clear_error(tmp_path, keep):
    data = write_reuters(tmp_path / "reuters.npz")
    (tmp_path / "reuters.npz").write_bytes(data[: int(keep * len(data))])
    with pytest.raises(DatasetCorruptError, match="reuters.npz"):
        reuters.load_data(path=tmp_path / "reuters.npz")


# ---------------------------------------------------------------------------------------------
# The restricted unpickler: no code is ever run from a file
# ---------------------------------------------------------------------------------------------

def gadgets(marker):
    """Pickles that would run code, each as `pickle.dumps` writes it (by module and name)."""
    return {
        "os.system": pickle.dumps(Gadget(os.system, f"touch {marker}")),
        "os.mkdir": pickle.dumps(Gadget(os.mkdir, str(marker))),
        "builtins.eval": pickle.dumps(Gadget(eval, f"open({str(marker)!r}, 'w')")),
        "builtins.exec": pickle.dumps(Gadget(exec, f"open({str(marker)!r}, 'w')")),
        "subprocess.Popen": pickle.dumps(Gadget(subprocess.Popen, ["touch", str(marker)])),
        "inside a list": pickle.dumps([1, [2, Gadget(os.mkdir, str(marker))]]),
    }


def test_the_gadgets_do_run_code_under_plain_pickle(tmp_path):
    # Negative control: the crafted pickles are real attacks, so refusing them means something.
    marker = tmp_path / "ran"
    pickle.loads(gadgets(marker)["os.mkdir"])
    assert marker.is_dir()


@pytest.mark.parametrize("name", sorted(gadgets("x")))
def test_restricted_unpickler_refuses_every_gadget_without_running_it(name, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(UnsafePickleError, match="Refusing to load `") as info:
        unpickle.load_pickle(io.BytesIO(gadgets(marker)[name]), source="crafted.pkl")
    assert "crafted.pkl" in str(info.value) and "nothing in it was run" in str(info.value)
    assert isinstance(info.value, pickle.UnpicklingError)  # also what Keras raises
    assert not marker.exists()


def test_persistent_ids_are_refused(tmp_path):
    class WithPersistentId(pickle.Pickler):
        def persistent_id(self, obj):
            return "outside" if obj == "x" else None

    buffer = io.BytesIO()
    WithPersistentId(buffer).dump(["x"])
    with pytest.raises(UnsafePickleError, match="persistent id"):
        unpickle.load_pickle(io.BytesIO(buffer.getvalue()), source="crafted.pkl")


def test_a_malicious_npz_is_refused_even_as_the_users_own_file(tmp_path):
    marker = tmp_path / "ran"
    x = np.empty(2, dtype=object)
    x[:] = [[1, 2], Gadget(os.mkdir, str(marker))]
    write_npz(tmp_path / "evil.npz", {"x_train": x, "y_train": np.zeros(2, int),
                                      "x_test": x, "y_test": np.zeros(2, int)})
    with pytest.raises(UnsafePickleError, match=r"`posix.mkdir` from .*evil.npz \(member"):
        imdb.load_data(path=tmp_path / "evil.npz")  # a path: unchecked, but still never run
    assert not marker.exists()


def test_object_arrays_from_numpy_1_and_2_files_load():
    x = np.empty(3, dtype=object)
    x[:] = [[1, 2], [3], []]
    buffer = io.BytesIO()
    np.save(buffer, x)  # NumPy 2 names numpy._core.multiarray
    numpy2 = buffer.getvalue()
    # NumPy 1 named numpy.core.multiarray; protocol 3 writes names as text lines (GLOBAL), so
    # the name can be swapped without touching any length field.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(x))
    stream = pickle.dumps(x, protocol=3)
    assert b"cnumpy._core.multiarray\n" in stream
    numpy1 = header.getvalue() + stream.replace(b"cnumpy._core.multiarray\n",
                                                b"cnumpy.core.multiarray\n")
    for data in (numpy2, numpy1):
        array = unpickle.read_npy(io.BytesIO(data), source="made.npy")
        assert array.dtype == object and array.tolist() == [[1, 2], [3], []]


def test_a_damaged_pickle_stream_is_a_clear_error():
    data = python2_pickle({"data": np.arange(10, dtype=np.uint8), "labels": [1, 2]})
    assert unpickle.load_pickle(io.BytesIO(data), "made.pkl", encoding="bytes")[b"labels"] == [1, 2]
    for cut in (1, len(data) // 2, len(data) - 1):
        with pytest.raises(DatasetCorruptError, match="made.pkl: the pickled data is damaged"):
            unpickle.load_pickle(io.BytesIO(data[:cut]), source="made.pkl")
