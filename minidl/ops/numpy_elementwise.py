"""More element-wise NumPy-named ops: trigonometry, hyperbolic functions, rounding and
sign tests, two-argument functions (arctan2, hypot, logaddexp, fmod, ...), integer and
bitwise functions, closeness tests.

Dtypes as keras.ops on TensorFlow (keras/src/backend/tensorflow/numpy.py): a function that
needs a float turns ints and bools into float32, except where that file keeps int64's width
(cbrt, deg2rad, rad2deg, hypot, heaviside, i0: int64 -> float64; see `_float_wide`).
"""
import numpy as np

from minidl import config
from minidl.ops.core import _as, _float_type, convert_to_tensor, result_type


def _float(x):
    """x as an array of floats: ints and bools become float32 (floatx)."""
    x = convert_to_tensor(x)
    return x.astype(_float_type(x), copy=False)


def _float_wide(*xs):
    """xs as floats of Keras's dtype where int64 keeps its width: int64 -> float64, other
    ints and bools -> float32, floats as result_type."""
    dtype = result_type(*xs)
    if dtype.kind in "iub":
        dtype = np.dtype(np.float64 if dtype == np.int64 else config.floatx())
    return _as(xs, dtype)


def _floats(x1, x2):
    """Both as floats of one dtype (Keras's result_type(x1, x2, float))."""
    return _as((x1, x2), _float_type(x1, x2))


# -- trigonometric and hyperbolic functions -------------------------------------------------
def tan(x):
    return np.tan(_float(x))


def arcsin(x):
    return np.arcsin(_float(x))


def arccos(x):
    return np.arccos(_float(x))


def arctan(x):
    return np.arctan(_float(x))


def sinh(x):
    return np.sinh(_float(x))


def cosh(x):
    return np.cosh(_float(x))


def arcsinh(x):
    return np.arcsinh(_float(x))


def arccosh(x):
    return np.arccosh(_float(x))


def arctanh(x):
    return np.arctanh(_float(x))


def arctan2(x1, x2):
    """The angle of the point (x2, x1), in (-pi, pi]."""
    return np.arctan2(*_floats(x1, x2))


def hypot(x1, x2):
    """sqrt(x1**2 + x2**2) without overflow."""
    return np.hypot(*_float_wide(x1, x2))


def deg2rad(x):
    x, = _float_wide(x)
    return x * x.dtype.type(np.pi / 180)


def rad2deg(x):
    x, = _float_wide(x)
    return x * x.dtype.type(180 / np.pi)


def sinc(x):
    """sin(pi x) / (pi x), and 1 at x = 0."""
    return np.sinc(_float(x))


def angle(x):
    """The complex argument: pi for negative reals, 0 otherwise."""
    x = _float(x)
    return np.angle(x).astype(x.dtype, copy=False)


# -- powers, logarithms and special functions ------------------------------------------------
def cbrt(x):
    """The real cube root: sign(x) * |x|**(1/3)."""
    x, = _float_wide(x)
    return np.cbrt(x)


def exp2(x):
    return np.exp2(_float(x))


def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)), computed as max + log1p(exp(-|x1 - x2|))."""
    return np.logaddexp(*_floats(x1, x2))


def logaddexp2(x1, x2):
    """log2(2**x1 + 2**x2)."""
    return np.logaddexp2(*_floats(x1, x2))


def i0(x):
    """The modified Bessel function of the first kind, order 0."""
    x = convert_to_tensor(x)
    dtype = np.float64 if x.dtype in (np.int64, np.float64) else config.floatx()
    return np.i0(x.astype(dtype)).astype(dtype, copy=False)


def ldexp(x1, x2):
    """x1 * 2**x2, x2 an integer array."""
    x2 = convert_to_tensor(x2)
    if x2.dtype.kind not in "iu":
        raise TypeError(f"ldexp exponent must be an integer type. Received: x2 dtype={x2.dtype}")
    x1 = np.asarray(convert_to_tensor(x1), _float_type(x1, x2))
    return (x1 * np.power(x1.dtype.type(2), x2.astype(x1.dtype))).astype(x1.dtype, copy=False)


def nextafter(x1, x2):
    """The next float after x1 towards x2 (computed in float64, as Keras does)."""
    dtype = _float_type(x1, x2)
    x1, x2 = _as((x1, x2), np.float64)
    return np.nextafter(x1, x2).astype(dtype)


# -- rounding, signs and parts --------------------------------------------------------------
def fabs(x):
    return np.abs(_float(x))


def trunc(x):
    """Rounded toward zero; ints and bools unchanged."""
    x = convert_to_tensor(x)
    return x if x.dtype.kind in "iub" else np.trunc(x)


def signbit(x):
    """Whether the sign bit is set (True for -0.0)."""
    return np.signbit(convert_to_tensor(x))


def isneginf(x):
    return np.isneginf(convert_to_tensor(x))


def isposinf(x):
    return np.isposinf(convert_to_tensor(x))


def isreal(x):
    return np.ones(np.shape(convert_to_tensor(x)), bool)


def _not_bool(x, name):
    x = convert_to_tensor(x)
    if x.dtype == bool:
        raise TypeError(f"`{name}` does not accept bool inputs. Received: x dtype=bool")
    return x


def real(x):
    return _not_bool(x, "real").copy()


def imag(x):
    x = convert_to_tensor(x)
    return np.zeros_like(x)


def conj(x):
    return _not_bool(x, "conj").copy()


conjugate = conj


# -- two-argument functions -------------------------------------------------------------------
def fmod(x1, x2):
    """The remainder of x1 / x2 with x1's sign (C's fmod; bools count as int32)."""
    dtype = result_type(x1, x2)
    dtype = np.dtype(np.int32) if dtype == bool else dtype
    x1, x2 = _as((x1, x2), dtype)
    return np.fmod(x1, x2)


def fmax(x1, x2):
    """The larger of x1 and x2, where a NaN loses to a number."""
    return np.fmax(*_as((x1, x2), result_type(x1, x2)))


def fmin(x1, x2):
    """The smaller of x1 and x2, where a NaN loses to a number."""
    return np.fmin(*_as((x1, x2), result_type(x1, x2)))


def heaviside(x1, x2):
    """0 where x1 < 0, 1 where x1 > 0, x2 where x1 == 0."""
    return np.heaviside(*_float_wide(x1, x2))


def _integers(x1, x2, name):
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    if x1.dtype.kind not in "iu":
        raise TypeError(f"Arguments to {name} must be integers.")
    return x1, x2


def gcd(x1, x2):
    return np.gcd(*_integers(x1, x2, "gcd"))


def lcm(x1, x2):
    return np.lcm(*_integers(x1, x2, "lcm"))


def bitwise_and(x, y):
    return np.bitwise_and(*_as((x, y), result_type(x, y)))


def bitwise_or(x, y):
    return np.bitwise_or(*_as((x, y), result_type(x, y)))


def bitwise_xor(x, y):
    return np.bitwise_xor(*_as((x, y), result_type(x, y)))


def bitwise_invert(x):
    """~x for integer arrays."""
    x = convert_to_tensor(x)
    if x.dtype.kind not in "iu":
        raise TypeError(f"bitwise_invert expects an integer array. Received: x dtype={x.dtype}")
    return np.invert(x)


bitwise_not = bitwise_invert


def bitwise_left_shift(x, y):
    return np.left_shift(*_as((x, y), result_type(x, y)))


def bitwise_right_shift(x, y):
    return np.right_shift(*_as((x, y), result_type(x, y)))


left_shift, right_shift = bitwise_left_shift, bitwise_right_shift


# -- closeness ----------------------------------------------------------------------------------
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """|x1 - x2| <= atol + rtol * |x2| for floats (equality for ints), element-wise.

    Keras tests x1 == x2 only through the formula, so inf == inf is False there
    (keras/src/backend/tensorflow/numpy.py::isclose).
    """
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    if x1.dtype.kind != "f":
        return np.equal(x1, x2)
    with np.errstate(invalid="ignore"):
        close = np.abs(x1 - x2) <= atol + rtol * np.abs(x2)
    return close | (np.isnan(x1) & np.isnan(x2)) if equal_nan else close


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every pair is close (isclose), or equal (so inf == inf counts)."""
    x1, x2 = _as((x1, x2), result_type(x1, x2))
    if x1.dtype.kind != "f":
        return np.all(np.equal(x1, x2))
    with np.errstate(invalid="ignore"):
        close = np.isfinite(x1) & np.isfinite(x2) & (np.abs(x1 - x2) <= atol + rtol * np.abs(x2))
    close |= x1 == x2
    return np.all(close | (np.isnan(x1) & np.isnan(x2)) if equal_nan else close)
