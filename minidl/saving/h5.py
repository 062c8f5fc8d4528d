"""Weights in Keras's HDF5 layout: `layers/<class>/vars/<i>` and `optimizer/vars/<i>`."""
import math
import warnings

import numpy as np

from minidl import naming
from minidl.variable import Variable
from minidl.interrupts import deferred_interrupt
from minidl.saving import files


def layer_paths(model, prefix=""):
    """(path, layer, its weights) for every layer, named as Keras's saver names them.

    A model inside the model gets an empty `vars` of its own, and its layers under its path:
    layers/sequential/layers/dense/vars/0 (Keras's saving_lib walks them the same way).
    A recurrent layer's weights are its cell's, under `cell`: layers/lstm/cell/vars/0; a
    Bidirectional's are its two layers': layers/bidirectional/forward_layer/cell/vars/0;
    a TimeDistributed's are its layer's: layers/time_distributed/layer/vars/0 (any Wrapper's:
    a SpectralNormalization's own, kernel and vector_u, under vars as well); a
    MultiHeadAttention's its four projections': layers/multi_head_attention/query_dense/vars/0.
    A layer of your own: its own weights, then each layer it holds under the attribute's
    name, as Keras's saving_lib walks them: layers/positional_embedding/token_embeddings.
    """
    if _subclassed(model):  # its layers under their attributes' names: hidden1/vars/0
        yield from ((path, layer, weights) for path, layer, weights in
                    _attribute_paths(model, prefix.rstrip("/"), set())
                    if path != prefix.rstrip("/"))  # (its own weights: refused on saving)
        return
    seen = {}
    for layer in model.layers:
        base = naming.to_snake_case(type(layer).__name__)  # Dense -> dense
        count = seen.get(base, 0)
        seen[base] = count + 1
        path = f"{prefix}layers/{base}" if count == 0 else f"{prefix}layers/{base}_{count}"
        yield from _paths_of(layer, path)


def _paths_of(layer, path):
    """(path, layer, its weights) for `layer` saved at `path`, and for the layers it holds."""
    from minidl.layers.attention import MultiHeadAttention
    from minidl.layers.bidirectional import Bidirectional
    from minidl.layers.recurrent import RNN
    from minidl.layers.recurrent_cells import StackedRNNCells
    from minidl.layers.wrapper import Wrapper
    from minidl.models import Model

    if isinstance(layer, Model) and not _subclassed(layer):
        yield path, layer, []
        yield from layer_paths(layer, prefix=path + "/")
    elif isinstance(layer, RNN) and isinstance(layer.cell, StackedRNNCells):
        yield path, layer, []  # layers/rnn/cell/cells/lstm_cell/vars/0, as Keras's
        yield f"{path}/cell", layer.cell, []
        for cell_path, cell, weights in _named_paths(layer.cell.cells, f"{path}/cell/cells"):
            yield cell_path, cell, weights
    elif isinstance(layer, RNN) and layer.own_cell:  # layers/rnn/cell/layer_norm/vars/0
        yield path, layer, []
        yield from _attribute_paths(layer.cell, f"{path}/cell", set())
    elif isinstance(layer, RNN):
        yield path, layer, []
        yield f"{path}/cell", layer.cell, layer.cell.weights
    elif isinstance(layer, Wrapper):  # layers/time_distributed/layer/vars/0
        yield path, layer, sorted(layer._own_weights, key=lambda w: not w.trainable)
        yield f"{path}/layer", layer.layer, layer.layer.weights
    elif isinstance(layer, MultiHeadAttention):  # layers/multi_head_attention/query_dense
        yield path, layer, []
        for key in ("_dropout_layer", "_softmax"):  # Keras's weightless sublayers
            yield f"{path}/{key}", layer, []
        for key in ("key_dense", "output_dense", "query_dense", "value_dense"):
            sublayer = getattr(layer, key)
            yield f"{path}/{key}", sublayer, sublayer.weights
    elif isinstance(layer, Bidirectional):
        yield path, layer, []
        for key in ("forward_layer", "backward_layer"):
            sublayer = getattr(layer, key)
            yield f"{path}/{key}", sublayer, []
            yield f"{path}/{key}/cell", sublayer.cell, sublayer.cell.weights
    elif _of_your_own(layer):  # its own weights, and its layers' under their attributes
        yield from _attribute_paths(layer, path, set())
    else:
        yield path, layer, layer.weights


def _of_your_own(layer):
    """A layer class written outside minidl (a subclass of Layer in your code)."""
    return not type(layer).__module__.startswith("minidl.")


def _subclassed(model):
    """A Model subclass with a call() of its own (neither Sequential nor functional)."""
    from minidl.models import Functional, Model, Sequential

    return isinstance(model, Model) and not isinstance(model, (Sequential, Functional))


def _attribute_paths(layer, path, seen):
    """(path, layer, its own weights) for a layer of yours and each layer it holds, under the
    attribute's name (a list's by class: blocks/dense_1), as Keras's saving_lib walks them.
    A subclassed model's `layers` are walked as one more attribute, in its sorted place
    (Keras's dir()): the layers no attribute reached first, by class (layers/dense_1)."""
    from minidl.layers.base import Layer

    if id(layer) in seen:  # a layer held twice is saved once, where it is met first
        return
    seen.add(id(layer))
    yield path, layer, sorted(layer._own_weights, key=lambda w: not w.trainable)
    attributes = {a for a in vars(layer) if not a.startswith("_")}
    if _subclassed(layer):
        attributes.add("layers")
    for attribute in sorted(attributes):
        value = layer.layers if attribute == "layers" and _subclassed(layer) \
            else getattr(layer, attribute)
        where = f"{path}/{attribute}" if path else attribute
        if isinstance(value, Layer):
            yield from _held(value, where, seen)
        elif isinstance(value, (list, tuple)):
            items = [v for v in value if isinstance(v, Layer)]
            for item_path, item, _ in _named_paths(items, where):
                yield from _held(item, item_path, seen)


def _held(layer, path, seen):
    """A layer held by a layer of your own: walked the same way if it is yours too, else
    saved as a model saves it (a Sequential's layers, a MultiHeadAttention's projections)."""
    if _of_your_own(layer):
        yield from _attribute_paths(layer, path, seen)
    elif id(layer) not in seen:
        seen.add(id(layer))
        yield from _paths_of(layer, path)


def _named_paths(cells, prefix):
    """(path, cell, weights) of cells under prefix, named by class: lstm_cell, lstm_cell_1."""
    seen = {}
    for cell in cells:
        base = naming.to_snake_case(type(cell).__name__)
        count = seen.get(base, 0)
        seen[base] = count + 1
        yield (f"{prefix}/{base}" if count == 0 else f"{prefix}/{base}_{count}"), cell, \
            cell.weights


def write_weights(h5, model):
    """Every variable into an open HDF5 file, at Keras's paths (see the module docstring)."""
    for path, layer, weights in layer_paths(model):
        group = h5.create_group(f"{path}/vars")
        group.attrs["name"] = layer.name
        for i, variable in enumerate(weights):
            group[str(i)] = variable.value
    h5.create_group("vars").attrs["name"] = model.name  # the model's own (empty) variables
    if model.compiled:
        group = h5.create_group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        optimizer = built_optimizer(model.optimizer, model)
        for i, value in enumerate(optimizer.variables):
            group[str(i)] = value
        inner = getattr(optimizer, "inner_optimizer", None)
        if inner is not None:  # a LossScaleOptimizer's: Keras writes the inner's again, apart
            group = h5.create_group("optimizer/inner_optimizer/vars")
            group.attrs["name"] = inner.name
            for i, value in enumerate(inner.variables):
                group[str(i)] = value


def built_optimizer(optimizer, model):
    """The optimizer, or a built copy of it (zero slots, as Keras builds them) if not built."""
    if optimizer.built:
        return optimizer
    # A fresh optimizer built on stand-ins: building the real one would lay the model's
    # weights out anew, and a copy would share (and grow) its lists of slots.
    probe = type(optimizer).from_config(optimizer.get_config())
    probe.build([Variable(np.zeros_like(w.value), w.name) for w in model.trainable_weights])
    return probe


def read_weights(model, source, filepath):
    """Every array of an HDF5 weights file, read and checked: ([(variable, array)], state).

    `state` is the optimizer's (see _read_optimizer_state), or None to leave the optimizer
    as it is. Nothing is assigned: `assign` does that once everything passed.
    """
    h5py = files.import_h5py()
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Build it "
            "first by calling it on some data or with `model.build((None, D))`."
        )
    with files.reading(filepath, "HDF5 weights"), h5py.File(source, "r") as h5:
        pairs = _read_layer_weights(h5py, h5, model, filepath)
        state = _read_optimizer_state(h5py, h5, model, filepath)
    return pairs, state


def assign(model, pairs, state):
    """Assign checked arrays (`read_weights`), all of them or, on Ctrl-C, none.

    Every array already has its variable's shape and dtype, so no assignment can fail; a
    KeyboardInterrupt waits until the last one is done (interrupts.py).
    """
    with deferred_interrupt():
        if state is not None and state["arrays"] and not model.optimizer.built:
            model.optimizer.build(model.trainable_weights)  # zero slots, as Keras builds them
        for variable, array in pairs:
            variable.assign(array)
        if state is not None:
            _assign_optimizer_state(model.optimizer, state)


def _h5_get(h5py, parent, path):
    """The group or dataset at `path`, or None; links to other places or files are refused."""
    node = parent
    for part in path.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise files.Refused(f"Not allowed: the HDF5 file links {path!r} elsewhere.")
        node = node[part]
    return node


def _vars_at(h5py, h5, path, filepath):
    """The datasets at `path/vars/0`, `1`, ... (not yet read); [] if the file has none."""
    group = _h5_get(h5py, h5, f"{path}/vars")
    if group is None:
        return []
    datasets = []
    for i in range(len(group)):
        dataset = numeric_dataset(h5py, group, str(i), filepath)
        if dataset is None:
            raise files.Refused(
                f"{filepath!r} holds no numeric array at {path}/vars/{i}; the variables of "
                f"{path} must be numbered 0, 1, ... Found: {sorted(group)}"
            )
        datasets.append(dataset)
    return datasets


def numeric_dataset(h5py, group, name, filepath):
    """The dataset `name` in `group` if it is a plain numeric array in this file, else None
    (an external or virtual dataset reads other files; a string or object one is no weight)."""
    dataset = _h5_get(h5py, group, name)
    if (not isinstance(dataset, h5py.Dataset) or dataset.external
            or dataset.is_virtual or dataset.dtype.kind not in "biuf"):
        return None
    return dataset


def _read_layer_weights(h5py, h5, model, filepath):
    """[(variable, array)] for every variable of the model, each checked against the file."""
    pairs, expected = [], []
    for path, layer, weights in layer_paths(model):
        expected.append(path)
        datasets = _vars_at(h5py, h5, path, filepath)
        if len(datasets) != len(weights):
            raise files.Refused(
                f"Layer {layer.name} expects {len(weights)} weights, but {filepath!r} "
                f"holds {len(datasets)} at {path}. Is the file from a different model?"
            )
        for i, (variable, dataset) in enumerate(zip(weights, datasets)):
            if dataset.shape != variable.shape:  # checked before reading a byte of data
                raise files.Refused(
                    f"Weight {variable.path} has shape {variable.shape}, but {filepath!r} "
                    f"holds shape {dataset.shape} at {path}/vars/{i}."
                )
            pairs.append((variable, np.asarray(dataset[()]).astype(variable.dtype)))
    stored = set()  # the layer path of every array under layers/ in the file

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.startswith("layers/"):
            stored.add(name.rsplit("/vars/", 1)[0])

    h5.visititems(visit)
    extra = sorted(stored - set(expected))
    if extra:
        raise files.Refused(
            f"{filepath!r} holds weights for layers the model does not have: {extra}. "
            f"The model's layers are stored at {expected}."
        )
    return pairs


def _read_optimizer_state(h5py, h5, model, filepath):
    """The optimizer's checked variables, or None to leave the optimizer be.

    The file lists them as `optimizer.variables` does: [iterations, learning_rate, *slots,
    *extra], without learning_rate when the rate is a schedule or a function (Keras stores
    none then). Returns {"iterations": int, "learning_rate": float32 or None, "arrays": [...]}.
    """
    datasets = _vars_at(h5py, h5, "optimizer", filepath)
    if not model.compiled or not datasets:
        return None
    probe = built_optimizer(model.optimizer, model)
    expected = probe.variables
    rate = len(expected) - 1 - len(probe.slots()) - len(probe.extra_variables())  # 1 or 0
    if len(datasets) == 1 + rate and not model.optimizer.built:
        expected = expected[:1 + rate]  # saved before the first step: no slots yet
    if len(datasets) != len(expected):
        warnings.warn(  # Keras's behaviour too: the weights load, the optimizer starts afresh
            f"Skipping variable loading for optimizer '{model.optimizer.name}', because it "
            f"has {len(expected)} variables whereas the saved optimizer has "
            f"{len(datasets)} variables.", stacklevel=4)
        return None
    for i, (value, dataset) in enumerate(zip(expected, datasets)):
        if dataset.shape != np.shape(value):
            raise files.Refused(
                f"Optimizer variable {i} has shape {np.shape(value)}, but {filepath!r} "
                f"holds shape {dataset.shape} at optimizer/vars/{i}."
            )
    return {
        "iterations": _checked_scalar(filepath, 0, "iteration count", datasets[0][()], True),
        "learning_rate": (_checked_scalar(filepath, 1, "learning rate", datasets[1][()], False)
                          if rate else None),
        "arrays": [np.asarray(d[()]).astype(np.asarray(v).dtype)
                   for d, v in zip(datasets[1 + rate:], expected[1 + rate:])],
    }


def _checked_scalar(filepath, index, what, value, whole):
    """The step count must be a whole number >= 0, the learning rate a finite number >= 0."""
    number = float(value)
    if not (math.isfinite(number) and 0 <= number < 2**63 and (number.is_integer() or not whole)):
        raise files.Refused(
            f"{filepath!r} holds {number!r} as the optimizer's {what} (optimizer/vars/{index}); "
            f"expected a {'whole number' if whole else 'finite number'} >= 0."
        )
    return int(number) if whole else np.float32(value)


def _assign_optimizer_state(optimizer, state):
    """Set every optimizer variable from checked values (`read_weights`)."""
    if hasattr(optimizer, "inner_optimizer"):  # a LossScaleOptimizer: its own, then the inner's
        if state["arrays"]:
            optimizer.set_weights([state["iterations"], 0.0, *state["arrays"]])
        return
    optimizer.iterations = state["iterations"]
    rate = state["learning_rate"]
    if rate is not None and optimizer.learning_rate != rate:  # the file holds the rate as
        optimizer.learning_rate = float(rate)  # float32: keep the config's float if they agree
    for array, value in zip(optimizer.slots() + optimizer.extra_variables(), state["arrays"]):
        array[...] = value
