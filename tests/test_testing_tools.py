"""The learners' tools: check_gradients on every kind of target, with negative controls,
and the "where the maths lives" guide, whose every link and named function must exist.
"""
import importlib
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from minidl import activations, losses
from minidl.layers import Activation, Dense, Input
from minidl import strategies
from minidl.testing import check_gradients

ROOT = pathlib.Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "where-the-maths-lives.md"


def rows(result):
    return {row["name"]: row["passed"] for row in result.rows}


# -- check_gradients on each kind of target ---------------------------------------------------

@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax"])
def test_a_dense_layer_checks_kernel_bias_and_input(float64, activation):
    x = np.random.default_rng(0).normal(size=(4, 3))
    layer = Dense(5, activation=activation)  # unbuilt: the check builds it for x
    result = check_gradients(layer, x)
    assert [row["name"] for row in result.rows] == [layer.kernel.path, layer.bias.path,
                                                    "x (input)"]
    assert [row["shape"] for row in result.rows] == [(3, 5), (5,), (4, 3)]
    assert result.passed, str(result)


def test_an_activation_layer_checks_its_input(float64):
    x = np.random.default_rng(1).normal(size=(3, 4))
    result = check_gradients(Activation("tanh"), x)
    assert rows(result) == {"x (input)": True}


@pytest.mark.parametrize("name", ["linear", "relu", "tanh", "sigmoid", "softmax"])
def test_an_activation_function_checks_its_backward_partner(float64, name):
    z = np.random.default_rng(2).normal(size=(4, 3))
    z[np.abs(z) < 1e-3] = 0.5  # away from relu's kink
    for target in (name, activations.get(name)):  # a name or the function itself
        result = check_gradients(target, z)
        assert result.passed and result.rows[0]["name"] == f"z ({name})", str(result)


@pytest.mark.parametrize("loss, y", [
    (losses.MeanSquaredError(), np.array([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]])),
    (losses.MeanAbsoluteError(), np.array([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]])),
    (losses.BinaryCrossentropy(), np.array([[0, 1], [1, 1], [0, 0]])),
    (losses.BinaryCrossentropy(from_logits=True), np.array([[0, 1], [1, 1], [0, 0]])),
    (losses.CategoricalCrossentropy(), np.array([[0, 1], [1, 0], [0, 1]])),
    (losses.CategoricalCrossentropy(from_logits=True), np.array([[0, 1], [1, 0], [0, 1]])),
    (losses.SparseCategoricalCrossentropy(), np.array([1, 0, 1])),
    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 0, 1])),
])
def test_a_loss_checks_the_gradient_at_its_input_on_both_paths(float64, loss, y):
    if loss.works_from_logits and not loss.from_logits:
        y_pred = np.array([[0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])  # probabilities, not clipped
    else:
        y_pred = np.array([[1.5, -0.5], [0.25, 2.0], [-1.0, 0.5]])  # logits or regression
    result = check_gradients(loss, y_pred, y)
    expected = "logits" if loss.from_logits else "y_pred"
    assert rows(result) == {f"{expected} ({loss.name})": True}, str(result)


def test_a_model_checks_every_weight_and_on_request_its_input(float64):
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([Input((3,)), Dense(4, activation="tanh"),
                               Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = np.random.default_rng(3).normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    assert len(check_gradients(model, x, y).rows) == 4  # as before: the weights only
    result = check_gradients(model, x, y, check_input=True)
    assert [row["name"] for row in result.rows][-1] == "x (input)"
    assert result.passed, str(result)


def test_the_table_prints_one_row_per_gradient_and_a_verdict(float64):
    result = check_gradients(Dense(2), np.ones((3, 2)))
    lines = str(result).splitlines()
    assert lines[0].split() == ["parameter", "shape", "max", "abs", "err", "rel", "err", "ok"]
    assert len(lines) == 1 + 3 + 1
    assert lines[-1].startswith("all 3 gradients agree")
    assert repr(result) == str(result)  # a notebook shows the table too


def test_float32_warns_and_says_why():
    with pytest.warns(UserWarning, match="float32: rounding errors"):
        check_gradients("tanh", np.ones((2, 2)))


def test_unknown_targets_and_missing_labels_are_refused(float64):
    with pytest.raises(TypeError, match="expects a compiled model, a layer"):
        check_gradients(42, np.ones((2, 2)))
    with pytest.raises(ValueError, match="needs the labels"):
        check_gradients(losses.MeanSquaredError(), np.ones((2, 2)))
    with pytest.raises(ValueError, match="Could not interpret activation"):
        check_gradients("swoosh", np.ones((2, 2)))


# -- negative controls: a wrong gradient must fail, and only where it is wrong -----------------

class DenseWithKernelGradientOnePercentOff(Dense):
    def backward_from_logits(self, dz, cache, need_dx=True):
        dx, grads = super().backward_from_logits(dz, cache, need_dx)
        grads[self.kernel] = grads[self.kernel] * 1.01
        return dx, grads


class DenseWithRowsOfDxReversed(Dense):
    def backward_from_logits(self, dz, cache, need_dx=True):
        _, grads = super().backward_from_logits(dz, cache, need_dx)
        return (dz @ self.kernel.value.T)[::-1], grads  # rows of dx in the wrong order


def wrong_tanh(z):
    return np.tanh(z)


wrong_tanh.backward = lambda da, z, a: da * (1 + a * a)  # sign slip: 1 + a**2, not 1 - a**2


def test_a_kernel_gradient_one_percent_off_fails_on_the_kernel_only(float64):
    layer = DenseWithKernelGradientOnePercentOff(3, activation="tanh")
    result = check_gradients(layer, np.random.default_rng(4).normal(size=(4, 2)))
    assert not result.passed
    assert result.failed == [layer.kernel.path], str(result)
    assert f"1 of 3 gradients disagree: {layer.kernel.path}" in str(result)


def test_a_wrong_input_gradient_fails_on_the_input_only(float64):
    result = check_gradients(DenseWithRowsOfDxReversed(3),
                             np.random.default_rng(5).normal(size=(4, 2)))
    assert result.failed == ["x (input)"], str(result)


def test_a_wrong_activation_derivative_fails(float64):
    result = check_gradients(wrong_tanh, np.random.default_rng(6).normal(size=(3, 3)))
    assert not result.passed and result.rows[0]["relative_error"] > 0.1


def test_a_loss_gradient_missing_its_factor_two_fails(float64):
    class HalfMSE(losses.MeanSquaredError):
        def values_and_gradient(self, y_true, y_pred):
            per_sample, grad = super().values_and_gradient(y_true, y_pred)
            return per_sample, grad / 2

    result = check_gradients(HalfMSE(), np.array([[1.0], [2.0]]), np.array([0.0, 0.5]))
    assert not result.passed
    assert result.rows[0]["relative_error"] == pytest.approx(1 / 3)  # |g/2 - g| / (g/2 + g)


def test_a_wrong_input_gradient_in_a_model_fails_only_when_the_input_is_checked(float64):
    minidl.utils.set_random_seed(1)
    model = minidl.Sequential([Input((2,)), DenseWithRowsOfDxReversed(3, activation="tanh"),
                               Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.default_rng(7).normal(size=(4, 2)), np.arange(4.0)
    assert check_gradients(model, x, y).passed  # fit never uses the first layer's dx
    assert check_gradients(model, x, y, check_input=True).failed == ["x (input)"]


# -- minidl.strategies: the formats it promises, and checks that catch what they claim to ------

def test_minidl_itself_never_imports_hypothesis():
    code = "import sys, minidl, minidl.testing, minidl.explain; print('hypothesis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@given(st.data(), st.sampled_from(strategies.LABEL_KINDS), st.integers(1, 5), st.integers(1, 4))
def test_labels_come_in_the_format_of_their_kind(data, kind, n, classes):
    if kind in ("sparse", "one_hot", "multi_label"):
        classes = max(classes, 2)
    y = data.draw(strategies.labels(kind, n, classes))
    expected_shape = {"sparse": (n,), "binary": (n,), "one_hot": (n, classes),
                      "multi_label": (n, classes),
                      "regression": (n,) if classes == 1 else (n, classes)}[kind]
    assert y.shape == expected_shape
    if kind == "sparse":
        assert y.dtype.kind == "i" and y.min() >= 0 and y.max() < classes
    elif kind == "one_hot":
        assert np.array_equal(y.sum(axis=1), np.ones(n))
    elif kind in ("binary", "multi_label"):
        assert set(np.unique(y)) <= {0, 1}
    else:
        assert np.all(np.abs(y) <= 3)


@given(strategies.model_and_data())
def test_model_and_data_pairs_labels_loss_and_output_activation(case):
    model, x, y = case
    loss = model.loss.name
    output = model.layers[-1].activation.__name__
    assert {"sparse_categorical_crossentropy": "softmax", "categorical_crossentropy": "softmax",
            "binary_crossentropy": "sigmoid", "mse": "linear"}[loss] == output
    assert x.shape[1] == model.input_shape[-1] and np.all(np.abs(x) <= 3)
    loss_value, grads = model.loss_and_gradients(x, y)  # the labels suit the loss and output
    assert np.isfinite(loss_value) and len(grads) == len(model.trainable_weights)


def test_the_crossentropy_check_catches_a_wrong_gradient():
    class DoubledGradient(losses.CategoricalCrossentropy):
        def values_and_gradient_from_logits(self, y_true, z):
            per_sample, grad = super().values_and_gradient_from_logits(y_true, z)
            return per_sample, 2 * grad

    z, y = np.array([[1.0, -1.0, 0.5]]), np.array([[0.0, 1.0, 0.0]])
    strategies.crossentropy_logits_gradient_is_p_minus_y_over_n(
        losses.CategoricalCrossentropy(), y, z)
    with pytest.raises(AssertionError, match=r"not \(p - y\) / N"):
        strategies.crossentropy_logits_gradient_is_p_minus_y_over_n(DoubledGradient(), y, z)


def test_the_permutation_check_catches_a_loss_that_depends_on_row_order():
    class LaterRowsCountMore(losses.MeanSquaredError):
        def values_and_gradient(self, y_true, y_pred):
            per_sample, grad = super().values_and_gradient(y_true, y_pred)
            weights = np.arange(1, len(per_sample) + 1, dtype=per_sample.dtype)  # (N,)
            return per_sample * weights, grad * weights[:, None]

    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([Input((2,)), Dense(1)])
    model.compile(optimizer="sgd", loss=LaterRowsCountMore())
    x, y = np.random.default_rng(8).normal(size=(3, 2)), np.array([0.0, 1.0, 2.0])
    with pytest.raises(AssertionError, match="order of the rows"):
        strategies.mean_loss_is_permutation_invariant(model, x, y, [2, 0, 1])


def test_the_non_negative_check_catches_a_negative_loss():
    class ShiftedMSE(losses.MeanSquaredError):
        def values_and_gradient(self, y_true, y_pred):
            per_sample, grad = super().values_and_gradient(y_true, y_pred)
            return per_sample - 1, grad

    strategies.loss_is_non_negative("mse", np.zeros((2, 1)), np.ones((2, 1)))
    with pytest.raises(AssertionError, match="negative"):
        strategies.loss_is_non_negative(ShiftedMSE(), np.zeros((2, 1)), np.full((2, 1), 0.5))


# -- the guide: every link and every named function exists -------------------------------------

def guide_links():
    """Relative link targets of the guide, e.g. ../minidl/layers.py."""
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", GUIDE.read_text(encoding="utf-8"))
    return [t for t in targets if "://" not in t]


def guide_mentions():
    """`file::name` mentions of the guide, e.g. ("minidl/layers.py", "Dense.forward")."""
    return re.findall(r"`([\w/]+\.py)::([\w.]+)`", GUIDE.read_text(encoding="utf-8"))


def test_the_guide_links_to_files_that_exist():
    links = guide_links()
    assert len(links) >= 8
    for target in links:
        assert (GUIDE.parent / target).resolve().is_file(), f"broken link: {target}"


def test_the_guide_names_functions_that_exist():
    mentions = guide_mentions()
    assert len(mentions) >= 40
    for path, name in mentions:
        assert (ROOT / path).is_file(), f"no file {path}"
        module = importlib.import_module(path[:-3].replace("/", "."))
        obj = module
        for part in name.split("."):
            assert hasattr(obj, part), f"{path} has no {name}"
            obj = getattr(obj, part)
        assert callable(obj), f"{path}::{name} is not a function or class"


def test_the_guide_covers_every_concept_of_the_lab():
    text = GUIDE.read_text(encoding="utf-8")
    named = {name for _, name in guide_mentions()}
    for function in ["relu", "tanh", "sigmoid", "softmax", "linear"]:
        assert function in named and f"{function}_backward" in named
    for cls in ["MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
                "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]:
        assert f"{cls}.values_and_gradient" in named
    for optimizer in ["SGD", "RMSprop", "Adam"]:
        assert f"{optimizer}.update_step" in named
    assert {"fit", "train_step", "Tape.gradient", "Head.loss_and_gradient", "Progbar.update",
            "Mean.result"} <= named
    for difference in ["epsilon inside the square root", "epsilon hat", "from the logits"]:
        assert difference in text.replace("*", "").replace('"', "")


class DropoutForgettingItsMask(minidl.layers.Dropout):
    def backward(self, dy, cache, need_dx=True):
        keep, scale = cache
        return dy * scale, {}  # passes the gradient of dropped units too


@pytest.mark.parametrize("seed", [None, 7], ids=["minidl's generator", "its own seed"])
def test_a_model_with_dropout_is_checked_with_the_same_masks_throughout(float64, seed):
    """Every evaluation of the loss draws the masks the backward pass used: the check passes,
    and a Dropout whose backward forgets its mask still fails."""
    x, y = np.random.default_rng(9).normal(size=(6, 3)), np.array([0, 1, 1, 0, 1, 0])
    for dropout, passes in ((minidl.layers.Dropout(0.5, seed=seed), True),
                            (DropoutForgettingItsMask(0.5, seed=seed), False)):
        minidl.utils.set_random_seed(0)
        model = minidl.Sequential([Input((3,)), Dense(8, activation="tanh"), dropout,
                                   Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        result = check_gradients(model, x, y, check_input=True)
        assert result.passed is passes, str(result)


class AddForgettingTheSecondInput(minidl.layers.Add):
    def backward(self, dy, cache, need_dx=True):
        dx, grads = super().backward(dy, cache, need_dx)
        return [dx[0], np.zeros_like(dx[1])], grads


def test_a_layer_with_several_inputs_checks_each_input(float64):
    rng = np.random.default_rng(10)
    x = [rng.normal(size=(3, 2)), rng.normal(size=(3, 4))]
    result = check_gradients(minidl.layers.Concatenate(), x)
    assert [row["name"] for row in result.rows] == ["x[0] (input 0)", "x[1] (input 1)"]
    assert result.passed, str(result)
    wrong = check_gradients(AddForgettingTheSecondInput(), [x[0], x[0][::-1]])
    assert wrong.failed == ["x[1] (input 1)"], str(wrong)
