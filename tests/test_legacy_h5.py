"""The legacy HDF5 whole-model format (`model.save("m.h5")`) and `to_json`, both ways with Keras.

Keras writes the files here (a module fixture, so Keras fits and saves only a few times);
minidl reads them and must predict and keep training as Keras does, and the other way round.
Tolerances: predictions to rtol 1e-5, atol 1e-6 (float32 sums of products in another order:
TensorFlow's and NumPy's BLAS); fit Histories to rtol 1e-5, as the other fit comparisons.
"""
import json
import os

import h5py
import numpy as np
import pytest

import keras
import minidl
from minidl.layers import Dense, Input, Lambda
from minidl.models import load_model, model_from_json
from minidl.saving import legacy_h5
from reference.twins import keras_twin

RTOL, ATOL = 1e-5, 1e-6
RNG = np.random.default_rng(7)
IMAGES = RNG.normal(size=(12, 6, 6, 1)).astype(np.float32)  # (N,H,W,C)
TOKENS = RNG.integers(0, 10, size=(12, 5))                  # (N,T)
X = RNG.normal(size=(16, 4)).astype(np.float32)              # (N,D)
LABELS = RNG.integers(0, 3, size=16)
FIT = dict(epochs=1, batch_size=4, shuffle=False, verbose=0)


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol)


def randomize(model, seed):
    """N(0, 1) weights (variances |N(0, 1)| + 0.5), so every weight matters to the outputs."""
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(rng.normal(size=w.shape)).astype(np.float32) + 0.5
                       if "variance" in v.path else rng.normal(size=w.shape).astype(np.float32)
                       for v, w in zip(model.weights, model.get_weights())])


def keras_dense(optimizer):
    L = keras.layers
    model = keras.Sequential([keras.Input((4,)), L.Dense(5, activation="relu"),
                              L.BatchNormalization(), L.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    randomize(model, 1)
    return model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Keras's files: a functional model of every layer family, and three trained models
    (adam, rmsprop, sgd) saved mid-training with the History of their next epoch."""
    folder = tmp_path_factory.mktemp("legacy")
    L = keras.layers
    images, tokens = keras.Input((6, 6, 1), name="images"), keras.Input((5,), name="tokens")
    a = L.Dropout(0.3)(L.Flatten()(L.BatchNormalization()(L.Conv2D(2, 3, activation="relu")(images))))
    b = L.LSTM(3)(L.Embedding(10, 4)(tokens))
    out = L.Dense(2, activation="softmax")(L.Concatenate()([a, b]))
    model = keras.Model([images, tokens], out)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    randomize(model, 0)
    model.save(folder / "functional.h5")
    found = {"functional": (folder / "functional.h5",
                            model.predict([IMAGES, TOKENS], verbose=0), model)}
    for name in ("adam", "rmsprop", "sgd"):
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9) if name == "sgd" else name
        model = keras_dense(optimizer)
        model.fit(X, LABELS, **FIT)
        model.save(folder / f"{name}.h5")
        found[name + " weights"] = model.get_weights()  # as saved
        found[name] = (folder / f"{name}.h5", model.fit(X, LABELS, **FIT).history, model)
    return found


# -- Keras's files in minidl --------------------------------------------------------------------
def test_a_keras_functional_file_predicts_as_keras_and_is_compiled_as_saved(files):
    path, predictions, keras_model = files["functional"]
    model = load_model(path)
    assert [layer.name for layer in model.layers] == [layer.name for layer in keras_model.layers]
    close(model.predict([IMAGES, TOKENS], verbose=0), predictions)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)  # read as stored: bit for bit
    assert type(model.optimizer).__name__ == "RMSprop"
    assert type(model.loss).__name__ == "CategoricalCrossentropy"
    assert model.optimizer.iterations == 0
    uncompiled = load_model(path, compile=False)
    assert not uncompiled.compiled


@pytest.mark.parametrize("name", ["adam", "rmsprop", "sgd"])
def test_training_resumes_with_the_optimizer_state_keras_saved(files, name):
    """The next epoch's History is the one Keras's model had after saving (Keras 3.15's own
    load_model of a legacy file cannot continue: see the next test)."""
    path, next_epoch, keras_model = files[name]
    model = load_model(path)
    assert model.optimizer.iterations == 4  # one epoch of 16 rows in batches of 4
    history = model.fit(X, LABELS, **FIT).history
    assert sorted(history) == sorted(next_epoch)
    for key in next_epoch:
        close(history[key], next_epoch[key], atol=0)
    # The weights after the epoch: Adam divides by sqrt(v) + eps, which turns the float32
    # rounding of a gradient (1e-7 relative) into up to ~1e-5 of a weight after 4 steps.
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        close(ours, theirs, rtol=1e-4, atol=1e-5)
    # Negative control: the same weights with a fresh optimizer train differently.
    fresh = load_model(path, compile=False)
    fresh.compile(optimizer=type(model.optimizer).from_config(model.optimizer.get_config()),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    other = fresh.fit(X, LABELS, **FIT).history
    with pytest.raises(AssertionError):
        close(other["loss"], next_epoch["loss"], atol=0)


def test_keras_itself_restores_only_the_step_and_rate_from_a_legacy_file(files):
    """Keras 3.15 builds the optimizer on the model's own variables (none) before set_weights,
    so only iteration and learning_rate load, and its next fit fails. minidl restores the
    whole saved state instead (what the file holds, and what tf.keras 2.x did)."""
    loaded = keras.models.load_model(files["adam"][0])
    assert len(loaded.optimizer.variables) == 2 and int(loaded.optimizer.iterations) == 4
    with pytest.raises(ValueError, match="Unknown variable"):
        loaded.fit(X, LABELS, **FIT)


# -- minidl's files in Keras ----------------------------------------------------------------
def minidl_dense(optimizer="adam"):
    model = minidl.Sequential([Input((4,)), Dense(5, activation="relu"),
                               minidl.layers.BatchNormalization(),
                               Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    randomize(model, 2)
    return model


def h5_layout(path):
    """Every group and dataset: its attributes (and their HDF5 types), shape and dtype."""
    found = []
    with h5py.File(path, "r") as f:
        def visit(name, node):
            attrs = {key: (node.attrs.get_id(key).dtype.str, np.asarray(node.attrs[key]).tolist())
                     for key in node.attrs if key != "backend"}
            found.append((name, attrs, getattr(node, "shape", None),
                          str(getattr(node, "dtype", ""))))
        f.visititems(visit)
        found.append(("/", sorted(f.attrs), {k: json.loads(f.attrs[k]) for k in
                                              ("model_config", "training_config")}))
    return found


def named_dense(framework, layers):
    """The same Sequential, with the same names, in minidl or Keras (each counts names apart)."""
    model = framework.Sequential([layers.Input((4,), name="input_layer"),
                                  layers.Dense(5, name="dense"),
                                  layers.BatchNormalization(name="batch_normalization"),
                                  layers.Dense(3, activation="softmax", name="dense_1")],
                                 name="sequential")
    model.compile(optimizer=framework.optimizers.Adam(name="adam"),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_minidl_file_is_the_file_keras_writes_and_opens_in_keras(tmp_path):
    model, twin = named_dense(minidl, minidl.layers), named_dense(keras, keras.layers)
    randomize(model, 2)
    twin.set_weights(model.get_weights())
    model.fit(X[:4], LABELS[:4], epochs=1, batch_size=4, verbose=0)  # builds the optimizer
    twin.fit(X[:4], LABELS[:4], epochs=1, batch_size=4, verbose=0)
    with pytest.warns(UserWarning, match=r"HDF5 file via `model.save\(\)` .* considered legacy"):
        model.save(tmp_path / "ours.h5")
    twin.save(tmp_path / "theirs.h5")
    assert h5_layout(tmp_path / "ours.h5") == h5_layout(tmp_path / "theirs.h5")
    loaded = keras.models.load_model(tmp_path / "ours.h5")
    close(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert int(loaded.optimizer.iterations) == 1
    own = keras.models.load_model(tmp_path / "theirs.h5").get_compile_config()
    for key in ("loss", "metrics", "loss_weights"):
        assert loaded.get_compile_config()[key] == own[key]
    with h5py.File(tmp_path / "ours.h5", "r") as f:
        assert f.attrs["backend"] == "numpy"  # what Keras's NumPy backend writes


def test_minidl_round_trip_keeps_everything(tmp_path):
    model = minidl_dense(minidl.optimizers.SGD(0.1, momentum=0.9))
    model.fit(X, LABELS, **FIT)
    model.save(tmp_path / "m.hdf5", save_format="h5")  # Keras's deprecation warning only
    loaded = load_model(tmp_path / "m.hdf5")
    for ours, theirs in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(loaded.optimizer.slots(), model.optimizer.slots()):
        np.testing.assert_array_equal(ours, theirs)
    close(loaded.fit(X, LABELS, **FIT).history["loss"], model.fit(X, LABELS, **FIT).history["loss"],
          atol=0)
    no_optimizer = tmp_path / "bare.h5"
    model.save(no_optimizer, include_optimizer=False)
    with pytest.warns(UserWarning, match=r"No training configuration found in the save file"):
        assert not load_model(no_optimizer).compiled


# -- JSON ------------------------------------------------------------------------------------
# What minidl's configs already write differently from Keras's (the same in `.keras` files):
# the optimizer options minidl lacks (use_ema, ...) are left out. (Conv2D's initializers
# as names and a Flatten's missing build_config are two more, kept out of this model.)
KNOWN = ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
         "gradient_accumulation_steps")


def without_known(config):
    if isinstance(config, dict):
        return {k: without_known(v) for k, v in config.items() if k not in KNOWN}
    if isinstance(config, list):
        return [without_known(v) for v in config]
    return config


def test_to_json_is_keras_json_and_model_from_json_reads_both_ways():
    L = minidl.layers
    model = minidl.Sequential([Input((6,)), Dense(4, activation="relu"),
                               L.BatchNormalization(), L.Dropout(0.25),
                               Dense(3, activation="softmax")], name="mlp")
    model.compile(optimizer=minidl.optimizers.Adam(name="adam"),  # names counted apart
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    twin = keras_twin(model, compile=False)
    twin.compile(optimizer=keras.optimizers.Adam(name="adam"),
                 loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ours, theirs = json.loads(model.to_json()), json.loads(twin.to_json())
    assert without_known(ours) == without_known(theirs)
    assert model.to_json(indent=2) == json.dumps(ours, indent=2)  # kwargs go to json.dumps
    back = keras.models.model_from_json(model.to_json())
    assert back.compiled and [l.name for l in back.layers] == [l.name for l in model.layers]
    rebuilt = model_from_json(twin.to_json())
    assert rebuilt.compiled and json.loads(rebuilt.to_json()) == ours
    minidl_dense_uncompiled = minidl.Sequential([Input((4,)), Dense(2)])
    assert "compile_config" not in json.loads(minidl_dense_uncompiled.to_json())
    with pytest.raises(ValueError, match="does not hold a Keras model config"):
        model_from_json("[1, 2]")


# -- weights ---------------------------------------------------------------------------------
def test_load_weights_by_order_by_name_and_weights_only_files_as_keras(files, tmp_path):
    path, _, keras_model = files["adam"]
    model = minidl_dense()
    model.load_weights(path)  # by order: the names differ (dense_* in minidl's counter)
    for ours, theirs in zip(model.get_weights(), files["adam weights"]):
        np.testing.assert_array_equal(ours, theirs)
    weights_only = tmp_path / "weights_only.h5"  # tf.keras 2.x's save_weights("w.h5") layout
    with h5py.File(weights_only, "w") as f:
        keras.src.legacy.saving.legacy_h5_format.save_weights_to_hdf5_group(f, keras_model)
    model = minidl_dense()
    model.load_weights(weights_only)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    # by_name with skip_mismatch: one layer renamed, one of another width; Keras does the same.
    names = [layer.name for layer in keras_model.layers]
    L = keras.layers

    def build(framework, layers):
        model = framework.Sequential([layers.Input((4,)), layers.Dense(5, name=names[0]),
                                      layers.BatchNormalization(name="renamed"),
                                      layers.Dense(2, name=names[2])])
        randomize(model, 3)
        return model

    ours, theirs = build(minidl, minidl.layers), build(keras, L)
    with pytest.warns(UserWarning, match="Skipping loading weights for layer #2"):
        ours.load_weights(path, by_name=True, skip_mismatch=True)
    with pytest.warns(UserWarning, match="Skipping loading weights for layer #2"):
        theirs.load_weights(path, by_name=True, skip_mismatch=True)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mismatches_are_keras_errors_and_change_nothing(files):
    path = files["adam"][0]
    L = keras.layers
    keras_model = keras.Sequential([keras.Input((4,)), L.Dense(5), L.BatchNormalization(),
                                    L.Dense(2)])
    with pytest.raises(ValueError) as theirs:
        keras_model.load_weights(path)
    names = [layer.name for layer in keras_model.layers]  # Keras's message names the layer
    model = minidl.Sequential([Input((4,)), Dense(5, name=names[0]),
                               minidl.layers.BatchNormalization(name=names[1]),
                               Dense(2, name=names[2])], name=keras_model.name)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError) as ours:
        model.load_weights(path)
    assert str(ours.value) == str(theirs.value)
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)
    with pytest.raises(ValueError, match="Layer count mismatch when loading weights from file. "
                                         "Model expected 1 layers, found 3 saved layers."):
        minidl.Sequential([Input((4,)), Dense(5)]).load_weights(path)


# -- safety ----------------------------------------------------------------------------------
def test_a_save_that_fails_midway_leaves_the_old_file(tmp_path, monkeypatch):
    model = minidl_dense()
    target = tmp_path / "m.h5"
    model.save(target)
    old = target.read_bytes()

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(legacy_h5, "_write_optimizer_weights", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(target)
    assert target.read_bytes() == old and os.listdir(tmp_path) == ["m.h5"]


def test_truncated_or_tampered_files_are_refused_and_change_nothing(files, tmp_path):
    good = files["adam"][0].read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good[: len(good) // 2])
    model = minidl_dense()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="truncated.h5.*not a valid HDF5"):
        load_model(truncated)
    with pytest.raises(ValueError, match="truncated.h5.*not a valid HDF5"):
        model.load_weights(truncated)
    tampered = tmp_path / "tampered.h5"
    tampered.write_bytes(good)
    with h5py.File(tampered, "a") as f:  # the last layer's bias now points at another file
        last = [n for n in f["model_weights"].attrs["layer_names"]][-1]
        group = f["model_weights"][last]
        bias = [n for n in group.attrs["weight_names"]][-1]
        del group[bias]
        group[bias] = h5py.ExternalLink("/elsewhere.h5", "/secret")
    with pytest.raises(ValueError, match="Not allowed: the HDF5 file links"):
        model.load_weights(tampered)
    for w, w0 in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, w0)


def test_a_lambda_in_a_legacy_file_is_refused_as_keras_refuses_it(tmp_path):
    x = Input((4,))
    model = minidl.Model(x, Dense(2)(Lambda(lambda v: v * 2)(x)))
    model.save(tmp_path / "lambda.h5")
    with pytest.raises(ValueError, match="arbitrary code execution"):
        keras.models.load_model(tmp_path / "lambda.h5")
    with pytest.raises(ValueError, match="arbitrary code execution"):
        load_model(tmp_path / "lambda.h5")
    with h5py.File(tmp_path / "lambda.h5", "a") as f:  # tf.keras 2.x's [code, defaults, closure]
        config = json.loads(f.attrs["model_config"])
        layer = [l for l in config["config"]["layers"] if l["class_name"] == "Lambda"][0]
        layer["config"]["function"] = ["4wEAAAAAAAAA", None, None]
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
    with pytest.raises(ValueError, match="arbitrary code execution"):
        load_model(tmp_path / "lambda.h5")


def test_keras_argument_errors(tmp_path):
    model = minidl_dense()
    with pytest.raises(ValueError, match=r"Invalid filepath extension for saving. .*"
                                         r"Received: filepath=.*m\.txt"):
        model.save(tmp_path / "m.txt")
    with pytest.raises(ValueError, match=r"`save_format` argument is deprecated in Keras 3. "
                                         r"Please remove"):
        model.save(tmp_path / "m.txt", save_format="h5")
    with pytest.warns(UserWarning, match="`save_format` argument is deprecated"):
        model.save(tmp_path / "m.h5", save_format="h5")
    with pytest.raises(ValueError, match=r"not supported: \['zipped_up'\]"):
        model.save(tmp_path / "m.h5", zipped_up=True)
    with pytest.raises(ValueError, match=r"must end in .*`.weights.h5`. Received: filepath=.*m\.h5"):
        model.save_weights(tmp_path / "m.h5")
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="`by_name` only supports loading legacy '.h5' or "
                                         "'.hdf5' files"):
        model.load_weights(tmp_path / "m.weights.h5", by_name=True)
    with pytest.raises(ValueError, match="File format not supported: filepath=.*m.txt"):
        load_model(tmp_path / "m.txt")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(ValueError, match="No model config found in the file at"):
        load_model(tmp_path / "empty.h5")
