"""A layer called on several tensors, or given a tensor by keyword: `layer(targets, logits)`.

    class LogisticEndpoint(Layer):                     keras.io's training guide
        def call(self, targets, logits, sample_weights=None): ...

    predictions = LogisticEndpoint()(targets, logits)            two tensors, as arguments
    y = LSTM(8)(x, mask=ops.not_equal(ids, 0))                   a mask made in the graph
    y = MultiHeadAttention(2, 4)(x, x, attention_mask=causal)    a mask tensor by keyword

Keras binds what `layer(...)` was given to call()'s signature (keras/src/layers/layer.py,
CallSpec): every tensor among the arguments, wherever it is, is an input of the call. minidl
does the same in two steps, and only for such calls (the usual `layer(x)` never comes here):

- on arrays, the tensors are taken out of the arguments as one flat list, which Layer.__call__
  casts, builds, watches and runs as it runs a list of inputs; `forward` puts them back where
  they were before calling `call(*args, **kwargs)`. So a call() of your own is differentiated
  as any other: its NumPy operators and minidl.ops on the tracked arrays are on the tape.
- on KerasTensors, the node of the functional graph keeps the arguments as given
  (`node.call_args`, `node.call_kwargs`, KerasTensors inside, as Keras's Node), its inputs are
  every KerasTensor among them, and graph.py calls `layer(*args, **kwargs)` with each replaced
  by its array. `.keras` files write them as Keras does: {"args": [...], "kwargs": {...}}.

The layer is built as Keras's `_maybe_build` builds it: `build(first_shape)` when build takes
one argument, else `build(targets_shape=..., logits_shape=...)` by call()'s argument names.
"""
import inspect

import numpy as np

from minidl import masks
from minidl.ops import backprop
from minidl.layers.symbolic import KerasTensor, Node
from minidl.tape import flatten


def is_tensor(value):
    return isinstance(value, (np.ndarray, KerasTensor))


def call_several(layer, inputs, args, kwargs, training, mask):
    """`layer(inputs, *args, training=, mask=, **kwargs)` with several tensors (or a
    KerasTensor mask): bound to the layer's call() signature, then run or recorded."""
    from minidl.layers.base import GRAPH_CALLS, Layer

    call = getattr(layer, "call", None)
    if call is None or getattr(call, "__func__", None) in GRAPH_CALLS:
        # minidl's own layers (forward/backward) take one tensor; a second positional
        # argument is `training`, as in their Keras call(inputs, training=None)
        if len(args) == 1 and not kwargs and not is_tensor(args[0]):
            return layer(inputs, training=args[0], mask=mask)
        if kwargs:
            raise TypeError(f"{type(layer).__name__}.__call__ got unexpected keyword "
                            f"arguments {sorted(kwargs)}")
        if args:
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}) takes one tensor argument "
                "(a list for several), then `training`. Received: a second positional "
                f"argument of type {type(args[0]).__name__}")
        return _symbolic(layer, [inputs], {}, None, mask)  # layer(x, mask=m)
    for value in flatten([inputs, *args]):  # Keras's Layer.__call__, step 2
        if not (value is None or is_tensor(value) or isinstance(value, np.generic)):
            raise ValueError(
                "Only input tensors may be passed as positional arguments. The following "
                f"argument value should be passed as a keyword argument: {value} "
                f"(of type {type(value)})")
    bound = inspect.signature(call).bind(inputs, *args, **kwargs)  # Keras's TypeError
    if "training" in bound.arguments:  # given by position: `layer(x, True)`
        given = bound.arguments.pop("training")
        training = given if training is None else training
    if "mask" in bound.arguments:
        given = bound.arguments.pop("mask")
        mask = given if mask is None else mask
    call_args, call_kwargs = list(bound.args), dict(bound.kwargs)
    if not call_kwargs and len(call_args) == 1 and not isinstance(mask, KerasTensor):
        return Layer.__call__(layer, inputs, training=training, mask=mask)
    if any(isinstance(t, KerasTensor) for t in flatten((call_args, call_kwargs, mask))):
        return _symbolic(layer, call_args, call_kwargs, _tensor_arguments(bound), mask,
                         training)
    return _eager(layer, call_args, call_kwargs, _tensor_arguments(bound), training, mask)


def _tensor_arguments(bound):
    """{name: tensor, or a list of tensors} of call()'s arguments, as Keras's CallSpec, with
    its error for a list mixing tensors and other values."""
    tensors = {}
    for name, value in bound.arguments.items():
        leaves = flatten(value) if isinstance(value, (list, tuple, dict)) else [value]
        if isinstance(value, (list, tuple, dict)) and not leaves:
            continue
        if all(is_tensor(v) or (v is None and len(leaves) > 1) for v in leaves):
            tensors[name] = value
        elif any(is_tensor(v) for v in leaves):
            raise ValueError("In a nested call() argument, you cannot mix tensors and "
                             f"non-tensors. Received invalid mixed argument: {name}={value}")
    return tensors


def _shapes(tensors):
    """Keras's get_shapes_dict: {"<name>_shape": shape} of the tensor arguments."""
    def shape(t):
        return None if t is None else tuple(t.shape)

    return {f"{name}_shape": (shape(value) if is_tensor(value) else
                              [shape(t) for t in flatten(value)])
            for name, value in tensors.items() if name not in ("mask", "args", "kwargs")}


def build(layer, tensors, call):
    """Keras's _maybe_build for a call of several tensors (keras/src/layers/layer.py)."""
    from minidl.layers.base import Layer

    shapes = _shapes(tensors)
    first = next(iter(shapes.values()), None)
    layer.check_input_shape(first)  # Keras checks the input spec of the first argument only
    if layer.built:
        return
    if type(layer).build is not Layer.build:
        names = [name for name, p in inspect.signature(layer.build).parameters.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY, p.KEYWORD_ONLY)]
        if len(names) == 1:
            layer.build(first)
        else:
            layer.build(**_shapes_by_name(layer, names, shapes, call))
    layer.built = True
    layer.input_shape = first
    layer._build_shapes_dict = shapes  # a .keras file's build_config, as Keras's


def _shapes_by_name(layer, names, shapes, call):
    """build(a_shape, b_shape): each argument named after one of call()'s (Keras's rule)."""
    preamble = ("For a `build()` method with more than one argument, all arguments should "
                "have a `_shape` suffix and match an argument from `call()`. E.g. "
                "`build(self, foo_shape, bar_shape)` ")
    call_names = inspect.signature(call).parameters
    for name in names:
        if not name.endswith("_shape"):
            raise ValueError(f"{preamble} For layer '{type(layer).__name__}', Received "
                             f"`build()` argument `{name}`, which does not end in `_shape`.")
        if name[:-len("_shape")] not in call_names:
            raise ValueError(f"{preamble} For layer '{type(layer).__name__}', received "
                             f"`build()` argument `{name}`, but `call()` does not have "
                             f"argument `{name[:-len('_shape')]}`.")
    return {name: shapes[name] for name in names if name in shapes}


def _eager(layer, call_args, call_kwargs, tensors, training, mask):
    """The call on arrays: its arrays as one list through Layer.__call__ (cast, built, on the
    tape), put back in their places for call() by `forward` (base.py)."""
    from minidl.layers.base import _cast, _context

    build(layer, tensors, layer.call)
    first = call_args[0]
    given_mask = mask
    if mask is None and isinstance(first, np.ndarray):
        mask = masks.mask_of(backprop.untracked(first))  # Keras's previous_mask: the first
        # argument's

    def call(arrays, options):
        """call() on `arrays` (the tensors, cast and tracked) in their places."""
        arrays = iter(arrays)
        args, kwargs = _replace((call_args, call_kwargs), lambda t: next(arrays), np.ndarray)
        if given_mask is None:
            options.pop("mask", None)  # (Keras gives call() no mask of several tensors)
        return layer.call(*args, **kwargs, **options)

    given = [backprop.untracked(a) for a in flatten((call_args, call_kwargs))
             if isinstance(a, np.ndarray)]  # the arrays the tape knows
    outer = _context.arguments
    _context.arguments = (layer, call)
    try:
        return layer._call_arrays(_cast(given), given, training, mask)
    finally:
        _context.arguments = outer


def _symbolic(layer, call_args, call_kwargs, tensors, mask, training=None):
    """The call on KerasTensors: a node keeping the arguments as given (Keras's Node), and
    `training` if given (base.py's fixed_training)."""
    from minidl.layers.base import Layer

    if mask is not None:
        call_kwargs = {**call_kwargs, "mask": mask}
    inputs = keras_tensors(call_args, call_kwargs)
    if type(layer).forward is not Layer.forward or not hasattr(layer, "call"):
        # layer(x, mask=m) on a layer of minidl's: one tensor, its output shape known
        outputs = layer._call_symbolic(call_args[0])
        node = layer._inbound_nodes[-1]
        node.inputs, node.input_tensors = inputs, inputs
    else:
        build(layer, tensors, layer.call)
        output_shape, dtypes = _output_shape(layer, call_args, call_kwargs)
        node = Node(layer, inputs, None)
        if isinstance(output_shape, list):
            outputs = [KerasTensor(s, d, node=node, index=i, name=layer.name)
                       for i, (s, d) in enumerate(zip(output_shape, dtypes))]
        else:
            outputs = KerasTensor(output_shape, dtypes[0], node=node, name=layer.name)
        node.outputs, node.output_tensors = outputs, flatten(outputs)
        if layer.output_shape is None:
            layer.output_shape = output_shape
    node.call_args, node.call_kwargs = call_args, call_kwargs
    if training is not None:
        node.training = bool(training)
    return outputs


def _output_shape(layer, call_args, call_kwargs):
    """The output shape(s) and dtypes: call() run on zeros (ones for a mask), each unknown
    size tried as 1 and 2; a size that differs between the two is unknown (None)."""
    from minidl.layers.lambda_layer import _unknown_where_different

    runs, before = [], layer.output_shape
    for size in (1, 2):
        def zeros(t):
            shape = (size,) + tuple(size if d is None else d for d in t.shape[1:])
            return np.ones(shape, bool) if t.dtype == "bool" else np.zeros(shape, t.dtype)

        args, kwargs = _replace((call_args, call_kwargs), zeros, KerasTensor)
        outputs = layer(*args, **kwargs)
        runs.append(outputs)
    layer._clear_losses()  # (the losses of a run on zeros are no call's)
    layer.output_shape = before  # (the shape of a batch of 2)
    several = isinstance(runs[0], (list, tuple))
    shapes = [[tuple(np.shape(y)) for y in (run if several else [run])] for run in runs]
    merged = [(None,) + _unknown_where_different(a, b)[1:] if a else ()
              for a, b in zip(*shapes)]  # (the batch axis is unknown, as any input's)
    dtypes = [np.asarray(y).dtype.name for y in (runs[0] if several else [runs[0]])]
    return (merged if several else merged[0]), dtypes


def _replace(structure, function, kind):
    """The structure with each leaf of type `kind` replaced by function(leaf)."""
    if isinstance(structure, kind):
        return function(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_replace(item, function, kind) for item in structure)
    if isinstance(structure, dict):
        return {key: _replace(item, function, kind) for key, item in structure.items()}
    return structure


def keras_tensors(call_args, call_kwargs):
    """The KerasTensors among a call's arguments, in Keras's order (keras.tree.flatten: the
    positional ones, then the keyword ones by sorted name): the node's inputs."""
    leaves = flatten((call_args, [call_kwargs[name] for name in sorted(call_kwargs)]))
    return [t for t in leaves if isinstance(t, KerasTensor)]


def fill_in(structure, values):
    """The node's arguments with every KerasTensor replaced by its array (graph.py)."""
    return _replace(structure, lambda t: values[id(t)], KerasTensor)
