"""The layer protocol every minidl layer follows, and the symbolic inputs of functional models.

A layer is two functions and the parameters they share:

    y, cache = layer.forward(x, training)        pure: keeps nothing on the layer
    dx, grads = layer.backward(dy, cache)         grads: {Variable: dL/dVariable}

`forward` returns what `backward` will need (its `cache`: usually a tuple of arrays) instead
of storing it on the layer, so one call cannot overwrite another's (two threads, or a layer
called twice in one model). `training` tells layers that behave differently when training
(Dropout, BatchNormalization); only those write to themselves, and only when training.

`layer(x)` is how everything calls a layer (models, users, other layers): it casts x to the
float type, builds the weights on the first call, runs `forward`, and writes the call on the
active tape (tape.py) so that a training step can walk back through it. Called on a symbolic
`KerasTensor` (from `Input`, input_layer.py), it records a node of a functional model instead
(symbolic.py, graph.py).

Two ways to write a layer of your own:
- Keras's way, from other layers: `build` creates weights or sublayers, `call(x)` calls
  sublayers (and minidl's layers/ops only). Sublayer calls are on the tape: nothing more to write.
- minidl's way, with your own maths: `forward(x, training) -> (y, cache)` and
  `backward(dy, cache, need_dx=True) -> (dx, {Variable: grad})`; check it with
  `minidl.testing.check_gradients(layer, x)`. (A Keras-style `call()` plus a `backward` works
  too: its cache is then the pair (x, y).)

Shapes: N rows in the batch; the letters of each layer are fixed in its own docstring.
"""
import functools
import inspect
import threading

import numpy as np

from minidl import config, masks, naming, regularizers
from minidl.ops import backprop
from minidl.layers.symbolic import KerasTensor, Node
from minidl.tape import active_tape, flatten
from minidl.variable import Variable
from minidl.keras_variable import Variable as HandMadeVariable


class _CallContext(threading.local):
    """The training flag of the outermost call, inherited by the layer calls inside it."""

    training = None
    depth = 0
    arguments = None  # (layer, call) of a call of several tensors running (call_arguments.py)


_context = _CallContext()


def _is_symbolic(inputs):
    return any(isinstance(t, KerasTensor) for t in flatten(inputs))


def _cast(inputs):
    """Arrays of numbers as floatx arrays, keeping lists of inputs as lists (Keras autocasts)."""
    if isinstance(inputs, (list, tuple)):
        return [_cast(x) for x in inputs]
    x = np.asarray(inputs)
    if x.dtype != config.floatx():
        if x.dtype.kind not in "biuf":
            raise TypeError(f"Layer inputs must be arrays of numbers. Received dtype {x.dtype}")
        x = x.astype(config.floatx())
    return x


def _marking_built(build):
    """build, then built = True."""
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        result = build(self, *args, **kwargs)
        self.built = True
        return result
    return wrapper


def _as_given(inputs):
    """Arrays as they are (text, token ids), keeping a list of inputs a list."""
    if isinstance(inputs, (list, tuple)):
        return [_as_given(x) for x in inputs]
    return np.asarray(inputs)


def _cast_from_integers(given, inputs):
    """The arrays that _cast made from arrays of integers (the ids a StringLookup or
    TextVectorization outputs): they start the differentiable chain, as a model's inputs do."""
    pairs = zip(given, inputs) if isinstance(given, (list, tuple)) else [(given, inputs)]
    return [x for g, x in pairs
            if isinstance(g, np.ndarray) and g.dtype.kind in "biu" and g is not x]


def shape_of(inputs):
    """The shape of an array, or the list of shapes of a list of arrays.

    A layer built on its first call records the real batch size, as Keras's does when called
    on data (model(x), predict, train_on_batch); fit and evaluate build on a batch of unknown
    size, as Keras's (training.py::_output_shape), and summary() then shows (None, 10).
    """
    if isinstance(inputs, (list, tuple)):
        return [shape_of(x) for x in inputs]
    return tuple(inputs.shape)


def check_shape_arg(name, shape, scalars=False):
    """A feature shape such as (784,) or (28, 28) as a tuple of positive ints (None allowed
    except first), or a clear error; `scalars`: () too, one number or string per sample."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if shape == () and scalars:
        return shape
    if not shape or not all(d is None or (isinstance(d, (int, np.integer))
                                          and not isinstance(d, bool) and d > 0) for d in shape):
        raise ValueError(
            f"Argument `{name}` must be a tuple of positive integers (one per axis of a "
            f"sample, without the batch axis), such as (784,) or (28, 28). "
            f"Received: {name}={shape!r}"
        )
    return tuple(None if d is None else int(d) for d in shape)


class Layer:
    """Base class of every layer (and of models): weights, building, and `__call__`.

    Args:
        name: the layer's name (default: snake_case class name + a counter, as Keras).
        trainable: whether its weights are updated by training.
        input_shape / input_dim: the sample shape, only for the first layer of a Sequential.
        dtype: the float type of its weights (default: minidl.config.floatx()).
    """

    input_shape = None  # (None, ...) once built
    output_shape = None
    training_default = None  # `training` of a call nobody set: None counts as False, but lets
    # a layer inside decide, as Keras's call context does (augmentation layers default to True)
    # Masks (masks.py): a layer that supports masking hands compute_mask(inputs, mask) on to
    # its outputs; one that does not drops a mask it receives, with Keras's warning. A layer
    # that makes masks from nothing (Embedding(mask_zero=True), Masking) sets _makes_masks.
    supports_masking = False
    _makes_masks = False
    # Strings or integers taken as they are, not cast to floats: the text and lookup layers
    # (lookup.py), and a model whose first layer is one of them.
    takes_raw_inputs = False

    def __init__(self, *, name=None, trainable=True, dtype=None, activity_regularizer=None,
                 **kwargs):
        from minidl import regularizers

        if name is not None and not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name or naming.auto_name(naming.to_snake_case(type(self).__name__))
        self.trainable = trainable
        self.dtype = _layer_dtype(dtype)
        self.built = False
        self._own_weights = []
        self._inbound_nodes = []
        self.activity_regularizer = regularizers.get(activity_regularizer)
        input_shape = kwargs.pop("input_shape", None)
        if kwargs.get("input_dim") is not None:
            input_shape = (kwargs.pop("input_dim"),)
        kwargs.pop("input_dim", None)
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        # Only meaningful on the first layer of a Sequential, which then builds at once.
        self._input_shape_arg = None if input_shape is None else check_shape_arg(
            "input_shape", input_shape)

    def __setattr__(self, name, value):
        """Keep track of layers assigned as attributes (`self.dense = Dense(4)`), and of
        Variables made by hand (`self.w = minidl.Variable(...)`, keras_variable.py), as Keras."""
        if not name.startswith("_"):
            sublayers = self.__dict__.setdefault("_sublayers", [])  # in assignment order
            own = self.__dict__.setdefault("_own_weights", [])
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Layer) and item is not self and item not in sublayers:
                    sublayers.append(item)
                elif isinstance(item, HandMadeVariable) and all(item is not w for w in own):
                    own.append(item)
        object.__setattr__(self, name, value)

    @property
    def trainable(self):
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        """Freeze (False) or unfreeze the layer and every layer inside it, as Keras's setter
        (keras/src/layers/layer.py): `base_model.trainable = False` freezes its layers too."""
        self._trainable = bool(value)
        try:
            inside = self.layers  # (a model's, once it has them)
        except AttributeError:
            inside = []  # a model in its __init__, before its layers are set
        for layer in inside:
            layer.trainable = value

    # -- weights --------------------------------------------------------------------------------
    def add_weight(self, shape=(), initializer="zeros", name=None, trainable=True, dtype=None,
                   regularizer=None, constraint=None):
        """Create a weight from an initializer (a name or a callable) and register it.
        A constraint (constraints.py) is applied by the optimizer after each update."""
        from minidl import constraints, initializers, regularizers
        from minidl.saving import limits

        limits.charge(shape)  # a model being loaded from a file stays within sane sizes
        initializer = initializers.get("glorot_uniform" if initializer is None else initializer)
        value = np.asarray(initializer(tuple(shape), dtype or self.dtype), dtype or self.dtype)
        variable = Variable(value, name or "variable", trainable, regularizers.get(regularizer),
                            constraints.get(constraint))
        variable.path = f"{self.name}/{variable.name}"
        self._own_weights.append(variable)
        return variable

    @property
    def layers(self):
        """The layers directly inside this one (assigned as attributes, or a model's layers)."""
        return list(self.__dict__.get("_sublayers", []))

    @property
    def weights(self):
        """Every weight, layer by layer: each layer's trainable ones, then its others
        (BatchNormalization's moving averages), as Keras orders them."""
        own = sorted(self._own_weights, key=lambda w: not w.trainable)  # stable: trainable first
        return _unique(own + [w for layer in self.layers for w in layer.weights])

    @property
    def trainable_weights(self):
        """The weights training updates: none if this layer (or a layer holding it) is frozen."""
        if not self.trainable:
            return []
        own = [w for w in self._own_weights if w.trainable]
        return _unique(own + [w for layer in self.layers for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self):
        """Copies of the weight values, in `weights` order (Dense: kernel, bias)."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        """Overwrite every weight from a list in `get_weights()` order; all checked first."""
        variables, weights = self.weights, list(weights)
        if len(weights) != len(variables):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting {len(variables)} "
                f"weights."
            )
        arrays = [np.asarray(w) for w in weights]
        for variable, array in zip(variables, arrays):
            if array.shape != variable.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {variable.shape} is not compatible with "
                    f"provided weight shape {array.shape} (weight {variable.path})."
                )
            if array.dtype.kind not in "biuf":
                raise TypeError(f"Weight {variable.path} must be numeric. "
                                f"Received dtype {array.dtype}")
        for variable, array in zip(variables, arrays):
            variable.assign(array)

    def count_params(self):
        return int(sum(w.value.size for w in self.weights))

    # -- building -------------------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs):
        """A layer's own build(), called directly (`layer.build((None, 6))`, as Keras users
        do), marks the layer built, as Keras's build wrapper does: its first call then uses
        those weights instead of building a second set."""
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _marking_built(cls.__dict__["build"])
        if "compute_mask" in cls.__dict__ and not any("supports_masking" in vars(c)
                                                     for c in cls.__mro__[:-1]
                                                     if c is not Layer):
            # a compute_mask of its own: the layer hands masks on, and may make them from
            # nothing (CustomEmbedding), as Keras's (keras/src/layers/layer.py:
            # _supports_masking = not is_default(self.compute_mask))
            cls.supports_masking = cls._makes_masks = True

    def build(self, input_shape):
        """Create the weights for inputs of this shape (batch dimension None). Default: none."""

    def compute_output_shape(self, input_shape):
        """The output shape for an input shape; the default runs `call` on zeros."""
        if type(self).forward is Layer.forward and hasattr(self, "call"):
            from minidl.layers.lambda_layer import _unknown_where_different
            unknown = any(d is None for s in (input_shape if isinstance(input_shape, list)
                                              else [input_shape]) for d in s[1:])
            shapes = [self._shape_on_zeros(input_shape, size) for size in
                      ((1, 2) if unknown else (1,))]  # an unknown size is tried as 1 and 2
            shape = shapes[0] if len(shapes) == 1 else _unknown_where_different(*shapes)
            first = input_shape[0] if isinstance(input_shape, list) else input_shape
            return _batch_unknown(shape) if isinstance(first, tuple) and first and \
                first[0] is None else shape
        return input_shape

    def _shape_on_zeros(self, input_shape, size):
        """The shape of call's output on zeros, each unknown size (None) as `size`."""
        x, mask = _zeros(input_shape, size, self.__dict__.get("_symbolic_dtypes")), None
        if _accepts(self.call, "mask") and not isinstance(x, list) and x.ndim >= 2:
            mask = np.ones(x.shape[:2], bool)  # Keras runs call on the symbolic mask: here
            # the shape is found before any data, with every step real
        recorded = self.output_shape
        try:
            return shape_of(self(x, mask=mask))
        finally:  # a call on zeros is no call on data: output_shape keeps the batch unknown
            self.output_shape = recorded

    def compute_mask(self, inputs, mask):
        """The mask of the outputs, given the inputs and their mask (Keras's default: the
        same mask, for a layer that leaves the time steps where they are)."""
        return mask

    def check_input_shape(self, shape):
        """Raise if inputs of this shape cannot be given to this layer (Keras's InputSpec):
        by default, the checks of the `input_spec` a layer of your own sets (input_spec.py)."""
        if getattr(self, "input_spec", None) is not None:
            from minidl.layers.input_spec import assert_input_compatibility

            assert_input_compatibility(self.input_spec, shape, self.name)

    def _maybe_build(self, input_shape):
        if self.built:
            return
        self.check_input_shape(input_shape)
        self.build(input_shape)
        self.built = True
        self.input_shape = input_shape
        if type(self).forward is not Layer.forward:  # a layer built from layers learns its
            self.output_shape = self.compute_output_shape(input_shape)  # on its first call

    # -- the maths (overridden by each layer) ---------------------------------------------------
    def forward(self, x, training=False, mask=None):
        """y, cache. The default serves Keras-style layers that define `call(x)` (given
        `training` and the input's `mask` when call takes them, as Keras's)."""
        if not hasattr(self, "call"):
            raise NotImplementedError(
                f"Layer {type(self).__name__} defines neither `call` (Keras's way, built from "
                "other layers) nor `forward`/`backward` (minidl's way): define one of them. "
                "See minidl/layers/base.py."
            )
        kwargs = {"training": training} if _takes_training(self.call) else {}
        if _accepts(self.call, "mask"):
            kwargs["mask"] = mask
        if getattr(self.call, "__func__", None) in GRAPH_CALLS:
            y = self.call(x, **kwargs)
        else:  # your own call() gets Tracked arrays (ops/backprop.py): in a training step its
            # NumPy operators are recorded too; and `x -= m` makes a new array rather than
            # changing the caller's (a TensorFlow tensor cannot be changed by a call)
            previous = backprop.set_tracking(True)
            try:
                arguments = _context.arguments
                if arguments is not None and arguments[0] is self:  # call(targets, logits):
                    y = arguments[1](each_array(backprop.tracked, x), kwargs)  # the arrays
                else:  # back in their places (call_arguments.py)
                    y = self.call(each_array(backprop.tracked, x), **kwargs)
            finally:
                backprop.set_tracking(previous)
            y = each_array(backprop.untracked, y)
        return y, (x, y)

    def backward(self, dy, cache, need_dx=True):
        """dx, {Variable: gradient}. Each layer with maths of its own writes this."""
        if not need_dx and not self.trainable_weights:  # no weights, and nothing before it
            return None, {}  # wants a gradient (say a Lambda's `x / 255` on the inputs)
        x, y = cache if isinstance(cache, tuple) and len(cache) == 2 else (None, None)
        if not self.trainable_weights and x is not None and (not _floats(x) or not _floats(y)):
            # from or to numbers that are not floats (argmax, a comparison, one_hot of ids):
            # no gradient passes, as in TensorFlow
            return [np.zeros_like(a) for a in flatten(x)], {}
        raise self._no_backward_error()

    def _no_backward_error(self):
        return ValueError(
            f"Layer '{self.name}' ({type(self).__name__}) computes its output in `call()` with "
            "operations minidl cannot differentiate (minidl has no autograd). minidl.ops are "
            "recorded, and so are NumPy operators and ufuncs (`x @ self.w + self.b`, `h1 * h2`, "
            "np.exp(h)) and slices, but other NumPy functions (np.sort, np.concatenate: use "
            "ops.concatenate), copies and an array's methods (`.mean()`: use ops.mean) are "
            "not. Or build `call()` from minidl layers only, or give the layer a "
            "`backward(self, dy, cache, need_dx=True)` method returning (dx, {weight: grad}); "
            "with `call()`, cache is the pair (x, y). Test it with "
            "minidl.testing.check_gradients(layer, x)."
        )

    # -- calling ---------------------------------------------------------------------------------
    def __call__(self, inputs, *args, training=None, mask=None, **kwargs):
        """On a KerasTensor: add a node to a functional graph. On data: compute (and record).

        `mask`: the inputs' mask, given by hand (`lstm(x, mask=embedding.compute_mask(ids))`)
        in place of the one riding on the inputs (masks.py), as Keras's. More arguments
        (`layer(targets, logits)`, `layer(x, weights=w)`, `layer(x, mask=m)` in a functional
        model) go to a call() that takes them: call_arguments.py."""
        if args or kwargs or _wants_more(type(self)):
            from minidl.layers import call_arguments
            return call_arguments.call_several(self, inputs, args, kwargs, training, mask)
        if _is_symbolic(inputs):
            if mask is not None:  # a mask made in the graph: an input of the node too
                from minidl.layers import call_arguments
                return call_arguments.call_several(self, inputs, (), {}, training, mask)
            return fixed_training(self._call_symbolic(inputs), training)
        inputs = each_array(backprop.untracked, inputs)  # the arrays the tape knows
        given = inputs
        inputs = _as_given(inputs) if self.takes_raw_inputs else _cast(inputs)
        if self.built:
            self.check_input_shape(shape_of(inputs))
        else:
            self._maybe_build(shape_of(inputs))
        return self._call_arrays(inputs, given, training, mask)

    def _call_arrays(self, inputs, given, training, mask):
        """The call on arrays, cast and built: forward, masks, the tape, activity penalties."""
        outer_training, outer_depth = _context.training, _context.depth
        if training is None:  # unsaid here and by every outer call: the layer's own default
            training = outer_training if outer_training is not None else self.training_default
        _context.training, _context.depth = training, outer_depth + 1
        if outer_depth == 0:
            self._clear_losses()  # model.losses: those of this call only, as in Keras
            masks.new_pass(inputs)
        caller_tracks = backprop.set_tracking(False)  # a layer's own maths: plain arrays
        try:
            tape = active_tape()
            if tape is not None and outer_depth == 0:
                tape.watch(inputs)  # the arrays this whole pass starts from
            elif tape is not None and given is not inputs:  # token ids from a lookup layer,
                tape.watch(_cast_from_integers(given, inputs))  # cast: no gradient goes back
            if mask is None:
                mask = masks.input_mask(inputs)  # None unless a layer before made one
            else:
                mask = np.asarray(backprop.untracked(mask), bool)
            if mask is not None and _takes_mask(self.forward):
                outputs, cache = self.forward(inputs, training=training, mask=mask)
            else:
                outputs, cache = self.forward(inputs, training=training)
            if mask is not None or self._makes_masks:
                self._pass_mask_on(inputs, outputs, mask)
            if self.output_shape is None:
                self.output_shape = shape_of(outputs)
            if tape is not None and (_has_backward(type(self))
                                     or not _made_by_recorded_calls(tape, inputs, outputs)):
                tape.record(self, inputs, outputs, cache)
            if self.activity_regularizer is not None:
                self._penalise_activity(tape, outputs)
            return each_array(backprop.tracked, outputs) if caller_tracks else outputs
        finally:
            _context.training, _context.depth = outer_training, outer_depth
            backprop.set_tracking(caller_tracks)

    def _pass_mask_on(self, inputs, outputs, mask):
        """The outputs' masks, as Keras's Layer.__call__ sets them (keras/src/layers/layer.py)."""
        if self.supports_masking:
            masks.set_masks(outputs, self.compute_mask(inputs, mask))
        elif mask is not None:
            masks.warn_dropped(self)

    def _penalise_activity(self, tape, outputs):
        """The activity regularizer's penalty on each output, divided by the batch size."""
        for y in flatten(outputs):
            n = y.dtype.type(len(y))
            value = self.activity_regularizer(y) / n
            if tape is not None:
                tape.add_penalty(value, y, regularizers.gradient(self.activity_regularizer, y) / n)
            self._last_call_losses().append(value)

    # -- losses of the last call (Keras's add_loss and layer.losses) -----------------------------
    def add_loss(self, loss):
        """Add a scalar `loss` to the training loss, from inside `call()`, as Keras's add_loss.

        It is differentiated through the minidl.ops calls, layers and NumPy operators on the
        arrays call() received that computed it (`self.rate * ops.mean(x)`), not through an
        array method (`x.mean()`) or a copy, which minidl cannot differentiate.
        """
        tape = active_tape()
        loss = backprop.untracked(loss)  # a value computed with NumPy operators in call()
        if tape is not None:
            if tape.producer(loss) is None:
                raise ValueError(
                    f"Layer '{self.name}' called `add_loss()` with a value minidl cannot "
                    "differentiate: it was not computed by minidl.ops, layers or NumPy "
                    "operators on the arrays call() received during this call (an array "
                    "method such as .mean() or a copy made it, say). Write it with minidl.ops, "
                    "e.g. `rate * ops.mean(x)`. Received: "
                    f"loss={loss!r}")
            tape.add_penalty(loss, loss, np.ones_like(loss))
        self._last_call_losses().append(loss)

    def _last_call_losses(self):
        return self.__dict__.setdefault("_losses", [])

    def _clear_losses(self):
        """Forget the last call's losses, here and in every sublayer (a new call begins)."""
        self.__dict__.pop("_losses", None)
        for layer in self.layers:
            layer._clear_losses()

    @property
    def losses(self):
        """The losses of the last call (add_loss, activity penalties), this layer's first, then
        its sublayers' depth first, then every trainable weight's penalty: Keras's order."""
        own = []
        stack = [self]
        while stack:
            layer = stack.pop()
            own += [float(v) for v in layer.__dict__.get("_losses", [])]
            stack += reversed(layer.layers)
        return own + [float(v) for v in regularizers.weight_penalties(self.trainable_weights)]

    def _call_symbolic(self, inputs):
        shapes = [t.shape for t in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape
        if self.built:
            self.check_input_shape(shapes)
        else:
            self._maybe_build(shapes)
        # the inputs' dtypes, for a call() run on zeros to find its shape (int ids stay ints)
        self._symbolic_dtypes = [t.dtype for t in flatten(inputs)]
        output_shape = self.compute_output_shape(shapes)
        if self.output_shape is None:  # a layer built before its first call (Identity)
            self.output_shape = output_shape
        node = Node(self, inputs, None)
        if isinstance(output_shape, list):
            outputs = [KerasTensor(s, node=node, index=i, name=self.name)
                       for i, s in enumerate(output_shape)]
        else:
            outputs = KerasTensor(output_shape, node=node, name=self.name)
        node.outputs, node.output_tensors = outputs, flatten(outputs)
        return outputs

    @property
    def input(self):
        """The symbolic input of this layer's first call in a functional model (Keras's)."""
        return self._first_node_tensors("input_tensors", "input")

    @property
    def output(self):
        """The symbolic output of this layer's first call in a functional model (Keras's):
        `Model(model.input, model.get_layer("conv2").output)` reads a layer's activations."""
        return self._first_node_tensors("output_tensors", "output")

    def _first_node_tensors(self, attr, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no "
                                 f"defined {what}.")
        tensors = getattr(self._inbound_nodes[0], attr)
        return tensors[0] if len(tensors) == 1 else tensors

    # -- configuration ---------------------------------------------------------------------------
    def get_config(self):
        """Keras's keys: a layer rebuilt with `type(layer)(**config)` equals this one."""
        config = {"name": self.name, "trainable": self.trainable}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = self.activity_regularizer
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


GRAPH_CALLS = set()  # the call() of Sequential and functional models (models.py): layers only


@functools.lru_cache(maxsize=None)
def _wants_more(cls):
    """Whether cls's call() needs arguments after the first (`call(self, a, b)`): called with
    one tensor, it fails as Keras's does, by binding call()'s signature (call_arguments.py)."""
    call = getattr(cls, "call", None)
    if call is None or call in GRAPH_CALLS:
        return False
    try:
        after_first = list(inspect.signature(call).parameters.values())[2:]  # self, inputs
    except (TypeError, ValueError):
        return False
    return any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in after_first)


def each_array(function, structure):
    """function applied to an array, or to each array of a list, tuple or dict of them."""
    if isinstance(structure, (list, tuple)):
        return type(structure)(each_array(function, x) for x in structure)
    if isinstance(structure, dict):
        return {key: each_array(function, x) for key, x in structure.items()}
    return function(structure)


def _layer_dtype(dtype):
    """A layer's float type from Keras's `dtype` argument: a type name or a DTypePolicy
    (default floatx). The mixed and 16-bit policies are refused by name (dtype_policies.py)."""
    from minidl import dtype_policies

    if dtype is None:
        return config.floatx()
    if isinstance(dtype, dtype_policies.DTypePolicy):
        return dtype.name
    if isinstance(dtype, str) and dtype in dtype_policies.HALF:
        dtype_policies.DTypePolicy(dtype)  # raises, naming the policy
    return dtype


def _unique(variables):
    """The variables in order, each once (a shared layer appears in several places)."""
    return list({id(v): v for v in variables}.values())


def _made_by_recorded_calls(tape, inputs, outputs):
    """True when every output came from a call already on the tape (or is an input itself):
    a layer built from other layers then needs no backward of its own."""
    input_ids = {id(x) for x in flatten(inputs)}
    return all(id(y) in input_ids or tape.producer(y) is not None for y in flatten(outputs))


def _has_backward(cls):
    return cls.backward is not Layer.backward


def _takes_training(method):
    """Whether a `call` method accepts `training=` (Keras passes it only then)."""
    return _accepts(method, "training")


def _takes_mask(method):
    """Whether a `forward` method accepts `mask=` (the layers that use a mask, not only pass
    it on: recurrent layers, GlobalAveragePooling1D, ...)."""
    return _accepts(method, "mask")


def _accepts(method, argument):
    """Whether `method` has a parameter named `argument` (looked up once per function)."""
    key = (getattr(method, "__func__", method), argument)
    known = _ACCEPTS.get(key)
    if known is None:
        try:
            known = argument in inspect.signature(method).parameters
        except (TypeError, ValueError):
            known = False
        _ACCEPTS[key] = known
    return known


_ACCEPTS = {}


def fixed_training(outputs, training):
    """`outputs`, their node keeping a `training` given at a functional call
    (`base_model(x, training=False)`). As in Keras 3, it is used when the model is called
    without `training` of its own (`model(x)`); fit, evaluate, predict and `model(x,
    training=...)` pass theirs, which wins (keras/src/models/functional.py::operation_fn)."""
    if training is not None:
        flatten(outputs)[0].node.training = bool(training)
    return outputs


def _floats(arrays):
    """Whether any of the arrays holds floats (the only numbers gradients pass through)."""
    return any(np.asarray(a).dtype.kind in "fc" for a in flatten(arrays))


def _batch_unknown(shape):
    """A shape found on a batch of one with the batch size unknown again, (1, 4) -> (None, 4),
    as Keras's symbolic call keeps it; a list of shapes (several outputs) each so."""
    if isinstance(shape, list):
        return [_batch_unknown(s) for s in shape]
    return (None,) + tuple(shape[1:]) if len(shape) and shape[0] == 1 else shape


def _zeros(shape, unknown=1, dtypes=None):
    """Zeros of a batch of one, each unknown size (None) as `unknown`; of `dtypes` (one per
    input) if given, else floatx."""
    if isinstance(shape, list):
        dtypes = dtypes if dtypes and len(dtypes) == len(shape) else [None] * len(shape)
        return [_zeros(s, unknown, [d]) for s, d in zip(shape, dtypes)]
    dtype = (dtypes[0] if dtypes and dtypes[0] is not None else None) or config.floatx()
    return np.zeros((1,) + tuple(unknown if d is None else d for d in shape[1:]), dtype)
