"""Operators, minidl.ops and activations on a functional model's KerasTensors, and activations
called inside a call() of your own, against live Keras 3.

Keras 3 lets a functional model compute between layers with operators and ops
(`res = x + inputs`, `inputs / 255.0`, `ops.expand_dims(x, -1)`, `x[:, -1]`): each becomes a
node (minidl/layers/operation.py). The same builder runs on both libraries, the weights are
copied from Keras, and the summaries, predictions, fits and gradients are compared.

Tolerances: forward values to float32 rounding (rtol 1e-6: the same float32 operations in
the same order); a History and the weights after two epochs to rtol 1e-5 (the matrix
products' sums are ordered differently by TensorFlow's kernels and NumPy's BLAS, an ULP or
two a step); gradients of single ops to rtol 1e-6, atol 1e-7 (one rounding each).
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import minidl
from tests.parity import assert_same_summary


def build(lib):
    """A functional model wired with operators and ops between its layers, on `lib`."""
    ops, layers = lib.ops, lib.layers
    inputs = lib.Input((4,), name="features")
    scaled = inputs / 2.0 - 0.25
    h = layers.Dense(4, activation="tanh", name="hidden")(scaled)
    res = h + scaled  # the residual of keras.io's Transformer encoder, as it writes it
    res = ops.expand_dims(res * res, -1)  # (None, 4, 1)
    tiled = ops.concatenate([res, ops.flip(res, axis=1), -res], axis=-1)  # (None, 4, 3)
    pooled = ops.max(tiled, axis=-1) + ops.mean(tiled, axis=-1)  # (None, 4)
    squeezed = ops.squeeze(ops.expand_dims(pooled[:, 1:], 1), 1)  # (None, 3)
    z = layers.Dense(2, name="head")(ops.cumsum(squeezed, axis=-1) ** 2)
    outputs = lib.activations.sigmoid(z)
    return lib.Model(inputs, outputs)


def fresh_names():
    """Both libraries number the ops' names from scratch ("add", "add_1", ...), whatever the
    tests before this one made."""
    keras.backend.clear_session()
    minidl.backend.clear_session()


@pytest.fixture(scope="module")
def twins():
    fresh_names()
    keras.utils.set_random_seed(3)
    theirs, ours = build(keras), build(minidl)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_the_graph_and_its_summary_are_keras_s(twins, capsys):
    theirs, ours = twins
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert ours.output.shape == theirs.output.shape
    assert_same_summary(ours, theirs, capsys)


def test_predict_and_fit_agree(twins):
    theirs, ours = twins
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    y = (rng.random((48, 2)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    for model in twins:
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    history_theirs, history_ours = theirs.fit(x, y, **fit).history, ours.fit(x, y, **fit).history
    assert sorted(history_ours) == sorted(history_theirs)
    for key in history_theirs:
        np.testing.assert_allclose(history_ours[key], history_theirs[key], rtol=1e-5)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


def test_symbolic_dtypes_and_shapes_are_keras_s():
    for lib in (keras, minidl):
        x = lib.Input((3, 5))
        checks = [x > 0, lib.ops.argmax(x, -1), lib.ops.cast(x, "int32"), x[:, -1],
                  lib.ops.reshape(x, (-1, 15)), lib.ops.transpose(x, (0, 2, 1))]
        found = [(tuple(t.shape), str(t.dtype)) for t in checks]
        if lib is keras:
            expected = found
    assert found == expected


# -- the newly recorded ops' gradients, each against tf.GradientTape -------------------------
X = np.array([[3.0, -1.0, 3.0, 0.5], [2.0, 2.0, -4.0, 2.0]], np.float32)  # ties for max/min
CASES = {
    "max": lambda ops, x: ops.max(x, axis=1),
    "min": lambda ops, x: ops.min(x, axis=0, keepdims=True),
    "max_all": lambda ops, x: ops.max(x),
    "expand_dims": lambda ops, x: ops.expand_dims(x, 1) * x[:, None, :],
    "squeeze": lambda ops, x: ops.squeeze(ops.expand_dims(x, 0)) * x,
    "broadcast_to": lambda ops, x: ops.broadcast_to(x[:1], (3, 4)),
    "flip": lambda ops, x: ops.flip(x, axis=1) * x,
    "tile": lambda ops, x: ops.tile(x, (2, 3)),
    "repeat": lambda ops, x: ops.repeat(x, 3, axis=1),
    "repeat_flat": lambda ops, x: ops.repeat(x, 2),
    "cumsum": lambda ops, x: ops.cumsum(x, axis=1),
    "cumsum_flat": lambda ops, x: ops.cumsum(x),
    "reciprocal": lambda ops, x: ops.reciprocal(x),
    "true_divide": lambda ops, x: ops.true_divide(x, x * x + 1.0),
    "var": lambda ops, x: ops.var(x, axis=1),
    "var_all": lambda ops, x: ops.var(x),
    "std": lambda ops, x: ops.std(x, axis=0, keepdims=True),
    "logsumexp": lambda ops, x: ops.logsumexp(x, axis=1),
    "logsumexp_all": lambda ops, x: ops.logsumexp(x, keepdims=True),
}


def _gradients(case):
    """d(sum(out * weights))/dx in Keras (tf.GradientTape) and in minidl (minidl.GradientTape)."""
    out_tf = None
    x_tf = tf.Variable(X)
    with tf.GradientTape() as tape:
        out_tf = CASES[case](keras.ops, x_tf)
        weights = np.arange(1, np.size(out_tf) + 1, dtype=np.float32).reshape(out_tf.shape)
        target = tf.reduce_sum(out_tf * weights)
    theirs = tape.gradient(target, x_tf).numpy()
    x = minidl.Variable(X.copy())
    with minidl.GradientTape() as tape:
        target = minidl.ops.sum(CASES[case](minidl.ops, x) * weights)
    ours, = tape.gradient(target, [x])
    return ours, theirs


@pytest.mark.parametrize("case", sorted(CASES))
def test_recorded_op_gradients_match_tensorflow(case):
    """rtol 1e-6 on gradients of size 1-10: var, std and logsumexp sum in another order than
    TensorFlow's kernels (measured: an ULP or two)."""
    ours, theirs = _gradients(case)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_the_gradient_comparison_can_fail():
    """Negative control: max's gradient sent whole to the first of its tied entries (what
    np.argmax would pick) is not TensorFlow's, which shares it among the ties."""
    ours, theirs = _gradients("max")
    first_only = np.zeros_like(X)
    first_only[np.arange(len(X)), X.argmax(axis=1)] = np.arange(1, len(X) + 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(first_only, theirs, rtol=1e-6, atol=1e-7)


# -- activations called in a call() of your own (Géron's tied-weights autoencoder) ------------
def tied_autoencoder(lib, activation):
    class DenseTranspose(lib.layers.Layer):
        def __init__(self, dense, activation=None, **kwargs):
            self.dense = dense
            self.activation = lib.activations.get(activation)
            super().__init__(**kwargs)

        def build(self, batch_input_shape):
            self.biases = self.add_weight(name="bias", shape=[self.dense.kernel.shape[0]],
                                          initializer="zeros")

        def call(self, inputs):
            z = lib.ops.matmul(inputs, lib.ops.transpose(self.dense.kernel))
            return self.activation(z + self.biases)

    dense = lib.layers.Dense(3, activation=activation)
    inputs = lib.Input((6,))
    outputs = DenseTranspose(dense, activation="sigmoid")(dense(inputs))
    model = lib.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("activation", ["selu", "gelu", "mish", "elu"])
def test_activations_inside_call_train_as_keras(activation):
    keras.utils.set_random_seed(5)
    theirs, ours = tied_autoencoder(keras, activation), tied_autoencoder(minidl, activation)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(1).random((32, 6)).astype(np.float32)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, x, **fit).history["loss"],
                               theirs.fit(x, x, **fit).history["loss"], rtol=1e-5)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


# -- a loss function inside a regularizer of your own (Géron's sparse autoencoder) ------------
def sparse_autoencoder(lib):
    class KLDivergenceRegularizer(lib.regularizers.Regularizer):
        def __init__(self, weight, target=0.1):
            self.weight, self.target = weight, target

        def __call__(self, inputs):
            mean_activities = lib.ops.mean(inputs, axis=0)
            return self.weight * (
                lib.losses.kl_divergence(self.target, mean_activities)
                + lib.losses.kl_divergence(1.0 - self.target, 1.0 - mean_activities))

    model = lib.Sequential([
        lib.Input((6,)),
        lib.layers.Dense(5, activation="sigmoid",
                         activity_regularizer=KLDivergenceRegularizer(0.05)),
        lib.layers.Dense(6, activation="sigmoid")])
    model.compile(optimizer=lib.optimizers.SGD(learning_rate=1.0), loss="binary_crossentropy")
    return model


def test_a_loss_function_in_a_regularizer_trains_as_keras():
    """kl_divergence(target, mean) compares a number with a vector: Keras matches no ranks
    there, and minidl records it on the tape without matching them either."""
    keras.utils.set_random_seed(7)
    theirs, ours = sparse_autoencoder(keras), sparse_autoencoder(minidl)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(2).random((32, 6)).astype(np.float32)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, x, **fit).history["loss"],
                               theirs.fit(x, x, **fit).history["loss"], rtol=1e-5)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


# -- .keras files: the ops between layers, written and read as Keras's ------------------------
def build_for_saving(lib):
    ops, layers = lib.ops, lib.layers
    x = lib.Input((3, 4), name="inp")
    h = layers.Dense(4, name="d")(x)
    y = (h + x) * 2.0 - 1
    y = ops.concatenate([ops.expand_dims(y, 1), -ops.expand_dims(x, 1)], axis=1)
    y = y[:, 0, ..., 1:3] ** 2
    y = ops.where(y > 0.5, y, 0.0)
    y = ops.max(ops.reshape(y, (-1, 6)), axis=-1, keepdims=True)
    return lib.Model(x, ops.cast(lib.activations.sigmoid(y), "float32"))


def test_ops_are_written_and_read_as_keras_s(tmp_path):
    fresh_names()
    keras.utils.set_random_seed(0)
    theirs, ours = build_for_saving(keras), build_for_saving(minidl)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(3).random((5, 3, 4)).astype(np.float32)
    expected = theirs.predict(x, verbose=0)

    def ops_of(model):  # as the file holds them (JSON: Keras's tuples become lists)
        return [entry for entry in json.loads(json.dumps(model.get_config()["layers"]))
                if entry["module"].startswith("keras.src.ops")]
    assert ops_of(theirs) and ops_of(ours) == ops_of(theirs)
    ours.save(tmp_path / "minidl.keras")
    theirs.save(tmp_path / "keras.keras")
    from_minidl = keras.models.load_model(tmp_path / "minidl.keras")
    from_keras = minidl.models.load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(from_minidl.predict(x, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(from_keras.predict(x, verbose=0), expected, rtol=1e-6)
    assert ops_of(from_keras) == ops_of(theirs)


def test_the_saved_ops_split_their_arguments_as_keras_s_classes():
    """Each op minidl writes: Keras's class of that name, in that module, calls on exactly
    the arguments minidl writes as the node's args (the rest are the class's config)."""
    import importlib
    import inspect

    from minidl.layers.operation import SAVED_CALL_ARGUMENTS
    for name, (kind, call_names) in SAVED_CALL_ARGUMENTS.items():
        class_name = "".join(part.capitalize() for part in name.split("_"))
        cls = getattr(importlib.import_module(f"keras.src.ops.{kind}"), class_name)
        call = [p for p in inspect.signature(cls.call).parameters if p != "self"]
        assert tuple(call) == call_names, name


def test_an_op_minidl_cannot_write_is_refused_before_the_file_is_made(tmp_path):
    x = minidl.Input((4,))
    model = minidl.Model(x, minidl.ops.logsumexp(x, axis=-1))
    with pytest.raises(ValueError, match="ops.logsumexp"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


# -- ops.take: an embedding table of your own ---------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_take_gradient_matches_tensorflow(axis):
    """ops.take's gradient, entries taken twice and a negative index included."""
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    ids = np.array([[0, 2, 2], [4, -1, 1]]) if axis != 1 else np.array([[0, 2], [2, -1]])
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = keras.ops.take(variable, ids, axis=axis)
        weights = np.arange(1, np.size(y) + 1, dtype=np.float32).reshape(y.shape)
        target = tf.reduce_sum(y * weights)
    theirs = tf.convert_to_tensor(tape.gradient(target, variable)).numpy()
    weight = minidl.Variable(x.copy())
    with minidl.GradientTape() as tape:
        y_ours = minidl.ops.take(weight, ids, axis=axis)
        target = minidl.ops.sum(y_ours * weights)
    ours, = tape.gradient(target, [weight])
    np.testing.assert_array_equal(y_ours, y.numpy())
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-6, atol=1e-7)


def embedding_model(lib):
    class TableLookup(lib.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(12, 4), initializer="random_normal")

        def call(self, ids):
            return lib.ops.take(self.table, ids, axis=0)

    ids = lib.Input((6,), dtype="int32")
    vectors = TableLookup()(ids)
    outputs = lib.layers.Dense(1, activation="sigmoid")(
        lib.layers.GlobalAveragePooling1D()(vectors))
    model = lib.Model(ids, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_a_table_of_your_own_trains_with_sparse_rows_as_keras():
    """The table's gradient is rows, as TensorFlow's gather gives a variable: Adam's sparse
    step (a token seen twice adds row1**2 + row2**2 to v) as Keras's."""
    keras.utils.set_random_seed(11)
    theirs, ours = embedding_model(keras), embedding_model(minidl)
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(4)
    ids, y = rng.integers(0, 12, (32, 6)), rng.integers(0, 2, (32, 1)).astype(np.float32)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(ids, y, **fit).history["loss"],
                               theirs.fit(ids, y, **fit).history["loss"], rtol=1e-5)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


def test_training_through_an_op_minidl_cannot_differentiate_names_it():
    inputs = minidl.Input((4,))
    model = minidl.Model(inputs, minidl.layers.Dense(1)(minidl.ops.sort(inputs, axis=-1)))
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).random((4, 4)).astype(np.float32)
    model.fit(x, x[:, :1], verbose=0)  # sort is before the only weights: nothing to reach
    inputs = minidl.Input((4,))
    hidden = minidl.layers.Dense(4)(inputs)
    model = minidl.Model(inputs, minidl.layers.Dense(1)(minidl.ops.sort(hidden, axis=-1)))
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"ops\.sort"):
        model.fit(x, x[:, :1], verbose=0)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)  # the failed step changed nothing


def ops_graph(lib):
    """Ops with several outputs (split, top_k), integer results (argmax, a comparison) and
    reductions between the layers; two outputs, the second without a loss."""
    ops, layers = lib.ops, lib.layers
    inputs = lib.Input((6, 4), name="seq")
    a, b = ops.split(inputs, 2, axis=-1)
    stacked = ops.stack([a, b], axis=1)  # (None, 2, 6, 2)
    m = ops.maximum(stacked[:, 0], stacked[:, 1])
    top = ops.top_k(ops.sum(m, axis=-1), k=3)
    h = layers.Dense(3)(ops.concatenate([m, ops.one_hot(ops.argmax(m, axis=-1), 2)], axis=-1))
    pooled = ops.mean(h, axis=1) + ops.std(h, axis=1) + ops.logsumexp(h, axis=1)
    clipped = ops.clip(pooled, -3.0, 3.0)
    out = layers.Dense(1, activation="sigmoid")(ops.where(clipped > 0, clipped, 0.1 * clipped))
    return lib.Model(inputs, [out, top[0]])


def test_a_graph_of_ops_with_several_outputs_fits_as_keras(capsys):
    fresh_names()
    keras.utils.set_random_seed(2)
    theirs, ours = ops_graph(keras), ops_graph(minidl)
    ours.set_weights(theirs.get_weights())
    assert_same_summary(ours, theirs, capsys)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 6, 4)).astype(np.float32)
    for p_ours, p_theirs in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(p_ours, p_theirs, rtol=1e-6, atol=1e-6)
    y = [(rng.random((16, 1)) > 0.5).astype(np.float32), np.zeros((16, 3), np.float32)]
    for model in (theirs, ours):
        model.compile(optimizer="adam", loss=["binary_crossentropy", None])
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"],
                               theirs.fit(x, y, **fit).history["loss"], rtol=1e-5)
    for w_ours, w_theirs in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-5, atol=1e-6)


def test_an_op_given_arguments_computed_with_ops_in_a_training_step():
    """ops.numpy.tile(x, repeats) with `repeats` itself computed with ops (a tracked array,
    as keras.io's miniature GPT builds its causal mask) is recorded once: it used to hand
    itself to the recorded op for ever. Its gradient is TensorFlow's."""
    x = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        repeats = keras.ops.concatenate([keras.ops.convert_to_tensor([2]),
                                         keras.ops.convert_to_tensor([1])], 0)
        y = keras.ops.tile(variable, repeats)
        target = tf.reduce_sum(y * np.arange(12, dtype=np.float32).reshape(4, 3))
    theirs = tape.gradient(target, variable).numpy()
    weight = minidl.Variable(x.copy())
    with minidl.GradientTape() as tape:
        repeats = minidl.ops.concatenate([minidl.ops.convert_to_tensor([2]),
                                          minidl.ops.convert_to_tensor([1])], 0)
        y = minidl.ops.numpy.tile(weight, repeats)
        target = minidl.ops.sum(y * np.arange(12, dtype=np.float32).reshape(4, 3))
    ours, = tape.gradient(target, [weight])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


# -- in-place operators in a call() of your own (keras.io's Antirectifier) ------------------------
def antirectifier_model(lib):
    class Antirectifier(lib.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1] * 2, input_shape[-1]),
                                          initializer="he_normal", name="kernel")

        def call(self, inputs):
            inputs -= lib.ops.mean(inputs, axis=-1, keepdims=True)  # in place, as written
            pos, neg = lib.ops.relu(inputs), lib.ops.relu(-inputs)
            return lib.ops.matmul(lib.ops.concatenate([pos, neg], axis=-1), self.kernel)

    inputs = lib.Input((6,))
    hidden = lib.layers.Dense(6)(inputs)
    outputs = lib.layers.Dense(1)(Antirectifier()(hidden) + hidden)  # hidden used twice
    model = lib.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def test_in_place_operators_in_call_change_no_caller_array_and_train_as_keras():
    keras.utils.set_random_seed(8)
    theirs, ours = antirectifier_model(keras), antirectifier_model(minidl)
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(32, 6)).astype(np.float32), rng.normal(size=(32, 1)).astype(np.float32)
    given = x.copy()
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)  # hidden unchanged
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **fit).history["loss"],
                               theirs.fit(x, y, **fit).history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0),
                               rtol=1e-5)
    np.testing.assert_array_equal(x, given)  # the caller's data as it was
    inputs = np.ones((2, 6), np.float32)
    layer = ours.layers[2]
    layer(inputs)
    np.testing.assert_array_equal(inputs, np.ones((2, 6), np.float32))
