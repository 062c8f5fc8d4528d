"""Attention and AdditiveAttention against live Keras 3.15 with the same weights.

Layer level (hypothesis-drawn small shapes, score modes, scales, a separate key, masks given
in the call with fully masked value rows and padded query steps, causal masks, scores
returned or not): the output, the scores, every weight's gradient and every input's gradient
of sum(y * G) (+ sum(scores * H)) for random cotangents. Model level: a text classifier
(Embedding(mask_zero) -> Attention on its own output, the mask riding on it ->
GlobalAveragePooling1D -> Dense) fitting with the same History as its Keras twin, and with
attention dropout in lockstep on shared masks (reference/masks.py). Float64 central
differences with negative controls; configs, summaries and .keras files both ways; Keras's
errors.

Tolerances: float32 eps is 1.2e-7. A score is a sum over D <= 4 products (or tanh terms) of
entries of scale ~1-3, the output a sum over Tv <= 4 weights times values; TensorFlow and
NumPy sum in different orders, so entries differ by a few eps times the sum of |terms|, about
1e-6. Outputs and scores to rtol 1e-5, atol 1e-5; gradients, a second such chain through the
softmax's Jacobian and a sum over N*Tq*Tv for the scalar weights (<= 48 terms), to rtol 1e-4,
atol 1e-5 (measured differences are below 2e-6). Fit Histories to rtol 1e-5 as the repo's
other comparisons; central differences in float64 to relative 1e-5 (truncation error of a
1e-6 step is ~1e-12 relative).
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

KINDS = [("Attention", {}), ("Attention", {"use_scale": True}),
         ("Attention", {"score_mode": "concat"}),
         ("Attention", {"score_mode": "concat", "use_scale": True}),
         ("AdditiveAttention", {}), ("AdditiveAttention", {"use_scale": False})]


def _random_weights(layer, rng):
    weights = [(1 + 0.5 * rng.normal(size=w.shape)).astype(np.float32)
               for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


def minidl_call(layer, arrays, kwargs, cotangents):
    with Tape() as tape:
        out = layer(arrays, **kwargs)
    outs = out if isinstance(out, list) else [out]
    unique = list({id(a): a for a in arrays}.values())
    grads = tape.gradient(list(zip(outs, cotangents)), layer.trainable_weights, inputs=unique)
    return outs, grads


def keras_call(layer, arrays, kwargs, cotangents):
    unique = list({id(a): a for a in arrays}.values())
    tensors = {id(a): tf.constant(a) for a in unique}
    with tf.GradientTape() as tape:
        tape.watch(list(tensors.values()))
        out = layer([tensors[id(a)] for a in arrays], **kwargs)
        outs = list(out) if isinstance(out, tuple) else [out]
        total = tf.add_n([tf.reduce_sum(o * g) for o, g in zip(outs, cotangents)])
    grads = tape.gradient(total, layer.trainable_weights + [tensors[id(a)] for a in unique])
    return [np.asarray(o) for o in outs], [np.asarray(g) for g in grads]


@st.composite
def attention_cases(draw):
    n, tq, tv = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return {"n": n, "tq": tq, "tv": tv, "d": draw(st.integers(1, 4)),
            "dv": draw(st.integers(1, 3)), "kind": draw(st.sampled_from(KINDS)),
            "key": draw(st.booleans()), "causal": draw(st.booleans()),
            "mask": draw(st.booleans()), "scores": draw(st.booleans()),
            "seed": draw(st.integers(0, 2**16))}


@given(attention_cases())
def test_attention_matches_keras_outputs_scores_and_gradients(case):
    rng = np.random.default_rng(case["seed"])
    n, tq, tv, d = case["n"], case["tq"], case["tv"], case["d"]
    q = rng.normal(size=(n, tq, d)).astype(np.float32)
    if case["key"]:
        arrays = [q, rng.normal(size=(n, tv, case["dv"])).astype(np.float32),
                  rng.normal(size=(n, tv, d)).astype(np.float32)]
    else:
        arrays = [q, rng.normal(size=(n, tv, d)).astype(np.float32)]
    kwargs = {"use_causal_mask": case["causal"], "return_attention_scores": case["scores"]}
    if case["mask"]:  # random, so some value rows are all False and some query steps padded
        kwargs["mask"] = [rng.random((n, tq)) < 0.7, rng.random((n, tv)) < 0.6]
    name, options = case["kind"]
    ours, theirs = getattr(layers, name)(**options), getattr(keras.layers, name)(**options)
    ours(arrays), theirs(arrays)  # built
    theirs.set_weights(_random_weights(ours, rng))
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    cotangents = [rng.normal(size=(n, tq, arrays[1].shape[-1])).astype(np.float32)]
    if case["scores"]:
        cotangents.append(rng.normal(size=(n, tq, tv)).astype(np.float32))
    outs, grads = minidl_call(ours, arrays, kwargs, cotangents)
    k_outs, k_grads = keras_call(theirs, arrays, kwargs, cotangents)
    assert len(outs) == len(k_outs) and len(grads) == len(k_grads)
    for a, b in zip(outs, k_outs):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    for a, b in zip(grads, k_grads):
        np.testing.assert_allclose(a, b, rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_masked_rows_as_keras_writes_them():
    """A value row all masked is softmax(S - 1e9), not zeros; a padded query step outputs 0;
    the query mask rides on the output."""
    rng = np.random.default_rng(2)
    q, v = rng.normal(size=(2, 3, 2)).astype(np.float32), rng.normal(size=(2, 4, 2)).astype(
        np.float32)
    mask = [np.array([[1, 0, 1], [1, 1, 1]], bool), np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)]
    y, scores = layers.Attention()([q, v], mask=mask, return_attention_scores=True)
    k_y, k_scores = keras.layers.Attention()([q, v], mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(y, k_y, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(scores, k_scores, rtol=RTOL, atol=ATOL)
    assert np.all(y[0, 1] == 0) and np.all(scores[0, :, 2:] == 0)
    assert np.all(scores[1] > 0)  # the fully masked row still spreads its weight
    from minidl import masks
    np.testing.assert_array_equal(masks.mask_of(y), mask[0])


# -- a text classifier ------------------------------------------------------------------------
def attention_classifier(kind="Attention", dropout=0.0, seed=0, vocabulary=12, steps=6, dim=4):
    minidl.utils.set_random_seed(seed)
    ids = layers.Input((steps,))
    x = layers.Embedding(vocabulary, dim, mask_zero=True)(ids)
    options = {"use_scale": True} if kind == "Attention" else {}
    attended = getattr(layers, kind)(dropout=dropout, name="att", **options)(
        [x, x], use_causal_mask=True)
    x = layers.GlobalAveragePooling1D()(attended)
    model = minidl.Model(ids, layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def token_data(seed, n=16, steps=6, vocabulary=12):
    """Padded token sequences (0 is padding, at the end); the label says if token 1 occurs."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocabulary, size=(n, steps))
    lengths = rng.integers(2, steps + 1, size=n)
    ids[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return ids.astype(np.float32), (ids == 1).any(axis=1).astype(np.int64)


@pytest.mark.parametrize("kind", ["Attention", "AdditiveAttention"])
def test_classifier_with_a_riding_mask_fits_as_keras(kind):
    model = attention_classifier(kind)
    twin = keras_twin(model)
    x, y = token_data(0)
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=RTOL, atol=1e-6)
    kwargs = {"epochs": 2, "batch_size": 8, "shuffle": False, "verbose": 0}
    theirs = twin.fit(x, y, **kwargs).history
    ours = model.fit(x, y, **kwargs).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("kind", ["Attention", "AdditiveAttention"])
def test_attention_dropout_in_lockstep_with_keras_on_shared_masks(kind):
    model = attention_classifier(kind, dropout=0.3)
    twin = keras_twin(model)
    x, y = token_data(1)
    with shared_noise(model, twin):
        for start in (0, 8):
            ours = model.train_on_batch(x[start:start + 8], y[start:start + 8])
            theirs = twin.train_on_batch(x[start:start + 8], y[start:start + 8])
            np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dropout_drops_keras_share_and_returns_the_dropped_weights():
    layer = layers.Attention(dropout=0.25, seed=1)
    x = np.ones((50, 8, 3), np.float32)
    y, scores = layer([x, x], return_attention_scores=True, training=True)
    dropped = np.mean(scores == 0)
    assert 0.2 < dropped < 0.3
    np.testing.assert_allclose(scores[scores != 0], 1 / 8 / 0.75, rtol=1e-6)
    np.testing.assert_allclose(y, scores @ x, rtol=1e-6)  # y uses the weights it returns


# -- central differences -------------------------------------------------------------------------
@pytest.mark.parametrize("name, options", KINDS)
def test_central_differences_with_negative_controls(float64, name, options):
    rng = np.random.default_rng(5)
    q, v, k = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 2))
    # no fully masked row here: S - 1e9 keeps only ~1e-7 of a float64 step of 1e-6 (the
    # Keras comparison covers those rows)
    mask = [np.array([[1, 1, 0], [1, 1, 1]], bool), np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)]
    layer = getattr(layers, name)(**options)
    layer([q, v, k])
    for w in layer.trainable_weights:
        w.assign(1 + 0.5 * rng.normal(size=w.shape))

    def loss_and_grads():
        with Tape() as tape:
            outs = layer([q, v, k], mask=mask, use_causal_mask=True,
                         return_attention_scores=True)
        cot = [np.cos(np.arange(o.size).reshape(o.shape)) for o in outs]
        grads = tape.gradient(list(zip(outs, cot)), layer.trainable_weights, inputs=[q, v, k])
        return sum(float((o * c).sum()) for o, c in zip(outs, cot)), grads

    def numeric(array, eps=1e-6):
        result = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + eps
            plus = loss_and_grads()[0]
            array[index] = old - eps
            minus = loss_and_grads()[0]
            array[index] = old
            result[index] = (plus - minus) / (2 * eps)
        return result

    arrays = [w.value for w in layer.trainable_weights] + [q, v, k]
    expected = [numeric(a) for a in arrays]
    for analytic, wanted in zip(loss_and_grads()[1], expected):
        np.testing.assert_allclose(analytic, wanted, rtol=1e-5, atol=1e-8)
    # negative control: the softmax's Jacobian dropped must fail the check
    from minidl.layers import dot_attention
    original = dot_attention._softmax_backward
    dot_attention._softmax_backward = lambda dA, A: dA * A
    try:
        bad = loss_and_grads()[1]
    finally:
        dot_attention._softmax_backward = original
    assert not np.allclose(bad[-3], expected[-3], rtol=1e-5, atol=1e-8)  # dq


# -- configs, summaries, files -------------------------------------------------------------------
def test_config_summary_and_files_both_ways(tmp_path):
    x = layers.Input((5, 3))
    a = layers.Attention(use_scale=True, score_mode="concat", name="att")([x, x],
                                                                          use_causal_mask=True)
    b = layers.AdditiveAttention(name="additive")([a, x])
    model = minidl.Model(x, layers.Add()([a, b]))
    model.get_layer("att").set_weights([np.float32(1.5), np.float32(0.7)])
    twin = keras_twin(model, compile=False)
    for name in ("att", "additive"):
        config = model.get_layer(name).get_config()
        keras_config = twin.get_layer(name).get_config()
        assert config == {key: keras_config[key] for key in config}
        assert set(keras_config) - set(config) == {"dtype"}  # Keras adds its dtype policy
        assert minidl_twin(twin).get_layer(name).get_config() == config
    assert [w.path for w in model.weights] == [w.path for w in twin.weights]
    ours, theirs = [], []
    model.summary(print_fn=ours.append)
    twin.summary(print_fn=theirs.append)
    assert "\n".join(ours) == "\n".join(theirs)
    data = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    path = str(tmp_path / "att.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=RTOL, atol=1e-6)
    loaded.save(str(tmp_path / "back.keras"))
    again = minidl.models.load_model(str(tmp_path / "back.keras"))
    np.testing.assert_allclose(again.predict(data, verbose=0), loaded.predict(data, verbose=0),
                               rtol=RTOL, atol=1e-6)


def test_initial_weights_as_keras():
    x = np.zeros((1, 2, 50), np.float32)
    additive = layers.AdditiveAttention()
    additive([x, x])
    limit = np.sqrt(6 / (50 + 50))  # glorot_uniform of a (50,) weight: fan_in = fan_out = 50
    scale = additive.get_weights()[0]
    assert scale.shape == (50,) and np.all(np.abs(scale) <= limit) and scale.std() > limit / 3
    dot = layers.Attention(use_scale=True, score_mode="concat")
    dot([x, x])
    assert [w.tolist() for w in dot.get_weights()] == [1.0, 1.0]


def test_keras_errors():
    x = np.zeros((1, 3, 4), np.float32)
    for layer in (layers.Attention(), keras.layers.Attention()):
        with pytest.raises(ValueError, match="must be called on a list of inputs"):
            layer(x)
        with pytest.raises(ValueError, match="accepts inputs list of length 2 or 3"):
            layer([x])
        with pytest.raises(ValueError, match="mask must be a list"):
            layer([x, x], mask=np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="score_mode"):
        layers.Attention(score_mode="additive")
    with pytest.raises(ValueError, match="rate"):
        layers.Attention(dropout=1.5)
