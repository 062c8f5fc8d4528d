"""keras.io's developer guides, run on minidl with only the imports changed: what they hit that
minidl lacked, against Keras.

Each test writes the guide's own code once, as a function of the framework (`minidl` or
`keras`), gives both the same weights, and compares the numbers. Tolerances: float32 maths
done in a different order (NumPy's against TensorFlow's kernels) agrees to a few ulps per
operation; over a handful of layers and optimizer steps that is rtol 1e-5 on losses and
weights (atol 1e-6 for values near zero), as tests/parity.py uses throughout.

making_new_layers_and_models_via_subclassing.py:
- a layer that returns its inputs and only adds a loss (ActivityRegularizationLayer) in a
  model with no trainable weights: fit with loss="mse" and with no loss at all (the
  add_loss terms are then the loss), evaluate, Keras's warning once per compile, and its
  error when there is no loss of any kind;
- the end-to-end VAE, a Model subclass of nested Layer subclasses with a KL add_loss, fitted
  by both with the same weights and the same noise.

functional_api.py: CustomDense, whose get_config returns its units alone, in a functional
model: its config as Keras writes it (no dtype, no module for a script's class), from_config
wiring the graph by the config's names, and the copies' predictions.

understanding_masking_and_padding.py: MyLayer's `lstm(x, mask=...)`, TemporalSoftmax's
`call(inputs, mask=None)` and CustomEmbedding's `compute_mask` against Keras (predict; a
fit's History and weights where minidl can train it). A mask made in a functional model and
given by hand, and the training guide's LogisticEndpoint called `layer(targets, logits)`, are
in test_multi_argument_layers.py.

transfer_learning.py: `base.trainable = False` freezes the layers inside, as Keras's; a frozen
base called with training=False trains a new head, then fine-tunes unfrozen after a
recompile: History and every weight against Keras's.

"""
import json
import warnings

import numpy as np
import pytest

import keras
import minidl

RNG = np.random.default_rng(7)


def _as_json(config):
    """A config as its JSON file holds it (tuples as lists)."""
    return json.loads(json.dumps(config))


def _fitted(model, *args, **kwargs):
    """fit's history, and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(*args, verbose=0, shuffle=False, **kwargs).history
    return history, [str(w.message) for w in caught
                     if "trainable weights" in str(w.message)]


# -- making_new_layers_and_models_via_subclassing.py ------------------------------------------
def _activity_model(framework):
    """The guide's ActivityRegularizationLayer alone in a functional model: its output is its
    input, its only loss the one it adds."""
    ops = framework.ops

    class ActivityRegularizationLayer(framework.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    inputs = framework.Input(shape=(3,))
    return framework.Model(inputs, ActivityRegularizationLayer()(inputs))


def test_a_model_of_no_weights_fits_on_its_add_loss_with_and_without_a_compiled_loss():
    x, y = RNG.random((5, 3)), RNG.random((5, 3))
    ours, theirs = _activity_model(minidl), _activity_model(keras)
    for loss in [None, "mse"]:  # (Keras keeps the first compile's step if mse comes first)
        results = []
        for model in (ours, theirs):
            model.compile(optimizer="adam", loss=loss)
            first = _fitted(model, x, y, batch_size=2, epochs=2)
            again = _fitted(model, x, y, batch_size=2)
            results.append((first, again, model.evaluate(x, y, batch_size=2, verbose=0)))
        (first, again, evaluated), (k_first, k_again, k_evaluated) = results
        assert first[1] == k_first[1] == ["The model does not have any trainable weights."]
        assert again[1] == k_again[1] == []  # once a compile, as Keras's traced step
        for key in k_first[0]:
            np.testing.assert_allclose(first[0][key], k_first[0][key], rtol=1e-5)
        np.testing.assert_allclose(again[0]["loss"], k_again[0]["loss"], rtol=1e-5)
        np.testing.assert_allclose(evaluated, k_evaluated, rtol=1e-5)


@pytest.mark.parametrize("framework", [minidl, keras])
def test_no_loss_of_any_kind_is_keras_error(framework):
    model = framework.Sequential([framework.Input((3,)), framework.layers.Dense(2)])
    model.compile(optimizer="adam")
    x, y = RNG.random((4, 3)), RNG.random((4, 2))
    for run in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                lambda: model.train_on_batch(x, y)):
        with pytest.raises(ValueError, match=r"^No loss to compute\. Provide a `loss` "
                                             r"argument in `compile\(\)`\.$"):
            run()


def _vae(framework, epsilon, original_dim=6, intermediate_dim=5, latent_dim=3):
    """The guide's VariationalAutoEncoder, small, with Sampling's noise given (the same
    draws in both frameworks) instead of keras.random.normal's."""
    ops, layers = framework.ops, framework.layers

    class Sampling(layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class Encoder(layers.Layer):
        def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_mean = layers.Dense(latent_dim)
            self.dense_log_var = layers.Dense(latent_dim)
            self.sampling = Sampling()

        def call(self, inputs):
            x = self.dense_proj(inputs)
            z_mean = self.dense_mean(x)
            z_log_var = self.dense_log_var(x)
            z = self.sampling((z_mean, z_log_var))
            return z_mean, z_log_var, z

    class Decoder(layers.Layer):
        def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
            self.dense_output = layers.Dense(original_dim, activation="sigmoid")

        def call(self, inputs):
            return self.dense_output(self.dense_proj(inputs))

    class VariationalAutoEncoder(framework.Model):
        def __init__(self, original_dim, intermediate_dim=64, latent_dim=32,
                     name="autoencoder", **kwargs):
            super().__init__(name=name, **kwargs)
            self.original_dim = original_dim
            self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
            self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            reconstructed = self.decoder(z)
            kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
            self.add_loss(kl_loss)
            return reconstructed

    return VariationalAutoEncoder(original_dim, intermediate_dim, latent_dim)


@pytest.mark.parametrize("loss", ["mse", None])
def test_the_guides_vae_fits_as_keras(loss):
    x = RNG.random((8, 6)).astype(np.float32)
    epsilon = RNG.normal(size=(8, 3)).astype(np.float32)
    ours, theirs = _vae(minidl, epsilon), _vae(keras, epsilon)
    ours(x), theirs(x)
    theirs.set_weights(ours.get_weights())
    for model, framework in ((ours, minidl), (theirs, keras)):
        model.compile(framework.optimizers.Adam(learning_rate=1e-2),
                      loss=None if loss is None else framework.losses.MeanSquaredError())
    mine, _ = _fitted(ours, x, x, epochs=3, batch_size=8)
    keras_history, _ = _fitted(theirs, x, x, epochs=3, batch_size=8)
    np.testing.assert_allclose(mine["loss"], keras_history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ours(x), theirs(x)  # layer.losses: the KL term of the last call
    np.testing.assert_allclose([float(v) for v in ours.losses],
                               [float(v) for v in theirs.losses], rtol=1e-5)


# -- functional_api.py ------------------------------------------------------------------------
def _custom_dense_model(framework):
    """The guide's CustomDense, whose get_config returns its units alone (no super() call:
    no name, no dtype), in a functional model."""
    ops = framework.ops

    class CustomDense(framework.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {"units": self.units}

    CustomDense.__module__ = "__main__"  # defined in a script, as the guide's
    inputs = framework.Input((4,), name="features")
    return framework.Model(inputs, CustomDense(10)(inputs)), CustomDense


def test_a_functional_model_of_a_layer_whose_config_has_no_name_round_trips_as_keras():
    (ours, custom), (theirs, their_custom) = (_custom_dense_model(f) for f in (minidl, keras))
    theirs.set_weights(ours.get_weights())
    config, their_config = ours.get_config(), theirs.get_config()
    ours_entry, their_entry = (_as_json({k: v for k, v in c["layers"][1].items()
                                         if k != "name"}) for c in (config, their_config))
    assert ours_entry == their_entry  # no dtype; the layer names differ by Keras's counters
    assert config["layers"][1]["module"] is None  # Keras's, for a class of a script
    copies = [minidl.Model.from_config(config, custom_objects={"CustomDense": custom}),
              keras.Model.from_config(their_config, custom_objects={"CustomDense": their_custom})]
    # a new name for the layer (its config has none), the graph wired by the config's names
    for copy, model in zip(copies, (ours, theirs)):
        assert copy.layers[1].name != model.layers[1].name
    assert [type(l).__name__ for l in copies[0].layers] == \
        [type(l).__name__ for l in copies[1].layers]
    x = RNG.normal(size=(3, 4)).astype(np.float32)
    for copy in copies:
        copy.set_weights(ours.get_weights())
    np.testing.assert_allclose(copies[0].predict(x, verbose=0), copies[1].predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# -- understanding_masking_and_padding.py -----------------------------------------------------
IDS = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2], [5, 0, 0, 0, 0]])  # padded with 0 at the end


def _my_layer(framework):
    """The guide's MyLayer: a mask made by hand (compute_mask) and given to an LSTM."""
    layers = framework.layers

    class MyLayer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)
            self.lstm = layers.LSTM(3)

        def call(self, inputs):
            x = self.embedding(inputs)
            mask = self.embedding.compute_mask(inputs)
            return self.lstm(x, mask=mask)  # the layer ignores the masked steps

    return MyLayer()


def test_a_mask_given_by_hand_to_an_lstm_is_used_as_keras():
    ours, theirs = _my_layer(minidl), _my_layer(keras)
    ours(IDS), theirs(IDS)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(IDS), theirs(IDS), rtol=1e-5, atol=1e-6)
    unmasked = ours.lstm(ours.embedding(IDS), mask=np.ones(IDS.shape, bool))
    assert not np.allclose(unmasked, ours(IDS))  # the mask made a difference


def _masked_model(framework, head):
    """Embedding(mask_zero=True) -> Dense -> the guide's TemporalSoftmax (a call(inputs,
    mask=None) of your own), or the guide's CustomEmbedding (a compute_mask of your own)
    -> LSTM."""
    ops, layers = framework.ops, framework.layers

    class TemporalSoftmax(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
            inputs_exp = ops.exp(inputs) * broadcast_float_mask
            inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=1, keepdims=True)
            return inputs_exp / inputs_sum  # (the guide sums over axis -1, of size 1)

    class CustomEmbedding(layers.Layer):
        def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
            super().__init__(**kwargs)
            self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero

        def build(self, input_shape):
            self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                              initializer="random_normal", dtype="float32")

        def call(self, inputs):
            return ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0)  # (N,T,D)

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0) if self.mask_zero else None

    inputs = framework.Input(shape=(None,), dtype="int32")
    if head == "TemporalSoftmax":
        x = layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)(inputs)
        outputs = TemporalSoftmax()(layers.Dense(2)(x))
    else:
        outputs = layers.LSTM(3)(CustomEmbedding(10, 4, mask_zero=True)(inputs))
    return framework.Model(inputs, outputs)


@pytest.mark.parametrize("head", ["TemporalSoftmax", "CustomEmbedding"])
def test_layers_of_your_own_that_use_or_make_a_mask_work_as_keras(head):
    ours, theirs = _masked_model(minidl, head), _masked_model(keras, head)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(IDS, verbose=0), theirs.predict(IDS, verbose=0),
                               rtol=1e-5, atol=1e-6)
    if head == "CustomEmbedding":
        return  # (minidl's ops.take passes no gradient to the weight it reads from yet)
    y = RNG.random(ours.predict(IDS, verbose=0).shape).astype(np.float32)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="mse")
    mine, _ = _fitted(ours, IDS, y, epochs=2)
    keras_history, _ = _fitted(theirs, IDS, y, epochs=2)
    np.testing.assert_allclose(mine["loss"], keras_history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- transfer_learning.py ---------------------------------------------------------------------
def _transfer_model(framework, weights):
    """The guide's fine-tuning model, small: a frozen base (Conv2D, BatchNormalization,
    pooling; a nested model) called with training=False, and a new head."""
    layers = framework.layers
    inputs = framework.Input((6, 6, 3))
    x = layers.BatchNormalization()(layers.Conv2D(4, 3)(inputs))
    base = framework.Model(inputs, layers.GlobalAveragePooling2D()(x))
    base.set_weights(weights)
    base.trainable = False
    inputs = framework.Input(shape=(6, 6, 3))
    x = layers.Rescaling(scale=1 / 127.5, offset=-1)(inputs)
    outputs = layers.Dense(1)(base(x, training=False))
    return framework.Model(inputs, outputs), base


def test_a_frozen_base_trains_and_fine_tunes_as_keras():
    rng = np.random.default_rng(11)
    shapes = [(3, 3, 3, 4), (4,), (4,), (4,), (4,), (4,)]
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    weights[-1] = np.abs(weights[-1]) + 0.5  # a moving variance
    (ours, base), (theirs, their_base) = (_transfer_model(f, weights) for f in (minidl, keras))
    theirs.set_weights(ours.get_weights())
    # model.trainable = False freezes every layer inside, as Keras's setter
    assert [l.trainable for l in base.layers] == [l.trainable for l in their_base.layers]
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 2
    x = rng.random((8, 6, 6, 3)).astype(np.float32) * 255
    y = rng.integers(0, 2, (8, 1)).astype(np.float32)
    # fine-tuning with SGD: Adam's m / sqrt(v) turns float32 differences in a gradient near
    # zero into a share of a whole step, which rtol 1e-5 cannot bound
    for unfrozen, optimizer in ((False, "Adam"), (True, "SGD")):
        histories = []
        for model, b, framework in ((ours, base, minidl), (theirs, their_base, keras)):
            b.trainable = unfrozen
            model.compile(optimizer=getattr(framework.optimizers, optimizer)(1e-2),
                          loss=framework.losses.BinaryCrossentropy(from_logits=True))
            histories.append(_fitted(model, x, y, epochs=2, batch_size=4)[0])
        np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
        assert len(ours.trainable_weights) == len(theirs.trainable_weights)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
