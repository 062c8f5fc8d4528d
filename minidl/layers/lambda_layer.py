"""Lambda: a function of the inputs as a layer (keras/src/layers/core/lambda_layer.py).

    layers.Lambda(lambda x: ops.divide(x, 255.0))                     # scale the pixels
    layers.Lambda(lambda t: ops.concatenate(t, axis=-1))([a, b])      # two inputs
    layers.Lambda(lambda t: ops.add(t[0], ops.multiply(ops.exp(ops.multiply(0.5, t[1])), t[2])))
                                                     # z = z_mean + exp(z_log_var / 2) * eps

The function's minidl.ops calls write themselves on the training step's tape with their
derivatives (minidl/ops/backprop.py), as a custom layer's `call` does, so a gradient goes
back through them; so do NumPy operators and ufuncs on its inputs (`x / 255`, `x * 2`,
np.exp(x): in a training step the function gets them as backprop.Tracked arrays). Other NumPy
functions work in inference, and in training where no gradient has to go through them (on
the model's inputs, before any trainable layer); elsewhere the step stops with an error
naming the layer.

Saving writes what Keras writes: a named function by its name, a Python lambda as its
marshalled bytecode (Keras's func_dump). Loading never runs code from a file: a lambda is
refused with Keras's safe-mode message, and a named function comes from custom_objects.
"""
import codecs
import inspect
import marshal
import types

import numpy as np

from minidl.layers.base import Layer, each_array, shape_of
from minidl.ops import backprop
from minidl.tape import Tape, active_tape, flatten


class Lambda(Layer):
    """y = function(x, **arguments), as a layer without weights.

    Args:
        function: the function of the inputs (one array, or a list for several inputs);
            it may take `mask=` and `training=`, which it then receives.
        output_shape: the output shape without the batch axis (a tuple), or a function of
            the input shape; None: found by calling the function on zeros.
        mask: None (the layer drops masks), or a function (inputs, mask) -> output mask.
        arguments: a dict of keyword arguments passed to the function on every call.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        function = _function_from_file(function, "function")
        if not callable(function):
            raise ValueError(f"Argument `function` must be callable. Received: "
                             f"function={function!r}")
        if mask is not None and not callable(mask):
            raise ValueError("minidl's Lambda takes `mask` as None or a function (inputs, "
                             f"mask) -> mask, not a fixed tensor. Received: mask={mask!r}")
        self.arguments = dict(arguments or {})
        self.function = function
        self.supports_masking = mask is not None
        self.mask = mask
        self._output_shape = _function_from_file(output_shape, "output_shape")
        if isinstance(self._output_shape, list):
            self._output_shape = tuple(self._output_shape)
        names = inspect.getfullargspec(function).args
        self._fn_expects_training_arg = "training" in names
        self._fn_expects_mask_arg = "mask" in names

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def forward(self, x, training=False, mask=None):
        if active_tape() is None:
            y = self.call(x, mask=mask, training=training)
        else:  # in a training step the function's NumPy operators are recorded as ops too:
            with backprop.tracking():  # it gets its inputs as Tracked arrays (backprop.py)
                y = self.call(each_array(backprop.tracked, x), mask=mask, training=training)
            y = each_array(backprop.untracked, y)
        return y, (x, y)

    def compute_mask(self, inputs, mask):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape):
        """The given shape, or the output shape of the function on zeros: each unknown size
        (None) is tried as 1 and as 2, and a size that follows it is unknown too."""
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        if self._output_shape is not None:
            batch = flatten(input_shape)[0] if isinstance(input_shape, list) else input_shape[0]
            return (batch,) + tuple(self._output_shape)
        with Tape(), np.errstate(all="ignore"):  # a throwaway tape: nothing is trained here
            ones = shape_of(self.call(_zeros(input_shape, 1)))
            twos = shape_of(self.call(_zeros(input_shape, 2)))
        return _unknown_where_different(ones, twos)

    def _no_backward_error(self):
        return ValueError(
            f"Cannot compute gradients through Lambda layer '{self.name}': its function "
            f"{getattr(self.function, '__name__', self.function)!r} computed the output with "
            "operations minidl cannot differentiate (NumPy functions or operators such as "
            "`*` or `/`), and minidl has no autograd. Write the function with minidl.ops "
            "(e.g. `lambda x: ops.divide(x, 255.0)`), whose calls are differentiated; a "
            "NumPy function works in inference, or on the model's inputs before any "
            "trainable layer.")

    def get_config(self):
        config = {"function": serialize_function(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = (serialize_function(self._output_shape)
                                      if callable(self._output_shape) else self._output_shape)
        if self.mask is not None:
            config["mask"] = serialize_function(self.mask)
        config["arguments"] = dict(self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @staticmethod
    def resolve_functions(config, custom_objects):
        """The config with each named function found in custom_objects (by its name), as
        load_model(path, custom_objects={"my_fn": my_fn}) passes them."""
        config = dict(config)
        for key in ("function", "output_shape", "mask"):
            value = config.get(key)
            if (isinstance(value, dict) and value.get("class_name") == "function"
                    and value.get("config") in custom_objects):
                config[key] = custom_objects[value["config"]]
        return config


def serialize_function(fn):
    """A function as Keras's Lambda._serialize_function_to_config writes it: a Python lambda
    as its marshalled bytecode in base64 (python_utils.func_dump), defaults and closure; a
    named function by its name."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
        closure = (tuple(cell.cell_contents for cell in fn.__closure__)
                   if fn.__closure__ else None)
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    return {"module": "builtins", "class_name": "function",
            "config": getattr(fn, "__name__", repr(fn)), "registered_name": "function"}


def _function_from_file(value, argument):
    """A function written in a file: a lambda is refused (Keras's safe mode: its bytecode
    would run), a named one must come from custom_objects (Lambda.resolve_functions)."""
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "__lambda__":
        raise ValueError(
            "Requested the deserialization of a `Lambda` layer whose "
            "`function` is a Python lambda. This carries a potential risk "
            "of arbitrary code execution and thus it is disallowed by "
            "default. If you trust the source of the artifact, you can "
            "override this error by passing `safe_mode=False` to the "
            "loading function, or calling "
            "`keras.config.enable_unsafe_deserialization(). (minidl has neither: it runs "
            f"no code from a file. Received: {argument}=<a Python lambda>; build the Lambda "
            "in Python and load the weights with load_weights.)")
    raise ValueError(
        f"Could not locate function '{value.get('config')}'. minidl runs no code from a file: "
        "pass the function as custom_objects={"
        f"'{value.get('config')}': {value.get('config')}" "} to load_model. Received: "
        f"{argument}={value!r}")


def _zeros(shape, unknown):
    """Zeros of a shape (a list of shapes: a list of zeros), each None as `unknown`."""
    if isinstance(shape, list):
        return [_zeros(s, unknown) for s in shape]
    from minidl import config

    return np.zeros(tuple(unknown if d is None else d for d in shape), config.floatx())


def _unknown_where_different(ones, twos):
    if isinstance(ones, list):
        return [_unknown_where_different(a, b) for a, b in zip(ones, twos)]
    return tuple(a if a == b else None for a, b in zip(ones, twos))
