"""keras.ops.core's slices and scatters and keras.ops.math's segment reductions and error
functions, recorded for backpropagation as backprop.py's ops are; and custom_gradient.

Each computes its value with the plain op (core.py, math.py) and, during a training step,
writes itself on the tape with TensorFlow's gradient. Outside a training step each is just
the plain op.

Letters: x, y an op's input and output; dy = dL/dy, dx = dL/dx; N rows, S segments.
"""
import builtins

import numpy as np

from minidl import tape as tape_module
from minidl.ops import backprop, core, math as math_ops
from minidl.ops.backprop import record, take, values
from minidl.tape import active_tape
from minidl.variable import Variable


# -- slices and scatters -------------------------------------------------------------------------
def _array(x):
    """x itself if it is an array or a weight (the tape knows it), else x as an array."""
    return x if isinstance(x, (np.ndarray, Variable)) else core.convert_to_tensor(x)


def unstack(x, num=None, axis=0):
    """The slices of x along `axis`;  dx = the slices' gradients stacked back (tf.unstack's)."""
    x = _array(x)
    shape = np.shape(values(x)[0])
    if num is not None and num != shape[axis]:
        return core.unstack(np.empty(shape, bool), num, axis)  # Keras's error
    at = axis % len(shape)
    return [take(x, (builtins.slice(None),) * at + (i,)) for i in range(shape[at])]


def slice(x, start_indices, shape):  # noqa: A001 (Keras's name)
    """y = x[start:start + shape];  dx = dy in that block, 0 elsewhere (tf.slice's pad)."""
    x = _array(x)
    return take(x, core._slice_key(np.shape(values(x)[0]), start_indices, shape))


def slice_update(inputs, start_indices, updates):
    """y = inputs with a block replaced by updates;
    d_inputs = dy with the block zeroed,  d_updates = dy's block (in updates' dtype)."""
    inputs, updates = values(inputs, updates)
    y = core.slice_update(inputs, start_indices, updates)
    key = core._update_key(np.shape(inputs), start_indices, np.shape(updates))

    def gradient(dy):
        d_inputs = dy.copy()
        d_inputs[key] = 0
        return [d_inputs, dy[key].astype(np.asarray(updates).dtype, copy=False)]
    return record(y, "slice_update", [inputs, updates], gradient)


def scatter(indices, values_, shape):
    """y = zeros(shape) with values added at indices;  d_values = dy gathered at indices."""
    v, = values(values_)
    y = core.scatter(indices, v, shape)
    key = core._index_tuple(indices, y.shape)
    return record(y, "scatter", [v], lambda dy: [dy[key]])


def scatter_update(inputs, indices, updates, reduction=None):
    """y = inputs with updates put at indices (or added, with reduction="add");
    d_inputs = dy, zeroed at the replaced indices (not for "add");
    d_updates = dy gathered at indices: TensorFlow's gradient of tensor_scatter_nd_update
    gives every update of a repeated index the gradient of the value that won.
    "max", "min" and "mul" are computed but refused by name at backward."""
    inputs, updates = values(inputs, updates)
    y = core.scatter_update(inputs, indices, updates, reduction)
    key = core._index_tuple(indices, y.shape)

    def gradient(dy):
        if reduction is not None and reduction.lower() != "add":
            raise ValueError(f"ops.scatter_update with reduction='{reduction}' has no "
                             "derivative in minidl: use reduction=None or 'add' in a "
                             "training step.")
        d_inputs = dy.copy()
        if reduction is None:
            d_inputs[key] = 0
        return [d_inputs, dy[key].astype(np.asarray(updates).dtype, copy=False)]
    return record(y, "scatter_update", [inputs, updates], gradient)


# -- segment reductions --------------------------------------------------------------------------
def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """y[s] = sum of data's rows in segment s;  d_data[n] = dy[ids[n]] (0 for a dropped row)."""
    data, = values(data)
    y = math_ops.segment_sum(data, segment_ids, num_segments, sorted)
    ids = _ids(segment_ids)
    return record(y, "segment_sum", [data], lambda dy: [_gathered(dy, ids)])


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """y[s] = max of segment s;  d_data[n] = dy[ids[n]] / (ties) where data[n] = y[ids[n]],
    else 0: TensorFlow's gradient of (unsorted_)segment_max shares dy among the ties."""
    return _extreme_in_segments(math_ops.segment_max, "segment_max", data, segment_ids,
                                num_segments, sorted)


def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """y[s] = min of segment s;  d_data as segment_max's."""
    return _extreme_in_segments(math_ops.segment_min, "segment_min", data, segment_ids,
                                num_segments, sorted)


def _extreme_in_segments(reduce, name, data, segment_ids, num_segments, sorted):  # noqa: A002
    data, = values(data)
    y = reduce(data, segment_ids, num_segments, sorted)
    ids = _ids(segment_ids)

    def gradient(dy):
        chosen = (data == _gathered(y, ids)) & (ids >= 0).reshape((-1,) + (1,) * (data.ndim - 1))
        ties = np.zeros(y.shape, dy.dtype)  # (S, ...): how many rows hold each extreme
        np.add.at(ties, ids[ids >= 0], chosen[ids >= 0].astype(dy.dtype))
        shared = _gathered(dy / np.maximum(ties, 1), ids)  # (N, ...)
        return [np.where(chosen, shared, 0).astype(dy.dtype)]
    return record(y, name, [data], gradient)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    """y[s] = product of segment s;  d_data[n] = dy[s] * (product of the other rows of s),
    as TensorFlow's _UnsortedSegmentProdGrad: y[s] / data[n] where data[n] != 0; for a zero
    entry the product of the segment's nonzero entries; 0 if the segment has two zeros."""
    data, = values(data)
    y = math_ops.segment_prod(data, segment_ids, num_segments, sorted)
    ids = _ids(segment_ids)

    def gradient(dy):
        is_zero = data == 0
        kept = ids >= 0
        zeros = np.zeros(y.shape, np.int64)  # (S, ...): zero entries per segment
        np.add.at(zeros, ids[kept], is_zero[kept].astype(np.int64))
        dy = np.where(zeros > 1, 0, dy).astype(dy.dtype)
        nonzero = np.where(is_zero, 1, data).astype(data.dtype)  # (N, ...)
        nonzero_prod = np.ones(y.shape, data.dtype)
        np.multiply.at(nonzero_prod, ids[kept], nonzero[kept])
        others = np.where(is_zero, _gathered(nonzero_prod, ids), _gathered(y, ids) / nonzero)
        return [(_gathered(dy, ids) * others).astype(dy.dtype)]
    return record(y, "segment_prod", [data], gradient)


def _ids(segment_ids):
    return np.asarray(core.convert_to_tensor(segment_ids)).astype(np.intp)


def _gathered(table, ids):
    """table[ids[n]] for each row n, zeros where ids[n] < 0 (a dropped row)."""
    rows = table[np.maximum(ids, 0)]  # (N, ...)
    dropped = (ids < 0).reshape((-1,) + (1,) * (rows.ndim - 1))
    return np.where(dropped, 0, rows).astype(table.dtype)


# -- the error function and rsqrt ------------------------------------------------------------------
_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2 / sqrt(pi)


def erf(x):
    """y = erf(x);  dx = dy * 2/sqrt(pi) * exp(-x**2)."""
    x, = values(x)
    y = math_ops.erf(x)
    return record(y, "erf", [x], lambda dy: [dy * (_TWO_OVER_SQRT_PI * np.exp(-x * x))
                                             .astype(y.dtype)])


def erfc(x):
    """y = erfc(x) = 1 - erf(x);  dx = -dy * 2/sqrt(pi) * exp(-x**2)."""
    x, = values(x)
    y = math_ops.erfc(x)
    return record(y, "erfc", [x], lambda dy: [-dy * (_TWO_OVER_SQRT_PI * np.exp(-x * x))
                                              .astype(y.dtype)])


def erfinv(x):
    """y = erfinv(x);  dx = dy * sqrt(pi)/2 * exp(y**2)   (1 / erf'(y))."""
    x, = values(x)
    y = math_ops.erfinv(x)
    return record(y, "erfinv", [x], lambda dy: [dy * (0.886226925452758 * np.exp(y * y))
                                                .astype(y.dtype)])  # sqrt(pi)/2


def rsqrt(x):
    """y = 1 / sqrt(x);  dx = -0.5 * dy * y**3."""
    x, = values(x)
    y = math_ops.rsqrt(x)
    return record(y, "rsqrt", [x], lambda dy: [dy * (-0.5 * y * y * y).astype(y.dtype)])


# -- a function with a gradient of your own ------------------------------------------------------
def custom_gradient(f):
    """A function whose gradient is yours: f(*args) returns (y, grad_fn), and in a training
    step the call is recorded as one op whose backward is grad_fn.

        @ops.custom_gradient
        def clip_gradient(x):
            def grad_fn(upstream):
                return ops.clip(upstream, -1.0, 1.0)
            return x * 1.0, grad_fn

    Args:
        f: a function of arrays returning (y, grad_fn). y is an array or a list or tuple of
            them; grad_fn is called as TensorFlow calls it, grad_fn(*upstream) with one
            gradient per output of y (Keras's grad_fn(*args, upstream=None) form works too:
            upstream arrives as args[0]), and returns the gradient of each argument of f,
            one array or a list or tuple of them.
    Returns:
        h(*args): f(*args)[0], recorded so that backward gives grad_fn's gradients.
    The ops inside f are not recorded (TensorFlow's custom_gradient does not differentiate
    through them either); a weight f reads directly gets no gradient (TensorFlow asks
    grad_fn for a `variables` argument then; minidl takes gradients for f's arguments only).
    """
    def h(*args):
        tape = active_tape()
        if tape is None:
            return f(*args)[0]
        arrays = values(*args)
        previous = backprop.set_tracking(False)
        try:
            with tape_module.paused():
                y, grad_fn = f(*arrays)
        finally:
            backprop.set_tracking(previous)
        outputs = list(y) if isinstance(y, (list, tuple)) else [y]

        def gradient(dy):
            upstream = dy if len(outputs) > 1 else [dy]
            with tape_module.paused():
                grads = grad_fn(*upstream)
            grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
            if len(grads) != len(arrays):
                raise ValueError(f"custom_gradient's grad_fn returned {len(grads)} gradients "
                                 f"for {len(arrays)} arguments of `{f.__name__}`: it must "
                                 "return one per argument.")
            return [None if g is None else
                    np.broadcast_to(np.asarray(g), np.shape(a)).astype(np.asarray(a).dtype)
                    for g, a in zip(grads, arrays)]
        return _record_outputs(y, outputs, getattr(f, "__name__", "custom_gradient"),
                               arrays, gradient)
    h.__name__ = getattr(f, "__name__", "custom_gradient")
    h.__doc__ = f.__doc__
    return h


def _record_outputs(y, outputs, name, inputs, gradient):
    """record(), for one output or several (a list or tuple of arrays)."""
    if len(outputs) == 1 and not isinstance(y, (list, tuple)):
        return record(y, name, inputs, gradient)
    positions = [i for i, x in enumerate(inputs) if isinstance(x, (np.ndarray, np.generic))]
    call = backprop.OpCall(name, gradient, positions)
    active_tape().record(call, [inputs[i] for i in positions], outputs, None)
    if getattr(backprop._tracking, "on", False):  # your code's arrays in a training step
        outputs = [backprop.tracked(o) for o in outputs]
    return type(y)(outputs)


# -- ops without a derivative: refused by name when backward reaches them -------------------------
class RefusedCall(backprop.OpCall):
    """An op minidl computes but does not differentiate: on the tape so that backward can
    say which op stopped it, instead of leaving the weights before it without a gradient."""

    def backward(self, dy, cache, need_dx=True):
        if need_dx:
            raise ValueError(
                f"ops.{self.name} has no derivative in minidl (it is computed, not recorded): "
                "a training step cannot differentiate through it. Apply it to the data "
                "before the model, or write the step with ops that are recorded.")
        return [None] * len(self._positions), {}


def _without_derivative(plain, name):
    """`plain`, which in a training step goes on the tape as a RefusedCall."""
    def op(*args, **kwargs):
        tape = active_tape()
        if tape is None:
            return plain(*args, **kwargs)
        args = [type(a)(values(*a)) if isinstance(a, (list, tuple)) else values(a)[0]
                for a in args]  # the arrays the tape knows (fft's (real, imag) pairs too)
        y = plain(*args, **kwargs)
        leaves = [b for a in args for b in (a if isinstance(a, (list, tuple)) else [a])]
        inputs = [a for a in leaves if isinstance(a, (np.ndarray, np.generic))]
        outputs = list(y) if isinstance(y, (list, tuple)) else [y]
        tape.record(RefusedCall(name, None, list(range(len(inputs)))), inputs, outputs, None)
        if getattr(backprop._tracking, "on", False):  # your code's arrays in a training step
            outputs = [backprop.tracked(o) for o in outputs]
        return type(y)(outputs) if isinstance(y, (list, tuple)) else outputs[0]
    op.__name__, op.__doc__ = plain.__name__, plain.__doc__
    return op


cdist = _without_derivative(math_ops.cdist, "cdist")
fft = _without_derivative(math_ops.fft, "fft")
fft2 = _without_derivative(math_ops.fft2, "fft2")
ifft2 = _without_derivative(math_ops.ifft2, "ifft2")
rfft = _without_derivative(math_ops.rfft, "rfft")
irfft = _without_derivative(math_ops.irfft, "irfft")
stft = _without_derivative(math_ops.stft, "stft")
istft = _without_derivative(math_ops.istft, "istft")
view_as_complex = _without_derivative(math_ops.view_as_complex, "view_as_complex")
view_as_real = _without_derivative(math_ops.view_as_real, "view_as_real")
