"""`.keras` files of models whose layers of your own hold other layers (Chollet's
TransformerEncoder and PositionalEmbedding, ch. 11), against live Keras, both ways.

Keras's saving_lib writes a layer of your own's weights under its path, then each layer it
holds under the attribute's name (layers/positional_embedding/token_embeddings/vars/0; a
Sequential attribute's layers under dense_proj/layers/dense/...; a MultiHeadAttention's
projections under attention/query_dense/...). minidl wrote them all flat under the layer's own
path, so neither library could read the other's file.

Predictions are compared to rtol 1e-5: the same weights, and float32 arithmetic in another
order (attention's softmax, layer normalization's sums).
"""
import keras
import numpy as np
import pytest

import minidl


def library_classes(lib):
    layers, ops = lib.layers, lib.ops

    class TransformerEncoder(layers.Layer):
        def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim, self.dense_dim, self.num_heads = embed_dim, dense_dim, num_heads
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = lib.Sequential([layers.Dense(dense_dim, activation="relu"),
                                              layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()

        def call(self, inputs, mask=None):
            if mask is not None:
                mask = mask[:, None, :]
            attention_output = self.attention(inputs, inputs, attention_mask=mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            return self.layernorm_2(proj_input + self.dense_proj(proj_input))

        def get_config(self):
            return {**super().get_config(), "embed_dim": self.embed_dim,
                    "dense_dim": self.dense_dim, "num_heads": self.num_heads}

    class PositionalEmbedding(layers.Layer):
        def __init__(self, sequence_length, input_dim, output_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(input_dim=input_dim, output_dim=output_dim)
            self.position_embeddings = layers.Embedding(input_dim=sequence_length,
                                                        output_dim=output_dim)
            self.sequence_length, self.input_dim = sequence_length, input_dim
            self.output_dim = output_dim

        def call(self, inputs):
            positions = ops.arange(0, ops.shape(inputs)[-1], 1)
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

        def compute_mask(self, inputs, mask=None):
            return ops.not_equal(inputs, 0)

        def get_config(self):
            return {**super().get_config(), "sequence_length": self.sequence_length,
                    "input_dim": self.input_dim, "output_dim": self.output_dim}

    return {"TransformerEncoder": TransformerEncoder,
            "PositionalEmbedding": PositionalEmbedding}


def text_classifier(lib, classes):
    inputs = lib.Input(shape=(None,), dtype="int64")
    x = classes["PositionalEmbedding"](12, 50, 8)(inputs)
    x = classes["TransformerEncoder"](8, 16, 2)(x)
    outputs = lib.layers.Dense(1, activation="sigmoid")(lib.layers.GlobalMaxPooling1D()(x))
    return lib.Model(inputs, outputs)


@pytest.fixture(scope="module")
def twins():
    keras.utils.set_random_seed(4)
    keras_classes, minidl_classes = library_classes(keras), library_classes(minidl)
    theirs = text_classifier(keras, keras_classes)
    ours = text_classifier(minidl, minidl_classes)
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(0).integers(1, 50, (6, 12))
    ids[:, 9:] = 0  # padding: the mask from compute_mask
    return theirs, ours, keras_classes, minidl_classes, ids


@pytest.mark.filterwarnings("ignore:Layer 'transformer_encoder'")  # both drop the mask there
def test_a_minidl_file_loads_in_keras(twins, tmp_path):
    theirs, ours, keras_classes, _, ids = twins
    ours.save(tmp_path / "ours.keras")
    loaded = keras.models.load_model(tmp_path / "ours.keras", custom_objects=keras_classes)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), theirs.predict(ids, verbose=0),
                               rtol=1e-5)
    for w_loaded, w_ours in zip(loaded.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(w_loaded, w_ours)


@pytest.mark.filterwarnings("ignore:Layer 'transformer_encoder'")
def test_a_keras_file_loads_in_minidl(twins, tmp_path):
    theirs, _, _, minidl_classes, ids = twins
    theirs.save(tmp_path / "theirs.keras")
    loaded = minidl.models.load_model(tmp_path / "theirs.keras", custom_objects=minidl_classes)
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), theirs.predict(ids, verbose=0),
                               rtol=1e-5)
    for w_loaded, w_theirs in zip(loaded.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(w_loaded, w_theirs)
