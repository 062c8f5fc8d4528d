"""Reading pickled dataset files without ever running code from them.

IMDB's and Reuters' `.npz` files hold ragged sequences as object arrays, which NumPy can store
only as a pickle stream, and CIFAR-10's batches are Python 2 pickles of dicts. A plain
`pickle.load` (or `np.load(allow_pickle=True)`) calls whatever function the file names, so a
tampered file could run `os.system`. `RestrictedUnpickler` resolves names from a fixed
allow-list instead: the three NumPy globals that rebuilding an array needs. Lists, dicts,
tuples, ints and strings are built by pickle's own opcodes and need no global at all, so
nothing else is ever looked up, imported or called. Keras reads these files the same way
(keras/src/datasets/npz_utils.py).
"""
import io
import pickle
import zipfile
import zlib

import numpy as np

from minidl.datasets.files import DatasetCorruptError

try:  # NumPy >= 2 names the module numpy._core; files written by NumPy 1 say numpy.core.
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

# (module, name) -> the object. find_class only looks names up here: it imports nothing.
ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # as NumPy 1 (and Python 2) wrote it
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # as NumPy 2 writes it
}


class UnsafePickleError(DatasetCorruptError, pickle.UnpicklingError):
    """A dataset file's pickle names a function outside the allow-list; nothing was called."""


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that can rebuild NumPy arrays, lists and dicts, and nothing else.

    Args:
        file: a binary file object positioned at the pickle stream.
        source: how messages name the file, e.g. its path.
        encoding: how to decode Python 2 byte strings; "bytes" keeps them as bytes (CIFAR).
    """

    def __init__(self, file, source, encoding="ASCII"):
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module, name):
        """The allowed object for `module.name`; refuse any other name before it is imported."""
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
        raise UnsafePickleError(
            f"Refusing to load `{module}.{name}` from {self.source}: a dataset file may only "
            f"rebuild NumPy arrays (allowed: {allowed}). The file is corrupt or malicious; "
            "nothing in it was run. Delete it and load the dataset again."
        )

    def persistent_load(self, pid):
        """Refuse persistent ids too: they are another way to reach outside the file."""
        raise UnsafePickleError(
            f"Refusing to load a persistent id from {self.source}: a dataset file may only "
            "rebuild NumPy arrays. The file is corrupt or malicious; delete it."
        )


def load_pickle(file, source, encoding="ASCII"):
    """Unpickle one object from `file` with `RestrictedUnpickler`; damage is DatasetCorruptError."""
    try:
        return RestrictedUnpickler(file, source, encoding).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # a cut or garbled stream fails in many ways: EOF, bad opcode, args
        raise DatasetCorruptError(
            f"{source}: the pickled data is damaged ({type(e).__name__}: {e}). "
            "Delete the file and load the dataset again."
        ) from e


def read_npy(f, source):
    """Read one `.npy` stream: numbers with pickling disabled, object arrays restricted."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        # 3.0 differs from 2.0 only in encoding the header as UTF-8: the layout is the same.
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise DatasetCorruptError(f"{source}: unsupported .npy format version {version}.")
    if not dtype.hasobject:
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
    array = load_pickle(f, source)
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise DatasetCorruptError(
            f"{source}: expected an object array of shape {shape}, as its header declares. "
            f"Received: {type(array).__name__} {getattr(array, 'shape', '')}"
        )
    return array


def load_npz(path, keys=(), name="dataset"):
    """Read every array of an `.npz` file into a dict, never running code from it.

    A drop-in for `np.load(path, allow_pickle=True)` on dataset files with ragged object
    arrays; corrupt files raise DatasetCorruptError, unsafe ones UnsafePickleError.

    Args:
        path: the .npz file.
        keys: the arrays the file must hold.
        name: how messages name the dataset, e.g. "IMDB".
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    source = f"{path} (member {member})"
                    arrays[member[: -len(".npy")]] = read_npy(
                        io.BytesIO(archive.read(member)), source
                    )
    except DatasetCorruptError:  # already names the file and member (UnsafePickleError too)
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as e:
        # A truncated zip, a damaged member, a cut pickle stream, or not an .npz at all.
        raise DatasetCorruptError(
            f"{path} is not a readable .npz file ({e}). Delete it and load the dataset again."
        ) from e
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DatasetCorruptError(
            f"{path} is not a {name} data file: expected the arrays {list(keys)}. "
            f"Missing: {missing}. Received: {sorted(arrays)}"
        )
    return arrays
