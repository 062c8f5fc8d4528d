"""The Adam family: momentum on the gradient and on its square, with bias correction.

In order of increasing complexity: Adam; AdamW (Adam with decoupled weight decay); Adamax
(the square replaced by a running maximum of |g|); Nadam (Adam with Nesterov momentum).
Each formula is Keras's operation for operation (keras/src/optimizers/adam.py, adamw.py,
adamax.py, nadam.py). They raise beta to the power t, which TensorFlow's float32 pow does
not round exactly, so these agree with Keras to a few ULPs (see base.py::power).
"""
import numpy as np

from minidl import config
from minidl.optimizers.base import Optimizer, constants, power


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        beta_1, beta_2: how much of the running averages of g and g**2 each step keeps.
        epsilon: added to sqrt(v) ("epsilon hat", see below).
        amsgrad: divide by the largest v so far.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula (t = 1 on the first step):
        m = m + (g - m) * (1 - beta_1)           # = beta_1 * m + (1 - beta_1) * g
        v = v + (g**2 - v) * (1 - beta_2)
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w -= m * alpha / (sqrt(v) + epsilon)
    Keras folds the bias correction into alpha, so its epsilon ("epsilon hat") is not
    bias-corrected, unlike the paper's m_hat / (sqrt(v_hat) + epsilon) form.
    amsgrad: v_hat = max(v_hat, v) replaces v in the denominator.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "momentum", "velocity")  # Keras interleaves these two
        if self.amsgrad:
            self.add_slots(variables, "velocity_hat")

    def update_step(self, g, w, lr, momentum, velocity, velocity_hat=None):
        m, v = momentum, velocity
        beta_1, beta_2 = constants(w.dtype, self.beta_1, self.beta_2)
        one_minus_beta_1, one_minus_beta_2, epsilon = constants(
            w.dtype, 1 - self.beta_1, 1 - self.beta_2, self.epsilon)
        t = self.iterations + 1
        alpha = lr * np.sqrt(1 - power(beta_2, t)) / (1 - power(beta_1, t))
        m += (g - m) * one_minus_beta_1
        v += (np.square(g) - v) * one_minus_beta_2
        if velocity_hat is not None:
            np.maximum(velocity_hat, v, out=velocity_hat)
            v = velocity_hat
        w -= (m * alpha) / (np.sqrt(v) + epsilon)

    def sparse_update_step(self, g, w, lr, momentum, velocity, velocity_hat=None):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: m sees the rows summed per token (g.dense()), but v sees
        each row squared, then summed per token: a token seen twice adds
        row1**2 + row2**2, not (row1 + row2)**2. The rest is update_step's, on every row.
        """
        m, v = momentum, velocity
        beta_1, beta_2 = constants(w.dtype, self.beta_1, self.beta_2)
        one_minus_beta_1, one_minus_beta_2, epsilon = constants(
            w.dtype, 1 - self.beta_1, 1 - self.beta_2, self.epsilon)
        t = self.iterations + 1
        alpha = lr * np.sqrt(1 - power(beta_2, t)) / (1 - power(beta_1, t))
        m += (g.dense() - m) * one_minus_beta_1
        v += (g.dense(np.square(g.values)) - v) * one_minus_beta_2
        if velocity_hat is not None:
            np.maximum(velocity_hat, v, out=velocity_hat)
            v = velocity_hat
        w -= (m * alpha) / (np.sqrt(v) + epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): weights shrink every step.

    Args:
        weight_decay: required, default 0.004; the rest as Adam.
    Formula:
        w -= w * weight_decay * lr              (Optimizer.apply_weight_decay, before the update)
        then Adam's update_step
    The decay is not added to the gradient, so Adam's scaling does not touch it.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, name=name, **kwargs)
        if self.weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None")


class Adamax(Optimizer):
    """Adamax: Adam with the root-mean-square replaced by a decaying maximum of |g|.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        beta_1: how much of the running average of g each step keeps.
        beta_2: how much of the running maximum each step keeps.
        epsilon: added to u.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula (t = 1 on the first step):
        m = m + (g - m) * (1 - beta_1)
        u = max(beta_2 * u, abs(g))
        w -= lr * m / ((1 - beta_1**t) * (u + epsilon))
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "momentum", "norm")  # interleaved per variable, as Keras

    def update_step(self, g, w, lr, momentum, norm):
        m, u = momentum, norm
        beta_1, beta_2, one_minus_beta_1, epsilon = constants(
            w.dtype, self.beta_1, self.beta_2, 1 - self.beta_1, self.epsilon)
        m += (g - m) * one_minus_beta_1
        np.maximum(beta_2 * u, np.abs(g), out=u)
        w -= (lr * m) / ((1 - power(beta_1, self.iterations + 1)) * (u + epsilon))

    def sparse_update_step(self, g, w, lr, momentum, norm):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: m sees the rows summed per token, and u the absolute
        values of the rows summed per token (|row1| + |row2|, not |row1 + row2|).
        """
        m, u = momentum, norm
        beta_1, beta_2, one_minus_beta_1, epsilon = constants(
            w.dtype, self.beta_1, self.beta_2, 1 - self.beta_1, self.epsilon)
        m += (g.dense() - m) * one_minus_beta_1
        np.maximum(beta_2 * u, g.dense(np.abs(g.values)), out=u)
        w -= (lr * m) / ((1 - power(beta_1, self.iterations + 1)) * (u + epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum, and a momentum that warms up over the steps.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        beta_1, beta_2, epsilon: as Adam.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula (t = 1 on the first step; prod starts at 1):
        u_t = beta_1 * (1 - 0.5 * 0.96**t)          the momentum at step t
        prod = prod * u_t                            once per step (prepare_step)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - prod * u_{t+1}) + (1 - u_t) * g / (1 - prod)
        v_hat = v / (1 - beta_2**t)
        w -= m_hat * lr / (sqrt(v_hat) + epsilon)
    Here Keras computes 1 - beta_1 in float32 (1 - float32(beta_1)), unlike Adam, which
    rounds the double 1 - beta_1: the two differ in the last bit.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "momentum", "velocity")
        dtype = variables[0].dtype if variables else config.floatx()
        self._u_product = np.ones((), dtype)  # prod of u_1 ... u_t

    def extra_variables(self):
        return [self._u_product] if self.built else []

    def _momentum_at(self, t, dtype):
        """u_t = beta_1 * (1 - 0.5 * 0.96**t), in float32 as Keras."""
        beta_1, decay = constants(dtype, self.beta_1, 0.96)
        return beta_1 * (1.0 - 0.5 * power(decay, t))

    def prepare_step(self):
        u_product = self._u_product
        u_product[...] = u_product * u_product.dtype.type(self.beta_1) * (
            1.0 - 0.5 * power(u_product.dtype.type(0.96), self.iterations + 1))

    def update_step(self, g, w, lr, momentum, velocity):
        m, v, t = momentum, velocity, self.iterations + 1
        one, beta_1, beta_2, epsilon = constants(w.dtype, 1, self.beta_1, self.beta_2,
                                                 self.epsilon)
        u_t, u_next = self._momentum_at(t, w.dtype), self._momentum_at(t + 1, w.dtype)
        u_product = w.dtype.type(self._u_product)  # already includes u_t (prepare_step)
        m += (g - m) * (one - beta_1)
        v += (np.square(g) - v) * (one - beta_2)
        m_hat = (u_next * m) / (1 - u_product * u_next) + ((1 - u_t) * g) / (1 - u_product)
        v_hat = v / (1 - power(beta_2, t))
        w -= (m_hat * lr) / (np.sqrt(v_hat) + epsilon)

    def sparse_update_step(self, g, w, lr, momentum, velocity):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: m sees the rows summed per token, v each row squared and
        then summed, and m_hat's gradient term is computed row by row, then summed per token.
        """
        m, v, t = momentum, velocity, self.iterations + 1
        one, beta_1, beta_2, epsilon = constants(w.dtype, 1, self.beta_1, self.beta_2,
                                                 self.epsilon)
        u_t, u_next = self._momentum_at(t, w.dtype), self._momentum_at(t + 1, w.dtype)
        u_product = w.dtype.type(self._u_product)
        m += (g.dense() - m) * (one - beta_1)
        v += (g.dense(np.square(g.values)) - v) * (one - beta_2)
        m_hat = (u_next * m) / (1 - u_product * u_next) + g.dense(
            ((1 - u_t) * g.values) / (1 - u_product))
        v_hat = v / (1 - power(beta_2, t))
        w -= (m_hat * lr) / (np.sqrt(v_hat) + epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
