"""Loss functions of one's own, as Keras programs write them, against live Keras.

Each loss is written twice, once with minidl.ops and once with keras.ops (the same formula),
and the two models have the same weights (reference.twins.keras_twin maps one function to
the other). minidl differentiates the loss's ops on the tape (minidl/losses/wrapper.py,
head.py); Keras differentiates its tensors with TensorFlow.

Tolerances: the loss to rtol 1e-6 (one float32 sum in a different order); gradients to rtol
1e-5, atol 1e-6, and fit Histories to rtol 1e-5, as the repo's other Keras comparisons
(float32 rounding of products summed in different orders, carried through a few steps).
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, strategies as st

import keras
import minidl
from minidl import layers, ops
from minidl.ops.backprop import record, values
from minidl.testing import check_gradients
from reference.twins import keras_twin

from keras.src.losses.losses import LossFunctionWrapper as KerasLossFunctionWrapper

kops = keras.ops
RNG = np.random.default_rng(7)
X = RNG.normal(size=(12, 5)).astype(np.float32)
Y = RNG.normal(size=(12, 2)).astype(np.float32)
W = RNG.uniform(0.2, 2.0, size=12).astype(np.float32)


# -- the same losses, written with each framework's ops ---------------------------------------
def my_mse(y_true, y_pred):
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def keras_my_mse(y_true, y_pred):
    return kops.mean(kops.square(y_true - y_pred), axis=-1)


keras_my_mse.__name__ = "my_mse"


def my_mae(y_true, y_pred):  # also a metric: metrics need no gradient
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def keras_my_mae(y_true, y_pred):
    return kops.mean(kops.abs(y_true - y_pred), axis=-1)


keras_my_mae.__name__ = "my_mae"


def contrastive(margin=1.0):
    """The Keras siamese example's closure: one scalar for the whole batch."""
    def loss(y_true, y_pred):
        square_pred = ops.square(y_pred)
        margin_square = ops.square(ops.maximum(ops.subtract(margin, y_pred), 0.0))
        return ops.mean(ops.add(ops.multiply(ops.subtract(1.0, y_true), square_pred),
                                ops.multiply(y_true, margin_square)))
    return loss


def keras_contrastive(margin=1.0):
    def loss(y_true, y_pred):
        square_pred = kops.square(y_pred)
        margin_square = kops.square(kops.maximum(margin - y_pred, 0.0))
        return kops.mean((1 - y_true) * square_pred + y_true * margin_square)
    return loss


class ScaledLogCosh(minidl.losses.Loss):
    """A Loss subclass defining only `call`."""

    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        d = ops.subtract(y_pred, y_true)
        log_cosh = ops.log(ops.divide(ops.add(ops.exp(d), ops.exp(ops.negative(d))), 2.0))
        return ops.multiply(self.scale, ops.mean(log_cosh, axis=-1))


class KerasScaledLogCosh(keras.losses.Loss):
    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        d = y_pred - y_true
        return self.scale * kops.mean(kops.log((kops.exp(d) + kops.exp(-d)) / 2.0), axis=-1)


def keras_loss_and_gradients(model, x, y, sample_weight=None):
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                  training=True)
    grads = tape.gradient(loss, model.trainable_weights)  # an Embedding's: IndexedSlices
    return float(loss), [np.asarray(tf.convert_to_tensor(g)) for g in grads]


def assert_same_step(model, twin, x, y, sample_weight=None):
    loss, grads = model.loss_and_gradients(x, y, sample_weight=sample_weight)
    keras_loss, keras_grads = keras_loss_and_gradients(twin, x, y, sample_weight)
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    assert len(grads) == len(keras_grads) == len(model.trainable_weights)
    for ours, theirs, w in zip(grads, keras_grads, model.trainable_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=w.path)


def assert_same_fit(model, twin, x, y, **kwargs):
    kwargs = {"epochs": 3, "batch_size": 5, "shuffle": False, "verbose": 0, **kwargs}
    theirs = twin.fit(x, y, **kwargs).history
    ours = model.fit(x, y, **kwargs).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    return ours


def mlp(outputs=2, activation=None, seed=0):
    minidl.utils.set_random_seed(seed)
    return minidl.Sequential([layers.Input((5,)), layers.Dense(4, activation="tanh"),
                              layers.Dense(outputs, activation=activation)])


# -- against Keras -------------------------------------------------------------------------
def test_a_loss_function_and_a_metric_function_train_as_in_keras_with_sample_weights():
    model = mlp()
    model.compile(optimizer="sgd", loss=my_mse, metrics=[my_mae])
    twin = keras_twin(model, functions={my_mse: keras_my_mse, my_mae: keras_my_mae})
    assert model.loss.name == "my_mse"
    assert_same_step(model, twin, X, Y, sample_weight=W)
    assert_same_step(model, twin, X, Y)
    history = assert_same_fit(model, twin, X, Y, sample_weight=W)
    assert sorted(history) == ["loss", "my_mae"]
    np.testing.assert_allclose(model.evaluate(X, Y, sample_weight=W, verbose=0),
                               twin.evaluate(X, Y, sample_weight=W, verbose=0), rtol=1e-5)


def test_a_closure_loss_with_a_margin_returning_one_scalar_trains_as_in_keras():
    """Keras's reduce_values returns a scalar as it is; with sample weights it becomes
    mean(scalar * w). The labels (N,) meet an (N,1) output: LossFunctionWrapper expands them."""
    model = mlp(outputs=1, activation="relu", seed=1)
    labels = (RNG.uniform(size=12) > 0.5).astype(np.float32)
    model.compile(optimizer="adam", loss=contrastive(margin=1.5))
    twin = keras_twin(model, functions={model.loss.fn: keras_contrastive(margin=1.5)})
    assert model.loss.name == "loss"  # the inner function's name, as Keras names it
    assert_same_step(model, twin, X, labels)
    assert_same_step(model, twin, X, labels, sample_weight=W)
    assert_same_fit(model, twin, X, labels, sample_weight=W)


def test_a_loss_subclass_defining_only_call_trains_as_in_keras():
    model = mlp(seed=2)
    loss = ScaledLogCosh(scale=3.0)
    model.compile(optimizer="rmsprop", loss=loss)
    twin = keras_twin(model, functions={loss: KerasScaledLogCosh(scale=3.0)})
    assert_same_step(model, twin, X, Y, sample_weight=W)
    assert_same_fit(model, twin, X, Y, validation_split=0.25)


def two_outputs(seed):
    minidl.utils.set_random_seed(seed)
    x = layers.Input((5,))
    h = layers.Dense(4, activation="tanh")(x)
    a = layers.Dense(2, name="a")(h)
    b = layers.Dense(1, activation="sigmoid", name="b")(h)
    return minidl.Model(x, [a, b])


@pytest.mark.parametrize("as_dict", [False, True])
def test_custom_losses_on_a_two_output_model_as_a_list_or_a_dict(as_dict):
    model = two_outputs(seed=3)
    labels = (RNG.uniform(size=(12, 1)) > 0.5).astype(np.float32)
    margin = contrastive(margin=0.8)
    losses = {"a": my_mse, "b": margin} if as_dict else [my_mse, margin]
    model.compile(optimizer="sgd", loss=losses, loss_weights=[0.5, 2.0])
    twin = keras_twin(model, functions={my_mse: keras_my_mse,
                                        margin: keras_contrastive(margin=0.8)})
    assert_same_step(model, twin, X, [Y, labels], sample_weight=W)
    history = assert_same_fit(model, twin, X, [Y, labels])
    assert sorted(history) == ["a_loss", "b_loss", "loss"]


def test_a_custom_loss_on_a_masked_output_weighs_the_real_steps_as_keras():
    """Embedding(mask_zero) -> Dense on each step: the mask (N,T) rides on the output and
    the loss values (N,T) are averaged over the real steps only (keras/src/losses/loss.py)."""
    minidl.utils.set_random_seed(4)
    model = minidl.Sequential([layers.Input((4,)), layers.Embedding(6, 3, mask_zero=True),
                               layers.Dense(2)])
    model.compile(optimizer="sgd", loss=my_mse)
    twin = keras_twin(model, functions={my_mse: keras_my_mse})
    ids = np.array([[1, 2, 0, 0], [3, 3, 5, 0], [4, 0, 0, 0], [5, 1, 2, 3]], np.int32)
    targets = RNG.normal(size=(4, 4, 2)).astype(np.float32)
    assert_same_step(model, twin, ids, targets)
    unmasked = np.mean(my_mse(targets, model.predict(ids, verbose=0)))
    assert not np.isclose(model.evaluate(ids, targets, verbose=0), unmasked)  # it is masked


@given(st.sampled_from(["per_sample", "per_step", "scalar", "per_sample_column"]),
       st.integers(1, 5), st.booleans())
def test_the_reduction_of_a_function_loss_is_keras_reduce_weighted_values(shape, n, weighted):
    """LossFunctionWrapper called directly, against Keras's, over the value shapes a function
    may return: (N,), (N,T), a scalar, and (N,1) against (N,) weights. Where Keras's
    values * weights fails ((N,T) against (N,), T != N), minidl refuses by name."""
    rng = np.random.default_rng(n)
    y_true = rng.normal(size=(n, 3, 2)).astype(np.float32)
    y_pred = rng.normal(size=(n, 3, 2)).astype(np.float32)
    weight = rng.uniform(0, 2, size=n).astype(np.float32) if weighted else None
    axes = {"per_sample": (1, 2), "per_step": 2, "scalar": None, "per_sample_column": 2}
    axis, keep = axes[shape], shape == "per_sample_column"
    if keep:
        y_true, y_pred = y_true[:, :1], y_pred[:, :1]

    def ours(t, p):
        return ops.sum(ops.square(ops.subtract(t, p)), axis=axis, keepdims=keep)

    def theirs(t, p):
        return kops.sum(kops.square(t - p), axis=axis, keepdims=keep)

    try:
        expected = KerasLossFunctionWrapper(theirs)(y_true, y_pred, sample_weight=weight)
    except (ValueError, tf.errors.InvalidArgumentError):  # (N,T) values * (N,) weights
        with pytest.raises(ValueError, match="cannot weigh"):
            minidl.losses.LossFunctionWrapper(ours)(y_true, y_pred, sample_weight=weight)
        return
    value = minidl.losses.LossFunctionWrapper(ours)(y_true, y_pred, sample_weight=weight)
    np.testing.assert_allclose(value, np.asarray(expected), rtol=1e-6)


# -- NumPy operators in a loss, as Keras's guide writes them ---------------------------------
def guide_mse(y_true, y_pred):  # keras.io's "custom losses" example, operators and all
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def keras_guide_mse(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def smooth(y_true, y_pred):  # ** and constants on either side, ops.where, np.mean, slices
    error = y_true[:, ::-1][:, ::-1] - y_pred[:, :]
    return np.mean(ops.where(abs(error) < 0.5, 2.0 * error ** 2, abs(error) - 0.125) + 0.1 *
                   y_pred * y_pred, axis=-1)


def keras_smooth(y_true, y_pred):
    error = y_true[:, ::-1][:, ::-1] - y_pred[:, :]
    return keras.ops.mean(keras.ops.where(abs(error) < 0.5, 2.0 * error ** 2,
                                          abs(error) - 0.125) + 0.1 * y_pred * y_pred, axis=-1)


@pytest.mark.parametrize("ours, theirs", [(guide_mse, keras_guide_mse), (smooth, keras_smooth)])
def test_a_loss_written_with_numpy_operators_on_y_pred_trains_as_in_keras(ours, theirs):
    """y_pred reaches a loss function as an array whose NumPy arithmetic is recorded
    (backprop.Tracked): the same gradients and History as Keras's twin."""
    model = mlp(seed=9)
    model.compile(optimizer="adam", loss=ours)
    twin = keras_twin(model, functions={ours: theirs})
    assert_same_step(model, twin, X, Y, sample_weight=W)
    assert_same_fit(model, twin, X, Y)


# -- what a loss cannot do: a clear error before any weight changes ---------------------------
def numpy_mse(y_true, y_pred):  # a copy of y_pred is not on the tape
    return np.mean(np.square(y_true[:, :1] - y_pred.copy()[:, :1]), axis=-1)


def half_numpy_mse(y_true, y_pred):
    return ops.mean(ops.square(np.asarray(y_true - y_pred)), axis=-1)  # a plain copy


class NumpyLoss(minidl.losses.Loss):
    def call(self, y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=-1)  # the array's own method


@pytest.mark.parametrize("loss, named, why", [
    (numpy_mse, "loss function 'numpy_mse'", "received an array derived from y_pred by a path"),
    (half_numpy_mse, "loss function 'half_numpy_mse'", "ops.square received an array"),
    (NumpyLoss(name="numpy_loss"), "loss 'numpy_loss' \\(NumpyLoss.call\\)",
     "not computed by minidl.ops")])
def test_a_loss_computed_with_numpy_is_refused_by_name_before_any_weight_changes(loss, named,
                                                                                 why):
    model = mlp(seed=5)
    model.compile(optimizer="sgd", loss=loss)
    before = model.get_weights()
    with pytest.raises(ValueError, match=f"minidl cannot train with the {named}: .*{why}"):
        model.fit(X, Y, epochs=1, verbose=0)
    for ours, then in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, then)
    assert model.optimizer.iterations == 0
    # evaluate needs no gradient: it works, and gives the mean of the function's values
    values = (loss.call if isinstance(loss, NumpyLoss) else loss)(Y, model.predict(X, verbose=0))
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), np.mean(values), rtol=1e-6)


# -- float64 central differences -------------------------------------------------------------
def wrong_square(x):
    """x**2 with a wrong derivative (3x instead of 2x): the negative control, written as
    backprop.py writes an op (values() first: the arrays the tape knows, computed on)."""
    x, = values(x)
    return record(np.square(x), "square", [x], lambda dy: [3 * x * dy])


def test_central_differences_agree_through_custom_losses_and_catch_a_wrong_derivative(float64):
    x, y = X.astype(np.float64), Y.astype(np.float64)
    labels = (np.arange(12) % 2).astype(np.float64)
    for loss, outputs, target in ((my_mse, 2, y), (contrastive(0.7), 1, labels),
                                  (ScaledLogCosh(scale=0.5), 2, y)):
        model = mlp(outputs=outputs, seed=6)
        model.compile(optimizer="sgd", loss=loss)
        result = check_gradients(model, x, target, check_input=True)
        assert result.passed, str(result)

    model = mlp(seed=6)
    model.compile(optimizer="sgd",
                  loss=lambda t, p: ops.mean(wrong_square(ops.subtract(t, p)), axis=-1))
    result = check_gradients(model, x, y)
    assert not result.passed and result.failed, str(result)


# -- saving and errors ------------------------------------------------------------------------
def test_a_model_with_a_loss_function_saves_it_by_name_as_keras_and_loads_it_from_custom_objects(
        tmp_path):
    model = mlp(seed=8)
    model.compile(optimizer="sgd", loss=my_mse)
    twin = keras_twin(model, functions={my_mse: keras_my_mse})
    from minidl.saving.compile_config import compile_to_config

    assert compile_to_config(model)["loss"] == twin.get_compile_config()["loss"]
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = minidl.saving.load_model(path, custom_objects={"my_mse": my_mse})
    assert loaded.loss.fn is my_mse
    np.testing.assert_allclose(loaded.evaluate(X, Y, verbose=0), model.evaluate(X, Y, verbose=0),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="Could not locate function 'my_mse'"):
        minidl.saving.load_model(path)


def test_loss_identifiers_keras_accepts_and_the_errors():
    assert isinstance(minidl.losses.get(ScaledLogCosh), ScaledLogCosh)  # a class: an instance
    wrapped = minidl.losses.get(my_mse)
    assert isinstance(wrapped, minidl.losses.LossFunctionWrapper) and wrapped.name == "my_mse"
    assert minidl.losses.get("mse").name == "mse"  # built-ins keep their own path
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        minidl.losses.get(3)
    with pytest.raises(ValueError, match="Argument `fn` must be a function"):
        minidl.losses.LossFunctionWrapper("mse")
    model = mlp()
    model.compile(optimizer="sgd", loss=lambda t, p: ops.square(ops.subtract(t, p)))
    with pytest.raises(ValueError, match="shape \\(12, 2\\), which the sample weights of shape "
                                         "\\(12,\\) cannot weigh"):
        model.fit(X, Y, sample_weight=W, verbose=0)  # Keras's values * weight fails too
