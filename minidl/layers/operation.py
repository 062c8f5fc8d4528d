"""minidl.ops and operators on symbolic tensors: a step of a functional model that is not a layer.

    inputs = Input((3,))
    h = Dense(3)(inputs)
    outputs = ops.expand_dims(h + inputs, -1)      # Keras 3: each op becomes a node, as a layer

In Keras 3 every op called on a KerasTensor (keras/src/ops/operation.py::symbolic_call) adds
a node to the graph, and so does each operator (`h + inputs`, `x[:, -1]`, `-x`, `2 * x`:
keras/src/backend/common/keras_tensor.py). Here that node's layer is an `Operation`: it
holds the op and the arguments it was given, with each KerasTensor in them replaced by the
array that reaches it when the model runs. Its `call` runs the op itself, so in a training
step the op records itself on the tape as in any call() of your own (ops/backprop.py), and
backpropagation needs nothing more.

As in Keras, an Operation is in the graph and in `summary()` ("add (Add)") but not in
`model.layers`; its output shape is the shape the op gives (found by running it on arrays of
ones, `_output_shape`). `.keras` files hold the ops whose arguments keras.ops splits as
Keras does (`SAVED_CALL_ARGUMENTS`): the ones a functional model writes most.
"""
import inspect

import numpy as np

from minidl import naming
from minidl.layers.base import Layer
from minidl.layers.symbolic import KerasTensor
from minidl.tape import flatten


class Operation(Layer):
    """One minidl.ops call in a functional model, on the tensors that reach it.

    Args:
        function: the op (a function of minidl.ops).
        op_name: its name in keras.ops ("add", "expand_dims"): Keras's class is that name in
            CamelCase ("Add", "ExpandDims").
        args, kwargs: what the op was called with, KerasTensors included.
    """

    takes_raw_inputs = True  # ints and bools pass as they are (ops.cast, ops.equal, ...)

    def __init__(self, function, op_name, args, kwargs, name=None):
        self.class_name = "".join(part.capitalize() for part in op_name.split("_"))
        super().__init__(name=name or naming.auto_name(naming.to_snake_case(self.class_name)))
        self.function, self.op_name = function, op_name
        self.args, self.kwargs = args, kwargs
        self.built = True

    @property
    def tensors(self):
        """The KerasTensors among the arguments, in order: this node's inputs."""
        return [t for t in _leaves((self.args, self.kwargs)) if isinstance(t, KerasTensor)]

    def call(self, inputs):
        arrays = iter(inputs if isinstance(inputs, list) else [inputs])
        args, kwargs = _replace_tensors((self.args, self.kwargs), arrays)
        return self.function(*args, **kwargs)

    def compute_output_shape(self, input_shape):
        return _output_shape(self, input_shape)

    def compute_mask(self, inputs, mask=None):
        return None  # an op's result carries no mask (as Keras's ops)

    def _pass_mask_on(self, inputs, outputs, mask):
        pass  # dropped without a warning: Keras's ops do not look at masks

    def count_params(self):
        return 0

    def _no_backward_error(self):
        return ValueError(
            f"minidl cannot train through ops.{self.op_name} (the node '{self.name}' of this "
            "functional model): minidl has no autograd, and this op is not among the ones "
            "recorded with their derivative (minidl/ops/backprop*.py). Move it before the "
            "first weight, or compute it with recorded ops or in a Layer of your own with a "
            "`backward`.")


def symbolic_call(function, op_name, args, kwargs):
    """`function(*args, **kwargs)` with KerasTensors among the arguments: a new node of the
    graph, and its output KerasTensor(s)."""
    return _call(Operation(function, op_name, args, kwargs))


def _call(operation):
    tensors = operation.tensors
    outputs = operation(tensors[0] if len(tensors) == 1 else tensors)
    for tensor, dtype in zip(flatten(outputs), operation.output_dtypes):
        tensor.dtype = dtype  # ops.equal's bool, ops.argmax's int, ...
    return outputs


def has_keras_tensor(args, kwargs):
    """Whether a KerasTensor is among the arguments (or in a list of them: ops.concatenate)."""
    return any(isinstance(leaf, KerasTensor) for leaf in _leaves((args, kwargs)))


def _output_shape(operation, input_shape):
    """The op's output shape: run it on arrays of ones twice, with each unknown dimension (None)
    3 and then 5; a dimension of the result that differs between the two is unknown too.

    Keras writes each op's shape rule out (compute_output_spec); minidl lets the op tell.
    """
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    tensors = operation.tensors
    results = []
    for size in (3, 5):
        arrays = [np.ones([size if d is None else d for d in shape], dtype=t.dtype)
                  for shape, t in zip(shapes, tensors)]
        with np.errstate(all="ignore"):  # log(1), 1 / 0 and friends: only the shape counts
            results.append(operation.call(arrays if len(arrays) > 1 else arrays[0]))
    first, second = results
    several = isinstance(first, (list, tuple))
    operation.output_dtypes = [np.asarray(a).dtype.name for a in (first if several else [first])]
    if several:
        return [_merge(np.shape(a), np.shape(b)) for a, b in zip(first, second)]
    return _merge(np.shape(first), np.shape(second))


def _merge(first, second):
    return tuple(a if a == b else None for a, b in zip(first, second))


def _leaves(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _leaves(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in _leaves(item)]
    return [structure]


def _replace_tensors(structure, arrays):
    """The structure with each KerasTensor replaced by the next of `arrays`."""
    if isinstance(structure, KerasTensor):
        return next(arrays)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_replace_tensors(item, arrays) for item in structure)
    if isinstance(structure, dict):
        return {key: _replace_tensors(item, arrays) for key, item in structure.items()}
    return structure


# -- in .keras files ------------------------------------------------------------------------------
# The ops a functional model's file can hold, with keras.ops's split of their arguments: these
# are the op's call arguments ("args" of its node, tensors or numbers); its other arguments are
# the op's config (`ExpandDims(axis=-1)`). Keras's module for each: keras.src.ops.<kind>.
_BINARY = ("x1", "x2")
SAVED_CALL_ARGUMENTS = {
    **{name: ("numpy", _BINARY) for name in (
        "add", "subtract", "multiply", "divide", "true_divide", "power", "matmul", "maximum",
        "minimum", "floor_divide", "mod", "equal", "not_equal", "less", "less_equal",
        "greater", "greater_equal", "logical_and", "logical_or", "logical_xor")},
    **{name: ("numpy", ("x",)) for name in (
        "negative", "absolute", "abs", "exp", "log", "sqrt", "square", "tanh", "logical_not",
        "expand_dims", "squeeze", "reshape", "transpose", "mean", "sum", "max", "min", "clip",
        "flip", "cumsum", "tile", "repeat", "broadcast_to", "stack")},
    "concatenate": ("numpy", ("xs",)),
    "where": ("numpy", ("condition", "x1", "x2")),
    "get_item": ("numpy", ("x", "key")),
    **{name: ("nn", ("x",)) for name in ("relu", "sigmoid", "softmax", "silu", "gelu")},
    "cast": ("core", ("x",)),
}


def to_config(operation, value_config):
    """The op as Keras's Functional.get_config writes it; `value_config(tensor)` writes a
    KerasTensor. Raises for an op minidl cannot write as Keras would."""
    if operation.op_name not in SAVED_CALL_ARGUMENTS:
        raise ValueError(
            f"minidl cannot save a functional model that calls ops.{operation.op_name} on its "
            f"symbolic tensors (node '{operation.name}'): it writes only the ops whose "
            f"arguments it splits as Keras does ({sorted(SAVED_CALL_ARGUMENTS)}). Wrap the "
            "computation in a Layer of your own (with get_config), or use those ops.")
    kind, call_names = SAVED_CALL_ARGUMENTS[operation.op_name]
    function = getattr(operation.function, "on_arrays", operation.function)
    given = inspect.signature(function).bind(*operation.args, **operation.kwargs)
    given.apply_defaults()
    arguments = dict(given.arguments)
    args = [_encode(arguments.pop(name), value_config) for name in call_names]
    return {"module": f"keras.src.ops.{kind}", "class_name": operation.class_name,
            "config": {"name": operation.name, **{k: _encode(v, value_config)
                                                   for k, v in arguments.items()}},
            "registered_name": operation.class_name, "name": operation.name,
            "inbound_nodes": [{"args": args, "kwargs": {}}]}


def from_config(entry, args):
    """The op a `.keras` file's `entry` holds, called on `args` (its node's arguments, the
    KerasTensors filled in): its output KerasTensor(s)."""
    from minidl import ops

    op_name = naming.to_snake_case(entry["class_name"])
    if op_name not in SAVED_CALL_ARGUMENTS:
        raise ValueError(
            f"minidl cannot load the op {entry['class_name']} (node '{entry.get('name')}') of "
            f"this functional model: it reads the ops {sorted(SAVED_CALL_ARGUMENTS)}.")
    _, call_names = SAVED_CALL_ARGUMENTS[op_name]
    config = {k: v for k, v in entry["config"].items() if k != "name"}
    kwargs = {**dict(zip(call_names, [_decode(a) for a in args])), **config}
    operation = Operation(getattr(ops, op_name), op_name, (), kwargs, name=entry["config"]["name"])
    return _call(operation)


def _encode(value, value_config):
    """A call argument in a config: a KerasTensor, a number, a list, a constant array, or an
    index (get_item's slices, None and ... as Keras writes them)."""
    if isinstance(value, KerasTensor):
        return value_config(value)
    if isinstance(value, (list, tuple)):
        return [_encode(item, value_config) for item in value]
    if isinstance(value, slice):
        return {"class_name": "__slice__",
                "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, np.ndarray):  # a constant (`x + mean`): Keras's "__tensor__"
        return {"class_name": "__tensor__",
                "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype):
        return value.name
    return value


def _decode(value):
    if isinstance(value, dict) and value.get("class_name") == "__tensor__":
        return np.array(value["config"]["value"], value["config"]["dtype"])
    if isinstance(value, dict) and value.get("class_name") == "__slice__":
        return slice(value["config"]["start"], value["config"]["stop"], value["config"]["step"])
    if isinstance(value, dict) and value.get("class_name") == "__ellipsis__":
        return Ellipsis
    if isinstance(value, list) and not any(isinstance(v, KerasTensor) for v in value):
        return tuple(_decode(v) for v in value)  # an index: a tuple, as it was given
    if isinstance(value, list):
        return [_decode(v) for v in value]  # ops.concatenate's list of tensors
    return value
