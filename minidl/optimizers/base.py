"""The base class every optimizer shares: the learning rate, weight decay, clipping, the step.

Each optimizer (sgd.py, rmsprop.py, adam.py) is its `update_step(g, w, lr, **slots)`: the
textbook lines for one weight array `w`, its gradient `g` and its state arrays ("slots", e.g.
RMSprop's `velocity`), updated in place. This class does what surrounds them in one step,
in Keras's order (keras/src/optimizers/base_optimizer.py::apply):

    lr = the learning rate now              a float, or schedule(iterations)
    g = clip(g)                             clipnorm / clipvalue / global_clipnorm
    w -= w * weight_decay * lr              decoupled weight decay (if set)
    update_step(g, w, lr, **slots)          the formula
    w = constraint(w)                       each weight that has one (constraints.py)
    iterations += 1

Two details make float32 results bit-identical to Keras's:
- constants like (1 - beta_1) are computed in Python floats, then rounded to float32 once;
- `iterations` counts finished updates and starts at 0 (Adam's t = iterations + 1), and a
  schedule is evaluated at `iterations` before the increment: the first step uses schedule(0).
For speed, `apply` runs the formula once on all of a model's weights laid end to end
(minidl/layout.py), in two halves on two threads when they are many (minidl/threads.py);
the formulas do not need to know.

An Embedding's gradient comes as rows, one per occurrence of a token (minidl/sparse.py's
SparseRows, Keras's tf.IndexedSlices). Keras's TensorFlow backend treats such a gradient by
TensorFlow's sparse rules, which each optimizer's `sparse_update_step` writes out; a step
with one goes variable by variable, and clipping acts on its rows.
"""
import functools
import re
import warnings

import numpy as np

from minidl import config, threads
from minidl.denormals import flushing
from minidl.layout import Slot, lay_end_to_end
from minidl.naming import auto_name, to_snake_case
from minidl.optimizers import schedules
from minidl.sparse import SparseRows


def constants(dtype, *values):
    """Python-float constants rounded once to the weights' float type, as Keras does.

    NumPy scalars (np.float32(0.1)) rather than 0-d arrays: the same rounding, and
    arithmetic on them costs a tenth of the time, which counts for small models. The same
    constants are asked for at every step: they are kept (a learning rate given as an
    array, which cannot be a key, is rounded each time).
    """
    try:
        return _rounded(dtype, *values)
    except TypeError:  # an array among the values
        return tuple(dtype.type(value) for value in values)


@functools.lru_cache(maxsize=1024)
def _rounded(dtype, *values):
    return tuple(dtype.type(value) for value in values)


def power(base, t):
    """base**t for a float32 base and a step count t, computed in double and rounded once.

    TensorFlow's float32 pow of one number is nearly, not exactly, correctly rounded: this
    agrees with it for most t and is one ULP away for a few, so the optimizers that use it
    agree with Keras to a few ULPs rather than bit for bit.
    """
    return base.dtype.type(float(base) ** t)


# -- the learning rate: a float32 number, a schedule, or a function ------------------------------
_LEARNING_RATE_ERROR = (
    "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a "
    "callable (that takes in the current iteration value and returns the corresponding "
    "learning rate value). Received instead: learning_rate={!r}")


def _is_number(value, integers):
    """A real number (a NumPy scalar or 0-d array counts): floats, and ints if `integers`."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    kinds = (float, np.floating) + ((int, np.integer) if integers else ())
    return isinstance(value, kinds) and not isinstance(value, (bool, np.bool_))


def learning_rate_state(learning_rate, assigning=False):
    """What the optimizer keeps: a schedule, a function, or a 0-d floatx array (Keras's variable).

    The constructor takes a float: a Python float as Keras's, and also a NumPy float or a 0-d
    float array, which Keras's constructor refuses and its setter takes. Integers only by
    assignment (`optimizer.learning_rate = 1`), as in Keras (`SGD(learning_rate=1)` raises).
    """
    if isinstance(learning_rate, schedules.LearningRateSchedule) or callable(learning_rate):
        return learning_rate
    if assigning and isinstance(learning_rate, np.ndarray) and learning_rate.ndim > 0:
        raise ValueError(
            "The learning rate must be a number, of shape (). Received: "
            f"learning_rate.shape={learning_rate.shape}")
    if not _is_number(learning_rate, integers=assigning):
        error = TypeError if assigning and isinstance(learning_rate, str) else ValueError
        raise error(_LEARNING_RATE_ERROR.format(learning_rate))
    return np.array(learning_rate, config.floatx())


class RateVariable(np.ndarray):
    """`optimizer.learning_rate` as Keras hands it out, a variable: a 0-d array that reads as
    the rate (`float(lr)`, `lr * 0.5`), with `numpy()` (Géron's ExponentialLearningRate
    callback reads it so) and, for a float rate, `assign(value)`, which sets the optimizer's
    rate as `optimizer.learning_rate = value` does."""

    optimizer = None  # the optimizer whose float rate this is (None: a schedule's value)

    def numpy(self):
        return np.asarray(self)[()].copy()  # a NumPy scalar, as a variable's numpy()

    def assign(self, value):
        if self.optimizer is None:
            raise TypeError("This learning rate comes from a `LearningRateSchedule`: it is not "
                            "settable. Instantiate the optimizer with a float `learning_rate` "
                            "to set it.")
        self.optimizer.learning_rate = value
        return self.optimizer.learning_rate


# Keras options minidl does not implement: each with the value that means "off", and what it is.
# (ema_momentum and ema_overwrite_frequency do nothing without use_ema, in Keras too.)
_UNSUPPORTED = {"use_ema": (False, "a moving average of the weights"),
                "loss_scale_factor": (None, "loss scaling for mixed precision"),
                "gradient_accumulation_steps": (None, "gradient accumulation")}
_IGNORED = {"ema_momentum", "ema_overwrite_frequency"}


def _check_unsupported(options):
    """Keras's other optimizer arguments: accepted when off, refused clearly when on."""
    unknown = sorted(set(options) - set(_UNSUPPORTED) - _IGNORED - {"decay"})
    if unknown:
        raise ValueError(f"Argument(s) not recognized: { {k: options[k] for k in unknown} }")
    if options.get("decay") is not None:
        warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                      stacklevel=4)
    for name, (off, what) in _UNSUPPORTED.items():
        if options.get(name, off) != off:
            raise ValueError(
                f"minidl's optimizers do not implement `{name}` ({what}). Leave it out or "
                f"pass {name}={off!r}. Received: {name}={options[name]!r}")


class Optimizer:
    """Base class: the learning rate, slots built on the first `apply`, then `update_step`.

    Args:
        learning_rate: a float, or a schedule (optimizers.schedules), or a function of no
            arguments returning the rate, called at every step.
        weight_decay: decoupled weight decay: every step, before the update,
            w -= w * weight_decay * lr (variables named in `exclude_from_weight_decay` skip it).
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this joint L2 norm.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        _check_unsupported(kwargs)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        self._learning_rate = learning_rate_state(learning_rate)
        self.name = name or auto_name(to_snake_case(type(self).__name__))
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.iterations = 0
        self.built = False
        self._flat = None
        self._slots = {}  # name -> Slot, in creation order
        self._slot_groups = []  # names created together (Keras interleaves those per variable)
        self._variables = []  # those of the first apply (build): slot i belongs to the i-th
        self._exclude_ids, self._exclude_pattern = set(), None
        self.ema_momentum = kwargs.get("ema_momentum", 0.99)  # kept for get_config only:
        self.ema_overwrite_frequency = kwargs.get("ema_overwrite_frequency")  # no use_ema

    # -- the learning rate ------------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate the next step will use, as a 0-d floatx array: for a float rate,
        the optimizer's own (a RateVariable, Keras's variable: `.numpy()`, `.assign(x)`)."""
        rate = np.asarray(self._current_learning_rate(), config.floatx())
        settable = rate is self._learning_rate
        rate = rate.view(RateVariable)
        rate.optimizer = self if settable else None
        return rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) and not callable(value):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument.")
        value = learning_rate_state(value, assigning=True)
        if isinstance(value, np.ndarray) and isinstance(self._learning_rate, np.ndarray):
            self._learning_rate[...] = value  # in place, as Keras assigns its variable: an
        else:  # `lr = optimizer.learning_rate` read before follows
            self._learning_rate = value

    def _current_learning_rate(self):
        """The rate for the step about to be taken: a schedule is read at `iterations`."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return self._learning_rate(self.iterations)
        if callable(self._learning_rate):
            return self._learning_rate()
        return self._learning_rate

    # -- state ------------------------------------------------------------------------------------
    def build(self, variables):
        """Remember the variables (slot i belongs to variables[i]); subclasses add slots."""
        self._variables = list(variables)
        self._flat = lay_end_to_end(self._variables)
        self.built = True

    def add_slots(self, variables, *names, initial_value=0.0):
        """State named `names`, one array per variable (Keras's optimizer variables)."""
        for name in names:
            self._slots[name] = Slot(variables, name)
            for view in self._slots[name].views:
                view[...] = initial_value
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

    def extra_variables(self):
        """State beyond the slots, after them in `variables` (Nadam's running product)."""
        return []

    @property
    def variables(self):
        """[iterations, learning_rate, *slots, *extra], as Keras's `optimizer.variables`.

        A schedule or a function has no learning_rate variable: Keras leaves it out.
        """
        rate = [self._learning_rate] if isinstance(self._learning_rate, np.ndarray) else []
        return ([np.asarray(self.iterations, np.int64)] + [r.copy() for r in rate]
                + self.slots() + self.extra_variables())

    def set_weights(self, weights):
        """Assign every variable, in `variables` order (Keras's `optimizer.set_weights`)."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`.")
        current = self.variables
        if len(weights) != len(current) or any(
                np.shape(w) != np.shape(c) for w, c in zip(weights, current)):
            raise ValueError(
                f"Optimizer {self.name} has {len(current)} variables of shapes "
                f"{[np.shape(c) for c in current]}. Received {len(weights)} of shapes "
                f"{[np.shape(w) for w in weights]}.")
        weights = list(weights)
        self.iterations = int(weights.pop(0))
        if isinstance(self._learning_rate, np.ndarray):
            self._learning_rate[...] = weights.pop(0)
        for array, value in zip(self.slots() + self.extra_variables(), weights):
            array[...] = value

    # -- weight decay -----------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables from weight decay: these Variables, or those whose name
        ("kernel", "bias") contains any of `var_names` (a regular expression search)."""
        self._exclude_ids = {id(v) for v in var_list or []}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _decays(self, variable):
        if id(variable) in self._exclude_ids:
            return False
        return self._exclude_pattern is None or not self._exclude_pattern.search(variable.name)

    def apply_weight_decay(self, variables, lr):
        """Decoupled weight decay, before the update (keras/src/backend/tensorflow/optimizer.py).

        Formula:
            w -= w * weight_decay * lr      for every variable not excluded
        """
        if self.weight_decay is None:
            return
        decayed = [v for v in variables if self._decays(v)]
        everything = self.updates_at_once(variables) and len(decayed) == len(variables)
        for w in [self._flat.values] if everything else [v.value for v in decayed]:
            wd, rate = constants(w.dtype, self.weight_decay, lr)
            w -= w * wd * rate

    # -- one step ---------------------------------------------------------------------------------
    @flushing  # denormals are 0, as in TensorFlow's kernels: see minidl/denormals.py
    def apply(self, grads, variables):
        """One step: update every variable in place from its gradient, then count the step."""
        variables, grads = list(variables), list(grads)
        if not self.built:
            self.build(variables)
        if any(g is None for g in grads):  # tape.gradient's None for an unreached variable
            variables, grads = _filter_empty_gradients(grads, variables)
        at_once = self.updates_at_once(variables) and not _any_rows(grads)
        indices = None if at_once else self._indices(variables)  # (an unknown one: an error)
        grads = self.clip_gradients(grads)
        lr = self._current_learning_rate()
        state = self._state_copy(variables) if _any_constraint(variables) else None
        self.apply_weight_decay(variables, lr)
        self.prepare_step()
        if at_once:
            flat = self._flat  # every weight end to end: one update for all of them, in runs
            for start, end, g in flat.runs(grads):  # (layout.py says why runs)
                threads.elementwise(  # a big update: half of the weights on a second thread
                    self.update_step, g, flat.values[start:end],
                    *constants(flat.values.dtype, lr),
                    **{name: slot.whole[start:end] for name, slot in self._slots.items()})
        else:
            for index, grad, variable in zip(indices, grads, variables):
                slots = {name: slot.views[index] for name, slot in self._slots.items()}
                if isinstance(grad, SparseRows):  # an Embedding's: rows, by TensorFlow's rules
                    variable.grad = grad.dense()
                    self.sparse_update_step(grad, variable.value,
                                            *constants(variable.dtype, lr), **slots)
                    continue
                variable.grad = np.array(grad, variable.dtype)  # a copy, as the caller's may change
                self.update_step(grad, variable.value, *constants(variable.dtype, lr), **slots)
        if state is not None:
            self.apply_constraints(variables, state)
        self.iterations += 1

    def apply_constraints(self, variables, state):
        """w = constraint(w) for each variable that has one, right after the update, as Keras
        (keras/src/optimizers/base_optimizer.py::apply; constraints.py has the formulas).

        All are computed and checked before any is assigned; if one fails, the weights and
        slots go back to `state`, as they were before the step, so a step is all or nothing.
        """
        constrained = [v for v in variables if v.constraint is not None]
        try:
            projected = [np.asarray(v.constraint(v.value)) for v in constrained]
            for v, w in zip(constrained, projected):
                if w.shape != v.shape:
                    raise ValueError(
                        "The shape of the target variable and the shape of the target value in "
                        "`variable.assign(value)` must match. "
                        f"variable.shape={v.shape}, Received: value.shape={w.shape}. "
                        f"Target variable: {v!r} (its constraint: {v.constraint!r})")
        except BaseException:
            for array, saved in zip(self._state_arrays(variables), state):
                array[...] = saved
            raise
        for v, w in zip(constrained, projected):
            v.assign(w)

    def _state_arrays(self, variables):
        """What a step changes: the weights, the slots and any extra state (Nadam's)."""
        return [v.value for v in variables] + self.slots() + self.extra_variables()

    def _state_copy(self, variables):
        return [array.copy() for array in self._state_arrays(variables)]

    def prepare_step(self):
        """Once per step, before the updates: state shared by every variable (Nadam's)."""

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

    def sparse_update_step(self, g, w, lr, **slots):
        """update_step for a gradient of rows g (a SparseRows, an Embedding's gradient).

        Each optimizer here writes it with the rules Keras's TensorFlow backend applies to such
        a gradient (minidl/sparse.py); an optimizer of your own without one gets the rows
        summed per token, the ordinary dense gradient.
        """
        self.update_step(g.dense(), w, lr, **slots)

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
        """Gradient clipping as keras/src/optimizers/base_optimizer.py does it.

        Formula:
            clipnorm c:         g = g * c / max(norm(g), c)                 each g alone
            global_clipnorm c:  g = g * c * min(1 / norm(all g), 1 / c)     all together
            clipvalue c:        g = clip(g, -c, c)
        The norms are sums: NumPy adds in another order than TensorFlow's kernels, so
        clipped-by-norm gradients can differ from Keras's by an ULP.
        A gradient of rows (SparseRows, an Embedding's) counts its rows, one per occurrence of
        a token, as Keras's TensorFlow backend counts a tf.IndexedSlices: the norms are those
        of the rows, not of their sums per token; clipnorm and clipvalue clip the rows
        (tf.clip_by_norm, tf.clip_by_value), and global_clipnorm's `g * scale` (TensorFlow's
        `*`) sums them per token first, so the optimizer then gets a dense gradient.
        """
        if _any_rows(grads) and (self.clipnorm is not None or self.clipvalue is not None):
            clipped = self.clip_gradients([_rows_of(g) for g in grads])
            return [g.with_values(c) if isinstance(g, SparseRows) else c
                    for g, c in zip(grads, clipped)]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = np.sqrt(np.square(g).sum())
                c, = constants(g.dtype, self.clipnorm)
                out.append(g * c / np.maximum(norm, c))  # tf.clip_by_norm
            return out
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue).astype(g.dtype) for g in grads]
        if self.global_clipnorm is not None:
            norm = np.sqrt(sum(np.square(_rows_of(g)).sum() for g in grads))  # float32, as g
            c, one, inverse_c = constants(norm.dtype, self.global_clipnorm, 1,
                                          1 / self.global_clipnorm)
            scale = c * np.minimum(one / norm, inverse_c) + (norm - norm)  # NaN if norm is NaN/inf
            return [np.asarray(g) * scale for g in grads]  # (np.asarray: rows summed per token)
        return grads

    # -- configuration ----------------------------------------------------------------------------
    def get_config(self):
        """Keras's keys for the settings minidl has; the learning rate as Keras reports it."""
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            rate = schedules.serialize(rate)
        elif isinstance(rate, np.ndarray):
            rate = float(rate)  # the stored float32, e.g. 0.0010000000474974513, as Keras
        return {"name": self.name, "learning_rate": rate, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": False, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The optimizer `get_config` (or Keras's get_config) describes, without its state."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"],
                                                            custom_objects)
        return cls(**config)


def _any_constraint(variables):
    return any(v.constraint is not None for v in variables)


# -- gradients of rows (an Embedding's, minidl/sparse.py) ----------------------------------------
def _any_rows(grads):
    return SparseRows in map(type, grads)


def _rows_of(g):
    return g.values if isinstance(g, SparseRows) else g


def _filter_empty_gradients(grads, variables):
    """The variables that have a gradient, and their gradients; Keras's warning names the
    others (keras/src/optimizers/base_optimizer.py::_filter_empty_gradients)."""
    missing = [getattr(v, "path", v.name) for v, g in zip(variables, grads) if g is None]
    if len(missing) == len(variables):
        raise ValueError("No gradients provided for any variable.")
    warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. "
                  "If using `model.compile()`, did you forget to provide a `loss` argument?",
                  stacklevel=3)
    return ([v for v, g in zip(variables, grads) if g is not None],
            [g for g in grads if g is not None])
