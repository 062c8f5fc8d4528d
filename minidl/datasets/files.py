"""Finding, downloading and parsing dataset files: one search order shared by every loader.

A loader asks for a file by name and we look, in order, in
  1. the location the user passed to `load_data(path=...)` (the loader handles this step),
  2. minidl's cache   `~/.minidl/datasets/`  (or `$MINIDL_HOME/datasets/`),
  3. Keras's cache    `~/.keras/datasets/`   (or `$KERAS_HOME/datasets/`), so a Keras user
     downloads nothing,
  4. system copies the loader names (Debian's `/usr/share/datasets/fashion-mnist`),
and only then download into minidl's cache. A download goes to a temporary file in the cache
directory, is checked against its published SHA-256, and is renamed into place with
`os.replace`, so a partial or corrupt file never lands in the cache.

Both homes are read from the environment on every call, so setting `MINIDL_HOME` or
`KERAS_HOME` takes effect at once.
"""
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np

CHUNK_SIZE = 1 << 16  # bytes read per step when downloading or hashing


class DatasetNotFoundError(OSError):
    """No copy of a dataset file was found and none could be downloaded."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but is truncated, corrupt, or fails its hash check."""


# ---------------------------------------------------------------------------------------------
# Where files live
# ---------------------------------------------------------------------------------------------

def minidl_home():
    """minidl's home directory: `$MINIDL_HOME`, else `~/.minidl`."""
    return os.path.expanduser(os.environ.get("MINIDL_HOME", os.path.join("~", ".minidl")))


def keras_home():
    """Keras's home directory: `$KERAS_HOME`, else `~/.keras` (keras/src/backend/config.py)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))


def cache_dirs(subdir=""):
    """The two caches, minidl's first, each with `datasets/<subdir>` appended."""
    return [
        os.path.join(minidl_home(), "datasets", subdir),
        os.path.join(keras_home(), "datasets", subdir),
    ]


def get_file(fname, origin, file_hash, search_dirs, download_dir):
    """Return the path of the first `fname` found in `search_dirs`, else of a fresh download.

    Args:
        fname: file name, e.g. "mnist.npz".
        origin: the URL to download from.
        file_hash: the file's published SHA-256, as 64 hex digits.
        search_dirs: directories to look in, in order.
        download_dir: where to download to, or None to never download.
    """
    looked_in = [os.path.join(d, fname) for d in search_dirs]
    for candidate in looked_in:
        if os.path.isfile(candidate):
            return candidate
    if download_dir is None:
        raise DatasetNotFoundError(
            _not_found_message(fname, looked_in, origin, place_at=looked_in[0])
        )
    target = os.path.join(download_dir, fname)
    os.makedirs(download_dir, exist_ok=True)
    try:
        download(origin, target, file_hash)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
        # Offline, DNS failure, refused connection or HTTP error (HTTPError is a URLError).
        reason = getattr(e, "reason", e)
        raise DatasetNotFoundError(
            _not_found_message(fname, looked_in, origin, place_at=target, reason=reason)
        ) from e
    return target


def _not_found_message(fname, looked_in, origin, place_at, reason=None):
    """The error text: what is missing, every place looked, the URL, and how to fix it by hand."""
    places = "\n".join(f"  - {p}" for p in looked_in)
    lines = [f"Could not find the dataset file '{fname}'.", f"Looked in:\n{places}"]
    if reason is not None:
        lines.append(f"Downloading it from {origin} failed: {reason}")
    lines.append(
        f"To place it by hand, download {origin} on a machine with internet access "
        f"and copy it to:\n  {place_at}"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Downloading
# ---------------------------------------------------------------------------------------------

def download(origin, target, file_hash):
    """Download `origin` to `target`, atomically, and only if its SHA-256 equals `file_hash`."""
    directory = os.path.dirname(os.path.abspath(target))
    prefix = os.path.basename(target) + "."
    fd, partial = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".part")
    try:
        sys.stderr.write(f"Downloading data from {origin}\n")
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(origin, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)  # 0: size unknown
            received = 0
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                _progress(received, total)
        sys.stderr.write("\n")
        if total and received != total:
            raise DatasetCorruptError(
                f"Incomplete download of {origin}: expected {total} bytes, "
                f"received {received}. Try again."
            )
        if hasher.hexdigest() != file_hash:
            raise DatasetCorruptError(
                f"The SHA-256 of the file downloaded from {origin} does not match the "
                f"published value. Expected: {file_hash}. Received: {hasher.hexdigest()}. "
                "The download was corrupted or the server sent a different file; "
                "nothing was saved. Try again."
            )
        os.replace(partial, target)  # atomic: readers see no file or the whole, verified file
    except BaseException:  # also KeyboardInterrupt: never leave a partial file behind
        if os.path.exists(partial):
            os.remove(partial)
        raise


def _progress(received, total, width=30):
    """Redraw a one-line text progress bar on stderr."""
    if total:
        done = int(width * received / total)
        sys.stderr.write(
            f"\r{received / 1e6:7.1f}/{total / 1e6:.1f} MB "
            f"[{'=' * done}{'.' * (width - done)}] {received / total:4.0%}"
        )
    else:
        sys.stderr.write(f"\r{received / 1e6:7.1f} MB")
    sys.stderr.flush()


def sha256(path):
    """The SHA-256 of a file, as 64 hex digits."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


# ---------------------------------------------------------------------------------------------
# Parsing the IDX format of MNIST and Fashion-MNIST
# ---------------------------------------------------------------------------------------------

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
# See http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT"). MNIST uses only 0x08.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Parse a gzipped IDX file into a NumPy array of the shape its header declares.

    Layout: magic number (0, 0, type code, ndim), then ndim big-endian uint32 dimensions,
    then the values, big-endian, in row-major (C) order.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DatasetCorruptError(
            f"{path} is not a valid gzip file ({e}). Delete it and load the dataset again."
        ) from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DatasetCorruptError(
            f"{path} is not an IDX file: expected a magic number 00 00 <type> <ndim>. "
            f"Received: {data[:4].hex(' ') or 'an empty file'}"
        )
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetCorruptError(
            f"{path} is truncated: its header declares {ndim} dimensions but the file "
            f"has only {len(data)} bytes."
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[data[2]])
    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetCorruptError(
            f"{path} has the wrong size for an IDX array of shape {shape}: expected "
            f"{expected} bytes after decompression. Received: {len(data)} bytes."
        )
    values = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    # astype copies: the result is writeable and in the machine's native byte order.
    return values.astype(dtype.newbyteorder("="))
