"""SimpleRNN, LSTM and GRU: one small cell applied at every time step, its state carried along.

A recurrent layer reads a sequence one step at a time. Its cell (recurrent_cells.py) takes
the step's input and the state the previous step left, and returns the step's output and the
new state:

    state = zeros                                  # (N,U), LSTM: the pair [h, c]
    for t in 0 .. T-1:
        h, state = cell.step(x[:, t], state)       # (N,D), (N,U) -> (N,U)
    output = h  (or every step's h: (N,T,U) with return_sequences=True)

Backward is backpropagation through time (BPTT): the same loop walked from the last step to
the first. Each step gets the gradient of its output (from the layer's output, if the step's
h is part of it) plus the gradient of the state it passed on (from the step after it), and
hands back the gradient of the state it received (to the step before). The cell's weights
are shared by every step, so their gradients add up over t:

    dstate = zeros (or the gradient of the returned state)
    for t in T-1 .. 0:
        dstate[h] += dL/d(output at t)
        dx[:, t], dstate, step_grads = cell.step_backward(dstate, cache of step t)
        dW += step_grads[W] ...                    # dW = sum over t of x_t.T @ dz_t

This is Keras's generic loop (keras/src/layers/rnn/rnn.py calling backend.rnn with the cell's
`call`), which TensorFlow runs on the CPU; the fused cuDNN kernels (backend.lstm and
backend.gru in keras/src/backend/tensorflow/rnn.py) only run on a GPU.

Shapes: N sequences in the batch, T time steps, D input features, U units.

Masks (minidl/masks.py): with a mask from Embedding(mask_zero=True) or Masking, a masked
step leaves the state and the output as they were (RNN.forward_masked); backward sends its
gradients straight through to the step before.

Dropout: the cell draws its masks once per training call (recurrent_cells.py says how); the
loop multiplies the whole input by the input mask, the same at every step.

Bidirectional (bidirectional.py) runs one of these layers forwards and a copy backwards.

stateful=True (Géron's char-RNN, which reads batches of consecutive windows): the states
the loop ends with are kept on the layer (`layer.states`, Variables (N,U) for the batch
size it was built with) and start its next call, in fit, evaluate, predict or a call of
your own, as Keras's rnn.py does. They enter that call as constants, so no gradient reaches
the batch before (truncated BPTT); `layer.reset_state()` puts them back to zeros. It is the
one place where a layer's forward writes to the layer outside training, as Keras's assigns
its state variables: two calls at once would share the states.
"""
import numpy as np

from minidl import activations
from minidl.variable import Variable
from minidl.layers.base import Layer
from minidl.layers import recurrent_own_cells as own_cells
from minidl.layers.core import check_rank
from minidl.layers.recurrent_cells import (Cell, DropoutMasks, GRUCell, LSTMCell,
                                           SimpleRNNCell, StackedRNNCells, _cell_from_config,
                                           check_cell, check_off, check_units)


def add_grads(total, grads):
    """total[v] += grads[v] for every weight v (a step's share of the shared weights)."""
    for variable, grad in grads.items():
        total[variable] = total[variable] + grad if variable in total else grad



# -- the layers: the loop over time ------------------------------------------------------------
class RNN(Layer):
    """Keras's generic recurrent layer, `RNN(cell)`: the loop over time steps and its backward
    (BPTT). SimpleRNN, LSTM and GRU are this loop with a cell made from their arguments
    (`cell_class`).

    Args:
        cell: a SimpleRNNCell, LSTMCell or GRUCell, or a list of them (StackedRNNCells: at
            every step each cell reads the output of the one before), or a cell of your own:
            a layer with a `state_size` (an int or a list of ints) and a
            `call(inputs, states) -> (output, new_states)`, whose loop is recorded on a tape
            and differentiated through every step (recurrent_own_cells.py).
        return_sequences, return_state, go_backwards, unroll, zero_output_for_mask: as
            SimpleRNN's (return_state with stacked cells is refused: Keras nests each cell's
            states in a list, which minidl's functional graphs do not carry).
        stateful: keep the final states of each call as the next call's initial states
            (`states`, `reset_state()`; see the module docstring). The batch size must be
            known when the layer is built (`Input(batch_shape=(N, T, ...))`, or a first call
            on data). With a cell of your own or a list of cells: False only.

    Formula:
        x = reversed x along T if go_backwards
        state = zeros;  for t in 0..T-1:  h_t, state = cell.step(x[:, t], state)
        output = [h_0 .. h_{T-1}] (N,T,U) if return_sequences else h_{T-1} (N,U)
        return_state=True: [output, *state]  (SimpleRNN, GRU: [output, h]; LSTM: [output, h, c])
    layer(x, initial_state=[h0, ...]) starts from those states instead of zeros, and gives
    them their gradient (the state left after backward's last step): an encoder's final
    states starting a decoder, Keras's seq2seq. As in Keras, such a call gets no mask from
    the layer before: every step runs (the output still carries the mask on).

    go_backwards returns the outputs in the order the steps ran (the reversed sequence), as
    Keras does. With a mask from the layers before (Embedding(mask_zero=True), Masking), a
    masked step keeps the state and output it received (forward_masked).

    Dropout, when training: the cell draws its masks once (Cell.draw_masks), and
        x = x * x_mask[:, None, :]      # (N,T,D) * (N,1,D): the same mask at every step
        h_{t-1} * h_mask                # in the cell's step (SimpleRNN), or one mask per
                                        # gate in implementation 1 (step_per_gate)
    Backward multiplies dx by the same x_mask.
    """

    supports_masking = True
    takes_initial_state = True  # (ConvLSTM's image states: not implemented)

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        cell = _cell_from_config(cell)
        if isinstance(cell, StackedRNNCells):
            check_off("stateful", stateful, False,
                      "Keras 3.15 keeps the states of StackedRNNCells nested, and its "
                      "reset_state() fails on them: use one stateful recurrent layer per cell")
        elif not isinstance(cell, Cell):
            check_off("stateful", stateful, False,
                      "with a cell of your own, every batch starts from the cell's initial "
                      "state; carrying its states across batches is not implemented")
        if not isinstance(cell, StackedRNNCells):
            check_cell(cell, "cell")
            if not isinstance(cell, Cell):
                own_cells.state_sizes(cell), own_cells.output_size(cell)  # Keras's checks
        elif return_state:
            raise ValueError(
                "minidl does not support `return_state=True` with StackedRNNCells (Keras "
                "returns each cell's states as a nested list): use one recurrent layer per "
                f"cell. Received: return_state={return_state}, cell={cell.name!r}")
        super().__init__(**kwargs)
        self.cell = cell
        self.own_cell = not isinstance(cell, (Cell, StackedRNNCells))  # recurrent_own_cells.py
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.states = None  # stateful: Variables (N,S), one per state, made by build
        self.unroll = bool(unroll)  # Keras unrolls the graph; minidl's loop is the same
        self.zero_output_for_mask = bool(zero_output_for_mask)  # masked steps output 0

    @property
    def units(self):
        """U: the (last) cell's output size."""
        return own_cells.output_size(self.cell) if self.own_cell else self.cell.output_size

    @property
    def state_sizes(self):
        """[S, ...]: the size of each state (LSTM: [U, U]; stacked cells: every cell's)."""
        return own_cells.state_sizes(self.cell) if self.own_cell else self.cell.state_sizes

    def __call__(self, inputs, initial_state=None, training=None, **kwargs):
        """As any layer's call; with `initial_state` (one array or KerasTensor per state, as
        the layer returns them with return_state=True) the layer is called on the list
        [x, *initial_state], which forward and backward read (`_with_states`)."""
        if initial_state is None:
            return super().__call__(inputs, training=training, **kwargs)
        if not self.takes_initial_state:
            raise ValueError(f"minidl's {type(self).__name__} does not take `initial_state`: "
                             "its loop starts from zero states. Received: initial_state="
                             f"{initial_state!r}")
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        if len(states) != len(self.state_sizes):
            raise ValueError(
                f"Layer {self.name} expects {len(self.state_sizes)} state(s) in "
                f"`initial_state` (one per entry of the cell's state_size "
                f"{list(self.state_sizes)}), but it received {len(states)} state(s).")
        outputs = super().__call__([inputs] + states, training=training, **kwargs)
        if self._inbound_nodes and self._inbound_nodes[-1].inputs[0] is inputs:
            self._inbound_nodes[-1].states_as_kwargs = True  # a .keras file: Keras's kwargs
        return outputs

    @staticmethod
    def _with_states(inputs):
        """(x, initial states or None) from what the layer was called on."""
        if isinstance(inputs, (list, tuple)):
            return inputs[0], list(inputs[1:])
        return inputs, None

    def check_input_shape(self, shape):
        if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
            shape, states = shape[0], shape[1:]
            for given, size in zip(states, self.state_sizes):
                if len(given) != 2 or given[-1] not in (None, size):
                    raise ValueError(
                        f"Layer {self.name}'s `initial_state` must be (batch_size, {size}) "
                        f"arrays, one per state. Received a state of shape {tuple(given)}")
        check_rank(self, shape, ndim=3)
        if shape[1] == 0:
            raise ValueError(f"Layer \"{self.name}\" needs at least one time step. Received "
                             f"input with shape {tuple(shape)}")
        if self.unroll and shape[1] is None:
            raise ValueError(
                "Cannot unroll a RNN if the time dimension is undefined. \n- If using a "
                "Sequential model, specify the time dimension by passing an `Input()` as your "
                "first layer.\n- If using the functional API, specify the time dimension by "
                "passing a `shape` or `batch_shape` argument to your `Input()`.")
        if self.built and not self.own_cell and shape[-1] != self.cell.input_size:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.cell.input_size}, but "
                f"received input with shape {tuple(shape)}")

    def build(self, input_shape):
        input_shape, _ = self._with_states(input_shape) if isinstance(input_shape[0], (
            tuple, list)) else (input_shape, None)
        if self.own_cell:  # (and the weight paths of the cell's sublayers)
            return own_cells.build(self, (input_shape[0], input_shape[-1]))
        self.cell.build((input_shape[0], input_shape[-1]))  # one step's input: (N,D)
        self.cell.built = True
        for weight in self.cell.weights:
            weight.path = f"{self.name}/{weight.path}"  # lstm/lstm_cell/kernel, as Keras
        if self.stateful:
            self.build_states(input_shape)

    def build_states(self, input_shape):
        """A stateful layer's states, zeros (N,S) each, for the batch size N of input_shape;
        kept out of `weights` and of files, as Keras's (rnn.py, _create_state_variables)."""
        if self.states is not None:
            return self.reset_state()
        if input_shape[0] is None:
            raise ValueError("When using `stateful=True` in a RNN, the batch size must be "
                             "static. Found dynamic batch size: "
                             f"sequence.shape={tuple(input_shape)}")
        self.states = [Variable(zeros, "rnn_state", trainable=False)
                       for zeros in self.zero_states(input_shape[0], self.dtype)]
        for state in self.states:
            state.path = f"{self.name}/rnn_state"

    def reset_state(self):
        """Put a stateful layer's states back to zeros (a layer that is not stateful has none:
        nothing to do), as Keras's."""
        for state in self.states or []:
            state.assign(0)

    def reset_states(self):
        """Keras's other name for reset_state()."""
        self.reset_state()

    def build_config(self):
        """Keras's: the sequences' shape, and the initial states' when the layer was called
        with them (by argument name, as keras/src/layers/rnn/rnn.py's build)."""
        from minidl.saving.layer_config import shape_list
        if not isinstance(self.input_shape, list):
            return {"input_shape": shape_list(self.input_shape)}
        return {"shapes_dict": {
            "sequences_shape": shape_list(self.input_shape[0]),
            "initial_state_shape": [shape_list(s) for s in self.input_shape[1:]]}}

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]  # [x, *initial states]: x's shape decides
        n, t = input_shape[0], input_shape[1]
        output = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [output] + [(n, size) for size in self.state_sizes]
        return output

    def compute_mask(self, inputs, mask):
        """The input's mask with return_sequences (not reversed by go_backwards: Keras's
        rnn.py hands it on as it came), else none; never one on the returned states."""
        if isinstance(mask, list):
            mask = mask[0]  # called with initial states: x's mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_sizes)
        return output_mask

    def forward(self, x, training=False, mask=None):
        x, initial = self._with_states(x)
        if initial is not None:  # Keras passes no mask to a call with two tensor arguments
            mask = None  # (keras/src/layers/layer.py, "Populate mask argument(s)"): the loop
            # runs every step; the output still carries x's mask on (compute_mask)
        if self.own_cell:  # a cell of your own: its call() step by step, on a tape
            return own_cells.forward(self, x, initial, mask, training)
        masks = self.cell.draw_masks(len(x), x.dtype) if training else None
        xs = x[:, ::-1] if self.go_backwards else x  # (N,T,D), a view
        x_mask = None  # the input's one mask, applied here (implementation 2)
        if masks is not None and masks.x is not None and self.cell.implementation == 2:
            x_mask = masks.x[:, None, :]  # (N,1,D)
            xs = xs * x_mask  # (N,T,D): Keras's inputs * dp_mask, the same at every step
        if mask is not None:
            return self.forward_masked(xs, mask, masks, x_mask, initial)
        n, steps = x.shape[:2]
        states = self.first_states(n, x.dtype, initial)  # (N,U) each
        hs, caches = [], []
        for t in range(steps):
            h, states, cache = self.step(xs[:, t], states, masks)  # (N,U)
            hs.append(h)
            caches.append(cache)
        if self.return_sequences:
            output = np.stack(hs, axis=1)  # (N,T,U)
        else:
            k = self.cell.output_state  # h's place among the states (stacked: the last cell's)
            output = states[k].copy()  # (N,U): the last h (a copy: the state is returned too)
        self.keep_states(states)
        given = initial is not None
        if self.return_state:
            return [output] + states, (caches, None, x_mask, given)
        return output, (caches, None, x_mask, given)

    def first_states(self, n, dtype, initial=None):
        """The states before the first step: the initial_state given, else a stateful
        layer's kept states (copies, as floatx: constants, no gradient goes to them), or
        zeros."""
        if self.stateful:
            expected = self.states[0].shape[0]
            if n != expected:
                raise ValueError(
                    "If an RNN is stateful, the batch size of the input sequences must be the "
                    f"same as the batch size of the initial state. \n- Expected batch size: "
                    f"{expected}\n- Received batch size: {n}")
            initial = self.states if initial is None else initial
        if initial is None:
            return self.zero_states(n, dtype)
        return [np.array(state, dtype) for state in initial]  # (N,U) each, copies

    def keep_states(self, states):
        """stateful: the final states (N,U) each, copied into the layer's for the next call."""
        if self.stateful:
            for kept, state in zip(self.states, states):
                kept.assign(state)

    def zero_states(self, n, dtype):
        """The states before the first step (and their gradients after the last): zeros,
        (N,U) each. ConvLSTM's are images (conv_lstm.py)."""
        return [np.zeros((n, size), dtype) for size in self.state_sizes]

    def step(self, x_t, states, masks):
        """The cell's step: implementation 1 (per gate) or 2, with the recurrent mask if any."""
        if self.cell.implementation == 1:  # LSTM, GRU with recurrent_dropout
            return self.cell.step_per_gate(x_t, states, masks or DropoutMasks())
        if masks is not None and masks.h is not None:  # SimpleRNN with recurrent_dropout
            return self.cell.step(x_t, states, masks.h)
        return self.cell.step(x_t, states)

    def step_backward(self, dstates, cache, need_dx):
        if self.cell.implementation == 1:
            return self.cell.step_per_gate_backward(dstates, cache, need_dx)
        return self.cell.step_backward(dstates, cache, need_dx)

    def forward_masked(self, xs, mask, masks, x_mask, initial=None):
        """The loop with a mask (N,T): a masked step keeps the state and output it received.

        Formula (keras/src/backend/tensorflow/rnn.py, the while_loop with a mask):
            h, new = cell.step(x_t, state)
            state_t  = new where mask_t else state_{t-1}         # row by row
            output_t = h   where mask_t else output_{t-1}        # output_{-1} = 0
                       (zero_output_for_mask=True: 0 instead of output_{t-1})
        go_backwards reverses the mask with the steps (xs comes reversed already). A row of
        padding only keeps its zero state and outputs 0.
        """
        if self.unroll and self.go_backwards and self.zero_output_for_mask:
            raise ValueError(
                f"minidl's {type(self).__name__} does not implement a mask with unroll=True, "
                "go_backwards=True and zero_output_for_mask=True together (Keras's unrolled "
                "loop zeroes the reversed outputs with the mask in its original order): pass "
                f"unroll=False. Received: unroll=True, layer {self.name!r}")
        n, steps = xs.shape[:2]
        keep = (mask[:, ::-1] if self.go_backwards else mask)[:, :, None]  # (N,T,1) bool
        states = self.first_states(n, xs.dtype, initial)  # (N,U) each
        zero = xs.dtype.type(0)
        output = np.zeros((n, self.units), xs.dtype)  # (N,U): output_{-1}
        outputs, caches = [], []
        for t in range(steps):
            h, new_states, cache = self.step(xs[:, t], states, masks)  # (N,U)
            m = keep[:, t]  # (N,1)
            output = np.where(m, h, zero if self.zero_output_for_mask else output)  # (N,U)
            states = [np.where(m, new, old) for new, old in zip(new_states, states)]
            outputs.append(output)
            caches.append(cache)
        output = np.stack(outputs, axis=1) if self.return_sequences else output  # (N,T,U)
        self.keep_states(states)
        given = initial is not None
        if self.return_state:
            return [output] + states, (caches, keep, x_mask, given)
        return output, (caches, keep, x_mask, given)

    def backward(self, dy, cache, need_dx=True):
        if self.own_cell:
            return own_cells.backward(self, dy, cache, need_dx)
        caches, keep, x_mask, given = cache
        dout, dstates = (dy[0], list(dy[1:])) if self.return_state else (dy, None)
        n, steps = len(dout), len(caches)
        if dstates is None:  # nothing downstream used the final state
            dstates = self.zero_states(n, dout.dtype)
        grads, dxs = {}, [None] * steps
        # With a mask, dL/d output_t that a masked step t+1 carried back to output_t.
        k = self.cell.output_state  # the output h is state k
        doutput = None if keep is None else np.zeros_like(dstates[k])
        for t in reversed(range(steps)):
            if self.return_sequences:
                d = dout[:, t]  # (N,U): h_t is output t
            else:
                d = dout if t == steps - 1 else None  # (N,U): h_{T-1} is the output
            if keep is None:
                if d is not None:
                    dstates[k] = dstates[k] + d
                dxs[t], dstates, step_grads = self.step_backward(dstates, caches[t], need_dx)
            else:
                dxs[t], dstates, doutput, step_grads = self._masked_step_backward(
                    doutput if d is None else doutput + d, dstates, keep[:, t], caches[t],
                    need_dx)
            add_grads(grads, step_grads)  # the weights are shared by every step: grads add up
        if not need_dx:
            return None, grads
        dx = np.stack(dxs, axis=1)  # (N,T,D), in the order the steps ran
        if x_mask is not None:
            dx = dx * x_mask  # (N,T,D) * (N,1,D)
        dx = dx[:, ::-1] if self.go_backwards else dx
        return ([dx] + dstates if given else dx), grads  # initial states: d state_{-1}

    def _masked_step_backward(self, doutput, dstates, m, cache, need_dx):
        """One step of the masked loop backward: the rows of real steps (m, (N,1)) go through
        the cell; the others pass their gradients on to the state and output they kept.

        Formula (the gradient of np.where, as TensorFlow's of tf.where):
            d new   = dstate where m else 0;    d h = doutput where m else 0
            d state_{t-1}  = cell's d state_prev + (dstate where not m)
            d output_{t-1} = doutput where not m  (0 with zero_output_for_mask)
        """
        zero = doutput.dtype.type(0)
        d_new = [np.where(m, d, zero) for d in dstates]  # (N,U) each
        k = self.cell.output_state
        d_new[k] = d_new[k] + np.where(m, doutput, zero)  # h is both output and state k
        dx, d_prev, step_grads = self.step_backward(d_new, cache, need_dx)
        dstates = [dp + np.where(m, zero, d) for dp, d in zip(d_prev, dstates)]
        doutput = np.zeros_like(doutput) if self.zero_output_for_mask else \
            np.where(m, zero, doutput)
        return dx, dstates, doutput, step_grads

    def get_config(self):
        """Keras's RNN config: the loop's options and the cell's own config."""
        from minidl.saving.layer_config import layer_to_config  # saving imports the layers

        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
                "cell": layer_to_config(self.cell, self.cell.dtype)}

    def flat_config(self):
        """SimpleRNN's, LSTM's and GRU's config: the loop's options and the cell's arguments
        side by side, without the cell."""
        cell = self.cell
        return {**Layer.get_config(self),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "units": cell.units, "activation": activations.serialize(cell.activation),
                **self.recurrent_activation_config(), "use_bias": cell.use_bias,
                "kernel_initializer": cell.kernel_initializer,
                "recurrent_initializer": cell.recurrent_initializer,
                "bias_initializer": cell.bias_initializer,
                **self.extra_config(),
                "kernel_regularizer": cell.kernel_regularizer,
                "recurrent_regularizer": cell.recurrent_regularizer,
                "bias_regularizer": cell.bias_regularizer,
                "activity_regularizer": self.activity_regularizer,
                "kernel_constraint": cell.kernel_constraint,
                "recurrent_constraint": cell.recurrent_constraint,
                "bias_constraint": cell.bias_constraint,
                "dropout": cell.dropout, "recurrent_dropout": cell.recurrent_dropout}

    def recurrent_activation_config(self):
        return {"recurrent_activation": activations.serialize(self.cell.recurrent_activation)}

    def extra_config(self):
        return {}


def cell_arguments(units, kwargs, **arguments):
    """The arguments every cell takes, with the layer's dtype and trainable flag (as Keras)."""
    return dict(units=check_units(units), dtype=kwargs.get("dtype"),
                trainable=kwargs.get("trainable", True), **arguments)


class SimpleRNN(RNN):
    """Fully connected RNN: the output is fed back as the next step's second input.

    Formula (SimpleRNNCell, recurrent_cells.py):
        h_t = activation((x_t @ W + b) + h_{t-1} @ U)     # (N,D)@(D,U) + (N,U)@(U,U)

    Args:
        units: U, the size of the output and of the state (a positive integer).
        activation: default "tanh"; None is linear.
        use_bias: whether to add b.
        kernel_initializer, recurrent_initializer, bias_initializer: default
            "glorot_uniform", "orthogonal", "zeros".
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties, as Dense's.
        return_sequences: return every step's output (N,T,U) instead of the last (N,U).
        return_state: also return the final state: [output, h].
        go_backwards: read the sequence from its end (and return the outputs in that order).
        unroll: accepted (Keras's graph unrolling); minidl's loop gives the same numbers.
        dropout: the fraction of x_t's features to drop, in [0, 1): one mask per call,
            used at every step (see RNN).
        recurrent_dropout: the fraction of h_{t-1}'s units to drop, in [0, 1), likewise.
        seed: an integer gives the cell its own generator for the masks.
        kernel_constraint, recurrent_constraint, bias_constraint: projections after each
            optimizer step (constraints.py).
        stateful: keep each call's final state for the next call (see RNN).
        activity_regularizer: None only (Keras's SimpleRNN ignores it, see __init__).
    """

    cell_class = SimpleRNNCell

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        check_off("activity_regularizer", activity_regularizer, None,
                  "Keras 3.15's SimpleRNN accepts it but never passes it on, so it penalises "
                  "nothing there; add an ActivityRegularization layer after the SimpleRNN")
        cell = self.cell_class(**cell_arguments(
            units, kwargs, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="simple_rnn_cell"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.seed = seed  # the cell's, for its dropout masks (Keras does not save it here)

    def recurrent_activation_config(self):
        return {}

    def get_config(self):
        return self.flat_config()


class LSTM(RNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997): a gated carry c beside h.

    Formula (LSTMCell, recurrent_cells.py; sigma = recurrent_activation, act = activation):
        i, f, g, o = sigma, sigma, act, sigma of split((x_t @ W + h_{t-1} @ U) + b, 4)
        c_t = f * c_{t-1} + i * g;   h_t = o * act(c_t)

    Args:
        units, activation, use_bias, initializers, regularizers, return_sequences,
            go_backwards, unroll: as SimpleRNN.
        recurrent_activation: of the gates i, f, o; default "sigmoid".
        unit_forget_bias: start the forget gate's bias at 1 (default True).
        return_state: also return the final states: [output, h, c].
        use_cudnn: "auto" or False (minidl runs the generic loop, as Keras on a CPU).
        dropout, recurrent_dropout, seed: as SimpleRNN; with recurrent_dropout each gate gets
            its own masks (implementation 1, LSTMCell.step_per_gate).
        kernel_constraint, recurrent_constraint, bias_constraint, stateful: as SimpleRNN's.
    """

    cell_class = LSTMCell

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):
        check_use_cudnn(use_cudnn)
        cell = self.cell_class(**cell_arguments(
            units, kwargs, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            unit_forget_bias=unit_forget_bias,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, name="lstm_cell"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.seed, self.use_cudnn = seed, use_cudnn

    def extra_config(self):
        return {"unit_forget_bias": self.cell.unit_forget_bias}

    def get_config(self):
        return {**self.flat_config(), "seed": self.seed}


class GRU(RNN):
    """Gated Recurrent Unit (Cho et al., 2014): an update gate z mixes h_{t-1} and a candidate.

    Formula (GRUCell, recurrent_cells.py; sigma = recurrent_activation, act = activation):
        z = sigma(x_t Wz + bxz + h_{t-1} Uz + bhz);   r = sigma(x_t Wr + bxr + h_{t-1} Ur + bhr)
        n = act(x_t Wh + bxh + r * (h_{t-1} Uh + bhh))      # reset_after=True (default)
        n = act(x_t Wh + bh + (r * h_{t-1}) Uh)             # reset_after=False
        h_t = z * h_{t-1} + (1 - z) * n

    Args:
        units, activation, recurrent_activation, use_bias, initializers, regularizers,
            return_sequences, go_backwards, unroll, use_cudnn: as LSTM.
        reset_after: apply the reset gate after the recurrent product (True, Keras's default;
            the bias is then (2, 3U): input and recurrent rows) or before it (False; (3U,)).
        return_state: also return the final state: [output, h].
        dropout, recurrent_dropout, seed: as LSTM (GRUCell.step_per_gate).
        kernel_constraint, recurrent_constraint, bias_constraint, stateful: as SimpleRNN's.
    """

    cell_class = GRUCell

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", **kwargs):
        check_use_cudnn(use_cudnn)
        cell = self.cell_class(**cell_arguments(
            units, kwargs, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            reset_after=reset_after, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="gru_cell"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.seed, self.use_cudnn = seed, use_cudnn

    def get_config(self):
        return {**self.flat_config(), "reset_after": self.cell.reset_after, "seed": self.seed}


def check_use_cudnn(use_cudnn):
    if use_cudnn not in ("auto", True, False):
        raise ValueError("Invalid valid received for argument `use_cudnn`. Expected one of "
                         f"{{'auto', True, False}}. Received: use_cudnn={use_cudnn}")
    if use_cudnn is True:
        raise ValueError("minidl does not support `use_cudnn=True` (minidl runs the generic "
                         "loop over time steps, as Keras does on a CPU): pass 'auto' or False. "
                         f"Received: use_cudnn={use_cudnn}")
