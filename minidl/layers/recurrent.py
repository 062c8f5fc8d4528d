"""SimpleRNN, LSTM and GRU: one small cell applied at every time step, its state carried along.
Bidirectional (at the end) runs one of them forwards and a copy backwards.

A recurrent layer reads a sequence one step at a time. Its cell takes the step's input and
the state the previous step left, and returns the step's output and the new state:

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
backend.gru in keras/src/backend/tensorflow/rnn.py) only run on a GPU. Each cell's `step`
does the operations of its Keras cell's `call` (implementation 2, Keras's default) in the
same order, so the numbers agree to float32 rounding.

Weights live in the cell, as in Keras (paths `lstm/lstm_cell/kernel`; in a weights file
`layers/lstm/cell/vars/0`), with the gates side by side in one matrix:

    kernel            (D, k*U)    x_t's contribution to every gate
    recurrent_kernel  (U, k*U)    h_{t-1}'s contribution to every gate
    bias              (k*U,)      GRU with reset_after=True: (2, 3*U), input and recurrent rows
    k = 1 (SimpleRNN), 4 (LSTM: gates i, f, c, o), 3 (GRU: gates z, r, h)

Shapes: N sequences in the batch, T time steps, D input features, U units.

Masks (minidl/masks.py): with a mask from Embedding(mask_zero=True) or Masking, a masked
step leaves the state and the output as they were (RNN.forward_masked); backward sends its
gradients straight through to the step before.

Dropout (keras/src/layers/rnn/dropout_rnn_cell.py): when training, the cell draws its masks
once per call, before the loop, and every step uses the same ones (Gal & Ghahramani, 2016):

    x_mask = keep * scale    (N,D)  on x_t,      keep ~ u >= dropout,  scale = 1 / (1 - dropout)
    h_mask = keep * scale    (N,U)  on h_{t-1},  keep ~ u >= recurrent_dropout

A mask is a constant of the step: backward multiplies the gradient by the same mask. LSTM and
GRU with recurrent_dropout switch, as Keras's cells do, to implementation 1: one product per
gate, each gate with its own masks, (k,N,D) and (k,N,U) (step_per_gate). At inference
nothing is drawn. The masks come from minidl's generator (minidl/rng.py), or the layer's own
with a `seed`; reference/masks.py replays them in Keras.

Not implemented (each refused by name when asked for): stateful=True, constraints.
"""
from typing import NamedTuple

import numpy as np

from minidl import activations, initializers, regularizers, rng
from minidl.layers.base import Layer
from minidl.layers.core import check_rank


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


def check_constraints(**constraints):
    for name, value in constraints.items():
        check_off(name, value, None, "minidl has no weight constraints")


def add_grads(total, grads):
    """total[v] += grads[v] for every weight v (a step's share of the shared weights)."""
    for variable, grad in grads.items():
        total[variable] = total[variable] + grad if variable in total else grad


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

    A cell only holds weights and does one step; its layer (RNN below) runs the loop.
        step(x, states) -> h, new_states, cache             # (N,D), [(N,U), ...]
        step_backward(dstates, cache, need_dx) -> dx, dstates_before, {weight: grad}
    and draws the dropout masks of a training call (draw_masks), as Keras's DropoutRNNCell.
    """

    gates = 1  # k: how many U-wide blocks the kernels hold

    def __init__(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                 recurrent_initializer, bias_initializer, kernel_regularizer,
                 recurrent_regularizer, bias_regularizer, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
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
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def state_sizes(self):
        return [self.units]

    def build(self, input_shape):
        width = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], width), self.kernel_initializer,
                                      "kernel", regularizer=self.kernel_regularizer)
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                "recurrent_kernel",
                                                regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.bias = self.add_weight(self.bias_shape(), self.bias_initializer_for_build(),
                                        "bias", regularizer=self.bias_regularizer)

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


# -- the layers: the loop over time ------------------------------------------------------------
class RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: the loop over time steps and its backward (BPTT).

    Each subclass names its cell class (`cell_class`) and makes its cell from its arguments.

    Formula:
        x = reversed x along T if go_backwards
        state = zeros;  for t in 0..T-1:  h_t, state = cell.step(x[:, t], state)
        output = [h_0 .. h_{T-1}] (N,T,U) if return_sequences else h_{T-1} (N,U)
        return_state=True: [output, *state]  (SimpleRNN, GRU: [output, h]; LSTM: [output, h, c])

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

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        check_off("stateful", stateful, False,
                  "every batch starts from a zero state; carrying states across batches "
                  "is not implemented")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # Keras unrolls the graph; minidl's loop is the same
        self.zero_output_for_mask = bool(zero_output_for_mask)  # masked steps output 0

    @property
    def units(self):
        return self.cell.units

    def check_input_shape(self, shape):
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
        if self.built and shape[-1] != self.cell.kernel.shape[0]:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.cell.kernel.shape[0]}, but "
                f"received input with shape {tuple(shape)}")

    def build(self, input_shape):
        self.cell.build((input_shape[0], input_shape[-1]))  # one step's input: (N,D)
        self.cell.built = True
        for weight in self.cell.weights:
            weight.path = f"{self.name}/{weight.path}"  # lstm/lstm_cell/kernel, as Keras

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        output = (n, t, self.units) if self.return_sequences else (n, self.units)
        if self.return_state:
            return [output] + [(n, size) for size in self.cell.state_sizes]
        return output

    def compute_mask(self, inputs, mask):
        """The input's mask with return_sequences (not reversed by go_backwards: Keras's
        rnn.py hands it on as it came), else none; never one on the returned states."""
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.cell.state_sizes)
        return output_mask

    def forward(self, x, training=False, mask=None):
        masks = self.cell.draw_masks(len(x), x.dtype) if training else None
        xs = x[:, ::-1] if self.go_backwards else x  # (N,T,D), a view
        x_mask = None  # the input's one mask, applied here (implementation 2)
        if masks is not None and masks.x is not None and self.cell.implementation == 2:
            x_mask = masks.x[:, None, :]  # (N,1,D)
            xs = xs * x_mask  # (N,T,D): Keras's inputs * dp_mask, the same at every step
        if mask is not None:
            return self.forward_masked(xs, mask, masks, x_mask)
        n, steps = x.shape[:2]
        states = [np.zeros((n, size), x.dtype) for size in self.cell.state_sizes]  # (N,U) each
        hs, caches = [], []
        for t in range(steps):
            h, states, cache = self.step(xs[:, t], states, masks)  # (N,U)
            hs.append(h)
            caches.append(cache)
        if self.return_sequences:
            output = np.stack(hs, axis=1)  # (N,T,U)
        else:
            output = states[0].copy()  # (N,U): the last h (a copy: the state is returned too)
        if self.return_state:
            return [output] + states, (caches, None, x_mask)
        return output, (caches, None, x_mask)

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

    def forward_masked(self, xs, mask, masks, x_mask):
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
        states = [np.zeros((n, size), xs.dtype) for size in self.cell.state_sizes]  # (N,U)
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
        if self.return_state:
            return [output] + states, (caches, keep, x_mask)
        return output, (caches, keep, x_mask)

    def backward(self, dy, cache, need_dx=True):
        caches, keep, x_mask = cache
        dout, dstates = (dy[0], list(dy[1:])) if self.return_state else (dy, None)
        n, steps = len(dout), len(caches)
        if dstates is None:  # nothing downstream used the final state
            dstates = [np.zeros((n, size), dout.dtype) for size in self.cell.state_sizes]
        grads, dxs = {}, [None] * steps
        # With a mask, dL/d output_t that a masked step t+1 carried back to output_t.
        doutput = None if keep is None else np.zeros_like(dstates[0])
        for t in reversed(range(steps)):
            if self.return_sequences:
                d = dout[:, t]  # (N,U): h_t is output t
            else:
                d = dout if t == steps - 1 else None  # (N,U): h_{T-1} is the output
            if keep is None:
                if d is not None:
                    dstates[0] = dstates[0] + d
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
        return (dx[:, ::-1] if self.go_backwards else dx), grads

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
        d_new[0] = d_new[0] + np.where(m, doutput, zero)  # h is both output and state 0
        dx, d_prev, step_grads = self.step_backward(d_new, cache, need_dx)
        dstates = [dp + np.where(m, zero, d) for dp, d in zip(d_prev, dstates)]
        doutput = np.zeros_like(doutput) if self.zero_output_for_mask else \
            np.where(m, zero, doutput)
        return dx, dstates, doutput, step_grads

    def get_config(self):
        cell = self.cell
        return {**super().get_config(),
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
                "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
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

    Formula (SimpleRNNCell above):
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
        stateful: False only; constraints: None only;
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
        check_constraints(kernel_constraint=kernel_constraint,
                          recurrent_constraint=recurrent_constraint,
                          bias_constraint=bias_constraint)
        check_off("activity_regularizer", activity_regularizer, None,
                  "Keras 3.15's SimpleRNN accepts it but never passes it on, so it penalises "
                  "nothing there; add an ActivityRegularization layer after the SimpleRNN")
        cell = self.cell_class(**cell_arguments(
            units, kwargs, activation=activation, recurrent_activation=None,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="simple_rnn_cell"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.seed = seed  # the cell's, for its dropout masks (Keras does not save it here)

    def recurrent_activation_config(self):
        return {}


class LSTM(RNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997): a gated carry c beside h.

    Formula (LSTMCell above; sigma = recurrent_activation, act = activation):
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
        stateful: False only; constraints: None only.
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
        check_constraints(kernel_constraint=kernel_constraint,
                          recurrent_constraint=recurrent_constraint,
                          bias_constraint=bias_constraint)
        check_use_cudnn(use_cudnn)
        cell = self.cell_class(**cell_arguments(
            units, kwargs, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, unit_forget_bias=unit_forget_bias,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, name="lstm_cell"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.seed, self.use_cudnn = seed, use_cudnn

    def extra_config(self):
        return {"unit_forget_bias": self.cell.unit_forget_bias}

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GRU(RNN):
    """Gated Recurrent Unit (Cho et al., 2014): an update gate z mixes h_{t-1} and a candidate.

    Formula (GRUCell above; sigma = recurrent_activation, act = activation):
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
        stateful: False only; constraints: None only.
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
        check_constraints(kernel_constraint=kernel_constraint,
                          recurrent_constraint=recurrent_constraint,
                          bias_constraint=bias_constraint)
        check_use_cudnn(use_cudnn)
        cell = self.cell_class(**cell_arguments(
            units, kwargs, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, reset_after=reset_after, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="gru_cell"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.seed, self.use_cudnn = seed, use_cudnn

    def get_config(self):
        return {**super().get_config(), "reset_after": self.cell.reset_after, "seed": self.seed}


def check_use_cudnn(use_cudnn):
    if use_cudnn not in ("auto", True, False):
        raise ValueError("Invalid valid received for argument `use_cudnn`. Expected one of "
                         f"{{'auto', True, False}}. Received: use_cudnn={use_cudnn}")
    if use_cudnn is True:
        raise ValueError("minidl does not support `use_cudnn=True` (minidl runs the generic "
                         "loop over time steps, as Keras does on a CPU): pass 'auto' or False. "
                         f"Received: use_cudnn={use_cudnn}")


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
        self.stateful = False

    def check_input_shape(self, shape):
        self.forward_layer.check_input_shape(shape)

    def build(self, input_shape):
        for layer in (self.forward_layer, self.backward_layer):
            layer._maybe_build(input_shape)
            for weight in layer.weights:  # bidirectional/forward_lstm/lstm_cell/kernel
                weight.path = f"{self.name}/{weight.path}"

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
