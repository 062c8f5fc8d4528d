"""Weights in Keras's HDF5 layout: `layers/<class>/vars/<i>` and `optimizer/vars/<i>`."""
import copy
import warnings

import numpy as np

from minidl import naming
from minidl.saving import files


def layer_paths(model):
    """(path, layer) for every layer in `model.layers`, named as Keras's saver names them."""
    seen = {}
    for layer in model.layers:
        base = naming.to_snake_case(type(layer).__name__)  # Dense -> dense
        count = seen.get(base, 0)
        seen[base] = count + 1
        yield (f"layers/{base}" if count == 0 else f"layers/{base}_{count}"), layer


def write_weights(h5, model):
    """Every variable into an open HDF5 file, at Keras's paths (see the module docstring)."""
    for path, layer in layer_paths(model):
        group = h5.create_group(f"{path}/vars")
        group.attrs["name"] = layer.name
        for i, variable in enumerate(layer.weights):
            group[str(i)] = variable.value
    h5.create_group("vars").attrs["name"] = model.name  # the model's own (empty) variables
    if model.compiled:
        group = h5.create_group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        for i, value in enumerate(built_optimizer(model.optimizer, model).variables):
            group[str(i)] = value


def built_optimizer(optimizer, model):
    """The optimizer, or a built copy of it (zero slots, as Keras's build makes) if not built yet."""
    if optimizer.built:
        return optimizer
    probe = copy.copy(optimizer)  # build() sets new attributes on the copy only
    probe.build(model.trainable_weights)
    return probe


def load_from_h5(model, source, filepath):
    """Read and check everything in an HDF5 weights file, then assign it all."""
    h5py = files.import_h5py()
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Build it "
            "first by calling it on some data or with `model.build((None, D))`."
        )
    try:
        with h5py.File(source, "r") as h5:
            pairs = _read_layer_weights(h5py, h5, model, filepath)
            optimizer_state = _read_optimizer_state(h5py, h5, model, filepath)
    except OSError as error:  # h5py's error for a truncated or corrupt file
        raise ValueError(
            f"Could not read weights from {filepath!r}: it is not a valid HDF5 weights file "
            f"(truncated or corrupt: {error})."
        ) from None
    for variable, array in pairs:
        variable.assign(array)
    if optimizer_state is not None:
        _assign_optimizer_state(model, optimizer_state)


def _h5_get(h5py, parent, path):
    """The group or dataset at `path`, or None; links to other places or files are refused."""
    node = parent
    for part in path.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"Not allowed: the HDF5 file links {path!r} elsewhere.")
        node = node[part]
    return node


def _vars_at(h5py, h5, path, filepath):
    """The datasets at `path/vars/0`, `1`, ... (not yet read); [] if the file has none."""
    group = _h5_get(h5py, h5, f"{path}/vars")
    if group is None:
        return []
    datasets = []
    for i in range(len(group)):
        dataset = _h5_get(h5py, group, str(i))
        if (not isinstance(dataset, h5py.Dataset) or dataset.external
                or dataset.is_virtual or dataset.dtype.kind not in "biuf"):
            raise ValueError(
                f"{filepath!r} holds no numeric array at {path}/vars/{i}; the variables of "
                f"{path} must be numbered 0, 1, ... Found: {sorted(group)}"
            )
        datasets.append(dataset)
    return datasets


def _read_layer_weights(h5py, h5, model, filepath):
    """[(variable, array)] for every variable of the model, each checked against the file."""
    pairs, expected = [], []
    for path, layer in layer_paths(model):
        expected.append(path)
        datasets = _vars_at(h5py, h5, path, filepath)
        if len(datasets) != len(layer.weights):
            raise ValueError(
                f"Layer {layer.name} expects {len(layer.weights)} weights, but {filepath!r} "
                f"holds {len(datasets)} at {path}. Is the file from a different model?"
            )
        for i, (variable, dataset) in enumerate(zip(layer.weights, datasets)):
            if dataset.shape != variable.shape:  # checked before reading a byte of data
                raise ValueError(
                    f"Weight {variable.path} has shape {variable.shape}, but {filepath!r} "
                    f"holds shape {dataset.shape} at {path}/vars/{i}."
                )
            pairs.append((variable, dataset[()]))
    stored = set()  # the layer path of every array under layers/ in the file

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.startswith("layers/"):
            stored.add(name.rsplit("/vars/", 1)[0])

    h5.visititems(visit)
    extra = sorted(stored - set(expected))
    if extra:
        raise ValueError(
            f"{filepath!r} holds weights for layers the model does not have: {extra}. "
            f"The model's layers are stored at {expected}."
        )
    return pairs


def _read_optimizer_state(h5py, h5, model, filepath):
    """[iterations, learning_rate, *slots] for the model's optimizer, or None to leave it be."""
    datasets = _vars_at(h5py, h5, "optimizer", filepath)
    if not model.compiled or not datasets:
        return None
    expected = built_optimizer(model.optimizer, model).variables
    if len(datasets) == 2 and not model.optimizer.built:
        expected = expected[:2]  # both saved before their first step: no slots yet
    if len(datasets) != len(expected):
        warnings.warn(  # Keras's behaviour too: the weights load, the optimizer starts afresh
            f"Skipping variable loading for optimizer '{model.optimizer.name}', because it "
            f"has {len(expected)} variables whereas the saved optimizer has "
            f"{len(datasets)} variables.", stacklevel=4)
        return None
    for i, (value, dataset) in enumerate(zip(expected, datasets)):
        if dataset.shape != np.shape(value):
            raise ValueError(
                f"Optimizer variable {i} has shape {np.shape(value)}, but {filepath!r} "
                f"holds shape {dataset.shape} at optimizer/vars/{i}."
            )
    return [dataset[()] for dataset in datasets]


def _assign_optimizer_state(model, state):
    optimizer = model.optimizer
    optimizer.iterations = int(state[0])
    if optimizer.learning_rate != state[1]:  # the file holds the rate as float32: keep the
        optimizer.learning_rate = float(state[1])  # config's exact float when they agree
    if len(state) > 2:
        if not optimizer.built:
            optimizer.build(model.trainable_weights)
        for slot, value in zip(optimizer.slots(), state[2:]):
            slot[...] = value
