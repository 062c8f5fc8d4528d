"""Intersection over union (the Jaccard index) per class, from a confusion matrix.

For image segmentation: every pixel is a prediction. The state is one (C, C) confusion
matrix, total_cm[label, predicted] = sum of the weights of the pixels with that label and that
prediction, kept in integers as Keras keeps it (dtype "int64" by default: float sample weights
are truncated to whole numbers, with Keras's warning). Per class c:
    tp = cm[c, c];   denominator = sum of row c + sum of column c - tp   (= tp + fp + fn)
    iou_c = tp / (denominator + eps)
and the result is the mean of iou_c over the target classes that occurred (denominator > 0).
Shapes: N predictions (all axes flattened), C classes.
Source: keras/src/metrics/iou_metrics.py, metrics_utils.py::confusion_matrix.
"""
import warnings

import numpy as np

from minidl import config
from minidl.metrics.base import Metric


class _IoUBase(Metric):
    """The confusion matrix: update_state counts (label, prediction) pairs of class ids."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int64")  # Keras's "int"
        self._direction = "up"
        self.num_classes, self.ignore_class = num_classes, ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = self.add_weight((num_classes, num_classes),
                                        name="total_confusion_matrix", dtype=self.dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Count the pairs; ids outside [0, C) and the ignored class count nothing."""
        if not self.sparse_y_true:
            y_true = np.argmax(y_true, axis=self.axis)  # one-hot -> class ids
        if not self.sparse_y_pred:
            y_pred = np.argmax(y_pred, axis=self.axis)  # scores -> class ids
        y_true = np.asarray(y_true).astype(self.dtype).reshape(-1)  # (N,) floats truncated
        y_pred = np.asarray(y_pred).astype(self.dtype).reshape(-1)  # (N,)
        if sample_weight is None:
            sample_weight = 1
        elif (hasattr(sample_weight, "dtype") and "float" in str(sample_weight.dtype)
              and "int" in self.dtype):
            warnings.warn("You are passing weight as `float`, but dtype is `int`. This may "
                          "result in an incorrect weight due to type casting Consider using "
                          "integer weights.")
        w = np.asarray(sample_weight).astype(self.dtype)  # float weights truncated, as Keras
        w = np.broadcast_to(w.reshape(-1) if w.ndim > 1 else w, y_true.shape)  # (N,)
        counted = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (
            y_pred < self.num_classes)
        if self.ignore_class is not None:
            counted &= y_true != self.ignore_class
        cm = np.zeros((self.num_classes,) * 2, self.dtype)  # (C,C)
        np.add.at(cm, (y_true[counted], y_pred[counted]), w[counted])
        self.total_cm.assign_add(cm)

    def reset_state(self):
        self.total_cm.assign(np.zeros(self.total_cm.shape, self.total_cm.dtype))


class IoU(_IoUBase):
    """The mean IoU over the classes in `target_class_ids` that occurred.

    Args:
        num_classes: C, the number of classes.
        target_class_ids: the classes whose IoU is averaged.
        ignore_class: a label id whose pixels count nothing (e.g. a "void" class).
        sparse_y_true, sparse_y_pred: class ids (True, default) or one score per class along
            `axis` (False: the argmax is taken).
        axis: the classes' axis for sparse_*=False. Default -1.
        name, dtype: see `Metric`; dtype is the confusion matrix's (default "int64").
    Formula:  iou_c = tp_c / (tp_c + fp_c + fn_c + eps);  mean over the target classes with
              tp_c + fp_c + fn_c > 0 (the others count 0 and are not in the divisor)
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None,
                 ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which "
                             f"is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = self.total_cm.value  # (C,C) rows: labels, columns: predictions
        tp = np.diag(cm)  # (C,)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp  # (C,) tp + fp + fn
        ids = self.target_class_ids
        tp, denominator = tp[ids].astype(np.float32), denominator[ids].astype(np.float32)
        valid = denominator > 1e-9  # classes never seen nor predicted do not count
        eps = np.float32(config.epsilon())
        iou = np.where(valid, tp / (denominator + eps), np.float32(0))
        return iou.sum(axis=self.axis) / (valid.sum(dtype=np.float32) + eps)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of a binary segmentation: a prediction >= threshold is class 1, else class 0.

    Args:
        target_class_ids: (0, 1) (default, the mean of both), (0,) or (1,).
        threshold: where a probability becomes class 1 (default 0.5).
        name, dtype: see `Metric`.
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name,
                         dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = np.asarray(y_pred, np.float32) >= np.float32(self.threshold)  # (N,...)
        super().update_state(y_true, predicted, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean IoU over all C classes (those that occurred).

    Args: num_classes, ignore_class, sparse_y_true, sparse_y_pred, axis, name, dtype as IoU.
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU with one-hot labels and (by default) scores: both are argmax-ed along `axis`.

    Args: num_classes, target_class_ids, ignore_class, sparse_y_pred (default False), axis,
        name, dtype as IoU.
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot labels and (by default) scores, argmax-ed along `axis`.

    Args: num_classes, ignore_class, sparse_y_pred (default False), axis, name, dtype as IoU.
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}
