"""Models: layers put together, and the Keras training API on top of them.

Three ways to make one, as in Keras, all run the same way (`model(x)` calls layers):

    Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(10, activation="softmax")])
    x = Input((784,)); y = Dense(10, activation="softmax")(Dense(512, activation="relu")(x)); Model(x, y)
    class MyModel(Model):                 # subclassing: layers as attributes, call() uses them
        def __init__(self): super().__init__(); self.hidden = Dense(512, activation="relu"); ...
        def call(self, x): return self.out(self.hidden(x))

A model is a Layer (layers/base.py): it can be called inside another model. Training
(compile, fit, evaluate, predict) lives in training.py and uses only the public interface
here: `model(x, training=True)` under a tape, `trainable_weights`, the compiled loss and
metrics, and the optimizer.
"""
import numpy as np

from minidl import compile_utils, custom_step, naming, training, tree
from minidl.graph import Graph
from minidl.layers.base import GRAPH_CALLS, Layer
from minidl.layers.operation import Operation
from minidl.layers.input_layer import InputLayer
from minidl.layers.symbolic import KerasTensor
from minidl.tape import flatten


class Model(Layer):
    """A functional model `Model(inputs, outputs)`, or the base class of a subclassed model."""

    # The layers inside set their outputs' masks (masks.py); the model adds none of its own.
    supports_masking = True

    def compute_mask(self, inputs, mask):
        return None

    def __new__(cls, *args, **kwargs):
        # As Keras: Model(inputs, outputs) makes a Functional (what summary() calls it).
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name or naming.auto_name(self._name_prefix()),
                         trainable=trainable, **kwargs)
        self._graph = None
        self.optimizer = self.loss = self.compiled_loss = self.compiled_metrics = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        if inputs is not None or outputs is not None:
            _check_symbolic("inputs", inputs), _check_symbolic("outputs", outputs)
            _warn_if_keys_are_not_names(inputs)
            # Keras's order for `model.inputs` and `model.outputs`: a dict's by sorted key
            self._graph = Graph(tree.flatten(inputs), tree.flatten(outputs))
            self._inputs_struct, self._outputs_struct = inputs, outputs  # as given
            self._single_input = not isinstance(inputs, (list, tuple, dict))
            # model(x) gives one array for one output, or for a list of one (Keras's
            # unpack_singleton, keras/src/models/functional.py), else the structure given
            self._single_output = not isinstance(outputs, dict) and len(tree.flatten(outputs)) == 1
            self.built = True
        elif type(self) in (Model, Functional):
            raise ValueError("A Model needs `inputs` and `outputs` (a functional model), or "
                             "a subclass that defines `call()`.")

    def _name_prefix(self):
        if type(self) in (Model, Functional):
            return "functional"
        return naming.to_snake_case(type(self).__name__)

    # -- structure ------------------------------------------------------------------------------
    @property
    def layers(self):
        """The model's layers (a functional model lists its input layers too, as Keras)."""
        if self._graph is not None:  # its ops (`x + y`, ops.expand_dims) are not layers
            return [layer for layer in self._graph.layers if not isinstance(layer, Operation)]
        return super().layers

    def get_layer(self, name=None, index=None):
        """A layer by its name or by its position in `layers`."""
        if index is not None:
            if not 0 <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self.layers]}.")

    @property
    def inputs(self):
        return None if self._graph is None else list(self._graph.inputs)

    @property
    def takes_raw_inputs(self):
        """Whether x reaches the model as given (strings, integers): an Input of dtype
        "string" or a first layer that takes text or tokens (layers/lookup.py)."""
        if self._graph is not None:
            return any(t.node.layer.takes_raw_inputs for t in self._graph.inputs)
        layers = self.layers
        return bool(layers) and layers[0].takes_raw_inputs

    @property
    def outputs(self):
        return None if self._graph is None else list(self._graph.outputs)

    @property
    def input(self):
        """A functional model's inputs as it was given them (a tensor, a list or a dict)."""
        return self._inputs_struct if self._graph is not None else super().input

    @property
    def output(self):
        """A functional model's outputs as it was given them: `Model(base.input, head(
        base.output))` puts a new head on a model."""
        return self._outputs_struct if self._graph is not None else super().output

    @property
    def input_names(self):
        return [t.node.layer.name for t in self.inputs or []]

    @property
    def input_keys(self):
        """The keys the data of each input goes by, in `inputs` order: a dict of inputs'
        (sorted) keys, else the Input layers' names."""
        if self._graph is not None and isinstance(self._inputs_struct, dict):
            return sorted(self._inputs_struct)
        return self.input_names

    @property
    def output_keys(self):
        """The keys of each output in `outputs` order, as compile's dicts, y and History
        name them: a dict of outputs' (sorted) keys ("price" -> "price_loss"), else the
        layers' names."""
        if self._graph is not None and isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)
        return self.output_names

    @property
    def output_names(self):
        """The names of the layers that make the outputs (History keys use them)."""
        if self._graph is not None:
            return [t.node.layer.name for t in self._graph.outputs]
        return ["output_" + str(i) for i in range(len(flatten(self.output_shape or [])))]

    @property
    def input_shape(self):
        if self._graph is not None:
            shapes = [t.shape for t in self._graph.inputs]
            return shapes[0] if self._single_input else shapes
        return self.__dict__.get("input_shape")

    @input_shape.setter
    def input_shape(self, value):
        self.__dict__["input_shape"] = value

    @property
    def output_shape(self):
        if self._graph is not None:  # a list of one shape as the shape, as Keras's
            shapes = [t.shape for t in self._graph.outputs]
            return shapes[0] if len(shapes) == 1 else shapes
        return self.__dict__.get("output_shape")

    @output_shape.setter
    def output_shape(self, value):
        self.__dict__["output_shape"] = value

    # -- running --------------------------------------------------------------------------------
    def __call__(self, inputs, training=None, **kwargs):
        if self._graph is not None and isinstance(inputs, dict):
            inputs = self._by_key(inputs)  # a dict of data: the arrays in `inputs` order
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=None):
        """A functional model runs its graph; a subclassed model defines its own `call`."""
        if self._graph is None:
            raise NotImplementedError(
                f"Model {type(self).__name__} must define `call(self, inputs)`, or be made "
                "with Model(inputs, outputs).")
        if isinstance(inputs, dict):
            arrays = self._by_key(inputs)
        else:
            arrays = tree.flatten(inputs) if not self._single_input else [inputs]
        outputs = self._graph.run(arrays, training=training)
        if self._single_output:
            return outputs[0]
        return tree.pack_sequence_as(self._outputs_struct, outputs)  # a dict stays a dict

    def _by_key(self, inputs):
        """A dict of input data as a list in `inputs` order, each array by its key (Keras's
        InputSpec check, keras/src/layers/input_spec.py)."""
        keys = self.input_keys
        for key in keys:
            if key not in inputs:
                raise ValueError(f'Missing data for input "{key}". You passed a data '
                                 f"dictionary with keys {list(inputs.keys())}. Expected the "
                                 f"following keys: {keys}")
        if isinstance(self._inputs_struct, dict) and set(inputs) != set(keys):
            raise ValueError(
                "The structure of `inputs` doesn't match the expected structure.\n"
                f"Expected: {tree.map_structure(lambda t: t.node.layer.name, self._inputs_struct)}"
                f"\nReceived: inputs={tree.map_structure(_shape_text, inputs)}")
        return [inputs[key] for key in keys]

    def compute_output_shape(self, input_shape):
        """The output shape(s) for inputs of `input_shape`: the model's own, or, for inputs
        of other sizes, each layer's shape in turn (a base built for any image size,
        VGG16(include_top=False), called on 180x180 images, as Keras's)."""
        if self._graph is None:
            return super().compute_output_shape(input_shape)
        given = [input_shape] if len(self._graph.inputs) == 1 else list(input_shape)
        if [tuple(s) for s in given] == [tuple(t.shape) for t in self._graph.inputs]:
            return self.output_shape
        shapes = self._graph.output_shapes(given)
        return shapes[0] if len(shapes) == 1 and not isinstance(self.output_shape, list) \
            else shapes

    # -- training (training.py) -----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, **kwargs):
        """Choose the optimizer, the loss (one per output) and the metrics."""
        compile_utils.compile(self, optimizer, loss, loss_weights, metrics, weighted_metrics,
                              **kwargs)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` passes over (x, y) in mini-batches; returns a History."""
        return training.fit(self, x, y, batch_size, epochs, verbose, callbacks,
                            validation_split, validation_data, shuffle, class_weight,
                            sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                            validation_batch_size, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics over (x, y): a float, [loss, *metrics], or a dict."""
        return training.evaluate(self, x, y, batch_size, verbose, sample_weight, steps,
                                 callbacks, return_dict, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, computed in batches."""
        return training.predict(self, x, batch_size, verbose, steps, callbacks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on (x, y) as a single batch; returns its pre-update loss/metrics."""
        return training.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of (x, y) as a single batch."""
        return training.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x):
        """The model's outputs for x as a single batch."""
        return training.predict_on_batch(self, x)

    def loss_and_gradients(self, x, y, sample_weight=None):
        """The training loss `fit` minimises on this batch and its gradient for every weight.

        Returns (loss, grads): a float and a list of arrays aligned with `trainable_weights`
        (an Embedding's gradient, rows inside a step, as the rows summed per token: sparse.py).
        Nothing is updated: the seam for gradient checks and Keras comparisons.
        """
        loss, grads = training.loss_and_gradients(self, x, y, sample_weight)
        return loss, [np.asarray(g) for g in grads]

    @property
    def metrics(self):
        """As Keras's `model.metrics`: the loss tracker, the compiled metrics (one object
        named "compile_metrics"), each output's loss tracker, then the Metric objects
        assigned as attributes (`self.loss_tracker = metrics.Mean(name="loss")`)."""
        return custom_step.model_metrics(self)

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    # -- customizing what happens in fit() (custom_step.py) ---------------------------------------
    def train_step(self, data):
        """One training step on `data` ((x, y), (x, y, sample_weight) or x); returns the logs.
        Override it (with minidl.GradientTape) and fit runs yours; this default is fit's own."""
        return custom_step.default_train_step(self, data)

    def test_step(self, data):
        """The loss and metrics of one batch, for evaluate (and fit's validation)."""
        return custom_step.default_test_step(self, data)

    def predict_step(self, data):
        """The model's outputs for one batch, for predict."""
        return custom_step.default_predict_step(self, data)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss plus `self.losses`; differentiable on a GradientTape."""
        return custom_step.compute_loss(self, x, y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics; return `get_metrics_result()`."""
        return custom_step.compute_metrics(self, x, y, y_pred, sample_weight)

    def get_metrics_result(self):
        """{name: value} for every metric in `self.metrics`."""
        return custom_step.get_metrics_result(self)

    # -- saving, printing, explaining -------------------------------------------------------------
    def save(self, filepath, overwrite=True, **kwargs):
        """Write the whole model to a Keras 3 `.keras` file, or a legacy `.h5` one (saving/)."""
        from minidl import saving

        saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Write every weight to `name.weights.npz` (no pickle) or Keras's `name.weights.h5`."""
        from minidl import saving

        saving.save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Read weights saved by `save_weights` (or Keras); a bad file leaves the model as it was."""
        from minidl import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs):
        """The model's config as Keras's JSON text (`model_from_json` reads it); kwargs go to
        json.dumps."""
        from minidl.saving import legacy_h5

        return legacy_h5.to_json(self, **kwargs)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, **kwargs):
        """Print the Keras-style table of layers, output shapes and parameter counts."""
        from minidl.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)

    def explain_step(self, x, y, weight_index=None, print_fn=print):
        """One real training step on (x, y), explained with shapes and numbers (explain.py)."""
        from minidl.explain import explain_step

        return explain_step(self, x, y, weight_index=weight_index, print_fn=print_fn)

    def get_config(self):
        """A Sequential's or functional model's config as Keras's: its layers and how they
        connect, as a `.keras` file holds it (saving/config.py). A subclassed model's is its
        name, as Keras's base config (its `call()` is Python code)."""
        if self._graph is None and not isinstance(self, Sequential):
            return {"name": self.name, "trainable": self.trainable}
        from minidl.saving import config

        return config.model_to_config(self, with_compile=False)["config"]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model `get_config()` describes, with new weights (a Sequential or functional
        model; the layers' classes must be minidl's or in custom_objects)."""
        from minidl.saving import config as config_module

        class_name = "Sequential" if issubclass(cls, Sequential) else "Functional"
        return config_module.model_from_config({"class_name": class_name, "config": config},
                                               custom_objects)


class Functional(Model):
    """What `Model(inputs, outputs)` makes: a model that runs its graph of layer calls."""


def load_model(filepath, compile=True, custom_objects=None, safe_mode=True):
    """Rebuild a model from a Keras 3 `.keras` file (see saving/)."""
    from minidl import saving

    return saving.load_model(filepath, compile=compile, custom_objects=custom_objects)


def save_model(model, filepath, overwrite=True, **kwargs):
    """`model.save(filepath)`, as keras.models.save_model."""
    model.save(filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A model from `model.to_json()`'s text (Keras's or minidl's), compiled if it says so."""
    from minidl import saving

    return saving.model_from_json(json_string, custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, **kwargs):
    """A new model with the same layers and names and freshly initialised weights.

    As keras.models.clone_model: the copy is not compiled and shares nothing with the
    original. It goes through the model's config (saving/config.py), so it works for every
    Sequential and functional model minidl can save.
    """
    from minidl.saving import config

    if input_tensors is not None or clone_function is not None or kwargs:
        raise ValueError("minidl's clone_model copies the model as it is: `input_tensors`, "
                         "`clone_function` and the other options are not supported.")
    if type(model) not in (Sequential, Functional):
        raise ValueError(
            "Arguments clone_function and input_tensors are only supported for Sequential "
            "models or Functional models. A subclassed model cannot be cloned from its "
            f"config. Received: model={model!r}")
    return config.model_from_config(config.model_to_config(model, with_compile=False),
                                    custom_objects=_own_objects(model))


def _own_objects(model):
    """{name: class} of the layer classes of one's own in `model`, which its config names:
    Keras's clone_model takes them from the layers themselves, without custom_objects."""
    from minidl.saving.object_registration import get_registered_name

    found = {}
    for layer in training.all_layers(model):
        cls = type(layer)
        if not cls.__module__.startswith("minidl."):
            found[cls.__name__] = found[get_registered_name(cls)] = cls
    return found


def _warn_if_keys_are_not_names(inputs):
    """Keras's warning for a dict of inputs keyed otherwise than the Inputs are named (the
    data then goes by the keys)."""
    import warnings

    for key, tensor in (inputs.items() if isinstance(inputs, dict) else ()):
        if isinstance(tensor, KerasTensor) and key != tensor.node.layer.name:
            warnings.warn(
                "When providing `inputs` as a dict, all keys in the dict must match the names "
                f"of the corresponding tensors. Received key '{key}' mapping to value "
                f"{tensor} which has name '{tensor.node.layer.name}'. Change the tensor name "
                f"to '{key}' (via `Input(..., name='{key}')`)", stacklevel=3)


def _shape_text(x):
    return f"Tensor(shape={tuple(np.shape(x))})"


def _check_symbolic(name, value):
    """inputs/outputs of a functional model: KerasTensors (or lists/dicts of them)."""
    tensors = flatten(value)
    if not tensors or not all(isinstance(t, KerasTensor) for t in tensors):
        raise ValueError(
            f"Argument `{name}` must be a symbolic tensor made with minidl.Input (or a layer "
            f"called on one), or a list of them. Received: {name}={value!r}"
        )
    return value


class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    It builds as soon as the input shape is known: from the first layer's `input_shape`,
    from an `Input` given first, or else on the first call (`model(x)`, fit, predict...).
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._layers = []  # may start with an InputLayer, which `layers` leaves out
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def _name_prefix(self):
        return "sequential"

    @property
    def layers(self):
        """The layers, without the input layer (as Keras lists a Sequential's)."""
        starts_with_input = self._layers and isinstance(self._layers[0], InputLayer)
        return self._layers[1:] if starts_with_input else list(self._layers)  # (a copy)

    @property
    def input_shape(self):
        first = self._layers[0] if self._layers else None
        return first.batch_shape if isinstance(first, InputLayer) else None

    @property
    def inputs(self):
        first = self._layers[0] if self._layers else None
        return [first.output] if isinstance(first, InputLayer) else None

    @property
    def input_names(self):
        return [t.name for t in self.inputs or []]

    @property
    def output_shape(self):
        return self.layers[-1].output_shape if self.built and self.layers else None

    @output_shape.setter
    def output_shape(self, value):
        pass  # a stack's output shape is its last layer's

    def add(self, layer, rebuild=True):
        """Append a layer (or an `Input(...)` tensor as the first element)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
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
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()

    def pop(self):
        """Remove and return the last layer."""
        if not self.layers:
            raise IndexError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._layers and isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            self.build(self._layers[0].batch_shape)

    def build(self, input_shape=None):
        """Build every layer in turn for inputs of `input_shape` (batch dimension first)."""
        if not self.layers:
            raise ValueError("The model has no layers: add at least one before using it.")
        if not isinstance(self._layers[0], InputLayer):
            self._layers.insert(0, InputLayer(batch_shape=tuple(input_shape)))
        # Keras builds a Sequential by wrapping it in a functional model, which takes a
        # "functional" name each time; taking one here keeps later auto-names identical.
        naming.auto_name("functional")
        x = self._layers[0].output
        for layer in self.layers:  # as Keras, a symbolic call of each layer in turn: it builds
            x = layer(x)  # the layer and records the call (`layer.output`, model.outputs)
            layer.output_shape = x.shape
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)

    def compute_output_shape(self, input_shape):
        """The output shape for inputs of `input_shape`, without building anything, except
        before a layer whose shape is found by calling it: its call may read the weights of
        the layers before it (Géron's DenseTranspose reads an encoder's kernel), so those
        are built first, as Keras builds a stack layer after layer."""
        shape, before = tuple(input_shape), []
        for layer in self.layers:
            if _shape_found_by_calling(layer):
                for earlier, earlier_shape in before:
                    earlier._maybe_build(earlier_shape)
            before.append((layer, shape))
            shape = layer.compute_output_shape(shape)
        return shape

    def call(self, x, training=None):
        for layer in self.layers:
            x = layer(x, training=training)
        return x


def _shape_found_by_calling(layer):
    """True if Layer.compute_output_shape finds this layer's shape by running its call() on
    zeros (a layer of one's own, or a Sequential holding one)."""
    if isinstance(layer, Sequential):
        return any(_shape_found_by_calling(inner) for inner in layer.layers)
    return (type(layer).compute_output_shape is Layer.compute_output_shape
            and type(layer).forward is Layer.forward and hasattr(layer, "call"))


# Their call() only calls layers: no NumPy arithmetic of their own to record (layers/base.py).
GRAPH_CALLS.update({Model.call, Sequential.call})
