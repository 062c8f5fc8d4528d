"""The data helpers of minidl.utils against keras.utils: normalize, pad_sequences, split_dataset.

Each is compared with the installed Keras on inputs drawn by hypothesis: the same values,
dtype and shape, or the same kind of error. Where minidl parts from Keras on purpose, a test
shows what Keras does there.
"""
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl import utils


@pytest.fixture(scope="module")
def keras_utils():
    import keras

    return keras.utils


def same_outcome(ours, theirs):
    """Run both; they must raise the same exception type, or return values to compare."""
    try:
        expected = theirs()
    except (ValueError, TypeError) as error:
        with pytest.raises(type(error)):
            ours()
        return None, None
    return ours(), expected


def assert_identical(ours, theirs):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------------------------

@st.composite
def normalize_cases(draw):
    x = draw(hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements={"min_value": 0, "max_value": 100},
    ))
    axes = [-1, None] + list(range(1, x.ndim))  # axis=0 on 2+ dims: see the test below
    axis = draw(st.sampled_from(axes + ([0] if x.ndim == 1 else [])))
    order = draw(st.sampled_from([1, 2, np.inf]))
    return x, axis, order


@given(case=normalize_cases())
def test_normalize_equals_keras(keras_utils, case):
    x, axis, order = case
    ours, theirs = same_outcome(lambda: utils.normalize(x, axis, order),
                                lambda: keras_utils.normalize(x, axis, order))
    if theirs is not None:
        assert_identical(ours, theirs)


def test_normalize_mnist_style_axis_1(keras_utils):
    x = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    x[0] = 0  # an all-zero image: zero norms stay 1, no NaN
    ours = utils.normalize(x, axis=1)
    assert_identical(ours, keras_utils.normalize(x, axis=1))
    assert ours.dtype == np.float64 and not np.isnan(ours).any()


def test_normalize_axis_0_divides_along_axis_0_where_keras_does_not(keras_utils):
    x = np.array([[3.0, 1.0], [4.0, 1.0]])  # column norms 5 and sqrt(2)
    ours = utils.normalize(x, axis=0)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=0), [1.0, 1.0])
    np.testing.assert_allclose(ours[:, 0], [0.6, 0.8])
    # Keras 3.15 divides row i by column i's norm on a square array, and fails otherwise.
    assert not np.allclose(keras_utils.normalize(x, axis=0), ours)
    with pytest.raises(ValueError):
        keras_utils.normalize(np.ones((3, 2)), axis=0)
    np.testing.assert_allclose(np.linalg.norm(utils.normalize(np.ones((3, 2)), axis=0), axis=0),
                               [1.0, 1.0])


def test_normalize_accepts_lists_as_arrays():
    assert_identical(utils.normalize([[3, 4], [0, 0]]), utils.normalize(np.array([[3, 4], [0, 0]])))
    np.testing.assert_array_equal(utils.normalize([[3, 4], [0, 0]]), [[0.6, 0.8], [0.0, 0.0]])


# ---------------------------------------------------------------------------------------------
# pad_sequences
# ---------------------------------------------------------------------------------------------

sequence_lists = st.lists(st.lists(st.integers(-50, 50), max_size=8), max_size=6)


@given(sequences=sequence_lists,
       maxlen=st.one_of(st.none(), st.integers(1, 10)),
       dtype=st.sampled_from(["int32", "float32", "int64"]),
       padding=st.sampled_from(["pre", "post"]),
       truncating=st.sampled_from(["pre", "post"]),
       value=st.sampled_from([0.0, -1, 7, 2.5]))
def test_pad_sequences_equals_keras(keras_utils, sequences, maxlen, dtype, padding, truncating,
                                    value):
    options = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating,
                   value=value)
    ours, theirs = same_outcome(lambda: utils.pad_sequences(sequences, **options),
                                lambda: keras_utils.pad_sequences(sequences, **options))
    if theirs is not None:
        assert_identical(ours, theirs)


def test_pad_sequences_defaults_and_keras_doc_examples(keras_utils):
    sequences = [[1], [2, 3], [4, 5, 6]]
    ours = utils.pad_sequences(sequences)
    assert_identical(ours, keras_utils.pad_sequences(sequences))
    assert ours.dtype == np.int32 and ours.tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert utils.pad_sequences(sequences, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]
    assert utils.pad_sequences(sequences, padding="post").tolist() == \
        [[1, 0, 0], [2, 3, 0], [4, 5, 6]]


def test_pad_sequences_of_vectors_and_strings(keras_utils):
    vectors = [np.ones((2, 3)), np.arange(12).reshape(4, 3)]
    assert_identical(utils.pad_sequences(vectors, maxlen=3, dtype="float32"),
                     keras_utils.pad_sequences(vectors, maxlen=3, dtype="float32"))
    words = [["a", "b"], ["c"]]
    assert_identical(utils.pad_sequences(words, dtype=object, value="<pad>"),
                     keras_utils.pad_sequences(words, dtype=object, value="<pad>"))
    with pytest.raises(ValueError, match="dtype=object"):
        utils.pad_sequences(words, value="<pad>")


def test_pad_sequences_maxlen_0_gives_empty_rows_where_keras_fails(keras_utils):
    assert utils.pad_sequences([[1, 2], []], maxlen=0).shape == (2, 0)
    with pytest.raises(ValueError):  # Keras slices s[-0:], the whole sequence, into 0 columns
        keras_utils.pad_sequences([[1, 2], []], maxlen=0)


@pytest.mark.parametrize("options, message", [
    (dict(padding="left"), "`padding`"), (dict(truncating="middle"), "`truncating`"),
    (dict(maxlen=-1), "`maxlen`"), (dict(maxlen=2.5), "`maxlen`"),
])
def test_pad_sequences_bad_options_name_the_argument(options, message):
    with pytest.raises(ValueError, match=message):
        utils.pad_sequences([[1, 2]], **options)


def test_pad_sequences_bad_sequences(keras_utils):
    for bad in ([[1], 2], 5):
        with pytest.raises(ValueError):
            keras_utils.pad_sequences(bad)
        with pytest.raises(ValueError, match="`sequences`"):
            utils.pad_sequences(bad)


# ---------------------------------------------------------------------------------------------
# split_dataset
# ---------------------------------------------------------------------------------------------

def keras_rows(dataset):
    """A tf.data.Dataset of rows (or of tuples of rows) back as an array (or tuple of arrays)."""
    rows = list(dataset.as_numpy_iterator())
    if isinstance(rows[0], tuple):
        return tuple(np.stack([row[i] for row in rows]) for i in range(len(rows[0])))
    return np.stack(rows)


def assert_same_split(ours, theirs):
    for part_ours, part_keras in zip(ours, theirs):
        part_keras = keras_rows(part_keras)
        if isinstance(part_keras, tuple):
            assert isinstance(part_ours, tuple) and len(part_ours) == len(part_keras)
            for a, b in zip(part_ours, part_keras):
                assert_identical(a, b)
        else:
            assert_identical(part_ours, part_keras)


@st.composite
def split_cases(draw):
    """A dataset of n rows and two sizes, mostly valid (the error test covers invalid ones)."""
    n = draw(st.integers(2, 30))
    x = np.arange(n * 2, dtype=draw(st.sampled_from([np.float64, np.int64]))).reshape(n, 2)
    y = np.arange(n) * 10  # (n,) int64
    dataset = draw(st.sampled_from([x, (x, y), [x, y]]))
    size = st.one_of(st.none(), st.integers(1, n - 1), st.floats(0.01, 0.99))
    return dataset, draw(size), draw(size)


@given(case=split_cases(), shuffle=st.booleans(),
       seed=st.one_of(st.none(), st.integers(0, 10**6)))
def test_split_dataset_equals_keras(keras_utils, case, shuffle, seed):
    dataset, left_size, right_size = case

    def split(function):
        random.seed(1234)  # the same global state for a seed drawn by seed=None
        return function(dataset, left_size=left_size, right_size=right_size, shuffle=shuffle,
                        seed=seed)

    ours, theirs = same_outcome(lambda: split(utils.split_dataset),
                                lambda: split(keras_utils.split_dataset))
    if theirs is not None:
        assert_same_split(ours, theirs)


def test_split_dataset_reseeds_pythons_random_as_keras_does(keras_utils):
    x = np.arange(20).reshape(10, 2)
    after = []
    for split_dataset in (utils.split_dataset, keras_utils.split_dataset):
        random.seed(0)
        split_dataset(x, left_size=0.7, shuffle=True)
        after.append(random.random())
    assert after[0] == after[1]


def test_split_dataset_unpacks_like_arrays():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    (x_left, y_left), (x_right, y_right) = utils.split_dataset((x, y), left_size=0.8)
    np.testing.assert_array_equal(x_left, x[:8])
    np.testing.assert_array_equal(y_right, y[8:])
    left, right = utils.split_dataset(x, left_size=3, right_size=2)  # rows 3..7 in neither
    np.testing.assert_array_equal(left, x[:3])
    np.testing.assert_array_equal(right, x[8:])


@pytest.mark.parametrize("dataset, options", [
    (np.arange(10), dict()),  # no size
    (np.arange(10), dict(left_size=np.float64(0.5))),  # a NumPy float is not a float here
    (np.arange(10), dict(left_size=10)),
    (np.arange(10), dict(left_size=0.6, right_size=0.6)),
    (np.arange(10), dict(left_size=6, right_size=5)),
    (np.arange(3), dict(left_size=0.1)),  # rounds to 0 rows
    ([np.arange(3), np.arange(4)], dict(left_size=1)),
    ([np.arange(3), [1, 2, 3]], dict(left_size=1)),
    ((), dict(left_size=1)),
    ({"x": np.arange(3)}, dict(left_size=1)),
])
def test_split_dataset_errors_as_keras(keras_utils, dataset, options):
    with pytest.raises((ValueError, TypeError)) as theirs:
        keras_utils.split_dataset(dataset, **options)
    with pytest.raises(type(theirs.value)):
        utils.split_dataset(dataset, **options)
