"""timeseries_dataset_from_array against Keras 3.15's (keras.utils), and the BatchDataset it
returns against the tf.data.Dataset Keras returns.

Tolerance: none for the batches: windows and targets are copies of the input's values
(gathers), so every batch must equal Keras's bit for bit, with Keras's dtype and shape, the
short last batch included. The end-to-end fit compares History to rtol 1e-5, the bound the
other fit comparisons use (float32 sums in another order, over a few steps).
With shuffle=True only NumPy's RandomState shuffle of the start positions is reproducible;
TensorFlow's buffer shuffle is not, so the shuffled cases compare what Keras guarantees:
the same windows, and each window no further than the buffer from its place in
RandomState(seed)'s order.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import utils
from minidl.dataset_utils import BatchDataset
from reference.twins import keras_twin


def _series(T=40, F=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, F)).astype(dtype), rng.integers(0, 5, T).astype(np.int64)


def _keras_batches(ds):
    """Keras's batches as NumPy: a tuple per batch, or an array."""
    return [tuple(a.numpy() for a in b) if isinstance(b, tuple) else b.numpy() for b in ds]


def assert_same_batches(ours, theirs):
    ours = list(ours)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = (a, b) if isinstance(b, tuple) else ((a,), (b,))
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x, y)


CASES = [
    dict(sequence_length=5),
    dict(sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=4),
    dict(sequence_length=3, batch_size=7, start_index=5, end_index=33),
    dict(sequence_length=6, sampling_rate=3, batch_size=None),
    dict(sequence_length=2, sequence_stride=5, batch_size=3, start_index=0, end_index=39),
    dict(sequence_length=40, batch_size=2),  # no window fits: an empty dataset
]


@pytest.mark.parametrize("kwargs", CASES)
@pytest.mark.parametrize("with_targets", [True, False])
def test_batches_equal_keras_in_order(kwargs, with_targets):
    data, targets = _series()
    targets = targets if with_targets else None
    ours = utils.timeseries_dataset_from_array(data, targets, **kwargs)
    theirs = _keras_batches(keras.utils.timeseries_dataset_from_array(data, targets, **kwargs))
    assert isinstance(ours, BatchDataset) and len(ours) == len(theirs)
    assert_same_batches(ours, theirs)


@given(T=st.integers(2, 30), F=st.integers(0, 2), length=st.integers(1, 6),
       stride=st.integers(1, 4), rate=st.integers(1, 3), batch=st.integers(1, 9),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8]))
def test_drawn_windows_equal_keras(T, F, length, stride, rate, batch, dtype):
    data, targets = _series(T, max(F, 1), dtype)
    data = data[:, 0] if F == 0 else data  # a series of scalars (T,) too
    kwargs = dict(sequence_length=length, batch_size=batch)
    if stride < T and rate < T:
        kwargs.update(sequence_stride=stride, sampling_rate=rate)
    ours = utils.timeseries_dataset_from_array(data, targets[::-1], **kwargs)
    theirs = keras.utils.timeseries_dataset_from_array(data, targets[::-1], **kwargs)
    assert_same_batches(ours, _keras_batches(theirs))


def test_lists_become_tensorflow_dtypes_and_targets_cut_the_windows():
    data = [[0.5 * i, -i] for i in range(20)]  # Python floats: float32 in TensorFlow
    targets = list(range(7))  # Python ints: int32; only 7 windows have a target
    kwargs = dict(sequence_length=4, batch_size=3)
    ours = utils.timeseries_dataset_from_array(data, targets, **kwargs)
    theirs = _keras_batches(keras.utils.timeseries_dataset_from_array(data, targets, **kwargs))
    assert theirs[0][0].dtype == np.float32 and theirs[0][1].dtype == np.int32
    assert_same_batches(ours, theirs)


def test_shuffle_keeps_keras_windows_within_its_buffer():
    data, targets = _series(T=200, F=1)
    positions = np.arange(200 - 2)
    kwargs = dict(sequence_length=3, batch_size=2, shuffle=True, seed=11)
    np.random.RandomState(11).shuffle(positions)  # Keras's reproducible first shuffle
    place = np.argsort(positions)  # where each start position sits in that order
    ours = utils.timeseries_dataset_from_array(data, np.arange(200), **kwargs)
    theirs = keras.utils.timeseries_dataset_from_array(data, np.arange(200), **kwargs)
    passes = []
    for batches in (list(ours), list(ours), _keras_batches(theirs)):
        starts = np.concatenate([y for _, y in batches])
        assert sorted(starts) == sorted(positions)  # every window once
        # the k-th window out is among the first k + buffer (8 * batch_size) of the order
        assert (place[starts] < np.arange(len(starts)) + 16).all()
        for x, y in batches:
            np.testing.assert_array_equal(x[:, :, 0], data[y[:, None] + np.arange(3), 0])
        passes.append(starts)
    assert not np.array_equal(passes[0], passes[1])  # a new order for every pass, as tf.data
    assert not np.array_equal(passes[0], positions)  # negative control: the buffer shuffled


def test_map_take_prefetch_cache_unbatch_as_keras():
    data, targets = _series(T=30)
    kwargs = dict(sequence_length=4, batch_size=6)
    ours = utils.timeseries_dataset_from_array(data, targets, **kwargs)
    theirs = keras.utils.timeseries_dataset_from_array(data, targets, **kwargs)

    def inputs(x, y):
        return x

    def changed(x, y):
        return 2 * x, y + 1

    def targets_only(x, y):
        return y

    chains = [lambda d: d.map(inputs), lambda d: d.map(changed), lambda d: d.take(2),
              lambda d: d.take(-1).prefetch(1).cache(), lambda d: d.unbatch(),
              lambda d: d.unbatch().take(5).map(targets_only)]
    for chain in chains:
        mine, keras_ds = chain(ours), chain(theirs)
        if int(keras_ds.cardinality()) >= 0:  # tf.data knows no length after unbatch()
            assert len(mine) == len(keras_ds)
        assert_same_batches(mine, _keras_batches(keras_ds))
    assert_same_batches(ours.as_numpy_iterator(), _keras_batches(theirs))
    with pytest.raises(NotImplementedError, match="`shuffle`"):
        ours.shuffle(10)
    with pytest.raises(NotImplementedError, match="before `map`"):
        ours.map(lambda x, y: x).unbatch()
    with pytest.raises(IndexError):
        ours[len(ours)]


@pytest.mark.parametrize("kwargs", [
    dict(start_index=-1), dict(start_index=40), dict(start_index=5, end_index=5),
    dict(end_index=40), dict(end_index=-3), dict(sampling_rate=0), dict(sampling_rate=40),
    dict(sequence_stride=0), dict(sequence_stride=41), dict(format="torch"),
])
def test_errors_word_for_word(kwargs):
    data, targets = _series()
    with pytest.raises(ValueError) as theirs:
        keras.utils.timeseries_dataset_from_array(data, targets, 3, **kwargs)
    with pytest.raises(ValueError) as ours:
        utils.timeseries_dataset_from_array(data, targets, 3, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_grain_format_refused_by_name():
    with pytest.raises(ValueError, match="format='grain'"):
        utils.timeseries_dataset_from_array(np.zeros(9), None, 3, format="grain")


def test_fit_on_windows_as_keras():
    """Chollet's temperature forecasting in small: windows of the past predict a later
    value; fit (shuffle=True, fit's default, which leaves a dataset's order alone in Keras)
    with validation on a second dataset."""
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(90, 2)).astype(np.float32)
    temperature = raw[:, 0].cumsum() / 10
    delay, L = 3, 5
    make = dict(sequence_length=L, batch_size=8)
    args = (raw[:-delay], temperature[delay + L - 1:])
    ds = utils.timeseries_dataset_from_array(*args, end_index=60, **make)
    val = utils.timeseries_dataset_from_array(*args, start_index=60, **make)
    keras_ds = keras.utils.timeseries_dataset_from_array(*args, end_index=60, **make)
    keras_val = keras.utils.timeseries_dataset_from_array(*args, start_index=60, **make)
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.Input((L, 2)), minidl.layers.Flatten(),
                               minidl.layers.Dense(4, activation="relu"),
                               minidl.layers.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    twin = keras_twin(model)
    theirs = twin.fit(keras_ds, validation_data=keras_val, epochs=3, verbose=0).history
    ours = model.fit(ds, validation_data=val, epochs=3, verbose=0).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
