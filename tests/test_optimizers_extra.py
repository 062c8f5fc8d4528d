"""Adadelta, Lion, Ftrl and Lamb against Keras: 30 steps on drawn weights and gradients, gradients
of rows (an Embedding's), a fit, configs, names, `variables` and .keras files both ways.

Tolerances (float32):
- Adadelta and Lion are element-wise arithmetic, Keras's operations in Keras's order:
  weights and every slot bit for bit (0 ULPs), dense or rows.
- Ftrl raises n to the power -learning_rate_power. TensorFlow's float32 pow is within 1 ULP
  of the correctly rounded power but often not equal to it (NumPy's is correctly rounded
  here; measured: 1 ULP apart on a quarter of drawn n), and Ftrl divides a difference of two
  such powers by lr: sigma = (n_new**-p - n**-p) / lr. One ULP of n**-p ~ 2 is 2.4e-7, which
  over lr = 0.001 (the default) is 2.4e-4 * |w| added to z in one step, while z holds ~30
  gradients of size 1 to 10. So Ftrl is checked bit for bit where no pow is rounded
  (learning_rate_power=0), and otherwise norm-wise: max|ours - Keras| <= FTRL_RTOL * max|Keras|
  per array, FTRL_RTOL = 1e-4 (measured worst over these runs and seeds: 3e-5 at lr=0.001,
  below 2e-6 at lr >= 0.05). Its accumulator n (no pow) is bit for bit when not clipped by
  norm (a norm's sum is another story: tests/test_optimizers_more.py).
- fit: History to rtol 1e-5 (tests/parity.py), as the other fits against Keras.
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from minidl import optimizers
from minidl.sparse import SparseRows
from minidl.variable import Variable
from reference.twins import keras_twin
from tests.parity import assert_same_fit, same_random_weights

SHAPES, NAMES = [(3, 4), (4,), (4, 2), (2,)], ["kernel", "bias", "kernel", "bias"]
V, D = 7, 3  # an Embedding's table: vocabulary size, vector size
FTRL_RTOL = 1e-4


def ulps(a, b):
    """The largest distance between two float32 arrays, in units in the last place."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return int(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64)).max())


def normwise(a, b):
    """max|a - b| / max|b|: the error relative to the array's scale (b is Keras's)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), np.finfo(np.float32).tiny))


def drawn_steps(seed, steps, rows):
    """Weights and `steps` gradients of sizes 1e-3 to 10. With `rows`, the first weight is a
    (V, D) table whose gradient is 8 rows (repeated tokens; the last token only at step 0)."""
    rng = np.random.default_rng(seed)
    shapes = [(V, D), (D,)] if rows else SHAPES
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = []
    for step in range(steps):
        g = [(rng.normal(size=s) * rng.choice([1e-3, 0.1, 1.0, 10.0])).astype(np.float32)
             for s in shapes]
        if rows:
            ids = rng.integers(0, V if step == 0 else V - 1, size=8).astype(np.int32)
            ids[-1] = V - 1 if step == 0 else ids[-1]
            g[0] = (ids, (rng.normal(size=(8, D)) * rng.choice([1e-3, 0.1, 1.0])
                          ).astype(np.float32))
        grads.append(g)
    return weights, grads


def run_both(name, options, seed=0, steps=30, rows=False, ours=None):
    """`steps` updates in both frameworks from the same numbers. Returns ([weights: ours,
    Keras's], [variables: ours, Keras's]) after the last step, as float32 arrays."""
    ours = ours or getattr(optimizers, name)(**options)
    theirs = getattr(keras.optimizers, name)(**options)
    weights, grads = drawn_steps(seed, steps, rows)
    names = ["embeddings", "bias"] if rows else NAMES
    mine = [Variable(w.copy(), n) for w, n in zip(weights, names)]
    keras_vars = [keras.Variable(w.copy(), name=n) for w, n in zip(weights, names)]
    for g in grads:
        if rows:
            (ids, values), rest = g[0], g[1:]
            ours.apply([SparseRows(ids, values, (V, D))] + rest, mine)
            theirs.apply([tf.IndexedSlices(values, ids, (V, D))] + rest, keras_vars)
        else:
            ours.apply(g, mine)
            theirs.apply(g, keras_vars)
    assert int(ours.variables[0]) == int(theirs.variables[0].numpy()) == steps
    assert [np.shape(v) for v in ours.variables] == [tuple(v.shape) for v in theirs.variables]
    return ([(a.value, b.numpy()) for a, b in zip(mine, keras_vars)],
            [(np.asarray(a), b.numpy()) for a, b in zip(ours.variables[1:], theirs.variables[1:])])


def worst_ulps(pairs):
    return max(ulps(a, b) for a, b in pairs)


EXACT = [
    ("Adadelta", {}),
    ("Adadelta", dict(learning_rate=1.0, rho=0.9, epsilon=1e-6, weight_decay=0.01)),
    ("Adadelta", dict(learning_rate=0.5, clipvalue=0.3)),  # (clipnorm: tests/test_optimizers_more.py)
    ("Lion", {}),
    ("Lion", dict(learning_rate=0.01, beta_1=0.8, beta_2=0.95, weight_decay=0.1)),
    ("Lion", dict(learning_rate=0.01, beta_1=1.0, clipvalue=0.5)),
    ("Ftrl", dict(learning_rate=0.05, learning_rate_power=0.0, l1_regularization_strength=0.01,
                  l2_regularization_strength=0.1, beta=0.5)),
    ("Ftrl", dict(learning_rate=0.1, learning_rate_power=0.0,
                  l2_shrinkage_regularization_strength=0.05, initial_accumulator_value=0.0,
                  weight_decay=0.02)),
]
FTRL = [
    {},
    dict(learning_rate=0.1, learning_rate_power=-0.7, initial_accumulator_value=0.0,
         l1_regularization_strength=0.01, l2_regularization_strength=0.1,
         l2_shrinkage_regularization_strength=0.05, beta=0.5),
    dict(learning_rate=0.05, l1_regularization_strength=0.1, clipnorm=1.0),
    dict(learning_rate=0.2, l2_regularization_strength=0.01, global_clipnorm=2.0,
         weight_decay=0.01),
]


@pytest.mark.parametrize("rows", [False, True], ids=["dense", "rows"])
@pytest.mark.parametrize("name,options", EXACT)
def test_steps_match_keras_bit_for_bit(name, options, rows):
    weights, state = run_both(name, options, seed=len(options), rows=rows)
    assert worst_ulps(weights) == 0 and worst_ulps(state) == 0


@pytest.mark.parametrize("rows", [False, True], ids=["dense", "rows"])
@pytest.mark.parametrize("options", FTRL)
def test_ftrl_steps_match_keras_to_its_pow(options, rows):
    weights, state = run_both("Ftrl", options, seed=len(options), rows=rows)
    assert max(normwise(a, b) for a, b in weights + state) <= FTRL_RTOL
    if "clipnorm" not in options and "global_clipnorm" not in options:
        accumulators = state[1::2]  # n + g**2: no pow, so bit for bit
        assert worst_ulps(accumulators) == 0


def test_l1_makes_exact_zeros_in_both():
    """FTRL's point: |z| <= l1 gives w == 0 exactly, in the same places as Keras."""
    weights, _ = run_both("Ftrl", dict(learning_rate=0.5, l1_regularization_strength=5.0))
    for ours, theirs in weights:
        assert ((ours == 0) == (theirs == 0)).all()
    assert 0 < sum((ours == 0).sum() for ours, _ in weights) < sum(w.size for w, _ in weights)


# -- negative controls: plausible other readings must fail ----------------------------------
class EpsilonOutside(optimizers.Adadelta):
    """The paper's Adadelta reading with epsilon outside the roots: not Keras's."""

    def update_step(self, g, w, lr, accumulated_grad, accumulated_delta_var):
        a, d, rho = accumulated_grad, accumulated_delta_var, np.float32(self.rho)
        a[...] = rho * a + (1 - rho) * g**2
        step = -(np.sqrt(d) + np.float32(self.epsilon)) * g / (np.sqrt(a) + np.float32(
            self.epsilon))
        d[...] = rho * d + (1 - rho) * step**2
        w += lr * step


class MomentumFirst(optimizers.Lion):
    """Lion with the momentum updated before the sign is taken (beta_2 in the sign)."""

    def update_step(self, g, w, lr, momentum):
        momentum[...] = momentum * np.float32(self.beta_2) + g * np.float32(1 - self.beta_2)
        w -= lr * np.sign(momentum)


class SummedRows(optimizers.Adadelta):
    """The textbook reading of a gradient of rows: sum them per token, then the dense step."""

    def sparse_update_step(self, g, w, lr, **slots):
        self.update_step(g.dense(), w, lr, **slots)


@pytest.mark.parametrize("name,wrong,rows", [("Adadelta", EpsilonOutside, False),
                                             ("Lion", MomentumFirst, False),
                                             ("Adadelta", SummedRows, True)])
def test_negative_controls_fail(name, wrong, rows):
    options = {"learning_rate": 1.0, "epsilon": 1e-3} if name == "Adadelta" else {}
    weights, state = run_both(name, options, rows=rows, steps=5, ours=wrong(**options))
    assert worst_ulps(weights) > 1000


def test_ftrl_negative_control_squares_of_summed_rows_fail_the_tolerance():
    class SummedFtrl(optimizers.Ftrl):
        def sparse_update_step(self, g, w, lr, **slots):
            self.update_step(g.dense(), w, lr, **slots)
    weights, state = run_both("Ftrl", FTRL[2], rows=True, ours=SummedFtrl(**FTRL[2]))
    assert max(normwise(a, b) for a, b in weights + state) > 10 * FTRL_RTOL


# -- variables, set_weights, fit ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["Adadelta", "Lion", "Ftrl"])
def test_set_weights_takes_keras_variables_in_keras_order(name):
    """Keras's `variables` after 3 steps, given to minidl's set_weights: the next steps agree."""
    options = {"learning_rate": 0.05, "learning_rate_power": 0.0} if name == "Ftrl" else {}
    weights, grads = drawn_steps(4, 6, rows=False)
    theirs = getattr(keras.optimizers, name)(**options)
    keras_vars = [keras.Variable(w.copy(), name=n) for w, n in zip(weights, NAMES)]
    for g in grads[:3]:
        theirs.apply(g, keras_vars)
    ours = getattr(optimizers, name)(**options)
    mine = [Variable(v.numpy().copy(), n) for v, n in zip(keras_vars, NAMES)]
    ours.build(mine)
    ours.set_weights([v.numpy() for v in theirs.variables])
    for g in grads[3:]:
        theirs.apply(g, keras_vars)
        ours.apply(g, mine)
    assert worst_ulps([(a.value, b.numpy()) for a, b in zip(mine, keras_vars)]) == 0


def dense_model(optimizer):
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.layers.Input((4,)),
                               minidl.layers.Dense(5, activation="tanh"),
                               minidl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.mark.parametrize("optimizer", [
    "adadelta",  # the classic mnist_cnn.py's choice, by name with Keras's defaults
    optimizers.Adadelta(learning_rate=1.0),
    optimizers.Lion(learning_rate=0.01, weight_decay=0.05),
    optimizers.Ftrl(learning_rate=0.2, l1_regularization_strength=0.001)])
def test_a_fit_matches_keras_history(optimizer):
    model = dense_model(optimizer)
    twin = keras_twin(model)
    same_random_weights([model, twin], seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 4)).astype(np.float32), rng.integers(0, 3, size=24)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, evaluate=False)


def test_an_embedding_fit_with_adadelta_matches_keras():
    minidl.utils.set_random_seed(0)
    L = minidl.layers
    model = minidl.Sequential([L.Input((5,)), L.Embedding(V, D), L.GlobalAveragePooling1D(),
                               L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adadelta(learning_rate=1.0), loss="binary_crossentropy")
    twin = keras_twin(model)
    same_random_weights([model, twin], seed=1)
    x = np.random.default_rng(0).integers(0, V, size=(24, 5))  # repeated tokens in a batch
    y = (x.sum(axis=1) > 15).astype(np.float32)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, evaluate=False)


# -- configs, names, files, errors --------------------------------------------------------------
CONFIGS = [("Adadelta", dict(rho=0.9, epsilon=1e-6, clipnorm=1.0)),
           ("Lion", dict(beta_1=0.8, beta_2=0.9, weight_decay=0.01)),
           ("Ftrl", dict(learning_rate_power=-0.3, initial_accumulator_value=0.5,
                         l1_regularization_strength=0.1, l2_regularization_strength=0.2,
                         l2_shrinkage_regularization_strength=0.3, beta=0.4,
                         global_clipnorm=2.0))]


@pytest.mark.parametrize("name,options", CONFIGS)
def test_configs_use_keras_keys_and_load_both_ways(name, options):
    schedule = optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    for extra in ({}, {"learning_rate": schedule}):
        ours = getattr(optimizers, name)(name="opt", **options, **extra)
        theirs = keras.optimizers.deserialize(optimizers.serialize(ours))
        keras_config = theirs.get_config()
        assert ours.get_config() == {k: keras_config[k] for k in ours.get_config()}
        assert getattr(optimizers, name).from_config(keras_config).get_config() == \
            ours.get_config()


@pytest.mark.parametrize("name", ["adadelta", "lion", "ftrl"])
def test_names_resolve_with_keras_defaults(name):
    ours, theirs = optimizers.get(name), keras.optimizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config() | {"name": None} == {
        k: v for k, v in theirs.get_config().items() if k in ours.get_config()} | {"name": None}


@pytest.mark.parametrize("name,options", CONFIGS)
def test_keras_files_carry_the_state_both_ways(tmp_path, name, options):
    """minidl -> .keras -> Keras and back: the optimizer's class, settings and every variable,
    in Keras's order; one more step agrees. (Ftrl's pow: the step to FTRL_RTOL.)"""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.integers(0, 3, size=8)
    model = dense_model(getattr(optimizers, name)(learning_rate=0.05, **options))
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "ours.keras")
    loaded = keras.models.load_model(tmp_path / "ours.keras")
    assert type(loaded.optimizer).__name__ == name
    assert loaded.optimizer.get_config() | {"name": None} == keras.optimizers.deserialize(
        optimizers.serialize(model.optimizer)).get_config() | {"name": None}
    for theirs, ours in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(theirs), ours)
    loaded.train_on_batch(x, y)
    loaded.save(tmp_path / "theirs.keras")
    back = minidl.models.load_model(tmp_path / "theirs.keras")
    assert back.optimizer.get_config() == model.optimizer.get_config()
    for ours, theirs in zip(back.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours, np.asarray(theirs))
    model.train_on_batch(x, y)
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=FTRL_RTOL, atol=1e-7)


@pytest.mark.parametrize("name,options", [
    ("Lion", dict(beta_1=0.0)), ("Lion", dict(beta_1=1.5)),
    ("Ftrl", dict(initial_accumulator_value=-0.1)), ("Ftrl", dict(learning_rate_power=0.5)),
    ("Ftrl", dict(l1_regularization_strength=-1.0)),
    ("Ftrl", dict(l2_regularization_strength=-1.0)),
    ("Ftrl", dict(l2_shrinkage_regularization_strength=-1.0))])
def test_bad_arguments_raise_keras_message(name, options):
    with pytest.raises(ValueError) as keras_error:
        getattr(keras.optimizers, name)(**options)
    with pytest.raises(ValueError) as ours:
        getattr(optimizers, name)(**options)
    assert str(ours.value) == str(keras_error.value)


# -- Lamb: Adam's step scaled per variable by ||w|| / ||step|| -----------------------------------
# Its two norms are float32 sums, taken in TensorFlow's order there and NumPy's pairwise order
# here: the ratio can differ by an ULP or two each step, so Lamb is checked norm-wise, as Ftrl:
# max|ours - Keras| <= LAMB_RTOL * max|Keras| per array (measured worst: 1.8e-7 over 30 steps,
# four seeds, dense and rows).
LAMB_RTOL = 1e-5


@pytest.mark.parametrize("rows", [False, True], ids=["dense", "rows"])
@pytest.mark.parametrize("options", [{}, dict(learning_rate=0.01, beta_1=0.8, epsilon=1e-6,
                                             weight_decay=0.01, clipnorm=1.0)])
def test_lamb_steps_match_keras(options, rows):
    weights, state = run_both("Lamb", options, seed=3, rows=rows)
    assert max(normwise(a, b) for a, b in weights + state) <= LAMB_RTOL


def test_lamb_negative_control_without_the_ratio_fails():
    class AdamLike(optimizers.Lamb):  # the step without its per-variable scaling
        def update_step(self, g, w, lr, momentum, velocity):
            saved = w.copy()
            super().update_step(g, w, lr, momentum, velocity)
            step = saved - w  # ratio * lr * step
            w[...] = saved - lr * step / max(float(np.abs(step).max()), 1e-30) * 1e-3
    weights, _ = run_both("Lamb", {}, seed=3, steps=5, ours=AdamLike())
    assert max(normwise(a, b) for a, b in weights) > 100 * LAMB_RTOL


def test_a_fit_with_lamb_matches_keras_history():
    model = dense_model(optimizers.Lamb(learning_rate=0.01))
    twin = keras_twin(model)
    same_random_weights([model, twin], seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 4)).astype(np.float32), rng.integers(0, 3, size=24)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, evaluate=False)
    assert optimizers.get("lamb").get_config()["learning_rate"] == pytest.approx(0.001)
