"""The legacy HDF5 whole-model format, `model.save("model.h5")`, as Keras 3 writes and reads it.

One HDF5 file (keras/src/legacy/saving/legacy_h5_format.py and saving_utils.py):
    attrs             keras_version "3.15.1", backend, model_config (JSON), training_config (JSON)
    model_weights/    attrs: layer_names (every layer, in model.layers order), backend,
                      keras_version
        dense/        attrs: weight_names ["sequential/dense/kernel", "sequential/dense/bias"]
            sequential/dense/kernel    (D,U), at its name under the layer's group
        dropout/      weight_names [] (a layer without weights still has its group)
        top_level_model_weights/       the model's own weights: none
    optimizer_weights/                 attrs: weight_names ["adam/iteration",
                      "adam/learning_rate", "adam/sequential_dense_kernel_momentum", ...]

model_config is {"class_name", "config"}: the model's get_config, each layer in it as
{"class_name", "config"} only (plus "name" and "inbound_nodes" in a functional model).
training_config is compile's arguments with the optimizer as "optimizer_config".
A layer's weights are listed trainable first, then non-trainable (Keras's _legacy_weights).

Reading matches the file's layers with weights to the model's layers with weights BY ORDER
(or by name with by_name=True), as Keras does; names inside a layer's group are not looked
at. A weights-only legacy file (tf.keras 2.x's save_weights("w.h5")) is the model_weights
group alone, at the root. Everything is read and checked before the model changes, as in
h5.py, and no code is run from the file: a Lambda's Python lambda is refused.
"""
import json
import warnings

import numpy as np

from minidl.saving import config, files, h5, limits
from minidl.saving.compile_config import _KERAS_OPTIMIZER_DEFAULTS

BACKEND = "numpy"  # what Keras's own NumPy backend writes as `backend`


# -- writing --------------------------------------------------------------------------------
def save_model(model, filepath, include_optimizer=True):
    """Write `model` to a legacy `.h5` file that `keras.models.load_model` opens."""
    h5py = files.import_h5py()
    config.check_can_save(model)
    _refuse_nested(model)
    metadata = _metadata(model, include_optimizer)

    def write(path):
        with h5py.File(path, "w") as f:
            for key, value in metadata.items():  # as Keras: JSON as UTF-8 bytes, text as text
                f.attrs[key] = (json.dumps(value).encode("utf8")
                                if isinstance(value, (dict, list)) else value)
            write_weights(f.create_group("model_weights"), model)
            if include_optimizer and model.compiled:
                _write_optimizer_weights(f, model)

    files.atomic_write(filepath, write)


def _refuse_nested(model):
    from minidl.models import Model

    nested = [layer.name for layer in model.layers if isinstance(layer, Model)]
    if nested:
        raise ValueError(
            "minidl saves a model inside a model in the `.keras` format only, not in the "
            f"legacy `.h5` format. Received: a model containing the models {nested}. "
            "Use `model.save('model.keras')`.")


def _metadata(model, include_optimizer):
    """Keras's saving_utils.model_metadata: versions, the model's config, compile's settings."""
    full = config.model_to_config(model, with_compile=True)
    metadata = {"keras_version": files.KERAS_VERSION, "backend": BACKEND,
                "model_config": {"class_name": full["class_name"],
                                 "config": _legacy_model_config(full["config"])}}
    if include_optimizer and model.compiled:
        training = dict(full["compile_config"])
        optimizer = training.pop("optimizer")
        training = {key: config_structure(value) for key, value in training.items()}
        training["optimizer_config"] = {"class_name": optimizer["class_name"],
                                        "config": _keras_optimizer_config(optimizer["config"])}
        metadata["training_config"] = training
    return metadata


def _keras_optimizer_config(optimizer_config):
    """In Keras's key order, with the options minidl leaves out at the values that mean off."""
    common = ("name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue")
    first = {key: optimizer_config[key] for key in common if key in optimizer_config}
    rest = {k: v for k, v in optimizer_config.items() if k not in first}
    return {**first, **_KERAS_OPTIMIZER_DEFAULTS, **rest}


def _legacy_model_config(model_config):
    """The layers' entries cut to Keras's legacy form (no module, registered_name, build_config)."""
    kept = ("class_name", "config", "name", "inbound_nodes")
    layers = [{key: layer[key] for key in kept if key in layer} for layer in model_config["layers"]]
    return {**model_config, "layers": layers}


def config_structure(value):
    """Loss and metric objects in the training config as {"class_name", "config"}."""
    if isinstance(value, dict) and "class_name" in value:
        return {"class_name": value["class_name"], "config": value["config"]}
    if isinstance(value, dict):
        return {key: config_structure(item) for key, item in value.items()}
    if isinstance(value, list):
        return [config_structure(item) for item in value]
    return value


def weight_path(model, variable):
    """A variable's path as Keras names it: a Sequential builds its layers in its own scope."""
    from minidl.models import Sequential

    return f"{model.name}/{variable.path}" if isinstance(model, Sequential) else variable.path


def legacy_weights(layer):
    """Keras's _legacy_weights: trainable weights first, then the others."""
    return layer.trainable_weights + layer.non_trainable_weights


def write_weights(group, model):
    """Keras's save_weights_to_hdf5_group: a group per layer (sorted by name), then the model's."""
    _save_names(group, "layer_names", [layer.name.encode("utf8") for layer in model.layers])
    group.attrs["backend"] = BACKEND.encode("utf8")
    group.attrs["keras_version"] = files.KERAS_VERSION.encode("utf8")
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        weights = legacy_weights(layer)
        _write_subset(group.create_group(layer.name),
                      [weight_path(model, w) for w in weights], [w.value for w in weights])
    _write_subset(group.create_group("top_level_model_weights"), [], [])


def _write_optimizer_weights(f, model):
    """Keras writes `optimizer.variables`: before the first step only iteration and rate; a
    LossScaleOptimizer's own four, then its inner optimizer's, slots under its name."""
    optimizer = model.optimizer
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is None:
        names = _optimizer_weight_names(model, optimizer)
    else:
        own = ("iteration", "learning_rate") + (("step_counter", "dynamic_scale")
                                                if optimizer.built else ())
        names = [f"{optimizer.name}/{name}" for name in own] + _optimizer_weight_names(
            model, inner, slots_under=f"{optimizer.name}/")
    _write_subset(f.create_group("optimizer_weights"), names, optimizer.variables)


def _optimizer_weight_names(model, optimizer, slots_under=""):
    names = [f"{optimizer.name}/iteration"]
    if len(optimizer.variables) > len(optimizer.slots()) + len(optimizer.extra_variables()) + 1:
        names.append(f"{optimizer.name}/learning_rate")  # none for a schedule, as Keras
    names += [f"{slots_under}{optimizer.name}/"  # a slot is named after its variable's path
              f"{weight_path(model, optimizer._variables[index]).replace('/', '_')}_{name}"
              for name, index, _ in optimizer.named_slots()]
    names += [f"{optimizer.name}/u_product"] * len(optimizer.extra_variables())  # Nadam's
    return names


def _write_subset(group, names, values):
    names = [name.encode("utf8") for name in names]
    _save_names(group, "weight_names", names)
    for name, value in zip(names, values):
        group.create_dataset(name, data=np.asarray(value))


def _save_names(group, key, names):
    """Keras's save_attributes_to_hdf5_group: a list of names as one attribute, or in chunks
    (key0, key1, ...) when it is more than an HDF5 object header holds."""
    limit = 64512  # Keras's HDF5_OBJECT_HEADER_LIMIT
    array = np.asarray(names)
    chunks = 1
    while any(part.nbytes > limit for part in np.array_split(array, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[key] = names
    else:
        for i, part in enumerate(np.array_split(array, chunks)):
            group.attrs[f"{key}{i}"] = part


# -- reading --------------------------------------------------------------------------------
def load_model(filepath, compile=True, custom_objects=None):
    """A model from a legacy `.h5` file written by Keras 3 (or by `save_model`), compiled as
    Keras compiles it on load: compile's arguments from training_config, then the
    optimizer's saved state."""
    from minidl.saving import _model_from_config

    h5py = files.import_h5py()
    with files.open_regular(filepath, "model") as source:
        with files.reading(filepath, "HDF5 model"):
            f = h5py.File(source, "r")
        with f:
            with files.reading(filepath, "HDF5 model"):
                model_config = _json_attribute(f, "model_config", filepath)
                if model_config is None:
                    raise files.Refused(f"No model config found in the file at {filepath}.")
                training_config = _json_attribute(f, "training_config", filepath) if compile else None
            model_config = from_legacy(model_config)
            if training_config is not None:
                model_config["compile_config"] = _compile_config(training_config)
            elif compile:
                warnings.warn("No training configuration found in the save file, so the model "
                              "was *not* compiled. Compile it manually.", stacklevel=4)
            model = _model_from_config(model_config, filepath, custom_objects)
            with files.reading(filepath, "HDF5 model"):
                weights = _h5_group(h5py, f, "model_weights", filepath)
                pairs = read_by_order(h5py, weights, model, filepath, match_names=True)
                state = None
                if model.compiled and _h5_group(h5py, f, "optimizer_weights", filepath, True):
                    state = _read_optimizer_state(h5py, f, model, filepath)
    h5.assign(model, pairs, state)
    return model


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Weights from a legacy `.h5` file, whole-model or weights-only, by layer order or name."""
    h5py = files.import_h5py()
    with files.open_regular(filepath, "weights") as source:
        with files.reading(filepath, "HDF5 weights"), h5py.File(source, "r") as f:
            group = f
            if "layer_names" not in f.attrs and "model_weights" in f:
                group = _h5_group(h5py, f, "model_weights", filepath)
            read = read_by_name if by_name else read_by_order
            pairs = read(h5py, group, model, filepath, skip_mismatch=skip_mismatch)
    h5.assign(model, pairs, None)


def _json_attribute(f, key, filepath):
    """A JSON attribute as a dict (None if absent), capped in size and nesting."""
    if key not in f.attrs:
        return None
    text = f.attrs[key]
    if hasattr(text, "decode"):
        text = text.decode("utf8")
    if not isinstance(text, str) or len(text) > limits.MAX_CONFIG_BYTES:
        raise files.Refused(f"Could not load {filepath!r}: its {key} attribute is not JSON text "
                            f"of at most {limits.MAX_CONFIG_BYTES:,} bytes.")
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
    if not isinstance(value, dict) or limits.nesting_depth(value) > limits.MAX_CONFIG_DEPTH:
        raise files.Refused(f"Could not load {filepath!r}: its {key} attribute does not hold "
                            f"a Keras {key.replace('_', ' ')}.")
    return value


def from_legacy(model_config):
    """Keras's legacy model_from_config fixes, applied to every layer: batch_input_shape
    becomes batch_shape, a one-element axis list an int, a tf.keras 2.x Lambda's
    [code, defaults, closure] the __lambda__ dict (which loading then refuses)."""
    model_config = json.loads(json.dumps(model_config))  # a copy
    for entry in [model_config] + model_config.get("config", {}).get("layers", []):
        layer = entry.get("config", {})
        shape = layer.pop("batch_input_shape", None)
        if shape is not None:
            layer["batch_shape" if entry["class_name"] == "InputLayer" else "input_shape"] = shape
        axis = layer.pop("axis", None)
        if isinstance(axis, list) and len(axis) == 1:
            layer["axis"] = int(axis[0])
        elif axis is not None:
            layer["axis"] = int(axis) if isinstance(axis, (int, float)) else axis
        if entry.get("class_name") == "Lambda" and isinstance(layer.get("function"), list):
            code, defaults, closure = layer["function"][:3]
            layer["function"] = {"class_name": "__lambda__", "config": {
                "code": code, "defaults": defaults, "closure": closure}}
        if entry is not model_config and entry.get("class_name") in _MODELS:
            raise ValueError(
                "minidl reads a model inside a model from `.keras` files only, not from "
                f"legacy `.h5` files. Received: a model containing the model {layer.get('name')!r}.")
    return model_config


_MODELS = ("Sequential", "Functional", "Model")


def _compile_config(training_config):
    """training_config as the compile_config of a `.keras` file (compile_config.py reads it)."""
    return {"optimizer": training_config.get("optimizer_config", "rmsprop"),
            **{key: training_config.get(key) for key in
               ("loss", "loss_weights", "metrics", "weighted_metrics")}}


def _h5_group(h5py, parent, path, filepath, optional=False):
    """The group at `path` (None if optional and absent), refused if it is anything else."""
    group = h5._h5_get(h5py, parent, path)
    if group is None and optional:
        return None
    if not isinstance(group, h5py.Group):
        raise files.Refused(f"{filepath!r} is not a legacy Keras HDF5 file: it has no group "
                            f"{path!r}.")
    return group


def _names(group, key):
    """Keras's load_attributes_from_hdf5_group: the names, from one attribute or its chunks."""
    if key in group.attrs:
        chunks = [group.attrs[key]]
    else:
        chunks, i = [], 0
        while f"{key}{i}" in group.attrs:
            chunks.append(group.attrs[f"{key}{i}"])
            i += 1
    return [name.decode("utf8") if hasattr(name, "decode") else str(name)
            for chunk in chunks for name in np.atleast_1d(chunk)]


def _datasets(h5py, group, filepath):
    """The datasets a layer's group lists in weight_names, checked, not yet read."""
    datasets = []
    for name in _names(group, "weight_names"):
        dataset = h5.numeric_dataset(h5py, group, name, filepath)
        if dataset is None:
            raise files.Refused(f"{filepath!r} holds no numeric array at {group.name}/{name}, "
                                "which its weight_names list.")
        datasets.append(dataset)
    return datasets


def read_by_order(h5py, group, model, filepath, skip_mismatch=False, match_names=False):
    """Keras's load_weights_from_hdf5_group: the file's layers with weights to the model's,
    in order. [(variable, array)], every shape checked before a byte of data is read."""
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    saved = [(name, _datasets(h5py, _h5_group(h5py, group, name, filepath), filepath))
             for name in _names(group, "layer_names")]
    saved = [(name, datasets) for name, datasets in saved if datasets]
    if len(saved) != len(layers):
        raise files.Refused(
            "Layer count mismatch when loading weights from file. "
            f"Model expected {len(layers)} layers, found {len(saved)} saved layers.")
    if match_names:  # a model built from the file's own config: the same layers, by name
        by_name = dict(saved)
        saved = [(layer.name, by_name.get(layer.name, [])) for layer in layers]
    pairs = []
    for k, (layer, (name, datasets)) in enumerate(zip(layers, saved)):
        weights = legacy_weights(layer)
        if len(datasets) != len(weights):
            raise files.Refused(
                f"Weight count mismatch for layer #{k} (named {layer.name} in the current "
                f"model, {name} in the save file). Layer expects {len(weights)} weight(s). "
                f"Received {len(datasets)} saved weight(s)")
        pairs += _checked(model, weights, datasets, f"layer #{k} (named {layer.name})",
                          skip_mismatch)
    pairs += _top_level(h5py, group, model, filepath, skip_mismatch, by_name=False)
    return pairs


def read_by_name(h5py, group, model, filepath, skip_mismatch=False):
    """Keras's load_weights_from_hdf5_group_by_name: layers with no match are skipped."""
    index = {}
    for layer in model.layers:
        index.setdefault(layer.name, []).append(layer)
    pairs = []
    for k, name in enumerate(_names(group, "layer_names")):
        datasets = _datasets(h5py, _h5_group(h5py, group, name, filepath), filepath)
        for layer in index.get(name, []):
            weights = legacy_weights(layer)
            if len(datasets) != len(weights):
                message = (f"layer #{k} (named {layer.name}) due to mismatch in number of "
                           f"weights. Layer expects {len(weights)} weight(s). Received "
                           f"{len(datasets)} saved weight(s)")
                if skip_mismatch:
                    warnings.warn(f"Skipping loading of weights for {message}", stacklevel=5)
                    continue
                raise files.Refused(
                    f"Weight count mismatch for layer #{k} (named {layer.name}). Layer "
                    f"expects {len(weights)} weight(s). Received {len(datasets)} saved weight(s)")
            pairs += _checked(model, weights, datasets, f"layer #{k} (named {layer.name})",
                              skip_mismatch)
    pairs += _top_level(h5py, group, model, filepath, skip_mismatch, by_name=True)
    return pairs


def _top_level(h5py, group, model, filepath, skip_mismatch, by_name):
    """The model's own weights: a minidl Sequential or functional model has none."""
    top = _h5_group(h5py, group, "top_level_model_weights", filepath, True)
    count = 0 if top is None else len(_names(top, "weight_names"))
    if count == 0:
        return []
    if by_name and skip_mismatch:
        warnings.warn("Skipping loading top-level weights for model due to mismatch in number "
                      f"of weights. Model expects 0 top-level weight(s). Received {count} saved "
                      "top-level weight(s)", stacklevel=5)
        return []
    raise files.Refused(
        ("Weight count mismatch for top-level weights of model. " if by_name else
         "Weight count mismatch for top-level weights when loading weights from file. ")
        + f"Model expects 0 top-level weight(s). Received {count} saved top-level weight(s)")


def _checked(model, weights, datasets, name, skip_mismatch):
    """Keras's _set_weights, without setting: (variable, array) for every matching shape."""
    pairs = []
    for variable, dataset in zip(weights, datasets):
        if tuple(dataset.shape) != variable.shape:
            path = weight_path(model, variable)
            message = (f"{name}for weight {path}. Weight expects shape "  # sic, as Keras
                       f"{variable.shape}. Received saved weight with shape {dataset.shape}")
            if skip_mismatch:
                warnings.warn(f"Skipping loading weights for {name}due to mismatch in shape "
                              f"for weight {path}. Weight expects shape "
                              f"{variable.shape}. Received saved weight with shape "
                              f"{dataset.shape}", stacklevel=6)
                continue
            raise files.Refused(f"Shape mismatch in {message}")
        pairs.append((variable, np.asarray(dataset[()]).astype(variable.dtype)))
    return pairs


def _read_optimizer_state(h5py, f, model, filepath):
    """Keras builds the optimizer and calls set_weights(saved values), which assigns them in
    order as far as both lists go: before the first step a file holds only the iteration
    count and the rate, and the slots start at zero. A shape that does not match is Keras's
    warning and a fresh optimizer (Keras keeps the values it assigned before the mismatch)."""
    datasets = _datasets(h5py, _h5_group(h5py, f, "optimizer_weights", filepath), filepath)
    probe = h5.built_optimizer(model.optimizer, model)
    expected = probe.variables
    rate = len(expected) - 1 - len(probe.slots()) - len(probe.extra_variables())  # 1 or 0
    count = min(len(expected), len(datasets))
    if any(tuple(d.shape) != np.shape(v) for d, v in zip(datasets, expected)):
        warnings.warn("Error in loading the saved optimizer state. As a result, your model is "
                      "starting with a freshly initialized optimizer.", stacklevel=5)
        return None
    values = [d[()] for d in datasets[:count]]
    return {
        "iterations": h5._checked_scalar(filepath, 0, "iteration count", values[0], True)
        if count else 0,
        "learning_rate": (h5._checked_scalar(filepath, 1, "learning rate", values[1], False)
                          if rate and count > 1 else None),
        "arrays": [np.asarray(value).astype(np.asarray(v).dtype)
                   for value, v in zip(values[1 + rate:], expected[1 + rate:])],
    }


# -- JSON -------------------------------------------------------------------------------------
def to_json(model, **kwargs):
    """Keras's model.to_json: the config a `.keras` file holds (compile's settings too)."""
    full = config.model_to_config(model, with_compile=model.compiled)
    return json.dumps(full, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A model from `to_json`'s text (Keras's or minidl's); compiled if the text says so, as
    Keras's deserialize_keras_object does."""
    from minidl.saving import _model_from_config

    if not isinstance(json_string, (str, bytes)) or len(json_string) > limits.MAX_CONFIG_BYTES:
        raise ValueError("Expected `json_string` to be JSON text of at most "
                         f"{limits.MAX_CONFIG_BYTES:,} bytes. Received: a "
                         f"{type(json_string).__name__} of length {len(json_string)}")
    try:
        model_config = json.loads(json_string)
    except RecursionError:
        model_config = None
    if not isinstance(model_config, dict) or limits.nesting_depth(
            model_config) > limits.MAX_CONFIG_DEPTH:
        raise ValueError("The JSON text does not hold a Keras model config.")
    return _model_from_config(model_config, "the JSON string", custom_objects)
