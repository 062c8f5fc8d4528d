"""HashedCrossing and FeatureSpace against live Keras: TensorFlow's crossed hash bit for bit,
keras.io's "Structured data classification with FeatureSpace" feature spec adapted on the same
small table in both libraries, its outputs ("concat" and "dict"), feature crosses, an
end-to-end model from get_inputs()/get_encoded_features() fit as its Keras twin, configs, and
Keras's errors.

Tolerances: HashedCrossing, the categorical, hashed, discretized and crossed columns are
integers or one-hot rows, compared exactly. The "float_normalized" columns are compared to
rtol 1e-6 / atol 1e-6: both adapt mean and variance in float32 over the same batches of 32
with the same merge formula, but Keras's TensorFlow reductions sum a batch in another order
(pairwise, vectorised) than NumPy's, so the statistics may differ in the last float32 bit,
and (x - mean) / sqrt(var) then in a few ulps. The fit compares History to rtol 1e-5, as the
other fit tests do: the same float32 maths, with sums over a batch taken in another order.
"""
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers

TEXT = ["a", "b", "", "cat", "日本", "naïve", "x" * 17, "y" * 40, "z" * 70, "fixed"]


# -- HashedCrossing ------------------------------------------------------------------------------
@st.composite
def columns(draw):
    """A column of strings or integers (int64 extremes included), of shape (N,) or (N,1)."""
    n = draw(st.integers(1, 6))
    if draw(st.booleans()):
        values = np.array(draw(st.lists(st.sampled_from(TEXT), min_size=n, max_size=n)))
    else:
        values = np.array(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n,
                                        max_size=n)), np.int64)
    return values


@given(st.lists(columns(), min_size=2, max_size=3), st.sampled_from([1, 7, 32, 10**9]),
       st.booleans())
def test_hashed_crossing_bit_for_bit(cols, num_bins, column_shape):
    """Two or three columns of strings or ints crossed into bins, exactly as TensorFlow."""
    n = min(len(c) for c in cols)
    cols = [c[:n, None] if column_shape else c[:n] for c in cols]
    ours = layers.HashedCrossing(num_bins)(cols)
    theirs = keras.layers.HashedCrossing(num_bins)(cols)
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours, np.asarray(theirs))


def test_hashed_crossing_modes_scalars_and_config():
    """one_hot rows, int32 and bytes inputs, a scalar pair, and the config Keras gives."""
    a, b = np.array([b"A", b"B", b"A", b"B", b"A"]), np.array([101, 101, 101, 102, 102], np.int32)
    for kwargs in ({"num_bins": 5}, {"num_bins": 5, "output_mode": "one_hot"}):
        ours, theirs = layers.HashedCrossing(**kwargs), keras.layers.HashedCrossing(**kwargs)
        for inputs in ((a, b), (a[:, None], b[:, None]), (np.array("A"), np.array(3))):
            y, z = ours(list(inputs)), np.asarray(theirs(inputs))
            assert y.shape == z.shape and y.dtype == z.dtype
            np.testing.assert_array_equal(y, z)
        config, keras_config = ours.get_config(), theirs.get_config()
        assert {k: v for k, v in config.items() if k != "name"} == \
            {k: v for k, v in keras_config.items() if k != "name"}
        again = layers.HashedCrossing.from_config(config)
        np.testing.assert_array_equal(again([a, b]), ours([a, b]))


def _keras_error(call):
    with pytest.raises(Exception) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("inputs", [
    np.array([1, 2]), [np.array([1])], [np.array([1., 2.]), np.array([1, 2])],
    [np.array([[1, 2]]), np.array([[1, 2]])], [np.array([1, 2]), np.array([1, 2, 3])],
    [np.array([True]), np.array([1])]])
def test_hashed_crossing_errors_are_keras_errors(inputs):
    """Each bad input gets Keras's message (up to how the arrays print)."""
    with pytest.raises(ValueError) as ours:
        layers.HashedCrossing(5)(inputs)
    theirs = _keras_error(lambda: keras.layers.HashedCrossing(5)(inputs))
    head = str(ours.value).split("Received")[0]
    assert head in theirs, (head, theirs)


def test_hashed_crossing_argument_errors():
    with pytest.raises(ValueError) as ours:
        layers.HashedCrossing(5, output_mode="multi_hot")
    assert str(ours.value) == _keras_error(
        lambda: keras.layers.HashedCrossing(5, output_mode="multi_hot"))
    with pytest.raises(ValueError, match=re.escape("pass sparse=False. Received: sparse=True")):
        layers.HashedCrossing(5, sparse=True)
