"""Metrics: what `fit` and `evaluate` report besides the loss, kept as Keras keeps them.

    model.compile(loss="binary_crossentropy",
                  metrics=["accuracy", minidl.metrics.Precision(), minidl.metrics.AUC(),
                           "RootMeanSquaredError", my_function])

A metric is an object with state variables (made by `add_weight`) and three methods:
`update_state(y_true, y_pred, sample_weight=None)` after every batch, `result()` whenever
the logs need it, and `reset_state()` at the start of every epoch and every evaluate. Most
metrics are running means (a float32 `total` and `count`): the epoch's accuracy is
correct / N over every sample seen, not a mean of batch accuracies.

Where each family lives:
    base.py                  Metric, Sum, Mean, MeanMetricWrapper (a function as a mean)
    accuracy_metrics.py      Accuracy, BinaryAccuracy, (Sparse)CategoricalAccuracy, TopK...
    regression_metrics.py    MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError,
                             LogCoshError, CosineSimilarity, R2Score, ...
    probabilistic_metrics.py the cross-entropies, KLDivergence and Poisson as metrics
    hinge_metrics.py         Hinge, SquaredHinge, CategoricalHinge
    confusion_metrics.py     TruePositives ... FalseNegatives, Precision, Recall,
                             SensitivityAtSpecificity, SpecificityAtSensitivity,
                             PrecisionAtRecall, RecallAtPrecision
    auc.py                   AUC
    f_score_metrics.py       FBetaScore, F1Score
    iou_metrics.py           IoU, MeanIoU, BinaryIoU, OneHotIoU, OneHotMeanIoU
    correlation_metrics.py   PearsonCorrelation, ConcordanceCorrelation
Source: keras/src/metrics/, keras/src/trainers/compile_utils.py::get_metric.
"""
import re

from minidl import naming
from minidl.losses import (binary_focal_crossentropy, categorical_focal_crossentropy,
                           categorical_hinge, hinge, huber, kl_divergence, log_cosh, poisson,
                           squared_hinge)
from minidl.metrics.accuracy_metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                             SparseCategoricalAccuracy,
                                             SparseTopKCategoricalAccuracy,
                                             TopKCategoricalAccuracy, accuracy, binary_accuracy,
                                             categorical_accuracy, sparse_categorical_accuracy,
                                             sparse_top_k_categorical_accuracy,
                                             top_k_categorical_accuracy)
from minidl.metrics.auc import AUC
from minidl.metrics.base import Mean, MeanMetricWrapper, Metric, MetricVariable, Sum
from minidl.metrics.correlation_metrics import (ConcordanceCorrelation, PearsonCorrelation,
                                                concordance_correlation, pearson_correlation)
from minidl.metrics.confusion_metrics import (FalseNegatives, FalsePositives, Precision,
                                              PrecisionAtRecall, Recall, RecallAtPrecision,
                                              SensitivityAtSpecificity,
                                              SpecificityAtSensitivity, TrueNegatives,
                                              TruePositives)
from minidl.metrics.f_score_metrics import F1Score, FBetaScore
from minidl.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from minidl.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from minidl.metrics.probabilistic_metrics import (BinaryCrossentropy, CategoricalCrossentropy,
                                                  KLDivergence, Poisson,
                                                  SparseCategoricalCrossentropy,
                                                  binary_crossentropy, categorical_crossentropy,
                                                  sparse_categorical_crossentropy)
from minidl.metrics.regression_metrics import (CosineSimilarity, LogCoshError,
                                               MeanAbsoluteError, MeanAbsolutePercentageError,
                                               MeanSquaredError, MeanSquaredLogarithmicError,
                                               R2Score, RootMeanSquaredError,
                                               mean_absolute_error,
                                               mean_absolute_percentage_error,
                                               mean_squared_error,
                                               mean_squared_logarithmic_error)

_CLASSES = [
    Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    RootMeanSquaredError, LogCoshError, CosineSimilarity, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge,
    SquaredHinge, CategoricalHinge, TruePositives, FalsePositives, TrueNegatives,
    FalseNegatives, Precision, Recall, AUC, FBetaScore, F1Score, R2Score, IoU, MeanIoU,
    BinaryIoU, OneHotIoU, OneHotMeanIoU, ConcordanceCorrelation, PearsonCorrelation,
    SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision,
]
# Keras's names for metric strings: each class name, its snake_case, and a few aliases.
# A string always makes a new object of the class, named after the string.
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({naming.to_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
})
_VALID = sorted({"accuracy", "acc"} | set(_BY_NAME))


def _is_auto_accuracy(identifier):
    return isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")


def check_identifier(identifier):
    """Raise the Keras-style error for a metric identifier `get` could never resolve."""
    if isinstance(identifier, str):
        if _is_auto_accuracy(identifier) or identifier in _BY_NAME:
            return
    elif isinstance(identifier, dict):
        if identifier.get("class_name") in _BY_NAME:
            return
    elif isinstance(identifier, type):
        if issubclass(identifier, Metric):
            return
    elif isinstance(identifier, Metric) or callable(identifier):
        return  # a Metric, or a function fn(y_true, y_pred)
    raise ValueError(
        f"Could not interpret metric identifier: {identifier!r}. Expected a Metric, a "
        f"function fn(y_true, y_pred), or one of {_VALID}."
    )


def _auto_accuracy(y_true, y_pred):
    """The accuracy "accuracy"/"acc" means, from the label and output shapes (binary first)."""
    if y_pred.shape[-1] == 1:
        return BinaryAccuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def _function_name(fn):
    """A function's name as Keras writes it: snake_case, without <> (a lambda is "lambda")."""
    return naming.to_snake_case(re.sub(r"\W+", "", fn.__name__))


def get(identifier, y_true=None, y_pred=None):
    """Resolve a metric as Keras's compile does.

    - "accuracy"/"acc": BinaryAccuracy when the output has one column (even for a regression
      model), SparseCategoricalAccuracy when the labels are class indices, else Categorical;
      y_true and y_pred (arrays of the right shapes) decide.
    - another string: a new object of the class it names ("precision", "AUC", "mse").
    - a config {"class_name": "Precision", "config": {...}}: a new object with that config.
    - a Metric class: a new object of it; a Metric: itself.
    - a function fn(y_true, y_pred) -> per-sample values: a MeanMetricWrapper named after it.
    A string metric is named after the string ("acc" stays "acc"); any other keeps its name.
    """
    check_identifier(identifier)
    if _is_auto_accuracy(identifier):
        return _auto_accuracy(y_true, y_pred)(name=identifier)
    if isinstance(identifier, str):
        metric = _BY_NAME[identifier]()  # auto-named first, which counts, as in Keras
        metric.name = identifier
        return metric
    if isinstance(identifier, dict):
        return _BY_NAME[identifier["class_name"]](**identifier.get("config", {}))
    if isinstance(identifier, type):
        return identifier()
    if isinstance(identifier, Metric):
        return identifier
    metric = MeanMetricWrapper(identifier)  # auto-named "mean_metric_wrapper" first
    metric.name = getattr(identifier, "name", None) or _function_name(identifier)
    return metric

