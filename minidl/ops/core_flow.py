"""keras.ops.core's control flow, as plain Python: NumPy has no graphs to build.

    carry, ys = ops.scan(lambda c, x: (c + x, c), 0.0, xs)      # a running sum
    ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2), (0, x))

Keras (TensorFlow backend) turns these into tf.cond, tf.while_loop, tf.map_fn, ...; here each
is the loop its docstring describes in Keras. Inside a training step a body runs the ops it
calls, recorded on the tape as anywhere else (backprop*.py), so gradients flow through
loops and branches. The slicing and stacking these functions do themselves are recorded
ops too (take, stack, concatenate, reshape).

The return structures are Keras's: while_loop gives a tuple for a list or tuple of loop
variables and the value itself otherwise; scan gives (carry, ys) with ys stacked leaf by
leaf; map and vectorized_map keep the structure of the function's output; loop variables
(Python numbers too) come back as arrays, as TensorFlow's loops give tensors.
Source: keras/src/ops/core.py, keras/src/backend/tensorflow/core.py.
"""
import numpy as np

from minidl import tree
from minidl.ops import backprop
from minidl.ops.backprop import concatenate, reshape, take
from minidl.ops.backprop_numpy import expand_dims, flip, stack


def _tensor(x):
    """A loop variable as an array (TensorFlow's loops make tensors of Python numbers);
    arrays, tape-tracked arrays and weights stay themselves."""
    if x is None or isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        return x
    return backprop.convert_to_tensor(x)


def _tensors(structure):
    return tree.map_structure(_tensor, structure)


def _row(x, i, axis=0):
    """x[i] along an axis, recorded (a training step differentiates through it)."""
    return take(x, (slice(None),) * axis + (i,))


def _stack(rows):
    """Arrays of one shape stacked on a new axis 0, recorded."""
    return stack(list(rows), axis=0)


def cond(pred, true_fn, false_fn):
    """true_fn() if pred else false_fn(): the branch's result, as it returns it.

    Args:
        pred: a boolean scalar (Python bool or a 0-d array).
        true_fn: a function of no arguments, called when pred is true.
        false_fn: called when pred is false.
    """
    return true_fn() if bool(np.asarray(pred)) else false_fn()


def switch(index, branches, *operands):
    """branches[index](*operands), with index clipped to 0 .. len(branches) - 1 (as Keras's).

    Formula: branches[min(max(index, 0), len(branches) - 1)](*operands)
    """
    index = int(np.clip(int(np.asarray(index)), 0, len(branches) - 1))
    return branches[index](*operands)


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Run `body` on the loop variables while `cond` holds (at most maximum_iterations times).

    Args:
        cond: a function of the loop variables (unpacked when they are a list or tuple)
            returning a boolean scalar.
        body: a function of the loop variables returning their new values, in the same
            structure.
        loop_vars: one value, or a list or tuple of them.
        maximum_iterations: an upper bound on the number of iterations, or None.
    Returns:
        The final loop variables: a tuple if loop_vars was a list or tuple, else the value.
    """
    is_tuple = isinstance(loop_vars, (tuple, list))
    state = tuple(_tensors(list(loop_vars))) if is_tuple else (_tensor(loop_vars),)
    iterations = 0
    while bool(np.asarray(cond(*state))):
        if maximum_iterations is not None and iterations >= maximum_iterations:
            break
        outputs = body(*state)
        state = tuple(_tensors(list(outputs))) if is_tuple else (_tensor(outputs),)
        iterations += 1
    return state if is_tuple else state[0]


def fori_loop(lower, upper, body_fun, init_val):
    """val = body_fun(i, val) for i = lower .. upper - 1; the final val.

    Formula: val_0 = init_val;  val_{k+1} = body_fun(lower + k, val_k)
    """
    i, val = _tensor(lower), _tensors(init_val)
    while bool(np.asarray(i < upper)):
        val = _tensors(body_fun(i, val))
        i = _tensor(i + 1)
    return val


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Carry a state along the leading axis of xs: carry, y = f(carry, x) for each x.

    Args:
        f: a function (carry, x) -> (new carry, y); carry keeps its structure.
        init: the first carry (an array or a nested structure of them).
        xs: what to scan over (arrays, or a structure of them, sharing their first axis),
            or None with `length` (f then gets x = None).
        length: the number of steps when xs is None.
        reverse: scan from the last x to the first (ys stay aligned with xs).
        unroll: a positive int or a bool: how many steps TensorFlow's loop unrolls; it
            changes nothing here, but is checked as Keras checks it.
    Returns:
        (the last carry, ys stacked on a new axis 0, with y's structure).
    Formula: c_0 = init;  c_{t+1}, y_t = f(c_t, x_t);  returns (c_n, [y_0, ..., y_{n-1}])
    """
    if not callable(f):
        raise TypeError(f"`f` should be a callable. Received: f={f}")
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"`unroll` must be an positive integer or boolean. Received: unroll={unroll}")
    if xs is None and length is None:
        raise ValueError("Got no `xs` to scan over and `length` not provided.")
    xs_flat = [] if xs is None else [_tensor(x) for x in tree.flatten(xs)]
    n = int(length) if length is not None else int(np.shape(xs_flat[0])[0])
    carry = _tensors(init)
    ys = [None] * n
    for i in (range(n - 1, -1, -1) if reverse else range(n)):
        x = None if xs is None else tree.pack_sequence_as(xs, [_row(v, i) for v in xs_flat])
        carry, y = f(carry, x)
        carry, ys[i] = _tensors(carry), _tensors(y)
    return _as_init(init, tree.flatten(carry)), _stacked(ys, init, carry)


def _as_init(init, leaves):
    """Leaves in init's structure, as Keras's TensorFlow scan packs its carry and ys."""
    return tree.pack_sequence_as(init, leaves) if tree.is_nested(init) else leaves[0]


def _stacked(ys, init, carry):
    """The ys of each step stacked leaf by leaf, in init's structure as Keras's TensorFlow
    scan packs them (in y's own when it has another number of leaves, where TensorFlow
    fails and Keras's other backends keep y's). A step without y (None): zeros of the
    carry's shape, as TensorFlow's scan leaves them."""
    if not ys or ys[0] is None:
        leaves = tree.flatten(carry)
        zeros = [np.zeros((len(ys),) + np.shape(c), np.asarray(c).dtype) for c in leaves]
        return _as_init(init, zeros)
    columns = [_stack(column) for column in zip(*[tree.flatten(y) for y in ys])]
    if len(columns) == len(tree.flatten(init)):
        return _as_init(init, columns)
    return tree.pack_sequence_as(ys[0], columns)


def map(f, xs):  # noqa: A001 (Keras's name)
    """f applied to each slice of xs along its first axis, the results stacked.

    Args:
        f: a function of one slice (a structure of slices if xs is a structure).
        xs: an array, or a nested structure of arrays sharing their first axis.
    Returns:
        f's results stacked on a new axis 0, in the structure f returns.
    Formula: y = stack([f(xs[0]), f(xs[1]), ...])
    """
    flat = [_tensor(x) for x in tree.flatten(xs)]
    outputs = [f(tree.pack_sequence_as(xs, [_row(x, i) for x in flat]))
               for i in range(int(np.shape(flat[0])[0]))]
    columns = zip(*[tree.flatten(_tensors(y)) for y in outputs])
    return tree.pack_sequence_as(outputs[0], [_stack(column) for column in columns])


def vectorized_map(function, elements):
    """`map`: the function applied to each slice along axis 0 (TensorFlow vectorizes the
    function; NumPy runs it slice by slice), the results stacked.

    Formula: y = stack([function(elements[0]), function(elements[1]), ...])
    """
    return map(function, elements)


def associative_scan(f, elems, reverse=False, axis=0):
    """All prefix combinations of elems along `axis` with an associative f, by Blelloch's
    odd-even recursion, combining in the same order as Keras's (tfp.math.scan_associative),
    so that a float sum rounds as Keras's does.

    Args:
        f: an associative function (a, b) -> c of two slices of elems, each a structure
            like elems.
        elems: an array or a structure of arrays sharing the size of `axis`.
        reverse: combine from the end (suffixes instead of prefixes).
        axis: the axis to scan along.
    Formula: y_0 = x_0;  y_t = f(y_{t-1}, x_t)   (computed in log2(n) rounds)
    """
    if not callable(f):
        raise TypeError(f"`f` should be a callable. Received: f={f}")
    flat = [_tensor(e) for e in tree.flatten(elems)]
    if reverse:
        flat = [_flip(e, axis) for e in flat]
    sizes = [np.shape(e)[axis] for e in flat]
    if any(n != sizes[0] for n in sizes[1:]):
        raise ValueError("Array inputs to associative_scan must have the same first "
                         f"dimension. (saw: {[list(np.shape(e)) for e in flat]})")

    def combine(a_flat, b_flat):
        c = f(tree.pack_sequence_as(elems, a_flat), tree.pack_sequence_as(elems, b_flat))
        return tree.flatten(c)

    def part(x, start, stop=None, step=1):
        return take(x, (slice(None),) * (axis % np.ndim(x)) + (slice(start, stop, step),))

    def join(parts):
        return concatenate(parts, axis=axis)

    def interleave(a, b):  # [a0 a1 ...], [b0 b1 ...] -> [a0 b0 a1 b1 ...]
        if np.shape(a)[axis] == np.shape(b)[axis] + 1:
            return join([interleave(part(a, 0, -1), b), part(a, -1)])
        at = axis % np.ndim(a) + 1
        pairs = concatenate([expand_dims(a, at), expand_dims(b, at)], axis=at)  # (..., n, 2, ...)
        shape = list(np.shape(a))
        shape[at - 1] *= 2
        return reshape(pairs, tuple(shape))

    def scan_level(level):
        n = np.shape(level[0])[axis]
        if n < 2:
            return level
        reduced = combine([part(e, 0, -1, 2) for e in level], [part(e, 1, None, 2) for e in level])
        if n == 2:
            return [join([part(e, 0, 1), r]) for r, e in zip(reduced, level)]
        if n == 3:
            twice = combine(reduced, [part(e, 2, 3) for e in level])
            return [join([part(e, 0, 1), r, t]) for t, r, e in zip(twice, reduced, level)]
        odd = scan_level(reduced)
        tails = [part(e, 2, None, 2) for e in level]
        results = combine([part(o, 0, -1) for o in odd] if n % 2 == 0 else odd, tails)
        even = [join([part(e, 0, 1), r]) for e, r in zip(level, results)]
        return [interleave(a, b) for a, b in zip(even, odd)]

    scans = scan_level(flat)
    if reverse:
        scans = [_flip(s, axis) for s in scans]
    return tree.pack_sequence_as(elems, scans)


def _flip(x, axis):
    return flip(x, axis=axis)
