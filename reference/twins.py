"""Twin models: the same architecture, names, compile settings and weights in both frameworks."""
import types

import numpy as np

import minidl.metrics
from minidl.saving.config import model_from_config, model_to_config

import keras


def keras_optimizer(optimizer):
    """The Keras optimizer with the same class and settings as a minidl one (its config,
    learning-rate schedule included, is Keras's), without its state."""
    name, config = type(optimizer).__name__, optimizer.get_config()
    twin = keras.optimizers.deserialize({"class_name": name, "config": config})
    if not isinstance(twin, keras.optimizers.Optimizer):  # one Keras's deserialize does not
        twin = getattr(keras.optimizers, name).from_config(config)  # list (Lamb): its class
    return twin


def keras_loss(loss, functions=None):
    """The Keras loss of the same class and settings (from_logits, name) as a minidl one; a
    loss of one's own (a function, or a Loss defining only `call`) is looked up in
    `functions` ({minidl function or Loss object: its Keras twin})."""
    if isinstance(loss, str):
        return loss
    own = getattr(loss, "fn", loss)
    if functions and own in functions:
        return functions[own]
    return keras.losses.get({"class_name": type(loss).__name__, "config": loss.get_config()})


def keras_twin(model, compile=True, functions=None):
    """A built Keras model with the same layers, names and weights as a built minidl model.

    The architecture goes across as the config a `.keras` file holds (minidl/saving/
    config.py writes it as Keras does), so every layer and graph minidl can save has a twin.
    If the minidl model is compiled, the twin is compiled with a fresh optimizer of the same
    kind and settings, the same losses, and the same metric identifiers.
    `functions` maps each function of one's own (a Lambda's, a loss) to the same function
    written with Keras's ops: {minidl function or Loss object: Keras function or Loss}.
    """
    if not model.built:
        raise ValueError("Build the minidl model first (give it an input shape or call it once).")
    config = model_to_config(model, with_compile=False, nearest_builtin=True)
    twin = keras.saving.deserialize_keras_object(
        config, custom_objects=_twin_functions(model, config, functions or {}))
    twin.set_weights(model.get_weights())
    for layer in twin.layers:  # Keras's Normalization reads its mean and variance from the
        if isinstance(layer, keras.layers.Normalization) and layer.built:  # adapt weights
            layer.finalize_state()  # only here (as when a .keras file is loaded)
    _copy_vocabularies(model, twin)
    if compile and model.compiled:
        compiled = model.compiled_metrics
        twin.compile(optimizer=keras_optimizer(model.optimizer),
                     loss=_each(model.loss, lambda loss: keras_loss(loss, functions)),
                     loss_weights=model.compiled_loss.loss_weights,
                     metrics=_each(compiled.identifiers,
                                   lambda metric: _keras_metric(metric, functions)),
                     weighted_metrics=_each(compiled.weighted_identifiers,
                                            lambda metric: _keras_metric(metric, functions)))
    return twin


def _copy_vocabularies(model, twin):
    """A vocabulary from adapt is not in a layer's config (Keras keeps it in a file's assets):
    give the twin's lookup and text layers the same one, idf weights included."""
    for layer in model.layers:
        if hasattr(layer, "get_vocabulary") and layer.vocabulary_size() > 0:
            idf = getattr(layer, "idf_weights", None)
            twin.get_layer(layer.name).set_vocabulary(layer.get_vocabulary(), idf_weights=idf)


def _twin_functions(model, config, functions):
    """Point each Lambda's function in `config` at its Keras twin in `functions` (by a name
    given in the returned custom_objects)."""
    layers, stack = {}, list(model.layers)
    while stack:
        layer = stack.pop()
        layers[layer.name] = layer
        stack += layer.layers
    custom = {}

    def visit(node):
        if isinstance(node, list):
            for item in node:
                visit(item)
        if not isinstance(node, dict):
            return
        if node.get("class_name") == "Lambda":
            layer, inner = layers[node["config"]["name"]], node["config"]
            for key, fn in (("function", layer.function), ("output_shape", layer._output_shape),
                            ("mask", layer.mask)):
                if callable(fn) and fn in functions:
                    name = f"twin_{len(custom)}"
                    custom[name] = functions[fn]
                    inner[key] = {"module": "builtins", "class_name": "function",
                                  "config": name, "registered_name": "function"}
        for value in node.values():
            visit(value)

    visit(config)
    return custom


def _each(value, convert):
    """convert() on one value, or on each entry of a list or dict of them."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {key: _each(item, convert) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_each(item, convert) for item in value]
    return convert(value)


def _keras_metric(metric, functions=None):
    """A metric name as it is; a minidl metric object as the Keras one of the same config;
    a metric function of one's own as its twin in `functions`."""
    if isinstance(metric, str) or metric is None:
        return metric
    if functions and metric in functions:
        return functions[metric]
    if isinstance(metric, types.FunctionType) and metric is getattr(minidl.metrics,
                                                                    metric.__name__, None):
        return getattr(keras.metrics, metric.__name__)  # minidl.metrics.pearson_correlation...
    return keras.metrics.get({"class_name": type(metric).__name__,
                              "config": metric.get_config()})


def minidl_twin(keras_model):
    """A built minidl model with the same layers, names and weights as a Keras model."""
    config = keras.saving.serialize_keras_object(keras_model)
    config.pop("compile_config", None)
    model = model_from_config(config)
    model.set_weights(keras_model.get_weights())
    return model


def copy_weights(source, target):
    """Copy every weight from one model to the other (either framework, same layout)."""
    target.set_weights([np.asarray(w) for w in source.get_weights()])
