"""Conv2DTranspose, Conv1DTranspose, Conv3DTranspose: a convolution run backwards, to make
images bigger.

A convolution maps a big image to a small one; its input gradient (Conv2D's backward) maps
the small one's gradient back to the big shape. A transposed convolution IS that backward,
used as a forward pass, so it takes no maths of its own (convolutional.py's two functions):

    forward:   y = convolve_input_gradient(x)    # (N,H,W,C) -> (N,HO,WO,F): x @ W.T, col2im
    backward:  dx = convolve(dy)                 # (N,HO,WO,F) -> (N,H,W,C): im2col, @ W
               dW = cols(dy).T @ x               # (K, N*H*W) @ (N*H*W, C) -> (K, C)

Shapes: N images, H x W input pixels of C channels, F filters (output channels), a KH x KW
kernel, strides SH x SW, HO x WO output pixels, K = KH*KW*F. The kernel is Keras's
(KH, KW, F, C): the kernel of the convolution this one is the transpose of (F -> C channels).
Conv1DTranspose is the same on images one pixel high; Conv3DTranspose on volumes
(N, D, H, W, C), with a depth axis in every index (the windows' code is N-d).

The output size is Keras's (keras/src/backend/common/backend_utils.py,
compute_conv_transpose_output_shape), with a kernel dilated by D spanning (K - 1) * D + 1:
    "valid":  HO = (H - 1) * SH + KH + output_padding   (output_padding None: max(SH - KH, 0))
    "same":   HO = H * SH                                (output_padding None)
              HO = (H - 1) * SH + KH % 2 + output_padding
and the zeros are those of the convolution that maps HO back to H ("same": same_padding(HO),
the odd one after), as TensorFlow's conv2d_transpose (a Conv2DBackpropInput) places them.
"""
from minidl import activations, constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.layers.convolutional import (as_2d, check_channels_last, check_padding,
                                         check_positive, check_unsupported, convolve,
                                         convolve_input_gradient, dilated, initializer_name,
                                         padding_amounts, standardize_tuple)
from minidl.layers.core import check_rank


def transpose_output_length(size, kernel, stride, padding, output_padding, dilation):
    """Output pixels of a transposed convolution along one axis (Keras's formula)."""
    if size is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        return (size - 1) * stride + span + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + span % 2 + output_padding


class BaseConvTranspose(Layer):
    """What Conv1DTranspose, Conv2DTranspose and Conv3DTranspose share.

    Formula:
        y = col2im(x @ W.T) + b          # W: (KH,KW,F,C) as (K,C);  (N,H,W,C) -> (N,HO,WO,F)
        a = activation(y)
    that is, y[n, i*SH + p*DH - top, j*SW + q*DW - left, f] += x[n, i, j, c] * W[p, q, f, c]

    Args:
        filters: F, the number of output channels.
        kernel_size: an int or (KH, KW).
        strides: an int or (SH, SW); default 1 (2 doubles the image).
        padding: "valid" or "same" (HO = H * SH).
        output_padding: None, or an int / (int, int) below the strides: the output size is
            then the formula's above (the rows it adds are the last ones).
        data_format: "channels_last" only.
        dilation_rate: an int or (DH, DW): kernel taps DH, DW apart (strides must then be 1).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, activity_regularizer: as Conv2D.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        rank = self.rank
        self.filters = check_positive("filters", filters)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = check_padding(padding)
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, rank, "output_padding", allow_zero=True)
        for i, (op, s) in enumerate(zip(self.output_padding or (), self.strides)):
            if op >= s:
                raise ValueError(
                    "`output_padding` must be strictly less than `strides` for all "
                    f"dimensions. At dimension {i}, `output_padding` is {op} but `strides` is "
                    f"{s}. Received: output_padding={self.output_padding}, "
                    f"strides={self.strides}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.data_format = check_channels_last(data_format)
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        super().__init__(**kwargs)
        self.use_bias = bool(use_bias)
        self.kernel = self.bias = None

    # The 2-D view of the arguments (1-D layers: a height of one), which the maths uses.
    def _2d(self, values, one=1):
        return (one,) + tuple(values) if self.rank == 1 else tuple(values)

    def check_input_shape(self, shape):
        check_rank(self, shape, min_ndim=self.rank + 2)
        check_rank(self, shape, ndim=self.rank + 2)
        if self.built and shape[-1] != self.kernel.shape[-1]:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.kernel.shape[-1]}, but received "
                f"input with shape {tuple(shape)}")
        self.compute_output_shape(shape)

    def build(self, input_shape):
        kernel_shape = self.kernel_size + (self.filters, input_shape[-1])  # (KH,KW,F,C)
        self.kernel = self.add_weight(kernel_shape, self.kernel_initializer, "kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        output_padding = self.output_padding or (None,) * self.rank
        sizes = tuple(transpose_output_length(size, k, s, self.padding, op, d)
                      for size, k, s, op, d in zip(input_shape[1:-1], self.kernel_size,
                                                   self.strides, output_padding,
                                                   self.dilation_rate))
        for size, out, span, s in zip(input_shape[1:-1], sizes,
                                      dilated(self.kernel_size, self.dilation_rate),
                                      self.strides):
            # "same": the convolution from `out` back must give `size` (TensorFlow checks it
            # in Conv2DBackpropInput); an even span with output_padding 0 falls one short.
            if size is not None and self.padding == "same" and -(-out // s) != size:
                raise ValueError(
                    f"{type(self).__name__} with padding='same' cannot map {size} input pixels "
                    f"to {out}: a convolution of {out} pixels with strides {s} and a kernel "
                    f"spanning {span} gives {-(-out // s)}, so TensorFlow refuses this layer "
                    f"too. Use an odd kernel_size or output_padding > 0. Received: "
                    f"kernel_size={self.kernel_size}, output_padding={self.output_padding}, "
                    f"dilation_rate={self.dilation_rate}")
        return (input_shape[0],) + sizes + (self.filters,)

    def forward(self, x, training=False):
        images = as_2d(x, self.rank)  # (N,H,W,C), or volumes (N,D,H,W,C)
        n, c = len(images), images.shape[-1]
        out = self.compute_output_shape((None,) + x.shape[1:])[1:-1]  # (HO,WO), (LO,), ...
        out_hw = self._2d(out)
        kernel, strides = self._2d(self.kernel_size), self._2d(self.strides)
        dilation = self._2d(self.dilation_rate)
        pads = padding_amounts(out_hw, kernel, strides, self.padding, dilation)
        padded_shape = (n,) + tuple(o + before + after for o, (before, after) in
                                    zip(out_hw, pads)) + (self.filters,)  # (N,HO+..,WO+..,F)
        W = self.kernel.value.reshape(-1, c)  # (KH,KW,F,C) -> (K,C)
        x_rows = images.reshape(-1, c)  # (N*H*W, C): one row per input pixel
        z = convolve_input_gradient(x_rows, W, padded_shape, pads, kernel, strides,
                                    dilation)  # (N*H*W,C) -> (N,HO,WO,F)
        if self.use_bias:
            z += self.bias.value  # (N,HO,WO,F) + (F,)
        z = z.reshape((n,) + out + (self.filters,))
        a = self.activation(z)  # (N,HO,WO,F)
        return a, (x, pads, z, a)

    def backward(self, da, cache, need_dx=True):
        x, pads, z, a = cache
        dz = activations.backward_of(self.activation)(da, z, a)  # (N,HO,WO,F)
        return self.backward_from_logits(dz, cache, need_dx)

    def backward_from_logits(self, dz, cache, need_dx=True):
        """Backward from dz = dL/dz: the convolution of dz (im2col and one product)."""
        x, pads, z, a = cache
        c = x.shape[-1]
        W = self.kernel.value.reshape(-1, c)  # (K,C)
        # dx comes with the rows dW needs; with need_dx False it is one product not needed.
        dx_rows, cols, _ = convolve(as_2d(dz, self.rank), W, self._2d(self.kernel_size),
                                    self._2d(self.strides), pads,
                                    self._2d(self.dilation_rate))  # (N*H*W,C), (N*H*W,K)
        dW = cols.T @ x.reshape(-1, c)  # (K,N*H*W) @ (N*H*W,C) -> (K,C)
        grads = {self.kernel: dW.reshape(self.kernel.shape)}  # (KH,KW,F,C)
        if self.use_bias:
            grads[self.bias] = dz.reshape(-1, self.filters).sum(axis=0)  # db: (F,)
        return (dx_rows.reshape(x.shape) if need_dx else None), grads

    def logits(self, cache):
        """z, the input of the activation (what a cross-entropy uses from logits)."""
        return cache[2]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "output_padding": self.output_padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializer_name(self.kernel_initializer),
                "bias_initializer": initializer_name(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": self.kernel_constraint,
                "bias_constraint": self.bias_constraint}


class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution: each input pixel adds a KH x KW x F stamp of the kernel,
    scaled by its channels, to the output, the stamps SH x SW apart (see BaseConvTranspose).

    Conv2DTranspose(F, 3, strides=2, padding="same") maps (N, H, W, C) to (N, 2H, 2W, F):
    the decoder half of an autoencoder or a segmentation network.
    """

    rank = 2


class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution over volumes (N, D, H, W, C) -> (N, DO, HO, WO, F): each
    input voxel adds a KD x KH x KW x F stamp of the kernel (KD, KH, KW, F, C), scaled by its
    channels; Conv2DTranspose's code on the N-d windows. Conv3DTranspose(F, 2, strides=2)
    doubles every axis: the decoder of a volumetric (3-D U-Net style) network."""

    rank = 3


class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution over sequences (N, L, C) -> (N, LO, F): Conv2DTranspose's
    code on images one pixel high; the kernel is (K, F, C)."""

    rank = 1
