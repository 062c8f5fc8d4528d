"""Activation layers: Softmax, ReLU, LeakyReLU, ELU and PReLU, as keras.layers has them.

Each is an activation function with settings (an axis, a slope, a cap) and its backward;
the maths is in activations.py and more_activations.py. PReLU alone has a weight: its
slope alpha is learned.

Shapes: any (N, ...) input; the output has the input's shape.
"""
import warnings

import numpy as np

from minidl import activations, constraints, initializers, masks, regularizers
from minidl.layers.base import Layer
from minidl.layers.core import check_rank


class Softmax(Layer):
    """Softmax along an axis: a_i = exp(z_i) / sum_j exp(z_j).

    Like Keras's Softmax layer (which goes through keras.activations.softmax and leaves
    `_keras_logits` on its output), a Softmax on one axis is the model output a
    cross-entropy works from the logits of: it sets `self.activation = activations.softmax`
    and hands the output head its input z (`logits`). Keras does this whatever the axis,
    while its cross-entropy always reduces the last axis; minidl does the same.

    Args:
        axis: the axis (an int), or a list of axes, to normalise over.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis  # kept as given, for get_config
        if isinstance(axis, (list, tuple)):
            self._axes = int(axis[0]) if len(axis) == 1 else tuple(int(a) for a in axis)
        else:
            self._axes = int(axis)
        # Several axes: Keras computes exp(z - logsumexp(z)) and leaves no logits.
        self.activation = activations.softmax if isinstance(self._axes, int) else None

    supports_masking = True

    def compute_mask(self, inputs, mask):
        if mask is None:
            return None
        raise masks.refuse(self, mask, "Softmax gives masked positions a large negative "
                           "logit (and errors on a (N,T) mask of (N,T,C) inputs)")

    def forward(self, z, training=False):
        if self.activation is not None:
            a = activations.softmax(z, axis=self._axes)
        else:
            top = z.max(axis=self._axes, keepdims=True)
            log_sum = top + np.log(np.exp(z - top).sum(axis=self._axes, keepdims=True))
            a = np.exp(z - log_sum)  # = exp(z) / sum(exp(z)) over the axes
        return a, (z, a)

    def backward(self, da, cache, need_dx=True):
        z, a = cache
        return activations.softmax_backward(da, z, a, axis=self._axes), {}

    def backward_from_logits(self, dz, cache, need_dx=True):
        return dz, {}  # z is this layer's input: nothing left to do

    def logits(self, cache):
        return cache[0]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class ReLU(Layer):
    """Rectified linear unit with a cap, a threshold and a slope below it (Keras's ReLU).

    Formula:
        f(z) = max_value                          z >= max_value
        f(z) = z                                  threshold < z < max_value
        f(z) = negative_slope * (z - threshold)   z <= threshold
    computed as keras.activations.relu does: where(z > threshold, z, 0), capped at
    max_value, minus negative_slope * relu(threshold - z).

    Args:
        max_value: the largest output (a float >= 0), or None for no cap.
        negative_slope: the slope below the threshold (a float >= 0).
        threshold: the input below which the unit is off (a float >= 0).
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if max_value is not None and max_value < 0.0:
            raise ValueError("max_value of a ReLU layer cannot be a negative value. "
                             f"Received: max_value={max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError("negative_slope of a ReLU layer cannot be None or a negative "
                             f"value. Received: negative_slope={negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError("threshold of a ReLU layer cannot be None or a negative value. "
                             f"Received: threshold={threshold}")
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def _is_leaky_relu(self):
        """No cap and no threshold: Keras calls leaky_relu (or plain relu without a slope)."""
        return self.max_value is None and self.threshold == 0

    def forward(self, z, training=False):
        if self._is_leaky_relu():
            a = (activations.relu(z) if self.negative_slope == 0
                 else activations.leaky_relu(z, self.negative_slope))
            return a, z
        a = np.where(z > self.threshold, z, 0)  # (N,...)
        if self.max_value is not None:
            a = np.minimum(a, self.max_value)
        if self.negative_slope != 0:
            a = a - self.negative_slope * activations.relu(self.threshold - z)
        return a, z

    def backward(self, da, cache, need_dx=True):
        z = cache
        if self._is_leaky_relu():
            if self.negative_slope == 0:
                return activations.relu_backward(da, z, None), {}
            return activations.leaky_relu_backward(da, z, None, self.negative_slope), {}
        on = z > self.threshold  # (N,...) where the unit passes z through
        if self.max_value is not None:
            # Keras uses tf.nn.relu6 when max_value == 6 and there is no threshold (its
            # gradient is 0 at z = 6), and otherwise clips (gradient 1 at z = max_value).
            relu6 = self.max_value == 6 and self.threshold == 0
            on &= (z < self.max_value) if relu6 else (z <= self.max_value)
        dz = da * on
        if self.negative_slope != 0:
            dz = dz + da * self.negative_slope * (z < self.threshold)
        return dz, {}

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky relu: f(z) = z where z > 0, else negative_slope * z.

    Args:
        negative_slope: the slope left of 0 (a float >= 0). The layer's default, 0.3,
            differs from the leaky_relu activation's 0.2, as in Keras. Keras 2's name for
            it, `alpha`, still works, with a warning.
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None "
                             "or negative value. Expected a float. "
                             f"Received: negative_slope={negative_slope}")
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def forward(self, z, training=False):
        return activations.leaky_relu(z, self.negative_slope), z

    def backward(self, da, cache, need_dx=True):
        return activations.leaky_relu_backward(da, cache, None, self.negative_slope), {}

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """Exponential linear unit: f(z) = z where z > 0, else alpha * (exp(z) - 1).

    Args:
        alpha: the scale of the negative part (Keras does not check it).
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def forward(self, z, training=False):
        a = activations.elu(z, self.alpha)
        return a, (z, a)

    def backward(self, da, cache, need_dx=True):
        z, a = cache
        return activations.elu_backward(da, z, a, self.alpha), {}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Parametric relu: a leaky relu whose slopes alpha are weights, learned with the rest.

    Formula (alpha has the sample's shape, with 1 on each shared axis, and broadcasts):
        a = relu(z) - alpha * relu(-z)             # = z where z > 0, else alpha * z
    Backward:
        dz = da where z > 0, else alpha * da
        dalpha = sum over the batch (and the shared axes) of -relu(-z) * da

    Args:
        alpha_initializer: the initial slopes (default zeros: PReLU starts as a relu).
        alpha_regularizer: a penalty on alpha, such as regularizers.l2(0.01).
        alpha_constraint: a projection of alpha after each optimizer step, e.g. "non_neg"
            (constraints.py).
        shared_axes: axes (counted with the batch axis as 0) along which one slope is
            shared, e.g. [1, 2] for one slope per channel of an image.
    """

    supports_masking = True  # a mask passes through unchanged (masks.py), as in Keras

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) \
                else [shared_axes]
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            shape[axis - 1] = 1
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, "alpha",
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)

    def check_input_shape(self, shape):
        """Once built, Keras's InputSpec: the same rank, and the same size on unshared axes."""
        if not self.built:
            return
        check_rank(self, shape, ndim=len(self.input_shape))
        for axis in range(1, len(shape)):
            expected = self.input_shape[axis]
            if axis not in (self.shared_axes or []) and shape[axis] != expected:
                raise ValueError(
                    f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                    f"expected axis {axis} of input shape to have value {expected}, but "
                    f"received input with shape {tuple(shape)}")

    def forward(self, z, training=False):
        a = activations.relu(z) - self.alpha.value * activations.relu(-z)  # (N,...)
        return a, z

    def backward(self, da, cache, need_dx=True):
        z = cache
        alpha = self.alpha.value
        dalpha = -activations.relu(-z) * da  # (N,...), then summed to alpha's shape:
        shared = (0,) + tuple(i for i in range(1, z.ndim) if alpha.shape[i - 1] == 1)
        dalpha = dalpha.sum(axis=shared, keepdims=True).reshape(alpha.shape)
        dz = np.where(z > 0, da, 0) + alpha * da * (z < 0) if need_dx else None
        return dz, {self.alpha: dalpha}

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": self.alpha_constraint, "shared_axes": self.shared_axes}
