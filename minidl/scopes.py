"""keras.name_scope and keras.device, which Keras programs open around model code: on
minidl, which computes with NumPy on the CPU, both change nothing."""
import contextlib


class name_scope:  # noqa: N801 (Keras's name)
    """A block whose name Keras puts in front of the variables made inside it; minidl's
    weights keep their own paths (layer/weight), so it only records the name."""

    def __init__(self, name, **kwargs):
        if not isinstance(name, str) or "/" in name:
            raise ValueError("Argument `name` must be a string and cannot contain character "
                             f"`/`. Received: name={name}")
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


@contextlib.contextmanager
def device(device_name):
    """`with keras.device("cpu:0"):` runs the block as it is: minidl computes on the CPU.
    Another device ("gpu:0", "tpu:0") is refused: minidl has none."""
    kind = str(device_name).lower().split(":")[0].lstrip("/").replace("device", "")
    if kind not in ("cpu", ""):
        raise ValueError("minidl computes with NumPy on the CPU only: it has no "
                         f"'{kind}' device. Received: device_name={device_name!r}")
    yield
