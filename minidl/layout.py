"""Speed beside the maths: a model's weights end to end in one flat array.

An optimizer's update is a handful of element-wise operations per weight. For a small model
(the lab's 2-64-1 network has 4 weight arrays of 1 to 128 numbers) the cost is not the
arithmetic but NumPy's ~1 microsecond overhead per call, paid once per operation per array.
Laying every weight end to end in one flat array, each Variable's value being a view into it,
lets the optimizer run its formula once on the flat arrays: the same arithmetic, element by
element (so the same results, bit for bit), with one call per operation for the whole model.

Nothing in the formulas knows about this: `update_step(g, w, lr, velocity)` is written for
arrays, and is given either one variable's arrays or the flat ones
(optimizers/base.py::Optimizer.apply).
"""
import numpy as np


class Flat:
    """Variables laid end to end: `values` and `grads` are flat arrays, in `variables` order."""

    def __init__(self, variables, values, grads):
        self.variables, self.values, self.grads = variables, values, grads

    def holds(self, variables):
        """True if `variables` are exactly this layout's, in order, and still views into it."""
        return (len(variables) == len(self.variables)
                and all(a is b for a, b in zip(variables, self.variables))
                and all(v.value.base is self.values for v in variables))

    def gather(self, grads):
        """Copy per-variable gradients into the flat `grads` array, in order."""
        np.concatenate([grad.reshape(-1) for grad in grads], out=self.grads)


def lay_end_to_end(variables):
    """Move the variables' values into one flat array (and grads into another), in order.

    Each variable's `value` and `grad` become views into the flat arrays, shaped as before,
    so everything that reads or writes a weight works unchanged. Variables already laid out
    this way are left as they are. Returns the Flat, or None for no variables or mixed dtypes.
    """
    variables = list(variables)
    if not variables or len({v.dtype for v in variables}) > 1:
        return None
    existing = variables[0].flat
    if existing is not None and existing.holds(variables):
        return existing
    values = np.concatenate([v.value.ravel() for v in variables])  # (total,)
    grads = np.concatenate([v.grad.ravel() for v in variables])  # (total,)
    flat = Flat(variables, values, grads)
    start = 0
    for v in variables:
        end = start + v.value.size
        v.value, v.grad = values[start:end].reshape(v.shape), grads[start:end].reshape(v.shape)
        v.flat = flat
        start = end
    return flat


class Slot:
    """One kind of optimizer state (e.g. RMSprop's velocity) for every variable.

    `whole` is one flat array holding all of them end to end (None when the variables have
    different dtypes); `views[i]` is variable i's part of it, shaped like the variable.
    """

    def __init__(self, variables, name):
        variables = list(variables)
        self.name = name
        self.shapes = [v.shape for v in variables]
        if variables and len({v.dtype for v in variables}) == 1:
            self._view(np.zeros(sum(v.value.size for v in variables), variables[0].dtype))
        else:
            self.whole, self.views = None, [np.zeros_like(v.value) for v in variables]

    def _view(self, whole):
        self.whole, self.views, start = whole, [], 0
        for shape in self.shapes:
            end = start + int(np.prod(shape))
            self.views.append(whole[start:end].reshape(shape))
            start = end

    def __deepcopy__(self, memo):
        """A copy whose views look into the copy's own flat array (deepcopy alone would not)."""
        copy = Slot.__new__(Slot)
        copy.name, copy.shapes = self.name, list(self.shapes)
        if self.whole is None:
            copy.whole, copy.views = None, [view.copy() for view in self.views]
        else:
            copy._view(self.whole.copy())
        return copy
