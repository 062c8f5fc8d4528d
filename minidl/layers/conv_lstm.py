"""ConvLSTM2D and ConvLSTM1D: an LSTM over a sequence of images whose two products are
convolutions (Shi et al., 2015), as in keras.io's next-frame video prediction example.

    ConvLSTM2D(F, 3, padding="same")     (N,T,H,W,C) -> (N,H',W',F), or (N,T,H',W',F)
    ConvLSTM1D(F, 3)                     (N,T,L,C)   -> (N,L',F)

Every pixel of the state is an LSTM unit that sees a window of the input and of h:

    z = conv(x_t, W) + b + conv_same(h_prev, U)     # (N,H',W',4F): the four gates
    i, f, g, o, c, h: LSTMCell.gates_forward on z, pixel by pixel

so a step is LSTMCell's (recurrent_cells.py) with each matrix product replaced by
convolutional.py's `convolve` (im2col, then one product), and its backward is LSTMCell's
`gates_backward` followed by each convolution's backward (`cols.T @ dz` for the kernels,
`convolve_input_gradient` for x and h_prev). The loop over time and backpropagation through
time, return_sequences, return_state and go_backwards are RNN's (recurrent.py). The input's
convolution has the layer's strides, padding and dilation; h's has stride 1 and "same"
padding, so the state keeps the output's size (keras/src/layers/rnn/conv_lstm.py).

Shapes: N sequences, T steps, one step an image (N,H,W,C) (ConvLSTM1D: (N,L,C), run as an
image one pixel high); F filters; R = N*H'*W' output pixels of a step, as rows.
Not implemented (refused by name): dropout, recurrent_dropout, masks, channels_first.
"""
import numpy as np

from minidl import masks
from minidl.layers.convolutional import (as_2d, check_channels_last, check_padding,
                                         check_positive, convolve, convolve_input_gradient,
                                         dilated, output_length, padding_amounts,
                                         standardize_tuple)
from minidl.layers.core import check_rank
from minidl.layers.recurrent import RNN
from minidl.layers.recurrent_cells import LSTMCell, check_off
from minidl.threads import matmul


class ConvLSTMCell(LSTMCell):
    """One step of ConvLSTM: LSTMCell's gates on two convolutions.

    Formula (x: (N,H,W,C) one step; W: (KH,KW,C,4F), U: (KH,KW,F,4F), seen as (K,4F)):
        zx, cols = convolve(x, W)             # (R,4F), cols (R,KH*KW*C): strides, padding
        zh, hcols = convolve(h_prev, U)       # (R,4F): stride 1, "same"
        z = zx + b + zh                       # (R,4F)
        h, c = gates_forward(z, c_prev)       # (R,F) each, then (N,H',W',F)
    Backward, given dh and dc:
        dz, dc_prev = gates_backward(dh, dc)  # (R,4F), (R,F)
        dW = cols.T @ dz;  dU = hcols.T @ dz;  db = sum of dz over rows
        dx = convolve_input_gradient(dz, W);  dh_prev = convolve_input_gradient(dz, U)
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, dropout=0.0, recurrent_dropout=0.0,
                 **kwargs):
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            check_off(name, rate, 0.0, "ConvLSTM's masks are drawn per gate over whole "
                                       "images; minidl has not written them")
        super().__init__(check_positive("filters", filters), **kwargs)
        self.rank, self.filters = rank, self.units
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.padding = check_padding(padding)
        self.data_format = check_channels_last(data_format)
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")

    def lifted(self, values):
        """ConvLSTM1D runs as 2-D, one pixel high: (K,) -> (1, K)."""
        return (1,) + values if self.rank == 1 else values

    @property
    def input_size(self):
        return self.kernel.shape[-2]  # C

    def build(self, input_shape):
        """input_shape: one step's, (N,H,W,C)."""
        width = 4 * self.filters
        self.kernel = self.add_weight(self.kernel_size + (input_shape[-1], width),
                                      self.kernel_initializer, "kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)  # (KH,KW,C,4F)
        self.recurrent_kernel = self.add_weight(self.kernel_size + (self.filters, width),
                                                self.recurrent_initializer, "recurrent_kernel",
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:  # (4F,), the forget gate's at 1 with unit_forget_bias
            self.bias = self.add_weight((width,), self.bias_initializer_for_build(), "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def state_shape(self, step_shape):
        """(H',W',F): the shape of h and c for one step's input shape (N,H,W,C)."""
        span = dilated(self.kernel_size, self.dilation_rate)
        sizes = [output_length(size, k, s, self.padding) for size, k, s in
                 zip(step_shape[1:-1], span, self.strides)]
        if any(size is not None and size <= 0 for size in sizes):
            raise ValueError(
                "Computed output size would be zero or negative. Received `inputs "
                f"shape={tuple(step_shape)}`, `kernel shape="
                f"{self.kernel_size + (step_shape[-1], 4 * self.filters)}`, `dilation_rate="
                f"{list(self.dilation_rate)}`, `strides={list(self.strides)}`, "
                f"`padding={self.padding}`.")
        return tuple(sizes) + (self.filters,)

    def step(self, x, states):
        h_prev, c_prev = states  # (N,H',W',F) each
        kernel, strides = self.lifted(self.kernel_size), self.lifted(self.strides)
        dilation, ones = self.lifted(self.dilation_rate), (1, 1)
        images, h_images = as_2d(x, self.rank), as_2d(h_prev, self.rank)  # (N,H,W,C)
        pads = padding_amounts(images.shape[1:-1], kernel, strides, self.padding, dilation)
        W = self.kernel.value.reshape(-1, 4 * self.filters)  # (KH,KW,C,4F) -> (K,4F)
        z, cols, padded_shape = convolve(images, W, kernel, strides, pads, dilation)  # (R,4F)
        if self.use_bias:
            z = z + self.bias.value  # (R,4F) + (4F,): Keras adds b to the input's conv
        h_pads = padding_amounts(h_images.shape[1:-1], kernel, ones, "same")
        U = self.recurrent_kernel.value.reshape(-1, 4 * self.filters)  # (K',4F)
        zh, h_cols, h_padded_shape = convolve(h_images, U, kernel, ones, h_pads)  # (R,4F)
        z = z + zh  # (R,4F)
        c_rows = c_prev.reshape(-1, self.filters)  # (N,H',W',F) -> (R,F)
        h, c, gates = self.gates_forward(z, c_rows)  # (R,F) each
        h, c = h.reshape(h_prev.shape), c.reshape(c_prev.shape)  # (N,H',W',F)
        cache = (x.shape, cols, padded_shape, pads, h_cols, h_padded_shape, h_pads, c_rows, z,
                 gates)
        return h, [h, c], cache

    def step_backward(self, dstates, cache, need_dx=True):
        (x_shape, cols, padded_shape, pads, h_cols, h_padded_shape, h_pads, c_rows, z,
         gates) = cache
        dh, dc = dstates  # (N,H',W',F) each
        rows = [d.reshape(-1, self.filters) for d in (dh, dc)]  # (R,F) each
        dz, dc_prev = self.gates_backward(rows, z, c_rows, gates)  # (R,4F), (R,F)
        dW = matmul(cols.T, dz)  # (K,R) @ (R,4F) -> (K,4F)
        dU = matmul(h_cols.T, dz)  # (K',R) @ (R,4F) -> (K',4F)
        kernel = self.lifted(self.kernel_size)
        U = self.recurrent_kernel.value.reshape(-1, 4 * self.filters)  # (K',4F)
        dh_prev = convolve_input_gradient(dz, U, h_padded_shape, h_pads, kernel, (1, 1))
        dx = None
        if need_dx:
            W = self.kernel.value.reshape(-1, 4 * self.filters)  # (K,4F)
            dx = convolve_input_gradient(dz, W, padded_shape, pads, kernel,
                                         self.lifted(self.strides),
                                         self.lifted(self.dilation_rate)).reshape(x_shape)
        grads = self.weight_grads(dW.reshape(self.kernel.shape),
                                  dU.reshape(self.recurrent_kernel.shape), dz.sum(axis=0))
        return dx, [dh_prev.reshape(dh.shape), dc_prev.reshape(dc.shape)], grads


class ConvLSTM(RNN):
    """What ConvLSTM1D and ConvLSTM2D share: RNN's loop over a ConvLSTMCell.

    Args:
        filters: F, the channels of h and c (and of the output).
        kernel_size, strides, padding ("valid" or "same"), dilation_rate: of the input's
            convolution (h's is stride 1, "same", with the same kernel size).
        activation, recurrent_activation, use_bias, unit_forget_bias, the initializers,
            regularizers and constraints: as LSTM's.
        return_sequences, return_state, go_backwards: as LSTM's.
        data_format: "channels_last" only; dropout, recurrent_dropout: 0 only.
    """

    takes_initial_state = False  # its states are images: not implemented

    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        check_off("stateful", stateful, False, "ConvLSTM's states are images: carrying them "
                  "across batches is not implemented")
        cell = ConvLSTMCell(
            self.rank, filters, kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            name="conv_lstm_cell", dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)

    def check_input_shape(self, shape):
        check_rank(self, shape, ndim=self.rank + 3)
        if None in shape[2:-1]:
            raise ValueError("ConvLSTM layers only support static input shapes for the "
                             "spatial dimension. Received invalid input shape: "
                             f"input_shape={(shape[0],) + tuple(shape[2:])}")  # a step's
        expected = None if not self.built else (None,) + tuple(self.input_shape[1:])
        if self.built and any(e is not None and s != e for s, e in zip(shape, expected)):
            raise ValueError(  # Keras's InputSpec(shape=...): each step's size, and T, fixed
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"shape={expected}, found shape={tuple(shape)}")
        self.cell.state_shape((None,) + tuple(shape[2:]))  # Keras's error for a kernel too big

    def build(self, input_shape):
        self.cell.build((input_shape[0],) + tuple(input_shape[2:]))  # one step: (N,H,W,C)
        self.cell.built = True
        for weight in self.cell.weights:
            weight.path = f"{self.name}/{weight.path}"  # conv_lstm2d/conv_lstm_cell/kernel

    def compute_output_shape(self, input_shape):
        n, t = input_shape[0], input_shape[1]
        state = (n,) + self.cell.state_shape((n,) + tuple(input_shape[2:]))  # (N,H',W',F)
        output = (n, t) + state[1:] if self.return_sequences else state
        return [output, state, state] if self.return_state else output

    def zero_states(self, n, dtype):
        """h and c before the first step: zeros of the output's size (N,H',W',F)."""
        shape = (n,) + self.cell.state_shape((n,) + tuple(self.input_shape[2:]))
        return [np.zeros(shape, dtype), np.zeros(shape, dtype)]

    def forward(self, x, training=False, mask=None):
        if mask is not None:
            raise masks.refuse(self, mask, "ConvLSTM keeps the state of masked steps")
        return super().forward(x, training=training)

    def get_config(self):
        cell = self.cell
        config = super().get_config()
        del config["cell"]  # as Keras: the cell's arguments instead
        return {**config, "filters": cell.filters, "kernel_size": cell.kernel_size,
                "strides": cell.strides, "padding": cell.padding,
                "data_format": cell.data_format, "dilation_rate": cell.dilation_rate,
                "activation": cell.activation,
                "recurrent_activation": cell.recurrent_activation, "use_bias": cell.use_bias,
                "kernel_initializer": cell.kernel_initializer,
                "recurrent_initializer": cell.recurrent_initializer,
                "bias_initializer": cell.bias_initializer,
                "unit_forget_bias": cell.unit_forget_bias,
                "kernel_regularizer": cell.kernel_regularizer,
                "recurrent_regularizer": cell.recurrent_regularizer,
                "bias_regularizer": cell.bias_regularizer,
                "activity_regularizer": self.activity_regularizer,
                "kernel_constraint": cell.kernel_constraint,
                "recurrent_constraint": cell.recurrent_constraint,
                "bias_constraint": cell.bias_constraint, "dropout": cell.dropout,
                "recurrent_dropout": cell.recurrent_dropout, "seed": cell.seed}


class ConvLSTM2D(ConvLSTM):
    """ConvLSTM over a sequence of images: (N,T,H,W,C) -> (N,H',W',F) (see ConvLSTM)."""

    rank = 2


class ConvLSTM1D(ConvLSTM):
    """ConvLSTM over a sequence of 1-D signals: (N,T,L,C) -> (N,L',F) (see ConvLSTM)."""

    rank = 1
