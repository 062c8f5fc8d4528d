"""PyDataset (also called Sequence): a dataset you write as a class, read one batch at a time.

Keras's `keras.utils.PyDataset` (keras/src/trainers/data_adapters/py_dataset_adapter.py). A
subclass says how many batches there are and what batch `index` holds; `fit`, `evaluate` and
`predict` take it as `x`:

    class Batches(minidl.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size
        def __len__(self):                          # the number of batches
            return math.ceil(len(self.x) / self.batch_size)
        def __getitem__(self, index):               # (inputs, targets[, sample_weights])
            rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return self.x[rows], self.y[rows]

    model.fit(Batches(x, y, 64), epochs=5)

How fit walks through it (an epoch, shuffling, `steps_per_epoch`) is in data_adapters.py.
"""
import itertools
import warnings


class PyDataset:
    """Base class for datasets that hand out whole batches by index.

    Args:
        workers, use_multiprocessing, max_queue_size: how many threads or processes Keras
            uses to read batches ahead. minidl keeps them (a subclass may read them) and reads
            the batches one after another, in the order Keras's ordered reader returns them:
            the same batches, the same numbers.
    Subclasses define `__getitem__(index)` and either `__len__()` or a `num_batches`
    property (None for an endless dataset: then give fit a `steps_per_epoch`); optionally
    `on_epoch_begin()` and `on_epoch_end()`, called around every pass.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        """Keras's warning for a subclass whose __init__ did not call PyDataset's."""
        missing = False
        for name, default in (("_workers", 1), ("_use_multiprocessing", False),
                              ("_max_queue_size", 10)):
            if not hasattr(self, name):
                setattr(self, name, default)
                missing = True
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position `index`: (inputs,), (inputs, targets) or
        (inputs, targets, sample_weights)."""
        raise NotImplementedError

    @property
    def num_batches(self):
        """The number of batches, or None for an endless dataset (`len(self)` if defined)."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            "You need to implement the `num_batches` property:\n\n"
            "@property\ndef num_batches(self):\n  return ...")

    def __iter__(self):
        """Batch 0, 1, 2, ...: all of them, or without end if num_batches is None."""
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        for index in itertools.count() if count is None else range(count):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every pass over the dataset."""

    def on_epoch_end(self):
        """Called at the end of every pass (and once before fit's first epoch, as Keras)."""


Sequence = PyDataset  # Keras 2's name, kept by Keras 3 as an alias
