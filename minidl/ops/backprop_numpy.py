"""The newer NumPy-named ops, recorded for backpropagation as backprop.py's are.

Each computes its value with the plain op (numpy_elementwise.py, numpy_shapes.py,
numpy_products.py, numpy_statistics.py, linalg.py) and, during a training step, writes itself
on the tape with its derivative. Ops that only move x's entries (pad, diagonal, tril, roll,
...) share one derivative (`_gathered`): the gradient of an entry is the sum of dy over the
places it was copied to. Outside a training step each is just the plain op.

Letters: x, y an op's input and output; dy = dL/dy, dx = dL/dx.
"""
import numpy as np

from minidl.ops import linalg, numpy_elementwise as elementwise, numpy_shapes as shapes
from minidl.ops import numpy_making as making, numpy_products as products
from minidl.ops import numpy_statistics as statistics
from minidl.ops import math, numpy as numpy_ops
from minidl.ops.backprop import (_spread, add, concatenate, divide, mean, multiply,  # noqa: A004
                                 record, reshape, subtract, sum, take, unbroadcast, values)
from minidl.ops.core import convert_to_tensor
from minidl.sparse import SparseRows
from minidl.variable import RECORDED_UFUNCS, Variable


# -- element-wise functions of one array: dx = dy * dy/dx -------------------------------------
def sin(x):
    """y = sin(x);  dx = dy * cos(x)."""
    x, = values(x)
    y = numpy_ops.sin(x)
    return record(y, "sin", [x], lambda dy: [dy * np.cos(x).astype(y.dtype)])


def cos(x):
    """y = cos(x);  dx = -dy * sin(x)."""
    x, = values(x)
    y = numpy_ops.cos(x)
    return record(y, "cos", [x], lambda dy: [-dy * np.sin(x).astype(y.dtype)])


def tan(x):
    """y = tan(x);  dx = dy * (1 + y**2)."""
    x, = values(x)
    y = elementwise.tan(x)
    return record(y, "tan", [x], lambda dy: [dy * (1 + y * y)])


def arcsin(x):
    """y = arcsin(x);  dx = dy / sqrt(1 - x**2)."""
    x, = values(x)
    y = elementwise.arcsin(x)
    return record(y, "arcsin", [x], lambda dy: [dy / np.sqrt(1 - np.square(x, dtype=y.dtype))])


def arccos(x):
    """y = arccos(x);  dx = -dy / sqrt(1 - x**2)."""
    x, = values(x)
    y = elementwise.arccos(x)
    return record(y, "arccos", [x], lambda dy: [-dy / np.sqrt(1 - np.square(x, dtype=y.dtype))])


def arctan(x):
    """y = arctan(x);  dx = dy / (1 + x**2)."""
    x, = values(x)
    y = elementwise.arctan(x)
    return record(y, "arctan", [x], lambda dy: [dy / (1 + np.square(x, dtype=y.dtype))])


def sinh(x):
    """y = sinh(x);  dx = dy * cosh(x)."""
    x, = values(x)
    y = elementwise.sinh(x)
    return record(y, "sinh", [x], lambda dy: [dy * np.cosh(x).astype(y.dtype)])


def cosh(x):
    """y = cosh(x);  dx = dy * sinh(x)."""
    x, = values(x)
    y = elementwise.cosh(x)
    return record(y, "cosh", [x], lambda dy: [dy * np.sinh(x).astype(y.dtype)])


def arcsinh(x):
    """y = arcsinh(x);  dx = dy / sqrt(x**2 + 1)."""
    x, = values(x)
    y = elementwise.arcsinh(x)
    return record(y, "arcsinh", [x], lambda dy: [dy / np.sqrt(np.square(x, dtype=y.dtype) + 1)])


def arccosh(x):
    """y = arccosh(x);  dx = dy / sqrt(x**2 - 1)."""
    x, = values(x)
    y = elementwise.arccosh(x)
    return record(y, "arccosh", [x], lambda dy: [dy / np.sqrt(np.square(x, dtype=y.dtype) - 1)])


def arctanh(x):
    """y = arctanh(x);  dx = dy / (1 - x**2)."""
    x, = values(x)
    y = elementwise.arctanh(x)
    return record(y, "arctanh", [x], lambda dy: [dy / (1 - np.square(x, dtype=y.dtype))])


def cbrt(x):
    """y = x**(1/3) (real);  dx = dy / (3 * y**2)."""
    x, = values(x)
    y = elementwise.cbrt(x)
    return record(y, "cbrt", [x], lambda dy: [dy / (3 * y * y)])


def expm1(x):
    """y = exp(x) - 1;  dx = dy * (y + 1)."""
    x, = values(x)
    y = numpy_ops.expm1(x)
    return record(y, "expm1", [x], lambda dy: [dy * (y + 1)])


def log1p(x):
    """y = log(1 + x);  dx = dy / (1 + x)."""
    x, = values(x)
    y = numpy_ops.log1p(x)
    return record(y, "log1p", [x], lambda dy: [dy / (1 + x.astype(y.dtype, copy=False))])


def log2(x):
    """y = log2(x);  dx = dy / (x * log(2))."""
    x, = values(x)
    y = numpy_ops.log2(x)
    return record(y, "log2", [x], lambda dy: [dy / (x * y.dtype.type(np.log(2)))])


def log10(x):
    """y = log10(x);  dx = dy / (x * log(10))."""
    x, = values(x)
    y = numpy_ops.log10(x)
    return record(y, "log10", [x], lambda dy: [dy / (x * y.dtype.type(np.log(10)))])


def exp2(x):
    """y = 2**x;  dx = dy * y * log(2)."""
    x, = values(x)
    y = elementwise.exp2(x)
    return record(y, "exp2", [x], lambda dy: [dy * y * y.dtype.type(np.log(2))])


def fabs(x):
    """y = |x| as floats;  dx = dy * sign(x)."""
    x, = values(x)
    y = elementwise.fabs(x)
    return record(y, "fabs", [x], lambda dy: [dy * np.sign(x).astype(y.dtype)])


def deg2rad(x):
    """y = x * pi / 180;  dx = dy * pi / 180."""
    x, = values(x)
    y = elementwise.deg2rad(x)
    return record(y, "deg2rad", [x], lambda dy: [dy * y.dtype.type(np.pi / 180)])


def rad2deg(x):
    """y = x * 180 / pi;  dx = dy * 180 / pi."""
    x, = values(x)
    y = elementwise.rad2deg(x)
    return record(y, "rad2deg", [x], lambda dy: [dy * y.dtype.type(180 / np.pi)])


def copy(x):
    """y = a copy of x;  dx = dy."""
    x, = values(x)
    return record(making.copy(x), "copy", [x], lambda dy: [dy])


# -- element-wise functions of two arrays -------------------------------------------------------
def arctan2(x1, x2):
    """y = the angle of (x2, x1);  dx1 = dy * x2 / (x1**2 + x2**2), dx2 = -dy * x1 / (...)."""
    x1, x2 = values(x1, x2)
    y = elementwise.arctan2(x1, x2)

    def gradient(dy):
        r2 = (np.square(x1) + np.square(x2)).astype(y.dtype)
        return [unbroadcast(dy * x2 / r2, x1), unbroadcast(-dy * x1 / r2, x2)]
    return record(y, "arctan2", [x1, x2], gradient)


def hypot(x1, x2):
    """y = sqrt(x1**2 + x2**2);  dx1 = dy * x1 / y, dx2 = dy * x2 / y."""
    x1, x2 = values(x1, x2)
    y = elementwise.hypot(x1, x2)
    return record(y, "hypot", [x1, x2], lambda dy: [
        unbroadcast(dy * x1 / y, x1), unbroadcast(dy * x2 / y, x2)])


def logaddexp(x1, x2):
    """y = log(exp(x1) + exp(x2));  dx1 = dy * exp(x1 - y), dx2 = dy * exp(x2 - y) (the
    softmax of the pair; at x1 == x2 each gets half, where TensorFlow, differentiating
    Keras's max + log1p(exp(-|x1 - x2|)), gives all of it to x1)."""
    x1, x2 = values(x1, x2)
    y = elementwise.logaddexp(x1, x2)
    return record(y, "logaddexp", [x1, x2], lambda dy: [
        unbroadcast(dy * np.exp(x1 - y), x1), unbroadcast(dy * np.exp(x2 - y), x2)])


def logaddexp2(x1, x2):
    """y = log2(2**x1 + 2**x2);  dx1 = dy * 2**(x1 - y), dx2 = dy * 2**(x2 - y)."""
    x1, x2 = values(x1, x2)
    y = elementwise.logaddexp2(x1, x2)
    return record(y, "logaddexp2", [x1, x2], lambda dy: [
        unbroadcast(dy * np.exp2(x1 - y), x1), unbroadcast(dy * np.exp2(x2 - y), x2)])


# -- ops that move entries: dx[i] = sum of dy where y copied x[i] ---------------------------------
def _gathered(name, x, y, move):
    """Record y, made from x by `move` (an op that only copies or drops x's entries, filling
    the rest with constants). Applying `move` to the numbers 1..size(x) shows where each
    entry of y came from (0: a filled constant); the gradient adds dy up by source.

    Args:
        name: the op's name on the tape.
        x, y: the op's input and output (y = the op of x).
        move: the op as a function of an integer array of x's shape, filling with 0.
    Formula: source = move(1..size(x));  dx[i] = sum of dy[j] over the j with source[j] = i + 1
    """
    source = move(np.arange(1, np.size(x) + 1).reshape(np.shape(x)))  # (y's shape)

    def gradient(dy):
        dx = np.bincount(source.ravel(), dy.ravel(), np.size(x) + 1)[1:]  # (size(x),)
        return [dx.reshape(np.shape(x)).astype(dy.dtype)]
    return record(y, name, [x], gradient)


def pad(x, pad_width, mode="constant", constant_values=None):
    """y = x padded;  dx = dy's middle, plus the mirrored copies' gradients (reflect, symmetric)."""
    x, = values(x)
    y = shapes.pad(x, pad_width, mode, constant_values)
    return _gathered("pad", x, y, lambda a: shapes.pad(a, pad_width, mode))


def tril(x, k=0):
    """y = x below the k-th diagonal;  dx = tril(dy)."""
    x, = values(x)
    return record(shapes.tril(x, k), "tril", [x], lambda dy: [np.tril(dy, k)])


def triu(x, k=0):
    """y = x above the k-th diagonal;  dx = triu(dy)."""
    x, = values(x)
    return record(shapes.triu(x, k), "triu", [x], lambda dy: [np.triu(dy, k)])


def diag(x, k=0):
    """y = a diagonal matrix of a 1-D x, or a 2-D x's diagonal;  dx gathers dy back."""
    x, = values(x)
    return _gathered("diag", x, shapes.diag(x, k), lambda a: np.diag(a, k))


def diagflat(x, k=0):
    x, = values(x)
    return _gathered("diagflat", x, shapes.diagflat(x, k), lambda a: np.diagflat(a, k))


def diagonal(x, offset=0, axis1=0, axis2=1):
    """y = x's diagonal in the plane (axis1, axis2);  dx = dy written back on it, 0 elsewhere."""
    x, = values(x)
    y = shapes.diagonal(x, offset, axis1, axis2)
    return _gathered("diagonal", x, y, lambda a: np.diagonal(a, offset, axis1, axis2))


def trace(x, offset=0, axis1=0, axis2=1):
    """y = sum of the diagonal;  dx = dy on the diagonal, 0 elsewhere."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def roll(x, shift, axis=None):
    """y = x shifted round;  dx = dy shifted back."""
    x, = values(x)
    back = np.negative(shift)
    return record(shapes.roll(x, shift, axis), "roll", [x],
                  lambda dy: [np.roll(dy, back, axis=axis)])


def moveaxis(x, source, destination):
    """y = x with axes moved;  dx = dy with them moved back."""
    x, = values(x)
    return record(shapes.moveaxis(x, source, destination), "moveaxis", [x],
                  lambda dy: [np.moveaxis(dy, destination, source)])


def swapaxes(x, axis1, axis2):
    """y = x with two axes swapped;  dx = dy with them swapped back."""
    x, = values(x)
    return record(shapes.swapaxes(x, axis1, axis2), "swapaxes", [x],
                  lambda dy: [np.swapaxes(dy, axis1, axis2)])


def flipud(x):
    """y = x upside down;  dx = dy upside down."""
    x, = values(x)
    return record(shapes.flipud(x), "flipud", [x], lambda dy: [np.flipud(dy)])


def fliplr(x):
    """y = x left to right;  dx = dy left to right."""
    x, = values(x)
    return record(shapes.fliplr(x), "fliplr", [x], lambda dy: [np.fliplr(dy)])


def rot90(array, k=1, axes=(0, 1)):
    """y = x turned k quarter turns;  dx = dy turned back (-k)."""
    x, = values(array)
    return record(shapes.rot90(x, k, axes), "rot90", [x], lambda dy: [np.rot90(dy, -k, axes)])


def ravel(x):
    """y = x flattened;  dx = dy reshaped back."""
    return reshape(x, (-1,))


def _indexable(x):
    """x itself if it is an array or a weight (to keep it the one on the tape), else an array
    of it (Python lists and numbers, which slicing cannot index as arrays)."""
    return x if isinstance(x, (np.ndarray, Variable)) else convert_to_tensor(x)


def get_item(x, key):
    """y = x[key];  dx = dy added at key."""
    return take(_indexable(x), key)


# -- joins and splits ----------------------------------------------------------------------------
def stack(x, axis=0):
    """y = the arrays stacked on a new axis;  dx_i = dy's i-th slice on that axis."""
    xs = values(*x)
    y = numpy_ops.stack(xs, axis=axis)
    return record(y, "stack", xs, lambda dy: [np.take(dy, i, axis=axis) for i in range(len(xs))])


def hstack(xs):
    """concatenate on axis 1 (axis 0 for 1-D arrays)."""
    xs = [reshape(x, (1,)) if np.ndim(x) == 0 else x for x in xs]
    return concatenate(xs, axis=0 if np.ndim(xs[0]) == 1 else 1)


def vstack(xs):
    """concatenate on axis 0 (1-D arrays end to end, as Keras's)."""
    return concatenate(list(xs), axis=0)


def dstack(xs):
    """concatenate on axis 2, with (1, N, 1) and (M, N, 1) shapes for 1-D and 2-D arrays."""
    def three_d(x):
        n = np.ndim(x)
        return x if n >= 3 else reshape(x, (1, -1, 1) if n < 2 else np.shape(x) + (1,))
    return concatenate([three_d(x) for x in xs], axis=2)


def append(x1, x2, axis=None):
    """x2 after x1 (both flattened when axis is None)."""
    if axis is None:
        x1, x2 = reshape(x1, (-1,)), reshape(x2, (-1,))
        axis = 0
    return concatenate([x1, x2], axis=axis)


def _pieces(x, lengths, axis):
    """x cut along the axis into parts of the given lengths, each a recorded slice (take)."""
    axis, x = axis % np.ndim(x), _indexable(x)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    return [take(x, (slice(None),) * axis + (slice(s, s + n),)) for s, n in zip(starts, lengths)]


def split(x, indices_or_sections, axis=0):
    """The parts of x (shapes.split); each part's dx is dy in its place, 0 elsewhere."""
    parts = shapes.split(np.empty(np.shape(x), bool), indices_or_sections, axis)
    return _pieces(x, [p.shape[axis] for p in parts], axis)


def array_split(x, indices_or_sections, axis=0):
    parts = shapes.array_split(np.empty(np.shape(x), bool), indices_or_sections, axis)
    return _pieces(x, [p.shape[axis] for p in parts], axis)


# -- products -------------------------------------------------------------------------------------
def _einsum_letters(subscripts, shapes_):
    """The operands' and the output's subscripts with '...' spelled out in spare letters."""
    subscripts = subscripts.replace(" ", "")
    inputs, _, output = subscripts.partition("->")
    inputs = inputs.split(",")
    used = set(subscripts) - set(".,->")
    spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in used]
    width = max([len(s) - len(f.replace("...", "")) for f, s in zip(inputs, shapes_)
                 if "..." in f] + [0])
    broad = "".join(spare[:width])
    spelled = [f.replace("...", broad[width - (len(s) - len(f.replace("...", ""))):])
               for f, s in zip(inputs, shapes_)]
    if "->" not in subscripts:  # implicit output: the letters used once, in order
        letters = "".join(spelled)
        output = broad + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                        and c not in broad))
    return spelled, output.replace("...", broad)


def einsum(subscripts, *operands, **kwargs):
    """y = einsum(subscripts, x_1, ..., x_n);  dx_i = einsum of dy with the other operands,
    onto x_i's subscripts (letters only x_i has are summed in y, so dx_i is constant along
    them; a letter repeated within one operand, a diagonal, has no derivative here).

    Formula: "ij,jk->ik":  dx_1 = einsum("ik,jk->ij", dy, x_2) = dy @ x_2.T,
                           dx_2 = einsum("ik,ij->jk", dy, x_1) = x_1.T @ dy
    """
    xs = values(*operands)
    y = products.einsum(subscripts, *xs, **kwargs)
    inputs, output = _einsum_letters(subscripts, [np.shape(x) for x in xs])

    def gradient(dy):
        grads = []
        for i, (x, mine) in enumerate(zip(xs, inputs)):
            if len(set(mine)) < len(mine):
                raise ValueError(f"minidl cannot differentiate einsum('{subscripts}'): operand "
                                 f"{i} repeats an index ('{mine}'). Use ops.diagonal or "
                                 "ops.trace for diagonals.")
            others = [s for j, s in enumerate(inputs) if j != i]
            reached = output + "".join(others)
            alone = "".join(c for c in mine if c not in reached)  # summed over x_i alone
            ones = np.ones([np.shape(x)[mine.index(c)] for c in alone], dy.dtype)
            spec = ",".join([output] + others + [alone]) + "->" + mine
            d = np.einsum(spec, dy, *[xs[j] for j in range(len(xs)) if j != i], ones)
            grads.append(unbroadcast(d.astype(dy.dtype), x))
        return grads
    return record(y, "einsum", xs, gradient)


def outer(x1, x2):
    """y[i, j] = x1[i] * x2[j] (flattened);  dx1 = dy @ x2, dx2 = x1 @ dy (reshaped back)."""
    x1, x2 = values(x1, x2)
    y = products.outer(x1, x2)
    return record(y, "outer", [x1, x2], lambda dy: [
        (dy @ np.ravel(x2).astype(dy.dtype)).reshape(np.shape(x1)),
        (np.ravel(x1).astype(dy.dtype) @ dy).reshape(np.shape(x2))])


def inner(x1, x2):
    """y = sums of products over the last axes (einsum "...k,...'k->......'")."""
    n1, n2 = np.ndim(x1), np.ndim(x2)
    if n1 == 0 or n2 == 0:
        return multiply(x1, x2)
    a, b = "abcdefghij"[:n1 - 1], "lmnopqrstu"[:n2 - 1]
    return einsum(f"{a}z,{b}z->{a}{b}", x1, x2)


def vdot(x1, x2):
    """y = the dot product of the flattened arrays."""
    return einsum("i,i->", reshape(x1, (-1,)), reshape(x2, (-1,)))


def tensordot(x1, x2, axes=2):
    """y = sums of products over the axes paired by `axes` (an int n: x1's last n with x2's
    first n; or two lists), the free axes x1's then x2's, as np.tensordot;
    dx1 = einsum of dy with x2 onto x1's axes, dx2 likewise (each paired axis shares a
    letter, every free axis has its own: the einsum spelling of the same product)."""
    a, b = values(x1, x2)
    y = numpy_ops.tensordot(a, b, axes)
    n1, n2 = np.ndim(a), np.ndim(b)
    if isinstance(axes, (int, np.integer)):
        paired = (list(range(n1 - axes, n1)), list(range(axes)))
    else:
        paired = [[axis % n for axis in np.atleast_1d(side)] for side, n in zip(axes, (n1, n2))]
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    first = [next(letters) for _ in range(n1)]
    second = [next(letters) for _ in range(n2)]
    for i, j in zip(*paired):
        second[j] = first[i]  # a paired axis: one letter in both
    free = [c for i, c in enumerate(first) if i not in paired[0]] + \
        [c for j, c in enumerate(second) if j not in paired[1]]
    s1, s2, out = "".join(first), "".join(second), "".join(free)
    return record(y, "tensordot", [a, b], lambda dy: [
        np.einsum(f"{out},{s2}->{s1}", dy, b).astype(dy.dtype),
        np.einsum(f"{s1},{out}->{s2}", a, dy).astype(dy.dtype)])


def dot(x1, x2):
    """y = np.dot(x1, x2): a product for a scalar, else the sum over x1's last axis and x2's
    second-to-last (its only one, if 1-D): tensordot over those two axes."""
    if np.ndim(x1) == 0 or np.ndim(x2) == 0:
        return multiply(x1, x2)
    return tensordot(x1, x2, ([np.ndim(x1) - 1], [max(np.ndim(x2) - 2, 0)]))


def kron(x1, x2):
    """y = blocks x1[i, j] * x2 (einsum "ij,kl->ikjl" reshaped, at any rank)."""
    n = max(np.ndim(x1), np.ndim(x2))
    x1 = reshape(x1, (1,) * (n - np.ndim(x1)) + np.shape(x1))
    x2 = reshape(x2, (1,) * (n - np.ndim(x2)) + np.shape(x2))
    a, b = "abcdefgh"[:n], "ijklmnop"[:n]
    blocks = einsum(f"{a},{b}->" + "".join(p + q for p, q in zip(a, b)), x1, x2)
    return reshape(blocks, tuple(np.multiply(np.shape(x1), np.shape(x2))))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """y = x1 x x2: (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0), recorded as those
    products (2-vectors get a zero third component; two 2-vectors give the third only)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(x1, axisa, -1), moveaxis(x2, axisb, -1)
    planar = np.shape(a)[-1] == 2 and np.shape(b)[-1] == 2
    a, b = (v if np.shape(v)[-1] == 3 else pad(v, [(0, 0)] * (np.ndim(v) - 1) + [(0, 1)])
            for v in (a, b))
    a0, a1, a2 = (get_item(a, (Ellipsis, i)) for i in range(3))
    b0, b1, b2 = (get_item(b, (Ellipsis, i)) for i in range(3))
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if planar:
        return z
    c = stack([subtract(multiply(a1, b2), multiply(a2, b1)),
               subtract(multiply(a2, b0), multiply(a0, b2)), z], axis=-1)
    return moveaxis(c, -1, axisc)


# -- statistics ---------------------------------------------------------------------------------
def average(x, axis=None, weights=None):
    """y = sum(x * w) / sum(w) over the axis (the mean without weights); recorded as those
    ops, so dx = dy * w / sum(w) and dw = dy * (x - y) / sum(w)."""
    if weights is None:
        return mean(x, axis=axis)
    if np.ndim(weights) != np.ndim(x):  # 1-D weights along the axis
        shape = [1] * np.ndim(x)
        shape[axis] = -1
        weights = reshape(weights, tuple(shape))
    total = sum(multiply(x, weights), axis=axis)
    return divide(total, sum(weights, axis=None if axis is None else axis))


def ptp(x, axis=None, keepdims=False):
    """y = max - min over the axes;  dx = dy / (number of maxima) at each maximum, minus
    dy / (number of minima) at each minimum (TensorFlow's reduce_max/min gradients)."""
    x, = values(x)
    y = statistics.ptp(x, axis, keepdims)
    axes = axis if axis is None else tuple(np.atleast_1d(axis))
    top = np.max(x, axis=axes, keepdims=True) == x  # (x's shape)
    bottom = np.min(x, axis=axes, keepdims=True) == x

    def gradient(dy):
        g = _spread(dy, x, axes, keepdims)
        share = lambda hit: hit / np.sum(hit, axis=axes, keepdims=True)  # noqa: E731
        return [(g * (share(top) - share(bottom))).astype(dy.dtype)]
    return record(y, "ptp", [x], gradient)


def nansum(x, axis=None, keepdims=False):
    """y = sum of the non-NaN values;  dx = dy spread back, 0 at each NaN."""
    x, = values(x)
    y = statistics.nansum(x, axis, keepdims)
    axes = axis if axis is None else tuple(np.atleast_1d(axis))
    kept = ~np.isnan(x)
    return record(y, "nansum", [x], lambda dy: [
        np.where(kept, _spread(dy, x, axes, keepdims), 0).astype(dy.dtype)])


def nanmean(x, axis=None, keepdims=False):
    """y = the mean of the non-NaN values;  dx = dy / (their count), 0 at each NaN."""
    x, = values(x)
    y = statistics.nanmean(x, axis, keepdims)
    axes = axis if axis is None else tuple(np.atleast_1d(axis))
    kept = ~np.isnan(x)
    count = np.sum(kept, axis=axes, keepdims=True)  # (x's shape with the axes 1)

    def gradient(dy):
        g = _spread(dy, x, axes, keepdims) / count
        return [np.where(kept, g, 0).astype(dy.dtype)]
    return record(y, "nanmean", [x], gradient)


def diff(a, n=1, axis=-1):
    """y = a[1:] - a[:-1] along the axis, n times; recorded as those slices and subtractions."""
    y = statistics.diff(a, n, axis)  # Keras's checks and the value's dtype
    a = _indexable(a)
    if np.asarray(values(a)[0]).dtype == bool:
        return y  # the != of bools: no gradient
    before = [slice(None)] * np.ndim(a)
    after = list(before)
    before[axis], after[axis] = slice(1, None), slice(None, -1)
    for _ in range(n):
        a = subtract(get_item(a, tuple(before)), get_item(a, tuple(after)))
    return a


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoidal rule, sum(0.5 * (y[1:] + y[:-1]) * dx), recorded as those ops
    (dx = diff(x) when x is given)."""
    value = statistics.trapezoid(y, x, dx, axis)
    y = _indexable(y)
    widths = value.dtype.type(dx) if x is None else statistics.diff(  # x: a constant
        np.asarray(x, value.dtype), axis=axis)
    ends = [slice(None)] * np.ndim(y)
    starts = list(ends)
    ends[axis], starts[axis] = slice(1, None), slice(None, -1)
    heights = multiply(value.dtype.type(0.5),
                       add(get_item(y, tuple(ends)), get_item(y, tuple(starts))))
    return sum(multiply(heights, widths), axis=axis)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """y = the sorted values at q * (n - 1), between two of them by `method`;
    dx = dy * (1 - f) at the lower one's place and dy * f at the upper one's, where f is the
    fraction "linear" interpolates by (ties broken by position, as a stable sort)."""
    x, = values(x)
    y = statistics.quantile(x, q, axis, method, keepdims)
    reduced = tuple(range(np.ndim(x))) if axis is None else tuple(
        a % np.ndim(x) for a in np.atleast_1d(axis))
    kept = [a for a in range(np.ndim(x)) if a not in reduced]
    flat = np.transpose(x, kept + list(reduced)).reshape(
        [np.shape(x)[a] for a in kept] + [-1])  # (kept..., n)
    n = flat.shape[-1]
    order = np.argsort(flat, axis=-1, kind="stable")  # (kept..., n)
    position = np.asarray(q, np.float64) * (n - 1)  # (q's shape)
    low, high = np.floor(position), np.ceil(position)
    f = {"linear": position - low, "lower": 0 * position, "higher": np.ones_like(position),
         "midpoint": np.where(high > low, 0.5, 0.0), "nearest": (np.round(position) > low) * 1.0}
    f = f[method]

    def gradient(dy):
        g = np.moveaxis(dy.reshape(np.shape(q) + flat.shape[:-1]), tuple(range(np.ndim(q))),
                        tuple(range(-np.ndim(q), 0)))  # (kept..., q...)
        dflat = np.zeros(flat.shape, dy.dtype)
        for index in np.ndindex(np.shape(q)):
            lo, hi, w = int(low[index]), int(high[index]), f[index]
            gq = g[(Ellipsis,) + index]  # (kept...)
            np.add.at(dflat, _at(order, lo), gq * dy.dtype.type(1 - w) if hi != lo else gq)
            if hi != lo:
                np.add.at(dflat, _at(order, hi), gq * dy.dtype.type(w))
        shape = [np.shape(x)[a] for a in kept] + [np.shape(x)[a] for a in reduced]
        return [np.transpose(dflat.reshape(shape), np.argsort(kept + list(reduced)))]
    return record(y, "quantile", [x], gradient)


def _at(order, k):
    """The index of the k-th smallest along the last axis, for every leading position."""
    lead = np.indices(order.shape[:-1])
    return tuple(lead) + (order[..., k],)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, np.asarray(q, np.float64) / 100, axis, method, keepdims)


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


# -- linear algebra -------------------------------------------------------------------------------
def inv(x):
    """y = inv(x);  dx = -y.T @ dy @ y.T."""
    x, = values(x)
    y = linalg.inv(x)
    yt = np.swapaxes(y, -1, -2)
    return record(y, "inv", [x], lambda dy: [-yt @ dy @ yt])


def det(x):
    """y = det(x);  dx = dy * y * inv(x).T."""
    x, = values(x)
    y = linalg.det(x)
    return record(y, "det", [x], lambda dy: [
        (dy * y)[..., None, None] * np.swapaxes(np.linalg.inv(x), -1, -2)])


def logdet(x):
    """y = log det(x) (x symmetric positive definite);  dx = dy * inv(x), x taken from its
    lower triangle (TensorFlow's Cholesky gradient is symmetric too)."""
    x, = values(x)
    y = linalg.logdet(x)
    lower = np.tril(x)
    symmetric = lower + np.swapaxes(np.tril(x, -1), -1, -2)  # (..., M, M)
    return record(y, "logdet", [x], lambda dy: [
        (dy[..., None, None] * np.linalg.inv(symmetric)).astype(dy.dtype)])


def solve(a, b):
    """y = solve(a, b), a @ y = b;  db = solve(a.T, dy), da = -db @ y.T."""
    a, b = values(a, b)
    y = linalg.solve(a, b)

    def gradient(dy):
        vector = np.ndim(b) == np.ndim(a) - 1
        db = linalg.solve(np.swapaxes(a, -1, -2), dy)
        da = -(db[..., :, None] * y[..., None, :] if vector else db @ np.swapaxes(y, -1, -2))
        return [da, db]
    return record(y, "solve", [a, b], gradient)


# A weight or a Tracked array in these NumPy functions (np.sin(y_pred)) is recorded as the
# ops above, as backprop.py's ufuncs are.
RECORDED_UFUNCS.update({
    np.sin: sin, np.cos: cos, np.tan: tan, np.arcsin: arcsin, np.arccos: arccos,
    np.arctan: arctan, np.sinh: sinh, np.cosh: cosh, np.arcsinh: arcsinh, np.arccosh: arccosh,
    np.arctanh: arctanh, np.cbrt: cbrt, np.expm1: expm1, np.log1p: log1p, np.log2: log2,
    np.log10: log10, np.arctan2: arctan2, np.hypot: hypot, np.logaddexp: logaddexp,
    np.exp2: exp2, np.fabs: fabs, np.deg2rad: deg2rad, np.rad2deg: rad2deg,
    np.logaddexp2: logaddexp2,
})


# -- what functional models write between layers: `x / 255`, ops.expand_dims, ops.max, ... ------
def true_divide(x1, x2):
    """`x1 / x2` on symbolic tensors: divide (keras.ops.true_divide is ops.divide)."""
    return divide(x1, x2)


def expand_dims(x, axis):
    """y = x with a new axis of length 1;  dx = dy reshaped back."""
    x, = values(x)
    return record(numpy_ops.expand_dims(x, axis), "expand_dims", [x],
                  lambda dy: [dy.reshape(np.shape(x))])


def squeeze(x, axis=None):
    """y = x without its axes of length 1 (or those of `axis`);  dx = dy reshaped back."""
    x, = values(x)
    return record(numpy_ops.squeeze(x, axis), "squeeze", [x],
                  lambda dy: [dy.reshape(np.shape(x))])


def broadcast_to(x, shape):
    """y = x broadcast to `shape`;  dx = dy summed over the axes broadcasting stretched."""
    x, = values(x)
    return record(numpy_ops.broadcast_to(x, shape), "broadcast_to", [x],
                  lambda dy: [unbroadcast(dy, x)])


def flip(x, axis=None):
    """y = x reversed along `axis` (all axes if None);  dx = dy reversed back."""
    x, = values(x)
    return record(numpy_ops.flip(x, axis), "flip", [x],
                  lambda dy: [numpy_ops.flip(dy, axis)])


def tile(x, repeats):
    """y = x repeated `repeats` times along each axis;  dx = the sum of dy over the copies."""
    x, = values(x)
    y = numpy_ops.tile(x, repeats)
    return record(y, "tile", [x], lambda dy: [_sum_of_tiles(dy, np.shape(x), repeats)])


def _sum_of_tiles(dy, x_shape, repeats):
    reps = np.atleast_1d(repeats).tolist()
    rank = max(len(x_shape), len(reps))  # np.tile pads the shorter one with leading 1s
    shape = [1] * (rank - len(x_shape)) + list(x_shape)
    reps = [1] * (rank - len(reps)) + reps
    pairs = [n for r, s in zip(reps, shape) for n in (r, s)]  # (r0, s0, r1, s1, ...)
    summed = dy.reshape(pairs).sum(axis=tuple(range(0, 2 * rank, 2)))  # over the copies
    return summed.reshape(x_shape)


def repeat(x, repeats, axis=None):
    """y = each entry of x repeated (along `axis`, or of x flattened);  dx = dy summed over
    each entry's repeats."""
    x, = values(x)
    y = numpy_ops.repeat(x, repeats, axis)

    def gradient(dy):
        along = 0 if axis is None else axis % np.ndim(x)
        source = np.ravel(x) if axis is None else x
        counts = np.broadcast_to(repeats, (np.shape(source)[along],))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        dx = np.add.reduceat(dy, starts, axis=along)  # (..., n, ...): one sum per entry
        return [dx.reshape(np.shape(x))]
    return record(y, "repeat", [x], gradient)


def amax(x, axis=None, keepdims=False, initial=None):
    """ops.max and ops.amax. y = the largest entry over the axes;  dx = dy shared equally by the entries equal to
    it, as TensorFlow's gradient of reduce_max (math_grad.py::_MinOrMaxGrad)."""
    return _extreme(numpy_ops.max, "max", x, axis, keepdims, initial)


def amin(x, axis=None, keepdims=False, initial=None):
    """ops.min and ops.amin. y = the smallest entry over the axes;  dx as amax's."""
    return _extreme(numpy_ops.min, "min", x, axis, keepdims, initial)


def _extreme(reduce, name, x, axis, keepdims, initial):
    x, = values(x)
    y = reduce(x, axis, keepdims, initial)

    def gradient(dy):
        chosen = (x == _spread(y, x, axis, keepdims)).astype(y.dtype)  # 1 where x is the max
        count = chosen.sum(axis=axis, keepdims=True)
        return [chosen / count * _spread(dy, x, axis, keepdims)]
    return record(y, name, [x], gradient)


def cumsum(x, axis=None, dtype=None):
    """y = running sums of x along `axis` (of x flattened if None);  dx = running sums of dy
    from the other end."""
    x, = values(x)
    y = numpy_ops.cumsum(x, axis, dtype)

    def gradient(dy):
        along = 0 if axis is None else axis
        back = np.flip(np.cumsum(np.flip(dy, along), axis=along), along)
        return [back.reshape(np.shape(x))]
    return record(y, "cumsum", [x], gradient)


def reciprocal(x):
    """y = 1 / x;  dx = -dy * y**2."""
    x, = values(x)
    y = numpy_ops.reciprocal(x)
    return record(y, "reciprocal", [x], lambda dy: [-dy * (y * y)])


def take_indices(x, indices, axis=None):
    """ops.take. y = the entries of x at `indices` along `axis` (of x flattened if None);  dx = dy added
    back where each entry was taken (an entry taken twice gets both).

    A weight taken along axis 0 (an embedding table, `ops.take(self.embeddings, ids,
    axis=0)`) gets its gradient as rows (SparseRows, minidl/sparse.py), as TensorFlow's gather
    gives a variable an IndexedSlices; its optimizer then takes the sparse step, as Keras's.
    """
    weight = isinstance(x, Variable)
    x, = values(x)
    ids = numpy_ops._ids(values(indices)[0])  # (ids a layer's call() got as floats: ints)
    y = numpy_ops.take(x, ids, axis)

    def gradient(dy):
        if axis is None:  # x flattened first: TensorFlow's reshape makes the rows dense
            dx = np.zeros(np.size(x), dy.dtype)
            np.add.at(dx, ids.ravel(), dy.ravel())
            return [dx.reshape(np.shape(x))]
        along = axis % np.ndim(x)
        if weight and along == 0 and np.ndim(x) == 2:
            rows = ids.ravel() % len(x)  # -1: the last row, as TensorFlow's take wraps it
            return [SparseRows(rows, dy.reshape(-1, np.shape(x)[1]), np.shape(x))]
        dx = np.zeros_like(x, dtype=dy.dtype)
        taken = range(along, along + ids.ndim)  # dy's axes that index the taken entries
        np.add.at(np.moveaxis(dx, along, 0), ids, np.moveaxis(dy, taken, range(ids.ndim)))
        return [dx]
    return record(y, "take_indices", [x], gradient)


def var(x, axis=None, keepdims=False):
    """y = mean((x - mean(x))**2) over the axes;  dx = d - mean(d), d = 2 (x - mean(x)) dy / n,
    in the steps TensorFlow's autodiff of reduce_variance takes (mean, subtract, square,
    mean)."""
    x, = values(x)
    y = numpy_ops.var(x, axis, keepdims)

    def gradient(dy):
        x_ = x.astype(y.dtype, copy=False)
        diff = x_ - numpy_ops.mean(x_, axis=axis, keepdims=True)  # (.., n, ..)
        n = y.dtype.type(np.size(x) / max(np.size(y), 1))
        d_square = _spread(dy, x_, axis, keepdims) / n  # through the outer mean
        d_diff = d_square * (y.dtype.type(2) * diff)  # square's gradient, as TensorFlow's
        d_means = -d_diff.sum(axis=axis, keepdims=True) / n  # through `- mean(x)`
        return [d_diff + d_means]
    return record(y, "var", [x], gradient)


def std(x, axis=None, keepdims=False):
    """y = sqrt(var(x));  d var = dy * 0.5 / y (TensorFlow's sqrt gradient), then var's."""
    x, = values(x)
    variance, = values(var(x, axis, keepdims))  # on the tape: std's input
    y = np.sqrt(variance)
    half = y.dtype.type(0.5)
    return record(y, "std", [variance], lambda dy: [dy * half / y])


def logsumexp(x, axis=None, keepdims=False):
    """y = log(sum(exp(x - m))) + m, m = max(x) (a constant);  dx = dy / sum(exp(x - m)) *
    exp(x - m), in the steps TensorFlow's autodiff of reduce_logsumexp takes."""
    x, = values(x)
    y = math.logsumexp(x, axis, keepdims)

    def gradient(dy):
        x_ = x.astype(y.dtype, copy=False)
        top = np.max(x_, axis=axis, keepdims=True)
        top = np.where(np.isfinite(top), top, 0).astype(y.dtype)
        e = np.exp(x_ - top)  # (.., n, ..)
        d_sum = dy * np.reciprocal(e.sum(axis=axis, keepdims=keepdims))  # log's gradient
        return [_spread(d_sum, x_, axis, keepdims) * e]
    return record(y, "logsumexp", [x], gradient)
