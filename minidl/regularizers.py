"""Weight and activity penalties added to the training loss: L1, L2 and both (L1L2).

    Dense(64, kernel_regularizer=regularizers.l2(0.01))    loss += 0.01 * sum(W**2)

A regularizer is its penalty and the penalty's gradient (minidl has no autograd). Where
they enter training is training.py::add_penalties: the penalty adds to the loss that fit
logs (and to val_loss and evaluate, as in Keras), its gradient to the weight's.
An activity regularizer penalises a layer's output instead, divided by the batch size
(keras/src/layers/layer.py); its gradient joins backward at that output (layers/base.py).

A regularizer of your own, as Keras's guide writes them, is a function of x or a
`Regularizer` subclass that defines only `__call__`, with minidl.ops or NumPy operators:

    def my_regularizer(x):
        return 1e-3 * ops.sum(ops.square(x))
    Dense(64, kernel_regularizer=my_regularizer)

Its gradient comes from a tape of its own (`gradient_by_tape`), as a loss function's does;
one that writes `gradient(x)` as well gets that one used.
"""
import numpy as np


class Regularizer:
    """Base class: `penalty = regularizer(x)`, `dpenalty/dx = regularizer.gradient(x)`."""

    def __call__(self, x):
        raise NotImplementedError

    def gradient(self, x):
        """d penalty / dx; by default through the ops `__call__` records (gradient_by_tape)."""
        return gradient_by_tape(self, x)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1(Regularizer):
    """penalty = l1 * sum(|x|);  gradient = l1 * sign(x)   (0 at x = 0, as TensorFlow)."""

    def __init__(self, l1=0.01):
        self.l1 = _check("l1", l1)

    def __call__(self, x):
        return x.dtype.type(self.l1) * np.abs(x).sum()

    def gradient(self, x):
        return x.dtype.type(self.l1) * np.sign(x)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """penalty = l2 * sum(x**2);  gradient = 2 * l2 * x."""

    def __init__(self, l2=0.01):
        self.l2 = _check("l2", l2)

    def __call__(self, x):
        return x.dtype.type(self.l2) * np.square(x).sum()

    def gradient(self, x):
        return (2 * x) * x.dtype.type(self.l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """penalty = l1 * sum(|x|) + l2 * sum(x**2) (each term only if its factor is not 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _check("l1", l1), _check("l2", l2)

    def __call__(self, x):
        penalty = x.dtype.type(0)
        if self.l1:
            penalty = penalty + L1(self.l1)(x)
        if self.l2:
            penalty = penalty + L2(self.l2)(x)
        return penalty

    def gradient(self, x):
        grad = np.zeros_like(x)
        if self.l1:
            grad = grad + L1(self.l1).gradient(x)
        if self.l2:
            grad = grad + L2(self.l2).gradient(x)
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def gradient(regularizer, x):
    """d regularizer(x) / dx: its own `gradient(x)` if it has one, else by the tape."""
    own = getattr(regularizer, "gradient", None)
    return own(x) if own is not None else gradient_by_tape(regularizer, x)


def gradient_by_tape(penalty, x):
    """d penalty(x) / dx for a penalty written with minidl.ops and NumPy operators: x goes in
    as a Tracked array (ops/backprop.py), every op it meets is recorded on a tape of its own,
    and backward runs from the penalty with d penalty / d penalty = 1."""
    from minidl.ops import backprop
    from minidl.tape import Tape

    x = np.asarray(x)
    with Tape() as tape, backprop.tracking():
        tape.watch(x)
        value = backprop.untracked(penalty(backprop.tracked(x)))
    problem = tape.undifferentiable(value, 0)
    if problem is not None:
        name = getattr(penalty, "__name__", type(penalty).__name__)
        raise ValueError(
            f"minidl cannot differentiate the regularizer {name}: {problem}. minidl has no "
            "autograd: write the penalty with minidl.ops and NumPy operators on x, e.g. "
            "`1e-3 * ops.sum(ops.square(x))`, or give it a `gradient(x)` method returning "
            "d penalty / dx.")
    return tape.gradient([(value, np.ones_like(value))], [], inputs=[x])[0]


def _check(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not np.isfinite(value) or value < 0:
        raise ValueError(f"Value for argument `{name}` must be a non-negative finite number. "
                         f"Received: {name}={value!r}")
    return float(value)


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards being orthogonal to each other.

    Args:
        factor: the penalty's weight (default 0.01).
        mode: "rows" (a Dense kernel's (input_dim, units): each input's feature vector) or
            "columns".
    Formula (rows; columns: the same on the transpose):
        n_i = x_i / ||x_i||              each row L2-normalized (keras.ops.normalize)
        P = N @ N.T, its diagonal set to 0
        penalty = factor * 0.5 * sum(|P|) / (R * (R - 1) / 2)       R rows
    Its gradient comes from the tape (`gradient_by_tape`), as Keras's from autodiff.
    Source: keras/src/regularizers/regularizers.py::OrthogonalRegularizer.
    """

    def __init__(self, factor=0.01, mode="rows"):
        if isinstance(factor, bool) or not isinstance(factor, (float, int)) \
                or not np.isfinite(factor) or factor < 0:
            raise ValueError("Invalid value for argument factor: expected a non-negative "
                             f"float.Received: factor={factor}")
        if mode not in {"rows", "columns"}:
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.factor, self.mode = float(factor), mode

    def __call__(self, x):
        from minidl import ops

        if len(np.shape(x)) != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={np.shape(x)}")
        if self.mode == "rows":
            x = ops.normalize(x, axis=1)
            product, size = ops.matmul(x, ops.transpose(x)), np.shape(x)[0]  # (R,R)
        else:
            x = ops.normalize(x, axis=0)
            product, size = ops.matmul(ops.transpose(x), x), np.shape(x)[1]  # (C,C)
        off_diagonal = product * (1.0 - np.eye(size, dtype=product.dtype))
        pairs = size * (size - 1.0) / 2.0
        return np.float32(self.factor) * 0.5 * ops.sum(ops.absolute(off_diagonal)) / pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's lowercase names are the classes themselves: regularizers.l2(0.001) is L2(0.001).
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer,
            "OrthogonalRegularizer": OrthogonalRegularizer}


def get(identifier):
    """None, a Regularizer or a function of x, a name ("l2": L2(0.01)), a class (made with
    its defaults), or a {"class_name", "config"} dict (keras/src/regularizers/__init__.py)."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier) and not isinstance(identifier, (str, dict, type)):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}. Expected "
                     f"None, a Regularizer, a function, or one of {sorted(_BY_NAME)}.")


def weight_penalties(weights):
    """The penalty of every weight that has a regularizer, in order: what fit adds to the loss
    (training.py::add_penalties) and what `layer.losses` lists after the last call's losses."""
    return [w.regularizer(w.value) for w in weights if w.regularizer]


def serialize(regularizer):
    """Keras's config form, as `.keras` files store it."""
    if regularizer is None:
        return None
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}
