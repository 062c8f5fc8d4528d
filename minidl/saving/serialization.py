"""serialize_keras_object and deserialize_keras_object: any one object as the dict Keras
writes for it in a config, and back (Keras's keras/src/saving/serialization_lib.py).

    serialize_keras_object(minidl.optimizers.Adam())
    -> {"module": "keras.optimizers", "class_name": "Adam", "config": {...},
        "registered_name": None}

A class minidl has under Keras's name is written as "keras.<module>" and that name; a class or
function of one's own by its module and registered name (object_registration.py). Reading
looks names up in the registry and among minidl's own classes only: no module is imported
and no code runs from a config (a serialized lambda is refused, whatever `safe_mode` says).
"""
import types

import numpy as np

from minidl.saving import object_registration

PLAIN_TYPES = (str, int, float, bool)


def _kinds():
    """(Keras module, the minidl module holding those classes, base class), most specific
    first; minidl's modules are imported here, when first needed (saving loads early)."""
    from minidl import (constraints, initializers, layers, losses, metrics, models, optimizers,
                        regularizers)
    from minidl.optimizers import schedules

    return [("keras", models, models.Model),
            ("keras.layers", layers, layers.Layer),
            ("keras.initializers", initializers, initializers.Initializer),
            ("keras.regularizers", regularizers, regularizers.Regularizer),
            ("keras.constraints", constraints, constraints.Constraint),
            ("keras.losses", losses, losses.Loss),
            ("keras.metrics", metrics, metrics.Metric),
            ("keras.optimizers.schedules", schedules, schedules.LearningRateSchedule),
            ("keras.optimizers", optimizers, optimizers.Optimizer)]


# -- writing ----------------------------------------------------------------------------------
def serialize_keras_object(obj):
    """The dict Keras writes for `obj` (plain values, lists and dicts as themselves, with
    the objects inside them serialized), which deserialize_keras_object turns back into it."""
    from minidl import config
    from minidl.saving.compile_config import optimizer_to_config
    from minidl.saving.config import model_to_config
    from minidl.saving.layer_config import layer_to_config

    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(item) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.item()  # a NumPy scalar as a plain number
    if isinstance(obj, types.FunctionType):  # relu, mean_squared_error, my_package>my_fn
        return object_registration.function_config(obj)
    kind = next((k for k in _kinds() if isinstance(obj, k[2])), None)
    if kind is not None and kind[0] == "keras":
        return model_to_config(obj, with_compile=obj.compiled)
    if kind is not None and kind[0] == "keras.layers":
        dtype = obj.weights[0].dtype.name if obj.weights else config.floatx()
        return layer_to_config(obj, dtype)
    if kind is not None and kind[0] == "keras.optimizers":
        return optimizer_to_config(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj} of type {type(obj)}. To be "
                        "serializable, a class must implement the `get_config()` method.")
    inner = obj.get_config()
    if not isinstance(inner, dict):
        raise TypeError(f"The `get_config()` method of {obj} should return a dict. "
                        f"It returned: {inner}")
    inner = serialize_keras_object(inner)
    if kind is None:  # a class of one's own, not derived from any of minidl's
        return {"module": object_registration.module_name(type(obj)),
                "class_name": type(obj).__name__, "config": inner,
                "registered_name": object_registration.get_registered_name(type(obj))}
    return object_registration.class_config(obj, kind[0], kind[1], inner)


# -- reading ----------------------------------------------------------------------------------
_LAMBDA_REFUSED = (
    "Requested the deserialization of a Python lambda. This carries a potential risk of "
    "arbitrary code execution and thus it is disallowed by default. If you trust the source "
    "of the artifact, you can override this error by passing `safe_mode=False` to the "
    "loading function, or calling `keras.config.enable_unsafe_deserialization().")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a serialize_keras_object dict (minidl's or Keras's) describes.

    Args:
        config: the dict (or a plain value, list or dict of them).
        custom_objects: {name: class or function} of one's own, besides the registered ones
            and those of an enclosing custom_object_scope.
        safe_mode: Keras's switch for lambdas; minidl refuses them either way.
    """
    objects = object_registration.all_custom_objects(custom_objects)
    if config is None:
        return None
    if isinstance(config, str) and objects.get(config) is not None:
        return objects[config]  # a function written by its name (legacy formats)
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(item, objects, safe_mode) for item in config]
    if isinstance(config, PLAIN_TYPES):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, objects, safe_mode)
                for key, value in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__lambda__":
        raise ValueError(_LAMBDA_REFUSED if safe_mode else
                         "minidl never runs code from a config: a lambda cannot be loaded. "
                         "Register a named function and use it instead of the lambda. "
                         f"Received: safe_mode={safe_mode}")
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError("Expected 'config' to be a non-null str fora function "  # sic
                            f"classname,\ninstead got {type(inner)}\nFull config: {config}")
        return _function(inner, config, objects)
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name},\ninstead got "
                        f"{type(inner)}\nFull config: {config}")
    cls = _class(config, objects)
    if isinstance(cls, types.FunctionType):
        return cls
    with object_registration.CustomObjectScope(objects):
        return _from_config(cls, config, objects)


def _not_found(kind, name, config):
    return TypeError(
        f"Could not locate {kind} '{name}'. Make sure custom classes and functions are "
        "decorated with `@keras.saving.register_keras_serializable()`. If they are already "
        "decorated, make sure they are all imported so that the decorator is run before "
        f"trying to load them. Full object config: {config}")


def _function(name, config, objects):
    """A registered (or given) function, else one of minidl's built-in ones by its name."""
    from minidl import activations, losses, metrics

    found = object_registration.get_registered_object(name, objects)
    if found is not None:
        return found
    module = config.get("module")
    if module == "builtins" or module in ("keras.activations", "keras.losses",
                                          "keras.metrics"):
        for public in (activations, losses, metrics):
            fn = vars(public).get(name)
            if isinstance(fn, types.FunctionType) and not name.startswith("_"):
                return fn
        found = object_registration.find_function(name, objects)  # Keras <= 3.6's bare name
        if found is not None:
            return found
    raise _not_found("function", name, config)


def _class(config, objects):
    """The class a config names: registered or given first, then minidl's by Keras's name."""
    class_name = config["class_name"]
    found = object_registration.get_registered_object(
        config.get("registered_name", class_name), objects)
    if found is not None:
        return found
    module = config.get("module") or ""
    for keras_module, public, base in _kinds():
        cls = vars(public).get(class_name)
        if module == keras_module and isinstance(cls, type) and issubclass(cls, base):
            return cls
    if module == "keras.src.models.functional" and class_name == "Functional":
        from minidl.models import Functional

        return Functional
    raise _not_found("class", class_name, config)


def _from_config(cls, config, objects):
    """An object of class `cls` from its config, through the code minidl's own loading uses
    for its kind (which knows Keras's options that minidl lacks)."""
    from minidl import constraints, layers, losses, metrics, models, optimizers, regularizers
    from minidl.saving import compile_config, layer_config
    from minidl.saving.config import model_from_config

    resolved = objects  # holds `cls` if it is yours; minidl's own are found by name
    if issubclass(cls, models.Model):
        return model_from_config(config, resolved)
    if issubclass(cls, layers.Layer):
        layer = layer_config.layer_from_config(config, resolved)
        build = config.get("build_config") or {}
        if build.get("input_shape") and not layer.built:
            layer._maybe_build(tuple(build["input_shape"]))  # weights, as Keras's build
        return layer
    if issubclass(cls, optimizers.Optimizer):
        return compile_config._optimizer_from_config(config, resolved)
    if issubclass(cls, losses.Loss):
        return compile_config._loss_from_config(config, resolved)
    if issubclass(cls, metrics.Metric) and config.get("registered_name") is None:
        return metrics.get(config)
    if issubclass(cls, constraints.Constraint):
        return constraints.deserialize(config, resolved)
    if issubclass(cls, regularizers.Regularizer) and config.get("registered_name") is None:
        return regularizers.get(config)
    if cls.__module__ == "minidl.initializers":
        return layer_config._initializer_from_config(config["class_name"], config["config"])
    if issubclass(cls, metrics.Metric):  # minidl's Metric has no from_config: Keras's default
        return cls(**config["config"])
    if not hasattr(cls, "from_config"):
        raise TypeError(f"Unable to reconstruct an instance of '{config['class_name']}' "
                        "because the class is missing a `from_config()` method. Full object "
                        f"config: {config}")
    return cls.from_config(config["config"] or {})
