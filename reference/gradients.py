"""The loss and gradients Keras's fit would use on one batch, aligned with minidl's.

`keras_loss_and_gradients(model, x, y)` mirrors `minidl_model.loss_and_gradients(x, y)`:
the compiled loss in training mode, and one gradient per trainable weight in
`get_weights()` order.
"""
import numpy as np
import tensorflow as tf

import keras


def keras_cast(x, y, loss=None):
    """Cast data the way Keras's fit does: floats to float32, integer labels kept.

    x and y may be one array, or a list or dict of them (several inputs or outputs).
    """
    def inputs(a):
        a = np.asarray(a)
        return a.astype(keras.backend.floatx()) if a.dtype.kind in "fiub" else a

    def labels(a):
        a = np.asarray(a)
        return a.astype(keras.backend.floatx()) if a.dtype.kind == "f" else a

    return _each(x, inputs), _each(y, labels)


def _each(data, cast):
    if isinstance(data, dict):
        return {key: cast(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [cast(value) for value in data]
    return cast(data)


def keras_loss_and_gradients(model, x, y):
    """(loss, [grad per trainable weight]) for one batch, exactly as `fit` computes them."""
    x, y = keras_cast(x, y, model.loss)
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
    grads = tape.gradient(loss, model.trainable_weights)
    # An Embedding's gradient is a tf.IndexedSlices (a row per occurrence of a token); as an
    # array, its rows summed per token, as minidl's loss_and_gradients gives it.
    return float(loss), [np.asarray(tf.convert_to_tensor(g)) for g in grads]


def keras_forward(model, x):
    """Every layer's output for x (inference mode), in layer order."""
    outputs = []
    h = np.asarray(x, keras.backend.floatx())
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        h = np.asarray(layer(h))
        outputs.append(h)
    return outputs
