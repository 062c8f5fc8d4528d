"""Twin models: the same architecture, names, compile settings and weights in both frameworks."""
import numpy as np

import minidl
from minidl import activations as md_activations
from minidl import layers as md_layers
from minidl import losses as md_losses
from minidl import optimizers as md_optimizers

import keras


def keras_optimizer(optimizer):
    """The Keras optimizer with the same class and hyper-parameters as a minidl one."""
    config = optimizer.get_config()
    config.pop("name", None)
    kinds = {md_optimizers.SGD: keras.optimizers.SGD, md_optimizers.RMSprop: keras.optimizers.RMSprop,
             md_optimizers.Adam: keras.optimizers.Adam}
    clip = {k: getattr(optimizer, k) for k in ("clipnorm", "clipvalue", "global_clipnorm")
            if getattr(optimizer, k) is not None}
    return kinds[type(optimizer)](**config, **clip)


def keras_loss(loss):
    """The Keras loss object matching a minidl loss (same class, from_logits and name)."""
    kinds = {
        md_losses.BinaryCrossentropy: keras.losses.BinaryCrossentropy,
        md_losses.CategoricalCrossentropy: keras.losses.CategoricalCrossentropy,
        md_losses.SparseCategoricalCrossentropy: keras.losses.SparseCategoricalCrossentropy,
        md_losses.MeanSquaredError: keras.losses.MeanSquaredError,
        md_losses.MeanAbsoluteError: keras.losses.MeanAbsoluteError,
    }
    cls = kinds[type(loss)]
    if cls in (keras.losses.MeanSquaredError, keras.losses.MeanAbsoluteError):
        return cls(name=loss.name)
    return cls(from_logits=loss.from_logits, name=loss.name)


# Layers whose Keras twin is built from their config (same keys and values in both).
CONFIG_TWINS = ("Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
                "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
                "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Flatten", "Reshape", "ZeroPadding2D")


def _keras_layer(layer):
    if type(layer).__name__ in CONFIG_TWINS:
        return getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
    if isinstance(layer, md_layers.Dense):
        return keras.layers.Dense(layer.units, activation=md_activations.serialize(layer.activation),
                                  use_bias=layer.use_bias, name=layer.name)
    if isinstance(layer, md_layers.Activation):
        return keras.layers.Activation(md_activations.serialize(layer.activation), name=layer.name)
    raise TypeError(f"No Keras twin for layer type {type(layer).__name__}")


def keras_twin(model, compile=True):
    """A built Keras model with the same layers, names and weights as a built minidl model.

    If the minidl model is compiled, the twin is compiled with a fresh optimizer of the same
    kind and settings, the same loss, and the same metric identifiers.
    """
    if not model.built:
        raise ValueError("Build the minidl model first (give it an input shape or call it once).")
    inputs = keras.Input(shape=model.input_shape[1:], name=model.inputs[0].name)
    layers = [layer for layer in model.layers if not isinstance(layer, md_layers.InputLayer)]
    if isinstance(model, minidl.Sequential):
        twin = keras.Sequential([inputs] + [_keras_layer(layer) for layer in layers],
                                name=model.name)
    else:
        x = inputs
        for layer in layers:
            x = _keras_layer(layer)(x)
        twin = keras.Model(inputs, x, name=model.name)
    twin.set_weights(model.get_weights())
    if compile and model.compiled:
        metrics = model.compiled_metrics.identifiers
        twin.compile(optimizer=keras_optimizer(model.optimizer),
                     loss=keras_loss(model.loss),
                     metrics=None if metrics is None else list(metrics))
    return twin


def minidl_twin(keras_model):
    """A built minidl model with the same Dense/Activation layers, names and weights."""
    layers = []
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Dense):
            layers.append(minidl.layers.Dense(layer.units, activation=layer.activation.__name__,
                                              use_bias=layer.use_bias, name=layer.name))
        elif isinstance(layer, keras.layers.Activation):
            layers.append(minidl.layers.Activation(layer.activation.__name__, name=layer.name))
        elif type(layer).__name__ in CONFIG_TWINS:
            config = layer.get_config()
            for key in ("dtype", "kernel_initializer", "bias_initializer"):  # weights are copied
                config.pop(key, None)
            layers.append(getattr(minidl.layers, type(layer).__name__)(**config))
        else:
            raise TypeError(f"minidl has no layer of type {type(layer).__name__}")
    inputs = minidl.Input(keras_model.input_shape[1:])
    if isinstance(keras_model, keras.Sequential):
        model = minidl.Sequential([inputs] + layers, name=keras_model.name)
    else:
        x = inputs
        for layer in layers:
            x = layer(x)
        model = minidl.Model(inputs, x, name=keras_model.name)
    model.set_weights(keras_model.get_weights())
    return model


def copy_weights(source, target):
    """Copy every weight from one model to the other (either framework, same layout)."""
    target.set_weights([np.asarray(w) for w in source.get_weights()])
