"""Optimizers against Keras: every optimizer and option over 30 random steps, weight decay,
the learning rate as a float, a NumPy number or a schedule, configs and errors.

Tolerance: weights and optimizer state are compared in float32 ULPs. SGD, RMSprop and
Adagrad are element-wise arithmetic, the same operations in the same order: bit for bit.
The Adam family raises beta to the power t, and TensorFlow's float32 pow is not correctly
rounded (minidl computes it in double and rounds once), so those may differ by a few ULPs
on some steps; over these runs they have agreed bit for bit.
"""
import re
import warnings

import numpy as np
import pytest

import keras
from minidl import optimizers
from minidl.optimizers import schedules
from minidl.variable import Variable

SHAPES = [(3, 4), (4,), (4, 2), (2,)]
NAMES = ["kernel", "bias", "kernel", "bias"]
POW_ULPS = 4  # the Adam family: TensorFlow's float32 pow (see the module docstring)


def ulps(a, b):
    """The largest distance between two float32 arrays, in units in the last place."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return int(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64)).max())


def keras_schedule(schedule):
    return getattr(keras.optimizers.schedules, type(schedule).__name__)(**schedule.get_config())


def twin(name, options):
    """The minidl optimizer and its Keras twin, with the same options (schedules copied)."""
    keras_options = {k: keras_schedule(v) if isinstance(v, schedules.LearningRateSchedule)
                     else v for k, v in options.items()}
    return getattr(optimizers, name)(**options), getattr(keras.optimizers, name)(**keras_options)


def random_steps(seed, steps=30):
    """Initial weights and `steps` gradients, of sizes from 1e-3 to 10 so every regime shows."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[(rng.normal(size=s) * rng.choice([1e-3, 0.1, 1.0, 10.0])).astype(np.float32)
              for s in SHAPES] for _ in range(steps)]
    return weights, grads


def run_both(name, options, seed=0, exclude=None, reverse=False):
    """30 steps in both frameworks; returns the largest ULP gap in weights and in state."""
    ours, theirs = twin(name, options)
    weights, grads = random_steps(seed)
    mine = [Variable(w.copy(), n) for w, n in zip(weights, NAMES)]
    keras_vars = [keras.Variable(w.copy(), name=n) for w, n in zip(weights, NAMES)]
    if exclude is not None:
        ours.exclude_from_weight_decay(var_names=exclude)
        theirs.exclude_from_weight_decay(var_names=exclude)
    order = slice(None, None, -1) if reverse else slice(None)  # reversed: one weight at a time
    worst = 0
    for g in grads:
        ours.apply(g[order], mine[order])
        theirs.apply(g[order], keras_vars[order])
        worst = max([worst] + [ulps(a.value, b.numpy()) for a, b in zip(mine, keras_vars)])
    assert len(ours.variables) == len(theirs.variables)
    state = max([0] + [ulps(a, b.numpy()) for a, b in zip(ours.variables[1:],
                                                         theirs.variables[1:])])
    assert int(ours.variables[0]) == int(theirs.variables[0].numpy()) == len(grads)
    return worst, state


CASES = [
    ("SGD", {}, 0),
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), 0),
    ("SGD", dict(learning_rate=schedules.ExponentialDecay(0.1, 3, 0.9)), 0),
    ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True, weight_decay=0.1), 0),
    ("Adagrad", {}, 0),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.0, epsilon=1e-3,
                     weight_decay=0.02), 0),
    ("Adam", dict(amsgrad=True, weight_decay=0.05), POW_ULPS),
    ("Adam", dict(learning_rate=schedules.CosineDecay(0.0, 20, warmup_target=0.01,
                                                      warmup_steps=5)), POW_ULPS),
    ("AdamW", {}, POW_ULPS),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1, amsgrad=True, beta_1=0.8), POW_ULPS),
    ("Adamax", {}, POW_ULPS),
    ("Adamax", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.95, weight_decay=0.01), POW_ULPS),
    ("Nadam", {}, POW_ULPS),
    ("Nadam", dict(learning_rate=0.01, beta_1=0.85, beta_2=0.99, weight_decay=0.01), POW_ULPS),
    ("Nadam", dict(learning_rate=schedules.PiecewiseConstantDecay([5, 10], [0.1, 0.01, 0.001])),
     POW_ULPS),
    ("RMSprop", dict(learning_rate=schedules.InverseTimeDecay(0.01, 4, 0.5, staircase=True),
                     clipvalue=0.5), 0),
    ("Adam", dict(learning_rate=0.01, global_clipnorm=1.0), POW_ULPS),  # see test_clipped_...
]


@pytest.mark.parametrize("name,options,max_ulps", CASES)
def test_thirty_steps_match_keras(name, options, max_ulps):
    worst, state = run_both(name, options, seed=len(name) + len(options))
    assert worst <= max_ulps and state <= max_ulps, (worst, state)


class TextbookAdam(optimizers.Adam):
    """The paper's Adam: bias-corrected m_hat and v_hat, epsilon added to sqrt(v_hat)."""

    def update_step(self, g, w, lr, momentum, velocity):
        t = self.iterations + 1
        momentum[...] = self.beta_1 * momentum + (1 - self.beta_1) * g
        velocity[...] = self.beta_2 * velocity + (1 - self.beta_2) * g**2
        m_hat, v_hat = momentum / (1 - self.beta_1**t), velocity / (1 - self.beta_2**t)
        w -= lr * m_hat / (np.sqrt(v_hat) + self.epsilon)


def test_negative_control_the_textbook_adam_is_not_keras_adam(monkeypatch):
    """The comparison can fail: the paper's formula differs from Keras's epsilon-hat form."""
    monkeypatch.setattr(optimizers, "Adam", TextbookAdam)
    worst, _ = run_both("Adam", {"epsilon": 1e-3})
    assert worst > 1000


@pytest.mark.parametrize("name", ["SGD", "AdamW", "Nadam", "Adagrad"])
def test_one_weight_at_a_time_is_the_same_arithmetic(name):
    """Variables in another order than the first apply: updated one by one, not laid end to end."""
    options = {"weight_decay": 0.05} if name != "AdamW" else {}
    worst, state = run_both(name, {"learning_rate": 0.01, **options}, reverse=True)
    assert worst <= (0 if name in ("SGD", "Adagrad") else POW_ULPS) and state <= POW_ULPS


@pytest.mark.parametrize("options", [dict(clipnorm=1.0), dict(global_clipnorm=0.7),
                                     dict(clipvalue=0.3)])
def test_clipped_gradients_match_keras(options):
    """Exact for small gradients, whose norms both frameworks sum one element after the other;
    for larger ones TensorFlow sums in another order (in blocks of 8), so the norm and the
    clipped gradient may differ by an ULP or two."""
    rng = np.random.default_rng(0)
    ours, theirs = optimizers.SGD(**options), keras.optimizers.SGD(**options)
    for shapes, max_ulps in (([(1, 2), (3,), (2, 3)], 0), ([(8, 8), (30,), (5, 7)], 4)):
        for _ in range(20):
            grads = [(rng.normal(size=s) * rng.choice([0.01, 1.0, 10.0])).astype(np.float32)
                     for s in shapes]
            expected = theirs._clip_gradients([keras.ops.convert_to_tensor(g) for g in grads])
            clipped = ours.clip_gradients(grads)
            assert max(ulps(a, np.asarray(b)) for a, b in zip(clipped, expected)) <= (
                0 if "clipvalue" in options else max_ulps)


@pytest.mark.parametrize("exclude", [["bias"], ["ker", "bias"]])
def test_excluded_variables_skip_weight_decay_as_in_keras(exclude):
    worst, state = run_both("AdamW", dict(weight_decay=0.3, learning_rate=0.05), exclude=exclude)
    assert worst <= POW_ULPS and state <= POW_ULPS


def test_weight_decay_is_applied_before_the_update_and_excludes_by_variable():
    """One SGD step by hand: w1 = (w0 - w0 * wd * lr) - lr * g; the excluded bias only steps."""
    kernel, bias = Variable(np.full((2, 2), 2.0, np.float32), "kernel"), \
        Variable(np.full(2, 2.0, np.float32), "bias")
    optimizer = optimizers.SGD(learning_rate=0.5, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_list=[bias])
    optimizer.apply([np.ones((2, 2), np.float32), np.ones(2, np.float32)], [kernel, bias])
    w, wd, lr = np.float32(2.0), np.float32(0.1), np.float32(0.5)
    np.testing.assert_array_equal(kernel.value, (w - w * wd * lr) - lr)  # 1.4 in float32
    np.testing.assert_array_equal(bias.value, w - lr)


# -- the learning rate --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0.1, np.float64(0.1), np.float32(0.1),
                                   np.array(0.1, np.float32), np.array(0.1)])
def test_the_constructor_takes_a_float_numpy_number_or_0d_array(value):
    """Keras's constructor takes Python floats only; minidl also takes NumPy numbers."""
    optimizer = optimizers.Adam(learning_rate=value)
    assert optimizer.learning_rate.dtype == np.float32
    assert optimizer.learning_rate == np.float32(value)
    assert optimizer.get_config()["learning_rate"] == keras.optimizers.Adam(0.1).get_config()[
        "learning_rate"] == float(np.float32(0.1))


@pytest.mark.parametrize("value", [1, np.int64(1), True, "0.1", None, np.array([0.1]),
                                   np.array(1)])
def test_the_constructor_refuses_what_keras_refuses_with_its_message(value):
    with pytest.raises(ValueError) as keras_error:
        keras.optimizers.SGD(learning_rate=value)
    with pytest.raises(ValueError) as ours:
        optimizers.SGD(learning_rate=value)
    # Keras prints str(value), minidl repr(value) (so that '0.1' shows it is a string)
    assert str(ours.value) == str(keras_error.value).replace(f"={value}", f"={value!r}")


@pytest.mark.parametrize("value", [0.2, np.float32(0.2), np.array(0.2, np.float32),
                                   np.array(0.2), 1, np.int64(2)])
def test_assigning_the_rate_takes_what_keras_takes(value):
    ours, theirs = optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    ours.learning_rate = value
    theirs.learning_rate = value
    assert ours.learning_rate == theirs.learning_rate.numpy()
    assert ours.learning_rate.dtype == np.float32
    assert len(ours.variables) == len(theirs.variables) == 2


def test_assigning_a_wrong_rate_raises_before_anything_changes():
    optimizer = optimizers.SGD(0.1)
    for value, error in [("0.1", TypeError), (None, ValueError), (np.array([0.1]), ValueError),
                         (np.ones((1, 1)), ValueError)]:
        with pytest.raises(error, match="learning_rate"):
            optimizer.learning_rate = value
    assert optimizer.learning_rate == np.float32(0.1)


def test_a_schedule_cannot_be_overwritten_by_a_number_as_in_keras():
    schedule = schedules.ExponentialDecay(0.1, 10, 0.9)
    ours, theirs = optimizers.SGD(schedule), keras.optimizers.SGD(keras_schedule(schedule))
    with pytest.raises(TypeError) as keras_error:
        theirs.learning_rate = 0.1
    with pytest.raises(TypeError) as our_error:
        ours.learning_rate = 0.1
    assert str(our_error.value) == str(keras_error.value)
    ours.learning_rate = schedules.ExponentialDecay(0.2, 10, 0.9)  # a schedule may replace it
    assert ours.learning_rate == np.float32(0.2)


def test_a_schedule_over_a_float_drops_the_learning_rate_variable_as_keras():
    ours, theirs = optimizers.Adam(0.1), keras.optimizers.Adam(0.1)
    schedule = schedules.PolynomialDecay(0.1, 100)
    ours.learning_rate, theirs.learning_rate = schedule, keras_schedule(schedule)
    assert len(ours.variables) == len(theirs.variables) == 1  # iterations only, until built
    assert ours.learning_rate == theirs.learning_rate.numpy()


def test_a_function_of_no_arguments_is_called_every_step():
    rates = iter([0.5, 0.25])
    optimizer = optimizers.SGD(learning_rate=lambda: next(rates))
    w = Variable(np.zeros(1, np.float32), "w")
    optimizer.apply([np.ones(1, np.float32)], [w])
    optimizer.apply([np.ones(1, np.float32)], [w])
    np.testing.assert_array_equal(w.value, [-0.75])


# -- configs, names and errors --------------------------------------------------------------------
ALL = ["SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Adamax", "Nadam"]


@pytest.mark.parametrize("name", ALL)
def test_configs_use_keras_keys_and_values_and_load_both_ways(name):
    schedule = schedules.CosineDecay(0.01, 100, alpha=0.1, warmup_target=0.1, warmup_steps=10)
    for options in ({}, {"learning_rate": schedule, "weight_decay": 0.01}):
        ours, theirs = twin(name, {**options, "name": "opt"})
        config, keras_config = ours.get_config(), theirs.get_config()
        assert config == keras_config and list(config) == list(keras_config)  # keys in order
        assert getattr(optimizers, name).from_config(keras_config).get_config() == config
        rebuilt = getattr(keras.optimizers, name).from_config(config).get_config()
        assert rebuilt == keras_config


@pytest.mark.parametrize("name", ALL)
def test_names_and_strings_resolve_as_in_keras(name):
    ours, theirs = optimizers.get(name.lower()), keras.optimizers.get(name.lower())
    assert type(ours).__name__ == type(theirs).__name__
    base = re.compile(r"_\d+$")  # both number names per process: "adam_w", "adam_w_1", ...
    assert base.sub("", ours.name) == base.sub("", theirs.name)  # "rm_sprop", "adam_w", ...
    assert ours.get_config() | {"name": None} == {
        k: v for k, v in theirs.get_config().items() if k in ours.get_config()} | {"name": None}
    assert type(optimizers.get(optimizers.serialize(ours))) is type(ours)


def test_adamw_needs_a_weight_decay_with_keras_message():
    with pytest.raises(ValueError) as keras_error:
        keras.optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError) as ours:
        optimizers.AdamW(weight_decay=None)
    assert str(ours.value) == str(keras_error.value)


@pytest.mark.parametrize("option,value", [("use_ema", True), ("loss_scale_factor", 128.0),
                                          ("gradient_accumulation_steps", 4)])
def test_unimplemented_keras_options_are_refused_clearly(option, value):
    with pytest.raises(ValueError, match=rf"do not implement `{option}`.*{option}={value}"):
        optimizers.Adam(**{option: value})
    optimizers.Adam(**{option: keras.optimizers.Adam().get_config()[option]})  # "off" is fine


def test_unknown_arguments_and_decay_behave_as_in_keras():
    with pytest.raises(ValueError, match=r"Argument\(s\) not recognized: \{'betta': 0.9\}"):
        optimizers.Adam(betta=0.9)
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        optimizers.SGD(decay=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.SGD(ema_momentum=0.9)  # does nothing without use_ema, in Keras too


def test_set_weights_restores_every_variable_including_nadams_product():
    weights, grads = random_steps(3, steps=5)
    first = [Variable(w.copy(), n) for w, n in zip(weights, NAMES)]
    second = [Variable(w.copy(), n) for w, n in zip(weights, NAMES)]
    a, b = optimizers.Nadam(0.01), optimizers.Nadam(0.01)
    for g in grads[:3]:
        a.apply(g, first)
    b.build(second)
    b.set_weights(a.variables)
    for v, w in zip(second, first):
        v.assign(w.value)
    for g in grads[3:]:
        a.apply(g, first)
        b.apply(g, second)
    for v, w in zip(second, first):
        np.testing.assert_array_equal(v.value, w.value)
    with pytest.raises(ValueError, match="has 11 variables"):
        b.set_weights(a.variables[:-1])
