"""Wrapper and SpectralNormalization against live Keras: a training call's outputs, gradients
and both updated variables (kernel / sigma, vector_u) on hypothesis-drawn layers, shapes and
power iterations, then an inference call; Keras's gradient checked by central differences
(at the normalized kernel, not through sigma: the negative control); power iteration
reaching the largest singular value; a fit of twin models, summary(), configs, .keras files
both ways (Keras's weight paths), and Keras's errors.

Tolerance: rtol 1e-5, atol 1e-5 * (the largest |value| of Keras's array). Both compute the
power iteration, sigma and the layer in float32 with sums in other orders (TensorFlow's
matmul and rsqrt against NumPy's): a few ulps of the array's scale. float64 runs of the
central-difference checks pass at 1e-5 relative error.
"""
import copy
import warnings

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.models import load_model
from minidl.saving.layer_config import layer_from_config, layer_to_config
from minidl.tape import Tape
from minidl.testing import numerical_gradient, relative_error
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, assert_same_summary

RTOL, ATOL = 1e-5, 1e-5


def assert_close(ours, theirs, err_msg=""):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL * max(1.0, np.abs(b).max()),
                                   err_msg=err_msg)


def dense(g):
    """A gradient as an array (an Embedding's comes as rows: SparseRows, IndexedSlices)."""
    if hasattr(g, "dense"):
        return g.dense()
    return tf.convert_to_tensor(g).numpy() if isinstance(g, tf.IndexedSlices) else np.asarray(g)


def training_call(framework, layer, x, dy, ids):
    """y of a training call, and the gradients of sum(dy * y) (dx unless x is token ids)."""
    if framework is minidl:
        with Tape() as tape:
            y = layer(x, training=True)
        grads = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[] if ids else [x])
        return [y] + [dense(g) for g in grads]
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(y * dy)
    grads = tape.gradient(total, layer.trainable_weights + ([] if ids else [x]))
    return [y.numpy()] + [dense(g) for g in grads]


WRAPPED = {  # a name: (the layer in either framework, input shape, token ids?)
    "dense": (lambda f: f.layers.Dense(3, activation="tanh"), (4, 5), False),
    "dense_3d": (lambda f: f.layers.Dense(2), (2, 3, 4), False),
    "conv2d": (lambda f: f.layers.Conv2D(3, 2, activation="relu"), (2, 5, 5, 2), False),
    "conv1d": (lambda f: f.layers.Conv1D(2, 3, use_bias=False), (2, 6, 3), False),
    "embedding": (lambda f: f.layers.Embedding(7, 3), (3, 4), True),
}


@settings(max_examples=10)
@given(name=st.sampled_from(sorted(WRAPPED)), power_iterations=st.sampled_from([1, 2, 5]),
       seed=st.integers(0, 2**16))
def test_spectral_normalization_matches_keras(name, power_iterations, seed):
    make, shape, ids = WRAPPED[name]
    rng = np.random.default_rng(seed)
    # token ids as floats: Keras casts the wrapper's output to the input's dtype, which for
    # integer ids would make its embeddings integers (minidl keeps them float)
    x = (rng.integers(0, 7, shape) if ids else rng.normal(size=shape)).astype(np.float32)
    ours = layers.SpectralNormalization(make(minidl), power_iterations=power_iterations)
    theirs = keras.layers.SpectralNormalization(make(keras), power_iterations=power_iterations)
    ours(x), theirs(x)
    assert [w.path.split("/")[-1] for w in ours.weights] == \
        [w.path.split("/")[-1] for w in theirs.weights]  # kernel, vector_u, then bias
    assert [w.trainable for w in ours.weights] == [w.trainable for w in theirs.weights]
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights), theirs.set_weights(weights)
    dy = rng.normal(size=ours(x).shape).astype(np.float32)
    assert_close(training_call(minidl, ours, x, dy, ids), training_call(keras, theirs, x, dy, ids),
                 "training call: y, weight gradients, dx")
    assert_close(ours.get_weights(), [w.numpy() for w in theirs.weights],
                 "kernel / sigma and vector_u")
    after = ours.get_weights()
    assert_close([ours(x)], [theirs(x).numpy()], "inference call")
    for a, b in zip(ours.get_weights(), after):  # inference leaves both variables alone
        np.testing.assert_array_equal(a, b)


def test_power_iteration_reaches_the_largest_singular_value():
    """With enough iterations, u is the top right singular vector of W2 = W.reshape(-1, K)
    (up to sign) and the normalized kernel's largest singular value is 1, in both."""
    rng = np.random.default_rng(5)
    left, _ = np.linalg.qr(rng.normal(size=(12, 4)))  # W2 = left @ diag(s) @ right.T,
    right, _ = np.linalg.qr(rng.normal(size=(4, 4)))  # singular values 3, 1, 0.5, 0.2: the
    kernel = (left * [3.0, 1.0, 0.5, 0.2] @ right.T).reshape(2, 2, 3, 4).astype(np.float32)
    # error after n iterations shrinks as (1/3)**(2n)
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    for f in (minidl, keras):
        layer = f.layers.SpectralNormalization(f.layers.Conv2D(4, 2, use_bias=False),
                                               power_iterations=30)
        layer(x)
        layer.set_weights([kernel, rng.normal(size=(1, 4)).astype(np.float32)])
        layer(x, training=True)
        W2 = kernel.reshape(-1, 4).astype(np.float64)
        _, s, vt = np.linalg.svd(W2)
        normalized, u = (np.asarray(w.numpy(), np.float64) for w in layer.weights)
        assert abs(np.linalg.norm(normalized.reshape(-1, 4), 2) - 1) < 1e-5
        np.testing.assert_allclose(normalized, kernel / s[0], rtol=1e-4, atol=1e-6)
        assert abs(abs(u.ravel() @ vt[0]) - 1) < 1e-5


def test_a_kernel_of_zeros_is_left_as_it_is():
    x = np.ones((2, 3), np.float32)
    for f in (minidl, keras):
        layer = f.layers.SpectralNormalization(f.layers.Dense(2, kernel_initializer="zeros"))
        layer(x)
        u = layer.vector_u.numpy().copy()
        layer(x, training=True)
        assert not layer.layer.kernel.numpy().any()
        np.testing.assert_array_equal(layer.vector_u.numpy(), u)


# -- central differences: Keras's gradient is at W / sigma, with sigma held fixed -------------
def test_kernel_gradient_is_at_the_normalized_kernel_not_through_sigma(float64):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 5))
    layer = layers.SpectralNormalization(layers.Dense(3, activation="tanh",
                                                      bias_initializer="random_normal"))
    layer(x)
    kernel, u, bias = layer.layer.kernel, layer.vector_u, layer.layer.bias
    before, u_before = kernel.value.copy(), u.value.copy()
    w = rng.normal(size=(4, 3))
    with Tape() as tape:
        y = layer(x, training=True)  # kernel := kernel / sigma, then the Dense
    g_kernel, g_bias, dx = tape.gradient([(y, w)], layer.trainable_weights, inputs=[x])

    def at_normalized():  # the Dense alone, at whatever the kernel now holds
        return (w * layer.layer(x)).sum()

    h = 1e-6
    for name, analytic, array in (("kernel", g_kernel, kernel.value),
                                  ("bias", g_bias, bias.value), ("x", dx, x)):
        numeric = numerical_gradient(at_normalized, array, h)
        assert relative_error(analytic, numeric) < 1e-5, name

    normalized, textbook_at = kernel.value.copy(), before.copy()

    def through_sigma():  # the textbook derivative: W / sigma(W) differentiated in W
        kernel.value[...] = textbook_at
        u.value[...] = u_before
        kernel.value[...] = layer.normalized_weights()[1]
        loss = (w * layer.layer(x)).sum()
        kernel.value[...] = normalized
        return loss

    textbook = numerical_gradient(through_sigma, textbook_at, h)
    assert relative_error(g_kernel, textbook) > 1e-2  # the check above would fail on it


# -- in a model: gradients, fit, summary, files -----------------------------------------------
def small_model():
    """A small GAN-discriminator-like convnet, each hidden layer spectrally normalized."""
    model = minidl.Sequential([
        minidl.Input((6, 6, 2)),
        layers.SpectralNormalization(layers.Conv2D(4, 3, activation="relu"), name="sn_conv"),
        layers.Flatten(),
        layers.SpectralNormalization(layers.Dense(8, activation="tanh"), power_iterations=2,
                                     name="sn_dense"),
        layers.Dense(3, activation="softmax")], name="discriminator")
    model.compile(optimizer=minidl.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=24, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 2)).astype(np.float32), rng.integers(0, 3, n)


def test_twin_models_have_the_same_gradients_and_fit():
    """Every training step normalizes the kernels before the step, in both: History to 1e-5
    and the weights (vector_u included) after three epochs to float32 rounding."""
    model = small_model()
    twin = keras_twin(model)
    x, y = data()
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, validation_split=0.25)
    assert_close(model.get_weights(), twin.get_weights(), "weights after fit")


def test_summary_matches_keras(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    model = small_model()
    twin = keras_twin(model)
    assert_same_summary(model, twin, capsys)


def test_keras_files_both_ways(tmp_path):
    model = small_model()
    x, _ = data(6)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    for a, b in zip(model.get_weights(), theirs.get_weights()):  # vector_u too, by its path
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=RTOL, atol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras")
    for name in ("sn_conv", "sn_dense"):
        assert layer_to_config(back.get_layer(name), "float32") == \
            layer_to_config(model.get_layer(name), "float32")
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def without_names(config):
    """A config without layer names (auto-named differently in each framework)."""
    if isinstance(config, dict):
        return {k: without_names(v) for k, v in config.items() if k not in ("name",)}
    return config


def test_configs_build_each_other():
    for ours in (layers.SpectralNormalization(layers.Dense(4, activation="relu"),
                                              power_iterations=3, name="s"),
                 layers.Wrapper(layers.Dense(2, use_bias=False), name="w")):
        written = layer_to_config(ours, "float32")
        theirs = keras.layers.deserialize(copy.deepcopy(written))  # Keras pops "layer"
        assert without_names(written["config"]) == without_names(theirs.get_config())
        back = layer_from_config(keras.layers.serialize(theirs))
        assert layer_to_config(back, "float32") == written
        assert type(back.layer) is type(ours.layer)


def test_which_layers_are_wrappers_as_in_keras():
    def kinds(f):
        return [isinstance(layer, f.layers.Wrapper) for layer in (
            f.layers.TimeDistributed(f.layers.Dense(2)), f.layers.Bidirectional(f.layers.LSTM(2)),
            f.layers.SpectralNormalization(f.layers.Dense(2)), f.layers.Dense(2))]

    assert kinds(minidl) == kinds(keras) == [True, False, True, False]
    wrapper = layers.Wrapper(layers.Dense(2))
    wrapper.build((None, 3))
    assert wrapper.layer.built and wrapper.layer.kernel.shape == (3, 2)


# -- Keras's errors ---------------------------------------------------------------------------
def keras_error(make):
    with pytest.raises(Exception) as raised:
        make(keras)
    return str(raised.value)


@pytest.mark.parametrize("make", [
    lambda f: f.layers.SpectralNormalization(f.layers.Dense(2), power_iterations=0),
    lambda f: f.layers.SpectralNormalization("dense"),
    lambda f: f.layers.Wrapper("dense"),
    lambda f: f.layers.SpectralNormalization(f.layers.Flatten())(np.ones((2, 3), np.float32)),
])
def test_errors_are_keras_errors_word_for_word(make):
    with pytest.raises(ValueError) as raised:
        make(minidl)
    assert str(raised.value) == keras_error(make)


def test_a_built_layer_refuses_another_input_size():
    def make(f):
        layer = f.layers.SpectralNormalization(f.layers.Dense(2), name="s")
        layer(np.ones((2, 3), np.float32))
        return layer(np.ones((2, 4), np.float32))

    with pytest.raises(ValueError) as raised:
        make(minidl)
    tail = "is incompatible with the layer: expected axis -1 of input shape to have value 3, " \
        "but received input with shape (2, 4)"  # Keras's words, after minidl's usual
    assert str(raised.value).endswith(tail) and keras_error(make).endswith(tail)  # opening
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NotImplementedError, match="defines neither `call`"):
            layers.Wrapper(layers.Dense(2))(np.ones((2, 3), np.float32))  # abstract
