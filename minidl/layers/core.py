"""Layers: Input, Dense and Activation, each with an explicit forward and backward pass.

    forward(x, training)  -> y        keeps in its cache exactly what backward needs
    backward(dy)          -> dx       sets the gradient of every parameter it owns

Shapes: N rows in the batch, D input features, U units.

A layer called on a NumPy array computes; called on a symbolic tensor (from `Input`)
it records the call, which is how functional models are wired (see models.py).
"""
import numpy as np

from minidl import activations, config, initializers, naming
from minidl.variable import Variable


class KerasTensor:
    """A symbolic tensor: a shape (batch dimension None) and the layer call that made it."""

    def __init__(self, shape, layer, parent=None):
        self.shape = tuple(shape)
        self.layer = layer  # the layer whose output this is
        self.parent = parent  # the KerasTensor that layer was called on (None for an Input)
        self.dtype = config.floatx()

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.layer.name}>"


def _check_shape_arg(name, shape):
    """A feature shape such as (784,) as a tuple of positive ints, or a clear error."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(
            f"Argument `{name}` must be a tuple of positive integers such as (784,). "
            f"Received: {name}={shape!r}"
        ) from None
    if not shape or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
        raise ValueError(
            f"Argument `{name}` must be a tuple of positive integers such as (784,). "
            f"Received: {name}={shape!r}"
        )
    if len(shape) != 1:
        raise ValueError(
            f"minidl's layers take flat feature vectors: `{name}` must have one "
            f"dimension, e.g. (784,) for 28x28 images reshaped to 784. Received: {name}={shape!r}"
        )
    return tuple(int(d) for d in shape)


class Layer:
    """Base class. Subclasses implement build, forward, backward and compute_output_shape."""

    def __init__(self, name=None, trainable=True, input_shape=None, input_dim=None):
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name or naming.auto_name(naming.to_snake_case(type(self).__name__))
        self.trainable = trainable
        self.built = False
        self.input_shape = None  # (None, D) once built
        self.output_shape = None  # (None, U) once built
        self._weights = []
        if input_dim is not None:
            input_shape = (input_dim,)
        # Only meaningful on the first layer of a Sequential, which then builds at once.
        self._input_shape_arg = None if input_shape is None else _check_shape_arg(
            "input_shape", input_shape)

    # -- parameters ---------------------------------------------------------------------
    def add_weight(self, shape, initializer, name):
        """Create a parameter from an initializer and register it with this layer."""
        variable = Variable(initializer(shape, config.floatx()), name, self.trainable)
        variable.path = f"{self.name}/{name}"
        self._weights.append(variable)
        return variable

    @property
    def weights(self):
        return list(self._weights)

    @property
    def trainable_weights(self):
        return [w for w in self._weights if self.trainable]

    @property
    def non_trainable_weights(self):
        return [w for w in self._weights if not self.trainable]

    def get_weights(self):
        """Copies of the parameter values, in creation order (Dense: kernel, bias)."""
        return [w.numpy() for w in self._weights]

    def set_weights(self, weights):
        """Overwrite every parameter; the count and every shape are checked first."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(
                f"Layer {self.name} expects {len(self._weights)} weights, but the "
                f"weight list has {len(weights)} elements."
            )
        arrays = [np.asarray(w) for w in weights]
        for variable, array in zip(self._weights, arrays):
            if array.shape != variable.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {variable.shape} is not compatible "
                    f"with provided weight shape {array.shape}."
                )
        for variable, array in zip(self._weights, arrays):
            variable.assign(array)

    def count_params(self):
        return sum(w.value.size for w in self._weights)

    # -- building and calling -----------------------------------------------------------
    def build(self, input_shape):
        """Create the parameters for inputs of shape (None, D)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy, input_grad=True):
        raise NotImplementedError

    def _check_input_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"ndim=2, found ndim={len(shape)}. Full shape received: {tuple(shape)}"
            )
        if self.built and shape[-1] != self.input_shape[-1]:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.input_shape[-1]}, but received "
                f"input with shape {tuple(shape)}"
            )

    def __call__(self, x, training=False):
        """On a KerasTensor: record the call for a functional model. On data: compute."""
        if isinstance(x, KerasTensor):
            self._check_input_shape(x.shape)
            if not self.built:
                self.build(x.shape)
            return KerasTensor(self.output_shape, self, parent=x)
        x = np.asarray(x)
        if x.dtype != config.floatx():
            x = x.astype(config.floatx())  # Keras casts inputs to the layer's float type
        self._check_input_shape(x.shape)
        if not self.built:
            self.build((None,) + x.shape[1:])
        return self.forward(x, training=training)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class InputLayer(Layer):
    """The entry point of a model: passes its input through, holds the feature shape."""

    def __init__(self, shape=None, name=None, batch_size=None, input_shape=None):
        super().__init__(name=name)
        shape = shape if shape is not None else input_shape
        self.shape = _check_shape_arg("shape", shape)
        self.build((batch_size,) + self.shape)
        self.output = KerasTensor(self.output_shape, self)

    def forward(self, x, training=False):
        return x

    def backward(self, dy, input_grad=True):
        return dy

    def get_config(self):
        return {"name": self.name, "batch_shape": (None,) + self.shape}


def Input(shape, name=None, batch_size=None):
    """A symbolic input for functional models: `x = Input((784,)); y = Dense(10)(x)`."""
    return InputLayer(shape=shape, name=name, batch_size=batch_size).output


class Dense(Layer):
    """Fully connected layer: every output unit sees every input feature.

    Formula:
        z = x @ W + b          # (N,D) @ (D,U) + (U,) -> (N,U)
        a = activation(z)
    Backward, given da = dL/da:
        dz = activation_backward(da)
        dW = x.T @ dz          # (D,N) @ (N,U) -> (D,U)
        db = sum over rows of dz
        dx = dz @ W.T          # (N,U) @ (U,D) -> (N,D)

    Args:
        units: number of output units U (a positive integer).
        activation: "relu", "tanh", "sigmoid", "softmax", "linear" or None (linear).
        use_bias: whether to add b.
        kernel_initializer, bias_initializer: names or callables (glorot_uniform, zeros).
        input_shape: (D,), only for the first layer of a Sequential.
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, input_dim=None, name=None, trainable=True):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.activation_backward = activations.backward_of(self.activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        super().__init__(name=name, trainable=trainable, input_shape=input_shape,
                         input_dim=input_dim)
        self.kernel = self.bias = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        input_dim = input_shape[-1]
        self.kernel = self.add_weight((input_dim, self.units), self.kernel_initializer, "kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, "bias")
        super().build(input_shape)

    def forward(self, x, training=False):
        z = x @ self.kernel.value  # (N,D) @ (D,U) -> (N,U)
        if self.use_bias:
            z += self.bias.value  # (N,U) + (U,)
        a = self.activation(z)
        self.x, self.z = x, z  # cache for backward; z doubles as the logits for the loss
        self.a = a
        return a

    def backward(self, da, input_grad=True):
        dz = self.activation_backward(da, self.z, self.a)  # (N,U)
        return self.backward_from_z(dz, input_grad)

    def backward_from_z(self, dz, input_grad=True):
        """Backward from dL/dz, the entry point when the loss hands back dL/dlogits."""
        np.matmul(self.x.T, dz, out=self.kernel.grad)  # dW = x.T @ dz: (D,N)@(N,U) -> (D,U)
        if self.use_bias:
            np.sum(dz, axis=0, out=self.bias.grad)  # db: (N,U) -> (U,)
        if input_grad:
            return dz @ self.kernel.value.T  # dx = dz @ W.T: (N,U)@(U,D) -> (N,D)
        return None

    @property
    def logits(self):
        """The input of the activation in the last forward pass (z), for a fused loss."""
        return self.z

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias}


class Activation(Layer):
    """Applies an activation function on its own: a = f(x)."""

    def __init__(self, activation, name=None, input_shape=None):
        self.activation = activations.get(activation)
        self.activation_backward = activations.backward_of(self.activation)
        super().__init__(name=name, input_shape=input_shape)

    def forward(self, x, training=False):
        a = self.activation(x)
        self.z, self.a = x, a
        return a

    def backward(self, da, input_grad=True):
        return self.activation_backward(da, self.z, self.a)

    def backward_from_z(self, dz, input_grad=True):
        return dz  # z is this layer's input: nothing left to do

    @property
    def logits(self):
        return self.z

    def get_config(self):
        return {**super().get_config(),
                "activation": activations.serialize(self.activation)}
