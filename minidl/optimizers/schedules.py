"""Learning-rate schedules: the learning rate as a function of the step, as Keras computes it.

    optimizer = Adam(learning_rate=ExponentialDecay(0.01, decay_steps=100, decay_rate=0.9))

The optimizer calls `schedule(step)` once per update, with `step = optimizer.iterations`
BEFORE it is incremented: the first update uses schedule(0), the second schedule(1), ...
(keras/src/optimizers/base_optimizer.py::_get_current_learning_rate).

Every schedule computes in float32 (floatx), operation for operation as
keras/src/optimizers/schedules/learning_rate_schedule.py does, so that its values are
Keras's: the step and the settings are rounded to float32 first, and `p = step / decay_steps`
is a float32 division. pow, cos and log are computed in double and rounded once to
float32 (`_exact`): TensorFlow's float32 kernels for one number are nearly correctly
rounded, and so agree with that far more often than NumPy's float32 versions, but not always:
schedules that call them agree with Keras to a few float32 ULPs, the others bit for bit.
"""
import math

import numpy as np

from minidl import config


def _float(value):
    """A Python number (or 0-d array) rounded once to floatx, as Keras's convert_to_tensor."""
    return np.dtype(config.floatx()).type(value)


def _exact(function, *args):
    """function(*args) of float32 arguments, computed in double and rounded once to floatx."""
    with np.errstate(all="ignore"):  # log(0) = -inf and friends, as in TensorFlow
        return _float(function(*(np.float64(a) for a in args)))


class LearningRateSchedule:
    """Base class: `schedule(step)` is the learning rate at that step (a floatx scalar)."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
            "order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_decay_steps(name, value):
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class ExponentialDecay(LearningRateSchedule):
    """Multiply the learning rate by `decay_rate` every `decay_steps` steps, smoothly.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per factor of decay_rate (> 0).
        decay_rate: the factor.
        staircase: decay in whole steps of decay_steps (floor of the exponent).
    Formula:
        p = step / decay_steps              (floor(p) if staircase)
        lr = initial_learning_rate * decay_rate**p
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = _float(step) / _float(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _float(self.initial_learning_rate) * _exact(np.power, _float(self.decay_rate), p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to and including step boundaries[0], values[1] up to boundaries[1], ...

    Args:
        boundaries: increasing steps where the rate changes.
        values: one more value than boundaries.
    Formula:
        lr = values[0]     if step <= boundaries[0]
             values[i]     if boundaries[i-1] < step <= boundaries[i]
             values[-1]    if step > boundaries[-1]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}.")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step):
        # Keras compares in the step's type: an integer step against the boundaries cast to
        # integers, a float step against float32 boundaries.
        if isinstance(step, (int, np.integer)):
            boundaries = [int(b) for b in self.boundaries]
        else:
            step, boundaries = _float(step), [_float(b) for b in self.boundaries]
        index = sum(step > b for b in boundaries)  # how many boundaries the step has passed
        return _float(self.values[index])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """Divide the learning rate by 1 + decay_rate * step / decay_steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per unit of p (> 0).
        decay_rate: how fast the rate falls.
        staircase: use floor(p).
    Formula:
        p = step / decay_steps              (floor(p) if staircase)
        lr = initial_learning_rate / (1 + decay_rate * p)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = _float(step) / _float(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _float(self.initial_learning_rate) / (_float(1) + _float(self.decay_rate) * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From initial_learning_rate to end_learning_rate along (1 - p)**power, in decay_steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps to reach end_learning_rate (> 0).
        end_learning_rate: the rate from decay_steps on.
        power: the curve's exponent (1.0: a straight line).
        cycle: start again, over twice, three times... decay_steps, instead of staying at
            the end.
    Formula:
        cycle=False:  s = min(step, decay_steps);  p = s / decay_steps
        cycle=True:   D = decay_steps * ceil(step / decay_steps)  (1 at step 0);  p = step / D
        lr = (initial_learning_rate - end_learning_rate) * (1 - p)**power + end_learning_rate
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle = end_learning_rate, power, cycle
        self.name = name

    def __call__(self, step):
        initial, end = _float(self.initial_learning_rate), _float(self.end_learning_rate)
        step, decay_steps = _float(step), _float(self.decay_steps)
        if self.cycle:
            multiplier = _float(1) if step == 0 else np.ceil(step / _float(self.decay_steps))
            decay_steps = decay_steps * multiplier
        else:
            step = np.minimum(step, decay_steps)
        p = step / decay_steps
        return (initial - end) * _exact(np.power, _float(1) - p, _float(self.power)) + end

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


def _cosine(fraction, alpha):
    """Half a cosine from 1 down to alpha as fraction goes from 0 to 1 (float32 fraction)."""
    cosine_decayed = 0.5 * (1.0 + _exact(np.cos, _float(math.pi) * fraction))
    return _float(1 - alpha) * cosine_decayed + _float(alpha)


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the learning rate down to alpha times it, after an optional warmup.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps of the cosine (> 0); after them the rate stays at its end.
        alpha: the end, as a fraction of the rate the cosine starts from.
        warmup_target: with warmup, the rate reached at the end of the warmup, where the
            cosine starts; None: no warmup.
        warmup_steps: steps of the linear warmup from initial_learning_rate to warmup_target.
    Formula:
        cosine(top, s) = top * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
        no warmup:  lr = cosine(initial_learning_rate, min(step, decay_steps))
        warmup:     s = min(step, warmup_steps + decay_steps)
                    s < warmup_steps:  lr = lr0 + (warmup_target - lr0) * s / warmup_steps
                    otherwise:         lr = cosine(warmup_target, s - warmup_steps)
                    (lr0: initial_learning_rate)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate, self.decay_steps, self.alpha = (
            initial_learning_rate, decay_steps, alpha)
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def __call__(self, step):
        initial, decay_steps, step = (_float(self.initial_learning_rate),
                                      _float(self.decay_steps), _float(step))
        if self.warmup_target is None:
            step = np.minimum(step, decay_steps)
            return initial * _cosine(step / decay_steps, self.alpha)
        target, warmup_steps = _float(self.warmup_target), _float(self.warmup_steps)
        step = np.minimum(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return (target - initial) * (step / warmup_steps) + initial
        return target * _cosine((step - warmup_steps) / decay_steps, self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay that restarts ("SGDR"): each period t_mul times longer, m_mul times lower.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: steps of the first period (> 0).
        t_mul: each period is this many times longer than the previous one.
        m_mul: each period starts this many times lower than the previous one.
        alpha: the end of each period, as a fraction of initial_learning_rate.
    Formula:
        f = step / first_decay_steps
        t_mul = 1:  i = floor(f);  f = f - i                       (i: the period, f: how far in)
        t_mul != 1: i = floor(log(1 - f * (1 - t_mul)) / log(t_mul))
                    f = (f - (1 - t_mul**i) / (1 - t_mul)) / t_mul**i
        lr = initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_decay_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate, self.first_decay_steps = (initial_learning_rate,
                                                              first_decay_steps)
        self.t_mul, self.m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step):
        alpha, t_mul, m_mul = _float(self.alpha), _float(self.t_mul), _float(self.m_mul)
        fraction = _float(step) / _float(self.first_decay_steps)
        if t_mul == 1.0:
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:
            log_t_mul = _exact(np.log, t_mul)
            restart = np.floor(_exact(np.log, 1.0 - fraction * (1.0 - t_mul)) / log_t_mul)
            done = (1.0 - _exact(np.power, t_mul, restart)) / (1.0 - t_mul)  # earlier periods
            fraction = (fraction - done) / _exact(np.power, t_mul, restart)
        cosine_decayed = 0.5 * _exact(np.power, m_mul, restart) * (
            1.0 + _exact(np.cos, _float(math.pi) * fraction))
        return _float(self.initial_learning_rate) * ((1 - alpha) * cosine_decayed + alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


_BY_NAME = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                          InverseTimeDecay, PolynomialDecay, CosineDecay,
                                          CosineDecayRestarts)}


def serialize(schedule):
    """The dict Keras writes for a schedule (inside an optimizer's config)."""
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """A schedule from `serialize`'s dict (or Keras's), by class name."""
    name = config.get("class_name") if isinstance(config, dict) else None
    classes = {**_BY_NAME, **(custom_objects or {})}
    if name not in classes:
        raise ValueError(
            f"Could not interpret learning rate schedule: {config!r}. Expected a dict with a "
            f"`class_name` among {sorted(_BY_NAME)}.")
    return classes[name].from_config(config["config"])
