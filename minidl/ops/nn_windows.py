"""keras.ops.nn's window ops: conv, depthwise_conv, separable_conv, conv_transpose, max_pool,
average_pool, the adaptive poolings; dot_product_attention; depth_to_space, space_to_depth,
unfold and fold. All but the adaptive poolings are recorded for backpropagation.

The convolutions and poolings are minidl's layers' own maths, not a second copy: each op
hands its kernel to the layer of its rank (Conv2D, DepthwiseConv1D, Conv3DTranspose,
MaxPooling2D, ...) in place of the layer's weight, and runs the layer's forward, and in a
training step its backward, which gives the gradients of the input and of the kernels:

    y, cache = layer.forward(x)            # (N,H,W,C) -> (N,HO,WO,F)
    dx, {kernel: dW} = layer.backward(dy, cache)

Keras's kernel layouts are the layers' ones: conv (KH,KW,C/G,F), depthwise (KH,KW,C,M),
pointwise (1,1,C*M,F), conv_transpose (KH,KW,F,C). channels_first images are transposed to
channels_last and back, as Keras's TensorFlow backend does for its poolings.

Shapes: N images, H x W pixels (L for sequences, D x H x W for volumes), C channels, F filters.
"""
import numpy as np

from minidl import config
from minidl.ops.backprop import record, unbroadcast, values
from minidl.ops.core import _float_type, convert_to_tensor
from minidl.ops.nn import softmax


class _Given:
    """A kernel given to an op, where the layer expects its weight: `.value` and `.shape`."""

    def __init__(self, value):
        self.value, self.shape = value, value.shape


def _data_format(data_format):
    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Invalid data_format: {data_format}. "
                         'Expected values are ["channels_first", "channels_last"]')
    return data_format


def _last(x, data_format):
    """(N,C,...) -> (N,...,C) for channels_first; x itself otherwise."""
    return x if data_format == "channels_last" else np.moveaxis(x, 1, -1)


def _first(y, data_format):
    """The inverse of _last."""
    return y if data_format == "channels_last" else np.moveaxis(y, -1, 1)


def _rank(inputs, ranks=(1, 2, 3)):
    rank = np.ndim(inputs) - 2
    if rank not in ranks:
        raise ValueError(f"Input rank not supported: {np.ndim(inputs)}. Expected values are "
                         f"{[r + 2 for r in ranks]}")
    return rank


def _run_layer(name, layer, inputs, kernels, slots, data_format):
    """y = layer.forward(inputs) with `kernels` in the layer's weight `slots`, on the tape
    with the layer's backward as its gradient (dx, then one gradient per kernel)."""
    inputs, *kernels = values(inputs, *kernels)
    arrays = [convert_to_tensor(a) for a in [inputs, *kernels]]
    dtype = _float_type(*arrays)
    x, *ws = [a.astype(dtype, copy=False) for a in arrays]
    given = [_Given(w) for w in ws]
    for slot, g in zip(slots, given):
        setattr(layer, slot, g)
    y, cache = layer.forward(_last(x, data_format))  # (N,HO,WO,F)

    def gradient(dy):
        dx, grads = layer.backward(_last(dy, data_format), cache)
        return [_first(dx, data_format)] + [grads[g] for g in given]
    return record(_first(y, data_format), name, [inputs, *kernels], gradient)


def _layer(kind, rank, *args, kind_suffix="", **kwargs):
    """The minidl layer of that kind and rank ("Conv", 2 -> Conv2D; "Transpose" ->
    Conv2DTranspose)."""
    from minidl import layers  # the layers import minidl.ops

    # a name of its own, so that the op takes no number from the model layers' names
    return getattr(layers, f"{kind}{rank}D{kind_suffix}")(*args, name="ops", **kwargs)


# -- convolutions -------------------------------------------------------------------------------
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """A general N-D convolution (Conv1D/2D/3D's maths; groups when kernel's C/G < C).

    Args:
        inputs: (N, L, C), (N, H, W, C) or (N, D, H, W, C) (channels first: C after N).
        kernel: (KH, KW, C/G, F): G groups when C/G is less than the inputs' C.
        strides, dilation_rate: an int or one per spatial axis (not both above 1).
        padding: "valid" or "same".
        data_format: "channels_last" or "channels_first" (default: config's).

    Formula: y[n, i, j, f] = sum over p, q, c of x[n, i*SH + p*DH, j*SW + q*DW, c] * W[p, q, c, f]
    """
    data_format = _data_format(data_format)
    rank = _rank(inputs)
    kernel_shape = np.shape(kernel)
    channels = np.shape(inputs)[-1 if data_format == "channels_last" else 1]
    groups = channels // kernel_shape[-2]
    layer = _layer("Conv", rank, kernel_shape[-1], kernel_shape[:-2], strides, padding,
                   dilation_rate=dilation_rate, groups=groups, use_bias=False)
    return _run_layer("conv", layer, inputs, [kernel], ["kernel"], data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Each channel convolved with its own M kernels (DepthwiseConv1D/2D's maths).

    Formula: y[n, i, j, c*M + m] = sum over p, q of x[n, i*SH + p, j*SW + q, c] * W[p, q, c, m]
    """
    data_format = _data_format(data_format)
    rank = np.ndim(inputs) - 2
    if rank > 2:
        raise ValueError(f"`inputs` rank must be 3 (1D conv) or 4 (2D conv). Received: "
                         f"{np.ndim(inputs)}.")
    shape = np.shape(kernel)
    layer = _layer("DepthwiseConv", rank, shape[:-2], strides, padding, shape[-1],
                   dilation_rate=dilation_rate, use_bias=False)
    layer.channels = shape[-2]
    return _run_layer("depthwise_conv", layer, inputs, [kernel], ["depthwise"], data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """depthwise_conv, then a 1x1 conv mixing the C*M channels into F (SeparableConv's maths)."""
    data_format = _data_format(data_format)
    rank = np.ndim(inputs) - 2
    if rank > 2:
        raise ValueError(f"`num_spatial_dims` must be 1 or 2. Received: num_spatial_dims={rank}.")
    shape = np.shape(depthwise_kernel)
    layer = _layer("SeparableConv", rank, np.shape(pointwise_kernel)[-1], shape[:-2], strides,
                   padding, dilation_rate=dilation_rate, depth_multiplier=shape[-1],
                   use_bias=False)
    layer.channels = shape[-2]
    return _run_layer("separable_conv", layer, inputs, [depthwise_kernel, pointwise_kernel],
                      ["depthwise", "pointwise_kernel"], data_format)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """The input gradient of a convolution, as a layer (Conv1D/2D/3DTranspose's maths).

    Args:
        inputs: (N, H, W, C) images (or 1-D, 3-D), channels first or last.
        kernel: (KH, KW, F, C): F output channels from C input channels.
        strides, padding, dilation_rate: those of the convolution this undoes.
        output_padding: extra rows/columns on the far side, or None (Keras's sizes).

    Formula: y = the transpose of conv's map: each input pixel adds x[n, i, j, :] @ W[p, q].T
    to y[n, i*SH + p*DH - top, j*SW + q*DW - left, :]
    """
    data_format = _data_format(data_format)
    rank = _rank(inputs)
    shape = np.shape(kernel)
    layer = _layer("Conv", rank, shape[-2], shape[:-2], strides, padding, kind_suffix="Transpose",
                   output_padding=output_padding, dilation_rate=dilation_rate, use_bias=False)
    return _run_layer("conv_transpose", layer, inputs, [kernel], ["kernel"], data_format)


# -- poolings -----------------------------------------------------------------------------------
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The largest value of every window (MaxPooling1D/2D/3D's maths).

    Args:
        inputs: (N, L, C), (N, H, W, C) or (N, D, H, W, C), channels first or last.
        pool_size: an int or one per spatial axis; strides: the same, default pool_size.
        padding: "valid", or "same" (windows may cross the border; the outside never wins).

    Formula: y[n, i, j, c] = max over p, q of x[n, i*SH + p, j*SW + q, c]
    """
    data_format = _data_format(data_format)
    layer = _layer("MaxPooling", _rank(inputs), pool_size, strides, padding)
    return _run_layer("max_pool", layer, inputs, [], [], data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of every window, the pixels "same" padding adds not counted (AveragePooling's)."""
    data_format = _data_format(data_format)
    layer = _layer("AveragePooling", _rank(inputs), pool_size, strides, padding)
    return _run_layer("average_pool", layer, inputs, [], [], data_format)


def _adaptive_windows(size, out):
    """[start, end) of each of `out` windows over `size` pixels, in float32 as Keras's:
    start = floor(i * size / out), end = ceil((i + 1) * size / out)."""
    i = np.arange(out + 1, dtype=np.float32)
    edges = i * np.float32(size) / np.float32(out)  # (out+1,)
    starts = np.minimum(np.floor(edges[:-1]).astype(int), size - 1)
    ends = np.minimum(np.ceil(edges[1:]).astype(int), size)
    return list(zip(starts, ends))


def _adaptive_pool(reduce, inputs, output_size, data_format, name):
    data_format = _data_format(data_format)
    x = _last(convert_to_tensor(inputs), data_format)  # (N,H,W,C)
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"{name} supports 1D, 2D, or 3D inputs only.")
    sizes = (output_size,) * rank if isinstance(output_size, int) else tuple(output_size)
    for axis, out in enumerate(sizes, start=1):  # separable: one spatial axis at a time
        x = np.stack([reduce(x[(slice(None),) * axis + (slice(a, b),)], axis=axis)
                      for a, b in _adaptive_windows(x.shape[axis], out)], axis=axis)
    return _first(x, data_format)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """The mean of each of output_size windows spanning the image, PyTorch's AdaptiveAvgPool.

    Formula (each axis): y[i] = mean(x[floor(i L / O) : ceil((i + 1) L / O)])
    Values only.
    """
    return _adaptive_pool(np.mean, inputs, output_size, data_format, "adaptive_average_pool")


def adaptive_max_pool(inputs, output_size, data_format=None):
    """The largest value of each of output_size windows spanning the image (AdaptiveMaxPool).
    Values only."""
    return _adaptive_pool(np.max, inputs, output_size, data_format, "adaptive_max_pool")


# -- attention ------------------------------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention over (B, T, N, H) queries and (B, S, N, H) keys and values.

    Args:
        query, key, value: (B, T, N, H), (B, S, K, H), (B, S, K, H); K heads of keys and
            values may serve N = K * G query heads (grouped-query attention).
        bias: added to the logits, broadcast to (B, N, T, S); mask: True where a query may
            attend, broadcast to (B, N, T, S); is_causal: query t sees keys 0..t only.
        scale: the logits' factor, 1 / sqrt(H) by default.
        flash_attention, attn_logits_soft_cap: refused (Keras's TensorFlow backend has neither).

    Formula (keras/src/backend/tensorflow/nn.py::_dot_product_attention_xla):
        logits = einsum("BTNH,BSNH->BNTS", q, k) * scale + bias     scale = 1 / sqrt(H)
        logits = where(mask (and the causal band), logits, -0.7 * 3.38953e38)
        y = einsum("BNTS,BSNH->BTNH", softmax(logits), v)
    Keys and values with fewer heads than the queries (grouped-query attention) are repeated.
    Backward (P the attention weights, L the logits):
        dv = P^T dy;  dP = dy v^T;  dL = P * (dP - sum(dP * P))   (softmax's)
        dq = dL k * scale;  dk = dL^T q * scale;  d bias = dL summed to bias's shape
    """
    if flash_attention:
        raise ValueError("Flash attention is not supported in tensorflow backend.")
    if attn_logits_soft_cap is not None:
        raise ValueError("minidl's dot_product_attention has no `attn_logits_soft_cap` (Keras's "
                         "TensorFlow backend ignores it). Received: "
                         f"attn_logits_soft_cap={attn_logits_soft_cap}")
    query, key, value, bias = values(query, key, value, bias)
    q, k, v = [convert_to_tensor(a) for a in (query, key, value)]
    if q.ndim != 4:
        raise ValueError("`dot_product_attention` only supports 4D inputs. Received: "
                         f"query.shape={q.shape}, key.shape={k.shape}, value.shape={v.shape}.")
    dtype = _float_type(q, k, v)
    q, k, v = [a.astype(dtype, copy=False) for a in (q, k, v)]
    groups = q.shape[2] // k.shape[2] if q.shape[2] > k.shape[2] > 1 else 1
    if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
        k, v = [np.repeat(a, groups, axis=2) for a in (k, v)]
    if scale is None:
        scale = 1.0 / np.sqrt(np.float32(k.shape[-1]))
    # tf.cast(scale, logits.dtype) makes a Python float a float32 tensor first
    scale = np.asarray(convert_to_tensor(scale), dtype)
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale  # (B,N,T,S)
    if bias is not None:
        logits = logits + np.asarray(bias, dtype)
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= np.asarray(mask, bool)
    if is_causal:
        keep &= np.tril(np.ones(logits.shape[-2:], bool))  # (T,S): query t sees keys 0..t
    logits = np.where(keep, logits, np.asarray(3.38953e38 * -0.7, dtype))
    probs = softmax(logits, axis=-1)  # (B,N,T,S)
    y = np.einsum("bnts,bsnh->btnh", probs, v)  # (B,T,N,H)

    def ungroup(d):  # the repeated heads' gradients summed back to their key/value head
        return d if groups == 1 else d.reshape(d.shape[:2] + (-1, groups, d.shape[-1])).sum(3)

    def gradient(dy):
        dv = np.einsum("bnts,btnh->bsnh", probs, dy)  # (B,S,N,H)
        dp = np.einsum("btnh,bsnh->bnts", dy, v)  # (B,N,T,S)
        dlogits = probs * (dp - (dp * probs).sum(axis=-1, keepdims=True))  # (B,N,T,S)
        dq = np.einsum("bnts,bsnh->btnh", dlogits, k) * scale  # (B,T,N,H)
        dk = np.einsum("bnts,btnh->bsnh", dlogits, q) * scale  # (B,S,N,H)
        dbias = None if bias is None else unbroadcast(dlogits, bias)
        return [dq, ungroup(dk), ungroup(dv), dbias]
    return record(y, "dot_product_attention", [query, key, value, bias], gradient)


# -- rearranging pixels and channels ------------------------------------------------------------
def depth_to_space(x, block_size, data_format="channels_last"):
    """Channels moved into BxB blocks of pixels: (N,H,W,C*B*B) -> (N,H*B,W*B,C).

    Formula (tf.nn.depth_to_space): y[n, i*B + a, j*B + b, c] = x[n, i, j, (a*B + b)*C + c]
    Backward: dx = space_to_depth(dy) (the values only move).
    """
    x, = values(x)
    y = _depth_to_space(x, block_size, data_format)
    return record(y, "depth_to_space", [x],
                  lambda dy: [_space_to_depth(dy, block_size, data_format)])


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of depth_to_space: (N,H,W,C) -> (N,H/B,W/B,C*B*B); dx = depth_to_space(dy)."""
    x, = values(x)
    y = _space_to_depth(x, block_size, data_format)
    return record(y, "space_to_depth", [x],
                  lambda dy: [_depth_to_space(dy, block_size, data_format)])


def _depth_to_space(x, block_size, data_format):
    x = _last(convert_to_tensor(x), data_format)
    n, h, w, depth = x.shape
    b = block_size
    blocks = x.reshape(n, h, w, b, b, depth // (b * b))  # (N,H,W,B,B,C)
    y = blocks.transpose(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, -1)  # (N,H*B,W*B,C)
    return _first(y, data_format)


def _space_to_depth(x, block_size, data_format):
    x = _last(convert_to_tensor(x), data_format)
    n, h, w, c = x.shape
    b = block_size
    blocks = x.reshape(n, h // b, b, w // b, b, c)  # (N,H/B,B,W/B,B,C)
    y = blocks.transpose(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, -1)  # (N,H/B,W/B,B*B*C)
    return _first(y, data_format)


# -- unfold and fold: im2col and col2im with PyTorch's layout ----------------------------------
def _pairs(*values):
    return [(v, v) if isinstance(v, int) else tuple(v) for v in values]


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Every KH x KW window of (N,C,H,W) images as a column: (N, C*KH*KW, L), L windows.

    Formula: y[n, (c, p, q), (i, j)] = x_padded[n, c, i*SH + p*DH, j*SW + q*DW]  (im2col's rows,
    turned to PyTorch's channel-major order).
    Backward: dx = fold(dy) (each window's gradient added back to its pixels: col2im).
    """
    x, = values(x)
    y = _unfold(x, kernel_size, dilation, padding, stride)
    size = np.shape(x)[2:]
    return record(y, "unfold", [x],
                  lambda dy: [_fold(dy, size, kernel_size, dilation, padding, stride)])


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The inverse arrangement of unfold: columns (N, C*KH*KW, L) added back into (N,C,H,W)
    images, overlapping windows summed (col2im), the padding cut off. dx = unfold(dy)."""
    x, = values(x)
    y = _fold(x, output_size, kernel_size, dilation, padding, stride)
    return record(y, "fold", [x],
                  lambda dy: [_unfold(dy, kernel_size, dilation, padding, stride)])


def _unfold(x, kernel_size, dilation, padding, stride):
    from minidl.layers.convolutional import im2col

    k, d, p, s = _pairs(kernel_size, dilation, padding, stride)
    x = convert_to_tensor(x)
    n, c = x.shape[:2]
    images = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))).transpose(0, 2, 3, 1)
    cols = im2col(images, k, s, d)  # (N*L, KH*KW*C), in (p, q, c) order
    cols = cols.reshape(n, -1, k[0] * k[1], c)  # (N,L,KH*KW,C)
    return cols.transpose(0, 3, 2, 1).reshape(n, c * k[0] * k[1], -1)  # (N,C*KH*KW,L)


def _fold(x, output_size, kernel_size, dilation, padding, stride):
    from minidl.layers.convolutional import col2im

    (h, w), k, d, p, s = _pairs(output_size, kernel_size, dilation, padding, stride)
    x = convert_to_tensor(x)
    n, ckk, _ = x.shape
    c = ckk // (k[0] * k[1])
    cols = x.reshape(n, c, k[0] * k[1], -1).transpose(0, 3, 2, 1)  # (N,L,KH*KW,C)
    padded = (n, h + 2 * p[0], w + 2 * p[1], c)
    images = col2im(cols.reshape(-1, k[0] * k[1] * c), padded, k, s, d)  # (N,Hp,Wp,C)
    return images[:, p[0]:p[0] + h, p[1]:p[1] + w].transpose(0, 3, 1, 2)  # (N,C,H,W)
