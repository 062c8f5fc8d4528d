"""The steps IMDB and Reuters share, as Keras takes them (keras/src/datasets/imdb.py, reuters.py).

Each review or newswire is stored as a list of word ranks (1 = the most frequent word).
Loading it, in this order:
  1. shuffles with `np.random.RandomState(seed)`,
  2. shifts every rank by `index_from` and puts `start_char` in front,
  3. drops every sequence of `maxlen` or more words (Keras keeps `len < maxlen`, strictly),
  4. replaces each word outside `skip_top <= w < num_words` by `oov_char` (drops it if None).
"""
import numbers

import numpy as np


def check_options(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    """Reject option values Keras's loaders cannot use, naming the argument."""
    _check_int("num_words", num_words, allow_none=True)
    _check_int("skip_top", skip_top)
    _check_int("maxlen", maxlen, allow_none=True)
    _check_int("seed", seed, allow_none=True)
    _check_int("start_char", start_char, allow_none=True)
    _check_int("oov_char", oov_char, allow_none=True)
    _check_int("index_from", index_from)


def _check_int(name, value, allow_none=False):
    """A non-negative integer (or None where allowed), else a ValueError naming `name`."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        expected = "a non-negative integer" + (" or None" if allow_none else "")
        raise ValueError(
            f"Received an invalid value for `{name}`, expected {expected}. "
            f"Received: {name}={value!r}"
        )


def shuffle(rng, x, y):
    """x and y reordered by one permutation drawn from `rng` (a np.random.RandomState)."""
    indices = np.arange(len(x))  # (N,)
    rng.shuffle(indices)
    return x[indices], y[indices]


def mark_and_shift(xs, start_char, index_from):
    """Each sequence as a new list: `start_char` (unless None), then every word + index_from."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    return [[w + index_from for w in x] for x in xs]


def drop_long(maxlen, xs, labels):
    """Keep the sequences shorter than `maxlen` and their labels (keras.src.utils.python_utils)."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def cap_vocabulary(xs, num_words, skip_top, oov_char):
    """Replace (or drop, if `oov_char` is None) each word outside skip_top <= w < num_words.

    As in Keras, `num_words=None` (or 0) means the largest word present, which is itself
    outside the range and so becomes `oov_char`: Keras's off-by-one, kept for equal outputs.
    (Keras fails on an empty sequence here; minidl skips it.)
    """
    if not num_words:
        num_words = max(max(x) for x in xs if len(x))
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(xs):
    """`np.array(xs, dtype="object")` as Keras builds it: ragged lists give shape (N,).

    Sequences all of one length give a 2-D object array (N, L) instead, in Keras as here.
    """
    return np.array(xs, dtype="object")


def check_not_empty(maxlen, *splits):
    """Raise Keras's error if filtering by `maxlen` left any split without sequences."""
    if any(len(split) == 0 for split in splits):
        raise ValueError(
            f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was "
            "kept. Increase maxlen."
        )
