"""Hashing, HashedCrossing and Discretization: values into a fixed number of bins, no vocabulary.

    Hashing(num_bins=8)(["cat", "dog"])                  -> FarmHash64(s) % 8, TensorFlow's
    HashedCrossing(num_bins=8)([["a"], [3]])              -> the pair ("a", 3) hashed into 8 bins
    Discretization(bin_boundaries=[0., 1.])([-1, .5, 2])  -> [0, 1, 2]

Like the lookup layers (lookup.py) they take raw inputs (strings or integers, kept as they
are) and have no gradient. Shapes: N rows, T values per row, B bins.
"""
import numpy as np

from minidl import config
from minidl.layers.base import _is_symbolic
from minidl.layers.lookup import RawInputLayer, check_string_arg, encode
from minidl.layers.string_hash import M, fingerprint64, fingerprint_cat64, siphash24


class Hashing(RawInputLayer):
    """Hashes strings or integers into num_bins bins, as TensorFlow hashes them.

    Formula, for a value v (an integer is hashed as its decimal text, tf.as_string; a float
    is first truncated to an integer):
        bin(v) = FarmHash64(v) % num_bins                     (tf.strings.to_hash_bucket_fast)
        bin(v) = SipHash24(v, salt) % num_bins                 with a salt (..._strong)
    With mask_value (and num_bins > 1): bin 0 is the mask's alone, the others hash into
    1 + hash % (num_bins - 1).

    Args:
        num_bins: the number of bins (mask bin included).
        mask_value: a value that goes to bin 0.
        salt: an int or a pair of ints: SipHash's key (both halves the int when one).
        output_mode: "int" (default), "one_hot", "multi_hot" or "count".
        sparse: False only.
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        kwargs.pop("dtype", None)  # int64 for "int", float32 otherwise, as Keras's default
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise ValueError("The `num_bins` for `Hashing` cannot be `None` or non-positive "
                             f"values. Received: num_bins={num_bins}.")
        modes = ("int", "one_hot", "multi_hot", "count")
        if output_mode not in modes:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of "
                             f"{modes}. Received: output_mode={output_mode}")
        if sparse:
            raise ValueError("minidl's Hashing returns dense NumPy arrays: pass sparse=False. "
                             f"Received: sparse={sparse}")
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = list(salt)
            elif isinstance(salt, int):
                salt = [salt, salt]
            else:
                raise ValueError("The `salt` argument for `Hashing` can only be a tuple of "
                                 f"size 2 integers, or a single integer. Received: salt={salt}.")
        self.num_bins, self.mask_value, self.salt = num_bins, mask_value, salt
        self.output_mode, self.sparse = output_mode, False

    def _bin(self, value, bins):
        data = str(value).encode("utf-8")
        h = fingerprint64(data) if self.salt is None else siphash24(data, self.salt)
        return h % bins

    def forward(self, x, training=False):
        x = np.asarray(x)
        if self.output_mode == "one_hot" and x.ndim > 0 and x.shape[-1] == 1:
            x = x[..., 0]  # (N,1) -> (N,), as Keras squeezes before hashing
        bins, masked = self.num_bins, None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            masked = x == self.mask_value  # (N,T)
        if x.dtype.kind == "f":
            x = x.astype(np.int64)  # truncated toward zero, as tf.cast
        if x.dtype.kind in "SO":
            x = np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else v,
                             otypes=[object])(x) if x.size else x
        y = np.empty(x.shape, np.int64)  # (N,T)
        y.flat = [self._bin(v, bins) for v in x.flat]
        if masked is not None:
            y = np.where(masked, 0, y + 1)
        if self.output_mode == "int":
            return y, None
        return encode(y, self.output_mode, self.num_bins, config.floatx()), None

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_bins,)
        return tuple(input_shape[:-1]) + (self.num_bins,)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}


class HashedCrossing(RawInputLayer):
    """Crosses two (or more) categorical features by hashing each row's tuple of values.

    Formula, for one row's values v_1 .. v_k (tf.sparse.cross_hashed, sparse_cross_op.cc):
        f(v) = FarmHash64(v)   for a string         f(v) = v mod 2**64   for an integer
        h = 0xDECAFCAFFE;  for each i: h = FingerprintCat64(h, f(v_i))
        bin = h % num_bins                          (h % (2**63 - 1) when num_bins is 0)
    An integer is its own fingerprint here, unlike Hashing's (which hashes its decimal text).

    Args:
        num_bins: the number of bins.
        output_mode: "int" (int64 bins, default) or "one_hot" (float32 rows of num_bins).
        sparse: False only.
    Inputs: a list of k arrays of strings or integers, all of shape (), (N,) or (N,1).
    """

    HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default hash_key (sparse_ops.py)

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if sparse:
            raise ValueError("minidl's HashedCrossing returns dense NumPy arrays: pass "
                             f"sparse=False. Received: sparse={sparse}")
        check_string_arg(output_mode, ("int", "one_hot"), "HashedCrossing", "output_mode")
        self.num_bins, self.output_mode, self.sparse = num_bins, output_mode, False
        self.dtype = dtype or ("int64" if output_mode == "int" else config.floatx())

    def _check_inputs(self, inputs):
        """Keras's checks (hashed_crossing.py), in Keras's order and words."""
        if not isinstance(inputs, (list, tuple)):
            raise ValueError("`HashedCrossing` should be called on a list or tuple of "
                             f"inputs. Received: inputs={inputs}")
        if len(inputs) < 2:
            raise ValueError("`HashedCrossing` should be called on at least two inputs. "
                             f"Received: inputs={inputs}")
        inputs = [np.asarray(x) for x in inputs]
        shape = inputs[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError("All `HashedCrossing` inputs should have shape `()`, "
                             f"`(batch_size)` or `(batch_size, 1)`. Received: inputs={inputs}")
        if not all(x.shape == shape for x in inputs[1:]):
            raise ValueError("All `HashedCrossing` inputs should have equal shape. "
                             f"Received: inputs={inputs}")
        if not all(x.dtype.kind in "iuUS" or (x.dtype.kind == "O" and _all_text(x))
                   for x in inputs):
            raise ValueError("All `HashedCrossing` inputs should have an integer or string "
                             f"dtype. Received: inputs={inputs}")
        return inputs

    def __call__(self, inputs, training=None, **kwargs):
        if not _is_symbolic(inputs):
            self._check_inputs(inputs)  # before building, as Keras checks in call
        return super().__call__(inputs, training=training, **kwargs)

    def forward(self, x, training=False):
        x = [np.asarray(v) for v in x]
        shape = x[0].shape
        columns = [np.ravel(v) for v in x]  # k arrays of (N,)
        y = np.empty(columns[0].shape, np.int64)  # (N,)
        modulus = self.num_bins if self.num_bins > 0 else np.iinfo(np.int64).max
        for n in range(len(y)):
            h = self.HASH_KEY
            for column in columns:
                h = fingerprint_cat64(h, _fingerprint(column[n]))
            y[n] = h % modulus
        y = y.reshape(shape)  # (), (N,) or (N,1), as the inputs
        if self.output_mode == "int":
            return y, None
        return encode(y, "one_hot", self.num_bins, self.dtype), None  # (N,B); () -> (1,B)

    def compute_output_shape(self, input_shape):
        # Keras's says "of 2 tensors" (its symbolic call stops there); its eager call, and
        # minidl's, cross any number from two on (hashed_crossing.py)
        if (not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2
                or not all(isinstance(s, tuple) for s in input_shape)):
            raise ValueError("Expected as input a list/tuple of 2 tensors. "
                             f"Received input_shape={input_shape}")
        if any(s[-1:] != input_shape[0][-1:] for s in input_shape[1:]):
            raise ValueError("Expected the two input tensors to have identical shapes. "
                             f"Received input_shape={input_shape}")
        shape = tuple(input_shape[0])
        if self.output_mode == "int":
            return shape
        if shape[-1:] != (1,):
            return shape + (self.num_bins,)
        return shape[:-1] + (self.num_bins,)

    def get_config(self):
        return {"num_bins": self.num_bins, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}


def _all_text(x):
    return all(isinstance(v, (str, bytes)) for v in x.flat)


def _fingerprint(value):
    """A value's 64-bit fingerprint in the cross: FarmHash64 of a string's UTF-8 bytes, an
    integer's own two's-complement bits."""
    if isinstance(value, (str, np.str_)):
        return fingerprint64(value.encode("utf-8"))
    if isinstance(value, (bytes, np.bytes_)):
        return fingerprint64(bytes(value))
    return int(value) & M


class Discretization(RawInputLayer):
    """Puts numbers into bins between boundaries (given, or quantiles learned by adapt).

    Formula (tf.raw_ops.Bucketize: the boundaries and x in float32):
        bin(x) = number of boundaries b with b <= x       # 0 .. len(bin_boundaries)
    adapt(data) with num_bins: Keras's approximate quantiles
    (keras/src/layers/preprocessing/discretization.py): each batch is summarised by every
    (N*epsilon)-th sorted value with its weight, summaries are merged and compressed by
    interpolating the cumulative weights, and the boundaries are the summary compressed to
    num_bins pieces, the last dropped.

    Args:
        bin_boundaries: increasing numbers; B = len + 1 bins.
        num_bins: the number of bins for adapt (instead of bin_boundaries).
        epsilon: the quantiles' error tolerance (default 0.01).
        output_mode: "int" (int32, default), "one_hot", "multi_hot" or "count" (float32).
        sparse: False only.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if sparse:
            raise ValueError("minidl's Discretization returns dense NumPy arrays: pass "
                             f"sparse=False. Received: sparse={sparse}")
        modes = ("int", "one_hot", "multi_hot", "count")
        if output_mode not in modes:
            raise ValueError("Unknown value for `output_mode` argument of Discretization. "
                             f"Allowed values are: {modes}. Received: output_mode={output_mode}")
        if num_bins is not None and num_bins < 0:
            raise ValueError("`num_bins` must be greater than or equal to 0. "
                             f"Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError("Both `num_bins` and `bin_boundaries` should not be set. "
                             f"Received: `num_bins={num_bins}` and "
                             f"`bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries, self.num_bins = bin_boundaries, num_bins
        self.epsilon, self.output_mode, self.sparse = epsilon, output_mode, False
        self.summary = None if bin_boundaries else np.array([[], []], dtype="float32")

    # -- adapt: Keras's NumPy quantile summary, step for step --------------------------------------
    def adapt(self, data, steps=None):
        """Learn num_bins - 1 boundaries: approximate quantiles of `data`."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")
        self.summary = np.array([[], []], dtype="float32")
        if isinstance(data, np.ndarray) or not hasattr(data, "__iter__"):
            batches = [data]
        else:
            batches = (batch for i, batch in enumerate(data) if steps is None or i < steps)
        for batch in batches:
            summary = _summarize(np.array(batch).astype("float32"), self.epsilon)
            self.summary = _merge_summaries(summary, self.summary, self.epsilon)
        self.bin_boundaries = _compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1] \
            .tolist()

    # -- the maths -----------------------------------------------------------------------------
    def forward(self, x, training=False):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at "
                             "construction time or call `adapt(dataset)` before you can start "
                             "using the `Discretization` layer.")
        x = _flush(np.asarray(x).astype(np.float32))  # (N,T): the input dtype, as Keras
        boundaries = _flush(np.asarray(self.bin_boundaries, np.float32))  # (B-1,): TF's attr
        bins = np.digitize(x, boundaries).astype(np.int32)  # (N,T): upper_bound, as Bucketize
        if self.output_mode == "int":
            return bins, None
        return encode(bins, self.output_mode, len(boundaries) + 1, config.floatx()), None

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = (len(self.bin_boundaries) + 1 if self.bin_boundaries is not None
                 else self.num_bins)
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return tuple(input_shape[:-1]) + (depth,)
            return tuple(input_shape) + (depth,)
        if input_shape and len(input_shape) >= 2:
            return (input_shape[0],) + tuple(input_shape[2:]) + (depth,)
        return (depth,)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            bin_boundaries = config.pop("bin_boundaries")  # an adapted layer, as Keras reads it
            layer = cls(**config)
            layer.bin_boundaries = bin_boundaries
            return layer
        return cls(**config)


def _flush(a):
    """Denormal float32s as 0, as TensorFlow's Bucketize reads them (denormals.py)."""
    return np.where(np.abs(a) < np.finfo(np.float32).tiny, np.float32(0), a)


def _summarize(values, epsilon):
    """Every step-th sorted value, each weighted `step`: a summary of one batch."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(np.size(values) / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])  # (2,K)


def _merge_summaries(prev_summary, next_summary, epsilon):
    merged = np.concatenate((prev_summary, next_summary), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return _compress_summary(merged, epsilon)


def _compress_summary(summary, epsilon):
    """The summary at 1/epsilon evenly spaced cumulative weights (np.interp), if it is longer."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")
