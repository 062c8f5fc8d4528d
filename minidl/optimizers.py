"""Optimizers, in order of increasing complexity: SGD, RMSprop, Adam.

An optimizer owns its state ("slots": one array per trainable variable, in the same order)
and updates each variable in place from the gradient its layer left in `variable.grad`.
A model lays its weights end to end in one flat array (minidl/variable.py::lay_end_to_end),
and each slot is one flat array too (`Slot`), so an optimizer can update every weight of a
model with one NumPy call per operation: the same arithmetic, element by element.

The update equations are Keras's, operation for operation (keras/src/optimizers/*.py), so
that float32 results are bit-identical. Two details matter for that:
- constants like (1 - beta_1) are computed in Python floats, then rounded to float32 once;
- `iterations` counts finished updates and starts at 0.
Several lines are written in place (`v *= rho`) on buffers the optimizer owns, to spare an
allocation per step; a comment gives the textbook line each block stands for.
"""
import numpy as np

from minidl import config
from minidl.denormals import flushing


class Slot:
    """One kind of optimizer state (e.g. RMSprop's velocity) for every variable.

    A flat array holding all of them end to end, seen through one view per variable shaped
    like it: `slot[i]` is variable i's view, `slot[None]` the whole flat array, and iterating
    gives the views in order. (Variables of different dtypes get separate arrays, no whole.)
    """

    def __init__(self, variables):
        variables = list(variables)
        self.shapes = [v.shape for v in variables]
        if len({v.dtype for v in variables}) == 1:
            self._view(np.zeros(sum(v.value.size for v in variables), variables[0].dtype))
        else:
            self.whole, self.views = None, [np.zeros_like(v.value) for v in variables]

    def _view(self, whole):
        self.whole, self.views, start = whole, [], 0
        for shape in self.shapes:
            end = start + int(np.prod(shape))
            self.views.append(whole[start:end].reshape(shape))
            start = end

    def __deepcopy__(self, memo):
        """A copy whose views look into the copy's own flat array (deepcopy alone would not)."""
        copy = Slot.__new__(Slot)
        copy.shapes = list(self.shapes)
        if self.whole is None:
            copy.whole, copy.views = None, [view.copy() for view in self.views]
        else:
            copy._view(self.whole.copy())
        return copy

    def __getitem__(self, index):
        return self.whole if index is None else self.views[index]

    def __iter__(self):
        return iter(self.views)

    def __len__(self):
        return len(self.views)


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (float, np.floating)):
        raise ValueError(
            "Argument `learning_rate` should be float. "
            f"Received instead: learning_rate={learning_rate!r}"
        )


class Optimizer:
    """Base class: slots built lazily on the first `apply`, then `update_step` on each variable
    (or once on all of them, when they lie end to end).

    Args:
        learning_rate: a Python float.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this joint L2 norm.
    """

    def __init__(self, learning_rate, name=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None):
        _check_learning_rate(learning_rate)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self.name = name or type(self).__name__.lower()
        self._learning_rate = learning_rate
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self.built = False

    @property
    def learning_rate(self):
        """The learning rate, as the float32 (floatx) number the update really uses."""
        return np.asarray(self._learning_rate, config.floatx())

    @learning_rate.setter
    def learning_rate(self, value):
        _check_learning_rate(value)
        self._learning_rate = value

    def const(self, value, like):
        """A Python-float constant rounded once to the variables' dtype, as Keras does.

        A NumPy scalar (np.float32(value)) rather than a 0-d array: the same rounding, and
        arithmetic on it costs a tenth of the time, which counts for small models.
        """
        return like.dtype.type(value)

    def build(self, variables):
        """Create the slots, zero-filled, one per variable (subclasses add theirs)."""
        # Two work buffers, reused every step: not state, just room for the intermediate
        # arrays of the update, so a step allocates nothing.
        self._work = (Slot(variables), Slot(variables))
        variables = list(variables)
        self._variables = variables  # slot i belongs to variables[i]
        flat = variables[0].flat if variables else None
        # The variables' own flat layout, when they are exactly one model's weights in order.
        self._flat = flat if flat is not None and flat.variables == variables else None
        self.built = True

    def _buffers(self, index):
        """The two work arrays for variable `index` (None: for all of them at once)."""
        return self._work[0][index], self._work[1][index]

    def slots(self):
        """Every slot array, in Keras's order (for summary's "Optimizer params" and saving)."""
        return []

    @property
    def variables(self):
        """[iterations, learning_rate, *slots], as Keras's `optimizer.variables`."""
        return [np.asarray(self.iterations, np.int64), self.learning_rate] + self.slots()

    @flushing  # denormals are 0, as in TensorFlow's kernels: see minidl/denormals.py
    def apply(self, variables):
        """One step: update every variable in place from its `grad`, then count the step.

        When the variables lie end to end in one flat array, as a model's weights do, and no
        clipping is asked for (which works per variable), one update_step on the flat arrays
        updates them all: index None stands for "every variable".
        """
        if not self.built:
            self.build(variables)
        if self._all_at_once(variables):
            flat = self._flat  # every weight end to end: one update for all of them
            lr = self.const(self._learning_rate, flat.values)
            self.update_step(None, flat.grads, flat.values, lr)
        else:
            indices = self._indices(variables)
            grads = self._clip([v.grad for v in variables])
            for index, grad, variable in zip(indices, grads, variables):
                lr = self.const(self._learning_rate, variable)
                self.update_step(index, grad, variable.value, lr)
        self.iterations += 1

    def _indices(self, variables):
        """Where each variable's slots are: its position among the variables of the first
        `apply`. Any subset, in any order, works; a variable never seen is an error (raised
        before anything is updated), as in Keras."""
        positions = {id(v): i for i, v in enumerate(self._variables)}
        for v in variables:
            if id(v) not in positions:
                raise ValueError(
                    f"Unknown variable: {v!r}. This optimizer can only be called for the "
                    "variables it was originally built with. When working with a new set of "
                    "variables, you should recreate a new optimizer instance."
                )
        return [positions[id(v)] for v in variables]

    def _all_at_once(self, variables):
        """True when `variables` are exactly the flat layout seen at build, and still in it.

        (A deep copy of a model gives each weight its own array again: the copy then takes
        the per-variable path, with the same results.)
        """
        flat = self._flat
        return (flat is not None and self.clipnorm is None and self.clipvalue is None
                and self.global_clipnorm is None and flat.variables == list(variables)
                and all(v.value.base is flat.values and v.grad.base is flat.grads
                        for v in variables))

    def apply_gradients(self, grads_and_vars):
        """Keras-style entry point: a list of (gradient, Variable) pairs."""
        pairs = list(grads_and_vars)
        variables = [variable for _, variable in pairs]
        if self.built:
            self._indices(variables)  # an unknown variable fails before any grad is written
        for grad, variable in pairs:
            variable.grad[...] = grad
        self.apply(variables)

    def update_step(self, index, g, w, lr):
        """Update w in place from its gradient g (same shape) at learning rate lr.

        `index` picks the variable's slots (`self.velocities[index]`, ...); None means every
        variable at once, with g and w the flat arrays that hold them all.
        """
        raise NotImplementedError

    def _clip(self, grads):
        """Gradient clipping as keras/src/optimizers/base_optimizer.py does it."""
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = np.sqrt((g * g).sum())
                c = self.const(self.clipnorm, g)
                out.append(g * c / np.maximum(norm, c))  # tf.clip_by_norm
            return out
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.global_clipnorm is not None:
            norm = np.sqrt(sum((g * g).sum() for g in grads))
            c = self.global_clipnorm
            return [g * self.const(c * min(1.0 / float(norm), 1.0 / c), g) for g in grads]
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
        self.momentums = Slot(variables) if self.momentum else []
        super().build(variables)

    def slots(self):
        return list(self.momentums)

    def update_step(self, index, g, w, lr):
        step, tmp = self._buffers(index)
        np.multiply(g, lr, out=step)  # lr * g
        if not self.momentum:
            w -= step
            return
        m = self.momentums[index]
        momentum = self.const(self.momentum, w)
        # m = momentum * m - lr * g
        m *= momentum
        m -= step
        if self.nesterov:
            # w += momentum * m - lr * g
            np.multiply(m, momentum, out=tmp)
            tmp -= step
            w += tmp
        else:
            w += m

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
        self.velocities = Slot(variables)
        self.momentums = Slot(variables) if self.momentum > 0 else []
        self.average_gradients = Slot(variables) if self.centered else []
        super().build(variables)

    def slots(self):
        return list(self.velocities) + list(self.momentums) + list(self.average_gradients)

    def update_step(self, index, g, w, lr):
        v, (tmp, increment) = self.velocities[index], self._buffers(index)
        rho, one_minus_rho = self.const(self.rho, w), self.const(1 - self.rho, w)
        # v = rho * v + (1 - rho) * g**2
        v *= rho
        np.multiply(g, g, out=tmp)
        tmp *= one_minus_rho
        v += tmp
        # denominator = sqrt(v + epsilon), or sqrt(v - a**2 + epsilon) when centered
        if self.centered:
            a = self.average_gradients[index]
            a[...] = rho * a + one_minus_rho * g
            np.subtract(v, a * a, out=tmp)
            tmp += self.const(self.epsilon, w)
        else:
            np.add(v, self.const(self.epsilon, w), out=tmp)
        np.sqrt(tmp, out=tmp)
        # increment = lr * g / denominator
        np.multiply(g, lr, out=increment)
        increment /= tmp
        if self.momentum > 0:
            mom = self.momentums[index]
            mom *= self.const(self.momentum, w)
            mom += increment
            w -= mom
        else:
            w -= increment

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
        self.momentums = Slot(variables)
        self.velocities = Slot(variables)
        self.velocity_hats = Slot(variables) if self.amsgrad else []
        super().build(variables)

    def slots(self):
        # Keras interleaves momentum and velocity per variable.
        pairs = [s for mv in zip(self.momentums, self.velocities) for s in mv]
        return pairs + list(self.velocity_hats)

    def update_step(self, index, g, w, lr):
        m, v, (tmp, step) = self.momentums[index], self.velocities[index], self._buffers(index)
        t = self.iterations + 1
        # beta**t of the float32 betas, computed in double and rounded once. TensorFlow's
        # own float32 pow can differ from this in the last bit for some t, so Adam agrees
        # with Keras to a few ULPs rather than bit for bit.
        beta_1_power = self.const(float(self.const(self.beta_1, w)) ** t, w)
        beta_2_power = self.const(float(self.const(self.beta_2, w)) ** t, w)
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        # m = m + (g - m) * (1 - beta_1)
        np.subtract(g, m, out=tmp)
        tmp *= self.const(1 - self.beta_1, w)
        m += tmp
        # v = v + (g**2 - v) * (1 - beta_2)
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= self.const(1 - self.beta_2, w)
        v += tmp
        if self.amsgrad:
            v_hat = self.velocity_hats[index]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        # w -= m * alpha / (sqrt(v) + epsilon)
        np.sqrt(v, out=tmp)
        tmp += self.const(self.epsilon, w)
        np.multiply(m, alpha, out=step)
        step /= tmp
        w -= step

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
