"""Masks (minidl/masks.py) do what Keras's do, checked against live Keras with the same weights.

- drawn padded batches (rows of drawn lengths, "pre" or "post" padding, padding ids inside a
  row too, and a row of padding only where Keras gives numbers for it), through
  Embedding(mask_zero=True) or Masking, then SimpleRNN/LSTM/GRU (return_sequences both ways,
  go_backwards) or Bidirectional (every merging merge mode), then a Dense on the last output,
  GlobalAveragePooling1D, or a Dense on every step with a per-step loss (the masked loss):
  outputs, the loss fit minimises, and the gradient of every weight agree with Keras's.
  Tolerance: rtol 1e-5, atol 1e-6 (tests/parity.py), as tests/test_recurrent.py: each step
  rounds sums of D + U float32 products (eps 6e-8, ~1e-6 of values of order 1 after a few
  steps), and backward walks the same steps; masked steps only select (np.where), which adds
  no rounding. The loss is compared at rtol 1e-6 (one mean of T*N values).
- merge layers combine masks as Keras's (Add: any; Concatenate), and Dot drops them.
- short fits against the Keras twin's History (masked loss and masked accuracy), rtol 1e-5.
- float64 central differences through masked steps (minidl.testing.check_gradients), with a
  negative control: a recurrent layer whose backward does not carry a masked step's state
  gradient to the step before must fail.
- configs, summary() and .keras files both ways with mask_zero=True and Masking.
- Keras's warning (and a dropped mask) for a layer that does not support masking; the errors
  Keras raises (sample weights on a masked output), and minidl's refusals by name.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import masks
from minidl.layers import (GRU, LSTM, Add, Bidirectional, Concatenate, Dense, Dot, Embedding,
                           Flatten, GlobalAveragePooling1D, Masking, SimpleRNN)
from minidl.saving.layer_config import layer_to_config
from minidl.testing import check_gradients
from reference.twins import keras_twin
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, same_random_weights

RNNS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
V, D, C = 6, 3, 3  # vocabulary (id 0 is padding), features per step, classes


# -- padded batches -------------------------------------------------------------------------------
@st.composite
def padded_batches(draw, allow_empty_row):
    """(ids (N,T) with 0 as padding, lengths): rows of drawn lengths, padded before or after,
    with padding ids inside some rows too (a mask need not be a prefix)."""
    n = draw(st.integers(2, 4))
    steps = draw(st.integers(1, 5))
    lengths = draw(st.lists(st.integers(0 if allow_empty_row else 1, steps), min_size=n,
                            max_size=n))
    rows = [draw(st.lists(st.integers(0, V - 1), min_size=k, max_size=k)) for k in lengths]
    if not allow_empty_row:  # each row keeps at least one real step
        rows = [[max(row[0], 1)] + row[1:] for row in rows]
    padding = draw(st.sampled_from(["pre", "post"]))
    return minidl.utils.pad_sequences(rows, maxlen=steps, padding=padding).astype(np.float32)


@st.composite
def masked_models(draw):
    """A drawn masked model (its layers as specs) and a padded batch for it."""
    front = draw(st.sampled_from(["embedding", "masking"]))
    kind = draw(st.sampled_from(sorted(RNNS)))
    merge = draw(st.sampled_from([None, "concat", "sum", "ave", "mul"]))  # None: no wrapper
    return_sequences = draw(st.booleans())
    go_backwards = merge is None and draw(st.booleans())
    head = draw(st.sampled_from(["steps", "pool"])) if return_sequences else "last"
    # GlobalAveragePooling1D of a row with no real step is 0/0 = nan in Keras: rows there
    # keep a step; everywhere else a row of padding only is drawn too.
    ids = draw(padded_batches(allow_empty_row=head != "pool"))
    seed = draw(st.integers(0, 2 ** 16))
    return dict(front=front, kind=kind, merge=merge, return_sequences=return_sequences,
                go_backwards=go_backwards, head=head, seed=seed), ids


def build(spec, steps):
    """The minidl model of a spec, compiled; Masking reads (N,T,D) vectors, -1.0 as padding."""
    if spec["front"] == "embedding":
        inputs = minidl.Input((steps,))
        h = Embedding(V, D, mask_zero=True)(inputs)
    else:
        inputs = minidl.Input((steps, D))
        h = Masking(mask_value=-1.0)(inputs)
    rnn = RNNS[spec["kind"]](4, return_sequences=spec["return_sequences"],
                             go_backwards=spec["go_backwards"])
    h = rnn(h) if spec["merge"] is None else Bidirectional(rnn, merge_mode=spec["merge"])(h)
    if spec["head"] == "pool":
        h = GlobalAveragePooling1D()(h)
    outputs = Dense(C, activation="softmax")(h)
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data_for(spec, ids, seed):
    """The model's input for these ids (vectors with -1.0 steps for Masking) and labels."""
    rng = np.random.default_rng(seed)
    x = ids
    if spec["front"] == "masking":
        x = rng.normal(size=ids.shape + (D,)).astype(np.float32)
        x[ids == 0] = -1.0  # every feature of a padded step is the mask value
    labels = rng.integers(0, C, size=ids.shape if spec["head"] == "steps" else ids.shape[:1])
    return x, labels


@given(masked_models())
def test_masked_models_match_keras(case):
    spec, ids = case
    model = build(spec, ids.shape[1])
    x, y = data_for(spec, ids, spec["seed"])
    twin = keras_twin(model)
    same_random_weights([model, twin], spec["seed"])
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert_same_loss_and_gradients(twin, model, x, y)


def test_a_row_of_padding_only_gives_keras_values():
    """An LSTM keeps its zero state and outputs 0 for it (Keras's numbers); a masked mean over
    no step is nan in both."""
    ids = np.array([[2, 3, 0], [0, 0, 0]], np.float32)
    inputs = minidl.Input((3,))
    sequence = LSTM(2, return_sequences=True)(Embedding(V, D, mask_zero=True)(inputs))
    model = minidl.Model(inputs, [sequence, GlobalAveragePooling1D()(sequence)])
    twin = keras_twin(model, compile=False)
    same_random_weights([model, twin], 1)
    ours, theirs = model.predict(ids, verbose=0), twin.predict(ids, verbose=0)
    np.testing.assert_array_equal(ours[0][1], 0)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-6)
    assert np.isnan(theirs[1][1]).all() and np.isnan(ours[1][1]).all()
    np.testing.assert_allclose(ours[1][0], theirs[1][0], rtol=1e-5)


def test_merge_layers_combine_masks_as_keras():
    """Add: a step is real in either input, no mask if one input has none; Concatenate along
    the features: real in either; Dot drops the mask. Seen by the recurrent layers after."""
    a, b, c = minidl.Input((4,)), minidl.Input((4,)), minidl.Input((4, D))
    ea, eb = Embedding(V, D, mask_zero=True)(a), Embedding(V, D, mask_zero=True)(b)
    added = LSTM(2, return_sequences=True)(Add()([ea, eb]))
    joined = GRU(2)(Concatenate(name="join")([ea, eb]))  # ("concatenate" clashes in Keras)
    unmasked = SimpleRNN(2)(Add()([ea, c]))
    model = minidl.Model([a, b, c], [added, joined, unmasked])
    twin = keras_twin(model, compile=False)
    same_random_weights([model, twin], 2)
    x = [np.array([[1, 2, 0, 0], [0, 0, 3, 0]], np.float32),
         np.array([[0, 0, 0, 4], [0, 0, 5, 0]], np.float32),
         np.random.default_rng(2).normal(size=(2, 4, D)).astype(np.float32)]
    for ours, theirs in zip(model.predict(x, verbose=0), twin.predict(x, verbose=0)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(masks.mask_of(model(x)[0]), (x[0] != 0) | (x[1] != 0))
    v = minidl.Input((2, 2))
    dot = minidl.Model(v, Dot(axes=2)([Masking()(v), Masking()(v)]))
    assert masks.mask_of(dot(np.ones((1, 2, 2), np.float32))) is None


# -- training: fits against Keras's History --------------------------------------------------------
def test_a_masked_sequence_fit_matches_keras():
    """Embedding(mask_zero) -> Bidirectional(LSTM) -> Dense on every step: the per-step loss
    and accuracy count the real steps only (Keras's apply_mask), over batches and epochs."""
    minidl.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    lengths = rng.integers(1, 7, size=24)
    ids = minidl.utils.pad_sequences([rng.integers(1, V, size=k) for k in lengths], maxlen=6,
                                     padding="post").astype(np.float32)
    y = rng.integers(0, C, size=ids.shape)
    inputs = minidl.Input((6,))
    h = Bidirectional(LSTM(4, return_sequences=True))(Embedding(V, D, mask_zero=True)(inputs))
    model = minidl.Model(inputs, Dense(C, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    assert_same_fit(keras_twin(model), model, ids, y, epochs=2, batch_size=8,
                    validation_split=0.25)


def test_a_masking_lstm_fit_matches_keras():
    """Masking -> LSTM -> Dense on padded vectors from pad_sequences, regression."""
    minidl.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    rows = [rng.normal(size=(k, 2)) for k in rng.integers(1, 6, size=20)]
    x = minidl.utils.pad_sequences(rows, maxlen=5, dtype="float32", padding="pre")
    y = rng.normal(size=(20, 1)).astype(np.float32)
    model = minidl.Sequential([minidl.Input((5, 2)), Masking(), LSTM(3), Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    assert_same_fit(keras_twin(model), model, x, y, epochs=2, batch_size=6)


# -- float64 gradient checks, with a negative control --------------------------------------------
class CarryLessLSTM(LSTM):
    """Wrong on purpose: a masked step does not hand its state's gradient to the step before."""

    def _masked_step_backward(self, doutput, dstates, m, cache, need_dx):
        dx, dstates, doutput, grads = super()._masked_step_backward(
            doutput, dstates, m, cache, need_dx)
        zero = doutput.dtype.type(0)
        return dx, [np.where(m, d, zero) for d in dstates], doutput, grads


def masked_sequence_model(rnn):
    inputs = minidl.Input((4,))
    h = rnn(Embedding(V, D, mask_zero=True, embeddings_initializer="normal")(inputs))
    model = minidl.Model(inputs, Dense(C, activation="softmax")(h))
    model.compile(loss="sparse_categorical_crossentropy")
    return model


def test_central_differences_through_masked_steps(float64):
    ids = np.array([[1, 0, 2, 0], [0, 3, 4, 5], [0, 0, 0, 0]], np.float64)  # holes, a blank row
    y = np.array([[0, 1, 2, 0], [1, 1, 0, 2], [2, 0, 1, 1]])
    minidl.utils.set_random_seed(7)
    for rnn in (LSTM(3, return_sequences=True), GRU(3, return_sequences=True, go_backwards=True),
                Bidirectional(SimpleRNN(2, return_sequences=True), merge_mode="sum")):
        result = check_gradients(masked_sequence_model(rnn), ids, y)
        assert result.passed, result
    x = np.array([[[0.5, -1.0], [0.0, 0.0], [1.5, 0.2]]])  # a hole in the middle
    model = minidl.Sequential([minidl.Input((3, 2)), Masking(), LSTM(2), Dense(1)])
    model.compile(loss="mse")
    # not check_input: nudging a padded step's zeros makes it real (the mask is a step function)
    result = check_gradients(model, x, np.array([[0.3]]))
    assert result.passed, result
    # the negative control: the state's gradient stops at a masked step (the hole at t=1)
    minidl.utils.set_random_seed(7)
    wrong = masked_sequence_model(CarryLessLSTM(3, return_sequences=True))
    assert not check_gradients(wrong, ids, y).passed


# -- configs, summary, files -----------------------------------------------------------------------
@pytest.mark.parametrize("layer", [Embedding(V, D, mask_zero=True, name="e"),
                                   Masking(mask_value=-1.0, name="m"), Masking()],
                         ids=["Embedding", "Masking(-1.0)", "Masking"])
def test_config_is_keras_config_and_round_trips(layer):
    ours = layer_to_config(layer, "float32")
    theirs = keras.layers.serialize(keras.layers.deserialize(ours))
    assert ours["class_name"] == theirs["class_name"] == type(layer).__name__
    # (Keras also writes activity_regularizer=None for an Embedding; minidl leaves a None out)
    assert ours["config"] == {key: theirs["config"][key] for key in ours["config"]}
    assert set(theirs["config"]) - set(ours["config"]) <= {"activity_regularizer"}
    assert layer_to_config(type(layer).from_config(layer.get_config()), "float32") == ours


def file_model():
    minidl.utils.set_random_seed(8)
    a, b = minidl.Input((5,)), minidl.Input((5, 2))
    left = Bidirectional(GRU(3))(Embedding(V, D, mask_zero=True)(a))
    right = LSTM(3, return_sequences=True, go_backwards=True)(Masking(mask_value=-1.0)(b))
    return minidl.Model([a, b], [Dense(2)(left), GlobalAveragePooling1D()(right)])


def file_data():
    ids = np.array([[1, 2, 0, 0, 0], [3, 0, 4, 5, 1]], np.float32)
    vectors = np.random.default_rng(8).normal(size=(2, 5, 2)).astype(np.float32)
    vectors[0, 3:] = -1.0
    return [ids, vectors]


def test_keras_files_cross_both_ways(tmp_path):
    model, x = file_model(), file_data()
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "minidl.keras")
    theirs = keras.saving.load_model(tmp_path / "minidl.keras")
    for a, b in zip(theirs.predict(x, verbose=0), expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "keras.keras")
    back = minidl.saving.load_model(tmp_path / "keras.keras")
    for a, b in zip(back.predict(x, verbose=0), expected):
        np.testing.assert_array_equal(a, b)
    assert back.get_layer(index=2).mask_zero is True


def test_summary_prints_what_keras_prints(capsys, monkeypatch):
    """Sequential models. (A functional model's summary in Keras also lists the ops that
    compute its masks, NotEqual and Any, as rows; minidl's lists its layers only.)"""
    monkeypatch.setenv("COLUMNS", "80")
    for model in (minidl.Sequential([minidl.Input((5,)), Embedding(V, D, mask_zero=True),
                                     Bidirectional(LSTM(2))]),
                  minidl.Sequential([minidl.Input((5, 2)), Masking(-1.0), GRU(3)])):
        twin = keras_twin(model, compile=False)
        capsys.readouterr()
        twin.summary()
        theirs = capsys.readouterr().out
        model.summary()
        assert capsys.readouterr().out == theirs
    assert "(Masking)" in theirs


# -- what masks do not reach: warnings, errors, models without masks -------------------------------
def test_a_layer_without_masking_drops_the_mask_with_keras_warning():
    ids = np.array([[1, 2, 0], [0, 0, 3]], np.float32)
    y = np.array([0, 1])
    inputs = minidl.Input((3,))
    model = minidl.Model(inputs, Dense(2, activation="softmax")(
        Flatten()(Embedding(V, D, mask_zero=True)(inputs))))
    model.compile(loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        twin = keras_twin(model)
        twin.predict(ids, verbose=0)
    theirs = {str(w.message) for w in caught if "mask" in str(w.message)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict(ids, verbose=0)
    assert {str(w.message) for w in caught} == theirs and len(theirs) == 1
    same_random_weights([model, twin], 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_loss_and_gradients(twin, model, ids, y)  # no mask left on the loss


def test_sample_weights_on_a_masked_output_are_refused_as_keras_fails():
    spec = dict(front="embedding", kind="GRU", merge=None, return_sequences=True,
                go_backwards=False, head="steps")
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [1, 1, 1, 1]], np.float32)  # N=3, T=4
    x, y = data_for(spec, ids, 0)
    model = build(spec, 4)
    twin = keras_twin(model)
    with pytest.raises(Exception):  # Keras: a shape error inside its graph
        twin.evaluate(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="sample_weight"):
        model.evaluate(x, y, sample_weight=np.ones(3), verbose=0)


@pytest.mark.parametrize("tail, message", [
    (lambda: minidl.layers.Softmax(), "Softmax"),
    (lambda: minidl.layers.BatchNormalization(), "BatchNormalization"),
])
def test_layers_using_masks_minidl_does_not_refuse_them_by_name(tail, message):
    inputs = minidl.Input((3,))
    model = minidl.Model(inputs, tail()(Embedding(V, D, mask_zero=True)(inputs)))
    model.compile(loss="mse")
    ids = np.array([[1, 0, 2]], np.float32)
    with pytest.raises(ValueError, match=f"minidl's {message} does not implement masks"):
        model.fit(ids, np.zeros((1, 3, D), np.float32), verbose=0)


def test_an_eager_chain_keeps_the_mask_and_unmasked_models_make_none():
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], np.float32)
    embedding, lstm = Embedding(V, D, mask_zero=True), LSTM(2)
    eager = lstm(embedding(ids))  # two outermost calls: the mask rides from one to the next
    inputs = minidl.Input((4,))
    model = minidl.Model(inputs, lstm(embedding(inputs)))
    np.testing.assert_array_equal(eager, model.predict(ids, verbose=0))
    assert not np.allclose(eager, lstm(embedding.forward(ids)[0]))  # unmasked differs
    plain = minidl.Sequential([minidl.Input((4,)), Embedding(V, D), LSTM(2)])
    assert masks.mask_of(plain(ids)) is None and not masks._local.table
