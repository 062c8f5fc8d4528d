"""Models: a chain of layers run forward for predictions and backward for gradients.

    Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(10, activation="softmax")])
    x = Input((784,)); y = Dense(10, activation="softmax")(Dense(512, activation="relu")(x)); Model(x, y)

Both build the same thing: a list of layers from input to output, run one after another.
Training (compile, fit, evaluate, predict) lives in training.py.
"""
import numpy as np

from minidl import naming
from minidl.denormals import flushed
from minidl.layers import InputLayer, KerasTensor, Layer
from minidl.training import Trainer
from minidl.variable import lay_end_to_end


class Model(Trainer):
    """A functional model: `Model(inputs=Input(...), outputs=<tensor>)`.

    Every minidl layer has one input, so the graph from the input to the output is a
    chain; the model finds it by following each tensor back to the layer call that made it.
    """

    def __init__(self, inputs=None, outputs=None, name=None):
        super().__init__()
        self.name = name or naming.auto_name(self._name_prefix())
        if type(self) is Model:
            self._layers = _trace_chain(inputs, outputs)
            lay_end_to_end(self.trainable_weights)  # calling the layers has built them

    def _name_prefix(self):
        return "functional"

    # -- structure ----------------------------------------------------------------------
    @property
    def layers(self):
        """Every layer, input layer included (as Keras lists a functional model's)."""
        return list(self._layers)

    @property
    def _compute_layers(self):
        """The layers that transform data, in order (input layers only pass it through)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    @property
    def built(self):
        return bool(self._layers) and all(layer.built for layer in self._layers)

    @property
    def input_shape(self):
        return self._layers[0].input_shape if self._layers else None

    @property
    def output_shape(self):
        return self._compute_layers[-1].output_shape if self.built else None

    def _input_dim(self):
        """D, the feature count the model takes, or None if nothing fixes it yet."""
        if self._layers and self._layers[0].built:
            return self._layers[0].input_shape[-1]
        return None

    def _output_dim(self, input_dim):
        """The output width for inputs of `input_dim` features, without building anything."""
        shape = (None, input_dim)
        for layer in self._compute_layers:
            shape = layer.compute_output_shape(shape)
        return shape[-1]

    def build(self, input_shape):
        """Create every layer's weights for inputs of shape (None, D).

        The trainable weights are then laid end to end in one flat array (each Variable a
        view into it), so that the optimizer can update them all in one go.
        """
        shape = tuple(input_shape)
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.output_shape
        lay_end_to_end(self.trainable_weights)

    # -- running --------------------------------------------------------------------------
    def forward(self, x, training=False):
        """Run every layer in order: (N,D) -> (N,C)."""
        for layer in self._compute_layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy, from_logits=False):
        """Run every layer backward from dL/dy (or dL/dlogits of the last layer), filling grads.

        The first layer's input gradient is not computed: nothing needs it.
        """
        layers = self._compute_layers
        for position in range(len(layers) - 1, -1, -1):
            layer, input_grad = layers[position], position > 0
            if from_logits and position == len(layers) - 1:
                dy = layer.backward_from_z(dy, input_grad)
            else:
                dy = layer.backward(dy, input_grad)
        return dy

    def __call__(self, x, training=False):
        if isinstance(x, KerasTensor):
            raise NotImplementedError(
                "Calling a minidl model on a symbolic tensor (nesting models) is not "
                "supported; add the model's layers instead."
            )
        x = self._prepare_x(x)
        with flushed():
            return self.forward(x, training=training)

    # -- weights ----------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self):
        """Copies of every weight, in Keras's order: kernel, bias, layer by layer."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Overwrite every weight from a list in `get_weights()` order (all checked first)."""
        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"You called `set_weights(weights)` on model {self.name} with a weight list "
                f"of length {len(weights)}, but the model was expecting {len(variables)} "
                "weights."
            )
        arrays = [np.asarray(w) for w in weights]
        for variable, array in zip(variables, arrays):
            if array.shape != variable.shape:
                raise ValueError(
                    f"Weight {variable.path} has shape {variable.shape}, but the provided "
                    f"weight has shape {array.shape}."
                )
            if array.dtype.kind not in "biuf":
                raise TypeError(f"Weight {variable.path} must be numeric. "
                                f"Received dtype {array.dtype}")
        for variable, array in zip(variables, arrays):
            variable.assign(array)

    def count_params(self):
        return sum(layer.count_params() for layer in self._layers)

    def save(self, filepath):
        """Write the whole model to a Keras 3 `.keras` file (see saving.py)."""
        from minidl import saving  # saving.py builds models, so it is imported when needed

        saving.save_model(self, filepath)

    def save_weights(self, filepath):
        """Write every weight to `name.weights.npz` (no pickle) or Keras's `name.weights.h5`."""
        from minidl import saving

        saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        """Read weights saved by `save_weights` (or Keras); a bad file leaves the model as it was."""
        from minidl import saving

        saving.load_weights(self, filepath)

    # -- printing -----------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the Keras-style table of layers, output shapes and parameter counts."""
        from minidl.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def explain_step(self, x, y, weight_index=None, print_fn=print):
        """One real training step on (x, y), explained with shapes and numbers (explain.py)."""
        from minidl.explain import explain_step

        return explain_step(self, x, y, weight_index=weight_index, print_fn=print_fn)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def load_model(filepath, compile=True):
    """Rebuild a model from a Keras 3 `.keras` file (see saving.py)."""
    from minidl import saving

    return saving.load_model(filepath, compile=compile)


def _trace_chain(inputs, outputs):
    """The layers from `inputs` to `outputs`, in order, found by walking back from the output."""
    if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
        inputs = inputs[0]
    if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
        outputs = outputs[0]
    for name, value in (("inputs", inputs), ("outputs", outputs)):
        if not isinstance(value, KerasTensor):
            raise ValueError(
                f"Argument `{name}` must be a symbolic tensor made with minidl.Input (or a "
                f"layer called on one); minidl models have one input and one output. "
                f"Received: {name}={value!r}"
            )
    layers, tensor = [], outputs
    while tensor is not None:
        if tensor.layer in layers:
            raise ValueError(f"Layer {tensor.layer.name} is used twice in the model; "
                             "minidl does not support shared layers.")
        layers.append(tensor.layer)
        if tensor is inputs:
            break
        tensor = tensor.parent
    if tensor is not inputs:
        raise ValueError(
            "Argument `outputs` is not connected to `inputs`: following the layer calls back "
            f"from the output reaches {layers[-1].name}, not the given input."
        )
    return layers[::-1]


class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    It builds as soon as the input shape is known: from the first layer's `input_shape`,
    from an `Input` given first, or else on the first call to fit/predict/evaluate.
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._layers = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def _name_prefix(self):
        return "sequential"

    @property
    def layers(self):
        """The layers, without the input layer (as Keras lists a Sequential's)."""
        return self._compute_layers

    def add(self, layer, rebuild=True):
        """Append a layer (or an `Input(...)` tensor as the first element)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `minidl.layers.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer)})"
            )
        if layer in self._layers:
            raise ValueError(f"Layer {layer.name} is already in the model.")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("An InputLayer can only be the first layer of a Sequential.")
        elif not self._layers and layer._input_shape_arg is not None:
            self._layers.append(InputLayer(shape=layer._input_shape_arg))
        elif layer._input_shape_arg is not None and self.built:
            raise ValueError(f"Layer {layer.name} has an `input_shape`, but only the first "
                             "layer of a Sequential may have one.")
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()

    def pop(self):
        """Remove and return the last layer."""
        if not self._compute_layers:
            raise IndexError("There are no layers in the model.")
        return self._layers.pop()

    def _maybe_rebuild(self):
        if self._layers and isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self._build_layers(self._layers[0].input_shape)

    def build(self, input_shape):
        if not self._layers or not isinstance(self._layers[0], InputLayer):
            self._layers.insert(0, InputLayer(shape=tuple(input_shape)[1:]))
        self._build_layers(self._layers[0].input_shape)

    def _build_layers(self, input_shape):
        # Keras builds a Sequential by wrapping it in a functional model, which takes a
        # "functional" name each time; taking one here keeps later auto-names identical.
        naming.auto_name("functional")
        super().build(input_shape)
