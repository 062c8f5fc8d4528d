"""Where fit, evaluate and predict get their batches: arrays, a PyDataset or a generator.

As Keras (keras/src/trainers/data_adapters/, keras/src/trainers/epoch_iterator.py), an
adapter hands out passes over the data, one batch at a time:

    arrays (x, y)      the rows in batches of batch_size, shuffled afresh for every pass
    PyDataset          dataset[0], dataset[1], ... (in an order shuffled with Python's
                       `random`, as Keras's, if shuffle=True), between its on_epoch_begin()
                       and on_epoch_end()
    Python generator   what it yields, until it stops
    a tf.data.Dataset  iterated afresh for every pass (or a torch DataLoader, or any other
                       re-iterable dataset object): each batch's tensors become NumPy
                       arrays, so a program that builds its input pipeline with tf.data
                       trains on minidl unchanged

and an EpochIterator cuts the passes into epochs:

    steps_per_epoch=None   an epoch is one pass
    steps_per_epoch=k      an epoch is the next k batches of the pass under way: a pass not
                           used up carries on into the next epoch, one that ends first ends
                           the epoch early ("Your input ran out of data", Keras's warning)

Keras reads a generator's first two batches ahead (to learn their shapes) and starts every
pass with them again: after a generator has stopped, each later pass is those two batches.
minidl does the same, so both train on the same batches.
"""
import itertools
import math
import random
import types
import warnings

import numpy as np

from minidl import data, rng
from minidl.dataset_utils import BatchDataset
from minidl.py_dataset import PyDataset

_PEEKED = 2  # batches Keras reads ahead from a generator (NUM_BATCHES_FOR_TENSOR_SPEC)


def unpack_x_y_sample_weight(item):
    """(x, y, sample_weight) of one batch as a dataset gives it, None for what is missing.
    A lone array or dict is x; a list counts as a tuple."""
    if isinstance(item, list):
        item = tuple(item)
    if not isinstance(item, tuple):
        return item, None, None
    if len(item) not in (1, 2, 3):
        raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                         f"`(x, y, sample_weight)`, found: {item}")
    return item + (None,) * (3 - len(item))


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """x, (x, y) or (x, y, sample_weight), leaving out what is None (a lone list or tuple of
    inputs becomes a one-element tuple, so that it is not read as (x, y))."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


class ArrayAdapter:
    """The rows of a prepared Batch (training.Batch), batch_size at a time."""

    def __init__(self, batch, batch_size, shuffle=False):
        self.batch, self.batch_size, self.shuffle = batch, batch_size, shuffle
        self.num_batches = math.ceil(len(batch) / batch_size)

    def first(self):
        return self.batch

    def batches(self):
        """One pass: consecutive rows, or a fresh permutation of them."""
        order = rng.generator().permutation(len(self.batch)) if self.shuffle else None
        for rows in data.batches(len(self.batch), self.batch_size, order):
            yield self.batch.rows(rows)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class PyDatasetAdapter:
    """A PyDataset's batches, each turned into a Batch by `prepare(x, y, sample_weight)`."""

    def __init__(self, dataset, prepare, shuffle=False):
        self.dataset, self.prepare, self.shuffle = dataset, prepare, shuffle
        dataset.workers  # Keras's warning if the subclass's __init__ skipped PyDataset's
        self.num_batches = dataset.num_batches

    def first(self):
        return self._batch(0)

    def _batch(self, index):
        item = self.dataset[index]
        if not isinstance(item, (tuple, list, dict)) and not hasattr(item, "shape"):
            raise ValueError(
                "PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it must "
                "be ordered either (input,) or (inputs, targets) or (inputs, targets, "
                f"sample_weights). Received: {str(item)[:100]}... of type {type(item)}")
        return self.prepare(*unpack_x_y_sample_weight(item))

    def batches(self):
        """One pass: every index in order (or shuffled), or without end."""
        if self.num_batches is None:
            indices = itertools.count()
        else:
            indices = list(range(self.num_batches))
            if self.shuffle:
                random.shuffle(indices)  # Python's generator, as Keras's adapter
        for index in indices:
            yield self._batch(index)

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


class GeneratorAdapter:
    """A Python generator's batches; its first two are read at once and start every pass."""

    num_batches = None

    def __init__(self, generator, prepare):
        self.generator, self.prepare = generator, prepare
        self.peeked = list(itertools.islice(generator, _PEEKED))
        if not self.peeked:
            raise ValueError("When passing a Python generator to a Keras model, the generator "
                             "must yield at least one batch. Received an empty generator.")
        if not isinstance(self.peeked[0], tuple):
            raise ValueError(
                "When passing a Python generator to a Keras model, the generator must return "
                "a tuple, either (input,) or (inputs, targets) or (inputs, targets, "
                f"sample_weights). Received: {self.peeked[0]}")

    def first(self):
        return self.prepare(*unpack_x_y_sample_weight(self.peeked[0]))

    def batches(self):
        for item in itertools.chain(self.peeked, self.generator):
            yield self.prepare(*unpack_x_y_sample_weight(item))

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class IterableAdapter:
    """A dataset object of another library, iterated afresh for every pass: a tf.data.Dataset
    (or a torch DataLoader). Its length, when it has one, is the number of batches (an
    infinite or unknown one is learnt at the end of the first pass, as a generator's)."""

    def __init__(self, dataset, prepare):
        self.dataset, self.prepare = dataset, prepare
        try:
            self.num_batches = len(dataset)
        except TypeError:  # tf.data: "The dataset is infinite." or of unknown length
            self.num_batches = None

    def first(self):
        for item in self.dataset:
            return self._batch(item)
        raise ValueError(f"The {dataset_name(self.dataset)} passed as data yields no batch.")

    def _batch(self, item):
        return self.prepare(*unpack_x_y_sample_weight(as_numpy(item)))

    def batches(self):
        for item in self.dataset:
            yield self._batch(item)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


def as_numpy(item):
    """A batch's tensors (TensorFlow's, PyTorch's) as NumPy arrays, in the same structure."""
    if isinstance(item, (list, tuple)):
        return type(item)(as_numpy(x) for x in item)
    if isinstance(item, dict):
        return {key: as_numpy(x) for key, x in item.items()}
    return None if item is None else np.asarray(item)


def is_iterable_dataset(x):
    """Whether x is a dataset object iterated afresh for every pass (a tf.data.Dataset, a
    torch DataLoader): iterable, but neither an array, a list, a dict nor an iterator."""
    return (hasattr(x, "__iter__") and not hasattr(x, "__next__")
            and not isinstance(x, (list, tuple, dict, str, bytes, PyDataset))
            and not hasattr(x, "__array__") and not hasattr(x, "shape"))


def dataset_name(x):
    """What Keras's messages call such a dataset."""
    module = type(x).__module__
    if module.startswith("tensorflow"):
        return "tf.data.Dataset"
    if module.startswith("torch"):
        return "torch DataLoader"
    return type(x).__name__


def is_dataset(x):
    """Whether x is a PyDataset, a generator or another dataset object (batches already
    made), not arrays."""
    return isinstance(x, (PyDataset, types.GeneratorType)) or is_iterable_dataset(x)


def adapter(x, y, sample_weight, class_weight, shuffle, prepare, kind="data"):
    """The adapter for a PyDataset, a generator or a dataset object, after Keras's checks of
    the arguments that such data must carry inside itself."""
    what = ("PyDataset" if isinstance(x, PyDataset) else
            dataset_name(x) if is_iterable_dataset(x) else "generator")
    for value, name, description in ((y, "y", "the targets"),
                                     (sample_weight, "sample_weights", "the sample weights")):
        if value is not None:
            raise ValueError(f"When providing `x` as a {what}, `{name}` should not be passed. "
                             f"Instead, {description} should be included as part of the "
                             f"{what}.")
    if isinstance(x, BatchDataset):  # Keras's tf.data adapter has no shuffle: the order is
        if shuffle:  # the dataset's own (keras/src/trainers/epoch_iterator.py warns)
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` "
                          "was provided as a dataset of batches (Keras: a tf.data.Dataset). "
                          "The Dataset is expected to already be shuffled.", stacklevel=4)
        return PyDatasetAdapter(x, prepare, shuffle=False)
    if isinstance(x, PyDataset):
        return PyDatasetAdapter(x, prepare, shuffle)
    if is_iterable_dataset(x):  # Keras's TFDatasetAdapter (class weights are applied)
        if shuffle:
            expected = ("Dataset is expected to already be shuffled (via "
                        "`.shuffle(buffer_size)`)." if what == "tf.data.Dataset" else
                        f"{what} is expected to already be shuffled.")
            warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` "
                          f"was provided as a {what}. The {expected}", stacklevel=4)
        return IterableAdapter(x, prepare)
    if class_weight is not None:
        raise ValueError("Argument `class_weight` is not supported for Python generator "
                         f"inputs. Received: class_weight={class_weight}")
    if shuffle:
        warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` was "
                      "provided as a generator. The generator is expected to yield "
                      "already-shuffled data.", stacklevel=4)
    return GeneratorAdapter(x, prepare)


class EpochIterator:
    """Epochs of (step, batch) from an adapter: Keras's EpochIterator.

    Args:
        adapter: one of the adapters above.
        steps_per_epoch: batches per epoch; None for one pass per epoch.
    """

    def __init__(self, adapter, steps_per_epoch=None):
        self.adapter, self.steps_per_epoch = adapter, steps_per_epoch
        self._pass = None  # the pass under way, kept between epochs if steps_per_epoch is set
        self._seen = 0  # batches taken from it (counted as Keras counts them)
        self._num_batches = adapter.num_batches  # a generator's: learnt when its pass ends
        self.ran_out = False  # whether the last epoch asked for a batch that never came

    @property
    def num_batches(self):
        """Steps per epoch, for the progress bar: None while not known."""
        return self.steps_per_epoch or self._num_batches

    def reset(self):
        """Before fit, evaluate: forget the pass under way (and call on_epoch_end, as Keras)."""
        self._pass, self._seen = None, 0
        self._num_batches = self.adapter.num_batches
        self.adapter.on_epoch_end()

    def _new_pass(self):
        self._pass, self._seen = self.adapter.batches(), 0

    def epoch(self):
        """(step, batch) for the steps of one epoch."""
        self.ran_out = False
        self.adapter.on_epoch_begin()
        steps = self.steps_per_epoch or self._num_batches
        if steps:
            if self._pass is None or self.steps_per_epoch is None:
                self._new_pass()
            for step in range(steps):
                if self._num_batches and self._seen >= self._num_batches:
                    if self.steps_per_epoch:
                        _warn_ran_out()
                    break
                self._seen += 1
                batch = next(self._pass, None)
                if batch is None:
                    return self._ran_out()
                yield step, batch
            if self._num_batches and self._seen >= self._num_batches:
                self._new_pass()  # the next epoch starts a new pass (and a new shuffle)
        else:  # a generator's first pass: as long as it lasts
            self._new_pass()
            for step in itertools.count():
                self._seen = step + 1
                batch = next(self._pass, None)
                if batch is None:
                    return self._ran_out()
                yield step, batch
        self.adapter.on_epoch_end()

    def _ran_out(self):
        if self._num_batches is None:
            self._num_batches = self._seen  # Keras's count: one more than the batches read
        _warn_ran_out()
        self._pass, self.ran_out = None, True
        self.adapter.on_epoch_end()


def _warn_ran_out():
    warnings.warn(
        "Your input ran out of data; interrupting training. Make sure that your dataset or "
        "generator can generate at least `steps_per_epoch * epochs` batches. You may need to "
        "use the `.repeat()` function when building your dataset.", stacklevel=4)
