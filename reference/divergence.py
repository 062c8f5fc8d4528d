"""Find the first place where minidl and Keras part: which step, which stage, which tensor.

`find_divergence(model, x, y)` steps a compiled minidl model and its Keras twin (same
weights) through the same batches, one batch at a time, and checks every step in the
order the computation runs:

    forward         each layer's output                  "dense/output"
    loss            the batch loss                       "loss"
    gradient        every gradient, in backprop order    "dense_1/kernel" before "dense/kernel"
    optimizer slot  every slot after the update          "rmsprop velocity of dense/kernel"
    weight          every weight after the update        "dense/kernel"

It returns a `Divergence` for the first tensor that is not close (|minidl - keras| <=
atol + rtol * |keras|, element by element), or None when all steps agree. Gradients are
compared last layer first because backprop computes them in that order: a fault in one
layer's backward shows up in that layer's kernel before it spreads to the layers below.

Nothing is copied from one model to the other between steps: each keeps its own weights,
so an error that grows step by step is caught at the step where it crosses the tolerance.
Both models are trained in place by the steps run.
"""
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

import keras
from minidl import layers as md_layers, training
from reference.gradients import keras_cast
from reference.masks import shared_noise
from reference.twins import keras_twin

STAGES = ("forward", "loss", "gradient", "optimizer slot", "weight")

# The usual causes of a divergence at each stage, most common first.
USUAL_CAUSES = {
    "forward": [
        "the weights differ (not copied into the twin, or one was changed afterwards)",
        "float64 creeping in: an input or weight not cast to float32",
        "a different activation (name lookup, or softmax over the wrong axis)",
        "different batches: shuffling or batch order is not the same in both",
    ],
    "loss": [
        "logits vs probabilities: Keras computes cross-entropy from the logits of a "
        "sigmoid/softmax output, with no clipping (keras/src/backend/tensorflow/nn.py)",
        "clipping with epsilon = 1e-7 where Keras does not clip, or the reverse",
        "(N,) vs (N,1) label shape: Keras expands y to (N,1); NumPy broadcasting makes (N,N)",
        "sum instead of mean, or dividing a partial last batch by the full batch size",
        "float64 creeping in (a float64 constant or label array)",
    ],
    "gradient": [
        "a wrong activation derivative in that layer's backward "
        "(relu is 0 at z = 0; sigmoid a*(1-a); tanh 1-a**2)",
        "the loss gradient not divided by the batch size N",
        "from logits the gradient is (p - y) / N; through clipped probabilities it is not",
        "(N,) vs (N,1) label shape broadcasting inside the loss gradient",
        "float64 creeping in",
    ],
    "optimizer slot": [
        "constant rounding: f32(1 - beta) computed in Python floats, not f32(1) - f32(beta)",
        "slot order or slot formula (Adam: m + (g - m)*(1 - beta_1); RMSprop: rho*v + (1-rho)*g**2)",
        "the step counter off by one (Keras's t is iterations + 1, so t = 1 on the first step)",
        "float64 creeping in",
    ],
    "weight": [
        "epsilon inside vs outside the sqrt: RMSprop uses sqrt(v + eps), Adam sqrt(v) + eps",
        "Adam's textbook m_hat / (sqrt(v_hat) + eps) form instead of Keras's epsilon-hat "
        "form alpha = lr*sqrt(1-beta_2**t)/(1-beta_1**t) (keras/src/optimizers/adam.py)",
        "the learning rate not rounded to float32, or constant rounding like f32(1 - beta)",
        "gradient clipping or momentum applied differently",
        "float64 creeping in",
    ],
}


@dataclass
class Divergence:
    """Where minidl and Keras first disagree, and by how much."""

    step: int  # optimizer steps done before this one: 0 is the first batch
    epoch: int
    stage: str  # one of STAGES
    name: str  # e.g. "dense_1/kernel", "dense/output", "rmsprop velocity of dense/kernel"
    max_abs_error: float
    max_rel_error: float  # |minidl - keras| / |keras|
    max_ulp_error: float  # |minidl - keras| in float32 ULPs of the Keras value
    minidl_shape: tuple
    keras_shape: tuple
    minidl_dtype: str
    keras_dtype: str
    worst_index: tuple  # the element with the largest absolute error
    minidl_value: float
    keras_value: float
    rtol: float
    atol: float
    hint: str

    def __str__(self):
        where = "" if self.worst_index == () else f" at index {list(self.worst_index)}"
        return "\n".join([
            f"minidl and Keras part at step {self.step} (epoch {self.epoch}), "
            f"stage \"{self.stage}\": {self.name}",
            f"  max abs error   {self.max_abs_error:.6g}   "
            f"(tolerance: atol={self.atol:g} + rtol={self.rtol:g} * |keras|)",
            f"  max rel error   {self.max_rel_error:.6g}",
            f"  max ulp error   {self.max_ulp_error:.6g} float32 ULPs",
            f"  shapes          minidl {self.minidl_shape} {self.minidl_dtype}, "
            f"Keras {self.keras_shape} {self.keras_dtype}",
            f"  worst element   minidl {self.minidl_value!r}, Keras {self.keras_value!r}{where}",
            "Usual causes at this stage:",
            self.hint,
        ])


def compare(mine, theirs, rtol, atol):
    """Error measures of minidl's array against Keras's, or None when they are close."""
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    if mine.shape != theirs.shape:
        return {"max_abs_error": np.inf, "max_rel_error": np.inf, "max_ulp_error": np.inf,
                "worst_index": (), "minidl_value": np.nan, "keras_value": np.nan}
    a = mine.astype(np.float64)
    b = theirs.astype(np.float64)
    error = np.abs(a - b)
    error = np.where(np.isnan(a) & np.isnan(b), 0.0, error)  # NaN in both is agreement
    error = np.where(np.isnan(error), np.inf, error)  # NaN in one only is the worst case
    if np.all(error <= atol + rtol * np.abs(np.nan_to_num(b))):
        return None
    ulp = np.spacing(np.abs(theirs).astype(np.float32)).astype(np.float64)
    relative = error / np.maximum(np.abs(b), np.finfo(np.float32).tiny)
    worst = np.unravel_index(np.argmax(error), error.shape) if error.ndim else ()
    return {
        "max_abs_error": float(error.max()),
        "max_rel_error": float(np.nanmax(relative)),
        "max_ulp_error": float(np.nanmax(error / ulp)),
        "worst_index": tuple(int(i) for i in worst),
        "minidl_value": float(a[worst]),
        "keras_value": float(b[worst]),
    }


def _hint(stage, mine, theirs):
    """The usual causes for a stage, led by what the two arrays themselves show."""
    lines = []
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    if mine.shape != theirs.shape:
        lines.append(f"shapes differ: minidl {mine.shape} vs Keras {theirs.shape} "
                     "(look for (N,) vs (N,1) broadcasting)")
    if mine.dtype != theirs.dtype:
        lines.append(f"dtypes differ: minidl {mine.dtype} vs Keras {theirs.dtype} "
                     "(float64 creeping in)")
    return "\n".join(f"  - {line}" for line in lines + USUAL_CAUSES[stage])


def _batch_rows(n, batch_size, steps, shuffle, seed):
    """(epoch, rows) for each step: consecutive batches, a fresh permutation per epoch."""
    rng = np.random.default_rng(seed)
    step, epoch = 0, 0
    while step < steps:
        order = rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n, batch_size):
            if step == steps:
                return
            yield epoch, order[start:start + batch_size]
            step += 1
        epoch += 1


def _keras_slots(keras_model, named_slots):
    """Keras's slot variables lined up with minidl's: by name, else by position."""
    keras_slots = keras_model.optimizer.variables[2:]  # after iterations and learning_rate
    by_name = {v.name: v for v in keras_slots}
    paths = [w.path.replace("/", "_") for w in keras_model.trainable_weights]
    lined_up = []
    for position, (kind, index, _) in enumerate(named_slots):
        name = f"{paths[index]}_{kind}"  # Keras names slots "<weight path>_<kind>"
        if name in by_name:
            lined_up.append(by_name[name])
        elif position < len(keras_slots):
            lined_up.append(keras_slots[position])
        else:
            lined_up.append(None)
    return lined_up


def _check_model(model):
    if not getattr(model, "compiled", False) or model.loss is None:
        raise ValueError(
            "`find_divergence()` needs a compiled minidl model with a loss. Call "
            "model.compile(optimizer=..., loss=...) first."
        )
    if not model.built:
        raise ValueError(
            "`find_divergence()` needs a built minidl model: give its first layer an "
            "`input_shape` or call the model once on data."
        )


def _keras_forward_backward(keras_layers, keras_model, x, y):
    """Keras's layer outputs, loss and gradients for one batch, as `fit` computes them."""
    with tf.GradientTape() as tape:
        h, outputs = x, []
        for layer in keras_layers:
            h = layer(h, training=True)  # a sigmoid/softmax output keeps its logits
            outputs.append(h)
        loss = keras_model.compute_loss(x=x, y=y, y_pred=h, training=True)
    return outputs, loss, tape.gradient(loss, keras_model.trainable_weights)


def _lockstep(model, keras_model, keras_layers, batch, keras_batch):
    """One training step in both models, yielding (stage, name, minidl, keras) in order.

    minidl runs the stages of `training.train_step` one at a time, and a generator only goes
    on when asked: the caller stops at the first mismatch, so a broken loss is reported
    before backward can trip over it.
    """
    weights = model.trainable_weights
    keras_weights = keras_model.trainable_weights
    # minidl first: its Dropout layers draw the masks Keras's then replay (reference/masks.py)
    loss, _, _, seeds, tape = training.forward_and_loss(model, batch, training=True)
    keras_outputs, keras_loss, keras_grads = _keras_forward_backward(
        keras_layers, keras_model, *keras_batch)

    calls = [r for r in tape.records if not isinstance(r.layer, md_layers.InputLayer)]
    for record, keras_output in zip(calls, keras_outputs):
        yield "forward", f"{record.layer.name}/output", record.outputs[0], keras_output
    yield "loss", "loss", loss, keras_loss

    grads = tape.gradient(seeds, weights)
    position = {id(w): i for i, w in enumerate(weights)}
    for record in reversed(calls):  # backprop order: last layer first
        for w in record.layer.trainable_weights:
            yield "gradient", w.path, grads[position[id(w)]], keras_grads[position[id(w)]]

    keras_model.optimizer.apply_gradients(zip(keras_grads, keras_weights))
    model.optimizer.apply(grads, weights)
    optimizer = model.optimizer
    named = optimizer.named_slots()
    for (kind, index, array), keras_slot in zip(named, _keras_slots(keras_model, named)):
        name = f"{optimizer.name} {kind.replace('_', ' ')} of {weights[index].path}"
        yield "optimizer slot", name, array, (np.zeros(0) if keras_slot is None else keras_slot)
    for w, keras_w in zip(weights, keras_weights):
        yield "weight", w.path, w.value, keras_w


def find_divergence(model, x, y, *, batch_size=32, steps=None, shuffle=False, seed=0,
                    rtol=1e-5, atol=1e-6, keras_model=None):
    """Step minidl and its Keras twin batch by batch; return the first Divergence, or None.

    Args:
        model: a compiled, built minidl model. It is trained in place.
        x, y: the training data, as for `fit`.
        batch_size: rows per step; the last batch of an epoch keeps the leftover rows.
        steps: optimizer steps to run (default: one epoch). More than one epoch's worth
            continues into the next epoch.
        shuffle: draw a new row order every epoch from `seed`. Both models get the same
            batches (Keras's own shuffling cannot be reproduced in NumPy).
        seed: seed of that row order.
        rtol, atol: an element agrees when |minidl - keras| <= atol + rtol * |keras|.
        keras_model: a compiled Keras twin with the same weights (default: made with
            `keras_twin(model)`). Pass one to keep Keras clean while minidl carries a fault.
    """
    _check_model(model)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError("Argument `batch_size` must be a positive integer. "
                         f"Received: batch_size={batch_size!r}")
    data = training.prepare_data(model, x, y)  # checked and cast as fit does
    training.get_ready(model, data)
    x_md, y_md = data.xs[0], data.ys[0]
    x_k, y_k = keras_cast(x, y, None)  # cast as Keras's fit does
    if steps is None:
        steps = -(-len(x_md) // batch_size)  # one epoch
    if keras_model is None:
        keras_model = keras_twin(model)
    keras_layers = [l for l in keras_model.layers if not isinstance(l, keras.layers.InputLayer)]
    layers = [layer for layer in model.layers if not isinstance(layer, md_layers.InputLayer)]
    if (len(keras_layers) != len(layers)
            or len(keras_model.trainable_weights) != len(model.trainable_weights)):
        raise ValueError(
            f"The Keras model is not a twin of {model.name}: expected "
            f"{len(layers)} layers and {len(model.trainable_weights)} "
            f"trainable weights. Received: {len(keras_layers)} layers and "
            f"{len(keras_model.trainable_weights)} trainable weights."
        )

    with shared_noise(model, keras_model):  # Keras's Dropout layers replay minidl's masks
        for step, (epoch, rows) in enumerate(_batch_rows(len(x_md), batch_size, steps,
                                                         shuffle, seed)):
            batch, keras_batch = data.rows(rows), (x_k[rows], y_k[rows])
            for stage, name, mine, theirs in _lockstep(model, keras_model, keras_layers,
                                                       batch, keras_batch):
                errors = compare(mine, theirs, rtol, atol)
                if errors is not None:
                    mine, theirs = np.asarray(mine), np.asarray(theirs)
                    return Divergence(
                        step=step, epoch=epoch, stage=stage, name=name,
                        minidl_shape=mine.shape, keras_shape=theirs.shape,
                        minidl_dtype=str(mine.dtype), keras_dtype=str(theirs.dtype),
                        rtol=rtol, atol=atol, hint=_hint(stage, mine, theirs), **errors)
    return None
