"""Callbacks against Keras: the hooks and logs every callback receives, ReduceLROnPlateau,
LearningRateScheduler, CSVLogger, ModelCheckpoint, EarlyStopping's mode="auto",
BackupAndRestore after a killed run, TensorBoard's event files.

Each test runs the same fit (same weights, same batches, shuffle=False) in both frameworks;
logged numbers agree to float32 rounding (rtol 1e-5), and whatever follows from them (which
epochs reduce the rate, which checkpoints are written, the messages) is compared exactly.
"""
import contextlib
import csv
import glob
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import keras
import minidl
from minidl.layers import Dense
from reference.twins import keras_twin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data(n=80):
    rng = np.random.RandomState(0)
    x = rng.rand(n, 2).astype(np.float32)
    return x, (x.sum(axis=1) + 0.3 * rng.randn(n) > 1).astype(np.float32)


def twins(metrics=("accuracy",), optimizer=lambda m: m.optimizers.SGD(0.5, momentum=0.9)):
    """A minidl model and its Keras twin: same weights, compiled alike."""
    minidl.utils.set_random_seed(1)
    model = minidl.Sequential([Dense(8, activation="relu", input_shape=(2,)),
                               Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer(minidl), loss="binary_crossentropy",
                  metrics=[m(minidl) if callable(m) else m for m in metrics])
    twin = keras_twin(model, compile=False)
    twin.compile(optimizer=optimizer(keras), loss="binary_crossentropy",
                 metrics=[m(keras) if callable(m) else m for m in metrics])
    return model, twin


def fit_both(make_callbacks, epochs=6, validation_split=0.25, **twin_options):
    """Fit both with make_callbacks(module) -> callbacks; ((History, stdout), (same for Keras))."""
    x, y = data()
    results = []
    for model, module in zip(twins(**twin_options), (minidl, keras)):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            history = model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0,
                                validation_split=validation_split,
                                callbacks=make_callbacks(module))
        results.append((history, printed.getvalue()))
    return results


def same_history(ours, theirs):
    assert list(ours.history) == list(theirs.history) and ours.epoch == theirs.epoch
    for key in theirs.history:
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=1e-5, atol=1e-7)


def recorder(base):
    """A callback for either framework recording every hook with its index and logs."""
    class Record(base):
        def __init__(self):
            super().__init__()
            self.calls = []

    def hook(name):
        def method(self, *args, **kwargs):
            logs = kwargs.get("logs", args[-1] if args and isinstance(args[-1], dict) else None)
            index = args[0] if args and not isinstance(args[0], dict) else None
            self.calls.append((name, index, dict(logs or {})))
        return method

    for name in ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                 "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
                 "on_test_batch_begin", "on_test_batch_end"]:
        setattr(Record, name, hook(name))
    return Record()


def test_every_hook_gets_kerass_logs_with_learning_rate_callbacks_in_the_list(tmp_path):
    """The calls and the logs of a recorder placed after the LR callbacks match Keras's, value
    for value: ReduceLROnPlateau and LearningRateScheduler add "learning_rate" at epoch end."""
    recorders = {}

    def callbacks(module):
        recorders[module] = recorder(module.callbacks.Callback)
        return [module.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9),
                module.callbacks.ReduceLROnPlateau(patience=1, factor=0.5),
                module.callbacks.CSVLogger(str(tmp_path / f"{module.__name__}.csv")),
                recorders[module]]

    (ours, _), (theirs, _) = fit_both(callbacks, epochs=3)
    same_history(ours, theirs)
    mine, keras_calls = recorders[minidl].calls, recorders[keras].calls
    assert [(name, index, list(logs)) for name, index, logs in mine] == \
        [(name, index, list(logs)) for name, index, logs in keras_calls]
    for (_, _, a), (_, _, b) in zip(mine, keras_calls):
        np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-5, atol=1e-7)
    assert "learning_rate" in mine[-2][2]  # the last on_epoch_end
    assert "learning_rate" not in mine[-1][2]  # on_train_end gets fit's own logs, as Keras


def test_logs_go_positionally_to_epoch_hooks_as_in_keras():
    """A callback naming its logs argument differently works, as in Keras."""
    seen = []

    class Named(minidl.callbacks.Callback):
        def on_epoch_end(self, epoch, epoch_logs):
            seen.append(sorted(epoch_logs))

        def on_train_begin(self, begin_logs):
            seen.append("begin")

    x, y = data()
    twins()[0].fit(x, y, epochs=1, verbose=0, callbacks=[Named()])
    assert seen == ["begin", ["accuracy", "loss"]]


@pytest.mark.parametrize("options", [
    dict(patience=1, factor=0.5, cooldown=1, min_lr=0.01, min_delta=0.01, verbose=1),
    dict(monitor="val_accuracy", patience=2, factor=0.2, verbose=1),
    dict(monitor="loss", mode="max", patience=0, factor=0.9, min_lr=0.3, verbose=1),
])
def test_reduce_lr_on_plateau_reduces_when_keras_does(options):
    (ours, printed), (theirs, keras_printed) = fit_both(
        lambda module: [module.callbacks.ReduceLROnPlateau(**options)], epochs=8)
    same_history(ours, theirs)
    assert ours.history["learning_rate"] == theirs.history["learning_rate"]
    assert len(set(ours.history["learning_rate"])) > 1
    assert printed == keras_printed


@pytest.mark.parametrize("schedule", [lambda epoch, lr: lr * 0.5 if epoch % 2 else lr,
                                      lambda epoch: 0.1 / (epoch + 1)])
def test_learning_rate_scheduler_sets_and_logs_the_rate_as_keras(schedule):
    (ours, printed), (theirs, keras_printed) = fit_both(
        lambda module: [module.callbacks.LearningRateScheduler(schedule, verbose=1)], epochs=4)
    same_history(ours, theirs)
    assert ours.history["learning_rate"] == theirs.history["learning_rate"]
    assert printed == keras_printed


def test_a_schedule_returning_an_int_is_refused_with_kerass_message():
    x, y = data()
    errors = []
    for model, module in zip(twins(), (minidl, keras)):
        with pytest.raises(ValueError) as error:
            model.fit(x, y, epochs=1, verbose=0, callbacks=[
                module.callbacks.LearningRateScheduler(lambda epoch, lr: 1)])
        errors.append(str(error.value))
    assert errors[0] == errors[1] == \
        "The output of the `schedule` function should be a float. Got: 1"


@pytest.mark.parametrize("options,validation_split", [
    (dict(), 0.25), (dict(separator=";"), 0.0), (dict(append=True), 0.25)])
def test_csv_logger_writes_kerass_file(tmp_path, options, validation_split):
    """Header `epoch` then the sorted keys (val_ columns of "NA" without validation, as Keras);
    append=True adds rows under the existing header."""
    paths = {m: str(tmp_path / f"{m.__name__}.csv") for m in (minidl, keras)}
    runs = 2 if options.get("append") else 1
    for _ in range(runs):
        fit_both(lambda m: [m.callbacks.ReduceLROnPlateau(monitor="loss", patience=1),
                            m.callbacks.CSVLogger(paths[m], **options)],
                 epochs=3, validation_split=validation_split)
    ours, theirs = (open(paths[m], newline="").read() for m in (minidl, keras))
    assert ours.splitlines()[0] == theirs.splitlines()[0]
    assert ours.count("\r\n") == theirs.count("\r\n") == 1 + 3 * runs
    delimiter = options.get("separator", ",")
    rows = [list(csv.reader(io.StringIO(text), delimiter=delimiter)) for text in (ours, theirs)]
    for a, b in zip(*rows):
        for x, y in zip(a, b):
            assert (x == y) if "NA" in (x, y) or not x[:1].isdigit() else \
                np.isclose(float(x), float(y), rtol=1e-5, atol=1e-7)


# -- ModelCheckpoint ------------------------------------------------------------------------------
def checkpoints(folder):
    return sorted(os.path.relpath(p, folder) for p in glob.glob(f"{folder}/**/*.*", recursive=True))


def numbers_blanked(text):
    return re.sub(r"\d+\.\d+", "#", text)


@pytest.mark.parametrize("name,options", [
    ("{epoch:02d}-{val_loss:.2f}.keras", dict(verbose=1)),
    ("best.keras", dict(save_best_only=True, verbose=1)),
    ("best.weights.h5", dict(save_best_only=True, save_weights_only=True,
                             monitor="val_accuracy", verbose=1)),
    ("sub/{epoch}.weights.h5", dict(save_weights_only=True, save_freq=7, verbose=1)),
    ("{epoch}-{batch}.weights.h5", dict(save_weights_only=True, save_freq=7)),
    ("thr.keras", dict(save_best_only=True, initial_value_threshold=0.75, verbose=1)),
])
def test_model_checkpoint_saves_the_files_keras_saves(tmp_path, name, options):
    folders = {m: tmp_path / m.__name__ for m in (minidl, keras)}
    (_, printed), (_, keras_printed) = fit_both(
        lambda m: [m.callbacks.ModelCheckpoint(str(folders[m] / name), **options)], epochs=4)
    assert checkpoints(folders[minidl]) == checkpoints(folders[keras])
    assert checkpoints(folders[minidl])
    assert numbers_blanked(printed.replace("minidl", "keras")) == numbers_blanked(keras_printed)


def test_checkpoints_open_in_keras_with_the_weights_of_their_epoch(tmp_path):
    """The .keras file of each epoch opens in Keras and holds that epoch's weights."""
    x, y = data()
    model = twins()[0]
    weights = []
    model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[
        minidl.callbacks.ModelCheckpoint(str(tmp_path / "{epoch}.keras")),
        minidl.callbacks.ModelCheckpoint(str(tmp_path / "{epoch}.weights.npz"),
                                         save_weights_only=True),
        minidl.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))])
    for epoch, expected in enumerate(weights, start=1):
        loaded = keras.models.load_model(tmp_path / f"{epoch}.keras")
        for a, b in zip(loaded.get_weights(), expected):
            np.testing.assert_array_equal(a, b)
        model.load_weights(tmp_path / f"{epoch}.weights.npz")
        for a, b in zip(model.get_weights(), expected):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("options,message", [
    (dict(filepath="m.h5"), "must end in `.keras`"),
    (dict(filepath="m.weights", save_weights_only=True), r"`.weights.h5`.*`.weights.npz`"),
    (dict(filepath="m.keras", save_freq="batch"), "Unrecognized save_freq: batch"),
])
def test_model_checkpoint_refuses_bad_arguments_at_once(options, message):
    with pytest.raises(ValueError, match=message):
        minidl.callbacks.ModelCheckpoint(**options)


def test_a_filepath_naming_a_missing_log_key_fails_as_in_keras(tmp_path):
    x, y = data()
    with pytest.raises(KeyError, match="Failed to format this callback filepath.*val_mae"):
        twins()[0].fit(x, y, epochs=1, verbose=0, callbacks=[
            minidl.callbacks.ModelCheckpoint(str(tmp_path / "{val_mae}.keras"))])


# -- mode="auto" reads the metric's direction ----------------------------------------------------
@pytest.mark.parametrize("metric,monitor", [
    (lambda m: m.metrics.AUC(name="auc"), "val_auc"),
    (lambda m: m.metrics.Precision(name="precision"), "val_precision"),
    (lambda m: m.metrics.MeanSquaredError(name="mse"), "val_mse"),
    (lambda m: m.metrics.AUC(name="auc_loss"), "val_auc_loss"),  # "up", whatever the name says
    ("accuracy", "val_accuracy"),
])
def test_early_stopping_auto_mode_reads_the_metric_direction_as_keras(metric, monitor):
    (ours, _), (theirs, _) = fit_both(
        lambda m: [m.callbacks.EarlyStopping(monitor=monitor, patience=1)], epochs=20,
        metrics=(metric,))
    same_history(ours, theirs)
    assert len(ours.epoch) < 20


def test_a_metric_without_direction_needs_an_explicit_mode():
    def plain(y_true, y_pred):
        return minidl.ops.mean(minidl.ops.abs(y_true - y_pred))

    x, y = data()
    minidl.utils.set_random_seed(1)
    model = minidl.Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[plain])
    with pytest.raises(ValueError, match="monitor=val_plain.*Pass `mode='max'`"):
        model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                  callbacks=[minidl.callbacks.EarlyStopping(monitor="val_plain")])
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[
        minidl.callbacks.EarlyStopping(monitor="val_plain", mode="min")])
    assert len(history.epoch) == 2


def test_without_a_direction_a_name_that_says_it_is_guessed_where_keras_would_raise():
    def plain_acc(y_true, y_pred):
        return minidl.ops.mean(minidl.ops.cast(minidl.ops.equal(y_true, y_pred > 0.5), "float32"))

    x, y = data()
    stops = []
    for mode in ("auto", "max"):
        minidl.utils.set_random_seed(1)
        model = minidl.Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
        model.compile(optimizer=minidl.optimizers.SGD(2.0), loss="binary_crossentropy",
                      metrics=[plain_acc])
        stopping = minidl.callbacks.EarlyStopping(monitor="val_plain_acc", mode=mode)
        stops.append(model.fit(x, y, epochs=10, verbose=0, validation_split=0.25,
                               shuffle=False, callbacks=[stopping]).epoch)
        assert stopping.direction == "max"
    assert stops[0] == stops[1]


def test_an_unknown_mode_warns_and_falls_back_to_auto_as_keras():
    with pytest.warns(UserWarning, match="EarlyStopping mode 'down' is unknown"):
        stopping = minidl.callbacks.EarlyStopping(mode="down")
    assert stopping.mode == "auto"


# -- TerminateOnNaN -------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_terminate_on_nan_raises_when_asked_with_kerass_message():
    """A learning rate of 1e38 overflows the weights: the loss turns NaN in both, same batch."""
    x, y = data()
    errors = []
    for model, module in zip(twins(optimizer=lambda m: m.optimizers.SGD(1e38)), (minidl, keras)):
        with pytest.raises(RuntimeError) as error:
            model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                      callbacks=[module.callbacks.TerminateOnNaN(raise_error=True)])
        errors.append(str(error.value))
    assert errors[0] == errors[1] and "NaN or Inf loss encountered at batch" in errors[0]


# -- BackupAndRestore: kill a run, resume it ------------------------------------------------------
CHILD = """
import json, os, sys, time
import numpy as np
import minidl
from minidl.layers import Dense

backup_dir, out, freeze_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.RandomState(0)
x = rng.rand(50, 3).astype(np.float32)
y = (x.sum(axis=1) > 1.5).astype(np.float32)
minidl.utils.set_random_seed(7)
model = minidl.Sequential([Dense(6, activation="tanh", input_shape=(3,)),
                           Dense(1, activation="sigmoid")])
model.compile(optimizer=minidl.optimizers.Adam(0.02), loss="binary_crossentropy",
              metrics=["accuracy"])


class Freeze(minidl.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.model.optimizer.iterations == freeze_at:  # the parent kills us here
            open(out + ".frozen", "w").close()
            time.sleep(600)


callbacks = [] if backup_dir == "-" else [minidl.callbacks.BackupAndRestore(backup_dir), Freeze()]
history = model.fit(x, y, epochs=6, batch_size=10, shuffle=False, verbose=0, callbacks=callbacks)
np.savez(out, *model.get_weights())
with open(out + ".json", "w") as f:
    json.dump({"epoch": history.epoch, "history": history.history}, f)
"""


def run_child(tmp_path, backup_dir, out, freeze_at=-1):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(backup_dir), str(out),
                             str(freeze_at)], cwd=tmp_path, env=env)


def test_a_killed_fit_resumes_from_its_backup_and_ends_with_the_same_weights(tmp_path):
    pytest.importorskip("h5py")
    backup = tmp_path / "backup"
    killed = run_child(tmp_path, backup, tmp_path / "killed", freeze_at=17)  # 5 steps/epoch
    deadline = time.time() + 120
    while not (tmp_path / "killed.frozen").exists():
        assert killed.poll() is None and time.time() < deadline, "the run did not get to step 17"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)  # mid epoch 3 (0-based), after epoch 2's backup
    killed.wait()
    with open(backup / "training_metadata.json") as f:
        assert json.load(f) == {"epoch": 3, "batch": 0}
    resumed = run_child(tmp_path, backup, tmp_path / "resumed")
    whole = run_child(tmp_path, "-", tmp_path / "whole")
    assert resumed.wait(timeout=120) == 0 and whole.wait(timeout=120) == 0
    ours, reference = np.load(tmp_path / "resumed.npz"), np.load(tmp_path / "whole.npz")
    for key in reference.files:
        np.testing.assert_array_equal(ours[key], reference[key])  # bit for bit
    logs = [json.loads((tmp_path / f"{name}.json").read_text()) for name in ("resumed", "whole")]
    assert logs[0]["epoch"] == [3, 4, 5]
    assert logs[0]["history"] == {k: v[3:] for k, v in logs[1]["history"].items()}
    assert not backup.exists()  # deleted once the fit ended normally


def test_backup_falls_back_to_the_previous_one_when_the_latest_is_corrupt(tmp_path):
    pytest.importorskip("h5py")
    x, y = data()
    model = twins()[0]
    backup = minidl.callbacks.BackupAndRestore(str(tmp_path), double_checkpoint=True,
                                               delete_checkpoint=False)
    model.fit(x, y, epochs=2, verbose=0, shuffle=False, callbacks=[backup])
    (tmp_path / "latest.weights.h5").write_bytes(b"not an HDF5 file")
    restarted = twins()[0]
    history = restarted.fit(x, y, epochs=3, verbose=0, shuffle=False, callbacks=[
        minidl.callbacks.BackupAndRestore(str(tmp_path), double_checkpoint=True)])
    assert history.epoch == [1, 2]  # the previous backup was taken after epoch 0
    assert restarted.optimizer.iterations == 3 + 2 * 3  # restored after epoch 0, then 2 epochs


# -- TensorBoard -----------------------------------------------------------------------------------
def read_events(folder):
    """(folder, tag, step, value) of every scalar in a log directory, read with TensorFlow."""
    import tensorflow as tf

    found = []
    for path in sorted(glob.glob(f"{folder}/*/events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                found.append((os.path.basename(os.path.dirname(path)), value.tag, event.step,
                              float(tf.make_ndarray(value.tensor))))
    return found


@pytest.mark.parametrize("update_freq", ["epoch", "batch"])
def test_tensorboard_writes_kerass_scalars(tmp_path, update_freq):
    pytest.importorskip("tensorboard")
    ours, theirs = tensorboard_both(tmp_path, update_freq)
    assert [row[:3] for row in ours] == [row[:3] for row in theirs]
    np.testing.assert_allclose([row[3] for row in ours], [row[3] for row in theirs],
                               rtol=1e-5, atol=1e-7)


def test_tensorboard_every_n_batches_writes_kerass_batch_scalars_and_every_epoch(tmp_path):
    """update_freq=3: the batch points are Keras's. Keras 3.15 then writes an epoch's
    epoch_* and evaluation_* points only if that epoch's last batch number is a multiple of 3
    (its record_if stays on from the batches); minidl writes them every epoch."""
    pytest.importorskip("tensorboard")
    ours, theirs = tensorboard_both(tmp_path, 3)
    batches = [[row[:3] for row in rows if row[1].startswith("batch_")] for rows in (ours, theirs)]
    assert batches[0] == batches[1] and [step for _, _, step in batches[0]][:2] == [3, 3]
    epochs = {(folder, step) for folder, tag, step, _ in ours if tag == "epoch_loss"}
    assert epochs == {(folder, step) for folder in ("train", "validation") for step in range(3)}


def tensorboard_both(tmp_path, update_freq):
    folders = {m: str(tmp_path / m.__name__) for m in (minidl, keras)}
    fit_both(lambda m: [m.callbacks.TensorBoard(folders[m], update_freq=update_freq, **(
        {"write_graph": False} if m is keras else {}))], epochs=3)
    return read_events(folders[minidl]), read_events(folders[keras])


def test_tensorboard_without_the_package_says_how_to_install_it(monkeypatch):
    for name in [n for n in sys.modules if n.split(".")[0] == "tensorboard"] + ["tensorboard"]:
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install tensorboard"):
        minidl.callbacks.TensorBoard("logs")


def test_tensorboard_refuses_what_it_does_not_write():
    with pytest.raises(ValueError, match="scalars only: `histogram_freq`"):
        minidl.callbacks.TensorBoard("logs", histogram_freq=1)
