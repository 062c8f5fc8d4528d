"""Symbolic tensors and the nodes they come from: how a functional model is wired.

    x = Input((784,))          a KerasTensor: a shape, no numbers
    h = Dense(64)(x)           calling a layer on it records a Node and returns a new KerasTensor

graph.py walks these nodes back from a model's outputs to order and run the layers.
"""
from minidl import config
from minidl.tape import flatten


class KerasTensor:
    """A symbolic tensor: a shape with batch dimension None, and the node that made it."""

    def __init__(self, shape, dtype=None, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype or config.floatx()
        self.node, self.index = node, index  # made by output `index` of `node`
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # Operators add the op of the same meaning to the graph, as Keras's KerasTensor
    # (keras/src/backend/common/keras_tensor.py): `h + x` is ops.add(h, x), `x[:, -1]` is
    # ops.get_item(x, (slice(None), -1)). minidl/layers/operation.py says how.
    def __add__(self, other): return _ops().add(self, other)
    def __radd__(self, other): return _ops().add(other, self)
    def __sub__(self, other): return _ops().subtract(self, other)
    def __rsub__(self, other): return _ops().subtract(other, self)
    def __mul__(self, other): return _ops().multiply(self, other)
    def __rmul__(self, other): return _ops().multiply(other, self)
    def __matmul__(self, other): return _ops().matmul(self, other)
    def __rmatmul__(self, other): return _ops().matmul(other, self)
    def __truediv__(self, other): return _ops().true_divide(self, other)
    def __rtruediv__(self, other): return _ops().true_divide(other, self)
    def __floordiv__(self, other): return _ops().floor_divide(self, other)
    def __rfloordiv__(self, other): return _ops().floor_divide(other, self)
    def __mod__(self, other): return _ops().mod(self, other)
    def __rmod__(self, other): return _ops().mod(other, self)
    def __pow__(self, other): return _ops().power(self, other)
    def __rpow__(self, other): return _ops().power(other, self)
    def __neg__(self): return _ops().negative(self)
    def __abs__(self): return _ops().absolute(self)
    def __lt__(self, other): return _ops().less(self, other)
    def __le__(self, other): return _ops().less_equal(self, other)
    def __gt__(self, other): return _ops().greater(self, other)
    def __ge__(self, other): return _ops().greater_equal(self, other)
    def __ne__(self, other): return _ops().not_equal(self, other)
    def __and__(self, other): return _ops().logical_and(self, other)
    def __rand__(self, other): return _ops().logical_and(other, self)
    def __or__(self, other): return _ops().logical_or(self, other)
    def __ror__(self, other): return _ops().logical_or(other, self)
    def __xor__(self, other): return _ops().logical_xor(self, other)
    def __rxor__(self, other): return _ops().logical_xor(other, self)
    def __invert__(self): return _ops().logical_not(self)
    def __getitem__(self, key): return _ops().get_item(self, key)
    __hash__ = object.__hash__  # defining __ne__ leaves == and hashing as identity
    __array_ufunc__ = None  # `np.float32(2) * x` and `array + x` are x's operators too

    def __iter__(self):  # (else Python would iterate with x[0], x[1], ... for ever)
        raise NotImplementedError("Iterating over a symbolic KerasTensor is not supported.")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a boolean.")


def _ops():
    from minidl import ops  # (ops imports layers lazily; layers import this file)

    return ops


class Node:
    """One call of a layer on symbolic tensors: the edge list of a functional model."""

    call_args = None  # a call of several tensors: its arguments as given (call_arguments.py)
    training = None  # `training` given at the call (base.py's fixed_training)

    def __init__(self, layer, inputs, outputs, is_input=False):
        self.layer = layer
        self.inputs = inputs  # a KerasTensor or a list of them, as the layer was called
        self.outputs = outputs  # a KerasTensor or a list of them
        self.input_tensors = flatten(inputs)
        self.output_tensors = flatten(outputs)
        self.is_input = is_input  # made by an InputLayer: where a model's data enters
        layer._inbound_nodes.append(self)

    @property
    def parent_nodes(self):
        return [t.node for t in self.input_tensors if t.node is not None]


def get_source_inputs(tensor):
    """The Input tensors a symbolic tensor is computed from, in the order its layers meet
    them, each once (keras.utils.get_source_inputs); anything else is returned as it is."""
    if not isinstance(tensor, KerasTensor):
        return tensor
    if tensor.node is None:
        return [tensor]
    if tensor.node.is_input:
        return list(tensor.node.output_tensors)
    sources = []
    for parent in tensor.node.input_tensors:
        sources += [x for x in get_source_inputs(parent) if all(x is not s for s in sources)]
    return sources
