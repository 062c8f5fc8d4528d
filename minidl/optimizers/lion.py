"""Lion (Chen et al., 2023, "EvoLved Sign Momentum"): step by the sign of an interpolation.

Every weight moves by exactly lr each step, up or down: the sign of a mix of the momentum
and the gradient. The momentum itself is a running average with another beta
(keras/src/optimizers/lion.py). Only one slot, so half of Adam's memory.
"""
import numpy as np

from minidl.optimizers.base import Optimizer, constants


class Lion(Optimizer):
    """Lion: w -= lr * sign(an interpolation of the momentum and the gradient).

    Args:
        learning_rate: a float (default 0.001) or a schedule; 3-10x smaller than AdamW's.
        beta_1: the gradient's share in the sign's argument is 1 - beta_1 (default 0.9).
        beta_2: how much of the momentum each step keeps (default 0.99).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula:
        w -= lr * sign(m * beta_1 + g * (1 - beta_1))
        m = m * beta_2 + g * (1 - beta_2)                (after the step)
    Keras computes 1 - beta in float32 (1 - float32(beta)), as Nadam, not in double.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_1, self.beta_2 = beta_1, beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(
                "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                f"degenerates to SignSGD. Received: beta_1={beta_1}.")

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "momentum")

    def update_step(self, g, w, lr, momentum):
        m = momentum
        one, beta_1, beta_2 = constants(w.dtype, 1, self.beta_1, self.beta_2)
        w -= lr * np.sign(m * beta_1 + g * (one - beta_1))
        m[...] = m * beta_2 + g * (one - beta_2)

    def sparse_update_step(self, g, w, lr, momentum):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: each occurrence's row is scaled by (1 - beta), then the
        scaled rows are summed per token and added to the dense momentum. Every row moves
        (sign(m * beta_1) for a token not in the batch) and every momentum row decays.
        """
        m = momentum
        one, beta_1, beta_2 = constants(w.dtype, 1, self.beta_1, self.beta_2)
        w -= lr * np.sign(m * beta_1 + g.dense(g.values * (one - beta_1)))
        m[...] = m * beta_2 + g.dense(g.values * (one - beta_2))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
