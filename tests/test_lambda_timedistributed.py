"""Lambda and TimeDistributed against live Keras with the same weights.

A Lambda's function is written twice where it needs ops (minidl.ops and keras.ops, the same
formula; reference.twins.keras_twin maps one to the other); NumPy operators such as
`x / 255.0` are the same object in both. TimeDistributed(Dense) and TimeDistributed(Conv2D)
run on small shapes.

Tolerances: outputs to rtol 1e-6, atol 1e-6 (a product of a few float32 terms in a
different order); the loss to rtol 1e-6; every weight's gradient to rtol 1e-5, atol 1e-6, and
fit Histories to rtol 1e-5, as the repo's other Keras comparisons (float32 rounding of sums
taken in different orders, carried through a few steps). Central differences in float64 to
check_gradients' defaults (relative 1e-5).
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from minidl import layers, ops
from minidl.layers.lambda_layer import serialize_function
from minidl.testing import check_gradients
from reference.twins import keras_twin

kops = keras.ops
RNG = np.random.default_rng(11)


def keras_loss_and_gradients(model, x, y):
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
    return float(loss), [np.asarray(g) for g in tape.gradient(loss, model.trainable_weights)]


def assert_same(model, twin, x, y, fit=True):
    """Outputs, loss, every gradient, then a fit's History and evaluate, against Keras."""
    np.testing.assert_allclose(model.predict(x, verbose=0), twin.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    loss, grads = model.loss_and_gradients(x, y)
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y)
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    assert len(grads) == len(keras_grads)
    for ours, theirs, w in zip(grads, keras_grads, model.trainable_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=w.path)
    if fit:
        kwargs = {"epochs": 3, "batch_size": 4, "shuffle": False, "verbose": 0}
        theirs = twin.fit(x, y, **kwargs).history
        ours = model.fit(x, y, **kwargs).history
        assert sorted(ours) == sorted(theirs)
        for key in theirs:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
        np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                                   twin.evaluate(x, y, verbose=0), rtol=1e-5)


# -- Lambda -----------------------------------------------------------------------------------
scale = lambda x: x / 255.0  # noqa: E731  NumPy's `/` in minidl, a tensor's in Keras
double = lambda x: ops.multiply(x, 2.0)  # noqa: E731
keras_double = lambda x: kops.multiply(x, 2.0)  # noqa: E731


def sequence_model(seed=0):
    """Lambda(x / 255) on the inputs, TimeDistributed(Dense), a Lambda of ops in the middle."""
    minidl.utils.set_random_seed(seed)
    return minidl.Sequential([
        layers.Input((3, 4)), layers.Lambda(scale),
        layers.TimeDistributed(layers.Dense(5, activation="tanh")),
        layers.Lambda(double), layers.Flatten(), layers.Dense(2)])


def test_lambdas_and_time_distributed_dense_in_a_sequential_train_as_in_keras(capsys):
    model = sequence_model()
    model.compile(optimizer="adam", loss="mse")
    twin = keras_twin(model, functions={scale: scale, double: keras_double})
    x = RNG.uniform(0, 255, size=(10, 3, 4)).astype(np.float32)
    y = RNG.normal(size=(10, 2)).astype(np.float32)
    lines = []
    model.summary(print_fn=lines.append)
    twin.summary()
    assert "".join(lines) == capsys.readouterr().out  # (TimeDistributed), (Lambda), params
    assert_same(model, twin, x, y)


operators = lambda h: h * 2.0 - h ** 2 / 3.0  # noqa: E731  the same object in both


def test_a_lambda_of_numpy_operators_between_trainable_layers_trains_as_in_keras():
    """Its inputs reach the function as arrays whose operators are recorded (backprop.Tracked)."""
    minidl.utils.set_random_seed(1)
    model = minidl.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh"),
                               layers.Lambda(operators, name="numpy_operators"),
                               layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    twin = keras_twin(model, functions={operators: operators})
    x, y = RNG.normal(size=(6, 4)).astype(np.float32), RNG.normal(size=(6, 1)).astype(np.float32)
    assert_same(model, twin, x, y)


def test_a_numpy_function_lambda_between_trainable_layers_is_refused_and_serves_inference():
    minidl.utils.set_random_seed(1)
    model = minidl.Sequential([layers.Input((4,)), layers.Dense(3),
                               layers.Lambda(lambda h: np.sort(h, axis=-1), name="numpy_sort"),
                               layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = RNG.normal(size=(6, 4)).astype(np.float32), RNG.normal(size=(6, 1)).astype(np.float32)
    before = model.get_weights()
    with pytest.raises(ValueError, match="Cannot compute gradients through Lambda layer "
                                         "'numpy_sort'.*minidl.ops"):
        model.fit(x, y, verbose=0)
    for ours, then in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, then)
    h = x @ before[0] + before[1]
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np.sort(h, axis=-1) @ before[2] + before[3], rtol=1e-6)


def sample(t):
    z_mean, z_log_var, eps = t
    return ops.add(z_mean, ops.multiply(ops.exp(ops.multiply(0.5, z_log_var)), eps))


def keras_sample(t):
    z_mean, z_log_var, eps = t
    return z_mean + kops.exp(0.5 * z_log_var) * eps


join = lambda t: ops.concatenate(t, axis=-1)  # noqa: E731
keras_join = lambda t: kops.concatenate(t, axis=-1)  # noqa: E731


def functional_model(seed=2):
    """Two inputs joined by a Lambda; a reparameterization Lambda with eps as an input."""
    minidl.utils.set_random_seed(seed)
    a, b, eps = layers.Input((3,)), layers.Input((2,)), layers.Input((2,), name="eps")
    h = layers.Dense(4, activation="tanh")(layers.Lambda(join, name="join")([a, b]))
    z_mean, z_log_var = layers.Dense(2, name="z_mean")(h), layers.Dense(2, name="z_log_var")(h)
    z = layers.Lambda(sample, name="z")([z_mean, z_log_var, eps])
    return minidl.Model([a, b, eps], layers.Dense(3)(z))


def test_lambdas_in_a_functional_model_concatenate_and_reparameterize_as_in_keras():
    model = functional_model()
    model.compile(optimizer="rmsprop", loss="mse")
    twin = keras_twin(model, functions={join: keras_join, sample: keras_sample})
    assert model.get_layer("join").output_shape == (None, 5)  # found by calling on zeros
    assert model.get_layer("z").output_shape == (None, 2)
    n = 8
    x = [RNG.normal(size=(n, 3)).astype(np.float32), RNG.normal(size=(n, 2)).astype(np.float32),
         RNG.normal(size=(n, 2)).astype(np.float32)]
    y = RNG.normal(size=(n, 3)).astype(np.float32)
    assert_same(model, twin, x, y)


# -- TimeDistributed(Conv2D) ------------------------------------------------------------------
def frames_model(seed=3):
    minidl.utils.set_random_seed(seed)
    return minidl.Sequential([
        layers.Input((3, 5, 5, 2)),
        layers.TimeDistributed(layers.Conv2D(3, 3, activation="relu")),
        layers.TimeDistributed(layers.MaxPooling2D(2)),
        layers.TimeDistributed(layers.Flatten()),
        layers.TimeDistributed(layers.Dense(2)), layers.Flatten(),
        layers.Dense(3, activation="softmax")])


def test_time_distributed_conv2d_trains_as_in_keras():
    model = frames_model()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    twin = keras_twin(model)
    x = RNG.normal(size=(8, 3, 5, 5, 2)).astype(np.float32)
    y = RNG.integers(0, 3, size=8)
    assert model.output_shape == twin.output_shape == (None, 3)
    assert model.layers[0].output_shape == (None, 3, 3, 3, 3)
    assert_same(model, twin, x, y)


# -- float64 central differences, with negative controls ---------------------------------------
class ForgetfulTimeDistributed(layers.TimeDistributed):
    """The negative control: sums the weight gradients of the first step only."""

    def backward(self, dy, cache, need_dx=True):
        first = np.zeros_like(dy)
        first[:, 0] = dy[:, 0]
        return super().backward(first, cache, need_dx)


def test_central_differences_agree_and_a_wrong_backward_fails(float64):
    x = RNG.normal(size=(2, 3, 4))
    frames = RNG.normal(size=(2, 2, 4, 4, 2))
    assert check_gradients(layers.TimeDistributed(layers.Dense(3)), x).passed
    assert check_gradients(layers.TimeDistributed(layers.Conv2D(2, 3)), frames).passed
    model = functional_model(seed=4)
    model.compile(optimizer="sgd", loss="mse")
    xs = [RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))]
    result = check_gradients(model, xs, RNG.normal(size=(5, 3)))
    assert result.passed, str(result)

    wrong = check_gradients(ForgetfulTimeDistributed(layers.Dense(3)), x)
    assert not wrong.passed and len(wrong.failed) == 3, str(wrong)  # kernel, bias, input
    wrong_op = layers.Lambda(lambda v: ops.multiply(v, v))  # right: check_gradients passes
    assert check_gradients(wrong_op, x).passed
    from minidl.ops.backprop import record, values

    def cube(v):  # v**3 recorded with the derivative of v**2, written as backprop.py's ops
        v, = values(v)
        return record(v ** 3, "cube", [v], lambda dy: [2 * v * dy])
    assert not check_gradients(layers.Lambda(cube), x).passed


# -- configs, files and errors --------------------------------------------------------------
def named_scale(x, factor=1.0):
    return ops.multiply(x, factor)


def test_configs_are_kerass():
    for fn in (scale, named_scale):
        ours = layers.Lambda(fn, output_shape=(3, 4), arguments={"factor": 2.0} if fn is
                             named_scale else None, name="l")
        theirs = keras.layers.Lambda(fn, output_shape=(3, 4), arguments={"factor": 2.0} if fn
                                     is named_scale else None, name="l")
        expected = theirs.get_config()
        del expected["dtype"]
        assert ours.get_config() == expected
    assert serialize_function(scale)["class_name"] == "__lambda__"
    td = layers.TimeDistributed(layers.Dense(2, name="inner"), name="td")
    td(np.zeros((1, 3, 4), np.float32))
    keras_td = keras.layers.TimeDistributed(keras.layers.Dense(2, name="inner"), name="td")
    keras_td(np.zeros((1, 3, 4), np.float32))
    from minidl.saving.layer_config import layer_to_config

    ours = layer_to_config(td, "float32")
    theirs = keras.saving.serialize_keras_object(keras_td)
    assert ours["config"]["layer"]["config"]["units"] == 2
    rebuilt = keras.saving.deserialize_keras_object(ours)
    assert rebuilt.get_config()["layer"]["config"] == theirs["config"]["layer"]["config"]


def test_files_both_ways_and_a_lambda_is_never_run_from_a_file(tmp_path):
    model = frames_model(seed=5)
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.normal(size=(2, 3, 5, 5, 2)).astype(np.float32)
    path = str(tmp_path / "frames.keras")
    model.save(path)
    keras_model = keras.saving.load_model(path)
    np.testing.assert_allclose(keras_model.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    keras_path = str(tmp_path / "keras_frames.keras")
    keras_model.save(keras_path)
    loaded = minidl.saving.load_model(keras_path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)

    named = minidl.Sequential([layers.Input((4,)), layers.Lambda(named_scale), layers.Dense(1)])
    named.save(str(tmp_path / "named.keras"))
    again = minidl.saving.load_model(str(tmp_path / "named.keras"),
                                     custom_objects={"named_scale": named_scale})
    assert again.layers[0].function is named_scale
    with pytest.raises(ValueError, match="Could not locate function 'named_scale'"):
        minidl.saving.load_model(str(tmp_path / "named.keras"))

    with_lambda = minidl.Sequential([layers.Input((4,)), layers.Lambda(scale), layers.Dense(1)])
    with_lambda.save(str(tmp_path / "lambda.keras"))
    message = ("Requested the deserialization of a `Lambda` layer whose `function` is a Python "
               "lambda. This carries a potential risk of arbitrary code execution")
    with pytest.raises(ValueError, match=message):
        minidl.saving.load_model(str(tmp_path / "lambda.keras"))
    with pytest.raises(ValueError, match=message):
        keras.saving.load_model(str(tmp_path / "lambda.keras"))  # Keras reads what we wrote


def test_errors_are_kerass():
    with pytest.raises(ValueError, match="Please initialize `TimeDistributed` layer with a "
                                         "`keras.layers.Layer` instance. Received: 3"):
        layers.TimeDistributed(3)
    with pytest.raises(ValueError, match="`TimeDistributed` Layer should be passed an "
                                         "`input_shape` with at least 3 dimensions, received: "
                                         "\\(None, 4\\)"):
        minidl.Sequential([layers.Input((4,)), layers.TimeDistributed(layers.Dense(2))])
    with pytest.raises(ValueError, match="does not wrap BatchNormalization"):
        layers.TimeDistributed(layers.BatchNormalization())
    with pytest.raises(ValueError, match="not a model or a recurrent layer"):
        layers.TimeDistributed(layers.LSTM(2))
    with pytest.raises(ValueError, match="Argument `function` must be callable"):
        layers.Lambda(3)
    unknown = layers.Lambda(lambda t: ops.reshape(t, (t.shape[0], -1)))
    assert unknown.compute_output_shape((None, None, 3)) == (None, None)  # sizes that vary
    with_mask = layers.Lambda(lambda t: t, mask=lambda inputs, mask: mask)
    assert with_mask.supports_masking and not layers.Lambda(scale).supports_masking
