"""minidl and Keras trained in lockstep: same weights, same batches, same numbers.

Tolerances (everything is float32, whose spacing near 1 is 1.2e-7):
- Histories: rtol 1e-5, atol 1e-6. The optimizers are bit-exact; the only differences come
  from matmul summation order and exp/log implementations, a few float32 ulps per step
  (~1e-7 seen). 1e-5 leaves room for those to compound over a few hundred steps while still
  catching any real mistake, which shows up at 1e-3 or more within one epoch. Accuracies
  must match too: a single flipped prediction would move them by 1/N > atol.
- Weights at the end: atol 1e-5 (and rtol 1e-5), the same reasoning.
- Per-step losses derived from running means: atol 1e-5, because deriving them amplifies the
  float32 rounding of the running mean (see StepRecorder).
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import minidl
from minidl import optimizers
from minidl.layers import Dense
from minidl.models import Sequential
from minidl.utils import set_random_seed, to_categorical

import keras  # noqa: F401  (a missing Keras must fail, not skip)
from reference.lockstep import LockstepRun, lockstep_fit, lockstep_steps  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
WEIGHT_ATOL = 1e-5
STEP_ATOL = 1e-5


def make_model(input_dim, layers, optimizer="adam", loss="mse", metrics=None, seed=0):
    """A compiled Sequential; `layers` is a list of (units, activation)."""
    set_random_seed(seed)
    model = Sequential([Dense(units, activation=activation, input_shape=(input_dim,))
                        if index == 0 else Dense(units, activation=activation)
                        for index, (units, activation) in enumerate(layers)])
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics or [])
    return model


def assert_histories_agree(run):
    assert sorted(run.minidl_history) == sorted(run.keras_history)
    for key in run.minidl_history:
        np.testing.assert_allclose(run.minidl_history[key], run.keras_history[key],
                                   rtol=RTOL, atol=ATOL, err_msg=key)


def assert_weights_agree(run):
    for ours, theirs in zip(run.minidl_model.get_weights(), run.keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=WEIGHT_ATOL)


def lab_e1_data():
    """The lab's E1 training rows: 800 of 1000 points, split as the lab splits them."""
    from sklearn import model_selection
    x, y = minidl.datasets.synthetic.sum_greater_than_one(1000, seed=42)
    x_train, x_test, y_train, y_test = model_selection.train_test_split(
        x, y, test_size=0.2, random_state=42)
    return x_train, y_train


# -- the lab's E1: 2-64-1, relu/sigmoid, Adam, binary cross-entropy ---------------------
@pytest.fixture(scope="module")
def e1_run():
    x, y = lab_e1_data()
    model = make_model(2, [(64, "relu"), (1, "sigmoid")], "adam", "binary_crossentropy",
                       ["accuracy"])
    initial = model.get_weights()
    run = lockstep_fit(model, x, y, batch_size=32, epochs=3, validation_split=0.2, seed=1)
    return run, initial


def test_e1_histories_and_weights_agree(e1_run):
    run, initial = e1_run
    assert sorted(run.minidl_history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(values) == 3 for values in run.minidl_history.values())
    assert_histories_agree(run)
    assert_weights_agree(run)
    assert max(run.max_abs_diff().values()) < 1e-5
    # Not vacuous: training moved the weights and the loss.
    assert np.abs(run.minidl_model.get_weights()[0] - initial[0]).max() > 1e-3
    assert run.minidl_history["loss"][-1] < run.minidl_history["loss"][0]


def test_e1_batches_permutations_and_timing(e1_run):
    run, _ = e1_run
    assert (run.n_train, run.n_val, run.batch_size) == (640, 160, 32)
    assert len(run.permutations) == 3
    for order in run.permutations:
        assert sorted(order) == list(range(640))
    assert not np.array_equal(run.permutations[0], run.permutations[1])
    np.testing.assert_array_equal(run.permutations[0], np.random.default_rng(1).permutation(640))
    assert len(run.minidl_seconds) == len(run.keras_seconds) == 3
    assert all(s > 0 for s in run.minidl_seconds + run.keras_seconds)


def test_e1_step_logs_agree(e1_run):
    run, _ = e1_run
    assert len(run.minidl_step_logs) == len(run.keras_step_logs) == 3 * 20
    for ours, theirs in zip(run.minidl_step_logs, run.keras_step_logs):
        assert (ours["epoch"], ours["step"], ours["batch_size"]) == \
               (theirs["epoch"], theirs["step"], theirs["batch_size"])
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=RTOL, abs=ATOL)
        assert ours["step_loss"] == pytest.approx(theirs["step_loss"], abs=STEP_ATOL)
        assert ours["step_accuracy"] == pytest.approx(theirs["step_accuracy"], abs=1e-6)
    # The last running mean of an epoch is that epoch's history value.
    last = [log for log in run.minidl_step_logs if log["step"] == 19]
    assert [log["loss"] for log in last] == run.minidl_history["loss"]


# -- the lab's E4: 2-64-1 relu/linear, Adam, MSE + 'mae', y of shape (N,) -------------------
def test_e4_regression_with_validation_data():
    x, y = minidl.datasets.synthetic.sum_regression(1000, seed=42)
    model = make_model(2, [(64, "relu"), (1, None)], "adam", "mse", ["mae"])
    run = lockstep_fit(model, x[:500], y[:500], batch_size=32, epochs=3,
                       validation_data=(x[500:700], y[500:700]))
    assert y.shape == (1000,)
    assert sorted(run.minidl_history) == ["loss", "mae", "val_loss", "val_mae"]
    assert (run.n_train, run.n_val) == (500, 200)  # 500 = 15 * 32 + 20: a partial last batch
    assert_histories_agree(run)
    assert_weights_agree(run)


# -- a 784-512-10 classifier, shrunk: digits 64-32-10, RMSprop, sparse cross-entropy --------
def test_digits_classifier_partial_last_batch():
    from minidl.datasets import digits
    (x, y), _ = digits.load_data()
    x = x[:300].reshape(300, 64).astype("float32") / 16  # (300, 64) in [0, 1]
    y = y[:300]
    model = make_model(64, [(32, "relu"), (10, "softmax")], "rmsprop",
                       "sparse_categorical_crossentropy", ["accuracy"])
    run = lockstep_fit(model, x, y, batch_size=64, epochs=2, validation_split=0.1)
    assert run.n_train % run.batch_size != 0  # 270 = 4 * 64 + 14
    assert run.minidl_step_logs[4]["batch_size"] == 14
    assert_histories_agree(run)
    assert_weights_agree(run)


# -- optimizer variants ---------------------------------------------------------------
OPTIMIZER_VARIANTS = {
    "sgd_momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "rmsprop_centered": lambda: optimizers.RMSprop(0.01, centered=True),
    "rmsprop_momentum": lambda: optimizers.RMSprop(0.01, momentum=0.5),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("variant", sorted(OPTIMIZER_VARIANTS))
def test_optimizer_variants(variant):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4))  # (50, 4)
    y = to_categorical(rng.integers(0, 3, size=50), 3)  # (50, 3) one-hot
    model = make_model(4, [(8, "tanh"), (3, "softmax")], OPTIMIZER_VARIANTS[variant](),
                       "categorical_crossentropy", ["accuracy"])
    run = lockstep_fit(model, x, y, batch_size=16, epochs=2, validation_split=0.2)
    assert run.n_train == 40 and run.minidl_step_logs[2]["batch_size"] == 8
    assert_histories_agree(run)
    assert_weights_agree(run)


# -- the validation split is Keras's own ---------------------------------------------------
def test_validation_split_matches_keras_fit():
    """Without shuffling, lockstep's split must give what Keras's own validation_split gives."""
    from reference.twins import keras_twin

    x, y = lab_e1_data()
    x, y = x[:103], y[:103]  # 103 * 0.75 = 77.25: the floor matters
    model = make_model(2, [(4, "relu"), (1, "sigmoid")], "sgd", "binary_crossentropy",
                       ["accuracy"])
    reference = keras_twin(model)
    expected = reference.fit(x, y, batch_size=10, epochs=2, validation_split=0.25,
                             shuffle=False, verbose=0).history
    run = lockstep_fit(model, x, y, batch_size=10, epochs=2, validation_split=0.25,
                       shuffle=False)
    assert (run.n_train, run.n_val) == (77, 26)
    np.testing.assert_array_equal(run.permutations[1], np.arange(77))
    for key, values in expected.items():
        np.testing.assert_allclose(run.keras_history[key], values, rtol=0, atol=0)
        np.testing.assert_allclose(run.minidl_history[key], values, rtol=RTOL, atol=ATOL)


# -- train_on_batch trajectories ----------------------------------------------------------
def test_lockstep_steps_trajectories_and_fit_agree():
    """Step by step the weights stay together; one pass of steps is one epoch of fit."""
    x, y = lab_e1_data()
    x, y = x[:70], y[:70]
    spec = dict(input_dim=2, layers=[(6, "relu"), (1, "sigmoid")], optimizer="adam",
                loss="binary_crossentropy", metrics=["accuracy"], seed=5)
    steps = lockstep_steps(make_model(**spec), x, y, batch_size=32, steps=3)
    assert len(steps.minidl_weights) == len(steps.keras_weights) == 4
    assert steps.max_weight_diff()[0] == 0.0  # the twin starts from the same weights
    assert max(steps.max_weight_diff()) < WEIGHT_ATOL
    np.testing.assert_allclose(steps.minidl_losses, steps.keras_losses, rtol=RTOL, atol=ATOL)

    run = lockstep_fit(make_model(**spec), x, y, batch_size=32, epochs=1, shuffle=False)
    for ours, theirs in zip(run.minidl_model.get_weights(), steps.minidl_weights[-1]):
        np.testing.assert_array_equal(ours, theirs)
    derived = [log["step_loss"] for log in run.minidl_step_logs]
    np.testing.assert_allclose(derived, steps.minidl_losses, atol=STEP_ATOL)


# -- errors and bookkeeping, without training -----------------------------------------------
def test_rejects_uncompiled_and_already_trained_models():
    x, y = lab_e1_data()
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
    with pytest.raises(ValueError, match="compiled"):
        lockstep_fit(model, x, y)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.train_on_batch(x[:4], y[:4])
    with pytest.raises(ValueError, match="iterations=1"):
        lockstep_fit(model, x, y)


def test_max_abs_diff_reports_each_key():
    """Negative control: a planted difference is reported, per key."""
    run = LockstepRun(minidl_model=None, keras_model=None,
                      minidl_history={"loss": [0.5, 0.25], "mae": [1.0, 1.0]},
                      keras_history={"loss": [0.5, 0.75], "mae": [1.0, 1.0]},
                      minidl_step_logs=[], keras_step_logs=[], permutations=[],
                      minidl_seconds=[0.1, 0.1], keras_seconds=[0.2, 0.2])
    assert run.max_abs_diff() == {"loss": 0.5, "mae": 0.0}
    assert run.epochs == 2
    run.keras_history["val_loss"] = [0.1, 0.1]
    with pytest.raises(KeyError, match="val_loss"):
        run.max_abs_diff()


# -- property: random small Dense stacks ---------------------------------------------------
HEADS = {
    # name: (output activation, loss, output units); `labels` makes each one's labels
    "bce_int": ("sigmoid", "binary_crossentropy", 1),
    "bce_column": ("sigmoid", "binary_crossentropy", 1),
    "cce_onehot": ("softmax", "categorical_crossentropy", 3),
    "scce_int": ("softmax", "sparse_categorical_crossentropy", 3),
    "scce_column": ("softmax", "sparse_categorical_crossentropy", 3),
    "mse_flat": (None, "mse", 1),
    "mse_wide": ("linear", "mse", 2),
    "mae_flat": ("tanh", "mae", 1),
}


def labels(head, n, rng):
    """Labels for one of HEADS, in that head's format."""
    if head == "bce_int":
        return rng.integers(0, 2, size=n)  # (N,) int
    if head == "bce_column":
        return rng.integers(0, 2, size=(n, 1)).astype("float32")  # (N, 1) float
    if head == "cce_onehot":
        return to_categorical(rng.integers(0, 3, size=n), 3)  # (N, 3)
    if head == "scce_int":
        return rng.integers(0, 3, size=n)  # (N,)
    if head == "scce_column":
        return rng.integers(0, 3, size=(n, 1))  # (N, 1)
    if head == "mse_wide":
        return rng.normal(size=(n, 2))  # (N, 2)
    return rng.normal(size=n)  # (N,)


@settings(max_examples=6, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["relu", "tanh", "sigmoid",
                                                                  "linear"])),
                    min_size=0, max_size=2),
    head=st.sampled_from(sorted(HEADS)),
    optimizer=st.sampled_from(["sgd", "rmsprop", "adam"]),
    input_dim=st.integers(1, 4),
    n=st.integers(8, 30),
    batch_size=st.integers(3, 12),
    validate=st.booleans(),
    seed=st.integers(0, 2**16),
)
# Heads the derandomized draws may miss, pinned so every loss and label format runs.
@example(hidden=[(5, "sigmoid")], head="mae_flat", optimizer="rmsprop", input_dim=3, n=17,
         batch_size=5, validate=True, seed=7)
@example(hidden=[(3, "tanh"), (4, "relu")], head="scce_int", optimizer="rmsprop",
         input_dim=2, n=20, batch_size=8, validate=True, seed=8)
@example(hidden=[(4, "relu")], head="bce_int", optimizer="sgd", input_dim=2, n=12,
         batch_size=5, validate=False, seed=9)
@example(hidden=[(6, "tanh")], head="mse_flat", optimizer="adam", input_dim=4, n=30,
         batch_size=7, validate=True, seed=10)
def test_random_dense_stacks_agree(hidden, head, optimizer, input_dim, n, batch_size,
                                   validate, seed):
    """Any stack of 1-3 Dense layers, any loss and label format: the runs agree."""
    activation, loss, units = HEADS[head]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, input_dim))  # (N, D)
    y = labels(head, n, rng)
    metrics = ["accuracy"] if "crossentropy" in loss else ["mae"]
    model = make_model(input_dim, hidden + [(units, activation)], optimizer, loss, metrics, seed)
    run = lockstep_fit(model, x, y, batch_size=batch_size, epochs=2,
                       validation_split=0.25 if validate else 0.0, seed=seed)
    assert len(run.minidl_step_logs) == 2 * math.ceil(run.n_train / batch_size)
    assert_histories_agree(run)
    assert_weights_agree(run)
