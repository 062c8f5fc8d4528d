"""Resampling images: the maths behind Resizing, the crops, and the random affine layers.

    y, taps = resize(x, (h, w), interpolation)               tf.image.resize, half-pixel centres
    y, taps = affine_transform(x, t, interpolation, fill_mode, fill_value)
    dx = resample_backward(dy, taps, x_shape)                the transposed map

Both are linear in x: each output value is a weighted sum of at most four input values (one
for "nearest"), the "taps". `taps` lists them as (flat pixel index, weight, valid) arrays;
backward scatters dy back along them. Forward does not use the taps' products of weights:
it evaluates TensorFlow's own formulas in TensorFlow's order (lerp inside lerp), so that its
float32 results are Keras's bit for bit; the taps are the same weights multiplied out.

The coordinates are float32 whatever x's float type, as TensorFlow's kernels compute them
(tensorflow/core/kernels/image/image_ops.h, resize_bilinear_op.cc): the map does not depend
on x, so in float64 it is still the same linear map, which gradient checks then test.

Shapes: N batch, H W input height and width, h w output height and width, C channels.
"""
import numpy as np

f32 = np.float32


# -- resizing (ResizeBilinear / ResizeNearestNeighbor, half_pixel_centers=True) ---------------
def _bilinear_axis(n_in, n_out):
    """Source rows (or columns) of each output one: lower, upper index and the lerp weight.

    Formula (TensorFlow's HalfPixelScaler, float32):
        scale = n_in / n_out;  s = (i + 0.5) * scale - 0.5
        lower = max(floor(s), 0);  upper = min(ceil(s), n_in - 1);  lerp = s - floor(s)
    """
    scale = f32(n_in) / f32(n_out)
    s = (np.arange(n_out).astype(f32) + f32(0.5)) * scale - f32(0.5)  # (h,)
    floor = np.floor(s)  # (h,)
    lower = np.maximum(floor, 0).astype(np.int64)  # (h,)
    upper = np.minimum(np.ceil(s).astype(np.int64), n_in - 1)  # (h,)
    return lower, upper, s - floor


def _nearest_axis(n_in, n_out):
    """Source index of each output row: min(floor((i + 0.5) * n_in / n_out), n_in - 1)."""
    scale = f32(n_in) / f32(n_out)
    s = (np.arange(n_out).astype(f32) + f32(0.5)) * scale  # (h,)
    return np.clip(np.floor(s).astype(np.int64), 0, n_in - 1)  # (h,)


def resize(x, size, interpolation="bilinear"):
    """x (N,H,W,C) resized to (N,h,w,C), as tf.image.resize without antialiasing.

    Formula ("bilinear"; "nearest" takes x[rows, cols] of _nearest_axis):
        top = x[y0, x0] + (x[y0, x1] - x[y0, x0]) * lx
        bottom = x[y1, x0] + (x[y1, x1] - x[y1, x0]) * lx
        y = top + (bottom - top) * ly
    """
    N, H, W, C = x.shape
    h, w = size
    if interpolation == "nearest":
        rows, cols = _nearest_axis(H, h), _nearest_axis(W, w)  # (h,), (w,)
        y = x[:, rows][:, :, cols]  # (N,h,w,C)
        index = rows[:, None] * W + cols[None, :]  # (h,w)
        return y, [(_per_image(index, N, H * W), np.ones((N, h, w), x.dtype), None)]
    y0, y1, ly = _bilinear_axis(H, h)  # (h,)
    x0, x1, lx = _bilinear_axis(W, w)  # (w,)
    lx, ly = lx.astype(x.dtype), ly.astype(x.dtype)
    top_left, top_right = x[:, y0][:, :, x0], x[:, y0][:, :, x1]  # (N,h,w,C)
    bottom_left, bottom_right = x[:, y1][:, :, x0], x[:, y1][:, :, x1]  # (N,h,w,C)
    lx4, ly4 = lx[None, None, :, None], ly[None, :, None, None]
    top = top_left + (top_right - top_left) * lx4  # (N,h,w,C)
    bottom = bottom_left + (bottom_right - bottom_left) * lx4  # (N,h,w,C)
    y = top + (bottom - top) * ly4  # (N,h,w,C)
    one = x.dtype.type(1)
    taps = []
    for rows, wy in ((y0, one - ly), (y1, ly)):
        for cols, wx in ((x0, one - lx), (x1, lx)):
            index = rows[:, None] * W + cols[None, :]  # (h,w)
            weight = np.broadcast_to(wy[:, None] * wx[None, :], (N, h, w))  # (N,h,w)
            taps.append((_per_image(index, N, H * W), weight, None))
    return y, taps


def _per_image(index, N, pixels):
    """Flat indices into (N*H*W) from indices into one image (h,w): (N,h,w)."""
    return index[None] + (np.arange(N) * pixels)[:, None, None]


# -- affine transforms (ImageProjectiveTransformV3) -------------------------------------------
def map_coordinate(c, n, fill_mode):
    """Input coordinates outside [0, n - 1] brought inside, as TensorFlow's MapCoordinate.

    "constant" keeps them (outside reads the fill value); "nearest" clamps; "reflect" mirrors
    about the edges (d c b a | a b c d | d c b a); "wrap" repeats (a b c d | a b c d).
    TensorFlow's wrap divides by n - 1 where the period is n (image_ops.h, FILL_WRAP); it is
    copied here as it is, since Keras's RandomRotation(fill_mode="wrap") gives its result.
    """
    if fill_mode == "constant":
        return c
    top = f32(n - 1)
    if fill_mode == "nearest" or n <= 1:
        return np.clip(c, f32(0), top)
    below, above = c < 0, c > top
    if fill_mode == "reflect":
        period = 2 * n
        low = c + (period * np.trunc(-c / f32(period)).astype(np.int64)).astype(f32)
        low = np.where(low < -n, low + f32(period), -low - f32(1))
        high = c - (period * np.trunc(c / f32(period)).astype(np.int64)).astype(f32)
        high = np.where(high >= n, f32(period) - high - f32(1), high)
    else:  # wrap
        low = c + (n * (np.trunc(-c / f32(n - 1)).astype(np.int64) + 1)).astype(f32)
        high = c - (n * np.trunc(c / f32(n - 1)).astype(np.int64)).astype(f32)
    return np.clip(np.where(below, low, np.where(above, high, c)), f32(0), top)


def _round_half_away(v):
    """std::round: halves away from zero (np.round would take them to even)."""
    return (np.sign(v) * np.floor(np.abs(v.astype(np.float64)) + 0.5)).astype(np.int64)


def affine_transform(x, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0.0):
    """Each output pixel (row i, column j) read from x at a point the transform gives.

    Formula (transform t = [a0, a1, a2, b0, b1, b2, c0, c1] per image, float32):
        k = c0*j + c1*i + 1;  u = (a0*j + a1*i + a2) / k;  v = (b0*j + b1*i + b2) / k
        u, v = map_coordinate(u, W), map_coordinate(v, H)    # fill_mode
        "nearest":  y = x[round(v), round(u)]
        "bilinear": y = (v1 - v) * ((u1 - u) * x[v0, u0] + (u - u0) * x[v0, u1])
                      + (v - v0) * ((u1 - u) * x[v1, u0] + (u - u0) * x[v1, u1])
                    with u0 = floor(u), u1 = u0 + 1 (the same for v)
    A read outside the image (or k == 0) gives fill_value. t maps output to input points:
    a rotation by +angle has the matrix of -angle, as in keras/src/ops/image.py.
    """
    N, H, W, C = x.shape
    t = np.asarray(transform, f32).reshape(-1, 8)  # (N,8) or (1,8): one for all
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, k, None, None] for k in range(8))  # (N,1,1)
    rows, cols = np.meshgrid(np.arange(H, dtype=f32), np.arange(W, dtype=f32), indexing="ij")
    k = c0 * cols + c1 * rows + f32(1)  # (N,H,W)
    u = map_coordinate((a0 * cols + a1 * rows + a2) / k, W, fill_mode)  # (N,H,W)
    v = map_coordinate((b0 * cols + b1 * rows + b2) / k, H, fill_mode)  # (N,H,W)
    u, v, k = (np.broadcast_to(a, (N, H, W)) for a in (u, v, k))
    fill = x.dtype.type(fill_value)
    flat = x.reshape(N * H * W, C)  # (N*H*W, C)
    first = (np.arange(N) * H * W)[:, None, None]  # (N,1,1): each image's first pixel

    def read(vi, ui):
        """x at integer (row, column) (N,H,W), fill where outside: values, tap index, valid."""
        valid = (vi >= 0) & (vi < H) & (ui >= 0) & (ui < W) & (k != 0)  # (N,H,W)
        index = first + np.clip(vi, 0, H - 1) * W + np.clip(ui, 0, W - 1)  # (N,H,W)
        return np.where(valid[..., None], flat[index], fill), index, valid  # (N,H,W,C)

    if interpolation == "nearest":
        y, index, valid = read(_round_half_away(v), _round_half_away(u))
        return y, [(index, np.ones((N, H, W), x.dtype), valid)]
    v0, u0 = np.floor(v), np.floor(u)  # (N,H,W)
    v1, u1 = v0 + f32(1), u0 + f32(1)
    wu0, wu1 = (u1 - u).astype(x.dtype), (u - u0).astype(x.dtype)  # (N,H,W)
    wv0, wv1 = (v1 - v).astype(x.dtype), (v - v0).astype(x.dtype)
    v0, v1, u0, u1 = (a.astype(np.int64) for a in (v0, v1, u0, u1))
    taps = []
    rows_out = []
    for vi, wv in ((v0, wv0), (v1, wv1)):
        (left, i_left, ok_left), (right, i_right, ok_right) = read(vi, u0), read(vi, u1)
        rows_out.append(wu0[..., None] * left + wu1[..., None] * right)  # (N,H,W,C)
        taps += [(i_left, wv * wu0, ok_left), (i_right, wv * wu1, ok_right)]
    y = wv0[..., None] * rows_out[0] + wv1[..., None] * rows_out[1]  # (N,H,W,C)
    return y, taps


# -- backward: the transposed map ------------------------------------------------------------
def resample_backward(dy, taps, x_shape):
    """dx (N,H,W,C): each dy value added back to the input pixels it was read from.

    Formula:  dx[index] += weight * dy   for every tap whose read was inside the image
    (a fill value does not depend on x, so its reads send nothing back).
    """
    N, H, W, C = x_shape
    dx = np.zeros((N * H * W, C), dy.dtype)  # (N*H*W, C)
    g = dy.reshape(-1, C)  # (N*h*w, C)
    for index, weight, valid in taps:
        index, weight = np.broadcast_to(index, dy.shape[:3]), weight.astype(dy.dtype)
        contribution = weight.reshape(-1, 1) * g  # (N*h*w, C)
        if valid is not None:
            keep = valid.reshape(-1)
            np.add.at(dx, index.reshape(-1)[keep], contribution[keep])
        else:
            np.add.at(dx, index.reshape(-1), contribution)
    return dx.reshape(x_shape)
