"""IMDB movie reviews labelled by sentiment, read from the same `imdb.npz` that Keras downloads.

25,000 training and 25,000 test reviews, each a list of word indices (by frequency), label 1
for positive and 0 for negative. Index 0 means padding, 1 the start of a review, 2 a word cut
by `num_words` or `skip_top` ("out of vocabulary"); words start at `index_from` = 3.
"""
import json

import numpy as np

from minidl.datasets import files, sequences, unpickle

# URLs and hashes as in keras/src/datasets/imdb.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # SHA-256
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # MD5: the only hash Keras publishes
KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3):
    """Load the IMDB reviews as Keras's `keras.datasets.imdb.load_data` does, value for value.

    Args:
        path: a bare file name is looked up in minidl's, then Keras's cache, checked against
            the published SHA-256 on every read, and downloaded if no good copy is found; a
            path with a directory part (e.g. "./imdb.npz") is the user's own file, read as is.
        num_words: keep only the words ranked below `num_words` (None: all but the rarest,
            as Keras computes it); the others become `oov_char`.
        skip_top: also turn the `skip_top` most frequent ranks into `oov_char`.
        maxlen: drop reviews of `maxlen` or more indices (start_char included); None keeps all.
        seed: seed of the np.random.RandomState that shuffles train, then test.
        start_char: index put at the start of every review (None: none).
        oov_char: index of words cut by num_words/skip_top (None: drop them instead).
        index_from: added to every word rank.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x as 1-D object arrays of lists of ints,
        y as int64 arrays of 0/1 labels, as in Keras.
    """
    sequences.check_options(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    arrays = unpickle.load_npz(files.locate(path, BASE_URL + "imdb.npz", FILE_HASH), KEYS, "IMDB")
    rng = np.random.RandomState(seed)
    x_train, y_train = sequences.shuffle(rng, arrays["x_train"], arrays["y_train"])
    x_test, y_test = sequences.shuffle(rng, arrays["x_test"], arrays["y_test"])  # same rng, on
    x_train = sequences.mark_and_shift(x_train, start_char, index_from)
    x_test = sequences.mark_and_shift(x_test, start_char, index_from)
    if maxlen:
        x_train, y_train = sequences.drop_long(maxlen, x_train, y_train)
        x_test, y_test = sequences.drop_long(maxlen, x_test, y_test)
        sequences.check_not_empty(maxlen, x_train, x_test)
    # The vocabulary cut (and num_words=None's default) sees train and test together.
    xs = sequences.cap_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([y_train, y_test])  # (N_train + N_test,)
    n_train = len(x_train)
    return ((sequences.object_array(xs[:n_train]), labels[:n_train]),
            (sequences.object_array(xs[n_train:]), labels[n_train:]))


def get_word_index(path="imdb_word_index.json"):
    """The dict word -> rank of the IMDB reviews (rank 1 = most frequent), as in Keras.

    Ranks do not include `index_from`: the index of a word in `load_data`'s output is
    `word_index[word] + 3` with the default options.

    Args:
        path: a bare file name (the cache, checked against Keras's published MD5) or the
            path of the user's own copy.
    """
    return read_json(files.locate(path, BASE_URL + "imdb_word_index.json", WORD_INDEX_HASH))


def read_json(path):
    """Parse a word-index JSON file into a dict, with a clear error if it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            word_index = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise files.DatasetCorruptError(
            f"{path} is not a readable JSON word index ({e}). Delete it and load it again."
        ) from e
    if not isinstance(word_index, dict):
        raise files.DatasetCorruptError(
            f"{path} is not a word index: expected a JSON object mapping words to ranks. "
            f"Received: a JSON {type(word_index).__name__}"
        )
    return word_index
