"""No float64 sneaks into a float32 training step: every array any minidl function holds
or returns during fit, evaluate and predict is float32 (or an integer/bool array).

A tracer inspects the local variables and the return value of every minidl function as it
returns; float64 arrays there would mean a silent promotion (and a 2x slower step).
"""
import pathlib
import sys

import numpy as np
import pytest

import minidl
from minidl.layers import Dense

MINIDL = str(pathlib.Path(minidl.__file__).parent)


def _float64_values(namespace):
    for name, value in namespace.items():
        if isinstance(value, (np.ndarray, np.generic)) and value.dtype == np.float64:
            yield name, value.shape
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, (np.ndarray, np.generic)) and item.dtype == np.float64:
                    yield f"{name}[{i}]", item.shape


def trace_float64(function):
    """Run function(); return every (function, variable, shape) that held a float64 array."""
    found = []

    def local_tracer(frame, event, arg):
        if event == "return":
            where = f"{pathlib.Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"
            for name, shape in _float64_values(dict(frame.f_locals, __return__=arg)):
                found.append((where, name, shape))
        return local_tracer

    def global_tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(MINIDL):
            return local_tracer
        return None

    sys.settrace(global_tracer)
    try:
        function()
    finally:
        sys.settrace(None)
    return found


@pytest.mark.parametrize("loss,labels,output,optimizer", [
    ("sparse_categorical_crossentropy", "sparse", "softmax", "rmsprop"),
    ("categorical_crossentropy", "one_hot", "softmax", "sgd"),
    ("binary_crossentropy", "binary", "sigmoid", "adam"),
    ("mse", "regression", "linear", "adam"),
    ("mae", "regression", "tanh", "rmsprop"),
])
def test_a_float32_training_step_never_holds_float64(loss, labels, output, optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6))  # float64 on purpose: fit must cast it once, at the boundary
    classes = 1 if labels in ("binary", "regression") else 3
    y = {"sparse": rng.integers(0, 3, 40), "one_hot": np.eye(3)[rng.integers(0, 3, 40)],
         "binary": rng.integers(0, 2, 40), "regression": rng.normal(size=40)}[labels]
    model = minidl.Sequential([Dense(8, activation="relu", input_shape=(6,)),
                               Dense(5, activation="tanh"), Dense(classes, activation=output)])
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=["mae", "mse"] if labels == "regression" else ["accuracy"])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # build optimizer slots first

    def step():
        model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x, verbose=0)
        model.train_on_batch(x[:8], y[:8])

    found = trace_float64(step)
    # The caller's float64 x and y may be seen by the boundary functions before the cast.
    boundary = ("data.py:as_array", "data.py:prepare_x", "data.py:prepare_y",
                "data.py:check_finite", "data.py:_check_sample_shape",
                "data.py:_check_dense_labels", "data.py:_preview", "data.py:to_floatx",
                "training.py:prepare_inputs", "training.py:prepare_data", "training.py:_as_list",
                "training.py:<listcomp>", "training.py:fit", "training.py:evaluate",
                "training.py:predict", "training.py:train_on_batch", "models.py:fit",
                "models.py:evaluate", "models.py:predict", "models.py:train_on_batch",
                "data_adapters.py:is_dataset", "data_adapters.py:is_iterable_dataset",
                "training.py:_iterator", "training.py:_targets")
    inside = [f for f in found if f[0] not in boundary]
    assert inside == []


def test_the_tracer_catches_a_promotion():
    """Negative control: a layer that promotes to float64 is reported."""
    class PromotingDense(Dense):
        def forward(self, x, training=False):
            y, cache = super().forward(x, training)
            return y * np.float64(1.0), cache  # NumPy 2: a float64 result

    model = minidl.Sequential([PromotingDense(1, input_shape=(3,))])
    model.compile(loss="mse")
    x, y = np.ones((4, 3), np.float32), np.ones(4, np.float32)
    model.predict(x, verbose=0)
    found = trace_float64(lambda: model.fit(x, y, verbose=0))
    assert any("forward" in where for where, _, _ in found)
