"""keras.Variable: a weight made by hand, as Keras programs make one outside add_weight.

    class Linear(minidl.Layer):
        def __init__(self):
            super().__init__()
            self.w = minidl.Variable(np.ones((3, 2), np.float32), name="w")   # tracked
            self.b = minidl.Variable("zeros", shape=(2,), name="b")

        def call(self, x):
            return x @ self.w + self.b        # recorded: fit trains w and b

A layer keeps each such Variable assigned as its attribute among its weights (after those
of add_weight), as Keras's layers track them; it is minidl's Variable (variable.py) with
Keras's constructor, so layers, the tape and the optimizers treat it as any weight.
"""
import numpy as np

from minidl import config, naming, variable


class Variable(variable.Variable):
    """A named array of numbers that training may update.

    Args:
        initializer: the value (an array or a number), or an initializer (a name such as
            "zeros", an Initializer, or a function of shape and dtype) with `shape`.
        shape: the shape, needed with an initializer.
        dtype: the dtype (default: the value's; floatx for an initializer or a Python float,
            int32 for a Python int, as Keras).
        trainable: whether fit updates it.
        name: its name (default "variable", numbered as Keras numbers names).
        autocast, aggregation, synchronization, layout: Keras's distribution and
            mixed-precision settings, which change nothing on one CPU in float32: kept.
    """

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                 aggregation="none", synchronization="auto", name=None, layout=None, **kwargs):
        from minidl import initializers

        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name}")
        if isinstance(initializer, str) or callable(initializer):
            if shape is None:
                raise ValueError("When creating a Variable from an initializer, the `shape` "
                                 "argument should be specified. Received: "
                                 f"initializer={initializer} and shape={shape}")
            value = initializers.get(initializer)(tuple(shape), dtype or config.floatx())
        else:
            value = initializer
        if dtype is None and isinstance(value, (bool, int, float)):
            dtype = {bool: "bool", int: "int32", float: config.floatx()}[type(value)]
        value = np.array(value, dtype=dtype)  # a copy the Variable owns
        super().__init__(value, name or naming.auto_name("variable"), trainable)
        self.autocast, self.aggregation = autocast, aggregation
        self.synchronization, self.layout = synchronization, layout

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={self.value}>")
