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

The gradients come from backward as one array per variable. The small ones are copied end to
end into the flat `grads` array; a big one (OWN_GRADIENT numbers or more, the seed network's
784x512 kernel) is used where it lies: copying it would cost more than the one more call of
the formula it saves, and its two halves are still in the caches of the two threads that
computed them (threads.py). So the flat arrays are updated in runs (`Flat.runs`): the seed
network's in two, its kernel and then its three small weights; the lab's 2-64-1 one in one.
"""
import numpy as np

OWN_GRADIENT = 100_000  # a variable this big is updated from its own gradient array, not a copy


class Flat:
    """Variables laid end to end: `values` and `grads` are flat arrays, in `variables` order;
    variable i lies in values[start:end] for (start, end) = spans[i]."""

    def __init__(self, variables, values, grads):
        self.variables, self.values, self.grads = variables, values, grads
        self.spans, start = [], 0
        for v in variables:
            self.spans.append((start, start + v.value.size))
            start += v.value.size
        self.big = [end - start >= OWN_GRADIENT for start, end in self.spans]

    def holds(self, variables):
        """True if `variables` are exactly this layout's, in order, and still views into it."""
        return (len(variables) == len(self.variables)
                and all(a is b for a, b in zip(variables, self.variables))
                and all(v.value.base is self.values for v in variables))

    def runs(self, grads):
        """[(start, end, g)]: the flat arrays cut into runs, g the gradient of values[start:end].

        A big variable whose gradient can be used where it lies (see `_usable_as_it_is`) is a
        run of its own, and its `grad` refers to that array; the variables between two such
        are one run, their gradients copied end to end into grads[start:end].
        """
        runs, copied, run_start = [], [], 0
        for variable, grad, (start, end), big in zip(self.variables, grads, self.spans,
                                                      self.big):
            if big and self._usable_as_it_is(variable, grad):
                self._copy_run(runs, copied, run_start, start)
                runs.append((start, end, grad.reshape(-1)))
                variable.grad = grad
                run_start = end
            else:
                if variable.grad.base is not self.grads:  # it referred to another array
                    variable.grad = self.grads[start:end].reshape(variable.shape)
                copied.append(grad)
        self._copy_run(runs, copied, run_start, len(self.values))
        return runs

    def _usable_as_it_is(self, variable, grad):
        """True for a gradient that is contiguous, of the values' dtype and apart from them:
        the formula can read it where it lies."""
        return (isinstance(grad, np.ndarray) and grad.shape == variable.shape
                and grad.dtype == self.values.dtype and grad.flags.c_contiguous
                and not np.may_share_memory(grad, self.values))

    def _copy_run(self, runs, grads, start, end):
        """Copy `grads` end to end into self.grads[start:end] and add that run (if any)."""
        if grads:
            np.concatenate([grad.reshape(-1) for grad in grads], out=self.grads[start:end])
            runs.append((start, end, self.grads[start:end]))
            grads.clear()


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
