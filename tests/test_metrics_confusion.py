"""Precision, Recall, AUC and the confusion counts against live Keras.

Predictions are drawn to land exactly on thresholds (0, 0.5, 1, k/(T-1)) as well as between
them, because that is where `p > t`, Keras's bucket formula ceil(p * (T-1)) - 1 and its
epsilon-widened outer thresholds decide the counts.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
from minidl import metrics
from test_metrics import _weights, assert_same_state, run_both

BOUNDARIES = [0.0, 0.5, 1.0, 0.25, 0.3, 0.9, 1 / 6, 2 / 6, 100 / 199, 0.7]


@st.composite
def scores(draw, shape, logits=False):
    """Scores without denormals, which TensorFlow reads as 0 (ties top_k would break apart)."""
    if logits:
        return draw(hnp.arrays(np.float32, shape, elements=st.floats(
            -8, 8, width=32, allow_subnormal=False)))
    return draw(hnp.arrays(np.float32, shape, elements=st.one_of(
        st.floats(0, 1, width=32, allow_subnormal=False), st.sampled_from(BOUNDARIES))))


@st.composite
def confusion_batches(draw, kind, classes=None, logits=False):
    """Two batches of (y_true, y_pred, sample_weight); kind "binary" or "multi_label"."""
    classes = classes or draw(st.integers(2, 4))
    out = []
    for _ in range(2):
        n = draw(st.integers(1, 8))
        if kind == "binary":
            y_pred = draw(scores((n, 1), logits))
            y_true = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 1)))
            y_true = y_true if draw(st.booleans()) else y_true[:, None]
        else:
            y_pred = draw(scores((n, classes), logits))
            y_true = draw(hnp.arrays(np.float32, (n, classes), elements=st.sampled_from([0, 1])))
        weight = draw(st.sampled_from(["none", "per sample", "column", "scalar"]))
        if weight == "scalar":
            w = draw(_weights())
        elif weight != "none":
            w = draw(hnp.arrays(np.float32, (n,), elements=_weights()))
            w = w if weight == "per sample" else w[:, None]
        out.append((y_true, y_pred, None if weight == "none" else w))
    return out


# metric class name, constructor arguments, label kind
CONFUSION_METRICS = [
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.9]}, "binary"),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),  # evenly spaced: buckets
    ("Precision", {"thresholds": 0.7}, "multi_label"),
    ("Precision", {"top_k": 2}, "multi_label"),
    ("Precision", {"class_id": 1}, "multi_label"),
    ("Precision", {"top_k": 1, "class_id": 0, "thresholds": [0.2, 0.6]}, "multi_label"),
    ("Recall", {}, "binary"),
    ("Recall", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "multi_label"),
    ("Recall", {"top_k": 2}, "multi_label"),
    ("Recall", {"class_id": 2}, "multi_label"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.1, 0.5]}, "multi_label"),
    ("TrueNegatives", {}, "multi_label"),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),
    ("AUC", {}, "binary"),
    ("AUC", {}, "multi_label"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "pr", "summation_method": "minoring"}, "multi_label"),
    ("AUC", {"summation_method": "majoring"}, "binary"),
    ("AUC", {"summation_method": "minoring"}, "binary"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"num_thresholds": 7}, "binary"),
    ("AUC", {"num_thresholds": 3, "curve": "PR"}, "multi_label"),
    ("AUC", {"thresholds": [0.3, 0.2, 0.9]}, "binary"),  # not evenly spaced: comparisons
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, "binary"),  # evenly spaced again
    ("AUC", {"multi_label": True}, "multi_label"),
    ("AUC", {"multi_label": True, "curve": "PR"}, "multi_label"),
    ("AUC", {"multi_label": True, "thresholds": [0.3, 0.6]}, "multi_label"),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [0.5, 1.0, 2.0]},
     "multi_label"),
    ("AUC", {"label_weights": [0.5, 0.0, 2.0]}, "multi_label"),
    ("AUC", {"from_logits": True}, "binary logits"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.8, "num_thresholds": 1}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.6, "num_thresholds": 7}, "multi_label"),
    ("PrecisionAtRecall", {"recall": 0.5}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.7, "class_id": 1}, "multi_label"),
    ("RecallAtPrecision", {"precision": 0.6, "num_thresholds": 11}, "binary"),
    ("RecallAtPrecision", {"precision": 1.0, "num_thresholds": 3}, "multi_label"),
]


@pytest.mark.parametrize("name,kwargs,kind", CONFUSION_METRICS,
                         ids=[f"{m[0]}-{m[1]}" for m in CONFUSION_METRICS])
@given(data=st.data())
def test_confusion_metrics_match_keras(name, kwargs, kind, data):
    """Results and every count after each of two batches, then after reset_state."""
    classes = 3 if "label_weights" in kwargs or "class_id" in kwargs else None
    logits = kind.endswith("logits")
    batches_ = data.draw(confusion_batches(kind.split()[0], classes, logits))
    ours = getattr(metrics, name)(name="m", **kwargs)
    theirs = getattr(keras.metrics, name)(name="m", **kwargs)
    run_both(ours, theirs, batches_, rtol=1e-5, atol=1e-6)


def test_auc_of_a_perfect_and_of_a_reversed_ranking():
    y = np.float32([0, 0, 1, 1])
    p = np.float32([0.1, 0.4, 0.6, 0.9])
    for curve in ("ROC", "PR"):
        ours, theirs = metrics.AUC(curve=curve), keras.metrics.AUC(curve=curve)
        run_both(ours, theirs, [(y, p, None), (y, 1 - p, None)], rtol=1e-5)


def test_auc_approaches_the_exact_area_as_thresholds_grow():
    """The thresholded approximation against the exact ROC AUC (the rank statistic)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1).astype(np.float32)
    positives, negatives = p[y == 1], p[y == 0]
    exact = ((positives[:, None] > negatives).mean()
             + 0.5 * (positives[:, None] == negatives).mean())
    errors = []
    for thresholds in (10, 200, 2000):
        metric = metrics.AUC(num_thresholds=thresholds)
        metric.update_state(y, p)
        errors.append(abs(float(metric.result()) - exact))
    assert errors[2] < errors[0] and errors[2] < 2e-3


def test_auto_names_count_per_class_like_keras():
    keras.backend.clear_session()
    from minidl import naming
    naming.clear_session()
    for api in (keras, metrics):
        get = getattr(api, "metrics", api)
        names = [get.Precision().name, get.Recall().name, get.AUC().name, get.Precision().name,
                 get.AUC(name="roc").name, get.AUC().name, get.TruePositives().name]
        assert names == ["precision", "recall", "auc", "precision_1", "roc", "auc_1",
                         "true_positives"]


def test_multi_label_auc_makes_its_variables_at_the_first_batch():
    ours = metrics.AUC(multi_label=True, name="m")
    theirs = keras.metrics.AUC(multi_label=True, name="m")
    assert ours.variables == [] and theirs.variables == []
    ours.reset_state()  # nothing to reset yet: no error, as in Keras
    y, p = np.float32([[0, 1], [1, 1]]), np.float32([[0.2, 0.8], [0.6, 0.4]])
    run_both(ours, theirs, [(y, p, None)])
    assert ours.true_positives.shape == (200, 2)


@pytest.mark.parametrize("make,message", [
    (lambda: metrics.Precision(thresholds=[0.5, 1.5]), r"Threshold values must be in \[0, 1\]"),
    (lambda: metrics.Recall(thresholds=-0.1), r"Threshold values must be in \[0, 1\]"),
    (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
    (lambda: metrics.AUC(curve="ROCK"), "Invalid AUC curve value"),
    (lambda: metrics.AUC(summation_method="trapezoid"), "Invalid AUC summation method"),
    (lambda: metrics.AUC(num_labels=3), "`num_labels` is needed only when `multi_label`"),
    (lambda: metrics.SensitivityAtSpecificity(1.5),
     r"Argument `specificity` must be in the range \[0, 1\]. Received: specificity=1.5"),
    (lambda: metrics.RecallAtPrecision(-0.1), r"Received: precision=-0.1"),
    (lambda: metrics.PrecisionAtRecall(0.5, num_thresholds=0),
     "Argument `num_thresholds` must be an integer > 0"),
])
def test_bad_settings_raise_keras_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_class_id_needs_one_column_per_class():
    with pytest.raises(ValueError, match="When class_id is provided"):
        metrics.Precision(class_id=1).update_state(np.float32([0, 1]), np.float32([0.2, 0.8]))


def test_precision_state_after_a_hand_worked_batch():
    """y = [1, 0, 1, 0], p = [0.9, 0.8, 0.3, 0.1] at t = 0.5: tp = 1 (0.9), fp = 1 (0.8)."""
    ours, theirs = metrics.Precision(name="m"), keras.metrics.Precision(name="m")
    y, p = np.float32([1, 0, 1, 0]), np.float32([0.9, 0.8, 0.3, 0.1])
    ours.update_state(y, p)
    theirs.update_state(y, p)
    assert ours.true_positives.numpy().tolist() == [1.0]
    assert ours.false_positives.numpy().tolist() == [1.0]
    assert float(ours.result()) == 0.5
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name,value", [("SensitivityAtSpecificity", 0.3),
                                        ("SpecificityAtSensitivity", 0.4),
                                        ("PrecisionAtRecall", 0.5), ("RecallAtPrecision", 0.6)])
def test_rate_at_rate_metrics_have_keras_configs(name, value):
    """The same config as Keras's (its keys and values), and from_config gives it back."""
    ours = getattr(metrics, name)(value, num_thresholds=5, class_id=2, name="m")
    theirs = getattr(keras.metrics, name)(value, num_thresholds=5, class_id=2, name="m")
    assert ours.get_config() == theirs.get_config()
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


def test_sensitivity_at_specificity_by_hand():
    """Scores [0.1, 0.4, 0.6, 0.9], labels [0, 0, 1, 1], thresholds 0, 0.5, 1: at t = 0.5
    both negatives are below (specificity 1) and both positives above (sensitivity 1)."""
    metric = metrics.SensitivityAtSpecificity(1.0, num_thresholds=3)
    metric.update_state(np.float32([0, 0, 1, 1]), np.float32([0.1, 0.4, 0.6, 0.9]))
    assert float(metric.result()) == 1.0
    metric.update_state(np.float32([1]), np.float32([0.2]))  # a positive below 0.5
    assert float(metric.result()) == pytest.approx(2 / 3)
