"""Weight and activity regularizers: penalties and gradients exactly where Keras puts them."""
import numpy as np
import pytest

import keras
import minidl
from minidl import regularizers
from minidl.testing import check_gradients
from parity import assert_same_fit, assert_same_loss_and_gradients, same_random_weights

CASES = [  # (kernel, bias, activity) regularizers of the hidden layer, as both spell them
    ("l2", None, None),
    (("L1", {"l1": 0.02}), ("L2", {"l2": 0.03}), None),
    (None, None, ("L1L2", {"l1": 0.01, "l2": 0.03})),
    (("L1L2", {"l1": 0.001, "l2": 0.0}), "l1", ("L2", {"l2": 0.005})),
]


def make(spec, module):
    if spec is None or isinstance(spec, str):
        return spec
    name, config = spec
    return getattr(module.regularizers, name)(**config)


def twins(case, loss="sparse_categorical_crossentropy"):
    kernel, bias, activity = case
    models = []
    for framework in (keras, minidl):
        hidden = framework.layers.Dense(
            6, activation="tanh", kernel_regularizer=make(kernel, framework),
            bias_regularizer=make(bias, framework), activity_regularizer=make(activity, framework))
        model = framework.Sequential([framework.Input((4,)), hidden,
                                      framework.layers.Dense(3, activation="softmax",
                                                             kernel_regularizer="l2")])
        model.compile(optimizer=framework.optimizers.SGD(0.1), loss=loss)
        models.append(model)
    return same_random_weights(models, seed=0)


def data(n=20):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("case", CASES)
def test_loss_gradients_and_fit_history_match_keras(case):
    keras_model, model = twins(case)
    x, y = data()
    assert_same_loss_and_gradients(keras_model, model, x, y)
    # the logged loss and val_loss include the penalties, as in Keras
    assert_same_fit(keras_model, model, x, y, epochs=3, batch_size=8, validation_split=0.2)


def test_model_losses_are_the_weight_penalties_in_keras_order():
    keras_model, model = twins(CASES[1])
    keras_model(np.zeros((1, 4), np.float32))  # Keras lists activity penalties of a call too
    np.testing.assert_allclose(model.losses, [float(v) for v in keras_model.losses], rtol=1e-6)


def test_gradient_check_passes_with_penalties_and_fails_on_a_wrong_one(float64):
    class HalfL2(regularizers.L2):
        def gradient(self, x):
            return super().gradient(x) / 2  # forgets the 2 of d(x**2)/dx

    for kernel_regularizer, passes in ((regularizers.L2(0.5), True), (HalfL2(0.5), False)):
        minidl.utils.set_random_seed(0)
        model = minidl.Sequential([minidl.Input((3,)), minidl.layers.Dense(
            2, activation="tanh", kernel_regularizer=kernel_regularizer,
            activity_regularizer=regularizers.L1L2(0.1, 0.2))])
        model.compile(optimizer="sgd", loss="mse")
        x, y = data(5)[0][:, :3].astype(np.float64), np.ones((5, 2))
        result = check_gradients(model, x, y)
        assert result.passed is passes, str(result)


def test_names_and_bad_values():
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    assert regularizers.get("l2").l2 == 0.01 and regularizers.L1L2().get_config() == {
        "l1": 0.0, "l2": 0.0}
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1.0)


# -- losses added in call(): Keras's add_loss ----------------------------------------------------
def add_loss_twins(rate=0.5):
    """Keras's subclassing guide's ActivityRegularizationLayer, in both frameworks."""
    models = []
    for framework in (keras, minidl):
        class ActivityRegularization(framework.layers.Layer):
            ops = framework.ops  # (a class attribute: each class keeps its own framework's)

            def __init__(self, rate, **kwargs):
                super().__init__(**kwargs)
                self.rate = rate

            def call(self, inputs):
                ops = self.ops
                self.add_loss(ops.multiply(self.rate, ops.mean(ops.square(inputs))))
                return inputs

        model = framework.Sequential([
            framework.Input((4,)), framework.layers.Dense(6, activation="tanh"),
            ActivityRegularization(rate),
            framework.layers.Dense(3, activation="softmax", activity_regularizer="l2")])
        model.compile(optimizer=framework.optimizers.SGD(0.1),
                      loss="sparse_categorical_crossentropy")
        models.append(model)
    return same_random_weights(models, seed=2)


def test_add_loss_enters_the_loss_the_gradients_and_the_history_as_in_keras():
    keras_model, model = add_loss_twins()
    x, y = data()
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=3, batch_size=8, validation_split=0.2)
    # Negative control: without the added loss the numbers differ from Keras's
    _, plain = add_loss_twins(rate=0.0)
    assert abs(plain.loss_and_gradients(x, y)[0] - model.loss_and_gradients(x, y)[0]) > 1e-3


def test_an_activity_penalty_on_the_softmax_output_layer_reaches_the_gradients_as_in_keras():
    """The cross-entropy seeds that layer at its logits, the penalty at its output: both."""
    keras_model, model = add_loss_twins(rate=0.0)
    x, y = data()
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=2, batch_size=8)


def test_model_losses_after_a_call_hold_that_calls_added_and_activity_losses_as_in_keras():
    keras_model, model = add_loss_twins()
    x, _ = data()
    for rows in (x, x[:5]):  # each call replaces the previous call's losses
        keras_model(rows)
        model(rows)
        expected = [float(v) for v in keras_model.losses]
        assert len(expected) == 2
        np.testing.assert_allclose(model.losses, expected, rtol=1e-6)


def make_careless(api, method=False):
    class Careless(api.layers.Layer):
        def call(self, inputs):
            if method:
                self.add_loss(0.5 * inputs.mean())  # an array method: not on the tape
            else:
                self.add_loss(0.5 * api.ops.mean(inputs))  # NumPy's `*` in call(): recorded
            return inputs
    return Careless()


def test_add_loss_of_a_value_made_by_a_numpy_operator_trains_as_in_keras():
    models = [api.Sequential([api.Input((4,)), api.layers.Dense(3), make_careless(api)])
              for api in (keras, minidl)]
    models[1].set_weights(models[0].get_weights())
    x = data()[0]
    y = np.zeros((len(x), 3), np.float32)
    for m in models:
        m.compile(optimizer="sgd", loss="mse")
    assert_same_fit(*models, x, y, epochs=2, batch_size=8)


def test_add_loss_of_a_value_made_by_an_array_method_is_refused_clearly():
    model = minidl.Sequential([minidl.Input((4,)), minidl.layers.Dense(3),
                               make_careless(minidl, method=True)])
    model.compile(optimizer="sgd", loss="mse")
    x = data()[0]
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="`add_loss\\(\\)` with a value minidl cannot "
                                         "differentiate.*an array method such as .mean"):
        model.fit(x, np.zeros((len(x), 3), np.float32), verbose=0)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    model.predict(x, verbose=0)  # outside training the value is only kept for model.losses
    assert len(model.losses) == 1
