"""`layer.build(shape)` called directly, as Keras users do before set_weights, against Keras.

Keras's build wrapper marks a layer built; minidl's first call used to build it again, with
a second, fresh set of weights, silently ignoring the ones just set. Outputs must equal
Keras's to rtol 1e-6 (the same products, summed in another order).
"""
import numpy as np
import pytest

import keras
import minidl


def make(api, kind):
    layers = api.layers
    if kind == "dense":
        return layers.Dense(3), (None, 6), (2, 6)
    if kind == "conv":
        return layers.Conv2D(2, 3), (None, 5, 5, 1), (2, 5, 5, 1)
    return layers.LSTM(4), (None, 3, 2), (2, 3, 2)


@pytest.mark.parametrize("kind", ["dense", "conv", "lstm"])
def test_weights_set_after_a_direct_build_are_the_ones_used(kind):
    rng = np.random.default_rng(0)
    theirs, shape, x_shape = make(keras, kind)
    ours, _, _ = make(minidl, kind)
    x = rng.normal(size=x_shape).astype(np.float32)
    for layer in (theirs, ours):
        layer.build(shape)
        assert layer.built
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in theirs.get_weights()]
    for layer in (theirs, ours):
        layer.set_weights(weights)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6, atol=1e-6)
    assert len(ours.weights) == len(weights)  # no second set made by the call


def test_a_custom_layer_built_directly():
    class Scale(minidl.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    layer = Scale()
    layer.build((None, 3))
    layer.set_weights([np.float32([1, 2, 3])])
    np.testing.assert_array_equal(layer(np.ones((1, 3), np.float32)), [[1, 2, 3]])
    assert len(layer.weights) == 1
