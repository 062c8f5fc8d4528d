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
Everything is read and checked before the model is touched. Every write goes to a temporary
file in the same directory that replaces the target in one step once it is complete.
h5py is optional (`pip install minidl[h5]`) and imported only when a function needs it.
"""
import copy
import datetime
import io
import json
import os
import tempfile
import warnings
import zipfile
import zlib

import numpy as np

from minidl import activations, config as config_module, initializers, losses, metrics, naming
from minidl import optimizers
from minidl.layers import Activation, Dense, InputLayer

KERAS_VERSION = "3.15.1"  # the Keras release whose file format this module writes
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_SUPPORTED_LAYERS = {"InputLayer": InputLayer, "Dense": Dense, "Activation": Activation}


def _import_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Reading and writing `.keras` and `.weights.h5` files requires h5py. Install it "
            "with `pip install h5py` (or `pip install minidl[h5]`)."
        ) from None
    return h5py


# -- writing --------------------------------------------------------------------------------
def save_model(model, filepath):
    """Write `model` to a Keras 3 `.keras` file that `keras.models.load_model` opens."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(
            "Invalid `filepath` argument: expected a `.keras` extension. "
            f"Received: filepath={filepath}"
        )
    _import_h5py()
    _check_can_save(model)
    _atomic_write(filepath, lambda path: _write_keras_zip(path, model))


def save_weights(model, filepath):
    """Write every weight to `name.weights.npz` (NumPy, no pickle) or Keras's `name.weights.h5`."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".weights.npz"):
        arrays = {f"{i:04d}:{w.path}": w.value for i, w in enumerate(model.weights)}

        def write(path):
            with open(path, "wb") as f:
                np.savez(f, **arrays)

        _atomic_write(filepath, write)
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError(
            "The filename must end in `.weights.npz` or `.weights.h5`. "
            f"Received: filepath={filepath}"
        )
    h5py = _import_h5py()
    _check_can_save(model)

    def write(path):
        with h5py.File(path, "w") as h5:
            _write_weights(h5, model)

    _atomic_write(filepath, write)


def _check_can_save(model):
    from minidl.models import Model, Sequential  # models.py imports this module lazily

    if type(model) not in (Sequential, Model):
        raise ValueError(
            "Only minidl Sequential and functional Model objects can be saved. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Build it first by "
            "calling it on some data or with `model.build((None, D))`."
        )
    for layer in model.layers:
        if type(layer) not in _SUPPORTED_LAYERS.values():
            raise ValueError(
                f"Layer {layer.name} of type {type(layer).__name__} cannot be saved in the "
                f"Keras format; minidl can save {sorted(_SUPPORTED_LAYERS)}."
            )
        activation = getattr(layer, "activation", None)
        if activation is not None and not _is_builtin(activation):
            raise ValueError(
                f"Layer {layer.name} uses a custom activation ({activation!r}), which Keras "
                "could not load. Use one of 'linear', 'relu', 'tanh', 'sigmoid', 'softmax'."
            )


def _is_builtin(activation):
    """True for minidl's own activation functions, which Keras knows by the same names."""
    try:
        return activations.get(activations.serialize(activation)) is activation
    except ValueError:
        return False


def _atomic_write(filepath, write):
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


def _write_keras_zip(path, model):
    """The three members Keras writes, in its order, uncompressed as Keras stores them."""
    h5py = _import_h5py()
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(_METADATA, json.dumps(metadata))
        zf.writestr(_CONFIG, json.dumps(model_to_config(model)))
        buffer = io.BytesIO()  # h5py cannot write into a zip member, so build it in memory
        with h5py.File(buffer, "w") as h5:
            _write_weights(h5, model)
        zf.writestr(_WEIGHTS, buffer.getvalue())


def _layer_paths(model):
    """(path, layer) for every layer in `model.layers`, named as Keras's saver names them."""
    seen = {}
    for layer in model.layers:
        base = naming.to_snake_case(type(layer).__name__)  # Dense -> dense
        count = seen.get(base, 0)
        seen[base] = count + 1
        yield (f"layers/{base}" if count == 0 else f"layers/{base}_{count}"), layer


def _write_weights(h5, model):
    """Every variable into an open HDF5 file, at Keras's paths (see the module docstring)."""
    for path, layer in _layer_paths(model):
        group = h5.create_group(f"{path}/vars")
        group.attrs["name"] = layer.name
        for i, variable in enumerate(layer.weights):
            group[str(i)] = variable.value
    h5.create_group("vars").attrs["name"] = model.name  # the model's own (empty) variables
    if model.compiled:
        group = h5.create_group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        for i, value in enumerate(_built(model.optimizer, model).variables):
            group[str(i)] = value


def _built(optimizer, model):
    """The optimizer, or a built copy of it (zero slots, as Keras's build makes) if not built yet."""
    if optimizer.built:
        return optimizer
    probe = copy.copy(optimizer)  # build() sets new attributes on the copy only
    probe.build(model.trainable_weights)
    return probe


# -- config.json, written ------------------------------------------------------------------
def model_to_config(model):
    """The dict Keras 3.15 writes to config.json for the same model."""
    from minidl.models import Sequential

    dtype = model.weights[0].dtype.name if model.weights else config_module.floatx()
    chain = _chain(model)
    layer_configs = [_layer_to_config(layer, dtype) for layer in chain]
    input_shape = _shape_list(model.input_shape)
    if type(model) is Sequential:
        return {
            "module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": True, "dtype": _dtype_policy(dtype),
                       "layers": layer_configs, "build_input_shape": input_shape},
            "registered_name": None,
            "build_config": {"input_shape": input_shape},
            "compile_config": _compile_to_config(model),
        }
    for position, layer_config in enumerate(layer_configs):
        layer_config["name"] = layer_config["config"]["name"]
        layer_config["inbound_nodes"] = []
        if position > 0:  # called on the previous layer's output: a chain
            parent = chain[position - 1]
            tensor = {"class_name": "__keras_tensor__",
                      "config": {"shape": _shape_list(parent.output_shape), "dtype": dtype,
                                 "keras_history": [parent.name, 0, 0]}}
            layer_config["inbound_nodes"] = [{"args": [tensor], "kwargs": {}}]
    return {
        "module": "keras.src.models.functional", "class_name": "Functional",
        "config": {"name": model.name, "trainable": True, "layers": layer_configs,
                   "input_layers": [chain[0].name, 0, 0],
                   "output_layers": [chain[-1].name, 0, 0]},
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
        "compile_config": _compile_to_config(model),
    }


def _chain(model):
    """The input layer, then every other layer in order."""
    from minidl.models import Sequential

    if isinstance(model, Sequential):
        return [model.inputs[0].node.layer] + model.layers
    return model.layers


def _shape_list(shape):
    return [None if d is None else int(d) for d in shape]


def _dtype_policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _object_config(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def _initializer_to_config(initializer, default):
    """minidl's initializers carry Keras's class names; a plain function falls back to `default`."""
    if isinstance(initializer, initializers.Initializer):
        return _object_config("keras.initializers", type(initializer).__name__,
                              initializer.get_config())
    return _object_config("keras.initializers", default, {})


def _layer_to_config(layer, dtype):
    if isinstance(layer, InputLayer):
        return _object_config("keras.layers", "InputLayer", {
            "batch_shape": _shape_list(layer.input_shape), "dtype": dtype, "sparse": False,
            "ragged": False, "name": layer.name, "optional": False})
    config = {"name": layer.name, "trainable": layer.trainable, "dtype": _dtype_policy(dtype)}
    if isinstance(layer, Activation):
        config["activation"] = activations.serialize(layer.activation)
        return _object_config("keras.layers", "Activation", config)
    config.update({
        "units": layer.units,
        "activation": activations.serialize(layer.activation),
        "use_bias": layer.use_bias,
        "kernel_initializer": _initializer_to_config(layer.kernel_initializer, "GlorotUniform"),
        "bias_initializer": _initializer_to_config(layer.bias_initializer, "Zeros"),
        "kernel_regularizer": None, "bias_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None, "quantization_config": None,
    })
    dense = _object_config("keras.layers", "Dense", config)
    dense["build_config"] = {"input_shape": _shape_list(layer.input_shape)}
    return dense


def _compile_to_config(model):
    """Keras's compile_config: the optimizer's class and settings, the loss, the metrics."""
    if not model.compiled:
        return {}
    optimizer = model.optimizer
    optimizer_config = {**optimizer.get_config(), "clipnorm": optimizer.clipnorm,
                        "clipvalue": optimizer.clipvalue,
                        "global_clipnorm": optimizer.global_clipnorm}
    return {
        "optimizer": _object_config("keras.optimizers", type(optimizer).__name__,
                                    optimizer_config),
        "loss": _loss_to_config(model.loss),
        "loss_weights": None,
        "metrics": [m if isinstance(m, str) else _object_config(
            "keras.metrics", type(m).__name__, {"name": m.name})
            for m in model.compiled_metrics.identifiers or []] or None,
        "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
        "jit_compile": False,
    }


def _loss_to_config(loss):
    """The string the loss was compiled from ("mse"), or its class and settings."""
    if loss is None:
        return None
    from_logits = getattr(loss, "from_logits", False)
    try:
        if type(losses.get(loss.name)) is type(loss) and not from_logits:
            return loss.name
    except ValueError:
        pass  # a loss object with its own name
    config = {"name": loss.name, "reduction": "sum_over_batch_size"}
    if isinstance(loss, (losses.BinaryCrossentropy, losses.CategoricalCrossentropy,
                         losses.SparseCategoricalCrossentropy)):
        config["from_logits"] = from_logits
    return _object_config("keras.losses", type(loss).__name__, config)


# -- reading --------------------------------------------------------------------------------
def load_model(filepath, compile=True):
    """Rebuild a model from a `.keras` file written by Keras 3 (or by `save_model`).

    Args:
        filepath: path to a `.keras` file of InputLayer, Dense and Activation layers, in a
            Sequential or a functional chain.
        compile: compile the model as it was compiled when saved (optimizer state included).
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(
            "minidl loads models from the Keras 3 `.keras` format only. "
            f"Received: filepath={filepath}"
        )
    _import_h5py()
    config, weights = _read_archive(filepath)
    try:
        model = model_from_config(config)
        compile_config = config.get("compile_config") if compile else None
    except (KeyError, TypeError, IndexError, AttributeError) as error:
        raise ValueError(
            f"Could not load {filepath!r}: its config.json is not a valid Keras model "
            f"config ({type(error).__name__}: {error})."
        ) from None
    if compile_config:
        _compile_from_config(model, compile_config, filepath)
    _load_from_h5(model, io.BytesIO(weights), filepath)
    return model


def load_weights(model, filepath):
    """Read weights from `.weights.npz`, Keras's `.weights.h5`, or a `.keras` file's weights.

    Everything is checked before anything is assigned: a bad file leaves the model as it was.
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No weights file at {filepath!r}.")
    if filepath.endswith(".weights.npz"):
        model.set_weights(_read_npz(filepath))
        return
    _import_h5py()
    if filepath.endswith(".keras"):
        _, weights = _read_archive(filepath)
        _load_from_h5(model, io.BytesIO(weights), filepath)
    else:
        _load_from_h5(model, filepath, filepath)


def _read_npz(filepath):
    """The arrays of a `.weights.npz` file, in the order they were saved (never unpickled)."""
    try:
        with np.load(filepath, allow_pickle=False) as data:
            return [data[key] for key in sorted(data.files)]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(
            f"Could not read weights from {filepath!r}: the file is not a valid "
            f".weights.npz file ({error})."
        ) from None


def _read_archive(filepath):
    """(config dict, weights bytes) from a `.keras` zip, or a ValueError saying what is wrong."""
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No model file at {filepath!r}.")
    try:
        with zipfile.ZipFile(filepath) as zf:
            names = zf.namelist()
            missing = [name for name in (_CONFIG, _WEIGHTS) if name not in names]
            if missing:
                raise ValueError(
                    f"{filepath!r} is not a complete `.keras` file: it has no "
                    f"{' or '.join(missing)}. Members found: {names}"
                )
            config = json.loads(zf.read(_CONFIG))
            weights = zf.read(_WEIGHTS)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError,
            json.JSONDecodeError) as error:
        raise ValueError(
            f"Could not read {filepath!r}: it is not a valid `.keras` file "
            f"(truncated or corrupt: {error})."
        ) from None
    if not isinstance(config, dict):
        raise ValueError(f"Could not load {filepath!r}: config.json does not hold a model.")
    return config, weights


def _load_from_h5(model, source, filepath):
    """Read and check everything in an HDF5 weights file, then assign it all."""
    h5py = _import_h5py()
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Build it "
            "first by calling it on some data or with `model.build((None, D))`."
        )
    try:
        with h5py.File(source, "r") as h5:
            pairs = _read_layer_weights(h5py, h5, model, filepath)
            optimizer_state = _read_optimizer_state(h5py, h5, model, filepath)
    except OSError as error:  # h5py's error for a truncated or corrupt file
        raise ValueError(
            f"Could not read weights from {filepath!r}: it is not a valid HDF5 weights file "
            f"(truncated or corrupt: {error})."
        ) from None
    for variable, array in pairs:
        variable.assign(array)
    if optimizer_state is not None:
        _assign_optimizer_state(model, optimizer_state)


def _h5_get(h5py, parent, path):
    """The group or dataset at `path`, or None; links to other places or files are refused."""
    node = parent
    for part in path.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"Not allowed: the HDF5 file links {path!r} elsewhere.")
        node = node[part]
    return node


def _vars_at(h5py, h5, path, filepath):
    """The datasets at `path/vars/0`, `1`, ... (not yet read); [] if the file has none."""
    group = _h5_get(h5py, h5, f"{path}/vars")
    if group is None:
        return []
    datasets = []
    for i in range(len(group)):
        dataset = _h5_get(h5py, group, str(i))
        if (not isinstance(dataset, h5py.Dataset) or dataset.external
                or dataset.is_virtual or dataset.dtype.kind not in "biuf"):
            raise ValueError(
                f"{filepath!r} holds no numeric array at {path}/vars/{i}; the variables of "
                f"{path} must be numbered 0, 1, ... Found: {sorted(group)}"
            )
        datasets.append(dataset)
    return datasets


def _read_layer_weights(h5py, h5, model, filepath):
    """[(variable, array)] for every variable of the model, each checked against the file."""
    pairs, expected = [], []
    for path, layer in _layer_paths(model):
        expected.append(path)
        datasets = _vars_at(h5py, h5, path, filepath)
        if len(datasets) != len(layer.weights):
            raise ValueError(
                f"Layer {layer.name} expects {len(layer.weights)} weights, but {filepath!r} "
                f"holds {len(datasets)} at {path}. Is the file from a different model?"
            )
        for i, (variable, dataset) in enumerate(zip(layer.weights, datasets)):
            if dataset.shape != variable.shape:  # checked before reading a byte of data
                raise ValueError(
                    f"Weight {variable.path} has shape {variable.shape}, but {filepath!r} "
                    f"holds shape {dataset.shape} at {path}/vars/{i}."
                )
            pairs.append((variable, dataset[()]))
    stored = set()  # the layer path of every array under layers/ in the file

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.startswith("layers/"):
            stored.add(name.rsplit("/vars/", 1)[0])

    h5.visititems(visit)
    extra = sorted(stored - set(expected))
    if extra:
        raise ValueError(
            f"{filepath!r} holds weights for layers the model does not have: {extra}. "
            f"The model's layers are stored at {expected}."
        )
    return pairs


def _read_optimizer_state(h5py, h5, model, filepath):
    """[iterations, learning_rate, *slots] for the model's optimizer, or None to leave it be."""
    datasets = _vars_at(h5py, h5, "optimizer", filepath)
    if not model.compiled or not datasets:
        return None
    expected = _built(model.optimizer, model).variables
    if len(datasets) == 2 and not model.optimizer.built:
        expected = expected[:2]  # both saved before their first step: no slots yet
    if len(datasets) != len(expected):
        warnings.warn(  # Keras's behaviour too: the weights load, the optimizer starts afresh
            f"Skipping variable loading for optimizer '{model.optimizer.name}', because it "
            f"has {len(expected)} variables whereas the saved optimizer has "
            f"{len(datasets)} variables.", stacklevel=4)
        return None
    for i, (value, dataset) in enumerate(zip(expected, datasets)):
        if dataset.shape != np.shape(value):
            raise ValueError(
                f"Optimizer variable {i} has shape {np.shape(value)}, but {filepath!r} "
                f"holds shape {dataset.shape} at optimizer/vars/{i}."
            )
    return [dataset[()] for dataset in datasets]


def _assign_optimizer_state(model, state):
    optimizer = model.optimizer
    optimizer.iterations = int(state[0])
    if optimizer.learning_rate != state[1]:  # the file holds the rate as float32: keep the
        optimizer.learning_rate = float(state[1])  # config's exact float when they agree
    if len(state) > 2:
        if not optimizer.built:
            optimizer.build(model.trainable_weights)
        for slot, value in zip(optimizer.slots(), state[2:]):
            slot[...] = value


# -- config.json, read ---------------------------------------------------------------------
def model_from_config(config):
    """A minidl Sequential or Model from the dict in a `.keras` file's config.json."""
    from minidl.models import Model, Sequential

    class_name, model_config = config["class_name"], config["config"]
    if class_name == "Sequential":
        model = Sequential([_layer_from_config(c) for c in model_config["layers"]],
                           name=model_config["name"])
        shape = model_config.get("build_input_shape")
        if not model.built and shape:
            model.build(shape)
        return model
    if class_name not in ("Functional", "Model"):
        raise ValueError(
            f"The file holds a model of type {class_name}; minidl can load a Sequential or "
            "a functional Model."
        )
    tensors = {}  # layer name -> its output tensor, wired in the file's (topological) order
    for layer_config in model_config["layers"]:
        layer = _layer_from_config(layer_config)
        if isinstance(layer, InputLayer):
            tensors[layer.name] = layer.output
            continue
        nodes = layer_config["inbound_nodes"]
        if len(nodes) != 1 or len(nodes[0]["args"]) != 1:
            raise ValueError(
                f"Layer {layer.name} is called {len(nodes)} times or on several inputs; "
                "minidl can load functional models whose layers form one chain."
            )
        parent = nodes[0]["args"][0]["config"]["keras_history"][0]
        tensors[layer.name] = layer(tensors[parent])
    inputs, outputs = (_single(model_config[key], key) for key in ("input_layers",
                                                                  "output_layers"))
    return Model(inputs=tensors[inputs], outputs=tensors[outputs], name=model_config["name"])


def _single(spec, key):
    """"inp" from Keras's ["inp", 0, 0] or [["inp", 0, 0]]; minidl models have one of each."""
    if isinstance(spec[0], list):
        if len(spec) != 1:
            raise ValueError(
                f"The model has {len(spec)} {key.split('_')[0]}s; minidl models have one "
                "input and one output."
            )
        spec = spec[0]
    return spec[0]


# Dense options minidl does not implement. These change the outputs, so loading stops:
_DENSE_UNSUPPORTED = ("lora_rank", "quantization_config")
# These only shape training, so the model loads with a warning that they were dropped:
_DENSE_TRAINING_ONLY = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                        "kernel_constraint", "bias_constraint")


def _layer_from_config(layer_config):
    class_name, config = layer_config["class_name"], layer_config["config"]
    name = config.get("name")
    if class_name not in _SUPPORTED_LAYERS:
        raise ValueError(
            f"Layer '{name}' has type {class_name}, which minidl does not support. "
            f"minidl can load models made of {sorted(_SUPPORTED_LAYERS)}."
        )
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config["batch_input_shape"]
        return InputLayer(shape=tuple(shape[1:]), name=name, batch_size=shape[0])
    try:
        activation = activations.get(config.get("activation"))
    except ValueError as error:
        raise ValueError(f"Layer '{name}' ({class_name}) cannot be loaded: {error}") from None
    if class_name == "Activation":
        return Activation(activation, name=name)
    unsupported = [key for key in _DENSE_UNSUPPORTED if config.get(key)]
    if unsupported:
        raise ValueError(
            f"Layer '{name}' (Dense) uses {unsupported}, which minidl does not support."
        )
    dropped = [key for key in _DENSE_TRAINING_ONLY if config.get(key) is not None]
    if dropped:
        warnings.warn(f"Layer '{name}' (Dense): minidl ignores {dropped}; the weights "
                      "load, but training will not apply them.", stacklevel=4)
    # The initializers are not carried over: the weights come from the file.
    return Dense(config["units"], activation=activation, use_bias=config.get("use_bias", True),
                 name=name, trainable=config.get("trainable", True))


# Keras optimizer options minidl does not implement, with the values that mean "off".
_KERAS_OPTIMIZER_DEFAULTS = {"weight_decay": None, "use_ema": False, "ema_momentum": 0.99,
                             "ema_overwrite_frequency": None, "loss_scale_factor": None,
                             "gradient_accumulation_steps": None}
_KERAS_LOSS_DEFAULTS = {"reduction": "sum_over_batch_size", "label_smoothing": 0.0,
                        "axis": -1, "ignore_class": None}


def _compile_from_config(model, config, filepath):
    try:
        for key in ("loss_weights", "weighted_metrics"):
            if config.get(key) is not None:
                raise ValueError(f"`{key}` is not supported by minidl.")
        optimizer = _optimizer_from_config(config.get("optimizer", "rmsprop"))
        loss = _loss_from_config(config.get("loss"))
        compiled_metrics = [_metric_from_config(m) for m in config.get("metrics") or []]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Could not compile the model in {filepath!r} from its compile_config: {error} "
            "Load it with `load_model(filepath, compile=False)` and compile it yourself."
        ) from None
    model.compile(optimizer=optimizer, loss=loss, metrics=compiled_metrics)


def _check_defaults(what, config, defaults):
    for key, default in defaults.items():
        if key in config and config[key] != default:
            raise ValueError(
                f"The {what} sets `{key}={config[key]!r}`, which minidl does not implement "
                f"(expected {default!r})."
            )


def _optimizer_from_config(spec):
    if isinstance(spec, str):
        return optimizers.get(spec)
    class_name, config = spec["class_name"], spec["config"]
    cls = type(optimizers.get(class_name))  # an unknown name lists the valid ones
    _check_defaults(f"optimizer {class_name}", config, _KERAS_OPTIMIZER_DEFAULTS)
    accepted = set(cls().get_config()) | {"clipnorm", "clipvalue", "global_clipnorm"}
    unknown = sorted(set(config) - accepted - set(_KERAS_OPTIMIZER_DEFAULTS))
    if unknown:
        raise ValueError(f"minidl's {class_name} has no options {unknown}.")
    return cls(**{key: value for key, value in config.items() if key in accepted})


def _loss_from_config(spec):
    if spec is None or isinstance(spec, str):
        return spec
    class_name, config = spec["class_name"], spec["config"]
    _check_defaults(f"loss {class_name}", config, _KERAS_LOSS_DEFAULTS)
    loss = losses.get(class_name)
    if "from_logits" in config:
        loss.from_logits = bool(config["from_logits"])
    loss.name = config.get("name", loss.name)
    return loss


def _metric_from_config(spec):
    if isinstance(spec, str):
        return spec
    metric = metrics.get(spec["class_name"])  # an unknown name lists the valid ones
    metric.name = spec["config"].get("name", metric.name)
    return metric
