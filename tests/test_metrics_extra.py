"""FBetaScore, F1Score, R2Score and the IoU family against live Keras metric objects.

Each property test feeds the same hypothesis-drawn batches (shapes, label formats, ties,
zeros, out-of-range ids, sample weights) to a minidl metric and the Keras metric of the same
settings, comparing the result and every state variable (name, path, dtype, value) after
each of several update_state calls, then after reset_state (test_metrics.py::run_both).

Tolerance: rtol 1e-6 of each array's largest magnitude (test_metrics.py::close). The IoU
confusion matrix is int64 in both: exact. The F-scores' and R2's states are float32 sums
over the batch: NumPy and TensorFlow may add in another order, which is one or two roundings
of the largest sum. R2's result subtracts two such sums (the variance), so the values are
drawn on a grid of quarters with weights in halves, where every sum is exact in float32;
then the result is the same arithmetic on the same numbers. A fit against the Keras twin
compares History keys and values to rtol 1e-5, as the other fits (tests/parity.py).
"""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from minidl import metrics
from reference.twins import keras_twin
from test_metrics import _weights, close, run_both
from tests.parity import assert_same_fit, same_random_weights

SCORES = [0.0, 0.5, 1.0, 0.3, 0.25]  # ties, zeros and the thresholds themselves


def keras_metric(ours):
    return getattr(keras.metrics, type(ours).__name__).from_config(ours.get_config())


# -- F-scores -----------------------------------------------------------------------------------
@st.composite
def f_batches(draw, weighted):
    """Two or three batches of (N, C) labels (one-hot or multi-label) and scores."""
    classes, out = draw(st.integers(2, 4)), []
    one_hot = draw(st.booleans())
    for _ in range(draw(st.integers(2, 3))):
        n = draw(st.integers(1, 8))
        if one_hot:
            y_true = np.eye(classes, dtype=np.float32)[draw(hnp.arrays(
                np.int64, (n,), elements=st.integers(0, classes - 1)))]
        else:
            y_true = draw(hnp.arrays(np.float32, (n, classes), elements=st.sampled_from([0, 1])))
        y_pred = draw(hnp.arrays(np.float32, (n, classes), elements=st.one_of(
            st.floats(0, 1, width=32, allow_subnormal=False), st.sampled_from(SCORES))))
        weight = draw(hnp.arrays(np.float32, (n,), elements=_weights())) if weighted else None
        out.append((y_true, y_pred, weight))
    return out


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@given(data=st.data())
def test_f_scores_match_keras(average, data):
    beta = data.draw(st.sampled_from([1.0, 0.5, 2.0]))
    threshold = data.draw(st.sampled_from([None, 0.5, 0.3, 1.0]))
    if beta == 1.0 and data.draw(st.booleans()):
        ours = metrics.F1Score(average=average, threshold=threshold)
    else:
        ours = metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    run_both(ours, keras_metric(ours), data.draw(f_batches(data.draw(st.booleans()))))


# -- R2Score ------------------------------------------------------------------------------------
@st.composite
def r2_batches(draw, outputs, weighted):
    """Batches on a grid of quarters (weights in halves): every float32 sum is exact."""
    out = []
    for _ in range(draw(st.integers(2, 3))):
        n = draw(st.integers(1, 8))
        grid = st.integers(-16, 16).map(lambda k: k / 4)
        y_true = draw(hnp.arrays(np.float32, (n, outputs), elements=grid))
        y_pred = draw(hnp.arrays(np.float32, (n, outputs), elements=grid))
        if outputs == 1 and draw(st.booleans()):
            y_true = y_true[:, 0]  # (N,) labels against (N,1) outputs
        weight = draw(hnp.arrays(np.float32, (n,), elements=st.integers(0, 6).map(
            lambda k: k / 2))) if weighted else None
        out.append((y_true, y_pred, weight))
    return out


@pytest.mark.parametrize("aggregation", [None, "uniform_average", "variance_weighted_average"])
@given(data=st.data())
def test_r2_score_matches_keras(aggregation, data):
    regressors = data.draw(st.sampled_from([0, 1, 3, 100]))  # 100: Keras's fallback warning
    ours = metrics.R2Score(class_aggregation=aggregation, num_regressors=regressors)
    batches = data.draw(r2_batches(data.draw(st.integers(1, 3)), data.draw(st.booleans())))
    run_both(ours, keras_metric(ours), batches)


def test_r2_warns_as_keras_when_the_adjustment_cannot_be_made():
    y = np.arange(6, dtype=np.float32).reshape(3, 2)
    for regressors, match in [(5, "Division by zero"), (9, "More independent predictors")]:
        ours = metrics.R2Score(num_regressors=regressors)
        ours.update_state(y, y * 0.5)
        with pytest.warns(UserWarning, match=match):
            ours.result()


# -- IoU ----------------------------------------------------------------------------------------
@st.composite
def id_batches(draw, classes, one_hot_true, one_hot_pred, weights):
    """Batches of class ids (N,) or images (N, H), ids out of range included, or one-hot
    labels / scores along the last axis; weights None, int or float (truncated, as Keras)."""
    out = []
    for _ in range(draw(st.integers(2, 3))):
        shape = draw(st.sampled_from([(draw(st.integers(1, 8)),), (2, 3)]))
        ids = st.integers(-1 if not one_hot_true else 0, classes - (0 if not one_hot_true else 1))
        y_true = draw(hnp.arrays(np.int64, shape, elements=ids))
        if one_hot_true:
            y_true = np.eye(classes, dtype=np.float32)[y_true]
        if one_hot_pred:
            y_pred = draw(hnp.arrays(np.float32, shape + (classes,), elements=st.sampled_from(
                [0.1, 0.2, 0.7, 0.7])))  # ties: argmax takes the first, in both
        else:
            y_pred = draw(hnp.arrays(np.int64, shape, elements=st.integers(-1, classes)))
        weight = None
        if weights == "int":
            weight = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 3)))
        elif weights == "float":
            weight = draw(hnp.arrays(np.float32, shape, elements=st.sampled_from(
                [0.0, 0.5, 1.0, 2.7])))
        out.append((y_true, y_pred, weight))
    return out


@pytest.mark.parametrize("kind", ["IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"])
@given(data=st.data())
def test_iou_metrics_match_keras(kind, data):
    classes = data.draw(st.integers(2, 4))
    ignore = data.draw(st.sampled_from([None, 0, classes - 1]))
    targets = data.draw(st.lists(st.integers(0, classes - 1), min_size=1, max_size=3,
                                 unique=True))
    one_hot = kind.startswith("OneHot")
    sparse_pred = data.draw(st.booleans()) if one_hot else True
    options = dict(ignore_class=ignore) | ({} if not one_hot else
                                           {"sparse_y_pred": sparse_pred})
    if "Mean" not in kind:
        options["target_class_ids"] = targets
    ours = getattr(metrics, kind)(classes, **options)
    weights = data.draw(st.sampled_from([None, "int", "float"]))
    run_both(ours, keras_metric(ours), data.draw(id_batches(
        classes, one_hot, one_hot and not sparse_pred, weights)))


@given(data=st.data())
def test_binary_iou_matches_keras(data):
    targets = data.draw(st.sampled_from([(0, 1), (0,), (1,)]))
    threshold = data.draw(st.sampled_from([0.5, 0.3, 0.7]))
    ours = metrics.BinaryIoU(target_class_ids=targets, threshold=threshold)
    batches = []
    for _ in range(2):
        n = data.draw(st.integers(1, 8))
        y_true = data.draw(hnp.arrays(np.int64, (n, 1), elements=st.integers(0, 1)))
        y_pred = data.draw(hnp.arrays(np.float32, (n, 1), elements=st.one_of(
            st.floats(0, 1, width=32), st.sampled_from([0.3, 0.5, 0.7]))))
        batches.append((y_true, y_pred, None))
    run_both(ours, keras_metric(ours), batches)


def test_float_weights_warn_as_keras_and_are_truncated():
    ours = metrics.MeanIoU(2)
    with pytest.warns(UserWarning, match="passing weight as `float`"):
        ours.update_state([0, 1, 1], [0, 1, 0], sample_weight=np.array([0.9, 1.5, 2.0]))
    np.testing.assert_array_equal(ours.total_cm.numpy(), [[0, 0], [2, 1]])  # 0.9 -> 0


# -- in fit and evaluate: History keys and values as the Keras twin's ---------------------------
def fit_both(model, x, y, seed=2):
    twin = keras_twin(model)
    same_random_weights([model, twin], seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's float-weight warning for IoU in fit
        history = assert_same_fit(twin, model, x, y, epochs=2, batch_size=8)  # and evaluate
    return {re.sub(r"_\d+$", "", key) for key in history}  # names numbered per process


def test_classifier_metrics_in_fit_and_evaluate_match_keras():
    L = minidl.layers
    model = minidl.Sequential([L.Input((4,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer=minidl.optimizers.SGD(0.5), loss="categorical_crossentropy",
                  metrics=[metrics.F1Score(average="macro"),
                           metrics.FBetaScore(average="weighted", beta=2.0, threshold=0.4),
                           metrics.FBetaScore(average="micro", name="micro_f"),
                           metrics.OneHotMeanIoU(3), metrics.OneHotIoU(3, [0, 2])])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)]
    assert {"f1_score", "fbeta_score", "micro_f", "one_hot_mean_io_u",
            "one_hot_io_u"} <= fit_both(model, x, y)


def test_regression_and_binary_metrics_in_fit_and_evaluate_match_keras():
    L = minidl.layers
    model = minidl.Sequential([L.Input((3,)), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=minidl.optimizers.SGD(0.5), loss="binary_crossentropy",
                  metrics=["r2_score", metrics.BinaryIoU(), metrics.MeanIoU(2)])
    # (not R2Score(num_regressors > 0): Keras's own compiled fit cannot run it, its result()
    # branches on a tensor in Python; update_state/result are compared above)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 3)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    assert {"r2_score", "binary_io_u", "mean_io_u"} <= fit_both(model, x, y)


# -- configs, names, errors ---------------------------------------------------------------------
CONFIGURED = [metrics.FBetaScore(average="macro", beta=0.5, threshold=0.3, name="f"),
              metrics.F1Score(average="weighted"),
              metrics.R2Score(class_aggregation=None, num_regressors=2),
              metrics.IoU(4, [1, 3], ignore_class=0, sparse_y_pred=False, axis=1),
              metrics.MeanIoU(3, ignore_class=2), metrics.BinaryIoU([1], threshold=0.3),
              metrics.OneHotIoU(3, [0], sparse_y_pred=True), metrics.OneHotMeanIoU(5)]


@pytest.mark.parametrize("ours", CONFIGURED, ids=lambda m: type(m).__name__)
def test_configs_are_keras_both_ways(ours):
    theirs = keras_metric(ours)
    assert ours.get_config() == theirs.get_config()
    rebuilt = metrics.get({"class_name": type(ours).__name__, "config": theirs.get_config()})
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    assert ours.name == theirs.name


@pytest.mark.parametrize("name", ["f1_score", "F1Score", "r2_score", "R2Score", "binary_io_u",
                                  "BinaryIoU"])
def test_strings_resolve_to_the_same_class_as_keras(name):
    assert type(metrics.get(name)).__name__ == type(keras.metrics.get(name)).__name__


@pytest.mark.parametrize("cls,options", [
    ("FBetaScore", dict(average="mean")), ("FBetaScore", dict(beta=1)),
    ("FBetaScore", dict(beta=-1.0)), ("FBetaScore", dict(threshold=1)),
    ("FBetaScore", dict(threshold=1.5)), ("F1Score", dict(threshold=0.0)),
    ("R2Score", dict(class_aggregation="mean")), ("R2Score", dict(num_regressors=-1)),
    ("IoU", dict(num_classes=2, target_class_ids=[2]))])
def test_bad_arguments_raise_keras_message(cls, options):
    with pytest.raises(ValueError) as keras_error:
        getattr(keras.metrics, cls)(**options)
    with pytest.raises(ValueError) as ours:
        getattr(metrics, cls)(**options)
    assert str(ours.value) == str(keras_error.value)


@pytest.mark.parametrize("cls", ["FBetaScore", "R2Score"])
def test_inputs_that_are_not_2d_raise_keras_message(cls):
    y = np.zeros((2, 3, 1), np.float32)
    with pytest.raises(ValueError) as keras_error:
        getattr(keras.metrics, cls)().update_state(y, y)
    with pytest.raises(ValueError) as ours:
        getattr(metrics, cls)().update_state(y, y)
    assert str(ours.value) == str(keras_error.value)


def test_a_wrong_f_score_fails_the_comparison():
    """Negative control: the textbook F1 without Keras's epsilons differs from Keras where
    a class has no positives (0/0 -> NaN, where Keras gives 0)."""
    class NoEpsilon(metrics.F1Score):
        def result(self):
            tp, fp, fn = (v.value for v in (self.true_positives, self.false_positives,
                                            self.false_negatives))
            with np.errstate(invalid="ignore", divide="ignore"):
                return 2 * tp / (2 * tp + fp + fn)
    y_true = np.array([[1, 0, 0], [1, 0, 0]], np.float32)
    with pytest.raises(AssertionError):
        run_both(NoEpsilon(), keras.metrics.F1Score(), [(y_true, y_true, None)])
    close(metrics.F1Score()(y_true, y_true), keras.metrics.F1Score()(y_true, y_true))


@pytest.mark.parametrize("metric", [metrics.F1Score(), "f1_score", metrics.R2Score(
    class_aggregation=None)], ids=str)
def test_per_class_results_are_refused_in_compile_by_name(metric):
    """Keras's History holds an array per epoch for these; minidl's logs are numbers, so
    compile refuses them, naming the argument (deliberately not implemented)."""
    model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(2)])
    argument = "class_aggregation" if isinstance(metric, metrics.R2Score) else "average"
    with pytest.raises(ValueError, match=f"one number per metric.*Received: {argument}=None"):
        model.compile(optimizer="sgd", loss="mse", metrics=[metric])
        model.fit(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
