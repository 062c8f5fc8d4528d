"""compile()'s settings as Keras's config.json writes them, and back: optimizer, losses
(one, or one per output), loss weights, metrics and weighted metrics."""
import numpy as np

from minidl import losses, metrics, optimizers
from minidl.saving import object_registration
from minidl.saving.layer_config import INERT, accepted_arguments


def compile_to_config(model):
    """Keras's compile_config: the optimizer's class and settings, the loss, the metrics."""
    if not model.compiled:
        return {}
    compiled = model.compiled_metrics
    return {
        "optimizer": optimizer_to_config(model.optimizer),
        "loss": structure(model.loss, _loss_to_config),
        "loss_weights": model.compiled_loss.loss_weights if model.compiled_loss else None,
        "metrics": structure(compiled.identifiers, _metric_to_config),
        "weighted_metrics": structure(compiled.weighted_identifiers, _metric_to_config),
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
    }


def optimizer_to_config(optimizer):
    """The optimizer's class and settings, clipping options included, as Keras writes them."""
    config = optimizer.get_config()
    if not hasattr(optimizer, "inner_optimizer"):  # (a LossScaleOptimizer's are the inner's)
        config = {**config, "clipnorm": optimizer.clipnorm, "clipvalue": optimizer.clipvalue,
                  "global_clipnorm": optimizer.global_clipnorm}
    return object_registration.class_config(optimizer, "keras.optimizers", optimizers,
                                            _plain(config))


def _plain(config):
    """Config values as JSON can hold them (NumPy scalars as Python numbers)."""
    return {k: v.item() if isinstance(v, np.generic) else
            (_plain(v.get_config()) if hasattr(v, "get_config") else v)
            for k, v in config.items()}


def structure(value, convert):
    """Apply `convert` to every leaf of a list or dict (one entry per output), or to one."""
    if value is None:
        return None
    if isinstance(value, dict) and "class_name" not in value:  # by output name
        return {key: structure(item, convert) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [structure(item, convert) for item in value]
    return convert(value)


def _loss_to_config(loss):
    """The string the loss was compiled from ("mse"), or its class and settings."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, losses.LossFunctionWrapper) or not isinstance(loss, losses.Loss):
        return object_registration.function_config(getattr(loss, "fn", loss))  # as Keras
    try:
        named = losses.get(loss.name)
        if type(named) is type(loss) and named.get_config() == loss.get_config():
            return loss.name  # the name says it all (no from_logits, delta or axis of its own)
    except ValueError:
        pass  # a loss object with its own name
    return object_registration.class_config(loss, "keras.losses", losses, loss.get_config())


def _metric_to_config(metric):
    if isinstance(metric, str):
        return metric
    if isinstance(metric, metrics.Metric):
        return object_registration.class_config(metric, "keras.metrics", metrics,
                                                metric.get_config())
    if metric in object_registration.GLOBAL_CUSTOM_NAMES:  # a registered function
        return object_registration.function_config(metric)
    raise ValueError(f"The metric {metric!r} (a function) cannot be saved in a file; compile "
                     "with a metric name or a Metric object to save the model.")


def compile_from_config(model, config, filepath, custom_objects=None):
    """Compile `model` as the file says (optimizer, losses, weights and metrics)."""
    custom = object_registration.all_custom_objects(custom_objects)
    try:
        optimizer = _optimizer_from_config(config.get("optimizer", "rmsprop"), custom)
        loss = structure(config.get("loss"), lambda spec: _loss_from_config(spec, custom))
        compiled_metrics = structure(config.get("metrics"),
                                     lambda spec: _metric_from_config(spec, custom))
        weighted = structure(config.get("weighted_metrics"),
                             lambda spec: _metric_from_config(spec, custom))
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


def _optimizer_from_config(spec, custom=None):
    if isinstance(spec, str):
        return optimizers.get(spec)
    class_name, config = spec["class_name"], dict(spec["config"])
    yours = object_registration.get_registered_object(spec.get("registered_name"), custom)
    if yours is not None:  # an optimizer class of one's own
        return yours.from_config(config)
    if class_name == "LossScaleOptimizer":  # its config holds the inner optimizer's
        return optimizers.deserialize(spec, custom)
    cls = type(optimizers.get(class_name))  # an unknown name lists the valid ones
    _check_defaults(f"optimizer {class_name}", config, _KERAS_OPTIMIZER_DEFAULTS)
    accepted = accepted_arguments(cls) | {"clipnorm", "clipvalue", "global_clipnorm"}
    unknown = {k: v for k, v in config.items() if k not in accepted
               and k not in _KERAS_OPTIMIZER_DEFAULTS}
    refused = sorted(k for k, v in unknown.items() if v not in INERT)
    if refused:
        raise ValueError(f"minidl's {class_name} has no options {refused}.")
    # from_config: a learning-rate schedule comes as a config of its own
    return cls.from_config({key: value for key, value in config.items() if key in accepted})


def _metric_from_config(spec, custom):
    """A metric name stays a name (resolved with the data's shapes, as "accuracy" must be)."""
    if isinstance(spec, str):
        return custom.get(spec, spec)
    yours = _yours(spec, custom)
    if yours is not None:
        return yours
    return metrics.get(spec)


def _yours(spec, custom):
    """The loss or metric of one's own a config names (by its registered name, else by its
    class name), or None: a function as itself, a class made from its config."""
    if spec.get("class_name") == "function":
        return object_registration.get_registered_object(spec.get("config"), custom)
    cls = (object_registration.get_registered_object(spec.get("registered_name"), custom)
           or custom.get(spec.get("class_name")))
    return None if cls is None else _custom(cls, spec.get("config", {}))


def _custom(cls, config):
    """An object of the user's own class (custom_objects), from its config."""
    if hasattr(cls, "from_config"):
        return cls.from_config(config)
    return cls(**config) if isinstance(cls, type) else cls


def _loss_from_config(spec, custom):
    if spec is None:
        return spec
    if isinstance(spec, str):
        return _custom(custom[spec], {}) if spec in custom else spec
    class_name, config = spec["class_name"], spec["config"]
    yours = _yours(spec, custom)  # never code from the file: only what is registered or given
    if yours is not None:
        return yours
    if class_name == "function":
        if spec.get("module") == "builtins" and _is_builtin_loss(config):
            return config  # Keras's own loss function by name (a model loaded from `.h5`)
        found = object_registration.find_function(config, custom)  # Keras <= 3.6's bare name
        if found is not None:
            return found
        raise ValueError(f"Could not locate function '{config}': register it with "
                         "@minidl.saving.register_keras_serializable() or pass it as "
                         f"custom_objects={{'{config}': {config}}}.")
    cls = type(losses.get(class_name))  # an unknown name lists the valid ones
    accepted = accepted_arguments(cls)  # Huber's delta, CosineSimilarity's axis...
    _check_defaults(f"loss {class_name}", {k: v for k, v in config.items() if k not in accepted},
                    _KERAS_LOSS_DEFAULTS)
    return cls.from_config({k: v for k, v in config.items() if k in accepted})


def _is_builtin_loss(name):
    try:
        losses.get(name)
    except (ValueError, TypeError):
        return False
    return True
