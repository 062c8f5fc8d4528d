"""Files on disk: atomic writes, the `.keras` zip archive and `.weights.npz` files."""
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np


KERAS_VERSION = "3.15.1"  # the Keras release whose file format this module writes
CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


def import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Reading and writing `.keras` and `.weights.h5` files requires h5py. Install it "
            "with `pip install h5py` (or `pip install minidl[h5]`)."
        ) from None
    return h5py


def atomic_write(filepath, write):
    """Call `write(temp_path)`, then move the finished file over `filepath` in one step.

    A crash before os.replace leaves the old file as it was; the temporary file is removed.
    """
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".minidl-", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a saved model is not
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_npz(filepath):
    """The arrays of a `.weights.npz` file, in the order they were saved (never unpickled)."""
    try:
        with np.load(filepath, allow_pickle=False) as data:
            return [data[key] for key in sorted(data.files)]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"Could not read weights from {filepath!r}: the file is not a valid "
            f".weights.npz file ({error})."
        ) from None


def read_archive(filepath):
    """(config dict, weights bytes) from a `.keras` zip, or a ValueError saying what is wrong."""
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    try:
        with zipfile.ZipFile(filepath) as zf:
            names = zf.namelist()
            missing = [name for name in (CONFIG, WEIGHTS) if name not in names]
            if missing:
                raise ValueError(
                    f"{filepath!r} is not a complete `.keras` file: it has no "
                    f"{' or '.join(missing)}. Members found: {names}"
                )
            config = json.loads(zf.read(CONFIG))
            weights = zf.read(WEIGHTS)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError,
            json.JSONDecodeError) as error:
        raise ValueError(
            f"Could not read {filepath!r}: it is not a valid `.keras` file "
            f"(truncated or corrupt: {error})."
        ) from None
    if not isinstance(config, dict):
        raise ValueError(f"Could not load {filepath!r}: config.json does not hold a model.")
    return config, weights
