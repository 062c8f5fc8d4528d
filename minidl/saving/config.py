"""A model as Keras's config.json, both ways: every layer, the graph, the compile settings.

Each object is written as Keras writes it, {"module", "class_name", "config",
"registered_name"}: a layer by its class name and its `get_config()` (minidl's layers use
Keras's own keys), a functional model by its layers and, for each layer call, the tensors
it was called on ("inbound_nodes", each tensor named [layer, node index, tensor index]).

Reading builds the same objects back: a plain dict maps class names to minidl's layer
classes, nothing is imported or evaluated from the file, and an option minidl does not
implement is refused by name (or dropped, when it is off).
"""
import inspect

import numpy as np

from minidl import activations, config as config_module, initializers, losses, metrics
from minidl import optimizers, regularizers
from minidl.layers.base import Layer
from minidl.layers.input_layer import InputLayer

MAX_DEPTH = 50  # models inside models inside models...


def layer_classes():
    """{class name: class} of every layer minidl has (the only classes a file can name)."""
    from minidl import layers

    return {name: cls for name, cls in vars(layers).items()
            if isinstance(cls, type) and issubclass(cls, Layer)}


# -- can it be saved? ----------------------------------------------------------------------
def check_can_save(model):
    """Refuse, with the reason, a model Keras could not load back."""
    from minidl.models import Functional, Sequential  # models.py imports saving lazily

    if type(model) not in (Sequential, Functional):
        raise ValueError(
            "Only minidl Sequential and functional Model objects can be saved in the Keras "
            "format (a subclassed model's call() is Python code, which a file cannot hold). "
            f"Received: model={model!r} (of type {type(model).__name__}). Save its weights "
            "with model.save_weights(...) instead."
        )
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Build it first by "
            "calling it on some data or with `model.build((None, D))`."
        )
    known = layer_classes()
    for layer in model.layers:
        if isinstance(layer, (Sequential, Functional)):
            check_can_save(layer)
            continue
        if known.get(type(layer).__name__) is not type(layer):
            raise ValueError(
                f"Layer {layer.name} of type {type(layer).__name__} cannot be saved in the "
                f"Keras format; minidl can save its own layers: {sorted(known)}."
            )
        activation = getattr(layer, "activation", None)
        if activation is not None and not _is_builtin(activation):
            raise ValueError(
                f"Layer {layer.name} uses a custom activation ({activation!r}), which Keras "
                "could not load. Use one of Keras's activations by name."
            )


def _is_builtin(activation):
    """True for minidl's own activation functions, which Keras knows by the same names."""
    try:
        return activations.get(activations.serialize(activation)) is activation
    except (ValueError, AttributeError):
        return False


# -- config.json, written ------------------------------------------------------------------
def model_to_config(model, with_compile=True, nearest_builtin=False):
    """The dict Keras 3.15 writes to config.json for the same model.

    nearest_builtin: name a subclass of one of minidl's layers by that layer's class (for a
    Keras twin of a model whose layers override, say, Dense's backward).
    """
    naming = _nearest_builtin_name if nearest_builtin else _own_name
    return _model_to_config(model, with_compile, naming)


def _model_to_config(model, with_compile, naming):
    from minidl.models import Sequential

    dtype = model.weights[0].dtype.name if model.weights else config_module.floatx()
    if isinstance(model, Sequential):
        input_layer = model.inputs[0].node.layer
        input_shape = _shape_list(input_layer.batch_shape)
        config = {
            "module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": model.trainable,
                       "dtype": _dtype_policy(dtype),
                       "layers": [_layer_to_config(layer, dtype, naming)
                                  for layer in [input_layer] + model.layers],
                       "build_input_shape": input_shape},
            "registered_name": None,
            "build_config": {"input_shape": input_shape},
        }
    else:
        config = {
            "module": "keras.src.models.functional", "class_name": "Functional",
            "config": _functional_config(model, dtype, naming),
            "registered_name": "Functional",
            "build_config": {"input_shape": None},
        }
    if with_compile:
        config["compile_config"] = _compile_to_config(model)
    return config


def _functional_config(model, dtype, naming):
    """Keras's Functional.get_config: layers in order, each with the calls made in this model."""
    own_nodes = {id(node) for node in model._graph.nodes}

    def node_index(layer, node):
        """The node's position among this model's calls of the layer (Keras re-indexes)."""
        kept = [n for n in layer._inbound_nodes if id(n) in own_nodes]
        offset = 1 if _is_functional(layer) else 0  # a model starts with its own node
        return offset + kept.index(node)

    def tensor_config(tensor):
        node = tensor.node
        return {"class_name": "__keras_tensor__",
                "config": {"shape": _shape_list(tensor.shape), "dtype": tensor.dtype,
                           "keras_history": [node.layer.name, node_index(node.layer, node),
                                             tensor.index]}}

    def args_config(structure):
        if isinstance(structure, (list, tuple)):
            return [args_config(item) for item in structure]
        return tensor_config(structure)

    layer_configs = []
    for layer in model.layers:
        layer_config = _layer_to_config(layer, dtype, naming)
        layer_config["name"] = layer.name
        layer_config["inbound_nodes"] = [
            {"args": [args_config(node.inputs)], "kwargs": {}}
            for node in layer._inbound_nodes
            if id(node) in own_nodes and not node.is_input]
        layer_configs.append(layer_config)

    def history(tensor):
        return [tensor.node.layer.name, node_index(tensor.node.layer, tensor.node), tensor.index]

    inputs = [history(t) for t in model._graph.inputs]
    outputs = [history(t) for t in model._graph.outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": inputs[0] if model._single_input else inputs,
            "output_layers": outputs[0] if model._single_output else outputs}


def _is_functional(layer):
    return type(layer).__name__ == "Functional"


def _shape_list(shape):
    return None if shape is None else [None if d is None else int(d) for d in shape]


def _dtype_policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _object_config(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def _layer_to_config(layer, dtype, naming):
    from minidl.models import Model

    if isinstance(layer, Model):
        return _model_to_config(layer, False, naming)
    if isinstance(layer, InputLayer):
        return _object_config("keras.layers", "InputLayer", {
            "batch_shape": _shape_list(layer.batch_shape), "dtype": dtype, "sparse": False,
            "ragged": False, "name": layer.name, "optional": False})
    config = {key: _value_to_config(value) for key, value in layer.get_config().items()}
    config["dtype"] = _dtype_policy(dtype)
    class_name = naming(layer)
    config.update(_KERAS_ONLY.get(class_name, {}))
    result = _object_config("keras.layers", class_name, config)
    if layer.input_shape is not None and type(layer).build is not Layer.build:
        result["build_config"] = {"input_shape": _shape_list(layer.input_shape)
                                  if not isinstance(layer.input_shape, list) else
                                  [_shape_list(s) for s in layer.input_shape]}
    return result


# Options Keras writes for these layers that minidl does not have, at their "off" value.
_KERAS_ONLY = {"Dense": {"kernel_constraint": None, "bias_constraint": None,
                         "quantization_config": None}}


def _own_name(layer):
    return type(layer).__name__


def _nearest_builtin_name(layer):
    """The class name of the minidl layer that `layer` is (a subclass of), for twins."""
    known = set(layer_classes().values())
    return next(cls.__name__ for cls in type(layer).__mro__ if cls in known)


def _value_to_config(value):
    """An initializer, regularizer or activation in a layer's config, as Keras writes it."""
    if isinstance(value, initializers.Initializer):
        return _object_config("keras.initializers", type(value).__name__, value.get_config())
    if isinstance(value, regularizers.Regularizer):
        return regularizers.serialize(value)
    if callable(value) and not isinstance(value, type):
        return activations.serialize(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _compile_to_config(model):
    """Keras's compile_config: the optimizer's class and settings, the loss, the metrics."""
    if not model.compiled:
        return {}
    optimizer = model.optimizer
    optimizer_config = {**optimizer.get_config(), "clipnorm": optimizer.clipnorm,
                        "clipvalue": optimizer.clipvalue,
                        "global_clipnorm": optimizer.global_clipnorm}
    compiled = model.compiled_metrics
    return {
        "optimizer": _object_config("keras.optimizers", type(optimizer).__name__,
                                    _plain(optimizer_config)),
        "loss": _structure(model.loss, _loss_to_config),
        "loss_weights": model.compiled_loss.loss_weights if model.compiled_loss else None,
        "metrics": _structure(compiled.identifiers, _metric_to_config),
        "weighted_metrics": _structure(compiled.weighted_identifiers, _metric_to_config),
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
    }


def _plain(config):
    """Config values as JSON can hold them (NumPy scalars as Python numbers)."""
    return {k: v.item() if isinstance(v, np.generic) else
            (_plain(v.get_config()) if hasattr(v, "get_config") else v)
            for k, v in config.items()}


def _structure(value, convert):
    """Apply `convert` to every leaf of a list or dict (one entry per output), or to one."""
    if value is None:
        return None
    if isinstance(value, dict) and "class_name" not in value:  # by output name
        return {key: _structure(item, convert) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_structure(item, convert) for item in value]
    return convert(value)


def _loss_to_config(loss):
    """The string the loss was compiled from ("mse"), or its class and settings."""
    if isinstance(loss, str):
        return loss
    from_logits = getattr(loss, "from_logits", False)
    try:
        if type(losses.get(loss.name)) is type(loss) and not from_logits:
            return loss.name
    except ValueError:
        pass  # a loss object with its own name
    return _object_config("keras.losses", type(loss).__name__, loss.get_config())


def _metric_to_config(metric):
    if isinstance(metric, str):
        return metric
    if isinstance(metric, metrics.Metric):
        return _object_config("keras.metrics", type(metric).__name__, metric.get_config())
    raise ValueError(f"The metric {metric!r} (a function) cannot be saved in a file; compile "
                     "with a metric name or a Metric object to save the model.")


# -- config.json, read ---------------------------------------------------------------------
def model_from_config(config, custom_objects=None, depth=0):
    """A minidl Sequential or functional Model from the dict in a `.keras` file's config.json."""
    from minidl.models import Model, Sequential

    if depth > MAX_DEPTH:
        raise ValueError(f"The model config nests models more than {MAX_DEPTH} deep.")
    class_name, model_config = config["class_name"], config["config"]
    if class_name == "Sequential":
        layers = [layer_from_config(c, custom_objects, depth + 1) for c in model_config["layers"]]
        model = Sequential(layers, name=model_config["name"])
        shape = model_config.get("build_input_shape")
        if not model.built and shape:
            model.build(shape)
        return model
    if class_name not in ("Functional", "Model"):
        raise ValueError(
            f"The file holds a model of type {class_name}; minidl can load a Sequential or "
            "a functional Model.")
    tensors = {}  # (layer name, node index) -> the outputs of that call
    pending = []  # (layer, node data) whose inputs are not all made yet
    for layer_config in model_config["layers"]:
        layer = layer_from_config(layer_config, custom_objects, depth + 1)
        if isinstance(layer, InputLayer):
            tensors[(layer.name, 0)] = layer.output
            continue
        first = 1 if isinstance(layer, Model) else 0
        for index, node in enumerate(layer_config["inbound_nodes"]):
            pending.append((layer, first + index, node))
    while pending:
        ready = [item for item in pending if _inputs_known(item[2], tensors)]
        if not ready:
            names = sorted({layer.name for layer, _, _ in pending})
            raise ValueError(f"The model config's graph is disconnected at layers {names}.")
        for layer, index, node in ready:
            tensors[(layer.name, index)] = layer(_fill(node["args"][0], tensors))
        pending = [item for item in pending if item not in ready]

    def find(spec):
        outputs = tensors[(spec[0], spec[1])]
        return outputs[spec[2]] if isinstance(outputs, list) else outputs

    inputs, outputs = model_config["input_layers"], model_config["output_layers"]
    inputs = find(inputs) if not isinstance(inputs[0], list) else [find(s) for s in inputs]
    outputs = find(outputs) if not isinstance(outputs[0], list) else [find(s) for s in outputs]
    return Model(inputs=inputs, outputs=outputs, name=model_config["name"])


def _tensor_specs(args):
    if isinstance(args, list):
        return [spec for item in args for spec in _tensor_specs(item)]
    if isinstance(args, dict) and args.get("class_name") == "__keras_tensor__":
        return [args["config"]["keras_history"]]
    raise ValueError(f"Unexpected layer call argument in the model config: {args!r}")


def _inputs_known(node, tensors):
    return all((s[0], s[1]) in tensors for s in _tensor_specs(node["args"][0]))


def _fill(args, tensors):
    if isinstance(args, list):
        return [_fill(item, tensors) for item in args]
    name, node, index = args["config"]["keras_history"]
    outputs = tensors[(name, node)]
    return outputs[index] if isinstance(outputs, list) else outputs


# Options Keras layers have and minidl's do not: fine when off (None/False/0), refused otherwise.
_INERT = (None, False, 0, 0.0, "", [], {})


def layer_from_config(layer_config, custom_objects=None, depth=0):
    """One layer (or a model inside the model) from its Keras config."""
    class_name, config = layer_config["class_name"], dict(layer_config["config"])
    if class_name in ("Sequential", "Functional", "Model"):
        return model_from_config(layer_config, custom_objects, depth)
    classes = {**layer_classes(), **(custom_objects or {})}
    cls = classes.get(class_name)
    if cls is None:
        raise ValueError(
            f"Layer '{config.get('name')}' has type {class_name}, which minidl does not "
            f"support. minidl can load models made of {sorted(layer_classes())}.")
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config["batch_input_shape"]
        return InputLayer(batch_shape=tuple(shape), name=config.get("name"))
    config["dtype"] = _dtype_name(config.get("dtype"))
    config = {key: _value_from_config(key, value) for key, value in config.items()}
    accepted = _accepted_arguments(cls)
    unknown = {key: value for key, value in config.items() if key not in accepted}
    refused = sorted(key for key, value in unknown.items() if value not in _INERT)
    if refused:
        raise ValueError(f"Layer '{config.get('name')}' ({class_name}) uses "
                         f"{ {k: unknown[k] for k in refused} }, which minidl does not "
                         "support.")
    try:
        return cls(**{key: value for key, value in config.items() if key in accepted})
    except (TypeError, ValueError) as error:
        raise ValueError(f"Layer '{config.get('name')}' ({class_name}) cannot be loaded: "
                         f"{error}") from None


def _accepted_arguments(cls):
    """The constructor's argument names, through **kwargs up to Layer's own."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters
        names |= {name for name, p in parameters.items()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name != "self"}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            break
    return names | {"input_shape", "input_dim"} if "name" in names else names


def _dtype_name(dtype):
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name")
    if dtype not in (None, "float32", "float64"):
        raise ValueError(f"minidl computes in float32 (or float64); the file asks for "
                         f"dtype={dtype!r}.")
    return dtype


def _value_from_config(key, value):
    """A serialized initializer or regularizer back as a minidl object."""
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    if key.endswith("_initializer"):
        return _initializer_from_config(value["class_name"], value.get("config", {}))
    if key.endswith("_regularizer"):
        return regularizers.get(value)
    return value


def _initializer_from_config(class_name, config):
    """An initializer by Keras's class name; options left at their defaults may be dropped."""
    cls = getattr(initializers, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, initializers.Initializer)):
        raise ValueError(f"Unknown initializer {class_name!r} in the model config.")
    accepted = _accepted_arguments(cls)
    refused = sorted(k for k, v in config.items() if k not in accepted and v not in _INERT)
    if refused:
        raise ValueError(f"minidl's {class_name} has no options {refused}.")
    return cls(**{k: v for k, v in config.items() if k in accepted})


def compile_from_config(model, config, filepath):
    """Compile `model` as the file says (optimizer, losses, weights and metrics)."""
    try:
        optimizer = _optimizer_from_config(config.get("optimizer", "rmsprop"))
        loss = _structure(config.get("loss"), _loss_from_config)
        compiled_metrics = _structure(config.get("metrics"), _metric_from_config)
        weighted = _structure(config.get("weighted_metrics"), _metric_from_config)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"Could not compile the model in {filepath!r} from its compile_config: {error} "
            "Load it with `load_model(filepath, compile=False)` and compile it yourself."
        ) from None
    model.compile(optimizer=optimizer, loss=loss, loss_weights=config.get("loss_weights"),
                  metrics=compiled_metrics, weighted_metrics=weighted)


# Keras optimizer options minidl does not implement, with the values that mean "off".
_KERAS_OPTIMIZER_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99,
                             "ema_overwrite_frequency": None, "loss_scale_factor": None,
                             "gradient_accumulation_steps": None}
_KERAS_LOSS_DEFAULTS = {"reduction": "sum_over_batch_size", "label_smoothing": 0.0,
                        "axis": -1, "ignore_class": None}


def _check_defaults(what, config, defaults):
    for key, default in defaults.items():
        if key in config and config[key] != default:
            raise ValueError(
                f"The {what} sets `{key}={config[key]!r}`, which minidl does not implement "
                f"(expected {default!r}).")


def _optimizer_from_config(spec):
    if isinstance(spec, str):
        return optimizers.get(spec)
    class_name, config = spec["class_name"], dict(spec["config"])
    cls = type(optimizers.get(class_name))  # an unknown name lists the valid ones
    _check_defaults(f"optimizer {class_name}", config, _KERAS_OPTIMIZER_DEFAULTS)
    accepted = _accepted_arguments(cls) | {"clipnorm", "clipvalue", "global_clipnorm"}
    unknown = {k: v for k, v in config.items() if k not in accepted
               and k not in _KERAS_OPTIMIZER_DEFAULTS}
    refused = sorted(k for k, v in unknown.items() if v not in _INERT)
    if refused:
        raise ValueError(f"minidl's {class_name} has no options {refused}.")
    return cls(**{key: value for key, value in config.items() if key in accepted})


def _metric_from_config(spec):
    """A metric name stays a name (resolved with the data's shapes, as "accuracy" must be)."""
    return spec if isinstance(spec, str) else metrics.get(spec)


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
