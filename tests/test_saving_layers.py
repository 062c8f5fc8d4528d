"""Every layer minidl has goes through `.keras` and `.weights.h5` files both ways with Keras.

One functional model holds them all; Keras writes it and minidl reads it, minidl writes it
and Keras reads it, and both give the same predictions (inference mode) from the same weights.
"""
import numpy as np
import pytest

import keras
import minidl
from minidl.models import load_model


def every_layer(framework, seed=0):
    """Images and a vector through every family of layers, merged, to two outputs."""
    L = framework.layers
    image, vector = framework.Input((8, 8, 3), name="image"), framework.Input((5,), name="vector")
    h = L.RandomFlip(seed=1)(L.RandomRotation(0.1, fill_mode="wrap")(image))
    h = L.RandomZoom(0.2, interpolation="nearest")(L.RandomTranslation(0.1, (-0.2, 0.1))(h))
    h = L.RandomBrightness(0.1, (0, 1))(L.RandomContrast((0.1, 0.2), (0, 1))(h))
    h = L.Resizing(8, 8, crop_to_aspect_ratio=True)(L.CenterCrop(7, 6)(h))
    h = L.Rescaling(1 / 2.0, offset=0.1)(h)
    h = L.ZeroPadding2D(1)(h)
    h = L.UpSampling2D((1, 2))(L.Cropping2D(((1, 0), (0, 2)))(h))
    h = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(h)
    h = L.BatchNormalization()(h)
    h = L.MaxPooling2D(2)(h)
    h = L.AveragePooling2D(1)(h)
    h = L.Conv2D(3, 1, activation="tanh", kernel_regularizer="l2")(h)
    h = L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1)(h)
    h = L.SeparableConv2D(3, 2, depth_multiplier=2, activation="relu")(h)
    h = L.DepthwiseConv2D(2, strides=2, dilation_rate=1, depth_multiplier=2)(h)
    g = L.GlobalAveragePooling2D()(h)
    f = L.Flatten()(L.GlobalMaxPooling2D(keepdims=True)(h))
    v = L.Dense(6, activation="elu", kernel_initializer="he_normal")(vector)
    v = L.LayerNormalization()(L.Dropout(0.3)(v))
    v = L.LeakyReLU(0.1)(L.PReLU()(L.Dense(3)(v)))
    s = L.Cropping1D((0, 1))(L.ZeroPadding1D((1, 0))(L.RepeatVector(4)(vector)))
    s = L.GlobalAveragePooling1D()(L.Permute((2, 1))(L.UpSampling1D(2)(s)))
    s = L.Conv1DTranspose(3, 2, strides=2)(L.Reshape((8, 1))(s))
    s = L.DepthwiseConv1D(2, dilation_rate=2)(L.SeparableConv1D(2, 3, padding="same")(s))
    s = L.GlobalMaxPooling1D()(s)
    s = L.ActivityRegularization(l2=0.01)(L.Identity()(s))
    merged = L.Concatenate()([g, f, L.Reshape((3,))(v), s])
    merged = L.Add()([L.Dense(4)(merged), L.Dense(4, activation="gelu")(merged)])
    merged = L.Multiply()([merged, L.Activation("sigmoid")(merged)])
    merged = L.Average()([merged, L.Maximum()([merged, L.Subtract()([merged, merged])])])
    cls = L.Softmax()(L.Dense(3)(merged))
    reg = L.Dense(1, activation="linear")(L.ReLU(max_value=6.0)(merged))
    return framework.Model([image, vector], [cls, reg], name="every_layer")


def data(n=6):
    rng = np.random.default_rng(1)
    return [rng.random((n, 8, 8, 3)).astype(np.float32), rng.normal(size=(n, 5)).astype(np.float32)]


def randomized(model):
    """Weights drawn away from the initial ones (moving averages too), the same in both."""
    rng = np.random.default_rng(2)

    def draw(shape):  # kernels of both signs; vectors positive (a variance must be)
        size = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
        return size * np.sign(rng.normal(size=shape)).astype(np.float32) if len(shape) > 1 \
            else size

    weights = [draw(w.shape) for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def close(a, b):
    for ours, theirs in zip(a, b):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


def test_keras_writes_minidl_reads(tmp_path):
    original = every_layer(keras)
    randomized(original)
    original.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"])
    original.save(tmp_path / "keras.keras")
    model = load_model(tmp_path / "keras.keras")
    assert [type(l).__name__ for l in model.layers] == [type(l).__name__ for l in original.layers]
    close(model.predict(data(), verbose=0), original.predict(data(), verbose=0))
    other = every_layer(minidl)
    other.load_weights(tmp_path / "keras.keras")
    close(other.predict(data(), verbose=0), original.predict(data(), verbose=0))


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_minidl_writes_keras_reads(tmp_path, suffix):
    model = every_layer(minidl)
    randomized(model)
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"])
    model.fit(data(), [np.array([0, 1, 2, 0, 1, 2]), np.zeros((6, 1))], epochs=1, verbose=0)
    path = tmp_path / f"minidl{suffix}"
    model.save(path) if suffix == ".keras" else model.save_weights(path)
    if suffix == ".keras":
        loaded = keras.models.load_model(path)
    else:
        loaded = every_layer(keras)
        loaded.load_weights(path)
    close(loaded.predict(data(), verbose=0), model.predict(data(), verbose=0))
