"""Gradient checking: compare backprop's gradients with central differences.

    (f(w + h) - f(w - h)) / (2h)  ~  df/dw,   error O(h**2)

Run it in float64 (`minidl.config.set_floatx("float64")`): in float32 the rounding of f
(about 1e-7 relative) divided by 2h swamps the error being measured.
"""
import warnings

import numpy as np

from minidl import config


def numerical_gradient(f, array, h=1e-6):
    """Central-difference gradient of the scalar f() with respect to `array` (changed in place, then restored)."""
    grad = np.zeros(array.shape, np.float64)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        f_plus = float(f())
        flat[i] = saved - h
        f_minus = float(f())
        flat[i] = saved
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||): 0 for a perfect match, about 1 for unrelated arrays.

    Norms over the whole array, so a tiny entry's O(h**2) truncation error does not
    count as a large relative error.
    """
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    return float(np.linalg.norm(analytic - numeric) / scale)


class GradientCheck:
    """One row per parameter: name, shape, max abs error, relative error, pass/fail."""

    def __init__(self, rows, tolerance):
        self.rows, self.tolerance = rows, tolerance

    @property
    def passed(self):
        return all(row["passed"] for row in self.rows)

    def __str__(self):
        lines = [f"{'parameter':<24}{'shape':<14}{'max abs err':>13}{'rel err':>11}  ok"]
        for r in self.rows:
            lines.append(f"{r['name']:<24}{str(r['shape']):<14}{r['max_abs_error']:>13.3e}"
                         f"{r['relative_error']:>11.3e}  {'yes' if r['passed'] else 'NO'}")
        return "\n".join(lines)

    __repr__ = __str__


def check_gradients(model, x, y, h=1e-6, tolerance=1e-5, atol=1e-9):
    """Check `model.loss_and_gradients(x, y)` against central differences for every weight.

    Returns a GradientCheck; `result.passed` says whether every parameter's relative error
    is below `tolerance` (or, for a gradient that is zero, its absolute error below `atol`).
    """
    if config.floatx() != "float64":
        warnings.warn(
            "check_gradients is running in float32: rounding errors of ~1e-7 / (2h) will "
            "dominate. Call minidl.config.set_floatx('float64') before building the model.",
            stacklevel=2,
        )
    _, grads = model.loss_and_gradients(x, y)
    rows = []
    for variable, grad in zip(model.trainable_weights, grads):
        numeric = numerical_gradient(lambda: model.loss_and_gradients(x, y)[0],
                                     variable.value, h)
        error = relative_error(grad, numeric)
        abs_error = float(np.max(np.abs(grad - numeric)))
        rows.append({"name": variable.path, "shape": variable.shape,
                     "max_abs_error": abs_error, "relative_error": error,
                     "passed": error < tolerance or abs_error < atol})
    return GradientCheck(rows, tolerance)
