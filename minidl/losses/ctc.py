"""The CTC loss (Connectionist Temporal Classification) as Keras's `losses.CTC` and
`losses.ctc`: for sequence labelling without an alignment (speech, handwriting, captcha OCR).

A function of the labels and the logits, one value per sequence; minidl differentiates it on
the tape through `ops.ctc_loss` (ops/ctc.py has the forward-backward recursion and its
gradient), as a loss function of your own would be (wrapper.py).
Source: keras/src/losses/losses.py::ctc and CTC.
"""
import numpy as np

from minidl import ops
from minidl.losses.base import Loss
from minidl.losses.wrapper import LossFunctionWrapper


def ctc(y_true, y_pred):
    """Per-sequence CTC loss, shape (N,).

    Args:
        y_true: (N, L) integer labels; 0 is the blank and the padding, never a class.
        y_pred: (N, T, C) logits (not softmax-ed: ops.ctc_loss applies the softmax).
    Formula:
        label_length[n] = number of nonzero labels in row n
        input_length[n] = T
        loss[n] = -log sum over the paths through the T steps that read as row n's labels
    """
    if len(np.shape(y_true)) != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape "
                         "`(batch_size, max_length)` in integer format. "
                         f"Received: y_true.shape={np.shape(y_true)}")
    if len(np.shape(y_pred)) != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape "
                         "`(batch_size, max_length, num_classes)`. "
                         f"Received: y_pred.shape={np.shape(y_pred)}")
    batch, steps = np.shape(y_pred)[0], np.shape(y_pred)[1]
    input_length = np.full((batch,), steps, np.int32)  # (N,)
    label_length = np.sum(np.asarray(ops.convert_to_numpy(y_true)) != 0, axis=-1
                          ).astype(np.int32)  # (N,)
    return ops.ctc_loss(y_true, y_pred, label_length, input_length, mask_index=0)


class CTC(LossFunctionWrapper):
    """The CTC loss averaged over the batch (see `ctc`)."""

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)
