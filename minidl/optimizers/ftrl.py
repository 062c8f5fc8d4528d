"""FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction"): follow the regularized leader.

Instead of stepping w, FTRL keeps a running sum `linear` (z in the paper) of the gradients,
corrected for how the per-weight rate changed, and *solves* for w each step in closed form:
w is exactly 0 while |z| <= l1, which is why it was used for huge sparse click-through models
(keras/src/optimizers/ftrl.py).
"""
import numpy as np

from minidl.optimizers.base import Optimizer, constants


class Ftrl(Optimizer):
    """FTRL: w from a closed-form solution, with L1 (exact zeros) and L2 regularization.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        learning_rate_power: p <= 0; each weight's rate falls as n**p (default -0.5).
        initial_accumulator_value: where n starts, >= 0 (default 0.1).
        l1_regularization_strength: l1 >= 0; |z| <= l1 makes w exactly 0.
        l2_regularization_strength: l2 >= 0, a stabilizing penalty in the denominator.
        l2_shrinkage_regularization_strength: s >= 0, an L2 penalty on the loss (its gradient
            2*s*w is added to g in z, not in n).
        beta: the paper's beta, added to the denominator as beta / (2 * lr) in l2.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula (n: accumulator, z: linear):
        n_new = n + g**2
        z = z + (g + 2*s*w) - (n_new**-p - n**-p) / lr * w
        l2' = l2 + beta / (2 * lr)
        w = (clip(z, -l1, l1) - z) / (n_new**-p / lr + 2 * l2')
        n = n_new
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        for argument, value, sign in [
                ("initial_accumulator_value", initial_accumulator_value, "positive or zero"),
                ("learning_rate_power", -learning_rate_power, "negative or zero"),
                ("l1_regularization_strength", l1_regularization_strength, "positive or zero"),
                ("l2_regularization_strength", l2_regularization_strength, "positive or zero"),
                ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                 "positive or zero")]:
            if value < 0.0:
                shown = learning_rate_power if argument == "learning_rate_power" else value
                raise ValueError(f"`{argument}` needs to be {sign}. "
                                 f"Received: {argument}={shown}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "accumulator", "linear")  # interleaved per variable, as Keras
        for index in range(len(self._variables)):
            self.slot("accumulator", index)[...] = self.initial_accumulator_value

    def update_step(self, g, w, lr, accumulator, linear):
        self._step(g, np.square(g), w, lr, accumulator, linear)

    def sparse_update_step(self, g, w, lr, accumulator, linear):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: n adds each occurrence's row squared, summed per token
        (row1**2 + row2**2); z adds the rows summed per token. Then the dense formula: every
        row of w is solved for again, in the batch or not.
        """
        self._step(g.dense(), g.dense(np.square(g.values)), w, lr, accumulator, linear)

    def _step(self, g, g_squared, w, lr, n, z):
        """The formula, given g and g**2 (which differ for rows: see sparse_update_step)."""
        power, l1, l2, two_s, beta, two = constants(
            w.dtype, -self.learning_rate_power, self.l1_regularization_strength,
            self.l2_regularization_strength, 2 * self.l2_shrinkage_regularization_strength,
            self.beta, 2.0)
        l2 = l2 + beta / (two * lr)  # float32, as Keras (lr is a float32 tensor there)
        n_new = n + g_squared
        z += (g + two_s * w) - ((np.power(n_new, power) - np.power(n, power)) / lr) * w
        quadratic = np.power(n_new, power) / lr + two * l2
        w[...] = (np.clip(z, -l1, l1) - z) / quadratic
        n[...] = n_new

    def get_config(self):
        return {**super().get_config(),
                "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
