"""compile, fit, evaluate and predict: the training loop, written to be read top to bottom.

One training step (`train_step`):
    y_pred = forward(x)                              every layer caches what backward needs
    loss, dL = loss(y, y_pred)                       from logits when the output is softmax/sigmoid
    backward(dL)                                     every weight gets its .grad
    optimizer.apply(weights)                         w -= ... in place
    update the running means of loss and metrics     with y_pred from BEFORE the update
Every step runs with denormal floats flushed to zero, as TensorFlow's kernels do
(minidl/denormals.py); callbacks run outside the steps, with NumPy's ordinary arithmetic.
"""
import math

import numpy as np

from minidl import activations, callbacks as callbacks_module, data, losses, metrics as metrics_module
from minidl import optimizers, rng
from minidl.denormals import flushing


class Trainer:
    """The Keras training API, mixed into Model."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_identifiers = []
        self._metrics = None  # resolved from the first data's shapes, as Keras does
        self._loss_tracker = metrics_module.Mean(name="loss")

    # -- compile ----------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Choose the optimizer, the loss and the metrics (strings or objects).

        Args:
            optimizer: "rmsprop" (default), "adam", "sgd", or an optimizer object.
            loss: e.g. "sparse_categorical_crossentropy", "mse", or a loss object.
            metrics: a list such as ["accuracy"] or ["mae"].
        """
        unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution"}
        if unsupported:
            raise TypeError(f"compile() got unexpected keyword arguments: {sorted(unsupported)}")
        optimizer = optimizers.get(optimizer)  # everything is resolved before anything is set
        loss = losses.get(loss) if loss is not None else None
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, metrics_module.Metric)):
            metrics = [metrics]
        elif not isinstance(metrics, (list, tuple)):
            raise ValueError(
                "Expected `metrics` argument to be a list or a single metric. "
                f"Received: metrics={metrics!r}"
            )
        for identifier in metrics:
            metrics_module.check_identifier(identifier)
        self.optimizer, self.loss = optimizer, loss
        self._metric_identifiers, self._metrics = list(metrics), None
        self.compiled = True

    def _check_compiled(self, method):
        if not self.compiled:
            raise RuntimeError(
                f"You must call `compile()` before calling `{method}()`: the model needs a "
                "loss and an optimizer, e.g. model.compile(optimizer='rmsprop', "
                "loss='sparse_categorical_crossentropy', metrics=['accuracy'])."
            )
        if self.loss is None:
            raise ValueError(
                f"No loss to compute: `{method}()` needs a loss. Pass one to `compile()`, "
                "e.g. model.compile(loss='mse')."
            )

    # -- data at the boundary ---------------------------------------------------------
    def _prepare_x(self, x, name="x"):
        x = data.prepare_x(x, self._input_dim(), name)
        if not self.built:
            self._check_can_build()
        return x

    def _check_can_build(self):
        if not self._compute_layers:
            raise ValueError("The model has no layers: add at least one before using it.")

    def _prepare_xy(self, x, y, names=("x", "y")):
        x = self._prepare_x(x, names[0])
        y = data.prepare_y(y, len(x), self.loss, self._output_dim(x.shape[1]), names[1])
        return x, y

    def _ensure_built(self, x):
        if not self.built:
            self.build((None, x.shape[1]))

    def _get_ready(self, x, y):
        """After every check has passed: build the model and resolve the metrics."""
        self._ensure_built(x)
        self._resolve_metrics(y, self.output_shape)

    def _resolve_metrics(self, y, y_pred_shape):
        """Turn metric strings into objects once, using the shapes of the labels and output."""
        if self._metrics is None:
            y_pred = np.empty((1,) + tuple(y_pred_shape[1:]))
            y_true = np.empty((1,) + y.shape[1:])
            self._metrics = [metrics_module.get(m, y_true, y_pred)
                             for m in self._metric_identifiers]

    @property
    def metrics(self):
        return [self._loss_tracker] + list(self._metrics or [])

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def _logs(self):
        """Running means as Python floats, keys sorted as Keras's logs are."""
        return {m.name: float(m.result()) for m in sorted(self.metrics, key=lambda m: m.name)}

    # -- one step -----------------------------------------------------------------------
    def _logits(self):
        """The last layer's pre-activation when its activation is sigmoid/softmax, else None."""
        last = self._compute_layers[-1]
        activation = getattr(last, "activation", None)
        if getattr(activation, "__name__", None) in activations.LOGIT_ACTIVATIONS:
            return last.logits
        return None

    def _forward_backward(self, x, y):
        """Forward pass, loss, backward pass: fills every weight's .grad. Returns loss, y_pred."""
        y_pred = self.forward(x, training=True)  # (N,C)
        logits = self._logits()
        loss, grad = self.loss.value_and_gradient(y, y_pred, logits=logits)
        uses_logits = logits is not None and self.loss.uses_logits
        self.backward(grad, from_logits=uses_logits)  # grad is dL/dz when uses_logits
        return loss, y_pred

    @flushing
    def train_step(self, x, y):
        """One optimizer step on one batch; returns the batch's pre-update loss."""
        loss, y_pred = self._forward_backward(x, y)
        self.optimizer.apply(self.trainable_weights)
        self._loss_tracker.update_state(loss, sample_weight=len(x))
        for metric in self._metrics:
            metric.update_state(y, y_pred)
        return loss

    @flushing
    def test_step(self, x, y):
        """Loss and metrics for one batch, no training."""
        y_pred = self.forward(x, training=False)
        loss, _ = self.loss.value_and_gradient(y, y_pred, logits=self._logits())
        self._loss_tracker.update_state(loss, sample_weight=len(x))
        for metric in self._metrics:
            metric.update_state(y, y_pred)
        return loss

    @flushing
    def loss_and_gradients(self, x, y):
        """The training loss `fit` minimises on this batch and its gradient for every weight.

        Returns:
            (loss, grads): a float and a list of arrays in `get_weights()` order.
        Nothing is updated: this is the seam for gradient checks and Keras comparisons.
        """
        self._check_compiled("loss_and_gradients")
        x, y = self._prepare_xy(x, y)
        self._ensure_built(x)
        loss, _ = self._forward_backward(x, y)
        return float(loss), [w.grad.copy() for w in self.trainable_weights]

    # -- fit ------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Train for `epochs` passes over (x, y) in mini-batches; returns a History.

        Args:
            x: inputs (N, D).  y: labels, (N,) or (N, C) as the loss expects.
            batch_size: rows per step (default 32); the last batch keeps the leftover rows.
            epochs: index of the final epoch (training runs epochs initial_epoch..epochs-1).
            verbose: "auto"/1 progress bar, 2 one line per epoch, 0 silent.
            callbacks: a list of minidl.callbacks.Callback.
            validation_split: fraction of the LAST rows held out (before shuffling).
            validation_data: (x_val, y_val), used instead of validation_split.
            shuffle: shuffle the training rows every epoch.
            initial_epoch: epoch to start at (for resuming).
        """
        self._check_compiled("fit")
        batch_size = data.check_batch_size(batch_size)
        epochs = data.check_non_negative_int("epochs", epochs)
        initial_epoch = data.check_non_negative_int("initial_epoch", initial_epoch)
        verbose_as_passed, verbose = verbose, data.check_verbose(verbose)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"Argument `shuffle` must be True or False. Received: shuffle={shuffle!r}")
        data.check_validation_split(validation_split)
        x, y = self._prepare_xy(x, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "Argument `validation_data` must be a tuple (x_val, y_val). "
                    f"Received: validation_data of type {type(validation_data).__name__}"
                )
            x_val, y_val = self._prepare_xy(*validation_data, names=("validation_data[0]",
                                                                     "validation_data[1]"))
        elif validation_split:
            (x, y), (x_val, y_val) = data.split_validation(x, y, validation_split)
        else:
            x_val = y_val = None

        # Everything is checked: from here on the model changes.
        self._get_ready(x, y)
        n, steps = len(x), math.ceil(len(x) / batch_size)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose_as_passed, epochs=epochs, steps=steps)
        self.stop_training = False
        callback_list.on_train_begin()
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            order = rng.generator().permutation(n) if shuffle else None
            for step, rows in enumerate(data.batches(n, batch_size, order)):
                callback_list.on_train_batch_begin(step)
                self.train_step(x[rows], y[rows])
                logs = self._logs()
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(logs)
            if x_val is not None:
                val_logs = self._test_loop(x_val, y_val, batch_size, callback_list)
                epoch_logs.update({"val_" + key: value for key, value in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callback_list.on_train_end(epoch_logs)
        return callback_list.history

    # -- evaluate and predict ---------------------------------------------------------
    def _test_loop(self, x, y, batch_size, callback_list):
        self.reset_metrics()
        callback_list.on_test_begin()
        logs = {}
        for step, rows in enumerate(data.batches(len(x), batch_size)):
            callback_list.on_test_batch_begin(step)
            self.test_step(x[rows], y[rows])
            logs = self._logs()
            callback_list.on_test_batch_end(step, logs)
        callback_list.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", callbacks=None,
                 return_dict=False):
        """Loss and metrics over (x, y): a float, [loss, *metrics], or a dict."""
        self._check_compiled("evaluate")
        batch_size = data.check_batch_size(batch_size)
        verbose = data.check_verbose(verbose)
        x, y = self._prepare_xy(x, y)
        self._get_ready(x, y)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
            steps=math.ceil(len(x) / batch_size))
        return self._results(self._test_loop(x, y, batch_size, callback_list), return_dict)

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's outputs for x, computed in batches: an (N, C) floatx array."""
        batch_size = data.check_batch_size(batch_size)
        verbose = data.check_verbose(verbose)
        x = self._prepare_x(x)
        self._ensure_built(x)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
            steps=math.ceil(len(x) / batch_size))
        callback_list.on_predict_begin()
        outputs = []
        for step, rows in enumerate(data.batches(len(x), batch_size)):
            callback_list.on_predict_batch_begin(step)
            outputs.append(self.predict_step(x[rows]))
            callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callback_list.on_predict_end()
        return np.concatenate(outputs)

    @flushing
    def predict_step(self, x):
        """The model's outputs for one batch."""
        return self.forward(x, training=False)

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on (x, y) as a single batch; returns its pre-update loss/metrics."""
        self._check_compiled("train_on_batch")
        x, y = self._prepare_xy(x, y)
        self._get_ready(x, y)
        self.reset_metrics()
        self.train_step(x, y)
        return self._results(self._logs(), return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss and metrics of (x, y) as a single batch."""
        self._check_compiled("test_on_batch")
        x, y = self._prepare_xy(x, y)
        self._get_ready(x, y)
        self.reset_metrics()
        self.test_step(x, y)
        return self._results(self._logs(), return_dict)

    def predict_on_batch(self, x):
        """The model's outputs for x as a single batch."""
        x = self._prepare_x(x)
        self._ensure_built(x)
        return self.predict_step(x)

    def _results(self, logs, return_dict):
        """Keras's return value: the logs dict, or [loss, *metrics in compile order], or the loss."""
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return values[0] if len(values) == 1 else values
