"""Variable: one trainable array with its gradient and its name, e.g. "dense/kernel"."""
import numpy as np


class Variable:
    """A parameter: its value, the gradient of the loss with respect to it, and its name.

    Layers own their Variables; `backward` writes `grad`; optimizers read `grad` and
    update `value` in place. Keeping the two side by side is what lets a learner print
    a weight next to its gradient.
    """

    def __init__(self, value, name, trainable=True):
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name  # e.g. "kernel"
        self.path = name  # e.g. "dense/kernel", set by the owning layer
        self.trainable = trainable
        self.flat = None  # the Flat this variable was laid out in, if any (see lay_end_to_end)

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def numpy(self):
        """A copy of the value, like `keras.Variable.numpy()`."""
        return self.value.copy()

    def assign(self, value):
        """Overwrite the value in place (shape and dtype are kept)."""
        self.value[...] = value

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


class Flat:
    """Variables laid end to end: `values` and `grads` are flat arrays, in `variables` order."""

    def __init__(self, variables, values, grads):
        self.variables, self.values, self.grads = variables, values, grads


def lay_end_to_end(variables):
    """Move the variables' values and grads into one flat array each, end to end, in order.

    Each variable's `value` and `grad` become views into the flat arrays, shaped as before,
    so everything that reads or writes a weight works unchanged. What it buys: an optimizer
    can update every variable at once, one NumPy call per operation instead of one per
    variable (see Optimizer.apply), which is most of an update's cost for small models.
    Returns the Flat record, also kept as each variable's `.flat`.
    """
    variables = list(variables)
    if not variables or len({v.dtype for v in variables}) > 1:
        return None
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
