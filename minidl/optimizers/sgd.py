"""SGD: step down the gradient, with optional (Nesterov) momentum (keras/.../optimizers/sgd.py)."""
import numpy as np

from minidl.optimizers.base import Optimizer, constants


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Args:
        learning_rate: a float (default 0.01) or a schedule.
        momentum: a float in [0, 1]; 0 is plain gradient descent.
        nesterov: look ahead along the velocity.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see `Optimizer`.
    Formula:
        momentum = 0:   w -= lr * g
        momentum > 0:   m = momentum * m - lr * g          (a velocity)
                        w += m                              (nesterov=False)
                        w += momentum * m - lr * g          (nesterov=True, with the new m)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 name=None, **kwargs):
        if isinstance(momentum, bool) or not isinstance(momentum, (float, np.floating)) \
                or not 0 <= momentum <= 1:
            raise ValueError(
                "`momentum` must be a float between [0, 1]. "
                f"Received: momentum={momentum!r}"
            )
        super().__init__(learning_rate, weight_decay=weight_decay, name=name, **kwargs)
        self.momentum, self.nesterov = momentum, nesterov

    def build(self, variables):
        super().build(variables)
        if self.momentum:
            self.add_slots(variables, "momentum")

    def update_step(self, g, w, lr, momentum=None):
        if momentum is None:
            w -= g * lr
            return
        mu, = constants(w.dtype, self.momentum)
        momentum *= mu  # m = m * momentum - g * lr, updated in place (the same roundings)
        momentum -= g * lr
        if self.nesterov:
            w += momentum * mu - g * lr
        else:
            w += momentum

    def sparse_update_step(self, g, w, lr, momentum=None):
        """The same step for a gradient of rows (an Embedding's: minidl/sparse.py), as Keras's
        TensorFlow backend runs it: each occurrence's row is scaled by lr, then

            momentum = 0:   w[i] -= lr * row            a scatter, one occurrence after another
            momentum > 0:   the rows lr * row summed per token (lr * g: one rounding per row,
                            then the sum), then update_step's lines: every row's velocity decays
        """
        steps = g.values * lr  # (K,D): lr * row, one per occurrence
        if momentum is None:
            np.subtract.at(w, g.indices, steps)  # tf scatter_sub: w[indices[k]] -= steps[k]
            return
        mu, = constants(w.dtype, self.momentum)
        step = g.dense(steps)  # (V,D): the sum per token of lr * row
        momentum *= mu
        momentum -= step
        if self.nesterov:
            w += momentum * mu - step
        else:
            w += momentum

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
