"""TimeDistributed: one layer applied to every time step, its weights shared by all of them.

    TimeDistributed(Dense(8))      (N,T,D)     -> (N,T,8)
    TimeDistributed(Conv2D(4, 3))  (N,T,H,W,C) -> (N,T,H',W',4)

Keras (keras/src/layers/rnn/time_distributed.py) calls the layer on each step x[:, t] in a
loop and stacks the outputs. For a layer that treats the rows of a batch independently
(Dense, Conv2D, pooling, Flatten, ...) that is the layer applied once to the N*T steps as one
batch of rows, which is what minidl does; BatchNormalization, whose training statistics
are per call (per step, in Keras), is refused.

Shapes: N rows in the batch, T time steps, (...) the shape of one step.
"""
from minidl import masks
from minidl.layers.base import Layer, _takes_mask
from minidl.layers.wrapper import Wrapper


class TimeDistributed(Wrapper):
    """y[:, t] = layer(x[:, t]) for every step t, with one set of weights.

    Formula:
        x_rows = x.reshape(N*T, ...)                 # every step of every row, as rows
        y_rows = layer(x_rows)                       # (N*T, ...')
        y = y_rows.reshape(N, T, ...')
    Backward: the layer's own backward on dy.reshape(N*T, ...'): its weight gradients are
    summed over all N*T rows (every step's share), and dx is reshaped back to (N,T,...).

    Args:
        layer: the layer to apply to each step (a minidl layer, or its config from a file).
    """

    supports_masking = True  # the (N,T) mask passes on, as Keras's

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):  # a file's config holds the wrapped layer as a dict
            from minidl.saving.layer_config import layer_from_config  # saving imports layers

            layer = layer_from_config(layer)
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a "
                             f"`keras.layers.Layer` instance. Received: {layer}")
        _check_wrappable(layer)
        super().__init__(layer, **kwargs)

    @staticmethod
    def _child_input_shape(input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with "
                             f"at least 3 dimensions, received: {input_shape}")
        return (input_shape[0], *input_shape[2:])

    def check_input_shape(self, shape):
        child = self._child_input_shape(shape)
        if self.layer.built:
            self.layer.check_input_shape(child)

    def build(self, input_shape):
        self.layer._maybe_build(self._child_input_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_input_shape(input_shape))
        return (child[0], input_shape[1], *child[1:])

    def forward(self, x, training=False, mask=None):
        if mask is not None and _takes_mask(self.layer.forward):
            raise masks.refuse(self, mask, "TimeDistributed hands each step's mask to a "
                                           "layer that takes one")
        n, t = x.shape[:2]
        rows = x.reshape((n * t,) + x.shape[2:])  # (N*T, ...)
        y_rows, cache = self.layer.forward(rows, training=training)  # (N*T, ...')
        return y_rows.reshape((n, t) + y_rows.shape[1:]), (cache, x.shape)  # (N,T,...')

    def backward(self, dy, cache, need_dx=True):
        layer_cache, x_shape = cache
        n, t = dy.shape[:2]
        dy_rows = dy.reshape((n * t,) + dy.shape[2:])  # (N*T, ...')
        dx_rows, grads = self.layer.backward(dy_rows, layer_cache, need_dx=need_dx)
        return (dx_rows.reshape(x_shape) if need_dx else None), grads  # (N,T,...)


def _check_wrappable(layer):
    """Refuse the layers for which one call on N*T rows is not Keras's T calls on N."""
    from minidl.layers.bidirectional import Bidirectional
    from minidl.layers.normalization import BatchNormalization
    from minidl.layers.recurrent import RNN
    from minidl.models import Model

    if isinstance(layer, BatchNormalization):
        raise ValueError(
            "minidl's TimeDistributed does not wrap BatchNormalization: Keras calls it once "
            "per time step, so in training each step has its own batch statistics and moving "
            "averages are updated once per step. Put BatchNormalization outside "
            "TimeDistributed (it normalizes the last axis of any shape). Received: "
            f"layer={layer!r}")
    if isinstance(layer, (Model, RNN, Bidirectional)):
        raise ValueError(
            "minidl's TimeDistributed wraps a single layer (Dense, Conv2D, pooling, Flatten, "
            "Dropout, ...), not a model or a recurrent layer (their weights are saved at "
            f"other paths). Received: layer={layer!r}")
