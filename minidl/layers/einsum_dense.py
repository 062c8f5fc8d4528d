"""EinsumDense: Dense whose product is any einsum of the input and a kernel.

    EinsumDense("ab,bc->ac", 64, bias_axes="c")              Dense(64): (N,D) -> (N,64)
    EinsumDense("abc,cde->abde", (None, 4, 16), bias_axes="de")   (N,T,D) -> (N,T,H,K),
        the query projection of multi-head attention (one kernel (D,H,K) for H heads)
    EinsumDense("...b,bc->...c", 64)                         any leading axes

The equation names the input's axes, the kernel's and the output's, `in,w->out`; a letter in
two of them is one axis of the same size. Forward is np.einsum of that equation. The
gradients are two more einsums, read off the forward (an einsum is a sum of products, so the
derivative of z with respect to one factor is the other factor, with the same letters):

    z[out] = sum over the letters not in `out` of x[in] * W[w]
    dW[w]  = sum over the letters not in `w`   of x[in] * dz[out]      einsum("in,out->w")
    dx[in] = sum over the letters not in `in`  of dz[out] * W[w]       einsum("out,w->in")

Each letter of x that is in neither `out` nor `w` was summed on its own in the forward (x's
sum over it meets W once), so dx is the same along it: dx is computed without it and
broadcast back. "..." stands for the axes the letters leave over; it is written out as
letters of its own before the three einsums.

Shapes: N rows in the batch; the rest are the equation's letters. The kernel's shape takes
each letter's size from the input, or from `output_shape` for the letters only the output
and the kernel have (Keras's keras/src/layers/core/einsum_dense.py, _analyze_split_string).
"""
import re
import string

import numpy as np

from minidl import activations, constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.layers.core import check_rank


class EinsumDense(Layer):
    """z = einsum(equation, x, W) + b;  a = activation(z).

    Formula (equation "in,w->out", b broadcast over the output's leading axes):
        z = einsum("in,w->out", x, W) + b      # e.g. (N,T,D),(D,H,K) -> (N,T,H,K)
        a = activation(z)
    Backward, given da:
        dz = activation_backward(da, z, a)
        dW = einsum("in,out->w", x, dz)        # (N,T,D),(N,T,H,K) -> (D,H,K)
        db = dz summed over the axes b was broadcast along
        dx = einsum("out,w->in", dz, W)        # (N,T,H,K),(D,H,K) -> (N,T,D)

    Args:
        equation: "in,w->out" with letters a-z, A-Z, or "...in,w->...out", or
            "in...,w->out..." ("..." is every axis the letters do not name).
        output_shape: the output's shape without the batch axis and the "..." axes (an int
            for one axis); None for an axis the input gives.
        activation: a name, a function, or None (linear).
        bias_axes: the output letters that get a bias (e.g. "c"), or None for no bias.
        kernel_initializer, bias_initializer: a VarianceScaling kernel initializer (the
            default glorot_uniform is one) takes fan_in and fan_out from the kernel axes the
            input and the output share with it, as Keras's.
        kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint: as Dense's.
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        kwargs.pop("quantization_config", None)  # Keras writes it as None (layer_config.py)
        super().__init__(**kwargs)
        self.equation = equation
        if isinstance(output_shape, (int, np.integer)):
            self.partial_output_shape = (int(output_shape),)
        else:
            self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = self.bias = None

    def check_input_shape(self, shape):
        if self.built:  # Keras's InputSpec(ndim=...) set in build
            check_rank(self, shape, ndim=len(self.input_shape))
            expected = analyze_equation(self.equation, self.bias_axes, self.input_shape,
                                        self.partial_output_shape)[0]
            received = analyze_equation(self.equation, self.bias_axes, shape,
                                        self.partial_output_shape)[0]
            if received != expected:
                raise ValueError(
                    f"Input 0 of layer \"{self.name}\" is incompatible with the layer: its "
                    f"kernel has shape {tuple(expected)}, which input shape {tuple(shape)} "
                    f"does not fit (equation '{self.equation}').")

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = analyze_equation(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        if None in kernel_shape:  # a kernel letter that only output_shape could size
            raise ValueError(
                "Shapes used to initialize variables must be fully-defined (no `None` "
                f"dimensions). Received: shape={tuple(kernel_shape)} for variable "
                f"path='{self.name}/kernel'")
        initializer = self.kernel_initializer
        if isinstance(initializer, initializers.VarianceScaling) and (
                initializer.input_axes is None or initializer.output_axes is None):
            initializer = type(initializer).from_config(  # fans from the kernel's axes
                {**initializer.get_config(), "input_axes": input_axes,
                 "output_axes": output_axes})
        self.kernel = self.add_weight(tuple(kernel_shape), initializer, "kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if bias_shape is not None:
            self.bias = self.add_weight(tuple(bias_shape), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(analyze_equation(self.equation, self.bias_axes, input_shape,
                                      self.partial_output_shape)[2])

    def forward(self, x, training=False):
        x_spec, w_spec, z_spec = explicit_specs(self.equation, x.ndim)
        # e.g. "abc,cde->abde": (N,T,D),(D,H,K) -> (N,T,H,K), summed over D
        z = np.einsum(f"{x_spec},{w_spec}->{z_spec}", x, self.kernel.value)  # (N,T,H,K)
        if self.bias is not None:
            z = z + self.bias.value  # (N,T,H,K) + (H,K)
        a = self.activation(z)  # (N,T,H,K)
        return a, (x, z, a)

    def backward(self, da, cache, need_dx=True):
        x, z, a = cache
        dz = activations.backward_of(self.activation)(da, z, a)  # (N,T,H,K)
        return self.backward_from_logits(dz, cache, need_dx)

    def backward_from_logits(self, dz, cache, need_dx=True):
        """Backward from dz = dL/dz (where a softmax output's cross-entropy starts)."""
        x = cache[0]
        x_spec, w_spec, z_spec = explicit_specs(self.equation, x.ndim)
        dW = np.einsum(f"{x_spec},{z_spec}->{w_spec}", x, dz)  # (N,T,D),(N,T,H,K) -> (D,H,K)
        grads = {self.kernel: dW}
        if self.bias is not None:
            grads[self.bias] = sum_to_shape(dz, self.bias.shape)  # (N,T,H,K) -> (H,K)
        if not need_dx:
            return None, grads
        # x's letters that neither dz nor W has: summed alone in the forward, so dx is
        # constant along them; einsum gives dx without them, broadcast back below
        kept = "".join(c for c in x_spec if c in z_spec or c in w_spec)
        dx = np.einsum(f"{z_spec},{w_spec}->{kept}", dz, self.kernel.value)  # -> (N,T,D)
        if kept != x_spec:  # "abc,cd->ad": dx (N,D) -> (N,1,D) -> (N,T,D)
            dx = np.expand_dims(dx, tuple(i for i, c in enumerate(x_spec) if c not in kept))
            dx = np.broadcast_to(dx, x.shape).copy()  # x's shape
        return dx, grads

    def logits(self, cache):
        """z, the input of the activation (a softmax output's cross-entropy uses it)."""
        return cache[1]

    def get_config(self):
        return {**super().get_config(), "output_shape": self.partial_output_shape,
                "equation": self.equation,
                "activation": activations.serialize(self.activation),
                "bias_axes": self.bias_axes, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer,
                "bias_regularizer": self.bias_regularizer,
                "activity_regularizer": self.activity_regularizer,  # Keras writes it, None too
                "kernel_constraint": self.kernel_constraint,
                "bias_constraint": self.bias_constraint}


def sum_to_shape(g, shape):
    """g summed down to `shape` (the gradient of broadcasting an array of `shape` to g's)."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))  # the leading axes b does not have
    ones = tuple(i for i, size in enumerate(shape) if size == 1 and g.shape[i] != 1)
    return g.sum(axis=ones, keepdims=True)  # the axes b has as 1


def explicit_specs(equation, ndim):
    """The three letter strings of `equation` for an input of ndim axes, "..." written out
    as letters the equation does not use: ("...b,bc->...c", 3) -> ("ABb", "bc", "ABc")."""
    x_spec, rest = equation.split(",")
    w_spec, z_spec = rest.split("->")
    if "..." not in x_spec:
        return x_spec, w_spec, z_spec
    free = [c for c in string.ascii_letters[::-1] if c not in equation]  # Z, Y, ... first
    elided = "".join(free[:ndim - len(x_spec.replace("...", ""))])
    return x_spec.replace("...", elided), w_spec, z_spec.replace("...", elided)


# -- the kernel's and the bias's shapes, as Keras's einsum_dense.py works them out ---------------
def analyze_equation(equation, bias_axes, input_shape, output_shape):
    """kernel_shape, bias_shape (or None), full output shape, input_axes, output_axes.

    Keras's _analyze_einsum_string: its three accepted forms and its error messages.
    """
    dot_replaced = re.sub(r"\.\.\.", "0", equation)
    forms = [("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
             ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
             ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False)]
    for pattern, left_elided in forms:
        match = re.match(pattern, dot_replaced)
        if match:
            return _analyze_split(*match.groups(), bias_axes, input_shape, output_shape,
                                  left_elided)
    raise ValueError(
        f"Invalid einsum equation '{equation}'. Equations must be in the form "
        "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def _analyze_split(input_spec, weight_spec, output_spec, bias_axes, input_shape, output_shape,
                   left_elided):
    """Keras's _analyze_split_string, step for step (its messages word for word)."""
    elided = len(input_shape) - len(input_spec)
    output_shape = [input_shape[0], *output_shape]  # the batch axis first
    if elided > 0 and left_elided:
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])
    elif elided > 0:
        output_shape += [input_shape[i] for i in range(len(input_shape) - elided,
                                                       len(input_shape))]
    if left_elided:  # the letters index x from its end, and the full output from its start
        input_dim_map = {dim: i + elided - len(input_shape) for i, dim in enumerate(input_spec)}
        output_dim_map = {dim: i + elided for i, dim in enumerate(output_spec)}
    else:
        input_dim_map = {dim: i for i, dim in enumerate(input_spec)}
        output_dim_map = {dim: i for i, dim in enumerate(output_spec)}
    for dim in input_spec:
        size = input_shape[input_dim_map[dim]]
        if dim in output_dim_map:
            out = output_shape[output_dim_map[dim]]
            if out is not None and out != size:
                raise ValueError(
                    "Input shape and output shape do not match at shared dimension "
                    f"'{dim}'. Input shape is {size}, and output shape is {out}.")
    for dim in output_spec:
        if dim not in input_spec and dim not in weight_spec:
            raise ValueError(  # Keras names output_spec twice
                f"Dimension '{dim}' was specified in the output '{output_spec}' but has no "
                f"corresponding dim in the input spec '{input_spec}' or weight spec "
                f"'{output_spec}'")
    weight_shape, input_axes, output_axes = [], [], []
    for i, dim in enumerate(weight_spec):
        if dim in output_dim_map:
            weight_shape.append(output_shape[output_dim_map[dim]])
            output_axes.append(i)
        elif dim in input_dim_map:
            weight_shape.append(input_shape[input_dim_map[dim]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"Weight dimension '{dim}' did not have a match in either the input spec "
                f"'{input_spec}' or the output spec '{output_spec}'. For this layer, the "
                "weight must be fully specified.")
    bias_shape = None
    if bias_axes is not None:
        offset = elided if left_elided else 0
        sizes = {c: output_shape[i + offset] for i, c in enumerate(output_spec)}
        for c in bias_axes:
            if c not in output_spec:
                raise ValueError(f"Bias dimension '{c}' was requested, but is not part of "
                                 f"the output spec '{output_spec}'")
        first = min(output_spec.find(c) for c in bias_axes)  # b: from its first letter on,
        bias_shape = [sizes[c] if c in bias_axes else 1 for c in output_spec[first:]]  # 1 for
        if not left_elided:  # the letters without a bias, and for the "..." on the right
            bias_shape += [1] * max(elided, 0)
    return weight_shape, bias_shape, output_shape, input_axes, output_axes
