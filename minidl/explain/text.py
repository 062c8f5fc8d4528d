"""Writing numbers and equations for explain_step: shapes, 7 significant digits, columns."""
import textwrap


# -- the text, section by section ------------------------------------------------------------

def shape_text(array_or_shape):
    """(4,2) or (64,): a shape without spaces."""
    shape = getattr(array_or_shape, "shape", array_or_shape)
    inside = ",".join(str(d) for d in shape)
    return f"({inside},)" if len(shape) == 1 else f"({inside})"


def number(value, digits=7):
    """A number with 7 significant digits (and no "-0")."""
    return f"{float(value) + 0.0:.{digits}g}"


def operand(value, digits=7):
    """number, in parentheses when negative: for numbers substituted into a formula."""
    text = number(value, digits)
    return f"({text})" if text.startswith("-") else text


def title(text):
    return ["", text, "-" * len(text)]


def prose(text):
    """A paragraph wrapped to 92 columns, as a list of lines."""
    return textwrap.wrap(text, 92)


def equation(left, right, note=""):
    """One equation line: the formula, then its shapes in a column, then a short note."""
    line = f"  {left}".ljust(40) + f": {right}"
    return line + f"   {note}" if note else line


def matmul_shapes(a, b, bias=None):
    """'(4,2) @ (2,64) + (64,) -> (4,64)' for a (N,D) @ (D,U) product."""
    (n, d), (_, u) = a, b
    text = f"({n},{d}) @ ({d},{u})" + (f" + ({bias},)" if bias else "")
    return f"{text} -> ({n},{u})"
