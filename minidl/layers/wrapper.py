"""Wrapper, the base of layers that hold one other layer, and SpectralNormalization.

    Wrapper(layer)                        .layer, built on the wrapper's input shape
    TimeDistributed(Dense(8))             time_distributed.py: a Wrapper
    SpectralNormalization(Conv2D(64, 3))  the kernel divided by its largest singular value

SpectralNormalization (keras/src/layers/normalization/spectral_normalization.py) keeps the
Lipschitz constant of a layer near 1, which steadies a GAN's discriminator. Its order of
operations, in a training call (and only then):

    1. W2 = W.reshape(-1, K)                      # (R,K): K the kernel's last axis
    2. power iteration from the stored u (1,K):   v = normalize(u @ W2.T);  u = normalize(v @ W2)
    3. sigma = v @ W2 @ u.T                       # (1,1), ~ the largest singular value of W2
    4. W := W / sigma, u := u                     # both variables overwritten, in place
    5. y = layer(x)                               # the layer, with its new kernel

so the layer's own backward gives the kernel's gradient at W / sigma, and no gradient goes
through sigma or u (Keras stops it): the optimizer then steps from the normalized kernel.
At inference the layer runs with the kernel as the last training step left it. A kernel of
zeros is left as it is. normalize(a) = a * min(1 / sqrt(sum(a**2)), 1e7), Keras's
ops.normalize with its epsilon 1e-7.

Shapes: R rows (every kernel axis but the last, flattened), K the kernel's last axis.
"""
import numpy as np

from minidl import initializers
from minidl.layers.base import Layer


class Wrapper(Layer):
    """A layer that holds another one, `self.layer`, and builds it on its own input shape.

    Abstract, as Keras's: a subclass gives the maths (TimeDistributed, SpectralNormalization),
    or a `call()` built from `self.layer`.

    Args:
        layer: the layer to wrap (a minidl layer, or its config from a file).
    """

    def __init__(self, layer, **kwargs):
        if isinstance(layer, dict):  # a file's config holds the wrapped layer as a dict
            from minidl.saving.layer_config import layer_from_config  # saving imports layers

            layer = layer_from_config(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. "
                             "Please ensure wrapped layer is a valid Keras layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer._maybe_build(input_shape)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        from minidl.saving.layer_config import layer_to_config  # saving imports the layers

        return {**super().get_config(), "layer": layer_to_config(self.layer, self.dtype)}


def normalize(a):
    """a / ||a|| over every entry, as Keras's ops.normalize(a, axis=None): 1/||a|| clipped at
    1/epsilon (epsilon 1e-7), so zeros stay zeros."""
    with np.errstate(divide="ignore"):
        return a * np.minimum(1.0 / np.sqrt((a * a).sum()), 1e7)


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's kernel by its spectral norm (largest singular value) at
    every training call, estimated by power iteration from a stored vector u.

    Formula (training; W2 = kernel.reshape(R, K), u: (1,K), repeated power_iterations times):
        v = normalize(u @ W2.T)          # (1,K)@(K,R) -> (1,R)
        u = normalize(v @ W2)            # (1,R)@(R,K) -> (1,K)
        sigma = v @ W2 @ u.T             # (1,1)
        kernel := kernel / sigma;  vector_u := u;  y = layer(x)
    Backward: the wrapped layer's own (sigma and u are constants, as Keras's stop_gradient).

    Args:
        layer: a layer with a `kernel` (Dense, Conv2D, ...) or `embeddings` (Embedding).
        power_iterations: the number of power iterations per training call (default 1).
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if power_iterations <= 0:
            raise ValueError("`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations}`")
        self.power_iterations = power_iterations
        self.kernel = self.vector_u = None

    def check_input_shape(self, shape):
        if self.built and shape[-1] != self.input_shape[-1]:  # Keras's InputSpec(axes={-1:})
            raise ValueError(
                f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.input_shape[-1]}, but received "
                f"input with shape {tuple(shape)}")

    def build(self, input_shape):
        super().build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None:
            raise ValueError(f"{type(self.layer).__name__} object has no attribute 'kernel' "
                             "nor 'embeddings'")
        self.kernel = kernel
        # Keras tracks self.kernel as a weight of the wrapper too: its weights read kernel,
        # vector_u, then the wrapped layer's others (bias), and a file stores both here
        self._own_weights.append(kernel)
        self.vector_u = self.add_weight((1, kernel.shape[-1]),
                                        initializers.TruncatedNormal(stddev=0.02), "vector_u",
                                        trainable=False)

    def normalized_weights(self):
        """(u, kernel / sigma): the new values of vector_u and the kernel (Keras's names)."""
        W = self.kernel.value
        W2 = W.reshape(-1, W.shape[-1])  # (R,K)
        u = self.vector_u.value  # (1,K)
        for _ in range(self.power_iterations):
            v = normalize(u @ W2.T)  # (1,K)@(K,R) -> (1,R)
            u = normalize(v @ W2)  # (1,R)@(R,K) -> (1,K)
        sigma = (v @ W2) @ u.T  # (1,R)@(R,K)@(K,1) -> (1,1)
        return u, W / sigma  # (1,K), W's shape

    def forward(self, x, training=False):
        if training and np.any(self.kernel.value != 0):  # a kernel of zeros: left as it is
            u, kernel = self.normalized_weights()
            self.vector_u.assign(u)
            self.kernel.assign(kernel)
        return self.layer.forward(x, training=training)  # y, the layer's cache

    def backward(self, dy, cache, need_dx=True):
        return self.layer.backward(dy, cache, need_dx=need_dx)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
