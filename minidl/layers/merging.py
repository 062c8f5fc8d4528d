"""Merge layers: one output from a list of inputs. Add, Subtract, Multiply, Average, Maximum,
Minimum (elementwise), Concatenate and Dot.

    x1 = Input((3,)); x2 = Input((4,))
    y = Dense(2)(Concatenate()([Dense(5)(x1), x2]))          # called on a list of tensors

`forward` takes the list xs and `backward` returns a list dxs, one per input (the tape
passes each to the layer call that made that input).

Broadcasting, as Keras's merge layers (keras/src/layers/merging/base_merge.py): sizes of 1
stretch, and an input with fewer axes gets new axes right after the batch axis, so
(N, 3) and (N, 2, 3) add as (N, 1, 3) + (N, 2, 3). Backward sums each gradient back to its
input's shape (`_sum_to_shape`).

Shapes: N rows in the batch; inputs (N, ...), the output (N, ...) after broadcasting.
"""
import numpy as np

from minidl.layers.base import Layer


def _describe_list(shapes):
    return "[" + ", ".join(str(tuple(s)) for s in shapes) + "]"


def _check_list(layer, shapes):
    """Keras's first check: a merge layer is called on a list of inputs."""
    if not isinstance(shapes, list) or not shapes or not isinstance(shapes[0], (tuple, list)):
        raise ValueError("A merge layer should be called on a list of inputs. "
                         f"Received: input_shape={shapes} (not a list of shapes)")


def _broadcast_shape(shape1, shape2):
    """The elementwise result shape of two sample shapes, aligned on the right (Keras's rule)."""
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    if not shape2:
        return tuple(shape1)
    result = list(shape1[:-len(shape2)])
    for i, j in zip(shape1[-len(shape2):], shape2):
        if i is None or j is None:
            result.append(None)
        elif i == 1 or j == 1:
            result.append(j if i == 1 else i)
        elif i != j:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes "
                             f"{tuple(shape1)} and {tuple(shape2)}")
        else:
            result.append(i)
    return tuple(result)


def _check_batch_sizes(xs):
    if len({x.shape[0] for x in xs}) > 1:
        raise ValueError("Cannot merge tensors with different batch sizes. Received tensors "
                         f"with shapes {_describe_list([x.shape for x in xs])}")


def _sum_to_shape(d, shape):
    """The gradient d of a broadcast result, summed back to an input of `shape`.

    Formula:
        expanded = (N,) + (1, ..., 1) + shape[1:]     # the input as it was broadcast
        dx = sum of d over every axis where expanded has size 1 and d does not
    """
    expanded = (shape[0],) + (1,) * (d.ndim - len(shape)) + tuple(shape[1:])
    axes = tuple(i for i, (n, m) in enumerate(zip(expanded, d.shape)) if n == 1 and m != 1)
    if axes:
        d = d.sum(axis=axes, keepdims=True)
    return d.reshape(shape)


class Merge(Layer):
    """Base of the elementwise merge layers: checks, broadcasting and the output shape."""

    supports_masking = True

    def compute_mask(self, inputs, mask):
        """A step is real if it is in any input; no mask if one input has none (Keras's
        base_merge.py)."""
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce(mask)  # (N,T)

    def check_input_shape(self, shape):
        _check_list(self, shape)
        self.compute_output_shape(shape)  # raises when the shapes cannot broadcast

    def compute_output_shape(self, input_shape):
        output = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            output = _broadcast_shape(output, tuple(shape[1:]))
        return (None,) + output

    def _same_rank(self, xs):
        """Each input with new axes after the batch axis until all have the most axes."""
        _check_batch_sizes(xs)
        ndim = max(x.ndim for x in xs)
        return [x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:]) for x in xs]


class Add(Merge):
    """The sum of the inputs: y = x0 + x1 + ...  Backward: every dx_i = dy."""

    def forward(self, xs, training=False):
        shapes, xs = [x.shape for x in xs], self._same_rank(xs)
        y = xs[0]
        for x in xs[1:]:
            y = y + x  # (N,...)
        return y, shapes

    def backward(self, dy, cache, need_dx=True):
        shapes = cache
        return [_sum_to_shape(dy, shape) for shape in shapes], {}


class Subtract(Merge):
    """The difference of exactly two inputs: y = x0 - x1.  Backward: dx0 = dy, dx1 = -dy."""

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        if len(shape) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={_describe_list(shape)}")

    def forward(self, xs, training=False):
        shapes, (x0, x1) = [x.shape for x in xs], self._same_rank(xs)
        return x0 - x1, shapes

    def backward(self, dy, cache, need_dx=True):
        shape0, shape1 = cache
        return [_sum_to_shape(dy, shape0), _sum_to_shape(-dy, shape1)], {}


class Multiply(Merge):
    """The elementwise product: y = x0 * x1 * ..., multiplied left to right.

    Backward (by the chain rule through each product, with no division, so zeros are fine):
        p_i = x0 * ... * x_i                       # the running products, kept from forward
        g = dy
        for i = last .. 1:  dx_i = g * p_(i-1);  g = g * x_i
        dx_0 = g
    """

    def forward(self, xs, training=False):
        shapes, xs = [x.shape for x in xs], self._same_rank(xs)
        products = [xs[0]]
        for x in xs[1:]:
            products.append(products[-1] * x)  # (N,...)
        return products[-1], (shapes, xs, products)

    def backward(self, dy, cache, need_dx=True):
        shapes, xs, products = cache
        ds, g = [None] * len(xs), dy
        for i in range(len(xs) - 1, 0, -1):
            ds[i] = g * products[i - 1]
            g = g * xs[i]
        ds[0] = g
        return [_sum_to_shape(d, shape) for d, shape in zip(ds, shapes)], {}


class Average(Merge):
    """The mean of the inputs: y = (x0 + x1 + ...) / n.  Backward: every dx_i = dy / n."""

    def forward(self, xs, training=False):
        shapes, xs = [x.shape for x in xs], self._same_rank(xs)
        total = xs[0]
        for x in xs[1:]:
            total = total + x  # (N,...)
        return total / len(xs), shapes

    def backward(self, dy, cache, need_dx=True):
        shapes = cache
        d = dy / len(shapes)
        return [_sum_to_shape(d, shape) for shape in shapes], {}


class Maximum(Merge):
    """The elementwise maximum, taken left to right: y = max(max(x0, x1), x2) ...

    Backward: each entry's gradient goes to the input that holds the maximum; on a tie, to
    the earlier one (TensorFlow's gradient of maximum(a, b) goes to a where a >= b).
    """

    pick = staticmethod(np.maximum)

    def _wins(self, x, best):
        """Where the new input x replaces the running best (strictly: ties keep the earlier)."""
        return x > best

    def forward(self, xs, training=False):
        shapes, xs = [x.shape for x in xs], self._same_rank(xs)
        best = [xs[0]]  # the running maximum after each input
        for x in xs[1:]:
            best.append(self.pick(best[-1], x))  # (N,...)
        return best[-1], (shapes, xs, best)

    def backward(self, dy, cache, need_dx=True):
        shapes, xs, best = cache
        ds, g = [None] * len(xs), dy
        for i in range(len(xs) - 1, 0, -1):
            wins = self._wins(xs[i], best[i - 1])  # (N,...)
            ds[i] = np.where(wins, g, 0)
            g = np.where(wins, 0, g)
        ds[0] = g
        return [_sum_to_shape(d, shape) for d, shape in zip(ds, shapes)], {}


class Minimum(Maximum):
    """The elementwise minimum, taken left to right; ties send the gradient to the earlier."""

    pick = staticmethod(np.minimum)

    def _wins(self, x, best):
        return x < best


class Concatenate(Layer):
    """Joins the inputs along `axis`; every other axis must match.

    Formula:
        y = concatenate([x0, x1, ...], axis)       # (N, ..., D0 + D1 + ..., ...)
    Backward: dy cut back into pieces of sizes D0, D1, ... along the axis.

    Args:
        axis: the axis to join along (default -1, the features).
    """

    supports_masking = True

    def compute_mask(self, inputs, mask):
        """Each input's mask spread over its shape (all True for an input without one),
        joined along `axis`, then any over the last axis (Keras's concatenate.py)."""
        if mask is None:
            return None
        spread = [np.ones(x.shape, bool) if m is None else
                  np.broadcast_to(m[..., None], x.shape) if m.ndim < x.ndim else m
                  for x, m in zip(inputs, mask)]
        return np.concatenate(spread, axis=self.axis).any(axis=-1)

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def check_input_shape(self, shape):
        if not isinstance(shape, list) or not shape or not isinstance(shape[0], (tuple, list)):
            raise ValueError("A `Concatenate` layer should be called on a list of at least 1 "
                             f"input. Received: input_shape={shape}")
        others = []  # each shape without the concatenation axis
        for s in shape:
            s = list(s)
            if -len(s) <= self.axis < len(s):
                del s[self.axis]
            others.append(s)
        same_rank = len({len(s) for s in others}) == 1
        if not same_rank or any(len({d for d in sizes if d is not None}) > 1
                                for sizes in zip(*others)):
            raise ValueError("A `Concatenate` layer requires inputs with matching shapes except "
                             "for the concatenation axis. "
                             f"Received: input_shape={_describe_list(shape)}")

    def compute_output_shape(self, input_shape):
        output = list(input_shape[0])
        for shape in input_shape[1:]:
            if output[self.axis] is None or shape[self.axis] is None:
                output[self.axis] = None
                break
            output[self.axis] += shape[self.axis]
        return tuple(output)

    def forward(self, xs, training=False):
        _check_batch_sizes(xs)
        sizes = [x.shape[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis), sizes

    def backward(self, dy, cache, need_dx=True):
        sizes = cache
        return np.split(dy, np.cumsum(sizes)[:-1], axis=self.axis), {}

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Layer):
    """Dot products of two inputs, sample by sample, along one axis of each (Keras's batch_dot).

    Formula (two (N,D) inputs, axes=1):
        y[n] = sum_d x1[n,d] * x2[n,d]                 # (N,D), (N,D) -> (N,1)
    In general, for each sample n, x1[n] and x2[n] are contracted over axes[0] and axes[1];
    the output has x1's other axes, then x2's (a lone batch axis becomes (N, 1)).
    With normalize=True each input is first divided by its L2 norm along its axis (the
    cosine similarity): u = x * min(1 / sqrt(sum x**2), 1e7).
    Backward: dx1 = dy contracted with x2 over x2's other axes, and the same for dx2.

    Args:
        axes: an int (the same axis of both inputs) or a pair (axis of x1, axis of x2).
        normalize: whether to L2-normalise both inputs along those axes first.
    """

    supports_masking = True

    def compute_mask(self, inputs, mask):
        return None  # Keras's Dot drops the mask without a warning

    def __init__(self, axes, normalize=False, **kwargs):
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError("Invalid type for argument `axes`: it should be a list or an "
                                f"int. Received: axes={axes}")
            if len(axes) != 2:
                raise ValueError("Invalid format for argument `axes`: it should contain two "
                                 f"elements. Received: axes={axes}")
            if not isinstance(axes[0], int) or not isinstance(axes[1], int):
                raise ValueError("Invalid format for argument `axes`: list elements should be "
                                 f"integers. Received: axes={axes}")
        super().__init__(**kwargs)
        self.axes, self.normalize = axes, normalize

    def _axes(self, ndim1, ndim2):
        """The two contracted axes as non-negative numbers."""
        if isinstance(self.axes, int):
            return (self.axes % ndim1, self.axes % ndim2) if self.axes < 0 else (self.axes,) * 2
        return self.axes[0] % ndim1, self.axes[1] % ndim2

    def check_input_shape(self, shape):
        if not isinstance(shape, list) or len(shape) != 2 or \
                not isinstance(shape[0], (tuple, list)):
            raise ValueError("A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={shape}")
        shape1, shape2 = shape
        axis1, axis2 = self._axes(len(shape1), len(shape2))
        if min(len(shape1), len(shape2)) < 2 or 0 in (axis1, axis2):
            raise ValueError("A `Dot` layer contracts one non-batch axis of inputs of rank 2 "
                             f"or more. Received: axes={self.axes}, input_shape={shape}")
        if shape1[axis1] != shape2[axis2]:
            raise ValueError(f"Incompatible input shapes: axis values {shape1[axis1]} (at axis "
                             f"{axis1}) != {shape2[axis2]} (at axis {axis2}). Full input "
                             f"shapes: {tuple(shape1)}, {tuple(shape2)}")

    def compute_output_shape(self, input_shape):
        shape1, shape2 = list(input_shape[0]), list(input_shape[1])
        axis1, axis2 = self._axes(len(shape1), len(shape2))
        output = shape1[:axis1] + shape1[axis1 + 1:] + shape2[1:axis2] + shape2[axis2 + 1:]
        return tuple(output + [1] if len(output) == 1 else output)

    def _subscripts(self, ndim1, ndim2):
        """einsum letters: "a" the batch, x2's contracted axis shares x1's letter."""
        axis1, axis2 = self._axes(ndim1, ndim2)
        letters = iter("bcdefghijklmnopqrstuvwxyz")
        s1 = ["a"] + [next(letters) for _ in range(ndim1 - 1)]
        s2 = ["a"] + [next(letters) for _ in range(ndim2 - 1)]
        s2[axis2] = s1[axis1]
        out = [c for c in s1 if c != s1[axis1]] + [c for c in s2[1:] if c != s1[axis1]]
        return "".join(s1), "".join(s2), "".join(out)

    def forward(self, xs, training=False):
        _check_batch_sizes(xs)
        x1, x2 = xs
        axis1, axis2 = self._axes(x1.ndim, x2.ndim)
        s1, s2, out = self._subscripts(x1.ndim, x2.ndim)
        u1, r1 = _l2_normalize(x1, axis1) if self.normalize else (x1, None)
        u2, r2 = _l2_normalize(x2, axis2) if self.normalize else (x2, None)
        y = np.einsum(f"{s1},{s2}->{out}", u1, u2)  # e.g. (N,D),(N,D) -> (N,)
        return (y[:, None] if y.ndim == 1 else y), (x1, x2, u1, u2, r1, r2)

    def backward(self, dy, cache, need_dx=True):
        x1, x2, u1, u2, r1, r2 = cache
        s1, s2, out = self._subscripts(x1.ndim, x2.ndim)
        dy = dy.reshape(dy.shape[:1]) if len(out) == 1 else dy  # (N,1) -> (N,)
        du1 = np.einsum(f"{out},{s2}->{s1}", dy, u2)  # (N,...) like x1
        du2 = np.einsum(f"{out},{s1}->{s2}", dy, u1)  # (N,...) like x2
        if not self.normalize:
            return [du1, du2], {}
        axis1, axis2 = self._axes(x1.ndim, x2.ndim)
        return [_l2_normalize_backward(du1, x1, r1, axis1),
                _l2_normalize_backward(du2, x2, r2, axis2)], {}

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    """u = x * r, r = min(1 / sqrt(sum x**2), 1 / 1e-7) along axis, as keras.ops.normalize."""
    with np.errstate(divide="ignore"):  # a zero vector: 1/0 = inf, then capped at 1e7
        r = np.minimum(1 / np.sqrt(np.square(x).sum(axis=axis, keepdims=True)), 1e7)
    return x * r, r


def _l2_normalize_backward(du, x, r, axis):
    """dx = r * du - x * r**3 * sum(du * x) where the norm is above 1e-7, else r * du."""
    unclamped = r < 1e7
    return r * du - x * (r**3 * (du * x).sum(axis=axis, keepdims=True) * unclamped)


# -- the functional forms: `layers.add([a, b])` is `layers.Add()([a, b])` (Keras's merging/*.py)
def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)
