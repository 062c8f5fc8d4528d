"""Embedding against Keras: forward, gradients, every optimizer's step on rows, fit, files.

An Embedding's gradient reaches Keras's optimizers as a tf.IndexedSlices, one row per
occurrence of a token, and TensorFlow's sparse rules decide what each optimizer does with it
(minidl/sparse.py). The tests feed the same rows to both frameworks.

Tolerances (float32):
- forward: a gather, bit for bit.
- loss and the gradients (the rows summed per token): rtol 1e-5 / atol 1e-6, as
  tests/test_keras_parity.py (the layers after the Embedding sum in another order).
- optimizer steps on rows: weights and every slot bit for bit (0 ULPs) for SGD, Adagrad,
  RMSprop; the Adam family within POW_ULPS (TensorFlow's float32 pow, see
  tests/test_optimizers_more.py); they have agreed bit for bit here too.
- fit: History to rtol 1e-5, final weights to rtol 1e-5 / atol 1e-6.
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import optimizers
from minidl.layers import Embedding
from minidl.sparse import SparseRows
from minidl.testing import check_gradients
from minidl.variable import Variable
from reference.gradients import keras_loss_and_gradients
from reference.twins import keras_twin, minidl_twin
from tests.parity import assert_same_fit, assert_same_summary, same_random_weights

POW_ULPS = 4
V, D = 7, 3  # vocabulary size, vector size


def ulps(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return int(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64)).max())


def classifier(framework, t=5, v=V, d=D, head="pool", **embedding_options):
    """Embedding -> GlobalAveragePooling1D (or Flatten) -> Dense(sigmoid), a text classifier."""
    L = framework.layers
    pool = L.GlobalAveragePooling1D() if head == "pool" else L.Flatten()
    return framework.Sequential([L.Input((t,)), L.Embedding(v, d, **embedding_options), pool,
                                 L.Dense(1, activation="sigmoid")])


def token_data(n=16, t=5, v=V, seed=0):
    """Integer sequences with many repeated tokens; label: is the sum large?"""
    x = np.random.default_rng(seed).integers(0, v, size=(n, t))
    return x, (x.sum(axis=1) > t * (v - 1) / 2).astype(np.float32)


def twins(optimizer="rmsprop", seed=1, **options):
    minidl.utils.set_random_seed(0)
    model = classifier(minidl, **options)
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    twin = keras_twin(model)
    same_random_weights([model, twin], seed)
    return model, twin


# -- forward and gradients ----------------------------------------------------------------------
@given(shape=st.sampled_from([(4,), (3, 5), (2, 3, 2)]), seed=st.integers(0, 100))
def test_forward_is_keras_gather_bit_for_bit_negative_ids_included(shape, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(-V, V, size=shape)  # -1 is the last row in both
    ours, theirs = Embedding(V, D), keras.layers.Embedding(V, D)
    theirs.build()
    ours(np.zeros((1,)))
    ours.set_weights([rng.normal(size=(V, D)).astype(np.float32)])
    theirs.set_weights(ours.get_weights())
    for x in (ids, ids.astype(np.float32), ids + 0.7 * np.sign(ids)):  # floats: truncated
        np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))
    assert ours(ids).shape == shape + (D,) == ours.compute_output_shape(shape) + ()


@pytest.mark.parametrize("head", ["pool", "flatten"])
def test_loss_and_gradients_match_keras_with_repeated_tokens(head):
    model, twin = twins(head=head)
    x, y = token_data()
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    for ours, theirs in zip(grads, keras_grads):
        assert isinstance(ours, np.ndarray)  # the rows summed per token
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_the_gradient_is_one_row_per_occurrence_as_keras_indexed_slices():
    layer, x = Embedding(5, 2), np.array([[1, 2, 1], [4, 1, 0]])
    with minidl.tape.Tape() as tape:
        y = layer(x)
    dy = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    g, = tape.gradient([(y, dy)], [layer.embeddings])
    theirs = keras.layers.Embedding(5, 2)
    theirs.build()
    with tf.GradientTape() as keras_tape:
        keras_y = theirs(x)
    keras_g = keras_tape.gradient(keras_y, theirs.embeddings, output_gradients=dy)
    assert isinstance(g, SparseRows) and isinstance(keras_g, tf.IndexedSlices)
    np.testing.assert_array_equal(g.indices, keras_g.indices.numpy())  # [1 2 1 4 1 0]
    np.testing.assert_array_equal(g.values, keras_g.values.numpy())
    np.testing.assert_array_equal(g.dense(), tf.convert_to_tensor(keras_g).numpy())
    # row 1, seen three times: 0+1 + 4+5 + 6+7 ... summed per token by dense()
    np.testing.assert_array_equal(g.dense()[1], [0 + 4 + 8, 1 + 5 + 9])


def test_a_regularizer_makes_the_gradient_dense_as_keras_adds_it(seed=3):
    model, twin = twins(embeddings_regularizer=minidl.regularizers.l2(0.01))
    x, y = token_data(seed=seed)
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    for ours, theirs in zip(grads, keras_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert_same_fit(twin, model, x, y, epochs=2, batch_size=4)


# -- optimizer steps on rows --------------------------------------------------------------------
CASES = [("SGD", {}), ("SGD", dict(momentum=0.9)),
         ("SGD", dict(learning_rate=0.1, momentum=0.5, nesterov=True, weight_decay=0.01)),
         ("Adagrad", dict(learning_rate=0.1)),
         ("RMSprop", {}), ("RMSprop", dict(momentum=0.5)), ("RMSprop", dict(centered=True)),
         ("RMSprop", dict(learning_rate=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
         ("Adam", {}), ("Adam", dict(amsgrad=True)), ("AdamW", dict(weight_decay=0.1)),
         ("Adamax", {}), ("Nadam", {}),
         ("SGD", dict(clipnorm=0.5)), ("RMSprop", dict(clipvalue=0.3)),
         ("Adagrad", dict(global_clipnorm=0.5)), ("Adam", dict(global_clipnorm=0.5))]


def run_rows(name, options, steps=5, seed=0, ours=None):
    """`steps` updates of a (V, D) table and a bias in both frameworks, from the same rows
    (8 occurrences of tokens, so repeats; the last token only in the first step).
    Returns (ULP gap of the weights, ULP gap of the state, our table after the first step
    and at the end)."""
    rng = np.random.default_rng(seed)
    ours = ours or getattr(optimizers, name)(**options)
    theirs = getattr(keras.optimizers, name)(**options)
    table, bias = rng.normal(size=(V, D)).astype(np.float32), rng.normal(size=D).astype(np.float32)
    mine = [Variable(table.copy(), "embeddings"), Variable(bias.copy(), "bias")]
    keras_vars = [keras.Variable(table.copy(), name="embeddings"), keras.Variable(bias.copy(),
                                                                                 name="bias")]
    worst, first = 0, None
    for step in range(steps):
        ids = rng.integers(0, V if step == 0 else V - 1, size=8).astype(np.int32)
        ids[-1] = V - 1 if step == 0 else ids[-1]
        rows = (rng.normal(size=(8, D)) * rng.choice([1e-3, 0.1, 1.0])).astype(np.float32)
        g_bias = rng.normal(size=D).astype(np.float32)
        ours.apply([SparseRows(ids, rows, (V, D)), g_bias], mine)
        theirs.apply([tf.IndexedSlices(rows, ids, (V, D)), g_bias], keras_vars)
        worst = max([worst] + [ulps(a.value, b.numpy()) for a, b in zip(mine, keras_vars)])
        first = mine[0].numpy() if first is None else first
    state = max([0] + [ulps(a, b.numpy()) for a, b in zip(ours.variables[1:],
                                                         theirs.variables[1:])])
    return worst, state, first, mine[0].value


@pytest.mark.parametrize("name, options", CASES)
def test_steps_on_rows_match_keras_weights_and_slots(name, options):
    worst, state, first, last = run_rows(name, options)
    adam_family = name in ("Adam", "AdamW", "Adamax", "Nadam")
    allowed = POW_ULPS if adam_family else 0
    assert worst <= allowed and state <= allowed, (worst, state)
    # The last token's row after the step that saw it: the scatters (plain SGD, Adagrad,
    # RMSprop without momentum) leave it alone; a velocity or a weight decay moves it on.
    moves = adam_family or bool(options.get("momentum")) or "weight_decay" in options
    assert (last[V - 1] != first[V - 1]).any() == moves


class SummedRows(optimizers.RMSprop):
    """The textbook reading: sum the rows per token, then the dense formula."""

    def sparse_update_step(self, g, w, lr, **slots):
        self.update_step(g.dense(), w, lr, **slots)


def test_negative_control_summing_the_rows_first_is_not_keras():
    worst, state, _, _ = run_rows("RMSprop", {}, ours=SummedRows())
    assert worst > 1000 and state > 1000


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd", "adagrad"])
def test_fit_matches_keras_loss_curve_and_weights(optimizer):
    model, twin = twins(optimizers.get(optimizer).__class__(learning_rate=0.05))
    x, y = token_data(n=24)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=8, evaluate=False)
    for ours, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_dense_model_keeps_the_flat_step_and_an_embedding_model_steps_per_variable():
    model, _ = twins("adam")
    x, y = token_data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    _, grads = model.loss_and_gradients(x, y)
    model.train_on_batch(x, y)
    table = model.layers[0].embeddings
    assert table.value.base is model.optimizer._flat.values  # still laid end to end
    np.testing.assert_array_equal(table.grad, grads[0])  # the step leaves the dense sum there
    dense = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(2)])
    dense.compile("adam", "mse")
    dense.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    kernel = dense.layers[0].kernel
    assert kernel.grad.base is dense.optimizer._flat.grads  # the flat path wrote it


# -- the layer as Keras has it ------------------------------------------------------------------
def test_functional_int32_input_shared_table_and_ints_or_floats_alike():
    tokens = minidl.Input((4,), dtype="int32")
    table = Embedding(V, D)
    pooled = minidl.layers.GlobalAveragePooling1D()
    both = minidl.layers.Add()([pooled(table(tokens)), pooled(table(tokens))])
    model = minidl.Model(tokens, minidl.layers.Dense(1)(both))
    model.compile("sgd", "mse")
    x, y = token_data(n=6, t=4)
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  model.predict(x.astype(np.float32), verbose=0))
    twin = keras_twin(model)
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y)
    loss, grads = model.loss_and_gradients(x, y)
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    for ours, theirs in zip(grads, keras_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_float64_gradient_check_with_a_negative_control(float64):
    model = classifier(minidl)
    model.compile("sgd", "binary_crossentropy")
    x, y = token_data(n=6)
    assert check_gradients(model, x, y).passed

    class LastWriteWins(Embedding):  # the classic bug: dW[x] = dy keeps one repeat per token
        def backward(self, dy, ids, need_dx=True):
            dW = np.zeros(self.embeddings.shape, dy.dtype)
            dW[ids.reshape(-1)] = dy.reshape(-1, self.output_dim)
            return np.zeros(ids.shape, dy.dtype), {self.embeddings: dW}

    wrong = minidl.Sequential([minidl.layers.Input((5,)), LastWriteWins(V, D),
                               minidl.layers.GlobalAveragePooling1D(),
                               minidl.layers.Dense(1, activation="sigmoid")])
    wrong.compile("sgd", "binary_crossentropy")
    wrong.set_weights(model.get_weights())
    check = check_gradients(wrong, x, y)
    assert not check.passed and check.failed == [wrong.layers[0].embeddings.path]


def test_config_both_ways_summary_and_files(tmp_path, monkeypatch, capsys):
    model, twin = twins(embeddings_initializer="he_normal",
                        embeddings_regularizer=minidl.regularizers.l2(1e-3))
    layer = model.layers[0]
    config = layer.get_config()
    keras_config = twin.layers[0].get_config()
    for key in ("name", "input_dim", "output_dim", "embeddings_constraint", "mask_zero"):
        assert config[key] == keras_config[key]
    assert set(config) <= set(keras_config)
    assert Embedding.from_config(config).get_config() == config
    back = minidl_twin(twin)
    assert back.layers[0].get_config()["input_dim"] == V
    assert back.count_params() == model.count_params() == twin.count_params() == V * D + D + 1
    monkeypatch.setenv("COLUMNS", "100")
    assert_same_summary(model, twin, capsys)
    x, _ = token_data()
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(minidl.models.load_model(tmp_path / "m.keras").predict(
        x, verbose=0), model.predict(x, verbose=0))
    for suffix in (".weights.h5", ".weights.npz"):
        model.save_weights(tmp_path / f"m{suffix}")
        other = classifier(minidl)
        other.load_weights(tmp_path / f"m{suffix}")
        np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    other = classifier(keras)
    other.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(other.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_initial_weights_argument_as_keras():
    table = np.arange(V * D, dtype=np.float32).reshape(V, D)
    for weights in (table, [table]):
        layer = Embedding(V, D, weights=weights)
        np.testing.assert_array_equal(layer(np.array([[2]]))[0, 0], table[2])


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("input_dim, output_dim", [(0, 3), (5, 0), (5.0, 3), (True, 3),
                                                   (np.int64(5), 3), (5, "3")])
def test_bad_dimensions_raise_keras_message(input_dim, output_dim):
    with pytest.raises(ValueError) as keras_error:
        keras.layers.Embedding(input_dim, output_dim)
    with pytest.raises(ValueError) as error:
        Embedding(input_dim, output_dim)
    assert str(error.value) == str(keras_error.value)


@pytest.mark.parametrize("option", [dict(lora_rank=2)])
def test_what_minidl_lacks_is_refused_by_name(option):
    with pytest.raises(ValueError, match=list(option)[0]):
        Embedding(V, D, **option)


def test_unknown_arguments_and_input_length_as_keras():
    with pytest.raises(ValueError, match=r"Unrecognized keyword arguments passed to "
                                         r"Embedding: \{'sparse': True\}"):
        Embedding(V, D, sparse=True)
    with pytest.warns(UserWarning, match="`input_length` is deprecated"):
        Embedding(V, D, input_length=4)


@pytest.mark.parametrize("bad, message", [(V, f"indices\\[0,1\\] = {V} is not in \\[0, {V}\\)"),
                                          (-V - 1, f"indices\\[0,1\\] = -1 is not in")])
def test_an_id_out_of_range_is_tensorflows_error(bad, message):
    x = np.array([[1, bad, 2]])
    theirs = keras.layers.Embedding(V, D)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        theirs(x)
    with pytest.raises(ValueError, match=message):
        Embedding(V, D)(x)
