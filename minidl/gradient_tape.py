"""GradientTape: tf.GradientTape for a custom `train_step`, as Keras's guide writes one.

    with minidl.GradientTape() as tape:
        y_pred = self(x, training=True)              # layer calls: on the tape
        loss = self.compute_loss(y=y, y_pred=y_pred)  # one recorded op (custom_step.py)
        loss = loss + 0.1 * ops.mean(ops.square(h))   # ops and NumPy operators: recorded
    grads = tape.gradient(loss, self.trainable_variables)

It opens a minidl Tape (tape.py) with tracking on (ops/backprop.py): every layer call, every
minidl.ops call and the NumPy arithmetic on the arrays they return is written on it, each
with its own derivative. `gradient` walks it back from the target, which starts with
d target / d target = 1 (a target with several values: their sum, as TensorFlow).
"""
import warnings

import numpy as np

from minidl.ops import backprop
from minidl.tape import Tape, active_tape, flatten
from minidl.variable import Variable


class GradientTape:
    """Records the operations run inside `with GradientTape() as tape:` for `tape.gradient`.

    Args:
        persistent: False (default): one `gradient` call, as tf.GradientTape; True: as many
            as wanted.
        watch_accessed_variables: accepted for tf.GradientTape's signature; every Variable
            used on the tape is watched (True, TensorFlow's default); False is refused.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        if not watch_accessed_variables:
            raise ValueError("minidl's GradientTape watches every variable it meets, as "
                             "tf.GradientTape by default. Expected watch_accessed_variables="
                             "True. Received: watch_accessed_variables=False")
        self.persistent = bool(persistent)
        self._tape = Tape()
        self._used = False
        self._tracking_before = None

    def __enter__(self):
        outer = active_tape()
        if outer is not None and getattr(outer, "opened_by_gradient_tape", False):
            raise NotImplementedError(
                "minidl's GradientTape cannot be opened inside another: TensorFlow would "
                "record the inner tape's work on the outer one too, for gradients of "
                "gradients (a WGAN-GP gradient penalty), and minidl computes first "
                "derivatives only. Open the tapes one after the other.")
        self._tape.opened_by_gradient_tape = True
        self._tape.__enter__()
        self._tracking_before = backprop.set_tracking(True)  # NumPy arithmetic is recorded
        return self

    def __exit__(self, *exc_info):
        backprop.set_tracking(self._tracking_before)
        return self._tape.__exit__(*exc_info)

    def watch(self, tensor):
        """Also differentiate with respect to `tensor` (an array given to the computation)."""
        self._tape.watch([backprop.untracked(t) for t in flatten(tensor)])

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d each source, in the structure of `sources`.

        Args:
            target: an array computed on the tape (a loss), or a list of them (summed).
            sources: a Variable, a watched array, or a (nested) list of them.
            output_gradients: d(final)/d target, if not 1 (one per target).
            unconnected_gradients: "none" (TensorFlow's default: None for a source the
                target does not reach) or "zero".
        Formula:
            seed = output_gradients or ones_like(target);  walk the tape back from the seed
        """
        unconnected = getattr(unconnected_gradients, "value", unconnected_gradients)
        if unconnected not in ("none", "zero"):
            raise ValueError("Unknown value for unconnected_gradients: "
                             f"{unconnected_gradients!r}")
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute "
                               "one set of gradients (or jacobians)")
        self._used = True
        targets = [backprop.untracked(t) for t in flatten(target)]
        seeds = [None] * len(targets) if output_gradients is None else flatten(output_gradients)
        flat = flatten(sources)
        variables = [s for s in flat if isinstance(s, Variable)]
        arrays = [backprop.untracked(s) for s in flat if not isinstance(s, Variable)]
        on_tape = [(t, np.ones_like(t) if g is None else np.asarray(g, np.result_type(t)))
                   for t, g in zip(targets, seeds) if self._tape.producer(t) is not None]
        if on_tape:
            grads = self._tape.gradient(on_tape, variables, inputs=arrays,
                                        unconnected_gradients="none")
            if arrays:  # the tape gives zeros for an unreached input: None, as TensorFlow
                reached = self._taken(arrays)
                grads[len(variables):] = [g if r else None for g, r in
                                          zip(grads[len(variables):], reached)]
        else:  # nothing recorded made the target: no source reaches it (TensorFlow: None)
            grads = [None] * (len(variables) + len(arrays))
        _warn_unreached_arrays(arrays, grads[len(variables):])
        by_variable = iter(grads[:len(variables)])
        by_array = iter(grads[len(variables):])
        flat_grads = []
        for source in flat:
            grad = next(by_variable) if isinstance(source, Variable) else next(by_array)
            if grad is None and unconnected == "zero":
                grad = np.zeros(np.shape(source), _dtype(source))
            flat_grads.append(grad)
        return _restructure(sources, iter(flat_grads))

    def jacobian(self, target, sources, *args, **kwargs):
        raise NotImplementedError(_FIRST_DERIVATIVES_ONLY.format("jacobian"))

    def batch_jacobian(self, target, source, *args, **kwargs):
        raise NotImplementedError(_FIRST_DERIVATIVES_ONLY.format("batch_jacobian"))

    def stop_recording(self):
        raise NotImplementedError(
            "minidl's GradientTape has no `stop_recording`: compute what should not be "
            "differentiated outside the `with` block.")

    def _taken(self, arrays):
        """For each watched array: does a recorded call take it?"""
        taken = {id(x) for record in self._tape.records for x in record.inputs}
        return [id(a) in taken for a in arrays]


def _warn_unreached_arrays(arrays, grads):
    """A warning for a float array the target does not reach: TensorFlow records everything
    done with a watched constant (Géron's `tape.watch(c1); z = 3 * c1 ** 2 + ...`), minidl
    only the layers and minidl.ops calls on a plain NumPy array, not its NumPy operators."""
    unreached = [a for a, g in zip(arrays, grads)
                 if g is None and np.asarray(a).dtype.kind == "f"]
    if unreached:
        warnings.warn(
            f"GradientTape.gradient: nothing recorded reaches {len(unreached)} watched "
            f"array(s) (shape {np.shape(unreached[0])}), so the gradient is None. minidl "
            "records layer calls, minidl.ops calls and the NumPy operators applied to a "
            "minidl.Variable or to what those return, but not NumPy operators (x * y, "
            "x ** 2) applied to a plain NumPy array: make it a minidl.Variable(x), or "
            "compute with minidl.ops (ops.multiply(x, y)).", stacklevel=3)


_FIRST_DERIVATIVES_ONLY = (
    "minidl's GradientTape has no `{}`: it computes the gradient of one (summed) target "
    "with `gradient(target, sources)`, by walking the tape back once. Call `gradient` "
    "for each output value instead (persistent=True).")


def _dtype(source):
    return source.dtype if hasattr(source, "dtype") else np.asarray(source).dtype


def _restructure(structure, grads):
    """`grads` (an iterator) put back in the nesting of `structure`."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(_restructure(item, grads) for item in structure) \
            if isinstance(structure, list) else tuple(_restructure(i, grads) for i in structure)
    if isinstance(structure, dict):
        return {key: _restructure(structure[key], grads) for key in structure}
    return next(grads)
