"""MultiHeadAttention against live Keras 3.15 with the same weights.

Layer level (hypothesis-drawn small shapes, heads, key/value dims, bias, causal masks,
attention masks with fully masked rows, scores returned or not, a separate key): the output,
the attention scores, every weight's gradient and every input's gradient of sum(y * G) for a
random cotangent G. Model level: a Transformer-encoder text classifier (Embedding with
mask_zero -> MultiHeadAttention + residual -> LayerNormalization -> GlobalAveragePooling1D ->
Dense) fitting on synthetic token sequences with the same History as its Keras twin, and the
same with attention dropout in lockstep on shared masks. Float64 central differences with
negative controls; configs, summaries and .keras files both ways; Keras's errors.

Tolerances: float32 eps is 1.2e-7. An output entry is a sum over at most D*H*K <= 5*3*3 = 45
products (the projections), a softmax, and a sum over Tv*H*V <= 45 more; einsums summed in
another order differ by about n * eps * sum|terms|, a few 1e-6 of the entries' scale (inputs
N(0,1), weights N(0, 0.5)). So outputs and scores to rtol 1e-5, atol 1e-5; gradients, one more
such chain, to rtol 1e-4, atol 1e-5. Fit Histories to rtol 1e-5 as the repo's other
comparisons; central differences in float64 to check_gradients' defaults (relative 1e-5).
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, strategies as st

import keras
import minidl
from minidl import layers
from minidl.tape import Tape
from reference.masks import shared_noise
from reference.twins import keras_twin, minidl_twin

RTOL, ATOL = 1e-5, 1e-5  # outputs and scores (see the docstring)
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-5  # gradients


def _random_weights(layer, rng):
    weights = [(0.5 * rng.normal(size=w.shape)).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


def minidl_call(layer, arrays, kwargs, cotangents):
    """Outputs and d sum(out * G) / d (weights, inputs) from minidl's tape."""
    with Tape() as tape:
        out = layer(*arrays, **kwargs)
    outs = out if isinstance(out, list) else [out]
    unique = list({id(a): a for a in arrays}.values())
    grads = tape.gradient(list(zip(outs, cotangents)), layer.trainable_weights, inputs=unique)
    return outs, grads


def keras_call(layer, arrays, kwargs, cotangents):
    unique = list({id(a): a for a in arrays}.values())
    tensors = {id(a): tf.constant(a) for a in unique}
    with tf.GradientTape() as tape:
        tape.watch(list(tensors.values()))
        out = layer(*[tensors[id(a)] for a in arrays], **kwargs)
        outs = list(out) if isinstance(out, tuple) else [out]
        total = tf.add_n([tf.reduce_sum(o * g) for o, g in zip(outs, cotangents)])
    grads = tape.gradient(total, layer.trainable_weights + [tensors[id(a)] for a in unique])
    return [np.asarray(o) for o in outs], [np.asarray(g) for g in grads]


@st.composite
def attention_cases(draw):
    n, tq, tv = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dq, dv = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    case = {"n": n, "tq": tq, "tv": tv, "dq": dq, "dv": dv,
            "heads": draw(st.integers(1, 3)), "key_dim": draw(st.integers(1, 3)),
            "value_dim": draw(st.sampled_from([None, 2])),
            "output_shape": draw(st.sampled_from([None, 3])),
            "use_bias": draw(st.booleans()), "self": draw(st.booleans()),
            "key": draw(st.booleans()), "causal": draw(st.booleans()),
            "mask": draw(st.booleans()), "scores": draw(st.booleans()),
            "seed": draw(st.integers(0, 2**16))}
    if case["self"]:
        case["tv"], case["dv"] = tq, dq
    return case


@given(attention_cases())
def test_multi_head_attention_matches_keras_outputs_scores_and_gradients(case):
    rng = np.random.default_rng(case["seed"])
    n, tq, tv = case["n"], case["tq"], case["tv"]
    q = rng.normal(size=(n, tq, case["dq"])).astype(np.float32)
    v = q if case["self"] else rng.normal(size=(n, tv, case["dv"])).astype(np.float32)
    arrays = [q, v]
    if case["key"]:
        arrays.append(rng.normal(size=(n, tv, 2)).astype(np.float32))
    kwargs = {"use_causal_mask": case["causal"], "return_attention_scores": case["scores"]}
    if case["mask"]:  # random, with whole rows masked: Keras's two paths differ there
        kwargs["attention_mask"] = rng.random((n, tq, tv)) < 0.6
    options = dict(num_heads=case["heads"], key_dim=case["key_dim"],
                   value_dim=case["value_dim"], output_shape=case["output_shape"],
                   use_bias=case["use_bias"])
    ours, theirs = layers.MultiHeadAttention(**options), keras.layers.MultiHeadAttention(**options)
    ours(*arrays), theirs(*arrays)  # built
    theirs.set_weights(_random_weights(ours, rng))
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    out_shape = (n, tq, case["output_shape"] or case["dq"])
    cotangents = [rng.normal(size=out_shape).astype(np.float32)]
    if case["scores"]:
        cotangents.append(rng.normal(size=(n, case["heads"], tq, tv)).astype(np.float32))
    outs, grads = minidl_call(ours, arrays, kwargs, cotangents)
    k_outs, k_grads = keras_call(theirs, arrays, kwargs, cotangents)
    assert len(outs) == len(k_outs)
    for a, b in zip(outs, k_outs):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    assert len(grads) == len(k_grads)
    for a, b in zip(grads, k_grads):
        np.testing.assert_allclose(a, b, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_a_padded_query_step_averages_the_values_unless_scores_are_returned():
    """Keras's two paths: ops.dot_product_attention leaves a fully masked row uniform, its
    op-by-op path (scores returned, or dropout) sets it to 0. minidl follows both."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 3, 4)).astype(np.float32)
    mask = np.array([[[True, True, False], [False, False, False], [True, True, True]]])
    ours, theirs = layers.MultiHeadAttention(1, 2), keras.layers.MultiHeadAttention(1, 2)
    ours(x, x), theirs(x, x)
    theirs.set_weights(_random_weights(ours, rng))
    fused = ours(x, x, attention_mask=mask)
    y, scores = ours(x, x, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(scores[0, 0, 1], 0)
    assert not np.allclose(fused[0, 1], y[0, 1])  # the padded row differs between the paths
    np.testing.assert_allclose(fused, theirs(x, x, attention_mask=mask), rtol=RTOL, atol=ATOL)
    k_y, k_scores = theirs(x, x, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(y, k_y, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(scores, k_scores, rtol=RTOL, atol=ATOL)


# -- a Transformer encoder for text classification -------------------------------------------
def encoder_classifier(dropout=0.0, seed=0, vocabulary=12, steps=6, dim=8):
    """Deep Learning with Python's encoder block, without the dense sublayer or positions."""
    minidl.utils.set_random_seed(seed)
    ids = layers.Input((steps,))
    x = layers.Embedding(vocabulary, dim, mask_zero=True)(ids)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=dropout)(x, x)
    x = layers.LayerNormalization()(layers.Add()([x, attended]))
    x = layers.GlobalAveragePooling1D()(x)
    model = minidl.Model(ids, layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def token_data(seed, n=24, steps=6, vocabulary=12):
    """Padded token sequences (0 is padding, at the end); the label says if token 1 occurs."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocabulary, size=(n, steps))
    lengths = rng.integers(2, steps + 1, size=n)
    ids[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    labels = (ids == 1).any(axis=1).astype(np.int64)
    return ids.astype(np.float32), labels


def test_transformer_encoder_classifier_fits_as_keras():
    model = encoder_classifier()
    twin = keras_twin(model)
    x, y = token_data(0)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=RTOL, atol=1e-6)
    kwargs = {"epochs": 3, "batch_size": 8, "shuffle": False, "verbose": 0}
    theirs = twin.fit(x, y, **kwargs).history
    ours = model.fit(x, y, **kwargs).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)


def test_attention_dropout_in_lockstep_with_keras_on_shared_masks():
    model = encoder_classifier(dropout=0.3)
    twin = keras_twin(model)
    x, y = token_data(1)
    with shared_noise(model, twin):
        for start in (0, 8, 16):
            ours = model.train_on_batch(x[start:start + 8], y[start:start + 8])
            theirs = twin.train_on_batch(x[start:start + 8], y[start:start + 8])
            np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_attention_dropout_draws_keras_share_of_zeros_and_scale():
    layer = layers.MultiHeadAttention(1, 2, dropout=0.25, seed=1)
    x = np.ones((50, 8, 3), np.float32)
    _, scores = layer(x, x, return_attention_scores=True)
    y_train = layer._dropout_layer.forward(scores, training=True)[0]
    dropped = np.mean(y_train == 0)
    assert 0.2 < dropped < 0.3
    np.testing.assert_allclose(y_train[y_train != 0], (scores / 0.75)[y_train != 0], rtol=1e-6)


# -- central differences -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"use_causal_mask": True},
                                    {"return_attention_scores": True}])
def test_central_differences_with_negative_controls(float64, kwargs):
    rng = np.random.default_rng(5)
    q = rng.normal(size=(2, 3, 4))
    v = rng.normal(size=(2, 4, 4))
    mask = np.ones((2, 3, 4), bool)
    mask[0, 1, 2:] = False

    layer = layers.MultiHeadAttention(2, 3)
    layer(q, v)
    _random_weights(layer, rng)

    def loss_and_grads(layer):
        with Tape() as tape:
            out = layer(q, v, attention_mask=mask, **kwargs)
        outs = out if isinstance(out, list) else [out]
        cot = [np.cos(np.arange(o.size).reshape(o.shape)) for o in outs]
        grads = tape.gradient(list(zip(outs, cot)), layer.trainable_weights, inputs=[q, v])
        loss = sum(float((o * c).sum()) for o, c in zip(outs, cot))
        return loss, grads, cot

    _, grads, cot = loss_and_grads(layer)

    def numeric(array, eps=1e-6):
        result = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + eps
            plus = loss_and_grads(layer)[0]
            array[index] = old - eps
            minus = loss_and_grads(layer)[0]
            array[index] = old
            result[index] = (plus - minus) / (2 * eps)
        return result

    arrays = [w.value for w in layer.trainable_weights] + [q, v]
    for analytic, array in zip(grads, arrays):
        np.testing.assert_allclose(analytic, numeric(array), rtol=1e-5, atol=1e-8)
    # negative controls: the softmax's Jacobian dropped, and the scale applied twice
    from minidl.layers import attention
    original = attention._softmax_backward
    for wrong in (lambda dA, A: dA * A, lambda dA, A: 2 * original(dA, A)):
        attention._softmax_backward = wrong
        try:
            _, bad, _ = loss_and_grads(layer)
        finally:
            attention._softmax_backward = original
        assert not all(np.allclose(b, numeric(a), rtol=1e-5, atol=1e-8)
                       for b, a in zip(bad[:1], arrays[:1]))


# -- configs, summaries, files -------------------------------------------------------------------
def test_config_summary_and_files_both_ways(tmp_path):
    x = layers.Input((5, 8))
    y = layers.MultiHeadAttention(2, 4, value_dim=3, output_shape=6, name="mha")(
        x, x, use_causal_mask=True)
    model = minidl.Model(x, y)
    twin = keras_twin(model, compile=False)
    config = model.get_layer("mha").get_config()
    keras_config = twin.get_layer("mha").get_config()
    assert config == {key: keras_config[key] for key in config}
    assert model.count_params() == twin.count_params()
    ours, theirs = [], []
    model.summary(print_fn=ours.append)
    twin.summary(print_fn=theirs.append)
    assert "\n".join(ours) == "\n".join(theirs)
    data = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)
    path = str(tmp_path / "mha.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=RTOL, atol=1e-6)
    back_path = str(tmp_path / "back.keras")
    loaded.save(back_path)
    ours_again = minidl.models.load_model(back_path)
    np.testing.assert_allclose(ours_again.predict(data, verbose=0),
                               loaded.predict(data, verbose=0), rtol=RTOL, atol=1e-6)
    assert minidl_twin(twin).get_layer("mha").get_config() == config


def test_keras_errors():
    with pytest.raises(ValueError, match="num_heads"):
        layers.MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="key_dim"):
        layers.MultiHeadAttention(2, 0)
    with pytest.raises(ValueError, match="value_dim"):
        layers.MultiHeadAttention(2, 2, value_dim=-1)
    with pytest.raises(ValueError, match="attention_axes"):
        layers.MultiHeadAttention(2, 2, attention_axes=(1, 2))
    with pytest.raises(ValueError, match="use_gate"):
        layers.MultiHeadAttention(2, 2, use_gate=True)
    x = np.zeros((1, 3, 4), np.float32)
    with pytest.raises(ValueError, match="except the last one"):
        layers.MultiHeadAttention(2, 2)(x, x, np.zeros((1, 2, 4), np.float32))
    with pytest.raises(ValueError, match="3 axes"):
        layers.MultiHeadAttention(2, 2)(np.zeros((1, 2, 3, 4), np.float32), x)


@pytest.mark.parametrize("masks", [("value_mask",), ("key_mask",), ("value_mask", "key_mask"),
                                   ("query_mask",), ("query_mask", "value_mask", "causal")])
def test_masks_given_to_the_call_as_in_keras(masks):
    """value_mask and key_mask (N, Tv) given to the call (keras.io's Transformer decoder
    passes them); query_mask is passed too but Keras's call reads the query's own mask."""
    rng = np.random.default_rng(len(masks))
    n, tq, tv = 2, 3, 4
    q = rng.normal(size=(n, tq, 5)).astype(np.float32)
    v = rng.normal(size=(n, tv, 4)).astype(np.float32)
    k = rng.normal(size=(n, tv, 2)).astype(np.float32)
    kwargs = {"use_causal_mask": "causal" in masks}
    for name in masks:
        if name != "causal":
            steps = tq if name == "query_mask" else tv
            kwargs[name] = np.arange(steps)[None, :] < np.array([[steps - 1], [steps]])
    ours = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    ours(q, v, k), theirs(q, v, k)
    theirs.set_weights(_random_weights(ours, rng))
    cotangents = [rng.normal(size=(n, tq, 5)).astype(np.float32)]
    outs, grads = minidl_call(ours, [q, v, k], kwargs, cotangents)
    k_outs, k_grads = keras_call(theirs, [q, v, k], kwargs, cotangents)
    np.testing.assert_allclose(outs[0], k_outs[0], rtol=RTOL, atol=ATOL)
    for a, b in zip(grads, k_grads):
        np.testing.assert_allclose(a, b, rtol=GRAD_RTOL, atol=GRAD_ATOL)
    if "value_mask" in masks and "causal" not in masks:  # negative control: the mask counts
        unmasked = ours(q, v, k, use_causal_mask=kwargs["use_causal_mask"])
        assert not np.allclose(unmasked, outs[0], rtol=RTOL, atol=ATOL)


def test_layers_made_after_an_attention_layer_are_named_as_in_keras():
    """Keras's MultiHeadAttention makes a Softmax and a Dropout layer when it is built,
    which take the next "softmax" and "dropout" names (keras.io's Transformer encoder's
    Dropout after it is "dropout_1")."""
    import keras

    names = []
    for lib in (keras, minidl):
        lib.backend.clear_session()
        inputs = lib.Input((5, 4))
        x = lib.layers.MultiHeadAttention(num_heads=2, key_dim=3)(inputs, inputs)
        x = lib.layers.Dropout(0.1)(x)
        x = lib.layers.Softmax()(lib.layers.MultiHeadAttention(num_heads=1, key_dim=2)(x, x))
        names.append([layer.name for layer in lib.Model(inputs, x).layers])
    assert names[1] == names[0]
