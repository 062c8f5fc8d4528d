"""Shared pieces of the dataset tests: isolated caches, a loopback server, Keras's own loaders.

Nothing here touches the network: every URL points at a closed port or at a local
http.server on 127.0.0.1, and Keras's loaders read made files placed in a temporary Keras home.
"""
import hashlib
import http.server
import io
import os
import pickle
import struct
import tarfile
import threading

import numpy as np
import pytest

from minidl.datasets import boston_housing, cifar10, fashion_mnist, imdb, mnist, reuters

OFFLINE_URL = "http://127.0.0.1:1/"  # nothing listens on port 1: the connection is refused
LOADERS_WITH_BASE_URL = (mnist, fashion_mnist, imdb, reuters, boston_housing)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point every search place into tmp_path and every URL at a closed port."""
    monkeypatch.setenv("MINIDL_HOME", str(tmp_path / "minidl_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [str(tmp_path / "system")])
    for module in LOADERS_WITH_BASE_URL:
        monkeypatch.setattr(module, "BASE_URL", OFFLINE_URL)
    monkeypatch.setattr(cifar10, "ORIGIN", OFFLINE_URL + cifar10.FNAME)
    for proxy in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)


def minidl_cache(tmp_path, subdir=""):
    return tmp_path / "minidl_home" / "datasets" / subdir


def keras_cache(tmp_path, subdir=""):
    return tmp_path / "keras_home" / "datasets" / subdir


def sha256_of(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def write_npz(path, arrays, compressed=True):
    """Write arrays to an .npz file, creating its directory; return the file's bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path.read_bytes()


def listing(directory):
    """Sorted file names in a directory, [] if it does not exist."""
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


# ---------------------------------------------------------------------------------------------
# A loopback HTTP server
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def server():
    """A local HTTP server; `server.routes[path] = (body, declared_length)` sets a response."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in httpd.routes:
                self.send_error(404)
                return
            body, declared = httpd.routes[self.path]
            httpd.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(body)  # fewer bytes than declared: a truncated body
            self.close_connection = True

        def log_message(self, *args):
            pass  # keep test output quiet

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.routes, httpd.requests = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def serve(server, fname, body, declared=None):
    server.routes["/" + fname] = (body, len(body) if declared is None else declared)


# ---------------------------------------------------------------------------------------------
# Keras's own loaders on made files
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def keras_on_made_files(tmp_path, monkeypatch):
    """Make Keras's loaders read made files from tmp_path's Keras home, never the network.

    Returns `expect(keras_module, published_hash, made_file)`: place `made_file` where Keras's
    cache keeps it, then let that module's `get_file` check the made file's own hash where
    Keras would check the published one. Only the expected hash changes: Keras still finds,
    hashes and reads the file itself, and asserts here that it asked for the published hash.
    """
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    # Keras reads KERAS_HOME once, at import (keras/src/backend/config.py): patch that value.
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras_home"))

    def no_download(*args, **kwargs):
        raise AssertionError("Keras tried to download")

    monkeypatch.setattr(file_utils, "urlretrieve", no_download)

    def expect(keras_module, published_hash, made_file):
        made_hash = sha256_of(made_file)
        real_get_file = file_utils.get_file

        def get_file(*args, file_hash=None, **kwargs):
            assert file_hash == published_hash  # Keras asks for the file minidl knows
            return real_get_file(*args, file_hash=made_hash, **kwargs)

        monkeypatch.setattr(keras_module, "get_file", get_file)
        return made_hash

    return expect


# ---------------------------------------------------------------------------------------------
# Made files in each dataset's format
# ---------------------------------------------------------------------------------------------

def ragged(rng, n, vocab=40, longest=12):
    """n sequences of word ranks 1..vocab-1, as an object array of Python lists (as Keras's)."""
    sequences = np.empty(n, dtype=object)  # (n,) of lists
    for i in range(n):
        length = int(rng.integers(1, longest + 1))
        sequences[i] = [int(w) for w in rng.integers(1, vocab, length)]
    return sequences


def write_imdb(path, seed=0, n_train=30, n_test=20, vocab=40):
    """A small imdb.npz: ragged x_train/x_test, int64 0/1 labels. Returns the file's bytes."""
    rng = np.random.default_rng(seed)
    return write_npz(path, {
        "x_train": ragged(rng, n_train, vocab), "y_train": rng.integers(0, 2, n_train),
        "x_test": ragged(rng, n_test, vocab), "y_test": rng.integers(0, 2, n_test),
    }, compressed=False)


def write_reuters(path, seed=0, n=40, vocab=40):
    """A small reuters.npz: ragged x, int64 topic labels 0-45. Returns the file's bytes."""
    rng = np.random.default_rng(seed)
    return write_npz(path, {"x": ragged(rng, n, vocab), "y": rng.integers(0, 46, n)},
                     compressed=False)


def write_boston(path, seed=0, n=50):
    """A small boston_housing.npz: x (n, 13) and y (n,), float64. Returns the file's bytes."""
    rng = np.random.default_rng(seed)
    return write_npz(path, {"x": rng.uniform(0, 100, (n, 13)), "y": rng.uniform(5, 50, n)},
                     compressed=False)


class Python2Pickler(pickle._Pickler):
    """Pickles as Python 2 wrote CIFAR-10's batches: protocol 2, every string a byte string."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_byte_string(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_byte_string
    dispatch[bytes] = save_byte_string


def python2_pickle(obj):
    """`obj` pickled as Python 2 and NumPy 1 did (NumPy 1 named numpy.core.multiarray)."""
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_batch(start, n, name):
    """A CIFAR-10 batch dict of images start..start+n-1, each recognisable from its pixels.

    Pixel values vary with position and channel, so a wrong reshape or transpose shows; the
    first three bytes hold the image's number, so a wrong order shows; labels cycle 0-9.
    """
    index = np.arange(start, start + n)[:, None]  # (n, 1)
    position = np.arange(3072)[None, :]  # (1, 3072): channel * 1024 + row * 32 + col
    # uint16 keeps the (n, 3072) intermediate small: (250 * 7 + 250 * 13) < 2**16.
    data = ((index % 251).astype(np.uint16) * 7 + (position % 251).astype(np.uint16) * 13)
    data = (data % 251).astype(np.uint8)  # (n, 3072)
    data[:, :3] = (index >> np.array([16, 8, 0])) & 0xFF  # (n, 3): the number, big-endian
    labels = [int(i * 3 % 10) for i in range(start, start + n)]
    return {"batch_label": name, "labels": labels, "data": data}  # real ones have "filenames" too


def write_cifar(path, n_per_batch, members=None, batch_pickle=python2_pickle):
    """A CIFAR-10 python .tar.gz with 5 train batches and a test batch of n_per_batch images.

    Args:
        path: where to write the archive.
        n_per_batch: images per batch (the real files have 10,000).
        members: optional dict name -> bytes replacing or adding members of the folder.
        batch_pickle: how a batch dict becomes bytes.
    """
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    contents = {
        name: batch_pickle(cifar_batch(k * n_per_batch, n_per_batch, name))
        for k, name in enumerate(names)
    }
    contents["batches.meta"] = python2_pickle({"label_names": ["airplane"] * 10})
    contents.update(members or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, data in contents.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path.read_bytes()


class Gadget:
    """An object that pickles as a call `function(*args)`: what a malicious file carries."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args
