"""Conv2D, Conv1D and Conv3D: one small Dense layer slid over every window of an image.

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
HO x WO output pixels, K = KH*KW*C numbers in one window. Conv1D is the same with H = KH = 1;
Conv3D's volumes (N,D,H,W,C) add a depth axis to every index (the windows' code is N-d), so
K = KD*KH*KW*C and the rows are N*DO*HO*WO.
`matmul(a, b)` is `a @ b`; a big product is shared with a second thread (minidl/threads.py).
With `groups` G, the layer is G such products side by side, one per block of C/G channels and
F/G filters (`grouped_product`), on the same rows.

"same" padding adds zeros so that HO = ceil(H / SH); when the zeros needed are odd, the extra
row (column) goes at the bottom (right), as TensorFlow does (keras/src/backend/tensorflow/nn.py
calls tf.nn.convolution with padding="SAME").
"""
import itertools

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


def padding_amounts(spatial_shape, kernel_size, strides, padding, dilation=None):
    """((top, bottom), (left, right)) for "valid", "same" or Conv1D's "causal" padding.

    A kernel dilated by D spans (K - 1) * D + 1 pixels (`dilated`); that span is what pads.
    """
    kernel_size = dilated(kernel_size, dilation or (1,) * len(kernel_size))
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
    inside = tuple(slice(before, size - after) for (before, after), size in
                   zip(pads, dx.shape[1:-1]))
    return dx[(slice(None),) + inside]  # (N,H,W,C) or (N,D,H,W,C), a view


def im2col(x, kernel_size, strides, dilation=None):
    """Every KH x KW window of x as one row, in the kernel's (KH, KW, C) order.

    Formula (DH, DW the dilation, default 1; the kernel then spans EH = (KH-1)*DH + 1 rows
    and EW = (KW-1)*DW + 1 columns):
        cols[(n, i, j), (p, q, c)] = x[n, i*SH + p*DH, j*SW + q*DW, c]
    Volumes (N,D,H,W,C) with a KD x KH x KW kernel get one more index, the same way:
        cols[(n, t, i, j), (o, p, q, c)] = x[n, t*SD + o*DD, i*SH + p*DH, j*SW + q*DW, c]
    """
    rank = len(kernel_size)  # 2 for images, 3 for volumes
    dilation = dilation or (1,) * rank
    axes = tuple(range(1, rank + 1))  # the pixel axes
    windows = sliding_window_view(x, dilated(kernel_size, dilation), axis=axes)
    # windows: (N,H-EH+1,W-EW+1,C,EH,EW), a view; below every D-th tap, every S-th window
    windows = windows[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)]
    windows = windows[(slice(None),) + tuple(slice(None, None, s) for s in strides)]
    n, out, c = len(x), windows.shape[1:rank + 1], x.shape[-1]  # (N,HO,WO,C,KH,KW), a view
    kernel_axes = tuple(range(rank + 2, 2 * rank + 2))
    rows = windows.transpose((0,) + axes + kernel_axes + (rank + 1,))  # (N,HO,WO,KH,KW,C)
    return rows.reshape(n * int(np.prod(out)), int(np.prod(kernel_size)) * c)  # (N*HO*WO, K)


def window_grid(x, offset, out_shape, strides):
    """The pixels that position `offset` ((p, q), or (o, p, q)) of every window sees:
    x[:, p::SH, q::SW, :] cut to (N,HO,WO,C), a strided view."""
    grid = tuple(slice(p, p + s * (o - 1) + 1, s) for p, o, s in
                 zip(offset, out_shape, strides))
    return x[(slice(None),) + grid]  # (N,HO,WO,C) or (N,DO,HO,WO,C)


def kernel_positions(kernel_size):
    """Every (p, q) (or (o, p, q)) of a kernel or pooling window, in row-major order."""
    return list(itertools.product(*(range(k) for k in kernel_size)))


def col2im(dcols, x_shape, kernel_size, strides, dilation=None):
    """The inverse of im2col for gradients: each row's numbers added back to their pixels.

    One pass per kernel position (p, q), KH*KW in all (KD*KH*KW for volumes), never per pixel:
        dx[n, i*SH + p*DH, j*SW + q*DW, c] += dcols[(n, i, j), (p, q, c)]
    """
    rank = len(kernel_size)
    dilation = dilation or (1,) * rank
    span = dilated(kernel_size, dilation)  # the pixels a dilated kernel covers
    out = tuple((size - e) // s + 1 for size, e, s in zip(x_shape[1:-1], span, strides))
    windows = dcols.reshape((x_shape[0],) + out + tuple(kernel_size) + (x_shape[-1],))
    # windows: (N*HO*WO,K) -> (N,HO,WO,KH,KW,C)
    dx = np.zeros(x_shape, dcols.dtype)  # (N,H,W,C)
    for position in kernel_positions(kernel_size):
        offset = tuple(p * d for p, d in zip(position, dilation))
        window_grid(dx, offset, out, strides)[...] += windows[(slice(None),) * (rank + 1)
                                                              + position]
    return dx


# -- a convolution and its input gradient: Conv2D's forward and backward, and (the other
# way round) Conv2DTranspose's backward and forward ---------------------------------------
def convolve(x, W, kernel_size, strides, pads, dilation=None):
    """z = im2col(pad(x)) @ W: x convolved with the kernel W laid out as (K, F).

    Returns z as rows (N*HO*WO, F), the rows `cols` (N*HO*WO, K) a kernel gradient needs,
    and the padded shape `convolve_input_gradient` needs.
    """
    padded = zero_pad(x, pads)  # (N,H+top+bottom,W+left+right,C)
    cols = im2col(padded, kernel_size, strides, dilation)  # (N*HO*WO, K)
    return matmul(cols, W), cols, padded.shape  # (N*HO*WO,K) @ (K,F) -> (N*HO*WO,F)


def convolve_input_gradient(dz, W, padded_shape, pads, kernel_size, strides, dilation=None):
    """dL/dx of `convolve` from dz (N*HO*WO, F) rows: dz @ W.T, each row back to its window.

    Formula:
        dcols = dz @ W.T                 # (N*HO*WO,F) @ (F,K) -> (N*HO*WO,K)
        dx = unpad(col2im(dcols))        # (N,H,W,C): overlapping windows add up
    """
    dcols = matmul(dz, W.T)  # (N*HO*WO,F) @ (F,K) -> (N*HO*WO,K)
    dx = col2im(dcols, padded_shape, kernel_size, strides, dilation)  # (N,Hp,Wp,C)
    return unpad(dx, pads)  # (N,H,W,C)


# -- grouped convolutions: G convolutions side by side, each on C/G channels and F/G filters --
def by_group(cols, groups, taps):
    """Window rows (R, T*C), T = KH*KW taps, as G groups of rows over each group's channels.

    (R, T*C) -> (R, T, G, C/G) -> (G, R, T*C/G), a copy: group g's channel block of every tap.
    """
    r = len(cols)
    return cols.reshape(r, taps, groups, -1).transpose(2, 0, 1, 3).reshape(groups, r, -1)


def from_groups(gcols, taps):
    """The inverse of by_group: (G, R, T*C/G) -> (R, T*C)."""
    g, r, _ = gcols.shape
    return gcols.reshape(g, r, taps, -1).transpose(1, 2, 0, 3).reshape(r, -1)


def grouped_product(gcols, W, groups):
    """z = cols @ W group by group: filter block g (F/G filters) sees channel block g only.

    Formula (Kg = T*C/G numbers in one window of one group, Fg = F/G):
        Wg = W.reshape(Kg, G, Fg) per group  # (G,Kg,Fg)
        z[:, g*Fg:(g+1)*Fg] = gcols[g] @ Wg[g]  # (R,Kg) @ (Kg,Fg) -> (R,Fg)
    """
    Wg = W.reshape(W.shape[0], groups, -1).transpose(1, 0, 2)  # (Kg,F) -> (G,Kg,Fg)
    z = np.matmul(gcols, Wg)  # (G,R,Kg) @ (G,Kg,Fg) -> (G,R,Fg)
    return z.transpose(1, 0, 2).reshape(gcols.shape[1], -1), Wg  # (R,F)


def grouped_product_backward(dz, gcols, Wg):
    """dW (Kg,F) and dcols (G,R,Kg) of grouped_product: Dense's backward, group by group.

    Formula:
        dWg = gcols[g].T @ dz[:, block g]   # (Kg,R) @ (R,Fg) -> (Kg,Fg)
        dgcols[g] = dz[:, block g] @ Wg[g].T  # (R,Fg) @ (Fg,Kg) -> (R,Kg)
    """
    groups, r = gcols.shape[:2]
    dzg = dz.reshape(r, groups, -1).transpose(1, 0, 2)  # (R,F) -> (G,R,Fg)
    dWg = np.matmul(gcols.transpose(0, 2, 1), dzg)  # (G,Kg,R) @ (G,R,Fg) -> (G,Kg,Fg)
    dgcols = np.matmul(dzg, Wg.transpose(0, 2, 1))  # (G,R,Fg) @ (G,Fg,Kg) -> (G,R,Kg)
    return dWg.transpose(1, 0, 2).reshape(dWg.shape[1], -1), dgcols  # (Kg,F), (G,R,Kg)


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
    """What Conv1D, Conv2D and Conv3D share: the arguments, the weights and the im2col maths."""

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
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > "
                             f"1`. Received: strides={self.strides} and dilation_rate="
                             f"{self.dilation_rate}")
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError("The number of groups must be a positive integer. "
                             f"Received: groups={groups}.")
        if filters % groups != 0:
            raise ValueError("The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={groups}, filters={filters}.")
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
        self.filters, self.use_bias, self.groups = int(filters), bool(use_bias), int(groups)
        self.kernel = self.bias = None

    # The arguments as the maths sees them: Conv1D runs as a Conv2D one pixel high.
    def lifted(self, values):
        return (1,) + values if self.rank == 1 else values

    def check_input_shape(self, shape):
        check_rank(self, shape, min_ndim=self.rank + 2)
        check_rank(self, shape, ndim=self.rank + 2)
        channels = None if not self.built else self.kernel.shape[-2] * self.groups
        if self.built and shape[-1] != channels:
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {channels}, but received "
                f"input with shape {tuple(shape)}")
        if not self.built and shape[-1] is not None and shape[-1] % self.groups != 0:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of "
                f"groups. Received groups={self.groups}, but the input has {shape[-1]} "
                f"channels (full input shape is {tuple(shape)}).")
        self.compute_output_shape(shape)

    def build(self, input_shape):
        kernel_shape = self.kernel_size + (input_shape[-1] // self.groups, self.filters)
        # kernel_shape: (KH,KW,C,F), or (KH,KW,C/G,F) in G groups
        self.kernel = self.add_weight(kernel_shape, self.kernel_initializer, "kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, "bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        span = dilated(self.kernel_size, self.dilation_rate)  # (K - 1) * D + 1 on each axis
        sizes = [output_length(size, k, s, self.padding) for size, k, s in
                 zip(input_shape[1:-1], span, self.strides)]
        if any(size is not None and size <= 0 for size in sizes):
            raise ValueError(
                "Computed output size would be zero or negative. Received `inputs "
                f"shape={tuple(input_shape)}`, `kernel shape="
                f"{self.kernel_size + (input_shape[-1], self.filters)}`, `dilation_rate="
                f"{list(self.dilation_rate)}`, `strides={list(self.strides)}`, "
                f"`padding={self.padding}`.")
        return (input_shape[0],) + tuple(sizes) + (self.filters,)

    def forward(self, x, training=False):
        images = as_2d(x, self.rank)  # (N,H,W,C), or volumes (N,D,H,W,C)
        kernel, strides, dilation = (self.lifted(self.kernel_size), self.lifted(self.strides),
                                     self.lifted(self.dilation_rate))
        pads = padding_amounts(images.shape[1:-1], kernel, strides, self.padding, dilation)
        W = self.kernel.value.reshape(-1, self.filters)  # (KH,KW,C,F) -> (K,F)
        if self.groups == 1:
            z, cols, padded_shape = convolve(images, W, kernel, strides, pads, dilation)
        else:  # G convolutions side by side; cols kept by group: (G, N*HO*WO, K/G)
            padded = zero_pad(images, pads)  # (N,Hp,Wp,C)
            taps = int(np.prod(kernel))
            cols = by_group(im2col(padded, kernel, strides, dilation), self.groups, taps)
            z, _ = grouped_product(cols, W, self.groups)  # (N*HO*WO,F)
            padded_shape = padded.shape
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
        if self.groups > 1:
            return self.grouped_backward(dz, cache, need_dx)
        dz_rows = dz.reshape(-1, self.filters)  # (N,HO,WO,F) -> (N*HO*WO,F)
        dW = matmul(cols.T, dz_rows)  # (K,N*HO*WO) @ (N*HO*WO,F) -> (K,F)
        grads = {self.kernel: dW.reshape(self.kernel.shape)}  # (K,F) -> (KH,KW,C,F)
        if self.use_bias:
            grads[self.bias] = dz_rows.sum(axis=0)  # db: (N*HO*WO,F) -> (F,)
        if not need_dx:
            return None, grads
        W = self.kernel.value.reshape(-1, self.filters)  # (K,F)
        dx = convolve_input_gradient(dz_rows, W, padded_shape, pads,
                                     self.lifted(self.kernel_size), self.lifted(self.strides),
                                     self.lifted(self.dilation_rate))  # (N,H,W,C)
        return dx.reshape(x_shape), grads

    def grouped_backward(self, dz, cache, need_dx=True):
        """backward_from_logits with groups: Dense's backward group by group, then col2im."""
        x_shape, padded_shape, pads, gcols, z, a = cache
        dz_rows = dz.reshape(-1, self.filters)  # (N,HO,WO,F) -> (N*HO*WO,F)
        W = self.kernel.value.reshape(-1, self.filters)  # (K/G,F)
        Wg = W.reshape(len(W), self.groups, -1).transpose(1, 0, 2)  # (G,K/G,F/G)
        dW, dgcols = grouped_product_backward(dz_rows, gcols, Wg)  # (K/G,F), (G,R,K/G)
        grads = {self.kernel: dW.reshape(self.kernel.shape)}  # (KH,KW,C/G,F)
        if self.use_bias:
            grads[self.bias] = dz_rows.sum(axis=0)  # db: (N*HO*WO,F) -> (F,)
        if not need_dx:
            return None, grads
        kernel = self.lifted(self.kernel_size)
        dcols = from_groups(dgcols, int(np.prod(kernel)))  # (N*HO*WO,K)
        dx = col2im(dcols, padded_shape, kernel, self.lifted(self.strides),
                    self.lifted(self.dilation_rate))  # (N,Hp,Wp,C)
        return unpad(dx, pads).reshape(x_shape), grads

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
        dilation_rate: an int or (DH, DW): the kernel's taps DH rows and DW columns apart
            (x[n, i*SH + p*DH, j*SW + q*DW, c] above); strides must then be 1, as in Keras.
        groups: G, dividing C and F: G convolutions side by side, filter block g (F/G filters)
            seeing channel block g (C/G channels) only; the kernel is (KH, KW, C/G, F).
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


class Conv3D(BaseConv):
    """3-D convolution over volumes (N, D, H, W, C): Conv2D with a depth axis.

    Formula (SD, SH, SW the strides, DD, DH, DW the dilation):
        z[n, t, i, j, f] = b[f] + sum over o, p, q, c of
                           x[n, t*SD + o*DD, i*SH + p*DH, j*SW + q*DW, c] * W[o, p, q, c, f]
        a = activation(z)                            # (N,DO,HO,WO,F)
    computed as Conv2D: cols = im2col(x) (N*DO*HO*WO, KD*KH*KW*C), z = cols @ W + b.

    Args:
        filters: F, the number of output channels (a positive integer).
        kernel_size: an int or (KD, KH, KW).
        strides: an int or (SD, SH, SW); default 1.
        padding: "valid" or "same" (DO = ceil(D / SD), and so on; the odd zero goes after).
        dilation_rate: an int or (DD, DH, DW); strides must then be 1, as in Keras.
        groups: as Conv2D; the kernel is (KD, KH, KW, C/G, F).
        data_format, activation, use_bias, initializers, regularizers, constraints: as Conv2D.
    """

    rank = 3
