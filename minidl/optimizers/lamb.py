"""Lamb (You et al., 2019, "Large Batch Optimization for Deep Learning"): Adam's step, with
each weight's step rescaled to that weight's size ("layer-wise adaptation").

A big weight takes a proportionally big step, a small one a small step: the ratio
||w|| / ||step|| is computed per variable, so unlike the element-wise optimizers Lamb updates
one variable at a time (`updates_at_once` is False; minidl/layout.py lays the others end to end).
Source: keras/src/optimizers/lamb.py.
"""
import numpy as np

from minidl.optimizers.base import Optimizer, constants, power


class Lamb(Optimizer):
    """Lamb: Adam's bias-corrected step, scaled per weight by ||w|| / ||step||.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        beta_1, beta_2: how much of the running averages of g and g**2 each step keeps.
        epsilon: added to the root of the corrected v.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula (t = 1 on the first step; norms over the whole variable):
        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        step = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)
        ratio = ||w|| / ||step||   (1 if either norm is 0)
        w -= ratio * lr * step
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "momentum", "velocity")

    def updates_at_once(self, variables):
        return False  # the ratio is each variable's own

    def update_step(self, g, w, lr, momentum, velocity):
        self._step(w, lr, momentum, velocity, g, np.square(g))

    def sparse_update_step(self, g, w, lr, momentum, velocity):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it (and Adam's): m sees the rows summed per token, v each row
        squared, then summed per token."""
        self._step(w, lr, momentum, velocity, g.dense(), g.dense(np.square(g.values)))

    def _step(self, w, lr, m, v, g, g_squared):
        beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, epsilon, one = constants(
            w.dtype, self.beta_1, self.beta_2, 1 - self.beta_1, 1 - self.beta_2, self.epsilon, 1)
        t = self.iterations + 1
        m += (g - m) * one_minus_beta_1
        v += (g_squared - v) * one_minus_beta_2
        m_hat = m / (one - power(beta_1, t))
        step = m_hat / (np.sqrt(v / (one - power(beta_2, t))) + epsilon)
        w_norm, step_norm = np.sqrt(np.sum(w ** 2)), np.sqrt(np.sum(step ** 2))
        ratio = w_norm / step_norm if w_norm > 0 and step_norm > 0 else one
        w -= ratio * lr * step

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
