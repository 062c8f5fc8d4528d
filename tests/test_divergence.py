"""find_divergence: silent on a faithful model, and pointing at the right place on a faulty one.

The negative controls each plant one known fault in a minidl model (its Keras twin stays
clean) and check the report: the step, the stage and the tensor where the fault first shows.
"""
import numpy as np
import pytest

import minidl
from minidl.datasets import synthetic
from minidl.layers import Dense
from minidl.optimizers import constants

import keras  # noqa: F401  (a missing Keras must fail, not skip)
from reference.divergence import STAGES, USUAL_CAUSES, compare, find_divergence  # noqa: E402
from reference.twins import keras_twin  # noqa: E402


def e1_model(optimizer="adam", loss="binary_crossentropy", hidden=Dense, seed=0):
    """The lab's E1 network, smaller: 2-16-1, relu then sigmoid, with fixed weights."""
    model = minidl.Sequential([
        hidden(16, activation="relu", input_shape=(2,), name="hidden"),
        Dense(1, activation="sigmoid", name="output"),
    ])
    model.compile(optimizer=optimizer, loss=loss)
    rs = np.random.RandomState(seed)  # fixed weights: independent of minidl's initializer
    model.set_weights([rs.uniform(-0.6, 0.6, (2, 16)), np.zeros(16),
                       rs.uniform(-0.6, 0.6, (16, 1)), np.zeros(1)])
    return model


def e1_data(n=100):
    return synthetic.sum_greater_than_one(n, seed=42)  # x (n,2) float64, y (n,) int


# -- agreement --------------------------------------------------------------------------------
def test_e1_model_agrees_with_keras_step_by_step():
    x, y = e1_data()
    # 100 rows in batches of 32: 4 steps an epoch, the last one partial; 6 steps cross
    # into a second, reshuffled epoch.
    assert find_divergence(e1_model(), x, y, steps=6, shuffle=True) is None


@pytest.mark.parametrize("optimizer", [
    minidl.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    minidl.optimizers.RMSprop(momentum=0.5, centered=True),
    minidl.optimizers.Adam(amsgrad=True),
], ids=["sgd-nesterov", "rmsprop-centered-momentum", "adam-amsgrad"])
def test_every_optimizer_slot_is_matched_and_agrees(optimizer):
    x = np.random.RandomState(1).normal(size=(48, 4))
    y = np.random.RandomState(2).randint(0, 3, size=48)
    model = minidl.Sequential([Dense(8, activation="tanh", input_shape=(4,)),
                               Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    assert find_divergence(model, x, y, batch_size=16, steps=3) is None


# -- negative controls ------------------------------------------------------------------------
class EpsilonOutsideRMSprop(minidl.optimizers.RMSprop):
    """RMSprop with the textbook slip: w -= lr*g / (sqrt(v) + eps) instead of sqrt(v + eps)."""

    def update_step(self, g, w, lr, velocity):
        rho, one_minus_rho, epsilon = constants(w.dtype, self.rho, 1 - self.rho, self.epsilon)
        velocity[...] = rho * velocity + one_minus_rho * np.square(g)  # as Keras
        w -= lr * g / (np.sqrt(velocity) + epsilon)  # the slip


def test_epsilon_outside_the_sqrt_shows_first_in_the_weights():
    x, y = e1_data()
    model = e1_model(optimizer="rmsprop")
    twin = keras_twin(model)
    model.optimizer = EpsilonOutsideRMSprop()
    found = find_divergence(model, x, y, steps=3, keras_model=twin)
    # Forward, loss and gradients agree on step 0. The velocity v is computed exactly as
    # Keras does, so the slots (compared before the weights) agree too; the first tensor
    # that differs is the first weight updated with the wrong denominator. On step 0,
    # v = 0.1*g**2 and sqrt(v + 1e-7) differs a lot from sqrt(v) + 1e-7 wherever |g| is
    # small, which some entries of hidden/kernel are.
    assert (found.step, found.stage, found.name) == (0, "weight", "hidden/kernel")
    assert found.max_abs_error > 1e-4
    keras_velocities = twin.optimizer.variables[2:]  # after iterations and learning_rate
    mine_velocities = [a for kind, _, a in model.optimizer.named_slots() if kind == "velocity"]
    for mine, theirs in zip(mine_velocities, keras_velocities):
        assert compare(mine, theirs, rtol=1e-5, atol=1e-6) is None
    assert "epsilon inside vs outside the sqrt" in found.hint


class WrongTanhDense(Dense):
    """A Dense whose tanh derivative is written 1 - a instead of 1 - a**2."""

    def backward(self, da, cache, need_dx=True):
        x, z, a = cache
        dz = da * (1 - a)  # wrong on purpose
        return self.backward_from_logits(dz, cache, need_dx)


def test_wrong_activation_backward_is_reported_at_that_layers_kernel():
    x, y = e1_data()
    model = minidl.Sequential([
        Dense(8, activation="relu", input_shape=(2,), name="first"),
        WrongTanhDense(8, activation="tanh", name="middle"),
        Dense(1, activation="sigmoid", name="last"),
    ])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    found = find_divergence(model, x, y, steps=2)
    # Gradients are compared in backprop order: last/* agree, middle/kernel is the first
    # gradient computed from the wrong dz (first/* is wrong too, but only downstream of it).
    assert (found.step, found.stage, found.name) == (0, "gradient", "middle/kernel")


class BroadcastingBCE(minidl.losses.BinaryCrossentropy):
    """Binary cross-entropy that forgets to give labels (N,) the output's shape (N,1)."""

    def prepare(self, y_true, y_pred):
        return np.asarray(y_true, y_pred.dtype), np.asarray(y_pred)  # (N,) against (N,1)


def test_labels_broadcast_against_outputs_show_in_the_loss():
    x, y = e1_data()
    model = e1_model()
    twin = keras_twin(model)
    model.compile(optimizer=model.optimizer, loss=BroadcastingBCE())
    found = find_divergence(model, x, y, steps=2, keras_model=twin)
    assert (found.step, found.stage, found.name) == (0, "loss", "loss")
    assert found.minidl_shape == found.keras_shape == ()  # the shapes hide it: both scalars
    assert "(N,) vs (N,1) label shape" in found.hint


def test_a_corrupted_weight_shows_in_that_layers_output():
    x, y = e1_data()
    model = e1_model()
    twin = keras_twin(model)
    model.layers[1].kernel.value[:, 0] += 0.1  # output/kernel, after the twin copied it
    found = find_divergence(model, x, y, steps=2, keras_model=twin)
    assert (found.step, found.stage, found.name) == (0, "forward", "output/output")
    assert found.minidl_shape == found.keras_shape == (32, 1)


class TextbookAdam(minidl.optimizers.Adam):
    """Adam as the paper writes it: w -= lr * m_hat / (sqrt(v_hat) + eps)."""

    def update_step(self, g, w, lr, momentum, velocity):
        m, v, t = momentum, velocity, self.iterations + 1
        beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, epsilon = constants(
            w.dtype, self.beta_1, self.beta_2, 1 - self.beta_1, 1 - self.beta_2, self.epsilon)
        m[...] = beta_1 * m + one_minus_beta_1 * g
        v[...] = beta_2 * v + one_minus_beta_2 * g * g
        m_hat = m / constants(w.dtype, 1 - self.beta_1 ** t)[0]
        v_hat = v / constants(w.dtype, 1 - self.beta_2 ** t)[0]
        w -= lr * m_hat / (np.sqrt(v_hat) + epsilon)


def first_step_weights_part(model, twin, x, y, batch_size, steps, rtol, atol):
    """Recompute independently: the first step after which some weight is not close."""
    for step in range(steps):
        rows = slice(step * batch_size, (step + 1) * batch_size)
        model.train_on_batch(x[rows], y[rows])
        twin.train_on_batch(x[rows], y[rows])
        for mine, theirs in zip(model.get_weights(), twin.get_weights()):
            if np.any(np.abs(mine - theirs) > atol + rtol * np.abs(theirs)):
                return step
    return None


def test_textbook_adam_is_reported_at_the_step_its_error_crosses_the_tolerance():
    # The two forms differ only through epsilon: Keras's denominator sqrt(v) + eps equals
    # sqrt(1 - beta_2**t) * (sqrt(v_hat) + eps / sqrt(1 - beta_2**t)), a larger effective
    # epsilon. With a small epsilon the difference of one step stays under the tolerance
    # and has to build up over several steps before the finder may report it.
    x, y = e1_data(n=16 * 12)
    settings = dict(learning_rate=0.01, epsilon=1e-9)
    steps, rtol, atol = 12, 1e-5, 1e-6

    model = e1_model(optimizer=minidl.optimizers.Adam(**settings))
    twin = keras_twin(model)
    model.optimizer = TextbookAdam(**settings)
    found = find_divergence(model, x, y, batch_size=16, steps=steps, keras_model=twin,
                            rtol=rtol, atol=atol)

    model = e1_model(optimizer=minidl.optimizers.Adam(**settings))
    twin = keras_twin(model)
    model.optimizer = TextbookAdam(**settings)
    expected = first_step_weights_part(model, twin, x, y, 16, steps, rtol, atol)

    assert expected is not None and expected > 0  # not on the first step
    assert (found.step, found.stage) == (expected, "weight")


# -- the report and the comparison ------------------------------------------------------------
def test_report_prints_every_figure_and_the_hint():
    x, y = e1_data()
    model = e1_model()
    twin = keras_twin(model)
    model.layers[0].bias.value[:] = 0.5
    found = find_divergence(model, x, y, steps=1, keras_model=twin)
    text = str(found)
    assert found.stage == "forward" and found.name == "hidden/output"
    for piece in ("step 0", '"forward"', "hidden/output", "max abs error", "max rel error",
                  "float32 ULPs", "(32, 16) float32", *USUAL_CAUSES["forward"]):
        assert piece in text


def test_every_stage_has_usual_causes():
    assert set(USUAL_CAUSES) == set(STAGES)
    assert all(USUAL_CAUSES[stage] for stage in STAGES)


def test_compare_measures_errors_in_float32_ulps():
    one = np.float32(1.0)
    assert compare(np.array([one]), np.array([one]), 0.0, 0.0) is None
    errors = compare(np.array([np.nextafter(one, np.float32(2))]), np.array([one]), 0.0, 0.0)
    assert errors["max_ulp_error"] == 1.0
    assert errors["max_abs_error"] == float(np.spacing(one))


def test_compare_treats_shapes_and_nans():
    assert compare(np.zeros(3), np.zeros((3, 1)), 1e-5, 1e-6)["max_abs_error"] == np.inf
    assert compare(np.array([np.nan]), np.array([np.nan]), 1e-5, 1e-6) is None
    assert compare(np.array([np.nan]), np.array([1.0]), 1e-5, 1e-6)["max_abs_error"] == np.inf


def test_uncompiled_model_is_refused():
    model = minidl.Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(ValueError, match="compiled"):
        find_divergence(model, np.zeros((4, 2)), np.zeros(4))
