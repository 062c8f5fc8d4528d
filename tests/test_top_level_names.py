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
             "Initializer", "Regularizer", "InputSpec", "KerasTensor", "Variable", "name_scope",
             "device", "version", "random", "tree"]
TREE = ["flatten", "flatten_with_path", "map_structure", "pack_sequence_as", "is_nested",
        "assert_same_structure", "lists_to_tuples", "traverse", "assert_same_paths",
        "map_shape_structure", "map_structure_up_to"]


def test_top_level_names_are_the_kind_of_thing_keras_s_are():
    for name in TOP_LEVEL:
        ours, theirs = getattr(minidl, name), getattr(keras, name)
        assert inspect.isclass(ours) == inspect.isclass(theirs), name
        assert inspect.ismodule(ours) == inspect.ismodule(theirs), name
        if inspect.isclass(theirs) or inspect.isfunction(theirs):
            assert ours.__name__ == theirs.__name__, name
    for name in ["InputSpec", "Variable", "name_scope", "device"] + [f"tree.{n}" for n in TREE]:
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


def test_traverse_shapes_and_partial_maps_give_keras_s_results():
    def double(x):
        return x * 2 if isinstance(x, int) else None

    def length(x):
        return len(x) if isinstance(x, list) else None

    for structure in STRUCTURES[4:]:
        for func in (double, length, lambda x: "L" if isinstance(x, list) else None,
                     lambda x: None):
            for top_down in (True, False):
                assert repr(minidl.tree.traverse(func, structure, top_down)) == \
                    repr(keras.tree.traverse(func, structure, top_down)), structure
        assert repr(minidl.tree.traverse(
            lambda x: minidl.tree.MAP_TO_NONE if x == 2 else None, structure)) == \
            repr(keras.tree.traverse(lambda x: keras.tree.MAP_TO_NONE if x == 2 else None,
                                     structure))
    shapes = {"a": (None, 3), "b": [(2,), (4, 5)], "c": [1, 2], "d": ()}
    for func in (lambda s: s, len):
        assert minidl.tree.map_shape_structure(func, shapes) == \
            keras.tree.map_shape_structure(func, shapes)
    args = ([1, [2]], lambda a, b: (a, b), [[1, 2], [3]], [[5, 6], [7]])
    assert minidl.tree.map_structure_up_to(*args) == keras.tree.map_structure_up_to(*args)
    args = ({"x": 0, "y": [0]}, lambda a: a, {"y": [(1, 2)], "x": [3]})
    assert repr(minidl.tree.map_structure_up_to(*args)) == \
        repr(keras.tree.map_structure_up_to(*args))
    minidl.tree.assert_same_paths([1, (2,)], (5, [6]))  # lists and tuples alike
    keras.tree.assert_same_paths([1, (2,)], (5, [6]))


def test_tree_errors_are_keras_s():
    """Word for word where Keras's message is its own; a ValueError as Keras's where Keras
    passes on optree's message naming optree's node types (the last two)."""
    calls = [("assert_same_structure", ([1, 2], [1, [2]]), True),
             ("pack_sequence_as", ([1, 2], [1]), True),
             ("pack_sequence_as", ([1, 2], [1, 2, 3]), True),
             ("assert_same_paths", ({"a": 1}, {"b": 1}), True),
             ("map_structure_up_to", ([1, 2], lambda a: a, [1]), True),
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


# -- Variable: a weight made by hand ------------------------------------------------------------
def test_variables_are_made_as_keras_makes_them():
    cases = [((np.ones((2, 3)),), {"name": "w"}), ((1.0,), {"name": "s"}), ((3,), {}),
             ((np.arange(4, dtype=np.int8),), {"trainable": False}),
             (("zeros",), {"shape": (2,), "name": "z"}),
             ((None,), {"shape": (2, 2), "dtype": "float64", "name": "g"})]
    for args, kwargs in cases:
        made = []
        for framework in (minidl, keras):
            if args[0] is None:  # an initializer object of each framework
                args = (framework.initializers.Ones(),)
            v = framework.Variable(*args, **kwargs)
            made.append((str(v.dtype), tuple(v.shape), v.trainable, v.numpy().tolist(),
                         v.name if "name" in kwargs else None))
        assert made[0] == made[1], (args, kwargs)
    for framework in (minidl, keras):
        v = framework.Variable(np.zeros((2,), np.float32), name="a")
        v.assign(np.ones(2))
        v.assign_add(np.ones(2))
        v.assign_sub(np.full(2, 0.5))
        made.append(v.numpy().tolist())
        made.append(repr(framework.Variable(1.0, name="s")))
    assert made[-4:-2] == made[-2:]
    for kwargs in ({"initializer": "zeros"}, {"initializer": 1.0, "name": "a/b"}):
        messages = []
        for framework in (minidl, keras):
            with pytest.raises(ValueError) as error:
                framework.Variable(**kwargs)
            messages.append(str(error.value).split("initializer=")[0])  # reprs differ after
        assert messages[0] == messages[1]


def linear_layer(framework):
    class Linear(framework.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.w = framework.Variable(np.full((3, 2), 0.5, np.float32), name="w")
            self.b = framework.Variable("zeros", shape=(2,), name="b")
            self.frozen = framework.Variable(np.ones(2, np.float32), trainable=False, name="f")

        def call(self, x):
            if framework is minidl:
                return x @ self.w + self.b * self.frozen  # NumPy operators, recorded
            return keras.ops.matmul(x, self.w) + self.b * self.frozen

    return Linear(name="linear")


def test_a_layer_keeps_and_trains_its_hand_made_variables_as_keras():
    """The layer's weights, trainable ones and paths as Keras's, and 3 epochs of SGD in
    lockstep with the Keras twin: History and weights within 1e-5 (float32, the same
    arithmetic in another order)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
    results = []
    for framework in (minidl, keras):
        layer = linear_layer(framework)
        model = framework.Sequential([framework.Input((3,)), layer])
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
        results.append(([w.path for w in layer.weights], len(layer.trainable_weights),
                        history.history["loss"], model.get_weights()))
    (paths, n, loss, weights), (paths_k, n_k, loss_k, weights_k) = results
    assert (paths, n) == (paths_k, n_k) == (["w", "b", "f"], 2)
    np.testing.assert_allclose(loss, loss_k, rtol=1e-5)
    for ours, theirs in zip(weights, weights_k):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(weights[0], 0.5)  # the kernel did train (a control on the check)
