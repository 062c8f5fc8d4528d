"""A model as Keras's config.json, both ways: every layer, the graph, the compile settings."""
import warnings

from minidl import activations, config as config_module, initializers, losses, metrics
from minidl import optimizers
from minidl.layers import Activation, Dense, InputLayer

_SUPPORTED_LAYERS = {"InputLayer": InputLayer, "Dense": Dense, "Activation": Activation}


def check_can_save(model):
    from minidl.models import Functional, Sequential  # models.py imports this lazily

    if type(model) not in (Sequential, Functional):
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


def compile_from_config(model, config, filepath):
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
