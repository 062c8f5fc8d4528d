"""Automatic names as Keras makes them: snake_case class name + a process-wide counter per prefix.

The first object gets the bare name ("dense"), then "dense_1", "dense_2", ...
`clear_session()` resets the counters, like `keras.backend.clear_session()`.
"""
import re
from collections import defaultdict

_counters = defaultdict(int)


def to_snake_case(name):
    """'InputLayer' -> 'input_layer', 'Dense' -> 'dense'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def get_uid(prefix=""):
    """How many times `prefix` has been asked for, this time included (Keras's get_uid)."""
    _counters[prefix] += 1
    return _counters[prefix]


def auto_name(prefix):
    """Return `prefix` the first time, then `prefix_1`, `prefix_2`, ..."""
    uid = get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


def clear_session():
    """Forget every name handed out so far."""
    _counters.clear()
