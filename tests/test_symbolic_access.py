"""`model.input`, `model.output`, `layer.input` and `layer.output`, and the batch size a model
built on data records, against Keras.

Published programs read a model's symbolic tensors to reuse it: a feature extractor
`Model(model.input, [layer.output for layer in model.layers])` (Deep Learning with Python's
activation pictures), a new head `Model(base.input, Dense(2)(base.output))`. Keras's
Sequential is built as a functional model, so its layers have outputs too. fit and evaluate
build a model on a batch of unknown size (summary() then shows None), while a direct call,
predict and train_on_batch record the batch's size: minidl does each as Keras does.
"""
import numpy as np
import pytest

import keras
import minidl
from reference.twins import keras_twin
from tests.parity import assert_same_fit

X = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)


def _functional(framework):
    inp = framework.Input((5,), name="pixels")
    h = framework.layers.Dense(4, activation="relu", name="conv1")(inp)
    h = framework.layers.Dense(3, activation="tanh", name="conv2")(h)
    return framework.Model(inp, framework.layers.Dense(2, name="head")(h))


def _sequential(framework, with_input=True):
    layers = [framework.layers.Dense(4, activation="relu", name="conv1"),
              framework.layers.Dense(3, name="head")]
    return framework.Sequential(([framework.Input((5,))] if with_input else []) + layers)


def _same_weights(ours, theirs):
    theirs.set_weights(ours.get_weights())


def test_a_feature_extractor_from_a_functional_models_layers_outputs():
    ours, theirs = _functional(minidl), _functional(keras)
    _same_weights(ours, theirs)
    assert ours.input is ours.layers[0].output and ours.output is ours.layers[-1].output
    assert ours.get_layer("conv2").input is ours.get_layer("conv1").output
    extractors = [m.__class__(m.input, [layer.output for layer in m.layers[1:]])
                  for m in (ours, theirs)]
    for a, b in zip(extractors[0].predict(X, verbose=0), extractors[1].predict(X, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    one = [minidl.Model(ours.input, ours.get_layer("conv2").output),
           keras.Model(theirs.input, theirs.get_layer("conv2").output)]
    np.testing.assert_allclose(one[0].predict(X, verbose=0), one[1].predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("built_by", ["Input", "fit"])
def test_a_sequential_models_layers_have_outputs_as_keras(built_by):
    models = [_sequential(f, with_input=built_by == "Input") for f in (minidl, keras)]
    if built_by == "fit":
        for m in models:
            m.compile(optimizer="sgd", loss="mse")
            m.fit(X, X[:, :3], batch_size=4, verbose=0)
    ours, theirs = models
    _same_weights(ours, theirs)
    assert [layer.output.shape for layer in ours.layers] == \
        [tuple(layer.output.shape) for layer in theirs.layers]
    assert ours.output_shape == theirs.output_shape and ours.input_shape == theirs.input_shape
    extractors = [minidl.Model(ours.inputs, [layer.output for layer in ours.layers]),
                  keras.Model(theirs.inputs, [layer.output for layer in theirs.layers])]
    for a, b in zip(extractors[0].predict(X, verbose=0), extractors[1].predict(X, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_new_head_on_a_frozen_base_trains_as_keras():
    base = _functional(minidl)
    base.get_layer("conv1").trainable = False
    head = minidl.layers.Dense(1, activation="sigmoid", name="new_head")(base.output)
    model = minidl.Model(base.input, head)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    y = (X[:, 0] > 0).astype(np.float32)
    assert_same_fit(keras_twin(model), model, X, y, epochs=2, batch_size=3)


@pytest.mark.parametrize("how", ["fit", "evaluate", "predict", "train_on_batch", "call"])
def test_the_batch_size_a_model_built_on_data_records(how):
    """fit and evaluate record None (Keras builds on a symbolic batch); the others the
    data's batch size, as Keras's."""
    shapes = []
    for framework in (minidl, keras):
        model = _sequential(framework, with_input=False)
        model.compile(optimizer="sgd", loss="mse")
        y = X[:, :3]
        {"fit": lambda: model.fit(X, y, batch_size=4, verbose=0),
         "evaluate": lambda: model.evaluate(X, y, batch_size=4, verbose=0),
         "predict": lambda: model.predict(X, batch_size=4, verbose=0),
         "train_on_batch": lambda: model.train_on_batch(X[:5], y[:5]),
         "call": lambda: model(X[:5])}[how]()
        shapes.append((tuple(model.input_shape), tuple(model.output_shape),
                       [tuple(layer.output.shape) for layer in model.layers]))
    assert shapes[0] == shapes[1]
    assert (shapes[0][1][0] is None) == (how in ("fit", "evaluate"))


def test_keras_errors_for_tensors_that_do_not_exist():
    for framework in (minidl, keras):
        layer = framework.layers.Dense(2, name="lonely")
        with pytest.raises(AttributeError, match="The layer lonely has never been called and "
                                                 "thus has no defined output."):
            layer.output
        with pytest.raises(AttributeError, match="has never been called and thus has no "
                                                 "defined input."):
            _sequential(framework).input  # Keras's Sequential itself is never called


@pytest.mark.parametrize("kind", ["sequential", "unbuilt sequential", "functional"])
def test_get_config_and_from_config_as_keras(kind):
    """A model's config lists its layers (and, functional, how they connect) as Keras's:
    from_config of either framework's config gives the same model back."""
    make = {"sequential": lambda f: _sequential(f),
            "unbuilt sequential": lambda f: _sequential(f, with_input=False),
            "functional": _functional}[kind]
    ours, theirs = make(minidl), make(keras)
    config, keras_config = ours.get_config(), theirs.get_config()
    assert sorted(config) == sorted(keras_config)
    assert [c["class_name"] for c in config["layers"]] == \
        [c["class_name"] for c in keras_config["layers"]]
    cls = minidl.Sequential if "sequential" in kind else minidl.Model
    for source in (config, keras_config):
        rebuilt = cls.from_config(source)
        assert [type(layer).__name__ for layer in rebuilt.layers] == \
            [type(layer).__name__ for layer in ours.layers]
        assert rebuilt.built == ours.built
        if ours.built:
            assert rebuilt.output_shape == ours.output_shape
    assert keras.Sequential.from_config(config) if "sequential" in kind else \
        keras.Model.from_config(config)  # Keras reads minidl's config too
