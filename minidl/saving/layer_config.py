"""One layer as Keras's config.json writes it, and back.

A layer is written as {"module", "class_name", "config", "registered_name"}: its class
name and its `get_config()`, whose keys are Keras's, with initializers, regularizers and
activations written as Keras writes them. Reading looks the class name up in a plain dict
of minidl's layer classes (nothing is imported from a file) and passes the config to the
constructor; an option minidl lacks is refused by name, unless it is off.
"""
import inspect

import numpy as np

from minidl import activations, constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.layers.input_layer import InputLayer
from minidl.saving import object_registration


def layer_classes():
    """{class name: class} of every layer minidl has (the only classes a file can name)."""
    from minidl import layers

    return {name: cls for name, cls in vars(layers).items()
            if isinstance(cls, type) and issubclass(cls, Layer)}


# -- can it be saved? ----------------------------------------------------------------------
def check_can_save(model, weights_only=False):
    """Refuse, with the reason, a model Keras could not load back (`weights_only`: whose
    weights Keras could not read back; a subclassed model's are written by attribute)."""
    from minidl.models import Functional, Sequential  # models.py imports saving lazily

    if weights_only:
        if not model.built:
            raise ValueError(
                "You are saving a model that has not yet been built. Build it first by "
                "calling it on some data or with `model.build((None, D))`.")
        if getattr(model, "_own_weights", None):
            raise ValueError(
                f"minidl cannot save the weights of {model.name}: a subclassed model's own "
                "weights (add_weight on the model itself) have no path in Keras's file. "
                "Create them in a layer the model holds, or save to `.weights.npz`.")
        return
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
    for layer in model.layers:
        if isinstance(layer, (Sequential, Functional)):
            check_can_save(layer)
            continue
        reason = getattr(layer, "cannot_save_reason", lambda: None)()
        if reason is not None:  # a vocabulary from adapt (lookup.py)
            raise ValueError(f"minidl cannot save this model in the Keras format: {reason}")
        # A layer class of your own is saved by its name and get_config(); loading it back
        # takes load_model(path, custom_objects={"MyLayer": MyLayer}), in minidl and Keras.
        # A function of your own (activation, initializer, regularizer) is saved by its
        # name, as Keras saves it, and found again in custom_objects or the registry.
        activation = getattr(layer, "activation", None)
        if (activation is not None and not _is_builtin(activation)
                and activation not in object_registration.GLOBAL_CUSTOM_NAMES
                and getattr(activation, "__name__", "<lambda>") == "<lambda>"):
            raise ValueError(
                f"Layer {layer.name} uses a lambda as its activation ({activation!r}), "
                "which a file cannot name (Keras writes its bytecode, and minidl runs no code "
                "from a file). Define it with `def` and load the model with "
                "custom_objects={'my_activation': my_activation}, or register it with "
                "@minidl.saving.register_keras_serializable()."
            )


def _is_builtin(activation):
    """True for minidl's own activation functions, which Keras knows by the same names."""
    try:
        return activations.get(activations.serialize(activation)) is activation
    except (ValueError, AttributeError):
        return False


def shape_list(shape):
    return None if shape is None else [None if d is None else int(d) for d in shape]


def dtype_policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def object_config(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None}


def own_name(layer):
    return type(layer).__name__


def nearest_builtin_name(layer):
    """The class name of the minidl layer that `layer` is (a subclass of), for twins."""
    known = set(layer_classes().values())
    return next(cls.__name__ for cls in type(layer).__mro__ if cls in known)


def layer_to_config(layer, dtype, naming=own_name):
    """One layer as Keras writes it: class name, config (Keras's keys), build shape."""
    if isinstance(layer, InputLayer):
        return object_config("keras.layers", "InputLayer", {
            "batch_shape": shape_list(layer.batch_shape),
            "dtype": layer.dtype if layer.takes_raw_inputs else dtype, "sparse": False,
            "ragged": False, "name": layer.name, "optional": False})
    config = {key: constraints.serialize(value) if key.endswith("_constraint") else
              _value_to_config(value) for key, value in layer.get_config().items()}
    if getattr(layer, "config_has_dtype", True) and "name" in config:  # Keras's base
        config["dtype"] = dtype_policy(dtype)  # get_config writes name and dtype together: a
    # get_config of your own without super()'s has neither, and Pipeline's has no dtype
    class_name = naming(layer)
    config.update(_KERAS_ONLY.get(class_name, {}))
    result = object_config("keras.layers", class_name, config)
    if layer_classes().get(class_name) is not type(layer) and naming is own_name:
        result.update(module=object_registration.module_name(type(layer)),  # yours, by its
                      registered_name=object_registration.get_registered_name(type(layer)))
    shapes = layer.__dict__.get("_build_shapes_dict")  # a call of several tensors
    if layer.input_shape is not None and hasattr(layer, "build_config"):
        result["build_config"] = layer.build_config()  # MultiHeadAttention: shapes by name
    elif shapes and len(shapes) > 1 and type(layer).build is not Layer.build:
        result["build_config"] = {"shapes_dict": {name: None if shape is None else (
            shape_list(shape) if not isinstance(shape, list) else
            [shape_list(s) for s in shape]) for name, shape in shapes.items()}}  # Keras's
    elif layer.input_shape is not None and type(layer).build is not Layer.build:
        result["build_config"] = {"input_shape": shape_list(layer.input_shape)
                                  if not isinstance(layer.input_shape, list) else
                                  [shape_list(s) for s in layer.input_shape]}
    return result


# Options Keras writes for these layers that minidl does not have, at their "off" value.
_KERAS_ONLY = {"Dense": {"quantization_config": None},
               "Embedding": {"quantization_config": None},
               "EinsumDense": {"quantization_config": None}}


def _value_to_config(value):
    """An initializer, regularizer or activation in a layer's config, as Keras writes it."""
    if isinstance(value, initializers.Initializer):
        return object_registration.class_config(value, "keras.initializers", initializers,
                                                value.get_config())
    if isinstance(value, regularizers.Regularizer):
        return object_registration.class_config(value, "keras.regularizers", regularizers,
                                                value.get_config())
    if callable(value) and not isinstance(value, type):
        return activations.serialize(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


# Options Keras layers have and minidl's do not: fine when off (None/False/0), refused otherwise.
INERT = (None, False, 0, 0.0, "", [], {})


def layer_from_config(layer_config, custom_objects=None):
    """One layer from its Keras config (a model inside a model is config.py's)."""
    class_name, config = layer_config["class_name"], dict(layer_config["config"])
    custom_objects = object_registration.all_custom_objects(custom_objects)
    classes = {**layer_classes(), **custom_objects}
    cls = (object_registration.get_registered_object(layer_config.get("registered_name"),
                                                     custom_objects)  # "my_package>MyLayer"
           or classes.get(class_name))
    if cls is None:
        raise ValueError(
            f"Layer '{config.get('name')}' has type {class_name}, which minidl does not "
            f"support. minidl can load models made of {sorted(layer_classes())}.")
    if class_name == "InputLayer":
        shape = config.get("batch_shape") or config["batch_input_shape"]
        return InputLayer(batch_shape=tuple(shape), name=config.get("name"),
                          dtype="string" if config.get("dtype") == "string" else None)
    config["dtype"] = _dtype_name(config.get("dtype"))
    try:
        config = {key: _value_from_config(key, value, custom_objects)
                  for key, value in config.items()}
    except FunctionNotFound as error:
        raise ValueError(f"Layer '{config.get('name')}' ({class_name}) cannot be loaded: "
                         f"{error}") from None
    if hasattr(cls, "resolve_functions"):  # a Lambda's functions: from custom_objects only
        config = cls.resolve_functions(config, custom_objects or {})
    if cls not in layer_classes().values() and \
            getattr(cls.from_config, "__func__", None) is not Layer.from_config.__func__:
        return cls.from_config(config)  # a class of yours with its own from_config, as Keras
    accepted = accepted_arguments(cls)
    unknown = {key: value for key, value in config.items() if key not in accepted}
    refused = sorted(key for key, value in unknown.items() if value not in INERT)
    if refused:
        raise ValueError(f"Layer '{config.get('name')}' ({class_name}) uses "
                         f"{ {k: unknown[k] for k in refused} }, which minidl does not "
                         "support.")
    try:
        return cls(**{key: value for key, value in config.items() if key in accepted})
    except (TypeError, ValueError) as error:
        raise ValueError(f"Layer '{config.get('name')}' ({class_name}) cannot be loaded: "
                         f"{error}") from None


def accepted_arguments(cls):
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


class FunctionNotFound(ValueError):
    """A function of one's own named in a layer's config, in no custom_objects."""


def _value_from_config(key, value, custom_objects=None):
    """A serialized initializer, regularizer or constraint back as a minidl object."""
    if key.endswith("_constraint") and value is not None:
        return constraints.deserialize(value, custom_objects)  # (yours: from custom_objects)
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    yours = object_registration.get_registered_object(value.get("registered_name"),
                                                      custom_objects)
    if isinstance(yours, type) and issubclass(yours, Layer):  # a layer of yours in a layer
        return layer_from_config(value, custom_objects)  # (an RNN's cell): as any layer
    if isinstance(yours, type):  # an initializer or regularizer class of one's own
        return yours.from_config(value.get("config") or {})
    if value["class_name"] == "function" and isinstance(value.get("config"), str):
        found = object_registration.find_function(value["config"], custom_objects)
        if found is None and key.endswith(("activation", "_initializer", "_regularizer")):
            raise FunctionNotFound(
                f"Could not locate function '{value['config']}' (its `{key}`). Pass it to "
                "load_model in `custom_objects` "
                f"(custom_objects={{'{value['config']}': {value['config']}}}) or decorate it "
                "with `@keras.saving.register_keras_serializable()`.")
        return value if found is None else found  # (an unknown one: the layer names it)
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
    accepted = accepted_arguments(cls)
    refused = sorted(k for k, v in config.items() if k not in accepted and v not in INERT)
    if refused:
        raise ValueError(f"minidl's {class_name} has no options {refused}.")
    return cls(**{k: v for k, v in config.items() if k in accepted})
