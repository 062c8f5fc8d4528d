"""What `compile()` sets up: the training loss over every output, and the metrics to track.

As keras/src/trainers/compile_utils.py: `CompileLoss` pairs each model output with its loss
(one output head each, see head.py), weights and adds them; `CompileMetrics` resolves the
metric names ("accuracy", "mae", ...) once the shapes of the labels and outputs are known,
and keeps the running means that fit's logs show.
"""
import copy

import numpy as np

from minidl import losses as losses_module, metrics as metrics_module
from minidl.head import Head


def _per_output(value, output_names, what):
    """A value given once, as a list (one per output) or a dict (by output name): a list."""
    if isinstance(value, dict):
        unknown = set(value) - set(output_names)
        if unknown:
            raise ValueError(f"Unknown output name(s) {sorted(unknown)} in `{what}`. "
                             f"The model's outputs are {output_names}.")
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)) and len(output_names) > 1:
        if len(value) != len(output_names):
            raise ValueError(
                f"For a model with {len(output_names)} outputs, `{what}` given as a list must "
                f"have one entry per output. Received {len(value)} entries: {what}={value!r}")
        return list(value)
    return [value] * len(output_names)


class CompileLoss:
    """The training loss: sum over outputs of loss_weight * loss, plus regularization."""

    def __init__(self, loss, loss_weights=None):
        self.loss, self.loss_weights = loss, loss_weights
        self.heads = self.weights = self.output_names = None

    def build(self, output_names):
        """One Head per output (None where an output has no loss), from the output names."""
        if self.heads is not None:
            return
        given = _per_output(self.loss, output_names, "loss")
        if len(output_names) == 1 and isinstance(self.loss, (list, tuple)) and \
                len(self.loss) == 1:
            given = [self.loss[0]]
        weights = _per_output(self.loss_weights, output_names, "loss_weights") \
            if self.loss_weights is not None else [None] * len(output_names)
        self.heads = [None if loss is None else Head(losses_module.get(loss)) for loss in given]
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.output_names = list(output_names)

    def __call__(self, y_true, y_pred, tape, sample_weight=None):
        """total loss, the per-output losses, and the seeds where backward starts.

        y_true, y_pred, sample_weight: lists with one entry per output.
        """
        total, per_output, seeds = None, [], []
        for head, weight, t, p, w in zip(self.heads, self.weights, y_true, y_pred,
                                         sample_weight or [None] * len(self.heads)):
            if head is None:
                per_output.append(None)
                continue
            loss, seed = head.loss_and_gradient(t, p, tape, w)
            per_output.append(loss)
            if weight != 1.0:
                scale = np.asarray(weight, loss.dtype)
                loss, seed = loss * scale, (seed[0], seed[1] * scale) + tuple(seed[2:])
            total = loss if total is None else total + loss
            seeds.append(seed)
        return total, per_output, seeds


class CompileMetrics:
    """The running means shown in fit's logs: the loss, per-output losses, and the metrics."""

    def __init__(self, metrics, weighted_metrics=None):
        self.identifiers, self.weighted_identifiers = metrics, weighted_metrics
        self.loss_tracker = metrics_module.Mean(name="loss")
        self.output_loss_trackers = []
        self.by_output = None  # [[Metric, ...] per output], resolved from the first data

    def build(self, output_names, y_true, y_pred_shapes):
        """Resolve metric names with the shapes of the labels and the outputs (as Keras)."""
        if self.by_output is not None:
            return
        multi = len(output_names) > 1
        if multi:
            self.output_loss_trackers = [metrics_module.Mean(name=f"{name}_loss")
                                         for name in output_names]
        lists = _per_output(self.identifiers, output_names, "metrics") \
            if self.identifiers is not None else [None] * len(output_names)
        self.by_output = []
        for name, identifiers, labels, shape in zip(output_names, lists, y_true, y_pred_shapes):
            if identifiers is None:
                identifiers = []
            elif not isinstance(identifiers, (list, tuple)):
                identifiers = [identifiers]
            resolved = []
            for identifier in identifiers:
                metric = metrics_module.get(identifier, np.empty((1,) + labels.shape[1:]),
                                            np.empty((1,) + tuple(shape[1:])))
                if multi:
                    metric.name = f"{name}_{metric.name}"
                resolved.append(metric)
            self.by_output.append(resolved)

    @property
    def metrics(self):
        """Every tracked metric object: the loss first, as `model.metrics`."""
        found = [self.loss_tracker] + list(self.output_loss_trackers)
        return found + [m for group in self.by_output or [] for m in group]

    def fresh(self):
        """A copy with every state at zero, for an evaluation that must not touch fit's state."""
        copied = copy.deepcopy(self)
        for metric in copied.metrics:
            metric.reset_state()
        return copied

    def reset(self):
        for metric in self.metrics:
            metric.reset_state()

    def update(self, batch_size, loss, output_losses, y_true, y_pred):
        """Add one batch: its loss (weighted by its size) and every metric."""
        self.loss_tracker.update_state(loss, sample_weight=batch_size)
        for tracker, value in zip(self.output_loss_trackers, output_losses):
            if value is not None:
                tracker.update_state(value, sample_weight=batch_size)
        for group, t, p in zip(self.by_output, y_true, y_pred):
            for metric in group:
                metric.update_state(t, p)

    def logs(self):
        """Running means as Python floats, keys sorted as Keras's logs are."""
        return {m.name: float(m.result()) for m in sorted(self.metrics, key=lambda m: m.name)}

    def ordered_names(self):
        """The names in Keras's `evaluate` order: loss, output losses, metrics in compile order."""
        return [m.name for m in self.metrics]
