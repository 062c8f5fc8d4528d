"""Optimizers, in order of increasing complexity, and learning-rate schedules.

    sgd.py        SGD (with momentum, Nesterov)
    rmsprop.py    Adagrad, RMSprop: divide by the root of the squared gradients
    adam.py       Adam, AdamW, Adamax, Nadam: running averages of g and g**2
    adadelta.py   Adadelta: RMSprop scaled by the root-mean-square of the past steps
    lion.py       Lion: a step of lr by the sign of momentum and gradient mixed
    lamb.py       Lamb: Adam's step scaled per weight by ||w|| / ||step||
    adafactor.py  Adafactor: a step relative to ||w||, over a factored average of g**2
    ftrl.py       Ftrl: weights solved for in closed form each step, with L1 zeros
    schedules.py  ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay,
                  PolynomialDecay, CosineDecay (with warmup), CosineDecayRestarts
    base.py       what every optimizer shares: the learning rate (a float or a schedule),
                  weight decay, gradient clipping, slots, one step
    loss_scale.py LossScaleOptimizer: another optimizer, with dynamic loss scaling

Each optimizer is its `update_step(g, w, lr, **slots)`, the formula, operation for operation
as Keras writes it, so that float32 results are Keras's (see base.py).
"""
from minidl.optimizers import schedules
from minidl.optimizers.adafactor import Adafactor
from minidl.optimizers.adadelta import Adadelta
from minidl.optimizers.adam import Adam, Adamax, AdamW, Nadam
from minidl.optimizers.base import Optimizer, constants, power
from minidl.optimizers.ftrl import Ftrl
from minidl.optimizers.lamb import Lamb
from minidl.optimizers.lion import Lion
from minidl.optimizers.loss_scale import LossScaleOptimizer
from minidl.optimizers.rmsprop import Adagrad, RMSprop
from minidl.optimizers.sgd import SGD

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "Nadam", "Adadelta", "Lion",
           "Ftrl", "Lamb", "Adafactor", "LossScaleOptimizer", "Optimizer",
           "schedules", "constants", "power", "get", "serialize", "deserialize"]

_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW, Adamax,
                                                  Nadam, Adadelta, Lion, Ftrl, Lamb,
                                                  Adafactor)}


def get(identifier):
    """Resolve an optimizer: a name ("adam", any case) with Keras's defaults, a config dict
    (`serialize`'s, or Keras's), or an Optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier}. "
        f"Expected an Optimizer or one of {sorted(_BY_NAME)}."
    )


def serialize(optimizer):
    """The dict Keras writes for an optimizer: module, class name and config."""
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """An optimizer from `serialize`'s dict (or Keras's), without its state."""
    name = str(config.get("class_name", "")).lower()
    classes = {**_BY_NAME, "lossscaleoptimizer": LossScaleOptimizer,  # (it wraps another:
               **{k.lower(): v for k, v in (custom_objects or {}).items()}}  # no name alone)
    if name not in classes:
        raise ValueError(
            f"Could not interpret optimizer identifier: {config}. "
            f"Expected an Optimizer or one of {sorted(_BY_NAME)}.")
    return classes[name].from_config(config["config"], custom_objects)
