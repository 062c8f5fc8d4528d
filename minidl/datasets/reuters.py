"""Reuters newswires labelled by topic, read from the same `reuters.npz` that Keras downloads.

11,228 newswires over 46 topics, each a list of word indices (by frequency), split into train
and test by `test_split`. Index 0 means padding, 1 the start of a newswire, 2 a word cut by
`num_words` or `skip_top`; words start at `index_from` = 3.
"""
import numbers

import numpy as np

from minidl.datasets import files, sequences, unpickle
from minidl.datasets.imdb import read_json

# URLs and hashes as in keras/src/datasets/reuters.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # SHA-256
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # MD5: the only hash Keras publishes
KEYS = ("x", "y")

# The 46 topics, in label order (keras.datasets.reuters.get_label_names).
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """Load the Reuters newswires as `keras.datasets.reuters.load_data` does, value for value.

    Args:
        path: a bare file name is looked up in minidl's, then Keras's cache, checked against
            the published SHA-256 on every read, and downloaded if no good copy is found; a
            path with a directory part (e.g. "./reuters.npz") is the user's own file, read as is.
        num_words: keep only the words ranked below `num_words` (None: all but the rarest,
            as Keras computes it); the others become `oov_char`.
        skip_top: also turn the `skip_top` most frequent ranks into `oov_char`.
        maxlen: drop newswires of `maxlen` or more indices (start_char included).
        test_split: fraction in [0, 1] of the shuffled newswires, taken from the end, for test.
        seed: seed of the np.random.RandomState that shuffles before the split.
        start_char: index put at the start of every newswire (None: none).
        oov_char: index of words cut by num_words/skip_top (None: drop them instead).
        index_from: added to every word rank.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x as 1-D object arrays of lists of ints,
        y as int64 arrays of topic labels 0-45, as in Keras.
    """
    sequences.check_options(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    _check_test_split(test_split)
    path = files.locate(path, BASE_URL + "reuters.npz", FILE_HASH)
    arrays = unpickle.load_npz(path, KEYS, "Reuters")
    xs, labels = sequences.shuffle(np.random.RandomState(seed), arrays["x"], arrays["y"])
    xs = sequences.mark_and_shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = sequences.drop_long(maxlen, xs, labels)
        if not num_words:  # Keras would take max() of nothing; with num_words, all may go
            sequences.check_not_empty(maxlen, xs)
    xs = sequences.cap_vocabulary(xs, num_words, skip_top, oov_char)
    n_train = int(len(xs) * (1 - test_split))
    return ((sequences.object_array(xs[:n_train]), np.array(labels[:n_train])),
            (sequences.object_array(xs[n_train:]), np.array(labels[n_train:])))


def _check_test_split(test_split):
    """A fraction in [0, 1], else a ValueError naming `test_split`."""
    valid = isinstance(test_split, numbers.Real) and not isinstance(test_split, bool)
    if not valid or not 0 <= test_split <= 1:
        raise ValueError(
            "Received an invalid value for `test_split`, expected a float between 0 and 1. "
            f"Received: test_split={test_split!r}"
        )


def get_word_index(path="reuters_word_index.json"):
    """The dict word -> rank of the Reuters newswires (rank 1 = most frequent), as in Keras.

    Args:
        path: a bare file name (the cache, checked against Keras's published MD5) or the
            path of the user's own copy.
    """
    return read_json(files.locate(path, BASE_URL + "reuters_word_index.json", WORD_INDEX_HASH))


def get_label_names():
    """The 46 topic names, indexed by label, as `keras.datasets.reuters.get_label_names()`."""
    return LABEL_NAMES
