"""Dense and Activation: the layers of a first neural network.

Shapes: N rows in the batch, D input features, U units. Dense also takes N-D input
(N, ..., D): it acts on the last axis, every other position being one more row.
`matmul(a, b)` is `a @ b`; a big product is shared with a second thread (minidl/threads.py).
"""
import numpy as np

from minidl import activations, constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.threads import matmul


class Dense(Layer):
    """Fully connected layer: every output unit sees every input feature.

    Formula:
        z = x @ W + b          # (N,D) @ (D,U) + (U,) -> (N,U)
        a = activation(z)
    Backward, given da = dL/da:
        dz = activation_backward(da, z, a)
        dW = x.T @ dz          # (D,N) @ (N,U) -> (D,U)
        db = sum over rows of dz
        dx = dz @ W.T          # (N,U) @ (U,D) -> (N,D)

    Args:
        units: number of output units U (a positive integer).
        activation: a name ("relu", "softmax", ...), a function, or None (linear).
        use_bias: whether to add b.
        kernel_initializer, bias_initializer: names, objects or callables.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties such as
            regularizers.l2(0.01) or "l2" (see regularizers.py).
        kernel_constraint, bias_constraint: projections applied after each optimizer step,
            such as constraints.MaxNorm(3) or "non_neg" (see constraints.py).
        input_shape: (D,), only for the first layer of a Sequential.
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = self.bias = None

    def check_input_shape(self, shape):
        check_rank(self, shape, min_ndim=2)
        if self.built and shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.kernel.shape[0]}, but received "
                f"input with shape {tuple(shape)}"
            )

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      "kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        z = matmul(x, self.kernel.value)  # (N,D) @ (D,U) -> (N,U)
        if self.use_bias:
            z += self.bias.value  # (N,U) + (U,)
        a = self.activation(z)  # (N,U)
        return a, (x, z, a)

    def backward(self, da, cache, need_dx=True):
        x, z, a = cache
        dz = activations.backward_of(self.activation)(da, z, a)  # (N,U)
        return self.backward_from_logits(dz, cache, need_dx)

    def backward_from_logits(self, dz, cache, need_dx=True):
        """Backward from dz = dL/dz, where the output head starts when the loss uses logits."""
        x = cache[0]
        rows_x = x.reshape(-1, x.shape[-1])  # (N,D); N-D input: every position is a row
        rows_dz = dz.reshape(-1, dz.shape[-1])  # (N,U)
        grads = {self.kernel: matmul(rows_x.T, rows_dz)}  # dW = x.T @ dz: (D,N) @ (N,U) -> (D,U)
        if self.use_bias:
            grads[self.bias] = rows_dz.sum(axis=0)  # db: (N,U) -> (U,)
        dx = matmul(dz, self.kernel.value.T) if need_dx else None  # dz @ W.T: (N,U)@(U,D)->(N,D)
        return dx, grads

    def logits(self, cache):
        """z, the input of the activation: what a cross-entropy uses when it works from logits."""
        return cache[1]

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer,
                "bias_regularizer": self.bias_regularizer,
                "kernel_constraint": self.kernel_constraint,
                "bias_constraint": self.bias_constraint}


class Activation(Layer):
    """Applies an activation function on its own: a = f(z)."""

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, z, training=False):
        a = self.activation(z)
        return a, (z, a)

    def backward(self, da, cache, need_dx=True):
        z, a = cache
        return activations.backward_of(self.activation)(da, z, a), {}

    def backward_from_logits(self, dz, cache, need_dx=True):
        return dz, {}  # z is this layer's input: nothing left to do

    def logits(self, cache):
        return cache[0]

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


def check_rank(layer, shape, min_ndim=None, ndim=None):
    """Raise Keras's InputSpec error when an input has too few (or the wrong number of) axes."""
    rank = len(shape)
    if ndim is not None and rank != ndim:
        raise ValueError(
            f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected "
            f"ndim={ndim}, found ndim={rank}. Full shape received: {tuple(shape)}"
        )
    if min_ndim is not None and rank < min_ndim:
        raise ValueError(
            f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected "
            f"min_ndim={min_ndim}, found ndim={rank}. Full shape received: {tuple(shape)}"
        )
