"""DepthwiseConv2D/1D and SeparableConv2D/1D: a convolution split in two cheap halves.

A depthwise convolution slides M kernels over each channel on its own (no sum over
channels); a separable convolution follows it with a 1 x 1 convolution that mixes the
channels (a Dense layer on every pixel). MobileNet and Xception are built from them.

The windows are Conv2D's (im2col and col2im, convolutional.py); only the product differs:
one (KH*KW) x M product per channel, C of them side by side (a batched matmul):

    cols = im2col(x)                     # (N,H,W,C) -> (R, KH*KW*C), R = N*HO*WO
    rows = cols as (C, R, KK)            # KK = KH*KW: channel c's windows
    z = rows @ W as (C, KK, M)           # (C,R,KK) @ (C,KK,M) -> (C,R,M)
    y = z as (R, C*M)                    # output channel c*M + m, as TensorFlow orders them

Backward: dW = rows.T @ dz per channel; drows = dz @ W.T per channel; dx = col2im(drows).

Shapes: N images, H x W pixels of C channels, M = depth_multiplier, KH x KW kernel, strides
SH x SW, dilation DH x DW, HO x WO output pixels, F filters (SeparableConv's 1 x 1 output).
The 1-D layers run the same code on images one pixel high. TensorFlow computes a stride and
a dilation both above 1 as the dilated convolution at stride 1, subsampled
(keras/src/backend/tensorflow/nn.py, _depthwise_conv_stride_dilation_decomposition): the same
numbers as the strided windows here.
"""
from minidl import activations, constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.layers.convolutional import (as_2d, check_channels_last, check_padding,
                                         check_positive, check_unsupported, col2im, dilated,
                                         im2col, initializer_name, output_length,
                                         padding_amounts, standardize_tuple, unpad, zero_pad)
from minidl.layers.core import check_rank
from minidl.threads import matmul


# -- the maths, shared by both layers ---------------------------------------------------------
def depthwise_convolve(x, W, strides, pads, dilation):
    """Each channel of x (N,H,W,C) convolved with its own M kernels W (KH,KW,C,M).

    Formula:
        z[n, i, j, c*M + m] = sum over p, q of x[n, i*SH + p*DH, j*SW + q*DW, c] * W[p, q, c, m]
    Returns z as rows (R, C*M) and what `depthwise_backward` needs.
    """
    kh, kw, c, m = W.shape
    padded = zero_pad(x, pads)  # (N,H+top+bottom,W+left+right,C)
    cols = im2col(padded, (kh, kw), strides, dilation)  # (R, KK*C), in (p, q, c) order
    rows = cols.reshape(len(cols), kh * kw, c).transpose(2, 0, 1)  # (R,KK,C) -> (C,R,KK)
    Wc = W.reshape(kh * kw, c, m).transpose(1, 0, 2)  # (KK,C,M) -> (C,KK,M)
    z = rows @ Wc  # (C,R,KK) @ (C,KK,M) -> (C,R,M)
    return z.transpose(1, 0, 2).reshape(len(cols), c * m), (rows, padded.shape)


def depthwise_backward(dz, W, saved, pads, strides, dilation, need_dx=True):
    """dx (N,H,W,C) and dW (KH,KW,C,M) of `depthwise_convolve` from dz rows (R, C*M)."""
    kh, kw, c, m = W.shape
    rows, padded_shape = saved
    dz = dz.reshape(-1, c, m).transpose(1, 0, 2)  # (R,C*M) -> (C,R,M)
    dW = rows.transpose(0, 2, 1) @ dz  # (C,KK,R) @ (C,R,M) -> (C,KK,M)
    dW = dW.transpose(1, 0, 2).reshape(W.shape)  # (KK,C,M) -> (KH,KW,C,M)
    if not need_dx:
        return None, dW
    Wc = W.reshape(kh * kw, c, m).transpose(1, 0, 2)  # (C,KK,M)
    drows = dz @ Wc.transpose(0, 2, 1)  # (C,R,M) @ (C,M,KK) -> (C,R,KK)
    dcols = drows.transpose(1, 2, 0).reshape(drows.shape[1], -1)  # (R,KK,C) -> (R,KK*C)
    dx = col2im(dcols, padded_shape, (kh, kw), strides, dilation)  # (N,Hp,Wp,C)
    return unpad(dx, pads), dW  # (N,H,W,C)


# -- the layers ---------------------------------------------------------------------------------
class BaseDepthwiseConv(Layer):
    """What the depthwise and separable layers share: arguments, windows, output shape.

    Args:
        kernel_size: an int or (KH, KW).
        strides: an int or (SH, SW); default 1.
        padding: "valid" or "same".
        depth_multiplier: M, the kernels per input channel; default 1.
        data_format: "channels_last" only.
        dilation_rate: an int or (DH, DW): kernel taps DH, DW apart.
        activation, use_bias, bias_initializer, bias_regularizer, activity_regularizer:
            as Conv2D; depthwise_initializer, depthwise_regularizer for the depthwise kernel.
    """

    rank = 2

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 bias_constraint=None, **kwargs):
        rank = self.rank
        self.depth_multiplier = check_positive("depth_multiplier", depth_multiplier)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = check_padding(padding)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.data_format = check_channels_last(data_format)
        self.activation = activations.get(activation)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        super().__init__(**kwargs)
        self.use_bias = bool(use_bias)
        self.bias = None

    def _2d(self, values):
        """The 2-D view of an argument (1-D layers: a height of one)."""
        return (1,) + tuple(values) if self.rank == 1 else tuple(values)

    def output_channels(self, channels):
        return self.depth_multiplier * channels  # C*M

    def check_input_shape(self, shape):
        check_rank(self, shape, min_ndim=self.rank + 2)
        check_rank(self, shape, ndim=self.rank + 2)
        if self.built and shape[-1] != self.channels:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.channels}, but received "
                f"input with shape {tuple(shape)}")
        self.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        spans = dilated(self.kernel_size, self.dilation_rate)
        sizes = tuple(output_length(size, span, s, self.padding) for size, span, s in
                      zip(input_shape[1:-1], spans, self.strides))
        filters = self.output_channels(input_shape[-1])
        if any(size is not None and size <= 0 for size in sizes):
            raise ValueError(
                "Computed output size would be zero or negative. Received `inputs "
                f"shape={tuple(input_shape)}`, `kernel shape="
                f"{self.kernel_size + (input_shape[-1], filters)}`, `dilation_rate="
                f"{list(self.dilation_rate)}`, `strides={self.strides}`, "
                f"`padding={self.padding}`.")
        return (input_shape[0],) + sizes + (filters,)

    def build(self, input_shape):
        self.channels = input_shape[-1]
        shape = self.kernel_size + (self.channels, self.depth_multiplier)  # (KH,KW,C,M)
        # Keras names DepthwiseConv's kernel "kernel" and SeparableConv's "depthwise_kernel".
        self.depthwise = self.add_weight(shape, self.depthwise_initializer, self.kernel_name,
                                         regularizer=self.depthwise_regularizer,
                                         constraint=self.depthwise_constraint)

    def _depthwise(self, x):
        """z rows (R, C*M) of the depthwise half, and what its backward needs."""
        images = as_2d(x, self.rank)  # (N,H,W,C)
        strides, dilation = self._2d(self.strides), self._2d(self.dilation_rate)
        pads = padding_amounts(images.shape[1:3], self._2d(self.kernel_size), strides,
                               self.padding, dilation)
        W = self.depthwise.value.reshape(self._2d(self.kernel_size) + self.depthwise.shape[-2:])
        u, saved = depthwise_convolve(images, W, strides, pads, dilation)  # (R, C*M)
        return u, (W, saved, pads)

    def _depthwise_backward(self, du, x, state, need_dx):
        """dx and {depthwise kernel: dW} from du = dL/d(depthwise output) rows (R, C*M)."""
        W, saved, pads = state
        dx, dW = depthwise_backward(du, W, saved, pads, self._2d(self.strides),
                                    self._2d(self.dilation_rate), need_dx)
        grads = {self.depthwise: dW.reshape(self.depthwise.shape)}  # (KH,KW,C,M)
        return (None if dx is None else dx.reshape(x.shape)), grads

    def backward(self, da, cache, need_dx=True):
        z, a = cache[-2:]
        dz = activations.backward_of(self.activation)(da, z, a)
        return self.backward_from_logits(dz, cache, need_dx)

    def logits(self, cache):
        """z, the input of the activation (what a cross-entropy uses from logits)."""
        return cache[-2]

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": initializer_name(self.depthwise_initializer),
                "bias_initializer": initializer_name(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "depthwise_constraint": self.depthwise_constraint,
                "bias_constraint": self.bias_constraint}


class DepthwiseConv2D(BaseDepthwiseConv):
    """Each channel convolved with its own M kernels: C*M output channels, no channel mixing.

    Formula:
        z[n, i, j, c*M + m] = b[c*M + m]
                              + sum over p, q of x[n, i*SH + p*DH, j*SW + q*DW, c] * W[p, q, c, m]
        a = activation(z)                      # (N,HO,WO,C*M)
    with W, Keras's `kernel`, of shape (KH, KW, C, M). Args: as BaseDepthwiseConv.
    """

    rank = 2
    kernel_name = "kernel"

    @property
    def kernel(self):
        return self.depthwise

    def build(self, input_shape):
        super().build(input_shape)
        if self.use_bias:
            self.bias = self.add_weight((self.depth_multiplier * self.channels,),
                                        self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def forward(self, x, training=False):
        z, state = self._depthwise(x)  # (R, C*M)
        if self.use_bias:
            z += self.bias.value  # (R,C*M) + (C*M,)
        z = z.reshape((len(x),) + self.compute_output_shape((None,) + x.shape[1:])[1:])
        a = self.activation(z)  # (N,HO,WO,C*M)
        return a, (x, state, z, a)

    def backward_from_logits(self, dz, cache, need_dx=True):
        x, state, z, a = cache
        dz_rows = dz.reshape(-1, dz.shape[-1])  # (R, C*M)
        dx, grads = self._depthwise_backward(dz_rows, x, state, need_dx)
        if self.use_bias:
            grads[self.bias] = dz_rows.sum(axis=0)  # db: (C*M,)
        return dx, grads


class DepthwiseConv1D(DepthwiseConv2D):
    """DepthwiseConv2D over sequences (N, L, C) -> (N, LO, C*M); the kernel is (K, C, M)."""

    rank = 1


class SeparableConv2D(BaseDepthwiseConv):
    """A depthwise convolution, then a 1 x 1 convolution mixing its C*M channels into F.

    Formula:
        u = depthwise(x)                       # (N,HO,WO,C*M), no bias (DepthwiseConv2D's z)
        z = u @ P + b                          # (R,C*M) @ (C*M,F) -> (R,F), every pixel a row
        a = activation(z)                      # (N,HO,WO,F)
    Backward: dP = u.T @ dz;  db = sum of dz;  du = dz @ P.T;  then the depthwise backward.
    Keras's weights: depthwise_kernel (KH, KW, C, M), pointwise_kernel (1, 1, C*M, F), bias (F,).

    Args:
        filters: F, the output channels.
        pointwise_initializer, pointwise_regularizer: for P.
        the others: as BaseDepthwiseConv.
    """

    rank = 2
    kernel_name = "depthwise_kernel"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        self.filters = check_positive("filters", filters)
        self.pointwise_constraint = constraints.get(pointwise_constraint)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)

    @property
    def depthwise_kernel(self):
        return self.depthwise

    def output_channels(self, channels):
        return self.filters

    def build(self, input_shape):
        super().build(input_shape)
        shape = (1,) * self.rank + (self.depth_multiplier * self.channels, self.filters)
        self.pointwise_kernel = self.add_weight(shape, self.pointwise_initializer,
                                                "pointwise_kernel",
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def forward(self, x, training=False):
        u, state = self._depthwise(x)  # (R, C*M)
        P = self.pointwise_kernel.value.reshape(-1, self.filters)  # (1,1,C*M,F) -> (C*M,F)
        z = matmul(u, P)  # (R,C*M) @ (C*M,F) -> (R,F)
        if self.use_bias:
            z += self.bias.value  # (R,F) + (F,)
        z = z.reshape((len(x),) + self.compute_output_shape((None,) + x.shape[1:])[1:])
        a = self.activation(z)  # (N,HO,WO,F)
        return a, (x, u, state, z, a)

    def backward_from_logits(self, dz, cache, need_dx=True):
        x, u, state, z, a = cache
        dz_rows = dz.reshape(-1, self.filters)  # (R,F)
        P = self.pointwise_kernel.value.reshape(-1, self.filters)  # (C*M,F)
        du = matmul(dz_rows, P.T)  # (R,F) @ (F,C*M) -> (R,C*M)
        dx, grads = self._depthwise_backward(du, x, state, need_dx)
        dP = matmul(u.T, dz_rows)  # (C*M,R) @ (R,F) -> (C*M,F)
        grads[self.pointwise_kernel] = dP.reshape(self.pointwise_kernel.shape)
        if self.use_bias:
            grads[self.bias] = dz_rows.sum(axis=0)  # db: (F,)
        return dx, grads

    def get_config(self):
        config = super().get_config()
        return {**config, "filters": self.filters,
                "pointwise_initializer": initializer_name(self.pointwise_initializer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "pointwise_constraint": self.pointwise_constraint}


class SeparableConv1D(SeparableConv2D):
    """SeparableConv2D over sequences (N, L, C) -> (N, LO, F); kernels (K, C, M), (1, C*M, F)."""

    rank = 1
