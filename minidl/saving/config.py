"""A model as Keras's config.json, both ways: a Sequential's layers, or a functional graph.

A functional model is written as its layers and, for each layer call, the tensors it was
called on ("inbound_nodes", each tensor named [layer, node index, tensor index]); reading
calls the layers again in an order where every input is ready. A model inside a model is
written and read the same way, recursively. layer_config.py does each layer,
compile_config.py the compile settings.
"""
from minidl import config as config_module, naming as naming_module, tree
from minidl.layers import operation
from minidl.layers.input_layer import InputLayer
from minidl.layers.operation import Operation
from minidl.saving.compile_config import compile_to_config
from minidl.saving.layer_config import (dtype_policy, layer_from_config, layer_to_config,
                                        nearest_builtin_name, own_name, shape_list)
# saving/__init__.py finds these here too:
from minidl.saving.compile_config import compile_from_config  # noqa: F401
from minidl.saving.layer_config import check_can_save, layer_classes  # noqa: F401


MAX_DEPTH = 50  # models inside models inside models...


# -- config.json, written ------------------------------------------------------------------
def model_to_config(model, with_compile=True, nearest_builtin=False):
    """The dict Keras 3.15 writes to config.json for the same model.

    nearest_builtin: name a subclass of one of minidl's layers by that layer's class (for a
    Keras twin of a model whose layers override, say, Dense's backward).
    """
    naming = nearest_builtin_name if nearest_builtin else own_name
    return _model_to_config(model, with_compile, naming)


def _model_to_config(model, with_compile, naming):
    from minidl.models import Sequential

    dtype = model.weights[0].dtype.name if model.weights else config_module.floatx()
    if isinstance(model, Sequential) and not model.built:  # no input shape yet: the layers
        return {"module": "keras", "class_name": "Sequential", "registered_name": None,
                "config": {"name": model.name, "trainable": model.trainable,
                           "dtype": dtype_policy(dtype),
                           "layers": [_to_config(layer, dtype, naming)
                                      for layer in model.layers]}}
    if isinstance(model, Sequential):
        input_layer = model.inputs[0].node.layer
        input_shape = shape_list(input_layer.batch_shape)
        config = {
            "module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": model.trainable,
                       "dtype": dtype_policy(dtype),
                       "layers": [_to_config(layer, dtype, naming)
                                  for layer in [input_layer] + model.layers],
                       "build_input_shape": input_shape},
            "registered_name": None,
            "build_config": {"input_shape": input_shape},
        }
    else:
        config = {
            "module": "keras.src.models.functional", "class_name": "Functional",
            "config": _functional_config(model, dtype, naming),
            "registered_name": "Functional",
            "build_config": {"input_shape": None},
        }
    if with_compile:
        config["compile_config"] = compile_to_config(model)
    return config


def _functional_config(model, dtype, naming):
    """Keras's Functional.get_config: layers in order, each with the calls made in this model."""
    own_nodes = {id(node) for node in model._graph.nodes}

    def node_index(layer, node):
        """The node's position among this model's calls of the layer (Keras re-indexes)."""
        return [n for n in layer._inbound_nodes if id(n) in own_nodes].index(node)

    def tensor_config(tensor):
        node = tensor.node
        return {"class_name": "__keras_tensor__",
                "config": {"shape": shape_list(tensor.shape), "dtype": tensor.dtype,
                           "keras_history": [node.layer.name, node_index(node.layer, node),
                                             tensor.index]}}

    def args_config(structure):
        if isinstance(structure, (list, tuple)):
            return [args_config(item) for item in structure]
        return tensor_config(structure)

    def node_config(node):
        """One call: its tensors in "args" (layer(q, v), not layer([q, v])), its options and a
        recurrent layer's initial_state in "kwargs", as Keras writes them."""
        training = {} if node.training is None else {"training": node.training}
        if node.call_args is not None:  # layer(targets, logits, weights=w), layer(x, mask=m)
            return {"args": [operation._encode(a, tensor_config) for a in node.call_args],
                    "kwargs": {**training, **{k: operation._encode(v, tensor_config)
                                             for k, v in node.call_kwargs.items()}}}
        kwargs = {**training, **getattr(node, "call_kwargs", {})}  # base(x, training=False)
        if getattr(node, "states_as_kwargs", False):  # lstm(x, initial_state=[h, c])
            args = [args_config(node.inputs[0])]
            kwargs["initial_state"] = [args_config(t) for t in node.inputs[1:]]
        elif getattr(node, "spread_args", False):
            args = [args_config(t) for t in node.inputs]
        else:
            args = [args_config(node.inputs)]
        return {"args": args, "kwargs": kwargs}

    layer_configs = []
    for layer in model._graph.layers:  # the layers and the ops between them, as Keras's
        if isinstance(layer, Operation):
            layer_configs.append(operation.to_config(layer, tensor_config))
            continue
        layer_config = _to_config(layer, dtype, naming)
        layer_config["name"] = layer.name
        layer_config["inbound_nodes"] = [
            node_config(node) for node in layer._inbound_nodes
            if id(node) in own_nodes and not node.is_input]
        layer_configs.append(layer_config)

    def history(tensor):
        """[layer, node, index] of a model's input or output. Here (only) Keras counts a model
        inside the model from 1, as if it started with a node of its own, and reads it so
        (keras/src/models/functional.py: get_config's node_reindexing_map, and
        functional_from_config's get_tensor); the calls' arguments count from 0."""
        layer = tensor.node.layer
        first = 1 if _is_functional(layer) else 0
        return [layer.name, first + node_index(layer, tensor.node), tensor.index]

    # the inputs and outputs as the model was given them: a tensor, a list, a dict (Keras's)
    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": tree.map_structure(history, model._inputs_struct),
            "output_layers": tree.map_structure(history, model._outputs_struct)}


def _is_functional(layer):
    return type(layer).__name__ == "Functional"


# -- config.json, read ---------------------------------------------------------------------
def model_from_config(config, custom_objects=None, depth=0):
    """A minidl Sequential or functional Model from the dict in a `.keras` file's config.json."""
    from minidl.models import Model, Sequential

    if depth > MAX_DEPTH:
        raise ValueError(f"The model config nests models more than {MAX_DEPTH} deep.")
    class_name, model_config = config["class_name"], config["config"]
    if class_name == "Sequential":
        layers = [_from_config(c, custom_objects, depth + 1) for c in model_config["layers"]]
        model = Sequential(layers, name=model_config["name"])
        shape = model_config.get("build_input_shape")
        if not model.built and shape:
            model.build(shape)
        return model
    if class_name not in ("Functional", "Model"):
        raise ValueError(
            f"The file holds a model of type {class_name}; minidl can load a Sequential or "
            "a functional Model.")
    tensors = {}  # (layer name, node index) -> the outputs of that call
    functional = set()  # the names of the functional models inside this one
    pending = []  # (layer, node data) whose inputs are not all made yet
    needed = _needed(model_config)
    model_config = _without_unread_masks(model_config, needed)
    for layer_config in model_config["layers"]:
        if _is_op(layer_config):
            if layer_config["name"] in needed:  # (not an op that computes a mask only:
                pending.append((layer_config, layer_config["name"], 0,  # minidl's layers
                                layer_config["inbound_nodes"][0]))  # make masks themselves)
            continue
        layer = _from_config(layer_config, custom_objects, depth + 1)
        name = layer_config.get("name", layer.name)  # the graph's: a layer of your own whose
        # get_config has no name gets a new one, as in Keras
        if isinstance(layer, InputLayer):
            tensors[(name, 0)] = layer.output
            continue
        if _is_functional(layer):
            functional.add(name)
        for index, node in enumerate(layer_config["inbound_nodes"]):
            pending.append((layer, name, index, node))
    while pending:
        ready = [item for item in pending if _inputs_known(item[3], tensors)]
        if not ready:
            names = sorted({name for _, name, _, _ in pending})
            raise ValueError(f"The model config's graph is disconnected at layers {names}.")
        for layer, name, index, node in ready:
            args = [_fill(arg, tensors) for arg in node["args"]]
            if isinstance(layer, dict):  # an op between layers (layers/operation.py)
                tensors[(name, index)] = operation.from_config(layer, args)
            elif len(args) == 1:
                tensors[(name, index)] = layer(args[0], **_call_options(layer, node, tensors))
            else:  # layer(query, value): MultiHeadAttention
                tensors[(name, index)] = layer(*args, **_call_options(layer, node, tensors))
        pending = [item for item in pending if item not in ready]

    def find(spec):  # an input's or output's [layer, node, index] (see _functional_config)
        outputs = tensors[(spec[0], spec[1] - (spec[0] in functional))]
        return outputs[spec[2]] if isinstance(outputs, list) else outputs

    def structure(specs):  # Keras's map_tensors: a [name, node, index] leaf, or a list/dict
        if isinstance(specs, dict):
            return {key: structure(value) for key, value in specs.items()}
        if len(specs) == 3 and isinstance(specs[0], str):
            return find(specs)
        return [structure(value) for value in specs]

    return Model(inputs=structure(model_config["input_layers"]),
                 outputs=structure(model_config["output_layers"]), name=model_config["name"])


def _is_op(entry):
    return (entry.get("module") or "").startswith("keras.src.ops")  # None: a class of the
    # user's own, as Keras writes it


_MASKS = ("mask", "query_mask", "value_mask", "key_mask")  # a call's masks by keyword


def _needed(model_config):
    """The names of the layers and ops the outputs are computed from, through the calls'
    arguments and keyword arguments. Keras also writes the ops that compute the masks riding
    on tensors (a NotEqual for Embedding(mask_zero=True)) as a later call's `mask=`: those are
    needed only if minidl can read them all (else minidl's layers make the mask again from
    the one riding on the inputs, minidl/masks.py), and a mask given by hand the same way."""
    entries = {entry["name"]: entry for entry in model_config["layers"]}
    needed, todo = set(), [spec[0] for spec in _specs_in(model_config["output_layers"])]
    while todo:
        name = todo.pop()
        if name in needed or name not in entries:
            continue
        needed.add(name)
        for node in entries[name].get("inbound_nodes", []):
            todo += [spec[0] for spec in _tensor_specs(node["args"])]
            for key, value in node.get("kwargs", {}).items():
                specs = [spec[0] for spec in _tensor_specs(value, strict=False)]
                if key not in _MASKS or all(_readable(n, entries, set()) for n in specs):
                    todo += specs
    return needed


def _readable(name, entries, seen):
    """Whether minidl reads the layer or op `name` and every op before it."""
    if name in seen or name not in entries:
        return name in seen
    seen.add(name)
    entry = entries[name]
    if _is_op(entry):
        if naming_module.to_snake_case(entry["class_name"]) not in \
                operation.SAVED_CALL_ARGUMENTS:
            return False
        return all(_readable(spec[0], entries, seen)
                   for node in entry.get("inbound_nodes", [])
                   for spec in _tensor_specs(node["args"]))
    return True


def _without_unread_masks(model_config, needed):
    """The config without the masks by keyword whose ops minidl does not read (_needed)."""
    def node_kept(node):
        kwargs = {key: value for key, value in node.get("kwargs", {}).items()
                  if key not in _MASKS or all(spec[0] in needed for spec
                                              in _tensor_specs(value, strict=False))}
        return {**node, "kwargs": kwargs}

    layers = [{**entry, "inbound_nodes": [node_kept(node) if isinstance(node, dict) else node
                                          for node in entry.get("inbound_nodes", [])]}
              if "inbound_nodes" in entry else entry for entry in model_config["layers"]]
    return {**model_config, "layers": layers}


def _specs_in(structure):
    """The [name, node, index] leaves of input_layers / output_layers."""
    if isinstance(structure, dict):
        return [spec for value in structure.values() for spec in _specs_in(value)]
    if len(structure) == 3 and isinstance(structure[0], str):
        return [structure]
    return [spec for value in structure for spec in _specs_in(value)]


def _call_options(layer, node, tensors=None):
    """The options a layer was called with: the flags Keras writes in "kwargs"
    (use_causal_mask=True, ...) and the tensors given by keyword (MultiHeadAttention's `key`
    and `attention_mask`, a recurrent layer's `initial_state`, a mask, a call of your own's
    `sample_weights=`)."""
    options = {}
    for name, value in node.get("kwargs", {}).items():
        if isinstance(value, bool):
            options[name] = value
        elif tensors is not None and _tensor_specs(value, strict=False):
            options[name] = _fill(value, tensors)
    return options


def _tensor_specs(args, strict=True):
    """The [name, node, index] of each tensor in a call's arguments; strict=False: in its
    keyword arguments, where any other object (a config) is skipped."""
    if isinstance(args, (list, tuple)):  # a tuple: the args of a config not yet JSON
        return [spec for item in args for spec in _tensor_specs(item, strict)]
    if isinstance(args, dict) and args.get("class_name") == "__keras_tensor__":
        return [args["config"]["keras_history"]]
    if args is None or isinstance(args, (bool, int, float, str)) or (
            isinstance(args, dict) and args.get("class_name") in ("__slice__", "__ellipsis__",
                                                                  "__tensor__")):
        return []  # an op's number, constant or index (`x * 2.0`, `x + mean`, `x[:, -1]`)
    if not strict:
        return []
    raise ValueError(f"Unexpected layer call argument in the model config: {args!r}")


def _inputs_known(node, tensors):
    specs = _tensor_specs(node["args"]) + _tensor_specs(list(node.get("kwargs", {}).values()),
                                                         strict=False)
    return all((s[0], s[1]) in tensors for s in specs)


def _fill(args, tensors):
    if isinstance(args, (list, tuple)):
        return [_fill(item, tensors) for item in args]
    if not (isinstance(args, dict) and args.get("class_name") == "__keras_tensor__"):
        return args  # an op's number or index, decoded by layers/operation.py
    name, node, index = args["config"]["keras_history"]
    outputs = tensors[(name, node)]
    return outputs[index] if isinstance(outputs, list) else outputs


def _to_config(layer, dtype, naming):
    """A layer's config, or, for a model inside the model, the model's."""
    from minidl.models import Model

    if isinstance(layer, Model):
        return _model_to_config(layer, False, naming)
    return layer_to_config(layer, dtype, naming)


def _from_config(layer_config, custom_objects, depth):
    if layer_config["class_name"] in ("Sequential", "Functional", "Model"):
        return model_from_config(layer_config, custom_objects, depth)
    return layer_from_config(layer_config, custom_objects)
