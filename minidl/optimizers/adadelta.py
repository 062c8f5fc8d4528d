"""Adadelta: RMSprop whose step size is a running root-mean-square of the past steps.

Zeiler's idea: divide the gradient by the RMS of recent gradients (as RMSprop), and multiply
it by the RMS of recent *updates*, so the step has the units of the weight and a learning rate
of 1.0 is the paper's form. Keras keeps a learning rate (default 0.001) and puts epsilon
INSIDE each square root (keras/src/optimizers/adadelta.py), as RMSprop does.
"""
import numpy as np

from minidl.optimizers.base import Optimizer, constants


class Adadelta(Optimizer):
    """Adadelta: a per-weight step from running averages of g**2 and of the past steps**2.

    Args:
        learning_rate: a float (default 0.001; 1.0 is the paper's) or a schedule.
        rho: how much of each running average a step keeps (default 0.95).
        epsilon: added inside both square roots.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula:
        a = rho * a + (1 - rho) * g**2                       accumulated_grad
        step = -(sqrt(d + epsilon) * g) / sqrt(a + epsilon)   with the previous d
        d = rho * d + (1 - rho) * step**2                    accumulated_delta_var
        w += lr * step
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "accumulated_grad", "accumulated_delta_var")  # interleaved

    def update_step(self, g, w, lr, accumulated_grad, accumulated_delta_var):
        a, d = accumulated_grad, accumulated_delta_var
        rho, one_minus_rho, epsilon = constants(w.dtype, self.rho, 1 - self.rho, self.epsilon)
        a[...] = rho * a + one_minus_rho * np.square(g)
        step = -((np.sqrt(d + epsilon) * g) / np.sqrt(a + epsilon))
        d[...] = rho * d + one_minus_rho * np.square(step)
        w += lr * step

    def sparse_update_step(self, g, w, lr, accumulated_grad, accumulated_delta_var):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: the squares are of each occurrence's row, summed per token
        into the running averages (every row of which decays); the step is one row per
        occurrence, from the rows' entries of sqrt(d + eps) and sqrt(a + eps); and
        w += lr * step is a scatter, one occurrence after another.
        """
        a, d = accumulated_grad, accumulated_delta_var
        rho, one_minus_rho, epsilon = constants(w.dtype, self.rho, 1 - self.rho, self.epsilon)
        a[...] = rho * a + g.dense(one_minus_rho * np.square(g.values))
        rms_d, rms_a = np.sqrt(d + epsilon), np.sqrt(a + epsilon)  # (V,D) each
        steps = -((rms_d[g.indices] * g.values) / rms_a[g.indices])  # (K,D)
        d[...] = rho * d + g.dense(one_minus_rho * np.square(steps))
        np.add.at(w, g.indices, lr * steps)  # w[indices[k]] += lr * steps[k]

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
