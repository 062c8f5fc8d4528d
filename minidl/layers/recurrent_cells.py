"""The cells of SimpleRNN, LSTM and GRU: one time step, forward and backward.

A cell takes the step's input and the state the previous step left, and returns the step's
output and the new state; its layer (recurrent.py) runs it over the time steps:

    h, state = cell.step(x[:, t], state)                       # (N,D), (N,U) -> (N,U)
    dx_t, dstate, grads = cell.step_backward(dstate, cache)    # one step of BPTT

Each cell's `step` does the operations of its Keras cell's `call` (keras/src/layers/rnn/
simple_rnn.py, lstm.py, gru.py; implementation 2, Keras's default) in the same order, so the
numbers agree to float32 rounding.

Weights live in the cell, as in Keras (paths `lstm/lstm_cell/kernel`; in a weights file
`layers/lstm/cell/vars/0`), with the gates side by side in one matrix:

    kernel            (D, k*U)    x_t's contribution to every gate
    recurrent_kernel  (U, k*U)    h_{t-1}'s contribution to every gate
    bias              (k*U,)      GRU with reset_after=True: (2, 3*U), input and recurrent rows
    k = 1 (SimpleRNN), 4 (LSTM: gates i, f, c, o), 3 (GRU: gates z, r, h)

Shapes: N sequences in the batch, T time steps, D input features, U units.

Dropout (keras/src/layers/rnn/dropout_rnn_cell.py): when training, the cell draws its masks
once per call, before the loop, and every step uses the same ones (Gal & Ghahramani, 2016):

    x_mask = keep * scale    (N,D)  on x_t,      keep ~ u >= dropout,  scale = 1 / (1 - dropout)
    h_mask = keep * scale    (N,U)  on h_{t-1},  keep ~ u >= recurrent_dropout

A mask is a constant of the step: backward multiplies the gradient by the same mask. LSTM and
GRU with recurrent_dropout switch, as Keras's cells do, to implementation 1: one product per
gate, each gate with its own masks, (k,N,D) and (k,N,U) (step_per_gate). At inference
nothing is drawn. The masks come from minidl's generator (minidl/rng.py), or the layer's own
with a `seed`; reference/masks.py replays them in Keras.
"""
from typing import NamedTuple

import numpy as np

from minidl import activations, constraints, initializers, regularizers, rng
from minidl.layers.base import Layer


# -- argument checks -------------------------------------------------------------------------
def check_units(units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError("Received an invalid value for argument `units`, expected a positive "
                         f"integer, got {units}.")
    return int(units)


def check_off(name, value, off, why):
    """A Keras argument minidl does not implement: only its "off" value is accepted."""
    if value != off:
        raise ValueError(f"minidl does not support `{name}` other than {off!r} ({why}). "
                         f"Received: {name}={value!r}")


def check_rate(name, rate):
    """A dropout rate in [0, 1). Keras's cells clip any number into [0, 1] without a word, and
    at 1 LSTM and GRU then drop nothing while SimpleRNN drops everything: minidl refuses it."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not 0 <= rate < 1:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected a float value "
                         f"between 0 and 1 (1 excluded). Received: {name}={rate}")
    return float(rate)


def check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"Argument `seed` must be an integer or None. Received: seed={seed!r}")
    return seed



# -- implementation 1: one product per gate, each on its own masked copy -----------------------
class DropoutMasks(NamedTuple):
    """One call's dropout masks (None: that dropout is 0): x on the inputs, h on h_{t-1}.
    (N,D) and (N,U), or one per gate, (k,N,D) and (k,N,U), in implementation 1."""

    x: np.ndarray = None
    h: np.ndarray = None


def per_gate(W, k):
    """(A,kU) -> (k,A,U): gate g's block of columns W[:, g*U:(g+1)*U] as W_g."""
    return W.reshape(W.shape[0], k, -1).transpose(1, 0, 2)


def side_by_side(blocks):
    """(k,A,U) -> (A,kU): the inverse of per_gate (gate g's block in columns g*U..(g+1)*U)."""
    return blocks.transpose(1, 0, 2).reshape(blocks.shape[1], -1)


def gate_copies(v, mask, k):
    """k copies of v (N,·), copy g times mask[g]: Keras's inputs_i = inputs * dp_mask[0], ..."""
    return np.broadcast_to(v, (k,) + v.shape) if mask is None else v * mask  # (k,N,·)


def sum_of_copies(dcopies, mask):
    """The gradient of gate_copies: sum over g of dcopy_g * mask[g]."""
    return (dcopies if mask is None else dcopies * mask).sum(axis=0)  # (k,N,·) -> (N,·)


# -- cells: one time step, forward and backward ------------------------------------------------
class Cell(Layer):
    """What the three cells share: their arguments and the kernel and recurrent kernel.

    A cell only holds weights and does one step; its layer (recurrent.py's RNN) runs the loop.
        step(x, states) -> h, new_states, cache             # (N,D), [(N,U), ...]
        step_backward(dstates, cache, need_dx) -> dx, dstates_before, {weight: grad}
    and draws the dropout masks of a training call (draw_masks), as Keras's DropoutRNNCell.
    """

    gates = 1  # k: how many U-wide blocks the kernels hold

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 **kwargs):
        units = check_units(units)
        super().__init__(**kwargs)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = check_seed(seed)
        self._generator = None if seed is None else np.random.default_rng(seed)
        # Keras's LSTMCell and GRUCell switch to implementation 1 (a product per gate, each
        # gate with its own masks) when recurrent_dropout is set, training or not.
        self.implementation = 1 if self.recurrent_dropout and self.gates > 1 else 2
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def state_sizes(self):
        return [self.units]

    @property
    def state_size(self):
        """Keras's name: U, or [U, U] for LSTM's h and c."""
        return self.state_sizes[0] if len(self.state_sizes) == 1 else self.state_sizes

    @property
    def output_size(self):
        return self.units

    output_state = 0  # the step's output h is also its state 0

    # -- called by itself, as Keras's cells are (a cell of your own calling a built-in one) -----
    def __call__(self, inputs, states=None, training=None, **kwargs):
        """Keras's cell call: `h, new_states = cell(x_t, states)`, one step on (N,D) and the
        states, written on the tape as any layer call (forward and backward below), so that
        a cell of your own can use a built-in one (Géron's LNSimpleRNNCell). Keras's
        SimpleRNNCell and GRUCell return a single new state when given a single state."""
        if states is None:  # Keras's message
            raise TypeError(f"{type(self).__name__}.call() missing 1 required positional "
                            "argument: 'states'")
        if self.dropout or self.recurrent_dropout:
            raise ValueError(
                "minidl does not support `dropout` or `recurrent_dropout` in a "
                f"{type(self).__name__} called by itself (Keras's cell keeps the masks of its first training call for "
                "every later call unless an RNN around it resets them): give the dropout to "
                f"the RNN's cell or a Dropout layer. Received: {self.name}.dropout="
                f"{self.dropout}, {self.name}.recurrent_dropout={self.recurrent_dropout}")
        nested = isinstance(states, (list, tuple))
        states = list(states) if nested else [states]
        if len(states) != len(self.state_sizes):
            raise ValueError(f"{type(self).__name__} '{self.name}' takes {len(self.state_sizes)} "
                             f"state(s) (state_size {self.state_size}). Received "
                             f"{len(states)} state(s)")
        if not self.built:
            self._maybe_build(tuple(np.shape(inputs)))  # (N,D): the weights, as in an RNN
        outputs = super().__call__([inputs] + states, training=training, **kwargs)
        h, new_states = outputs[0], list(outputs[1:])
        return h, new_states if nested or len(new_states) > 1 else new_states[0]

    def forward(self, inputs, training=False):
        """[x, *states] -> [h, *new_states]: step() on what Cell.__call__ was given."""
        x, states = inputs[0], list(inputs[1:])
        h, new_states, cache = self.step(x, states)
        return [h] + new_states, cache

    def backward(self, dy, cache, need_dx=True):
        """[dh, *dnew_states] -> [dx, *dstates]: step_backward(), h's gradient added to
        state output_state's (h is both the output and that state)."""
        dstates = list(dy[1:])
        dstates[self.output_state] = dstates[self.output_state] + dy[0]
        dx, dprev, grads = self.step_backward(dstates, cache, need_dx)
        return [dx] + dprev, grads

    @property
    def input_size(self):
        """D, once built."""
        return self.kernel.shape[0]

    def get_config(self):
        """Keras's cell config (SimpleRNNCell, LSTMCell, GRUCell): the keys in its order."""
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, **self.extra_config(),
                "kernel_initializer": self.kernel_initializer,
                "recurrent_initializer": self.recurrent_initializer,
                "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer,
                "recurrent_regularizer": self.recurrent_regularizer,
                "bias_regularizer": self.bias_regularizer,
                "kernel_constraint": self.kernel_constraint,
                "recurrent_constraint": self.recurrent_constraint,
                "bias_constraint": self.bias_constraint, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, **self.last_config(),
                "seed": self.seed}

    def extra_config(self):
        return {}

    def last_config(self):
        return {}

    def build(self, input_shape):
        width = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], width), self.kernel_initializer,
                                      "kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                "recurrent_kernel",
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(self.bias_shape(), self.bias_initializer_for_build(),
                                        "bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def bias_shape(self):
        return (self.gates * self.units,)

    def bias_initializer_for_build(self):
        return self.bias_initializer

    def weight_grads(self, dW, dU, db):
        grads = {self.kernel: dW, self.recurrent_kernel: dU}
        if self.use_bias:
            grads[self.bias] = db
        return grads

    # -- dropout masks ---------------------------------------------------------------------------
    def generator(self):
        """The cell's own generator if it was seeded, else minidl's (looked up at each draw)."""
        return self._generator if self._generator is not None else rng.generator()

    def draw_masks(self, n, dtype):
        """The dropout masks of one training call on N rows (None if both rates are 0).

        Drawn once, before the loop, and used at every step: Keras's RNN.call fills the
        cell's cache (get_dropout_mask, get_recurrent_dropout_mask) before its loop and
        empties it after (keras/src/layers/rnn/rnn.py). One mask per gate in implementation 1.
        """
        if not (self.dropout or self.recurrent_dropout):
            return None
        gates = (self.gates,) if self.implementation == 1 else ()
        x_mask = h_mask = None
        if self.dropout:
            x_mask = self.draw_dropout_mask(gates + (n, self.kernel.shape[0]), dtype)
        if self.recurrent_dropout:
            h_mask = self.draw_recurrent_dropout_mask(gates + (n, self.units), dtype)
        return DropoutMasks(x_mask, h_mask)

    def draw_dropout_mask(self, shape, dtype):
        return self._draw_mask(shape, self.dropout, dtype)

    def draw_recurrent_dropout_mask(self, shape, dtype):
        return self._draw_mask(shape, self.recurrent_dropout, dtype)

    def _draw_mask(self, shape, rate, dtype):
        """TensorFlow's dropout of a tensor of ones: 0 or 1 / (1 - rate), rounded once.

        Formula:  keep = u >= rate, u ~ U[0, 1) (in float32);  mask = where(keep, scale, 0)
        """
        dtype = np.dtype(dtype)
        u = self.generator().random(shape, dtype=np.float32)  # (N,D) uniform on [0, 1)
        scale = dtype.type(1.0 / (1.0 - rate))  # rounded once, as TensorFlow
        return np.where(u >= np.float32(rate), scale, dtype.type(0))  # (N,D): 0 or scale


class SimpleRNNCell(Cell):
    """One step of SimpleRNN (keras/src/layers/rnn/simple_rnn.py, SimpleRNNCell.call).

    Formula:
        z = (x @ W + b) + h_prev @ U     # (N,D)@(D,U) + (U,) + (N,U)@(U,U) -> (N,U)
        h = activation(z)                # Keras adds b before the recurrent term
    With recurrent_dropout, h_prev * h_mask takes h_prev's place in the product (x * x_mask
    takes x's with dropout; the layer applies that one, RNN.forward).
    Backward, given dh:
        dz = activation_backward(dh, z, h)
        dW = x.T @ dz;  dU = h_prev.T @ dz;  db = sum of dz over rows
        dx = dz @ W.T;  dh_prev = dz @ U.T      (* h_mask with recurrent_dropout)
    """

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=None, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]  # SimpleRNNCell has none
        return config

    def step(self, x, states, h_mask=None):
        h_prev = states[0]  # (N,U)
        z = x @ self.kernel.value  # (N,D) @ (D,U) -> (N,U)
        if self.use_bias:
            z = z + self.bias.value  # (N,U) + (U,)
        if h_mask is not None:
            h_prev = h_prev * h_mask  # (N,U): the same mask at every step
        z = z + h_prev @ self.recurrent_kernel.value  # (N,U) + (N,U) @ (U,U) -> (N,U)
        h = self.activation(z)  # (N,U)
        return h, [h], (x, h_prev, z, h, h_mask)

    def step_backward(self, dstates, cache, need_dx=True):
        x, h_prev, z, h, h_mask = cache
        dz = activations.backward_of(self.activation)(dstates[0], z, h)  # (N,U)
        dW = x.T @ dz  # (D,N) @ (N,U) -> (D,U)
        dU = h_prev.T @ dz  # (U,N) @ (N,U) -> (U,U)
        dh_prev = dz @ self.recurrent_kernel.value.T  # (N,U) @ (U,U) -> (N,U)
        if h_mask is not None:
            dh_prev = dh_prev * h_mask  # (N,U)
        dx = dz @ self.kernel.value.T if need_dx else None  # (N,U) @ (U,D) -> (N,D)
        return dx, [dh_prev], self.weight_grads(dW, dU, dz.sum(axis=0))


class LSTMCell(Cell):
    """One step of LSTM (keras/src/layers/rnn/lstm.py, LSTMCell.call, implementation 2;
    implementation 1, with recurrent_dropout, is step_per_gate).

    Formula (sigma = recurrent_activation, act = activation):
        z = (x @ W + h_prev @ U) + b          # (N,4U): the four gates' pre-activations
        zi, zf, zc, zo = split(z, 4)          # (N,U) each, in Keras's order i, f, c, o
        i = sigma(zi);  f = sigma(zf);  g = act(zc);  o = sigma(zo)
        c = f * c_prev + i * g                # the carry (cell state)
        h = o * act(c)
    Backward, given dh and dc (the carry's gradient from the step after):
        do = dh * act(c)
        dc = dc + act_backward(dh * o, c, act(c))
        di = dc * g;  df = dc * c_prev;  dg = dc * i;  dc_prev = dc * f
        dz = [sigma_backward(di), sigma_backward(df), act_backward(dg), sigma_backward(do)]
        dW = x.T @ dz;  dU = h_prev.T @ dz;  db = sum of dz over rows
        dx = dz @ W.T;  dh_prev = dz @ U.T
    """

    gates = 4

    def __init__(self, *args, unit_forget_bias=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def extra_config(self):
        return {"unit_forget_bias": self.unit_forget_bias}

    @property
    def state_sizes(self):
        return [self.units, self.units]  # h, c

    def bias_initializer_for_build(self):
        """With unit_forget_bias, the forget gate's bias starts at 1 (Jozefowicz et al.)."""
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, initializer = self.units, self.bias_initializer

        def forget_gate_at_one(shape, dtype=None):
            return np.concatenate([initializer((units,), dtype),  # i
                                   np.ones((units,), dtype),  # f
                                   initializer((2 * units,), dtype)])  # c, o

        return forget_gate_at_one

    def step(self, x, states):
        h_prev, c_prev = states  # (N,U) each
        z = x @ self.kernel.value  # (N,D) @ (D,4U) -> (N,4U)
        z = z + h_prev @ self.recurrent_kernel.value  # (N,4U) + (N,U) @ (U,4U)
        if self.use_bias:
            z = z + self.bias.value  # (N,4U) + (4U,)
        h, c, gates = self.gates_forward(z, c_prev)
        return h, [h, c], (x, h_prev, c_prev, z, gates)

    def gates_forward(self, z, c_prev):
        """h, c and the gates' values from the pre-activations z (N,4U): the same in both
        implementations (Keras's _compute_carry_and_output and its _fused twin)."""
        zi, zf, zc, zo = np.split(z, 4, axis=1)  # (N,U) each, views
        i = self.recurrent_activation(zi)  # (N,U)
        f = self.recurrent_activation(zf)  # (N,U)
        g = self.activation(zc)  # (N,U)
        o = self.recurrent_activation(zo)  # (N,U)
        c = f * c_prev + i * g  # (N,U)
        act_c = self.activation(c)  # (N,U)
        h = o * act_c  # (N,U)
        return h, c, (i, f, g, o, c, act_c)

    def gates_backward(self, dstates, z, c_prev, gates):
        """dz (N,4U) and dc_prev from dh and dc: the backward of gates_forward."""
        i, f, g, o, c, act_c = gates
        dh, dc = dstates  # (N,U) each
        act_backward = activations.backward_of(self.activation)
        sigma_backward = activations.backward_of(self.recurrent_activation)
        zi, zf, zc, zo = np.split(z, 4, axis=1)  # (N,U) each
        do = dh * act_c  # (N,U)
        dc = dc + act_backward(dh * o, c, act_c)  # (N,U): through h = o * act(c)
        di = dc * g  # (N,U)
        df = dc * c_prev  # (N,U)
        dg = dc * i  # (N,U)
        dc_prev = dc * f  # (N,U)
        dz = np.concatenate([sigma_backward(di, zi, i), sigma_backward(df, zf, f),
                             act_backward(dg, zc, g), sigma_backward(do, zo, o)],
                            axis=1)  # (N,4U)
        return dz, dc_prev

    def step_backward(self, dstates, cache, need_dx=True):
        x, h_prev, c_prev, z, gates = cache
        dz, dc_prev = self.gates_backward(dstates, z, c_prev, gates)  # (N,4U), (N,U)
        dW = x.T @ dz  # (D,N) @ (N,4U) -> (D,4U)
        dU = h_prev.T @ dz  # (U,N) @ (N,4U) -> (U,4U)
        dh_prev = dz @ self.recurrent_kernel.value.T  # (N,4U) @ (4U,U) -> (N,U)
        dx = dz @ self.kernel.value.T if need_dx else None  # (N,4U) @ (4U,D) -> (N,D)
        return dx, [dh_prev, dc_prev], self.weight_grads(dW, dU, dz.sum(axis=0))

    def step_per_gate(self, x, states, masks):
        """One step of implementation 1 (LSTMCell.call with recurrent_dropout set): each gate
        g of i, f, c, o has its own product, on its own masked copies of x and h_prev.

        Formula (x_mask[g], h_mask[g]: gate g's masks, (N,D) and (N,U); none if that rate is 0):
            x_g = x * x_mask[g];  h_g = h_prev * h_mask[g]
            z_g = (x_g @ W_g + b_g) + h_g @ U_g       # W_g = W[:, g*U:(g+1)*U], U_g likewise
            then gates_forward on z = [z_i, z_f, z_c, z_o], as step
        Backward (dz from gates_backward, split into dz_g):
            dW_g = x_g.T @ dz_g;  dU_g = h_g.T @ dz_g;  db = sum of dz over rows
            dx = sum over g of (dz_g @ W_g.T) * x_mask[g];  dh_prev likewise with U_g, h_mask
        """
        h_prev, c_prev = states  # (N,U) each
        xs = gate_copies(x, masks.x, 4)  # (4,N,D)
        hs = gate_copies(h_prev, masks.h, 4)  # (4,N,U)
        zs = xs @ per_gate(self.kernel.value, 4)  # (4,N,D) @ (4,D,U) -> (4,N,U)
        if self.use_bias:
            zs = zs + self.bias.value.reshape(4, 1, -1)  # (4,N,U) + (4,1,U)
        zs = zs + hs @ per_gate(self.recurrent_kernel.value, 4)  # + (4,N,U) @ (4,U,U)
        z = side_by_side(zs)  # (N,4U)
        h, c, gates = self.gates_forward(z, c_prev)
        return h, [h, c], (xs, hs, c_prev, z, gates, masks)

    def step_per_gate_backward(self, dstates, cache, need_dx=True):
        xs, hs, c_prev, z, gates, masks = cache
        dz, dc_prev = self.gates_backward(dstates, z, c_prev, gates)  # (N,4U), (N,U)
        dzs = per_gate(dz, 4)  # (4,N,U)
        dW = side_by_side(xs.transpose(0, 2, 1) @ dzs)  # (4,D,N) @ (4,N,U) -> (D,4U)
        dU = side_by_side(hs.transpose(0, 2, 1) @ dzs)  # (4,U,N) @ (4,N,U) -> (U,4U)
        Us = per_gate(self.recurrent_kernel.value, 4)  # (4,U,U)
        dh_prev = sum_of_copies(dzs @ Us.transpose(0, 2, 1), masks.h)  # (4,N,U) -> (N,U)
        dx = None
        if need_dx:
            Ws = per_gate(self.kernel.value, 4)  # (4,D,U)
            dx = sum_of_copies(dzs @ Ws.transpose(0, 2, 1), masks.x)  # (4,N,D) -> (N,D)
        return dx, [dh_prev, dc_prev], self.weight_grads(dW, dU, dz.sum(axis=0))


class GRUCell(Cell):
    """One step of GRU (keras/src/layers/rnn/gru.py, GRUCell.call, implementation 2;
    implementation 1, with recurrent_dropout, is step_per_gate).

    Formula, reset_after=True (Keras's default; bias (2, 3U): input row b_x, recurrent row b_h):
        mx = x @ W + b_x                       # (N,3U): split into xz, xr, xh
        mh = h_prev @ U + b_h                  # (N,3U): split into hz, hr, hh
        z = sigma(xz + hz);  r = sigma(xr + hr)
        n = act(xh + r * hh)                   # the candidate state
        h = z * h_prev + (1 - z) * n
    reset_after=False (bias (3U,), the input side only): the reset gate acts before the
    product:  hz, hr = h_prev @ U[:, :2U];  n = act(xh + (r * h_prev) @ U[:, 2U:]).
    Backward, given dh:
        dn = dh * (1 - z);  dh_prev = dh * z
        dzn = act_backward(dn, xh + ..., n)                        # the candidate's logits
        dr = dzn * hh            (reset_after=False: dr = (dzn @ U[:, 2U:].T) * h_prev)
        dzz = sigma_backward(dh * (h_prev - n), ., z);  dzr = sigma_backward(dr, ., r)
        input side:      d mx = [dzz, dzr, dzn];      dW = x.T @ d mx;  dx = d mx @ W.T
        recurrent side:  d mh = [dzz, dzr, r * dzn];  dU = h_prev.T @ d mh;
                         dh_prev += d mh @ U.T
    """

    gates = 3

    def __init__(self, *args, reset_after=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.reset_after = bool(reset_after)

    def last_config(self):
        return {"reset_after": self.reset_after}

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def step(self, x, states):
        h_prev = states[0]  # (N,U)
        U, units = self.recurrent_kernel.value, self.units  # (U,3U)
        bias = self.bias.value if self.use_bias else None  # (2,3U) or (3U,)
        mx = x @ self.kernel.value  # (N,D) @ (D,3U) -> (N,3U)
        if self.use_bias:
            mx = mx + (bias[0] if self.reset_after else bias)  # (N,3U) + (3U,)
        xz, xr, xh = np.split(mx, 3, axis=1)  # (N,U) each
        if self.reset_after:
            mh = h_prev @ U  # (N,U) @ (U,3U) -> (N,3U)
            if self.use_bias:
                mh = mh + bias[1]  # (N,3U) + (3U,)
        else:
            mh = h_prev @ U[:, :2 * units]  # (N,U) @ (U,2U) -> (N,2U)
        hz, hr = mh[:, :units], mh[:, units:2 * units]  # (N,U) each
        z = self.recurrent_activation(xz + hz)  # (N,U)
        r = self.recurrent_activation(xr + hr)  # (N,U)
        if self.reset_after:
            hh = mh[:, 2 * units:]  # (N,U)
            zn = xh + r * hh  # (N,U)
        else:
            hh = None
            zn = xh + (r * h_prev) @ U[:, 2 * units:]  # (N,U) + (N,U) @ (U,U)
        n = self.activation(zn)  # (N,U)
        h = z * h_prev + (1 - z) * n  # (N,U)
        return h, [h], (x, h_prev, xz + hz, xr + hr, z, r, hh, zn, n)

    def step_backward(self, dstates, cache, need_dx=True):
        x, h_prev, zz, zr, z, r, hh, zn, n = cache
        dh = dstates[0]  # (N,U)
        U, units = self.recurrent_kernel.value, self.units  # (U,3U)
        act_backward = activations.backward_of(self.activation)
        sigma_backward = activations.backward_of(self.recurrent_activation)
        dn = dh * (1 - z)  # (N,U)
        dh_prev = dh * z  # (N,U)
        dzn = act_backward(dn, zn, n)  # (N,U)
        if self.reset_after:
            dr = dzn * hh  # (N,U)
            dhh = r * dzn  # (N,U): the recurrent side of the candidate
        else:
            drh = dzn @ U[:, 2 * units:].T  # (N,U) @ (U,U) -> (N,U): d(r * h_prev)
            dr = drh * h_prev  # (N,U)
            dh_prev = dh_prev + drh * r  # (N,U)
        dzz = sigma_backward(dh * (h_prev - n), zz, z)  # (N,U)
        dzr = sigma_backward(dr, zr, r)  # (N,U)
        dmx = np.concatenate([dzz, dzr, dzn], axis=1)  # (N,3U): input side
        dW = x.T @ dmx  # (D,N) @ (N,3U) -> (D,3U)
        dx = dmx @ self.kernel.value.T if need_dx else None  # (N,3U) @ (3U,D) -> (N,D)
        if self.reset_after:
            dmh = np.concatenate([dzz, dzr, dhh], axis=1)  # (N,3U): recurrent side
            dU = h_prev.T @ dmh  # (U,N) @ (N,3U) -> (U,3U)
            dh_prev = dh_prev + dmh @ U.T  # (N,U) + (N,3U) @ (3U,U)
            db = np.stack([dmx.sum(axis=0), dmh.sum(axis=0)])  # (2,3U)
        else:
            dmh = np.concatenate([dzz, dzr], axis=1)  # (N,2U)
            dU = np.concatenate([h_prev.T @ dmh,  # (U,N) @ (N,2U) -> (U,2U)
                                 (r * h_prev).T @ dzn],  # (U,N) @ (N,U) -> (U,U)
                                axis=1)  # (U,3U)
            dh_prev = dh_prev + dmh @ U[:, :2 * units].T  # (N,U) + (N,2U) @ (2U,U)
            db = dmx.sum(axis=0)  # (3U,)
        return dx, [dh_prev], self.weight_grads(dW, dU, db)

    def step_per_gate(self, x, states, masks):
        """One step of implementation 1 (GRUCell.call with recurrent_dropout set): each gate
        g of z, r, h has its own product, on its own masked copies of x and h_prev.

        Formula (x_mask[g], h_mask[g]: gate g's masks; none if that rate is 0):
            x_g = x * x_mask[g];  h_g = h_prev * h_mask[g]
            mx_g = x_g @ W_g + b_x[g]                  # (N,U) for g = z, r, h
            mh_g = h_g @ U_g + b_h[g]                  # g = z, r (and h with reset_after)
            z = sigma(mx_z + mh_z);  r = sigma(mx_r + mh_r)
            n = act(mx_h + r * mh_h)                   # reset_after=False: + (r * h_h) @ U_h
            h = z * h_prev + (1 - z) * n               # h_prev itself, unmasked
        Backward: step_backward's, with gate g's products on x_g and h_g, and
            dx = sum over g of (d mx_g @ W_g.T) * x_mask[g];  dh_prev likewise with h_mask
        """
        h_prev = states[0]  # (N,U)
        bias = self.bias.value if self.use_bias else None  # (2,3U) or (3U,)
        xs = gate_copies(x, masks.x, 3)  # (3,N,D)
        hs = gate_copies(h_prev, masks.h, 3)  # (3,N,U)
        Us = per_gate(self.recurrent_kernel.value, 3)  # (3,U,U)
        mx = xs @ per_gate(self.kernel.value, 3)  # (3,N,D) @ (3,D,U) -> (3,N,U)
        if self.use_bias:
            mx = mx + (bias[0] if self.reset_after else bias).reshape(3, 1, -1)  # + (3,1,U)
        gates = 3 if self.reset_after else 2
        mh = hs[:gates] @ Us[:gates]  # (g,N,U) @ (g,U,U) -> (g,N,U)
        if self.use_bias and self.reset_after:
            mh = mh + bias[1].reshape(3, 1, -1)  # (3,N,U) + (3,1,U)
        zz, zr = mx[0] + mh[0], mx[1] + mh[1]  # (N,U) each
        z = self.recurrent_activation(zz)  # (N,U)
        r = self.recurrent_activation(zr)  # (N,U)
        if self.reset_after:
            zn = mx[2] + r * mh[2]  # (N,U)
        else:
            zn = mx[2] + (r * hs[2]) @ Us[2]  # (N,U) + (N,U) @ (U,U)
        n = self.activation(zn)  # (N,U)
        h = z * h_prev + (1 - z) * n  # (N,U)
        return h, [h], (xs, hs, h_prev, mh, zz, zr, z, r, zn, n, masks)

    def step_per_gate_backward(self, dstates, cache, need_dx=True):
        xs, hs, h_prev, mh, zz, zr, z, r, zn, n, masks = cache
        dh = dstates[0]  # (N,U)
        Us = per_gate(self.recurrent_kernel.value, 3)  # (3,U,U)
        act_backward = activations.backward_of(self.activation)
        sigma_backward = activations.backward_of(self.recurrent_activation)
        dn = dh * (1 - z)  # (N,U)
        dh_prev = dh * z  # (N,U): through h = z * h_prev
        dzn = act_backward(dn, zn, n)  # (N,U)
        if self.reset_after:
            dr = dzn * mh[2]  # (N,U)
            dmh_h = [r * dzn]  # (N,U): d mh_h
        else:
            drh = dzn @ Us[2].T  # (N,U) @ (U,U) -> (N,U): d(r * h_h)
            dr = drh * hs[2]  # (N,U)
            dmh_h = []
        dzz = sigma_backward(dh * (h_prev - n), zz, z)  # (N,U)
        dzr = sigma_backward(dr, zr, r)  # (N,U)
        dmx = np.stack([dzz, dzr, dzn])  # (3,N,U): d mx_z, d mx_r, d mx_h
        dmh = np.stack([dzz, dzr] + dmh_h)  # (g,N,U): d mh_z, d mh_r (, d mh_h)
        gates = len(dmh)
        dW = side_by_side(xs.transpose(0, 2, 1) @ dmx)  # (3,D,N) @ (3,N,U) -> (D,3U)
        dUs = hs[:gates].transpose(0, 2, 1) @ dmh  # (g,U,N) @ (g,N,U) -> (g,U,U)
        dhs = dmh @ Us[:gates].transpose(0, 2, 1)  # (g,N,U) @ (g,U,U) -> (g,N,U): d h_g
        if not self.reset_after:
            dUs = np.concatenate([dUs, ((r * hs[2]).T @ dzn)[None]])  # (3,U,U)
            dhs = np.concatenate([dhs, (drh * r)[None]])  # (3,N,U)
        dh_prev = dh_prev + sum_of_copies(dhs, masks.h)  # (N,U)
        dx = None
        if need_dx:
            Ws = per_gate(self.kernel.value, 3)  # (3,D,U)
            dx = sum_of_copies(dmx @ Ws.transpose(0, 2, 1), masks.x)  # (3,N,D) -> (N,D)
        db = dmx.sum(axis=1).reshape(-1)  # (3,U) -> (3U,): gates side by side
        if self.reset_after:
            db = np.stack([db, dmh.sum(axis=1).reshape(-1)])  # (2,3U)
        return dx, [dh_prev], self.weight_grads(dW, side_by_side(dUs), db)


# -- cells stacked: each time step goes through every cell in turn ------------------------------
class StackedRNNCells(Layer):
    """Several cells as one (keras/src/layers/rnn/stacked_rnn_cells.py): at each time step
    cell 1 reads x_t, cell 2 reads cell 1's output, ...; the state is every cell's state.

    Formula (one time step; states = [state_1, ..., state_L], each a list of (N,U_l)):
        h_0 = x_t
        h_l, state_l = cell_l.step(h_{l-1}, state_l)      for l = 1 .. L
        output = h_L
    Backward, cells in reverse: dh_L = the step's output gradient (plus the last cell's
    dstate h); dh_{l-1} is cell l's dx, added to cell l-1's dstate h, and so on down.

    Args:
        cells: a list of SimpleRNNCell, LSTMCell or GRUCell (no dropout: see below).
    Keras's stacked cells draw each cell's dropout masks once and, unlike RNN(cell), never
    clear them (its RNN.call resets only a cell that is itself a DropoutRNNCell), so every
    later call reuses the first call's masks; minidl refuses dropout here rather than copy that.
    """

    implementation = 2  # each cell steps with its own implementation inside `step`

    def __init__(self, cells, **kwargs):
        if isinstance(cells, (Cell, dict)) or not isinstance(cells, (list, tuple)):
            cells = [cells]
        cells = [_cell_from_config(cell) for cell in cells]
        for cell in cells:
            if "call" not in dir(cell) and not isinstance(cell, Cell):
                raise ValueError("All cells must have a `call` method. Received cell without "
                                 f"a `call` method: {cell}")
            check_builtin_cell(cell, "cells")
            if cell.dropout or cell.recurrent_dropout:
                raise ValueError(
                    "minidl does not support `dropout` or `recurrent_dropout` in cells inside "
                    "StackedRNNCells (Keras's stacked cells keep the masks of their first call "
                    "for every later call): use a list of recurrent layers, e.g. "
                    "LSTM(..., dropout=..., return_sequences=True) then LSTM(...). Received: "
                    f"{cell.name}.dropout={cell.dropout}, "
                    f"{cell.name}.recurrent_dropout={cell.recurrent_dropout}")
        super().__init__(**kwargs)
        self.cells = list(cells)

    @property
    def state_sizes(self):
        """Every cell's state sizes, flattened: [U_1 (, U_1), U_2 (, U_2), ...]."""
        return [size for cell in self.cells for size in cell.state_sizes]

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return self.cells[-1].output_size

    @property
    def output_state(self):
        """The place of the last cell's h (the step's output) in the flat list of states."""
        return len(self.state_sizes) - len(self.cells[-1].state_sizes)

    @property
    def units(self):
        return self.output_size

    @property
    def input_size(self):
        return self.cells[0].input_size

    def build(self, input_shape):
        n, d = input_shape
        for cell in self.cells:
            cell.build((n, d))  # (N,D_l): the cell before's output
            cell.built = True
            for weight in cell.weights:
                weight.path = f"{self.name}/{weight.path}"  # stacked_rnn_cells/lstm_cell/kernel
            d = cell.output_size

    def draw_masks(self, n, dtype):
        return None  # dropout is refused in stacked cells (see the class docstring)

    def _split(self, states):
        """The flat list of states as one list per cell."""
        per_cell, start = [], 0
        for cell in self.cells:
            per_cell.append(states[start:start + len(cell.state_sizes)])
            start += len(cell.state_sizes)
        return per_cell

    def step(self, x, states):
        h, new_states, caches = x, [], []  # h: (N,D) -> (N,U_1) -> ... -> (N,U_L)
        for cell, cell_states in zip(self.cells, self._split(states)):
            h, cell_states, cache = cell.step(h, cell_states)
            new_states += cell_states
            caches.append(cache)
        return h, new_states, caches

    def step_backward(self, dstates, caches, need_dx=True):
        dprev, grads = [], {}
        dstates_per_cell = self._split(dstates)
        dh = None  # the gradient of cell l's output from cell l+1 (its dx)
        for l in reversed(range(len(self.cells))):
            cell_dstates = list(dstates_per_cell[l])
            if dh is not None:
                cell_dstates[0] = cell_dstates[0] + dh  # h_l is a state and cell l+1's input
            dh, cell_dprev, cell_grads = self.cells[l].step_backward(
                cell_dstates, caches[l], need_dx=need_dx or l > 0)
            dprev = cell_dprev + dprev
            grads.update(cell_grads)
        return dh, dprev, grads

    def get_config(self):
        from minidl.saving.layer_config import layer_to_config  # saving imports the layers

        return {**super().get_config(),
                "cells": [layer_to_config(cell, cell.dtype) for cell in self.cells]}


def check_cell(cell, name="cell"):
    """Keras's two checks of an RNN's cell (keras/src/layers/rnn/rnn.py): a `state_size` and
    a `call` (minidl's own cells step with `step` instead)."""
    if isinstance(cell, Cell):
        return
    if "state_size" not in dir(cell):
        raise ValueError("The RNN cell should have a `state_size` attribute (single integer or "
                         "list of integers, one integer per RNN state). "
                         f"Received: {name if name == 'cells' else 'cell'}={cell}")
    if "call" not in dir(cell):
        raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell}")


def check_builtin_cell(cell, name):
    """StackedRNNCells steps minidl's own cells only: a cell of your own is refused by name."""
    check_cell(cell, name)
    if not isinstance(cell, Cell):
        raise ValueError(
            "minidl's StackedRNNCells (an RNN given a list of cells) takes Keras's built-in "
            "cells only (SimpleRNNCell, LSTMCell, GRUCell), whose step and backward it has "
            "written out; a cell of your own runs in an RNN of its own: stack the layers, "
            "RNN(cell_1, return_sequences=True) then RNN(cell_2). "
            f"Received: {name}={cell!r}")


def _cell_from_config(cell):
    """A cell, or one from its config (a file's config holds cells as dicts)."""
    if isinstance(cell, dict):
        from minidl.saving.layer_config import layer_from_config  # saving imports the layers

        return layer_from_config(cell)
    return cell
