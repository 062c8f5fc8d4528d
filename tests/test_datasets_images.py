"""CIFAR-10 and Boston Housing against Keras's own loaders on the same made files. All offline.

The CIFAR-10 archives are made here in the python version's layout (Python 2 pickles of
dicts, one folder, six batches); Keras's loader needs the real sizes (10,000 images a batch),
so the comparison with Keras uses a full-size archive of recognisable, well-compressing images.
"""
import hashlib
import inspect
import io
import os
import tarfile

import numpy as np
import pytest
from datasets_support import (  # noqa: F401 (fixtures)
    Gadget,
    cifar_batch,
    isolated,
    keras_cache,
    keras_on_made_files,
    minidl_cache,
    python2_pickle,
    serve,
    server,
    sha256_of,
    write_boston,
    write_cifar,
    write_npz,
)
from hypothesis import given
from hypothesis import strategies as st

from minidl.datasets import (
    DatasetCorruptError,
    UnsafePickleError,
    boston_housing,
    cifar10,
)

N_SMALL = 3  # images per batch in the small archives


@pytest.fixture
def small_cifar(tmp_path, monkeypatch):
    """Write a small archive at a path in the caches; its hash becomes the published one."""

    def write(path, **kwargs):
        body = write_cifar(path, N_SMALL, **kwargs)
        monkeypatch.setattr(cifar10, "FILE_HASH", hashlib.sha256(body).hexdigest())
        return body

    return write


def expected_images(start, n):
    """The images of `cifar_batch`, laid out by hand: x[i, row, col, channel]."""
    data = cifar_batch(start, n, "expected")["data"]  # (n, 3072): R plane, G plane, B plane
    x = np.empty((n, 32, 32, 3), np.uint8)
    for channel in range(3):
        for row in range(32):
            start_of_row = channel * 1024 + row * 32
            x[:, row, :, channel] = data[:, start_of_row:start_of_row + 32]
    return x


# ---------------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cifar10_equals_keras_on_a_full_size_archive(tmp_path, monkeypatch, keras_on_made_files):
    import keras
    from keras.src.datasets import cifar10 as keras_cifar10

    assert keras.backend.image_data_format() == "channels_last"
    path = keras_cache(tmp_path) / "cifar-10-batches-py-target_archive"  # Keras 3's name
    write_cifar(path, 10000)
    monkeypatch.setattr(cifar10, "FILE_HASH",
                        keras_on_made_files(keras_cifar10, cifar10.FILE_HASH, path))
    ours, theirs = cifar10.load_data(), keras_cifar10.load_data()
    for (x_ours, y_ours), (x_keras, y_keras) in zip(ours, theirs):
        assert x_ours.dtype == x_keras.dtype == np.uint8
        assert y_ours.dtype == y_keras.dtype == np.uint8
        assert x_ours.shape == x_keras.shape and y_ours.shape == y_keras.shape
        np.testing.assert_array_equal(x_ours, x_keras)
        np.testing.assert_array_equal(y_ours, y_keras)
    assert ours[0][0].shape == (50000, 32, 32, 3) and ours[1][1].shape == (10000, 1)


def test_one_batch_parses_as_keras_parses_it(tmp_path):
    from keras.src.datasets.cifar import load_batch

    (tmp_path / "data_batch_1").write_bytes(python2_pickle(cifar_batch(5, 4, "batch")))
    x_keras, y_keras = load_batch(str(tmp_path / "data_batch_1"))  # (n, 3, 32, 32), list
    with open(tmp_path / "data_batch_1", "rb") as f:
        data, labels = cifar10.read_batch(f, "data_batch_1")
    x, y = cifar10.stack([(data, labels)])
    np.testing.assert_array_equal(x, x_keras.transpose(0, 2, 3, 1))  # Keras's channels_last
    np.testing.assert_array_equal(y[:, 0], y_keras)


def test_cifar10_layout_by_hand(tmp_path, small_cifar):
    small_cifar(minidl_cache(tmp_path) / cifar10.FNAME)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (5 * N_SMALL, 32, 32, 3) and y_train.shape == (5 * N_SMALL, 1)
    assert x_test.shape == (N_SMALL, 32, 32, 3) and y_test.shape == (N_SMALL, 1)
    assert x_train.flags.c_contiguous  # filled in place, not a transposed view
    np.testing.assert_array_equal(x_train, expected_images(0, 5 * N_SMALL))
    np.testing.assert_array_equal(x_test, expected_images(5 * N_SMALL, N_SMALL))
    assert y_train[:, 0].tolist() == [i * 3 % 10 for i in range(5 * N_SMALL)]


@pytest.mark.parametrize("cache, name", [
    ("keras", "cifar-10-batches-py-target_archive"),  # Keras 3
    ("keras", "cifar-10-batches-py.tar.gz"),  # tf.keras, Keras 2
    ("minidl", cifar10.FNAME),
])
def test_cifar10_finds_each_cache_name(tmp_path, small_cifar, cache, name):
    directory = keras_cache(tmp_path) if cache == "keras" else minidl_cache(tmp_path)
    small_cifar(directory / name)
    (_, _), (x_test, _) = cifar10.load_data()
    np.testing.assert_array_equal(x_test, expected_images(5 * N_SMALL, N_SMALL))
    assert os.listdir(directory) == [name]  # read in place: nothing extracted


def test_cifar10_downloads_from_the_server(tmp_path, server, monkeypatch):
    body = write_cifar(tmp_path / "served.tar.gz", N_SMALL)
    serve(server, "cifar-10-python.tar.gz", body)
    monkeypatch.setattr(cifar10, "ORIGIN", server.url + "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar10, "FILE_HASH", hashlib.sha256(body).hexdigest())
    (_, y_train), _ = cifar10.load_data()
    assert len(y_train) == 5 * N_SMALL
    assert (minidl_cache(tmp_path) / cifar10.FNAME).read_bytes() == body


def test_cifar10_malicious_batch_is_refused_without_running(tmp_path, small_cifar):
    marker = tmp_path / "ran"
    evil = python2_pickle({"data": Gadget(os.mkdir, str(marker)), "labels": [1]})
    small_cifar(minidl_cache(tmp_path) / cifar10.FNAME, members={"data_batch_3": evil})
    with pytest.raises(UnsafePickleError, match=r"posix.mkdir.*member cifar-10-batches-py/data"):
        cifar10.load_data()
    assert not marker.exists()


def test_cifar10_member_paths_are_never_written(tmp_path, small_cifar):
    escape = tmp_path / "escaped"
    small_cifar(minidl_cache(tmp_path) / cifar10.FNAME,
                members={f"../../../../../../../../..{escape}": b"x"})
    cifar10.load_data()
    assert not escape.exists()


@pytest.mark.parametrize("members, message", [
    ({"test_batch": python2_pickle([1, 2])}, "is not a CIFAR-10 batch"),
    ({"data_batch_2": python2_pickle({"data": np.zeros((2, 10), np.uint8), "labels": [0, 1]})},
     r"expected uint8 data of shape \(2, 3072\)"),
    ({"data_batch_2": python2_pickle({"data": np.zeros((1, 3072), np.uint8), "labels": [300]})},
     "labels 0-255"),
])
def test_cifar10_malformed_batches(tmp_path, small_cifar, members, message):
    small_cifar(minidl_cache(tmp_path) / cifar10.FNAME, members=members)
    with pytest.raises(DatasetCorruptError, match=message):
        cifar10.load_data()


def test_cifar10_missing_batch_and_broken_archive(tmp_path, monkeypatch):
    path = minidl_cache(tmp_path) / cifar10.FNAME
    write_cifar(path, N_SMALL)
    with tarfile.open(path) as archive:  # rebuild it without data_batch_4
        kept = [(m, archive.extractfile(m).read()) for m in archive if "batch_4" not in m.name]
    with tarfile.open(path, "w:gz") as archive:
        for member, data in kept:
            archive.addfile(member, io.BytesIO(data))
    monkeypatch.setattr(cifar10, "FILE_HASH", sha256_of(path))
    with pytest.raises(DatasetCorruptError, match=r"Missing: \['cifar-10-batches-py/data_b"):
        cifar10.load_data()
    path.write_bytes(path.read_bytes()[:200])  # cut short
    monkeypatch.setattr(cifar10, "FILE_HASH", sha256_of(path))
    with pytest.raises(DatasetCorruptError, match="not a readable .tar.gz"):
        cifar10.load_data()


# ---------------------------------------------------------------------------------------------
# Boston Housing
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def boston_pair(tmp_path, monkeypatch, keras_on_made_files):
    """A made boston_housing.npz in Keras's cache, readable by both loaders."""
    from keras.src.datasets import boston_housing as keras_boston

    path = keras_cache(tmp_path) / "boston_housing.npz"
    write_boston(path)
    monkeypatch.setattr(boston_housing, "FILE_HASH",
                        keras_on_made_files(keras_boston, boston_housing.FILE_HASH, path))
    return keras_boston


@given(test_split=st.floats(0, 1, exclude_max=True), seed=st.integers(0, 2**32 - 1))
def test_boston_equals_keras(boston_pair, test_split, seed):
    ours = boston_housing.load_data(test_split=test_split, seed=seed)
    theirs = boston_pair.load_data(test_split=test_split, seed=seed)
    for (x_ours, y_ours), (x_keras, y_keras) in zip(ours, theirs):
        assert x_ours.dtype == x_keras.dtype == np.float64 and y_ours.dtype == y_keras.dtype
        np.testing.assert_array_equal(x_ours, x_keras)
        np.testing.assert_array_equal(y_ours, y_keras)


def test_boston_defaults_equal_keras(boston_pair):
    ours, theirs = boston_housing.load_data(), boston_pair.load_data()
    np.testing.assert_array_equal(ours[1][0], theirs[1][0])
    assert len(ours[0][0]) == 40  # int(50 * 0.8)
    keras_defaults = {name: p.default for name, p in
                      inspect.signature(boston_pair.load_data).parameters.items()}
    assert keras_defaults == {name: p.default for name, p in
                              inspect.signature(boston_housing.load_data).parameters.items()}


@pytest.mark.parametrize("test_split", [1.0, -0.1, 1.5])
def test_boston_bad_test_split_as_keras(boston_pair, test_split):
    with pytest.raises(ValueError) as theirs:
        boston_pair.load_data(test_split=test_split)
    with pytest.raises(ValueError) as ours:
        boston_housing.load_data(test_split=test_split)
    assert str(ours.value) == str(theirs.value)


def test_boston_malformed_arrays(tmp_path):
    write_npz(tmp_path / "b.npz", {"x": np.zeros((5, 13)), "y": np.zeros(4)})
    with pytest.raises(DatasetCorruptError, match=r"x float64\(5, 13\), y float64\(4,\)"):
        boston_housing.load_data(path=tmp_path / "b.npz")
    write_npz(tmp_path / "c.npz", {"x": np.zeros((5, 13))})
    with pytest.raises(DatasetCorruptError, match=r"Missing: \['y'\]"):
        boston_housing.load_data(path=tmp_path / "c.npz")
