"""Models with a dict of inputs and a dict of outputs, against live Keras.

    Model(inputs={"a": a, "b": b}, outputs={"price": reg, "kind": cls})

One such model in both frameworks (the Keras one built from minidl's config, so the same
weights): compile's loss, loss_weights, metrics and weighted_metrics as dicts keyed by the
output keys, fit on dicts of x, y and sample weights with validation_split, then predict,
evaluate, train_on_batch and test_on_batch. Keras's rules checked on the same model: a loss
dict that leaves an output out (it gets no loss), keys that are the layers' names instead of
the output keys (refused), and the messages of the errors. Then the other structures Keras
keeps (a tuple, a list of one, a dict of one), dict inputs keyed otherwise than the Inputs'
names, summary(), and `.keras` files both ways.

Tolerances: the History and evaluate rtol 1e-5 (float32 sums in another order than
TensorFlow's, through two epochs of Adam steps: Adam divides by sqrt(v), which carries those
last-bit differences into the weights); predictions of same-weight twins rtol 1e-6 and atol
1e-6 (float32 rounding, eps ~1.2e-7, of sums of terms of size ~1 in another order, through
three small matmuls: an output near zero keeps those terms' absolute error).
"""
import warnings

import numpy as np
import pytest

import keras
import minidl
from reference.twins import keras_twin
from tests.parity import assert_same_summary

RNG = np.random.default_rng(3)
N = 24
X = {"a": RNG.normal(size=(N, 3)).astype(np.float32),
     "b": RNG.normal(size=(N, 2)).astype(np.float32)}
Y = {"price": RNG.normal(size=(N, 1)).astype(np.float32), "kind": RNG.integers(0, 3, N)}
SAMPLE_WEIGHT = {"price": np.linspace(0.5, 1.5, N).astype(np.float32),
                 "kind": np.linspace(1.5, 0.5, N).astype(np.float32)}
COMPILE = dict(loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
               loss_weights={"kind": 2.0, "price": 0.5},
               metrics={"kind": ["accuracy"], "price": ["mae"]},
               weighted_metrics={"price": ["mse"]})
FIT = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
PREDICTED = dict(rtol=1e-6, atol=1e-6)


def two_in_two_out(keys=("a", "b")):
    """{a, b} -> concat -> h -> {"price": reg (1 unit), "kind": cls (3-way softmax)}."""
    minidl.backend.clear_session()
    a, b = minidl.Input((3,), name="a"), minidl.Input((2,), name="b")
    h = minidl.layers.Dense(4, activation="tanh", name="h")(
        minidl.layers.Concatenate(name="cat")([a, b]))
    reg = minidl.layers.Dense(1, name="reg")(h)
    cls = minidl.layers.Dense(3, activation="softmax", name="cls")(h)
    return minidl.Model(dict(zip(keys, (a, b))), {"price": reg, "kind": cls}, name="shop")


@pytest.fixture(scope="module")
def twins():
    """The minidl model, its Keras twin (built and compiled from it), and their weights."""
    model = two_in_two_out()
    model.compile(optimizer=minidl.optimizers.Adam(learning_rate=0.05), **COMPILE)
    twin = keras_twin(model)
    return model, twin, model.get_weights()


def restart(model, weights, **compile_kwargs):
    """The model back at `weights`, compiled afresh (a new Adam) with compile_kwargs, and a
    new Keras twin of it (Keras's compile() on a model compiled before keeps some of the old
    metrics' state, so each setting gets a twin of its own)."""
    model.set_weights(weights)
    model.compile(optimizer=minidl.optimizers.Adam(learning_rate=0.05), **compile_kwargs)
    return keras_twin(model)


def assert_same_history(ours, theirs):
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)


def message(run):
    """The text of the exception run() raises (Keras's, to compare minidl's with)."""
    with pytest.raises(Exception) as caught:
        run()
    return caught.type, str(caught.value)


def test_the_model_keeps_its_dicts_and_orders_its_outputs_by_key_as_keras(twins):
    model, twin, _ = twins
    assert [layer.name for layer in model.layers] == [layer.name for layer in twin.layers]
    assert model.output_names == twin.output_names == ["cls", "reg"]  # "kind" < "price"
    assert model.output_shape == twin.output_shape
    assert [t.node.layer.name for t in model.inputs] == [t.name for t in twin.inputs]
    assert model.get_config()["output_layers"] == twin.get_config()["output_layers"]
    assert model.get_config()["input_layers"] == twin.get_config()["input_layers"]
    ours, theirs = model(X), twin(X)
    assert list(ours) == list(theirs) == ["price", "kind"]  # the dict as given
    for key in theirs:
        np.testing.assert_allclose(ours[key], np.asarray(theirs[key]), **PREDICTED)


def test_fit_with_dicts_of_losses_weights_and_metrics_matches_keras(twins):
    model, _, weights = twins
    twin = restart(model, weights, **COMPILE)
    kwargs = dict(FIT, validation_split=0.25, sample_weight=SAMPLE_WEIGHT)
    theirs = twin.fit(X, Y, **kwargs).history
    ours = model.fit(X, Y, **kwargs).history
    assert "kind_accuracy" in theirs and "val_price_loss" in theirs  # named by the keys
    assert_same_history(ours, theirs)
    predicted, expected = model.predict(X, verbose=0), twin.predict(X, verbose=0)
    assert type(predicted) is dict and list(predicted) == list(expected) == ["price", "kind"]
    for key in expected:
        np.testing.assert_allclose(predicted[key], expected[key], **PREDICTED)
    on_batch = model.predict_on_batch(X)
    assert list(on_batch) == ["price", "kind"]
    np.testing.assert_allclose(on_batch["kind"], expected["kind"], **PREDICTED)
    as_dict = model.evaluate(X, Y, verbose=0, return_dict=True)
    keras_dict = twin.evaluate(X, Y, verbose=0, return_dict=True)
    assert list(as_dict) == list(keras_dict)
    np.testing.assert_allclose(list(as_dict.values()), list(keras_dict.values()), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0),
                               twin.evaluate(X, Y, verbose=0), rtol=1e-5)  # Keras's order
    assert model.metrics_names == twin.metrics_names
    for method in ("test_on_batch", "train_on_batch"):  # train last: it moves the weights
        ours_now = getattr(model, method)(X, Y, return_dict=True)
        theirs_now = getattr(twin, method)(X, Y, return_dict=True)
        assert list(ours_now) == list(theirs_now)
        np.testing.assert_allclose(list(ours_now.values()), list(theirs_now.values()),
                                   rtol=1e-5, err_msg=method)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_a_loss_dict_leaving_an_output_out_trains_only_the_other_as_keras(twins):
    model, _, weights = twins
    settings = dict(loss={"price": "mse"}, metrics={"kind": ["accuracy"]})
    twin = restart(model, weights, **settings)
    untouched = model.get_layer("cls").get_weights()  # no loss reaches them
    validation = ({"b": X["b"][:6], "a": X["a"][:6]},  # a dict's own order does not matter
                  {"kind": Y["kind"][:6], "price": Y["price"][:6]})
    theirs = twin.fit(X, Y, validation_data=validation, **FIT).history
    ours = model.fit(X, Y, validation_data=validation, **FIT).history
    assert sorted(theirs) == ["kind_accuracy", "loss", "val_kind_accuracy", "val_loss"]
    assert_same_history(ours, theirs)
    for ours, before in zip(model.get_layer("cls").get_weights(), untouched):
        np.testing.assert_array_equal(ours, before)
    # y may leave out an output with no loss and no metrics, as Keras's
    twin = restart(model, weights, loss={"price": "mse", "kind": None})
    y = {"price": Y["price"]}
    np.testing.assert_allclose(model.evaluate(X, y, verbose=0, return_dict=True)["loss"],
                               twin.evaluate(X, y, verbose=0, return_dict=True)["loss"],
                               rtol=1e-5)
    assert model.evaluate(X, y, verbose=0, return_dict=True).keys() == {"loss"}


def test_one_loss_for_every_output_and_loss_weights_as_a_list_in_key_order(twins):
    model, _, weights = twins
    y = {"price": Y["price"], "kind": np.eye(3, dtype=np.float32)[Y["kind"]]}
    for settings in (dict(loss="mse"),
                     dict(loss={"kind": "categorical_crossentropy", "price": "mse"},
                          loss_weights=[2.0, 0.5])):  # kind, price: the sorted keys
        twin = restart(model, weights, **settings)
        theirs = twin.fit(X, y, **FIT).history
        assert_same_history(model.fit(X, y, **FIT).history, theirs)
        assert model.metrics_names == twin.metrics_names  # the per-output losses' order


@pytest.mark.parametrize("settings, fit_kwargs", [
    (dict(loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"}), {}),  # layer names
    (dict(loss={"price": "mse", "colour": "mse"}), {}),
    (dict(loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
          loss_weights={"kind": 2.0}), {}),
    (dict(loss={"price": "mse", "kind": "sparse_categorical_crossentropy"},
          metrics={"reg": ["mae"]}), {}),
    (dict(loss={"price": "mse", "kind": "sparse_categorical_crossentropy"}),
     dict(y={"price": Y["price"]})),
    (dict(loss={"price": "mse", "kind": "sparse_categorical_crossentropy"}),
     dict(sample_weight={"price": SAMPLE_WEIGHT["price"]})),
], ids=["layer-names", "unknown-key", "loss-weights", "metrics-keys", "y-keys", "weight-keys"])
def test_keys_that_do_not_fit_the_outputs_get_keras_errors(twins, settings, fit_kwargs):
    model, _, weights = twins
    twin = restart(model, weights, **settings)
    kwargs = dict(dict(x=X, y=Y, epochs=1, verbose=0), **fit_kwargs)
    keras_type, keras_text = message(lambda: twin.fit(**kwargs))
    ours_type, ours_text = message(lambda: model.fit(**kwargs))
    assert ours_type is keras_type
    if "Invalid `metrics`" in keras_text:  # Keras puts its tree library's complaint first
        keras_text = keras_text[keras_text.index("Invalid `metrics`"):]
    assert ours_text == keras_text
    for ours, before in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(ours, before)


def test_summary_matches_keras(twins, capsys):
    model, twin, _ = twins
    assert_same_summary(model, twin, capsys)


def test_keras_files_keep_the_dicts_both_ways(twins, tmp_path):
    model, _, weights = twins
    twin = restart(model, weights, **COMPILE)
    model.save(tmp_path / "ours.keras")
    loaded = keras.saving.load_model(tmp_path / "ours.keras", compile=False)
    assert loaded.get_config()["output_layers"] == {"price": ["reg", 0, 0],
                                                    "kind": ["cls", 0, 0]}
    expected = loaded.predict(X, verbose=0)
    for key, value in model.predict(X, verbose=0).items():
        np.testing.assert_allclose(value, expected[key], **PREDICTED)
    twin.save(tmp_path / "theirs.keras")
    ours = minidl.models.load_model(tmp_path / "theirs.keras")
    assert ours.get_config()["output_layers"] == twin.get_config()["output_layers"]
    assert ours.get_config()["input_layers"] == twin.get_config()["input_layers"]
    predicted, expected = ours.predict(X, verbose=0), twin.predict(X, verbose=0)
    assert list(predicted) == list(expected)
    for key in expected:
        np.testing.assert_allclose(predicted[key], expected[key], **PREDICTED)
    assert ours.evaluate(X, Y, verbose=0, return_dict=True).keys() == \
        twin.evaluate(X, Y, verbose=0, return_dict=True).keys()  # the compile dicts came too


def other_outputs(structure):
    """x -> h -> reg, cls, given as a tuple, a list of one or a dict of one."""
    minidl.backend.clear_session()
    x = minidl.Input((3,), name="x")
    h = minidl.layers.Dense(4, name="h")(x)
    reg, cls = minidl.layers.Dense(1, name="reg")(h), minidl.layers.Dense(2, name="cls")(h)
    outputs = {"tuple": (reg, cls), "list-of-one": [reg], "dict-of-one": {"p": reg}}[structure]
    return minidl.Model(x, outputs)


def test_a_tuple_a_list_of_one_and_a_dict_of_one_come_back_as_in_keras():
    for structure in ("tuple", "list-of-one", "dict-of-one"):
        model = other_outputs(structure)
        twin = keras_twin(model)
        x = X["a"][:5]
        ours, theirs = model.predict(x, verbose=0), twin.predict(x, verbose=0)
        assert type(ours) is type(theirs), structure  # a list of one: one array, as Keras's
        assert type(model(x)) is type(np.asarray(twin(x)) if not isinstance(
            twin(x), (tuple, dict)) else twin(x)), structure
        assert model.output_shape == twin.output_shape, structure
        assert model.get_config()["output_layers"] == twin.get_config()["output_layers"]
        for a, b in zip(minidl.tree.flatten(ours), minidl.tree.flatten(theirs)):
            np.testing.assert_allclose(a, b, **PREDICTED)


def test_dict_inputs_go_by_their_keys_even_when_the_inputs_are_named_otherwise():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = two_in_two_out(keys=("x1", "x2"))
    assert ["Received key 'x1'" in str(w.message) for w in caught] == [True, False]
    twin = keras_twin(model)
    data = {"x2": X["b"], "x1": X["a"]}
    predicted, expected = model.predict(data, verbose=0), twin.predict(data, verbose=0)
    for key in expected:
        np.testing.assert_allclose(predicted[key], expected[key], **PREDICTED)
    keras_type, keras_text = message(lambda: twin.predict(X, verbose=0))  # the Input names
    assert message(lambda: model.predict(X, verbose=0)) == (keras_type, keras_text)
