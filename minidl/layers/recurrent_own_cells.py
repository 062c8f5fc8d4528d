"""RNN(cell) with a cell of your own: its call() at every time step, recorded on a tape.

minidl's built-in cells (recurrent_cells.py) have their step's backward written out. A cell
of your own has only what Keras asks of it (keras/src/layers/rnn/rnn.py):

    class MinimalRNNCell(keras.layers.Layer):        # the Keras RNN docstring's
        state_size = units                           # an int, or a list: one per state
        def call(self, inputs, states):              # (N,D), [(N,S), ...]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(states[0], self.recurrent_kernel)
            return output, [output]                  # (N,U), the new states

and minidl has no autograd, so RNN runs Keras's loop with minidl.ops and records it, step by
step, on a tape of the layer call's own (tape.py): the slicing of x into steps, each step's
ops and layer calls inside call() (Tracked arrays, ops/backprop.py), the masking and the
stacking of the outputs. That tape is the call's cache, and backward walks it back:

    x_0 .. x_{T-1} = time_steps(x)       # one recorded op; reversed order if go_backwards
    states = initial states              # given, cell.get_initial_state(N), or zeros (N,S)
    for t in 0 .. T-1:
        h_t, new = cell.call(x_t, states)                 # your ops and layers, recorded
        with a mask (N,T) from the layer before (Keras's rule, a masked step keeps both):
            h_t    = where(mask_t, h_t, h_{t-1})          # h_{-1} = 0; 0 with zero_output_for_mask
            new    = where(mask_t, new, states)
        states = new
    output = stack(h_0 .. h_{T-1}, axis=1) (N,T,U)  or  h_{T-1} (N,U)
    backward: dL/dx, dL/d(initial states), dL/dW for every trainable weight of the cell and
              its sublayers = the tape's walk from dL/d(outputs)   (BPTT, by the chain rule)

Outside a training step (predict, evaluate) the same loop runs on plain arrays and records
nothing. Letters: N sequences, T steps, D input features, U output size, S a state's size.
"""
import numpy as np

from minidl import config
from minidl.layers.base import _takes_training, each_array
from minidl.ops import backprop, backprop_numpy
from minidl.tape import Tape, active_tape, flatten


# -- what the cell says about itself ------------------------------------------------------------
def state_sizes(cell):
    """The cell's state_size as a list of ints, one per state (Keras's RNN.state_size)."""
    size = getattr(cell, "state_size", None)
    if size is None:
        raise ValueError("state_size must be specified as property on the RNN cell.")
    if isinstance(size, (list, tuple)) and not all(_is_int(s) for s in size):
        raise ValueError(
            "minidl's RNN takes a cell's `state_size` as an integer or a list of integers, one "
            "per state; nested states (a list or shape per state, as the Keras guide's "
            "NestedCell) are not implemented. Received: "
            f"state_size={size!r} from cell={cell!r}")
    if not isinstance(size, (list, tuple)) and not _is_int(size):
        raise ValueError("state_size must be an integer, or a list/tuple of integers (one for "
                         "each state tensor).")
    return [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]


def output_size(cell):
    """U: the cell's output_size, or its first state's size (Keras's default)."""
    size = getattr(cell, "output_size", None)
    if size is None:
        return state_sizes(cell)[0]
    if not _is_int(size):
        raise ValueError("output_size must be an integer.")
    return int(size)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# -- building ------------------------------------------------------------------------------------
def build(layer, step_shape):
    """Build the cell for one step's input (N,D), as Keras's RNN.build, then call it once on
    zeros: Keras builds the layers a cell creates in __init__ (Géron's SimpleRNNCell and
    LayerNormalization) when a model first traces its call; minidl when the cell first runs."""
    cell = layer.cell
    if not cell.built:
        cell.build(step_shape)
        cell.built = True
    dtype = config.floatx()
    x = np.zeros((1, step_shape[-1]), dtype)  # (1,D)
    states = [np.zeros((1, size), dtype) for size in state_sizes(cell)]  # (1,S) each
    tracking = backprop.set_tracking(False)
    try:
        with Tape():  # a tape of its own: nothing of this call reaches a training step's tape
            call_cell(layer, x, states, training=False)
    finally:
        backprop.set_tracking(tracking)
    _name_weights(cell, layer.name)  # rnn/ln_simple_rnn_cell/layer_normalization/gamma


def _name_weights(owner, prefix):
    """Keras's weight paths: every layer on the way from the RNN down to the weight."""
    for weight in owner._own_weights:
        weight.path = f"{prefix}/{weight.path}"  # its own path is owner/name
    for sublayer in owner.layers:
        _name_weights(sublayer, f"{prefix}/{owner.name}")


# -- one step --------------------------------------------------------------------------------------
def call_cell(layer, x_t, states, training):
    """h_t, new states: the cell's call(), as Keras's RNN.inner_loop makes it (training only
    to a call that takes it; a single new state as a list of one)."""
    cell = layer.cell
    kwargs = {"training": training} if _takes_training(cell.call) else {}
    h, new_states = cell.call(x_t, list(states), **kwargs)
    new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
    sizes = state_sizes(cell)
    shapes = [tuple(np.shape(s)) for s in new_states]
    if shapes != [(len(x_t), size) for size in sizes] or np.shape(h) != (len(x_t), layer.units):
        raise ValueError(
            f"The call() of cell '{cell.name}' must return (output, new_states) with an "
            f"output of shape (batch_size, {layer.units}) (its output_size) and one state of "
            f"shape (batch_size, size) for each size of its state_size {sizes}. Received: "
            f"output shape {tuple(np.shape(h))}, state shapes {shapes}")
    return h, new_states


def time_steps(x):
    """x (N,T,D) as its T steps x[:, t] (N,D), one op on the tape.

    Formula:  x_t = x[:, t];   dx = stack(dx_0 .. dx_{T-1}, axis=1)     # (N,T,D)
    """
    value, = backprop.values(x)
    steps = [np.ascontiguousarray(value[:, t]) for t in range(value.shape[1])]  # (N,D) each

    def gradient(dsteps):
        dsteps = dsteps if isinstance(dsteps, list) else [dsteps]  # T == 1: one array
        return [np.stack(dsteps, axis=1)]  # (N,T,D)
    if active_tape() is None:
        return steps
    backprop.record(steps, "time_steps", [value], gradient)
    return [backprop.tracked(s) for s in steps]


# -- the loop --------------------------------------------------------------------------------------
def loop(layer, x, states, mask, training):
    """The outputs of RNN(cell) on x (N,T,D) from `states`, as rnn.py's loop (module docstring);
    recorded when a tape is active. mask: (N,T) booleans or None."""
    steps = time_steps(x)  # T arrays (N,D)
    keep = None
    if mask is not None:
        keep = np.asarray(mask, bool)[:, ::-1] if layer.go_backwards else np.asarray(mask, bool)
    if layer.go_backwards:
        steps = steps[::-1]  # the outputs come in this order too, as in Keras
    output, outputs = None, []
    for t, x_t in enumerate(steps):
        h, new_states = call_cell(layer, x_t, states, training)  # (N,U), [(N,S), ...]
        if keep is not None:  # a masked row keeps its state and its output (module docstring)
            m = keep[:, t, None]  # (N,1)
            before = np.zeros(np.shape(h), h.dtype) if output is None \
                or layer.zero_output_for_mask else output
            h = backprop.where(m, h, before)  # (N,U)
            new_states = [backprop.where(m, new, old) for new, old in zip(new_states, states)]
        output, states = h, new_states
        if layer.return_sequences:
            outputs.append(h)
    if layer.return_sequences:
        output = backprop_numpy.stack(outputs, axis=1)  # (N,T,U)
    return [output] + list(states) if layer.return_state else output


def first_states(layer, n, dtype, initial):
    """The states before the first step: the given ones, the cell's get_initial_state(
    batch_size=N) if it has one (Keras's RNN.get_initial_state), or zeros (N,S)."""
    if initial is not None:
        return [np.array(state, dtype) for state in initial]  # copies, as floatx
    get_initial_state = getattr(layer.cell, "get_initial_state", None)
    if get_initial_state is None:
        return [np.zeros((n, size), dtype) for size in state_sizes(layer.cell)]
    states = get_initial_state(batch_size=n)
    states = states if isinstance(states, (list, tuple)) else [states]
    return [np.array(backprop.untracked(s), dtype) for s in states]


# -- forward and backward: the layer protocol, with the tape as the cache ----------------------
def forward(layer, x, initial, mask, training):
    """y, cache. In a training step, the loop is recorded on a tape of this call's own, which
    backward walks; otherwise it runs on plain arrays (cache None)."""
    states = first_states(layer, len(x), x.dtype, initial)  # (N,S) each
    if active_tape() is None:
        return loop(layer, x, states, mask, training), None
    tape = Tape()
    tracking = backprop.set_tracking(True)  # the cell's NumPy operators are recorded too
    try:
        with tape:
            tape.watch([x] + states)  # the arrays the loop starts from
            outputs = loop(layer, backprop.tracked(x), [backprop.tracked(s) for s in states],
                           mask, training)
    finally:
        backprop.set_tracking(tracking)
    outputs = each_array(backprop.untracked, outputs)
    if tape.penalties:
        raise ValueError(
            f"minidl does not support add_loss() or an activity_regularizer inside the cell "
            f"of RNN '{layer.name}' (a loss made at every time step): add the loss after the "
            f"RNN, on its output. Received: cell={layer.cell!r}")
    return outputs, (tape, x, states, initial is not None, outputs)


def backward(layer, dy, cache, need_dx=True):
    """dx (and the initial states' gradients, if they were given), {weight: gradient}: the
    recorded loop walked back from dL/d(outputs)."""
    if cache is None:
        raise ValueError(f"RNN '{layer.name}' was called outside a training step (no tape was "
                         "recording), so there is nothing to differentiate: call it inside "
                         "`with minidl.tape.Tape():` or in fit.")
    tape, x, states, given, outputs = cache
    weights = layer.trainable_weights
    grads = tape.gradient(list(zip(flatten(outputs), flatten(dy))), weights,
                          inputs=[x] + states if need_dx else None,
                          unconnected_gradients="none")
    weight_grads = {w: g for w, g in zip(weights, grads) if g is not None}
    if not need_dx:
        return None, weight_grads
    dx, dstates = grads[len(weights)], grads[len(weights) + 1:]
    return ([dx] + dstates if given else dx), weight_grads
