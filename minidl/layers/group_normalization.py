"""GroupNormalization and UnitNormalization: statistics over groups of channels, and unit norms.

GroupNormalization splits the C channels into G groups of C/G and normalizes each group of each
sample over its channels and positions, as LayerNormalization does over a whole row:

    xhat = (x - mean) / sqrt(var + epsilon)        y = gamma * xhat + beta

G = 1 is LayerNormalization over every axis but the batch; G = C (groups=-1) is instance
normalization. The backward is normalization.py's `normalize_backward` on the grouped array.

UnitNormalization divides each sample by its L2 norm over `axis`: y = x / ||x||.

Shapes: N rows in the batch, C channels (the `axis` axis), G groups of K = C/G channels;
an image batch (N, H, W, C) is grouped as (N, H, W, G, K).
"""
import numpy as np

from minidl import constraints, regularizers
from minidl.layers.base import Layer
from minidl.layers.normalization import (_initializer, _serialize, check_channel_axis,
                                         normalize_backward)


class GroupNormalization(Layer):
    """Normalizes each group of channels of each sample with its own mean and variance.

    Formula (x grouped as (N,...,G,K); m, v over every axis but N and G, biased):
        m = mean(x),  v = mean((x - m)**2)   # (N,...,G,K) -> (N,1,...,G,1)
        xhat = (x - m) / sqrt(v + epsilon)   # (N,...,G,K)
        y = gamma * xhat + beta              # gamma, beta: (C,) seen as (G,K)
    Backward: dbeta = sum of dy over every axis but C; dgamma = the same sum of dy * xhat;
        dx = normalize_backward(dy * gamma, xhat, rstd)   (per sample and group)
    Keras (keras/src/layers/normalization/group_normalization.py) computes y as
    x * (rstd * gamma) + (beta - m * rstd * gamma): the same numbers to float32 rounding.

    Args:
        groups: the number of groups G (default 32); C must be a multiple of it.
            -1 takes G = C (instance normalization).
        axis: the channel axis (an integer, default -1).
        epsilon: added to the variance (1e-3).
        center, scale: whether to learn beta and gamma.
        beta_initializer, gamma_initializer: zeros and ones by default.
        beta_regularizer, gamma_regularizer: penalties on beta and gamma (regularizers.py).
        beta_constraint, gamma_constraint: projections after each optimizer step
            (constraints.py).
    """

    supports_masking = True  # a mask passes through unchanged, as in Keras

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        if not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(
                "Received an invalid value for argument `groups`, expected a positive integer "
                f"(or `-1` for instance normalization). Received: groups={groups}")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            # Keras's docstring allows a list, but its build indexes the shape with it
            raise TypeError(f"Argument `axis` of GroupNormalization must be an integer. "
                            f"Received: axis={axis!r}")
        initializers_ = _initializer(beta_initializer), _initializer(gamma_initializer)
        regularizers_ = regularizers.get(beta_regularizer), regularizers.get(gamma_regularizer)
        constraints_ = constraints.get(beta_constraint), constraints.get(gamma_constraint)
        super().__init__(**kwargs)
        self.groups, self.axis, self.epsilon = int(groups), int(axis), epsilon
        self.center, self.scale = center, scale
        self.beta_initializer, self.gamma_initializer = initializers_
        self.beta_regularizer, self.gamma_regularizer = regularizers_
        self.beta_constraint, self.gamma_constraint = constraints_
        self.gamma = self.beta = None

    def check_input_shape(self, shape):
        check_channel_axis(self, shape)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(
                f"Axis {self.axis} of input tensor should have a defined dimension but the "
                f"layer received an input with shape {tuple(input_shape)}.")
        if self.groups == -1:
            self.groups = channels  # as Keras: the config then says groups=C
        if channels < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the "
                             f"number of channels ({channels}).")
        if channels % self.groups != 0:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the "
                             f"number of channels ({channels}).")  # Keras's wording
        if self.scale:
            self.gamma = self.add_weight((channels,), self.gamma_initializer, "gamma",
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight((channels,), self.beta_initializer, "beta",
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def _grouping(self, x_shape):
        """The grouped shape (N,...,G,K), the axes each statistic runs over, the shape
        gamma broadcasts as, and the axes dgamma sums over (Keras's list arithmetic)."""
        grouped = list(x_shape)
        grouped[self.axis] = x_shape[self.axis] // self.groups  # K
        grouped.insert(self.axis, self.groups)  # G before K
        axes = list(range(1, len(grouped)))  # every axis but N ...
        axes.pop(-2 if self.axis == -1 else self.axis - 1)  # ... and G
        broadcast = [1] * len(x_shape)
        broadcast[self.axis] = x_shape[self.axis] // self.groups
        broadcast.insert(self.axis, self.groups)  # (1,...,G,K)
        channel_axes = [d for d in range(len(grouped)) if broadcast[d] == 1]
        return tuple(grouped), tuple(axes), tuple(broadcast), tuple(channel_axes)

    def forward(self, x, training=False):
        grouped, axes, broadcast, _ = self._grouping(x.shape)
        xg = x.reshape(grouped)  # (N,...,C) -> (N,...,G,K)
        mean = xg.mean(axis=axes, keepdims=True)  # (N,1,...,G,1)
        xc = xg - mean  # (N,...,G,K)
        var = (xc * xc).mean(axis=axes, keepdims=True)  # (N,1,...,G,1), biased
        rstd = 1.0 / np.sqrt(var + self.epsilon)  # (N,1,...,G,1)
        xhat = xc * rstd  # (N,...,G,K)
        y = xhat * self.gamma.value.reshape(broadcast) if self.scale else xhat  # (N,...,G,K)
        if self.center:
            y = y + self.beta.value.reshape(broadcast)  # (N,...,G,K) + (1,...,G,K)
        return y.reshape(x.shape), (xhat, rstd)  # (N,...,C)

    def backward(self, dy, cache, need_dx=True):
        xhat, rstd = cache
        _, axes, broadcast, channel_axes = self._grouping(dy.shape)
        dyg = dy.reshape(xhat.shape)  # (N,...,C) -> (N,...,G,K)
        grads = {}
        if self.scale:
            grads[self.gamma] = (dyg * xhat).sum(axis=channel_axes).reshape(-1)  # (C,)
        if self.center:
            grads[self.beta] = dyg.sum(axis=channel_axes).reshape(-1)  # (C,)
        if not need_dx:
            return None, grads
        dxhat = dyg * self.gamma.value.reshape(broadcast) if self.scale else dyg  # (N,...,G,K)
        dx = normalize_backward(dxhat, xhat, rstd, axes)  # (N,...,G,K)
        return dx.reshape(dy.shape), grads  # (N,...,C)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": self.beta_constraint,
                "gamma_constraint": self.gamma_constraint}


class UnitNormalization(Layer):
    """Divides each sample by its L2 norm over `axis`, so that it has norm 1 there.

    Formula (sums over `axis`):
        r = min(1 / sqrt(sum(x**2)), 1 / 1e-12)   # (N,D) -> (N,1)
        y = x * r                                 # (N,D)
    Backward (r unclipped; a clipped r is a constant, and then dx = dy * r):
        dx = r * (dy - y * sum(dy * y))           # (N,D)
    Keras (keras/src/ops/nn.py, normalize) clips 1/norm at 1/epsilon rather than adding
    epsilon: a zero row stays zero.

    Args:
        axis: the axis (or list of axes) to normalize over (default -1).
    """

    supports_masking = True
    EPSILON = 1e-12  # Keras's UnitNormalization passes epsilon=1e-12 to ops.normalize

    def __init__(self, axis=-1, **kwargs):
        if isinstance(axis, (list, tuple)):
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError("Invalid value for `axis` argument: expected an int or a "
                            f"list/tuple of ints. Received: axis={axis}")
        super().__init__(**kwargs)
        self.axis = axis

    def _axes(self):
        return tuple(self.axis) if isinstance(self.axis, list) else (self.axis,)

    def check_input_shape(self, shape):
        for axis in self._axes():
            if axis >= len(shape) or axis < -len(shape):
                raise ValueError(f"Axis {self.axis} is out of bounds for input shape "
                                 f"{tuple(shape)}.")

    def forward(self, x, training=False):
        square_sum = (x * x).sum(axis=self._axes(), keepdims=True)  # (N,D) -> (N,1)
        with np.errstate(divide="ignore"):  # a zero row: 1/0 = inf, clipped just below
            r = np.minimum(1.0 / np.sqrt(square_sum), 1.0 / self.EPSILON)  # (N,1)
        y = x * r  # (N,D)
        return y, (y, r, r < x.dtype.type(1.0 / self.EPSILON))

    def backward(self, dy, cache, need_dx=True):
        if not need_dx:
            return None, {}
        y, r, unclipped = cache
        through_norm = (dy * y).sum(axis=self._axes(), keepdims=True) * unclipped  # (N,1)
        return r * (dy - y * through_norm), {}  # (N,D)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
