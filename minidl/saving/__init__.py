"""Saving and loading in Keras 3's own file formats, so a model can move between minidl and Keras.

    model.save("mlp.keras")                    then   keras.models.load_model("mlp.keras")
    minidl.models.load_model("mlp.keras")      reads a file written by Keras's model.save
    model.save_weights("mlp.weights.h5")       and    load_weights, in Keras's layout

A `.keras` file is a zip archive (members stored uncompressed) holding three files:
    metadata.json     {"keras_version": "3.15.1", "date_saved": "2025-01-31@09:30:00"}
    config.json       the architecture, one dict per object:
                      {"module", "class_name", "config", "registered_name", "build_config"},
                      the layers' dicts inside the model's, plus the model's "compile_config"
    model.weights.h5  every variable, at the path Keras's saver walks to reach it:
                          layers/dense/vars/0        kernel (D,U)
                          layers/dense/vars/1        bias (U,)
                          layers/dense_1/vars/0      the next Dense's kernel, ...
                          optimizer/vars/0, 1, 2...  iterations, learning_rate, then the slots
A `.weights.h5` file is that same HDF5 layout on its own.

The path names a layer by its *class* in snake_case, numbered in order (dense, dense_1,
activation, ...), not by the layer's name, which Keras keeps only as the `name` attribute of
each `vars` group. A Sequential's list of layers leaves the input layer out; a functional
model's list starts with it (layers/input_layer, which holds no variables).

Loading never runs code from a file: JSON text, and HDF5 datasets read as plain arrays.
Only regular files are read, every size a file declares is capped before anything is
allocated (limits.py), and everything is read and checked before the model is touched; the
assignments then happen all together, a Ctrl-C waiting until they are done. Every write goes
to a temporary file beside the target that replaces it in one step once it is complete.
h5py is optional (`pip install -e ".[h5]"`) and imported only when a function needs it.

The package: files.py (atomic writes, reading archives), limits.py (caps on what a file may
declare), h5.py (weights in Keras's HDF5 layout), config.py (a model as Keras's
config.json, both ways), legacy_h5.py (the legacy `.h5` whole-model format and to_json),
object_registration.py (register_keras_serializable and custom_object_scope: names of your
own classes and functions) and serialization.py (serialize/deserialize_keras_object).
"""
import datetime
import io
import json
import os
import zipfile

import warnings

import numpy as np

from minidl.saving import config, files, h5, legacy_h5, limits
from minidl.saving.config import model_from_config, model_to_config  # noqa: F401 (public)
from minidl.saving.legacy_h5 import model_from_json  # noqa: F401 (public, as keras.models')
from minidl.saving.object_registration import (  # noqa: F401 (public, as keras.saving's)
    CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
    get_registered_object, register_keras_serializable)
from minidl.saving.serialization import (  # noqa: F401 (public, as keras.saving's)
    deserialize_keras_object, serialize_keras_object)

# -- writing --------------------------------------------------------------------------------
def save_model(model, filepath, overwrite=True, **kwargs):
    """Write `model` to a Keras 3 `.keras` file (or a legacy `.h5` one: legacy_h5.py) that
    `keras.models.load_model` opens. Keras's checks of its arguments (saving_api.py)."""
    filepath = os.fspath(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", False)
    legacy = filepath.endswith((".h5", ".hdf5"))
    if save_format:
        if not (legacy or filepath.endswith(".keras")):
            raise ValueError(
                "The `save_format` argument is deprecated in Keras 3. Please remove this "
                "argument and pass a file path with either `.keras` or `.h5` extension."
                f"Received: save_format={save_format}")
        warnings.warn(
            "The `save_format` argument is deprecated in Keras 3. We recommend removing this "
            "argument as it can be inferred from the file path. "
            f"Received: save_format={save_format}", stacklevel=3)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs.keys())}")
    if legacy:
        warnings.warn(
            "You are saving your model as an HDF5 file via `model.save()` or "
            "`keras.saving.save_model(model)`. This file format is considered legacy. We "
            "recommend using instead the native Keras format, e.g. "
            "`model.save('my_model.keras')` or `keras.saving.save_model(model, "
            "'my_model.keras')`. ", stacklevel=3)
        legacy_h5.save_model(model, filepath, include_optimizer)
        return
    if not filepath.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension "
            "for the native Keras format (recommended) or a `.h5` extension. Use "
            "`model.export(filepath)` if you want to export a SavedModel for use with "
            f"TFLite/TFServing/etc. Received: filepath={filepath}."
        )
    files.import_h5py()
    config.check_can_save(model)
    files.atomic_write(filepath, lambda path: _write_keras_zip(path, model))


def save_weights(model, filepath):
    """Write every weight to `name.weights.npz` (NumPy, no pickle) or Keras's `name.weights.h5`."""
    filepath = os.fspath(filepath)
    if not filepath.endswith((".weights.npz", ".weights.h5")):
        raise ValueError(
            "The filename must end in `.weights.npz` or `.weights.h5`. "
            f"Received: filepath={filepath}"
        )
    if not model.built:  # an unbuilt model has no weights: saving would empty a good file
        raise ValueError(
            "You are saving a model that has not yet been built. Build it first by "
            "calling it on some data or with `model.build((None, D))`."
        )
    if filepath.endswith(".weights.npz"):
        arrays = {f"{i:04d}:{w.path}": w.value for i, w in enumerate(model.weights)}

        def write(path):
            with open(path, "wb") as f:
                np.savez(f, **arrays)

        files.atomic_write(filepath, write)
        return
    h5py = files.import_h5py()
    config.check_can_save(model, weights_only=True)

    def write(path):
        with h5py.File(path, "w") as h5_file:
            h5.write_weights(h5_file, model)

    files.atomic_write(filepath, write)


# -- reading --------------------------------------------------------------------------------
def load_model(filepath, compile=True, custom_objects=None):
    """Rebuild a model from a `.keras` file written by Keras 3 (or by `save_model`).

    Args:
        filepath: path to a `.keras` file of minidl's layers, as a Sequential or a
            functional model.
        compile: compile the model as it was compiled when saved (optimizer state included).
        custom_objects: {class name: class} for layers, losses or metrics of your own.
    """
    filepath = os.fspath(filepath)
    if filepath.endswith((".h5", ".hdf5")):
        return legacy_h5.load_model(filepath, compile=compile, custom_objects=custom_objects)
    if not filepath.endswith(".keras"):
        raise ValueError(
            f"File format not supported: filepath={filepath}. minidl loads Keras 3 `.keras` "
            "files and legacy H5 files (`.h5` extension)."
        )
    files.import_h5py()
    with files.Archive(filepath) as archive:
        model_config = archive.config()
        if not compile:
            model_config.pop("compile_config", None)
        model = _model_from_config(model_config, filepath, custom_objects)
        weights = archive.weights(model)
    pairs, state = h5.read_weights(model, io.BytesIO(weights), filepath)
    h5.assign(model, pairs, state)
    return model


def _model_from_config(model_config, filepath, custom_objects=None):
    """The model (compiled if the config says so), or a ValueError naming the file."""
    try:
        limits.check_config_values(model_config)  # sizes and types, before anything is built
    except ValueError as error:
        raise ValueError(f"Could not load {filepath!r}: {error}") from None
    try:
        with limits.weight_budget():  # Layer.add_weight charges every weight to it
            model = config.model_from_config(model_config, custom_objects)
    except ValueError as error:  # a layer or an option minidl does not have, named
        raise ValueError(f"Could not load {filepath!r}: {error}") from None
    except (KeyError, TypeError, IndexError, AttributeError) as error:
        raise ValueError(
            f"Could not load {filepath!r}: its config.json is not a valid Keras model "
            f"config ({type(error).__name__}: {error})."
        ) from None
    compile_config = model_config.get("compile_config")
    if compile_config:
        config.compile_from_config(model, compile_config, filepath, custom_objects)
    return model


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Read weights from `.weights.npz`, Keras's `.weights.h5`, a `.keras` file's weights,
    or a legacy `.h5` file (legacy_h5.py: by layer order, or `by_name=True`).

    Everything is read and checked before anything is assigned, and the assignments are
    all or nothing: a bad file, or a Ctrl-C at any moment, leaves the model as it was
    (or, once the last check passed, entirely loaded).
    """
    filepath = os.fspath(filepath)
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Build it "
            "first by calling it on some data or with `model.build((None, D))`."
        )
    by_name = kwargs.pop("by_name", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    legacy = filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
    if by_name is not None and not legacy:
        raise ValueError("`by_name` only supports loading legacy '.h5' or '.hdf5' files. "
                         f"Received: {filepath}")
    if skip_mismatch and not legacy:
        raise ValueError("minidl implements `skip_mismatch=True` for legacy '.h5' files only. "
                         f"Received: skip_mismatch=True, filepath={filepath}")
    if legacy:
        legacy_h5.load_weights(model, filepath, skip_mismatch=skip_mismatch, by_name=by_name)
        return
    if filepath.endswith(".weights.npz"):
        arrays = files.read_npz(filepath, model.weights)
        h5.assign(model, list(zip(model.weights, arrays)), None)
        return
    files.import_h5py()
    if filepath.endswith(".keras"):
        with files.Archive(filepath) as archive:
            weights = archive.weights(model)
        pairs, state = h5.read_weights(model, io.BytesIO(weights), filepath)
    else:
        with files.open_regular(filepath, "weights") as f:
            pairs, state = h5.read_weights(model, f, filepath)
    h5.assign(model, pairs, state)


def _write_keras_zip(path, model):
    """The three members Keras writes, in its order, uncompressed as Keras stores them."""
    h5py = files.import_h5py()
    metadata = {"keras_version": files.KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(files.METADATA, json.dumps(metadata))
        zf.writestr(files.CONFIG, json.dumps(config.model_to_config(model)))
        buffer = io.BytesIO()  # h5py cannot write into a zip member, so build it in memory
        with h5py.File(buffer, "w") as h5_file:
            h5.write_weights(h5_file, model)
        zf.writestr(files.WEIGHTS, buffer.getvalue())
