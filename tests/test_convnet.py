"""Convnets against their Keras twins: summary, forward, loss, gradients, optimizer steps, fit.

Tolerances (float32):
- forward outputs, losses and gradients: rtol 1e-5 and an atol at the rounding scale of the
  largest entry (a convolution sums K = KH*KW*C products; TensorFlow's oneDNN kernels sum them
  in another order);
- one optimizer step at a time from the same weights: weights to 1e-6;
- fit histories with SGD: rtol 1e-5. With RMSprop, loosely (2e-2): RMSprop divides each
  step by the gradient's own running size, so a rounding-level difference that flips one
  relu or one max-pooling choice (Fashion-MNIST's flat backgrounds make near-ties common)
  becomes a full-size step, and a convnet's histories part within a few dozen steps (Keras
  against itself with weights 1 ulp apart parts as much: KERAS-PARITY.md).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import layers
from minidl.testing import layer_outputs
from reference.gradients import keras_forward, keras_loss_and_gradients
from reference.lockstep import lockstep_fit, lockstep_steps
from reference.twins import keras_twin

from test_conv import close


def classic_convnet(optimizer="rmsprop", functional=False):
    """The lesson's convnet, compiled as in the lesson."""
    stack = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
             layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
             layers.Conv2D(128, 3, activation="relu"), layers.Flatten(),
             layers.Dense(10, activation="softmax")]
    inputs = minidl.Input((28, 28, 1))
    if functional:
        x = inputs
        for layer in stack:
            x = layer(x)
        model = minidl.Model(inputs, x)
    else:
        model = minidl.Sequential([inputs] + stack)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def images(n, seed=0, shape=(28, 28, 1)):
    """Made-up images with flat black backgrounds (ties in the max-poolings), labels 0-9."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n,) + shape).astype(np.float32)
    x[:, :shape[0] // 4] = 0  # a flat band, as Fashion-MNIST's background
    x[:, :, -shape[1] // 4:] = 0
    return x, np.arange(n) % 10


@pytest.mark.parametrize("functional", [False, True])
def test_summary_is_keras_s_before_and_after_training(functional, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    minidl.utils.set_random_seed(0)
    model = classic_convnet(functional=functional)
    twin = keras_twin(model)
    x, y = images(64)
    for _ in range(2):  # the second time with the optimizer's parameters in the total
        capsys.readouterr()
        model.summary()
        ours = capsys.readouterr().out
        twin.summary()
        theirs = capsys.readouterr().out
        assert ours == theirs
        model.train_on_batch(x, y)
        twin.train_on_batch(x, y)
    assert "(None, 3, 3, 128)" in ours and "73,856" in ours and "Optimizer params" in ours


@st.composite
def convnets(draw):
    """A small random convnet: one or two convolutions, maybe a pooling, then a classifier."""
    h, w, c = draw(st.integers(5, 9)), draw(st.integers(5, 9)), draw(st.integers(1, 3))
    stack = []
    for _ in range(draw(st.integers(1, 2))):
        stack.append(layers.Conv2D(draw(st.integers(1, 4)), draw(st.integers(1, 3)),
                                   strides=draw(st.integers(1, 2)),
                                   padding=draw(st.sampled_from(["valid", "same"])),
                                   activation=draw(st.sampled_from(["relu", "tanh", "linear"]))))
    pooling = draw(st.sampled_from([None, layers.MaxPooling2D, layers.AveragePooling2D]))
    if pooling is not None:
        stack.append(pooling(2, padding=draw(st.sampled_from(["valid", "same"]))))
    stack.append(draw(st.sampled_from([layers.Flatten, layers.GlobalAveragePooling2D,
                                       layers.GlobalMaxPooling2D]))())
    stack.append(layers.Dense(3, activation="softmax"))
    return (h, w, c), stack, draw(st.integers(2, 6)), draw(st.integers(0, 100))


@given(convnets())
def test_forward_loss_and_gradients_match_keras(case):
    shape, stack, n, seed = case
    minidl.utils.set_random_seed(seed)
    model = minidl.Sequential([minidl.Input(shape)] + stack)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    if any(size is not None and size < 1 for layer in model.layers
           for size in layer.output_shape[1:]):
        return
    twin = keras_twin(model)
    x = np.random.default_rng(seed).integers(0, 3, size=(n,) + shape).astype(np.float32)  # ties
    y = np.arange(n) % 3
    for (layer, ours), theirs in zip(layer_outputs(model, x), keras_forward(twin, x)):
        close(ours, theirs)
    loss, grads = model.loss_and_gradients(x, y)
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y)
    close(loss, keras_loss)
    for weight, ours, theirs in zip(model.trainable_weights, grads, keras_grads):
        close(ours, theirs)


@pytest.mark.parametrize("kind, options", [
    ("SGD", dict(learning_rate=0.05, momentum=0.9)), ("RMSprop", {}), ("Adam", {})])
def test_optimizer_steps_match_keras(kind, options):
    """The first steps, the slots' first updates included: Keras's steps, to rounding."""
    minidl.utils.set_random_seed(1)
    model = classic_convnet(getattr(minidl.optimizers, kind)(**options))
    x, y = images(64, seed=1)
    steps = lockstep_steps(model, x, y, batch_size=32, steps=2)
    assert max(steps.max_weight_diff()) < 1e-6
    np.testing.assert_allclose(steps.minidl_losses, steps.keras_losses, atol=1e-6)


def test_sgd_fit_history_matches_keras_tightly():
    minidl.utils.set_random_seed(2)
    model = classic_convnet(minidl.optimizers.SGD(0.05, momentum=0.9))
    x, y = images(160, seed=2)
    run = lockstep_fit(model, x, y, epochs=2, batch_size=32, validation_split=0.2)
    for key in run.minidl_history:
        np.testing.assert_allclose(run.minidl_history[key], run.keras_history[key],
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    for ours, theirs in zip(run.minidl_model.get_weights(), run.keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_rmsprop_fit_history_matches_keras_loosely():
    minidl.utils.set_random_seed(3)
    model = classic_convnet()
    x, y = images(160, seed=3)
    run = lockstep_fit(model, x, y, epochs=2, batch_size=32, validation_split=0.2)
    assert sorted(run.minidl_history) == sorted(run.keras_history) == [
        "accuracy", "loss", "val_accuracy", "val_loss"]
    np.testing.assert_allclose(run.minidl_history["loss"][0], run.keras_history["loss"][0],
                               rtol=1e-4)  # the first epoch's running mean: still close
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(run.minidl_history[key], run.keras_history[key],
                                   atol=2e-2, err_msg=key)
    # accuracies on random images are argmaxes of nearly tied logits, which float32 roundings
    # after two RMSprop epochs can flip: up to three of the 32 validation predictions
    for key in ("accuracy", "val_accuracy"):
        np.testing.assert_allclose(run.minidl_history[key], run.keras_history[key],
                                   atol=3 / 32, err_msg=key)


@pytest.mark.parametrize("activation, loss, labels", [
    ("sigmoid", "binary_crossentropy", lambda n: (np.arange(n) % 2).reshape(n, 1, 1, 1)),
    ("softmax", "sparse_categorical_crossentropy", lambda n: (np.arange(n) % 3).reshape(n, 1, 1)),
])
def test_a_conv2d_output_gives_the_head_its_logits_as_keras(activation, loss, labels):
    """Saturated outputs: Keras takes the cross-entropy from Conv2D's z, unclipped."""
    model = minidl.Sequential([minidl.Input((5, 5, 2)), layers.Conv2D(
        1 if activation == "sigmoid" else 3, 5, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    x = rng.normal(size=(6, 5, 5, 2)).astype(np.float32) * 20  # |z| ~ 100: saturated
    y = labels(6)
    value, grads = model.loss_and_gradients(x, y)
    keras_value, keras_grads = keras_loss_and_gradients(keras_twin(model), x, y)
    close(value, keras_value)
    assert value > 16.2  # probabilities clipped to 1e-7 would cost at most -log(1e-7) = 16.1
    for ours, theirs in zip(grads, keras_grads):
        close(ours, theirs)


def test_every_array_of_a_training_step_stays_float32():
    minidl.utils.set_random_seed(5)
    model = minidl.Sequential([
        minidl.Input((9, 9, 2)), layers.ZeroPadding2D(1),
        layers.Conv2D(3, 3, strides=2, padding="same", activation="relu"),
        layers.AveragePooling2D(2, padding="same"), layers.Conv2D(4, 2, activation="tanh"),
        layers.MaxPooling2D(2, 1), layers.Reshape((-1, 4)), layers.Conv1D(2, 1),
        layers.GlobalMaxPooling1D(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = images(4, seed=5, shape=(9, 9, 2))
    for layer, output in layer_outputs(model, x, training=True):
        assert output.dtype == np.float32, layer.name
    _, grads = model.loss_and_gradients(x, y % 2)
    assert [g.dtype for g in grads] == [np.float32] * len(grads)
    model.fit(x, y % 2, epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())


def test_convnets_save_to_keras_files_and_back(tmp_path):
    """Every convolution, pooling and reshaping layer goes to a .keras file Keras opens, and
    Keras's own file of it opens in minidl: the same predictions."""
    minidl.utils.set_random_seed(6)
    model = minidl.Sequential([
        minidl.Input((9, 8, 2)), layers.ZeroPadding2D(((1, 0), (0, 2))),
        layers.Conv2D(3, (2, 3), strides=2, padding="same", kernel_regularizer="l2"),
        layers.AveragePooling2D(2, padding="same"), layers.Reshape((-1, 3)),
        layers.Conv1D(2, 2, padding="causal", activation="tanh"), layers.MaxPooling1D(2),
        layers.GlobalAveragePooling1D(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = images(3, shape=(9, 8, 2))[0]
    model.save(tmp_path / "minidl.keras")
    theirs = keras.models.load_model(tmp_path / "minidl.keras")
    close(theirs.predict(x, verbose=0), model.predict(x, verbose=0))
    theirs.save(tmp_path / "keras.keras")
    back = minidl.models.load_model(tmp_path / "keras.keras")
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in model.layers]
    for ours, loaded in zip(model.layers[:-1], back.layers):  # all but Dense: the new layers
        assert loaded.get_config() == ours.get_config()
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_conv_regularizers_enter_the_loss_and_gradients_as_keras():
    """kernel, bias and activity penalties on Conv2D and Conv1D: Keras's loss and gradients."""
    minidl.utils.set_random_seed(7)
    model = minidl.Sequential([
        minidl.Input((6, 6, 2)),
        layers.Conv2D(3, 3, activation="tanh", kernel_regularizer=minidl.regularizers.l2(0.05),
                      bias_regularizer="l1", activity_regularizer=minidl.regularizers.l2(0.01)),
        layers.Reshape((-1, 3)),
        layers.Conv1D(2, 2, kernel_regularizer=minidl.regularizers.l1_l2(0.01, 0.02)),
        layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    for weight in model.trainable_weights:  # biases away from 0, where l1 has a kink
        weight.assign(weight.value + 0.1)
    x, y = images(4, shape=(6, 6, 2))
    value, grads = model.loss_and_gradients(x, y % 2)
    twin = keras_twin(model)
    keras_value, keras_grads = keras_loss_and_gradients(twin, x, y % 2)
    close(value, keras_value)
    # the last call's activity penalty, then the three weight penalties, as Keras lists them
    assert len(model.losses) == 4 and min(model.losses) > 1e-3
    close(np.array(model.losses), np.array([float(v) for v in twin.losses]))
    for ours, theirs in zip(grads, keras_grads):
        close(ours, theirs)
