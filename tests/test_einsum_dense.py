"""EinsumDense against live Keras: outputs and gradients on hypothesis-drawn equations, shapes
and activations, central differences with a negative control, a fit of twin models, configs,
.keras files both ways, summary() and Keras's errors word for word.

Tolerance: rtol 1e-5, atol 1e-5 * (the largest |value| of Keras's array) on outputs and
gradients. Both sides compute the same sums of products in float32 (TensorFlow's einsum
through its own transposes and matmuls, NumPy's einsum in its order), which differ by a few
ulps per term: at most ~1e-6 of the array's scale over the <= 30 terms summed here.
"""
import json

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
from minidl.testing import check_gradients
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, assert_same_summary

RTOL, ATOL = 1e-5, 1e-5


def forward_backward(framework, layer, x, dy):
    """y, dx and the weights' gradients of sum(dy * y)."""
    if framework is minidl:
        with Tape() as tape:
            y = layer(x)
        *grads, dx = tape.gradient([(y, dy)], layer.trainable_weights, inputs=[x])
        return [y, dx] + grads
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        total = tf.reduce_sum(y * dy)
    *grads, dx = tape.gradient(total, layer.trainable_weights + [x])
    return [y.numpy(), dx.numpy()] + [g.numpy() for g in grads]


def assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL * max(1.0, np.abs(b).max()))


# (equation, output_shape, bias_axes, input shape): Dense's, a sequence's, the attention
# projections' (D -> H,K and H,V -> O), "..." on the left (any number of leading axes) and
# on the right, an input letter summed on its own (c in "abc,cd->ad": dx broadcast along
# b), an elementwise kernel, and a bias on a middle axis only
CASES = [("ab,bc->ac", 5, "c", (3, 4)), ("abc,cd->abd", (None, 4), "d", (2, 3, 5)),
         ("abc,cde->abde", (None, 2, 3), "de", (2, 4, 5)),
         ("abcd,cde->abe", (None, 6), "e", (2, 3, 2, 4)),
         ("...b,bc->...c", 3, "c", (2, 3, 4, 5)), ("...b,bc->...c", 3, None, (4, 5)),
         ("ab...,bc->ac...", 4, "c", (2, 3, 5, 2)), ("abc,cd->ad", 4, "d", (3, 2, 5)),
         ("ab,b->ab", 4, "b", (3, 4)), ("abc,cde->abde", (None, 2, 3), "d", (2, 3, 4))]


@settings(max_examples=10)
@given(case=st.sampled_from(CASES), seed=st.integers(0, 2**16),
       activation=st.sampled_from([None, "relu", "tanh", "softmax"]))
def test_einsum_dense_matches_keras(case, seed, activation):
    equation, output_shape, bias_axes, shape = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    kwargs = dict(equation=equation, output_shape=output_shape, bias_axes=bias_axes,
                  activation=activation)
    ours, theirs = layers.EinsumDense(**kwargs), keras.layers.EinsumDense(**kwargs)
    ours(x), theirs(x)
    assert [(w.name, w.shape) for w in ours.weights] == \
        [(w.name, tuple(w.shape)) for w in theirs.weights]
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights), theirs.set_weights(weights)
    symbolic = (None,) + shape[1:]
    assert ours.compute_output_shape(symbolic) == theirs.compute_output_shape(symbolic)
    dy = rng.normal(size=ours(x).shape).astype(np.float32)
    assert_close(forward_backward(minidl, ours, x, dy), forward_backward(keras, theirs, x, dy))


def test_the_default_kernel_has_kerass_scale():
    """glorot_uniform takes its fans from the kernel axes the input and output share with it
    (Keras's input_axes/output_axes): for (D,H,K) = (48,4,5), limit sqrt(6 / (48 + 20)),
    not the convolution rule's sqrt(6 / (4*48 + 5*48)), 2.5 times smaller. Of 960 draws the
    largest comes within 5% of the limit (all below: a chance of 0.95**960 ~ 1e-21), and
    their std within 10% of limit / sqrt(3) (its standard error is ~1.4%: 7 of them)."""
    x = np.zeros((2, 3, 48), np.float32)
    ours, theirs = (f.layers.EinsumDense("abc,cde->abde", (None, 4, 5)) for f in (minidl, keras))
    ours(x), theirs(x)
    limit = np.sqrt(6 / (48 + 20))
    for kernel in (ours.kernel.numpy(), theirs.kernel.numpy()):
        assert np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.95 * limit  # all 960 below: a chance of 0.95**960
        assert abs(kernel.std() - limit / np.sqrt(3)) < 0.1 * limit / np.sqrt(3)


# -- gradient check, with a negative control --------------------------------------------------
class EinsumDenseWithoutBroadcast(layers.EinsumDense):
    """A wrong backward: dx of "abc,cd->ad" left at b's first position (zeros elsewhere),
    as if x's letters summed on their own had no gradient."""

    def backward(self, da, cache, need_dx=True):
        dx, grads = super().backward(da, cache, need_dx)
        dx[:, 1:] = 0.0
        return dx, grads


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", [
    ("abc,cde->abde", (None, 2, 3), "de", (2, 3, 4)), ("abc,cd->ad", 3, "d", (2, 3, 4)),
    ("...b,bc->...c", 2, "c", (2, 2, 3, 4))])
def test_gradient_check(float64, equation, output_shape, bias_axes, shape):
    x = np.random.default_rng(1).normal(size=shape)
    layer = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                               activation="tanh", bias_initializer="random_normal")
    result = check_gradients(layer, x)
    assert result.passed, str(result)
    assert len(result.rows) == 3, str(result)  # kernel, bias and x


def test_gradient_check_catches_a_dx_not_broadcast(float64):
    x = np.random.default_rng(2).normal(size=(2, 3, 4))
    wrong = check_gradients(EinsumDenseWithoutBroadcast("abc,cd->ad", 3, bias_axes="d"), x)
    assert wrong.failed == ["x (input)"], str(wrong)


# -- in a model: gradients, fit, summary, files -----------------------------------------------
def small_model():
    """A sequence through EinsumDense projections (as attention's), then a softmax head
    that is an EinsumDense too (its cross-entropy starts from the logits, as Keras's)."""
    model = minidl.Sequential([
        minidl.Input((4, 6)),
        layers.EinsumDense("abc,cde->abde", (4, 2, 3), bias_axes="de", activation="relu",
                           kernel_regularizer="l2", name="heads"),
        layers.EinsumDense("abcd,cde->abe", (4, 5), bias_axes="e", activation="tanh",
                           name="merge"),
        layers.EinsumDense("...b,bc->...c", 3, bias_axes="c", name="per_step"),
        layers.Flatten(),
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="c", activation="softmax", name="out")],
        name="einsum")
    model.compile(optimizer=minidl.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n=24, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4, 6)).astype(np.float32), rng.integers(0, 3, n)


def test_twin_models_have_the_same_gradients_and_fit():
    model = small_model()
    twin = keras_twin(model)
    x, y = data()
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, validation_split=0.25)


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
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=RTOL, atol=1e-6)
    assert theirs.get_layer("heads").get_config()["kernel_regularizer"]["class_name"] == "L2"
    theirs.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras")
    for name in ("heads", "merge", "per_step", "out"):
        assert layer_to_config(back.get_layer(name), "float32") == \
            layer_to_config(model.get_layer(name), "float32")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_configs_build_each_other():
    ours = layers.EinsumDense("abc,cd->abd", (None, 4), activation="relu", bias_axes="d",
                              kernel_initializer="he_normal",
                              bias_regularizer=minidl.regularizers.L1(0.5),
                              kernel_constraint="non_neg", name="e")
    written = layer_to_config(ours, "float32")  # as a .keras file holds it
    theirs = keras.layers.deserialize(written)
    assert written["config"] == json.loads(json.dumps(theirs.get_config()))  # as in a file
    back = layer_from_config(keras.layers.serialize(theirs))
    assert layer_to_config(back, "float32") == written
    assert written["config"]["output_shape"] == [None, 4]  # Keras's JSON: a list


# -- Keras's errors ---------------------------------------------------------------------------
def keras_error(make):
    with pytest.raises(Exception) as raised:
        make(keras)
    return str(raised.value)


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", [
    ("abc", 4, None, (2, 3)),  # not an einsum of two operands
    ("ab,bc->ac", 4, "d", (2, 3)),  # a bias letter not in the output
    ("abc,cd->abd", (5, 4), None, (2, 3, 2)),  # b: 3 in the input, 5 in output_shape
    ("ab,bc->acd", (4, 2), None, (2, 3)),  # d: in the output only
    ("ab,bce->ac", 4, None, (2, 3)),  # e: in the kernel only
    ("ab,b->ab", (None,), None, (2, 3)),  # a kernel letter no shape sizes
])
def test_errors_are_keras_errors_word_for_word(equation, output_shape, bias_axes, shape):
    def make(f):
        return f.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, name="e")(
            np.zeros(shape, np.float32))

    with pytest.raises(ValueError) as raised:
        make(minidl)
    assert str(raised.value) == keras_error(make)


def test_a_built_layer_refuses_another_rank():
    layer = layers.EinsumDense("abc,cd->abd", (None, 4))
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"its kernel has shape \(5, 4\)"):
        layer(np.zeros((2, 3, 6), np.float32))
