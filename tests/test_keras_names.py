"""Keras's other names for the same things, checked against the installed Keras: the layer
aliases (MaxPool2D, Convolution2D, ...), the functional merges (`layers.concatenate([a, b])`),
the lowercase initializer classes, `activations.swish`, and the keras.utils helpers
clear_session, Progbar, pack_x_y_sample_weight and unpack_x_y_sample_weight."""
import inspect
import types

import numpy as np
import pytest

import keras
import minidl

MODULES = ["layers", "initializers", "activations", "utils", "losses", "metrics", "optimizers",
           "callbacks", "regularizers", "preprocessing"]


def mismatched_names(ours, theirs):
    """Names both modules have whose objects differ in kind (class or function) or in name:
    an alias must point at the thing Keras's alias points at."""
    wrong = []
    for name in sorted(n for n in dir(theirs) if not n.startswith("_") and hasattr(ours, n)):
        a, b = getattr(ours, name), getattr(theirs, name)
        if inspect.isclass(b) != inspect.isclass(a) or \
                (inspect.isclass(b) or inspect.isfunction(b)) and a.__name__ != b.__name__:
            wrong.append(name)
    return wrong


@pytest.mark.parametrize("module", MODULES)
def test_every_shared_name_is_what_keras_names_it(module):
    assert mismatched_names(getattr(minidl, module), getattr(keras, module)) == []


def test_the_name_check_catches_a_wrong_alias():
    """Negative control: MaxPool2D pointing at AveragePooling2D, or a class where Keras has a
    function, is reported."""
    fake = types.SimpleNamespace(MaxPool2D=minidl.layers.AveragePooling2D,
                                 add=minidl.layers.Add, Dense=minidl.layers.Dense)
    assert mismatched_names(fake, keras.layers) == ["MaxPool2D", "add"]


def test_the_aliases_keras_programs_use_exist():
    layers = minidl.layers
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool1D is layers.AveragePooling1D
    assert layers.Convolution2D is layers.Conv2D and layers.GlobalAvgPool2D is \
        layers.GlobalAveragePooling2D
    assert minidl.initializers.he_normal is minidl.initializers.HeNormal
    assert minidl.activations.swish is minidl.activations.silu
    assert minidl.utils.clear_session is minidl.backend.clear_session


@pytest.mark.parametrize("name", ["image_dataset_from_directory", "text_dataset_from_directory",
                                  "timeseries_dataset_from_array"])
def test_the_dataset_makers_are_in_preprocessing_too_as_keras(name):
    """`keras.preprocessing.image_dataset_from_directory` (TensorFlow's older tutorials): in
    Keras the same function as keras.utils's, and so in minidl."""
    assert getattr(keras.preprocessing, name) is getattr(keras.utils, name)
    assert getattr(minidl.preprocessing, name) is getattr(minidl.utils, name)


def test_the_functional_merges_build_the_layers_keras_builds():
    """a, b -> each merge function -> Dense, in both; the same weights give the same outputs."""
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(
        np.float32)
    calls = [("add", {}), ("subtract", {}), ("multiply", {}), ("average", {}), ("maximum", {}),
             ("minimum", {}), ("concatenate", {"axis": -1}), ("dot", {"axes": 1}),
             ("dot", {"axes": 1, "normalize": True})]
    for name, kwargs in calls:
        models = []
        for framework in (minidl, keras):
            a, b = framework.Input((4,)), framework.Input((4,))
            merged = getattr(framework.layers, name)([a, b], **kwargs)
            out = framework.layers.Dense(3)(merged)
            models.append(framework.Model([a, b], out))
        ours, theirs = models
        assert [type(layer).__name__ for layer in ours.layers] == \
            [type(layer).__name__ for layer in theirs.layers]
        theirs.set_weights(ours.get_weights())
        np.testing.assert_allclose(ours.predict([xa, xb], verbose=0),
                                   theirs.predict([xa, xb], verbose=0), rtol=1e-5, atol=1e-6)


def test_pack_and_unpack_as_keras():
    x, y, w = np.ones((2, 3)), np.zeros(2), np.ones(2)
    for args in [(x,), (x, y), (x, y, w), ([x, x],), ((x,),), (x, None, w)]:
        ours = minidl.utils.pack_x_y_sample_weight(*args)
        theirs = keras.utils.pack_x_y_sample_weight(*args)
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
    for data in [x, (x,), (x, y), [x, y, w], {"a": x}]:
        ours = minidl.utils.unpack_x_y_sample_weight(data)
        theirs = keras.utils.unpack_x_y_sample_weight(data)
        assert [o is t for o, t in zip(ours, theirs)] == [True] * 3
    with pytest.raises(ValueError) as ours:
        minidl.utils.unpack_x_y_sample_weight((x, y, w, w))
    with pytest.raises(ValueError) as theirs:
        keras.utils.unpack_x_y_sample_weight((x, y, w, w))
    assert str(ours.value) == str(theirs.value)
