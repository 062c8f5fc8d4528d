"""The callback protocol: Callback, the list fit calls, History and the progress bar.

Every hook receives its own copy of the logs, keys sorted and values as Python floats, as
Keras's CallbackList gives them (keras/src/callbacks/callback_list.py, pythonify_logs): a
callback that adds a key (ReduceLROnPlateau adds "learning_rate") changes what the
callbacks after it see in that call, History included, and nothing else.
"""

import numpy as np

from minidl import progbar
from minidl.progbar import Progbar


class Callback:
    """Base class: override any hook; `self.model` and `self.params` are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs=logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs=logs)
    def on_batch_begin(self, batch, logs=None): pass  # Keras's older names for the two above
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


def _does_something(callback, hook):
    """Whether `callback` has its own `hook`: a subclass's method or, as LambdaCallback sets
    them, a function given to the instance."""
    method = getattr(callback, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


def pythonify_logs(logs):
    """A fresh dict: keys sorted, numbers as Python floats, nested dicts flattened (as Keras)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        if isinstance(value, (int, float, np.number)) or (
                isinstance(value, np.ndarray) and value.ndim == 0):
            value = float(value)  # (a list of arrays, predict's outputs, stays as it is)
        result[key] = value
    return result


class CallbackList:
    """Calls a hook on every callback in turn: the user's, then History, then the progress bar.

    As Keras: the logs go positionally to the epoch, train and test begin/end hooks and by
    keyword to the batch hooks.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    "Expected every element of `callbacks` to be a "
                    f"minidl.callbacks.Callback. Received: {callback!r}"
                )
        self.history = None
        if add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar:
            self.callbacks.append(ProgbarLogger())
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)

    def uses(self, hook):
        """Whether any callback does something in `hook` ("on_train_batch_end"; a callback
        written with Keras's older on_batch_end counts): the loop skips the call, and the
        per-batch logs it would need, when none does."""
        older = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}
        names = [hook] + ([older[hook]] if hook in older else [])
        return any(_does_something(callback, name)
                   for callback in self.callbacks for name in names)

    def _call(self, hook, logs):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(logs)

    def _call_with_index(self, hook, index, logs, by_keyword):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            if by_keyword:
                getattr(callback, hook)(index, logs=logs)
            else:
                getattr(callback, hook)(index, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call_with_index("on_epoch_begin", epoch, logs, by_keyword=False)

    def on_epoch_end(self, epoch, logs=None):
        self._call_with_index("on_epoch_end", epoch, logs, by_keyword=False)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_with_index("on_train_batch_begin", batch, logs, by_keyword=True)

    def on_train_batch_end(self, batch, logs=None):
        self._call_with_index("on_train_batch_end", batch, logs, by_keyword=True)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_with_index("on_test_batch_begin", batch, logs, by_keyword=True)

    def on_test_batch_end(self, batch, logs=None):
        self._call_with_index("on_test_batch_end", batch, logs, by_keyword=True)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_with_index("on_predict_batch_begin", batch, logs, by_keyword=True)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_with_index("on_predict_batch_end", batch, logs, by_keyword=True)


class History(Callback):
    """Records every epoch's logs: `history.history["loss"]` is one float per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self
class ProgbarLogger(Callback):
    """Prints the Keras progress bar: one per epoch in fit, one for evaluate or predict."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.seen = 0
        self.called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _new_bar(self):
        self.seen = 0
        self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                               stateless_metrics=set())  # the logs are running means already

    def _update(self, batch, logs):
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize(self, logs):
        if self.target is None:  # a generator's first epoch: now the count is known
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)

    def on_train_begin(self, logs=None):
        self.called_in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        self._new_bar()
        if self.verbose and self.epochs > 1:
            progbar._write(f"Epoch {epoch + 1}/{self.epochs}\n")  # stdout, or the logger

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    # Validation inside fit does not touch the bar; a stand-alone evaluate has its own.
    def on_test_begin(self, logs=None):
        if not self.called_in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self.called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self.called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finalize(None)


