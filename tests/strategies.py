"""Hypothesis strategies shared by the gradient and Keras-parity tests."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax"]

# loss name -> label formats it accepts, and the output activation that makes sense for it
LOSS_FORMATS = {
    "sparse_categorical_crossentropy": ["sparse", "sparse_column"],
    "categorical_crossentropy": ["one_hot"],
    "binary_crossentropy": ["binary", "binary_column", "multi_label"],
    "mse": ["regression", "regression_column"],
    "mae": ["regression", "regression_column"],
}


def arrays(shape, low=-2.0, high=2.0):
    """float64 arrays of a given shape with bounded, well-spread values."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False,
                                                             width=64))


@st.composite
def labels(draw, fmt, n, classes):
    """Labels of one format for n rows and `classes` outputs; returns (y, output width)."""
    if fmt in ("sparse", "sparse_column"):
        y = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
        return (y if fmt == "sparse" else y[:, None]), classes
    if fmt == "one_hot":
        idx = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
        return np.eye(classes)[idx], classes
    if fmt in ("binary", "binary_column"):
        y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), float)
        return (y if fmt == "binary" else y[:, None]), 1
    if fmt == "multi_label":
        y = np.array(draw(st.lists(st.integers(0, 1), min_size=n * classes,
                                   max_size=n * classes)), float).reshape(n, classes)
        return y, classes
    y = draw(arrays((n,) if fmt == "regression" else (n, 1), -3, 3))
    return y, 1


@st.composite
def loss_cases(draw, max_rows=6, max_classes=4):
    """(loss name, label format, y, output width, n) for every loss and its label formats."""
    loss = draw(st.sampled_from(sorted(LOSS_FORMATS)))
    fmt = draw(st.sampled_from(LOSS_FORMATS[loss]))
    n = draw(st.integers(1, max_rows))
    classes = draw(st.integers(2, max_classes))
    y, width = draw(labels(fmt, n, classes))
    return loss, fmt, y, width, n


def output_activation(loss, width):
    """The output activation a learner would pair with a loss."""
    if loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        return "softmax"
    if loss == "binary_crossentropy":
        return "sigmoid"
    return "linear"
