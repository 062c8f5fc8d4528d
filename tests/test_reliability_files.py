"""Files as a hostile user makes them: every one is refused clearly, before anything changes.

What is checked: a file is validated whole (layer weights and optimizer state) before the
first assignment; every error is a ValueError or OSError naming the file, never a raw
h5py/NumPy/zipfile error, a MemoryError or a RecursionError (byte flips at many positions,
huge declared sizes, deep nesting, a config that inflates to 300 MB); only regular files are
read or replaced (a FIFO would hang, /dev/zero never ends); saves keep a file's mode, write
through symbolic links as Keras does, never empty a good file with an unbuilt model, and
clean up after a save killed with kill -9.
"""
import json
import math
import os
import re
import stat
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import minidl
from minidl.layers import Dense, Input
from minidl.models import load_model

X = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)  # (N,D) = (8,4)
Y = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
FORMATS = ["m.weights.npz", "m.weights.h5", "m.keras"]


def trained_model(seed=0):
    """4-5-3 with Adam after two steps: weights, slots and a step count to lose."""
    minidl.utils.set_random_seed(seed)
    model = minidl.Sequential([Input((4,)), Dense(5, activation="relu"), Dense(3)])
    model.compile(minidl.optimizers.Adam(0.01), "mse")
    model.fit(X, Y, batch_size=4, verbose=0)
    return model


def save(model, path):
    (model.save if str(path).endswith(".keras") else model.save_weights)(path)


def load(model, path):
    """load_weights for weights files; for `.keras`, load_weights here (load_model elsewhere)."""
    model.load_weights(path)


def state_of(model):
    slots = [s.copy() for s in model.optimizer.slots()] if model.optimizer.built else []
    return [w.copy() for w in model.get_weights()], model.optimizer.iterations, slots


def assert_same_state(a, b):
    assert a[1] == b[1]
    for x, y in zip(a[0] + a[2], b[0] + b[2]):
        np.testing.assert_array_equal(x, y)


def refused(call, path, error=ValueError, match=None):
    """call() must raise `error` whose message names `path` (and matches `match`)."""
    with pytest.raises(error, match=match) as info:
        call()
    assert str(path) in str(info.value), f"the error does not name the file: {info.value}"
    return info.value


def rewrite_keras(src, dst, edit_config=None, weights=None):
    """A copy of the `.keras` file `src` with its config edited (a function) or weights replaced."""
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    if edit_config is not None:
        config = json.loads(members["config.json"])
        edited = edit_config(config)
        members["config.json"] = edited if isinstance(edited, bytes) else json.dumps(config)
    if weights is not None:
        members["model.weights.h5"] = weights
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


@pytest.fixture
def keras_file(tmp_path):
    path = tmp_path / "good.keras"
    trained_model().save(path)
    return path


# -- 1: an unbuilt model never replaces a good file ---------------------------------------------
@pytest.mark.parametrize("name", FORMATS)
def test_saving_an_unbuilt_model_is_refused_and_the_good_file_is_kept(tmp_path, name):
    path = tmp_path / name
    save(trained_model(), path)
    good = path.read_bytes()
    with pytest.raises(ValueError, match="not yet been built"):
        save(minidl.Sequential([Dense(3)]), path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == [name]


# -- 2: the optimizer's part is checked before any layer weight is assigned ------------------------
def with_optimizer_value(tmp_path, index, value):
    """A `.weights.h5` of a trained model whose optimizer/vars/<index> holds `value`."""
    import h5py
    path = tmp_path / f"opt{index}.weights.h5"
    trained_model(seed=1).save_weights(path)
    with h5py.File(path, "a") as h5:
        del h5[f"optimizer/vars/{index}"]
        h5[f"optimizer/vars/{index}"] = value
    return path


@pytest.mark.parametrize("index, value, what", [
    (0, np.nan, "iteration count"), (0, np.inf, "iteration count"), (0, -1, "iteration count"),
    (0, 2.5, "iteration count"), (1, np.nan, "learning rate"), (1, -np.inf, "learning rate"),
    (1, -0.5, "learning rate"),
], ids=["nan-steps", "inf-steps", "negative-steps", "fractional-steps", "nan-rate", "-inf-rate",
        "negative-rate"])
def test_impossible_optimizer_values_are_refused_before_any_weight_changes(
        tmp_path, index, value, what):
    path = with_optimizer_value(tmp_path, index, value)
    model = trained_model(seed=2)
    before = state_of(model)
    refused(lambda: model.load_weights(path), path, match=what)
    assert_same_state(state_of(model), before)
    trained_model(seed=1).save(tmp_path / "source.keras")  # the same file inside a .keras
    keras_path = rewrite_keras(tmp_path / "source.keras", tmp_path / "bad.keras",
                               weights=path.read_bytes())
    refused(lambda: load_model(keras_path), keras_path, match=what)


def test_an_optimizer_variable_of_the_wrong_type_is_refused_before_any_weight_changes(tmp_path):
    path = with_optimizer_value(tmp_path, 2, np.array(["m"] * 20, dtype="S1").reshape(4, 5))
    model = trained_model(seed=2)
    before = state_of(model)
    refused(lambda: model.load_weights(path), path, match="no numeric array at optimizer/vars/2")
    assert_same_state(state_of(model), before)


# -- 7: modes and symbolic links ----------------------------------------------------------------
@pytest.mark.parametrize("name", FORMATS)
def test_saving_over_a_private_file_keeps_it_private(tmp_path, name):
    path = tmp_path / name
    save(trained_model(), path)
    os.chmod(path, 0o600)
    save(trained_model(seed=3), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    umask = os.umask(0o027)
    try:
        trained_model().save(tmp_path / "m.keras")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "m.keras").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == 0o640


@pytest.mark.parametrize("name", FORMATS)
def test_saving_to_a_symlink_writes_through_to_its_target(tmp_path, name):
    (tmp_path / "real").mkdir()
    target, link = tmp_path / "real" / name, tmp_path / name
    save(trained_model(), target)
    os.symlink(os.path.join("real", name), link)  # a relative link, as `ln -s` makes
    newer = trained_model(seed=4)
    save(newer, link)
    assert os.path.islink(link)
    model = trained_model()
    load(model, target)
    for w, expected in zip(model.get_weights(), newer.get_weights()):
        np.testing.assert_array_equal(w, expected)
    os.remove(target)  # a dangling link: the save creates its target, as open() would
    save(newer, link)
    assert os.path.islink(link) and os.path.isfile(target)
    assert sorted(os.listdir(tmp_path / "real")) == [name]


# -- 13: only regular files ---------------------------------------------------------------------
SPECIAL_FILES = """
import os, sys
import numpy as np
import minidl
folder = sys.argv[1]
model = minidl.Sequential([minidl.layers.Input((4,)), minidl.layers.Dense(3)])
before = model.get_weights()
for name in ["m.weights.npz", "m.weights.h5", "m.keras"]:
    fifo, zero = os.path.join(folder, "fifo_" + name), os.path.join(folder, "zero_" + name)
    os.mkfifo(fifo)
    os.symlink("/dev/zero", zero)
    calls = [("load_weights", model.load_weights)]
    if name.endswith(".keras"):
        calls.append(("load_model", minidl.models.load_model))
    for path in (fifo, zero):
        for what, call in calls:
            try:
                call(path)
                outcome = "loaded"
            except Exception as error:
                outcome = f"{type(error).__name__}: {error}"
            print(what, path, "->", outcome, flush=True)
same = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
print("weights unchanged" if same else "weights changed", flush=True)
"""


def test_a_fifo_or_a_link_to_dev_zero_is_refused_without_blocking(tmp_path):
    """In another process: a blocked read of a FIFO can hold the GIL and stop this one."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(minidl.__file__)))
    try:
        run = subprocess.run([sys.executable, "-c", SPECIAL_FILES, str(tmp_path)],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": root})
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"a load blocked; it had printed:\n{timeout.stdout}")
    lines = run.stdout.splitlines()
    assert len(lines) == 9 and lines[-1] == "weights unchanged", run.stdout + run.stderr
    for line in lines[:-1]:
        what, path, _, outcome = line.split(" ", 3)
        assert outcome.startswith("ValueError: ") and path in outcome, line
        assert "regular file" in outcome, line


def test_saving_onto_a_fifo_or_a_link_to_dev_null_is_refused_and_leaves_them_alone(tmp_path):
    fifo, null = tmp_path / "fifo.keras", tmp_path / "null.weights.h5"
    os.mkfifo(fifo)
    os.symlink("/dev/null", null)
    model = trained_model()
    refused(lambda: model.save(fifo), fifo, match="FIFO")
    refused(lambda: model.save_weights(null), null, match="character device")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(null)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["fifo.keras", "null.weights.h5"]


# -- 10: byte flips ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FORMATS)
def test_byte_flips_anywhere_give_a_clear_error_naming_the_file(tmp_path, name):
    path = tmp_path / name
    save(trained_model(), path)
    data = path.read_bytes()
    rng = np.random.default_rng(10)
    positions = sorted(set(rng.choice(len(data), size=min(len(data), 160), replace=False)))
    bad = tmp_path / ("flipped_" + name)
    model = trained_model(seed=5)
    outcomes = {"refused": 0, "loaded": 0}
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        for call in ([lambda: model.load_weights(bad), lambda: load_model(bad)]
                     if name.endswith(".keras") else [lambda: model.load_weights(bad)]):
            try:
                call()
                outcomes["loaded"] += 1  # the flip hit a number, or bytes no reader uses
            except (ValueError, OSError) as error:
                assert str(bad) in str(error), f"flip at byte {position}: {error!r}"
                outcomes["refused"] += 1
    assert outcomes["refused"] > 20


# -- 11: declared sizes --------------------------------------------------------------------------
def peak_bytes_of(call):
    """The most memory (NumPy's and Python's) call() held at once, and what it raised."""
    tracemalloc.start()
    try:
        call()
        error = None
    except Exception as raised:
        error = raised
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, error


def test_an_npz_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.weights.npz"
    model = trained_model()
    with zipfile.ZipFile(path, "w") as zf:
        for i, w in enumerate(model.weights):
            with zf.open(f"{i:04d}:{w.path}.npy", "w") as f:
                shape = (10**12, 4) if i == 0 else w.shape
                np.lib.format.write_array_header_1_0(
                    f, {"descr": "<f4", "fortran_order": False, "shape": shape})
                f.write(w.value.tobytes())
    before = state_of(model)
    peak, error = peak_bytes_of(lambda: model.load_weights(path))
    assert isinstance(error, ValueError) and str(path) in str(error)
    assert "(1000000000000, 4)" in str(error) and peak < 2**20
    assert_same_state(state_of(model), before)


def test_npz_files_of_another_model_or_holding_objects_are_refused(tmp_path):
    model = trained_model()
    fewer, pickled = tmp_path / "fewer.weights.npz", tmp_path / "pickled.weights.npz"
    np.savez(fewer, *model.get_weights()[:3])
    arrays = {f"{i:04d}:w": w for i, w in enumerate(model.get_weights())}
    arrays["0000:w"] = np.array([{"not": "numbers"}] * 20, dtype=object).reshape(4, 5)
    np.savez(pickled, **arrays)
    before = state_of(model)
    refused(lambda: model.load_weights(fewer), fewer, match="holds 3 weight arrays")
    refused(lambda: model.load_weights(pickled), pickled, match="dtype object")
    assert_same_state(state_of(model), before)


def layers_of(config, class_name):
    return [layer for layer in config["config"]["layers"] if layer["class_name"] == class_name]


def dense_config(units):
    def edit(config):
        layers_of(config, "Dense")[0]["config"]["units"] = units
    return edit


def input_shape_config(shape):
    def edit(config):
        layers_of(config, "InputLayer")[0]["config"]["batch_shape"] = shape
        layers_of(config, "Dense")[0]["build_config"]["input_shape"] = shape
        config["config"]["build_input_shape"] = config["build_config"]["input_shape"] = shape
    return edit


def all_dense_config(units):
    def edit(config):
        for layer in layers_of(config, "Dense"):
            layer["config"]["units"] = units
    return edit


@pytest.mark.parametrize("edit, match", [
    (dense_config(10**12), r"units.*\[1, 2147483647\]"),
    (dense_config("many"), "units"),
    (dense_config(0), "units"),
    (input_shape_config([None, 1e13]), r"shape\[1\]: expected an integer"),
    (input_shape_config([None, 10**13]), r"shape\[1\]: expected an integer"),
    (input_shape_config([None, 2**20, 2**20]), "numbers per sample"),
    (all_dense_config(2**20), "layers declare 1,099,5"),
], ids=["units-1e12", "units-str", "units-0", "batch-1e13", "batch-10**13", "2**40-per-sample",
        "1e12-weights"])
def test_a_config_declaring_huge_sizes_is_refused_before_allocating(tmp_path, keras_file, edit,
                                                                   match):
    path = rewrite_keras(keras_file, tmp_path / "huge.keras", edit)
    peak, error = peak_bytes_of(lambda: load_model(path))
    assert isinstance(error, ValueError), repr(error)
    assert str(path) in str(error) and re.search(match, str(error)), str(error)
    assert peak < 16 * 2**20


def test_a_config_nested_100000_deep_is_refused(tmp_path, keras_file):
    deep = b'{"class_name": "Sequential", "config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = rewrite_keras(keras_file, tmp_path / "deep.keras", lambda config: deep)
    refused(lambda: load_model(path), path, match="nests deeper")
    shallow_enough = {"class_name": "Sequential", "config": {"a": [[[[]]]]}}  # (a bad model)
    path = rewrite_keras(keras_file, tmp_path / "odd.keras",
                         lambda config: json.dumps(shallow_enough).encode())
    refused(lambda: load_model(path), path, match="not a valid Keras model config")


def test_a_config_that_inflates_to_300_mb_is_refused_without_reading_it(tmp_path, keras_file):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(keras_file) as src, zipfile.ZipFile(
            path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("config.json", "w", force_zip64=True) as f:
            chunk = b" " * 2**20
            for _ in range(300):
                f.write(chunk)
        zf.writestr("model.weights.h5", src.read("model.weights.h5"))
    assert os.path.getsize(path) < 3 * 2**20
    peak, error = peak_bytes_of(lambda: load_model(path))
    assert isinstance(error, ValueError) and str(path) in str(error)
    assert "config.json declares 314,572,800 bytes" in str(error) and peak < 16 * 2**20


def test_a_weights_member_bigger_than_the_model_could_need_is_refused(tmp_path, keras_file):
    path = tmp_path / "fat.keras"
    with zipfile.ZipFile(keras_file) as src, zipfile.ZipFile(
            path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("config.json", src.read("config.json"))
        zf.writestr("model.weights.h5", bytes(80 * 2**20))
    peak, error = peak_bytes_of(lambda: load_model(path))
    assert isinstance(error, ValueError) and str(path) in str(error)
    assert "model.weights.h5 declares" in str(error) and peak < 16 * 2**20


# -- 12: compile_config types ----------------------------------------------------------------------
def compile_edit(key, value, where="compile_config"):
    def edit(config):
        if where == "optimizer":
            config["compile_config"]["optimizer"]["config"][key] = value
        else:
            config["compile_config"][key] = value
    return edit


@pytest.mark.parametrize("edit, match", [
    (compile_edit("loss", {"module": "keras.losses", "class_name": "MeanSquaredError",
                           "config": [1, 2], "registered_name": None}),
     "Expected 'config' to be a dict for MeanSquaredError"),
    (compile_edit("metrics", [{"module": "keras.metrics", "class_name": "MeanAbsoluteError",
                               "config": ["mae"], "registered_name": None}]),
     "Expected 'config' to be a dict for MeanAbsoluteError"),
    (compile_edit("beta_1", "abc", "optimizer"), r"`beta_1` must be a number in \[0, 1\]"),
    (compile_edit("learning_rate", math.nan, "optimizer"), "`learning_rate` must be"),
    (compile_edit("learning_rate", "0.01", "optimizer"), "`learning_rate` must be"),
    (compile_edit("epsilon", -1.0, "optimizer"), "`epsilon` must be"),
    (compile_edit("amsgrad", "yes", "optimizer"), "`amsgrad` must be True or False"),
], ids=["loss-config-list", "metric-config-list", "beta_1-str", "lr-nan", "lr-str",
        "epsilon-negative", "amsgrad-str"])
def test_a_compile_config_of_the_wrong_types_is_refused_at_load(tmp_path, keras_file, edit,
                                                                match):
    path = rewrite_keras(keras_file, tmp_path / "bad_compile.keras", edit)
    refused(lambda: load_model(path), path, match=match)
    assert not load_model(path, compile=False).compiled  # the model itself is fine


def test_rmsprop_rho_of_the_wrong_type_is_refused_at_load_not_in_fit(tmp_path):
    model = minidl.Sequential([Input((4,)), Dense(3)])
    model.compile(minidl.optimizers.RMSprop(), "mse")
    model.save(tmp_path / "rms.keras")
    path = rewrite_keras(tmp_path / "rms.keras", tmp_path / "rho.keras",
                         compile_edit("rho", "abc", "optimizer"))
    refused(lambda: load_model(path), path, match=r"`rho` must be a number in \[0, 1\]")


# -- 17: temporary files ---------------------------------------------------------------------------
KILLED_SAVE = """
import sys, time
import numpy as np
import minidl
from minidl.saving import h5
model = minidl.Sequential([minidl.layers.Input((4,)), minidl.layers.Dense(3)])
def write_then_hang(h5_file, model):
    h5_file.create_group("layers")
    print("writing", flush=True)
    time.sleep(60)
h5.write_weights = write_then_hang
model.save(sys.argv[1])
"""


def killed_mid_save(path):
    """Run a save in another process and kill -9 it while the temporary file exists."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(minidl.__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    process = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)],
                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout.readline().strip() == "writing"
    finally:
        process.kill()  # SIGKILL: no cleanup code runs
        process.wait()


def temporary_files(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith(".minidl-"))


def test_a_save_killed_with_kill_9_is_cleaned_up_by_the_next_save(tmp_path):
    path, other = tmp_path / "m.keras", tmp_path / "other.keras"
    model = trained_model()
    model.save(path)
    good = path.read_bytes()
    killed_mid_save(path)
    killed_mid_save(other)
    assert path.read_bytes() == good  # the old file is whole
    leftovers = temporary_files(tmp_path)
    assert len(leftovers) == 2 and any(name.endswith("-m.keras.tmp") for name in leftovers)
    model.save(path)
    assert [name for name in temporary_files(tmp_path)] == [
        name for name in leftovers if name.endswith("-other.keras.tmp")]  # not this target's
    model.save(other)
    assert temporary_files(tmp_path) == []


def test_a_temporary_file_of_a_save_still_running_is_left_alone(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        in_progress = tmp_path / f".minidl-{live.pid}-0123abcd-m.keras.tmp"
        in_progress.write_bytes(b"being written")
        trained_model().save(tmp_path / "m.keras")
        assert in_progress.exists()
    finally:
        live.kill()
        live.wait()
    trained_model().save(tmp_path / "m.keras")
    assert not in_progress.exists()  # its process is gone now


def read_only_folder(tmp_path):
    """A folder this process cannot create files in (root ignores permissions: use /sys)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        open(folder / "probe", "wb").close()
    except PermissionError:
        return folder
    for candidate in ("/sys", "/proc"):
        try:
            open(os.path.join(candidate, "probe.keras"), "wb").close()
        except OSError:
            return candidate
    pytest.fail("found no folder this process cannot write to")


def test_errors_for_a_missing_or_read_only_folder_name_the_target(tmp_path):
    model = trained_model()
    missing = tmp_path / "no" / "such" / "m.keras"
    error = refused(lambda: model.save(missing), missing, FileNotFoundError)
    assert ".minidl-" not in str(error) and "folder does not exist" in str(error)
    locked = os.path.join(read_only_folder(tmp_path), "m.weights.h5")
    error = refused(lambda: model.save_weights(locked), locked, OSError)
    assert ".minidl-" not in str(error)
    (tmp_path / "file").write_text("")
    inside_a_file = tmp_path / "file" / "m.weights.npz"
    error = refused(lambda: model.save_weights(inside_a_file), inside_a_file, OSError)
    assert ".minidl-" not in str(error)


def test_a_failing_write_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "m.weights.npz"

    def disk_full(file, **arrays):
        raise OSError(28, "No space left on device", file.name)

    monkeypatch.setattr(np, "savez", disk_full)
    error = refused(lambda: trained_model().save_weights(path), path, OSError,
                    match="No space left on device")
    assert error.errno == 28 and ".minidl-" not in str(error)
    assert os.listdir(tmp_path) == []


def test_an_optimizer_with_a_schedule_stores_no_learning_rate_and_loads_its_state(tmp_path):
    """Keras keeps no learning-rate variable for a schedule: the file is [iterations, *slots]."""
    def model():
        minidl.utils.set_random_seed(0)
        built = minidl.Sequential([Input((4,)), Dense(3)])
        schedule = minidl.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        built.compile(minidl.optimizers.Adam(schedule), "mse")
        return built

    trained = model()
    trained.fit(X, Y, batch_size=4, verbose=0)
    trained.save_weights(tmp_path / "s.weights.h5")
    loaded = model()
    loaded.load_weights(tmp_path / "s.weights.h5")
    assert_same_state(state_of(loaded), state_of(trained))
    assert loaded.optimizer.learning_rate == trained.optimizer.learning_rate  # read at step 2


def test_a_weight_budget_refuses_the_weight_that_would_exceed_it():
    """What Layer.add_weight calls before allocating, while a file's model is built."""
    from minidl.saving import limits

    with limits.weight_budget(100):
        limits.charge((5, 10))
        limits.charge((50,))
        with pytest.raises(ValueError, match=r"a weight of shape \(1,\) exceeds"):
            limits.charge((1,))
    limits.charge((10**12, 4))  # outside a load nothing is counted
