"""Saving in Keras 3's formats: files move both ways between minidl and Keras.

What is checked: minidl's files open in Keras and predict the same numbers (and the other way
round); the config.json and HDF5 layout are the ones Keras itself writes for the same model;
optimizer state survives the trip (one more training step agrees); bad files give clear errors
and leave the model untouched; a crash mid-save leaves the old file; h5py stays optional.
"""
import json
import os
import sys
import zipfile

import numpy as np
import pytest

import keras
import minidl
from minidl import saving
from minidl.layers import Activation, Dense, Input
from minidl.models import load_model

RTOL, ATOL = 1e-5, 1e-6
X = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)  # (N,D) = (7,4)
LABELS = np.array([0, 1, 2, 0, 1, 2, 0])


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol)


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)


# Architectures as (class, kwargs) pairs, so each test can build them in minidl or in Keras.
STACKS = {
    "relu-softmax": [(Dense, dict(units=5, activation="relu")),
                     (Dense, dict(units=3, activation="softmax"))],
    "sigmoid-linear": [(Dense, dict(units=6, activation="sigmoid")),
                       (Dense, dict(units=1, activation="linear"))],
    "activation-layers": [(Dense, dict(units=5)), (Activation, dict(activation="tanh")),
                          (Dense, dict(units=3, use_bias=False)),
                          (Activation, dict(activation="softmax"))],
}
KERAS_CLASSES = {Dense: keras.layers.Dense, Activation: keras.layers.Activation}


def minidl_model(stack, functional=False):
    layers = [cls(name=f"layer_{i}", **kwargs) for i, (cls, kwargs) in enumerate(STACKS[stack])]
    if functional:
        x = y = Input((4,), name="features")
        for layer in layers:
            y = layer(y)
        return minidl.Model(x, y, name="chain")
    return minidl.Sequential([Input((4,), name="features")] + layers, name="stack")


def keras_model(stack, functional=False):
    layers = [KERAS_CLASSES[cls](name=f"layer_{i}", **kwargs)
              for i, (cls, kwargs) in enumerate(STACKS[stack])]
    if functional:
        x = y = keras.Input((4,), name="features")
        for layer in layers:
            y = layer(y)
        return keras.Model(x, y, name="chain")
    return keras.Sequential([keras.Input((4,), name="features")] + layers, name="stack")


def assert_same_model(ours, theirs):
    """Same layer names, same weights, same predictions."""
    assert ours.name == theirs.name
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    for w, w0 in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(w, w0)
    close(ours.predict(X, verbose=0), theirs.predict(X, verbose=0))


# -- minidl -> Keras --------------------------------------------------------------------------
@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_minidl_model_saved_as_keras_loads_in_keras(tmp_path, stack, functional):
    model = minidl_model(stack, functional)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded).__name__ == ("Functional" if functional else "Sequential")
    assert_same_model(model, loaded)


def test_keras_reads_the_minidl_archive_as_its_own(tmp_path):
    """Same members, metadata keys and config.json as Keras writes (initializer details aside)."""
    minidl_model("activation-layers").save(tmp_path / "ours.keras")
    keras_model("activation-layers").save(tmp_path / "theirs.keras")

    def read(name):
        with zipfile.ZipFile(tmp_path / name) as zf:
            members = [(info.filename, info.compress_type) for info in zf.infolist()]
            return members, json.loads(zf.read("metadata.json")), json.loads(zf.read("config.json"))

    def comparable(config):  # drop what is not part of the model: object ids, seeds
        if isinstance(config, dict):
            return {key: ("init" if key.endswith("_initializer") else comparable(value))
                    for key, value in config.items() if key != "shared_object_id"}
        if isinstance(config, list):
            return [comparable(value) for value in config]
        return config

    (members, metadata, config), (members_k, metadata_k, config_k) = read("ours.keras"), read(
        "theirs.keras")
    assert members == members_k == [("metadata.json", zipfile.ZIP_STORED),
                                    ("config.json", zipfile.ZIP_STORED),
                                    ("model.weights.h5", zipfile.ZIP_STORED)]
    assert metadata["keras_version"] == metadata_k["keras_version"] == keras.__version__
    assert len(metadata["date_saved"]) == len(metadata_k["date_saved"])  # 2025-01-31@09:30:00
    assert comparable(config) == comparable(config_k)


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_weights_h5_layout_matches_keras(tmp_path, functional):
    import h5py
    minidl_model("activation-layers", functional).save_weights(tmp_path / "ours.weights.h5")
    keras_model("activation-layers", functional).save_weights(tmp_path / "theirs.weights.h5")

    def layout(name):
        entries = {}
        with h5py.File(tmp_path / name, "r") as h5:
            h5.visititems(lambda path, obj: entries.__setitem__(
                path, (getattr(obj, "shape", None), dict(obj.attrs))))
        return entries

    assert layout("ours.weights.h5") == layout("theirs.weights.h5")


@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "rmsprop_centered"])
def test_a_trained_minidl_model_continues_training_in_keras(tmp_path, optimizer):
    """Optimizer slots land in Keras's order: one more step gives the same weights."""
    make = {"adam": lambda: minidl.optimizers.Adam(learning_rate=0.01),
            "sgd_momentum": lambda: minidl.optimizers.SGD(learning_rate=0.1, momentum=0.9),
            "rmsprop_centered": lambda: minidl.optimizers.RMSprop(momentum=0.5, centered=True)}
    model = minidl_model("relu-softmax")
    model.compile(optimizer=make[optimizer](), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, LABELS, batch_size=4, epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    assert int(loaded.optimizer.iterations.numpy()) == model.optimizer.iterations == 4
    for theirs, ours in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(theirs), ours)
    model.train_on_batch(X, LABELS)
    loaded.train_on_batch(X, LABELS)
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        close(ours, theirs)


def test_minidl_weights_h5_load_into_keras(tmp_path):
    model = minidl_model("sigmoid-linear", functional=True)
    model.save_weights(tmp_path / "model.weights.h5")
    twin = keras_model("sigmoid-linear", functional=True)
    twin.load_weights(tmp_path / "model.weights.h5")
    assert_same_model(model, twin)


# -- Keras -> minidl --------------------------------------------------------------------------
@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("stack", sorted(STACKS))
def test_a_keras_file_loads_in_minidl(tmp_path, stack, functional):
    original = keras_model(stack, functional)
    original.save(tmp_path / "model.keras")
    model = load_model(tmp_path / "model.keras")
    assert type(model) is (minidl.models.Functional if functional else minidl.Sequential)
    assert not model.compiled
    assert_same_model(model, original)


def test_a_trained_keras_model_continues_training_in_minidl(tmp_path):
    original = keras_model("relu-softmax")
    original.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                     loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    original.fit(X, LABELS, batch_size=4, epochs=2, verbose=0)
    original.save(tmp_path / "model.keras")
    model = load_model(tmp_path / "model.keras")
    assert model.compiled and isinstance(model.optimizer, minidl.optimizers.Adam)
    assert model.optimizer.learning_rate == np.float32(0.01)
    assert model.optimizer.iterations == 4
    for ours, theirs in zip(model.optimizer.variables, original.optimizer.variables):
        np.testing.assert_array_equal(ours, np.asarray(theirs))
    assert_same_model(model, original)
    model.train_on_batch(X, LABELS)
    original.train_on_batch(X, LABELS)
    for ours, theirs in zip(model.get_weights(), original.get_weights()):
        close(ours, theirs)
    assert not load_model(tmp_path / "model.keras", compile=False).compiled


def test_keras_weights_h5_load_into_minidl(tmp_path):
    original = keras_model("activation-layers")
    original.save_weights(tmp_path / "model.weights.h5")
    model = minidl_model("activation-layers")
    model.load_weights(tmp_path / "model.weights.h5")
    assert_same_model(model, original)
    original.save(tmp_path / "model.keras")  # load_weights also reads a .keras file's weights
    other = minidl_model("activation-layers")
    other.load_weights(tmp_path / "model.keras")
    assert_same_model(other, original)


def test_an_unsupported_layer_is_named_with_the_supported_ones(tmp_path):
    keras.Sequential([keras.Input((6, 2)), keras.layers.AdaptiveAveragePooling1D(3, name="c")]
                     ).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"'c' has type AdaptiveAveragePooling1D.*minidl can "
                                         r"load models "
                                         r"made of \[.*'Dense'"):
        load_model(tmp_path / "m.keras")


def test_an_unsupported_activation_is_named(tmp_path):
    """minidl has every built-in activation of Keras: a function of the user's own, which
    Keras saves by its registered name, is one it cannot know (without custom_objects)."""
    @keras.saving.register_keras_serializable(package="lab")
    def doubled_tanh(x):
        return 2 * keras.ops.tanh(x)

    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=doubled_tanh,
                                                            name="g")]).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="Layer 'g'.*doubled_tanh"):
        load_model(tmp_path / "m.keras")


def test_graphs_with_several_inputs_and_outputs_go_both_ways(tmp_path):
    a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    shared = keras.layers.Dense(3, activation="tanh", name="shared")
    outputs = [keras.layers.Dense(2, name="first")(shared(a)),
               keras.layers.Dense(1, activation="sigmoid", name="second")(shared(
                   keras.layers.Dense(4, name="widen")(b)))]  # shared: called twice
    original = keras.Model([a, b], outputs, name="graph")
    original.compile(optimizer="adam", loss=["mse", "binary_crossentropy"],
                     loss_weights=[1.0, 0.5], metrics=[["mae"], ["accuracy"]])
    original.save(tmp_path / "keras.keras")
    model = load_model(tmp_path / "keras.keras")
    assert [layer.name for layer in model.layers] == [layer.name for layer in original.layers]
    x = [X, np.random.default_rng(2).normal(size=(len(X), 2)).astype(np.float32)]
    for ours, theirs in zip(model.predict(x, verbose=0), original.predict(x, verbose=0)):
        close(ours, theirs)
    model.save(tmp_path / "minidl.keras")
    back = keras.models.load_model(tmp_path / "minidl.keras")
    for ours, theirs in zip(back.predict(x, verbose=0), original.predict(x, verbose=0)):
        close(ours, theirs)
    assert back.get_layer("shared").get_config()["units"] == 3


def test_regularizers_load_with_the_model_and_count_as_keras_counts_them(tmp_path):
    original = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
        3, kernel_regularizer="l2", bias_regularizer=keras.regularizers.L1(0.02))])
    original.save(tmp_path / "m.keras")
    model = load_model(tmp_path / "m.keras")
    close(model.predict(X, verbose=0), original.predict(X, verbose=0))
    close(model.losses, [float(v) for v in original.losses])


# -- bad files, bad calls --------------------------------------------------------------------
def corrupt_copies(tmp_path, good):
    """A copy cut in half and a file of random bytes of the same size."""
    data = good.read_bytes()
    truncated = tmp_path / f"truncated{''.join(good.suffixes)}"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / f"garbage{''.join(good.suffixes)}"
    garbage.write_bytes(np.random.default_rng(1).bytes(len(data)))
    return [truncated, garbage]


def test_truncated_and_corrupt_keras_files_give_clear_errors(tmp_path):
    model = minidl_model("relu-softmax")
    model.save(tmp_path / "good.keras")
    before = snapshot(model)
    for path in corrupt_copies(tmp_path, tmp_path / "good.keras"):
        with pytest.raises(ValueError, match="not a valid `.keras` file"):
            load_model(path)
        with pytest.raises(ValueError, match="not a valid `.keras` file"):
            model.load_weights(path)
    no_weights = tmp_path / "no_weights.keras"
    with zipfile.ZipFile(no_weights, "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(ValueError, match="has no model.weights.h5"):
        load_model(no_weights)
    bad_config = tmp_path / "bad_config.keras"
    with zipfile.ZipFile(tmp_path / "good.keras") as src, zipfile.ZipFile(bad_config, "w") as zf:
        zf.writestr("config.json", '{"class_name": "Sequential"}')
        zf.writestr("model.weights.h5", src.read("model.weights.h5"))
    with pytest.raises(ValueError, match="config.json is not a valid Keras model config"):
        load_model(bad_config)
    assert_unchanged(model, before)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")


def test_truncated_corrupt_and_mismatched_weights_leave_the_model_untouched(tmp_path):
    model = minidl_model("relu-softmax")
    model.save_weights(tmp_path / "good.weights.h5")
    model.set_weights([w + 1 for w in model.get_weights()])
    before = snapshot(model)
    for path in corrupt_copies(tmp_path, tmp_path / "good.weights.h5"):
        with pytest.raises(ValueError, match="not a valid HDF5 weights file"):
            model.load_weights(path)
    # Same first layer, different second: nothing may be assigned, not even the first layer.
    other = minidl.Sequential([Input((4,)), Dense(5, activation="relu"), Dense(2)])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(ValueError, match=r"has shape \(5, 3\).*holds shape \(5, 2\)"):
        model.load_weights(tmp_path / "other.weights.h5")
    deeper = minidl.Sequential([Input((4,)), Dense(5), Dense(3), Dense(3)])
    deeper.save_weights(tmp_path / "deeper.weights.h5")
    with pytest.raises(ValueError, match=r"layers the model does not have: \['layers/dense_2'\]"):
        model.load_weights(tmp_path / "deeper.weights.h5")
    assert_unchanged(model, before)


def test_links_inside_a_weights_file_are_refused(tmp_path):
    import h5py
    model = minidl_model("relu-softmax")
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "a") as h5:
        del h5["layers/dense/vars/0"]  # point the kernel at a file elsewhere on disk
        h5["layers/dense/vars/0"] = h5py.ExternalLink("/elsewhere.h5", "/secret")
    before = snapshot(model)
    with pytest.raises(ValueError, match="Not allowed: the HDF5 file links"):
        model.load_weights(tmp_path / "m.weights.h5")
    assert_unchanged(model, before)


def test_save_and_load_check_their_arguments(tmp_path):
    model = minidl_model("relu-softmax")
    with pytest.raises(ValueError, match=r"Invalid filepath extension for saving.*"
                                         r"Received: filepath=.*m\.txt"):
        model.save(tmp_path / "m.txt")  # `.h5` is the legacy format: test_legacy_h5.py
    with pytest.raises(ValueError, match=r"`.weights.npz` or `.weights.h5`"):
        model.save_weights(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="File format not supported"):
        load_model(tmp_path / "m.txt")
    unbuilt = minidl.Sequential([Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.save(tmp_path / "m.keras")


def test_minidl_round_trip_keeps_names_weights_and_compile_settings(tmp_path):
    model = minidl_model("activation-layers", functional=True)
    model.compile(optimizer=minidl.optimizers.SGD(learning_rate=0.05, momentum=0.5),
                  loss=minidl.losses.CategoricalCrossentropy(from_logits=True), metrics=["mae"])
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    assert_same_model(loaded, model)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.loss.from_logits and loaded.compiled_metrics.identifiers == ["mae"]


# -- atomic writes, optional h5py --------------------------------------------------------------
@pytest.mark.parametrize("name", ["model.keras", "model.weights.h5"])
def test_a_crash_mid_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, name):
    model = minidl_model("relu-softmax")
    save = model.save if name.endswith(".keras") else model.save_weights
    path = tmp_path / name
    save(path)
    old = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])
    seen_partial = []

    def write_one_layer_then_crash(h5, model):
        h5.create_group("layers/dense/vars")["0"] = model.layers[0].kernel.value
        seen_partial.extend(os.listdir(tmp_path))  # the half-written temporary file exists
        raise OSError("No space left on device")

    monkeypatch.setattr(saving.h5, "write_weights", write_one_layer_then_crash)
    with pytest.raises(OSError, match="No space left"):
        save(path)
    assert len(seen_partial) == 2
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == [name]
    with pytest.raises(OSError):
        save(tmp_path / f"new_{name}")  # a first save that crashes leaves nothing behind
    assert os.listdir(tmp_path) == [name]


def test_without_h5py_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    model = minidl_model("relu-softmax")
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` fail
    calls = [lambda: model.save(tmp_path / "n.keras"),
             lambda: model.save_weights(tmp_path / "n.weights.h5"),
             lambda: model.load_weights(tmp_path / "m.weights.h5"),
             lambda: load_model(tmp_path / "m.keras")]
    for call in calls:
        with pytest.raises(ImportError, match=r"pip install h5py.*pip install minidl\[h5\]"):
            call()
    model.save_weights(tmp_path / "m.weights.npz")  # the NumPy format needs no h5py
    model.load_weights(tmp_path / "m.weights.npz")
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "m.weights.h5", "m.weights.npz"]


def test_a_sequential_inside_a_functional_model_loads_from_keras(tmp_path):
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, name="in_dense")],
                             name="inner")
    original = keras.Model([a, b], inner(keras.layers.Concatenate()([a, b])))
    original.save(tmp_path / "nested.keras")
    model = load_model(tmp_path / "nested.keras")
    x = [X[:, :3], np.random.default_rng(5).normal(size=(len(X), 2)).astype(np.float32)]
    close(model.predict(x, verbose=0), original.predict(x, verbose=0))
    model.save(tmp_path / "back.keras")  # and back: Keras reads the nested layout minidl wrote
    close(keras.models.load_model(tmp_path / "back.keras").predict(x, verbose=0),
          original.predict(x, verbose=0))


def test_a_functional_model_inside_a_functional_model_loads_from_keras_and_back(tmp_path):
    """Keras numbers a nested model's calls from 0 in the layers' arguments but from 1 in the
    model's input_layers and output_layers: both, and a model called twice, go both ways."""
    i = keras.Input((3,))
    inner = keras.Model(i, keras.layers.Dense(4, name="in_dense")(i), name="inner")
    a = keras.Input((3,), name="a")
    originals = {
        "called": keras.Model(a, keras.layers.Dense(2)(inner(a))),
        "output": keras.Model(a, inner(a)),
        "twice": keras.Model(a, keras.layers.Add()([inner(a), inner(keras.layers.Dense(3)(a))])),
    }
    x = X[:, :3]
    for name, original in originals.items():
        original.save(tmp_path / f"{name}.keras")
        model = load_model(tmp_path / f"{name}.keras")
        close(model.predict(x, verbose=0), original.predict(x, verbose=0))
        model.save(tmp_path / f"{name}_back.keras")
        close(keras.models.load_model(tmp_path / f"{name}_back.keras").predict(x, verbose=0),
              original.predict(x, verbose=0))


def test_a_learning_rate_schedule_survives_a_round_trip_both_ways(tmp_path):
    model = minidl_model("relu-softmax")
    schedule = minidl.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    model.compile(optimizer=minidl.optimizers.SGD(learning_rate=schedule, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    model.fit(X, LABELS, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "scheduled.keras")
    for loaded in (load_model(tmp_path / "scheduled.keras"),
                   keras.models.load_model(tmp_path / "scheduled.keras")):
        rate = loaded.optimizer.get_config()["learning_rate"]
        assert rate["class_name"] == "ExponentialDecay" and rate["config"]["decay_steps"] == 3
        assert int(np.asarray(loaded.optimizer.iterations)) == model.optimizer.iterations


class Scale(minidl.layers.Layer):
    """A layer of the user's own: y = x * w, with its backward."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", "w")

    def forward(self, x, training=False):
        return x * self.w.value, x

    def backward(self, dy, x, need_dx=True):
        return dy * self.w.value, {self.w: (dy * x).sum(axis=0)}


class HalfMSE(minidl.losses.MeanSquaredError):
    """A loss of the user's own (half the mean squared error)."""

    def values_and_gradient(self, y_true, y_pred):
        values, grad = super().values_and_gradient(y_true, y_pred)
        return values / 2, grad / 2


def test_custom_layers_and_losses_load_with_custom_objects(tmp_path):
    model = minidl.Sequential([minidl.Input((4,)), Scale(name="scale"), Dense(2)])
    model.compile(optimizer="sgd", loss=HalfMSE(name="half_mse"))
    model.fit(X, np.ones((len(X), 2)), epochs=1, verbose=0)
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ValueError, match="Scale, which minidl does not support"):
        load_model(tmp_path / "custom.keras")
    loaded = load_model(tmp_path / "custom.keras",
                        custom_objects={"Scale": Scale, "HalfMSE": HalfMSE})
    assert isinstance(loaded.layers[0], Scale) and isinstance(loaded.loss, HalfMSE)
    close(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    close(loaded.evaluate(X, np.ones((len(X), 2)), verbose=0),
          model.evaluate(X, np.ones((len(X), 2)), verbose=0))


def test_saving_a_compiled_untrained_model_changes_nothing_in_it(tmp_path):
    """The optimizer's zero state is written from stand-ins: saving twice writes the same
    variables, and the model's weights are not laid out anew behind its back."""
    model = minidl_model("relu-softmax")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    kernel = model.layers[0].kernel.value
    model.save(tmp_path / "a.keras")
    model.save(tmp_path / "b.keras")
    assert not model.optimizer.built and model.layers[0].kernel.value is kernel
    for name in ("a.keras", "b.keras"):
        loaded = keras.models.load_model(tmp_path / name)
        loaded.optimizer.build(loaded.trainable_variables)
        assert len(loaded.optimizer.variables) == 2 + 2 * len(model.trainable_weights)


# -- a subclassed model's weights; functions of one's own in a .keras file ------------------
def residual_regressor(framework):
    """Géron's ResidualRegressor (ch. 12), smaller: layers held as attributes, a list of
    layers inside a layer of one's own, and a layer that only the `layers` walk reaches."""
    class ResidualBlock(framework.layers.Layer):
        def __init__(self, n_layers, n_neurons, **kwargs):
            super().__init__(**kwargs)
            self.hidden = [framework.layers.Dense(n_neurons, activation="relu")
                           for _ in range(n_layers)]

        def call(self, inputs):
            z = inputs
            for layer in self.hidden:
                z = layer(z)
            return inputs + z

    class ResidualRegressor(framework.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden1 = framework.layers.Dense(5, activation="relu")
            self.block1 = ResidualBlock(2, 5)
            self.norm = framework.layers.BatchNormalization()
            self.out = framework.layers.Dense(1)

        def call(self, inputs):
            return self.out(self.norm(self.block1(self.hidden1(inputs))))

    model = ResidualRegressor()
    model.compile(loss="mse", optimizer="adam")
    model.fit(X, X[:, :1], epochs=2, batch_size=4, verbose=0)
    return model


def test_a_subclassed_models_weights_h5_go_both_ways_with_keras(tmp_path):
    """save_weights/load_weights of a subclassed model: Keras's layout (each layer under its
    attribute's name, `layers/...` for the rest), the same predictions and optimizer state
    after a trip each way."""
    import h5py
    model, twin = residual_regressor(minidl), residual_regressor(keras)
    model.save_weights(tmp_path / "ours.weights.h5")
    twin.save_weights(tmp_path / "theirs.weights.h5")

    def layout(name):
        with h5py.File(tmp_path / name, "r") as h5:
            entries = {}
            h5.visititems(lambda path, obj: entries.__setitem__(path, getattr(obj, "shape", 0)))
            return {k: v for k, v in entries.items() if v != 0}  # the arrays and their shapes

    assert layout("ours.weights.h5") == layout("theirs.weights.h5")
    assert "hidden1/vars/0" in layout("ours.weights.h5")
    twin.load_weights(tmp_path / "ours.weights.h5")
    close(twin.predict(X, verbose=0), model.predict(X, verbose=0))
    for ours, theirs in zip(model.optimizer.variables, twin.optimizer.variables):
        np.testing.assert_array_equal(ours, np.asarray(theirs))
    twin.fit(X, X[:, :1], epochs=1, verbose=0)
    twin.save_weights(tmp_path / "theirs.weights.h5")
    model.load_weights(tmp_path / "theirs.weights.h5")
    close(model.predict(X, verbose=0), twin.predict(X, verbose=0))


def test_functions_of_ones_own_in_a_layer_load_with_custom_objects(tmp_path):
    """Géron's custom activation, initializer and regularizer functions (ch. 12): the file
    names them as Keras's does, each comes back from custom_objects, and a file from either
    framework loads in the other; a missing one is named, a lambda refused on saving."""
    def make(framework):
        ops = framework.ops

        def my_softplus(z):
            return ops.log(1.0 + ops.exp(z))

        def my_glorot_initializer(shape, dtype=None):
            return ops.ones(shape) * 0.1

        def my_l1_regularizer(weights):
            return ops.sum(ops.abs(0.01 * weights))

        functions = {f.__name__: f for f in (my_softplus, my_glorot_initializer,
                                             my_l1_regularizer)}
        model = framework.Sequential([framework.Input((4,)), framework.layers.Dense(
            2, activation=my_softplus, kernel_initializer=my_glorot_initializer,
            kernel_regularizer=my_l1_regularizer)])
        model.compile(optimizer="sgd", loss="mse")
        return model, functions

    (model, ours), (twin, theirs) = make(minidl), make(keras)
    model.save(tmp_path / "ours.keras")
    twin.save(tmp_path / "theirs.keras")
    config = lambda path: json.loads(zipfile.ZipFile(path).read("config.json"))["config"][
        "layers"][-1]["config"]
    for key in ("activation", "kernel_initializer", "kernel_regularizer"):
        assert config(tmp_path / "ours.keras")[key] == config(tmp_path / "theirs.keras")[key]
    with pytest.raises(ValueError, match=r"Layer '\w+' \(Dense\) .*Could not locate function "
                                         "'my_softplus' .*custom_objects"):
        load_model(tmp_path / "ours.keras", custom_objects={
            name: ours[name] for name in ("my_glorot_initializer", "my_l1_regularizer")})
    with pytest.raises(ValueError, match="Could not locate function 'my_l1_regularizer' "
                                         r"\(its `kernel_regularizer`\)"):
        load_model(tmp_path / "ours.keras", custom_objects={
            name: ours[name] for name in ("my_glorot_initializer", "my_softplus")})
    loaded = load_model(tmp_path / "theirs.keras", custom_objects=ours)
    layer = loaded.layers[0]
    assert (layer.activation, layer.kernel_regularizer) == (ours["my_softplus"],
                                                            ours["my_l1_regularizer"])
    close(loaded.predict(X, verbose=0), twin.predict(X, verbose=0))
    close(loaded.evaluate(X, np.ones((7, 2)), verbose=0),  # the regularizer's term included
          twin.evaluate(X, np.ones((7, 2)), verbose=0))
    in_keras = keras.models.load_model(tmp_path / "ours.keras", custom_objects=theirs)
    close(in_keras.predict(X, verbose=0), model.predict(X, verbose=0))
    lambdas = minidl.Sequential([minidl.Input((4,)), Dense(2, activation=lambda z: z * 2)])
    with pytest.raises(ValueError, match="uses a lambda as its activation"):
        lambdas.save(tmp_path / "lambda.keras")
    lambdas.save_weights(tmp_path / "lambda.weights.h5")  # weights need no function's name
    lambdas.load_weights(tmp_path / "lambda.weights.h5")
