"""Tests for minidl.datasets: all offline.

Files are made in tmp_path; downloads are served by a local http.server on 127.0.0.1; the
only real dataset read is Debian's Fashion-MNIST package, parsed once per module.
"""
import gzip
import hashlib
import io
import os
import struct
import sys

import numpy as np
import pytest
from datasets_support import (  # noqa: F401 (fixtures)
    OFFLINE_URL,
    isolated,
    keras_cache,
    listing,
    minidl_cache,
    serve,
    server,
    sha256_of,
    write_npz,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.datasets import (
    DatasetCorruptError,
    DatasetNotFoundError,
    digits,
    fashion_mnist,
    files,
    mnist,
    synthetic,
)

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
SUBDIR = "fashion-mnist"
FASHION_FILES = {  # file name -> split and kind, in Keras's order
    "train-labels-idx1-ubyte.gz": ("train", "y"),
    "train-images-idx3-ubyte.gz": ("train", "x"),
    "t10k-labels-idx1-ubyte.gz": ("test", "y"),
    "t10k-images-idx3-ubyte.gz": ("test", "x"),
}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def fake_mnist(seed=0, n_train=6, n_test=4):
    """Small random uint8 arrays in MNIST's layout."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def idx_bytes(array):
    """An array in the IDX format: magic (0, 0, type, ndim), big-endian dims, big-endian data."""
    code = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    kind = array.dtype.str[1:]  # e.g. "<f4" -> "f4"
    header = bytes([0, 0, code[kind], array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(">" + kind).tobytes()


def write_fashion(directory, seed=0, n_train=5, n_test=3):
    """Write the four Fashion-MNIST gz files with small random data; return the arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = fake_mnist(seed, n_train, n_test)
    for fname, (split, kind) in FASHION_FILES.items():
        with gzip.GzipFile(directory / fname, "wb", mtime=0) as f:  # named header, as Zalando's
            f.write(idx_bytes(arrays[f"{kind}_{split}"]))
    return arrays


def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_train, arrays["y_train"])
    np.testing.assert_array_equal(x_test, arrays["x_test"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8


# ---------------------------------------------------------------------------------------------
# MNIST: local file and cache order
# ---------------------------------------------------------------------------------------------

def test_mnist_loads_an_existing_file_path(tmp_path):
    arrays = fake_mnist()
    write_npz(tmp_path / "mine" / "digits.npz", arrays)
    assert_loaded(mnist.load_data(path=tmp_path / "mine" / "digits.npz"), arrays)


def test_mnist_cache_order_user_path_then_minidl_then_keras(tmp_path, monkeypatch):
    body = write_npz(keras_cache(tmp_path) / "mnist.npz", fake_mnist(3))
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    assert_loaded(mnist.load_data(), fake_mnist(3))  # a Keras user downloads nothing
    # With a good copy in both caches, minidl's comes first.
    minidl_cache(tmp_path).mkdir(parents=True)
    (minidl_cache(tmp_path) / "mnist.npz").write_bytes(body)
    found = files.locate("mnist.npz", OFFLINE_URL, mnist.FILE_HASH)
    assert found == str(minidl_cache(tmp_path) / "mnist.npz")
    # A path the user names beats both, and is the user's own file: read unchecked.
    write_npz(tmp_path / "local" / "mnist.npz", fake_mnist(1))
    assert_loaded(mnist.load_data(tmp_path / "local" / "mnist.npz"), fake_mnist(1))


def test_mnist_keras_home_defaults_to_dot_keras(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    arrays = fake_mnist()
    body = write_npz(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz", arrays)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    assert_loaded(mnist.load_data(), arrays)


def test_mnist_missing_explicit_path_is_an_error(tmp_path):
    missing = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(DatasetNotFoundError, match="`path`") as info:
        mnist.load_data(path=missing)
    assert str(missing) in str(info.value)
    assert not os.path.exists(minidl_cache(tmp_path))  # no download was attempted


def test_mnist_missing_everywhere_lists_places_url_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "'mnist.npz'" in message
    assert str(minidl_cache(tmp_path) / "mnist.npz") in message
    assert str(keras_cache(tmp_path) / "mnist.npz") in message
    assert OFFLINE_URL + "mnist.npz" in message
    assert "by hand" in message
    assert listing(minidl_cache(tmp_path)) == []  # no partial file left behind


# ---------------------------------------------------------------------------------------------
# MNIST: corrupt files give a clear error, never a bad array
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_mnist_truncated_file(tmp_path, keep):
    data = write_npz(tmp_path / "mnist.npz", fake_mnist())
    (tmp_path / "mnist.npz").write_bytes(data[: int(keep * len(data))])
    with pytest.raises(DatasetCorruptError, match="mnist.npz"):
        mnist.load_data(tmp_path / "mnist.npz")


def test_mnist_not_an_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DatasetCorruptError, match="not a readable .npz"):
        mnist.load_data(tmp_path / "mnist.npz")


def test_mnist_npz_missing_keys(tmp_path):
    arrays = fake_mnist()
    del arrays["y_test"]
    write_npz(tmp_path / "mnist.npz", arrays)
    with pytest.raises(DatasetCorruptError, match=r"Missing: \['y_test'\]"):
        mnist.load_data(tmp_path / "mnist.npz")


def test_mnist_npz_wrong_dtype_or_shape(tmp_path):
    arrays = fake_mnist()
    arrays["x_train"] = arrays["x_train"].astype(np.float32)
    write_npz(tmp_path / "a.npz", arrays)
    with pytest.raises(DatasetCorruptError, match="x_train float32"):
        mnist.load_data(tmp_path / "a.npz")
    arrays = fake_mnist()
    arrays["y_test"] = arrays["y_test"][:-1]
    write_npz(tmp_path / "b.npz", arrays)
    with pytest.raises(DatasetCorruptError, match="malformed test arrays"):
        mnist.load_data(tmp_path / "b.npz")


# ---------------------------------------------------------------------------------------------
# IDX parsing
# ---------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    dtype=st.sampled_from(["u1", "i1", ">i2", ">i4", ">f4", ">f8"]),
    seed=st.integers(0, 2**16),
)
def test_read_idx_round_trip(shape, dtype, seed):
    array = (np.random.default_rng(seed).standard_normal(shape) * 100).astype(dtype)
    result = files.read_idx(io.BytesIO(gzip.compress(idx_bytes(array))))
    assert result.shape == tuple(shape)
    assert result.dtype == array.dtype.newbyteorder("=")  # native byte order
    np.testing.assert_array_equal(result, array)


def test_read_idx_is_big_endian():
    # Hand-made file: 2 int16 values, 0x0102 = 258 and 0xFFFE = -2, stored big-endian.
    raw = bytes([0, 0, 0x0B, 1]) + bytes([0, 0, 0, 2]) + bytes([0x01, 0x02, 0xFF, 0xFE])
    np.testing.assert_array_equal(files.read_idx(io.BytesIO(gzip.compress(raw))), [258, -2])


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "magic number"),
        (bytes([0, 0, 0x08]), "magic number"),
        (bytes([8, 0, 0x08, 1, 0, 0, 0, 1, 7]), "magic number"),  # first byte not zero
        (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 7]), "magic number"),  # unknown type code
        (bytes([0, 0, 0x08, 3, 0, 0, 0, 1]), "truncated"),  # header cut inside the dims
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 7]), "wrong size"),  # 2 of 3 values
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 1, 7, 7]), "wrong size"),  # trailing byte
    ],
)
def test_read_idx_rejects_bad_content(raw, message):
    with pytest.raises(DatasetCorruptError, match=message):
        files.read_idx(io.BytesIO(gzip.compress(raw)))


def test_read_idx_rejects_bad_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    for name in ("cut.gz", "plain.gz"):
        with pytest.raises(DatasetCorruptError, match="not a valid gzip"):
            files.read_idx(tmp_path / name)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST: local directory, cache order, errors
# ---------------------------------------------------------------------------------------------

def test_fashion_loads_a_directory(tmp_path):
    arrays = write_fashion(tmp_path / "mine")
    assert_loaded(fashion_mnist.load_data(path=tmp_path / "mine"), arrays)


def test_fashion_cache_order_local_then_minidl_then_keras_then_system(tmp_path, monkeypatch):
    arrays = write_fashion(tmp_path / "system", seed=1)
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", {
        fname: sha256_of(tmp_path / "system" / fname) for fname in FASHION_FILES
    })
    assert_loaded(fashion_mnist.load_data(), arrays)
    fname = "t10k-labels-idx1-ubyte.gz"

    def found():
        dirs = fashion_mnist.search_dirs()
        return files.get_file(fname, OFFLINE_URL, fashion_mnist.FILE_HASHES[fname], dirs, None)

    assert found() == str(tmp_path / "system" / fname)
    for directory in (keras_cache(tmp_path, SUBDIR), minidl_cache(tmp_path, SUBDIR)):
        directory.mkdir(parents=True)
        (directory / fname).write_bytes((tmp_path / "system" / fname).read_bytes())
        assert found() == str(directory / fname)  # each place beats the ones after it
    local = write_fashion(tmp_path / "local", seed=4)  # the user's own files, read unchecked
    assert_loaded(fashion_mnist.load_data(path=tmp_path / "local"), local)


def test_fashion_default_search_reaches_debian_copy(monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [DEBIAN_DIR])
    dirs = fashion_mnist.search_dirs()
    assert dirs[-1] == DEBIAN_DIR
    if os.path.isdir(DEBIAN_DIR):
        fname = "t10k-labels-idx1-ubyte.gz"
        found = files.get_file(fname, OFFLINE_URL, fashion_mnist.FILE_HASHES[fname], dirs,
                               dirs[0], checksum=fashion_mnist.original_sha256)
        assert found == os.path.join(DEBIAN_DIR, fname)  # checked and accepted


def test_fashion_directory_missing_a_file(tmp_path):
    write_fashion(tmp_path / "mine")
    os.remove(tmp_path / "mine" / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data(path=tmp_path / "mine")
    message = str(info.value)
    assert str(tmp_path / "mine" / "t10k-images-idx3-ubyte.gz") in message
    assert OFFLINE_URL + "t10k-images-idx3-ubyte.gz" in message
    assert not os.path.exists(minidl_cache(tmp_path))  # a named location never downloads


def test_fashion_path_must_be_a_directory(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="not a directory"):
        fashion_mnist.load_data(path=tmp_path / "nowhere")


def test_fashion_missing_everywhere_lists_places_url_and_fix(tmp_path, capsys):
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    assert "Downloading data from" not in capsys.readouterr().err  # nothing was downloading
    message = str(info.value)
    for directory in (
        minidl_cache(tmp_path, "fashion-mnist"),
        keras_cache(tmp_path, "fashion-mnist"),
        tmp_path / "system",
    ):
        assert str(directory / "train-images-idx3-ubyte.gz") in message
    assert OFFLINE_URL + "train-images-idx3-ubyte.gz" in message
    assert "by hand" in message
    assert listing(minidl_cache(tmp_path, "fashion-mnist")) == []


def test_fashion_truncated_file(tmp_path):
    write_fashion(tmp_path / "mine")
    path = tmp_path / "mine" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetCorruptError, match="train-images"):
        fashion_mnist.load_data(path=tmp_path / "mine")


def test_fashion_label_and_image_counts_must_agree(tmp_path):
    write_fashion(tmp_path / "mine")
    labels = np.zeros(4, np.uint8)  # the train images are 5
    path = tmp_path / "mine" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DatasetCorruptError, match="5 images and 4 labels"):
        fashion_mnist.load_data(path=tmp_path / "mine")


def test_fashion_images_must_be_uint8_3d(tmp_path):
    write_fashion(tmp_path / "mine")
    images = np.zeros((5, 784), np.uint8)
    path = tmp_path / "mine" / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)))
    with pytest.raises(DatasetCorruptError, match="train images"):
        fashion_mnist.load_data(path=tmp_path / "mine")


# ---------------------------------------------------------------------------------------------
# Downloading from a local server
# ---------------------------------------------------------------------------------------------

def test_download_lands_verified_file_atomically(tmp_path, server, monkeypatch, capfd):
    arrays = fake_mnist()
    body = write_npz(tmp_path / "served.npz", arrays)
    serve(server, "mnist.npz", body)
    monkeypatch.setattr(mnist, "BASE_URL", server.url)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    target = minidl_cache(tmp_path) / "mnist.npz"
    replaced = []

    def spy_replace(src, dst):
        # At the rename the target does not exist yet and the temporary file is complete.
        assert not os.path.exists(dst)
        assert os.path.dirname(src) == os.path.dirname(dst) and src.endswith(".part")
        assert open(src, "rb").read() == body
        replaced.append(dst)
        os.rename(src, dst)

    monkeypatch.setattr(files.os, "replace", spy_replace)
    assert_loaded(mnist.load_data(), arrays)
    assert replaced == [str(target)]
    assert target.read_bytes() == body
    assert listing(minidl_cache(tmp_path)) == ["mnist.npz"]
    err = capfd.readouterr().err
    assert "Downloading data from " + server.url + "mnist.npz" in err
    assert "100%" in err  # the progress bar reached the end
    # The second load reads the cache: no new request.
    assert_loaded(mnist.load_data(), arrays)
    assert server.requests == ["/mnist.npz"]


def test_download_wrong_hash_leaves_nothing(tmp_path, server, monkeypatch):
    serve(server, "mnist.npz", write_npz(tmp_path / "served.npz", fake_mnist()))
    monkeypatch.setattr(mnist, "BASE_URL", server.url)
    monkeypatch.setattr(mnist, "FILE_HASH", "0" * 64)
    with pytest.raises(DatasetCorruptError, match="SHA-256") as info:
        mnist.load_data()
    assert "0" * 64 in str(info.value)
    assert listing(minidl_cache(tmp_path)) == []


def test_download_truncated_body_leaves_nothing(tmp_path, server, monkeypatch):
    body = write_npz(tmp_path / "served.npz", fake_mnist())
    serve(server, "mnist.npz", body[: len(body) // 2], declared=len(body))
    monkeypatch.setattr(mnist, "BASE_URL", server.url)
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())
    with pytest.raises(DatasetCorruptError, match="Incomplete download"):
        mnist.load_data()
    assert listing(minidl_cache(tmp_path)) == []


def test_download_http_error_is_not_found(tmp_path, server, monkeypatch):
    monkeypatch.setattr(mnist, "BASE_URL", server.url)  # no route: 404
    with pytest.raises(DatasetNotFoundError, match="Not Found"):
        mnist.load_data()
    assert listing(minidl_cache(tmp_path)) == []


def test_fashion_downloads_only_what_is_missing(tmp_path, server, monkeypatch):
    arrays = write_fashion(tmp_path / "served")
    hashes = {}
    for fname in FASHION_FILES:
        body = (tmp_path / "served" / fname).read_bytes()
        serve(server, fname, body)
        hashes[fname] = hashlib.sha256(body).hexdigest()
    keras_dir = keras_cache(tmp_path, "fashion-mnist")
    keras_dir.mkdir(parents=True)
    (keras_dir / "train-labels-idx1-ubyte.gz").write_bytes(
        (tmp_path / "served" / "train-labels-idx1-ubyte.gz").read_bytes()
    )
    monkeypatch.setattr(fashion_mnist, "BASE_URL", server.url)
    monkeypatch.setattr(fashion_mnist, "FILE_HASHES", hashes)
    assert_loaded(fashion_mnist.load_data(), arrays)
    downloaded = sorted(f for f in FASHION_FILES if "train-labels" not in f)
    assert sorted(server.requests) == ["/" + f for f in downloaded]
    assert listing(minidl_cache(tmp_path, "fashion-mnist")) == downloaded


# ---------------------------------------------------------------------------------------------
# The real Fashion-MNIST from Debian's dataset-fashion-mnist package
# ---------------------------------------------------------------------------------------------

needs_debian = pytest.mark.skipif(
    not os.path.isdir(DEBIAN_DIR), reason="needs the dataset-fashion-mnist package"
)


@pytest.fixture(scope="module")
def debian_fashion():
    """Parse the ~30 MB of Debian's copy once per module."""
    return fashion_mnist.load_data(path=DEBIAN_DIR)


@needs_debian
def test_debian_fashion_shapes_dtypes_labels(debian_fashion):
    (x_train, y_train), (x_test, y_test) = debian_fashion
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    # Fashion-MNIST is balanced: every class has 6,000 training and 1,000 test images.
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.max() == 255 and x_train.min() == 0


@needs_debian
def test_debian_fashion_equals_an_independent_parse(debian_fashion):
    # Keras's own recipe: skip the 8- or 16-byte header, no checks.
    def raw(fname, offset):
        with gzip.open(os.path.join(DEBIAN_DIR, fname)) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    (x_train, y_train), (x_test, y_test) = debian_fashion
    np.testing.assert_array_equal(y_train, raw("train-labels-idx1-ubyte.gz", 8))
    np.testing.assert_array_equal(x_test, raw("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28))


@needs_debian
def test_debian_fashion_equals_keras(debian_fashion, tmp_path, monkeypatch):
    import keras
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    cache = keras_cache(tmp_path, "fashion-mnist")
    cache.mkdir(parents=True)
    for fname in FASHION_FILES:
        os.symlink(os.path.join(DEBIAN_DIR, fname), cache / fname)
    # Keras reads KERAS_HOME once, at import (keras/src/backend/config.py), and get_file looks
    # in <keras_home>/datasets/fashion-mnist/; so also patch the value it read.
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras_home"))

    def no_download(*args, **kwargs):
        raise AssertionError("Keras tried to download")

    monkeypatch.setattr(file_utils, "urlretrieve", no_download)
    expected = keras.datasets.fashion_mnist.load_data()
    for ours, theirs in zip(debian_fashion, expected):
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])
    # minidl finds the same files through the Keras cache.
    fname = "t10k-labels-idx1-ubyte.gz"
    found = files.get_file(fname, OFFLINE_URL, fashion_mnist.FILE_HASHES[fname],
                           fashion_mnist.search_dirs(), None,
                           checksum=fashion_mnist.original_sha256)
    assert found == str(cache / fname)


@needs_debian
def test_recorded_hashes_are_those_of_the_original_files():
    # Debian stored the original compressed data under a normalised gzip header (no file
    # name, a new timestamp). Restoring the header of Zalando's 2017 files -- flag FNAME,
    # their timestamps, XFL 0, OS 3 (Unix), the file name -- gives back the exact files
    # that Keras's URL serves, whose SHA-256 the loader checks downloads against.
    mtimes = {"train": 1504176606, "t10k": 1504176627}
    for fname, expected in fashion_mnist.FILE_HASHES.items():
        debian = open(os.path.join(DEBIAN_DIR, fname), "rb").read()
        assert debian[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no flags
        mtime = struct.pack("<I", mtimes[fname.split("-")[0]])  # little-endian uint32
        name = fname[: -len(".gz")].encode() + b"\x00"  # zero-terminated, as gzip stores it
        original = b"\x1f\x8b\x08\x08" + mtime + b"\x00\x03" + name + debian[10:]
        assert hashlib.sha256(original).hexdigest() == expected


@needs_debian
def test_debian_copies_pass_the_check_on_every_read_and_a_changed_byte_fails(tmp_path):
    for fname, expected in fashion_mnist.FILE_HASHES.items():
        debian = os.path.join(DEBIAN_DIR, fname)
        assert sha256_of(debian) != expected  # the normalised header hashes differently...
        assert fashion_mnist.original_sha256(debian) == expected  # ...but the data is Zalando's
    fname = "t10k-labels-idx1-ubyte.gz"
    data = bytearray(open(os.path.join(DEBIAN_DIR, fname), "rb").read())
    data[len(data) // 2] ^= 1  # one bit of the compressed data
    (tmp_path / fname).write_bytes(bytes(data))
    assert fashion_mnist.original_sha256(tmp_path / fname) != fashion_mnist.FILE_HASHES[fname]


# ---------------------------------------------------------------------------------------------
# Digits (scikit-learn, no download)
# ---------------------------------------------------------------------------------------------

def test_digits_shapes_dtypes_values():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (1437, 8, 8) and y_train.shape == (1437,)
    assert x_test.shape == (360, 8, 8) and y_test.shape == (360,)  # ceil(0.2 * 1797) = 360
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert x_train.max() == 16 and y_train.max() == 9


def test_digits_split_is_deterministic_and_a_partition():
    from sklearn.datasets import load_digits

    (a, ya), (b, yb) = digits.load_data(test_size=0.25, seed=3)
    (c, yc), (d, yd) = digits.load_data(test_size=0.25, seed=3)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(yb, yd)
    (_, _), (e, _) = digits.load_data(test_size=0.25, seed=4)
    assert not np.array_equal(b, e)
    # Train and test together hold every image exactly once, with its label, values intact.
    def sorted_table(images, labels):
        table = np.column_stack([images.reshape(len(images), -1), labels])  # (n, 64 + 1)
        return table[np.lexsort(table.T[::-1])]

    bunch = load_digits()
    np.testing.assert_array_equal(
        sorted_table(np.concatenate([a, b]), np.concatenate([ya, yb])),
        sorted_table(bunch.images, bunch.target),
    )


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.2", None, True])
def test_digits_rejects_bad_test_size(bad):
    with pytest.raises(ValueError, match=r"`test_size`.*Received: test_size="):
        digits.load_data(test_size=bad)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        digits.load_data()


# ---------------------------------------------------------------------------------------------
# Synthetic generators: the same numbers as the lab's global-seed NumPy code
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def global_rng():
    """Let a test use np.random.seed, then restore NumPy's global state."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.mark.parametrize("n, seed", [(1000, 42), (7, 0), (1, 123)])
def test_sum_greater_than_one_matches_lab_code(global_rng, n, seed):
    np.random.seed(seed)
    x_lab = np.random.rand(n, 2)
    y_lab = (np.sum(x_lab, axis=1) > 1).astype(int)
    x, y = synthetic.sum_greater_than_one(n=n, seed=seed)
    np.testing.assert_array_equal(x, x_lab)
    np.testing.assert_array_equal(y, y_lab)
    assert y.dtype == y_lab.dtype


def test_sum_greater_than_one_defaults_and_global_state(global_rng):
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    x, y = synthetic.sum_greater_than_one()
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # global state untouched
    assert x.shape == (1000, 2) and y.shape == (1000,)
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("label_noise", [0.0, 0.1, 0.5, 1.0])
def test_label_noise_flips_exactly_that_fraction(label_noise):
    x_clean, y_clean = synthetic.sum_greater_than_one(n=200, seed=1)
    x, y = synthetic.sum_greater_than_one(n=200, seed=1, label_noise=label_noise)
    np.testing.assert_array_equal(x, x_clean)  # noise is drawn after x: x is unchanged
    assert np.sum(y != y_clean) == round(label_noise * 200)


@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_sum_regression_matches_lab_code(global_rng, noise):
    n = 1000
    np.random.seed(42)
    x_1 = np.random.rand(n)
    x_2 = np.random.rand(n)
    x_lab = np.column_stack((x_1, x_2))
    y_lab = x_1 + x_2 + np.random.normal(0, noise, n) if noise > 0 else x_1 + x_2
    x, y = synthetic.sum_regression(n=n, seed=42, noise=noise)
    np.testing.assert_array_equal(x, x_lab)
    np.testing.assert_array_equal(y, y_lab)
    x_default, y_default = synthetic.sum_regression()
    np.testing.assert_array_equal(x_default, x_lab)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: synthetic.sum_greater_than_one(n=0), "`n`"),
        (lambda: synthetic.sum_greater_than_one(n=2.5), "`n`"),
        (lambda: synthetic.sum_greater_than_one(label_noise=1.5), "`label_noise`"),
        (lambda: synthetic.sum_regression(n=-1), "`n`"),
        (lambda: synthetic.sum_regression(noise=-0.1), "`noise`"),
    ],
)
def test_synthetic_rejects_bad_arguments(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()
