"""compile, fit, evaluate and predict: the training loop, written to be read top to bottom.

compile() is in compile_utils.py. One training step (`train_step`):
    with Tape() as tape:
        y_pred = model(x, training=True)             every layer call is recorded
    loss, seeds = compiled_loss(y, y_pred, tape)     the output head: dL/dy_pred, or dL/dz
    grads = tape.gradient(seeds, weights)            backward through the recorded calls
    optimizer.apply(grads, weights)                  w -= ... in place
    update the running means of loss and metrics     with y_pred from BEFORE the update

A model whose class overrides train_step (test_step, predict_step) has fit (evaluate,
predict) run its own instead, as Keras's guide "Customizing what happens in fit()": see
custom_step.py and gradient_tape.py.

Everything here goes through the model's public interface (calling it, its weights, its
compiled loss and metrics, its optimizer), so any model, Sequential, functional or
subclassed, trains the same way. Every step runs with denormal floats flushed to zero, as
TensorFlow's kernels do (denormals.py), and holds Ctrl-C until it is complete
(interrupts.py): the model is never left half a step ahead.
"""
import math
import warnings

import numpy as np

from minidl import (callbacks as callbacks_module, custom_step, data, data_adapters,
                    regularizers, threads, tree)
from minidl.denormals import flushed
from minidl.interrupts import deferred_interrupt
from minidl.tape import Tape


def check_compiled(model, method, needs_loss=True):
    if not model.compiled:
        raise RuntimeError(
            f"You must call `compile()` before calling `{method}()`: the model needs a loss "
            "and an optimizer, e.g. model.compile(optimizer='rmsprop', "
            "loss='sparse_categorical_crossentropy', metrics=['accuracy'])."
        )
    if needs_loss and model.compiled_loss is None:
        raise ValueError(f"No loss to compute: `{method}()` needs a loss. Pass one to "
                         "`compile()`, e.g. model.compile(loss='mse').")


# -- data at the boundary -------------------------------------------------------------------
class Batch:
    """The arrays of one batch: inputs, targets and sample weights, as lists.

    `keys`: a model with a dict of inputs takes x as a dict with these keys.
    """

    def __init__(self, xs, ys=None, weights=None, single_input=True, keys=None):
        self.xs, self.ys, self.weights, self.single_input = xs, ys, weights, single_input
        self.keys = keys

    def __len__(self):
        return len(self.xs[0])

    @property
    def x(self):
        """The inputs as the model takes them: one array, a list of them, or a dict."""
        if self.keys is not None:
            return dict(zip(self.keys, self.xs))
        return self.xs[0] if self.single_input else self.xs

    def rows(self, rows):
        pick = (lambda arrays: None if arrays is None else
                [None if a is None else a[rows] for a in arrays])
        return Batch(pick(self.xs), pick(self.ys), pick(self.weights), self.single_input,
                     self.keys)


def _as_list(value, names, what):
    """One array, a list of arrays, or a dict keyed by name -> a list."""
    if isinstance(value, dict) and what == "input":
        for name in names:  # Keras's InputSpec check (keras/src/layers/input_spec.py)
            if name not in value:
                raise ValueError(f'Missing data for input "{name}". You passed a data '
                                 f"dictionary with keys {list(value.keys())}. Expected the "
                                 f"following keys: {names}")
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
    keys = model.input_keys if model.inputs is not None else None
    if model.inputs is not None and len(model.inputs) == 1 and isinstance(shapes, list):
        shapes = shapes[0]  # Model([x_in], ...) or Model({"a": x_in}, ...): one input
        x = _as_list(x, keys, "input")[0] if isinstance(x, dict) else (
            x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x)
    if model.inputs is not None and len(model.inputs) > 1:
        if isinstance(x, dict) and isinstance(model._inputs_struct, dict):
            model._by_key(x)  # Keras's errors for a key missing or one too many
        xs = _as_list(x, keys, "input")
        names = [f"{name}[{n!r}]" for n in model.input_names]
        raw = ([t.node.layer for t in model._graph.inputs] if model._graph is not None
               else [None] * len(xs))
        xs = [_as_input_takes_it(data.prepare_x(a, s, nm, model.takes_raw_inputs if
                                                layer is None else layer.takes_raw_inputs),
                                 layer) for a, s, nm, layer in zip(xs, shapes, names, raw)]
        _check_cardinality(xs, names)
        return Batch(xs, single_input=False, keys=keys if isinstance(
            model._inputs_struct, dict) else None)
    if model.inputs is None and _several_arrays(x):  # a subclassed model's
        # `call(self, inputs): wide, deep = inputs`, given `fit((x_wide, x_deep), y)`
        shapes = shapes if isinstance(shapes, list) and len(shapes) == len(x) else [None] * len(x)
        names = [f"{name}[{i}]" for i in range(len(x))]
        xs = [data.prepare_x(a, s, nm, model.takes_raw_inputs)
              for a, s, nm in zip(x, shapes, names)]
        _check_cardinality(xs, names)
        return Batch(xs, single_input=False)
    if model.layers == [] and model.__dict__.get("_layers") == []:
        raise ValueError("The model has no layers: add at least one before using it.")
    first = model._graph.inputs[0].node.layer if getattr(model, "_graph", None) else None
    return Batch([_as_input_takes_it(data.prepare_x(x, shapes, name, model.takes_raw_inputs),
                                     first)])


def _several_arrays(x):
    """True for a list or tuple of arrays (a model's several inputs), not for nested lists of
    numbers (one array written as lists)."""
    return (isinstance(x, (list, tuple)) and len(x) > 1
            and all(isinstance(a, np.ndarray) and a.ndim >= 1 for a in x))


def _check_cardinality(xs, names):
    n = len(xs[0])
    for a, name in zip(xs, names):
        if len(a) != n:
            raise ValueError("Data cardinality is ambiguous: every input must have the same "
                             f"number of samples. Received: {name} has {len(a)}, the first "
                             f"input has {n}.")


def _as_input_takes_it(x, input_layer):
    """Ids for an Input of an integer dtype in that dtype (Keras converts the data to each
    Input's dtype): 2.0 -> 2 for an IntegerLookup or Embedding; anything else as it is."""
    dtype = getattr(input_layer, "dtype", None)
    if dtype is None or dtype == "string" or np.dtype(dtype).kind not in "biu" \
            or x.dtype.kind not in "biuf":
        return x
    return x.astype(dtype, copy=False)


def prepare_data(model, x, y, sample_weight=None, class_weight=None, names=("x", "y")):
    """x and y checked against the model and its losses, plus one weight per sample."""
    batch = prepare_inputs(model, x, names[0])
    n = len(batch)
    output_names = _output_names(model)
    heads = _heads(model, output_names)
    if isinstance(sample_weight, dict):
        sample_weight = _weights_by_key(sample_weight, y, output_names)
    ys = _targets(y, output_names, heads, _outputs_dict(model))
    shapes = _expected_output_shapes(model, batch, len(ys))
    label_names = [names[1]] if len(ys) == 1 else [f"{names[1]}[{i}]" for i in range(len(ys))]
    batch.ys = [None if t is None else data.prepare_y(t, n, None if h is None else h.loss, s, nm)
                for t, h, s, nm in zip(ys, heads, shapes, label_names)]
    batch.weights = data.sample_weights(sample_weight, class_weight, batch.ys, n, len(ys))
    return batch


def customized(model, steps=("train_step", "test_step", "compute_loss", "compute_metrics",
                                "metrics")):
    """Whether the model's class overrides one of Model's `steps` (a custom train_step...):
    then fit and evaluate hand each batch to model.train_step / test_step (custom_step.py)."""
    from minidl.models import Model
    kind = type(model)
    return any(getattr(kind, name) is not getattr(Model, name) for name in steps)


def runs_model_steps(model):
    """Whether fit and evaluate hand each batch to model.train_step / test_step: a model of
    its own steps, or one compiled without a loss, whose loss is then the sum of
    `model.losses` (add_loss), as Keras's compute_loss (custom_step.default_train_step)."""
    return customized(model) or (model.compiled and model.compiled_loss is None)


def prepare_custom(model, x, y=None, sample_weight=None, class_weight=None, names=("x", "y")):
    """The data of a custom train_step: as prepare_data when the model has a loss for y;
    else x checked, and y and sample_weight as floatx arrays, as Keras's data adapters."""
    if model.compiled_loss is not None and y is not None:
        return prepare_data(model, x, y, sample_weight, class_weight, names)
    batch = prepare_inputs(model, x, names[0])
    batch.ys = None if y is None else _floatx_arrays(y)
    if batch.ys is not None:  # class_weight becomes sample weights, loss or not (Keras)
        batch.weights = data.sample_weights(sample_weight, class_weight, batch.ys, len(batch),
                                            len(batch.ys))
    else:
        batch.weights = None if sample_weight is None else _floatx_arrays(sample_weight)
    return batch


def _floatx_arrays(value):
    """One array or a list of them -> a list of arrays, the float ones as floatx."""
    arrays = [np.asarray(a) for a in (value if isinstance(value, (list, tuple)) else [value])]
    return [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]


def _targets(y, output_names, heads, outputs_dict=None):
    """y as a list with one entry per output, None for an output with no loss left out of y.

    As Keras's CompileLoss: targets may be given for the outputs that have a loss only (a
    dict without the others' keys, or a list or single array with one entry per loss).
    """
    lossed = [name for name, head in zip(output_names, heads) if head is not None]
    if outputs_dict is not None and isinstance(y, dict) and (
            not set(y) <= set(output_names) or not set(lossed) <= set(y)):
        raise ValueError(  # Keras's CompileLoss.call
            "y_true and y_pred have different structures.\n"
            f"y_true: {tree.map_structure(lambda _: '*', y)}\n"
            f"y_pred: {tree.map_structure(lambda _: '*', outputs_dict)}\n")
    if len(output_names) > 1 and 0 < len(lossed) < len(output_names):
        if isinstance(y, dict) and set(lossed) <= set(y):
            y = {name: y.get(name) for name in output_names}
        elif not isinstance(y, dict):
            given = list(y) if isinstance(y, (list, tuple)) else [y]
            if len(given) == len(lossed):
                given = iter(given)
                y = [None if head is None else next(given) for head in heads]
    return _as_list(y, output_names, "output")


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
    """What compile's dicts, y and the History call each output (Model.output_keys)."""
    if model.outputs is None:
        return ["output"]
    outputs = getattr(model, "_outputs_struct", None)
    if tree.is_nested(outputs) and any(tree.is_nested(o) for _, o in tree._children(outputs)):
        raise ValueError(  # Keras names their losses by path ("1/cls_loss"): not written
            "minidl trains a model whose `outputs` are one tensor, or a flat list, tuple or "
            "dict of them; call and predict keep a nested structure, but fit, evaluate and "
            "the *_on_batch methods do not take one. Received: outputs="
            f"{tree.map_structure(lambda _: 'X', outputs)}")
    return model.output_keys


def _outputs_dict(model):
    """A model's dict of outputs as it was given them (its key order), else None."""
    outputs = getattr(model, "_outputs_struct", None) if model.outputs is not None else None
    return outputs if isinstance(outputs, dict) else None


def _weights_by_key(sample_weight, y, output_names):
    """A dict of sample weights as a list in output order: the same keys as y's, as
    Keras's ArrayDataAdapter asks (None for an output left out of both)."""
    if not isinstance(y, dict) or set(y) != set(sample_weight):
        raise ValueError("You should provide one `sample_weight` array per output in `y`. "
                         f"The two structures did not match:\n- y: {y}\n"
                         f"- sample_weight: {sample_weight}\n")
    return [sample_weight.get(name) for name in output_names]


def _heads(model, output_names):
    model.compiled_loss.build(output_names, _outputs_dict(model))
    return model.compiled_loss.heads


def _output_shape(model, batch, batch_size, unknown_batch_size=False):
    """Build the model if needed (on the first batch, as Keras) and return its output shapes.

    fit and evaluate build it as Keras's do, on a batch of unknown size: each layer built
    here records None as its batch size (summary() shows (None, 10)); called on data
    (model(x), predict, train_on_batch), a layer records the data's batch size.
    """
    if not model.built or model.output_shape is None:
        built_before = {id(layer) for layer in all_layers(model) if layer.built}
        kept = {key: state.numpy() for key, state in _stateful_states(model).items()}
        with flushed():
            model(batch.rows(slice(0, batch_size)).x)  # builds every layer from the data
        for key, state in _stateful_states(model).items():  # Keras builds symbolically: a
            state.assign(kept.get(key, 0))  # stateful RNN's states take no step here
        if unknown_batch_size:
            for layer in all_layers(model):
                if id(layer) not in built_before:
                    _forget_batch_size(layer)
    shape = model.output_shape
    return shape if isinstance(shape, list) else [shape]


def all_layers(layer):
    """The layer and every layer inside it, at any depth (a Sequential's input layer too)."""
    yield layer
    for sublayer in getattr(layer, "_layers", None) or layer.layers:
        yield from all_layers(sublayer)


def _stateful_states(model):
    """{id: Variable} of the states every stateful recurrent layer keeps (recurrent.py)."""
    from minidl.layers.recurrent import RNN  # (the layers import training's helpers)

    return {id(state): state for layer in all_layers(model)
            if isinstance(layer, RNN) and layer.stateful and layer.states
            for state in layer.states}


def _forget_batch_size(layer):
    """The shapes a layer recorded on its first call, with None as their batch size."""
    def unknown(shape):
        if isinstance(shape, list):
            return [unknown(s) for s in shape]
        return shape if not shape else (None,) + tuple(shape[1:])

    for name in ("input_shape", "output_shape", "batch_shape"):
        if vars(layer).get(name) is not None:  # recorded on the layer (not a property)
            setattr(layer, name, unknown(vars(layer)[name]))
    for node in layer._inbound_nodes:  # the symbolic tensors of a Sequential's build
        for tensor in node.output_tensors:
            tensor.shape = unknown(tensor.shape)


def get_ready(model, batch, batch_size=None, unknown_batch_size=False):
    """After every check has passed: build the model and resolve the metrics."""
    shapes = _output_shape(model, batch, batch_size or len(batch), unknown_batch_size)
    names = _output_names(model)
    _heads(model, names)
    model.compiled_metrics.build(names, model.compiled_loss.tracked_outputs, batch.ys, shapes,
                                 _outputs_dict(model), model.outputs and model.output_names)


# -- one step ----------------------------------------------------------------------------------
def forward_and_loss(model, batch, training, keep_gradients=False, weights=None):
    """Forward pass under a tape, and the loss: (loss, output losses, y_pred, seeds, tape).

    The loss is the compiled loss plus every penalty (regularizers), as Keras's compute_loss.
    `weights` are the model's trainable weights, when the caller has them already.
    """
    with Tape(keep_gradients) as tape:
        y_pred = model(batch.x, training=training)
    many = len(batch.ys) > 1 or isinstance(y_pred, dict)
    preds = tree.flatten(y_pred) if many else [y_pred]  # a dict's in sorted-key order
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
    the loss, and `grads[i]`, the gradient for `weights[i]` (None for a weight the loss does
    not reach)."""

    def __init__(self, loss, output_losses, preds, seeds, tape, weights, grads):
        self.loss, self.output_losses, self.preds = loss, output_losses, preds
        self.seeds, self.tape, self.weights, self.grads = seeds, tape, weights, grads


def compute_gradients(model, batch, keep_gradients=False, scale_loss=None):
    """The training loss on one batch and its gradient for every trainable weight: a Step.

    A weight the loss does not reach (the head of an output with no loss, a layer whose
    output is unused) gets None, as in tf.GradientTape; a weight with a regularizer is
    always reached (the penalty depends on it).
    `scale_loss` (a LossScaleOptimizer's): the gradients are those of scale_loss(loss), as
    Keras's train step differentiates; scale_loss is linear, so it scales the seeds. The
    Step's loss is the unscaled one, as Keras's logs.
    """
    weights = model.trainable_weights
    loss, output_losses, preds, seeds, tape = forward_and_loss(model, batch, True,
                                                               keep_gradients, weights)
    if scale_loss is not None:
        seeds = [(seed[0], scale_loss(seed[1]), *seed[2:]) for seed in seeds]
    grads = tape.gradient(seeds, weights, unconnected_gradients="none")
    for i, w in enumerate(weights):  # d(weight penalty)/dw
        if w.regularizer is not None:
            penalty = regularizers.gradient(w.regularizer, w.value)  # same shape as w
            penalty = penalty if scale_loss is None else scale_loss(penalty)
            grads[i] = penalty if grads[i] is None else grads[i] + penalty
    return Step(loss, output_losses, preds, seeds, tape, weights, grads)


def train_step(model, batch, metrics, keep_gradients=False):
    """One optimizer step on one batch, all or nothing; returns the Step (its loss is pre-update).

    Weights with no gradient are left out of the update (`reached`): no step, no weight
    decay, their optimizer slots untouched, as Keras's optimizer.
    """
    with deferred_interrupt(), flushed():
        scale_loss = getattr(model.optimizer, "scale_loss", None)  # a LossScaleOptimizer's
        if scale_loss is None:
            step = compute_gradients(model, batch, keep_gradients)
        else:  # an overflow is how it finds too large a scale (it halves it): no warning
            with np.errstate(over="ignore", invalid="ignore"):
                step = compute_gradients(model, batch, keep_gradients, scale_loss)
        if not step.weights:
            custom_step.warn_no_trainable_weights(model)
        weights, grads = reached(model, step.weights, step.grads, len(batch))
        if not model.optimizer.built:  # slots for every trainable weight, as Keras's fit
            model.optimizer.build(step.weights)
        model.optimizer.apply(grads, weights)
        metrics.update(len(batch), step.loss, step.output_losses, batch.ys, step.preds,
                       batch.weights)
    return step


def reached(model, weights, grads, batch_size):
    """The weights that have a gradient, and their gradients (Keras's optimizer drops the
    others: keras/src/optimizers/base_optimizer.py::_filter_empty_gradients).

    Keras warns while TensorFlow traces its train step: at the first step of each batch size
    after compile(), twice when that trace also creates the optimizer's slots (TensorFlow
    traces a function again after its first trace made variables), else once.
    """
    if all(g is not None for g in grads):
        return weights, grads  # the usual case: one look per weight, no copies
    missing = [w.path for w, g in zip(weights, grads) if g is None]
    if len(missing) == len(weights):
        raise ValueError("No gradients provided for any variable.")
    traced = model.compiled_loss.traced_batch_sizes
    if batch_size not in traced:
        traced.add(batch_size)
        for _ in range(1 if model.optimizer.built else 2):
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. "
                "If using `model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=2)
    return ([w for w, g in zip(weights, grads) if g is not None],
            [g for g in grads if g is not None])


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
    """(loss, grads) of `fit`'s loss on (x, y) as one batch; nothing is updated.

    grads is aligned with model.trainable_weights, with zeros for a weight the loss does not
    reach (fit leaves such a weight out of the update altogether).
    """
    check_compiled(model, "loss_and_gradients")
    batch = prepare_data(model, x, y, sample_weight)
    get_ready(model, batch)
    with flushed():
        step = compute_gradients(model, batch)
    return float(step.loss), [np.zeros_like(w.value) if g is None else g
                              for w, g in zip(step.weights, step.grads)]


# -- fit --------------------------------------------------------------------------------------
def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_batch_size=None, validation_freq=1):
    """Train for `epochs` passes over (x, y) in mini-batches; returns a History.

    Args:
        x: inputs (N, ...), or a list/dict of them for several inputs; or a PyDataset or a
            Python generator yielding (x, y) or (x, y, sample_weight) batches (then no y).
        y: labels, (N,) or (N, C) as the loss expects; a list/dict for several outputs.
        batch_size: rows per step (default 32); the last batch keeps the leftover rows.
        epochs: index of the final epoch (training runs epochs initial_epoch..epochs-1).
        verbose: "auto"/1 progress bar, 2 one line per epoch, 0 silent.
        callbacks: a list of minidl.callbacks.Callback.
        validation_split: fraction of the LAST rows held out (before shuffling).
        validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), or a PyDataset
            or generator.
        shuffle: shuffle the training rows (a PyDataset's batch order) every epoch.
        class_weight: {class: weight}, to weight samples by their label.
        sample_weight: one weight per training sample.
        initial_epoch: epoch to start at (for resuming).
        steps_per_epoch: batches per epoch (default: one pass over the data); see
            data_adapters.py for what happens when it does not match the data.
        validation_steps: batches per validation (default: all of validation_data).
        validation_batch_size: rows per validation step (default: batch_size).
        validation_freq: validate every n-th epoch (an int), or after the epochs listed
            (1-based, as Keras counts them for this argument).
    """
    custom = runs_model_steps(model)  # a train_step of the model's own (or Keras's): fit runs it
    check_compiled(model, "fit", needs_loss=False)
    prepare = prepare_custom if custom else prepare_data
    if batch_size is not None:
        data.check_batch_size(batch_size)
    epochs = data.check_non_negative_int("epochs", epochs)
    initial_epoch = data.check_non_negative_int("initial_epoch", initial_epoch)
    verbose_as_passed, verbose = verbose, data.check_verbose(verbose)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"Argument `shuffle` must be True or False. Received: shuffle={shuffle!r}")
    data.check_validation_split(validation_split)
    steps_per_epoch = _check_steps("steps_per_epoch", steps_per_epoch)
    validation_steps = _check_steps("validation_steps", validation_steps)
    validation_batch_size = validation_batch_size and data.check_batch_size(
        validation_batch_size, "validation_batch_size")
    _check_validation_freq(validation_freq)
    if data_adapters.is_dataset(x):
        if validation_split and validation_data is None:
            raise ValueError("Argument `validation_split` is only supported for tensors or "
                             f"NumPy arrays.Found incompatible type in the input: {[type(x)]}")
        train = data_adapters.adapter(x, y, sample_weight, class_weight, shuffle,
                                      _preparer(model, class_weight, prepare=prepare))
        val = None
    else:
        batch = prepare(model, x, y, sample_weight, class_weight)
        val = None
        if validation_data is None and validation_split:
            batch, val = data.split_validation(batch, validation_split)
            if class_weight is not None:
                val.weights = None  # as Keras: class weights weigh the training batches only
        train = data_adapters.ArrayAdapter(batch, _batch_size(batch_size, batch,
                                                              steps_per_epoch), shuffle)
    if validation_data is not None and not data_adapters.is_dataset(validation_data):
        val = _validation_batch(model, validation_data, prepare)  # checked before training
    elif validation_data is not None:
        val = validation_data  # a PyDataset or generator: read from the first validation on
    validation = None if val is None else _Validation(
        model, val, validation_batch_size or batch_size, validation_steps, validation_freq,
        prepare)

    # Everything that can be checked before training is: from here on the model changes.
    train = data_adapters.EpochIterator(train, steps_per_epoch)
    first = train.adapter.first()
    if not custom or (model.compiled_loss is not None and first.ys is not None):
        get_ready(model, first, getattr(train.adapter, "batch_size", None),
                  unknown_batch_size=True)
    train.reset()
    callback_list = callbacks_module.CallbackList(
        callbacks, add_history=True, add_progbar=verbose != 0, model=model,
        verbose=verbose_as_passed, epochs=epochs, steps=train.num_batches)
    with threads.working():  # BLAS threads and minidl's helper thread: see threads.py
        return _train(model, train, validation, initial_epoch, epochs, callback_list, custom)


def _preparer(model, class_weight=None, inputs_only=False, prepare=prepare_data):
    """prepare(x, y, sample_weight) -> a checked Batch, for the batches of a dataset."""
    if inputs_only:
        return lambda x, y=None, sample_weight=None: prepare_inputs(model, x)
    return lambda x, y, sample_weight: prepare(model, x, y, sample_weight, class_weight)


def _batch_size(batch_size, batch, steps):
    """Rows per batch: as given; else, with a number of steps, enough rows to cover the data
    in that many (Keras's ArrayDataAdapter); else 32."""
    if batch_size is None and steps:
        return math.ceil(len(batch) / steps)
    return data.check_batch_size(batch_size)


def _check_steps(name, steps):
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
                              or steps <= 0):
        raise ValueError(f"Argument `{name}` must be a positive integer or None. "
                         f"Received: {name}={steps!r}")
    return None if steps is None else int(steps)


class _Validation:
    """The validation data, how it is batched, and after which epochs it is evaluated."""

    def __init__(self, model, source, batch_size, steps, freq, prepare=prepare_data):
        self.model, self.source, self.batch_size, self.steps = model, source, batch_size, steps
        self.freq, self.prepare = freq, prepare
        self._iterator = None

    def after(self, epoch):
        """Whether to validate after `epoch` (0-based), as Keras's Trainer._should_eval."""
        if isinstance(self.freq, int):
            return (epoch + 1) % self.freq == 0
        return epoch + 1 in self.freq

    def iterator(self):
        """Made at the first validation and kept, as Keras's (a generator is read from then)."""
        if self._iterator is None:
            if isinstance(self.source, Batch):
                adapter = data_adapters.ArrayAdapter(
                    self.source, _batch_size(self.batch_size, self.source, self.steps))
            else:
                adapter = data_adapters.adapter(self.source, None, None, None, False,
                                                _preparer(self.model, prepare=self.prepare))
            self._iterator = data_adapters.EpochIterator(adapter, self.steps)
        return self._iterator


def _check_validation_freq(validation_freq):
    if not isinstance(validation_freq, (int, list)):
        raise ValueError(
            "Expected `validation_freq` to be a list or int. "
            f"Received: validation_freq={validation_freq} of the "
            f"type {type(validation_freq)}.")


def _train(model, train, validation, initial_epoch, epochs, callback_list, custom=False):
    """The loop: epochs of batches, each one train_step, then validation; returns History.

    `custom`: the model's own train_step (and test_step) make the logs, as Keras's fit runs
    them, with every metric in `model.metrics` reset at each epoch's start.
    """
    metrics = model.compiled_metrics
    val_metrics = metrics.fresh()  # validation keeps its running means apart from training's
    model.stop_training = False
    callback_list.on_train_begin()
    initial_epoch = getattr(model, "_initial_epoch", None) or initial_epoch  # BackupAndRestore
    logs, epoch_logs = {}, {}
    for epoch in range(initial_epoch, epochs):
        if custom:
            model.reset_metrics()  # every metric in model.metrics, as Keras's fit
        else:
            _reset(model, metrics)
        callback_list.on_epoch_begin(epoch)
        logs = _steps(model, "train", train.epoch(), callback_list, metrics, custom, logs)
        if train.ran_out:  # a generator stopped: Keras's step that found no batch still
            model.optimizer.iterations += 1  # counts (TensorFlow's graph), as Adam will see
        epoch_logs = custom_step.metrics_result_or_logs(model, logs) if custom else dict(logs)
        if validation is not None and validation.after(epoch):
            val_logs = _test_loop(model, validation.iterator(), callback_list, val_metrics,
                                  custom)
            epoch_logs.update({"val_" + key: value for key, value in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end(epoch_logs)
    return callback_list.history


def run_custom_step(step, batch, name):
    """A model's own train_step or test_step on one batch, as one step (all or nothing,
    denormals flushed, as fit's): its logs as floats."""
    with deferred_interrupt(), flushed():
        return custom_step.pythonify_logs(step(custom_step.batch_data(batch)), name)


def _validation_batch(model, validation_data, prepare=prepare_data):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "Argument `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
            "sample_weight_val), a PyDataset or a generator. Received: validation_data of "
            f"type {type(validation_data).__name__}"
            + (f" with {len(validation_data)} elements" if isinstance(
                validation_data, (tuple, list)) else "")
        )
    weights = validation_data[2] if len(validation_data) == 3 else None
    return prepare(model, validation_data[0], validation_data[1], weights,
                   names=("validation_data[0]", "validation_data[1]"))


def _check_unused(kwargs, method):
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword arguments: {sorted(kwargs)}")


# -- evaluate and predict ------------------------------------------------------------------------
def _steps(model, phase, batches, callback_list, metrics, custom, logs):
    """One pass of `phase` ("train" or "test") steps over `batches`, (step, batch) pairs; the
    logs after the last batch (`logs` as given if there was none). fit stops after the batch
    in which a callback set model.stop_training.

    The batch hooks run, and the per-batch logs they are given are made, only when a callback
    does something there; otherwise the logs are made once, after the last batch.
    """
    begin, end = f"on_{phase}_batch_begin", f"on_{phase}_batch_end"
    batch_begin, batch_end = callback_list.uses(begin), custom or callback_list.uses(end)
    stepped = False
    for step, batch in batches:
        stepped = True
        if batch_begin:
            getattr(callback_list, begin)(step)
        if custom:  # the model's own train_step/test_step returns the logs
            logs = run_custom_step(getattr(model, f"{phase}_step"), batch, f"{phase}_step")
        else:
            (train_step if phase == "train" else test_step)(model, batch, metrics)
        if batch_end:
            logs = logs if custom else _logs(model, metrics)
            getattr(callback_list, end)(step, logs)
        if phase == "train" and model.stop_training:
            break
    if stepped and not batch_end:
        logs = _logs(model, metrics)  # the last batch's, as the hooks would have had them
    return logs


def _logs(model, metrics):
    """The compiled metrics' running means, and the results of the Metrics the model holds as
    attributes (a Mean its call() updates, as Geron's ReconstructingRegressor's): Keras's
    logs are every metric in model.metrics."""
    logs, held = metrics.logs(), custom_step.attribute_metrics(model)
    if not held:
        return logs
    logs.update({metric.name: float(np.asarray(metric.result())) for metric in held})
    return dict(sorted(logs.items()))


def _reset(model, metrics):
    """Every metric in model.metrics back to zero, as Keras's fit at each epoch's start and
    evaluate at its own: the compiled ones, and the model's attribute Metrics."""
    metrics.reset()
    for metric in custom_step.attribute_metrics(model):
        metric.reset_state()


def _test_loop(model, iterator, callback_list, metrics, custom=False):
    """One pass of `iterator` (an EpochIterator) through test_step: the logs. `custom`: the
    model's test_step, on `model.metrics` (reset first), as Keras's evaluate."""
    iterator.reset()
    if custom:
        model.reset_metrics()
    else:
        _reset(model, metrics)
    callback_list.on_test_begin()
    logs = _steps(model, "test", iterator.epoch(), callback_list, metrics, custom, {})
    if custom:
        logs = custom_step.metrics_result_or_logs(model, logs)
    callback_list.on_test_end(logs)
    return logs


def _iterator(model, x, y, sample_weight, batch_size, steps, inputs_only=False,
              prepare=prepare_data):
    """evaluate's and predict's data, checked: an EpochIterator and its first batch."""
    if data_adapters.is_dataset(x):
        adapter = data_adapters.adapter(x, y, sample_weight, None, False,
                                        _preparer(model, inputs_only=inputs_only,
                                                  prepare=prepare))
    else:
        batch = prepare_inputs(model, x) if inputs_only else prepare(model, x, y,
                                                                       sample_weight)
        adapter = data_adapters.ArrayAdapter(batch, _batch_size(batch_size, batch, steps))
    return data_adapters.EpochIterator(adapter, steps), adapter.first()


def evaluate(model, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
             steps=None, callbacks=None, return_dict=False, **kwargs):
    """Loss and metrics over (x, y) (or a PyDataset or generator, for `steps` batches if
    given): a float, [loss, *metrics], or a dict.

    It keeps its running means apart from fit's, so an evaluate in another thread cannot
    change what a running fit reports.
    """
    custom = runs_model_steps(model)
    check_compiled(model, "evaluate", needs_loss=False)
    _check_unused(kwargs, "evaluate")
    verbose = data.check_verbose(verbose)
    steps = _check_steps("steps", steps)
    iterator, first = _iterator(model, x, y, sample_weight, batch_size, steps,
                                prepare=prepare_custom if custom else prepare_data)
    if not custom or (model.compiled_loss is not None and first.ys is not None):
        get_ready(model, first, getattr(iterator.adapter, "batch_size", None),
                  unknown_batch_size=True)
    metrics = model.compiled_metrics.fresh()
    callback_list = callbacks_module.CallbackList(
        callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
        steps=iterator.num_batches)
    with threads.working():
        logs = _test_loop(model, iterator, callback_list, metrics, custom)
    if custom and not return_dict:
        return _custom_results(model, logs)
    return _results(logs, metrics, return_dict)


def _custom_results(model, logs):
    """evaluate's list for a custom test_step: Keras's order (the names of model.metrics,
    a compiled metrics object's own metrics in its place), then the other keys sorted."""
    names = []
    for metric in model.metrics:
        inner = getattr(metric, "compiled", None)
        names += [m.name for m in inner] if inner is not None else [metric.name]
    first = [name for name in dict.fromkeys(names) if name in logs]
    values = [logs[name] for name in first + sorted(k for k in logs if k not in first)]
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """The model's outputs for x (or a PyDataset or generator, for `steps` batches if given),
    computed in batches: an (N, ...) floatx array (or a list)."""
    verbose = data.check_verbose(verbose)
    steps = _check_steps("steps", steps)
    iterator, _ = _iterator(model, x, None, None, batch_size, steps, inputs_only=True)
    callback_list = callbacks_module.CallbackList(
        callbacks, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=1,
        steps=iterator.num_batches)
    callback_list.on_predict_begin()
    outputs = []
    custom = customized(model, ("predict_step",))
    with threads.working():
        for step, batch in iterator.epoch():
            callback_list.on_predict_batch_begin(step)
            if custom:  # the model's own, given Keras's data: x, or (list of inputs,)
                with flushed():
                    outputs.append(model.predict_step(
                        data_adapters.pack_x_y_sample_weight(batch.x)))
            else:
                outputs.append(predict_step(model, batch.x))
            callback_list.on_predict_batch_end(step, {"outputs": outputs[-1]})
    callback_list.on_predict_end()
    if tree.is_nested(outputs[0]):  # a list, tuple or dict of outputs: the same structure
        parts = zip(*(tree.flatten(batch_outputs) for batch_outputs in outputs))
        return tree.pack_sequence_as(outputs[0], [np.concatenate(part) for part in parts])
    return np.concatenate(outputs)


def train_on_batch(model, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """One optimizer step on (x, y) as a single batch; returns its pre-update loss/metrics."""
    if runs_model_steps(model):
        return _custom_on_batch(model, "train_step", x, y, sample_weight, class_weight,
                                return_dict)
    check_compiled(model, "train_on_batch")
    batch = prepare_data(model, x, y, sample_weight, class_weight)
    get_ready(model, batch)
    model.compiled_metrics.reset()
    train_step(model, batch, model.compiled_metrics)
    return _results(model.compiled_metrics.logs(), model.compiled_metrics, return_dict)


def test_on_batch(model, x, y=None, sample_weight=None, return_dict=False):
    """Loss and metrics of (x, y) as a single batch."""
    if runs_model_steps(model):
        return _custom_on_batch(model, "test_step", x, y, sample_weight, None, return_dict)
    check_compiled(model, "test_on_batch")
    batch = prepare_data(model, x, y, sample_weight)
    get_ready(model, batch)
    metrics = model.compiled_metrics.fresh()
    test_step(model, batch, metrics)
    return _results(metrics.logs(), metrics, return_dict)


def predict_on_batch(model, x):
    """The model's outputs for x as a single batch."""
    if customized(model, ("predict_step",)):
        with flushed():
            return model.predict_step(
                data_adapters.pack_x_y_sample_weight(prepare_inputs(model, x).x))
    return predict_step(model, prepare_inputs(model, x).x)


def _custom_on_batch(model, step, x, y, sample_weight, class_weight, return_dict):
    """train_on_batch / test_on_batch of a model with its own steps, as Keras's: every
    metric reset, one step, its logs (a dict, or a list in Keras's order)."""
    check_compiled(model, step.replace("_step", "_on_batch"), needs_loss=False)
    batch = prepare_custom(model, x, y, sample_weight, class_weight)
    if model.compiled_loss is not None and batch.ys is not None:
        get_ready(model, batch)
    model.reset_metrics()
    logs = run_custom_step(getattr(model, step), batch, step)
    return logs if return_dict else _custom_results(model, logs)


def _results(logs, metrics, return_dict):
    """Keras's return value: the logs dict, or [loss, *metrics in compile order], or the loss."""
    if return_dict:
        return logs
    values = [logs[name] for name in metrics.ordered_names(logs)]
    return values[0] if len(values) == 1 else values
