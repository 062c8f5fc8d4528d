"""Adafactor and LossScaleOptimizer against Keras: Adafactor's steps on weights of rank 0, 1, 2
and 4 (factored from rank 2), dense and as an Embedding's rows; LossScaleOptimizer's skipped
steps, halving and doubling of the scale, and fit's loss scaled before differentiation; fits
against the Keras twin; configs, names, `.keras` and legacy `.h5` files both ways; Keras's
errors.

Tolerances (float32):
- Adafactor's slots r, c and v depend on the gradients only, through Keras's operations in
  Keras's order (the means over 3 to 5 numbers summed in the same order): bit for bit.
- Its weights: alpha = max(epsilon_2, rms(w)) * rho and the clipping divisor rms(u) are
  means over the whole variable, which TensorFlow sums in another order than NumPy's
  pairwise sum: each can be an ULP or two off (measured: rms of a (4, 3) array one ULP
  apart), so each step can differ by a few ULPs *of the step*, which is up to
  rho * max(epsilon_2, rms(w)) * |u|, and so a few ULPs of the largest weights of the
  array rather than of each element. Checked as max|ours - Keras| <= ADAFACTOR_TOL * max|Keras|
  per array, ADAFACTOR_TOL = 1e-6 (8 ULPs; measured worst over these runs: 1.2e-7, one ULP);
  a negative control (v not factored) must fail it. With clipnorm, g itself is clipped by
  a norm summed in another order (base.py), so the slots too may be a few ULPs off.
- LossScaleOptimizer: a finite gradient of the scaled loss, divided by a power-of-two scale,
  is exactly the gradient of the loss (float32 scaling by 2**k is exact), so its steps are
  the inner optimizer's bit for bit, and Keras's to the inner optimizer's own tolerance
  (Adam: TensorFlow's float32 pow, POW_ULPS as in test_optimizers_more.py).
- fit: History to rtol 1e-5 (tests/parity.py), as the other fits against Keras.
"""
import warnings

import h5py
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from minidl import optimizers
from minidl.sparse import SparseRows
from minidl.variable import Variable
from reference.twins import keras_optimizer, keras_twin
from tests.parity import assert_same_fit, assert_same_summary

SHAPES = [(), (5,), (4, 3), (2, 3, 4, 5)]  # rank 0 and 1 keep v; rank 2 and 4 factor it
ADAFACTOR_TOL = 1e-6
POW_ULPS = 4


def ulps(a, b):
    """The largest distance between two float32 arrays, in units in the last place."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return int(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64)).max())


def drawn_steps(seed, steps, shapes=SHAPES):
    """Weights, and `steps` gradients of sizes from 1e-3 to 10 (so u is clipped, or not)."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[(rng.normal(size=s) * rng.choice([1e-3, 0.1, 1.0, 10.0])).astype(np.float32)
              for s in shapes] for _ in range(steps)]
    return weights, grads


def worst_gap(ours, theirs, grads_by_step, weights, slot_ulps=0):
    """Both optimizers over the same steps: the largest weight gap per step, each array's
    gap over its largest Keras weight; and the slots checked to `slot_ulps` (bit for bit,
    unless clipnorm's norm, a sum in another order, changes g by an ULP)."""
    mine = [Variable(w.copy(), f"w{i}") for i, w in enumerate(weights)]
    keras_vars = [keras.Variable(w.copy(), name=f"w{i}") for i, w in enumerate(weights)]
    worst = 0.0
    for grads in grads_by_step:
        ours.apply([g.copy() for g in grads], mine)
        theirs.apply(grads, keras_vars)
        for a, b in zip(mine, keras_vars):
            b = np.asarray(b)
            worst = max(worst, float(np.abs(a.value - b).max() / np.abs(b).max()))
    assert len(ours.variables) == len(theirs.variables)
    for a, b in zip(ours.variables[2:], theirs.variables[2:]):
        assert np.asarray(a).dtype == np.asarray(b).dtype and ulps(a, b) <= slot_ulps
    assert int(ours.iterations) == int(theirs.iterations.numpy()) == len(grads_by_step)
    return worst


ADAFACTOR_CASES = [
    {},  # Keras's defaults: rho = lr = 0.001
    dict(learning_rate=0.7, relative_step=False),  # rho = 1/sqrt(t) from t = 3
    dict(learning_rate=0.7, clip_threshold=0.5, weight_decay=0.1, epsilon_2=0.5),
    dict(learning_rate=optimizers.schedules.ExponentialDecay(0.9, 2, 0.5), beta_2_decay=-0.5,
         epsilon_1=1e-3, clipnorm=1.0),
]


@pytest.mark.parametrize("options", ADAFACTOR_CASES)
def test_adafactor_steps_match_keras_on_ranks_0_1_2_and_4(options):
    keras_options = dict(options)
    if "learning_rate" in options and not isinstance(options["learning_rate"], float):
        keras_options["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(
            **options["learning_rate"].get_config())
    weights, grads = drawn_steps(len(options), steps=6)
    worst = worst_gap(optimizers.Adafactor(**options), keras.optimizers.Adafactor(**keras_options),
                      grads, weights, slot_ulps=4 if "clipnorm" in options else 0)
    assert worst <= ADAFACTOR_TOL


class UnfactoredAdafactor(optimizers.Adafactor):
    """A wrong Adafactor: the full average of g**2 for matrices too (RMSprop's v)."""

    def _update_velocity(self, velocity, r, c, g_squared):
        t = self.iterations + 1
        beta_2 = velocity.dtype.type(1 - t ** self.beta_2_decay)
        velocity[...] = beta_2 * velocity + (1 - beta_2) * (g_squared + self.epsilon_1)


def test_negative_control_an_unfactored_v_fails_the_comparison():
    weights, grads = drawn_steps(0, steps=3)
    with pytest.raises(AssertionError):  # the slots differ, and then the weights
        worst_gap(UnfactoredAdafactor(learning_rate=0.5), keras.optimizers.Adafactor(0.5),
                  grads, weights)


def test_relative_step_changes_nothing_in_keras_nor_here():
    """Keras takes min(lr, 1/sqrt(t)) with relative_step True or False (adafactor.py)."""
    weights, grads = drawn_steps(5, steps=4, shapes=[(4, 3)])
    results = []
    for relative_step in (True, False):
        ours = Variable(weights[0].copy(), "w")
        theirs = keras.Variable(weights[0].copy(), name="w")
        mine = optimizers.Adafactor(0.9, relative_step=relative_step)
        keras_one = keras.optimizers.Adafactor(0.9, relative_step=relative_step)
        for g in grads:
            mine.apply([g[0].copy()], [ours])
            keras_one.apply([g[0]], [theirs])
        results.append((ours.value.copy(), np.asarray(theirs)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_adafactor_on_an_embeddings_rows_matches_keras():
    """Rows with repeated tokens (an Embedding's gradient, Keras's tf.IndexedSlices): r, c and
    v from the rows squared and summed per token, u and rms(u) from each row, a scatter."""
    rng = np.random.default_rng(3)
    table = rng.normal(size=(7, 3)).astype(np.float32)
    ours, theirs = Variable(table.copy(), "embeddings"), keras.Variable(table.copy())
    mine, keras_one = optimizers.Adafactor(0.3), keras.optimizers.Adafactor(0.3)
    summed = Variable(table.copy(), "embeddings")  # the negative control: rows summed first
    dense_one = optimizers.Adafactor(0.3)
    for _ in range(3):
        indices = rng.integers(0, 5, size=9)  # tokens 5 and 6 absent, others repeated
        rows = rng.normal(size=(9, 3)).astype(np.float32)
        mine.apply([SparseRows(indices, rows, table.shape)], [ours])
        keras_one.apply([tf.IndexedSlices(rows, indices, table.shape)], [theirs])
        dense_one.apply([SparseRows(indices, rows, table.shape).dense()], [summed])
    keras_table = np.asarray(theirs)
    assert np.abs(ours.value - keras_table).max() <= ADAFACTOR_TOL * np.abs(keras_table).max()
    for a, b in zip(mine.variables[2:], keras_one.variables[2:]):
        assert ulps(a, b) == 0
    assert np.abs(summed.value - keras_table).max() > 100 * ADAFACTOR_TOL


def small_model(optimizer, seed=0):
    minidl.utils.set_random_seed(seed)
    model = minidl.Sequential([minidl.layers.Input((6,)),
                               minidl.layers.Dense(5, activation="relu"),
                               minidl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data(seed=0, n=32):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


def test_a_fit_with_adafactor_by_name_matches_keras_history(capsys):
    """History and evaluate as the twin's; summary() counts the same optimizer params."""
    x, y = data()
    model = small_model("adafactor")
    assert type(model.optimizer) is optimizers.Adafactor
    twin = keras_twin(model)
    assert type(twin.optimizer) is keras.optimizers.Adafactor
    assert_same_fit(twin, model, x, y, epochs=2, batch_size=8)
    assert_same_summary(model, twin, capsys)


# -- LossScaleOptimizer -------------------------------------------------------------------------
def test_loss_scale_steps_match_keras_and_the_inner_optimizer():
    """Finite gradients: the inner step on g / S; inf or nan: no step, S halved, the counter
    reset; after dynamic_growth_steps finite steps in a row, S doubled. Each step against
    Keras's apply on the same gradients, and against a plain Adam given g / S."""
    weights, grads = drawn_steps(7, steps=8, shapes=[(4, 3), (3,)])
    grads[2][0][1, 2] = np.inf  # step 3 overflowed, step 5 made a nan
    grads[4][1][0] = np.nan
    ours = optimizers.LossScaleOptimizer(optimizers.Adam(0.01), initial_scale=4.0,
                                         dynamic_growth_steps=2)
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01), initial_scale=4.0,
                                                 dynamic_growth_steps=2)
    plain = optimizers.Adam(0.01)
    mine = [Variable(w.copy(), f"w{i}") for i, w in enumerate(weights)]
    keras_vars = [keras.Variable(w.copy(), name=f"w{i}") for i, w in enumerate(weights)]
    reference = [Variable(w.copy(), f"w{i}") for i, w in enumerate(weights)]
    scales, expected_scale, counter = [], 4.0, 0
    for grads_now in grads:
        finite = all(np.isfinite(g).all() for g in grads_now)
        if finite:
            plain.apply([g / np.float32(expected_scale) for g in grads_now], reference)
        before = [v.value.copy() for v in mine]
        ours.apply([g.copy() for g in grads_now], mine)
        theirs.apply(grads_now, keras_vars)
        if finite:
            counter += 1
            if counter == 2:
                expected_scale, counter = expected_scale * 2, 0
        else:
            expected_scale, counter = expected_scale / 2, 0
            for a, b in zip(mine, before):  # the step skipped
                np.testing.assert_array_equal(a.value, b)
        scales.append(float(ours.dynamic_scale))
        assert float(ours.dynamic_scale) == float(theirs.dynamic_scale.numpy()) == expected_scale
        assert int(ours.step_counter) == int(theirs.step_counter.numpy()) == counter
        assert ours.iterations == int(theirs.iterations.numpy()) == plain.iterations
        for a, b, c in zip(mine, keras_vars, reference):
            np.testing.assert_array_equal(a.value, c.value)
            assert ulps(a.value, np.asarray(b)) <= POW_ULPS
    assert scales == [4.0, 8.0, 4.0, 4.0, 2.0, 2.0, 4.0, 4.0]
    assert len(ours.variables) == len(theirs.variables)
    for a, b in zip(ours.variables, theirs.variables):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        assert ulps(a, b) <= POW_ULPS if np.asarray(a).dtype.kind == "f" else a == b


def test_a_fit_with_loss_scaling_matches_keras_and_the_inner_optimizer_bit_for_bit(capsys):
    """fit differentiates scale_loss(loss) and the optimizer unscales: the same weights as
    the inner optimizer alone, bit for bit; the History as Keras's twin's; summary() counts
    the same optimizer params."""
    x, y = data(1)
    model = small_model(optimizers.LossScaleOptimizer(optimizers.Adam(0.01),
                                                      dynamic_growth_steps=3))
    alone = small_model(optimizers.Adam(0.01))
    twin = keras_twin(model)
    assert type(twin.optimizer) is keras.optimizers.LossScaleOptimizer
    history = assert_same_fit(twin, model, x, y, epochs=2, batch_size=8, evaluate=False)
    assert alone.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history == history
    for ours, plain in zip(model.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(ours, plain)
    assert float(model.optimizer.dynamic_scale) == float(twin.optimizer.dynamic_scale.numpy())
    assert model.optimizer.iterations == int(twin.optimizer.iterations.numpy()) == 8
    assert_same_summary(model, twin, capsys)


def test_a_model_compiled_without_a_loss_scales_the_sum_of_its_losses():
    """Compiled with no loss, fit's step is Keras's train_step on the sum of model.losses
    (custom_step.py): scale_loss on that sum too. Weights bit for bit with the inner SGD
    alone, and the History as the Keras twin's."""
    def model_of(optimizer):
        minidl.utils.set_random_seed(0)
        model = minidl.Sequential([minidl.layers.Input((6,)),
                                   minidl.layers.Dense(4, activity_regularizer="l2"),
                                   minidl.layers.Dense(2, kernel_regularizer="l1")])
        model.compile(optimizer=optimizer)
        return model

    x, _ = data(5, n=16)
    model = model_of(optimizers.LossScaleOptimizer(optimizers.SGD(0.1)))
    alone = model_of(optimizers.SGD(0.1))
    twin = keras_twin(model, compile=False)
    twin.compile(optimizer=keras_optimizer(model.optimizer))
    histories = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both: "Gradients do not exist for ... bias"
        for m in (twin, model, alone):
            histories.append(m.fit(x, epochs=2, batch_size=8, shuffle=False, verbose=0).history)
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-5)
    assert histories[1] == histories[2]
    for ours, plain in zip(model.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(ours, plain)


def test_fit_scales_the_loss_before_differentiating_it():
    """A scale so large that the gradient of the scaled loss overflows (while the loss's own
    gradient is finite: scaling after differentiating would take the step): the step is
    skipped and the scale halved, in Keras and here; the logged loss is the unscaled one."""
    x, _ = data(2, n=8)
    y = np.full((8, 1), 1000.0, np.float32)  # dL/dy_pred ~ -250: times 2**127 is inf
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.layers.Input((6,)), minidl.layers.Dense(1)])
    model.compile(optimizer=optimizers.LossScaleOptimizer(optimizers.SGD(0.1),
                                                          initial_scale=2.0**127), loss="mse")
    twin = keras_twin(model)
    before = model.get_weights()
    ours, theirs = model.train_on_batch(x, y), twin.train_on_batch(x, y)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert float(model.optimizer.dynamic_scale) == float(twin.optimizer.dynamic_scale.numpy()) \
        == 2.0**126
    assert model.optimizer.iterations == int(twin.optimizer.iterations.numpy()) == 0
    _, grads = model.loss_and_gradients(x, y)  # the unscaled loss's gradient is finite
    assert all(np.isfinite(g).all() for g in grads)


def test_scale_loss_and_properties_as_keras():
    ours = optimizers.LossScaleOptimizer(optimizers.SGD(0.5), initial_scale=8.0)
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5), initial_scale=8.0)
    assert float(ours.scale_loss(np.float32(3.0))) == float(theirs.scale_loss(3.0)) == 24.0
    assert not hasattr(ours, "dynamic_scale") and not hasattr(theirs, "dynamic_scale")
    assert float(ours.learning_rate) == float(theirs.learning_rate.numpy()) == 0.5
    ours.learning_rate = theirs.learning_rate = 0.25
    assert float(ours.inner_optimizer.learning_rate) == 0.25
    assert float(theirs.inner_optimizer.learning_rate.numpy()) == 0.25
    assert ours.name.startswith("loss_scale_optimizer")  # (Keras and minidl count apart)
    assert theirs.name.startswith("loss_scale_optimizer")


# -- configs, names, files ----------------------------------------------------------------------
def test_configs_names_and_serialization_both_ways():
    ours = optimizers.Adafactor(0.01, beta_2_decay=-0.6, clip_threshold=2.0,
                                relative_step=False, name="af")
    theirs = keras.optimizers.deserialize(optimizers.serialize(ours))
    assert type(theirs) is keras.optimizers.Adafactor
    keras_config = theirs.get_config()
    assert ours.get_config() == {k: keras_config[k] for k in ours.get_config()}
    assert optimizers.Adafactor.from_config(keras_config).get_config() == ours.get_config()
    assert optimizers.deserialize(keras.optimizers.serialize(theirs)).get_config() == \
        ours.get_config()
    by_name, keras_by_name = optimizers.get("Adafactor"), keras.optimizers.get("adafactor")
    assert by_name.get_config() | {"name": None} == {
        k: v for k, v in keras_by_name.get_config().items() if k in by_name.get_config()} | {
        "name": None}  # (the names count apart: adafactor_8, adafactor_9)

    wrapped = optimizers.LossScaleOptimizer(ours, initial_scale=64.0, dynamic_growth_steps=5)
    keras_wrapped = keras.optimizers.deserialize(optimizers.serialize(wrapped))
    assert type(keras_wrapped) is keras.optimizers.LossScaleOptimizer
    keras_config = keras_wrapped.get_config()
    config = wrapped.get_config()
    assert list(config) == list(keras_config)  # name, inner_optimizer, initial_scale, ...
    inner, keras_inner = config.pop("inner_optimizer"), keras_config.pop("inner_optimizer")
    assert config == keras_config
    assert {k: keras_inner[k] for k in ("module", "class_name", "registered_name")} == \
        {k: inner[k] for k in ("module", "class_name", "registered_name")}
    assert inner["config"] == {k: keras_inner["config"][k] for k in inner["config"]}
    back = optimizers.deserialize(keras.optimizers.serialize(keras_wrapped))
    assert type(back.inner_optimizer) is optimizers.Adafactor
    assert back.get_config() == wrapped.get_config()
    assert optimizers.LossScaleOptimizer.from_config(wrapped.get_config()).get_config() == \
        wrapped.get_config()


@pytest.mark.parametrize("wrapped", [False, True])
def test_keras_files_carry_the_state_both_ways(tmp_path, wrapped):
    """A model trained with Adafactor, or LossScaleOptimizer(Adafactor): minidl -> .keras ->
    Keras and back, every optimizer variable in Keras's order (the scale's, then Adafactor's r,
    c and v; alone, int32 zeros for a bias's r and c, which Keras's LossScaleOptimizer does
    not list), with no warning from either loader; one more step agrees."""
    x, y = data(3, n=16)
    optimizer = optimizers.Adafactor(0.05)
    if wrapped:
        optimizer = optimizers.LossScaleOptimizer(optimizer, dynamic_growth_steps=3)
    model = small_model(optimizer)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "ours.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Keras's "Skipping variable loading"
        loaded = keras.models.load_model(tmp_path / "ours.keras")
    # iterations, rate, then r, c, v per kernel; alone: r, c (int32 zeros), v per bias, else
    # v only, after the scale's four (its own iterations and rate, step counter, scale)
    assert len(model.optimizer.variables) == 14
    for theirs, ours in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(theirs), ours)
        assert np.asarray(theirs).dtype == np.asarray(ours).dtype
    loaded.train_on_batch(x[:4], y[:4])
    loaded.save(tmp_path / "theirs.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = minidl.models.load_model(tmp_path / "theirs.keras")
    assert back.optimizer.get_config() == model.optimizer.get_config()
    for ours, theirs in zip(back.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours, np.asarray(theirs))
    assert back.optimizer.iterations == 5
    if wrapped:  # grown to 2**16 at the 3rd step, then 2 finite steps
        assert float(back.optimizer.dynamic_scale) == 2.0**16
        assert int(back.optimizer.step_counter) == 2
    model.train_on_batch(x[:4], y[:4])
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        assert np.abs(ours - theirs).max() <= ADAFACTOR_TOL * np.abs(theirs).max()


def test_legacy_h5_files_name_and_read_the_scale_state_as_keras(tmp_path):
    """A legacy `.h5` file: the optimizer weight names Keras writes for a LossScaleOptimizer
    (its own four, the inner's iteration and rate, the slots under both names), and a file
    written by Keras read back into minidl with every variable."""
    x, y = data(4, n=8)
    model = small_model(optimizers.LossScaleOptimizer(optimizers.Adam(0.01)))
    twin = keras_twin(model)
    for m in (model, twin):
        m.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's "This file format is considered legacy"
        model.save(tmp_path / "ours.h5")
        twin.save(tmp_path / "theirs.h5")
    names = []
    for path in ("ours.h5", "theirs.h5"):
        with h5py.File(tmp_path / path, "r") as f:
            names.append([n.decode() if isinstance(n, bytes) else str(n)
                          for n in f["optimizer_weights"].attrs["weight_names"]])
    def plain(name, m):  # without the names each framework counts apart, and the Sequential's
        return (name.replace(f"{m.name}_", "")  # scope (the twin is built from a config)
                .replace(m.optimizer.name, "LSO").replace(m.optimizer.inner_optimizer.name, "IN"))

    assert [plain(n, model) for n in names[0]] == [plain(n, twin) for n in names[1]]
    assert names[0][6].endswith("_kernel_momentum") and len(names[0]) == 14
    back = minidl.models.load_model(tmp_path / "theirs.h5")
    for ours, theirs in zip(back.optimizer.variables, twin.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours, np.asarray(theirs))


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [dict(weight_decay=0.1), dict(clipnorm=1.0),
                                     dict(use_ema=True), dict(foo=1, bar=2),
                                     dict(dynamic=False)])
def test_loss_scale_optimizer_refuses_what_keras_refuses(options):
    with pytest.raises(ValueError) as keras_error:
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(), **options)
    with pytest.raises(ValueError) as ours:
        optimizers.LossScaleOptimizer(optimizers.SGD(), **options)
    assert str(ours.value) == str(keras_error.value)


def test_the_base_options_at_their_defaults_are_accepted_as_keras():
    """Old Keras configs wrote them: LossScaleOptimizer takes them when they are off."""
    ours = optimizers.LossScaleOptimizer(optimizers.SGD(), weight_decay=None, use_ema=False,
                                         ema_momentum=0.99, clipnorm=None)
    assert ours.get_config()["initial_scale"] == 2.0**15


def test_a_wrong_inner_optimizer_raises_keras_error():
    with pytest.raises(AttributeError) as keras_error:
        keras.optimizers.LossScaleOptimizer("adam")
    with pytest.raises(AttributeError) as ours:
        optimizers.LossScaleOptimizer("adam")
    assert str(keras_error.value) in str(ours.value)
    assert "inner_optimizer" in str(ours.value)
