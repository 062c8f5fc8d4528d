"""keras.ops.ctc_loss and ctc_decode: connectionist temporal classification (Graves et al.,
2006), the loss of sequence models (speech, handwriting, captcha OCR) whose output is longer
than its unaligned label.

Source: keras/src/backend/tensorflow/nn.py (tf.nn.ctc_loss, tf.nn.ctc_greedy_decoder).

The loss sums the probability of every path through the T steps that reads as the label
once blanks are dropped and repeats merged. Over the label with a blank around each symbol,
l' = (blank, l1, blank, l2, ..., blank) of S = 2L + 1 states, in log space:

    alpha[0, 0:2] = log y[0, l'[0:2]]
    alpha[t, s] = log y[t, l'[s]] + logsumexp(alpha[t-1, s], alpha[t-1, s-1],
                                             alpha[t-1, s-2] if l'[s] is a symbol != l'[s-2])
    loss = -logsumexp(alpha[T-1, S-1], alpha[T-1, S-2])

and beta, the same from the end. Backward (with respect to the logits z, y = softmax(z)):
    dz[t, k] = y[t, k] - sum over s with l'[s] = k of exp(alpha[t, s] + beta[t, s]
                                                         - log y[t, k] + loss)
Shapes: B batch, T steps, C classes (one of them the blank, mask_index), L label length.
"""
import numpy as np

from minidl.ops.backprop import record, values
from minidl.ops.core import convert_to_tensor
from minidl.rest_activations import log_softmax

NEG_INF = -np.inf


def _logsumexp(*terms):
    """log(sum(exp(terms))) elementwise over arrays of one shape, -inf where all are -inf."""
    stacked = np.stack(terms)  # (K, S)
    top = stacked.max(axis=0)
    safe = np.where(np.isfinite(top), top, 0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(stacked - safe).sum(axis=0)) + safe


def _one_sequence(log_y, label, blank):
    """-log p(label | log_y) and its gradient with respect to the logits, for one sequence.

    log_y: (T, C) log-probabilities; label: (L,) class indices.
    """
    steps, classes = log_y.shape
    states = np.full(2 * len(label) + 1, blank)  # l': (S,)
    states[1::2] = label
    skip = np.zeros(len(states), bool)  # may alpha jump two states (a symbol != l'[s-2])
    skip[2:] = (states[2:] != blank) & (states[2:] != states[:-2])
    emit = log_y[:, states]  # (T, S): log y[t, l'[s]]
    alpha = np.full(emit.shape, NEG_INF, log_y.dtype)  # (T, S)
    alpha[0, :2] = emit[0, :2]
    for t in range(1, steps):
        previous = alpha[t - 1]
        one_back = np.concatenate([[NEG_INF], previous[:-1]])
        two_back = np.where(skip, np.concatenate([[NEG_INF, NEG_INF], previous[:-2]]), NEG_INF)
        alpha[t] = emit[t] + _logsumexp(previous, one_back, two_back)
    beta = np.full(emit.shape, NEG_INF, log_y.dtype)  # (T, S)
    beta[-1, -2:] = emit[-1, -2:]
    skip_ahead = np.concatenate([skip[2:], [False, False]])  # may s jump to s + 2
    for t in range(steps - 2, -1, -1):
        following = beta[t + 1]
        one_ahead = np.concatenate([following[1:], [NEG_INF]])
        two_ahead = np.where(skip_ahead, np.concatenate([following[2:], [NEG_INF, NEG_INF]]),
                             NEG_INF)
        beta[t] = emit[t] + _logsumexp(following, one_ahead, two_ahead)
    log_p = _logsumexp(alpha[-1, -1:], alpha[-1, -2:-1])[0] if len(states) > 1 else alpha[-1, 0]
    occupancy = np.zeros_like(log_y)  # (T, C): expected visits of each class at each step
    with np.errstate(invalid="ignore"):
        np.add.at(occupancy.T, states, np.exp(alpha + beta - emit - log_p).T)
    return -log_p, np.exp(log_y) - occupancy


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """CTC loss of each sequence: -log of the total probability of the paths that read as
    its label (see the module docstring).

    Args:
        target: (B, L) int class labels, padded past each target_length.
        output: (B, T) logits over C classes (softmax applied inside), padded past each
            output_length.
        target_length, output_length: (B,) the real lengths.
        mask_index: the blank class (0).
    Returns:
        (B,) losses. TensorFlow's kernel computes in float32, so float64 outputs are computed
        in float32 and given back as float64, as Keras's.
    """
    output, = values(output)
    z = convert_to_tensor(output)
    result = np.result_type(z.dtype, np.float32)
    z32 = z.astype(np.float32 if result == np.float64 else result)  # (B,T,C)
    labels = convert_to_tensor(target).astype(np.int64)
    label_lengths = convert_to_tensor(target_length).astype(np.int64).reshape(-1)
    lengths = convert_to_tensor(output_length).astype(np.int64).reshape(-1)
    losses = np.zeros(len(z32), z32.dtype)  # (B,)
    grad = np.zeros_like(z32)  # (B,T,C)
    for b in range(len(z32)):
        steps = lengths[b]
        log_y = log_softmax(z32[b, :steps])  # (T_b, C)
        losses[b], grad[b, :steps] = _one_sequence(log_y, labels[b, :label_lengths[b]],
                                                   mask_index % z32.shape[-1])
    return record(losses.astype(result), "ctc_loss", [output],
                  lambda dy: [(dy[:, None, None] * grad).astype(result)])


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """The most likely class at each step, repeats merged and blanks dropped
    (tf.nn.ctc_greedy_decoder); beam search is not in minidl.

    Returns:
        decoded: (1, B, T) int32 labels, -1 past each sequence's end;
        scores: (B, 1), minus the sum over the steps of each step's largest input.
    """
    if strategy not in ("greedy", "beam_search"):
        raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and "
                         "'beam_search'.")
    if strategy != "greedy":
        raise ValueError("minidl's ctc_decode is greedy only (TensorFlow's beam search "
                         f"decoder is not in minidl). Received: strategy={strategy!r}")
    x = convert_to_tensor(inputs)
    x = x.astype(np.result_type(x.dtype, np.float32), copy=False)  # (B,T,C)
    lengths = convert_to_tensor(sequence_lengths).astype(np.int64).reshape(-1)
    n, steps, classes = x.shape
    blank = mask_index % classes
    # TensorFlow's decoder wants the blank last: the classes are rolled so, and back after
    order = [c for c in range(classes) if c != blank] + [blank]
    best = np.argmax(x[..., order], axis=-1)  # (B,T), in the rolled order
    best = np.asarray(order)[best]  # (B,T), the classes themselves
    decoded = np.full((1, n, steps), -1, np.int32)
    scores = np.zeros((n, 1), x.dtype)
    for b in range(n):
        path = best[b, :lengths[b]]
        keep = path != blank
        if merge_repeated:
            keep &= np.concatenate([[True], path[1:] != path[:-1]])
        labels = path[keep]
        decoded[0, b, :len(labels)] = labels
        scores[b, 0] = -x[b, :lengths[b]].max(axis=-1).sum()
    return decoded, scores
