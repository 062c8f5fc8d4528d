"""The ops a subclassed model's call() combines layers with, recorded for backpropagation.

    class Residual(minidl.Model):
        def call(self, x):
            h = self.dense(x)
            return ops.relu(ops.add(h, x))      # both ops go on the tape: fit can train this

minidl has no autograd, so each op here is written with its derivative next to it: it
computes its value as the plain op does (numpy.py, nn.py) and, during a training step,
writes itself on the tape (tape.py) with a function giving its inputs' gradients from its
output's. Outside a training step it is just the plain op. A NumPy operator (`h + x`)
instead of `ops.add(h, x)` cannot be recorded: minidl says so when backward reaches it.
Two kinds of array record their NumPy arithmetic as these ops: a layer's weight (a
Variable, variable.py: `x @ self.w + self.b` in a custom layer), and the arrays your own code
gets in a training step (Tracked, below): in a custom layer's or subclassed model's call()
(`h * 2 + x`), a Lambda's function, a loss function (`ops.square(y_true - y_pred)`).
"""
import contextlib
import threading

import numpy as np

from minidl import activations
from minidl.ops import core, nn, numpy as numpy_ops
from minidl.tape import active_tape
from minidl.variable import RECORDED_UFUNCS, Variable


class OpCall:
    """An op on the tape: it answers `backward` like a layer, from its own gradient function."""

    trainable_weights = ()

    def __init__(self, name, gradient, positions):
        self.name = name
        self._gradient = gradient  # dy -> one gradient per input of the op
        self._positions = positions  # which of those inputs are arrays on the tape

    def backward(self, dy, cache, need_dx=True):
        grads = self._gradient(dy)
        return [grads[i] for i in self._positions], {}


class ActivationCall(OpCall):
    """ops.sigmoid / ops.softmax: like Keras, they leave their input for the loss (head.py)."""

    def __init__(self, name, gradient, positions, activation):
        super().__init__(name, gradient, positions)
        self.activation = activation

    def logits(self, cache):
        return cache

    def backward_from_logits(self, dz, cache, need_dx=True):
        return [dz], {}


class Tracked(np.ndarray):
    """An array whose NumPy arithmetic is recorded: what a loss function of your own gets as
    y_pred, so that `ops.square(y_true - y_pred)` or `(y_true - y_pred) ** 2` trains.

    Each ufunc NumPy applies to it (`-`, `*`, `**`, np.exp, ...) goes to the op of the same
    name here, on the tape; np.mean and np.sum too. The op's result is Tracked again (see
    `tracking`). `recorded` is the array the tape knows this one by; an array derived from
    it some other way (np.sort, a copy, an array method) is marked `escaped` on the tape
    (a float one: an integer or boolean result, such as a comparison's, is a constant, as
    in TensorFlow) and refused by name if backward reaches it.
    """

    def __array_finalize__(self, obj):
        self.recorded = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # `x -= m` (keras.io's Antirectifier) comes as np.subtract(x, m, out=(x,)): computed
        # out of place and recorded, as TensorFlow's `x -= m` makes a new tensor
        if kwargs.keys() == {"out"} and len(kwargs["out"]) == 1 and isinstance(
                kwargs["out"][0], Tracked):
            kwargs = {}  # (and outside a training step too: the caller's array is kept)
        op = RECORDED_UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if op is not None and active_tape() is not None:
            return op(*inputs)
        inputs = [x.view(np.ndarray) if isinstance(x, Tracked) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, Tracked) else x
                                  for x in kwargs["out"])
        return escaped(getattr(ufunc, method)(*inputs, **kwargs))

    def __getitem__(self, key):
        if self.recorded is not None and active_tape() is not None:
            return take(self, key)  # a slice of a recorded array is recorded too
        return super().__getitem__(key)

    def __array_function__(self, func, types, args, kwargs):
        op = RECORDED_FUNCTIONS.get(func)
        if op is not None and active_tape() is not None and set(kwargs) <= {"axis", "keepdims"}:
            return op(*args, **kwargs)
        args = [x.view(np.ndarray) if isinstance(x, Tracked) else x for x in args]
        return escaped(func(*args, **kwargs))


_tracking = threading.local()


@contextlib.contextmanager
def tracking():
    """While a user's function runs on the tape: each op returns its result as Tracked."""
    previous = set_tracking(True)
    try:
        yield
    finally:
        set_tracking(previous)


def set_tracking(on):
    """Turn tracking on or off in this thread; returns what it was (to put it back)."""
    previous = getattr(_tracking, "on", False)
    _tracking.on = on
    return previous


def tracked(y):
    """y (an array on the tape) as a Tracked array that the tape knows as y."""
    if not isinstance(y, (np.ndarray, np.generic)) or isinstance(y, Tracked):
        return y
    view = np.asarray(y).view(Tracked)  # a NumPy scalar (a mean's result) as a 0-d array
    view.recorded = y
    return view


def untracked(y):
    """The array the tape knows a Tracked array by (the array itself otherwise); one derived
    from a Tracked array without the tape (a copy, .astype) is marked escaped."""
    if isinstance(y, Tracked):
        return y.recorded if y.recorded is not None else escaped(y.view(np.ndarray))
    return y


def escaped(result):
    """A result NumPy computed from a Tracked array without recording it: a float one is
    marked on the active tape (tape.escape), so that backward refuses to go through it."""
    tape = active_tape()
    if tape is not None:
        tape.escape([r for r in _flat_results(result)
                     if isinstance(r, (np.ndarray, np.generic)) and r.dtype.kind in "fc"])
    return result


def _flat_results(result):
    if isinstance(result, (list, tuple)):
        return [r for item in result for r in _flat_results(item)]
    return [result]


def values(*xs):
    """The arrays to compute with: a weight (a Variable, as in a custom layer's `x @ self.w`)
    gives its value array, which the tape takes as an input from outside (watched) and
    credits the weight's gradient to; a Tracked array gives the array the tape knows."""
    arrays = [x.value if isinstance(x, Variable) else untracked(x) for x in xs]
    tape = active_tape()
    if tape is not None:
        tape.watch([a for a, x in zip(arrays, xs) if isinstance(x, Variable)])
    return arrays


def record(y, name, inputs, gradient, activation=None):
    """Put the op on the active tape (if any) and return its value y."""
    tape = active_tape()
    if tape is None:
        return y
    positions = [i for i, x in enumerate(inputs)  # arrays, and NumPy scalars (a mean's result)
                 if isinstance(x, (np.ndarray, np.generic))]
    if activation is None:
        call = OpCall(name, gradient, positions)
    else:
        call = ActivationCall(name, gradient, positions, activation)
    tape.record(call, [inputs[i] for i in positions], y, inputs[0] if activation else None)
    return tracked(y) if getattr(_tracking, "on", False) else y


def unbroadcast(grad, x):
    """A gradient summed back to x's shape, over the axes broadcasting stretched."""
    shape = np.shape(x)
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


# -- arithmetic: y = f(x1, x2), broadcasting as NumPy -----------------------------------------
def add(x1, x2):
    """y = x1 + x2;  dx1 = dy, dx2 = dy."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.add(x1, x2)
    return record(y, "add", [x1, x2], lambda dy: [unbroadcast(dy, x1), unbroadcast(dy, x2)])


def subtract(x1, x2):
    """y = x1 - x2;  dx1 = dy, dx2 = -dy."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.subtract(x1, x2)
    return record(y, "subtract", [x1, x2],
                  lambda dy: [unbroadcast(dy, x1), unbroadcast(-dy, x2)])


def multiply(x1, x2):
    """y = x1 * x2;  dx1 = dy * x2, dx2 = dy * x1."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.multiply(x1, x2)
    return record(y, "multiply", [x1, x2],
                  lambda dy: [unbroadcast(dy * x2, x1), unbroadcast(dy * x1, x2)])


def divide(x1, x2):
    """y = x1 / x2;  dx1 = dy / x2, dx2 = -dy * y / x2."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.divide(x1, x2)
    return record(y, "divide", [x1, x2],
                  lambda dy: [unbroadcast(dy / x2, x1), unbroadcast(-dy * y / x2, x2)])


def negative(x):
    """y = -x;  dx = -dy."""
    x, = values(x)
    return record(numpy_ops.negative(x), "negative", [x], lambda dy: [-dy])


def matmul(x1, x2):
    """y = x1 @ x2;  dx1 = dy @ x2.T, dx2 = x1.T @ dy   (the last two axes; batches broadcast)."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.matmul(x1, x2)
    return record(y, "matmul", [x1, x2], lambda dy: [
        unbroadcast(dy @ np.swapaxes(x2, -1, -2), x1),
        unbroadcast(np.swapaxes(x1, -1, -2) @ dy, x2)])


def maximum(x1, x2):
    """y = max(x1, x2);  dx1 = dy where x1 >= x2, dx2 = dy elsewhere (ties go to x1, as
    TensorFlow's Maximum gradient)."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.maximum(x1, x2)
    first = np.greater_equal(x1, x2)  # broadcast to y's shape
    return record(y, "maximum", [x1, x2], lambda dy: [
        unbroadcast(np.where(first, dy, 0).astype(dy.dtype), x1),
        unbroadcast(np.where(first, 0, dy).astype(dy.dtype), x2)])


def minimum(x1, x2):
    """y = min(x1, x2);  dx1 = dy where x1 <= x2, dx2 = dy elsewhere (ties go to x1)."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.minimum(x1, x2)
    first = np.less_equal(x1, x2)
    return record(y, "minimum", [x1, x2], lambda dy: [
        unbroadcast(np.where(first, dy, 0).astype(dy.dtype), x1),
        unbroadcast(np.where(first, 0, dy).astype(dy.dtype), x2)])


def where(condition, x1=None, x2=None):
    """y = x1 where condition holds, else x2;  dx1 = dy there, dx2 = dy elsewhere (the
    condition is a constant). With only the condition: the indices, as ops.where."""
    if x1 is None and x2 is None:
        return numpy_ops.where(untracked(condition))
    condition = np.asarray(untracked(condition)).astype(bool)
    x1, x2 = values(x1, x2)
    y = numpy_ops.where(condition, x1, x2)
    return record(y, "where", [x1, x2], lambda dy: [
        unbroadcast(np.where(condition, dy, 0).astype(dy.dtype), x1),
        unbroadcast(np.where(condition, 0, dy).astype(dy.dtype), x2)])


def cast(x, dtype):
    """y = x as `dtype`; x itself when it has that dtype (tf.cast). dx = dy in x's dtype
    between floats; a cast to or from integers or booleans is a constant, as in TensorFlow."""
    value, = values(x)
    y = core.cast(value, dtype)
    if y is value:
        return x
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc" \
            or y.dtype.kind not in "fc":
        return y  # (a Python number, a list: a constant)
    return record(y, "cast", [value], lambda dy: [dy.astype(value.dtype)])


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """x as an array: a Tracked array stays itself (as a tensor does in Keras), so a loss's
    `y_pred = ops.convert_to_tensor(y_pred)` keeps training; with a dtype, a cast."""
    if isinstance(x, Tracked):
        return x if dtype is None else cast(x, dtype)
    return core.convert_to_tensor(x, dtype, sparse, ragged)


def take(x, key):
    """y = x[key] (any NumPy index);  dx = zeros of x's shape, with dy added at key (a row
    picked twice gets both gradients, as TensorFlow's)."""
    x, = values(x)
    key = tuple(untracked(k) for k in key) if isinstance(key, tuple) else untracked(key)
    y = np.array(x[key])  # a copy: a new array on the tape

    def gradient(dy):
        dx = np.zeros_like(x)
        np.add.at(dx, key, dy)
        return [dx]
    return record(y, "take", [x], gradient)


# -- element-wise functions --------------------------------------------------------------------
def abs(x):  # noqa: A001 (Keras's name)
    """y = |x|;  dx = dy * sign(x)  (0 at x = 0, as TensorFlow)."""
    x, = values(x)
    return record(numpy_ops.abs(x), "abs", [x], lambda dy: [dy * np.sign(x).astype(dy.dtype)])


absolute = abs


def clip(x, x_min, x_max):
    """y = x limited to [x_min, x_max];  dx = dy where x_min <= x <= x_max, else 0
    (tf.clip_by_value's gradient; the bounds are constants)."""
    x, = values(x)
    y = numpy_ops.clip(x, x_min, x_max)
    inside = (x >= x_min) & (x <= x_max)  # (x's shape)
    return record(y, "clip", [x], lambda dy: [np.where(inside, dy, 0).astype(dy.dtype)])


def power(x1, x2):
    """y = x1 ** x2;  dx1 = dy * x2 * x1 ** (x2 - 1),  dx2 = dy * y * log(x1) where x1 > 0
    (0 elsewhere, as TensorFlow's Pow gradient)."""
    x1, x2 = values(x1, x2)
    y = numpy_ops.power(x1, x2)

    def gradient(dy):
        d1 = dy * x2 * numpy_ops.power(x1, x2 - 1)
        positive = np.greater(x1, 0)
        d2 = dy * y * np.log(np.where(positive, x1, 1)).astype(y.dtype)
        return [unbroadcast(d1.astype(y.dtype), x1), unbroadcast(d2, x2)]
    return record(y, "power", [x1, x2], gradient)


def square(x):
    """y = x**2;  dx = 2 * x * dy."""
    x, = values(x)
    return record(numpy_ops.square(x), "square", [x], lambda dy: [2 * x * dy])


def sqrt(x):
    """y = sqrt(x);  dx = dy / (2 * y)."""
    x, = values(x)
    y = numpy_ops.sqrt(x)
    return record(y, "sqrt", [x], lambda dy: [dy / (2 * y)])


def exp(x):
    """y = exp(x);  dx = dy * y."""
    x, = values(x)
    y = numpy_ops.exp(x)
    return record(y, "exp", [x], lambda dy: [dy * y])


def log(x):
    """y = log(x);  dx = dy / x."""
    x, = values(x)
    return record(numpy_ops.log(x), "log", [x], lambda dy: [dy / x])


def tanh(x):
    """y = tanh(x);  dx = dy * (1 - y**2)."""
    x, = values(x)
    y = numpy_ops.tanh(x)
    return record(y, "tanh", [x], lambda dy: [activations.tanh_backward(dy, x, y)])


def relu(x):
    """y = max(x, 0);  dx = dy where x > 0."""
    x, = values(x)
    y = nn.relu(x)
    return record(y, "relu", [x], lambda dy: [activations.relu_backward(dy, x, y)])


def sigmoid(x):
    """y = sigmoid(x);  dx = dy * y * (1 - y). A cross-entropy after it works from x (head.py)."""
    x, = values(x)
    y = nn.sigmoid(x)
    return record(y, "sigmoid", [x], lambda dy: [activations.sigmoid_backward(dy, x, y)],
                  activation=activations.sigmoid)


def softmax(x, axis=-1):
    """y = softmax(x);  dx = y * (dy - sum(dy * y)) along the axis."""
    x, = values(x)
    y = nn.softmax(x, axis=axis)
    gradient = lambda dy: [y * (dy - (dy * y).sum(axis=axis, keepdims=True))]  # noqa: E731
    return record(y, "softmax", [x], gradient, activation=activations.softmax)


# -- sums and shapes ----------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):  # noqa: A001 (Keras's name)
    """y = sum of x over the axes;  dx = dy, spread back over them."""
    x, = values(x)
    y = numpy_ops.sum(x, axis=axis, keepdims=keepdims)
    return record(y, "sum", [x], lambda dy: [_spread(dy, x, axis, keepdims)])


def mean(x, axis=None, keepdims=False):
    """y = mean of x over the axes;  dx = dy / (values averaged), spread back over them."""
    x, = values(x)
    y = numpy_ops.mean(x, axis=axis, keepdims=keepdims)
    count = np.asarray(np.size(x) / max(np.size(y), 1), y.dtype)
    return record(y, "mean", [x], lambda dy: [_spread(dy, x, axis, keepdims) / count])


def _spread(dy, x, axis, keepdims):
    """dy, with the reduced axes put back, broadcast to x's shape."""
    if axis is not None and not keepdims:
        dy = np.expand_dims(dy, axis)
    return np.broadcast_to(dy, np.shape(x)).astype(dy.dtype)


def reshape(x, newshape):
    """y = x reshaped;  dx = dy reshaped back."""
    x, = values(x)
    return record(numpy_ops.reshape(x, newshape), "reshape", [x],
                  lambda dy: [dy.reshape(np.shape(x))])


def transpose(x, axes=None):
    """y = x with its axes permuted;  dx = dy with the inverse permutation."""
    x, = values(x)
    inverse = None if axes is None else np.argsort(axes)
    return record(numpy_ops.transpose(x, axes), "transpose", [x],
                  lambda dy: [np.transpose(dy, inverse)])


def concatenate(xs, axis=0):
    """y = the arrays joined along an axis;  each dx is its slice of dy."""
    xs = values(*xs)
    xs = list(xs)
    y = numpy_ops.concatenate(xs, axis=axis)
    edges = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
    return record(y, "concatenate", xs, lambda dy: np.split(dy, edges, axis=axis))


# A weight in a NumPy expression (`x @ self.w + self.b`) comes here through the Variable's
# __array_ufunc__ (variable.py), a Tracked array through its own: these ufuncs and functions
# are recorded as the ops above.
RECORDED_FUNCTIONS = {np.mean: mean, np.sum: sum, np.clip: clip}
RECORDED_UFUNCS.update({
    np.power: power,
    np.add: add, np.subtract: subtract, np.multiply: multiply, np.divide: divide,
    np.matmul: matmul, np.negative: negative, np.maximum: maximum, np.minimum: minimum,
    np.absolute: abs, np.square: square, np.sqrt: sqrt, np.exp: exp, np.log: log,
    np.tanh: tanh,
})
