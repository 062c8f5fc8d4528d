"""Variable: one trainable array with its gradient and its name, e.g. "dense/kernel"."""
import numpy as np


class Variable:
    """A parameter: its value, the gradient of the loss with respect to it, and its name.

    Layers own their Variables; backward returns their gradients; the optimizer's step
    updates `value` in place and leaves the gradient it applied in `grad`. Keeping the two
    side by side is what lets a learner print a weight next to its last gradient.
    """

    def __init__(self, value, name, trainable=True, regularizer=None, constraint=None):
        self.value = value
        self.regularizer = regularizer  # a penalty on this weight (regularizers.py), or None
        self.constraint = constraint  # w = constraint(w) after each step (constraints.py)
        self.grad = np.zeros_like(value)
        self.name = name  # e.g. "kernel"
        self.path = name  # e.g. "dense/kernel", set by the owning layer
        self.trainable = trainable
        self.flat = None  # the layout.Flat this variable lies in, if any (see layout.py)

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

    def assign_add(self, value):
        self.value[...] += value

    def assign_sub(self, value):
        self.value[...] -= value

    # A Variable reads as its value in NumPy expressions (`self.total + x` in a custom metric).
    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __float__(self):
        return float(self.value)

    def __add__(self, other): return self.value + other
    def __radd__(self, other): return other + self.value
    def __sub__(self, other): return self.value - other
    def __rsub__(self, other): return other - self.value
    def __mul__(self, other): return self.value * other
    def __rmul__(self, other): return other * self.value
    def __truediv__(self, other): return self.value / other
    def __rtruediv__(self, other): return other / self.value
    def __neg__(self): return -self.value

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"
