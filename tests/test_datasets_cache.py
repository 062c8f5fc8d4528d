"""Cached dataset files are checked on every read; unwritable caches fail clearly. All offline.

Every loader's cached copy (minidl's cache or Keras's) is checked against the published hash
each time it is read, as Keras's get_file does: a tampered copy is reported and downloaded
again (from a loopback server here), or, offline, named in the error with what to do.
"""
import errno
import hashlib
import os

import numpy as np
import pytest
from datasets_support import (  # noqa: F401 (fixtures)
    OFFLINE_URL,
    isolated,
    keras_cache,
    keras_on_made_files,
    listing,
    minidl_cache,
    serve,
    server,
    sha256_of,
    write_boston,
    write_cifar,
    write_imdb,
    write_npz,
    write_reuters,
)

from minidl.datasets import (
    DatasetNotFoundError,
    boston_housing,
    cifar10,
    files,
    imdb,
    mnist,
    reuters,
)


def write_mnist(path, seed=0):
    rng = np.random.default_rng(seed)
    return write_npz(path, {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 4, dtype=np.uint8),
    })


def tamper(path):
    """Flip one bit in the middle of a file, as a damaged disk or a tampering hand would."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def assert_same_result(a, b):
    """Two loaders' `(x_train, y_train), (x_test, y_test)`, compared array by array."""
    for split_a, split_b in zip(a, b):
        for array_a, array_b in zip(split_a, split_b):
            assert array_a.dtype == array_b.dtype and array_a.shape == array_b.shape
            assert [np.asarray(row).tolist() for row in array_a] == \
                   [np.asarray(row).tolist() for row in array_b]


# (module, attribute holding the published hash, cached file name, writer, load call)
LOADERS = {
    "mnist": (mnist, "FILE_HASH", "mnist.npz", write_mnist, mnist.load_data),
    "imdb": (imdb, "FILE_HASH", "imdb.npz", write_imdb, imdb.load_data),
    "reuters": (reuters, "FILE_HASH", "reuters.npz", write_reuters, reuters.load_data),
    "boston": (boston_housing, "FILE_HASH", "boston_housing.npz", write_boston,
               boston_housing.load_data),
    "cifar10": (cifar10, "FILE_HASH", cifar10.FNAME, lambda p: write_cifar(p, 3),
                cifar10.load_data),
}


@pytest.fixture(params=sorted(LOADERS))
def made(request, tmp_path, monkeypatch):
    """One loader with a good made file in minidl's cache and its hash as the published one."""
    module, attribute, fname, write, load = LOADERS[request.param]
    path = minidl_cache(tmp_path) / fname
    body = write(path)
    monkeypatch.setattr(module, attribute, hashlib.sha256(body).hexdigest())
    return path, body, load


# ---------------------------------------------------------------------------------------------
# Every read is checked
# ---------------------------------------------------------------------------------------------

def test_every_loader_checks_its_cached_copy_on_every_read(made):
    path, body, load = made
    first = load()  # a good copy loads, offline
    assert_same_result(load(), first)  # and again
    tamper(path)  # after a good read: the next read must see it
    with pytest.raises(DatasetNotFoundError) as info:
        load()
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert message.startswith(f"Could not find a good copy of the dataset file '{path.name}'.")
    assert f"{path}: its SHA-256 is {hashlib.sha256(path.read_bytes()).hexdigest()}" in message
    assert "delete or replace" in message and "by hand" in message
    assert path.read_bytes() != body  # offline, the bad copy stays for the user to inspect


def test_tampered_minidl_copy_is_reported_and_downloaded_again(tmp_path, server, monkeypatch,
                                                               capfd):
    path = minidl_cache(tmp_path) / "mnist.npz"
    body = write_mnist(path)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    good = mnist.load_data()
    serve(server, "mnist.npz", body)
    monkeypatch.setattr(mnist, "BASE_URL", server.url)
    tamper(path)
    assert_same_result(mnist.load_data(), good)
    err = capfd.readouterr().err
    assert f"Ignoring {path}: its SHA-256 is" in err
    assert "Downloading data from " + server.url + "mnist.npz" in err
    assert server.requests == ["/mnist.npz"]
    assert path.read_bytes() == body  # the download replaced the bad copy
    assert listing(minidl_cache(tmp_path)) == ["mnist.npz"]


def test_tampered_keras_copy_is_skipped_and_left_alone(tmp_path, server, monkeypatch, capfd):
    theirs = keras_cache(tmp_path) / "imdb.npz"
    body = write_imdb(theirs)
    monkeypatch.setattr(imdb, "FILE_HASH", hashlib.sha256(body).hexdigest())
    good = imdb.load_data()
    assert server.requests == []  # a Keras user's good copy is used as is
    tamper(theirs)
    tampered = theirs.read_bytes()
    serve(server, "imdb.npz", body)
    monkeypatch.setattr(imdb, "BASE_URL", server.url)
    assert_same_result(imdb.load_data(), good)
    assert f"Ignoring {theirs}" in capfd.readouterr().err
    assert theirs.read_bytes() == tampered  # Keras's cache is not minidl's to rewrite
    assert (minidl_cache(tmp_path) / "imdb.npz").read_bytes() == body
    assert_same_result(imdb.load_data(), good)  # now from minidl's cache: no new request
    assert server.requests == ["/imdb.npz"]


def test_offline_error_names_every_rejected_copy(tmp_path, monkeypatch):
    ours, theirs = minidl_cache(tmp_path) / "mnist.npz", keras_cache(tmp_path) / "mnist.npz"
    body = write_mnist(ours)
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(body)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    tamper(ours)
    tamper(theirs)
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    for path in (ours, theirs):
        assert f"  - {path}: its SHA-256 is {sha256_of(path)}, not the published " \
               f"{mnist.FILE_HASH}" in message
    assert "Connection refused" in message
    assert f"copy it to:\n  {ours}" in message


def test_keras_too_refuses_a_tampered_cached_copy(tmp_path, keras_on_made_files):
    from keras.src.datasets import imdb as keras_imdb

    theirs = keras_cache(tmp_path) / "imdb.npz"
    write_imdb(theirs)
    keras_on_made_files(keras_imdb, imdb.FILE_HASH, theirs)
    tamper(theirs)
    with pytest.raises(AssertionError, match="Keras tried to download"):
        keras_imdb.load_data()  # Keras checks the hash of its cached copy and re-downloads


def test_word_index_is_checked_against_keras_md5(tmp_path, monkeypatch):
    path = minidl_cache(tmp_path) / "imdb_word_index.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"the": 1, "movie": 2}')
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", hashlib.md5(path.read_bytes()).hexdigest())
    assert imdb.get_word_index() == {"the": 1, "movie": 2}
    path.write_text('{"the": 1, "movie": 3}')
    with pytest.raises(DatasetNotFoundError, match=r"its MD5 is [0-9a-f]{32}, not the published"):
        imdb.get_word_index()


# ---------------------------------------------------------------------------------------------
# What counts as the user's own file
# ---------------------------------------------------------------------------------------------

def test_bare_name_means_the_cache_as_in_keras_and_a_path_the_users_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    body = write_mnist(tmp_path / "mnist.npz")  # a file in the current directory
    assert hashlib.sha256(body).hexdigest() != mnist.FILE_HASH
    with pytest.raises(DatasetNotFoundError, match="Could not find the dataset file"):
        mnist.load_data()  # "mnist.npz" names the cache, as in Keras: the local file is not read
    (x_train, _), _ = mnist.load_data("./mnist.npz")  # a path: the user's own file, unchecked
    assert x_train.shape == (6, 28, 28)


@pytest.mark.parametrize("path", [".", "..", "./", "nowhere/imdb.npz"])
def test_a_path_that_is_not_a_file_is_an_error_naming_it(path):
    with pytest.raises(DatasetNotFoundError, match="Received an invalid value for `path`"):
        imdb.load_data(path=path)


# ---------------------------------------------------------------------------------------------
# Unwritable caches
# ---------------------------------------------------------------------------------------------

def make_unwritable(directory, monkeypatch):
    """Make `directory` read-only; where the process can write anyway (root), refuse as the
    kernel refuses everyone else, with the PermissionError mkstemp raises."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o555)
    if os.access(directory, os.W_OK):  # root ignores file modes
        def refuse(dir=None, prefix="", suffix="", **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied",
                                  os.path.join(dir, prefix + "abc123" + suffix))

        monkeypatch.setattr(files.tempfile, "mkstemp", refuse)


def assert_unwritable_error(info, target, server):
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert f"could not write {target} (Permission denied)" in message
    assert "MINIDL_HOME" in message and "by hand" in message
    assert ".part" not in message
    assert server.requests == []  # refused before any download


def test_unwritable_cache_is_a_clear_error_naming_the_target(tmp_path, server, monkeypatch):
    cache = minidl_cache(tmp_path)
    serve(server, "reuters.npz", b"never sent")
    monkeypatch.setattr(reuters, "BASE_URL", server.url)
    make_unwritable(cache, monkeypatch)
    try:
        with pytest.raises(DatasetNotFoundError) as info:
            reuters.load_data()
    finally:
        cache.chmod(0o755)
    assert_unwritable_error(info, cache / "reuters.npz", server)
    assert f"copy it to one of:\n  {cache / 'reuters.npz'}\n  {keras_cache(tmp_path)}" \
        in str(info.value)
    assert listing(cache) == []  # no partial file


def test_cache_under_a_file_is_a_clear_error(tmp_path, server, monkeypatch):
    (tmp_path / "a_file").write_text("not a directory")
    monkeypatch.setenv("MINIDL_HOME", str(tmp_path / "a_file" / "home"))
    serve(server, "boston_housing.npz", b"never sent")
    monkeypatch.setattr(boston_housing, "BASE_URL", server.url)
    with pytest.raises(DatasetNotFoundError) as info:
        boston_housing.load_data()
    target = tmp_path / "a_file" / "home" / "datasets" / "boston_housing.npz"
    assert f"could not write {target} (Not a directory)" in str(info.value)
    assert server.requests == []


def test_disk_full_during_download_names_the_target_and_leaves_nothing(tmp_path, server,
                                                                       monkeypatch):
    body = write_mnist(tmp_path / "served.npz")
    serve(server, "mnist.npz", body)
    monkeypatch.setattr(mnist, "BASE_URL", server.url)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    real_fdopen = os.fdopen

    class FullDisk:
        """The partial file, whose first write fails as on a full disk."""

        def __init__(self, *args, **kwargs):
            self.file = real_fdopen(*args, **kwargs)

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(files.os, "fdopen", FullDisk)
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    target = minidl_cache(tmp_path) / "mnist.npz"
    assert f"could not write {target} (No space left on device)" in str(info.value)
    assert listing(minidl_cache(tmp_path)) == []
