"""InputSpec: what a layer of your own accepts, checked at each call as Keras checks it.

    class Flat3(minidl.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = minidl.InputSpec(ndim=2, axes={-1: 3})

`layer(x)` then raises Keras's error for an x of another rank or width, before building
(Layer.check_input_shape, layers/base.py, calls `assert_input_compatibility`). minidl sees
input shapes only (its layers cast inputs to floatx), so `dtype` is refused by name.
"""


class InputSpec:
    """The rank, shape and axis sizes every input of a layer must have (None: any).

    Args:
        shape: the full shape, batch axis included, None for any size (sets ndim).
        ndim / max_ndim / min_ndim: the rank, or its bounds.
        axes: {axis: size} for the axes that must have a given size.
        allow_last_axis_squeeze: a last axis of size 1 may be missing on either side.
        name, optional: as Keras's (the name appears in the errors).
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        if dtype is not None:
            raise ValueError("minidl's InputSpec cannot check `dtype`: its layers cast their "
                             "inputs to the float type (minidl.config.floatx()) and see "
                             f"shapes only. Received: dtype={dtype}")
        self.dtype = None
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. Received: "
                            f"axes={axes}") from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed "
                                 f"value: {max_dim}")

    def __repr__(self):
        spec = [f"shape={self.shape}" if self.shape else "",
                f"ndim={self.ndim}" if self.ndim else "",
                f"max_ndim={self.max_ndim}" if self.max_ndim else "",
                f"min_ndim={self.min_ndim}" if self.min_ndim else "",
                f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(x for x in spec if x)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def assert_input_compatibility(input_spec, shapes, layer_name):
    """Raise Keras's ValueError (keras/src/layers/input_spec.py) where an input's shape breaks
    its spec. shapes: one shape, or a list of shapes (one per input)."""
    from minidl import tree

    specs = tree.flatten(input_spec)
    if shapes and isinstance(shapes[0], (list, tuple)) or shapes == []:
        shapes = list(shapes)  # one shape per input
    else:
        shapes = [shapes]
    if len(shapes) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it '
                         f"received {len(shapes)} input tensors. Input shapes received: "
                         f"{shapes}")
    for index, (shape, spec) in enumerate(zip(shapes, specs)):
        if spec is not None:
            _check(index, tuple(shape), spec, layer_name)


def _check(index, shape, spec, layer_name):
    where = (f"Input {index} with name '{spec.name}' of layer '{layer_name}' is incompatible "
             "with the layer: ")
    ndim = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{where}expected ndim={spec.ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{where}expected max_ndim={spec.max_ndim}, found ndim={ndim}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{where}expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                         f"Full shape received: {shape}")
    for axis, value in spec.axes.items():
        if value is not None and shape[axis] not in {value, None}:
            raise ValueError(f"{where}expected axis {axis} of input shape to have value "
                             f"{value}, but received input with shape {shape}")
    if spec.shape is not None:
        spec_shape, seen = spec.shape, shape
        if spec.allow_last_axis_squeeze:
            seen = seen[:-1] if seen and seen[-1] == 1 else seen
            spec_shape = spec_shape[:-1] if spec_shape and spec_shape[-1] == 1 else spec_shape
        for expected, found in zip(spec_shape, seen):
            if expected is not None and found is not None and expected != found:
                raise ValueError(f"{where}expected shape={spec.shape}, found shape={seen}")
