"""Train a minidl model and its Keras twin side by side, on exactly the same batches.

    run = lockstep_fit(model, x, y, epochs=3, batch_size=32, validation_split=0.2)
    run.max_abs_diff()       # {'accuracy': 0.0, 'loss': 5.9e-08, 'val_accuracy': 0.0, ...}

How the two runs are kept in step:
- Both start from the same weights: the Keras twin copies them (reference/twins.py), with a
  fresh optimizer of the same kind and settings.
- Keras shuffles with TensorFlow's generator, which NumPy cannot reproduce. So the shuffling
  is done here: each epoch draws one permutation from np.random.default_rng(seed), and both
  frameworks get the permuted rows with `fit(..., shuffle=False)`.
- The validation rows are split off here too, exactly as Keras does: the last
  floor(N * validation_split) rows, before any shuffling.
- One `fit` call per epoch (`epochs=e + 1, initial_epoch=e`). Both frameworks keep their
  optimizer state (slots, step count) from one fit call to the next.
- Dropout masks: minidl trains first and Keras's Dropout layers replay the masks it drew
  (reference/masks.py), since Keras's own come from a generator NumPy cannot reproduce.

`lockstep_steps` goes one level finer: `train_on_batch` in both, with the weights after
every step, for weight trajectories.
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np

import keras
from minidl import callbacks as md_callbacks
from minidl import data, training
from reference.masks import shared_noise
from reference.twins import keras_twin


@dataclass
class LockstepRun:
    """The two trained models and everything recorded while they trained.

    Histories map each key ("loss", "accuracy", "val_loss", ...) to one float per epoch.
    Step logs hold one dict per training step (see `StepRecorder`).
    `minidl_seconds` / `keras_seconds` are the wall time of each epoch's fit call, including
    the per-step recording; Keras's first epoch also includes tracing its training function
    into a TensorFlow graph.
    """

    minidl_model: object
    keras_model: object
    minidl_history: dict
    keras_history: dict
    minidl_step_logs: list
    keras_step_logs: list
    permutations: list  # row order of the training rows, one array per epoch
    minidl_seconds: list
    keras_seconds: list
    batch_size: int = 32
    n_train: int = 0
    n_val: int = 0

    @property
    def epochs(self):
        """Number of epochs both frameworks trained."""
        return len(self.minidl_seconds)

    def max_abs_diff(self):
        """For each history key, the largest |minidl - Keras| over the epochs."""
        keys = sorted(set(self.minidl_history) | set(self.keras_history))
        missing = [k for k in keys if k not in self.minidl_history or k not in self.keras_history]
        if missing:
            raise KeyError(
                f"History keys differ between the frameworks: {missing} appear in only one. "
                f"minidl: {sorted(self.minidl_history)}, Keras: {sorted(self.keras_history)}"
            )
        return {k: float(np.max(np.abs(np.subtract(self.minidl_history[k],
                                                   self.keras_history[k]))))
                for k in keys}


class StepRecorder:
    """Collects one record per training step from the logs of `on_train_batch_end`.

    The batch logs hold RUNNING means over the epoch so far, not the step's own values.
    Each record keeps those running means as logged ("loss", "accuracy", ...) and adds each
    step's own value ("step_loss", "step_accuracy", ...), derived from them:

        mean_s = (n_1*v_1 + ... + n_s*v_s) / (n_1 + ... + n_s)
        v_s    = (mean_s * seen_s - mean_{s-1} * seen_{s-1}) / n_s      seen_s = n_1 + ... + n_s

    The running means are kept exactly as logged. The derived values are not exact: each
    mean was rounded to float32, and the subtraction scales that rounding by seen_s / n_s,
    so a step's value is off by about step_number * 6e-8 * mean (a relative 1e-6 after 20
    steps). For exact per-step losses use `lockstep_steps`, which reads them from
    `train_on_batch`.
    """

    def __init__(self, batch_sizes):
        self.batch_sizes = batch_sizes  # rows in each step of one epoch
        self.records = []
        self.epoch = 0
        self._previous = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self._previous = epoch, {}

    def on_train_batch_end(self, step, logs=None):
        n = self.batch_sizes[step]
        seen = sum(self.batch_sizes[:step + 1])
        record = {"epoch": self.epoch, "step": step, "batch_size": n}
        for key, mean in sorted((logs or {}).items()):
            before = self._previous.get(key, 0.0) * (seen - n)
            record[key] = float(mean)
            record["step_" + key] = (float(mean) * seen - before) / n
        self._previous = {key: float(mean) for key, mean in (logs or {}).items()}
        self.records.append(record)

    def minidl_callback(self):
        """This recorder as a minidl callback."""
        return md_callbacks.LambdaCallback(on_epoch_begin=self.on_epoch_begin,
                                           on_train_batch_end=self.on_train_batch_end)

    def keras_callback(self):
        """This recorder as a Keras callback."""
        return keras.callbacks.LambdaCallback(on_epoch_begin=self.on_epoch_begin,
                                              on_train_batch_end=self.on_train_batch_end)


def _check_model(model, function):
    """A compiled, built minidl model whose optimizer has not taken a step yet."""
    if not getattr(model, "compiled", False):
        raise ValueError(
            f"`{function}` needs a compiled minidl model: call `model.compile(optimizer=..., "
            "loss=...)` first."
        )
    if not model.built:
        raise ValueError(
            f"`{function}` needs a built minidl model: give the first layer an `input_shape` "
            "or start the model with `minidl.Input(...)`."
        )
    if model.optimizer.iterations != 0:
        raise ValueError(
            f"`{function}` needs a model whose optimizer has not stepped yet, because the "
            "Keras twin starts with a fresh optimizer and the runs would differ from the "
            f"first step. Received: optimizer.iterations={model.optimizer.iterations}. "
            "Call `model.compile(...)` again to reset the optimizer."
        )


def _split(x, y, validation_split, validation_data):
    """(x_train, y_train), validation pair or None: validation_data wins, as in Keras."""
    x, y = np.asarray(x), np.asarray(y)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(
                "Argument `validation_data` must be a tuple (x_val, y_val). "
                f"Received: validation_data of type {type(validation_data).__name__}"
            )
        return (x, y), (np.asarray(validation_data[0]), np.asarray(validation_data[1]))
    data.check_validation_split(validation_split)
    if validation_split:
        train, val = data.split_validation(training.Batch([x], [y]), validation_split)
        return (train.xs[0], train.ys[0]), (val.xs[0], val.ys[0])
    return (x, y), None


def _batch_sizes(n, batch_size):
    """Rows in each step of an epoch: full batches, then the leftover rows."""
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def _timed_fit(model, x, y, epoch, callbacks, **kwargs):
    """One epoch of `model.fit` (either framework): (its logs as floats, seconds taken)."""
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                        verbose=0, callbacks=callbacks, **kwargs)
    seconds = time.perf_counter() - start
    return {key: float(values[-1]) for key, values in history.history.items()}, seconds


def lockstep_fit(model, x, y, *, batch_size=None, epochs=1, validation_split=0.0,
                 validation_data=None, shuffle=True, seed=0, callbacks=None,
                 keras_callbacks=None):
    """Train `model` (in place) and a fresh Keras twin on identical batches; returns a LockstepRun.

    Args:
        model: a compiled, built minidl model whose optimizer has not stepped yet.
        x, y: training data, as for `fit`.
        batch_size: rows per step (default 32); the last batch keeps the leftover rows.
        epochs: number of epochs.
        validation_split: fraction of the LAST rows held out, before shuffling.
        validation_data: (x_val, y_val), used instead of validation_split.
        shuffle: draw a new row order every epoch from np.random.default_rng(seed).
        seed: seed of that generator.
        callbacks: minidl callbacks, given to every epoch's fit call.
        keras_callbacks: Keras callbacks, given to every epoch's fit call.

    Each epoch is its own fit call, so callbacks see on_train_begin/on_train_end once per
    epoch. If a callback stops training in either framework, both stop after that epoch.
    """
    _check_model(model, "lockstep_fit")
    batch_size = data.check_batch_size(batch_size)
    epochs = data.check_non_negative_int("epochs", epochs)
    (x_train, y_train), validation = _split(x, y, validation_split, validation_data)
    twin = keras_twin(model)
    n = len(x_train)
    sizes = _batch_sizes(n, batch_size)
    minidl_steps, keras_steps = StepRecorder(sizes), StepRecorder(sizes)
    run = LockstepRun(minidl_model=model, keras_model=twin, minidl_history={}, keras_history={},
                      minidl_step_logs=minidl_steps.records, keras_step_logs=keras_steps.records,
                      permutations=[], minidl_seconds=[], keras_seconds=[],
                      batch_size=batch_size, n_train=n,
                      n_val=0 if validation is None else len(validation[0]))
    fit_kwargs = dict(batch_size=batch_size, validation_data=validation)
    rng = np.random.default_rng(seed)
    with shared_noise(model, twin):  # Keras's Dropout layers replay minidl's masks
        for epoch in range(epochs):
            order = rng.permutation(n) if shuffle else np.arange(n)  # (N,)
            run.permutations.append(order)
            x_epoch, y_epoch = x_train[order], y_train[order]
            minidl_logs, minidl_seconds = _timed_fit(  # minidl first: it draws the masks
                model, x_epoch, y_epoch, epoch,
                [minidl_steps.minidl_callback()] + list(callbacks or []), **fit_kwargs)
            keras_logs, keras_seconds = _timed_fit(
                twin, x_epoch, y_epoch, epoch,
                [keras_steps.keras_callback()] + list(keras_callbacks or []), **fit_kwargs)
            for history, logs in ((run.minidl_history, minidl_logs),
                                  (run.keras_history, keras_logs)):
                for key, value in logs.items():
                    history.setdefault(key, []).append(value)
            run.minidl_seconds.append(minidl_seconds)
            run.keras_seconds.append(keras_seconds)
            if model.stop_training or twin.stop_training:
                break
    return run


@dataclass
class LockstepSteps:
    """Per-step results of `lockstep_steps`.

    `*_logs[k]` is step k's own loss and metrics, computed before its update (what
    `train_on_batch` returns). `*_weights[k]` is the weight list after k steps, so
    `*_weights[0]` holds the shared initial weights and there are steps + 1 entries.
    """

    minidl_logs: list = field(default_factory=list)
    keras_logs: list = field(default_factory=list)
    minidl_weights: list = field(default_factory=list)
    keras_weights: list = field(default_factory=list)

    @property
    def minidl_losses(self):
        return [logs["loss"] for logs in self.minidl_logs]

    @property
    def keras_losses(self):
        return [logs["loss"] for logs in self.keras_logs]

    def max_weight_diff(self):
        """After each step (and before the first), the largest |minidl - Keras| over all weights."""
        return [max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs))
                for ours, theirs in zip(self.minidl_weights, self.keras_weights)]


def lockstep_steps(model, x, y, batch_size=32, steps=10, *, shuffle=False, seed=0):
    """`steps` calls of `train_on_batch` in `model` (in place) and a fresh Keras twin.

    The batches are consecutive rows of x, starting over when the rows run out (with a new
    permutation from np.random.default_rng(seed) each pass when shuffle=True), so
    steps = ceil(N / batch_size) is one epoch of `fit(..., shuffle=False)`.
    Returns a LockstepSteps with both frameworks' per-step logs and weights.
    """
    _check_model(model, "lockstep_steps")
    batch_size = data.check_batch_size(batch_size)
    steps = data.check_non_negative_int("steps", steps)
    x, y = np.asarray(x), np.asarray(y)
    twin = keras_twin(model)
    result = LockstepSteps(minidl_weights=[model.get_weights()],
                           keras_weights=[twin.get_weights()])
    rng = np.random.default_rng(seed)
    per_pass = math.ceil(len(x) / batch_size)
    with shared_noise(model, twin):  # Keras's Dropout layers replay minidl's masks
        for step in range(steps):
            if step % per_pass == 0:
                order = rng.permutation(len(x)) if shuffle else np.arange(len(x))  # (N,)
            start = (step % per_pass) * batch_size
            rows = order[start:start + batch_size]
            minidl_logs = model.train_on_batch(x[rows], y[rows], return_dict=True)  # first
            keras_logs = twin.train_on_batch(x[rows], y[rows], return_dict=True)
            result.minidl_logs.append(minidl_logs)
            result.keras_logs.append({key: float(value) for key, value in keras_logs.items()})
            result.minidl_weights.append(model.get_weights())
            result.keras_weights.append(twin.get_weights())
    return result
