"""Optimizers, in order of increasing complexity: SGD, RMSprop, Adam.

Each optimizer is its `update_step`: the textbook lines for one weight array `w`, its gradient
`g` and its state arrays ("slots", e.g. RMSprop's `velocity`), updated in place. The lines are
Keras's, operation for operation (keras/src/optimizers/*.py), so that float32 results are
bit-identical. Two details matter for that:
- constants like (1 - beta_1) are computed in Python floats, then rounded to float32 once;
- `iterations` counts finished updates and starts at 0 (Adam's t = iterations + 1).

The base class does the bookkeeping around the formulas: slots created lazily on the first
`apply`, gradient clipping, and counting steps. For speed it runs each formula once on all of
a model's weights laid end to end (layout.py); the formulas do not need to know.
"""
import numpy as np

from minidl import config
from minidl.denormals import flushing
from minidl.layout import Slot, lay_end_to_end


def _check_learning_rate(learning_rate):
    """A float: Python float, NumPy float scalar or 0-d float array (Keras accepts these)."""
    value = learning_rate
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool) or not isinstance(value, (float, np.floating, int, np.integer)) \
            or isinstance(value, (int, np.integer)):
        raise ValueError(
            "Argument `learning_rate` should be float. "
            f"Received instead: learning_rate={learning_rate!r}"
        )
    return float(value)


def constants(dtype, *values):
    """Python-float constants rounded once to the weights' float type, as Keras does.

    NumPy scalars (np.float32(0.1)) rather than 0-d arrays: the same rounding, and
    arithmetic on them costs a tenth of the time, which counts for small models.
    """
    return tuple(dtype.type(value) for value in values)


class Optimizer:
    """Base class: slots built on the first `apply`, then `update_step` for the weights.

    Args:
        learning_rate: a float.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this joint L2 norm.
    """

    def __init__(self, learning_rate, name=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kwargs):
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.name = name or type(self).__name__.lower()
        self._learning_rate = _check_learning_rate(learning_rate)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self.built = False
        self._slots = {}  # name -> Slot, in creation order
        self._slot_groups = []  # names created together (Keras interleaves those per variable)

    @property
    def learning_rate(self):
        """The learning rate, as the float32 (floatx) number the update really uses."""
        return np.asarray(self._learning_rate, config.floatx())

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _check_learning_rate(value)

    # -- state ------------------------------------------------------------------------------------
    def build(self, variables):
        """Remember the variables (slot i belongs to variables[i]); subclasses add slots."""
        self._variables = list(variables)
        self._flat = lay_end_to_end(self._variables)
        self.built = True

    def add_slots(self, variables, *names):
        """Zero-filled state named `names`, one array per variable (Keras's optimizer variables)."""
        for name in names:
            self._slots[name] = Slot(variables, name)
        self._slot_groups.append(names)

    def named_slots(self):
        """(name, variable index, array) for every slot, in Keras's order."""
        order = []
        for names in self._slot_groups:
            for index in range(len(self._variables)):
                order += [(name, index, self._slots[name].views[index]) for name in names]
        return order

    def slots(self):
        """Every slot array, in Keras's order (for summary's "Optimizer params" and saving)."""
        return [array for _, _, array in self.named_slots()]

    def slot(self, name, index):
        """Slot `name` ("velocity", ...) of variable `index`, or None if there is no such slot."""
        slot = self._slots.get(name)
        return None if slot is None else slot.views[index]

    @property
    def variables(self):
        """[iterations, learning_rate, *slots], as Keras's `optimizer.variables`."""
        return [np.asarray(self.iterations, np.int64), self.learning_rate] + self.slots()

    # -- one step ---------------------------------------------------------------------------------
    @flushing  # denormals are 0, as in TensorFlow's kernels: see minidl/denormals.py
    def apply(self, grads, variables):
        """One step: update every variable in place from its gradient, then count the step."""
        variables, grads = list(variables), list(grads)
        if not self.built:
            self.build(variables)
        indices = self._indices(variables)
        grads = self.clip_gradients(grads)
        if self.updates_at_once(variables):
            flat = self._flat
            flat.gather(grads)  # every weight end to end: one update for all of them
            lr, = constants(flat.values.dtype, self._learning_rate)
            self.update_step(flat.grads, flat.values, lr,
                             **{name: slot.whole for name, slot in self._slots.items()})
        else:
            for index, grad, variable in zip(indices, grads, variables):
                variable.grad[...] = grad
                lr, = constants(variable.dtype, self._learning_rate)
                self.update_step(grad, variable.value, lr,
                                 **{name: slot.views[index] for name, slot in self._slots.items()})
        self.iterations += 1

    def updates_at_once(self, variables):
        """True when `variables` are those of the first apply, in order, laid end to end."""
        return self._flat is not None and self._flat.holds(list(variables))

    def apply_gradients(self, grads_and_vars):
        """Keras-style entry point: a list of (gradient, Variable) pairs."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def update_step(self, g, w, lr, **slots):
        """Update w in place from its gradient g at learning rate lr (the formula)."""
        raise NotImplementedError

    def _indices(self, variables):
        """Each variable's position among those of the first `apply` (where its slots are).

        A variable never seen is an error, raised before anything is updated, as in Keras.
        """
        positions = {id(v): i for i, v in enumerate(self._variables)}
        for v in variables:
            if id(v) not in positions:
                raise ValueError(
                    f"Unknown variable: {v!r}. This optimizer can only be called for the "
                    "variables it was originally built with. When working with a new set of "
                    "variables, you should recreate a new optimizer instance."
                )
        return [positions[id(v)] for v in variables]

    def clip_gradients(self, grads):
        """Gradient clipping as keras/src/optimizers/base_optimizer.py does it."""
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = np.sqrt((g * g).sum())
                c, = constants(g.dtype, self.clipnorm)
                out.append(g * c / np.maximum(norm, c))  # tf.clip_by_norm
            return out
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue).astype(g.dtype) for g in grads]
        if self.global_clipnorm is not None:
            norm = np.sqrt(sum((g * g).sum() for g in grads))
            c = self.global_clipnorm
            return [g * constants(g.dtype, c * min(1.0 / float(norm), 1.0 / c))[0]
                    for g in grads]
        return grads

    def get_config(self):
        return {"name": self.name, "learning_rate": self._learning_rate}


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Formula:
        momentum = 0:   w -= lr * g
        momentum > 0:   m = momentum * m - lr * g          (a velocity)
                        w += m                              (nesterov=False)
                        w += momentum * m - lr * g          (nesterov=True, with the new m)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        if isinstance(momentum, bool) or not isinstance(momentum, (float, np.floating)) \
                or not 0 <= momentum <= 1:
            raise ValueError(
                "`momentum` must be a float between [0, 1]. "
                f"Received: momentum={momentum!r}"
            )
        super().__init__(learning_rate, name, **kwargs)
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
        momentum[...] = momentum * mu - g * lr
        if self.nesterov:
            w += momentum * mu - g * lr
        else:
            w += momentum

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of recent gradients.

    Formula:
        v = rho * v + (1 - rho) * g**2
        w -= lr * g / sqrt(v + epsilon)        # Keras puts epsilon INSIDE the sqrt
    Options:
        centered: a = rho * a + (1 - rho) * g;  divide by sqrt(v - a**2 + epsilon)
        momentum: mom = momentum * mom + lr * g / sqrt(...);  w -= mom
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name=None, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
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
        velocity[...] = rho * velocity + one_minus_rho * np.square(g)
        if average_gradient is None:
            denominator = velocity + epsilon
        else:
            average_gradient[...] = rho * average_gradient + one_minus_rho * g
            denominator = velocity - np.square(average_gradient) + epsilon
        increment = lr * g / np.sqrt(denominator)
        if momentum is None:
            w -= increment
        else:
            mu, = constants(w.dtype, self.momentum)
            momentum[...] = mu * momentum + increment
            w -= momentum

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction.

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
                 amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
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
        # beta**t of the float32 betas, computed in double and rounded once. TensorFlow's
        # float32 pow can differ from this in the last bit for some t, so Adam agrees with
        # Keras to a few ULPs rather than bit for bit.
        beta_1_power, beta_2_power = constants(w.dtype, float(beta_1) ** t, float(beta_2) ** t)
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m += (g - m) * one_minus_beta_1
        v += (np.square(g) - v) * one_minus_beta_2
        if velocity_hat is not None:
            np.maximum(velocity_hat, v, out=velocity_hat)
            v = velocity_hat
        w -= (m * alpha) / (np.sqrt(v) + epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier):
    """Resolve an optimizer: a name ("adam", any case) with Keras's defaults, or an Optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier}. "
        f"Expected an Optimizer or one of {sorted(_BY_NAME)}."
    )
