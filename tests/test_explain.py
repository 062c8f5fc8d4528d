"""explain_step: the text shows the real shapes and numbers, and the step is the real step.

Every number is checked against an independent twin: a deep copy of the model taken before
the step, asked for `loss_and_gradients` and then stepped with `train_on_batch`.
"""
import copy
import math
import re

import numpy as np
import pytest

import minidl
from minidl import optimizers
from minidl.explain import SECTIONS, StepExplanation, explain_step
from minidl.layers import Activation, Dense, Input


def lab_model(optimizer="adam", seed=0):
    """The lab's E1 network: Dense(64, relu) on 2 inputs, then one sigmoid unit."""
    minidl.utils.set_random_seed(seed)
    model = minidl.Sequential([Dense(64, activation="relu", input_shape=(2,)),
                               Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def batch(n=4, seed=0):
    x = np.random.default_rng(seed).random((n, 2))  # (n,2) in [0, 1), as the lab's data
    return x, (x.sum(axis=1) > 1).astype(int)


def explain_with_twin(model, x, y, weight_index=(0, 0, 0)):
    """Explain a step, and give the twin's view of the same step: loss, grads, final state."""
    twin = copy.deepcopy(model)
    loss, grads = twin.loss_and_gradients(x, y)
    text = explain_step(model, x, y, weight_index=weight_index, print_fn=None)
    twin.train_on_batch(x, y)
    return text, loss, grads, twin


def test_returns_the_text_and_prints_it_once():
    model, (x, y) = lab_model(), batch()
    printed = []
    text = model.explain_step(x, y, print_fn=printed.append)
    assert isinstance(text, StepExplanation) and isinstance(text, str)
    assert printed == [text]
    assert "print() it" in repr(text)  # a short repr, so a notebook does not show it twice


def test_prints_to_stdout_by_default(capsys):
    model, (x, y) = lab_model(), batch()
    text = model.explain_step(x, y)
    assert capsys.readouterr().out == text + "\n"
    model.explain_step(x, y, print_fn=None)
    assert capsys.readouterr().out == ""


def test_sections_come_in_order_with_underlined_headers():
    model, (x, y) = lab_model(), batch()
    lines = explain_step(model, x, y, print_fn=None).splitlines()
    assert lines[0] == f'One training step of model "{model.name}", explained'
    assert set(lines[1]) == {"="} and len(lines[1]) == len(lines[0])
    positions = []
    for section in SECTIONS:
        index = next(k for k, line in enumerate(lines) if line.startswith(section))
        assert set(lines[index + 1]) == {"-"} and len(lines[index + 1]) == len(lines[index])
        assert lines[index - 1] == ""
        positions.append(index)
    assert positions == sorted(positions)
    assert lines[-2].startswith("The step was real")


def test_forward_and_backward_equations_carry_this_batchs_shapes():
    model, (x, y) = lab_model(), batch(n=4)
    text = explain_step(model, x, y, print_fn=None)
    for expected in [
        "z0 = x @ W0 + b0", ": (4,2) @ (2,64) + (64,) -> (4,64)",
        "a0 = relu(z0)", "z1 = a0 @ W1 + b1", ": (4,64) @ (64,1) + (1,) -> (4,1)",
        "a1 = sigmoid(z1)",
        "dz1 = (sigmoid(z1) - y) / N", "fused sigmoid + cross-entropy",
        "dW1 = a0.T @ dz1", ": (64,4) @ (4,1) -> (64,1)",
        "da0 = dz1 @ W1.T", ": (4,1) @ (1,64) -> (4,64)",
        "dz0 = da0 * (z0 > 0)",
        "dW0 = x.T @ dz0", ": (2,4) @ (4,64) -> (2,64)",
        "db0 = sum of dz0 over the rows", ": (4,64) -> (64,)",
    ]:
        assert expected in text, expected


def test_the_loss_is_the_loss_fit_minimises_and_says_it_came_from_the_logits():
    model, (x, y) = lab_model(), batch()
    text, loss, _, _ = explain_with_twin(model, x, y)
    assert text.numbers["loss"] == loss
    assert f"L = {loss:.8g}" in text
    assert "Computed from the logits z1" in text
    assert "log(0)" in text  # and why


def test_the_loss_from_probabilities_says_so():
    minidl.utils.set_random_seed(1)
    model = minidl.Sequential([Input((2,)), Dense(3, activation="relu")])  # not a softmax
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x, _ = batch()
    y = np.eye(3)[[0, 1, 2, 0]]
    text, loss, _, _ = explain_with_twin(model, x, y)
    assert text.numbers["loss"] == loss
    assert "Computed from the probabilities a0, clipped" in text


@pytest.mark.parametrize("weight_index", [(0, 0, 0), (0, 1, 5), (1, 7, 0)])
def test_the_worked_chain_rule_sum_is_the_real_gradient_entry(weight_index):
    model, (x, y) = lab_model(), batch(n=5, seed=3)
    text, _, grads, _ = explain_with_twin(model, x, y, weight_index)
    k, i, j = weight_index
    real = grads[2 * k][i, j]  # kernel, bias, kernel, bias, ...
    numbers = text.numbers
    assert numbers["chain_rule_sum"] == pytest.approx(real, rel=1e-5, abs=1e-9)
    assert numbers["gradient"] == real
    assert len(numbers["chain_rule_terms"]) == len(x)
    assert f"sum = {numbers['chain_rule_sum']:.7g}" in text
    source = "x" if k == 0 else f"a{k - 1}"
    assert f"dL/dW{k}[{i}, {j}] = sum over the batch of {source}[n, {i}] * dz{k}[n, {j}]" in text


def test_each_chain_rule_term_is_input_times_dz():
    model, (x, y) = lab_model(), batch(n=3)
    x32 = x.astype(np.float32)
    text = explain_step(model, x, y, weight_index=(0, 1, 2), print_fn=None)
    rows = re.findall(r"  n = (\d+):  (\S+) \* (\S+) = (\S+)", text)
    assert [int(n) for n, *_ in rows] == [0, 1, 2]
    for n, x_text, dz_text, product in rows:
        x_value, dz_value = float(x_text.strip("()")), float(dz_text.strip("()"))
        assert x_value == pytest.approx(float(x32[int(n), 1]), rel=1e-6)
        assert float(product) == pytest.approx(x_value * dz_value, rel=1e-5, abs=1e-12)


def test_a_long_batch_lists_the_first_rows_and_sums_them_all():
    model, (x, y) = lab_model(), batch(n=20)
    text, _, grads, _ = explain_with_twin(model, x, y)
    assert "... and 12 more rows" in text
    assert text.numbers["chain_rule_sum"] == pytest.approx(grads[0][0, 0], rel=1e-5, abs=1e-9)


def rmsprop_update(w, g, v, lr, rho, eps):
    """The update in float64, as Keras writes it: epsilon inside the square root."""
    v = rho * v + (1 - rho) * g * g
    return w - lr * g / math.sqrt(v + eps), v


def adam_update(w, g, m, v, alpha, b1, b2, eps):
    """The update in float64, as Keras writes it: the bias correction folded into alpha."""
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    return w - m * alpha / (math.sqrt(v) + eps), m, v


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd_momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "adam": lambda: optimizers.Adam(0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_update_numbers_are_what_apply_did(name):
    """Two steps, so the second starts from non-zero slots; each checked against the twin."""
    model, (x, y) = lab_model(OPTIMIZERS[name]()), batch()
    position, (k, i, j) = 2, (1, 3, 0)  # W1[3, 0]: the kernel of the second layer
    previous_slots = None
    for t in (1, 2):
        text, _, grads, twin = explain_with_twin(model, x, y, weight_index=(k, i, j))
        n = text.numbers
        kernel, twin_opt = twin.layers[k].kernel, twin.optimizer
        assert n["iteration"] == t
        assert n["gradient"] == grads[position][i, j]
        assert n["weight_after"] == kernel.value[i, j]
        assert n["learning_rate"] == pytest.approx(float(twin_opt.learning_rate))
        if previous_slots is not None:
            assert n["slots_before"] == previous_slots
        previous_slots = n["slots_after"]
        w, g, lr = n["weight_before"], n["gradient"], n["learning_rate"]
        before, after = n["slots_before"], n["slots_after"]
        if name == "sgd":
            assert after == {}
            expected = w - lr * g
        elif name.startswith("sgd"):
            assert after["m"] == twin_opt.slot("momentum", position)[i, j]
            m = 0.9 * before["m"] - lr * g
            assert after["m"] == pytest.approx(m, rel=1e-5)
            expected = w + (0.9 * m - lr * g if name == "sgd_nesterov" else m)
        elif name == "rmsprop":
            assert after["v"] == twin_opt.slot("velocity", position)[i, j]
            expected, v = rmsprop_update(w, g, before["v"], lr, 0.9, 1e-7)
            assert after["v"] == pytest.approx(v, rel=1e-5)
        else:
            assert after["m"] == twin_opt.slot("momentum", position)[i, j]
            assert after["v"] == twin_opt.slot("velocity", position)[i, j]
            expected, m, v = adam_update(w, g, before["m"], before["v"], n["alpha"],
                                         0.9, 0.999, 1e-7)
            assert after["m"] == pytest.approx(m, rel=1e-5)
            assert after["v"] == pytest.approx(v, rel=1e-5)
            # alpha is computed in float32, where 1 - 0.999**t keeps only ~4 digits
            assert n["alpha"] == pytest.approx(lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t),
                                               rel=1e-4)
        assert n["weight_after"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert f"= {n['weight_after']:.8g}" in text  # the formula line ends on the real weight
        for letter in after:
            assert f"slot {letter}: {before[letter]:.7g} before, {after[letter]:.7g} after" in text


def test_the_optimizer_section_names_keras_differences():
    model, (x, y) = lab_model("rmsprop"), batch()
    assert "epsilon INSIDE the square root" in explain_step(model, x, y, print_fn=None)
    model, (x, y) = lab_model("adam"), batch()
    assert "epsilon hat" in explain_step(model, x, y, print_fn=None)


def test_the_model_ends_exactly_as_train_on_batch_leaves_it():
    model, (x, y) = lab_model("adam"), batch()
    twin = copy.deepcopy(model)
    for _ in range(3):
        model.explain_step(x, y, print_fn=None)
        twin.train_on_batch(x, y)
    assert model.optimizer.iterations == twin.optimizer.iterations == 3
    for ours, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(model.optimizer.slots(), twin.optimizer.slots()):
        np.testing.assert_array_equal(ours, theirs)
    assert model.test_on_batch(x, y) == twin.test_on_batch(x, y)


def test_a_deep_copy_explains_without_training_the_model():
    model, (x, y) = lab_model(), batch()
    weights = model.get_weights()
    copy.deepcopy(model).explain_step(x, y, print_fn=None)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert model.optimizer.iterations == 0


@pytest.mark.parametrize("loss, activation, labels", [
    ("mse", "linear", np.array([0.5, -1.0, 2.0, 0.0])),
    ("mae", "tanh", np.array([0.5, -0.5, 0.25, 0.0])),
    ("sparse_categorical_crossentropy", "softmax", np.array([0, 2, 1, 2])),
    ("categorical_crossentropy", "softmax", np.eye(3)[[0, 2, 1, 2]]),
    ("binary_crossentropy", "sigmoid", np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1], [1, 1, 1]])),
])
def test_every_loss_explains_a_gradient_that_matches_backprop(loss, activation, labels):
    minidl.utils.set_random_seed(2)
    width = 1 if labels.ndim == 1 and loss in ("mse", "mae") else 3
    model = minidl.Sequential([Input((2,)), Dense(5, activation="tanh"),
                               Dense(width, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    x, _ = batch()
    for weight_index in [(0, 1, 4), (1, 4, width - 1)]:
        text, real_loss, grads, _ = explain_with_twin(model, x, labels, weight_index)
        k, i, j = weight_index
        assert text.numbers["loss"] == real_loss
        real = grads[2 * k][i, j]
        assert text.numbers["chain_rule_sum"] == pytest.approx(real, rel=1e-5, abs=1e-9)


def test_from_logits_and_an_activation_layer_and_a_functional_model():
    minidl.utils.set_random_seed(3)
    inputs = Input((2,))
    hidden = Activation("tanh")(Dense(4)(inputs))
    model = minidl.Model(inputs, Dense(3)(hidden))
    model.compile(optimizer="adam",
                  loss=minidl.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, _ = batch()
    text, loss, grads, _ = explain_with_twin(model, x, np.array([0, 1, 2, 1]), (2, 3, 1))
    assert "from_logits=True" in text
    assert "da0 = da1 * (1 - a1**2)" in text  # the Activation layer's backward, to its input
    assert text.numbers["loss"] == loss
    assert text.numbers["chain_rule_sum"] == pytest.approx(grads[2][3, 1], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("weight_index, message", [
    ((2, 0, 0), "must name a Dense layer"),
    ((0, 2, 0), "outside the kernel"),
    ((0, 0, 64), "outside the kernel"),
    ("first", "three integers"),
])
def test_a_bad_weight_index_is_refused_before_anything_changes(weight_index, message):
    model, (x, y) = lab_model(), batch()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.explain_step(x, y, weight_index=weight_index)
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_an_uncompiled_model_is_refused():
    model = minidl.Sequential([Dense(2, input_shape=(2,))])
    with pytest.raises(RuntimeError, match="compile"):
        model.explain_step(np.ones((2, 2)), np.ones((2, 2)))


def test_by_default_the_worked_weight_is_the_one_with_the_largest_gradient():
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.layers.Dense(3, activation="relu", input_shape=(2,)),
                               minidl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.array([[0.6, 0.6], [0.3, 0.2], [0.9, 0.4], [0.1, 0.1]])
    y = np.array([1, 0, 1, 0])
    _, grads = model.loss_and_gradients(x, y)
    i, j = np.unravel_index(np.argmax(np.abs(grads[0])), grads[0].shape)
    text = explain_step(model, x, y, print_fn=None)
    assert f"Chain rule for one weight: W0[{i}, {j}]" in text
    assert grads[0][i, j] != 0


def test_a_convnet_step_is_explained_layer_by_layer_and_is_the_real_step():
    """Conv2D, pooling and Flatten get their shapes and the backward each uses; the worked
    weight is the Dense kernel entry, and the model ends as train_on_batch leaves it."""
    from minidl import layers
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(),
                               Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0])
    text, loss, grads, twin = explain_with_twin(model, x, y, weight_index=(3, 7, 2))
    for line in ["z0 = Conv2D(x, W0)", "(5,8,8,1) -> (5,6,6,4)", "relu(z0)",
                 "z1 = MaxPooling2D(a0)", "(5,6,6,4) -> (5,3,3,4)", "z2 = Flatten(a1)",
                 "da0 = MaxPooling2D.backward(da1)", "dW0, db0 from x and dz0",
                 "dz3 = (softmax(z3) - onehot(y)) / N"]:
        assert line in text, line
    assert text.numbers["gradient"] == pytest.approx(float(grads[2][7, 2]), rel=1e-6)
    assert math.isclose(text.numbers["loss"], loss, rel_tol=1e-6)
    for ours, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
