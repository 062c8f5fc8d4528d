"""The tape: a record of the layer calls one forward pass makes, walked in reverse for backward.

    with Tape() as tape:
        y_pred = model(x, training=True)      # every layer call is written on the tape
    grads = tape.gradient([(y_pred, dy)], model.trainable_weights)

This is backpropagation with no autograd: each layer writes its own `backward`, and the tape
only remembers, for one forward pass, which layer was called on which arrays and what it kept
for its backward (its `cache`). Walking the calls from last to first, it hands each layer the
gradient of its output, and passes the gradient of each input back to the call that made it.
The same walk serves a chain (Sequential), a graph with several inputs and outputs (functional
models) and a subclassed model's `call()`: they all just call layers.

Everything of one pass lives on its tape, not in the layers, so another thread's `predict` (no
tape) cannot disturb a training step, and the same layer can be called twice in one pass
(shared weights: the two gradients add up).

Arrays are matched by identity: a record keeps a reference to each array it produced, so an
array's `id` cannot be reused while the tape lives. A layer that returns its input unchanged
(Dropout at inference, a linear Activation) is invisible: the array keeps its first maker,
as Keras's tensors keep their `_keras_logits`.

An array no call on the tape made is either a constant (np.eye(3), a mask made with NumPy,
a class-weight vector: no gradient goes to it, as TensorFlow treats a NumPy array) or an
array derived from the tape's arrays by a path the tape cannot differentiate (np.sort(h),
h.copy(), a view of h made with np.asarray): the ops that meet such an array say that it
was `escaped` (ops/backprop.py), and so does its memory, shared with an array on the tape.
A call that takes one cuts the chain, and backward refuses to go through it by name.
"""
import contextlib
import threading

import numpy as np

_active = threading.local()  # the tape of the forward pass running in this thread, if any


def active_tape():
    """The tape recording in this thread, or None."""
    return getattr(_active, "tape", None)


@contextlib.contextmanager
def paused():
    """Nothing is recorded inside: what runs there makes constants, as the data it reads
    (preprocessing layers in a model: lookup.py)."""
    tape, _active.tape = active_tape(), None
    try:
        yield
    finally:
        _active.tape = tape


def flatten(structure):
    """A layer's input or output as a flat list of arrays (a single array -> [array])."""
    if isinstance(structure, (list, tuple)):
        return [a for item in structure for a in flatten(item)]
    if isinstance(structure, dict):
        return [a for key in structure for a in flatten(structure[key])]
    return [structure]


class Record:
    """One layer call: the layer, where its inputs came from, its outputs and its cache.

    `sources[i]` is (record index, output position) of the call that made input i, or None
    for an array that came from outside (the model's input, a constant).
    """

    __slots__ = ("layer", "inputs", "sources", "outputs", "cache", "foreign", "dy")

    def __init__(self, layer, inputs, sources, outputs, cache, foreign):
        self.layer, self.inputs, self.sources = layer, inputs, sources
        self.outputs, self.cache, self.foreign = outputs, cache, foreign
        self.dy = None  # the gradient backward gave this call, if the tape keeps them


class Tape:
    """Records layer calls made in this thread while it is open (`with Tape() as tape:`)."""

    def __init__(self, keep_gradients=False):
        self.keep_gradients = keep_gradients  # keep each call's dy on its record (explain.py)
        self.records = []
        self._made_by = {}  # id(array) -> (record index, output position)
        self._watched = set()  # ids of arrays given to the model from outside
        self._escaped = set()  # ids of arrays derived from the tape's by a path it cannot follow
        self._kept = []
        self.penalties = []  # (value, output, d value / d output) of activity regularizers
        self._previous = []  # the tapes active before each `with` of this one (it may be
        # opened again while open: a loss of your own in a custom train_step)

    def __enter__(self):
        self._previous.append(active_tape())
        _active.tape = self
        return self

    def __exit__(self, *exc_info):
        _active.tape = self._previous.pop()
        return False

    # -- recording --------------------------------------------------------------------------
    def watch(self, structure):
        """Mark arrays as legitimate inputs of the pass (the model's own inputs)."""
        for array in flatten(structure):
            if id(array) not in self._made_by:
                self._watched.add(id(array))
                self._kept.append(array)  # so that its id is not reused while the tape lives

    def escape(self, structure):
        """Mark arrays as derived from the tape's arrays by a path it cannot differentiate."""
        for array in flatten(structure):
            if id(array) not in self._made_by:
                self._escaped.add(id(array))
                self._kept.append(array)

    def _derived_unrecorded(self, array):
        """True for an array that came from the tape's arrays without being recorded: marked
        by `escape`, or a view sharing the memory of an array on the tape (np.asarray(h))."""
        while array is not None:
            if id(array) in self._escaped or id(array) in self._made_by \
                    or id(array) in self._watched:
                return True
            array = getattr(array, "base", None)
        return False

    def record(self, layer, inputs, outputs, cache):
        """Write one layer call on the tape."""
        inputs, outputs = flatten(inputs), flatten(outputs)
        sources = [self._made_by.get(id(x)) for x in inputs]
        # An input derived from the tape's arrays by a path the tape did not record (np.sort,
        # a copy) cuts the chain: backward cannot pass through it (see `gradient`). Other
        # arrays from outside are constants (or watched inputs).
        foreign = any(s is None and id(x) not in self._watched and self._derived_unrecorded(x)
                      for s, x in zip(sources, inputs))
        index = len(self.records)
        self.records.append(Record(layer, inputs, sources, outputs, cache, foreign))
        input_ids = {id(x) for x in inputs}
        for position, y in enumerate(outputs):
            if id(y) not in input_ids:  # an input passed through keeps its first maker
                self._made_by[id(y)] = (index, position)

    def add_penalty(self, value, output, grad):
        """A loss term on a layer's output (an activity regularizer), with its gradient."""
        self.penalties.append((value, output, grad))

    def producer(self, array):
        """The Record of the layer call that made `array`, or None."""
        made_by = self._made_by.get(id(array))
        return None if made_by is None else self.records[made_by[0]]

    def undifferentiable(self, array, first):
        """Why backward could not start from `array`, or None: it must come from a call on
        the tape, and every call from index `first` on that leads to it must take its inputs
        from calls on the tape (or from watched arrays). Says which, for an error."""
        made_by = self._made_by.get(id(array))
        if made_by is None:
            return ("its values were not computed by minidl.ops (a NumPy function or operator "
                    "such as `-` or np.mean made them)")
        stack, seen = [made_by[0]], set()
        while stack:
            index = stack.pop()
            if index < first or index in seen:
                continue
            seen.add(index)
            record = self.records[index]
            if record.foreign:
                return (f"ops.{record.layer.name} received an array derived from y_pred by a "
                        "path minidl does not record (a NumPy function such as np.sort, a "
                        "copy, or an array method such as .mean())")
            stack += [source[0] for source in record.sources if source is not None]
        return None

    # -- backward -----------------------------------------------------------------------------
    def gradient(self, output_grads, variables, inputs=None, unconnected_gradients="zero"):
        """Backpropagate from the outputs' gradients to `variables` (and `inputs`, if given).

        Args:
            output_grads: a list of (output array, dL/doutput), or (output array, dL/dz,
                "logits") when the gradient is with respect to the logits z of the layer that
                made the output (the output head's shortcut, see head.py).
            variables: the Variables to return gradients for, in order.
            inputs: arrays given to the forward pass whose gradient is wanted too.
            unconnected_gradients: what a variable the loss does not reach gets: "zero"
                (zeros) or "none" (None, as tf.GradientTape's default), which lets the
                training step leave it out of the optimizer's update, as Keras's does.
        Returns:
            A list of gradients aligned with `variables`, followed by one per array of
            `inputs` when they are given.
        """
        grads_out, logit_grads = self._seeds(output_grads)  # (record, output) -> dL/d it
        wanted = {id(x): ("input", i) for i, x in enumerate(inputs or [])}
        # A weight an op used directly (a custom layer's `x @ self.w`: ops/backprop.py) is an
        # input from outside, its value array: its gradient goes to the weight.
        wanted.update({id(v.value): ("weight", v) for v in variables})
        var_grads = {}
        for index in range(len(self.records) - 1, -1, -1):  # last call first
            record = self.records[index]
            dy = self._output_gradient(index, record, grads_out)
            dz = logit_grads.pop(index, None)
            if dy is None and dz is None:
                continue  # nothing downstream of this call reached the loss
            if record.foreign:
                raise _cut_chain_error(record)
            need_dx = any(s is not None or id(x) in wanted
                          for s, x in zip(record.sources, record.inputs))
            dx, grads = self._backward(record, dy, dz, need_dx)
            for variable, grad in grads.items():
                _accumulate(var_grads, variable, grad)
            if need_dx:  # hand each input's gradient to the call that made it
                to_logits = getattr(record.layer, "logit_inputs", ())  # compute_loss's seeds
                for position, (source, x, d) in enumerate(zip(record.sources, record.inputs,
                                                              flatten(dx))):
                    key = source if source is not None else wanted.get(id(x))
                    if position in to_logits and source is not None:  # d loss / d its logits
                        _accumulate(logit_grads, source[0], d)
                    elif key is not None and key[0] == "weight":
                        _accumulate(var_grads, key[1], d)
                    elif key is not None:
                        _accumulate(grads_out, key, d)
        if unconnected_gradients == "none":
            result = [var_grads.get(v) for v in variables]
        else:
            result = [var_grads[v] if v in var_grads else np.zeros_like(v.value)
                      for v in variables]
        if inputs is not None:
            result += [grads_out.get(("input", i), np.zeros_like(x)) for i, x in enumerate(inputs)]
        return result

    def _backward(self, record, dy, dz, need_dx):
        """One call's backward, from dL/d its output (dy), its logits (dz), or both."""
        layer, cache = record.layer, record.cache
        if dz is None:
            return layer.backward(dy, cache, need_dx=need_dx)
        if self.keep_gradients and dy is None:
            record.dy = dz
        dx, grads = layer.backward_from_logits(dz, cache, need_dx=need_dx)
        if dy is None:
            return dx, grads
        # A penalty on the output too (an activity regularizer): backward is linear, so the
        # backward passes of the two gradients add up.
        dx_y, grads_y = layer.backward(dy, cache, need_dx=need_dx)
        grads = dict(grads)
        for variable, grad in grads_y.items():
            _accumulate(grads, variable, grad)
        if need_dx:
            dx = [a + b for a, b in zip(flatten(dx), flatten(dx_y))]
        return dx, grads

    def _seeds(self, output_grads):
        """{(record index, output position): dL/d output}, and {record index: dL/d its logits}."""
        grads_out, logit_grads = {}, {}
        for item in output_grads:
            array, grad = item[0], item[1]
            if len(item) > 2 and isinstance(item[2], Exception):
                raise item[2]  # a loss that cannot start backward (head.py says why)
            made_by = self._made_by.get(id(array))
            if made_by is None and id(array) in self._watched:
                continue  # an input passed straight out (a layer returned its inputs): no
                # layer's weights lie behind it, so its gradient reaches none of them
            if made_by is None:
                raise ValueError("The output given to `gradient` was not made by a layer "
                                 "call recorded on this tape.")
            if len(item) > 2 and item[2] == "logits":
                _accumulate(logit_grads, made_by[0], grad)
            else:
                _accumulate(grads_out, made_by, grad)
        return grads_out, logit_grads

    def _output_gradient(self, index, record, grads_out):
        """dL/d(this call's output), or None if no gradient reached it."""
        dys = [grads_out.pop((index, p), None) for p in range(len(record.outputs))]
        if all(dy is None for dy in dys):
            return None
        dys = [np.zeros_like(y) if dy is None else dy for dy, y in zip(dys, record.outputs)]
        dy = dys[0] if len(dys) == 1 else dys
        if self.keep_gradients:
            record.dy = dy
        return dy


def _accumulate(table, key, grad):
    """table[key] += grad, where a key seen for the first time just takes grad."""
    if key in table:
        table[key] = table[key] + grad
    else:
        table[key] = grad


def _cut_chain_error(record):
    return ValueError(
        f"Cannot compute gradients through the input of layer '{record.layer.name}': it was "
        "derived from the output of an earlier layer by a path minidl does not record (a "
        "NumPy function such as np.sort or np.concatenate, a copy, an array method such as "
        ".mean(), or NumPy arithmetic on plain arrays), so minidl, which has no autograd, "
        "does not know its derivative. Use minidl.ops or a layer for that step "
        "(ops.concatenate, layers.Add, layers.Multiply, layers.Rescaling, ...) or a custom "
        "Layer with its own `backward` (see minidl/layers/base.py)."
    )
