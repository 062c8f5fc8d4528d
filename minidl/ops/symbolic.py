"""minidl.ops on symbolic tensors: `ops.expand_dims(inputs, -1)` while a functional model is
being wired adds a node to it (layers/operation.py), as keras.ops do in Keras 3.

Each op of minidl.ops (and of its submodules, ops.nn, ops.numpy, ...) is wrapped once, here:
given a KerasTensor among its arguments it makes the node; given arrays it is the op itself.
"""
import functools

from minidl.ops import image, submodules

_KerasTensor = []  # the class, once minidl.layers is imported (it imports minidl.ops)

# What ops read off a symbolic tensor rather than compute on it (Keras's too).
_NOT_OPS = {"shape", "ndim", "dtype", "is_tensor", "convert_to_numpy", "result_type"}


def _is_keras_tensor(value):
    if not _KerasTensor:
        from minidl.layers.symbolic import KerasTensor
        _KerasTensor.append(KerasTensor)
    return isinstance(value, _KerasTensor[0])


def _any_keras_tensor(args, kwargs):
    for value in (*args, *kwargs.values()):
        if _is_keras_tensor(value) or (isinstance(value, (list, tuple))
                                       and any(_is_keras_tensor(item) for item in value)):
            return True
    return False


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
