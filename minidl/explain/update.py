"""The optimizer section of explain_step: the update formula with the step's real numbers."""
import numpy as np

from minidl import optimizers
from minidl.explain.text import number, operand, title

# Each optimizer's slots, by the letter its formula uses.
_SLOTS = {
    optimizers.SGD: {"m": "momentum"},
    optimizers.RMSprop: {"v": "velocity", "mom": "momentum", "a": "average_gradient"},
    optimizers.Adam: {"m": "momentum", "v": "velocity", "v_hat": "velocity_hat"},
}


def slots_of(optimizer, position, i, j):
    """{letter: value} of every slot the optimizer keeps for entry [i, j] of one variable.

    Before the first step the optimizer has no slots yet: it creates them, zero-filled, in
    its first `apply`. Their value before that step is 0.
    """
    slots = {}
    for letter, name in _SLOTS.get(type(optimizer), {}).items():
        if not optimizer.built:
            slots[letter] = 0.0
        elif optimizer.slot(name, position) is not None:
            slots[letter] = float(optimizer.slot(name, position)[i, j])
    return slots


def optimizer_section(heading, optimizer, kernel, k, i, j, numbers):
    """The update of weight W_k[i, j]: its formula with the step's numbers substituted."""
    w_symbol = f"W{k}[{i}, {j}]"
    lines = title(f"{heading}: {type(optimizer).__name__}")
    lr, g = numbers["learning_rate"], numbers["gradient_used"]
    before, after = numbers["slots_before"], numbers["slots_after"]
    w0, w1 = numbers["weight_before"], numbers["weight_after"]
    lines.append(f"g = dL/d{w_symbol} = {number(g)};  learning_rate = {number(lr)};  "
                 f"this is update t = {numbers['iteration']}")
    clipping = (optimizer.clipnorm, optimizer.clipvalue, optimizer.global_clipnorm)
    if any(c is not None for c in clipping):
        lines.append("Gradient clipping is on: g is the clipped gradient the update used.")
    if numbers["slots_created"] and after:
        lines.append("The optimizer created its slots, zero-filled, at this first step.")
    if isinstance(optimizer, optimizers.Adam):
        lines += _adam_lines(optimizer, w_symbol, g, lr, before, after, w0, w1, numbers,
                             kernel.dtype)
    elif isinstance(optimizer, optimizers.RMSprop):
        lines += _rmsprop_lines(optimizer, w_symbol, g, lr, before, after, w0, w1)
    elif isinstance(optimizer, optimizers.SGD):
        lines += _sgd_lines(optimizer, w_symbol, g, lr, before, after, w0, w1)
    lines.append(f"{w_symbol}: {number(w0, 8)} before the step, {number(w1, 8)} after "
                 f"(read back from {kernel.path})")
    for letter in after:
        lines.append(f"slot {letter}: {number(before[letter])} before, {number(after[letter])} after")
    return lines


def _sgd_lines(opt, w, g, lr, before, after, w0, w1):
    if not opt.momentum:
        return ["w = w - learning_rate * g",
                f"{w} = {operand(w0, 8)} - {operand(lr)} * {operand(g)} = {number(w1, 8)}"]
    mu = opt.momentum
    lines = ["m = momentum * m - learning_rate * g   (a velocity)",
             f"m = {operand(mu)} * {operand(before['m'])} - {operand(lr)} * {operand(g)} = {number(after['m'])}"]
    if opt.nesterov:
        lines += ["w = w + momentum * m - learning_rate * g   (Nesterov, with the new m)",
                  f"{w} = {operand(w0, 8)} + {operand(mu)} * {operand(after['m'])} - {operand(lr)} * {operand(g)} "
                  f"= {number(w1, 8)}"]
    else:
        lines += ["w = w + m", f"{w} = {operand(w0, 8)} + {operand(after['m'])} = {number(w1, 8)}"]
    return lines


def _rmsprop_lines(opt, w, g, lr, before, after, w0, w1):
    rho, eps = opt.rho, opt.epsilon
    lines = ["v = rho * v + (1 - rho) * g**2",
             f"v = {operand(rho)} * {operand(before['v'])} + {operand(1 - rho)} * {operand(g)}**2 = {number(after['v'])}"]
    if opt.centered or opt.momentum > 0:
        lines += ["centered/momentum: see RMSprop.update_step in optimizers/rmsprop.py for the rest",
                  "of the update; the slots below show its real values."]
        return lines
    lines += ["w = w - learning_rate * g / sqrt(v + epsilon)",
              f"{w} = {operand(w0, 8)} - {operand(lr)} * {operand(g)} / sqrt({operand(after['v'])} + {eps:g}) "
              f"= {number(w1, 8)}",
              "Keras puts epsilon INSIDE the square root (keras/src/optimizers/rmsprop.py);",
              "the textbook adds it outside: g / (sqrt(v) + epsilon)."]
    return lines


def _adam_lines(opt, w, g, lr, before, after, w0, w1, numbers, dtype):
    b1, b2, eps, t = opt.beta_1, opt.beta_2, opt.epsilon, numbers["iteration"]
    # alpha exactly as Adam.update_step computes it, in the weights' float type: there
    # 1 - beta_2**t loses digits, so a float64 alpha would differ in the 5th digit.
    dtype = np.dtype(dtype)
    beta_1, beta_2 = optimizers.constants(dtype, b1, b2)
    beta_1_power, beta_2_power = optimizers.constants(dtype, float(beta_1) ** t,
                                                      float(beta_2) ** t)
    alpha = optimizers.constants(dtype, lr)[0] * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    numbers["alpha"] = float(alpha)
    v = "v_hat" if opt.amsgrad else "v"
    lines = [
        "m = m + (g - m) * (1 - beta_1)              (= beta_1 * m + (1 - beta_1) * g)",
        f"m = {operand(before['m'])} + ({operand(g)} - {operand(before['m'])}) * {operand(1 - b1)} = {number(after['m'])}",
        "v = v + (g**2 - v) * (1 - beta_2)",
        f"v = {operand(before['v'])} + ({operand(g)}**2 - {operand(before['v'])}) * {operand(1 - b2)} "
        f"= {number(after['v'])}",
    ]
    if opt.amsgrad:
        lines.append(f"v_hat = max(v_hat, v) = max({operand(before['v_hat'])}, {operand(after['v'])}) "
                     f"= {number(after['v_hat'])}")
    lines += [
        "alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)"
        f"   (in {np.dtype(dtype).name}, as the update computes it)",
        f"alpha = {operand(lr)} * sqrt(1 - {b2:g}**{t}) / (1 - {b1:g}**{t}) = {number(alpha)}",
        f"w = w - m * alpha / (sqrt({v}) + epsilon)",
        f"{w} = {operand(w0, 8)} - {operand(after['m'])} * {number(alpha)} / "
        f"(sqrt({operand(after[v])}) + {eps:g}) = {number(w1, 8)}",
        "Keras folds the bias correction into alpha, so its epsilon is not bias-corrected "
        "(\"epsilon hat\",",
        "keras/src/optimizers/adam.py); the paper divides m_hat by sqrt(v_hat) + epsilon.",
    ]
    return lines
