"""compile, fit, evaluate and predict: the training loop, written to be read top to bottom.

compile() is in compile_utils.py. One training step (`train_step`):
    with Tape() as tape:
        y_pred = model(x, training=True)             every layer call is recorded
    loss, seeds = compiled_loss(y, y_pred, tape)     the output head: dL/dy_pred, or dL/dz
    grads = tape.gradient(seeds, weights)            backward through the recorded calls
    optimizer.apply(grads, weights)                  w -= ... in place
    update the running means of loss and metrics     with y_pred from BEFORE the update

Everything here goes through the model's public interface (calling it, its weights, its
compiled loss and metrics, its optimizer), so any model, Sequential, functional or
subclassed, trains the same way. Every step runs with denormal floats flushed to zero, as
TensorFlow's kernels do (denormals.py), and holds Ctrl-C until it is complete
(interrupts.py): the model is never left half a step ahead.
"""
import math

import numpy as np

from minidl import callbacks as callbacks_module, data, regularizers, rng, threads
from minidl.denormals import flushed
from minidl.interrupts import deferred_interrupt
from minidl.tape import Tape, flatten


def check_compiled(model, method):
    if not model.compiled:
        raise RuntimeError(
            f"You must call `compile()` before calling `{method}()`: the model needs a loss "
            "and an optimizer, e.g. model.compile(optimizer='rmsprop', "
            "loss='sparse_categorical_crossentropy', metrics=['accuracy'])."
        )
    if model.compiled_loss is None:
        raise ValueError(f"No loss to compute: `{method}()` needs a loss. Pass one to "
                         "`compile()`, e.g. model.compile(loss='mse').")


# -- data at the boundary -------------------------------------------------------------------
class Batch:
    """The arrays of one batch: inputs, targets and sample weights, as lists."""

    def __init__(self, xs, ys=None, weights=None, single_input=True):
        self.xs, self.ys, self.weights, self.single_input = xs, ys, weights, single_input

    def __len__(self):
        return len(self.xs[0])

    @property
    def x(self):
        """The inputs as the model takes them: one array, or a list of them."""
        return self.xs[0] if self.single_input else self.xs

    def rows(self, rows):
        pick = (lambda arrays: None if arrays is None else
                [None if a is None else a[rows] for a in arrays])
        return Batch(pick(self.xs), pick(self.ys), pick(self.weights), self.single_input)


def _as_list(value, names, what):
    """One array, a list of arrays, or a dict keyed by name -> a list."""
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(f"Missing data for {what} {missing} in the dict passed. "
                             f"Expected keys: {names}. Received keys: {sorted(value)}")
        return [value[n] for n in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(f"The model has {len(names)} {what}s ({names}), but the data "
                             f"has {len(value)} arrays.")
        return list(value)
    return [value]


def prepare_inputs(model, x, name="x"):
    """x checked and cast against the model's input shape(s): a Batch without targets."""
    shapes = model.input_shape
    if model.inputs is not None and len(model.inputs) > 1:
        xs = _as_list(x, model.input_names, "input")
        names = [f"{name}[{n!r}]" for n in model.input_names]
        xs = [data.prepare_x(a, s, nm, model.takes_raw_inputs)
              for a, s, nm in zip(xs, shapes, names)]
        n = len(xs[0])
        for a, nm in zip(xs, names):
            if len(a) != n:
                raise ValueError("Data cardinality is ambiguous: every input must have the "
                                 f"same number of samples. Received: {nm} has {len(a)}, "
                                 f"the first input has {n}.")
        return Batch(xs, single_input=False)
    if model.layers == [] and model.__dict__.get("_layers") == []:
        raise ValueError("The model has no layers: add at least one before using it.")
    return Batch([data.prepare_x(x, shapes, name, model.takes_raw_inputs)])


def prepare_data(model, x, y, sample_weight=None, class_weight=None, names=("x", "y")):
    """x and y checked against the model and its losses, plus one weight per sample."""
    batch = prepare_inputs(model, x, names[0])
    n = len(batch)
    output_names = _output_names(model)
    ys = _as_list(y, output_names, "output")
    heads = _heads(model, output_names)
    shapes = _expected_output_shapes(model, batch, len(ys))
    label_names = [names[1]] if len(ys) == 1 else [f"{names[1]}[{i}]" for i in range(len(ys))]
    batch.ys = [data.prepare_y(t, n, None if h is None else h.loss, s, nm)
                for t, h, s, nm in zip(ys, heads, shapes, label_names)]
    batch.weights = data.sample_weights(sample_weight, class_weight, batch.ys, n, len(ys))
    return batch


def _expected_output_shapes(model, batch, outputs):
    """The output shapes the model will have for this data (None where not known yet)."""
    shape = model.output_shape
    if shape is None and not model.built:
        from minidl.models import Sequential
        if isinstance(model, Sequential):  # a stack's shapes follow from the data's
            shape = model.compute_output_shape((None,) + batch.xs[0].shape[1:])
    if shape is None:
        return [None] * outputs
    return shape if isinstance(shape, list) else [shape]


def _output_names(model):
    if model.outputs is not None:
        return model.output_names
    return ["output"]


def _heads(model, output_names):
    model.compiled_loss.build(output_names)
    return model.compiled_loss.heads


def _output_shape(model, batch, batch_size):
    """Build the model if needed (on the first batch, as Keras) and return its output shapes."""
    if not model.built or model.output_shape is None:
        with flushed():
            model(batch.rows(slice(0, batch_size)).x)  # builds every layer from the data
    shape = model.output_shape
    return shape if isinstance(shape, list) else [shape]


def get_ready(model, batch, batch_size=None):
    """After every check has passed: build the model and resolve the metrics."""
    shapes = _output_shape(model, batch, batch_size or len(batch))
    names = _output_names(model)
    _heads(model, names)
    model.compiled_metrics.build(names, model.compiled_loss.tracked_outputs, batch.ys, shapes)


# -- one step ----------------------------------------------------------------------------------
def forward_and_loss(model, batch, training, keep_gradients=False, weights=None):
    """Forward pass under a tape, and the loss: (loss, output losses, y_pred, seeds, tape).

    The loss is the compiled loss plus every penalty (regularizers), as Keras's compute_loss.
    `weights` are the model's trainable weights, when the caller has them already.
    """
    with Tape(keep_gradients) as tape:
        y_pred = model(batch.x, training=training)
    preds = flatten(y_pred) if len(batch.ys) > 1 else [y_pred]
    loss, output_losses, seeds = model.compiled_loss(batch.ys, preds, tape, batch.weights)
    weights = model.trainable_weights if weights is None else weights
    loss, seeds = add_penalties(weights, tape, loss, seeds)
    return loss, output_losses, preds, seeds, tape


def add_penalties(weights, tape, loss, seeds):
    """Loss + activity penalties (each seeds backward at its layer's output) + the penalties
    on `weights` (the trainable ones).

    The weight penalties' own gradients are added in `compute_gradients`.
    """
    terms = [value for value, _, _ in tape.penalties]
    terms += regularizers.weight_penalties(weights)
    for term in terms:
        loss = loss + term
    return loss, seeds + [(output, grad) for _, output, grad in tape.penalties]


class Step:
    """What one forward and backward pass computed (the tape keeps every layer's cache):
    the loss, and `grads[i]`, the gradient for `weights[i]`."""

    def __init__(self, loss, output_losses, preds, seeds, tape, weights, grads):
        self.loss, self.output_losses, self.preds = loss, output_losses, preds
        self.seeds, self.tape, self.weights, self.grads = seeds, tape, weights, grads


def compute_gradients(model, batch, keep_gradients=False):
    """The training loss on one batch and its gradient for every trainable weight: a Step."""
    weights = model.trainable_weights
    loss, output_losses, preds, seeds, tape = forward_and_loss(model, batch, True,
                                                               keep_gradients, weights)
    grads = tape.gradient(seeds, weights)
    grads = [g if w.regularizer is None else g + w.regularizer.gradient(w.value)
             for w, g in zip(weights, grads)]  # d(weight penalty)/dw
    return Step(loss, output_losses, preds, seeds, tape, weights, grads)


def train_step(model, batch, metrics, keep_gradients=False):
    """One optimizer step on one batch, all or nothing; returns the Step (its loss is pre-update)."""
    with deferred_interrupt(), flushed():
        step = compute_gradients(model, batch, keep_gradients)
        model.optimizer.apply(step.grads, step.weights)
        metrics.update(len(batch), step.loss, step.output_losses, batch.ys, step.preds,
                       batch.weights)
    return step


def test_step(model, batch, metrics):
    """Loss and metrics for one batch, no training."""
    with flushed():
        loss, output_losses, preds, _, _ = forward_and_loss(model, batch, training=False)
        metrics.update(len(batch), loss, output_losses, batch.ys, preds, batch.weights)
    return loss


def predict_step(model, x):
    """The model's outputs for one batch."""
    with flushed():
        return model(x, training=False)


def loss_and_gradients(model, x, y, sample_weight=None):
    """(loss, grads) of `fit`'s loss on (x, y) as one batch; nothing is updated."""
    check_compiled(model, "loss_and_gradients")
    batch = prepare_data(model, x, y, sample_weight)
    get_ready(model, batch)
    with flushed():
        step = compute_gradients(model, batch)
    return float(step.loss), step.grads


# -- fit --------------------------------------------------------------------------------------
def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, validation_batch_size=None, validation_freq=1,
        **kwargs):
    """Train for `epochs` passes over (x, y) in mini-batches; returns a History.

    Args:
        x: inputs (N, ...), or a list/dict of them for several inputs.
        y: labels, (N,) or (N, C) as the loss expects; a list/dict for several outputs.
        batch_size: rows per step (default 32); the last batch keeps the leftover rows.
        epochs: index of the final epoch (training runs epochs initial_epoch..epochs-1).
        verbose: "auto"/1 progress bar, 2 one line per epoch, 0 silent.
        callbacks: a list of minidl.callbacks.Callback.
        validation_split: fraction of the LAST rows held out (before shuffling).
        validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val).
        shuffle: shuffle the training rows every epoch.
        class_weight: {class: weight}, to weight samples by their label.
        sample_weight: one weight per training sample.
        initial_epoch: epoch to start at (for resuming).
        validation_batch_size: rows per validation step (default: batch_size).
        validation_freq: validate every n-th epoch (an int), or after the epochs listed
            (1-based, as Keras counts them for this argument).
    """
    check_compiled(model, "fit")
    _check_unused(kwargs, "fit")
    batch_size = data.check_batch_size(batch_size)
    epochs = data.check_non_negative_int("epochs", epochs)
    initial_epoch = data.check_non_negative_int("initial_epoch", initial_epoch)
    verbose_as_passed, verbose = verbose, data.check_verbose(verbose)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"Argument `shuffle` must be True or False. Received: shuffle={shuffle!r}")
    data.check_validation_split(validation_split)
    validation_batch_size = validation_batch_size and data.check_batch_size(
        validation_batch_size, "validation_batch_size")
    _check_validation_freq(validation_freq)
    train = prepare_data(model, x, y, sample_weight, class_weight)
    if validation_data is not None:
        val = _validation_batch(model, validation_data)
    elif validation_split:
        train, val = data.split_validation(train, validation_split)
        if class_weight is not None:
            val.weights = None  # as Keras: class weights weigh the training batches only
    else:
        val = None

    # Everything is checked: from here on the model changes.
    get_ready(model, train, batch_size)
    callback_list = callbacks_module.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=model,
        verbose=verbose_as_passed, epochs=epochs, steps=math.ceil(len(train) / batch_size))
    validation = None if val is None else _Validation(val, validation_batch_size or batch_size,
                                                       validation_freq)
    with threads.working():  # BLAS threads and minidl's helper thread: see threads.py
        return _train(model, train, validation, batch_size, initial_epoch, epochs, shuffle,
                      callback_list)


class _Validation:
    """The validation rows, the batch size they are evaluated in, and after which epochs."""

    def __init__(self, batch, batch_size, freq):
        self.batch, self.batch_size, self.freq = batch, batch_size, freq

    def after(self, epoch):
        """Whether to validate after `epoch` (0-based), as Keras's Trainer._should_eval."""
        if isinstance(self.freq, int):
            return (epoch + 1) % self.freq == 0
        return epoch + 1 in self.freq


def _check_validation_freq(validation_freq):
    if not isinstance(validation_freq, (int, list)):
        raise ValueError(
            "Expected `validation_freq` to be a list or int. "
            f"Received: validation_freq={validation_freq} of the "
            f"type {type(validation_freq)}.")


def _train(model, train, validation, batch_size, initial_epoch, epochs, shuffle,
           callback_list):
    """The loop: epochs of batches, each one train_step, then validation; returns History."""
    metrics = model.compiled_metrics
    val_metrics = metrics.fresh()  # validation keeps its running means apart from training's
    model.stop_training = False
    callback_list.on_train_begin()
    initial_epoch = getattr(model, "_initial_epoch", None) or initial_epoch  # BackupAndRestore
    epoch_logs = {}
    for epoch in range(initial_epoch, epochs):
        metrics.reset()
        callback_list.on_epoch_begin(epoch)
        order = rng.generator().permutation(len(train)) if shuffle else None
        for step, rows in enumerate(data.batches(len(train), batch_size, order)):
            callback_list.on_train_batch_begin(step)
            train_step(model, train.rows(rows), metrics)
            logs = metrics.logs()
            callback_list.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        epoch_logs = dict(logs)
        if validation is not None and validation.after(epoch):
            val_logs = _test_loop(model, validation.batch, validation.batch_size,
                                  callback_list, val_metrics)
            epoch_logs.update({"val_" + key: value for key, value in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end(epoch_logs)
    return callback_list.history


def _validation_batch(model, validation_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "Argument `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
            f"sample_weight_val). Received: validation_data of type "
            f"{type(validation_data).__name__}"
            + (f" with {len(validation_data)} elements" if isinstance(
                validation_data, (tuple, list)) else "")
        )
    weights = validation_data[2] if len(validation_data) == 3 else None
    return prepare_data(model, validation_data[0], validation_data[1], weights,
                        names=("validation_data[0]", "validation_data[1]"))


def _check_unused(kwargs, method):
    allowed = {"steps_per_epoch", "validation_steps", "steps"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword arguments: {sorted(unknown)}")
    unsupported = {k: v for k, v in kwargs.items() if v not in (None, 1)}
    if unsupported:
        raise ValueError(f"minidl's {method}() does not support {sorted(unsupported)} "
                         "(arrays only, one pass over them per epoch).")


# -- evaluate and predict ------------------------------------------------------------------------
def _test_loop(model, batch, batch_size, callback_list, metrics):
    metrics.reset()
    callback_list.on_test_begin()
    logs = {}
    for step, rows in enumerate(data.batches(len(batch), batch_size)):
        callback_list.on_test_batch_begin(step)
        test_step(model, batch.rows(rows), metrics)
        logs = metrics.logs()
        callback_list.on_test_batch_end(step, logs)
    callback_list.on_test_end(logs)
    return logs


def evaluate(model, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
             callbacks=None, return_dict=False, **kwargs):
    """Loss and metrics over (x, y): a float, [loss, *metrics], or a dict.

    It keeps its running means apart from fit's, so an evaluate in another thread cannot
    change what a running fit reports.
    """
    check_compiled(model, "evaluate")
    _check_unused(kwargs, "evaluate")
    batch_size = data.check_batch_size(batch_size)
    verbose = data.check_verbose(verbose)
    batch = prepare_data(model, x, y, sample_weight)
    get_ready(model, batch, batch_size)
    metrics = model.compiled_metrics.fresh()
    callback_list = callbacks_module.CallbackList(
        callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
        steps=math.ceil(len(batch) / batch_size))
    with threads.working():
        logs = _test_loop(model, batch, batch_size, callback_list, metrics)
    return _results(logs, metrics, return_dict)


def predict(model, x, batch_size=None, verbose="auto", callbacks=None, **kwargs):
    """The model's outputs for x, computed in batches: an (N, ...) floatx array (or a list)."""
    _check_unused(kwargs, "predict")
    batch_size = data.check_batch_size(batch_size)
    verbose = data.check_verbose(verbose)
    batch = prepare_inputs(model, x)
    callback_list = callbacks_module.CallbackList(
        callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
        steps=math.ceil(len(batch) / batch_size))
    callback_list.on_predict_begin()
    outputs = []
    with threads.working():
        for step, rows in enumerate(data.batches(len(batch), batch_size)):
            callback_list.on_predict_batch_begin(step)
            outputs.append(predict_step(model, batch.rows(rows).x))
            callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
    callback_list.on_predict_end()
    if isinstance(outputs[0], (list, tuple)):
        return [np.concatenate(parts) for parts in zip(*outputs)]
    return np.concatenate(outputs)


def train_on_batch(model, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """One optimizer step on (x, y) as a single batch; returns its pre-update loss/metrics."""
    check_compiled(model, "train_on_batch")
    batch = prepare_data(model, x, y, sample_weight, class_weight)
    get_ready(model, batch)
    model.compiled_metrics.reset()
    train_step(model, batch, model.compiled_metrics)
    return _results(model.compiled_metrics.logs(), model.compiled_metrics, return_dict)


def test_on_batch(model, x, y=None, sample_weight=None, return_dict=False):
    """Loss and metrics of (x, y) as a single batch."""
    check_compiled(model, "test_on_batch")
    batch = prepare_data(model, x, y, sample_weight)
    get_ready(model, batch)
    metrics = model.compiled_metrics.fresh()
    test_step(model, batch, metrics)
    return _results(metrics.logs(), metrics, return_dict)


def predict_on_batch(model, x):
    """The model's outputs for x as a single batch."""
    return predict_step(model, prepare_inputs(model, x).x)


def _results(logs, metrics, return_dict):
    """Keras's return value: the logs dict, or [loss, *metrics in compile order], or the loss."""
    if return_dict:
        return logs
    values = [logs[name] for name in metrics.ordered_names(logs)]
    return values[0] if len(values) == 1 else values
