"""Finding, checking and downloading dataset files: one search order shared by every loader.

A loader asks for a file by name and we look, in order, in
  1. minidl's cache   `~/.minidl/datasets/`  (or `$MINIDL_HOME/datasets/`),
  2. Keras's cache    `~/.keras/datasets/`   (or `$KERAS_HOME/datasets/`), so a Keras user
     downloads nothing,
  3. system copies the loader names (Debian's `/usr/share/datasets/fashion-mnist`),
and only then download into minidl's cache.

Every copy found is checked against the file's published hash on every read, as Keras's
`get_file` checks a cached file (keras/src/utils/file_utils.py). A copy that does not match
is reported on stderr and skipped; if no copy matches, the file is downloaded again, and
offline the error names every rejected copy and how to replace it. A download goes to a
temporary file in the cache directory, is checked, and is renamed into place with
`os.replace`, so a partial or corrupt file never lands in the cache.

The published hash is a SHA-256 (64 hex digits) for every file but Keras's two word-index
JSON files, for which Keras publishes only an MD5 (32 digits); as in Keras's
`resolve_hasher("auto")`, the length of the hash picks the algorithm.

A file the user names by its location (`load_data(path="./data/mnist.npz")`) is the user's own
and is read as is, with no hash check: Keras refuses such paths (its `path` is only a file name
inside its cache), and a user's own copy may rightly differ from the published file. A bare
file name (`path="mnist.npz"`, the default) always means the cache, as in Keras, and is checked.

Both homes are read from the environment on every call, so setting `MINIDL_HOME` or
`KERAS_HOME` takes effect at once.
"""
import contextlib
import gzip
import hashlib
import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
import zlib

import numpy as np

CHUNK_SIZE = 1 << 16  # bytes read per step when downloading or hashing


class DatasetNotFoundError(OSError):
    """No good copy of a dataset file was found and none could be downloaded."""


class DatasetCorruptError(ValueError):
    """A dataset file exists but is truncated, corrupt, or fails its hash check."""


class CacheWriteError(OSError):
    """A download could not be written into the cache; `filename` is the file it was for."""


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


def locate(path, origin, file_hash, subdir=""):
    """Resolve a loader's `path=`: a location is the user's own file, a bare name the cache's.

    Args:
        path: a file name such as "imdb.npz" (looked up in the caches, checked against
            `file_hash`, downloaded if missing), or a path with a directory part such as
            "./imdb.npz" (used as given, unchecked; it must exist).
        origin: the URL to download from.
        file_hash: the file's published hash (SHA-256, or MD5 where Keras publishes only that).
        subdir: the folder under `datasets/` where both caches keep the file.
    """
    path = os.fspath(path)
    if os.path.basename(path) == path and path not in (os.curdir, os.pardir, ""):
        dirs = cache_dirs(subdir)
        return get_file(path, origin, file_hash, dirs, dirs[0])
    if not os.path.isfile(path):
        # The user named a location: a missing file there is an error, not a cache miss.
        raise DatasetNotFoundError(
            f"Received an invalid value for `path`: no file exists at {path!r}. Expected "
            f"an existing file, or a bare file name such as {os.path.basename(origin)!r} to "
            f"use the cache. The file can be downloaded from {origin}"
        )
    return path


def get_file(fname, origin, file_hash, search_dirs, download_dir, checksum=None):
    """Return the path of the first good `fname` in `search_dirs`, else of a fresh download.

    Args:
        fname: file name, e.g. "mnist.npz".
        origin: the URL to download from.
        file_hash: the published hash (64 hex digits for SHA-256, 32 for MD5), or None to
            accept any copy found (only for places the user named).
        search_dirs: directories to look in, in order.
        download_dir: where to download to, or None to never download.
        checksum: optional function path -> hex digest to compare with `file_hash`
            (default: the file's own hash).
    """
    candidates = [os.path.join(d, fname) for d in search_dirs]
    target = None if download_dir is None else os.path.join(download_dir, fname)
    return find_or_download(candidates, origin, file_hash, target, checksum)


def find_or_download(candidates, origin, file_hash, target, checksum=None):
    """Return the first candidate that exists and matches `file_hash`, else download to `target`.

    Args:
        candidates: full paths to try, in order.
        origin: the URL to download from.
        file_hash: the published hash, or None to accept any existing candidate.
        target: where to download to, or None to never download.
        checksum: optional function path -> hex digest (default: `hash_file` by hash length).
    """
    checksum = checksum or (lambda path: hash_file(path, algorithm_of(file_hash)))
    rejected = []  # (path, why)
    for candidate in candidates:
        if not os.path.isfile(candidate):
            continue
        if file_hash is None:
            return candidate
        why = _mismatch(candidate, file_hash, checksum)
        if why is None:
            return candidate
        sys.stderr.write(f"Ignoring {candidate}: {why}\n")
        rejected.append((candidate, why))
    fname = os.path.basename(target or candidates[0])
    report = dict(fname=fname, looked_in=candidates, origin=origin, rejected=rejected)
    if target is None:
        raise DatasetNotFoundError(_not_found_message(place_at=[candidates[0]], **report))
    try:
        download(origin, target, file_hash)
    except CacheWriteError as e:  # the cache cannot be written: no permission, read-only, full
        reason = (f"Downloading it from {origin} failed: could not write {target} "
                  f"({e.strerror}). Make that directory writable or set MINIDL_HOME to a "
                  "writable directory.")
        raise DatasetNotFoundError(
            _not_found_message(place_at=candidates, reason=reason, **report)
        ) from e
    except (OSError, http.client.HTTPException) as e:
        # Offline, DNS failure, refused or dropped connection, HTTP error (HTTPError is a
        # URLError, itself an OSError).
        reason = getattr(e, "reason", e)
        raise DatasetNotFoundError(
            _not_found_message(place_at=[target], reason=f"Downloading it from {origin} "
                               f"failed: {reason}", **report)
        ) from e
    return target


def _mismatch(path, file_hash, checksum):
    """Why `path` is not the published file, or None if its hash matches."""
    try:
        actual = checksum(path)
    except OSError as e:
        return f"it cannot be read ({e.strerror or e})."
    if actual == file_hash:
        return None
    return (f"its {hash_name(file_hash)} is {actual}, not the published {file_hash}: "
            "it is damaged, incomplete or not the published file.")


def _not_found_message(fname, looked_in, origin, place_at, rejected=(), reason=None):
    """The error text: what is missing, every place looked, why, and how to fix it by hand."""
    places = "\n".join(f"  - {p}" for p in looked_in)
    good = "a good copy of " if rejected else ""
    lines = [f"Could not find {good}the dataset file '{fname}'.", f"Looked in:\n{places}"]
    if rejected:
        bad = "\n".join(f"  - {path}: {why}" for path, why in rejected)
        lines.append(f"Rejected (delete or replace them):\n{bad}")
    if reason is not None:
        lines.append(reason)
    targets = "\n".join(f"  {p}" for p in place_at)
    into = "to one of" if len(place_at) > 1 else "to"
    lines.append(
        f"To place it by hand, download {origin} on a machine with internet access "
        f"and copy it {into}:\n{targets}"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Hashing and downloading
# ---------------------------------------------------------------------------------------------

def algorithm_of(file_hash):
    """The hash algorithm a published hash was made with: "md5" for 32 hex digits, else "sha256"."""
    return "md5" if file_hash is not None and len(file_hash) == 32 else "sha256"


def hash_name(file_hash):
    """How messages name the algorithm of a published hash: "SHA-256" or "MD5"."""
    return {"sha256": "SHA-256", "md5": "MD5"}[algorithm_of(file_hash)]


def hash_file(path, algorithm="sha256", head=b"", skip=0):
    """The hex digest of `head` followed by the bytes of the file at `path` from offset `skip`."""
    hasher = hashlib.new(algorithm, head)
    with open(path, "rb") as f:
        f.seek(skip)
        while chunk := f.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def sha256(path):
    """The SHA-256 of a file, as 64 hex digits."""
    return hash_file(path, "sha256")


def download(origin, target, file_hash):
    """Download `origin` to `target`, atomically, and only if its hash equals `file_hash`."""
    directory = os.path.dirname(os.path.abspath(target))
    with _writing(target):  # before any network access: an unwritable cache fails here
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=os.path.basename(target) + ".",
                                       suffix=".part")
    try:
        hasher = hashlib.new(algorithm_of(file_hash))
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(origin, timeout=30) as response:
            sys.stderr.write(f"Downloading data from {origin}\n")  # once the server answers
            total = int(response.headers.get("Content-Length") or 0)  # 0: size unknown
            received = 0
            while chunk := response.read(CHUNK_SIZE):
                with _writing(target):  # e.g. the disk is full
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
                f"The {hash_name(file_hash)} of the file downloaded from {origin} does not "
                f"match the published value. Expected: {file_hash}. Received: "
                f"{hasher.hexdigest()}. The download was corrupted or the server sent a "
                "different file; nothing was saved. Try again."
            )
        with _writing(target):
            os.replace(partial, target)  # atomic: readers see no file or the whole, checked file
    except BaseException:  # also KeyboardInterrupt: never leave a partial file behind
        if os.path.exists(partial):
            os.remove(partial)
        raise


@contextlib.contextmanager
def _writing(target):
    """Report an OSError of the enclosed file operations as CacheWriteError naming `target`."""
    try:
        yield
    except OSError as e:
        raise CacheWriteError(e.errno, e.strerror or str(e), target) from e


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


# Why a data set could not be had, in plain words: a kind, and its wording in the two
# languages minidl speaks to learners (the lab's own scripts print Spanish, as the lab does).
FAILURE_WORDS = {
    "en": {"not_found": "is not in the cache and no copy is installed",
           "not_downloaded": "is not in the cache and could not be downloaded ({})",
           "http": "the server answered HTTP {}", "offline":
           "no network connection: the download server's name could not be resolved",
           "timeout": "the connection timed out",
           "refused": "the download server refused the connection",
           "connection": "the connection failed: {}", "other": "the download failed: {}"},
    "es": {"not_found": "no está en la caché ni hay una copia instalada",
           "not_downloaded": "no está en la caché y no se pudo descargar ({})",
           "http": "el servidor respondió HTTP {}",
           "offline": "sin conexión a la red: no se pudo resolver el nombre del servidor",
           "timeout": "se agotó el tiempo de conexión",
           "refused": "el servidor rechazó la conexión",
           "connection": "falló la conexión: {}", "other": "falló la descarga: {}"},
}


def download_failure(error, language="en"):
    """What went wrong with a download, without error numbers: 'no network connection: ...'."""
    words = FAILURE_WORDS[language]
    reason = getattr(error, "reason", error)  # urllib's URLError wraps the socket error
    if isinstance(error, urllib.error.HTTPError):
        return words["http"].format(f"{error.code} {error.reason}")
    if isinstance(reason, socket.gaierror):
        return words["offline"]
    if isinstance(reason, TimeoutError):
        return words["timeout"]
    if isinstance(reason, ConnectionRefusedError):
        return words["refused"]
    if isinstance(reason, OSError) and reason.strerror:
        return words["connection"].format(reason.strerror)
    return words["other"].format(reason)


def why_unavailable(error, language="en"):
    """Why a loader raised DatasetNotFoundError: not cached, and why a download failed."""
    words = FAILURE_WORDS[language]
    if error.__cause__ is None:
        return words["not_found"]
    return words["not_downloaded"].format(download_failure(error.__cause__, language))
