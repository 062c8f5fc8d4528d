"""Customizing what happens in fit(): a Model that overrides `train_step(self, data)`.

    class CustomModel(minidl.Model):
        def train_step(self, data):
            x, y = data
            with minidl.GradientTape() as tape:                  # tf.GradientTape in Keras
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

fit (training.py) looks once whether the model's class overrides train_step, test_step or
predict_step; only then does it hand each batch to them as Keras's `data` ((x, y),
(x, y, sample_weight) or x) and log the dict they return. Otherwise it runs its own step.

`compute_loss` is the compiled loss (head.py: the loss value and the seeds where backward
starts) plus `model.losses`, written on the tape as ONE op. Its backward, given
g = d target / d loss, hands out the seeds times g: dL/dy_pred to the outputs, dL/dz to the
logits of an output's sigmoid or softmax (Keras's TensorFlow backend differentiates from
`_keras_logits`), each penalty's gradient to its layer output or weight. With target = loss,
g = 1 and the gradients are those of fit's own step, bit for bit.
"""
import inspect
import warnings

import numpy as np

from minidl import regularizers, tree
from minidl.data_adapters import pack_x_y_sample_weight, unpack_x_y_sample_weight
from minidl.metrics import Metric
from minidl.ops import backprop
from minidl.tape import active_tape, flatten


# -- compute_loss: the compiled loss as one op on the tape --------------------------------------
class LossCall:
    """compute_loss on the tape. inputs: the arrays backward starts from (the outputs, or the
    layer outputs an activity penalty is on); `logit_inputs`: the positions whose seed is
    dL/dz for the logits of the layer that made them (tape.py hands those to its logits)."""

    name = "compute_loss"
    trainable_weights = ()

    def __init__(self, seeds, weight_grads, error=None):
        self.seeds = [seed[1] for seed in seeds]  # dL/d input (or dL/dz), one per input
        self.logit_inputs = {i for i, seed in enumerate(seeds) if seed[2:] == ("logits",)}
        self.weight_grads = weight_grads  # {Variable: d(weight penalty)/dw}
        self.error = error  # a loss minidl cannot differentiate (head.py says why)

    def backward(self, dy, cache, need_dx=True):
        """dx_i = seed_i * g;  dW = d penalty / dW * g   (g = dy = d target / d loss)."""
        if self.error is not None:
            raise self.error
        dx = [seed * dy for seed in self.seeds]
        grads = {w: grad * dy for w, grad in self.weight_grads.items()}
        return dx, grads


def on_tape(y_pred):
    """The tape recording in this thread, when y_pred was made on it; else None."""
    tape = active_tape()
    if tape is None or tape.producer(backprop.untracked(y_pred)) is None:
        return None
    return tape


def recorded_loss(loss, y_true, y_pred, sample_weight, tape):
    """A Loss object called on the tape's y_pred (`loss_fn(labels, predictions)` in a
    train_step): the mean as the compiled loss computes it (head.py, from the logits of a
    sigmoid or softmax output as Keras), recorded as one op."""
    from minidl import masks
    from minidl.head import Head
    y_pred = backprop.untracked(y_pred)
    y_true = np.asarray(backprop.untracked(y_true))
    if on_tape(y_true) is not None and y_true.shape == y_pred.shape \
            and y_true.dtype == y_pred.dtype:
        # a target made on the tape too (keras.io's Distiller: the teacher's predictions):
        # TensorFlow differentiates the loss through it as well, so the loss's NumPy
        # computation is recorded on the tape, both arguments tracked
        value, seed = Head(loss).loss_and_gradient_from_tape(y_true, y_pred, tape,
                                                              sample_weight, masks.mask_of(y_pred))
    else:
        value, seed = Head(loss).loss_and_gradient(y_true, y_pred, tape, sample_weight,
                                                   masks.mask_of(y_pred))
    return _record(tape, value, [seed], [])


class ValuesCall:
    """A loss function's per-sample values on the tape (`keras.losses.mean_squared_error(y,
    y_pred)`): d y_pred = d values_n / d y_pred_n * dy_n (or d values_n / dz_n, to the
    logits of the sigmoid or softmax that made y_pred)."""

    name = "loss_values"
    trainable_weights = ()

    def __init__(self, d_values, from_logits):
        self.d_values, self.logit_inputs = d_values, {0} if from_logits else set()

    def backward(self, dy, cache, need_dx=True):
        d = self.d_values  # (N, ...) ; dy: (N,) or one value
        return [d * dy.reshape(dy.shape + (1,) * (d.ndim - dy.ndim))], {}


def recorded_values(loss, y_true, y_pred, tape, same_rank=True):
    """A loss function's per-sample values for the tape's y_pred, recorded (ValuesCall).
    `same_rank` False: y_true as given, not matched to y_pred's rank (losses/__init__.py)."""
    from minidl.head import Head
    y_pred = backprop.untracked(y_pred)
    head = Head(loss)
    given = np.asarray(backprop.untracked(y_true))
    y_true, checked = loss.prepare(given, y_pred)
    if not same_rank:
        y_true = np.broadcast_to(given.astype(checked.dtype), np.shape(checked))
    z = head.logits(y_pred, tape)
    if z is not None:
        values, d_values = loss.values_and_gradient_from_logits(y_true, z)
    elif loss.from_logits:
        values, d_values = loss.values_and_gradient_from_logits(y_true, checked)
    else:
        values, d_values = loss.values_and_gradient(y_true, checked)
    values = np.array(values)  # an array of its own, for the tape
    tape.record(ValuesCall(d_values, z is not None), [y_pred], values, None)
    return backprop.tracked(values)


def compute_loss(model, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    """The compiled loss plus `model.losses` (add_loss, activity and weight penalties), as
    Keras's Trainer.compute_loss; differentiable on an open GradientTape.

    Formula:
        loss = sum_k loss_weight_k * loss_k(y_k, y_pred_k) + activity penalties + weight penalties
    """
    tape = active_tape()
    preds = [backprop.untracked(p) for p in tree.flatten(y_pred)]  # a dict by sorted key
    if model.compiled_loss is None:
        return _losses_only(model, tape)
    from minidl import training  # (training imports this module)
    names = training._output_names(model) if len(preds) == 1 else \
        (model.output_keys if model.outputs is not None else
         [f"output_{i}" for i in range(len(preds))])
    model.compiled_loss.build(names, training._outputs_dict(model))

    def per_output(value):  # a dict by the outputs' keys, a list by position
        if isinstance(value, dict):
            return [value.get(name) for name in names]
        return tree.flatten(value) if len(preds) > 1 else [value]

    ys = [None if t is None else _target(t, p) for t, p in zip(per_output(y), preds)]
    weights = None if sample_weight is None else [
        None if w is None else np.asarray(w, np.float32) for w in
        (per_output(sample_weight) if tree.is_nested(sample_weight) else
         [sample_weight] * len(preds))]
    loss, _, seeds = model.compiled_loss(ys, preds, tape, weights)
    if tape is None:
        return loss + _sum(model.losses, loss.dtype) if model.losses else loss
    weights = model.trainable_weights
    loss, seeds = training.add_penalties(weights, tape, loss, seeds)
    return _record(tape, loss, seeds, weights)


def _target(t, p):
    t = np.asarray(backprop.untracked(t))
    return t.astype(p.dtype) if t.dtype.kind == "f" else t


def _sum(values, dtype):
    total = np.asarray(0, dtype)
    for v in values:
        total = total + np.asarray(v, dtype)
    return total


def _losses_only(model, tape):
    """No compiled loss: the sum of `model.losses`, or Keras's error when there are none."""
    penalties = [] if tape is None else tape.penalties
    weights = model.trainable_weights
    terms = [v for v, _, _ in penalties] + regularizers.weight_penalties(weights)
    if not terms and not (tape is None and model.losses):
        raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
    if tape is None:
        return _sum(model.losses, np.float32)
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    return _record(tape, loss, [(o, g) for _, o, g in penalties], weights)


def _record(tape, loss, seeds, weights):
    """Write the loss on the tape as one LossCall; returns it (Tracked, so that the user's
    arithmetic on it is recorded too)."""
    error = next((s[2] for s in seeds if len(s) > 2 and isinstance(s[2], Exception)), None)
    weight_grads = {w: regularizers.gradient(w.regularizer, w.value)
                    for w in weights if w.regularizer is not None}
    value = np.array(loss, dtype=np.result_type(loss))  # a 0-d array of its own, for the tape
    tape.record(LossCall(seeds, weight_grads, error), [s[0] for s in seeds], value, None)
    return backprop.tracked(value)


# -- metrics ----------------------------------------------------------------------------------------
def model_metrics(model):
    """Keras's `model.metrics` order: the loss tracker, the compiled metrics (one object),
    each output's loss tracker, then the Metric objects assigned as attributes."""
    listed = [] if model.compiled_metrics is None else model.compiled_metrics.model_metrics()
    return listed + [m for m in attribute_metrics(model) if all(m is not seen for seen in listed)]


def attribute_metrics(model):
    """The Metric objects assigned as the model's attributes (`self.loss_tracker =
    metrics.Mean(name="loss")`), in assignment order."""
    return [value for name, value in vars(model).items()
            if isinstance(value, Metric) and not name.startswith("_")]


def compute_metrics(model, x, y, y_pred, sample_weight=None):
    """Update the compiled metrics with this batch; return `get_metrics_result()`."""
    if model.compiled_metrics is not None:
        model.compiled_metrics.update_state(y, y_pred, sample_weight)
    return get_metrics_result(model)


def get_metrics_result(model):
    """{name: result} of every metric in `model.metrics`; a dict result (the compiled
    metrics') is merged in at the top level, as Keras's."""
    logs = {}
    for metric in model.metrics:
        result = metric.result()
        if isinstance(result, dict):
            logs.update(result)
        else:
            logs[metric.name] = result
    return logs


def metrics_result_or_logs(model, logs):
    """The epoch's logs: `get_metrics_result()` when its keys are those of the last step's
    logs, else those logs, as Keras's Trainer._get_metrics_result_or_logs (so a key the
    step returned that names a metric in model.metrics shows that metric's result)."""
    results = pythonify_logs(get_metrics_result(model))
    return results if set(results) == set(logs) else dict(logs)


def pythonify_logs(logs, method="train_step"):
    """The logs a step returned as floats, nested dicts flattened, keys sorted (Keras's
    keras/src/utils/python_utils.py::pythonify_logs)."""
    if not isinstance(logs, dict):
        raise AttributeError(
            f"`{method}` must return a dict of logs, e.g. `{{m.name: m.result() for m in "
            f"self.metrics}}`; Keras fails here with: '{type(logs).__name__}' object has no "
            f"attribute 'items'. Received: {logs!r}")
    result = {}
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value, method))
        else:
            try:
                result[key] = float(np.asarray(value))
            except (TypeError, ValueError):
                result[key] = value
    return result


# -- the defaults of Model.train_step / test_step / predict_step ------------------------------------
def default_train_step(model, data):
    """minidl's own step (training.train_step) on `data`; returns the logs. Compiled without
    a loss, Keras's train_step: the loss is compute_loss's sum of `model.losses`."""
    from minidl import training
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    if model.compiled_loss is None or _overrides_compute_loss(model):
        return _train_step_on_losses(model, x, y, sample_weight)
    batch = training.prepare_data(model, x, y, sample_weight)
    training.get_ready(model, batch)
    training.train_step(model, batch, model.compiled_metrics)
    return get_metrics_result(model)


def _train_step_on_losses(model, x, y, sample_weight):
    """Keras's train_step (keras/src/backend/tensorflow/trainer.py) on the tape: the loss is
    model.compute_loss's (the add_loss terms and penalties of this call, with no compiled
    loss; or a compute_loss of the model's own, as keras.io's Distiller's)."""
    from minidl.gradient_tape import GradientTape
    scale_loss = getattr(model.optimizer, "scale_loss", None)  # a LossScaleOptimizer's
    with GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model_compute_loss(model, x, y, y_pred, sample_weight, training=True)
        scaled = loss if scale_loss is None else scale_loss(loss)  # as Keras's, on the tape
    weights = model.trainable_weights
    if weights:
        model.optimizer.apply(tape.gradient(scaled, weights), weights)
    else:
        warn_no_trainable_weights(model)
    model.compiled_metrics.loss_tracker.update_state(
        backprop.untracked(loss), sample_weight=len(flatten(x)[0]))
    return compute_metrics(model, x, y, y_pred, sample_weight)


def model_compute_loss(model, x, y, y_pred, sample_weight, training):
    """model.compute_loss, which the model may override; given `training` only if it takes
    it, as Keras's Trainer._compute_loss (the argument came in Keras 3.3)."""
    if "training" in inspect.signature(model.compute_loss).parameters:
        return model.compute_loss(x, y, y_pred, sample_weight, training=training)
    return model.compute_loss(x, y, y_pred, sample_weight)


def _overrides_compute_loss(model):
    from minidl.models import Model

    return type(model).compute_loss is not Model.compute_loss


def warn_no_trainable_weights(model):
    """Keras's warning for a training step with nothing to train, given while TensorFlow
    traces the step: once after each compile()."""
    if not getattr(model, "_warned_no_weights", False):
        model._warned_no_weights = True
        warnings.warn("The model does not have any trainable weights.", stacklevel=3)


def default_test_step(model, data):
    """Keras's test_step: the loss (into the loss tracker) and the compiled metrics."""
    from minidl.tape import Tape
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    with Tape():  # y_pred keeps its maker, so the loss can use the logits, as Keras's
        y_pred = model(x, training=False)
        loss = model_compute_loss(model, x, y, y_pred, sample_weight, training=False)
    if model.compiled_metrics is not None:
        model.compiled_metrics.loss_tracker.update_state(
            backprop.untracked(loss), sample_weight=len(flatten(x)[0]))
    return compute_metrics(model, x, y, y_pred, sample_weight)


def default_predict_step(model, data):
    x, _, _ = unpack_x_y_sample_weight(data)
    return model(x, training=False)


def batch_data(batch):
    """A Batch as Keras's `data`: x, (x, y) or (x, y, sample_weight), one entry per output
    as a list when there are several."""
    ys, ws = batch.ys, batch.weights
    y = None if ys is None else (ys[0] if len(ys) == 1 else list(ys))
    w = None if ws is None else (ws[0] if len(ws) == 1 else list(ws))
    return pack_x_y_sample_weight(batch.x, y, w)
