"""Callbacks that watch one logged value: EarlyStopping, ReduceLROnPlateau (and ModelCheckpoint).

"Better" means lower or higher: `mode="min"` or `"max"`, or `"auto"`, which reads it as Keras
does (keras/src/callbacks/monitor_callback.py): "loss" goes down, and a compiled metric
says which way it goes by its `_direction` ("up" for accuracies, AUC, precision; "down" for
errors); failing both, minidl guesses from the name (`_guess_direction`). A value improves
on the best so far when it beats it by more than `min_delta`.
"""
import warnings

import numpy as np

from minidl import config
from minidl.callbacks.base import Callback


def _guess_direction(name):
    """"min" for losses and errors, "max" for accuracies, None if the name does not say.

    Keras raises instead (it knows only "loss" and metrics with a `_direction`); minidl
    guesses for names that leave no doubt, such as a second output's "out_loss".
    """
    if "loss" in name or name in ("mae", "mse", "mean_absolute_error", "mean_squared_error"):
        return "min"
    if "acc" in name:
        return "max"
    return None


class MonitorCallback(Callback):
    """Base class: `monitor` a log key, in `mode` "min", "max" or "auto", by `min_delta`."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        self.monitor, self.mode, self.best = monitor, mode, baseline
        self.min_delta = abs(min_delta)
        self.direction = None  # "min" or "max", decided at the first epoch end

    def _set_direction(self):
        """Decide "min" or "max" (Keras's _set_monitor_op), once the metrics are built."""
        if self.mode != "auto":
            self.direction = self.mode
            return
        name = self.monitor.removeprefix("val_")
        if name == "loss":
            self.direction = "min"
        for metric in self._compiled_metrics():
            if metric.name == name and hasattr(metric, "_direction"):
                self.direction = "max" if metric._direction == "up" else "min"
        if self.direction is None:  # beyond Keras: a guess from the name ("out_loss", "acc")
            self.direction = _guess_direction(name)
        if self.direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor}, but minidl "
                "isn't able to automatically determine whether that metric should be "
                "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                "highest metric value, or pass `mode='min'` in order to use the lowest value.")

    def _compiled_metrics(self):
        """The metric objects inside the model's compiled metrics (as Keras looks for them)."""
        found = []
        for metric in getattr(self.model, "metrics", []) or []:
            inner = getattr(metric, "metrics", None)
            if isinstance(inner, list):
                found.extend(inner)
        return found

    def _is_improvement(self, value, reference):
        """value beats reference by more than min_delta, in the monitored direction.

        Keras compares with ops.less / ops.greater, which turn both sides into floatx
        numbers first: value - min_delta is rounded to float32 before the comparison.
        """
        if reference is None:
            return True
        number = np.dtype(config.floatx()).type
        if self.direction == "min":
            return number(value - -self.min_delta) < number(reference)
        return number(value - self.min_delta) > number(reference)


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored value has stopped improving for `patience` epochs.

    Args:
        monitor: the log key to watch ("val_loss", "val_accuracy", ...).
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: "min", "max", or "auto" (see the module docstring).
        restore_best_weights: at the end, put back the weights of the best epoch.
        baseline: stop unless the value beats this within `patience` epochs.
        start_from_epoch: epochs to wait before watching.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = self.stopped_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch = 0, 0
        self.best, self.best_weights, self.best_epoch = None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._set_direction()
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0  # only when it beats both the baseline and the best so far
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by `factor` when a value has stopped improving.

    Args:
        monitor: the log key to watch.
        factor: new rate = rate * factor (< 1).
        patience: epochs without improvement before reducing.
        mode: "min", "max" or "auto".
        min_delta: the smallest change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this.
    Adds the rate of each epoch to the logs as "learning_rate" (so to History), as Keras.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor, self.min_lr, self.patience = factor, min_lr, patience
        self.verbose, self.cooldown = verbose, cooldown
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._set_direction()
        logs = {} if logs is None else logs
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter, self.wait = self.cooldown, 0

    def _reduce(self, epoch):
        """rate = max(rate * factor, min_lr), unless the rate is already at min_lr."""
        optimizer = self.model.optimizer
        old = float(optimizer.learning_rate)
        if old <= np.float32(self.min_lr):
            return False
        new = max(old * self.factor, self.min_lr)
        optimizer.learning_rate = new
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
        return True
