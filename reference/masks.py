"""Keras running on the dropout masks minidl drew, so that lockstep runs work with Dropout.

Keras draws its masks from TensorFlow's Philox generator, which NumPy cannot reproduce. So,
while `shared_noise(model, keras_model)` is open:

- each of minidl's noise layers (Dropout, AlphaDropout, SpatialDropout1D/2D/3D, GaussianNoise,
  GaussianDropout: minidl/layers/regularization.py) also puts every array it draws
  (`draw_noise`: a keep mask, or the noise) on a queue of its own;
- its Keras twin, the layer of the same name, becomes a Replay subclass of its own Keras
  class, whose `call`, when training, takes the next array off that queue instead of drawing
  one, and uses it as Keras uses its own: where(keep, x * scale, 0), x + noise, x * noise.

    with shared_noise(model, twin):
        model.train_on_batch(x, y)        # minidl first: it draws and queues the masks
        twin.train_on_batch(x, y)         # Keras replays them

MultiHeadAttention's dropout on the attention weights is a Dropout sublayer in both
(`_dropout_layer`): they pair up as above. Attention and AdditiveAttention drop their weights
with a Dropout sublayer in minidl and with backend.random.dropout inside Keras's
`_apply_scores`: the Keras layer becomes ReplayAttention (ReplayAdditiveAttention), whose
`_apply_scores` replays minidl's mask on the softmax's weights.

Recurrent layers (SimpleRNN, LSTM, GRU, alone or inside Bidirectional) with dropout or
recurrent_dropout replay theirs the same way: minidl's cell queues each mask it draws
(`draw_dropout_mask`, `draw_recurrent_dropout_mask`), and the Keras cell's
`get_dropout_mask` / `get_recurrent_dropout_mask`, which Keras's RNN.call asks once per call
before its loop, take the next one off the queue of that kind when the call trains.

minidl must therefore run each training step before Keras (lockstep.py and divergence.py do).
The arrays cross into TensorFlow through `tf.numpy_function`, which runs at every step of a
traced train function, not only while tracing. On exit the minidl layers stop recording and
the Keras layers get their own classes back (and Keras retraces its train function).
"""
import collections
import contextlib

import tensorflow as tf

import keras
from minidl.layers.bidirectional import Bidirectional
from minidl.layers.recurrent import RNN
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


class ReplaySpatialDropout3D(_ReplayDropoutCall, keras.layers.SpatialDropout3D):
    """keras.layers.SpatialDropout3D on the masks minidl drew."""


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


class _ReplayAttentionScores:
    """Keras's Attention._apply_scores (masking, softmax) with minidl's dropout mask."""

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        if not training or self.dropout in (0, 1):
            return super()._apply_scores(scores, value, scores_mask, training=training)
        _, weights = super()._apply_scores(scores, value, scores_mask, training=False)
        keep = _replayed(self, weights, tf.bool)  # (N,Tq,Tv) bools
        scale = tf.constant(1.0 / (1.0 - self.dropout), weights.dtype)
        weights = tf.where(keep, weights * scale, tf.zeros((), weights.dtype))
        return tf.matmul(weights, value), weights


class ReplayAttention(_ReplayAttentionScores, keras.layers.Attention):
    """keras.layers.Attention on the dropout masks minidl drew."""


class ReplayAdditiveAttention(_ReplayAttentionScores, keras.layers.AdditiveAttention):
    """keras.layers.AdditiveAttention on the dropout masks minidl drew."""


class ReplayAlphaDropout(keras.layers.AlphaDropout):
    """keras.layers.AlphaDropout on the keep masks minidl drew (Keras's call, its mask
    replayed)."""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return super().call(inputs, training=training)
        kept = tf.cast(_replayed(self, inputs, tf.bool), inputs.dtype)  # (N,D) 1. or 0.
        alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * kept + alpha_p * (1 - kept)) + b


REPLAY_CLASSES = {
    keras.layers.Dropout: ReplayDropout,
    keras.layers.SpatialDropout1D: ReplaySpatialDropout1D,
    keras.layers.SpatialDropout2D: ReplaySpatialDropout2D,
    keras.layers.SpatialDropout3D: ReplaySpatialDropout3D,
    keras.layers.GaussianNoise: ReplayGaussianNoise,
    keras.layers.GaussianDropout: ReplayGaussianDropout,
    keras.layers.Attention: ReplayAttention,
    keras.layers.AdditiveAttention: ReplayAdditiveAttention,
    keras.layers.AlphaDropout: ReplayAlphaDropout,
}


class _ReplayRNNCall:
    """Keras's RNN call, telling its cell whether the call trains: Keras's RNN.call asks the
    cell for its masks before the loop whether it trains or not, and uses them only then."""

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self.cell._minidl_training = bool(training)  # a Python bool while Keras traces
        try:
            return super().call(sequences, initial_state=initial_state, mask=mask,
                                training=training)
        finally:
            self.cell._minidl_training = False


class _ReplayCell:
    """Keras's DropoutRNNCell caching minidl's masks instead of drawing its own when training.

    Keras caches the masks of a call in _dropout_mask / _recurrent_dropout_mask and resets
    them after the loop (keras/src/layers/rnn/dropout_rnn_cell.py); here the cache is filled
    from minidl's queue, so every step of the call uses that one mask, as in minidl.
    """

    _minidl_training = False

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0 \
                and self._minidl_training:
            self._dropout_mask = _replayed_mask(self, "dropout", step_input)
        return super().get_dropout_mask(step_input)

    def get_recurrent_dropout_mask(self, step_input):
        if getattr(self, "_recurrent_dropout_mask", None) is None \
                and self.recurrent_dropout > 0 and self._minidl_training:
            self._recurrent_dropout_mask = _replayed_mask(self, "recurrent_dropout", step_input)
        return super().get_recurrent_dropout_mask(step_input)


def _replayed_mask(cell, kind, step_input):
    """The next mask minidl drew: (N,D) or (N,U), or one per gate (k,N,·) in Keras's
    implementation 1 (where Keras asks for `dropout_mask_count` of them)."""
    mask = tf.numpy_function(cell._minidl_queues[kind], [], step_input.dtype, stateful=True)
    count = getattr(cell, "dropout_mask_count", None)
    mask.set_shape(([count] if count else []) + list(step_input.shape))
    return mask


class ReplaySimpleRNN(_ReplayRNNCall, keras.layers.SimpleRNN):
    """keras.layers.SimpleRNN whose cell replays minidl's dropout masks."""


class ReplayLSTM(_ReplayRNNCall, keras.layers.LSTM):
    """keras.layers.LSTM whose cell replays minidl's dropout masks."""


class ReplayGRU(_ReplayRNNCall, keras.layers.GRU):
    """keras.layers.GRU whose cell replays minidl's dropout masks."""


class ReplaySimpleRNNCell(_ReplayCell, keras.layers.SimpleRNNCell):
    """keras.layers.SimpleRNNCell on minidl's masks."""


class ReplayLSTMCell(_ReplayCell, keras.layers.LSTMCell):
    """keras.layers.LSTMCell on minidl's masks."""


class ReplayGRUCell(_ReplayCell, keras.layers.GRUCell):
    """keras.layers.GRUCell on minidl's masks."""


RECURRENT_REPLAY_CLASSES = {
    keras.layers.SimpleRNN: (ReplaySimpleRNN, ReplaySimpleRNNCell),
    keras.layers.LSTM: (ReplayLSTM, ReplayLSTMCell),
    keras.layers.GRU: (ReplayGRU, ReplayGRUCell),
}


def _recurrent_pairs(model, keras_model):
    """(minidl layer, its Keras twin) for each recurrent layer with dropout, the two layers
    of a Bidirectional included (Keras's forward_layer and backward_layer)."""
    pairs = []
    for layer in model.layers:
        if isinstance(layer, (RNN, Bidirectional)):
            partner = _named_partner(keras_model, layer)
            if isinstance(layer, Bidirectional):
                pairs += [(layer.forward_layer, partner.forward_layer),
                          (layer.backward_layer, partner.backward_layer)]
            else:
                pairs.append((layer, partner))
        elif layer.layers:
            pairs += _recurrent_pairs(layer, keras_model)
    pairs = [(layer, partner) for layer, partner in pairs
             if layer.cell.dropout or layer.cell.recurrent_dropout]
    names = [k.__name__ for k in RECURRENT_REPLAY_CLASSES]
    for layer, partner in pairs:
        kind = next((k for k, replay in RECURRENT_REPLAY_CLASSES.items()
                     if type(partner) in (k, replay[0])), None)
        wanted = next(c.__name__ for c in type(layer).__mro__ if c.__name__ in names)
        if kind is None or kind.__name__ != wanted:
            raise ValueError(f"Keras layer '{partner.name}' is a {type(partner).__name__}; it "
                             f"must be a keras.layers.{wanted} to replay minidl's masks.")
    return pairs


def _named_partner(keras_model, layer):
    try:
        return keras_model.get_layer(layer.name)
    except ValueError:
        raise ValueError(f"The Keras model has no layer named '{layer.name}' to replay the "
                         f"masks of minidl's {type(layer).__name__} layer.") from None


def _noise_layers(model):
    """minidl's noise layers in a model, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, NoiseLayer):
            found.append(layer)
        elif layer.layers:
            found += _noise_layers(layer)
    return found


def _attention_dropout_pairs(model, keras_model):
    """(minidl's Dropout, Keras's Dropout, its class) inside each MultiHeadAttention with
    dropout: both layers drop attention weights with a Dropout sublayer (`_dropout_layer`);
    (minidl's Dropout, Keras's Attention layer, its class) for Attention and
    AdditiveAttention, whose Keras layers drop inside `_apply_scores`."""
    from minidl.layers.attention import MultiHeadAttention
    from minidl.layers.dot_attention import AdditiveAttention, Attention

    found = []
    for layer in model.layers:
        if isinstance(layer, MultiHeadAttention) and layer.dropout > 0:
            partner = _named_partner(keras_model, layer)._dropout_layer
            found.append((layer._dropout_layer, partner, keras.layers.Dropout))
        elif isinstance(layer, Attention) and layer.dropout > 0:
            partner = _named_partner(keras_model, layer)
            kind = (keras.layers.AdditiveAttention if isinstance(layer, AdditiveAttention)
                    else keras.layers.Attention)
            found.append((layer._dropout_layer, partner, kind))
        elif layer.layers and not isinstance(layer, MultiHeadAttention):
            found += _attention_dropout_pairs(layer, keras_model)
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
    """While open, the Keras twin's Dropout-like layers, and its recurrent layers' dropout,
    use the masks minidl's layers drew.

    Args:
        model: a minidl model; its noise layers and recurrent cells record what they draw.
        keras_model: its Keras twin, with layers of the same names and kinds.
    """
    pairs = [(layer, *_keras_partner(keras_model, layer)) for layer in _noise_layers(model)]
    pairs += _attention_dropout_pairs(model, keras_model)
    classes = [type(partner) for _, partner, _ in pairs]
    recurrent = _recurrent_pairs(model, keras_model)
    recurrent_classes = [(type(partner), type(partner.cell)) for _, partner in recurrent]
    try:
        for layer, partner, kind in pairs:
            queue = _Queue(partner.name)
            layer.draw_noise = _recording(layer.draw_noise, queue)  # shadows the method
            partner.__class__ = REPLAY_CLASSES[kind]
            object.__setattr__(partner, "_minidl_queue", queue)
        for layer, partner in recurrent:
            _replay_recurrent(layer, partner)
        if pairs or recurrent:
            keras_model.train_function = None  # retraced with the replaying layers
        yield
    finally:
        for (layer, partner, _), original in zip(pairs, classes):
            layer.__dict__.pop("draw_noise", None)
            partner.__class__ = original
        for (layer, partner), (layer_class, cell_class) in zip(recurrent, recurrent_classes):
            for method in ("draw_dropout_mask", "draw_recurrent_dropout_mask"):
                layer.cell.__dict__.pop(method, None)
            partner.__class__, partner.cell.__class__ = layer_class, cell_class
        if pairs or recurrent:
            keras_model.train_function = None  # and back with Keras's own


def _replay_recurrent(layer, partner):
    """minidl's cell queues its masks by kind; the Keras layer and cell replay them."""
    queues = {kind: _Queue(partner.name) for kind in ("dropout", "recurrent_dropout")}
    cell = layer.cell
    cell.draw_dropout_mask = _recording(cell.draw_dropout_mask, queues["dropout"])
    cell.draw_recurrent_dropout_mask = _recording(cell.draw_recurrent_dropout_mask,
                                                  queues["recurrent_dropout"])
    layer_class, cell_class = RECURRENT_REPLAY_CLASSES[
        next(k for k in RECURRENT_REPLAY_CLASSES if isinstance(partner, k))]
    partner.__class__, partner.cell.__class__ = layer_class, cell_class
    object.__setattr__(partner.cell, "_minidl_queues", queues)


def _recording(draw_noise, queue):
    """draw_noise that also hands each array it returns to the queue."""
    def recording_draw_noise(shape, dtype):
        noise = draw_noise(shape, dtype)
        queue.arrays.append(noise)
        return noise
    return recording_draw_noise
