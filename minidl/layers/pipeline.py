"""Pipeline: layers applied one after another, as one layer (keras.layers.Pipeline).

    Pipeline([AutoContrast(), RandomZoom(0.2), RandomRotation(0.2)])

Unlike a Sequential model it is a plain layer: it sits inside a model, or runs on the data
before one. Each layer's forward takes the previous one's output; backward runs the layers'
backwards in reverse, and the weights are the layers' own.
"""
from minidl.layers.base import Layer


class Pipeline(Layer):
    """Applies `layers` in turn: y = layers[-1](... layers[1](layers[0](x))).

    As Keras's (pipeline.py), a call that says nothing about training transforms (a bare
    call augments), and its config holds only the layers and the name.

    Args:
        layers: a list of layers (or, from a file, of their configs).
        name: the layer's name.
    """

    training_default = True  # Keras's call(inputs, training=True)
    config_has_dtype = False  # Keras's Pipeline(layers, name) takes no dtype

    def __init__(self, layers, name=None, **kwargs):
        if not isinstance(layers, (list, tuple)):
            raise ValueError("`Pipeline` config must contain a `layers` key mapping to a list "
                             f"of serialized layers. Received config with layers={layers}.")
        if any(isinstance(layer, dict) for layer in layers):  # a file's config
            from minidl.saving.layer_config import layer_from_config  # saving imports layers

            layers = [layer_from_config(layer) if isinstance(layer, dict) else layer
                      for layer in layers]
        super().__init__(name=name, **kwargs)
        self.pipeline_layers = list(layers)

    def build(self, input_shape):
        for layer in self.pipeline_layers:
            layer._maybe_build(input_shape)
            input_shape = layer.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        for layer in self.pipeline_layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def forward(self, x, training=False):
        caches = []
        for layer in self.pipeline_layers:
            x, cache = layer.forward(x, training=training)
            caches.append(cache)
        return x, caches

    def backward(self, dy, caches, need_dx=True):
        grads = {}
        for index in range(len(self.pipeline_layers) - 1, -1, -1):
            dy, layer_grads = self.pipeline_layers[index].backward(
                dy, caches[index], need_dx=need_dx or index > 0)
            grads.update(layer_grads)
        return dy, grads

    def get_config(self):
        from minidl.saving.layer_config import layer_to_config  # saving imports layers

        return {"layers": [layer_to_config(layer, self.dtype) for layer in self.pipeline_layers],
                "name": self.name}
