"""Keras's other common losses (Huber, LogCosh, MSLE, MAPE, CosineSimilarity, Hinge,
SquaredHinge, CategoricalHinge, KLDivergence, Poisson) and their metrics, against Keras 3.

Tolerance of the float32 comparisons: |ours - Keras's| <= TOL * (|Keras's| + scale), with
TOL = 2**-18 (64 float32 units in the last place, u = 2**-24). Each element goes through at
most ~8 roundings on either side (each <= u relative, TensorFlow's log/exp/rsqrt kernels and
NumPy's are within ~2 ulps of each other), a mean over C <= 4 columns and a weighted sum over
N <= 5 rows add up to 9 more: <= ~18u per side, 36u for the difference, rounded up to 64u.
`scale` is, per loss, the size of the terms a result is the difference of (float64, from the
inputs): where a result cancels (p - y*log(p) near 0, 1 - 2*sigmoid(-2e) near e = 0) its
rounding is a fraction of those terms, not of the result. Without cancellation it is 0.
minidl computes inside `denormals.flushed()`, as its training steps do: TensorFlow reads and
writes float32 denormals as 0, and so must the comparison (minidl/denormals.py).
"""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from minidl import denormals, losses
from minidl.head import Head
from minidl.testing import check_gradients
from reference.twins import keras_loss, keras_twin
from tests.parity import assert_same_fit, same_random_weights

TOL = 2.0 ** -18
EPS = np.float32(1e-7)

NAMES = ["huber", "log_cosh", "mape", "msle", "cosine_similarity", "hinge", "squared_hinge",
         "categorical_hinge", "kld", "poisson"]


def assert_close(ours, theirs, scale=0.0, what=""):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, what
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), f"{what}: {ours} vs {theirs}"
    ours, theirs = np.nan_to_num(ours, nan=0.0), np.nan_to_num(theirs, nan=0.0)
    bound = TOL * (np.abs(theirs) + scale)
    worst = np.max(np.abs(ours - theirs) - bound, initial=-1.0)
    assert worst <= 0, f"{what}: ours {ours}, Keras's {theirs}, allowed {bound}"


# -- the drawn batches: values spread over the domain, with the edges Keras treats specially --

def elements(low, high, edges):
    """float32 numbers in [low, high], half of them drawn from `edges` (exact zeros, bounds)."""
    return st.one_of(st.sampled_from([np.float32(e) for e in edges]),
                     st.floats(low, high, width=32, allow_subnormal=denormals.AVAILABLE))


def array(draw, shape, low, high, edges=()):
    return draw(hnp.arrays(np.float32, shape, elements=elements(low, high, edges)))


@st.composite
def batches(draw, name):
    """(minidl loss, y_true, y_pred) in float32 for the loss `name`, shapes (N,C) or (N,T,C)."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    shape = (n, c)
    loss = losses.get(name)
    if name == "huber":  # dyadic labels and deltas, so that |p - y| == delta exactly
        delta = draw(st.sampled_from([0.5, 1.0, 2.0]))
        loss = losses.Huber(delta=delta)
        y = array(draw, shape, -3, 3, [0.0, 0.5, -1.25, 3.0])
        offset = array(draw, shape, -4, 4, [0.0, delta, -delta])
        return loss, y, (y + offset).astype(np.float32)
    if name == "log_cosh":
        y = array(draw, shape, -20, 20, [0.0])
        return loss, y, np.where(draw(hnp.arrays(bool, shape)), y,
                                 array(draw, shape, -20, 20, [0.0, 40.0]))
    if name == "mape":  # labels of 0 and eps divide by eps; p == y has |.|'s kink
        y = array(draw, shape, -5, 5, [0.0, EPS, -EPS, 1.0])
        return loss, y, np.where(draw(hnp.arrays(bool, shape)), y, array(draw, shape, -5, 5, [0.0]))
    if name == "msle":  # at, below and above the floor eps
        edges = [0.0, EPS, 1e-8, -1.0]
        return loss, array(draw, shape, -0.5, 5, edges), array(draw, shape, -0.5, 5, edges)
    if name == "kld":  # both clipped to [eps, 1]: at, inside and outside the bounds
        edges = [0.0, EPS, 1.0, 1.5, -0.25]
        return loss, array(draw, shape, 0, 1, edges), array(draw, shape, 0, 1, edges)
    if name == "poisson":  # p >= 0, so that log(p + eps) is defined; p == 0 included
        return loss, array(draw, shape, 0, 5, [0.0, 1.0]), array(draw, shape, 0, 5, [0.0, EPS])
    if name in ("hinge", "squared_hinge"):  # 0/1 batches are converted, others are not
        labels = draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (-1.0, 0.0, 1.0)]))
        y = draw(hnp.arrays(np.float32, shape, elements=st.sampled_from(labels)))
        return loss, y, array(draw, shape, -3, 3, [1.0, -1.0, 0.0])  # margins of exactly 0
    if name == "categorical_hinge":  # one-hot labels; scores with ties for the max, margin 0
        y = np.eye(c, dtype=np.float32)[draw(hnp.arrays(int, (n,), elements=st.integers(0, c - 1)))]
        return loss, y, array(draw, shape, -3, 3, [0.0, 1.0, -1.0])
    assert name == "cosine_similarity"  # zero vectors, and tiny ones whose norm is capped
    axis = draw(st.sampled_from([-1, 1]))
    loss = losses.CosineSimilarity(axis=axis)
    if axis == 1:
        shape = (n, draw(st.integers(1, 3)), c)  # vectors along the middle axis
    edges = [0.0, 1e-8, -2e-8]
    return loss, array(draw, shape, -3, 3, edges), array(draw, shape, -3, 3, edges)


# -- the sizes of the terms each loss's value and gradient are differences of (see the top) ----

def _floored_logs(y, p):
    return np.abs(np.log(np.maximum(p, EPS) + 1)) + np.abs(np.log(np.maximum(y, EPS) + 1))


def value_scale(loss, y, p):
    """Per sample, (N,), in float64."""
    y, p = y.astype(np.float64), p.astype(np.float64)
    e = p - y
    if isinstance(loss, losses.Huber):
        d = loss.delta
        return np.maximum(np.maximum(0.5 * e * e, d * np.abs(e)), 0.5 * d * d).mean(-1)
    if isinstance(loss, losses.LogCosh):
        return (np.abs(e) + np.logaddexp(0, -2 * e) + np.log(2)).mean(-1)
    if isinstance(loss, losses.MeanSquaredLogarithmicError):
        return (_floored_logs(y, p) ** 2).mean(-1)
    if isinstance(loss, losses.KLDivergence):
        yc, pc = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
        return (yc * (np.abs(np.log(yc)) + np.abs(np.log(pc)))).sum(-1)
    if isinstance(loss, losses.Poisson):
        return (np.abs(p) + np.abs(y * np.log(p + EPS))).mean(-1)
    if isinstance(loss, (losses.Hinge, losses.SquaredHinge)):
        return (np.maximum(1, np.abs(p)) ** 2).mean(-1)
    if isinstance(loss, losses.CategoricalHinge):
        return 1 + np.abs(y * p).sum(-1) + np.abs(p).max(-1)
    if isinstance(loss, losses.CosineSimilarity):
        return np.ones(np.delete(p.shape, loss.axis))
    return np.zeros(len(p))  # MAPE: a mean of |r| >= 0, no cancellation


def gradient_scale(loss, y, p):
    """Per element, shape of p, in float64 (before the weighting by w_n / N)."""
    y, p = y.astype(np.float64), p.astype(np.float64)
    c = p.shape[-1]
    if isinstance(loss, losses.LogCosh):  # 1 - 2 * sigmoid(-2e)
        return np.full(p.shape, 1 / c)
    if isinstance(loss, losses.MeanSquaredLogarithmicError):  # 2 * (L1 - L2) / (p + 1)
        return 2 * _floored_logs(y, p) / (np.maximum(p, EPS) + 1) / c
    if isinstance(loss, losses.Poisson):  # 1 - y / (p + eps)
        return (1 + np.abs(y) / (p + EPS)) / c
    if isinstance(loss, losses.SquaredHinge):  # 2 * max(1 - y p, 0) * y
        return 2 * np.maximum(1, np.abs(p)) / c
    if isinstance(loss, losses.CosineSimilarity):  # -r t + r**3 (t . p) p: each term <= r
        norm = np.sqrt(np.sum(p * p, axis=loss.axis, keepdims=True))
        return 2 / np.maximum(norm, 1e-7) * np.ones_like(p)
    return np.zeros(p.shape)  # a product or quotient of a few factors: relative


def keras_value_and_gradient(loss, y_true, y_pred, sample_weight):
    """Keras's loss of the same class and config, and its gradient by TensorFlow's autodiff."""
    p = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = keras_loss(loss)(y_true, p, sample_weight=sample_weight)
    return value.numpy(), tape.gradient(value, p).numpy()


# -- value and gradient, against Keras ------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_value_and_gradient_match_keras_with_and_without_sample_weights(name, data):
    loss, y, p = data.draw(batches(name))
    n = len(p)
    weight = data.draw(st.none() | hnp.arrays(np.float32, (n,), elements=st.floats(0, 2, width=32)))
    if getattr(loss, "axis", -1) != -1:
        weight = None  # Keras cannot weight values of shape (N,C) by (N,): "Incompatible shapes"
    theirs, their_grad = keras_value_and_gradient(loss, y, p, weight)
    with denormals.flushed():
        ours, (_, grad) = Head(loss).loss_and_gradient(y, p, sample_weight=weight)
    assert np.asarray(ours).dtype == grad.dtype == np.float32
    w = np.ones(n) if weight is None else weight.astype(np.float64)
    per_sample = value_scale(loss, y, p)  # (N,) or (N,C) for a middle axis
    count = per_sample.size
    w_each = w.reshape((n,) + (1,) * (per_sample.ndim - 1))
    assert_close(ours, theirs, np.sum(w_each * per_sample) / count, f"{name} value")
    w_grad = w.reshape((n,) + (1,) * (p.ndim - 1)) / count
    assert_close(grad, their_grad, gradient_scale(loss, y, p) * w_grad, f"{name} gradient")


def test_the_edges_keras_treats_specially_give_its_gradients():
    """Hand-picked: the gradient passes at a clip bound or a tie of max (TensorFlow's Maximum
    and ClipByValue), is 0 beyond it, |x| passes sign(0) = 0, and a max shares among ties."""
    cases = [
        (losses.MeanSquaredLogarithmicError(), [[1, 1, 1]], [[EPS, 0, -1]]),  # at, below eps
        (losses.KLDivergence(), [[0.5, 0.5, 0.5, 0.5]], [[EPS, 1, 0, 1.5]]),  # bounds, outside
        (losses.MeanAbsolutePercentageError(), [[1, 0, 0]], [[1, 0, 1]]),  # p == y, y == 0
        (losses.Hinge(), [[1, 0]], [[1, -1]]),  # margins exactly 0 (0/1 labels converted)
        (losses.CategoricalHinge(), [[1, 0, 0]], [[-1, 0, 0]]),  # a three-way tie for the max
        (losses.CategoricalHinge(), [[0, 1, 0]], [[0, 1, 0]]),  # a margin of exactly 0
        (losses.CosineSimilarity(), [[0, 1]], [[0, 0]]),  # a zero vector: the norm's cap
        (losses.Huber(), [[0, 0, 0]], [[1, -1, 0]]),  # |e| == delta
    ]
    for loss, y, p in cases:
        y, p = np.asarray(y, np.float32), np.asarray(p, np.float32)
        theirs, their_grad = keras_value_and_gradient(loss, y, p, None)
        with denormals.flushed():
            ours, (_, grad) = Head(loss).loss_and_gradient(y, p)
        assert_close(ours, theirs, what=loss.name)
        assert_close(grad, their_grad, what=loss.name)
        assert np.count_nonzero(grad) == np.count_nonzero(their_grad), loss.name


# -- central differences in float64, and a wrong gradient that must fail ---------------------

def smooth_batch(name, rng, n=4, c=3):
    """(loss, y, p) in float64 at least 0.01 away from every kink, clip bound and tie."""
    loss = losses.get(name)
    away = rng.uniform(0.01, 1, (n, c)) * rng.choice([-1, 1], (n, c))  # |away| >= 0.01
    if name == "huber":
        loss = losses.Huber(delta=0.75)
        y = rng.normal(size=(n, c))
        size = np.where(rng.random((n, c)) < 0.5, rng.uniform(0.01, 0.74, (n, c)),
                        rng.uniform(0.76, 3, (n, c)))
        return loss, y, y + size * np.sign(away)
    if name in ("log_cosh", "cosine_similarity", "categorical_hinge"):
        y = rng.normal(size=(n, c))
        if name == "categorical_hinge":
            y = np.eye(c)[rng.integers(0, c, n)]
        return loss, y, rng.normal(size=(n, c)) * 2
    if name == "mape":
        y = rng.uniform(0.5, 2, (n, c)) * rng.choice([-1, 1], (n, c))
        return loss, y, y + away
    if name in ("msle", "poisson"):
        return loss, rng.uniform(0, 3, (n, c)), rng.uniform(0.01, 3, (n, c))
    if name == "kld":
        return loss, rng.uniform(0.01, 1, (n, c)), rng.uniform(0.01, 0.99, (n, c))
    y = rng.choice([-1.0, 1.0], (n, c))  # hinge, squared_hinge: margin 1 - y p = away
    return loss, y, y * (1 - away)


@pytest.mark.parametrize("name", NAMES)
@given(seed=st.integers(0, 2**16))
def test_gradients_match_central_differences(float64, name, seed):
    loss, y, p = smooth_batch(name, np.random.default_rng(seed))
    result = check_gradients(loss, p, y)
    assert result.passed, str(result)


class OnePercentOff(losses.Loss):
    """A loss whose gradient is 1 % too large: the checker must catch it."""

    def __init__(self, inner):
        super().__init__(name=inner.name)
        self.inner = inner

    def prepare(self, y_true, y_pred):
        return self.inner.prepare(y_true, y_pred)

    def values_and_gradient(self, y_true, y_pred):
        values, grad = self.inner.values_and_gradient(y_true, y_pred)
        return values, grad * 1.01


@pytest.mark.parametrize("name", NAMES)
def test_a_gradient_one_percent_off_fails_the_check(float64, name):
    loss, y, p = smooth_batch(name, np.random.default_rng(5))
    assert check_gradients(loss, p, y).passed
    assert not check_gradients(OnePercentOff(loss), p, y).passed


# -- fit by the string name, against Keras's History ----------------------------------------

def fit_data(name, rng, n=24):
    """x, y and the output (width, activation) a learner pairs with the loss."""
    x = rng.normal(size=(n, 3)).astype(np.float32)
    if name in ("hinge", "squared_hinge"):
        return x, rng.integers(0, 2, (n, 2)).astype(np.float32), (2, "tanh")
    if name in ("categorical_hinge", "kld"):
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
        if name == "kld":
            y = (0.8 * y + 0.2 * rng.dirichlet(np.ones(3), n)).astype(np.float32)
        return x, y, (3, "linear" if name == "categorical_hinge" else "softmax")
    if name in ("msle", "poisson"):
        return x, rng.poisson(2.0, (n, 2)).astype(np.float32), (2, "softplus")
    if name == "mape":
        return x, rng.uniform(1, 3, (n, 2)).astype(np.float32), (2, "linear")
    return x, rng.normal(size=(n, 2)).astype(np.float32), (2, "linear")


# The metric of each loss's name where Keras's compile has one ("huber" is not a metric name).
FIT_METRICS = {"huber": ["mae"], "log_cosh": ["log_cosh_error"], "mape": ["mape"],
               "msle": ["msle"], "kld": ["kl_divergence"], "poisson": ["poisson"],
               "hinge": ["hinge"], "squared_hinge": ["squared_hinge"],
               "categorical_hinge": ["categorical_hinge"],
               "cosine_similarity": ["cosine_similarity"]}


@pytest.mark.parametrize("name", NAMES)
def test_fit_by_name_matches_keras_history(name):
    """Two epochs of three batches. rtol 1e-5, the repo's fit tolerance: each step's loss and
    gradients agree to a few ulps (above), and the few ulps of each update feed the next
    steps, which multiplies them by about the number of steps."""
    x, y, (width, activation) = fit_data(name, np.random.default_rng(len(name)))
    model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(4, activation="tanh"),
                               minidl.layers.Dense(width, activation=activation)])
    model.compile(optimizer=minidl.optimizers.SGD(0.05), loss=name, metrics=FIT_METRICS[name])
    same_random_weights([model], seed=3)
    twin = keras_twin(model)
    history = assert_same_fit(twin, model, x, y, epochs=2, batch_size=8)
    assert sorted(history) == sorted(["loss"] + FIT_METRICS[name])


def test_a_loss_object_with_settings_fits_as_keras_does():
    """Huber(delta=0.25): its delta reaches the Keras twin (through the config)."""
    x, y, _ = fit_data("huber", np.random.default_rng(0))
    model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(2)])
    model.compile(optimizer=minidl.optimizers.SGD(0.1), loss=losses.Huber(delta=0.25))
    same_random_weights([model], seed=4)
    twin = keras_twin(model)
    assert twin.loss._fn_kwargs == {"delta": 0.25}
    assert_same_fit(twin, model, x, y, epochs=2, batch_size=8)


# -- names, function forms and metrics, as Keras resolves them -------------------------------

LOSS_STRINGS = NAMES + ["mean_absolute_percentage_error", "MAPE", "mean_squared_logarithmic_error",
                        "MSLE", "kl_divergence", "KLD", "BCE", "Huber", "LogCosh",
                        "MeanSquaredLogarithmicError", "MeanAbsolutePercentageError",
                        "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
                        "CosineSimilarity", "huber_loss", "logcosh", "kullback_leibler_divergence",
                        "cosine_proximity"]


def _interpretable(get, identifier):
    try:
        get(identifier)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("identifier", LOSS_STRINGS)
def test_a_loss_string_means_what_it_means_in_keras(identifier):
    known = _interpretable(keras.losses.get, identifier)
    assert _interpretable(losses.get, identifier) == known
    if not known:
        with pytest.raises(ValueError, match=f"Could not interpret loss identifier: {identifier}"):
            losses.get(identifier)
        return
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 1, (5, 3)).astype(np.float32)
    p = rng.uniform(0.05, 1, (5, 3)).astype(np.float32)
    theirs = keras.losses.get(identifier)(y, p)
    theirs = float(np.mean(theirs))  # a function gives per-sample values, a Loss their mean
    assert_close(losses.get(identifier)(y, p), theirs, 1.0, identifier)


METRIC_STRINGS = ["kl_divergence", "poisson", "hinge", "squared_hinge", "categorical_hinge",
                  "log_cosh_error", "cosine_similarity", "mape", "msle", "KLDivergence",
                  "LogCoshError", "CosineSimilarity", "Hinge", "kld", "KLD", "logcosh",
                  "log_cosh", "huber"]


@pytest.mark.parametrize("identifier", METRIC_STRINGS)
def test_a_metric_string_means_what_it_means_in_keras(identifier):
    """Same class, same result over two batches (one with weights, one with labels (N,)
    against outputs (N,1), which Keras's hinge, KL and Poisson metrics broadcast)."""
    try:
        theirs = keras.metrics.get(identifier)
    except ValueError:
        with pytest.raises(ValueError, match="Could not interpret metric identifier"):
            minidl.metrics.get(identifier)
        return
    ours = minidl.metrics.get(identifier)
    assert type(ours).__name__ == type(theirs).__name__
    assert getattr(ours, "_direction", None) == getattr(theirs, "_direction", None)
    rng = np.random.default_rng(2)
    y = np.round(rng.uniform(0, 1, (6, 3))).astype(np.float32)
    p = rng.uniform(0.05, 1, (6, 3)).astype(np.float32)
    weight = rng.uniform(0, 2, 6).astype(np.float32)
    for metric in (ours, theirs):
        metric.update_state(y, p, sample_weight=weight)
        metric.update_state(y[:, 0], p[:, :1])
    assert_close(ours.result(), theirs.result(), 20.0, identifier)


KERAS_FUNCTIONS = ["huber", "log_cosh", "mean_squared_logarithmic_error",
                   "mean_absolute_percentage_error", "cosine_similarity", "hinge", "squared_hinge",
                   "categorical_hinge", "kl_divergence", "poisson"]


@pytest.mark.parametrize("name", KERAS_FUNCTIONS)
def test_the_function_forms_match_keras(name):
    """minidl.losses.<name> as keras.losses.<name>, with labels of the outputs' shape and
    labels (N,) against outputs (N,1) (squeezed by some, broadcast by others, as in Keras);
    the ones keras.metrics exports are minidl.metrics's too."""
    rng = np.random.default_rng(3)
    y = np.round(rng.uniform(0, 1, (5, 3))).astype(np.float32)
    p = rng.uniform(0.05, 1, (5, 3)).astype(np.float32)
    modules = [(losses, keras.losses)]
    if hasattr(keras.metrics, name):
        modules.append((minidl.metrics, keras.metrics))
    for ours, theirs in modules:
        for y_true, y_pred in ((y, p), (y[:, 0], p[:, :1])):
            expected = np.asarray(getattr(theirs, name)(y_true, y_pred))
            assert_close(getattr(ours, name)(y_true, y_pred), expected, 20.0, name)


# -- constructor arguments, configs and saving ----------------------------------------------

CONFIGURED = [losses.Huber(delta=2.5, name="robust"), losses.CosineSimilarity(axis=1),
              losses.LogCosh(), losses.MeanSquaredLogarithmicError(),
              losses.MeanAbsolutePercentageError(), losses.KLDivergence(), losses.Poisson(),
              losses.Hinge(), losses.SquaredHinge(), losses.CategoricalHinge()]


@pytest.mark.parametrize("loss", CONFIGURED, ids=lambda loss: type(loss).__name__)
def test_names_defaults_and_configs_are_keras_s(loss):
    cls = type(loss)
    theirs_default, ours_default = getattr(keras.losses, cls.__name__)(), cls()
    assert ours_default.name == theirs_default.name
    own = {"Huber": {"delta": 1.0}, "CosineSimilarity": {"axis": -1}}.get(cls.__name__, {})
    # Keras 3.15 writes name and reduction only (it drops Huber's delta and the axis)...
    assert ours_default.get_config() == {**theirs_default.get_config(), **own}
    # ...and reads minidl's config, settings included, back into the same loss
    theirs = keras.losses.deserialize({"class_name": cls.__name__, "config": loss.get_config()})
    assert theirs.name == loss.name
    assert getattr(theirs, "_fn_kwargs", {}) == {k: v for k, v in loss.get_config().items()
                                                 if k in own}
    assert cls.from_config(loss.get_config()).get_config() == loss.get_config()
    assert cls.from_config(theirs.get_config()).get_config() == {**theirs.get_config(), **own}


def test_a_model_saved_with_each_loss_loads_in_minidl_and_keras(tmp_path):
    for loss, metrics in [(losses.Huber(delta=2.5), ["kl_divergence", "hinge"]),
                          ("log_cosh", ["log_cosh_error", "poisson"]),
                          (losses.CosineSimilarity(axis=-1, name="cos"),
                           [minidl.metrics.CosineSimilarity(), minidl.metrics.SquaredHinge()]),
                          ("categorical_hinge", ["categorical_hinge", "msle"])]:
        model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(2)])
        model.compile(optimizer="sgd", loss=loss, metrics=metrics)
        model.save(tmp_path / "model.keras")
        ours = minidl.load_model(tmp_path / "model.keras")
        theirs = keras.models.load_model(tmp_path / "model.keras")
        if isinstance(loss, str):
            assert ours.loss.name == loss and theirs.loss == loss
        else:
            assert type(ours.loss) is type(loss)
            assert ours.loss.get_config() == loss.get_config()
            settings = {k: v for k, v in loss.get_config().items() if k in ("delta", "axis")}
            assert theirs.loss.name == loss.name and theirs.loss._fn_kwargs == settings
        x, y = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
        ours_logs = ours.evaluate(x, y, verbose=0, return_dict=True)
        theirs_logs = theirs.evaluate(x, y, verbose=0, return_dict=True)
        assert sorted(ours_logs) == sorted(theirs_logs)
        for key in theirs_logs:
            assert_close(ours_logs[key], theirs_logs[key], 20.0, key)


# -- Keras's errors for bad arguments --------------------------------------------------------

@pytest.mark.parametrize("cls", ["Huber", "LogCosh", "CosineSimilarity", "KLDivergence", "Hinge"])
def test_an_unknown_reduction_is_refused_with_keras_s_message(cls):
    message = "Invalid value for argument `reduction`. Expected one of"
    with pytest.raises(ValueError, match=message):
        getattr(keras.losses, cls)(reduction="average")
    with pytest.raises(ValueError, match=message):
        getattr(losses, cls)(reduction="average")


def test_a_reduction_minidl_does_not_compute_is_refused_not_ignored():
    assert losses.Huber(reduction="mean").reduction == "mean"  # the same as sum_over_batch_size
    for reduction in ("sum", None, "none", "mean_with_sample_weight"):
        with pytest.raises(ValueError, match="reduction='sum_over_batch_size'"):
            losses.Poisson(reduction=reduction)
