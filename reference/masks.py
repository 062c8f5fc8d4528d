"""Keras running on the dropout masks minidl drew, so that lockstep runs work with Dropout.

Keras draws its masks from TensorFlow's Philox generator, which NumPy cannot reproduce. So,
while `shared_noise(model, keras_model)` is open:

- each of minidl's noise layers (Dropout, SpatialDropout1D/2D, GaussianNoise,
  GaussianDropout: minidl/layers/regularization.py) also puts every array it draws
  (`draw_noise`: a keep mask, or the noise) on a queue of its own;
- its Keras twin, the layer of the same name, becomes a Replay subclass of its own Keras
  class, whose `call`, when training, takes the next array off that queue instead of drawing
  one, and uses it as Keras uses its own: where(keep, x * scale, 0), x + noise, x * noise.

    with shared_noise(model, twin):
        model.train_on_batch(x, y)        # minidl first: it draws and queues the masks
        twin.train_on_batch(x, y)         # Keras replays them

minidl must therefore run each training step before Keras (lockstep.py and divergence.py do).
The arrays cross into TensorFlow through `tf.numpy_function`, which runs at every step of a
traced train function, not only while tracing. On exit the minidl layers stop recording and
the Keras layers get their own classes back (and Keras retraces its train function).
"""
import collections
import contextlib

import tensorflow as tf

import keras
from minidl.layers.regularization import NoiseLayer


class _Queue:
    """The arrays one minidl layer drew, oldest first; called by TensorFlow to take the next."""

    def __init__(self, name):
        self.name, self.arrays = name, collections.deque()

    def __call__(self):
        if not self.arrays:
            raise ValueError(
                f"Keras layer '{self.name}' has no minidl mask to replay: run each training "
                "step in minidl first, then in Keras, inside reference.masks.shared_noise().")
        return self.arrays.popleft()


def _replayed(layer, inputs, dtype):
    """The next array minidl drew for this layer, as a tensor of inputs' rank."""
    noise = tf.numpy_function(layer._minidl_queue, [], dtype, stateful=True)
    noise.set_shape([None] * len(inputs.shape))
    return noise


class _ReplayDropoutCall:
    """Keras's dropout (tensorflow/python/ops/nn_ops.py::_dropout) on minidl's keep mask."""

    def call(self, inputs, training=False):
        if not training or self.rate in (0, 1):  # Keras draws nothing then; neither does minidl
            return super().call(inputs, training=training)
        keep = _replayed(self, inputs, tf.bool)  # (N,D) bools
        scale = tf.constant(1.0 / (1.0 - self.rate), inputs.dtype)  # rounded once, as TF
        return tf.where(keep, inputs * scale, tf.zeros((), inputs.dtype))


class ReplayDropout(_ReplayDropoutCall, keras.layers.Dropout):
    """keras.layers.Dropout on the masks minidl drew."""


class ReplaySpatialDropout1D(_ReplayDropoutCall, keras.layers.SpatialDropout1D):
    """keras.layers.SpatialDropout1D on the masks minidl drew."""


class ReplaySpatialDropout2D(_ReplayDropoutCall, keras.layers.SpatialDropout2D):
    """keras.layers.SpatialDropout2D on the masks minidl drew."""


class ReplayGaussianNoise(keras.layers.GaussianNoise):
    """keras.layers.GaussianNoise adding the noise minidl drew."""

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return super().call(inputs, training=training)
        return inputs + _replayed(self, inputs, inputs.dtype)


class ReplayGaussianDropout(keras.layers.GaussianDropout):
    """keras.layers.GaussianDropout multiplying by the noise minidl drew."""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return super().call(inputs, training=training)
        return inputs * _replayed(self, inputs, inputs.dtype)


REPLAY_CLASSES = {
    keras.layers.Dropout: ReplayDropout,
    keras.layers.SpatialDropout1D: ReplaySpatialDropout1D,
    keras.layers.SpatialDropout2D: ReplaySpatialDropout2D,
    keras.layers.GaussianNoise: ReplayGaussianNoise,
    keras.layers.GaussianDropout: ReplayGaussianDropout,
}


def _noise_layers(model):
    """minidl's noise layers in a model, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, NoiseLayer):
            found.append(layer)
        elif layer.layers:
            found += _noise_layers(layer)
    return found


def _keras_partner(keras_model, layer):
    """The Keras layer named as the minidl one, checked to be of the same kind."""
    try:
        partner = keras_model.get_layer(layer.name)
    except ValueError:
        raise ValueError(f"The Keras model has no layer named '{layer.name}' to replay the "
                         f"masks of minidl's {type(layer).__name__} layer.") from None
    kind = next((k for k, replay in REPLAY_CLASSES.items() if type(partner) in (k, replay)),
                None)
    names = [k.__name__ for k in REPLAY_CLASSES]
    wanted = next(c.__name__ for c in type(layer).__mro__ if c.__name__ in names)  # a subclass too
    if kind is None or kind.__name__ != wanted:
        raise ValueError(f"Keras layer '{layer.name}' is a {type(partner).__name__}; it must be "
                         f"a keras.layers.{wanted} to replay minidl's masks.")
    return partner, kind


@contextlib.contextmanager
def shared_noise(model, keras_model):
    """While open, the Keras twin's Dropout-like layers use the masks minidl's layers drew.

    Args:
        model: a minidl model; its noise layers record what they draw.
        keras_model: its Keras twin, with layers of the same names and kinds.
    """
    pairs = [(layer, *_keras_partner(keras_model, layer)) for layer in _noise_layers(model)]
    classes = [type(partner) for _, partner, _ in pairs]
    try:
        for layer, partner, kind in pairs:
            queue = _Queue(partner.name)
            layer.draw_noise = _recording(layer.draw_noise, queue)  # shadows the method
            partner.__class__ = REPLAY_CLASSES[kind]
            object.__setattr__(partner, "_minidl_queue", queue)
        if pairs:
            keras_model.train_function = None  # retraced with the replaying layers
        yield
    finally:
        for (layer, partner, _), original in zip(pairs, classes):
            layer.__dict__.pop("draw_noise", None)
            partner.__class__ = original
        if pairs:
            keras_model.train_function = None  # and back with Keras's own


def _recording(draw_noise, queue):
    """draw_noise that also hands each array it returns to the queue."""
    def recording_draw_noise(shape, dtype):
        noise = draw_noise(shape, dtype)
        queue.arrays.append(noise)
        return noise
    return recording_draw_noise
