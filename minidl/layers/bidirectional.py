"""Bidirectional: one recurrent layer reading the sequence forwards, a copy reading it backwards.

keras/src/layers/rnn/bidirectional.py; each of the two runs its own loop (recurrent.py).
"""
import numpy as np

from minidl.layers.base import Layer
from minidl.layers.recurrent import RNN, add_grads
from minidl.layers.recurrent_cells import check_off



# -- Bidirectional: one recurrent layer reading forwards, a copy reading backwards ---------------
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the two outputs.

    Formula (keras/src/layers/rnn/bidirectional.py; on a CPU, the two layers' own loops):
        y = forward_layer(x)                 # (N,T,U) or (N,U)
        y_rev = backward_layer(x)            # the same layer with go_backwards=True
        y_rev = y_rev[:, ::-1]               # with return_sequences: step t again at t
        output = concat([y, y_rev], -1)      # (N,T,2U); or y + y_rev, (y + y_rev) / 2,
                                             # y * y_rev, or the list [y, y_rev]
        return_state=True: [output, *forward states, *backward states]
    Backward: the merge's backward splits dL/doutput between the two layers (concat: the two
    halves; sum: both; ave: half each; mul: dy * y_rev and dy * y), each layer's own
    backward runs, and dx = dx_forward + dx_backward.

    Args:
        layer: a SimpleRNN, LSTM or GRU (its weights are not used: two fresh copies are made
            from its config, named forward_<name> and backward_<name>, as Keras does).
        merge_mode: "concat" (default), "sum", "ave", "mul" or None (the two outputs).
        backward_layer: None (the copy of `layer`), or the layer to run backwards.
        weights: None only.
    With stateful layers each of the two keeps its own final states for its next call
    (recurrent.py); `reset_state()` resets both, as Keras's.
    """

    supports_masking = True  # the mask goes to both layers (the backward one reverses it)

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        layer = _wrapped_layer(layer, "layer")
        if merge_mode not in ("sum", "mul", "ave", "concat", None):
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be "
                             'one of {"sum", "mul", "ave", "concat", None}')
        check_off("weights", weights, None, "set the weights after building instead")
        super().__init__(**kwargs)
        config = layer.get_config()
        zero_output = {"zero_output_for_mask": layer.return_sequences}  # as Keras forces it
        self.forward_layer = type(layer).from_config(
            {**config, **zero_output, "name": "forward_" + _without(layer.name, "forward_")})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config(
                {**config, **zero_output, "go_backwards": True,
                 "name": "backward_" + _without(layer.name, "backward_")})
        else:
            self.backward_layer = _wrapped_layer(backward_layer, "backward_layer")
        _check_pair(self.forward_layer, self.backward_layer)
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.stateful = layer.stateful

    def check_input_shape(self, shape):
        self.forward_layer.check_input_shape(shape)

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            layer._maybe_build(input_shape)
            for weight in layer.weights + (layer.states or []):  # bidirectional/forward_lstm/
                weight.path = f"{self.name}/{weight.path}"  # lstm_cell/kernel, .../rnn_state

    @property
    def states(self):
        """The two layers' kept states, forward first (stateful only; else None)."""
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states + self.backward_layer.states)
        return None

    def reset_state(self):
        """Both layers' states back to zeros."""
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        """Keras's other name for reset_state()."""
        self.reset_state()

    def compute_output_shape(self, input_shape):
        output = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            output, states = output[0], output[1:]
        if self.merge_mode == "concat":
            output = tuple(output[:-1]) + (2 * output[-1],)
        outputs = [output, output] if self.merge_mode is None else [output]
        if self.return_state or self.merge_mode is None:
            return outputs + states + states
        return output

    def compute_mask(self, inputs, mask):
        """Keras's bidirectional.py: the mask on the output(s) with return_sequences, never
        on the states."""
        if isinstance(mask, list):
            mask = mask[0]
        if not self.return_sequences:
            return [None, None] if self.merge_mode is None else None
        return [mask, mask] if self.merge_mode is None else mask

    def forward(self, x, training=False, mask=None):
        y, forward_cache = self.forward_layer.forward(x, training, mask=mask)
        y_rev, backward_cache = self.backward_layer.forward(x, training, mask=mask)
        states = []
        if self.return_state:
            states, y, y_rev = y[1:] + y_rev[1:], y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]  # (N,T,U): the backward layer's step for x[:, t] at t
        if self.merge_mode == "concat":
            outputs = [np.concatenate([y, y_rev], axis=-1)]  # (N,...,2U)
        elif self.merge_mode == "sum":
            outputs = [y + y_rev]
        elif self.merge_mode == "ave":
            outputs = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            outputs = [y * y_rev]
        else:
            outputs = [y, y_rev]
        cache = (forward_cache, backward_cache, y, y_rev)
        if self.return_state or self.merge_mode is None:
            return outputs + states, cache
        return outputs[0], cache

    def backward(self, dy, cache, need_dx=True):
        forward_cache, backward_cache, y, y_rev = cache
        dys = list(dy) if (self.return_state or self.merge_mode is None) else [dy]
        dout, dstates = dys[:1 + (self.merge_mode is None)], dys[1 + (self.merge_mode is None):]
        if self.merge_mode == "concat":
            units = y.shape[-1]
            dy_f, dy_b = dout[0][..., :units], dout[0][..., units:]  # the two halves
        elif self.merge_mode == "sum":
            dy_f = dy_b = dout[0]
        elif self.merge_mode == "ave":
            dy_f = dy_b = dout[0] / 2
        elif self.merge_mode == "mul":
            dy_f, dy_b = dout[0] * y_rev, dout[0] * y
        else:
            dy_f, dy_b = dout
        if self.return_sequences:
            dy_b = dy_b[:, ::-1]  # back to the order the backward layer's steps ran
        half = len(dstates) // 2
        if self.return_state:
            dy_f, dy_b = [dy_f] + dstates[:half], [dy_b] + dstates[half:]
        dx_f, grads = self.forward_layer.backward(dy_f, forward_cache, need_dx)
        dx_b, backward_grads = self.backward_layer.backward(dy_b, backward_cache, need_dx)
        add_grads(grads, backward_grads)
        return (dx_f + dx_b if need_dx else None), grads

    def get_config(self):
        from minidl.saving.layer_config import layer_to_config  # saving imports the layers

        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": layer_to_config(self.forward_layer, self.dtype),
                "backward_layer": layer_to_config(self.backward_layer, self.dtype)}


def _wrapped_layer(layer, name):
    """A recurrent layer, or one from its config (a file's config holds the two as dicts)."""
    if isinstance(layer, dict):
        from minidl.saving.layer_config import layer_from_config  # saving imports the layers

        layer = layer_from_config(layer)
    if not isinstance(layer, Layer):
        raise ValueError("Please initialize `Bidirectional` layer with a `keras.layers.Layer` "
                         f"instance. Received: {layer}")
    if not isinstance(layer, RNN):
        raise ValueError("minidl's Bidirectional wraps a SimpleRNN, LSTM or GRU. Received: "
                         f"{name}={layer!r}")
    check_off(f"{name}.activity_regularizer", layer.activity_regularizer, None,
              "put it on the Bidirectional layer, which penalises the merged output")
    return layer


def _without(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


def _check_pair(forward, backward):
    """Keras's checks of a forward and backward layer (Bidirectional._verify_layer_config)."""
    if forward.go_backwards == backward.go_backwards:
        raise ValueError("Forward layer and backward layer should have different "
                         "`go_backwards` value. Received: forward_layer.go_backwards "
                         f"{forward.go_backwards}, backward_layer.go_backwards="
                         f"{backward.go_backwards}")
    for attribute in ("stateful", "return_sequences", "return_state"):
        forward_value, backward_value = getattr(forward, attribute), getattr(backward, attribute)
        if forward_value != backward_value:
            raise ValueError("Forward layer and backward layer are expected to have the same "
                             f'value for attribute "{attribute}", got "{forward_value}" for '
                             f'forward layer and "{backward_value}" for backward layer')
