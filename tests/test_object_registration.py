"""Keras's custom-object registry: register_keras_serializable, get_custom_objects,
custom_object_scope, get_registered_name/object and serialize/deserialize_keras_object.

What is checked, each against live Keras 3: a model with a registered layer, activation, loss
and metric of one's own saves and loads without custom_objects, its config.json naming them
as Keras's twin file does ("minidl_tests>MyLayer"), and files move both ways between minidl
and Keras when each side registers its twin under the same name; scopes nest, replace and
restore (also on an error) as Keras's; the decorator's and the lookups' behaviour and errors
are Keras's word for word; serialize_keras_object writes Keras's dict for the twin object and
deserialize_keras_object turns it back into an equal object. Predictions are compared to
rtol 1e-5 (float32 matmuls summed in another order, as tests/test_saving.py states).
"""
import json
import zipfile

import numpy as np
import pytest

import keras
import minidl
from minidl import ops, saving, utils
from minidl.models import load_model

PACKAGE = "minidl_tests"  # one package name for minidl's classes and their Keras twins
X = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)  # (N,D) = (6,3)
Y = np.random.default_rng(2).normal(size=(6, 2)).astype(np.float32)  # (N,U) = (6,2)
REGISTRY_NAMES = ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
                  "register_keras_serializable", "get_registered_name",
                  "get_registered_object", "serialize_keras_object",
                  "deserialize_keras_object"]


# -- minidl's objects of one's own, registered ------------------------------------------------
@saving.register_keras_serializable(package=PACKAGE)
class MyLayer(minidl.layers.Layer):
    """y = x @ w, w of shape (D, units), ones at first."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], self.units), "ones", "w")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        return x @ self.w.value, x  # (N,D)@(D,U) -> (N,U)

    def backward(self, dy, x, need_dx=True):
        return dy @ self.w.value.T, {self.w: x.T @ dy}  # (N,U)@(U,D), (D,N)@(N,U)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@saving.register_keras_serializable(package=PACKAGE)
def double_relu(x):
    return 2 * np.maximum(x, 0)


double_relu.backward = lambda da, z, a: da * 2 * (z > 0)  # minidl's activations carry it


@saving.register_keras_serializable(package=PACKAGE)
def half_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1) / 2


@saving.register_keras_serializable(package=PACKAGE)
class MyMSE(minidl.metrics.MeanSquaredError):
    pass


def minidl_model():
    model = minidl.Sequential([minidl.Input((3,), name="x"), MyLayer(2, name="mine"),
                               minidl.layers.Dense(2, activation=double_relu, name="dense")],
                              name="registered")
    model.compile(optimizer="sgd", loss=half_squared_error, metrics=[MyMSE(name="my_mse")])
    return model


# -- their Keras twins: the same names, registered in Keras ------------------------------------
def keras_twins():
    """The Keras classes and functions, registered under the names minidl's have."""
    @keras.saving.register_keras_serializable(package=PACKAGE)
    class MyLayer(keras.layers.Layer):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones",
                                     name="w")

        def call(self, x):
            return x @ self.w

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @keras.saving.register_keras_serializable(package=PACKAGE)
    def double_relu(x):
        return 2 * keras.ops.relu(x)

    @keras.saving.register_keras_serializable(package=PACKAGE)
    def half_squared_error(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=-1) / 2

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class MyMSE(keras.metrics.MeanSquaredError):
        pass

    return MyLayer, double_relu, half_squared_error, MyMSE


KerasMyLayer, keras_double_relu, keras_half_squared_error, KerasMyMSE = keras_twins()


def keras_model():
    model = keras.Sequential([keras.Input((3,), name="x"), KerasMyLayer(2, name="mine"),
                              keras.layers.Dense(2, activation=keras_double_relu, name="dense")],
                             name="registered")
    model.compile(optimizer="sgd", loss=keras_half_squared_error,
                  metrics=[KerasMyMSE(name="my_mse")])
    return model


def config_json(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def comparable(config):
    """As tests/test_saving.py: initializers' details and object ids are not the model."""
    if isinstance(config, dict):
        return {key: ("init" if key.endswith("_initializer") else comparable(value))
                for key, value in config.items() if key != "shared_object_id"}
    if isinstance(config, list):
        return [comparable(value) for value in config]
    return config


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=1e-5, atol=1e-6)


# -- files ------------------------------------------------------------------------------------
def test_registered_objects_save_and_load_by_name_as_keras_writes_them(tmp_path):
    """No custom_objects anywhere: the registry finds the layer, activation, loss, metric."""
    ours, theirs = minidl_model(), keras_model()
    ours.set_weights(theirs.get_weights())
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    config, config_k = config_json(tmp_path / "ours.keras"), config_json(tmp_path / "theirs.keras")
    layer = config["config"]["layers"][1]
    assert layer["registered_name"] == f"{PACKAGE}>MyLayer" and layer["module"] == __name__
    assert comparable(config["config"]["layers"]) == comparable(config_k["config"]["layers"])
    assert config["compile_config"]["loss"] == config_k["compile_config"]["loss"] == {
        "module": "builtins", "class_name": "function",
        "config": f"{PACKAGE}>half_squared_error", "registered_name": "function"}
    assert config["compile_config"]["metrics"] == config_k["compile_config"]["metrics"]

    expected = theirs.predict(X, verbose=0)
    for loaded in (load_model(tmp_path / "ours.keras"), load_model(tmp_path / "theirs.keras")):
        assert isinstance(loaded.layers[0], MyLayer)
        assert loaded.layers[1].activation is double_relu and isinstance(
            loaded.compiled_metrics.identifiers[0], MyMSE)
        close(loaded.predict(X, verbose=0), expected)
        close(loaded.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0))
    in_keras = keras.models.load_model(tmp_path / "ours.keras")  # minidl's file in Keras
    assert isinstance(in_keras.layers[0], KerasMyLayer)
    close(in_keras.predict(X, verbose=0), expected)
    close(in_keras.evaluate(X, Y, verbose=0), theirs.evaluate(X, Y, verbose=0))


def test_an_unregistered_class_is_written_by_its_name_and_found_in_custom_objects(tmp_path):
    class Plain(MyLayer):  # not registered: Keras writes its plain name
        pass

    class KerasPlain(KerasMyLayer):
        pass

    KerasPlain.__name__ = "Plain"
    ours = minidl.Sequential([minidl.Input((3,)), Plain(2, name="p")])
    theirs = keras.Sequential([keras.Input((3,)), KerasPlain(2, name="p")])
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    layer, layer_k = (config_json(tmp_path / f"{name}.keras")["config"]["layers"][1]
                      for name in ("ours", "theirs"))
    assert (layer["registered_name"], layer["module"]) == (
        layer_k["registered_name"], layer_k["module"]) == ("Plain", __name__)
    with pytest.raises(ValueError, match="type Plain, which minidl does not support"):
        load_model(tmp_path / "ours.keras")
    assert isinstance(load_model(tmp_path / "theirs.keras",
                                 custom_objects={"Plain": Plain}).layers[0], Plain)
    with saving.custom_object_scope({"Plain": Plain}):  # the same through a scope
        assert isinstance(load_model(tmp_path / "ours.keras").layers[0], Plain)
    saving.get_custom_objects()["Plain"] = Plain  # Keras documents adding to the dict directly
    try:
        assert isinstance(load_model(tmp_path / "ours.keras").layers[0], Plain)
    finally:
        del saving.get_custom_objects()["Plain"]
    with pytest.raises(ValueError, match="type Plain"):  # and it is gone again
        load_model(tmp_path / "ours.keras")


# -- the registry, beside Keras's --------------------------------------------------------------
def test_both_modules_have_keras_s_names_and_the_same_objects():
    for name in REGISTRY_NAMES:
        assert hasattr(keras.saving, name) and hasattr(keras.utils, name)
        assert getattr(keras.saving, name) is getattr(keras.utils, name)
        assert getattr(saving, name) is getattr(utils, name)


def scope_trace(api, raise_inside):
    """What get_registered_object sees through nested scopes, an exit and an error."""
    def f():
        pass

    def g():
        pass

    def h():
        pass

    names = {f: "f", g: "g", h: "h", None: None}
    seen = []

    def look():
        seen.append(tuple(names[api.get_registered_object(key)] for key in "abc"))

    look()
    with api.custom_object_scope({"a": f}) as scope:
        assert isinstance(scope, api.CustomObjectScope)
        look()
        with api.CustomObjectScope({"b": g}):  # replaces the outer scope's dict
            look()
        look()
    look()
    with pytest.raises(RuntimeError):
        with api.custom_object_scope({"c": h}):
            look()
            raise_inside()
    look()
    assert "a" not in api.get_custom_objects()  # a scope's objects are not global ones
    return seen


def test_scopes_nest_replace_and_restore_even_on_error_as_keras():
    def fail():
        raise RuntimeError("inside the scope")

    ours, theirs = scope_trace(saving, fail), scope_trace(keras.saving, fail)
    assert ours == theirs
    assert ours[2] == (None, "g", None)  # the inner scope hides the outer one's objects


def test_lookups_and_the_decorator_behave_as_keras():
    """The same calls on both registries give the same answers (classes compared by name)."""
    def run(api, layer_base):
        class Local(layer_base):
            pass

        class NoConfig:
            pass

        def fn():
            pass

        name = lambda obj: getattr(obj, "__name__", obj)  # noqa: E731
        results = [api.get_registered_name(Local), api.get_registered_name(fn)]
        api.register_keras_serializable(PACKAGE, name="Renamed")(Local)
        api.register_keras_serializable()(fn)  # package "Custom", its own name
        api.register_keras_serializable(PACKAGE, name="a>b")(fn)  # Keras takes a '>' too
        results += [api.get_registered_name(Local), api.get_registered_name(fn),
                    name(api.get_registered_object(f"{PACKAGE}>Renamed")),
                    name(api.get_registered_object("Custom>fn")),
                    name(api.get_registered_object(f"{PACKAGE}>a>b")),
                    api.get_registered_object("missing"),
                    api.get_registered_object("k", custom_objects={"k": 1},
                                              module_objects={"k": 2}),
                    api.get_registered_object("k", module_objects={"k": 2})]
        with pytest.raises(ValueError) as error:
            api.register_keras_serializable(PACKAGE)(NoConfig)
        results.append(str(error.value))
        for key in ("Renamed", "a>b"):
            del api.get_custom_objects()[f"{PACKAGE}>{key}"]
        del api.get_custom_objects()["Custom>fn"]
        return results

    ours, theirs = run(saving, minidl.layers.Layer), run(keras.saving, keras.layers.Layer)
    assert ours == theirs
    assert ours[-1] == "Cannot register a class that does not have a get_config() method."


# -- serialize_keras_object / deserialize_keras_object ------------------------------------------
# Keras's options minidl does not have, at the values that mean "off": Keras writes them, minidl
# leaves them out (as tests/test_legacy_h5.py's KNOWN), and reading Keras's dict accepts them.
KERAS_ONLY = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
              "loss_scale_factor": None, "gradient_accumulation_steps": None,
              "label_smoothing": 0.0, "axis": -1}


def without_keras_only(ours, theirs):
    """Keras's dict less the keys minidl lacks, each checked to be at its "off" value."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in set(theirs) - set(ours):
            assert key in KERAS_ONLY and theirs[key] == KERAS_ONLY[key], key
        return {key: without_keras_only(ours[key], theirs[key]) for key in ours
                if key in theirs}
    return theirs


def twin_pairs():
    m, k = minidl, keras
    return [
        (m.layers.Dense(3, activation="relu", name="d", kernel_regularizer=m.regularizers.L2(0.1),
                        kernel_constraint=m.constraints.MaxNorm(2.0)),
         k.layers.Dense(3, activation="relu", name="d", kernel_regularizer=k.regularizers.L2(0.1),
                        kernel_constraint=k.constraints.MaxNorm(2.0))),
        (m.layers.Dense(2, activation=double_relu, name="mine"),
         k.layers.Dense(2, activation=keras_double_relu, name="mine")),
        (MyLayer(3, name="m"), KerasMyLayer(3, name="m")),
        (m.initializers.GlorotUniform(seed=1), k.initializers.GlorotUniform(seed=1)),
        (m.initializers.Constant(2.0), k.initializers.Constant(2.0)),
        (m.initializers.RandomNormal(0.5, 2.0, seed=3), k.initializers.RandomNormal(0.5, 2.0, seed=3)),
        (m.regularizers.L1L2(0.1, 0.2), k.regularizers.L1L2(0.1, 0.2)),
        (m.activations.relu, k.activations.relu),
        (m.activations.softmax, k.activations.softmax),
        (double_relu, keras_double_relu),
        (m.losses.mean_squared_error, k.losses.mean_squared_error),
        (half_squared_error, keras_half_squared_error),
        (m.losses.MeanSquaredError(), k.losses.MeanSquaredError()),
        (m.losses.CategoricalCrossentropy(from_logits=True),
         k.losses.CategoricalCrossentropy(from_logits=True)),
        (m.losses.BinaryCrossentropy(from_logits=True), k.losses.BinaryCrossentropy(from_logits=True)),
        (m.optimizers.Adam(0.01, name="adam"), k.optimizers.Adam(0.01, name="adam")),
        (m.optimizers.SGD(0.1, momentum=0.9, clipnorm=1.0, name="sgd"),
         k.optimizers.SGD(0.1, momentum=0.9, clipnorm=1.0, name="sgd")),
        (m.metrics.AUC(name="auc"), k.metrics.AUC(name="auc")),
        (MyMSE(name="mm"), KerasMyMSE(name="mm")),
        (m.constraints.MaxNorm(3), k.constraints.MaxNorm(3)),
        ([1, (2.5, "a", None), {"k": np.float32(1.5), "b": True}, np.array([1.0, 2.0], np.float32)],
         [1, (2.5, "a", None), {"k": np.float32(1.5), "b": True}, np.array([1.0, 2.0], np.float32)]),
    ]


def test_serialize_writes_keras_s_dict_and_deserialize_reads_it_back():
    for ours, theirs in twin_pairs():
        written, written_k = (saving.serialize_keras_object(ours),
                              keras.saving.serialize_keras_object(theirs))
        assert written == without_keras_only(written, written_k), type(ours)
        for config in (written, written_k):  # minidl's dict and Keras's read back
            back = saving.deserialize_keras_object(config)
            if callable(ours) and not hasattr(ours, "get_config"):
                assert back is ours  # a function is itself, found by its (registered) name
            else:
                assert type(back) is type(ours) or isinstance(ours, (list, tuple))
                assert saving.serialize_keras_object(back) == (
                    written if not isinstance(ours, list) else
                    [1, [2.5, "a", None], {"k": 1.5, "b": True}, written[3]])
    back = saving.deserialize_keras_object(saving.serialize_keras_object(twin_pairs()[0][0]))
    assert back.kernel_regularizer.l2 == pytest.approx(0.1) and back.units == 3


def test_layers_serialize_and_deserialize_as_keras_s():
    """keras.layers.serialize/deserialize, as a layer of one's own that holds another writes
    it into its config: Keras's dict, read back from either framework's, and Keras's error
    for a config that is no layer."""
    def dense(framework):
        return framework.layers.Dense(3, activation="relu", name="inner",
                                      kernel_regularizer=framework.regularizers.L2(0.1))

    written, written_k = minidl.layers.serialize(dense(minidl)), keras.layers.serialize(
        dense(keras))
    assert written == without_keras_only(written, written_k)
    for config in (written, written_k):
        back = minidl.layers.deserialize(config)
        assert type(back) is minidl.layers.Dense and back.units == 3
        assert minidl.layers.serialize(back) == written
    regularizer = keras.regularizers.serialize(keras.regularizers.L2(0.1))
    with pytest.raises(ValueError) as theirs:
        keras.layers.deserialize(regularizer)
    with pytest.raises(ValueError) as ours:
        minidl.layers.deserialize(regularizer)
    assert str(ours.value) == str(theirs.value)


def test_a_built_layer_deserializes_built_with_the_same_config():
    layer = minidl.layers.Dense(4, name="d")
    layer(minidl.Input((3,)))
    layer_k = keras.layers.Dense(4, name="d")
    layer_k.build((None, 3))
    written = saving.serialize_keras_object(layer)
    as_json = json.loads(json.dumps(keras.saving.serialize_keras_object(layer_k)))  # (None, 3)
    assert written["build_config"] == as_json["build_config"] == {"input_shape": [None, 3]}
    back = saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer_k))
    assert back.built and [w.shape for w in back.get_weights()] == [(3, 4), (4,)]


def keras_error(call):
    with pytest.raises(Exception) as error:
        call()
    return type(error.value), str(error.value)


@pytest.mark.parametrize("config", [
    {"module": None, "class_name": "Nowhere", "config": {}, "registered_name": "pkg>Nowhere"},
    {"module": "builtins", "class_name": "function", "config": "no_such_function",
     "registered_name": "function"},
    {"class_name": "__lambda__", "config": {"value": ["code", None, None]}},
    {"module": "keras.layers", "class_name": "Dense", "config": 3, "registered_name": None},
    {"module": "builtins", "class_name": "function", "config": 3, "registered_name": "function"},
], ids=["unknown-class", "unknown-function", "lambda", "config-not-a-dict", "name-not-a-str"])
def test_deserialize_refuses_what_it_cannot_find_with_keras_s_error(config):
    assert keras_error(lambda: saving.deserialize_keras_object(config)) == keras_error(
        lambda: keras.saving.deserialize_keras_object(config))


def test_a_lambda_is_refused_even_outside_safe_mode():
    """A deviation: Keras runs a serialized lambda's code with safe_mode=False; minidl never
    runs code from a config, and says so."""
    config = {"class_name": "__lambda__", "config": {"value": ["code", None, None]}}
    with pytest.raises(ValueError, match="minidl never runs code from a config.*"
                                         "Received: safe_mode=False"):
        saving.deserialize_keras_object(config, safe_mode=False)


def test_custom_objects_and_scopes_reach_deserialize():
    class Scaled(minidl.regularizers.L2):
        pass

    config = {"module": __name__, "class_name": "Scaled", "config": {"l2": 0.5},
              "registered_name": "Scaled"}
    assert type(saving.deserialize_keras_object(config, {"Scaled": Scaled})) is Scaled
    with saving.custom_object_scope({"Scaled": Scaled}):
        assert type(saving.deserialize_keras_object(config)) is Scaled
    with pytest.raises(TypeError, match="Could not locate class 'Scaled'"):
        saving.deserialize_keras_object(config)  # the scope has ended
    string = saving.deserialize_keras_object(f"{PACKAGE}>double_relu")
    assert string is double_relu  # a bare name of a registered function, as Keras's
