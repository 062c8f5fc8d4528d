"""Live comparisons with Keras 3: same weights + same batches => the same numbers.

Tolerances (float32): forward outputs, losses and gradients agree to rtol 1e-5 / atol 1e-6
(matrix-product summation order and exp/log implementations differ by a few ULPs).
SGD and RMSprop updates are compared bit for bit, since their arithmetic is element-wise
and the same operation for operation; Adam to rtol 1e-6, because TensorFlow's float32
pow(beta, t) differs from a correctly rounded one in the last bit for some steps.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl.layers import Dense
from minidl.testing import layer_outputs
from reference.gradients import keras_forward, keras_loss_and_gradients
from reference.twins import keras_twin

from minidl.strategies import loss_cases, output_activation

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax"]

RTOL, ATOL = 1e-5, 1e-6


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=rtol, atol=atol)


def build(d, hidden, width, output, loss, optimizer="sgd", metrics=None, seed=0):
    minidl.utils.set_random_seed(seed)
    layers = [minidl.layers.Input((d,))]
    layers += [Dense(units, activation=act) for units, act in hidden]
    layers.append(Dense(width, activation=output))
    model = minidl.Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


@st.composite
def stacks(draw):
    loss, fmt, y, width, n = draw(loss_cases(max_rows=12, max_classes=5))
    hidden = [(draw(st.integers(1, 9)), draw(st.sampled_from(ACTIVATIONS)))
              for _ in range(draw(st.integers(0, 3)))]
    d = draw(st.integers(1, 6))
    output = draw(st.sampled_from([output_activation(loss, width), "linear", "relu", "tanh"]))
    return loss, y, width, n, d, hidden, output, draw(st.integers(0, 1000))


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis -1")  # width-1 softmax
@given(stacks())
def test_forward_loss_and_gradients_match_keras(case):
    loss, y, width, n, d, hidden, output, seed = case
    if output == "linear" and loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        output = "softmax"  # a linear output would make the probability path divide by ~0
    model = build(d, hidden, width, output, loss, seed=seed)
    twin = keras_twin(model)
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    outputs = layer_outputs(model, x)
    assert [layer.name for layer, _ in outputs] == [layer.name for layer in model.layers]
    for (_, output), expected in zip(outputs, keras_forward(twin, x)):
        close(output, expected)
    loss_value, grads = model.loss_and_gradients(x, y)
    keras_value, keras_grads = keras_loss_and_gradients(twin, x, y)
    close(loss_value, keras_value)
    for grad, keras_grad in zip(grads, keras_grads):
        # float32 sums of terms as large as the biggest gradient entry: an entry near 0 can
        # be off by rounding at that scale (TensorFlow's summation order is its own).
        close(grad, keras_grad, atol=1e-5 * max(1.0, float(np.abs(keras_grad).max())))


@pytest.mark.parametrize("loss,y,logit", [
    ("binary_crossentropy", np.array([1, 1]), -50.0),
    ("sparse_categorical_crossentropy", np.array([1, 1]), -50.0),
    ("categorical_crossentropy", np.array([[0, 1], [0, 1]]), -50.0),
])
def test_saturated_outputs_use_logits_like_keras(loss, y, logit):
    """Keras never clips a sigmoid/softmax output's loss: logit -50 with label 1 costs 25 per
    sample... averaged over the batch with a zero-cost second sample."""
    width = 1 if loss == "binary_crossentropy" else 2
    activation = "sigmoid" if width == 1 else "softmax"
    model = build(1, [], width, activation, loss)
    kernel = np.zeros((1, width), np.float32)
    kernel[0, 0] = -logit if width == 2 else logit  # row 0: the true class saturates wrong
    model.set_weights([kernel, np.zeros(width, np.float32)])
    x = np.array([[1.0], [0.0]], np.float32)
    twin = keras_twin(model)
    value, grads = model.loss_and_gradients(x, y)
    keras_value, keras_grads = keras_loss_and_gradients(twin, x, y)
    close(value, keras_value)
    assert value > 20  # the clipped formula would give about 8
    for grad, keras_grad in zip(grads, keras_grads):
        close(grad, keras_grad)


def _optimizer_pairs():
    return [
        ("sgd", dict(learning_rate=0.1)),
        ("sgd", dict(learning_rate=0.05, momentum=0.9)),
        ("sgd", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
        ("rmsprop", dict()),
        ("rmsprop", dict(learning_rate=0.01, momentum=0.5)),
        ("rmsprop", dict(learning_rate=0.01, centered=True)),
        ("rmsprop", dict(learning_rate=0.01, rho=0.8, momentum=0.3, centered=True)),
        ("adam", dict()),
        ("adam", dict(learning_rate=0.01, amsgrad=True)),
        ("adam", dict(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-5)),
    ]


@pytest.mark.parametrize("kind,options", _optimizer_pairs())
def test_optimizer_steps_are_bit_identical_to_keras(kind, options):
    classes = {"sgd": (minidl.optimizers.SGD, keras.optimizers.SGD),
               "rmsprop": (minidl.optimizers.RMSprop, keras.optimizers.RMSprop),
               "adam": (minidl.optimizers.Adam, keras.optimizers.Adam)}
    ours, theirs = classes[kind][0](**options), classes[kind][1](**options)
    rng = np.random.default_rng(7)
    shapes = [(3, 4), (4,)]
    values = [rng.normal(size=s).astype(np.float32) for s in shapes]
    variables = [minidl.variable.Variable(v.copy(), f"w{i}") for i, v in enumerate(values)]
    keras_variables = [keras.Variable(v.copy()) for v in values]
    for step in range(25):
        grads = [rng.normal(size=s).astype(np.float32) for s in shapes]
        ours.apply_gradients(zip(grads, variables))
        theirs.apply_gradients(zip(grads, keras_variables))
        for variable, keras_variable in zip(variables, keras_variables):
            if kind == "adam":
                np.testing.assert_allclose(variable.value, np.asarray(keras_variable),
                                           rtol=1e-6, atol=1e-7, err_msg=f"step {step}")
            else:
                np.testing.assert_array_equal(variable.value, np.asarray(keras_variable),
                                              err_msg=f"step {step}")
    assert ours.iterations == int(theirs.iterations)
    keras_slots = [np.asarray(v) for v in theirs.variables[2:]]
    assert len(ours.slots()) == len(keras_slots)
    for slot, keras_slot in zip(ours.slots(), keras_slots):
        np.testing.assert_allclose(slot, keras_slot, rtol=1e-6 if kind == "adam" else 0)


def _lab_e1_data(n=300):
    rng = np.random.RandomState(42)
    x = rng.rand(n, 2)
    return x, (x.sum(axis=1) > 1).astype(int)


@pytest.mark.parametrize("validation", ["none", "split", "data"])
def test_fit_history_matches_keras(validation):
    """The lab's E1 model: adam, binary cross-entropy, accuracy; batch 32 does not divide N."""
    x, y = _lab_e1_data()
    model = build(2, [(16, "relu")], 1, "sigmoid", "binary_crossentropy",
                  optimizer=minidl.optimizers.Adam(learning_rate=0.01), metrics=["accuracy"])
    twin = keras_twin(model)
    kwargs = dict(epochs=4, batch_size=32, shuffle=False, verbose=0)
    if validation == "split":
        kwargs["validation_split"] = 0.2
    elif validation == "data":
        kwargs["validation_data"] = _lab_e1_data(50)
    history = model.fit(x, y, **kwargs).history
    keras_history = twin.fit(x, y, **kwargs).history
    assert list(history) == list(keras_history)
    for key in history:
        close(history[key], keras_history[key])
    for w, kw in zip(model.get_weights(), twin.get_weights()):
        close(w, kw)


def test_regression_labels_of_shape_n_are_not_broadcast():
    """E4: y (N,) against an (N,1) output; a naive NumPy mean would broadcast to (N,N)."""
    rng = np.random.RandomState(42)
    x = rng.rand(70, 2)
    y = x.sum(axis=1)
    model = build(2, [(8, "relu")], 1, "linear", "mse", optimizer=minidl.optimizers.Adam(),
                  metrics=["mae"])
    twin = keras_twin(model)
    history = model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0).history
    keras_history = twin.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0).history
    assert list(history) == ["loss", "mae"] == list(keras_history)
    for key in history:
        close(history[key], keras_history[key])


def test_evaluate_with_a_partial_last_batch_matches_keras():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(70, 5)).astype(np.float32)
    y = rng.integers(0, 4, 70)
    model = build(5, [(6, "tanh")], 4, "softmax", "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    twin = keras_twin(model)
    for kwargs in (dict(batch_size=32), dict(batch_size=32, return_dict=True), dict()):
        ours = model.evaluate(x, y, verbose=0, **kwargs)
        theirs = twin.evaluate(x, y, verbose=0, **kwargs)
        assert type(ours) is type(theirs)
        if isinstance(ours, dict):
            assert list(ours) == list(theirs)
            ours, theirs = list(ours.values()), list(theirs.values())
        close(ours, theirs)
    model.compile(loss="sparse_categorical_crossentropy")
    twin = keras_twin(model)  # a fresh twin: a recompiled Keras model keeps old metrics
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    close(model.evaluate(x, y, verbose=0), twin.evaluate(x, y, verbose=0))


def test_predict_returns_float32_like_keras_and_casts_float64_input():
    x = np.random.default_rng(0).normal(size=(70, 3))  # float64
    model = build(3, [(4, "relu")], 2, "softmax", "categorical_crossentropy")
    twin = keras_twin(model)
    ours, theirs = model.predict(x, verbose=0), twin.predict(x, verbose=0)
    assert ours.dtype == theirs.dtype == np.float32
    assert ours.shape == theirs.shape
    close(ours, theirs)


@pytest.mark.parametrize("output,y,expected", [
    (1, np.array([0, 1, 1]), "BinaryAccuracy"),
    (1, np.array([[0], [1], [1]]), "BinaryAccuracy"),
    (3, np.array([0, 2, 1]), "SparseCategoricalAccuracy"),
    (3, np.array([[0], [2], [1]]), "SparseCategoricalAccuracy"),
    (3, np.eye(3), "CategoricalAccuracy"),
])
def test_accuracy_resolves_like_keras(output, y, expected):
    loss = "mse" if output == 1 else ("categorical_crossentropy" if y.ndim == 2 and y.shape[1] == 3
                                      else "sparse_categorical_crossentropy")
    for name in ("accuracy", "acc"):
        model = build(2, [], output, "softmax" if output > 1 else "sigmoid", loss, metrics=[name])
        x = np.random.default_rng(0).normal(size=(3, 2))
        logs = model.evaluate(x, y, verbose=0, return_dict=True)
        assert type(model.metrics[1].metrics[0]).__name__ == expected  # as Keras nests them
        twin = keras_twin(model)
        keras_logs = twin.evaluate(x, y, verbose=0, return_dict=True)
        assert list(logs) == list(keras_logs)
        close(list(logs.values()), list(keras_logs.values()))


def test_auto_names_follow_keras_counters():
    """The lab's three model definitions get the names Keras gives them, in order."""
    def define(api):
        api_layers = api.layers
        names = []
        m1 = api.Sequential([api_layers.Dense(512, activation="relu", input_shape=(784,)),
                             api_layers.Dense(10, activation="softmax")])
        m2 = api.Sequential()
        m2.add(api_layers.Dense(512, activation="relu", input_shape=(784,)))
        m2.add(api_layers.Dense(10, activation="softmax"))
        inputs = api_layers.Input(shape=(784,))
        hidden = api_layers.Dense(512, activation="relu")(inputs)
        outputs = api_layers.Dense(10, activation="softmax")(hidden)
        m3 = api.Model(inputs=inputs, outputs=outputs)
        for m in (m1, m2, m3):
            names.append((m.name, [layer.name for layer in m.layers], m.count_params()))
        return names

    keras.backend.clear_session()
    minidl.naming.clear_session()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = define(keras)
    assert define(minidl) == expected


def test_optimizer_finds_each_variables_slots_by_identity_like_keras():
    """A subset or another order of the built variables updates the right slots; a stranger
    is refused before anything changes."""
    values = [np.ones(3, np.float32), np.ones(2, np.float32)]
    grads = [np.full(3, 0.5, np.float32), np.full(2, 0.1, np.float32)]
    ours, theirs = minidl.optimizers.RMSprop(0.01), keras.optimizers.RMSprop(0.01)
    a, b = (minidl.variable.Variable(v.copy(), n) for v, n in zip(values, "ab"))
    ka, kb = (keras.Variable(v.copy()) for v in values)
    ours.apply_gradients([(grads[0], a), (grads[1], b)])
    theirs.apply_gradients([(grads[0], ka), (grads[1], kb)])
    ours.apply_gradients([(grads[1] * 3, b)])  # b alone
    theirs.apply_gradients([(grads[1] * 3, kb)])
    ours.apply_gradients([(grads[1], b), (grads[0], a)])  # the other order
    theirs.apply_gradients([(grads[1], kb), (grads[0], ka)])
    for mine, keras_variable in ((a, ka), (b, kb)):
        np.testing.assert_array_equal(mine.value, np.asarray(keras_variable))
    for slot, keras_slot in zip(ours.slots(), theirs.variables[2:]):
        np.testing.assert_array_equal(slot, np.asarray(keras_slot))

    stranger = minidl.variable.Variable(np.ones(2, np.float32), "c")
    before = [a.value.copy(), b.value.copy()] + [s.copy() for s in ours.slots()]
    with pytest.raises(ValueError, match="Unknown variable"):
        ours.apply_gradients([(grads[1] * 7, b), (grads[1], stranger)])
    after = [a.value, b.value] + ours.slots()
    assert all(np.array_equal(x, y) for x, y in zip(before, after))
    np.testing.assert_array_equal(b.grad, grads[1])  # not overwritten by the failed call
    assert ours.iterations == 3
