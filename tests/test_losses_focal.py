"""Keras's focal and overlap losses (BinaryFocalCrossentropy, CategoricalFocalCrossentropy,
Dice, Tversky, CategoricalGeneralizedCrossEntropy) and its correlation metrics
(PearsonCorrelation, ConcordanceCorrelation), against Keras 3, with their function forms.

Tolerance of the float32 comparisons with Keras: |ours - Keras's| <= TOL * (|Keras's| + scale)
with TOL = 2**-16 (256 float32 ulps, u = 2**-24). A focal entry goes through ~15 roundings on
either side (clip, log or log1p/exp, the power, three products, the weighting), each within
u or TensorFlow's ~2 ulp kernels, and the mean over C <= 4 entries and the weighted sum over
N <= 4 rows add ~8 more: about 25u per side, 50u for the difference, and the power
(1 - p_t)**gamma amplifies a relative error of 1 - p_t by gamma <= 3.5: 175u, rounded up to
256u. `scale` covers cancellation: a gradient entry is the sum of two terms of opposite signs
(the focal factor's derivative times bce, and the factor times bce's derivative), and the
Dice/Tversky gradients are differences of two quotients, so their rounding is relative to the
largest entry of the batch, not to the entry itself: scale = the largest |Keras's gradient|.
Values are sums of non-negative terms (scale 0), except Dice/Tversky (1 - a quotient near 1:
scale 1) and the correlations (a mean of products of both signs: scale 1).
minidl computes inside `denormals.flushed()`, as its training steps do (minidl/denormals.py).
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
from tests.parity import assert_same_fit, assert_same_loss_and_gradients, same_random_weights

TOL = 2.0 ** -16
EPS = np.float32(1e-7)


def assert_close(ours, theirs, scale=0.0, what=""):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, f"{what}: shapes {ours.shape} vs {theirs.shape}"
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), f"{what}: {ours} vs {theirs}"
    ours, theirs = np.nan_to_num(ours, nan=0.0), np.nan_to_num(theirs, nan=0.0)
    bound = TOL * (np.abs(theirs) + scale)
    worst = np.max(np.abs(ours - theirs) - bound, initial=-1.0)
    assert worst <= 0, f"{what}: ours {ours}, Keras's {theirs}, allowed {bound}"


def keras_value_and_gradient(loss, y_true, y_pred, sample_weight, twin=None):
    """Keras's loss of the same class and config, and its gradient by TensorFlow's autodiff."""
    p = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = (twin or keras_loss(loss))(y_true, p, sample_weight=sample_weight)
    return value.numpy(), tape.gradient(value, p).numpy()


# -- the drawn batches -----------------------------------------------------------------------

def floats(low, high, edges=()):
    drawn = st.floats(float(np.float32(low)), float(np.float32(high)), width=32,
                      allow_subnormal=denormals.AVAILABLE and low <= 0 <= high)
    if not edges:
        return drawn
    return st.one_of(st.sampled_from([np.float32(e) for e in edges]), drawn)


def labels(draw, shape, soft):
    if soft:
        return draw(hnp.arrays(np.float32, shape, elements=floats(0, 1, [0.0, 1.0])))
    return draw(hnp.arrays(np.float32, shape, elements=st.sampled_from([0.0, 1.0])))


@st.composite
def binary_focal_batches(draw):
    """Every option of BinaryFocalCrossentropy; probabilities at and beyond the clip bounds."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    from_logits = draw(st.booleans())
    gamma = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]))
    loss = losses.BinaryFocalCrossentropy(
        apply_class_balancing=draw(st.booleans()), alpha=draw(st.sampled_from([0.25, 0.6])),
        gamma=gamma, from_logits=from_logits,
        label_smoothing=draw(st.sampled_from([0.0, 0.1])))
    y = labels(draw, (n, c), soft=draw(st.booleans()))
    if from_logits:
        p = draw(hnp.arrays(np.float32, (n, c), elements=floats(-12, 12, [0.0])))
    elif gamma < 1:  # (1 - p_t)**(gamma - 1) is infinite where p == y: stay inside
        p = draw(hnp.arrays(np.float32, (n, c), elements=floats(0.01, 0.99)))
    else:
        edges = [0.0, 1.0, EPS, np.float32(1 - 1e-7), 0.5]
        p = draw(hnp.arrays(np.float32, (n, c), elements=floats(0, 1, edges)))
    return loss, y, p


@st.composite
def categorical_focal_batches(draw):
    """Every option of CategoricalFocalCrossentropy, alpha a float or one per class."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    from_logits = draw(st.booleans())
    alpha = draw(st.sampled_from([0.25, 1.0, "list"]))
    if alpha == "list":
        alpha = [float(a) for a in draw(hnp.arrays(np.float64, c, elements=st.sampled_from(
            [0.1, 0.5, 0.9])))]
    loss = losses.CategoricalFocalCrossentropy(
        alpha=alpha, gamma=draw(st.sampled_from([0.0, 1.0, 2.0, 3.0])),
        from_logits=from_logits, label_smoothing=draw(st.sampled_from([0.0, 0.1])))
    y = np.eye(c, dtype=np.float32)[draw(hnp.arrays(int, (n,), elements=st.integers(0, c - 1)))]
    if from_logits:
        p = draw(hnp.arrays(np.float32, (n, c), elements=floats(-8, 8, [0.0])))
    else:  # rows normalised by their sum; entries that clip after normalising
        p = draw(hnp.arrays(np.float32, (n, c), elements=floats(0.001, 1, [1.0, 1e-9])))
    return loss, y, p


@st.composite
def overlap_batches(draw):
    """Dice or Tversky on (N,H,W,1) masks, summed over everything or per image."""
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    axis = draw(st.sampled_from([None, (1, 2, 3), [1, 2]]))
    if draw(st.booleans()):
        loss = losses.Dice(axis=axis)
    else:
        loss = losses.Tversky(alpha=draw(st.sampled_from([0.3, 0.5, 0.7])),
                              beta=draw(st.sampled_from([0.3, 0.5, 0.8])), axis=axis)
    y = labels(draw, (n, h, w, 1), soft=draw(st.booleans()))
    p = draw(hnp.arrays(np.float32, (n, h, w, 1), elements=floats(0, 1, [0.0, 1.0])))
    return loss, y, p


def compare_with_keras(loss, y, p, weight, twin=None):
    theirs, their_grad = keras_value_and_gradient(loss, y, p, weight, twin)
    with denormals.flushed():
        ours, (_, grad) = Head(loss).loss_and_gradient(y, p, sample_weight=weight)
    assert np.asarray(ours).dtype == grad.dtype == np.float32
    overlap = isinstance(loss, (losses.Dice, losses.Tversky))
    assert_close(ours, theirs, 1.0 if overlap else 0.0, f"{loss.name} value")
    assert_close(grad, their_grad, np.max(np.abs(their_grad), initial=0.0),
                 f"{loss.name} gradient")


def weights(data, n, allowed=True):
    if not allowed:
        return None
    return data.draw(st.none() | hnp.arrays(np.float32, (n,), elements=floats(0, 2, [0.0])))


@given(data=st.data())
def test_binary_focal_value_and_gradient_match_keras(data):
    loss, y, p = data.draw(binary_focal_batches())
    compare_with_keras(loss, y, p, weights(data, len(p)))


@given(data=st.data())
def test_categorical_focal_value_and_gradient_match_keras(data):
    loss, y, p = data.draw(categorical_focal_batches())
    compare_with_keras(loss, y, p, weights(data, len(p)))


@given(data=st.data())
def test_dice_and_tversky_value_and_gradient_match_keras(data):
    loss, y, p = data.draw(overlap_batches())
    # Keras weighs per-image values (N,) by (N,) weights, and one value by the weights' mean;
    # values (N,H) of axis=[1, 2] against (N,) weights are Keras's "Incompatible shapes".
    compare_with_keras(loss, y, p, weights(data, len(p), allowed=loss.axis != [1, 2]))


@given(data=st.data())
def test_generalized_cross_entropy_value_and_gradient_match_keras(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    q = data.draw(st.sampled_from([0.1, 0.5, 0.9]))
    k = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    p = data.draw(hnp.arrays(np.float32, (n, c), elements=floats(0.01, 1, [1.0])))
    loss = losses.CategoricalGeneralizedCrossEntropy(q=q)
    twin = keras.losses.CategoricalGeneralizedCrossEntropy(q=q)
    compare_with_keras(loss, k.astype(np.float32), p, weights(data, n), twin)


def test_the_function_forms_match_keras():
    """minidl.losses.<name> as keras.losses.<name> (per-sample values, or one value for
    Dice/Tversky with axis=None); the focal ones are minidl.metrics's too, as Keras's."""
    rng = np.random.default_rng(3)
    y = np.round(rng.uniform(0, 1, (5, 3))).astype(np.float32)
    p = rng.uniform(0.05, 1, (5, 3)).astype(np.float32)
    z = rng.normal(size=(5, 3)).astype(np.float32) * 3
    cases = [("binary_focal_crossentropy", (y, p), {}),
             ("binary_focal_crossentropy", (y, z), dict(from_logits=True, gamma=3.0,
                                                        apply_class_balancing=True, alpha=0.4,
                                                        label_smoothing=0.2)),
             ("binary_focal_crossentropy", (y.T, p.T), dict(axis=0)),
             ("categorical_focal_crossentropy", (np.eye(3)[[0, 2, 1, 1, 0]], p), {}),
             ("categorical_focal_crossentropy", (np.eye(3)[[0, 2, 1, 1, 0]], z),
              dict(from_logits=True, alpha=[0.2, 0.3, 0.5], gamma=1.0, label_smoothing=0.1)),
             ("categorical_focal_crossentropy", (np.eye(5)[[0, 2, 1]], p.T), dict(axis=0)),
             ("dice", (y, p), {}), ("dice", (y, p), dict(axis=1)),
             ("tversky", (y, p), dict(alpha=0.2, beta=0.8)), ("tversky", (y, p), dict(axis=1)),
             ("categorical_generalized_cross_entropy", (np.array([0, 2, 1, 1, 0]), p),
              dict(q=0.3))]
    for name, args, kwargs in cases:
        modules = [(losses, keras.losses)]
        if hasattr(keras.metrics, name):
            modules.append((minidl.metrics, keras.metrics))
        for ours, theirs in modules:
            expected = np.asarray(getattr(theirs, name)(*args, **kwargs))
            assert_close(getattr(ours, name)(*args, **kwargs), expected, 1.0, name)


def test_keras_s_errors_for_the_function_forms_and_arguments():
    y, p = np.zeros((4,), np.float32), np.full((4, 1), 0.5, np.float32)
    for module in (keras.losses, losses):  # no rank matching in the function: TF's error
        with pytest.raises(ValueError, match="must have the same rank"):
            module.binary_focal_crossentropy(y, p)
        with pytest.raises(ValueError, match="must have the same shape"):
            module.binary_focal_crossentropy(np.zeros((4, 2)), p)
        with pytest.raises(ValueError, match=r"`axis` must be of type `int`"):
            module.categorical_focal_crossentropy(np.ones((2, 2)), np.ones((2, 2)), axis=True)
        with pytest.raises(ValueError, match=r"q must be in the interval \(0, 1\)"):
            module.CategoricalGeneralizedCrossEntropy(q=1.0)
        with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
            module.Dice(reduction="average")
    # the Loss objects match the ranks first, as Keras's LossFunctionWrapper
    assert_close(losses.BinaryFocalCrossentropy()(y, p),
                 keras.losses.BinaryFocalCrossentropy()(y, p), what="(N,) vs (N,1)")


def test_what_minidl_leaves_out_is_refused_by_name():
    with pytest.raises(ValueError, match="reduction='sum_over_batch_size'"):
        losses.Tversky(reduction="sum")
    with pytest.raises(ValueError, match=r"class indices of shape .*Received: y_true.shape=\(3, 1\)"):
        losses.CategoricalGeneralizedCrossEntropy()(np.zeros((3, 1)), np.full((3, 2), 0.5))
    model = minidl.Sequential([minidl.layers.Input((3,)),
                               minidl.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="binary_focal_crossentropy")
    with pytest.raises(ValueError, match="activation=softmax"):
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)


# -- central differences in float64, and a wrong gradient that must fail ---------------------

def smooth_cases(rng, n=4, c=3):
    """(loss, y, p) in float64 away from every clip bound."""
    y = rng.integers(0, 2, (n, c)).astype(np.float64)
    soft = rng.uniform(0, 1, (n, c))
    p = rng.uniform(0.05, 0.95, (n, c))
    z = rng.normal(size=(n, c)) * 2
    onehot = np.eye(c)[rng.integers(0, c, n)]
    masks = rng.integers(0, 2, (n, 2, 2, 1)).astype(np.float64)
    return [
        (losses.BinaryFocalCrossentropy(), y, p),
        (losses.BinaryFocalCrossentropy(gamma=1.5, apply_class_balancing=True, alpha=0.3,
                                        label_smoothing=0.1), soft, p),
        (losses.BinaryFocalCrossentropy(from_logits=True, gamma=3.0), y, z),
        (losses.CategoricalFocalCrossentropy(), onehot, p),
        (losses.CategoricalFocalCrossentropy(from_logits=True, alpha=[0.2, 0.5, 0.3],
                                             label_smoothing=0.1), onehot, z),
        (losses.Dice(), masks, rng.uniform(0, 1, masks.shape)),
        (losses.Dice(axis=(1, 2, 3)), masks, rng.uniform(0, 1, masks.shape)),
        (losses.Tversky(alpha=0.3, beta=0.7), masks, rng.uniform(0, 1, masks.shape)),
        (losses.Tversky(axis=(1, 2, 3)), masks, rng.uniform(0, 1, masks.shape)),
        (losses.CategoricalGeneralizedCrossEntropy(q=0.4), rng.integers(0, c, n), p),
    ]


CASE_IDS = ["bfce", "bfce-options", "bfce-logits", "cfce", "cfce-logits", "dice", "dice-axis",
            "tversky", "tversky-axis", "gce"]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
@given(seed=st.integers(0, 2**16))
def test_gradients_match_central_differences(float64, index, seed):
    loss, y, p = smooth_cases(np.random.default_rng(seed))[index]
    result = check_gradients(loss, p, y)
    assert result.passed, str(result)


class OnePercentOff(losses.Loss):
    """A loss whose gradient is 1 % too large: the checker must catch it."""

    def __init__(self, inner):
        super().__init__(name=inner.name)
        self.inner = inner
        self.from_logits = inner.from_logits

    def prepare(self, y_true, y_pred):
        return self.inner.prepare(y_true, y_pred)

    def values_and_gradient(self, y_true, y_pred):
        values, grad = self.inner.values_and_gradient(y_true, y_pred)
        return values, grad * 1.01

    def values_and_gradient_from_logits(self, y_true, z):
        values, grad = self.inner.values_and_gradient_from_logits(y_true, z)
        return values, grad * 1.01


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_a_gradient_one_percent_off_fails_the_check(float64, index):
    loss, y, p = smooth_cases(np.random.default_rng(5))[index]
    assert check_gradients(loss, p, y).passed
    assert not check_gradients(OnePercentOff(loss), p, y).passed


# -- a model's gradients and fit, against the twin -------------------------------------------

def twin_cases(rng, n=8):
    binary = rng.integers(0, 2, (n, 2)).astype(np.float32)
    onehot = np.eye(2, dtype=np.float32)[rng.integers(0, 2, n)]
    return [  # (output activation, loss, y): the pairings programs use, both logits paths
        ("sigmoid", losses.BinaryFocalCrossentropy(), binary),  # bce from the sigmoid's input
        ("sigmoid", losses.BinaryFocalCrossentropy(from_logits=True, label_smoothing=0.1,
                                                   apply_class_balancing=True), binary),
        ("linear", losses.BinaryFocalCrossentropy(from_logits=True, gamma=3.0), binary),
        ("softmax", losses.CategoricalFocalCrossentropy(alpha=[0.3, 0.7]), onehot),
        ("linear", losses.CategoricalFocalCrossentropy(from_logits=True), onehot),
        ("sigmoid", losses.Dice(), binary),
        ("sigmoid", losses.Tversky(alpha=0.3, beta=0.7, axis=1), binary),
        ("softmax", losses.CategoricalGeneralizedCrossEntropy(q=0.7), binary[:, 0]),
    ]


def test_a_model_s_loss_and_gradients_match_keras_s():
    """Each weight's gradient through the twin (rtol 1e-5, atol 1e-6: parity.py's, a few
    ulps of each per-sample gradient carried through one Dense layer's x.T @ dz)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    for activation, loss, y in twin_cases(rng):
        model = minidl.Sequential([minidl.layers.Input((3,)),
                                   minidl.layers.Dense(2, activation=activation)])
        model.compile(optimizer="sgd", loss=loss)
        same_random_weights([model], 1)
        functions = None
        if isinstance(loss, losses.CategoricalGeneralizedCrossEntropy):  # not in Keras's get
            functions = {loss: keras.losses.CategoricalGeneralizedCrossEntropy(q=loss.q)}
        twin = keras_twin(model, functions=functions)
        assert type(twin.loss).__name__ == type(loss).__name__
        assert_same_loss_and_gradients(twin, model, x, y)


FIT_CASES = [  # (loss, metrics, output width, activation, labels)
    ("binary_focal_crossentropy", [minidl.metrics.binary_focal_crossentropy, "accuracy"],
     2, "sigmoid", "binary"),
    (losses.BinaryFocalCrossentropy(gamma=1.0, from_logits=True, apply_class_balancing=True),
     ["binary_accuracy"], 2, "linear", "binary"),
    ("categorical_focal_crossentropy", [minidl.metrics.categorical_focal_crossentropy],
     3, "softmax", "onehot"),
    (losses.CategoricalFocalCrossentropy(alpha=0.5, label_smoothing=0.1, from_logits=True),
     ["categorical_accuracy"], 3, "linear", "onehot"),
    ("dice", ["pearson_correlation", minidl.metrics.ConcordanceCorrelation()], 2, "sigmoid",
     "binary"),
    (losses.Tversky(alpha=0.7, beta=0.3), [minidl.metrics.PearsonCorrelation(name="pcc"),
                                           "ConcordanceCorrelation",
                                           minidl.metrics.pearson_correlation], 2, "sigmoid",
     "binary"),
    ("mse", ["concordance_correlation", minidl.metrics.pearson_correlation], 3, "linear",
     "normal"),
]


@pytest.mark.parametrize("loss,metrics,width,activation,kind", FIT_CASES,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_fit_history_matches_keras(loss, metrics, width, activation, kind):
    """Two epochs of three batches, each loss and metric by name and by object. rtol 1e-5,
    the repo's fit tolerance: each step agrees to a few ulps (above), and each update's
    ulps feed the next steps."""
    rng = np.random.default_rng(width)
    x = rng.normal(size=(24, 3)).astype(np.float32)
    y = {"binary": rng.integers(0, 2, (24, width)).astype(np.float32),
         "onehot": np.eye(width, dtype=np.float32)[rng.integers(0, width, 24)],
         "normal": rng.normal(size=(24, width)).astype(np.float32)}[kind]
    model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(4, activation="tanh"),
                               minidl.layers.Dense(width, activation=activation)])
    model.compile(optimizer=minidl.optimizers.SGD(0.1), loss=loss, metrics=metrics)
    same_random_weights([model], seed=3)
    twin = keras_twin(model)
    assert_same_fit(twin, model, x, y, epochs=2, batch_size=8)


# -- the correlation metrics against Keras's -------------------------------------------------

@given(data=st.data())
def test_correlation_metrics_match_keras_over_batches(data):
    """Two update_state calls (one weighted, the second maybe (N,) labels against (N,1)
    outputs, which Keras's rank matching reads as (N,1)), on drawn rows, constant rows
    (Pearson's 0 / 0 NaN) included."""
    name = data.draw(st.sampled_from(["PearsonCorrelation", "ConcordanceCorrelation"]))
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    axis = data.draw(st.sampled_from([-1, 1] if c > 1 else [-1]))
    ours = getattr(minidl.metrics, name)(axis=axis)
    theirs = getattr(keras.metrics, name)(axis=axis)
    for metric in (ours, theirs):
        metric.reset_state()
    for step in range(2):
        y = data.draw(hnp.arrays(np.float32, (n, c), elements=floats(-3, 3, [0.0, 1.0])))
        p = data.draw(hnp.arrays(np.float32, (n, c), elements=floats(-3, 3, [0.0, 1.0])))
        weight = weights(data, n) if step == 0 else None
        if step == 1 and c == 1 and data.draw(st.booleans()):
            y = y[:, 0]
        for metric in (ours, theirs):
            metric.update_state(y, p, sample_weight=weight)
    # scale 1: a mean of products of both signs, each a few ulps off; but a row whose
    # spread is a few ulps (nearly constant) divides by a nearly-zero std, so it is left to
    # the NaN check only when both agree it is finite and large
    assert_close(ours.result(), theirs.result(), 1.0, name)


def test_correlation_function_forms_match_keras():
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32)
    for name in ("pearson_correlation", "concordance_correlation"):
        for args, kwargs in (((y, p), {}), ((y, p), dict(axis=0)), ((y[:, 0], p[:, :1]), {}),
                             ((y.reshape(5, 2, 2), p.reshape(5, 2, 2)), dict(axis=(1, 2)))):
            expected = np.asarray(getattr(keras.metrics, name)(*args, **kwargs))
            assert_close(getattr(minidl.metrics, name)(*args, **kwargs), expected, 1.0, name)


@pytest.mark.parametrize("identifier", ["pearson_correlation", "PearsonCorrelation",
                                        "concordance_correlation", "ConcordanceCorrelation",
                                        "binary_focal_crossentropy",
                                        "categorical_focal_crossentropy"])
def test_a_metric_string_means_what_it_means_in_keras(identifier):
    """The correlations resolve by name; the focal cross-entropies are metric functions
    only (Keras's metrics.get refuses their names)."""
    try:
        theirs = keras.metrics.get(identifier)
    except ValueError:
        with pytest.raises(ValueError, match="Could not interpret metric identifier"):
            minidl.metrics.get(identifier)
        return
    ours = minidl.metrics.get(identifier)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours._direction == theirs._direction == "up"


# -- configs, names and saving ---------------------------------------------------------------

CONFIGURED = [losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=3.0,
                                             from_logits=True, label_smoothing=0.1, axis=-1,
                                             name="focal"),
              losses.CategoricalFocalCrossentropy(alpha=[0.2, 0.8], gamma=1.0,
                                                  label_smoothing=0.05),
              losses.Dice(axis=[1, 2]), losses.Tversky(alpha=0.2, beta=0.8, axis=[1, 2, 3]),
              losses.CategoricalGeneralizedCrossEntropy(q=0.3)]


@pytest.mark.parametrize("loss", CONFIGURED, ids=lambda loss: type(loss).__name__)
def test_names_defaults_and_configs_are_keras_s(loss):
    cls = type(loss)
    theirs_cls = getattr(keras.losses, cls.__name__)
    assert cls().get_config() == theirs_cls().get_config()
    theirs = theirs_cls.from_config(loss.get_config())
    assert theirs.get_config() == loss.get_config()
    assert cls.from_config(theirs.get_config()).get_config() == loss.get_config()


@pytest.mark.parametrize("metric", [minidl.metrics.PearsonCorrelation(axis=0, name="p"),
                                    minidl.metrics.ConcordanceCorrelation()],
                         ids=lambda metric: type(metric).__name__)
def test_metric_configs_are_keras_s(metric):
    cls = type(metric)
    theirs_cls = getattr(keras.metrics, cls.__name__)
    assert cls().get_config() == theirs_cls().get_config()
    assert theirs_cls.from_config(metric.get_config()).get_config() == metric.get_config()


def test_a_model_saved_with_each_loss_loads_in_minidl_and_keras(tmp_path):
    for loss, metrics in [(CONFIGURED[0], [minidl.metrics.PearsonCorrelation()]),
                          ("categorical_focal_crossentropy", ["concordance_correlation"]),
                          (losses.Dice(), ["pearson_correlation"]),
                          ("tversky", [minidl.metrics.ConcordanceCorrelation(axis=-1)])]:
        model = minidl.Sequential([minidl.layers.Input((3,)), minidl.layers.Dense(2)])
        model.compile(optimizer="sgd", loss=loss, metrics=metrics)
        model.save(tmp_path / "model.keras")
        ours = minidl.load_model(tmp_path / "model.keras")
        theirs = keras.models.load_model(tmp_path / "model.keras")
        if isinstance(loss, str):
            assert ours.loss.name == loss and theirs.loss == loss
        elif isinstance(theirs.loss, str):  # a loss of default settings is saved by name
            assert type(ours.loss) is type(loss) and theirs.loss == loss.name == ours.loss.name
        else:
            assert type(ours.loss) is type(loss)
            assert ours.loss.get_config() == loss.get_config() == theirs.loss.get_config()
        x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
        y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], np.float32)
        ours_logs = ours.evaluate(x, y, verbose=0, return_dict=True)
        theirs_logs = theirs.evaluate(x, y, verbose=0, return_dict=True)
        assert sorted(ours_logs) == sorted(theirs_logs)
        for key in theirs_logs:
            assert_close(ours_logs[key], theirs_logs[key], 1.0, key)
