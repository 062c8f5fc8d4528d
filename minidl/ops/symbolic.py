"""minidl.ops on symbolic tensors: `ops.expand_dims(inputs, -1)` while a functional model is
being wired adds a node to it (layers/operation.py), as keras.ops do in Keras 3.

Each op of minidl.ops (and of its submodules, ops.nn, ops.numpy, ...) is wrapped once, here:
given a KerasTensor among its arguments it makes the node; given arrays it is the op itself.
"""
import functools

from minidl.ops import image, submodules

# What ops read off a symbolic tensor rather than compute on it (Keras's too).
_NOT_OPS = {"shape", "ndim", "dtype", "is_tensor", "convert_to_numpy", "result_type"}


def _any_keras_tensor(args, kwargs):
    """Whether a KerasTensor is among the arguments, or in a list of them (ops.concatenate).
    (Every op call asks, so this is written to be quick for arrays.)"""
    keras_tensor = _keras_tensor_class()
    for value in args:
        if isinstance(value, keras_tensor) or (type(value) in (list, tuple) and any(
                isinstance(item, keras_tensor) for item in value)):
            return True
    return bool(kwargs) and _any_keras_tensor(tuple(kwargs.values()), {})


def _keras_tensor_class():
    global _KERAS_TENSOR
    if _KERAS_TENSOR is None:  # minidl.layers imports minidl.ops: not at import time
        from minidl.layers.symbolic import KerasTensor
        _KERAS_TENSOR = KerasTensor
    return _KERAS_TENSOR


_KERAS_TENSOR = None


def taking_keras_tensors(op, name):
    """`op`, except that given a KerasTensor it adds the op to the functional graph."""
    @functools.wraps(op)
    def wrapper(*args, **kwargs):
        if _any_keras_tensor(args, kwargs):
            from minidl.layers.operation import symbolic_call  # (layers import ops)

            return symbolic_call(op, name, args, kwargs)
        return op(*args, **kwargs)
    wrapper.on_arrays = op
    return wrapper


def link(ops_namespace):
    """Wrap every op of minidl.ops, and of its submodules, to take KerasTensors."""
    for name, op in list(ops_namespace.items()):
        if _is_op(name, op):
            ops_namespace[name] = taking_keras_tensors(op, name)
    for module in (*submodules.SUBMODULES, image):
        for name, function in list(vars(module).items()):
            if _is_op(name, function) and submodules.defined_for(function, module):
                setattr(module, name, taking_keras_tensors(function, name))


def _is_op(name, value):
    return (callable(value) and not isinstance(value, type) and not name.startswith("_")
            and name not in _NOT_OPS and not hasattr(value, "on_arrays"))
