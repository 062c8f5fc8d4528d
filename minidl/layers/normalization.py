"""BatchNormalization, LayerNormalization, RMSNormalization: values rescaled to size ~1.

BatchNormalization and LayerNormalization compute, over some axes of x, the mean and the
(biased) variance, and then

    xhat = (x - mean) / sqrt(var + epsilon)        y = gamma * xhat + beta

BatchNormalization takes the statistics over the batch (every axis but the channel axis) and
keeps moving averages of them for inference; LayerNormalization takes them over the features
of each row. Their backward passes share one formula, `normalize_backward`, written as in
llm.c's doc/layernorm/layernorm.py. RMSNormalization skips the mean and divides by the root
mean square instead: y = x / sqrt(mean(x**2) + epsilon) * scale.

Shapes: N rows in the batch, C channels (the axis that keeps its own gamma and beta); an image
batch is (N, H, W, C) and every (row, position) pair is one more value of its channel.
"""
import warnings

import numpy as np

from minidl import constraints, initializers, masks, naming, regularizers
from minidl.layers.base import Layer
from minidl.layers.core import check_rank


def normalize_backward(dxhat, xhat, rstd, axes):
    """dL/dx for xhat = (x - mean(x)) * rstd, rstd = 1 / sqrt(var(x) + eps), over `axes` of x.

    Formula (M values per statistic, sums and means over `axes`):
        dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    The first term is the direct path, the second comes through the mean, the third through
    the variance (d var / dx_i = 2 (x_i - mean) / M).
    """
    dxhat_mean = dxhat.mean(axis=axes, keepdims=True)  # (1,C)
    dxhat_xhat_mean = (dxhat * xhat).mean(axis=axes, keepdims=True)  # (N,C) -> (1,C)
    return (dxhat - dxhat_mean - xhat * dxhat_xhat_mean) * rstd  # (N,C) * (1,C) -> (N,C)


class BatchNormalization(Layer):
    """Normalizes each channel with the batch's statistics when training, moving averages otherwise.

    Formula (training; m, v over every axis but `axis`, the variance biased: divided by M):
        m = mean(x)                          # (N,C) -> (C,)
        v = mean((x - m)**2)                 # (N,C) -> (C,)
        xhat = (x - m) / sqrt(v + epsilon)   # (N,C)
        y = gamma * xhat + beta              # (N,C)
        moving_mean     = moving_mean * momentum + m * (1 - momentum)
        moving_variance = moving_variance * momentum + v * (1 - momentum)
    Inference: the same with m, v = moving_mean, moving_variance, nothing updated.
    Backward (training): dbeta = sum(dy); dgamma = sum(dy * xhat);
        dx = normalize_backward(dy * gamma, xhat, rstd)   (through m and v too).
    Keras (keras/src/layers/normalization/batch_normalization.py) updates the moving averages
    in every call with training=True, also outside fit; a layer with trainable=False always
    uses them, as here. Its moving variance is the biased batch variance too.

    Args:
        axis: the channel axis (default -1, the last).
        momentum: of the moving averages (0.99).
        epsilon: added to the variance (1e-3).
        center, scale: whether to learn beta and gamma.
        beta_initializer, gamma_initializer, moving_mean_initializer,
            moving_variance_initializer: zeros, ones, zeros, ones by default.
        beta_regularizer, gamma_regularizer: penalties on beta and gamma (regularizers.py).
        beta_constraint, gamma_constraint: projections after each optimizer step
            (constraints.py), e.g. "non_neg" on gamma.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        _check_int("axis", axis)
        _check_unsupported(renorm=renorm, synchronized=synchronized)
        initializers_ = [_initializer(i) for i in (beta_initializer, gamma_initializer,
                                                   moving_mean_initializer,
                                                   moving_variance_initializer)]
        beta_regularizer = regularizers.get(beta_regularizer)
        gamma_regularizer = regularizers.get(gamma_regularizer)
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        (self.beta_initializer, self.gamma_initializer, self.moving_mean_initializer,
         self.moving_variance_initializer) = initializers_
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.renorm_clipping, self.renorm_momentum = renorm_clipping, renorm_momentum
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def check_input_shape(self, shape):
        check_channel_axis(self, shape)

    def build(self, input_shape):
        shape = (_known_size(self, input_shape, self.axis),)  # (C,)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, "gamma",
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, "beta",
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, "moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               "moving_variance", trainable=False)

    def _axes_and_shape(self, ndim):
        """The axes the statistics run over, and the shape (C,) broadcasts as: (1,C,1,1)..."""
        axis = self.axis % ndim
        shape = [1] * ndim
        shape[axis] = -1
        return tuple(d for d in range(ndim) if d != axis), tuple(shape)

    supports_masking = True  # at inference a mask passes through, as in Keras

    def forward(self, x, training=False, mask=None):
        axes, shape = self._axes_and_shape(x.ndim)
        batch_statistics = bool(training) and self.trainable
        if mask is not None and batch_statistics:
            raise masks.refuse(self, mask, "BatchNormalization computes the batch's mean and "
                               "variance over the unmasked steps only when training")
        if batch_statistics:
            mean = x.mean(axis=axes, keepdims=True)  # (N,C) -> (1,C)
            xc = x - mean  # (N,C)
            var = (xc * xc).mean(axis=axes, keepdims=True)  # (N,C) -> (1,C), biased
            self._update_moving_averages(mean.reshape(-1), var.reshape(-1))
        else:
            mean = self.moving_mean.value.reshape(shape)  # (C,) -> (1,C)
            var = self.moving_variance.value.reshape(shape)  # (C,) -> (1,C)
            xc = x - mean  # (N,C)
        rstd = 1.0 / np.sqrt(var + self.epsilon)  # (1,C)
        xhat = xc * rstd  # (N,C) * (1,C) -> (N,C)
        y = xhat * self.gamma.value.reshape(shape) if self.scale else xhat  # (N,C)
        if self.center:
            y = y + self.beta.value.reshape(shape)  # (N,C) + (1,C)
        return y, (xhat, rstd, batch_statistics)

    def _update_moving_averages(self, mean, var):
        """moving = moving * momentum + batch * (1 - momentum), in place (float32 constants)."""
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean.value * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance.value * momentum + var * (1.0 - momentum))

    def backward(self, dy, cache, need_dx=True):
        xhat, rstd, batch_statistics = cache
        axes, shape = self._axes_and_shape(dy.ndim)
        grads = {}
        if self.trainable and self.scale:
            grads[self.gamma] = (dy * xhat).sum(axis=axes)  # dgamma: (N,C) -> (C,)
        if self.trainable and self.center:
            grads[self.beta] = dy.sum(axis=axes)  # dbeta: (N,C) -> (C,)
        if not need_dx:
            return None, grads
        dxhat = dy * self.gamma.value.reshape(shape) if self.scale else dy  # (N,C)
        if batch_statistics:  # m and v depend on x: the full formula
            return normalize_backward(dxhat, xhat, rstd, axes), grads  # (N,C)
        return dxhat * rstd, grads  # moving averages are constants: (N,C) * (1,C)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "moving_mean_initializer": _serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": self.beta_constraint,
                "gamma_constraint": self.gamma_constraint, "synchronized": False,
                "renorm": False, "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(Layer):
    """Normalizes each row over its features (the `axis` axes), with learned gamma and beta.

    Formula (m, v over `axis` of each row, biased; the same in training and inference):
        m = mean(x),  v = mean((x - m)**2)   # (N,D) -> (N,1)
        xhat = (x - m) / sqrt(v + epsilon)   # (N,D)
        y = gamma * xhat + beta              # (N,D);  gamma, beta: (D,)
    Backward: dbeta = sum over rows of dy; dgamma = sum over rows of dy * xhat;
        dx = normalize_backward(dy * gamma, xhat, rstd)
    rms_scaling=True (deprecated in Keras, which warns): x is not centred and there is no
    beta, but the variance still is the centred one (keras/src/ops/nn.py,
    _layer_normalization): y = x * rstd * gamma, and then with u = dy * gamma, xr = x * rstd,
        dgamma = sum over rows of dy * xr;  dx = rstd * (u - xhat * mean(u * xr))

    Args:
        axis: the axis (or list of axes) to normalize over (default -1).
        epsilon: added to the variance (1e-3).
        center, scale: whether to learn beta and gamma.
        rms_scaling: Keras's deprecated y = x / sqrt(var(x) + epsilon) * gamma (gamma even
            with scale=False, no beta); RMSNormalization is the real RMS norm.
        beta_initializer, gamma_initializer: zeros and ones by default.
        beta_regularizer, gamma_regularizer: penalties on beta and gamma.
        beta_constraint, gamma_constraint: projections after each optimizer step
            (constraints.py).
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        if isinstance(axis, (list, tuple)):
            for a in axis:
                _check_int("axis", a)
            axis = list(axis)
        elif isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError("Expected an int or a list/tuple of ints for the argument 'axis', "
                            f"but received: {axis!r}")
        rms_scaling = bool(rms_scaling)
        if rms_scaling:  # Keras's warning, word for word
            warnings.warn(
                "You passed `rms_scaling=True`, which is deprecated. This argument incorrectly "
                "scales the input by the variance, not the root mean square. To correctly use "
                "RMS Normalization, please use `keras.layers.RMSNormalization` instead.",
                stacklevel=2)
        initializers_ = _initializer(beta_initializer), _initializer(gamma_initializer)
        regularizers_ = regularizers.get(beta_regularizer), regularizers.get(gamma_regularizer)
        super().__init__(**kwargs)
        self.axis, self.epsilon, self.center, self.scale = axis, epsilon, center, scale
        self.rms_scaling = rms_scaling
        self.beta_initializer, self.gamma_initializer = initializers_
        self.beta_regularizer, self.gamma_regularizer = regularizers_
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = None

    def _axes(self):
        return self.axis if isinstance(self.axis, list) else [self.axis]

    def check_input_shape(self, shape):
        _check_axes(self, shape, self._axes())
        if self.built:
            _check_sizes_on_axes(self, shape)

    def build(self, input_shape):
        self.axis = sorted(self._axes())  # as Keras: a sorted list from here on
        shape = tuple(_known_size(self, input_shape, a) for a in self.axis)  # (D,)
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape, self.gamma_initializer, "gamma",
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape, self.beta_initializer, "beta",
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def _axes_and_shape(self, x_shape):
        """The normalized axes, the others, and the shape gamma broadcasts as."""
        ndim = len(x_shape)
        axes = tuple(a % ndim for a in self.axis)
        shape = tuple(x_shape[d] if d in axes else 1 for d in range(ndim))
        return axes, tuple(d for d in range(ndim) if d not in axes), shape

    def forward(self, x, training=False):
        axes, _, shape = self._axes_and_shape(x.shape)
        mean = x.mean(axis=axes, keepdims=True)  # (N,D) -> (N,1)
        xc = x - mean  # (N,D)
        var = (xc * xc).mean(axis=axes, keepdims=True)  # (N,D) -> (N,1), biased
        rstd = 1.0 / np.sqrt(var + self.epsilon)  # (N,1)
        xhat = xc * rstd  # (N,D)
        if self.rms_scaling:  # x scaled, not centred: y = x * rstd * gamma
            xr = x * rstd  # (N,D)
            return xr * self.gamma.value.reshape(shape), (xhat, rstd, xr)  # (N,D) * (1,D)
        y = xhat * self.gamma.value.reshape(shape) if self.scale else xhat  # (N,D) * (1,D)
        if self.center:
            y = y + self.beta.value.reshape(shape)  # (N,D) + (1,D)
        return y, (xhat, rstd)

    def backward(self, dy, cache, need_dx=True):
        if self.rms_scaling:
            return self._rms_scaling_backward(dy, cache, need_dx)
        xhat, rstd = cache
        axes, rows, shape = self._axes_and_shape(dy.shape)
        grads = {}
        if self.scale:
            grads[self.gamma] = (dy * xhat).sum(axis=rows).reshape(self.gamma.shape)  # (D,)
        if self.center:
            grads[self.beta] = dy.sum(axis=rows).reshape(self.beta.shape)  # (N,D) -> (D,)
        if not need_dx:
            return None, grads
        dxhat = dy * self.gamma.value.reshape(shape) if self.scale else dy  # (N,D)
        return normalize_backward(dxhat, xhat, rstd, axes), grads  # (N,D)

    def _rms_scaling_backward(self, dy, cache, need_dx):
        """y = x * rstd * gamma, rstd through the centred variance: d rstd / dx_i is
        -rstd**3 * (x_i - m) / M, so dx = rstd * (u - xhat * mean(u * xr)), u = dy * gamma."""
        xhat, rstd, xr = cache
        axes, rows, shape = self._axes_and_shape(dy.shape)
        grads = {self.gamma: (dy * xr).sum(axis=rows).reshape(self.gamma.shape)}  # (D,)
        if not need_dx:
            return None, grads
        u = dy * self.gamma.value.reshape(shape)  # (N,D)
        return rstd * (u - xhat * (u * xr).mean(axis=axes, keepdims=True)), grads  # (N,D)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": self.beta_constraint,
                "gamma_constraint": self.gamma_constraint}


class RMSNormalization(Layer):
    """Divides each row by its root mean square over the `axis` axes, then scales it.

    Formula (the mean over `axis` of each row; no centring, no beta):
        r = 1 / sqrt(mean(x**2) + epsilon)   # (N,D) -> (N,1)
        xr = x * r                           # (N,D)
        y = xr * scale                       # (N,D);  scale: (D,)
    Backward (d r / dx_i = -r**3 * x_i / M), with u = dy * scale:
        dscale = sum over rows of dy * xr
        dx = r * (u - xr * mean(u * xr))     # (N,D)
    Keras (keras/src/ops/nn.py, _rms_normalization) multiplies by `scale` without reshaping
    it, so only trailing axes broadcast right; minidl refuses the others by name.

    Args:
        axis: the axis (or list of axes) to normalize over (default -1); the last axes.
        epsilon: added to the mean square (1e-6).
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        if isinstance(axis, (list, tuple)):
            for a in axis:
                _check_int("axis", a)
            axis = list(axis)
        else:
            _check_int("axis", axis)
        super().__init__(**kwargs)
        self.axis, self.epsilon = axis, epsilon
        self.scale = None

    def _axes(self):
        return self.axis if isinstance(self.axis, list) else [self.axis]

    def check_input_shape(self, shape):
        _check_axes(self, shape, self._axes())
        axes = sorted(a % len(shape) for a in self._axes())
        if axes != list(range(len(shape) - len(axes), len(shape))):
            raise ValueError(
                "RMSNormalization multiplies by `scale` as Keras's does, which broadcasts "
                "along the last axes only: `axis` must name the last axis or the last few "
                f"(such as -1 or [-2, -1]). Received: axis={self.axis} for input shape "
                f"{tuple(shape)}")
        if self.built:
            _check_sizes_on_axes(self, shape)

    def build(self, input_shape):
        self.axis = sorted(self._axes())  # as Keras: a sorted list from here on
        shape = tuple(_known_size(self, input_shape, a) for a in self.axis)  # (D,)
        self.scale = self.add_weight(shape, "ones", "scale")

    def forward(self, x, training=False):
        axes = tuple(a % x.ndim for a in self.axis)
        r = 1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + self.epsilon)  # (N,1)
        xr = x * r  # (N,D)
        return xr * self.scale.value, (xr, r)  # (N,D) * (D,)

    def backward(self, dy, cache, need_dx=True):
        xr, r = cache
        axes = tuple(a % dy.ndim for a in self.axis)
        rows = tuple(range(dy.ndim - len(axes)))
        grads = {self.scale: (dy * xr).sum(axis=rows)}  # (N,D) -> (D,)
        if not need_dx:
            return None, grads
        u = dy * self.scale.value  # (N,D)
        return r * (u - xr * (u * xr).mean(axis=axes, keepdims=True)), grads  # (N,D)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


# -- argument checks and configs ------------------------------------------------------------------
def check_channel_axis(layer, shape):
    """The input has `layer.axis`, and once built, the rank and size along it it was built for
    (Keras's InputSpec check for the normalization layers with one channel axis)."""
    _check_axes(layer, shape, [layer.axis])
    if layer.built:
        check_rank(layer, shape, ndim=len(layer.input_shape))
        expected = layer.input_shape[layer.axis]
        if shape[layer.axis] != expected:
            raise ValueError(
                f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected "
                f"axis {layer.axis} of input shape to have value {expected}, but received "
                f"input with shape {tuple(shape)}")


def _check_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Argument `{name}` must be an integer. Received: {name}={value!r}")


def _check_unsupported(**options):
    """Options minidl does not implement, accepted only with their 'off' value."""
    for name, value in options.items():
        if value not in (None, False):
            raise ValueError(f"minidl does not implement `{name}`: it must be "
                             "False. "
                             f"Received: {name}={value!r}")


def _check_axes(layer, shape, axes):
    """Keras's error for an axis outside the input's rank."""
    for axis in axes:
        if not -len(shape) <= axis < len(shape):
            raise ValueError(f"Axis {axis} is out of bounds for input shape {tuple(shape)}. "
                             f"Received: axis={layer.axis}")


def _check_sizes_on_axes(layer, shape):
    """A built layer normalising over `layer.axis` takes inputs of the same sizes there."""
    expected = tuple(layer.input_shape[a] for a in layer.axis)
    if tuple(shape[a] for a in layer.axis) != expected:
        raise ValueError(
            f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected "
            f"axes {layer.axis} of input shape to have sizes {expected}, but received "
            f"input with shape {tuple(shape)}")


def _known_size(layer, shape, axis):
    if shape[axis] is None:
        raise ValueError(f"Layer \"{layer.name}\" needs a known size along axis {axis} to "
                         f"create its weights. Received input shape {tuple(shape)}")
    return int(shape[axis])


def _initializer(identifier):
    """A name, an initializer, or Keras's config dict {"class_name": "Ones", "config": {}}."""
    if isinstance(identifier, dict):
        initializer = initializers.get(naming.to_snake_case(identifier["class_name"]))
        config = {k: v for k, v in identifier.get("config", {}).items() if k != "seed"}
        return type(initializer)(**config) if config else initializer
    return initializers.get(identifier)


def _serialize(initializer):
    """Keras's config form of an initializer; a plain function is left as it is."""
    if isinstance(initializer, initializers.Initializer):
        return {"module": "keras.initializers", "class_name": type(initializer).__name__,
                "config": initializer.get_config(), "registered_name": None}
    return initializer
