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


class Node:
    """One call of a layer on symbolic tensors: the edge list of a functional model."""

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
