"""Variable: one trainable array with its gradient and its name, e.g. "dense/kernel"."""
import numpy as np

RECORDED_UFUNCS = {}  # NumPy ufunc -> the op that records it for backpropagation (backprop.py)


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

    # Arithmetic with a weight, `x @ self.w + self.b` in a custom layer's call(): NumPy hands
    # every ufunc that meets a Variable to __array_ufunc__. The ones ops/backprop.py can
    # differentiate go to its ops (it registers them in RECORDED_UFUNCS), which compute on the
    # value and, inside a training step, put the call on the tape with this weight as an input,
    # so that its gradient reaches the weight. Any other ufunc computes on the value.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op = RECORDED_UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if op is not None:
            return op(*inputs)
        inputs = [x.value if isinstance(x, Variable) else x for x in inputs]
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __add__(self, other): return np.add(self, other)
    def __radd__(self, other): return np.add(other, self)
    def __sub__(self, other): return np.subtract(self, other)
    def __rsub__(self, other): return np.subtract(other, self)
    def __mul__(self, other): return np.multiply(self, other)
    def __rmul__(self, other): return np.multiply(other, self)
    def __truediv__(self, other): return np.divide(self, other)
    def __rtruediv__(self, other): return np.divide(other, self)
    def __matmul__(self, other): return np.matmul(self, other)
    def __rmatmul__(self, other): return np.matmul(other, self)
    def __neg__(self): return np.negative(self)
    def __pow__(self, other): return np.power(self, other)

    def __getitem__(self, key):  # a slice of a weight (`self.kernel[:, :units]`), recorded
        from minidl import ops  # (ops import this file)

        return ops.get_item(self, key)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"
