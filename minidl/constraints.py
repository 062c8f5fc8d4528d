"""Weight constraints: a projection applied to a weight after every optimizer step.

    Dense(64, kernel_constraint=constraints.MaxNorm(3))    each column of W: norm <= 3

A constraint is a function of the weight array w returning the array w becomes. Where it
enters training is the optimizer's step (optimizers/base.py::apply): right after the update
of every weight, each weight that has one is assigned `constraint(w)`, as Keras does
(keras/src/optimizers/base_optimizer.py::apply). Nothing is differentiated through it.

Shapes: `norms` has w's shape with the `axis` dimensions kept at 1 (keepdims), so that
`w * scale` scales each slice along `axis`; for a Dense kernel (D,U) and axis=0, one norm
per unit: (1,U).
"""
import inspect

import numpy as np

from minidl import config


class Constraint:
    """Base class: `w = constraint(w)` after each update. The base leaves w unchanged.

    A constraint of your own defines `__call__(self, w)` (w is the weight's NumPy array;
    return the projected array) and, to be saved, `get_config()`. A plain function of w
    works as well.
    """

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    """The L2 norm of each slice along `axis`, kept broadcastable to w."""
    return np.sqrt(np.square(w).sum(axis=_axes(axis), keepdims=True))  # w's shape, axis -> 1


def _axes(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


class NonNeg(Constraint):
    """Constrains the weights to be non-negative.

    Formula:
        w = max(w, 0)          NaN stays NaN, as in Keras's ops.maximum (TensorFlow's)
    TensorFlow's kernel turns -0.0 into +0.0 in its vectorised loop, as np.maximum does, but
    keeps -0.0 in its scalar loop over an array's last few elements: there only the sign
    of a zero can differ from Keras's.
    """

    def __call__(self, w):
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """Constrains the weights incident to each unit to have unit norm.

    Args:
        axis: the axis (or list of axes) the norms are taken over: 0 for a Dense kernel
            (D,U), one norm per unit; [0, 1, 2] for a Conv2D kernel (kh,kw,C,F), one per filter.
    Formula:
        norms = sqrt(sum(w**2, axis))
        w = w / (epsilon + norms)          epsilon = backend.epsilon() = 1e-7
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        eps, = _constants(w, config.epsilon())
        return w / (eps + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MaxNorm(Constraint):
    """Constrains the weights incident to each unit to a norm of at most `max_value`
    (the dropout paper's max-norm, Srivastava et al. 2014).

    Args:
        max_value: the largest norm allowed.
        axis: the axis (or list of axes) the norms are taken over (see UnitNorm).
    Formula:
        norms = sqrt(sum(w**2, axis))
        w = w * clip(norms, 0, max_value) / (epsilon + norms)     epsilon = 1e-7
    A slice already inside the bound is still scaled, by norms / (epsilon + norms), a hair
    below 1: keras/src/constraints/constraints.py divides by epsilon + norms unconditionally.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        eps, zero, top = _constants(w, config.epsilon(), 0, self.max_value)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, zero, top)
        return w * (desired / (eps + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Constrains the weights incident to each unit to a norm between two bounds, moving
    them only part of the way there at each step if `rate` < 1.

    Args:
        min_value, max_value: the bounds of the norm.
        rate: 1.0 enforces the bounds at once; less moves the norm that fraction of the way.
        axis: the axis (or list of axes) the norms are taken over (see UnitNorm).
    Formula:
        norms = sqrt(sum(w**2, axis))
        desired = rate * clip(norms, min_value, max_value) + (1 - rate) * norms
        w = w * desired / (epsilon + norms)                        epsilon = 1e-7
    (1 - rate) is computed in Python floats and rounded once, as Keras's Python expression.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        eps, low, high, rate, keep = _constants(w, config.epsilon(), self.min_value,
                                                self.max_value, self.rate, 1 - self.rate)
        norms = _norms(w, self.axis)
        desired = rate * np.clip(norms, low, high) + keep * norms
        return w * (desired / (eps + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


def _constants(w, *values):
    """Python numbers as scalars of w's float type (a float32 weight stays float32)."""
    dtype = w.dtype if w.dtype.kind == "f" else np.dtype(config.floatx())
    return tuple(dtype.type(v) for v in values)


# Keras's lowercase names are the classes themselves: constraints.max_norm(3) is MaxNorm(3).
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
_BY_NAME = {**{cls.__name__: cls for cls in _CLASSES},
            "constraint": Constraint, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm,
            "non_neg": NonNeg, "unit_norm": UnitNorm}


def serialize(constraint):
    """Keras's config form, as `.keras` files store it (a function: by its name)."""
    if constraint is None:
        return None
    if inspect.isfunction(constraint):
        return {"module": "builtins", "class_name": "function",
                "config": constraint.__name__, "registered_name": "function"}
    cls = type(constraint)
    if cls in _CLASSES:
        return {"module": "keras.constraints", "class_name": cls.__name__,
                "config": constraint.get_config(), "registered_name": None}
    return {"module": cls.__module__, "class_name": cls.__name__,
            "config": constraint.get_config(), "registered_name": cls.__name__}


def deserialize(config, custom_objects=None):
    """A constraint from its config (or a name); classes and functions of your own are
    found by name in `custom_objects`, as in Keras."""
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        found = custom_objects.get(config, _BY_NAME.get(config))
        if found is not None:
            return found() if inspect.isclass(found) else found
    elif isinstance(config, dict) and "class_name" in config:
        name, inner = config["class_name"], config.get("config") or {}
        if name == "function" and isinstance(inner, str) and inner in custom_objects:
            return custom_objects[inner]
        cls = custom_objects.get(config.get("registered_name") or name,
                                 custom_objects.get(name, _BY_NAME.get(name)))
        if inspect.isclass(cls):
            return cls.from_config(inner)
    raise ValueError(f"Could not interpret constraint identifier: {config}")


def get(identifier):
    """None, a Constraint or a function of w, a name ("max_norm": MaxNorm()), a class,
    or a {"class_name", "config"} dict."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier}")
