"""Layers called on several tensors, and masks given as tensors in functional models, against
live Keras 3 (minidl/layers/call_arguments.py).

Each model is written once, as a function of the framework (`minidl` or `keras`), the two get
the same weights, and the numbers are compared:
- keras.io's training guide's LogisticEndpoint, `call(self, targets, logits,
  sample_weights=None)` adding its loss, called `layer(targets, logits, sample_weights=w)` in a
  model compiled without a loss: fit's History and the weights after it;
- Gate, `call(self, x, gate, training=None)` with `build(self, x_shape, gate_shape)`, called
  `layer(h, g)` in the middle of a model: predict, fit, summary (the "Connected to" column),
  and the `training` call() is given;
- `lstm(x, mask=m)` with m computed by ops in the graph, replacing the mask that rides on x;
- MultiHeadAttention's `attention_mask=` and Attention's `mask=[query_mask, value_mask]`, as
  KerasTensors computed by ops, as keras.io's Transformer examples build them;
- `.keras` files both ways for each (tensors in a node's "args" and "kwargs"), and
  reference/twins.py's twin;
- a call given the wrong arguments fails as Keras's does (TypeError from call()'s signature,
  Keras's messages for build() arguments and for lists mixing tensors and other values).

Tolerances: float32 maths done in another order (NumPy's against TensorFlow's kernels) agrees
to a few ulps per operation; over a few layers and two epochs of optimizer steps that is
rtol 1e-5 on losses, predictions and weights (atol 1e-6 for values near zero), as
tests/parity.py uses throughout. Weights read back from a file are compared exactly.
"""
import keras
import numpy as np
import pytest

import minidl
from reference.twins import keras_twin
from tests.parity import assert_same_summary

RNG = np.random.default_rng(3)
RTOL, ATOL = 1e-5, 1e-6


def library_classes(lib):
    layers, ops = lib.layers, lib.ops

    class LogisticEndpoint(layers.Layer):  # keras.io's training_with_built_in_methods guide
        def __init__(self, name=None, **kwargs):
            super().__init__(name=name, **kwargs)
            self.loss_fn = lib.losses.BinaryCrossentropy(from_logits=True)

        def call(self, targets, logits, sample_weights=None):
            loss = self.loss_fn(targets, logits, sample_weights)
            self.add_loss(loss)
            return ops.softmax(logits)

    class Gate(layers.Layer):
        """x * sigmoid(gate) * scale: two tensors, a weight built from both shapes by name."""
        seen = []  # the `training` each call() was given

        def __init__(self, **kwargs):  # (without one, Keras's config holds its autocast
            super().__init__(**kwargs)  # flag, which minidl's loader refuses)

        def build(self, x_shape, gate_shape):
            self.scale = self.add_weight(shape=(x_shape[-1],), initializer="ones",
                                         name="scale")

        def call(self, x, gate, training=None):
            Gate.seen.append(training)
            return x * ops.sigmoid(gate) * self.scale

    return {"LogisticEndpoint": LogisticEndpoint, "Gate": Gate}


def endpoint_model(lib, classes):
    inputs = lib.Input(shape=(3,), name="inputs")
    targets = lib.Input(shape=(10,), name="targets")
    sample_weights = lib.Input(shape=(1,), name="sample_weights")
    logits = lib.layers.Dense(10, name="logits")(inputs)
    predictions = classes["LogisticEndpoint"](name="predictions")(
        targets, logits, sample_weights=sample_weights)
    return lib.Model(inputs=[inputs, targets, sample_weights], outputs=predictions,
                     name="endpoint")


def gate_model(lib, classes):
    a, b = lib.Input(shape=(4,), name="a"), lib.Input(shape=(5,), name="b")
    h = lib.layers.Dense(4, name="h")(a)
    g = lib.layers.Dense(4, name="g")(b)
    y = classes["Gate"](name="gate")(h, g)
    return lib.Model([a, b], lib.layers.Dense(2, name="out")(y), name="gated")


def masked_model(lib, classes=None):
    """lstm(x, mask=m): m computed by ops, replacing the mask Embedding(mask_zero) puts on x."""
    ids = lib.Input(shape=(6,), dtype="int32", name="ids")
    x = lib.layers.Embedding(12, 4, mask_zero=True, name="embedding")(ids)
    mask = lib.ops.greater(ids, 2)
    h = lib.layers.LSTM(3, return_sequences=True, name="lstm")(x, mask=mask)
    pooled = lib.layers.GlobalAveragePooling1D(name="pool")(h)  # the mask LSTM passes on
    return lib.Model(ids, lib.layers.Dense(1, name="out")(pooled), name="masked")


def attention_model(lib, classes=None):
    """keras.io's Transformer masks: a padding mask as MultiHeadAttention's attention_mask
    (with use_causal_mask), and Attention's [query_mask, value_mask], made by ops."""
    ops = lib.ops
    ids = lib.Input(shape=(5,), dtype="int32", name="ids")
    x = lib.layers.Embedding(10, 8, name="embedding")(ids)
    padding = ops.not_equal(ids, 0)
    attention_mask = ops.expand_dims(padding, 1)  # (N,1,T): every query sees the real keys
    y = lib.layers.MultiHeadAttention(2, 4, name="mha")(x, x, attention_mask=attention_mask,
                                                        use_causal_mask=True)
    z = lib.layers.Attention(name="attention")([y, x], mask=[ops.greater(ids, 1), padding])
    out = lib.layers.Dense(1, name="out")(lib.layers.Flatten(name="flatten")(z))
    return lib.Model(ids, out, name="attending")


def _ids(n, steps, high):
    ids = RNG.integers(0, high, (n, steps)).astype("int32")
    ids[:, 0] = high - 1  # each row has a real first step (a query row wholly masked is
    return ids  # left out: the libraries' layers each treat it their own way)


def _data(name):
    if name == "endpoint":
        return {"inputs": RNG.random((8, 3)).astype("float32"),
                "targets": RNG.random((8, 10)).astype("float32"),
                "sample_weights": RNG.random((8, 1)).astype("float32")}
    if name == "gate":
        return [RNG.normal(size=(8, 4)).astype("float32"),
                RNG.normal(size=(8, 5)).astype("float32")]
    return _ids(8, 6 if name == "masked" else 5, 12 if name == "masked" else 10)


MODELS = {"endpoint": endpoint_model, "gate": gate_model, "masked": masked_model,
          "attention": attention_model}


@pytest.fixture(scope="module")
def twins():
    """{name: (ours, theirs, data)}: each model built by both, with Keras's weights."""
    keras.utils.set_random_seed(5)
    ours_classes, their_classes = library_classes(minidl), library_classes(keras)
    built = {}
    for name, build in MODELS.items():
        ours, theirs = build(minidl, ours_classes), build(keras, their_classes)
        weights = [RNG.normal(scale=0.5, size=w.shape).astype("float32")
                   for w in theirs.get_weights()]
        ours.set_weights(weights)
        theirs.set_weights(weights)
        built[name] = (ours, theirs, _data(name))
    return built, ours_classes, their_classes


def _close(a, b):
    for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(MODELS))
def test_predict_as_keras(twins, name):
    ours, theirs, data = twins[0][name]
    _close(ours.predict(data, verbose=0), theirs.predict(data, verbose=0))


def test_the_training_guides_logistic_endpoint_fits_as_keras(twins):
    """Compiled without a loss: the loss is the layer's add_loss, sample weights in it."""
    ours, theirs, data = twins[0]["endpoint"]
    for model in (ours, theirs):
        model.compile(optimizer="adam")
    mine = ours.fit(data, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    keras_history = theirs.fit(data, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    assert sorted(mine) == sorted(keras_history) == ["loss"]
    np.testing.assert_allclose(mine["loss"], keras_history["loss"], rtol=RTOL)
    _close(ours.get_weights(), theirs.get_weights())


@pytest.mark.parametrize("name", ["gate", "masked"])
def test_a_model_with_such_calls_fits_as_keras(twins, name):
    ours, theirs, data = twins[0][name]
    y = RNG.normal(size=ours.predict(data, verbose=0).shape).astype("float32")
    ours_classes = twins[1]
    ours_classes["Gate"].seen.clear()
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse")
    mine = ours.fit(data, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history
    keras_history = theirs.fit(data, y, epochs=2, batch_size=4, shuffle=False,
                               verbose=0).history
    np.testing.assert_allclose(mine["loss"], keras_history["loss"], rtol=RTOL)
    _close(ours.get_weights(), theirs.get_weights())
    if name == "gate":  # call(x, gate, training=None) is told it trains, as Keras tells it
        assert set(ours_classes["Gate"].seen) == {True}
        ours_classes["Gate"].seen.clear()
        ours.predict(data, verbose=0)
        assert set(ours_classes["Gate"].seen) == {False}


def test_summary_connects_every_tensor_argument_as_keras(twins, capsys):
    """The "Connected to" column lists each tensor of the call: h[0][0], g[0][0]."""
    for name in ("gate", "endpoint"):
        ours, theirs, _ = twins[0][name]
        assert_same_summary(ours, theirs, capsys)


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_files_both_ways(twins, name, tmp_path):
    """A minidl file loads in Keras and a Keras file in minidl: the nodes' tensors in "args"
    and "kwargs" (the mask, attention_mask, sample_weights) as Keras writes them."""
    (ours, theirs, data), ours_classes, their_classes = twins[0][name], twins[1], twins[2]
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    in_keras = keras.models.load_model(tmp_path / "ours.keras", custom_objects=their_classes,
                                       compile=False)
    in_minidl = minidl.models.load_model(tmp_path / "theirs.keras",
                                         custom_objects=ours_classes, compile=False)
    expected = theirs.predict(data, verbose=0)
    for loaded, source in ((in_keras, ours), (in_minidl, theirs)):
        _close(loaded.predict(data, verbose=0), expected)
        for a, b in zip(loaded.get_weights(), source.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["masked", "attention"])
def test_the_keras_twin_is_built_from_the_config(twins, name):
    ours, theirs, data = twins[0][name]
    _close(keras_twin(ours, compile=False).predict(data, verbose=0),
           theirs.predict(data, verbose=0))


def test_the_mask_given_replaces_the_riding_one():
    """Negative control for the masked model: with the mask by hand left out, the riding mask
    (ids != 0) is used and the predictions differ, so the hand mask is what was compared."""
    classes = library_classes(minidl)
    model = masked_model(minidl)
    ids = minidl.Input(shape=(6,), dtype="int32")
    x = model.get_layer("embedding")(ids)
    h = model.get_layer("lstm")(x)
    plain = minidl.Model(ids, model.get_layer("out")(model.get_layer("pool")(h)))
    data = _ids(4, 6, 12)
    data[:, 3] = 1  # a step the hand mask drops and the riding mask keeps
    assert not np.allclose(plain.predict(data, verbose=0), model.predict(data, verbose=0))
    assert classes  # (the classes are unused here)


def _call_errors(lib):
    """The messages of calls given the wrong arguments (each raises)."""
    layers = lib.layers

    class Pair(layers.Layer):
        def call(self, a, b):
            return a + b

    class BadBuild(layers.Layer):
        def build(self, a_shape, other):
            pass

        def call(self, a, b):
            return a * b

    class MissingBuild(layers.Layer):
        def build(self, a_shape, c_shape):
            pass

        def call(self, a, b):
            return a * b

    x = np.ones((2, 3), "float32")
    calls = [lambda: Pair()(x, x, x), lambda: Pair()(x, x, c=x), lambda: Pair()(x),
             lambda: BadBuild()(x, x), lambda: MissingBuild()(x, x),
             lambda: Pair()([x, 1.0], x)]
    messages = []
    for call in calls:
        with pytest.raises((TypeError, ValueError)) as caught:
            call()
        messages.append((caught.type, str(caught.value)))
    return messages


def test_wrong_calls_fail_as_keras():
    for (our_type, ours), (their_type, theirs) in zip(_call_errors(minidl),
                                                      _call_errors(keras)):
        assert our_type is their_type, (ours, theirs)
        assert ours.split(". Received")[0] in theirs or theirs in ours, (ours, theirs)
