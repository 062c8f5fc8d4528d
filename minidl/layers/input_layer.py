"""The entry point of a model: `Input((784,))` and the InputLayer behind it."""
import numpy as np

from minidl.layers.base import Layer, check_shape_arg
from minidl.layers.symbolic import KerasTensor, Node


class InputLayer(Layer):
    """The entry point of a model: passes its input through, holds the sample shape."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None,
                 batch_shape=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is not None:
            batch_shape = tuple(batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("You must pass a `shape` argument to Input, e.g. Input(shape=(784,)).")
        self.shape = check_shape_arg("shape", shape, scalars=True)
        self.batch_shape = (batch_size,) + self.shape
        self._maybe_build(self.batch_shape)
        node = Node(self, [], None, is_input=True)  # `self.output` is its tensor (base.py)
        tensor = KerasTensor(self.batch_shape, dtype=self.dtype, node=node, name=self.name)
        node.outputs, node.output_tensors = tensor, [tensor]

    @property
    def takes_raw_inputs(self):
        """Text (for a TextVectorization or StringLookup) and integers (ids for an
        IntegerLookup or an Embedding) stay as given, as Keras keeps an Input's dtype."""
        return self.dtype == "string" or np.dtype(self.dtype).kind in "biu"

    def forward(self, x, training=False):
        return x, None

    def backward(self, dy, cache, need_dx=True):
        return dy, {}

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """A symbolic input for functional models: `x = Input((784,)); y = Dense(10)(x)`."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape).output
