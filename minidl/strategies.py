"""Hypothesis strategies and ready-made property checks for your own gradient tests.

Property-based testing states a rule that must hold for every input ("softmax rows sum to
one", "the gradient of cross-entropy on logits is (p - y) / N") and lets hypothesis search
for an input that breaks it, then shrink that input to the smallest one that still does.

    from hypothesis import given
    from minidl.strategies import model_and_data
    from minidl.testing import check_gradients

    @given(model_and_data())
    def test_backprop_is_right(case):
        model, x, y = case
        assert check_gradients(model, x, y).passed

This module imports hypothesis (`pip install hypothesis`); minidl itself never imports it.
The strategies draw arrays in the float type in force when they are drawn
(minidl.config.floatx()): switch to float64 before a gradient check.

Shapes: N rows in the batch, D input features, C outputs (classes or regression targets).
Every value lies in [-3, 3] and every size is small, so a failing example stays readable.
"""
import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl import activations, config, losses
from minidl.head import Head
from minidl.layers import Activation, Dense, Input
from minidl.tape import Tape
from minidl.models import Sequential

HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
LABEL_KINDS = ("sparse", "one_hot", "binary", "multi_label", "regression")

# label kind -> (loss, output activation): the pairs a learner would choose
LOSS_FOR_LABELS = {
    "sparse": ("sparse_categorical_crossentropy", "softmax"),
    "one_hot": ("categorical_crossentropy", "softmax"),
    "binary": ("binary_crossentropy", "sigmoid"),
    "multi_label": ("binary_crossentropy", "sigmoid"),
    "regression": ("mse", "linear"),
}


# loss -> the label formats it accepts; "_column" is the same labels with a trailing axis of 1,
# which Keras accepts too ((N, 1) class indices, (N, 1) targets)
LOSS_LABEL_FORMATS = {
    "sparse_categorical_crossentropy": ("sparse", "sparse_column"),
    "categorical_crossentropy": ("one_hot",),
    "binary_crossentropy": ("binary", "binary_column", "multi_label"),
    "mse": ("regression", "regression_column"),
    "mae": ("regression", "regression_column"),
}


# -- strategies -----------------------------------------------------------------------------

def values(low=-3.0, high=3.0):
    """Finite floats in [low, high], drawn at the precision of floatx."""
    width = 64 if config.floatx() == "float64" else 32
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)


def batches(n_features, min_rows=1, max_rows=6, low=-3.0, high=3.0):
    """Batches x of shape (N, n_features), N in [min_rows, max_rows], values in [low, high]."""
    return st.integers(min_rows, max_rows).flatmap(
        lambda n: hnp.arrays(config.floatx(), (n, n_features), elements=values(low, high)))


@st.composite
def labels(draw, kind, n, classes=2):
    """Labels of one kind for n rows, in the format its loss expects.

    Args:
        kind: "sparse"      (n,) integer classes in [0, classes)
              "one_hot"     (n, classes) rows of 0s with a single 1
              "binary"      (n,) integers 0/1, for one sigmoid output
              "multi_label" (n, classes) independent 0/1 columns
              "regression"  (n, classes) floats in [-3, 3]; (n,) when classes == 1
        n: number of rows.
        classes: number of classes, or of regression targets.
    """
    if kind not in LABEL_KINDS:
        raise ValueError(f"Unknown label kind {kind!r}. Expected one of {list(LABEL_KINDS)}.")
    if kind in ("sparse", "one_hot"):
        k = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
        return k if kind == "sparse" else np.eye(classes, dtype=config.floatx())[k]
    if kind == "binary":
        return np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if kind == "multi_label":
        bits = draw(st.lists(st.integers(0, 1), min_size=n * classes, max_size=n * classes))
        return np.array(bits, config.floatx()).reshape(n, classes)
    shape = (n,) if classes == 1 else (n, classes)
    return draw(hnp.arrays(config.floatx(), shape, elements=values()))


def float_arrays(shape, low=-2.0, high=2.0, dtype=np.float64):
    """Arrays of a fixed shape and dtype (float64 by default, for gradient checks)."""
    width = 64 if np.dtype(dtype) == np.float64 else 32
    return hnp.arrays(dtype, shape, elements=st.floats(low, high, allow_nan=False, width=width))


@st.composite
def loss_cases(draw, max_rows=6, max_classes=4):
    """(loss name, label format, y, output width, n): every loss with each label format.

    Formats are LABEL_KINDS, plus "_column" variants with a trailing axis of 1.
    """
    loss = draw(st.sampled_from(sorted(LOSS_LABEL_FORMATS)))
    fmt = draw(st.sampled_from(LOSS_LABEL_FORMATS[loss]))
    n = draw(st.integers(1, max_rows))
    kind = fmt.removesuffix("_column")
    width = 1 if kind in ("binary", "regression") else draw(st.integers(2, max_classes))
    y = draw(labels(kind, n, width))
    return loss, fmt, (y.reshape(n, 1) if fmt.endswith("_column") else y), width, n


def output_activation(loss, width=None):
    """The output activation a learner pairs with a loss: softmax, sigmoid or linear."""
    if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        return "softmax"
    return "sigmoid" if loss == "binary_crossentropy" else "linear"


@st.composite
def dense_models(draw, n_features=None, n_outputs=None, output_activation=None,
                 min_depth=0, max_depth=2, min_width=1, max_width=6,
                 hidden_activations=HIDDEN_ACTIVATIONS):
    """Small, built, uncompiled Sequential models of Dense layers with random weights.

    Args:
        n_features: D, or None to draw it in [1, 4].
        n_outputs: C, or None to draw it in [1, 4].
        output_activation: the last layer's activation, or None to draw one.
        min_depth, max_depth: how many hidden layers.
        min_width, max_width: how many units in each hidden layer.
        hidden_activations: the activations hidden layers draw from.
    Weights are uniform in [-1, 1], drawn from a seed hypothesis chooses, so that a failing
    example can be replayed.
    """
    d = n_features or draw(st.integers(1, 4))
    c = n_outputs or draw(st.integers(1, 4))
    hidden = draw(st.lists(st.tuples(st.integers(min_width, max_width),
                                     st.sampled_from(hidden_activations)),
                           min_size=min_depth, max_size=max_depth))
    last = output_activation or draw(st.sampled_from(["linear", "relu", "tanh", "sigmoid",
                                                      "softmax"]))
    model = Sequential([Input((d,))] + [Dense(u, activation=a) for u, a in hidden]
                       + [Dense(c, activation=last)])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    model.set_weights([rng.uniform(-1, 1, size=w.shape) for w in model.get_weights()])
    return model


@st.composite
def model_and_data(draw, kinds=LABEL_KINDS, optimizer="sgd", max_rows=6, **model_bounds):
    """(model, x, y): a compiled model, a batch and labels that suit each other.

    The label kind decides the output width, the output activation and the loss (see
    LOSS_FOR_LABELS): sparse or one-hot labels get softmax and a categorical cross-entropy,
    binary or multi-label ones sigmoid and binary cross-entropy, regression a linear output
    and mse. `model_bounds` go to dense_models (depth, width, hidden activations).
    """
    kind = draw(st.sampled_from(kinds))
    loss, activation = LOSS_FOR_LABELS[kind]
    classes = draw(st.integers(2, 4)) if kind != "binary" else 1
    if kind == "regression":
        classes = draw(st.integers(1, 3))
    d = draw(st.integers(1, 4))
    model = draw(dense_models(n_features=d, n_outputs=classes, output_activation=activation,
                              **model_bounds))
    model.compile(optimizer=optimizer, loss=loss)
    x = draw(batches(d, max_rows=max_rows))
    y = draw(labels(kind, len(x), classes))
    return model, x, y


def assume_away_from_kinks(model, x, y=None, margin=1e-4):
    """Skip the example (hypothesis.assume) if a relu input or an mae error is within `margin` of 0.

    At a kink the derivative does not exist, so backprop and central differences disagree
    for a reason that is not a bug.
    """
    with Tape() as tape:
        y_pred = model(x)
    for record in tape.records:
        if getattr(record.layer, "activation", None) is activations.relu:
            assume(np.abs(record.layer.logits(record.cache)).min() > margin)
    if y is not None and getattr(model.loss, "name", "") in ("mae", "mean_absolute_error"):
        assume(np.abs(y_pred - np.reshape(y, y_pred.shape)).min() > margin)


# -- ready-made property checks: plain functions that assert ---------------------------------

def _tolerance(dtype):
    """A relative tolerance a few hundred roundings wide, for the array's float type."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-10


def softmax_rows_sum_to_one(z):
    """softmax(z) is finite, in [0, 1], and each row sums to 1, however large z is."""
    p = activations.softmax(np.asarray(z))  # (N,C)
    assert np.all(np.isfinite(p)), f"softmax produced non-finite values for z={z!r}"
    assert np.all((p >= 0) & (p <= 1)), f"softmax left [0, 1]: {p!r}"
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=_tolerance(p.dtype),
                               err_msg="softmax rows do not sum to 1")


def loss_is_non_negative(loss, y, y_pred):
    """Every per-sample loss is finite and >= 0 (up to rounding)."""
    loss = losses.get(loss)
    per_sample = loss.call(y, y_pred)  # (N,)
    assert np.all(np.isfinite(per_sample)), f"{loss.name} is not finite: {per_sample!r}"
    assert np.all(per_sample >= -_tolerance(per_sample.dtype)), \
        f"{loss.name} is negative: {per_sample!r}"


def crossentropy_logits_gradient_is_p_minus_y_over_n(loss, y, z):
    """On logits z, a cross-entropy's gradient is (p - y) / N, with p = softmax(z) or sigmoid(z).

    For binary cross-entropy over C columns, the per-sample mean over columns adds a 1/C:
    (sigmoid(z) - y) / (N * C). Labels y: class indices for the sparse loss, one-hot rows for
    the categorical one, 0/1 values for the binary one.
    """
    loss = losses.get(loss)
    z = np.asarray(z, config.floatx())  # (N,C), in the float type layers compute in
    n = len(z)
    if isinstance(loss, losses.BinaryCrossentropy):
        p = activations.sigmoid(z)
        target = np.reshape(y, z.shape).astype(z.dtype)
        expected = (p - target) / (n * z.shape[-1])
    else:
        p = activations.softmax(z)
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            target = np.eye(z.shape[-1], dtype=z.dtype)[np.reshape(y, n).astype(int)]
        else:
            target = np.asarray(y, z.dtype)
        expected = (p - target) / n
    head = Head(loss)
    if loss.from_logits:
        _, (_, grad) = head.loss_and_gradient(y, z)
    else:  # the path fit takes: probabilities out of the model, the head reads the logits
        with Tape() as tape:
            output = Activation(activations.sigmoid if isinstance(
                loss, losses.BinaryCrossentropy) else activations.softmax)(z)
        _, (_, grad, _) = head.loss_and_gradient(y, output, tape)
    np.testing.assert_allclose(grad, expected, rtol=_tolerance(z.dtype),
                               atol=_tolerance(z.dtype) / n,
                               err_msg=f"{loss.name}: the gradient on logits is not (p - y) / N")


def mean_loss_is_permutation_invariant(model, x, y, permutation):
    """Shuffling the rows of a batch changes neither the mean loss nor any weight's gradient."""
    permutation = np.asarray(permutation)
    x, y = np.asarray(x), np.asarray(y)
    loss, grads = model.loss_and_gradients(x, y)
    shuffled_loss, shuffled_grads = model.loss_and_gradients(x[permutation], y[permutation])
    tol = _tolerance(grads[0].dtype)
    np.testing.assert_allclose(shuffled_loss, loss, rtol=tol, atol=tol,
                               err_msg="the mean loss depends on the order of the rows")
    for variable, g, shuffled in zip(model.trainable_weights, grads, shuffled_grads):
        np.testing.assert_allclose(shuffled, g, rtol=tol, atol=tol,
                                   err_msg=f"the gradient of {variable.path} depends on the "
                                           "order of the rows")
