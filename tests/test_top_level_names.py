"""The names Keras programs use at the top level (keras.Layer, keras.Loss, keras.InputSpec,
keras.name_scope, keras.device, keras.version, keras.tree), checked against the installed
Keras: the same kind of thing with the same name and signature, the same results on the
same structures, and Keras's error messages word for word. No numbers: no tolerance."""
import collections
import inspect

import numpy as np
import pytest

import keras
import minidl

TOP_LEVEL = ["Layer", "Model", "Sequential", "Input", "Loss", "Metric", "Optimizer",
             "Initializer", "Regularizer", "InputSpec", "KerasTensor", "name_scope", "device",
             "version", "random", "tree"]
TREE = ["flatten", "flatten_with_path", "map_structure", "pack_sequence_as", "is_nested",
        "assert_same_structure", "lists_to_tuples"]


def test_top_level_names_are_the_kind_of_thing_keras_s_are():
    for name in TOP_LEVEL:
        ours, theirs = getattr(minidl, name), getattr(keras, name)
        assert inspect.isclass(ours) == inspect.isclass(theirs), name
        assert inspect.ismodule(ours) == inspect.ismodule(theirs), name
        if inspect.isclass(theirs) or inspect.isfunction(theirs):
            assert ours.__name__ == theirs.__name__, name
    for name in ["InputSpec", "name_scope", "device"] + [f"tree.{n}" for n in TREE]:
        module, _, attribute = name.rpartition(".")
        ours = getattr(getattr(minidl, module) if module else minidl, attribute)
        theirs = getattr(getattr(keras, module) if module else keras, attribute)
        assert inspect.signature(ours) == inspect.signature(theirs), name
    assert minidl.layers.InputSpec is minidl.InputSpec


def test_the_base_classes_are_the_ones_minidl_s_objects_derive_from():
    assert isinstance(minidl.layers.Dense(2), minidl.Layer)
    assert isinstance(minidl.losses.MeanSquaredError(), minidl.Loss)
    assert isinstance(minidl.metrics.Mean(), minidl.Metric)
    assert isinstance(minidl.optimizers.Adam(), minidl.Optimizer)
    assert isinstance(minidl.initializers.GlorotUniform(), minidl.Initializer)
    assert isinstance(minidl.regularizers.L2(), minidl.Regularizer)
    assert isinstance(minidl.Input((3,)), minidl.KerasTensor)
    assert minidl.version() == minidl.__version__ and isinstance(minidl.version(), str)


def test_name_scope_and_device_run_their_block_and_refuse_as_keras():
    for framework in (minidl, keras):
        with framework.name_scope("block") as scope, framework.device("cpu:0"):
            assert scope.name == "block"
            out = framework.layers.Dense(2)(np.ones((1, 3), np.float32))
        assert np.shape(out) == (1, 2)
    for bad in (1, "a/b"):
        with pytest.raises(ValueError) as ours:
            minidl.name_scope(bad)
        with pytest.raises(ValueError) as theirs:
            keras.name_scope(bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="CPU only: it has no 'gpu' device"):
        with minidl.device("gpu:0"):
            pass  # Keras on a machine without a GPU places the block on the CPU instead


Point = collections.namedtuple("Point", "a b")
STRUCTURES = [
    1, None, "text", [], [1, 2], (1, [2, 3]), {"b": 1, "a": 2},
    {"b": [1, (2, None)], "a": Point(3, {"y": 4, "x": 5}), "c": "s"},
    [{"z": (1,), "m": []}, Point([2], 3)],
]


def test_tree_functions_give_keras_s_results():
    for structure in STRUCTURES:
        for name in ("flatten", "flatten_with_path", "is_nested", "lists_to_tuples"):
            ours = getattr(minidl.tree, name)(structure)
            theirs = getattr(keras.tree, name)(structure)
            assert ours == theirs and type(ours) is type(theirs), (name, structure)
        leaves = list(range(100, 100 + len(keras.tree.flatten(structure))))
        for ours, theirs in [
            (minidl.tree.pack_sequence_as(structure, leaves),
             keras.tree.pack_sequence_as(structure, leaves)),
            (minidl.tree.map_structure(lambda x: (x, 0), structure),
             keras.tree.map_structure(lambda x: (x, 0), structure)),
            (minidl.tree.map_structure(lambda x, y: [x, y], structure, structure),
             keras.tree.map_structure(lambda x, y: [x, y], structure, structure))]:
            assert repr(ours) == repr(theirs), structure  # repr: types and key order too
    array = np.zeros(3)
    assert minidl.tree.flatten([array])[0] is array  # arrays are leaves, as in Keras


def test_tree_errors_are_keras_s():
    """Word for word where Keras's message is its own; a ValueError as Keras's where Keras
    passes on optree's message naming optree's node types (the last two)."""
    calls = [("assert_same_structure", ([1, 2], [1, [2]]), True),
             ("pack_sequence_as", ([1, 2], [1]), True),
             ("pack_sequence_as", ([1, 2], [1, 2, 3]), True),
             ("assert_same_structure", ({"a": 1}, {"b": 1}), False),
             ("map_structure", (lambda a, b: a, [1, (2,)], [1, [2]]), False)]
    for name, args, same_words in calls:
        with pytest.raises(ValueError) as theirs:
            getattr(keras.tree, name)(*args)
        with pytest.raises(ValueError) as ours:
            getattr(minidl.tree, name)(*args)
        if same_words:
            assert str(ours.value) == str(theirs.value), (name, args)


# -- InputSpec: a layer of one's own that says what it accepts -------------------------------
def spec_layer(framework, spec):
    class Checked(framework.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = spec

        def call(self, x):
            return x

    return Checked(name="checked")


SPECS = [dict(ndim=2, axes={-1: 3}), dict(min_ndim=3), dict(max_ndim=2),
         dict(shape=(None, 4, 1), allow_last_axis_squeeze=True), dict(shape=(None, 4, 2))]
SHAPES = [(2, 3), (2, 4), (2, 3, 1), (2, 4, 2), (5,), (2, 4, 1, 1)]


def test_input_spec_checks_calls_as_keras_s():
    """Every spec against every shape: both accept, or both raise the same message."""
    for kwargs in SPECS:
        ours = spec_layer(minidl, minidl.InputSpec(**kwargs))
        theirs = spec_layer(keras, keras.InputSpec(**kwargs))
        assert repr(ours.input_spec) == repr(theirs.input_spec)
        assert ours.input_spec.get_config() == theirs.input_spec.get_config()
        for shape in SHAPES:
            x = np.ones(shape, np.float32)
            outcome = []
            for layer in (ours, theirs):
                try:
                    layer(x)
                    outcome.append("accepted")
                except ValueError as error:
                    outcome.append(str(error).split("\n")[0])
            assert outcome[0] == outcome[1], (kwargs, shape)
    refused = [o for o in outcome if o != "accepted"]
    assert refused, "the last spec must refuse some shape (negative control)"


def test_input_spec_checks_symbolic_calls_and_counts_inputs():
    for framework in (minidl, keras):
        layer = spec_layer(framework, framework.InputSpec(ndim=2, axes={-1: 3}))
        with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
            layer(framework.Input((4,)))
        pair = spec_layer(framework, [framework.InputSpec(ndim=2), framework.InputSpec(ndim=2)])
        with pytest.raises(ValueError, match=r'Layer "checked" expects 2 input\(s\), but it '
                                             "received 1 input tensors"):
            pair(np.ones((2, 3), np.float32))


def test_input_spec_errors_are_keras_s():
    for kwargs, error in [(dict(axes={"a": 1}), TypeError), (dict(ndim=2, axes={2: 1}),
                                                             ValueError)]:
        with pytest.raises(error) as ours:
            minidl.InputSpec(**kwargs)
        with pytest.raises(error) as theirs:
            keras.InputSpec(**kwargs)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="cannot check `dtype`.*Received: dtype=int32"):
        minidl.InputSpec(dtype="int32")
