"""Fuzzing constructors, compile and the data loaders: a clear ValueError/TypeError or success."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from minidl.datasets import DatasetNotFoundError, fashion_mnist, mnist
from minidl.layers import Dense

ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True),
                       st.text(max_size=6), st.just([]), st.just((2,)), st.just({"a": 1}),
                       st.just(np.float32(2)), st.just(np.int64(4)))


@given(units=ODD_VALUES, activation=ODD_VALUES, use_bias=st.booleans())
def test_dense_constructor(units, activation, use_bias):
    try:
        layer = Dense(units, activation=activation, use_bias=use_bias)
    except (ValueError, TypeError) as error:
        assert "units" in str(error) or "activation" in str(error), str(error)
    else:
        assert layer.units > 0


@given(shape=ODD_VALUES)
def test_input_and_input_shape(shape):
    for make in (lambda: minidl.layers.Input(shape), lambda: Dense(2, input_shape=shape)):
        try:
            make()
        except (ValueError, TypeError) as error:
            assert "shape" in str(error), str(error)


@given(optimizer=ODD_VALUES, loss=ODD_VALUES, metrics=ODD_VALUES)
def test_compile(optimizer, loss, metrics):
    model = minidl.Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    before = (model.optimizer, model.loss)
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except (ValueError, TypeError) as error:
        assert any(word in str(error) for word in ("optimizer", "loss", "metric")), str(error)
        assert (model.optimizer, model.loss) == before


@given(path=st.one_of(st.text(max_size=10), st.just(""), st.just("/nonexistent/dir/x.npz")))
def test_loaders_on_odd_paths_never_download_and_fail_clearly(path, monkeypatch_session):
    for loader in (mnist.load_data, fashion_mnist.load_data):
        try:
            loader(path=path) if path else loader()
        except (DatasetNotFoundError, ValueError, TypeError, OSError) as error:
            assert str(error)


@pytest.fixture(scope="module")
def monkeypatch_session(tmp_path_factory):
    """No network and empty caches: a loader may only find a file or raise."""
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    patch.setenv("MINIDL_HOME", str(home / "minidl"))
    patch.setenv("KERAS_HOME", str(home / "keras"))
    patch.setattr(mnist, "BASE_URL", "http://127.0.0.1:9/", raising=False)
    patch.setattr(fashion_mnist, "BASE_URL", "http://127.0.0.1:9/", raising=False)
    patch.setattr(fashion_mnist, "SYSTEM_DIRS", [], raising=False)
    yield patch
    patch.undo()
