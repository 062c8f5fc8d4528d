"""The dataset the dataset-making utilities return: batches read by index, as a PyDataset.

Keras's timeseries_dataset_from_array, text_dataset_from_directory and
image_dataset_from_directory return a tf.data.Dataset of batches. minidl has no TensorFlow:
they return a BatchDataset, a PyDataset that programs use the way they use the tf.data one:

    model.fit(train_ds, validation_data=val_ds, epochs=10)
    for inputs, targets in train_ds: ...          NumPy arrays, one batch at a time
    len(train_ds)                                 the number of batches
    train_ds.map(lambda x, y: x)                  fn on each batch's arrays
    train_ds.take(2), .prefetch(n), .cache()      the first 2 batches; nothing to do

A BatchDataset holds `count` elements and a function `load(indices)` that reads the elements at
those indices as one batch (a tuple of arrays with a leading axis, or one array). Batch i is
load(order[i * B:(i + 1) * B]): nothing is read before it is asked for.
Shapes: N elements, B batch size.
"""
import math

import numpy as np

from minidl import rng
from minidl.py_dataset import PyDataset

# tf.data methods the published programs do not chain on these datasets: refused by name
_NOT_IN_MINIDL = ("batch", "shuffle", "repeat", "filter", "skip", "concatenate", "zip",
                  "rebatch", "padded_batch", "interleave", "flat_map", "window", "apply",
                  "with_options", "enumerate", "shard", "bucket_by_sequence_length")


def buffer_shuffle(count, buffer_size, generator):
    """The element order of tf.data's `shuffle(buffer_size)` over elements 0 .. count-1.

    Formula: fill a buffer with the first buffer_size elements; then, until it is empty,
    emit a uniformly drawn element of the buffer and put the next element in its place.
    (The draws are minidl's generator's, not TensorFlow's: same kind of order, not the same.)
    """
    buffer = list(range(min(buffer_size, count)))
    following, order = len(buffer), []
    while buffer:
        j = int(generator.integers(len(buffer)))
        order.append(buffer[j])
        if following < count:
            buffer[j] = following
            following += 1
        else:
            buffer[j] = buffer[-1]
            buffer.pop()
    return np.array(order, dtype=np.int64)  # (N,)


class BatchDataset(PyDataset):
    """Batches of `batch_size` elements (the last one may be shorter), read by `load`.

    Args:
        count: the number of elements N.
        load: function(indices) -> the elements at `indices` (an int array) as one batch:
            a tuple of arrays, each with a leading axis of len(indices), or one such array.
        batch_size: elements per batch; None yields single elements (no batch axis), as Keras.
        shuffle_buffer: None for the elements in order; else tf.data's buffer size, and every
            pass (every `for` loop over the dataset, every epoch of fit) draws a new order.
        seed: seed of this dataset's own generator for that order (None: minidl's generator).
    `class_names` and `file_paths` are set by the utilities that have them, as Keras's.
    """

    def __init__(self, count, load, batch_size, shuffle_buffer=None, seed=None):
        super().__init__()
        self._count, self._load, self._batch_size = count, load, batch_size
        self._shuffle_buffer, self._maps, self._limit = shuffle_buffer, (), None
        self._generator = rng.generator() if seed is None else np.random.default_rng(seed)
        self._order = np.arange(count)  # (N,)
        self._new_order()

    def _new_order(self):
        if self._shuffle_buffer is not None:
            self._order = buffer_shuffle(self._count, self._shuffle_buffer, self._generator)

    def _copy(self, **changes):
        ds = object.__new__(type(self))
        ds.__dict__.update(self.__dict__)
        ds.__dict__.update(changes)
        return ds

    # -- PyDataset ------------------------------------------------------------------------------
    def __len__(self):
        B = self._batch_size
        n = self._count if B is None else math.ceil(self._count / B)
        return n if self._limit is None else min(n, self._limit)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for a dataset of {len(self)} "
                             "batches.")
        if self._batch_size is None:
            item = self._load(self._order[index:index + 1])
            item = tuple(a[0] for a in item) if isinstance(item, tuple) else item[0]
        else:
            B = self._batch_size
            item = self._load(self._order[index * B:(index + 1) * B])
        for fn in self._maps:
            item = fn(*item) if isinstance(item, tuple) else fn(item)
        return item

    def __iter__(self):
        """One pass over the batches (a new order first, if shuffled), as iterating tf.data."""
        self._new_order()
        for index in range(len(self)):
            yield self[index]

    def on_epoch_end(self):
        """fit's next epoch sees a new order, as tf.data reshuffles for every iteration."""
        self._new_order()

    # -- the tf.data methods programs chain on these datasets -----------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A dataset of map_func(*batch) for each batch (map_func(batch) for a lone array)."""
        return self._copy(_maps=self._maps + (map_func,))

    def take(self, count, name=None):
        """The first `count` batches (all of them for -1)."""
        return self._copy(_limit=None if count == -1 else max(int(count), 0))

    def prefetch(self, buffer_size, name=None):
        """The dataset itself: minidl reads each batch when it is asked for."""
        return self

    def cache(self, filename="", name=None):
        """The dataset itself: minidl keeps no cache."""
        return self

    def unbatch(self):
        """The same elements one at a time (before any `map`, whose batches minidl would have
        to split; then it is refused)."""
        if self._maps:
            raise NotImplementedError("minidl's unbatch() works on a dataset before `map`: "
                                      "call unbatch() first, then map().")
        if self._limit is not None:
            raise NotImplementedError("minidl's unbatch() works on a dataset before `take`: "
                                      "call unbatch() first, then take().")
        return self._copy(_batch_size=None)

    def as_numpy_iterator(self):
        """The batches as NumPy arrays: they already are."""
        return iter(self)

    def __getattr__(self, name):
        if name in _NOT_IN_MINIDL:
            raise NotImplementedError(
                f"minidl's datasets have map, take, prefetch, cache, unbatch and "
                f"as_numpy_iterator of tf.data.Dataset's methods, not `{name}`. "
                "Write a PyDataset of your own for other pipelines.")
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
