"""What `compile()` sets up: the training loss over every output, and the metrics to track.

As keras/src/trainers/compile_utils.py: `CompileLoss` pairs each model output with its loss
(one output head each, see head.py), weights and adds them; `CompileMetrics` resolves the
metric names ("accuracy", "mae", ...) once the shapes of the labels and outputs are known,
and keeps the running means that fit's logs show.

With several outputs (named after the layers that make them, e.g. "cls" and "reg"):
    loss="mse"                        the same loss for every output
    loss=["bce", "mse"] or {"cls": "bce", "reg": "mse"}     one per output (None: no loss)
    loss_weights=[2.0, 0.5]           total = 2.0 * cls loss + 0.5 * reg loss
    metrics=[["accuracy"], ["mae"]] or {"cls": "accuracy"}  per output, logged "cls_accuracy"
and fit logs each output's own loss as "cls_loss", "reg_loss" when there are several.

A model with a dict of outputs, Model(inputs, {"price": reg, "kind": cls}), goes by its keys
(keras/src/trainers/compile_utils.py): loss={"price": "mse"} (an output left out has no
loss), metrics={"kind": ["accuracy"]}, y={"price": ..., "kind": ...}, logged "kind_accuracy",
"price_loss". Lists go by the outputs' order, which is the keys' sorted order.
"""
import copy
import warnings
import weakref

import numpy as np

from minidl import losses as losses_module, masks, metrics as metrics_module, optimizers, tree
from minidl.head import Head
from minidl.tape import Tape, flatten

_KERAS_STYLE = object()  # CompileLoss called without a tape: a train_step of one's own


def _by_output(value, output_names, what):
    """A loss (or loss weight) given once, per output in a list, or by name in a dict."""
    if isinstance(value, dict):
        if set(value) != set(output_names):
            raise ValueError(f"Expected keys {output_names} in {what} dict, but found "
                             f"{what}.keys()={list(value)}")
        return [value[name] for name in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(output_names):
            raise ValueError(
                f"`{what}` must have one entry per output of the model {output_names}: "
                f"expected {len(output_names)} entries. Received: {what}={list(value)!r}")
        return list(value)
    return [value] * len(output_names)


def _by_key(loss, loss_weights, keys, outputs_dict):
    """The loss and weight of each output of a dict of outputs, and the order in which Keras
    keeps their losses (keras/src/trainers/compile_utils.py::CompileLoss.build).

    keys: the outputs' keys in output (sorted) order; outputs_dict: the model's dict of
    outputs. A loss dict names some of the keys (the others get no loss) in its own order;
    one loss, or a list in output order, serves the outputs in the outputs dict's order.
    """
    if isinstance(loss, dict):
        for key, value in loss.items():
            if value is not None and key not in keys:
                raise KeyError(f"The path: {(key,)} in the `loss` argument, can't be found in "
                               "either the model's output (`y_pred`) or in the labels "
                               "(`y_true`).")
        given, order = [loss.get(key) for key in keys], [key for key in loss if key in keys]
    else:
        given, order = _by_output(loss, keys, "loss"), list(outputs_dict)
    weights = [None] * len(keys)
    if loss_weights is not None:
        same = (isinstance(loss, dict) and isinstance(loss_weights, dict)
                and set(loss) == set(loss_weights)) or not (tree.is_nested(loss) or
                                                            tree.is_nested(loss_weights))
        flat_losses, flat_weights = tree.flatten(loss), tree.flatten(loss_weights)
        if not same and len(flat_losses) != len(flat_weights):
            raise ValueError(f"`loss_weights` must match the number of losses, got "
                             f"{len(flat_losses)} losses and {len(flat_weights)} weights.")
        if isinstance(loss, dict):  # the weights go with the loss dict's keys
            by_key = loss_weights if same else dict(zip(sorted(loss), flat_weights))
            weights = [by_key.get(key) for key in keys]
        else:
            weights = flat_weights * len(keys) if len(flat_weights) == 1 else flat_weights
    return given, weights, [keys.index(key) for key in order]


class CompileLoss:
    """The training loss: the sum over outputs of loss_weight * loss."""

    def __init__(self, loss, loss_weights=None, model=None):
        self.loss, self.loss_weights = loss, loss_weights
        self.heads = self.weights = self.output_names = None
        self.traced_batch_sizes = set()  # training.reached: when Keras would warn
        self._model = None if model is None else weakref.ref(model)

    def build(self, output_names, outputs_dict=None):
        """One Head per output (None where an output has no loss). outputs_dict: a model's
        dict of outputs, whose keys `output_names` then are (sorted)."""
        if self.heads is not None:
            return
        loss = self.loss
        if isinstance(loss, (list, tuple)) and len(loss) == 1 and len(output_names) == 1:
            loss = loss[0]
        if outputs_dict is not None:
            given, weights, order = _by_key(loss, self.loss_weights, output_names, outputs_dict)
        else:
            given = _by_output(loss, output_names, "loss")
            weights, order = [None] * len(output_names), range(len(output_names))
            if isinstance(self.loss_weights, dict) and \
                    set(self.loss_weights) != set(output_names):
                raise ValueError(f"`loss_weights` must match the number of losses, got "
                                 f"{len(given)} losses and {len(self.loss_weights)} weights.")
            if self.loss_weights is not None:
                weights = _by_output(self.loss_weights, output_names, "loss_weights")
        if all(l is None for l in given):
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        self.heads = [None if l is None else Head(losses_module.get(l)) for l in given]
        self.weights = [None if w is None else float(w) for w in weights]
        self.output_names = list(output_names)
        self.order = [i for i in order if self.heads[i] is not None]  # the trackers' order

    @property
    def tracked_outputs(self):
        """The outputs whose own loss fit logs ("<name>_loss"): all, when more than one, in
        Keras's order (a loss dict's own, for a dict of outputs)."""
        named = [self.output_names[i] for i in self.order]
        return named if len(named) > 1 else []

    def __call__(self, y_true, y_pred, tape=_KERAS_STYLE, sample_weight=None,
                 regularization_losses=None):
        """total loss, each output's unweighted loss, and the seeds where backward starts.

        y_true, y_pred, sample_weight: lists with one entry per output.
        Called as Keras 2's guides call it in a train_step of one's own,
        `self.compiled_loss(y, y_pred[, sample_weight], regularization_losses=self.losses)`,
        it is Keras 3's shim: the model's compute_loss (which adds `self.losses` itself),
        with Keras's deprecation warning.
        """
        if tape is _KERAS_STYLE or regularization_losses is not None or not (
                tape is None or isinstance(tape, Tape)):
            weights = sample_weight if tape is _KERAS_STYLE or tape is None else tape
            warnings.warn("`model.compiled_loss()` is deprecated. Instead, use "
                          "`model.compute_loss(x, y, y_pred, sample_weight, training)`.",
                          stacklevel=2)
            return self._model().compute_loss(x=None, y=y_true, y_pred=y_pred,
                                              sample_weight=weights)
        total, per_output, seeds = None, [], []
        for head, weight, t, p, w in zip(self.heads, self.weights, y_true, y_pred,
                                         sample_weight or [None] * len(self.heads)):
            if head is None:
                per_output.append(None)
                continue
            loss, seed = head.loss_and_gradient(t, p, tape, w, masks.mask_of(p))
            per_output.append(loss)
            if weight is not None:
                scale = np.asarray(weight, loss.dtype)
                loss, seed = loss * scale, (seed[0], seed[1] * scale) + tuple(seed[2:])
            total = loss if total is None else total + loss
            seeds.append(seed)
        return total, per_output, seeds


class CompileMetrics:
    """The running means shown in fit's logs: the loss, per-output losses, and the metrics.

    Keras lists it in `model.metrics` as one object named "compile_metrics" (holding the
    compiled metrics), between the loss tracker and the output loss trackers.
    """

    name = "compile_metrics"

    def __init__(self, metrics, weighted_metrics=None):
        self.identifiers, self.weighted_identifiers = metrics, weighted_metrics
        self.loss_tracker = metrics_module.Mean(name="loss")
        self.output_loss_trackers, self.loss_positions = [], []  # and the outputs they track
        self.by_output = self.weighted_by_output = None  # resolved from the first data
        self.keys = []  # each compiled metric's key in the logs ("reg_mae"), in order

    def build(self, output_names, loss_outputs, y_true, y_pred_shapes, outputs_dict=None,
              layer_names=None):
        """Resolve metric names with the shapes of the labels and the outputs (as Keras).
        outputs_dict, layer_names: a dict of outputs and its layers' names, for the errors."""
        if self.by_output is not None:
            return self._check_targets(output_names, y_true)
        self.output_loss_trackers = [metrics_module.Mean(name=f"{name}_loss")
                                     for name in loss_outputs]
        self.loss_positions = [output_names.index(name) for name in loss_outputs]
        shapes = [(None if t is None else np.empty((1,) + t.shape[1:]),
                   np.empty((1,) + _known(s[1:], t))) for t, s in zip(y_true, y_pred_shapes)]
        outputs = None if outputs_dict is None else (
            layer_names, tree.map_structure(lambda _: "X", outputs_dict))
        self.by_output = _resolve(self.identifiers, output_names, shapes, "metrics", outputs)
        self.weighted_by_output = _resolve(self.weighted_identifiers, output_names, shapes,
                                           "weighted_metrics", outputs)
        self._check_targets(output_names, y_true)
        self.keys = _log_keys(output_names if len(output_names) > 1 else [None],
                              self.by_output, self.weighted_by_output)

    def _check_targets(self, output_names, y_true):
        """An output with metrics needs its targets, even when it has no loss."""
        for name, group, weighted, t in zip(output_names, self.by_output,
                                            self.weighted_by_output, y_true):
            if t is None and (group or weighted):
                raise _missing_targets(name, [m.name for m in group + weighted])

    @property
    def compiled(self):
        """The metric objects of compile's `metrics` and `weighted_metrics`, in order."""
        groups = (self.by_output or []) + (self.weighted_by_output or [])
        return [metric for group in groups for metric in group]

    @property
    def metrics(self):
        """The compiled metric objects (as Keras's CompileMetrics.metrics)."""
        return self.compiled

    def trackers(self):
        """Every running mean kept: the loss, the compiled metrics, the output losses."""
        return [self.loss_tracker] + self.compiled + list(self.output_loss_trackers)

    def model_metrics(self):
        """What Keras's `model.metrics` lists: the loss tracker, this object (when compile
        was given metrics), each output's loss tracker."""
        given = self.compiled or self.identifiers or self.weighted_identifiers
        return [self.loss_tracker] + ([self] if given else []) + \
            list(self.output_loss_trackers)

    def result(self):
        """{log key: value} of each compiled metric, as Keras's CompileMetrics.result()."""
        return {key: m.result() for m, key in zip(self.compiled, self.keys)}

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add one batch to the compiled metrics (Keras's CompileMetrics.update_state, for a
        custom train_step): y_true, y_pred and sample_weight as the model's outputs are, one
        array or a list. Resolves the metrics on first use."""
        y_true, y_pred = _per_output(y_true), _per_output(y_pred)
        sample_weight = None if sample_weight is None else _per_output(sample_weight)
        if self.by_output is None:
            names = ["output"] if len(y_pred) == 1 else [f"output_{i}" for i in
                                                         range(len(y_pred))]
            self.build(names, [], y_true, [np.shape(p) for p in y_pred])
        self.update_compiled(y_true, y_pred, sample_weight)

    def reset_state(self):
        for metric in self.compiled:
            metric.reset_state()

    def fresh(self):
        """A copy with every state at zero, for an evaluation that must not touch fit's state."""
        copied = copy.deepcopy(self)
        copied.reset()
        return copied

    def reset(self):
        for metric in self.trackers():
            metric.reset_state()

    def update(self, batch_size, loss, output_losses, y_true, y_pred, sample_weight=None):
        """Add one batch: its loss (weighted by its size), each output's loss, every metric.

        Each output's loss is a plain mean over batches, as Keras's TensorFlow backend keeps
        it (inside a compiled step the batch size is unknown, so its weight is dropped).
        """
        self.loss_tracker.update_state(loss, sample_weight=batch_size)
        for tracker, i in zip(self.output_loss_trackers, self.loss_positions):
            tracker.update_state(output_losses[i])
        self.update_compiled(y_true, y_pred, sample_weight)

    def update_compiled(self, y_true, y_pred, sample_weight=None):
        """The compiled metrics' part of `update`: lists with one entry per output."""
        weights = sample_weight or [None] * len(y_true)
        for group, weighted, t, p, w in zip(self.by_output, self.weighted_by_output, y_true,
                                            y_pred, weights):
            for metric in group:
                metric.update_state(t, p)  # compiled metrics ignore sample weights, as Keras
            for metric in weighted:
                metric.update_state(t, p, sample_weight=w)

    def logs(self):
        """Running means as Python floats, keys sorted as Keras's logs are."""
        trackers = [self.loss_tracker] + list(self.output_loss_trackers)
        values = {m.name: float(m.result()) for m in trackers}
        values.update({key: float(m.result()) for m, key in zip(self.compiled, self.keys)})
        return dict(sorted(values.items()))

    def ordered_names(self, logs):
        """Keras's evaluate order (trainer.py::_flatten_metrics_in_order): the loss, the
        compiled metrics whose own name is a log key, the output losses, the rest sorted."""
        first = [m.name for m in self.trackers() if m.name in logs]
        first = list(dict.fromkeys(first))
        return first + sorted(key for key in logs if key not in first)


def _per_output(value):
    """One array per output: a lone array -> [array] (a Tracked one as the array it is)."""
    from minidl.ops.backprop import untracked
    return [untracked(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def _known(sample_shape, y_true):
    """An output's sample shape with its unknown sizes filled in, for resolving metric names:
    a time axis of any length (None) counts as 1, an unknown last axis as the labels'."""
    sizes = [1 if d is None else d for d in sample_shape]
    if sample_shape and sample_shape[-1] is None and y_true is not None and y_true.ndim > 1:
        sizes[-1] = y_true.shape[-1]
    return tuple(sizes)


def _resolve(identifiers, output_names, shapes, what, outputs=None):
    """[[Metric, ...] per output] from compile's `metrics` (Keras's rules). outputs: for a
    dict of outputs, (the layers' names, the dict with "X" for each output)."""
    if not identifiers:
        return [[] for _ in output_names]
    if len(output_names) == 1:
        flat = identifiers if isinstance(identifiers, (list, tuple)) else [identifiers]
        flat = [m for item in flat for m in (item if isinstance(item, (list, tuple)) else [item])]
        return [[_metric(m, *shapes[0], None) for m in flat if m is not None]]
    if isinstance(identifiers, dict) and set(identifiers) <= set(output_names):
        per_output = [identifiers.get(name) for name in output_names]
    elif isinstance(identifiers, (list, tuple)) and len(identifiers) == len(output_names):
        per_output = list(identifiers)
    elif outputs is not None:
        raise ValueError(
            f"Invalid `{what}`. `{what}` should contain metrics objects and either be a dict "
            f"or a list matching the output names of the functional model {outputs[0]} or "
            f"match the output structure of the model: {outputs[1]}.\n"
            f"Received: {what}={identifiers}")
    else:
        raise ValueError(
            f"Invalid `{what}`. `{what}` should contain metrics objects and either be a dict "
            f"or a list matching the output names of the functional model {output_names} "
            f"(one entry per output). Received: {what}={identifiers!r}")
    groups = []
    for name, given, (t, p) in zip(output_names, per_output, shapes):
        given = [] if given is None else given if isinstance(given, (list, tuple)) else [given]
        if given and t is None:
            raise _missing_targets(name, given)
        groups.append([_metric(m, t, p, name) for m in given])
    return groups


def _missing_targets(output_name, metrics):
    return ValueError(f"Missing data for output {output_name!r}: it has metrics {metrics}, so "
                      "`y` must hold its targets (only an output with no loss and no metrics "
                      "may be left out of `y`).")


def _metric(identifier, y_true, y_pred, output_name):
    metric = metrics_module.get(identifier, y_true, y_pred)
    if hasattr(metric, "check_loggable"):  # F1Score(average=None): one number per class
        metric.check_loggable()
    return metric


def _log_keys(output_names, groups, weighted_groups):
    """The log key of each metric (in `compiled` order), as Keras's CompileMetrics.result.

    "<output>_<metric>" (just "<metric>" for one output); a repeat gets "_1", "_2"; a
    weighted metric whose key is taken becomes "<output>_weighted_<metric>".
    """
    taken, keys = set(), []

    def claim(name):
        if name in taken:
            index = 1
            while f"{name}_{index}" in taken:
                index += 1
            name = f"{name}_{index}"
        taken.add(name)
        return name

    def prefixed(output, name):
        return f"{output}_{name}" if output else name

    for output, group in zip(output_names, groups):
        for metric in group:
            keys.append(claim(prefixed(output, metric.name)))
    for output, group in zip(output_names, weighted_groups):
        for metric in group:
            name = prefixed(output, metric.name)
            keys.append(claim(name if name not in taken else
                              prefixed(output, f"weighted_{metric.name}")))
    return keys


def compile(model, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
            weighted_metrics=None, **kwargs):
    """Choose the optimizer, the loss and the metrics (strings or objects).

    Args:
        optimizer: "rmsprop" (default), "adam", "sgd", or an optimizer object.
        loss: e.g. "sparse_categorical_crossentropy", "mse", a Loss object; for several
            outputs, a list (one per output) or a dict keyed by output name.
        loss_weights: the weight of each output's loss in the total (list or dict).
        metrics: e.g. ["accuracy"] or ["mae"]; per output as a list of lists or a dict.
        weighted_metrics: metrics that take `sample_weight` into account.
    """
    unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution",
                                 "auto_scale_loss"}
    if unsupported:
        raise TypeError(f"compile() got unexpected keyword arguments: {sorted(unsupported)}")
    optimizer = optimizers.get(optimizer)  # everything is resolved before anything is set
    for single in flatten(loss) if loss is not None else []:
        if single is not None:
            losses_module.get(single)
    if isinstance(metrics, (str,)) or callable(metrics):
        metrics = [metrics]
    elif metrics is not None and not isinstance(metrics, (list, tuple, dict)):
        raise ValueError("Expected `metrics` argument to be a list or a single metric. "
                         f"Received: metrics={metrics!r}")
    for identifier in flatten(metrics) if metrics is not None else []:
        if identifier is not None:
            metrics_module.check_identifier(identifier)
    model.optimizer = optimizer
    if loss is not None and not isinstance(loss, (list, tuple, dict)):
        loss = losses_module.get(loss)  # one loss: kept resolved, as `model.loss`
    model.loss = loss
    model.compiled_loss = CompileLoss(loss, loss_weights, model) if loss is not None else None
    model.compiled_metrics = CompileMetrics(metrics, weighted_metrics)
    model.compiled = True
    model._warned_no_weights = False  # custom_step.warn_no_trainable_weights: once a compile
