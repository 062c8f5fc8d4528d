"""Conv2D and Conv1D: one small Dense layer slid over every window of an image.

A convolution is a matrix product in disguise ("im2col"). Lay every KH x KW window of the
input out as one row, and the whole layer is Dense's formula on those rows:

    cols = im2col(x)           # (N,H,W,C) -> (N*HO*WO, KH*KW*C): one row per output pixel
    z = cols @ W + b           # (N*HO*WO, K) @ (K,F) -> (N*HO*WO, F), K = KH*KW*C
    a = activation(z)          # reshaped to (N,HO,WO,F)

and backward is Dense's backward on the same rows, then each row's gradient is added back
to the pixels its window came from ("col2im"):

    dW = cols.T @ dz           # (K, N*HO*WO) @ (N*HO*WO, F) -> (K,F)
    dcols = dz @ W.T           # (N*HO*WO, F) @ (F,K) -> (N*HO*WO, K)
    dx = col2im(dcols)         # (N*HO*WO, K) -> (N,H,W,C): overlapping windows add up

Shapes: N images in the batch, H x W pixels of C channels (channels last, as Keras's
default), F filters, a KH x KW kernel moved SH rows and SW columns at a time (the strides),
HO x WO output pixels, K = KH*KW*C numbers in one window. Conv1D is the same with H = KH = 1.
`matmul(a, b)` is `a @ b`; a big product is shared with a second thread (minidl/threads.py).

"same" padding adds zeros so that HO = ceil(H / SH); when the zeros needed are odd, the extra
row (column) goes at the bottom (right), as TensorFlow does (keras/src/backend/tensorflow/nn.py
calls tf.nn.convolution with padding="SAME").
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minidl import activations, constraints, initializers, regularizers
from minidl.layers.base import Layer
from minidl.layers.core import check_rank
from minidl.threads import matmul


# -- windows: the index arithmetic every convolution and pooling layer shares ---------------
def same_padding(size, kernel, stride):
    """(before, after): the zeros "same" padding adds on one axis; the odd one goes after.

    Formula:
        out = ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        before = total // 2;  after = total - before
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def padding_amounts(spatial_shape, kernel_size, strides, padding, dilation=(1, 1)):
    """((top, bottom), (left, right)) for "valid", "same" or Conv1D's "causal" padding.

    A kernel dilated by D spans (K - 1) * D + 1 pixels (`dilated`); that span is what pads.
    """
    kernel_size = dilated(kernel_size, dilation)
    if padding == "valid":
        return tuple((0, 0) for _ in spatial_shape)
    if padding == "causal":  # only Conv1D: every output sees the past, none of the future
        return ((0, 0), (kernel_size[1] - 1, 0))
    return tuple(same_padding(size, k, s) for size, k, s in zip(spatial_shape, kernel_size,
                                                                strides))


def dilated(kernel_size, dilation):
    """The pixels a kernel spans when its taps are D apart: (K - 1) * D + 1 on each axis."""
    return tuple((k - 1) * d + 1 for k, d in zip(kernel_size, dilation))


def output_length(size, kernel, stride, padding):
    """Output pixels along one axis; None stays None (a size known only at call time)."""
    if size is None:
        return None
    if padding in ("same", "causal"):
        return -(-size // stride)  # ceil(size / stride)
    return (size - kernel) // stride + 1


def zero_pad(x, pads, value=0):
    """x with `pads` ((top, bottom), (left, right)) rows/columns of `value` around each image."""
    if not any(before or after for before, after in pads):
        return x
    return np.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),), constant_values=value)


def unpad(dx, pads):
    """The inverse of zero_pad for gradients: the padded border's gradient is dropped."""
    (top, bottom), (left, right) = pads
    return dx[:, top:dx.shape[1] - bottom, left:dx.shape[2] - right, :]


def im2col(x, kernel_size, strides, dilation=(1, 1)):
    """Every KH x KW window of x as one row, in the kernel's (KH, KW, C) order.

    Formula (DH, DW the dilation, default 1; the kernel then spans EH = (KH-1)*DH + 1 rows
    and EW = (KW-1)*DW + 1 columns):
        cols[(n, i, j), (p, q, c)] = x[n, i*SH + p*DH, j*SW + q*DW, c]
    """
    kh, kw = kernel_size
    span = dilated(kernel_size, dilation)
    windows = sliding_window_view(x, span, axis=(1, 2))  # (N,H-EH+1,W-EW+1,C,EH,EW), a view
    windows = windows[..., ::dilation[0], ::dilation[1]]  # (N,..,C,KH,KW): every D-th tap
    windows = windows[:, ::strides[0], ::strides[1]]  # (N,HO,WO,C,KH,KW), still a view
    n, ho, wo, c = windows.shape[:4]
    rows = windows.transpose(0, 1, 2, 4, 5, 3)  # (N,HO,WO,KH,KW,C), a view
    return rows.reshape(n * ho * wo, kh * kw * c)  # the one copy: (N*HO*WO, K)


def window_grid(x, p, q, out_shape, strides):
    """The pixels that position (p, q) of every window sees: a strided view (N,HO,WO,C)."""
    (ho, wo), (sh, sw) = out_shape, strides
    return x[:, p:p + sh * (ho - 1) + 1:sh, q:q + sw * (wo - 1) + 1:sw, :]


def col2im(dcols, x_shape, kernel_size, strides, dilation=(1, 1)):
    """The inverse of im2col for gradients: each row's numbers added back to their pixels.

    One pass per kernel position (p, q), KH*KW in all, never per pixel:
        dx[n, i*SH + p*DH, j*SW + q*DW, c] += dcols[(n, i, j), (p, q, c)]
    """
    n, h, w, c = x_shape
    kh, kw = kernel_size
    (eh, ew), (dh, dw) = dilated(kernel_size, dilation), dilation  # the span, the dilation
    ho, wo = (h - eh) // strides[0] + 1, (w - ew) // strides[1] + 1
    windows = dcols.reshape(n, ho, wo, kh, kw, c)  # (N*HO*WO,K) -> (N,HO,WO,KH,KW,C)
    dx = np.zeros(x_shape, dcols.dtype)  # (N,H,W,C)
    for p in range(kh):
        for q in range(kw):
            window_grid(dx, p * dh, q * dw, (ho, wo), strides)[...] += windows[:, :, :, p, q, :]
    return dx


# -- a convolution and its input gradient: Conv2D's forward and backward, and (the other
# way round) Conv2DTranspose's backward and forward ---------------------------------------
def convolve(x, W, kernel_size, strides, pads, dilation=(1, 1)):
    """z = im2col(pad(x)) @ W: x convolved with the kernel W laid out as (K, F).

    Returns z as rows (N*HO*WO, F), the rows `cols` (N*HO*WO, K) a kernel gradient needs,
    and the padded shape `convolve_input_gradient` needs.
    """
    padded = zero_pad(x, pads)  # (N,H+top+bottom,W+left+right,C)
    cols = im2col(padded, kernel_size, strides, dilation)  # (N*HO*WO, K)
    return matmul(cols, W), cols, padded.shape  # (N*HO*WO,K) @ (K,F) -> (N*HO*WO,F)


def convolve_input_gradient(dz, W, padded_shape, pads, kernel_size, strides, dilation=(1, 1)):
    """dL/dx of `convolve` from dz (N*HO*WO, F) rows: dz @ W.T, each row back to its window.

    Formula:
        dcols = dz @ W.T                 # (N*HO*WO,F) @ (F,K) -> (N*HO*WO,K)
        dx = unpad(col2im(dcols))        # (N,H,W,C): overlapping windows add up
    """
    dcols = matmul(dz, W.T)  # (N*HO*WO,F) @ (F,K) -> (N*HO*WO,K)
    dx = col2im(dcols, padded_shape, kernel_size, strides, dilation)  # (N,Hp,Wp,C)
    return unpad(dx, pads)  # (N,H,W,C)


# -- argument checks, with Keras's messages --------------------------------------------------
def standardize_tuple(value, n, name, allow_zero=False):
    """An int or n ints as a tuple of n positive ints (non-negative with allow_zero)."""
    error = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    values = (value,) * n if isinstance(value, (int, np.integer)) else value
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(error) from None
    if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                   for v in values):
        raise ValueError(error)
    bad = {int(v) for v in values if (v < 0 if allow_zero else v <= 0)}
    if bad:
        raise ValueError(f"{error}, including values {bad} that do not satisfy "
                         f"`value {'>= 0' if allow_zero else '> 0'}`")
    return tuple(int(v) for v in values)


def check_positive(name, value):
    """filters or depth_multiplier: a positive int, with Keras's message."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly positive "
                         f"value. Received {name}={value}.")
    return int(value)


def check_padding(padding, allowed=("valid", "same")):
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"The `padding` argument must be one of {sorted(allowed)}. "
                         f"Received: padding={padding!r}")
    return padding.lower()


def check_channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError("minidl's convolution and pooling layers take channels-last images "
                         "(N, H, W, C) only: pass data_format='channels_last' (the default). "
                         f"Received: data_format={data_format!r}")
    return "channels_last"


def check_unsupported(name, value, default, why):
    """A Keras argument minidl does not implement: only its default is accepted."""
    if value != default:
        raise ValueError(f"minidl does not support `{name}` other than {default!r} ({why}). "
                         f"Received: {name}={value!r}")


def as_2d(x, rank):
    """1-D layers run the 2-D code on a height of one: (N,L,C) -> (N,1,L,C), a view."""
    return x[:, None] if rank == 1 else x


# -- the layers --------------------------------------------------------------------------------
class BaseConv(Layer):
    """What Conv1D and Conv2D share: the arguments, the weights and the im2col maths."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, **kwargs):
        filters = check_positive("filters", filters)
        rank = self.rank
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        check_unsupported("dilation_rate", self.dilation_rate, (1,) * rank,
                          "dilated convolutions are not implemented")
        check_unsupported("groups", groups, 1, "grouped convolutions are not implemented")
        check_unsupported("lora_rank", lora_rank, None, "no LoRA")
        self.padding = check_padding(padding, ("valid", "same", "causal") if rank == 1
                                     else ("valid", "same"))
        self.data_format = check_channels_last(data_format)
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        super().__init__(**kwargs)
        self.filters, self.use_bias, self.groups = int(filters), bool(use_bias), 1
        self.kernel = self.bias = None

    # The 2-D view of the arguments, which the maths uses for both ranks.
    @property
    def kernel_2d(self):
        return (1,) + self.kernel_size if self.rank == 1 else self.kernel_size

    @property
    def strides_2d(self):
        return (1,) + self.strides if self.rank == 1 else self.strides

    def check_input_shape(self, shape):
        check_rank(self, shape, min_ndim=self.rank + 2)
        check_rank(self, shape, ndim=self.rank + 2)
        if self.built and shape[-1] != self.kernel.shape[-2]:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.kernel.shape[-2]}, but received "
                f"input with shape {tuple(shape)}")
        self.compute_output_shape(shape)

    def build(self, input_shape):
        kernel_shape = self.kernel_size + (input_shape[-1], self.filters)  # (KH,KW,C,F)
        self.kernel = self.add_weight(kernel_shape, self.kernel_initializer, "kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        sizes = [output_length(size, k, s, self.padding) for size, k, s in
                 zip(input_shape[1:-1], self.kernel_size, self.strides)]
        if any(size is not None and size <= 0 for size in sizes):
            raise ValueError(
                "Computed output size would be zero or negative. Received `inputs "
                f"shape={tuple(input_shape)}`, `kernel shape="
                f"{self.kernel_size + (input_shape[-1], self.filters)}`, `dilation_rate="
                f"{list(self.dilation_rate)}`, `strides={list(self.strides)}`, "
                f"`padding={self.padding}`.")
        return (input_shape[0],) + tuple(sizes) + (self.filters,)

    def forward(self, x, training=False):
        images = as_2d(x, self.rank)  # (N,H,W,C)
        pads = padding_amounts(images.shape[1:3], self.kernel_2d, self.strides_2d, self.padding)
        W = self.kernel.value.reshape(-1, self.filters)  # (KH,KW,C,F) -> (K,F)
        z, cols, padded_shape = convolve(images, W, self.kernel_2d, self.strides_2d, pads)
        if self.use_bias:
            z += self.bias.value  # (N*HO*WO,F) + (F,)
        z = z.reshape((len(x),) + self.compute_output_shape((None,) + x.shape[1:])[1:])
        a = self.activation(z)  # (N,HO,WO,F)
        return a, (x.shape, padded_shape, pads, cols, z, a)

    def backward(self, da, cache, need_dx=True):
        x_shape, padded_shape, pads, cols, z, a = cache
        dz = activations.backward_of(self.activation)(da, z, a)  # (N,HO,WO,F)
        return self.backward_from_logits(dz, cache, need_dx)

    def backward_from_logits(self, dz, cache, need_dx=True):
        """Backward from dz = dL/dz: Dense's backward on the window rows, then col2im."""
        x_shape, padded_shape, pads, cols, z, a = cache
        dz_rows = dz.reshape(-1, self.filters)  # (N,HO,WO,F) -> (N*HO*WO,F)
        dW = matmul(cols.T, dz_rows)  # (K,N*HO*WO) @ (N*HO*WO,F) -> (K,F)
        grads = {self.kernel: dW.reshape(self.kernel.shape)}  # (K,F) -> (KH,KW,C,F)
        if self.use_bias:
            grads[self.bias] = dz_rows.sum(axis=0)  # db: (N*HO*WO,F) -> (F,)
        if not need_dx:
            return None, grads
        W = self.kernel.value.reshape(-1, self.filters)  # (K,F)
        dx = convolve_input_gradient(dz_rows, W, padded_shape, pads, self.kernel_2d,
                                     self.strides_2d)  # (N,H,W,C)
        return dx.reshape(x_shape), grads

    def logits(self, cache):
        """z, the input of the activation (what a cross-entropy uses from logits)."""
        x_shape, padded_shape, pads, cols, z, a = cache
        return z

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializer_name(self.kernel_initializer),
                "bias_initializer": initializer_name(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": self.kernel_constraint,
                "bias_constraint": self.bias_constraint}


def initializer_name(initializer):
    """An initializer as its name ("glorot_uniform") when it is one of minidl's, else itself."""
    for name in ("glorot_uniform", "zeros", "ones"):
        if type(initializer) is type(initializers.get(name)):
            return name
    return initializer


class Conv2D(BaseConv):
    """2-D convolution: F filters of KH x KW x C weights, each slid over the image.

    Formula:
        z[n, i, j, f] = b[f] + sum over p, q, c of x[n, i*SH + p, j*SW + q, c] * W[p, q, c, f]
        a = activation(z)                            # (N,HO,WO,F)
    computed as im2col + one matrix product (see the module docstring):
        cols = im2col(x)                             # (N,H,W,C) -> (N*HO*WO, KH*KW*C)
        z = cols @ W.reshape(K, F) + b               # (N*HO*WO,K) @ (K,F) -> (N*HO*WO,F)
    Backward, given dz:
        dW = cols.T @ dz;  db = sum of dz over rows;  dx = col2im(dz @ W.T)

    Args:
        filters: F, the number of output channels (a positive integer).
        kernel_size: an int or (KH, KW).
        strides: an int or (SH, SW); default 1.
        padding: "valid" (no padding) or "same" (zeros so that HO = ceil(H / SH)).
        data_format: "channels_last" only.
        dilation_rate: 1 only (dilated convolutions are not implemented).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer, activity_regularizer: as Dense.
    """

    rank = 2


class Conv1D(BaseConv):
    """1-D convolution over sequences (N, L, C): Conv2D's code on images one pixel high.

    Formula:
        z[n, i, f] = b[f] + sum over p, c of x[n, i*S + p, c] * W[p, c, f]   # (N,LO,F)

    Args:
        filters, kernel_size, strides, activation, ...: as Conv2D, with single ints.
        padding: "valid", "same", or "causal" (kernel_size - 1 zeros before the sequence,
            so that output i sees inputs i and before only).
    """

    rank = 1
