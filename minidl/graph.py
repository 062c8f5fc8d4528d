"""The graph of a functional model: which layer runs on which tensors, in which order.

    x = Input((784,));  h = Dense(64)(x);  y = Dense(10)(h);  Model(x, y)

Each layer call on symbolic tensors made a Node (layers/base.py). `Graph(inputs, outputs)`
walks back from the outputs, orders the nodes from inputs to outputs, and runs them on data.
The order is Keras's (keras/src/ops/function.py::map_graph): nodes grouped by depth (the
number of layer calls between a node and the outputs), deepest first; within a depth, by when
a depth-first walk from the outputs first met the layer. That order fixes `model.layers`,
hence `get_weights()`, so it must be Keras's to the letter.
"""
from collections import defaultdict

from minidl.layers.call_arguments import fill_in
from minidl.tape import flatten


class Graph:
    """The nodes between `inputs` and `outputs` (KerasTensors, or lists of them)."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        nodes, node_depth, layer_depth, first_seen = _map_graph(self.inputs, self.outputs)
        by_depth = defaultdict(list)
        for node in nodes:
            by_depth[node_depth[node]].append(node)
        self.nodes_by_depth = dict(by_depth)
        # Execution order: deepest nodes first, ties in the order they were reached.
        self.nodes = [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]
        layers_by_depth = defaultdict(list)
        for layer, depth in layer_depth.items():
            layers_by_depth[depth].append(layer)
        self.layers = [layer for depth in sorted(layers_by_depth, reverse=True)
                       for layer in sorted(layers_by_depth[depth], key=first_seen.get)]
        _check_connected(self.inputs, self.nodes)
        names = [layer.name for layer in self.layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f'The name "{name}" is used {names.count(name)} times in the '
                                 "model. All layer names should be unique.")

    def run(self, inputs, training=None):
        """Call every layer in order on real arrays; returns the list of output arrays."""
        values = {id(t): array for t, array in zip(self.inputs, inputs)}
        outer = training
        for node in self.nodes:
            if node.is_input:
                continue
            training = node.training if outer is None else outer  # see base.fixed_training
            if node.call_args is not None:  # layer(targets, logits), layer(x, mask=m): the
                # arguments as given, each KerasTensor replaced (layers/call_arguments.py)
                outputs = node.layer(*fill_in(node.call_args, values), training=training,
                                     **fill_in(node.call_kwargs, values))
            else:  # layer(x), layer([a, b]); the options of the call (use_causal_mask=True)
                outputs = node.layer(_fill_in(node.inputs, values), training=training,
                                     **getattr(node, "call_kwargs", {}))
            for tensor, array in zip(node.output_tensors, flatten(outputs)):
                values[id(tensor)] = array
        return [values[id(t)] for t in self.outputs]


    def output_shapes(self, input_shapes):
        """The outputs' shapes for inputs of `input_shapes`: each node's layer (or op) gives
        its output shape from its inputs', in order. A call with several arguments keeps the
        shape it was made with."""
        shapes = {id(t): tuple(s) for t, s in zip(self.inputs, input_shapes)}
        for node in self.nodes:
            if node.is_input:
                continue
            if node.call_args is None:
                given = tree_map(lambda t: shapes[id(t)], node.inputs)
                found = node.layer.compute_output_shape(given)
            else:
                found = [t.shape for t in node.output_tensors]
            found = found if isinstance(found, list) else [found]
            for tensor, shape in zip(node.output_tensors, found):
                shapes[id(tensor)] = tuple(shape)
        return [shapes[id(t)] for t in self.outputs]


def tree_map(function, structure):
    """function applied to each KerasTensor of a node's inputs (a tensor or a list of them)."""
    if isinstance(structure, (list, tuple)):
        return [tree_map(function, item) for item in structure]
    return function(structure)


def _fill_in(structure, values):
    """The node's input structure with every KerasTensor replaced by its array."""
    if isinstance(structure, (list, tuple)):
        return [_fill_in(item, values) for item in structure]
    return values[id(structure)]


def _map_graph(inputs, outputs):
    """Keras's map_graph: nodes in decreasing depth, their depths, layer depths, first-seen order."""
    nodes, first_seen = [], {}
    finished, in_progress = set(), set()
    for output in outputs:
        _walk(inputs, output, finished, in_progress, nodes, first_seen)
    node_depth, layer_depth, in_graph = {}, {}, set(nodes)
    for node in reversed(nodes):
        depth = node_depth.setdefault(node, 0)
        # A layer used at several depths (shared) takes the deepest.
        depth = max(depth, layer_depth.get(node.layer, 0))
        layer_depth[node.layer], node_depth[node] = depth, depth
        for parent in node.parent_nodes:
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for tensor in inputs:  # inputs not connected to any output still belong to the model
        node = tensor.node
        if node.layer not in layer_depth and node.is_input:
            layer_depth[node.layer], node_depth[node], first_seen[node.layer] = 0, 0, -1
            nodes.append(node)
    return nodes, node_depth, layer_depth, first_seen


def _walk(inputs, tensor, finished, in_progress, nodes, first_seen):
    """Depth-first from `tensor` back to the inputs, appending nodes after their parents."""
    node = tensor.node
    if node is None or node in finished:
        return
    if not node.is_input and any(tensor is t for t in inputs):
        finished.add(node)  # a declared input made by an outside layer: stop here
        return
    if node in in_progress:
        raise ValueError(f"Tensor {tensor} from layer '{node.layer.name}' is part of a cycle.")
    first_seen.setdefault(node.layer, len(first_seen))
    in_progress.add(node)
    if not node.is_input:
        for parent_tensor in node.input_tensors:
            _walk(inputs, parent_tensor, finished, in_progress, nodes, first_seen)
    finished.add(node)
    in_progress.remove(node)
    nodes.append(node)


def _check_connected(inputs, nodes):
    """Every node's inputs must be computable from the model's inputs."""
    known = {id(t) for t in inputs}
    for node in nodes:
        for tensor in node.input_tensors:
            if id(tensor) not in known:
                raise ValueError(
                    f"Graph disconnected: cannot find parent for tensor {tensor} at layer "
                    f"'{node.layer.name}'. Every input of the model must be passed as "
                    "`inputs=` to Model(...)."
                )
        known.update(id(t) for t in node.output_tensors)
