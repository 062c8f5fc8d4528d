"""Caps on what a file may declare, checked before anything is allocated or built.

A `.keras` file is a few kilobytes of JSON that decides how much memory loading takes: a
crafted `"units": 10**12` or `"batch_shape": [null, 1e13]` would make NumPy try to allocate
terabytes, a config nested 100,000 deep would exhaust Python's stack, and a compressed
config.json could inflate to gigabytes. Everything here looks at the parsed JSON only, so it
runs before config.py builds a single layer. The caps are far above any model minidl can
train in memory, and far below what would hurt the machine.
"""
import math
import threading

MAX_CONFIG_BYTES = 8 * 2**20  # config.json, uncompressed (Keras writes ~1 kB per layer)
MAX_CONFIG_DEPTH = 100        # nesting of JSON lists and dicts (Keras writes ~12 a model)
MAX_DIM = 2**31 - 1           # one size: units, or an entry of a shape
MAX_WEIGHTS = 2**30           # numbers in all the weights a config declares (4 GiB float32)

_SIZE_KEYS = ("units", "filters", "input_dim", "output_dim")
_SIZES_KEYS = ("kernel_size", "pool_size", "strides", "dilation_rate")  # an int or a list
_SHAPE_KEYS = ("batch_shape", "batch_input_shape", "input_shape", "build_input_shape",
               "shape", "target_shape")
# Optimizer hyperparameters: (lowest, highest) allowed; None is accepted where Keras has it.
_NUMBERS = {"learning_rate": (0, math.inf), "beta_1": (0, 1), "beta_2": (0, 1), "rho": (0, 1),
            "momentum": (0, 1), "epsilon": (0, math.inf), "clipnorm": (0, math.inf),
            "clipvalue": (0, math.inf), "global_clipnorm": (0, math.inf),
            "weight_decay": (0, math.inf), "ema_momentum": (0, 1)}
_FLAGS = ("amsgrad", "centered", "nesterov", "use_ema", "from_logits")


def nesting_depth(value):
    """How deeply lists and dicts nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        children = (value.values() if isinstance(value, dict)
                    else value if isinstance(value, list) else None)
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


class weight_budget:
    """Context manager: while a file's model is built, its weights may hold `count` numbers.

    Layer.add_weight calls `charge(shape)` before it allocates, so a config whose shapes
    lie (a build_config saying 5 inputs where the layer before makes 2**20) is refused
    before NumPy is asked for the memory. Per thread: another thread's models are free.
    """

    def __init__(self, count=MAX_WEIGHTS):
        self.count = count

    def __enter__(self):
        self._outer = getattr(_budget, "left", None)
        _budget.left = self.count
        return self

    def __exit__(self, *exc_info):
        _budget.left = self._outer
        return False


_budget = threading.local()


def charge(shape):
    """Count a weight of `shape` against the current budget (if any); raise if it is spent."""
    left = getattr(_budget, "left", None)
    if left is None:
        return
    size = math.prod(shape)
    if size > left:
        raise ValueError(
            f"The model's weights would hold more than the {MAX_WEIGHTS:,} numbers minidl "
            f"accepts (4 GiB in float32): a weight of shape {tuple(shape)} exceeds what is "
            "left."
        )
    _budget.left = left - size


def weights_file_cap(model):
    """The most bytes a weights file for `model` may need: float64 weights, three slots each."""
    count = sum(w.value.size for w in model.weights)
    return 64 * 2**20 + 32 * count  # plus 64 MiB for HDF5's groups, names and attributes


def check_config_values(config):
    """Raise a ValueError for a size, shape or setting no model config can mean.

    Args:
        config: the dict from a `.keras` file's config.json (nesting already checked).
    Checks: every "units"-like size is an int in [1, MAX_DIM]; every shape a list of such
    ints (or None); the weights the layers declare number at most MAX_WEIGHTS; the
    compile_config's optimizer, loss and metrics have the types and ranges Keras writes.
    """
    for path, node in _dicts(config):
        for key in _SIZE_KEYS:
            if key in node:
                _check_size(f"{path}.{key}", node[key])
        for key in _SIZES_KEYS:
            sizes = node.get(key)
            for i, size in enumerate(sizes if isinstance(sizes, list) else [sizes]):
                if size is not None:  # (pooling's strides may be None: the pool size)
                    _check_size(f"{path}.{key}[{i}]", size)
        for key in _SHAPE_KEYS:
            if key in node and node[key] is not None:
                _check_shape(f"{path}.{key}", node[key], -1 if key == "target_shape" else 0)
    count = declared_weights(config)
    if count > MAX_WEIGHTS:
        raise ValueError(
            f"The model's layers declare {count:,} weights, more than the {MAX_WEIGHTS:,} "
            "minidl accepts (4 GiB in float32)."
        )
    compile_config = config.get("compile_config")
    if compile_config:
        _check_compile_config(compile_config)


def _dicts(value, path="config.json"):
    """(path, dict) for every dict inside `value`, e.g. ("config.json.config.layers[1]", {...})."""
    stack = [(path, value)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            yield path, value
            stack.extend((f"{path}.{key}", child) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(value))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(where, value, lowest=1):
    if not _is_int(value) or not lowest <= value <= MAX_DIM:
        raise ValueError(
            f"Invalid size in {where}: expected an integer in [{lowest}, {MAX_DIM}]. "
            f"Received: {_short(value)}"
        )


def _check_shape(where, shape, lowest=0):
    """A shape: a list of sizes or None (the batch axis), or a list of such lists."""
    if not isinstance(shape, list):
        raise ValueError(f"Invalid shape in {where}: expected a list. Received: {_short(shape)}")
    if shape and all(isinstance(s, list) or s is None for s in shape) and any(
            isinstance(s, list) for s in shape):
        for i, inner in enumerate(shape):  # one shape per input
            if inner is not None:
                _check_shape(f"{where}[{i}]", inner, lowest)
        return
    numbers = 1
    for i, size in enumerate(shape):
        if size is not None:
            _check_size(f"{where}[{i}]", size, lowest)
            numbers *= max(size, 1)
    if numbers > MAX_WEIGHTS:
        raise ValueError(f"Invalid shape in {where}: {shape} holds {numbers:,} numbers per "
                         f"sample, more than the {MAX_WEIGHTS:,} minidl accepts.")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def declared_weights(config):
    """How many numbers the weights of the config's Dense and convolution layers hold.

    A layer's input width is the largest the config gives for it: the last axis of its
    build_config's input shape (Keras writes one for every built layer), of the tensor it
    is called on, and the units (or filters) of the layer before it in its model's list;
    with none of these, the widest shape in the config. For a file Keras wrote this is the
    exact count; a file that lies about shapes is caught when the weights are made (charge).
    """
    widest = max([_features(node.get(key)) for _, node in _dicts(config)
                  for key in _SHAPE_KEYS if key in node] + [1])
    total = 0
    for _, node in _dicts(config):
        layers = node.get("layers")  # a model's layers (models inside models have theirs)
        if not isinstance(layers, list):
            continue
        previous = None
        for layer in layers:
            settings = layer.get("config") if isinstance(layer, dict) else None
            if not isinstance(settings, dict):
                continue
            inputs = max(_input_width(layer) or 0, previous or 0) or widest
            if "units" in settings:
                total += (inputs + 1) * settings["units"]
                previous = settings["units"]
            elif "filters" in settings:
                kernel = settings.get("kernel_size", 1)
                window = math.prod(kernel) if isinstance(kernel, list) else kernel
                total += (inputs * window + 1) * settings["filters"]
                previous = settings["filters"]
            else:
                previous = None
    return total


def _input_width(layer):
    """The last axis of the layer's input shape as its config records it, or None."""
    shape = (layer.get("build_config") or {}).get("input_shape")
    if not _is_flat_shape(shape):
        try:
            shape = layer["inbound_nodes"][0]["args"][0]["config"]["shape"]
        except (KeyError, IndexError, TypeError):
            return None
    return shape[-1] if _is_flat_shape(shape) and _is_int(shape[-1]) else None


def _is_flat_shape(shape):
    return isinstance(shape, list) and shape and not any(isinstance(s, list) for s in shape)


def _features(shape):
    """Numbers per sample in a (checked) shape: the product of all but the batch axis."""
    if not _is_flat_shape(shape):
        return 0
    return math.prod(max(size, 1) for size in shape[1:] if _is_int(size))


# -- compile_config ---------------------------------------------------------------------------
def _check_compile_config(compile_config):
    if not isinstance(compile_config, dict):
        raise ValueError("Expected 'compile_config' to be a dict, instead got "
                         f"{type(compile_config).__name__}.")
    optimizer = compile_config.get("optimizer")
    if optimizer is not None and not isinstance(optimizer, str):
        settings = _object_config("optimizer", optimizer)
        for key, value in settings.items():
            if key == "learning_rate" and isinstance(value, dict):
                _object_config("learning-rate schedule", value)
            elif key in _NUMBERS and value is not None:
                _check_number(f"optimizer {optimizer['class_name']}", key, value)
            elif key in _FLAGS and not isinstance(value, bool):
                raise ValueError(f"The optimizer {optimizer['class_name']}'s `{key}` must be "
                                 f"True or False. Received: {key}={_short(value)}")
            elif key == "name" and not isinstance(value, str):
                raise ValueError(f"The optimizer's name must be a string. Received: "
                                 f"{_short(value)}")
    for what in ("loss", "metrics", "weighted_metrics"):
        _check_objects(what, compile_config.get(what))


def _object_config(what, spec):
    """The "config" dict of a {"class_name": ..., "config": {...}} entry, type-checked."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ValueError(f"Expected the {what} to be a name or a dict with a 'class_name'. "
                         f"Received: {_short(spec)}")
    settings = spec.get("config", {})
    if not isinstance(settings, dict):
        raise ValueError(f"Expected 'config' to be a dict for {spec['class_name']} (the "
                         f"{what}), instead got {type(settings).__name__}.")
    return settings


def _check_number(owner, key, value):
    lowest, highest = _NUMBERS[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and lowest <= value <= highest):
        expected = f"a number in [{lowest}, {highest}]".replace("inf]", "inf)")
        raise ValueError(f"The {owner}'s `{key}` must be {expected}. "
                         f"Received: {key}={_short(value)}")


def _check_objects(what, spec):
    """A loss or metrics entry: None, a name, {"class_name", "config"}, or lists/dicts of them."""
    stack = [spec]
    while stack:
        spec = stack.pop()
        if spec is None or isinstance(spec, str):
            continue
        if isinstance(spec, list):
            stack.extend(spec)
        elif isinstance(spec, dict) and "class_name" not in spec:
            stack.extend(spec.values())  # one entry per output name
        elif isinstance(spec, dict) and spec.get("class_name") == "function":
            if not isinstance(spec.get("config"), str):  # a function of one's own, by name
                raise ValueError(f"Expected 'config' to be a function's name (the {what}), "
                                 f"instead got {_short(spec.get('config'))}.")
        else:
            settings = _object_config(what, spec)
            for key in _FLAGS:
                if key in settings and not isinstance(settings[key], bool):
                    raise ValueError(f"The {what} {spec['class_name']}'s `{key}` must be True "
                                     f"or False. Received: {key}={_short(settings[key])}")
