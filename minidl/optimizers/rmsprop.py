"""Adagrad and RMSprop: divide each step by the root of the squared gradients seen so far.

Adagrad sums every squared gradient, so its steps only ever shrink; RMSprop keeps a running
average of recent ones instead (keras/src/optimizers/adagrad.py, rmsprop.py). Both put
epsilon INSIDE the square root, as Keras does.
"""
import numpy as np

from minidl.optimizers.base import Optimizer, constants


class Adagrad(Optimizer):
    """Adagrad: per-weight steps that shrink as that weight's squared gradients add up.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        initial_accumulator_value: where the sum of squares starts (default 0.1).
        epsilon: added inside the square root.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula:
        s = s + g**2                            (s starts at initial_accumulator_value)
        w -= lr * g / sqrt(s + epsilon)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "accumulator", initial_value=self.initial_accumulator_value)

    def update_step(self, g, w, lr, accumulator):
        s = accumulator
        epsilon, = constants(w.dtype, self.epsilon)
        s += np.square(g)
        w -= lr * g / np.sqrt(s + epsilon)

    def sparse_update_step(self, g, w, lr, accumulator):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: both lines are scatters, one occurrence after another, so a
        token seen twice adds row1**2 and then row2**2 to s (not (row1 + row2)**2), and takes
        two steps, each divided by the root of the new s. Rows of tokens not in the batch are
        left as they are.
        """
        s = accumulator
        epsilon, = constants(w.dtype, self.epsilon)
        np.add.at(s, g.indices, np.square(g.values))  # s[indices[k]] += row_k**2
        steps = lr * g.values / np.sqrt(s[g.indices] + epsilon)  # (K,D), with the new s
        np.subtract.at(w, g.indices, steps)  # w[indices[k]] -= steps[k]

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of recent gradients.

    Args:
        learning_rate: a float (default 0.001) or a schedule.
        rho: how much of the running average each step keeps.
        momentum: a velocity over the scaled steps, if > 0.
        epsilon: added inside the square root.
        centered: divide by the running variance of the gradient, not its mean square.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula:
        v = rho * v + (1 - rho) * g**2
        w -= lr * g / sqrt(v + epsilon)        # Keras puts epsilon INSIDE the sqrt
    Options:
        centered: a = rho * a + (1 - rho) * g;  divide by sqrt(v - a**2 + epsilon)
        momentum: mom = momentum * mom + lr * g / sqrt(...);  w -= mom
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def build(self, variables):
        super().build(variables)
        self.add_slots(variables, "velocity")
        if self.momentum > 0:
            self.add_slots(variables, "momentum")
        if self.centered:
            self.add_slots(variables, "average_gradient")

    def update_step(self, g, w, lr, velocity, momentum=None, average_gradient=None):
        rho, one_minus_rho, epsilon = constants(w.dtype, self.rho, 1 - self.rho, self.epsilon)
        # Each running average is updated in place, `v *= rho; v += ...`: the same two roundings
        # as `v = rho * v + ...`, one pass over memory fewer.
        velocity *= rho  # v = rho * v + (1 - rho) * g**2
        velocity += one_minus_rho * np.square(g)
        if average_gradient is None:
            denominator = velocity + epsilon
        else:
            average_gradient *= rho  # a = rho * a + (1 - rho) * g
            average_gradient += one_minus_rho * g
            denominator = velocity - np.square(average_gradient) + epsilon
        increment = lr * g / np.sqrt(denominator)
        if momentum is None:
            w -= increment
        else:
            mu, = constants(w.dtype, self.momentum)
            momentum *= mu  # mom = momentum * mom + increment
            momentum += increment
            w -= momentum

    def sparse_update_step(self, g, w, lr, velocity, momentum=None, average_gradient=None):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it:

            v = rho * v + sum per token of (1 - rho) * row**2     (not of the summed row)
            a = rho * a + sum per token of (1 - rho) * row        (centered)
            increment_k = lr * row_k / sqrt(denominator[i_k])     one per occurrence
            momentum = 0:  w[i_k] -= increment_k                  a scatter, one after another
            momentum > 0:  mom = momentum * mom + sum per token of increment_k;  w -= mom
        Every row's running averages decay, in the batch or not (dense slots).
        """
        rho, one_minus_rho, epsilon = constants(w.dtype, self.rho, 1 - self.rho, self.epsilon)
        velocity *= rho
        velocity += g.dense(one_minus_rho * np.square(g.values))
        if average_gradient is None:
            denominator = velocity + epsilon
        else:
            average_gradient *= rho
            average_gradient += g.dense(one_minus_rho * g.values)
            denominator = velocity - np.square(average_gradient) + epsilon
        increment = lr * g.values / np.sqrt(denominator[g.indices])  # (K,D)
        if momentum is None:
            np.subtract.at(w, g.indices, increment)  # w[indices[k]] -= increment[k]
        else:
            mu, = constants(w.dtype, self.momentum)
            momentum *= mu
            momentum += g.dense(increment)
            w -= momentum

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
