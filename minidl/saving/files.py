"""Files on disk: atomic writes, and reading `.keras` archives and `.weights.npz` files safely.

Writing: a file is written whole to a temporary file beside its target, then renamed over it
in one step, so a crash (or kill -9) at any moment leaves the old file or the new one. As
Keras's own `open(filepath, "wb")`, a save writes through a symbolic link to its target and
keeps an existing file's permissions. Temporary files left by a killed save are removed by
the next save of the same target.

Reading: only regular files are opened (a FIFO would block forever, /dev/zero never ends);
every size a file declares is checked against a cap before anything is allocated; and any
failure of a reader on a damaged file becomes a ValueError naming the file.
"""
import contextlib
import json
import os
import re
import secrets
import stat
import threading
import zipfile

import numpy as np

from minidl.saving import limits

KERAS_VERSION = "3.15.1"  # the Keras release whose file format this module writes
CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


class Refused(Exception):
    """minidl's own reason to refuse a file (the message names it); becomes a ValueError."""


def import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Reading and writing `.keras` and `.weights.h5` files requires h5py. Install it "
            "with `pip install h5py` (or `pip install minidl[h5]`)."
        ) from None
    return h5py


@contextlib.contextmanager
def reading(filepath, kind):
    """Inside: a Refused becomes a ValueError, and any other error one saying the file is bad.

    A damaged file makes h5py, zipfile or NumPy raise almost anything (KeyError,
    RuntimeError, NotImplementedError...); the user should read which file is bad.
    """
    try:
        yield
    except Refused as refusal:
        raise ValueError(str(refusal)) from None
    except Exception as error:
        raise ValueError(
            f"Could not read {filepath!r}: it is not a valid {kind} file (truncated or "
            f"corrupt: {type(error).__name__}: {error})."
        ) from None


def _kind_of(mode):
    for test, name in [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")]:
        if test(mode):
            return name
    return "not a regular file"


def _refuse_special(filepath, mode):
    raise ValueError(
        f"{filepath!r} is {_kind_of(mode)}: minidl reads and writes models and weights as "
        "regular files only."
    )


def open_regular(filepath, what="model"):
    """`filepath` opened for reading, checked to be a regular file BEFORE it is opened.

    O_NONBLOCK and the second check on the open file close the gap between the two: a FIFO
    swapped in meanwhile neither blocks the open nor gets read.
    """
    try:
        mode = os.stat(filepath).st_mode  # follows links: /dev/zero behind a link is seen
        if not stat.S_ISREG(mode):
            _refuse_special(filepath, mode)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(filepath, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"No {what} file at {filepath!r}.") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        _refuse_special(filepath, mode)
    return os.fdopen(fd, "rb")


# -- writing ----------------------------------------------------------------------------------
_TEMP = re.compile(r"\.minidl-(\d+)-[0-9a-f]{8}-(.*)\.tmp\Z", re.DOTALL)
_writing = set()  # temporary files this process is writing now (not stale)
_writing_lock = threading.Lock()


def atomic_write(filepath, write):
    """Call `write(temp_path)`, then move the finished file over `filepath` in one step.

    A crash before the rename leaves the old file as it was. Errors name `filepath`.
    """
    target = os.path.realpath(filepath)  # a symbolic link is written through, as Keras does
    directory, name = os.path.split(target)
    existing = _existing_target(filepath, target)
    _remove_stale_temporary_files(directory, name)
    tmp = _create_temporary_file(filepath, directory, name, existing)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(error, OSError) and tmp in str(error):  # name the file being saved
            if error.filename == tmp:
                raise type(error)(error.errno, error.strerror, filepath) from None
            raise type(error)(str(error).replace(tmp, filepath)) from None
        raise
    finally:
        with _writing_lock:
            _writing.discard(tmp)
    _sync_directory(directory)


def _existing_target(filepath, target):
    """os.stat of the file about to be replaced, or None; anything but a regular file refused."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        _refuse_special(filepath, info.st_mode)
    if not os.access(target, os.W_OK):  # Keras's open(filepath, "wb") would fail too
        raise PermissionError(13, f"Permission denied: cannot overwrite {filepath!r}", filepath)
    return info


def _temporary_label(name):
    """The target's name as it appears in its temporary files' names (<= 255 bytes in all)."""
    return name if len(name.encode()) <= 200 else name[:50]


def _create_temporary_file(filepath, directory, name, existing):
    """A new empty file beside the target, with the target's permissions (or the umask's)."""
    label = _temporary_label(name)
    tmp = os.path.join(directory, f".minidl-{os.getpid()}-{secrets.token_hex(4)}-{label}.tmp")
    try:
        # Mode 0o666 less the umask: what open(filepath, "wb") gives a new file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as error:
        reason = ("the folder does not exist" if isinstance(error, FileNotFoundError)
                  else f"cannot create a file in its folder: {error.strerror}")
        raise type(error)(error.errno, f"Cannot save {filepath!r}: {reason}") from None
    with _writing_lock:
        _writing.add(tmp)
    if existing is not None:
        os.chmod(tmp, stat.S_IMODE(existing.st_mode))  # a 0600 file stays 0600
        with contextlib.suppress(OSError):  # only root may give a file to someone else
            if (existing.st_uid, existing.st_gid) != (os.getuid(), os.getgid()):
                os.chown(tmp, existing.st_uid, existing.st_gid)
    return tmp


def _remove_stale_temporary_files(directory, name):
    """Delete `.minidl-<pid>-<id>-<name>.tmp` files whose process is gone (a killed save)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return  # the save itself will say what is wrong with the folder
    label = _temporary_label(name)
    for entry in entries:
        match = _TEMP.match(entry)
        if match is None or match.group(2) != label:
            continue
        path = os.path.join(directory, entry)
        if _is_stale(int(match.group(1)), path):
            with contextlib.suppress(OSError):
                os.remove(path)


def _is_stale(pid, path):
    if pid == os.getpid():
        with _writing_lock:
            return path not in _writing
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, under another user
    return False


def _sync_directory(directory):
    """Make the rename itself durable (where the platform can)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- .weights.npz ------------------------------------------------------------------------------
def read_npz(filepath, variables):
    """The arrays of a `.weights.npz` file, checked against `variables` before any is read.

    Each member's header (dtype, shape) is read first and compared with its variable, so a
    header declaring shape (10**12, 4) is refused without allocating anything. Never unpickled.
    """
    with open_regular(filepath, "weights") as file, reading(filepath, "`.weights.npz`"):
        with zipfile.ZipFile(file) as archive:
            names = sorted(archive.namelist())
            if len(names) != len(variables):
                raise Refused(
                    f"{filepath!r} holds {len(names)} weight arrays, but the model has "
                    f"{len(variables)}. Is the file from a different model?"
                )
            arrays = []
            for member, variable in zip(names, variables):
                with archive.open(member) as f:
                    arrays.append(_read_npy(f, variable, f"{filepath!r}, member {member!r}"))
    return arrays


def _read_npy(f, variable, where):
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"unknown .npy format version {version}")
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    shape, fortran_order, dtype = read_header(f, max_header_size=10_000)
    if dtype.kind not in "biuf" or dtype.hasobject:
        raise Refused(f"{where} holds an array of dtype {dtype}; weights must be numeric.")
    if tuple(shape) != variable.shape:
        raise Refused(f"Weight {variable.path} has shape {variable.shape}, but {where} holds "
                      f"shape {tuple(shape)}.")
    data = f.read(dtype.itemsize * variable.value.size + 1)
    if len(data) != dtype.itemsize * variable.value.size:
        raise ValueError(f"{where}: the data is not the size its header declares")
    order = "F" if fortran_order else "C"
    array = np.frombuffer(data, dtype).reshape(shape, order=order)
    return array.astype(variable.dtype)  # a copy, in the variable's dtype


# -- .keras ------------------------------------------------------------------------------------
class Archive:
    """An open `.keras` file: config.json and model.weights.h5, each read within a size cap."""

    def __init__(self, filepath):
        self.filepath = filepath
        self._file = open_regular(filepath, "model")
        try:
            with reading(filepath, "`.keras`"):
                self._zip = zipfile.ZipFile(self._file)
                names = self._zip.namelist()
            missing = [name for name in (CONFIG, WEIGHTS) if name not in names]
            if missing:
                raise ValueError(
                    f"{filepath!r} is not a complete `.keras` file: it has no "
                    f"{' or '.join(missing)}. Members found: {names}"
                )
        except BaseException:
            self._file.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._zip.close()
        self._file.close()
        return False

    def member(self, name, cap):
        """The bytes of member `name`, refused if it declares or holds more than `cap` bytes."""
        with reading(self.filepath, "`.keras`"):
            info = self._zip.getinfo(name)
            if info.file_size > cap:
                raise Refused(self._too_big(name, f"declares {info.file_size:,}", cap))
            with self._zip.open(info) as f:
                data = f.read(cap + 1)  # never more than the cap, whatever it declared
            if len(data) > cap:
                raise Refused(self._too_big(name, "holds more than", cap))
        return data

    def _too_big(self, name, amount, cap):
        return (f"Could not load {self.filepath!r}: its {name} {amount} bytes, more than "
                f"the {cap:,} bytes minidl accepts for it.")

    def config(self):
        """config.json as a dict, checked for size and nesting before it is used."""
        text = self.member(CONFIG, limits.MAX_CONFIG_BYTES)
        with reading(self.filepath, "`.keras`"):
            try:
                config = json.loads(text)
            except RecursionError:
                raise Refused(self._too_deep()) from None
            if not isinstance(config, dict):
                raise Refused(f"Could not load {self.filepath!r}: config.json does not hold "
                              "a model.")
            if limits.nesting_depth(config) > limits.MAX_CONFIG_DEPTH:
                raise Refused(self._too_deep())
        return config

    def _too_deep(self):
        return (f"Could not load {self.filepath!r}: its config.json nests deeper than the "
                f"{limits.MAX_CONFIG_DEPTH} levels minidl accepts; no Keras model needs that.")

    def weights(self, model):
        """model.weights.h5's bytes, capped by what the model's variables could need."""
        return self.member(WEIGHTS, limits.weights_file_cap(model))
