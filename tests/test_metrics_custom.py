"""Metrics as Keras users write them: Metric subclasses, plain functions, and both in compile.

Each subclass below is written once, as a function of the library it runs on (keras with
keras.ops, or minidl with minidl.ops), so that the very same source runs in both and the
two results and states can be compared.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from minidl import metrics, ops
from test_metrics import assert_same_state, close


def binary_true_positives(api, ops):
    """The subclass from Keras's Metric docstring."""
    class BinaryTruePositives(api.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_weight(shape=(), initializer="zeros",
                                                  name="true_positives")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "bool")
            y_pred = ops.cast(ops.greater(y_pred, 0.5), "bool")
            values = ops.cast(ops.logical_and(ops.equal(y_true, True),
                                              ops.equal(y_pred, True)), self.dtype)
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, self.dtype)
                sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign(self.true_positives + ops.sum(values))

        def result(self):
            return self.true_positives

    return BinaryTruePositives


def root_mean_error(api, ops):
    """total and count with assign_add, a result computed from both, its own reset_state."""
    class RootMeanError(api.metrics.Metric):
        def __init__(self, name="root_mean_error", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_weight(name="total", initializer="zeros")
            self.count = self.add_weight(name="count", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            error = ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)
            self.total.assign_add(ops.sum(error))
            self.count.assign_add(ops.cast(ops.shape(error)[0], self.dtype))

        def result(self):
            return ops.sqrt(ops.divide_no_nan(self.total, self.count))

        def reset_state(self):
            self.total.assign(0.0)
            self.count.assign(0.0)

    return RootMeanError


def class_counts(api, ops):
    """A vector state with initializer "ones", an int32 state, and a metric inside a metric."""
    class ClassCounts(api.metrics.Metric):
        def __init__(self, classes=3, **kwargs):
            super().__init__(**kwargs)
            self.counts = self.add_weight(shape=(classes,), initializer="ones", name="counts")
            self.batches = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                           name="batches")
            self.mean_score = api.metrics.Mean(name="mean_score")
            self.classes = classes

        def update_state(self, y_true, y_pred, sample_weight=None):
            predicted = ops.one_hot(ops.argmax(y_pred, axis=-1), self.classes)
            self.counts.assign(self.counts + ops.sum(predicted, axis=0))
            self.batches.assign_add(1)
            self.mean_score.update_state(ops.max(y_pred, axis=-1))

        def result(self):
            return ops.divide_no_nan(ops.max(self.counts), ops.sum(self.counts)) + \
                self.mean_score.result()

    return ClassCounts


SUBCLASSES = [binary_true_positives, root_mean_error, class_counts]


@st.composite
def classification_batches(draw):
    out = []
    for _ in range(3):
        n = draw(st.integers(1, 6))
        y_pred = draw(hnp.arrays(np.float32, (n, 3), elements=st.floats(0, 1, width=32)))
        y_true = draw(hnp.arrays(np.float32, (n, 3), elements=st.sampled_from([0.0, 1.0])))
        weight = draw(st.one_of(st.none(), hnp.arrays(np.float32, (n, 3),
                                                      elements=st.floats(0, 2, width=32))))
        out.append((y_true, y_pred, weight))
    return out


@pytest.mark.parametrize("subclass", SUBCLASSES, ids=[f.__name__ for f in SUBCLASSES])
@given(batches=classification_batches())
def test_subclassed_metric_runs_as_in_keras(subclass, batches):
    """The same source on both libraries: same result, variables, and state after reset."""
    ours = subclass(minidl, ops)(name="m")
    theirs = subclass(keras, keras.ops)(name="m")
    for y_true, y_pred, weight in batches:
        ours.update_state(y_true, y_pred, sample_weight=weight)
        theirs.update_state(y_true, y_pred, sample_weight=weight)
        assert_same_state(ours, theirs, rtol=2e-6)
        assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=2e-6)
    ours.reset_state()
    theirs.reset_state()
    assert_same_state(ours, theirs)


def test_default_reset_state_zeroes_every_variable_whatever_its_initializer():
    ours, theirs = class_counts(minidl, ops)(name="m"), class_counts(keras, keras.ops)(name="m")
    close(ours.counts.numpy(), theirs.counts.numpy())  # ones at first
    ours.reset_state()
    theirs.reset_state()
    assert ours.counts.numpy().tolist() == [0.0, 0.0, 0.0]
    assert_same_state(ours, theirs)


def test_subclass_state_variables_are_minidl_variables_named_as_keras_names_them():
    metric = root_mean_error(minidl, ops)()
    assert metric.name == "root_mean_error" and metric.dtype == "float32"
    assert all(isinstance(v, minidl.variable.Variable) and not v.trainable
               for v in metric.variables)
    assert [v.path for v in metric.variables] == ["root_mean_error/total",
                                                  "root_mean_error/count"]
    result = metric(np.float32([[1.0], [3.0]]), np.float32([[0.0], [0.0]]))
    assert result == np.sqrt(np.float32(5.0)) and result.dtype == np.float32


def test_forgetting_super_init_raises_keras_error():
    def forgetful(api):
        class Forgetful(api.metrics.Metric):
            def __init__(self):
                self.total = self.add_weight(name="total")
        return Forgetful

    with pytest.raises(RuntimeError) as ours:
        forgetful(minidl)()
    with pytest.raises(RuntimeError) as theirs:
        forgetful(keras)()
    assert str(ours.value) == str(theirs.value)


def test_a_subclass_that_overrides_reset_state_builds_without_calling_it():
    """The crash from issue 16: a reset_state reading self.total ran before total existed."""
    class C(metrics.Metric):
        def __init__(self, name="c", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_weight(name="total", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(ops.sum(y_pred))

        def result(self):
            return self.total

        def reset_state(self):
            self.total.assign(0.0)

    metric = C()
    metric.update_state(None, np.float32([1.0, 2.0]))
    assert float(metric.result()) == 3.0


# -- functions and subclasses in compile, fit and evaluate ------------------------------------
def squared_gap(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def keras_squared_gap(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


keras_squared_gap.__name__ = "squared_gap"  # a metric function is named after its __name__


def compiled_pair(make_metrics):
    """A minidl model and its Keras twin (same weights), compiled with the same metrics."""
    keras.backend.clear_session()
    minidl.naming.clear_session()
    minidl.utils.set_random_seed(0)
    ours = minidl.Sequential([minidl.layers.Input((4,)),
                              minidl.layers.Dense(5, activation="relu"),
                              minidl.layers.Dense(1, activation="sigmoid")])
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                               keras.layers.Dense(1, activation="sigmoid")])
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=minidl.optimizers.SGD(0.1), loss="binary_crossentropy",
                 metrics=make_metrics(minidl, ops, squared_gap))
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                   metrics=make_metrics(keras, keras.ops, keras_squared_gap))
    return ours, theirs


def test_functions_subclasses_and_metric_objects_in_compile_match_keras():
    def make_metrics(api, api_ops, fn):
        return ["accuracy", api.metrics.Precision(), api.metrics.Recall(thresholds=0.3),
                api.metrics.AUC(), "AUC", "RootMeanSquaredError", "mape", fn,
                binary_true_positives(api, api_ops)()]

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(np.float32)
    ours, theirs = compiled_pair(make_metrics)
    logs = ours.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    keras_logs = theirs.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert list(logs) == list(keras_logs)
    np.testing.assert_allclose(list(logs.values()), list(keras_logs.values()), rtol=1e-5)
    history = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    keras_history = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert list(history.history) == list(keras_history.history)
    for key in history.history:
        np.testing.assert_allclose(history.history[key], keras_history.history[key],
                                   rtol=1e-5, atol=1e-6, err_msg=key)
