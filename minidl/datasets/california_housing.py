"""California Housing prices, read from the same `california_housing.npz` Keras downloads.

20,640 census block groups of California in 1990: 8 attributes each (median income, house
age, average rooms and bedrooms, population, average occupancy, latitude, longitude), target
the median house value in dollars. `version="small"` keeps the first 600 rows, as Keras's
stand-in for the Boston Housing dataset.
"""
from minidl.datasets import files, tables, unpickle

# URL and hash as in keras/src/datasets/california_housing.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # SHA-256
SMALL = 600  # rows of version="small"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """Load California Housing as `keras.datasets.california_housing.load_data` does.

    Args:
        version: "large" (all 20,640 rows) or "small" (the first 600).
        path: a bare file name is looked up in minidl's, then Keras's cache, checked against
            the published SHA-256 on every read, and downloaded if no good copy is found; a
            path with a directory part is the user's own file, read as is.
        test_split: fraction in [0, 1) of the shuffled rows, taken from the end, for test.
        seed: seed of the np.random.RandomState that shuffles before the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)` as in the file (float32): x (N, 8), y (N,).
    """
    tables.check_test_split(test_split)
    path = files.locate(path, BASE_URL + "california_housing.npz", FILE_HASH)
    arrays = unpickle.load_npz(path, ("x", "y"), "California Housing")
    x, y = tables.check_table(arrays["x"], arrays["y"], path, 8)
    if version == "small":
        x, y = x[:SMALL], y[:SMALL]
    elif version != "large":
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: "
                         f"version={version}")
    return tables.shuffled_split(x, y, test_split, seed)
