"""Metric objects against live Keras: results, state variables, names and sample weights.

Each property test feeds the same batches (random shapes, label formats, dtypes and
sample-weight shapes) to a minidl metric and to the Keras metric of the same name and
settings, and compares the result and every state variable after each batch.
Confusion-matrix metrics (Precision, Recall, AUC) are in test_metrics_confusion.py.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
from keras.src.trainers.compile_utils import get_metric as keras_get_metric
import minidl
from minidl import metrics, ops

RTOL, ATOL = 1e-6, 1e-7


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    """Same dtype and values; sums like counts may differ by rounding at their largest size."""
    theirs = keras.ops.convert_to_numpy(theirs)
    if theirs.size:
        atol = max(atol, rtol * float(np.max(np.abs(theirs))))
    assert np.asarray(ours).dtype == theirs.dtype, (np.asarray(ours).dtype, theirs.dtype)
    np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(theirs, np.float64),
                               rtol=rtol, atol=atol)


def assert_same_state(ours, theirs, rtol=RTOL, atol=ATOL):
    """Same result, and the same variables (names, paths, shapes, dtypes, values)."""
    close(ours.result(), theirs.result(), rtol, atol)
    assert [(v.name, v.path) for v in ours.variables] == \
        [(v.name, v.path) for v in theirs.variables]
    for mine, keras_variable in zip(ours.variables, theirs.variables):
        close(mine.numpy(), keras_variable.numpy(), rtol, atol)


def run_both(ours, theirs, batches, rtol=RTOL, atol=ATOL):
    """Feed every batch to both metrics, comparing after each; then reset both."""
    for y_true, y_pred, weight in batches:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras's width-1 categorical warning
            ours.update_state(y_true, y_pred, sample_weight=weight)
            theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_same_state(ours, theirs, rtol, atol)
    ours.reset_state()
    theirs.reset_state()
    assert_same_state(ours, theirs)


# -- data ----------------------------------------------------------------------------------
def _floats(low, high):
    """float32 values without denormals, which TensorFlow flushes to zero (NumPy does not)."""
    return st.floats(low, high, allow_nan=False, width=32, allow_subnormal=False)


def _weights():
    """0 or at least 1e-3: TensorFlow flushes denormal products (1e-38 * 0.5) to zero."""
    return st.one_of(st.just(0.0), st.floats(0.001, 3).map(np.float32))


@st.composite
def batch(draw, kind, n, classes, dtype=np.float32):
    """(y_true, y_pred, sample_weight) of one label kind; the weight's shape varies."""
    if kind == "binary":
        y_true = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 1)))
        if draw(st.booleans()):
            y_true = y_true[:, None]  # (N,1) labels as well as (N,)
        y_pred = draw(hnp.arrays(dtype, (n, 1), elements=st.one_of(
            _floats(0, 1), st.sampled_from([0.0, 0.5, 1.0]))))
    elif kind in ("categorical", "sparse", "multi_label"):
        scores = draw(hnp.arrays(dtype, (n, classes), elements=_floats(-4, 4)))
        y_pred = ops.softmax(scores) if kind != "multi_label" else ops.sigmoid(scores)
        index = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, classes - 1)))
        if kind == "categorical":
            y_true = np.eye(classes, dtype=dtype)[index]
        elif kind == "sparse":
            y_true = index if draw(st.booleans()) else index[:, None]
        else:
            y_true = draw(hnp.arrays(np.float32, (n, classes), elements=st.sampled_from([0, 1])))
    elif kind in ("logits", "binary_logits"):
        width = classes if kind == "logits" else 1
        y_pred = draw(hnp.arrays(dtype, (n, width), elements=_floats(-30, 30)))
        y_true = draw(hnp.arrays(np.float32, (n, width), elements=st.sampled_from([0, 1])))
    else:  # regression
        y_true = draw(hnp.arrays(dtype, (n, classes), elements=_floats(-3, 3)))
        y_pred = draw(hnp.arrays(dtype, (n, classes), elements=_floats(-3, 3)))
        if classes == 1 and draw(st.booleans()):
            y_true = y_true[:, 0]  # (N,) labels against (N,1) outputs
    weight = draw(st.sampled_from(["none", "per sample", "column", "scalar"]))
    if weight == "none":
        return y_true, y_pred, None
    if weight == "scalar":
        return y_true, y_pred, draw(_weights())
    w = draw(hnp.arrays(np.float32, (n,), elements=_weights()))
    return y_true, y_pred, (w if weight == "per sample" else w[:, None])


@st.composite
def batches(draw, kind, dtypes=(np.float32,)):
    classes = draw(st.integers(2, 5)) if kind != "regression" else draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(dtypes))
    return [draw(batch(kind, draw(st.integers(1, 8)), classes, dtype)) for _ in range(2)]


# metric class name, constructor arguments, label kind
MEAN_METRICS = [
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.7}, "binary"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", {"k": 2}, "categorical"),
    ("TopKCategoricalAccuracy", {}, "categorical"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("BinaryCrossentropy", {}, "multi_label"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "multi_label"),
    ("BinaryCrossentropy", {"from_logits": True}, "logits"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "categorical"),
    ("CategoricalCrossentropy", {"from_logits": True}, "logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 0}, "sparse"),
]


@pytest.mark.parametrize("name,kwargs,kind", MEAN_METRICS,
                         ids=[f"{m[0]}-{m[1]}" for m in MEAN_METRICS])
@given(data=st.data())
def test_mean_metrics_match_keras(name, kwargs, kind, data):
    """Results and total/count after each of two weighted or unweighted batches, then reset."""
    dtypes = (np.float32, np.float64) if kind == "regression" else (np.float32,)
    ours = getattr(metrics, name)(name="m", **kwargs)
    theirs = getattr(keras.metrics, name)(name="m", **kwargs)
    run_both(ours, theirs, data.draw(batches(kind, dtypes)), rtol=2e-6)


@given(values=hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                         elements=_floats(-10, 10)),
       weight=st.sampled_from(["none", "scalar", "leading", "leading column", "full"]),
       data=st.data())
def test_mean_and_sum_weigh_and_reduce_values_like_keras(values, weight, data):
    """Values of any rank; a scalar weight weighs the batch's mean; (N,) weights each sample."""
    if weight == "none" or (values.ndim == 0 and weight != "scalar"):
        w = None
    elif weight == "scalar":
        w = data.draw(_weights())
    else:
        shape = {"leading": values.shape[:1], "leading column": values.shape[:1] + (1,),
                 "full": values.shape}[weight]
        w = data.draw(hnp.arrays(np.float32, shape, elements=_weights()))
    for name in ("Mean", "Sum"):
        ours, theirs = getattr(metrics, name)(), getattr(keras.metrics, name)()
        ours.update_state(values, sample_weight=w)
        theirs.update_state(values, sample_weight=w)
        ours.update_state(values * 2, sample_weight=w)
        theirs.update_state(values * 2, sample_weight=w)
        assert ours.name == theirs.name
        assert_same_state(ours, theirs, rtol=1e-5, atol=1e-5)


def test_loss_tracker_is_a_batch_size_weighted_mean_like_keras():
    ours, theirs = metrics.Mean(name="loss"), keras.metrics.Mean(name="loss")
    for loss, size in ((np.float32(0.7), 32), (np.float32(0.25), 32), (np.float32(1.5), 7)):
        ours.update_state(loss, sample_weight=size)
        theirs.update_state(loss, sample_weight=size)
    assert_same_state(ours, theirs)
    assert ours.result().dtype == np.float32


def test_rmse_takes_the_root_of_the_whole_mean_not_of_batch_means():
    ours, theirs = metrics.RootMeanSquaredError(), keras.metrics.RootMeanSquaredError()
    batches_ = [(np.float32([[0.0], [1.0]]), np.float32([[3.0], [1.0]]), None),
                (np.float32([[2.0]]), np.float32([[2.0]]), None)]
    run_both(ours, theirs, batches_)
    ours.update_state(*batches_[0][:2])
    ours.update_state(*batches_[1][:2])
    assert ours.result() == np.sqrt(np.float32(9 / 3))  # not (sqrt(9/2) + 0) / 2


def test_cross_entropy_metrics_refuse_labels_of_another_rank_like_keras():
    y, p = np.float32([0, 1]), np.float32([[0.2], [0.7]])
    with pytest.raises(ValueError, match="same rank") as ours:
        metrics.BinaryCrossentropy().update_state(y, p)
    with pytest.raises(ValueError) as theirs:
        keras.metrics.BinaryCrossentropy().update_state(y, p)
    assert str(ours.value) == str(theirs.value)


def test_out_of_range_sparse_label_is_an_error_naming_the_label():
    with pytest.raises(ValueError, match="label value of 3"):
        metrics.SparseCategoricalCrossentropy().update_state([0, 3], np.full((2, 3), 1 / 3))


def test_results_and_state_are_float32():
    rng = np.random.default_rng(0)
    p = rng.random((6, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    for name, _, kind in MEAN_METRICS:
        metric = getattr(metrics, name)()
        if kind == "sparse":
            metric.update_state(np.argmax(y, -1), p, sample_weight=np.arange(6))
        elif kind == "binary":
            metric.update_state(y[:, :1], p[:, :1], sample_weight=np.arange(6))
        else:
            metric.update_state(y, p, sample_weight=np.arange(6.0))  # float64 weights
        assert np.asarray(metric.result()).dtype == np.float32, name
        assert all(v.dtype == np.float32 for v in metric.variables), name


# -- names and resolution ------------------------------------------------------------------
def test_metric_strings_resolve_to_the_classes_keras_resolves_them_to():
    from keras.src.metrics import ALL_OBJECTS_DICT

    ours = metrics._BY_NAME
    implemented = {cls.__name__ for cls in ours.values()}
    keras_names = {name for name, cls in ALL_OBJECTS_DICT.items() if cls.__name__ in implemented}
    assert keras_names <= set(ours), keras_names - set(ours)
    for name, cls in ours.items():
        assert cls.__name__ == ALL_OBJECTS_DICT[name].__name__, name


def my_mae(y_true, y_pred):
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


def keras_my_mae(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


def test_auto_names_and_compile_names_follow_keras():
    """Precision/Recall/AUC count per process; strings and functions take their own names,
    after making (and counting) an auto-named object as Keras does."""
    y, p = np.zeros((1, 1)), np.zeros((1, 1))

    def names(api, get, fn):
        made = [api.metrics.Precision(), api.metrics.Precision(), api.metrics.Recall(),
                get("precision", y, p), get("AUC", y, p), get("auc", y, p), api.metrics.AUC(),
                get("RootMeanSquaredError", y, p), api.metrics.RootMeanSquaredError(),
                get("root_mean_squared_error", y, p), get("mape", y, p),
                get(fn, y, p), api.metrics.MeanMetricWrapper(fn),
                get(lambda a, b: a, y, p), get(api.metrics.Recall, y, p),
                get(api.metrics.Precision(name="mine"), y, p), get("acc", y, p),
                api.metrics.Precision(), api.metrics.Mean(), api.metrics.TopKCategoricalAccuracy()]
        return [(type(m).__name__, m.name) for m in made]

    keras.backend.clear_session()
    minidl.naming.clear_session()
    expected = names(keras, keras_get_metric, keras_my_mae)
    assert names(minidl, metrics.get, my_mae) == [
        (cls, name.replace("keras_", "")) for cls, name in expected]
    assert ("Precision", "precision_3") in expected  # the counters did count


def test_unknown_metric_is_an_error_listing_the_valid_names():
    for bad in ("acuracy", 3, None, ["mae"]):
        with pytest.raises(ValueError, match="Could not interpret metric identifier") as error:
            metrics.get(bad, np.zeros((1, 1)), np.zeros((1, 1)))
        assert "'mae'" in str(error.value) and "RootMeanSquaredError" in str(error.value)


def test_accuracy_resolves_from_shapes_and_keeps_the_string_as_its_name():
    cases = [((3,), (3, 1), "BinaryAccuracy"), ((3, 1), (3, 1), "BinaryAccuracy"),
             ((3,), (3, 4), "SparseCategoricalAccuracy"),
             ((3, 1), (3, 4), "SparseCategoricalAccuracy"), ((3, 4), (3, 4), "CategoricalAccuracy")]
    for label_shape, output_shape, expected in cases:
        for name in ("accuracy", "acc", "Accuracy"):
            y, p = np.zeros(label_shape), np.zeros(output_shape)
            ours, theirs = metrics.get(name, y, p), keras_get_metric(name, y, p)
            assert type(ours).__name__ == type(theirs).__name__ == expected
            assert ours.name == theirs.name == name


# -- a plain function as a metric ----------------------------------------------------------
@given(data=st.data())
def test_a_function_written_with_ops_is_a_running_mean_like_keras(data):
    batches_ = data.draw(batches("regression"))
    ours = metrics.get(my_mae, batches_[0][0], batches_[0][1])
    theirs = keras_get_metric(keras_my_mae, batches_[0][0], batches_[0][1])
    assert isinstance(ours, metrics.MeanMetricWrapper) and ours.name == "my_mae"
    for y_true, y_pred, weight in batches_:
        y_true, y_pred = np.asarray(y_true, np.float32), np.asarray(y_pred, np.float32)
        if y_true.ndim < y_pred.ndim:
            y_true = y_true[:, None]  # a user's function sees the arrays as they come
        ours.update_state(y_true, y_pred, sample_weight=weight)
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        close(ours.result(), theirs.result(), rtol=2e-6)


CONFIGURED = [
    ("BinaryAccuracy", {"threshold": 0.3}), ("TopKCategoricalAccuracy", {"k": 3}),
    ("SparseTopKCategoricalAccuracy", {"k": 2}),
    ("SparseTopKCategoricalAccuracy", {"from_sorted_ids": True}),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}), ("RootMeanSquaredError", {}),
    ("MeanAbsolutePercentageError", {}), ("Mean", {}), ("Sum", {}),
    ("Precision", {"thresholds": [0.2, 0.7], "top_k": 2}), ("Recall", {"class_id": 1}),
    ("TruePositives", {"thresholds": 0.3}),
    ("AUC", {"curve": "PR", "summation_method": "minoring", "num_thresholds": 50}),
    ("AUC", {"thresholds": [0.1, 0.5], "multi_label": True, "num_labels": 2}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGURED, ids=[c[0] for c in CONFIGURED])
def test_configs_match_keras_and_rebuild_the_metric(name, kwargs):
    ours = getattr(metrics, name)(name="m", **kwargs)
    config = ours.get_config()
    keras_config = getattr(keras.metrics, name)(name="m", **kwargs).get_config()
    assert config == keras_config
    rebuilt = metrics.get({"class_name": name, "config": config})
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == config
