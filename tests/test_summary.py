"""minidl's print_summary must print the same text as Keras's model.summary().

Each test builds a real Keras model, prints its summary with stdout captured (so not a terminal,
hence no colours), then prints minidl's summary of a stand-in object carrying the Keras model's
own names, shapes, parameter counts and weights, and compares the two texts.
"""
import os
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.summary import print_summary, readable_memory_size

import keras
layers = keras.layers


class FakeLayer:
    """The layer interface print_summary reads."""

    def __init__(self, name, built, output_shape, params):
        self.name, self.built, self.output_shape, self.params = name, built, output_shape, params

    def count_params(self):
        return self.params


def stand_in_layer(layer):
    """A FakeLayer subclass named like the Keras layer's class ('Dense', 'InputLayer')."""
    cls = type(type(layer).__name__, (FakeLayer,), {})
    # Keras's summary shows "?" for a layer that was never called (summary_utils.py).
    shape = tuple(layer.output.shape) if layer._inbound_nodes else None
    params = layer.count_params() if layer.built else 0
    return cls(layer.name, layer.built, shape, params)


def stand_in(model):
    """An object with the model interface, filled in from a Keras model."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        optimizer = SimpleNamespace(
            built=optimizer.built, variables=[np.asarray(v) for v in optimizer.variables]
        )
    return SimpleNamespace(
        name=model.name,
        layers=[stand_in_layer(layer) for layer in model.layers],
        trainable_weights=[SimpleNamespace(value=np.asarray(w)) for w in model.trainable_weights],
        non_trainable_weights=[
            SimpleNamespace(value=np.asarray(w)) for w in model.non_trainable_weights
        ],
        optimizer=optimizer,
    )


@pytest.fixture(params=[80, 120])
def columns(request, monkeypatch):
    """Run the test with an 80- and a 120-column terminal, without forced colours."""
    monkeypatch.setenv("COLUMNS", str(request.param))
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    return request.param


def assert_same_summary(model, capsys, **kwargs):
    """Keras's and minidl's summaries are the same text; returns Keras's for extra checks."""
    capsys.readouterr()
    model.summary(**kwargs)
    theirs = capsys.readouterr().out
    print_summary(stand_in(model), **kwargs)
    ours = capsys.readouterr().out
    assert "\x1b" not in theirs  # rich adds no styling when stdout is not a terminal
    assert ours == theirs
    return theirs


def mlp(**kwargs):
    """The lab's model: 784 -> 512 relu -> 10 softmax."""
    return keras.Sequential([
        layers.Dense(512, activation="relu", input_shape=(784,)),
        layers.Dense(10, activation="softmax"),
    ], **kwargs)


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_sequential_list(columns, capsys):
    out = assert_same_summary(mlp(), capsys)
    assert " Total params: 407,050 (1.55 MB)" in out


def test_sequential_add(columns, capsys):
    model = keras.Sequential()
    model.add(layers.Input((784,)))
    model.add(layers.Dense(128, activation="relu"))
    model.add(layers.Activation("relu"))
    model.add(layers.Dense(10))
    out = assert_same_summary(model, capsys)
    assert "InputLayer" not in out


def test_functional_lists_its_input_layer(columns, capsys):
    inputs = keras.Input((4,))
    x = layers.Dense(3, activation="relu")(inputs)
    outputs = layers.Dense(1)(x)
    out = assert_same_summary(keras.Model(inputs, outputs), capsys)
    assert "(InputLayer)" in out


def test_unbuilt_sequential(columns, capsys):
    out = assert_same_summary(keras.Sequential([layers.Dense(3), layers.Dense(2)]), capsys)
    assert "0 (unbuilt)" in out


def test_empty_sequential(columns, capsys):
    assert_same_summary(keras.Sequential(), capsys)


def fitted(optimizer):
    """A small model after one epoch, so its optimizer variables exist."""
    model = keras.Sequential([layers.Input((5,)), layers.Dense(4), layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(8, 5)), rng.normal(size=(8, 1)), epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def fitted_models():
    return {name: fitted(name) for name in ["sgd", "adam"]}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_params_after_fit(optimizer, fitted_models, columns, capsys):
    out = assert_same_summary(fitted_models[optimizer], capsys)
    assert " Optimizer params: " in out


def test_compiled_but_not_fitted_has_no_optimizer_line(columns, capsys):
    model = keras.Sequential([layers.Input((5,)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    out = assert_same_summary(model, capsys)
    assert "Optimizer" not in out


def test_long_names_wrap_and_are_cut(columns, capsys):
    model = keras.Sequential([
        layers.Input((3,)),
        layers.Dense(3, name="a_very_long_layer_name_that_goes_beyond_the_width_of_any_column"),
        layers.Dense(3, name="x y z long words here and there in the name"),
        layers.Dense(3, name="exactly_thirty_one_characters_x"),
    ])
    assert_same_summary(model, capsys)


@pytest.mark.parametrize("kwargs", [
    {"line_length": 50},
    {"line_length": 34},  # the header wraps too: rich aligns header cells to the bottom
    {"line_length": 100},  # wider than an 80-column screen: rich crops the lines
    {"positions": [0.3, 0.6, 0.9]},
    {"positions": [0.2, 0.4, 0.6]},  # narrower than line_length: rich widens the columns
    {"line_length": 30, "positions": [0.4, 0.7, 1.0]},
])
def test_line_length_and_positions(kwargs, columns, capsys):
    model = keras.Sequential([layers.Input((784,)), layers.Dense(512), layers.Dense(10)])
    assert_same_summary(model, capsys, **kwargs)


def test_too_narrow_raises(columns):
    model = keras.Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="Insufficient console width") as keras_error:
        model.summary(line_length=10)
    with pytest.raises(ValueError, match="Insufficient console width") as our_error:
        print_summary(stand_in(model), line_length=10)
    assert str(our_error.value) == str(keras_error.value)


def test_print_fn_gets_the_whole_text_once(columns):
    model = keras.Sequential([layers.Input((3,)), layers.Dense(2)])
    theirs, ours = [], []
    model.summary(print_fn=theirs.append)
    print_summary(stand_in(model), print_fn=ours.append)
    assert len(theirs) == 1 and ours == theirs


@pytest.mark.parametrize("size", [0, 23 * 4, 1023, 1024, 101_770 * 4, 407_050 * 4, 5 * 1024**4])
def test_readable_memory_size(size):
    from keras.src.utils.summary_utils import readable_memory_size as keras_size

    assert readable_memory_size(size) == keras_size(size)


# Property: random layer names, widths and column positions give the same text as Keras.

names_st = st.lists(
    st.text(alphabet="abz_09 ()[]", min_size=1, max_size=60).filter(str.strip),
    min_size=0, max_size=3, unique=True,
)
positions_st = st.one_of(
    st.none(),
    st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3).map(sorted),
)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(names=names_st, line_length=st.integers(20, 140), positions=positions_st)
def test_random_names_and_widths_match_keras(names, line_length, positions):
    model = keras.Sequential([layers.Input((3,))] + [layers.Dense(2, name=n) for n in names])
    kwargs = {"line_length": line_length, "positions": positions}
    theirs, ours = [], []
    with mock.patch.dict(os.environ, {"COLUMNS": "100"}):
        try:
            model.summary(print_fn=theirs.append, **kwargs)
        except ValueError as error:
            with pytest.raises(ValueError, match=str(error)):
                print_summary(stand_in(model), **kwargs)
            return
        print_summary(stand_in(model), print_fn=ours.append, **kwargs)
    assert ours == theirs


def graph_model(framework, name):
    """Two inputs, a merge, a layer used twice, a model inside the model: not a chain."""
    a, b = framework.Input((3,), name="a"), framework.Input((4,), name="b")
    inner_input = framework.Input((5,), name="inner_in")
    inner = framework.Model(inner_input, framework.layers.Dense(5, name="inner_dense")(
        inner_input), name="inner")
    merged = framework.layers.Concatenate(name="cat")([
        inner(framework.layers.Dense(5, activation="relu", name="hid")(a)), b])
    shared = framework.layers.Dense(2, name="shared")
    outputs = [framework.layers.Dense(1, activation="sigmoid", name="cls")(merged),
               shared(shared(framework.layers.Dense(2, name="reg")(merged)))]
    return framework.Model([a, b], outputs, name=name)


@pytest.mark.parametrize("line_length", [None, 90])
def test_a_graph_prints_keras_connected_to_column(capsys, line_length):
    import minidl

    graph_model(keras, "g").summary(line_length=line_length)
    expected = capsys.readouterr().out
    lines = []
    graph_model(minidl, "g").summary(line_length=line_length, print_fn=lines.append)
    assert "".join(lines) == expected
    assert "Connected to" in expected and "shared[0][0]" in expected  # the second call's input


def nested_model(framework):
    """A frozen Sequential encoder inside a functional model, then a head: rows inside
    rows with expand_nested, Y / N / - with show_trainable."""
    encoder = framework.Sequential([framework.Input((4,)),
                                    framework.layers.Dense(3, name="e1"),
                                    framework.layers.Dropout(0.1, name="drop")], name="enc")
    encoder.trainable = False
    inputs = framework.Input((4,), name="x")
    outputs = framework.layers.Dense(1, name="head")(encoder(inputs))
    return framework.Model(inputs, outputs, name="outer")


@pytest.mark.parametrize("kwargs", [dict(expand_nested=True), dict(show_trainable=True),
                                    dict(expand_nested=True, show_trainable=True),
                                    dict(expand_nested=True, show_trainable=True,
                                         line_length=100)],
                         ids=["nested", "trainable", "both", "both-100"])
@pytest.mark.parametrize("make", [nested_model, lambda framework: graph_model(framework, "g")],
                         ids=["chain", "graph"])
def test_expand_nested_and_show_trainable_print_keras_s_rows_and_column(capsys, make, kwargs):
    import minidl

    make(keras).summary(**kwargs)
    expected = capsys.readouterr().out
    lines = []
    make(minidl).summary(print_fn=lines.append, **kwargs)
    assert "".join(lines) == expected
    assert ("└ " in expected) == bool(kwargs.get("expand_nested"))
