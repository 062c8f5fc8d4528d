"""keras.datasets.california_housing and cifar100 beside Keras's loaders, on made files placed
in a temporary Keras cache (never the network; datasets_support.py): the same arrays, dtypes
and shapes for every version, split and label mode, Keras's errors, and minidl's hash check
of the cached copy. Arrays compared exactly: both loaders only reorder bytes."""
import io
import tarfile

import numpy as np
import pytest
from datasets_support import (  # noqa: F401 (fixtures)
    isolated, keras_cache, keras_on_made_files, minidl_cache, python2_pickle, write_npz)

from minidl.datasets import DatasetNotFoundError, california_housing, cifar100


def assert_same(ours, theirs):
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)


def test_california_housing_as_keras(tmp_path, monkeypatch, keras_on_made_files):
    from keras.src.datasets import california_housing as keras_california

    path = keras_cache(tmp_path) / "california_housing.npz"
    rng = np.random.default_rng(0)
    write_npz(path, {"x": rng.uniform(0, 50, (700, 8)).astype(np.float32),
                     "y": rng.uniform(1e4, 5e5, 700).astype(np.float32)}, compressed=False)
    monkeypatch.setattr(california_housing, "FILE_HASH", keras_on_made_files(
        keras_california, california_housing.FILE_HASH, path))
    for kwargs in ({}, {"version": "small"}, {"test_split": 0.0, "seed": 3}):
        ours = california_housing.load_data(**kwargs)
        assert_same(ours, keras_california.load_data(**kwargs))
    assert ours[0][0].shape == (700, 8)
    for kwargs in ({"version": "medium"}, {"test_split": 1.0}):
        with pytest.raises(ValueError) as mine:
            california_housing.load_data(**kwargs)
        with pytest.raises(ValueError) as theirs:
            keras_california.load_data(**kwargs)
        assert str(mine.value) == str(theirs.value)


def cifar100_archive(path, n_train=6, n_test=4):
    """A cifar-100-python .tar.gz of made images, pickled as Python 2 pickled the real one."""
    rng = np.random.default_rng(1)
    members = {}
    for name, n in (("train", n_train), ("test", n_test)):
        members[f"cifar-100-python/{name}"] = python2_pickle({
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
            b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
            b"filenames": [b"x.png"] * n})
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_cifar100_as_keras(tmp_path, monkeypatch, keras_on_made_files):
    from keras.src.datasets import cifar100 as keras_cifar100

    path = keras_cache(tmp_path) / "cifar-100-python-target_archive"  # Keras 3's name
    cifar100_archive(path)
    monkeypatch.setattr(cifar100, "FILE_HASH", keras_on_made_files(
        keras_cifar100, cifar100.FILE_HASH, path))
    for label_mode in ("fine", "coarse"):
        ours = cifar100.load_data(label_mode)
        assert_same(ours, keras_cifar100.load_data(label_mode))
    assert ours[0][0].shape == (6, 32, 32, 3) and ours[1][1].shape == (4, 1)
    with pytest.raises(ValueError) as mine:
        cifar100.load_data("medium")
    with pytest.raises(ValueError) as theirs:
        keras_cifar100.load_data("medium")
    assert str(mine.value) == str(theirs.value)


def test_a_cached_copy_that_fails_its_hash_is_not_read(tmp_path, capsys):
    """The published hashes are kept: made files do not match them, and offline nothing else
    can be fetched, so both loaders refuse (as they would a damaged download)."""
    cifar100_archive(minidl_cache(tmp_path) / cifar100.FNAME)
    write_npz(minidl_cache(tmp_path) / "california_housing.npz",
              {"x": np.zeros((3, 8)), "y": np.zeros(3)})
    for load in (cifar100.load_data, california_housing.load_data):
        with pytest.raises(DatasetNotFoundError):
            load()
    assert capsys.readouterr().err.count("Ignoring") == 2
