"""The cross-entropies: binary, categorical, and categorical with integer labels.

Each has two paths, as in Keras's TensorFlow backend (keras/src/backend/tensorflow/nn.py):
- from logits z (used whenever the model's last activation is sigmoid/softmax, or with
  from_logits=True): the exact, stable formulas; the gradient is the famous (p - y) / N.
- from probabilities p (any other output): p is clipped to [eps, 1 - eps] first, eps = 1e-7.

Shapes: y_pred and the logits z are (N,C); y_true is (N,C), or (N,) class indices for the
sparse loss.
"""
import numpy as np

from minidl import config
from minidl.activations import sigmoid
from minidl.losses.base import Loss, clip_bounds, mean_last_axis


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, for yes/no targets (one or more independent columns).

    Formula (per sample, C columns, y in [0,1]):
        from logits z:   e_c = max(z_c, 0) - z_c * y_c + log(1 + exp(-|z_c|))
                         d e_c / d z_c = sigmoid(z_c) - y_c            (p - y)
        from probs p:    p = clip(p, eps, 1 - eps)
                         e_c = -(y_c * log(p_c) + (1 - y_c) * log(1 - p_c))
                         d e_c / d p_c = (p_c - y_c) / (p_c * (1 - p_c))   (0 where clipped)
        loss = mean_c e_c
    """

    name = "binary_crossentropy"
    works_from_logits = True

    def __init__(self, from_logits=False, name=None, **kwargs):
        self.from_logits = from_logits
        super().__init__(name, **kwargs)

    def values_and_gradient_from_logits(self, y_true, z, p=None):
        """p: sigmoid(z), when the caller has it already (a sigmoid layer's output, head.py)."""
        c = np.asarray(z.shape[-1], z.dtype)
        # the stable form of TensorFlow's sigmoid_cross_entropy_with_logits
        e = np.maximum(z, 0) - z * y_true + np.log1p(np.exp(-np.abs(z)))  # (N,C)
        p = sigmoid(z) if p is None else p
        return mean_last_axis(e), (p - y_true) / c

    def values_and_gradient(self, y_true, y_pred):
        c = np.asarray(y_pred.shape[-1], y_pred.dtype)
        low, high = clip_bounds(y_pred.dtype)
        p = np.clip(y_pred, low, high)
        e = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))  # (N,C)
        inside = (y_pred >= low) & (y_pred <= high)  # clip passes no gradient outside
        grad = (p - y_true) / (p * (1 - p)) * inside
        return mean_last_axis(e), grad / c

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy, for one-hot (or probability) targets over C classes.

    Formula (per sample):
        from logits z:   loss = logsumexp(z) * sum(y) - sum_c y_c * z_c
                         d loss / d z = softmax(z) * sum(y) - y        (= p - y for one-hot y)
        from probs p:    q = p / sum(p);  q = clip(q, eps, 1 - eps)
                         loss = -sum_c y_c * log(q_c)
    """

    name = "categorical_crossentropy"
    works_from_logits = True

    def __init__(self, from_logits=False, name=None, **kwargs):
        self.from_logits = from_logits
        super().__init__(name, **kwargs)

    def values_and_gradient_from_logits(self, y_true, z):
        shifted = z - z.max(axis=-1, keepdims=True)  # (N,C), max entry 0
        log_sum = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (N,1)
        log_p = shifted - log_sum  # log softmax, (N,C)
        per_sample = -(y_true * log_p).sum(axis=-1)  # (N,)
        # TensorFlow's gradient is p - y; times sum(y) it stays exact for labels that do
        # not sum to 1 (the two agree for one-hot labels).
        grad = np.exp(log_p) * y_true.sum(axis=-1, keepdims=True) - y_true
        return per_sample, grad

    def values_and_gradient(self, y_true, y_pred):
        low, high = clip_bounds(y_pred.dtype)
        total = y_pred.sum(axis=-1, keepdims=True)  # (N,1)
        q = y_pred / total  # normalised, (N,C)
        q_clipped = np.clip(q, low, high)
        per_sample = -(y_true * np.log(q_clipped)).sum(axis=-1)
        dq = -y_true / q_clipped * ((q >= low) & (q <= high))  # (N,C)
        # back through q = p / sum(p): dp_j = (dq_j - sum_i dq_i * q_i) / sum(p)
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / total
        return per_sample, grad

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    """Categorical cross-entropy with integer class labels (N,) instead of one-hot rows.

    Formula (per sample, label k):
        from logits z:   loss = logsumexp(z) - z_k
                         d loss / d z = softmax(z) - onehot(k)          (p - y)
        from probs p:    l = log(clip(p, eps, 1 - eps));  loss = logsumexp(l) - l_k
                         (Keras feeds the clipped log-probabilities to the logits formula)
    """

    name = "sparse_categorical_crossentropy"
    works_from_logits = True

    def __init__(self, from_logits=False, name=None, **kwargs):
        self.from_logits = from_logits
        super().__init__(name, **kwargs)

    def prepare(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(config.floatx())
        labels = np.asarray(y_true)
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])  # (N,1) -> (N,)
        return labels.astype(np.intp, copy=False), y_pred

    def values_and_gradient_from_logits(self, labels, z):
        rows_z = z.reshape(-1, z.shape[-1])  # (N,C); (N, ..., C): every position is a row
        k = labels.reshape(-1)  # (N,)
        n = np.arange(len(k))  # row numbers: [n, k] picks each row's label
        shifted = rows_z - rows_z.max(axis=-1, keepdims=True)  # (N,C)
        exp = np.exp(shifted)
        total = exp.sum(axis=-1)  # (N,)
        per_sample = np.log(total) - shifted[n, k]  # logsumexp(z) - z_k, (N,)
        grad = exp / total[:, None]  # softmax(z), (N,C)
        grad[n, k] -= 1  # minus onehot(k)
        return per_sample.reshape(labels.shape), grad.reshape(z.shape)

    def values_and_gradient(self, labels, y_pred):
        low, high = clip_bounds(y_pred.dtype)
        log_p = np.log(np.clip(y_pred, low, high))  # clipped log-probabilities, (N,C)
        per_sample, grad = self.values_and_gradient_from_logits(labels, log_p)
        inside = (y_pred >= low) & (y_pred <= high)
        return per_sample, grad / np.clip(y_pred, low, high) * inside  # through log(clip(p))

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}

