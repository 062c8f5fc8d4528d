"""Boston Housing prices, read from the same `boston_housing.npz` that Keras downloads.

506 suburbs of Boston in the 1970s: 13 attributes each, target the median home value in k$.
As Keras warns, one attribute ("B") encodes an assumption about race; Keras discourages using
this dataset except to illustrate ethical problems in data.
"""
from minidl.datasets import files, tables, unpickle

# URL and hash as in keras/src/datasets/boston_housing.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # SHA-256


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """Load Boston Housing as `keras.datasets.boston_housing.load_data` does, value for value.

    Args:
        path: a bare file name is looked up in minidl's, then Keras's cache, checked against
            the published SHA-256 on every read, and downloaded if no good copy is found; a
            path with a directory part is the user's own file, read as is.
        test_split: fraction in [0, 1) of the shuffled rows, taken from the end, for test.
        seed: seed of the np.random.RandomState that shuffles before the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`, float64 as in the file and in Keras:
        x (N, 13), y (N,) with N = 404 and 102 for the default split.
    """
    tables.check_test_split(test_split)
    path = files.locate(path, BASE_URL + "boston_housing.npz", FILE_HASH)
    arrays = unpickle.load_npz(path, ("x", "y"), "Boston Housing")
    x, y = tables.check_table(arrays["x"], arrays["y"], path, 13)
    return tables.shuffled_split(x, y, test_split, seed)
