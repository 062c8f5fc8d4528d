"""One training step, explained in equations, shapes and numbers: `model.explain_step(x, y)`.

The text has five sections:
    Forward pass                      each layer's equation with this batch's shapes
    Loss                              its value, and whether (and why) it came from the logits
    Backward pass                     each layer's gradient equations with shapes, last layer first
    Chain rule for one weight         dL/dW[i,j] = sum over the batch of input[n,i] * dz[n,j],
                                      term by term with the real numbers
    Optimizer update for that weight  the update formula with the numbers substituted: learning
                                      rate, slots before and after, weight before and after

The step is real. explain_step runs the training step `train_on_batch(x, y)` runs, with a
tape that keeps each layer call's incoming gradient, and reads the numbers back from it: the
forward pass from the calls' caches (x, z, a), the gradient each layer received, the update
from the weights and the optimizer's slots. So the model ends exactly as
`train_on_batch(x, y)` leaves it (weights, optimizer slots, iteration count), and every
number shown is the one training used. To look without training, explain a copy:
`copy.deepcopy(model).explain_step(x, y)`.

Only dz, the gradient at each layer's pre-activation, is recomputed here from the da the
layer received and its cached z and a, with the same backward functions the layers use.

Notation: N rows in the batch; layer k computes z_k = a_(k-1) @ W_k + b_k and a_k = f(z_k),
with a_(-1) = x.
"""
import numpy as np

from minidl import activations, losses, training
from minidl.explain.text import (equation, matmul_shapes, number, operand, prose, shape_text,
                                 title)
from minidl.explain.update import optimizer_section, slots_of
from minidl.layers import Activation, Dense

SECTIONS = ("Forward pass", "Loss", "Backward pass", "Chain rule for one weight",
            "Optimizer update for that weight")
MAX_TERMS = 8  # rows of the batch written out in the chain-rule sum

_FORWARD_FORMULA = {"relu": "max({z}, 0)", "tanh": "tanh({z})", "sigmoid": "1 / (1 + exp(-{z}))",
                    "softmax": "exp({z}) / sum(exp({z})) per row", "linear": "{z}"}
_BACKWARD_FORMULA = {  # d(input) from d(output), input and output
    "relu": "{da} * ({z} > 0)",
    "tanh": "{da} * (1 - {a}**2)",
    "sigmoid": "{da} * {a} * (1 - {a})",
    "softmax": "{a} * ({da} - sum({da} * {a}) per row)",
    "linear": "{da}",
}


class StepExplanation(str):
    """The text explain_step prints, as a str; `.numbers` holds the values it shows."""

    numbers = None

    def __repr__(self):
        return (f"<StepExplanation: {self.count(chr(10)) + 1} lines; print() it to read it, "
                "`.numbers` for the values>")


def explain_step(model, x, y, weight_index=None, print_fn=print):
    """Take one real training step on (x, y) and explain it with equations, shapes and numbers.

    Args:
        model: a compiled model of Dense (and Activation) layers.
        x, y: one small batch; a handful of rows reads best.
        weight_index: (layer, i, j): the kernel entry W[i, j] of `model.layers[layer]`
            (counting the layers that compute, as a Sequential's `layers` lists them) whose
            chain rule and update are worked out with numbers. None: the first layer's
            entry with the largest gradient on this batch, so the numbers are not all 0
            (as they would be for a weight feeding a unit that relu switched off).
        print_fn: called once with the whole text; None prints nothing.

    Returns:
        A StepExplanation: the text (a str), with the numbers it shows in `.numbers`.
    """
    training.check_compiled(model, "explain_step")
    batch = training.prepare_data(model, x, y)
    training.get_ready(model, batch)
    x_checked, y_checked = batch.xs[0], batch.ys[0]
    layers = [layer for layer in model.layers if not _is_input(layer)]
    if weight_index is None:
        weight_index = _liveliest_first_weight(model, layers, x_checked, y_checked)
    k, i, j = _check_weight_index(weight_index, layers, model)
    kernel, optimizer = layers[k].kernel, model.optimizer
    position = next(p for p, v in enumerate(model.trainable_weights) if v is kernel)
    kernels_before = [layer.kernel.numpy() if isinstance(layer, Dense) else None
                      for layer in layers]
    slots_before = slots_of(optimizer, position, i, j)
    iterations_before, slots_created = optimizer.iterations, not optimizer.built

    model.compiled_metrics.reset()
    step = training.train_step(model, batch, model.compiled_metrics, keep_gradients=True)
    calls = [_Call(record) for record in step.tape.records]  # what the real step computed
    layers = calls
    step_numbers = _backward_numbers(calls, step, y_checked)
    g = float(step.grads[position][i, j])
    clipped = optimizer.clip_gradients(step.grads)[position]
    step = step_numbers
    numbers = {
        "loss": step["loss"], "layer": k, "i": i, "j": j, "gradient": g,
        "learning_rate": float(optimizer.learning_rate),
        "iteration": iterations_before + 1,
        "weight_before": float(kernels_before[k][i, j]),
        "weight_after": float(kernel.value[i, j]),
        "gradient_used": float(clipped[i, j]),
        "slots_before": slots_before,
        "slots_after": slots_of(optimizer, position, i, j),
        "slots_created": slots_created,
    }
    lines = _header(model, x_checked, y_checked)
    lines += _forward_section(layers)
    lines += _loss_section(model, layers, step)
    lines += _backward_section(model, layers, step)
    lines += _chain_rule_section(layers, step, k, i, j, g, numbers)
    lines += optimizer_section(SECTIONS[4], optimizer, kernel, k, i, j, numbers)
    lines += [""] + prose(
        "The step was real: the model is now exactly as model.train_on_batch(x, y) leaves it "
        f"(weights, optimizer slots, and iterations = {optimizer.iterations}).")
    text = StepExplanation("\n".join(lines))
    text.numbers = numbers
    if print_fn is not None:
        print_fn(text)
    return text


# -- checking and reading the model ---------------------------------------------------------

def _liveliest_first_weight(model, layers, x, y):
    """(layer, i, j) of the first Dense kernel's entry with the largest |gradient| on (x, y)."""
    first = next((p for p, layer in enumerate(layers) if isinstance(layer, Dense)), 0)
    if not isinstance(layers[first], Dense):
        return (first, 0, 0)  # _check_weight_index explains what is wrong
    _, grads = model.loss_and_gradients(x, y)  # nothing is updated
    position = next(p for p, v in enumerate(model.trainable_weights)
                    if v is layers[first].kernel)
    grad = np.abs(grads[position])
    i, j = np.unravel_index(int(np.argmax(grad)), grad.shape)
    return (first, int(i), int(j))


def _check_weight_index(weight_index, layers, model):
    """(layer, i, j) as ints naming a trainable kernel entry, or a clear error."""
    try:
        k, i, j = (int(v) for v in weight_index)
    except (TypeError, ValueError):
        raise ValueError("Argument `weight_index` must be three integers (layer, i, j). "
                         f"Received: weight_index={weight_index!r}") from None
    if not 0 <= k < len(layers) or not isinstance(layers[k], Dense):
        dense = [p for p, layer in enumerate(layers) if isinstance(layer, Dense)]
        raise ValueError(f"Argument `weight_index` must name a Dense layer of the model: its "
                         f"first number must be one of {dense}. Received: weight_index="
                         f"{weight_index!r}")
    shape = layers[k].kernel.shape
    if not (0 <= i < shape[0] and 0 <= j < shape[1]):
        raise ValueError(f"Argument `weight_index` is outside the kernel of layer "
                         f"{layers[k].name}, of shape {shape}. Received: weight_index="
                         f"{weight_index!r}")
    if not any(v is layers[k].kernel for v in model.trainable_weights):
        raise ValueError(f"Layer {layers[k].name} is not trainable: the optimizer does not "
                         "update its kernel. Choose a trainable layer in `weight_index`.")
    return k, i, j


def _is_input(layer):
    return layer.__class__.__name__ == "InputLayer"


class _Call:
    """One layer call of the step: the layer's attributes, plus its x, z and a.

    x is what the call took, a what it gave, z the input of its activation (a itself for a
    layer with no activation: Flatten, pooling, ...).
    """

    def __init__(self, record):
        self.record, self.layer = record, record.layer
        self.x, self.a = record.inputs[0], record.outputs[0]
        has_activation = getattr(self.layer, "activation", None) is not None and hasattr(
            self.layer, "logits")
        self.z = self.layer.logits(record.cache) if has_activation else self.a
        if not has_activation:
            self.activation = activations.linear

    @property
    def __class__(self):  # isinstance(call, Dense) asks about the layer called
        return type(self.layer)

    def __getattr__(self, name):
        return getattr(self.layer, name)


def _backward_numbers(calls, step, y):
    """The loss and every layer's da and dz, from the gradients the real step's tape kept."""
    fused = len(step.seeds[0]) > 2  # the head started backward at the logits
    da, dz = [None] * len(calls), [None] * len(calls)
    for k, call in enumerate(calls):
        if fused and k == len(calls) - 1:
            dz[k] = call.record.dy  # (N,U): dL/dz of the last layer
        else:
            da[k] = call.record.dy  # (N,U)
            dz[k] = activations.backward_of(call.activation)(da[k], call.z, call.a)  # (N,U)
    return {"loss": float(step.loss), "fused": fused, "y": y, "da": da, "dz": dz}


def _names(k):
    """The symbols of layer k: its input, z, a, W and b."""
    source = "x" if k == 0 else f"a{k - 1}"
    return source, f"z{k}", f"a{k}", f"W{k}", f"b{k}"


def _activation_name(layer):
    activation = getattr(layer, "activation", None) or activations.linear
    return getattr(activation, "__name__", "f")


def _loss_of(model):
    return model.compiled_loss.heads[0].loss


def _header(model, x, y):
    optimizer = model.optimizer
    heading = f'One training step of model "{model.name}", explained'
    return [heading, "=" * len(heading),
            f"Batch: N = {len(x)} rows; x {shape_text(x)}, y {shape_text(y)}",
            f"Compiled with loss={_loss_of(model).name}, optimizer={type(optimizer).__name__}"
            f"(learning_rate={number(optimizer.learning_rate)})"]


def _forward_section(layers):
    lines = title(SECTIONS[0])
    for k, layer in enumerate(layers):
        source, z, a, w, b = _names(k)
        name = _activation_name(layer)
        lines.append(f"layer {k}: {layer.name} ({layer.__class__.__name__}, {name})")
        if isinstance(layer, Dense):
            kernel_shape, units = layer.kernel.shape, layer.kernel.shape[1]
            bias = units if layer.use_bias else None
            product = f"{z} = {source} @ {w}" + (f" + {b}" if layer.use_bias else "")
            lines.append(equation(product, matmul_shapes(layer.x.shape, kernel_shape, bias)))
        elif isinstance(layer, Activation):
            z = source  # an Activation layer applies f to its input
        else:  # Conv2D, pooling, Flatten...: what it computes is in its own forward
            what = f"{layer.__class__.__name__}({source}" + (f", {w}" if layer.weights else "")
            lines.append(equation(f"{z} = {what})",
                                  f"{shape_text(layer.x)} -> {shape_text(layer.z)}",
                                  f"see {layer.__class__.__name__}.forward"))
            if name == "linear":
                continue
        formula = _FORWARD_FORMULA.get(name, "f({z})").format(z=z)
        note = f"{name}({z}) = {formula}" if name in ("relu", "sigmoid", "softmax") else ""
        left = f"{a} = {z}" if name == "linear" else f"{a} = {name}({z})"
        lines.append(equation(left, shape_text(layer.a), note))
    lines.append(f"The output a{len(layers) - 1} is the model's prediction y_pred.")
    return lines


def _loss_formula(loss, logits_symbol, out):
    """The per-row formula of the loss, in the variables the step used."""
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return (f"logsumexp({logits_symbol}) - {logits_symbol}[label]" if logits_symbol
                else f"-log(clip({out}, 1e-7, 1 - 1e-7)[label])")
    if isinstance(loss, losses.CategoricalCrossentropy):
        return (f"logsumexp({logits_symbol}) - sum(y * {logits_symbol})" if logits_symbol
                else f"-sum(y * log(clip({out} / sum({out}), 1e-7, 1 - 1e-7)))")
    if isinstance(loss, losses.BinaryCrossentropy):
        z = logits_symbol
        return (f"mean over columns of max({z}, 0) - {z} * y + log(1 + exp(-|{z}|))" if z
                else f"mean over columns of -(y*log(p) + (1-y)*log(1-p)), "
                     f"p = clip({out}, 1e-7, 1 - 1e-7)")
    if isinstance(loss, losses.MeanSquaredError):
        return f"mean over columns of ({out} - y)**2"
    if isinstance(loss, losses.MeanAbsoluteError):
        return f"mean over columns of |{out} - y|"
    return f"{loss.name}(y, {out})"


def _loss_section(model, layers, step):
    last = len(layers) - 1
    out, loss = f"a{last}", _loss_of(model)
    source, z = _names(last)[:2]
    if isinstance(layers[last], Activation):
        z = source  # an Activation layer's logits are its input
    lines = title(SECTIONS[1])
    logits_symbol = z if step["fused"] else (out if loss.works_from_logits and loss.from_logits else None)
    lines.append(f"L = mean over the N = {len(step['y'])} rows of "
                 f"{_loss_formula(loss, logits_symbol, out)}")
    lines.append(f"L = {number(step['loss'], 8)}")
    if step["fused"]:
        activation = _activation_name(layers[last])
        lines += prose(
            f"Computed from the logits {z}, not from the probabilities {out}, because the output "
            f"activation is {activation} and the loss is a cross-entropy: minidl does what "
            f"Keras's TensorFlow backend does (keras/src/backend/tensorflow/nn.py). Written in "
            f"terms of {z}, log({activation}({z})) never becomes log(0), even where a "
            f"probability rounds to 0 or 1 in float32, and the gradient at {z} is simply "
            f"(p - y) / N.")
    elif loss.works_from_logits and loss.from_logits:
        lines.append(f"from_logits=True: the loss reads the output {out} as logits.")
    elif loss.works_from_logits:
        lines += prose(
            f"Computed from the probabilities {out}, clipped to [1e-7, 1 - 1e-7] first: the "
            "output activation is not sigmoid/softmax, so there are no logits to use.")
    return lines


def _loss_gradient_formula(loss, fused_symbol, out, columns):
    """The gradient of the mean loss, as a formula: at the logits when fused, else at the output."""
    per = f"(N*C), C = {columns}" if columns > 1 else "N"
    if isinstance(loss, losses.BinaryCrossentropy) and fused_symbol:
        return f"(sigmoid({fused_symbol}) - y) / {per}"
    if isinstance(loss, losses.SparseCategoricalCrossentropy) and fused_symbol:
        return f"(softmax({fused_symbol}) - onehot(y)) / N"
    if isinstance(loss, losses.CategoricalCrossentropy) and fused_symbol:
        return f"(softmax({fused_symbol}) - y) / N"
    if isinstance(loss, losses.MeanSquaredError):
        return f"2 * ({out} - y) / {per}"
    if isinstance(loss, losses.MeanAbsoluteError):
        return f"sign({out} - y) / {per}"
    if isinstance(loss, losses.BinaryCrossentropy):
        return f"(p - y) / (p * (1 - p)) / {per}, p = clip({out}, 1e-7, 1 - 1e-7)"
    return f"d{loss.name}/d{out} / N   (see {type(loss).__name__}.values_and_gradient in minidl/losses/)"


def _backward_section(model, layers, step):
    lines = title(SECTIONS[2])
    last, n, loss = len(layers) - 1, len(step["y"]), _loss_of(model)
    for k in range(last, -1, -1):
        layer = layers[k]
        source, z, a, w, b = _names(k)
        if isinstance(layer, Activation):
            z = source  # its "pre-activation" is its input
        name, columns = _activation_name(layer), layer.a.shape[-1]
        dz_shape = shape_text(step["dz"][k])
        lines.append(f"layer {k}: {layer.name}")
        if k == last and step["fused"]:
            formula = _loss_gradient_formula(loss, z, a, columns)
            lines.append(equation(f"d{z} = {formula}", dz_shape,
                                   f"fused {name} + cross-entropy"))
        else:
            if k == last:
                logits = a if loss.works_from_logits and loss.from_logits else None
                formula = _loss_gradient_formula(loss, logits, a, columns)
                lines.append(equation(f"d{a} = {formula}", dz_shape, "from the loss"))
            if name == "linear" and not isinstance(layer, (Dense, Activation)):
                z = a  # no activation: the layer's backward starts from da itself
            template = _BACKWARD_FORMULA.get(name, "f.backward({da}, {z}, {a})")
            backward = template.format(da=f"d{a}", z=z, a=a)
            if z != a:
                lines.append(equation(f"d{z} = {backward}", dz_shape, f"{name} backward"))
        if isinstance(layer, Dense):
            (d, u), dz = layer.kernel.shape, step["dz"][k].shape
            lines.append(equation(f"d{w} = {source}.T @ d{z}", matmul_shapes((d, n), dz)))
            if layer.use_bias:
                lines.append(equation(f"d{b} = sum of d{z} over the rows", f"({n},{u}) -> ({u},)"))
            if k > 0:
                lines.append(equation(f"d{source} = d{z} @ {w}.T", matmul_shapes(dz, (u, d))))
            else:
                lines.append("  (no dx: nothing comes before layer 0, so fit does not compute it)")
        elif not isinstance(layer, Activation):
            kind = layer.__class__.__name__
            if layer.trainable_weights:
                lines.append(equation(f"d{w}, d{b} from {source} and d{z}",
                                      ", ".join(shape_text(v.value) for v in layer.trainable_weights),
                                      f"see {kind}.backward"))
            if k > 0:
                lines.append(equation(f"d{source} = {kind}.backward(d{z})",
                                      f"{shape_text(layer.z)} -> {shape_text(layer.x)}"))
    return lines


def _chain_rule_section(layers, step, k, i, j, g, numbers):
    source, z, a, w, b = _names(k)
    x_in, dz = layers[k].x, step["dz"][k]  # (N,D), (N,U)
    lines = title(f"{SECTIONS[3]}: {w}[{i}, {j}] ({layers[k].kernel.path}[{i}, {j}])")
    bias = f" + {b}[{j}]" if layers[k].use_bias else ""
    lines.append(f"{z}[n, {j}] = sum over d of {source}[n, d] * {w}[d, {j}]{bias}, so "
                 f"d{z}[n, {j}] / d{w}[{i}, {j}] = {source}[n, {i}], and")
    lines.append(f"dL/d{w}[{i}, {j}] = sum over the batch of {source}[n, {i}] * d{z}[n, {j}]")
    terms = [float(x_in[n, i]) * float(dz[n, j]) for n in range(len(x_in))]
    for n in range(min(len(terms), MAX_TERMS)):
        lines.append(f"  n = {n}:  {operand(x_in[n, i])} * {operand(dz[n, j])} = {number(terms[n])}")
    if len(terms) > MAX_TERMS:
        lines.append(f"  ... and {len(terms) - MAX_TERMS} more rows")
    total = float(np.sum(terms))
    lines.append(f"  sum = {number(total)}")
    lines.append(f"backprop stored in {layers[k].kernel.path}.grad[{i}, {j}]: {number(g)}")
    lines += _where_dz_comes_from(layers, step, k, j)
    numbers["chain_rule_terms"] = terms
    numbers["chain_rule_sum"] = total
    return lines


def _where_dz_comes_from(layers, step, k, j):
    """One worked entry, d z[0, j], from the step's own numbers."""
    _, z, a, _, _ = _names(k)
    layer, n_rows = layers[k], len(step["y"])
    name = _activation_name(layer)
    if k == len(layers) - 1 and step["fused"]:
        p = float(layer.a[0, j])
        y = step["y"]
        if y.ndim == 1 and layer.a.shape[-1] > 1:  # sparse labels: y[0] is a class index
            target = float(y[0] == j)
        else:
            target = float(np.reshape(y, layer.a.shape)[0, j])
        scale = n_rows * (layer.a.shape[-1] if name == "sigmoid" else 1)
        return [f"where d{z}[0, {j}] = (p - y) / {scale} = ({number(p)} - {target:g}) / {scale} "
                f"= {number(step['dz'][k][0, j])}, p = {name}({z})[0, {j}]"]
    slopes = {"relu": lambda: float(layer.z[0, j] > 0), "linear": lambda: 1.0,
              "tanh": lambda: 1 - float(layer.a[0, j]) ** 2,
              "sigmoid": lambda: float(layer.a[0, j]) * (1 - float(layer.a[0, j]))}
    if name not in slopes:
        return []
    da, dz = step["da"][k][0, j], step["dz"][k][0, j]
    return [f"where d{z}[0, {j}] = d{a}[0, {j}] * {name}'({z}[0, {j}]) = "
            f"{operand(da)} * {number(slopes[name]())} = {number(dz)}"]
