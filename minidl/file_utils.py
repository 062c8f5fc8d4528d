"""keras.utils.get_file: a file from a URL, kept in a cache, checked against its hash, and
unpacked if it is an archive, with Keras's arguments, cache layout and messages
(keras/src/utils/file_utils.py).

    path = minidl.utils.get_file("flower_photos.tgz", origin=url, extract=True)

The cache is minidl's home, `$MINIDL_HOME` or `~/.minidl` (Keras's is `~/.keras`), with
`cache_subdir` below it: `~/.minidl/datasets/flower_photos.tgz`, unpacked into
`~/.minidl/datasets/flower_photos_extracted`. A download goes to a temporary file first and
is renamed into place only once it is complete and its hash (if given) matches.
"""
import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from minidl import progbar
from minidl.datasets.files import minidl_home

CHUNK_SIZE = 1 << 16  # bytes read per step when downloading or hashing


def hash_file(fpath, algorithm="sha256"):
    """The hex digest of a file: "sha256", "md5", or "auto" (as resolve_hasher: sha256)."""
    hasher = hashlib.md5() if algorithm == "md5" else hashlib.sha256()
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto"):
    """True when the file's hash is file_hash ("auto": sha256 for 64 hex digits, else md5)."""
    if algorithm == "auto":
        algorithm = "sha256" if len(file_hash) == 64 else "md5"
    return hash_file(fpath, algorithm) == str(file_hash)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """The local path of `origin`'s file, downloaded into the cache unless a good copy is there.

    Args:
        fname: the file's name in the cache (default: the last part of the URL).
        origin: the URL (http(s)://, or file:// for a local file).
        untar: old name for extract=True with a tar archive.
        md5_hash: old name for file_hash with hash_algorithm="md5".
        file_hash: the expected hash; a cached copy that does not match is downloaded again,
            a download that does not match is an error.
        cache_subdir: the folder below cache_dir; cache_dir: minidl's home by default.
        hash_algorithm: "md5", "sha256" or "auto" (by the hash's length).
        extract: unpack the archive ("tar" or "zip", archive_format) and return its folder.
        force_download: download even if the file is cached.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    cache_dir = minidl_home() if cache_dir is None else cache_dir
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(cache_dir)
    if not os.access(base, os.W_OK):
        base = os.path.join(tempfile.gettempdir(), ".minidl")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    download_target, extraction_dir = _targets(fname, origin, datadir, extract or untar)
    download = force_download or not os.path.exists(download_target)
    if not download and file_hash is not None and \
            not validate_file(download_target, file_hash, algorithm=hash_algorithm):
        progbar._write("A local file was found, but it seems to be incomplete or outdated "
                       f"because the {hash_algorithm} file hash does not match the original "
                       f"value of {file_hash} so we will re-download the data.\n")
        download = True
    if download:
        progbar._write(f"Downloading data from {origin}\n")
        _download(origin, download_target, file_hash, hash_algorithm)
    if extract or untar:
        if not extract_archive(download_target, extraction_dir,
                               "tar" if untar else archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return download_target


def _targets(fname, origin, datadir, extract):
    """Where the file goes, and where its archive is unpacked: Keras's names."""
    provided = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'."
                             "Please specify the `fname` argument.")
    elif os.sep in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the "
                         f"file's parent directory, use the `cache_dir` argument. Received: "
                         f"fname={fname}")
    if not extract:
        return os.path.join(datadir, fname), None
    if provided and "." in fname:  # "photos.tgz" -> photos.tgz, photos_extracted/
        return os.path.join(datadir, fname), os.path.join(datadir,
                                                          f"{fname[:fname.find('.')]}_extracted")
    return os.path.join(datadir, f"{fname}_archive"), os.path.join(datadir, fname)


def _download(origin, target, file_hash, hash_algorithm):
    """origin -> a temporary file beside target, checked, then renamed onto target."""
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".part")
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(origin) as response:
                for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                    out.write(chunk)
        except urllib.error.HTTPError as e:
            raise Exception(f"URL fetch failure on {origin}: {e.code} -- {e.msg}") from None
        except urllib.error.URLError as e:
            raise Exception(f"URL fetch failure on {origin}: {e.errno} -- {e.reason}") from None
        if file_hash is not None and not validate_file(partial, file_hash, hash_algorithm):
            raise ValueError(f"Incomplete or corrupted file detected. The {hash_algorithm} file "
                             f"hash does not match the provided value of {file_hash}.")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Unpack a tar (.tar, .tar.gz, .tgz, .tar.bz2) or zip archive into `path`, leaving out
    members that would land outside it. True if the file was such an archive."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else archive_format)
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                archive.extractall(path, filter="data")  # no absolute paths, no escaping links
            return True
        if kind == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                root = os.path.realpath(path)
                safe = [m for m in archive.infolist() if os.path.realpath(
                    os.path.join(root, m.filename)).startswith(root + os.sep)]
                archive.extractall(path, members=safe)
            return True
        if kind not in ("tar", "zip"):
            raise NotImplementedError(kind)
    return False
