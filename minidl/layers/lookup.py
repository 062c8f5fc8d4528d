"""StringLookup, IntegerLookup and CategoryEncoding: tokens -> indices -> one/multi-hot rows.

    StringLookup().adapt(words)        vocabulary: the words by count, most frequent first
    lookup(["cat", "dog", "zebra"])    -> [2, 3, 1]  (1: the out-of-vocabulary index)
    CategoryEncoding(4)([[0, 2]])      -> [[1., 0., 1., 0.]]

These layers work on NumPy arrays of strings or integers, not floats: they declare
`takes_raw_inputs` (layers/base.py), so neither a call nor a model casts their inputs. They
have no trainable weights and no gradient (neither have Keras's): in a model they come
before every trainable layer.

Index layout (keras/src/layers/preprocessing/index_lookup.py), int output:
    0                                  the mask token, if there is one
    next num_oov_indices indices       out-of-vocabulary (OOV) buckets
    the rest                           the vocabulary, most frequent first
Shapes: N rows, T tokens per row, V the vocabulary size (special indices included).
"""
import collections

import numpy as np

from minidl import config
from minidl.layers.base import Layer
from minidl.layers.string_hash import fingerprint64, siphash24
from minidl.tape import active_tape, flatten, paused

INT64_MAX = np.iinfo(np.int64).max  # a masked token in the non-int modes: dropped by encode


def encode(indices, output_mode, depth, dtype):
    """Indices as one_hot / multi_hot / count rows of width `depth`, as TensorFlow's bincount
    and one_hot give them (keras/src/utils/numerical_utils.py, tf_utils.py).

    Formula (an index outside [0, depth) adds nothing: a masked token, a bin Keras drops):
        one_hot:    y[..., k] = (i == k)                   (N,T) -> (N,T,depth); (N,1) -> (N,depth)
        multi_hot:  y[n, k] = any_t (i[n,t] == k)          (N,T) -> (N,depth);   (T,) -> (depth,)
        count:      y[n, k] = sum_t (i[n,t] == k)
    Rows of different lengths (a list of arrays: split text) count each row's own tokens.
    """
    rows = isinstance(indices, list)
    if not rows:
        indices = np.asarray(indices)
        if indices.ndim == 0:
            indices = indices.reshape(1)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]  # (N,1) -> (N,)
        hot = indices[..., None] == np.arange(depth)  # (...,1) == (depth,) -> (...,depth)
        return hot.astype(dtype)
    if not rows and indices.ndim > 2:
        raise ValueError("When output_mode is not `'int'`, maximum supported output rank is "
                         f"2. Received output_mode {output_mode} and input shape "
                         f"{indices.shape}, which would result in output rank "
                         f"{indices.ndim}.")
    if not rows and indices.ndim == 1:
        return _bincount(indices, output_mode, depth, dtype)  # (depth,)
    out = np.zeros((len(indices), depth), dtype)  # (N,depth)
    for n, row in enumerate(indices):
        out[n] = _bincount(np.asarray(row), output_mode, depth, dtype)
    return out


def _bincount(row, output_mode, depth, dtype):
    if (row < 0).any():
        raise ValueError(f"Input arr must be non-negative! Received: {row[row < 0][0]}")
    counts = np.bincount(row[row < depth].astype(np.int64), minlength=depth)  # (depth,)
    return (counts > 0 if output_mode == "multi_hot" else counts).astype(dtype)


def check_string_arg(value, allowed, caller, arg):
    """Keras's argument_validation.validate_string_arg."""
    if not (isinstance(value, str) and value in allowed):
        raise ValueError(f"Unknown value for `{arg}` argument of {caller}. Allowed values "
                         f"are: {allowed}. Received: {arg}={value}")


def as_raw_array(x, dtype_kind):
    """x (a list, a NumPy array, bytes) as an array of str ("U") or int64 ("i")."""
    x = np.asarray(x, dtype=object if dtype_kind == "U" else None)
    if dtype_kind == "U":
        decode = np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else str(v),
                              otypes=[object])
        return decode(x) if x.size else x.astype(object)
    if x.dtype.kind not in "iub":
        raise ValueError(f"Expected integer inputs. Received an array of dtype {x.dtype}")
    return x.astype(np.int64)


class RawInputLayer(Layer):
    """A layer whose inputs are strings or integers, kept as they are, and that has no
    gradient: Keras's preprocessing layers are not differentiable."""

    takes_raw_inputs = True

    def __call__(self, inputs, training=None, **kwargs):
        tape = active_tape()  # a training step: nothing recorded may come before this layer
        if tape is not None and any(tape.producer(x) is not None for x in flatten(inputs)):
            raise self._no_gradient()
        with paused():  # off the tape: its outputs are constants, as the data, so that the
            return super().__call__(inputs, training=training, **kwargs)  # next one may be raw too

    def backward(self, dy, cache, need_dx=True):
        if need_dx:
            raise self._no_gradient()
        return None, {}

    def _no_gradient(self):
        return ValueError(
            f"Layer '{self.name}' ({type(self).__name__}) has no gradient (as in Keras, "
            "preprocessing layers are not differentiable), so no trainable layer can come "
            "before it in a model. Apply it to the data first, or put it first.")


class IndexLookup(RawInputLayer):
    """Maps tokens to indices through a vocabulary (StringLookup and IntegerLookup's maths).

    Formula, int output, for a token t:
        index(t) = token_start + position of t in the vocabulary   if t is in it
                 = oov_start                                       if num_oov_indices == 1
                 = oov_start + hash(t) % num_oov_indices           if num_oov_indices > 1
                 = 0                                               if t == mask_token
        invert=True maps indices back to tokens (oov_token for the OOV indices).
    Other output modes encode the indices (`encode`); "tf_idf" multiplies the counts by
        idf[k] = log(1 + documents / (1 + documents containing token k))
    where a document is a row of the adapt data.

    adapt(data) counts every token, drops mask and OOV tokens, and sorts by count, highest
    first, ties by the token itself, highest first (Keras's np.lexsort(...)[::-1]), keeping
    the first max_tokens - token_start.
    """

    _kind = "U"  # tokens: "U" strings, "i" integers

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None,
                 vocabulary_size=None, has_input_vocabulary=None, **kwargs):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If set, `max_tokens` must be greater than 1. "
                             f"Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError("If pad_to_max_tokens is True, must set `max_tokens`. "
                             f"Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("`num_oov_indices` must be greater than or equal to 0. "
                             f"Received: num_oov_indices={num_oov_indices}")
        check_string_arg(oov_method, ("floormod", "farmhash"), type(self).__name__,
                         "oov_method")
        if salt is not None:
            if self._kind == "i" and oov_method != "farmhash":
                raise ValueError("`salt` can only be used when `oov_method='farmhash'`. "
                                 f"Received: oov_method={oov_method}")
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = list(salt)
            elif isinstance(salt, int):
                salt = [salt, salt]
            else:
                raise ValueError("The `salt` argument for `IndexLookup` can only be a tuple "
                                 f"of 2 integers, or a single integer. Received: salt={salt}.")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        check_string_arg(output_mode, ("int", "one_hot", "multi_hot", "count", "tf_idf"),
                         type(self).__name__, "output_mode")
        if invert and output_mode != "int":
            raise ValueError("`output_mode` must be `'int'` when `invert` is true. "
                             f"Received: output_mode={output_mode}")
        if sparse:
            raise ValueError("minidl's lookup layers return dense NumPy arrays: pass "
                             f"sparse=False. Received: sparse={sparse}")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError("`idf_weights` should only be set if `output_mode` is "
                             f"`'tf_idf'`. Received: idf_weights={idf_weights} and "
                             f"output_mode={output_mode}")
        if isinstance(vocabulary, str):
            raise ValueError("minidl's lookup layers take the vocabulary as a list or array, "
                             f"not a file path. Received: vocabulary={vocabulary!r}")
        kwargs.pop("dtype", None)  # Keras's dtype policy: outputs are int64 / float32 anyway
        super().__init__(**kwargs)
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode, self.sparse = invert, output_mode, False
        self.pad_to_max_tokens, self.oov_method, self.salt = pad_to_max_tokens, oov_method, salt
        self.input_vocabulary = vocabulary
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = (vocabulary is not None if has_input_vocabulary is None
                                      else has_input_vocabulary)
        self._frozen_vocab_size = vocabulary_size
        self._tokens, self._index, self.idf_weights = [], {}, None
        if output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output "
                             "mode, the `idf_weights` argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- the index layout ------------------------------------------------------------------------
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The number of indices, special ones included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True):
        """The token of each index (mask, OOV, then the vocabulary), as Keras lists them."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    def _record_vocabulary_size(self):
        size = self.vocabulary_size()
        if (self.output_mode != "int" and not self.pad_to_max_tokens
                and self._frozen_vocab_size is not None and size != self._frozen_vocab_size):
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "the vocabulary size cannot be changed after the layer is called. Old vocab "
                f"size is {self._frozen_vocab_size}, new vocab size is {size}")
        self._frozen_vocab_size = size

    # -- setting the vocabulary ------------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use this vocabulary (and, for "tf_idf", these idf weights) instead of adapt's."""
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError("`idf_weights` should only be set if output_mode is `'tf_idf'`. "
                             f"Received: output_mode={self.output_mode} and "
                             f"idf_weights={idf_weights}")
        vocabulary = [self._token(t) for t in np.asarray(vocabulary, dtype=object).ravel()]
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        oov_start, token_start = self._oov_start_index(), self._token_start_index()
        special = [self.mask_token] * oov_start + [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[:token_start] == special
        tokens = vocabulary[token_start:] if found_special else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError("The passed vocabulary has at least one repeated term. Please "
                             f"uniquify your dataset. The repeated terms are: {repeated}")
        for token, name, check in ((self.mask_token, "mask_token", True),
                                   (self.oov_token, "oov_token", self.invert)):
            if token is not None and check and token in tokens:
                index = np.array([i for i, t in enumerate(vocabulary) if t == token][-1:])
                raise ValueError(
                    "Found reserved " + ("mask" if name == "mask_token" else "OOV") +
                    " token at unexpected location in `vocabulary`. Note that passed "
                    "`vocabulary` does not need to include the OOV and mask tokens. Either "
                    "remove all mask and OOV tokens, or include them only at the start of the "
                    f"vocabulary in precisely this order: {special}. Received: {name}={token} "
                    f"at vocabulary index {index}")
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError("Attempted to set a vocabulary larger than the maximum vocab "
                             f"size. Received vocabulary size is {token_start + len(tokens)}; "
                             f"`max_tokens` is {self.max_tokens}.")
        if idf_weights is not None:
            idf_weights = np.asarray(idf_weights)
            if len(vocabulary) != len(idf_weights):
                raise ValueError("`idf_weights` must be the same length as vocabulary. "
                                 f"len(idf_weights) is {len(idf_weights)}; len(vocabulary) is "
                                 f"{len(vocabulary)}")
            front = 0 if found_special else token_start
            back = (self.max_tokens - front - len(idf_weights)
                    if self.pad_to_max_tokens and self.max_tokens is not None else 0)
            idf = np.pad(idf_weights, (front, back), "constant",
                         constant_values=(0 if found_special else np.average(idf_weights), 0))
            self.idf_weights = idf.astype(config.floatx())  # (V,)
        self._set_tokens(tokens)

    def _set_tokens(self, tokens):
        start = self._token_start_index()
        self._tokens = list(tokens)
        self._index = {t: start + i for i, t in enumerate(self._tokens)}
        self._record_vocabulary_size()

    def _token(self, value):
        """One token as a Python str or int."""
        if self._kind == "U":
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return int(value)

    # -- adapt -----------------------------------------------------------------------------------
    def adapt(self, data, steps=None):
        """Learn the vocabulary (and idf weights) from `data`: an array or list of tokens, or
        any other iterable of batches."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static "
                             "vocabulary via `vocabulary` argument or `set_vocabulary()` "
                             "method.")
        counts, documents, n_documents = collections.Counter(), collections.Counter(), 0
        for batch in _batches(data, steps):
            for row in self._documents(batch):
                counts.update(row)
                documents.update(set(row))
                n_documents += 1
        self._finalize(counts, documents, n_documents)

    def _documents(self, batch):
        """The rows (documents) of one batch, each a list of tokens; 1-D data is one token a row."""
        batch = as_raw_array(batch, self._kind)
        if batch.ndim <= 1:
            batch = batch.reshape(-1, 1)  # (N,) -> (N,1), as Keras expands rank-1 data
        return [[self._token(t) for t in row] for row in batch.reshape(len(batch), -1)]

    def _finalize(self, counts, documents, n_documents):
        if not counts:
            self._record_vocabulary_size()
            return
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        # Keras: np.lexsort((tokens, counts))[::-1]: count, then token, both descending.
        ranked = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            ranked = ranked[:self.max_tokens - self._token_start_index()]
        if self.output_mode == "tf_idf":
            df = np.array([documents[t] for t in ranked], np.int64)  # (V',)
            idf = np.log(1 + n_documents / (1 + df)).astype(config.floatx())  # float64 -> f32
            idf = np.pad(idf, (self._token_start_index(), 0), constant_values=idf.mean())
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - idf.size))
            self.idf_weights = idf  # (V,)
        self._set_tokens(ranked)

    # -- the maths -------------------------------------------------------------------------------
    def _oov_bucket(self, token):
        """Which OOV index a token outside the vocabulary takes, when there are several."""
        n = self.num_oov_indices
        if self._kind == "i" and self.oov_method != "farmhash":
            return token % n  # floormod
        data = str(token).encode("utf-8")
        value = fingerprint64(data) if self.salt is None else siphash24(data, self.salt)
        return value % n

    def lookup(self, tokens):
        """Indices of an array of tokens (or tokens of indices, when inverted): int64."""
        self.check_vocabulary_known()
        if self.invert:
            tokens = as_raw_array(tokens, "i")
            table = dict(enumerate(self.get_vocabulary()))
            if self.mask_token is not None:
                table[0] = self.mask_token
            out = np.empty(tokens.shape, object)
            out.flat = [table.get(int(i), self.oov_token) for i in tokens.flat]
            return out.astype(str) if self._kind == "U" else out.astype(np.int64)
        tokens = as_raw_array(tokens, self._kind)
        masked = INT64_MAX if self.output_mode != "int" else 0
        oov_start, missing = self._oov_start_index(), []
        out = np.empty(tokens.shape, np.int64)
        for i, value in enumerate(tokens.flat):
            token = self._token(value)
            if self.mask_token is not None and token == self.mask_token:
                out.flat[i] = masked
            elif token in self._index:
                out.flat[i] = self._index[token]
            elif self.num_oov_indices == 1:
                out.flat[i] = oov_start
            elif self.num_oov_indices > 1:
                out.flat[i] = oov_start + self._oov_bucket(token)
            else:
                missing.append(token)
        if missing:
            raise ValueError("When `num_oov_indices=0` all inputs should be in vocabulary, "
                             f"found OOV values {missing}, consider setting "
                             "`num_oov_indices=1`.")
        return out

    def forward(self, x, training=False):
        self.check_vocabulary_known()
        return self.encode(self.lookup(x)), None

    def check_vocabulary_known(self):
        """Keras's errors for a layer called before it has a vocabulary."""
        if self.output_mode != "int" and not self.pad_to_max_tokens \
                and self._frozen_vocab_size is None:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "you must set the layer's vocabulary before calling it. Either pass a "
                "`vocabulary` argument to the layer, or call `adapt` with some sample data.")
        if not self._tokens:  # Keras: TensorFlow's "Table not initialized"
            raise ValueError(
                f"Layer '{self.name}' has no vocabulary yet (its lookup table is not "
                "initialized): call `adapt()` on data that holds tokens, or pass a "
                "`vocabulary`.")

    def encode(self, indices):
        """The looked-up indices in the output mode (int64, or float32 for "tf_idf")."""
        if self.output_mode == "int":
            return indices
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        y = encode(indices, mode, depth, np.int64)  # (N,V)
        if self.output_mode == "tf_idf":
            return y.astype(config.floatx()) * self.idf_weights  # (N,V) * (V,)
        return y

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        shape = tuple(input_shape)
        if self.output_mode == "one_hot":
            if len(shape) > 1 and shape[-1] == 1:
                return shape[:-1] + (depth,)
            return shape + (depth,)
        return shape[:-1] + (depth,)

    def get_config(self):
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": _listify(self.input_idf_weights),
                "vocabulary": _listify(self.input_vocabulary),
                "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method,
                "salt": self.salt}

    def cannot_save_reason(self):
        """Why a .keras file written by minidl would lose this layer's state, or None."""
        if self._tokens and not self._has_input_vocabulary:
            return (f"layer '{self.name}' has a vocabulary from adapt(), which Keras keeps in "
                    "the file's assets and minidl's saving does not write. Build the layer "
                    "with vocabulary=layer.get_vocabulary() (and idf_weights=) to save it.")
        return None


def _listify(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _batches(data, steps=None):
    """adapt's data: a list, tuple or array is one batch; another iterable yields batches."""
    if isinstance(data, (list, tuple, np.ndarray, str, bytes)):
        yield data
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports lists, "
                        "NumPy arrays and iterables of batches.")
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        yield batch


class StringLookup(IndexLookup):
    """Maps strings to integer indices from a vocabulary (see IndexLookup for the maths).

    Args:
        max_tokens: the largest vocabulary size, special tokens included (None: no limit).
        num_oov_indices: how many OOV indices (default 1); more than 1 spreads OOV strings
            by FarmHash64 (SipHash with `salt`), as TensorFlow's to_hash_bucket_fast/strong.
        mask_token: a string mapped to 0 (and dropped in the non-int modes); default None.
        oov_token: the token of the OOV indices when inverted (default "[UNK]").
        vocabulary: a list of strings instead of adapt; idf_weights: with "tf_idf".
        invert: map indices back to strings.
        output_mode: "int" (default), "one_hot", "multi_hot", "count" or "tf_idf".
        pad_to_max_tokens: encode to width max_tokens even if the vocabulary is smaller.
        sparse: False only (minidl returns dense NumPy arrays).
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", salt=None,
                 **kwargs):
        if encoding != "utf-8":
            raise ValueError("minidl's StringLookup reads UTF-8 only. "
                             f"Received: encoding={encoding!r}")
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         salt=salt, **kwargs)

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Maps integers to contiguous indices from a vocabulary (see IndexLookup for the maths).

    Args as StringLookup, with integer tokens: mask_token default None, oov_token default -1;
    with num_oov_indices > 1, OOV integers go to bucket `token % num_oov_indices`
    (oov_method="floormod", default) or by FarmHash64 of their decimal text ("farmhash").
    """

    _kind = "i"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, **kwargs):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If `max_tokens` is set for `IntegerLookup`, it must be greater "
                             f"than 1. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("The value of `num_oov_indices` argument for `IntegerLookup` "
                             f"must >= 0. Received: num_oov_indices={num_oov_indices}")
        if vocabulary_dtype != "int64":
            raise ValueError("Only `vocabulary_dtype='int64'` is supported at this time. "
                             f"Received: vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         oov_method, salt, **kwargs)

    def get_config(self):
        config = super().get_config()
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return {**config, "vocabulary_dtype": "int64"}


class CategoryEncoding(RawInputLayer):
    """Integer category ids as one-hot, multi-hot or count rows of width num_tokens.

    Formula: see `encode` (ids outside [0, num_tokens) add nothing, as TensorFlow's bincount
    and one_hot; a negative id is TensorFlow's error).

    Args:
        num_tokens: the number of categories (the output width).
        output_mode: "multi_hot" (default), "one_hot" or "count".
        sparse: False only.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of "
                             "tokens is not known beforehand, use the IntegerLookup layer "
                             "instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise ValueError("minidl's CategoryEncoding returns dense NumPy arrays: pass "
                             f"sparse=False. Received: sparse={sparse}")
        super().__init__(**kwargs)
        self.num_tokens, self.output_mode, self.sparse = num_tokens, output_mode, False

    def forward(self, x, training=False):
        x = np.asarray(x)
        if x.dtype.kind == "f":
            x = x.astype(np.int64)  # TensorFlow's bincount takes integers
        return encode(x, self.output_mode, self.num_tokens, config.floatx()), None

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) == 0:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (shape[-1] != 1 or len(shape) == 1):
            return shape + (self.num_tokens,)
        return shape[:-1] + (self.num_tokens,)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}
