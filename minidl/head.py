"""The output head: a model output paired with its loss, giving the loss and the gradient that
starts backward.

Keras's TensorFlow backend computes a cross-entropy from the logits z, the input of the
output's sigmoid or softmax, whenever the output came from one (the activation leaves
`_keras_logits` on its output: keras/src/activations/activations.py, and
keras/src/backend/tensorflow/nn.py::_get_logits reads it). Then the gradient that starts
backward is with respect to z, and it is the famous

    dL/dz = (p - y) / N          p = sigmoid(z) or softmax(z); N = values averaged

(each cross-entropy's `values_and_gradient_from_logits` gives p - y per sample; the head
divides by N). The activation's Jacobian and the log's 1/p cancel, so this is exact and
stays finite when p saturates at 0 or 1, where the probability path would clip.
Otherwise (a linear output, mse, mae...) the gradient is dL/dy_pred and backward goes through
the output layer's activation as usual.
"""
import warnings

import numpy as np

from minidl import activations, masks
from minidl.losses import BinaryCrossentropy, sum_over_batch_size, wrapper
from minidl.ops import backprop

# The activations whose output Keras traces back to its input (compared as functions).
LOGIT_ACTIVATIONS = (activations.sigmoid, activations.softmax)


class Head:
    """One model output and its loss."""

    def __init__(self, loss):
        self.loss = loss
        self.by_tape = wrapper.by_tape(loss)  # a loss written with minidl.ops (wrapper.py)

    def logits(self, y_pred, tape):
        """z when y_pred came straight from a sigmoid/softmax and the loss can use it, else None."""
        record = None if tape is None else tape.producer(y_pred)
        if record is None or not self.loss.works_from_logits:
            return None
        layer = record.layer
        activation = getattr(layer, "activation", None)
        if activation not in LOGIT_ACTIVATIONS:
            return None
        if activation not in getattr(self.loss, "logit_activations", LOGIT_ACTIVATIONS):
            raise ValueError(
                f"minidl's `{self.loss.name}` works from a sigmoid output or from logits "
                "(from_logits=True); Keras would mix this output's softmax logits into a "
                f"sigmoid cross-entropy. Received: an output of layer '{layer.name}' with "
                f"activation={activation.__name__}")
        if self.loss.from_logits:
            warnings.warn(
                f"`{self.loss.name}` received `from_logits=True`, but the model output was "
                "produced by a sigmoid or softmax activation and thus does not represent "
                "logits. Was this intended?", stacklevel=3)
        return layer.logits(record.cache)

    def loss_and_gradient(self, y_true, y_pred, tape=None, sample_weight=None, mask=None):
        """The mean loss, and where backward starts.

        A mask riding on y_pred (masks.py; say (N,T) from Embedding(mask_zero=True) through
        an LSTM with return_sequences) weighs the loss values as Keras's apply_mask does
        (keras/src/losses/loss.py): the mean over the real steps only.

        Returns:
            (loss, seed): seed is (y_pred, dL/dz, "logits") on the logits path, else
            (y_pred, dL/dy_pred); `tape.gradient([seed], ...)` takes it from there.
        """
        if self.by_tape:
            return self.loss_and_gradient_from_tape(y_true, y_pred, tape, sample_weight, mask)
        y_true, y_pred_checked = self.loss.prepare(y_true, y_pred)
        z = self.logits(y_pred, tape)
        if z is not None:  # sigmoid/softmax + cross-entropy: work from the logits
            values, d_values = self._from_logits(y_true, z, y_pred)
        elif self.loss.from_logits:
            values, d_values = self.loss.values_and_gradient_from_logits(y_true, y_pred_checked)
        else:
            values, d_values = self.loss.values_and_gradient(y_true, y_pred_checked)
        weight = None
        if mask is not None:
            weight = masks.loss_weights(mask, values, sample_weight)
        elif sample_weight is not None:
            weight = np.asarray(sample_weight, values.dtype)
            if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:  # (N,1) for (N,)
                weight = weight[..., 0]  # values: Keras's squeeze_or_expand_to_same_rank
            weight = weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim))
        loss = sum_over_batch_size(values, weight)  # sum / N
        n = np.asarray(values.size, values.dtype)
        if weight is None:
            grad = d_values / n  # e.g. (p - y) / N
        elif values.ndim == 0:  # one value for the whole batch (Dice with axis=None):
            grad = d_values * (weight.sum() / weight.size)  # Keras's mean of value * w_n
        else:
            share = weight / n  # each sample's share, weighted, (N,) or (N,T)
            grad = d_values * share.reshape(share.shape + (1,) * (d_values.ndim - share.ndim))
        return loss, ((y_pred, grad, "logits") if z is not None else (y_pred, grad))


    def _from_logits(self, y_true, z, y_pred):
        """The loss values and their gradient from the logits z of the layer that made y_pred.
        The binary cross-entropy's gradient is sigmoid(z) - y: y_pred, which the sigmoid layer
        computed from z with the same function, is used rather than computed again."""
        if isinstance(self.loss, BinaryCrossentropy) and y_pred.shape == z.shape \
                and y_pred.dtype == z.dtype:
            return self.loss.values_and_gradient_from_logits(y_true, z, p=y_pred)
        return self.loss.values_and_gradient_from_logits(y_true, z)

    def loss_and_gradient_from_tape(self, y_true, y_pred, tape, sample_weight=None, mask=None):
        """A loss written with minidl.ops: its calls go on the tape, and backward starts from
        the values it returned, with dL/dvalues = w / size (wrapper.py has the reduction).

        Returns:
            (loss, seed): seed is (values, dL/dvalues); or (values, dL/dvalues, error) when
            the values did not come from y_pred through minidl.ops, so that a training step
            (tape.gradient) raises the error while evaluate() can use the loss as it is.
        """
        y_true = np.asarray(y_true).astype(y_pred.dtype, copy=False)  # as Keras's Loss casts
        if tape is None:
            values = self.loss.call(y_true, y_pred)
        else:
            first = len(tape.records)
            with tape, backprop.tracking():  # the loss's ops go on the step's tape, after
                tape.watch(y_true)  # the model's; NumPy arithmetic on y_true and y_pred too
                values = backprop.untracked(self.loss.call(backprop.tracked(y_true),
                                                           backprop.tracked(y_pred)))
        weight = wrapper.weight_of(values, sample_weight, mask)
        loss, d_values = wrapper.reduce_with_gradient(np.asarray(values), weight)
        if tape is None:
            return loss, (values, d_values)
        problem = tape.undifferentiable(values, first)
        if problem is not None:
            return loss, (values, d_values, _undifferentiable_loss(self.loss, problem))
        return loss, (values, d_values)


def _undifferentiable_loss(loss, problem):
    what = (f"loss function '{loss.name}'" if hasattr(loss, "fn")
            else f"loss '{loss.name}' ({type(loss).__name__}.call)")
    return ValueError(
        f"minidl cannot train with the {what}: {problem}, so minidl, which has no autograd, "
        "does not know its derivative. Write the loss with minidl.ops and NumPy operators "
        "on y_pred, e.g. `ops.mean(ops.square(y_true - y_pred), axis=-1)`, without copying "
        "y_pred or calling its methods (.mean(), .copy()); evaluate() can use it as it is.")
