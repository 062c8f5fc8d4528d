"""Learning-rate schedules against Keras's: values at many steps, step counting inside an
optimizer and inside fit, configs and errors.

Tolerance: schedules made of float32 additions, multiplications and divisions
(PiecewiseConstantDecay, InverseTimeDecay, staircase ExponentialDecay, PolynomialDecay
with power 1) are compared bit for bit. Those that call pow, cos or log agree to a few
float32 ULPs: TensorFlow's float32 versions of these are not correctly rounded (minidl
computes them in double and rounds once, which matches TensorFlow most of the time).
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from minidl.layers import Dense
from minidl.optimizers import SGD, Adam, schedules
from reference.twins import keras_twin

TRANSCENDENTAL_ULPS = 4
STEPS = list(range(0, 400)) + [499, 500, 501, 999, 1000, 1001, 2047, 5000, 123457]

CASES = [  # (class name, settings, calls pow/cos/log)
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.93), True),
    ("ExponentialDecay", dict(initial_learning_rate=0.01, decay_steps=100, decay_rate=0.5,
                              staircase=True), True),
    ("PiecewiseConstantDecay", dict(boundaries=[10, 100, 1000], values=[1.0, 0.5, 0.1, 0.01]),
     False),
    ("PiecewiseConstantDecay", dict(boundaries=[9.5, 99.9], values=[0.3, 0.2, 0.1]), False),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.7), False),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=30, decay_rate=0.7,
                              staircase=True), False),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=300), False),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=1000,
                             end_learning_rate=0.001, power=0.5), True),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=300, power=2.0, cycle=True),
     True),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=1000, alpha=0.1), True),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=900, warmup_target=0.1,
                         warmup_steps=300), True),
    ("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=50, alpha=0.2,
                         warmup_target=0.02, warmup_steps=0), True),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=100, t_mul=2.0,
                                 m_mul=0.9, alpha=0.05), True),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=70, t_mul=1.0,
                                 m_mul=0.8), True),
]


def ulps(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


def pair(name, settings):
    return (getattr(schedules, name)(**settings),
            getattr(keras.optimizers.schedules, name)(**settings))


@pytest.mark.parametrize("name,settings,transcendental", CASES)
def test_values_match_keras_at_many_steps(name, settings, transcendental):
    ours, theirs = pair(name, settings)
    iterations = tf.Variable(0, dtype=tf.int64)  # what an optimizer passes: its int64 counter
    expected = []
    for step in STEPS:
        iterations.assign(step)
        expected.append(theirs(iterations).numpy())
    values = [ours(step) for step in STEPS]
    assert all(type(v) is np.float32 for v in values)
    distance = ulps(values, expected)
    assert distance.max() <= (TRANSCENDENTAL_ULPS if transcendental else 0), (
        f"{distance.max()} ULPs at step {STEPS[int(distance.argmax())]}")


@pytest.mark.parametrize("name,settings,transcendental", CASES[2:6])
def test_float_steps_are_compared_as_floats_as_in_keras(name, settings, transcendental):
    ours, theirs = pair(name, settings)
    for step in [0.0, 2.5, 9.5, 9.75, 99.9, 100.0, 1000.5]:
        assert ulps(ours(step), theirs(step).numpy()) == 0


@pytest.mark.parametrize("name,settings,transcendental", CASES)
def test_configs_and_serialized_forms_are_keras(name, settings, transcendental):
    ours, theirs = pair(name, {**settings, "name": "s"})
    assert ours.get_config() == theirs.get_config()
    assert schedules.serialize(ours) == keras.optimizers.schedules.serialize(theirs)
    rebuilt = schedules.deserialize(keras.optimizers.schedules.serialize(theirs))
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    assert keras.optimizers.schedules.deserialize(schedules.serialize(ours)).get_config() == \
        theirs.get_config()


@pytest.mark.parametrize("name,settings", [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=0, decay_rate=0.9)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=-1, decay_rate=0.9)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=0)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=0)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=0)),
    ("PiecewiseConstantDecay", dict(boundaries=[1, 2], values=[0.1, 0.2])),
])
def test_bad_settings_raise_keras_errors(name, settings):
    with pytest.raises(ValueError) as keras_error:
        getattr(keras.optimizers.schedules, name)(**settings)
    with pytest.raises(ValueError) as ours:
        getattr(schedules, name)(**settings)
    assert str(ours.value) == str(keras_error.value)


def test_an_unknown_schedule_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="CosineDecay.*ExponentialDecay"):
        schedules.deserialize({"class_name": "Warmup", "config": {}})


def test_the_first_update_uses_step_zero_then_one_two():
    """The optimizer reads the schedule at `iterations` before counting the step."""
    schedule = schedules.PiecewiseConstantDecay([0, 1], [0.5, 0.25, 0.125])
    optimizer = SGD(learning_rate=schedule)
    w = minidl.variable.Variable(np.zeros(1, np.float32), "w")
    assert optimizer.learning_rate == np.float32(0.5)
    for expected_w, next_rate in [(-0.5, 0.25), (-0.75, 0.125), (-0.875, 0.125)]:
        optimizer.apply([np.ones(1, np.float32)], [w])
        assert w.value[0] == expected_w and optimizer.learning_rate == np.float32(next_rate)


def data(n=60):
    rng = np.random.RandomState(0)
    x = rng.rand(n, 3).astype(np.float32)
    return x, (x.sum(axis=1) > 1.5).astype(np.float32)


@pytest.mark.parametrize("make", [
    lambda module: module.SGD(module.schedules.ExponentialDecay(0.5, 4, 0.8), momentum=0.9),
    lambda module: module.Adam(module.schedules.CosineDecay(0.0, 12, warmup_target=0.05,
                                                            warmup_steps=6)),
])
def test_fit_with_a_schedule_gives_keras_history(make):
    x, y = data()
    minidl.utils.set_random_seed(3)
    model = minidl.Sequential([Dense(6, activation="tanh", input_shape=(3,)),
                               Dense(1, activation="sigmoid")])
    model.compile(optimizer=make(minidl.optimizers), loss="binary_crossentropy",
                  metrics=["accuracy"])
    twin = keras_twin(model, compile=False)
    twin.compile(optimizer=make(keras.optimizers), loss="binary_crossentropy",
                 metrics=["accuracy"])
    ours = model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                     validation_split=0.25)
    theirs = twin.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0,
                      validation_split=0.25)
    assert list(ours.history) == list(theirs.history)
    for key in theirs.history:
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=1e-5, atol=1e-6)
    assert model.optimizer.iterations == int(twin.optimizer.iterations.numpy()) == 24
    assert model.optimizer.learning_rate == twin.optimizer.learning_rate.numpy()
    for w, kw in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(w, kw, rtol=1e-5, atol=1e-6)


# -- the rate as a variable: Géron's callbacks read and set it ---------------------------------
def exponential_rate_callback(api, factor):
    """Géron's ExponentialLearningRate (ch. 11): the rate read with .numpy(), multiplied after
    each batch and set back; the losses and rates recorded."""
    class ExponentialLearningRate(api.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rates, self.losses = [], []

        def on_batch_end(self, batch, logs=None):
            lr = self.model.optimizer.learning_rate.numpy()
            self.rates.append(float(lr))
            self.losses.append(logs["loss"])
            self.model.optimizer.learning_rate = lr * factor

    return ExponentialLearningRate()


def test_the_learning_rate_reads_and_assigns_as_kerass_variable():
    for api in (keras, minidl):
        optimizer = api.optimizers.SGD(0.1)
        rate = optimizer.learning_rate
        assert np.asarray(rate.numpy()).dtype == np.float32
        assert float(rate.numpy()) == np.float32(0.1)
        rate.assign(0.05)
        assert float(optimizer.learning_rate) == float(rate) == np.float32(0.05), api.__name__
        optimizer.learning_rate = 0.2  # the setter assigns the same variable: `rate` follows
        assert float(rate) == np.float32(0.2), api.__name__
    scheduled = minidl.optimizers.SGD(schedules.ExponentialDecay(0.1, 10, 0.5))
    assert float(scheduled.learning_rate.numpy()) == np.float32(0.1)
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate.assign(0.3)


def test_a_callback_reading_the_rate_with_numpy_trains_as_keras():
    x, y = data()
    model = minidl.Sequential([minidl.Input((x.shape[1],)), Dense(4, activation="relu"),
                               Dense(1)])
    model.compile(optimizer=SGD(1e-3), loss="mse")
    twin = keras_twin(model)
    ours, theirs = exponential_rate_callback(minidl, 1.5), exponential_rate_callback(keras, 1.5)
    fit = dict(epochs=2, batch_size=20, shuffle=False, verbose=0)
    model.fit(x, y, callbacks=[ours], **fit)
    twin.fit(x, y, callbacks=[theirs], **fit)
    np.testing.assert_allclose(ours.rates, theirs.rates, rtol=1e-6)
    np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-5)
