"""TextVectorization: raw text -> tokens -> indices (or multi-hot, count, TF-IDF rows).

    vectorize = TextVectorization(max_tokens=20000, output_sequence_length=200)
    vectorize.adapt(train_texts)           vocabulary: "" (padding), "[UNK]", then by count
    vectorize(["The cat sat."])            -> [[2, 7, 9, 0, 0, ...]]   (N,L) int64

Each text goes through four steps, as keras/src/layers/preprocessing/text_vectorization.py
runs them with TensorFlow's string ops:
    standardize   "lower": ASCII letters A-Z only (tf.strings.lower); "strip_punctuation":
                  Keras's regex below (ASCII punctuation, the apostrophe included)
    split         "whitespace": on runs of ASCII whitespace (tf.strings.split), ends dropped;
                  "character": one token per Unicode character
    ngrams        for each width w in `ngrams`, in order: every w consecutive tokens joined
                  by a space (tf.strings.ngrams)
    lookup        a StringLookup with mask_token "" (index 0, the padding) and one "[UNK]"
Shapes: N texts, L = output_sequence_length, V the vocabulary size.
"""
import collections
import re

import numpy as np

from minidl.layers.lookup import (RawInputLayer, StringLookup, _batches, as_raw_array,
                                  check_string_arg)

PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')  # Keras's, verbatim
ASCII_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")  # absl::ascii_isspace, as TF's split
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class TextVectorization(RawInputLayer):
    """Turns strings into token indices (or multi-hot, count or TF-IDF rows).

    Formula, for each text s:
        s = lower(s); s = strip_punctuation(s)          standardize
        tokens = split(s) + ngrams(tokens)              split, ngrams
        "int":   ids = [index(t) for t in tokens], then padded with 0 or cut to L
        other:   StringLookup's encoding of the tokens (a row of width V)

    Args:
        max_tokens: the largest vocabulary, "" and "[UNK]" included (None: no limit).
        standardize: "lower_and_strip_punctuation" (default), "lower", "strip_punctuation"
            or None. (Keras also takes a callable on TensorFlow strings; minidl does not.)
        split: "whitespace" (default), "character" or None (each text is one token).
        ngrams: None, an int n (widths 1..n) or a tuple of widths.
        output_mode: "int" (default), "multi_hot", "count" or "tf_idf". ("one_hot" is
            refused: Keras's fails on split text.)
        output_sequence_length: "int" only: pad or cut each row to this length.
        pad_to_max_tokens: the non-int rows have width max_tokens.
        vocabulary, idf_weights: a given vocabulary instead of adapt.
        sparse, ragged: False only (minidl returns dense NumPy arrays).
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int",
                 output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8",
                 vocabulary_size=None, has_input_vocabulary=None, **kwargs):
        if callable(standardize) or callable(split):
            raise ValueError("minidl's TextVectorization takes `standardize` and `split` by "
                             "name only (Keras's callables run on TensorFlow strings). "
                             f"Received: standardize={standardize!r}, split={split!r}")
        if standardize is not None:
            check_string_arg(standardize, ("lower_and_strip_punctuation", "lower",
                                           "strip_punctuation"), "TextVectorization",
                             "standardize")
        if split is not None:
            check_string_arg(split, ("whitespace", "character"), "TextVectorization", "split")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        check_string_arg(output_mode, ("int", "one_hot", "multi_hot", "count", "tf_idf"),
                         "TextVectorization", "output_mode")
        if output_mode == "one_hot":
            raise ValueError("minidl's TextVectorization has no output_mode='one_hot' (Keras "
                             "accepts it but fails on split text): use 'multi_hot' or "
                             "'count'. Received: output_mode='one_hot'")
        if not (ngrams is None or isinstance(ngrams, int) or isinstance(ngrams, tuple)
                and all(isinstance(item, int) for item in ngrams)):
            raise ValueError("`ngrams` must be None, an integer, or a tuple of integers. "
                             f"Received: ngrams={ngrams}")
        if ngrams is not None and split is None:
            raise ValueError("minidl's TextVectorization makes ngrams of split text only: "
                             f"pass a `split`. Received: split=None, ngrams={ngrams}")
        if output_mode == "int" and not (isinstance(output_sequence_length, int)
                                         or output_sequence_length is None):
            raise ValueError("`output_sequence_length` must be either None or an integer when "
                             "`output_mode` is 'int'. Received: "
                             f"output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("`output_sequence_length` must not be set if `output_mode` is "
                             f"not 'int'. Received output_sequence_length="
                             f"{output_sequence_length}.")
        if sparse or ragged:
            raise ValueError("minidl's TextVectorization returns dense NumPy arrays: pass "
                             f"sparse=False and ragged=False. Received: sparse={sparse}, "
                             f"ragged={ragged}")
        if has_input_vocabulary is None:  # these two come from a config (Keras's too)
            has_input_vocabulary = vocabulary is not None
        super().__init__(**kwargs)
        self.standardize, self.split, self.ngrams = standardize, split, ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.encoding = encoding
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            has_input_vocabulary=has_input_vocabulary, encoding=encoding,
            vocabulary_size=vocabulary_size, name=self.name + "_lookup")

    # -- text -> tokens ---------------------------------------------------------------------------
    def standardize_text(self, s):
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            s = s.translate(ASCII_LOWER)
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            s = PUNCTUATION.sub("", s)
        return s

    def tokens(self, s):
        """The tokens of one (standardized) text: split, then ngrams."""
        if self.split == "whitespace":
            words = [w for w in ASCII_WHITESPACE.split(s) if w]
        else:  # "character"
            words = list(s)
        if self._ngrams is None:
            return words
        return [" ".join(words[i:i + w]) for w in self._ngrams
                for i in range(len(words) - w + 1)]

    def preprocess(self, texts):
        """Standardized texts, then a list of token lists (one per text) when splitting."""
        texts = as_raw_array(texts, "U")
        texts = np.vectorize(self.standardize_text, otypes=[object])(texts) if texts.size \
            else texts
        if self.split is None:
            return texts
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError("When using `TextVectorization` to tokenize strings, the "
                                 "input rank must be 1 or the last shape dimension must be 1. "
                                 f"Received: inputs.shape={texts.shape} with "
                                 f"rank={texts.ndim}")
            texts = texts[..., 0]  # (N,1) -> (N,)
        return [self.tokens(s) for s in texts.ravel()]

    # -- vocabulary --------------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (by count, ties by token, highest first) from texts."""
        lookup = self._lookup_layer
        if lookup._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{lookup.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()` "
                             "method.")
        counts, documents, n = collections.Counter(), collections.Counter(), 0
        for batch in _batches(data, steps):
            batch = as_raw_array(batch, "U")
            if batch.ndim == 1 and self.split is not None:
                batch = batch.reshape(-1, 1)
            rows = self.preprocess(batch)
            if self.split is None:
                rows = [[str(t) for t in row] for row in rows.reshape(len(rows), -1)]
            for row in rows:
                counts.update(row)
                documents.update(set(row))
                n += 1
        lookup._finalize(counts, documents, n)

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    @property
    def idf_weights(self):
        return self._lookup_layer.idf_weights

    # -- the maths ---------------------------------------------------------------------------------
    def forward(self, x, training=False):
        lookup = self._lookup_layer
        data = self.preprocess(x)
        if self.split is None:
            return self._pad(lookup(data)), None
        ids = [lookup.lookup(np.array(row, dtype=object)) for row in data]  # N rows of T_n
        if self.output_mode != "int":
            return self._encode(ids), None
        L = self.output_sequence_length
        if L is None:
            L = max((len(row) for row in ids), default=0)
        out = np.zeros((len(ids), L), np.int64)  # (N,L): 0 is the padding
        for n, row in enumerate(ids):
            out[n, :min(L, len(row))] = row[:L]
        return out, None

    def _encode(self, ids):
        lookup = self._lookup_layer
        lookup.check_vocabulary_known()
        return lookup.encode(ids)  # (N,V)

    def _pad(self, y):
        """split=None, "int": the last axis cut or padded with 0 to output_sequence_length."""
        L = self.output_sequence_length
        if self.output_mode != "int" or L is None:
            return y
        y = y[..., :L]
        pad = [(0, 0)] * (y.ndim - 1) + [(0, L - y.shape[-1])]
        return np.pad(y, pad)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        lookup = self._lookup_layer
        depth = lookup.max_tokens if lookup.pad_to_max_tokens else lookup._frozen_vocab_size
        return (input_shape[0], depth)

    def get_config(self):
        lookup = self._lookup_layer
        return {**super().get_config(), "max_tokens": lookup.max_tokens,
                "standardize": self.standardize, "split": self.split, "ngrams": self.ngrams,
                "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False,
                "ragged": False, "vocabulary": lookup.get_config()["vocabulary"],
                "idf_weights": lookup.get_config()["idf_weights"], "encoding": self.encoding,
                "vocabulary_size": self.vocabulary_size()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    def cannot_save_reason(self):
        return self._lookup_layer.cannot_save_reason()
