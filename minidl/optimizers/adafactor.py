"""Adafactor (Shazeer and Stern, 2018, "Adafactor: Adaptive Learning Rates with Sublinear
Memory Cost"): RMSprop's division by the root of the squared gradients, with the average of
g**2 of a matrix kept as a row average and a column average instead of a full matrix.

For a weight of shape (..., R, C) the state is r, (..., R), and c, (..., C): R + C numbers per
matrix instead of R * C. Their outer product, divided by the mean of r, stands in for the
full average of g**2. A weight of rank 0 or 1 keeps the full average v, as RMSprop.
The step is relative to the size of the weight (alpha = max(epsilon_2, rms(w)) * rho), and
the update u is clipped by its own root-mean-square: both need the whole variable, so, as
Lamb, Adafactor updates one variable at a time (`updates_at_once` is False).
Source: keras/src/optimizers/adafactor.py.
"""
import numpy as np

from minidl.optimizers.base import Optimizer, constants, power


class _Arrays:
    """Slot's interface (`views[i]` is variable i's array) for state not shaped like the
    variables: Adafactor's row and column averages."""

    def __init__(self, arrays):
        self.views, self.whole = arrays, None


def _rms(x):
    """The root-mean-square of all of x: sqrt(mean(x**2))."""
    return np.sqrt(np.mean(np.square(x)))


class Adafactor(Optimizer):
    """Adafactor: a step relative to the weight's size, divided by the root of a factored
    running average of g**2.

    Args:
        learning_rate: a float (default 0.001) or a schedule; the step is
            min(learning_rate, 1/sqrt(t)) (the paper's relative step size rho).
        beta_2_decay: the running averages keep beta_2 = 1 - t**beta_2_decay (default -0.8):
            nothing at t = 1, more and more as t grows.
        epsilon_1: added to g**2 (default 1e-30), so that v > 0.
        epsilon_2: the least weight size the step is relative to (default 1e-3).
        clip_threshold: the update u is scaled down when rms(u) > clip_threshold (default 1.0).
            This is Adafactor's own, independent of clipnorm, clipvalue and global_clipnorm.
        relative_step: kept for Keras's config; it changes nothing (see below).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula (t = 1 on the first step; a weight w of shape (..., R, C) and its gradient g):
        rho = min(lr, 1 / sqrt(t))                  relative step size
        alpha = max(epsilon_2, rms(w)) * rho         step relative to the weight's size
        beta_2 = 1 - t**beta_2_decay
        G = g**2 + epsilon_1
        rank >= 2:  r = beta_2 * r + (1 - beta_2) * mean(G, axis=-1)       (..., R)
                    c = beta_2 * c + (1 - beta_2) * mean(G, axis=-2)       (..., C)
                    v = (r / mean(r, axis=-1))[..., :, None] * c[..., None, :]   (..., R, C)
        rank < 2:   v = beta_2 * v + (1 - beta_2) * G
        u = g / sqrt(v)
        u = u / max(1, rms(u) / clip_threshold)
        w -= alpha * u
    The paper's v = r c / sum(r), with row and column sums; Keras keeps means, which give the
    same v. Keras has no momentum (the paper's beta_1 = 0). Keras computes rho as
    min(lr, 1/sqrt(t)) whether relative_step is True or False (its relative_step branch takes
    the same minimum once more), so relative_step has no effect, in Keras and here.
    """

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, relative_step

    # Keras gives a weight of rank < 2 two int32 zeros in place of r and c (it keeps v), which
    # its automatic tracking lists among the variables, except in a LossScaleOptimizer, whose
    # build turns that tracking off (loss_scale_optimizer.py): there they are not listed.
    lists_placeholders = True

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "velocity")
        self._slots["r"] = _Arrays([np.zeros(v.shape[:-1], v.dtype) if len(v.shape) >= 2
                                    else np.zeros((), np.int32) for v in variables])
        self._slots["c"] = _Arrays([np.zeros(v.shape[:-2] + v.shape[-1:], v.dtype)
                                    if len(v.shape) >= 2 else np.zeros((), np.int32)
                                    for v in variables])

    def named_slots(self):
        """r, c and velocity of each variable in turn, as Keras's build creates them."""
        return [(name, index, self._slots[name].views[index])
                for index, v in enumerate(self._variables) for name in ("r", "c", "velocity")
                if name == "velocity" or len(v.shape) >= 2 or self.lists_placeholders]

    def updates_at_once(self, variables):
        return False  # rms(w) and rms(u) are each variable's own

    def update_step(self, g, w, lr, velocity, r, c):
        alpha = self._relative_step(w, lr)  # from w before the update
        self._update_velocity(velocity, r, c, np.square(g))
        one, clip_threshold = constants(w.dtype, 1, self.clip_threshold)
        u = g / np.sqrt(velocity)  # same shape as w
        u = u / np.maximum(one, _rms(u) / clip_threshold)
        w -= alpha * u

    def sparse_update_step(self, g, w, lr, velocity, r, c):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: the running averages see each row squared, then summed
        per token (as Adam's v); u is one row per occurrence, rms(u) sums their squares over
        the table's V * D entries, and w -= alpha * u is a scatter, one occurrence after
        another."""
        alpha = self._relative_step(w, lr)
        self._update_velocity(velocity, r, c, g.dense(np.square(g.values)))
        one, clip_threshold, size = constants(w.dtype, 1, self.clip_threshold, w.size)
        u = g.values / np.sqrt(velocity)[g.indices]  # (K,D)/(K,D): one row per occurrence
        rms = np.sqrt(np.sum(np.square(u)) / size)
        np.subtract.at(w, g.indices, alpha * (u / np.maximum(one, rms / clip_threshold)))

    def _relative_step(self, w, lr):
        """alpha = max(epsilon_2, rms(w)) * min(lr, 1/sqrt(t))."""
        one, epsilon_2, t = constants(w.dtype, 1, self.epsilon_2, self.iterations + 1)
        rho = np.minimum(lr, one / np.sqrt(t))
        return np.maximum(epsilon_2, _rms(w)) * rho

    def _update_velocity(self, velocity, r, c, g_squared):
        """The running average of g**2 (v), from its factors r and c for a matrix."""
        one, epsilon_1, t, decay = constants(velocity.dtype, 1, self.epsilon_1,
                                             self.iterations + 1, self.beta_2_decay)
        beta_2 = one - power(t, float(decay))  # t**beta_2_decay, float32 t and exponent
        G = g_squared + epsilon_1  # same shape as w
        if velocity.ndim >= 2:
            r[...] = beta_2 * r + (one - beta_2) * np.mean(G, axis=-1)  # (...,R)
            c[...] = beta_2 * c + (one - beta_2) * np.mean(G, axis=-2)  # (...,C)
            v = (r / np.mean(r, axis=-1, keepdims=True))[..., :, None] * c[..., None, :]
            velocity[...] = v  # (...,R,1)*(...,1,C) -> (...,R,C), kept as Keras keeps it
        else:
            velocity[...] = beta_2 * velocity + (one - beta_2) * G

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay,
                "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold, "relative_step": self.relative_step}
