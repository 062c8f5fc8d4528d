"""LossScaleOptimizer: another optimizer's step, with dynamic loss scaling.

With float16 a small gradient rounds to 0 (underflows). Loss scaling multiplies the loss by
a large number S before differentiation, so every gradient on the way back is S times larger
and stays representable, then divides the final gradients by S before the step. S adapts:
halved (and the step skipped) when a gradient overflowed to inf or nan, doubled after
`dynamic_growth_steps` steps in a row without one. In float32 and with S a power of two the
scaling changes no bit of a finite gradient: the steps are the inner optimizer's.
fit scales the loss (`scale_loss`) before differentiating it, as Keras's train step
(keras/src/backend/tensorflow/trainer.py): minidl/training.py::train_step, and
minidl/custom_step.py for a model compiled without a loss. A train_step of your own scales
nothing unless it calls `self.optimizer.scale_loss(loss)` on the tape, as in Keras.
Source: keras/src/optimizers/loss_scale_optimizer.py.
"""
import numpy as np

from minidl.optimizers.adafactor import Adafactor
from minidl.optimizers.base import Optimizer
from minidl.sparse import SparseRows

# The base optimizer's arguments, which Keras's LossScaleOptimizer takes only at these values
# (its old configs wrote them) and otherwise refuses: they belong to the inner optimizer.
_INNER_ONLY = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
               "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
               "ema_overwrite_frequency": None, "loss_scale_factor": None,
               "gradient_accumulation_steps": None}


class LossScaleOptimizer(Optimizer):
    """An optimizer that scales the loss up and the gradients down, adapting the scale.

    Args:
        inner_optimizer: the optimizer that takes the steps (an Optimizer).
        initial_scale: the first loss scale S (default 2**15).
        dynamic_growth_steps: S doubles after this many steps in a row with finite
            gradients (default 2000).
        name: see `Optimizer`.
    Formula (S = dynamic_scale, n = step_counter; the gradients g are of S * loss):
        all g finite:   inner step on g / S
                        if n == dynamic_growth_steps - 1:  S = 2 * S, n = 0
                        else:                               n = n + 1
        else:           no step;  S = S / 2, n = 0
    `iterations` and `learning_rate` are the inner optimizer's.
    """

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000,
                 name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                "`loss_scale_factor` directly on the `inner_optimizer`.")
        for argument, default in _INNER_ONLY.items():
            if argument in kwargs and kwargs.pop(argument) != default:
                raise ValueError(
                    f"LossScaleOptimizer does not support `{argument}`. "
                    f"Instead, set `{argument}` on the `inner_optimizer`.")
        if kwargs:
            raise ValueError(
                f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        if not isinstance(inner_optimizer, Optimizer):  # Keras fails setting an attribute
            raise AttributeError(
                f"'{type(inner_optimizer).__name__}' object has no attribute "
                "'loss_scale_factor': `inner_optimizer` must be an optimizer instance, e.g. "
                f"minidl.optimizers.Adam(). Received: inner_optimizer={inner_optimizer!r}")
        super().__init__(0.0, name=name)  # its own learning rate, unused, as Keras's
        self.inner_optimizer = inner_optimizer
        self.initial_scale, self.dynamic_growth_steps = initial_scale, dynamic_growth_steps

    # -- the inner optimizer's count and rate -----------------------------------------------------
    @property
    def iterations(self):
        """The inner optimizer's step count (a skipped step does not count)."""
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):
        if "inner_optimizer" in vars(self):  # (not Optimizer.__init__'s 0, before it is set)
            self.inner_optimizer.iterations = value

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    # -- state ------------------------------------------------------------------------------------
    def build(self, variables):
        """The scale and the step counter, then the inner optimizer's slots."""
        self.step_counter = np.zeros((), np.int64)
        self.dynamic_scale = np.array(self.initial_scale, np.float32)
        if not self.inner_optimizer.built:
            if isinstance(self.inner_optimizer, Adafactor):  # Keras builds it untracked
                self.inner_optimizer.lists_placeholders = False  # (see Adafactor's)
            self.inner_optimizer.build(variables)
        self._variables = list(variables)
        self.built = True

    def extra_variables(self):
        """After its own iteration count and learning rate (Keras's, which stay 0): the step
        counter, the scale, then every variable of the inner optimizer."""
        if not self.built:
            return self.inner_optimizer.variables
        return [self.step_counter, self.dynamic_scale] + self.inner_optimizer.variables

    @property
    def variables(self):
        """[0, 0.0, step_counter, dynamic_scale, *inner_optimizer.variables], as Keras's."""
        return [np.zeros((), np.int64), np.zeros((), np.float32)] + self.extra_variables()

    def set_weights(self, weights):
        """Assign every variable, in `variables` order: the scale's, then the inner's."""
        if not self.built:
            super().set_weights(weights)  # Keras's error
        if len(weights) < 4:
            raise ValueError(
                f"Optimizer {self.name} has {len(self.variables)} variables. "
                f"Received {len(weights)}.")
        self.step_counter[...] = weights[2]
        self.dynamic_scale[...] = weights[3]
        self.inner_optimizer.set_weights(list(weights[4:]))

    # -- one step ---------------------------------------------------------------------------------
    def scale_loss(self, loss):
        """loss * S: what fit differentiates (so that it is linear: seeds scale as the loss)."""
        scale = self.dynamic_scale[()] if self.built else np.float32(self.initial_scale)
        with np.errstate(over="ignore"):  # an inf is how too large a scale shows (see apply)
            return loss * scale

    def apply(self, grads, variables):
        """The inner optimizer's step on the unscaled gradients, or none if any is not finite;
        then the scale is updated (see the Formula)."""
        variables, grads = list(variables), list(grads)
        if not self.built:
            self.build(variables)
        if all(np.isfinite(_values(g)).all() for g in grads if g is not None):
            scale = self.dynamic_scale.copy()
            self.inner_optimizer.apply([_divided(g, scale) for g in grads], variables)
            if self.step_counter == self.dynamic_growth_steps - 1:
                self.step_counter[...] = 0
                self.dynamic_scale *= 2
            else:
                self.step_counter += 1
        else:
            self.step_counter[...] = 0
            self.dynamic_scale *= np.float32(0.5)

    def clip_gradients(self, grads):
        return self.inner_optimizer.clip_gradients(grads)

    # -- configuration ----------------------------------------------------------------------------
    def get_config(self):
        """Keras's keys: the name, the inner optimizer as `serialize` writes it, the scale's."""
        from minidl.optimizers import serialize
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from minidl.optimizers import deserialize
        config = dict(config)
        inner = config.pop("inner_optimizer")
        return cls(deserialize(inner, custom_objects) if isinstance(inner, dict) else inner,
                   **config)


def _values(g):
    return g.values if isinstance(g, SparseRows) else g


def _divided(g, scale):
    """g / S, for a dense gradient or one of rows (an Embedding's)."""
    if g is None:
        return None
    return g.with_values(g.values / scale) if isinstance(g, SparseRows) else g / scale
