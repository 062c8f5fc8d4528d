"""keras.ops.nn.sigmoid and keras.ops.sigmoid are one function; here they are two.

minidl's submodules (nn.py, numpy.py, math.py, linalg.py) hold the plain values, which the
recorded ops (backprop*.py) compute with. So that code calling `ops.nn.sigmoid(x)` or
`ops.numpy.tensordot(a, b)` in a training step still trains, each submodule function that
has a recorded version hands it a Tracked array or a weight (your code's arrays in a
training step, ops/backprop.py); the plain arrays the recorded ops pass it keep to the plain
function, as do all calls outside a training step.
"""
import functools
import threading

from minidl.ops import backprop, linalg, math, nn, numpy
from minidl.tape import active_tape
from minidl.variable import Variable

SUBMODULES = (nn, numpy, math, linalg)
_recording = threading.local()  # inside a recorded op called through a submodule's name


def handing_tracked_arrays_on(plain, recorded):
    """`plain`, except that given a Tracked array or a weight in a training step it is
    `recorded` (the same function recorded on the tape). The recorded op computes its value
    with this very function: called from there (with, say, `repeats` computed with ops, so
    Tracked), it is `plain`."""
    @functools.wraps(plain)
    def op(*args, **kwargs):
        if not getattr(_recording, "on", False) and active_tape() is not None and any(
                isinstance(a, (backprop.Tracked, Variable)) for a in args):
            _recording.on = True
            try:
                return recorded(*args, **kwargs)
            finally:
                _recording.on = False
        return plain(*args, **kwargs)
    op.plain = plain
    return op


def defined_for(plain, module):
    """Whether `plain` is the submodule's own function: defined in it, or in one of the files
    of its kind it gathers (numpy.py's names from numpy_shapes.py, numpy_statistics.py, ...),
    not a helper it imports (convert_to_tensor)."""
    where = getattr(plain, "__module__", None) or ""
    return where == module.__name__ or where.startswith(module.__name__ + "_")


def link(ops_namespace):
    """Wrap every submodule function whose name minidl.ops (`ops_namespace`) gives to a
    recorded version."""
    for module in SUBMODULES:
        for name, plain in list(vars(module).items()):
            recorded = ops_namespace.get(name)
            if (not name.startswith("_") and callable(plain) and recorded is not None
                    and recorded is not plain
                    and defined_for(plain, module)
                    and getattr(recorded, "__module__", "").startswith("minidl.ops.backprop")):
                setattr(module, name, handing_tracked_arrays_on(plain, recorded))
