"""The activations beyond a first network's five, each a forward function and its backward.

`minidl.activations` re-exports every one of them (`minidl.activations.gelu`) and resolves
their Keras names ("gelu", "leaky_relu", "hard_swish"...); this file only holds the maths.
Each is written with TensorFlow's formula (keras/src/backend/tensorflow/nn.py and the
TensorFlow kernels it calls), so float32 results agree with Keras to rounding.

Forward: `a = f(z)`. Backward: `dz = f_backward(da, z, a)`; the extra arguments of a
parametrised activation (leaky_relu's negative_slope, elu's alpha, gelu's approximate) have
the same defaults in both, so `f_backward(da, z, a)` is the partner of `f(z)`.

Shapes: z, a, da, dz all have the same shape (N, U), or any shape: every function here is
elementwise.
"""
import numpy as np

# -- piecewise linear: relu's relatives ----------------------------------------------------


def relu6(x):
    """relu capped at 6: f(z) = min(max(z, 0), 6)."""
    return np.minimum(np.maximum(x, 0), 6)


def relu6_backward(da, z, a):
    """f'(z) = 1 where 0 < z < 6, else 0 (0 at both kinks, as TensorFlow's Relu6Grad)."""
    return da * ((z > 0) & (z < 6))


def leaky_relu(x, negative_slope=0.2):
    """Leaky relu: f(z) = z where z > 0, else negative_slope * z.

    Args:
        negative_slope: the slope left of 0. The function's default is 0.2, as
            keras.activations.leaky_relu; the LeakyReLU layer's default is 0.3.
    """
    return np.where(x > 0, x, x * negative_slope)


def leaky_relu_backward(da, z, a, negative_slope=0.2):
    """f'(z) = 1 where z > 0, else negative_slope (TensorFlow's LeakyReluGrad)."""
    return np.where(z > 0, da, da * negative_slope)


def hard_sigmoid(x):
    """A piecewise linear sigmoid: f(z) = relu6(z + 3) / 6, i.e. 0, then z/6 + 1/2, then 1.

    TensorFlow divides by 6; the graph that Keras's fit and predict run multiplies by
    1/6 instead (TensorFlow's graph optimizer rewrites the division), and so does minidl.
    """
    return relu6(x + 3) * (1 / 6)


def hard_sigmoid_backward(da, z, a):
    """f'(z) = 1/6 where -3 < z < 3, else 0."""
    return relu6_backward(da * (1 / 6), z + 3, None)


def hard_silu(x):
    """Hard SiLU (hard swish): f(z) = z * hard_sigmoid(z)."""
    return x * hard_sigmoid(x)


def hard_silu_backward(da, z, a):
    """f'(z) = hard_sigmoid(z) + z * hard_sigmoid'(z), by the product rule."""
    return da * hard_sigmoid(z) + hard_sigmoid_backward(da * z, z, None)


# -- built on exp and log ------------------------------------------------------------------


def elu(x, alpha=1.0):
    """Exponential linear unit: f(z) = z where z > 0, else alpha * (exp(z) - 1).

    Formula:
        f(z) = z                          z > 0
        f(z) = alpha * (exp(z) - 1)       z <= 0   # exp of min(z, 0): never overflows
    TensorFlow's Elu kernel computes exp(z) - 1, not expm1(z), so near 0 both carry the
    same ~6e-8 absolute rounding error; minidl keeps TensorFlow's form to keep its numbers.
    """
    negative = np.exp(np.minimum(x, 0)) - 1
    return np.where(x > 0, x, negative if alpha == 1 else alpha * negative)


def elu_backward(da, z, a, alpha=1.0):
    """f'(z) = 1 where z > 0, else alpha * exp(z) = a + alpha (from the output, as EluGrad)."""
    return np.where(z > 0, da, da * (a + alpha))


# SELU's constants, as TensorFlow's Selu kernel writes them (Klambauer et al., 2017).
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123  # scale * alpha, alpha = 1.6732632...


def selu(x):
    """Scaled elu: f(z) = scale * z where z >= 0, else scale * alpha * (exp(z) - 1)."""
    return np.where(x < 0, SELU_SCALE_ALPHA * (np.exp(np.minimum(x, 0)) - 1), x * SELU_SCALE)


def selu_backward(da, z, a):
    """f'(z) = scale * alpha * exp(z) = a + scale * alpha where a < 0, else scale.

    As TensorFlow's SeluGrad, the branch is chosen by the output: a z so close to 0 that
    a rounds to 0 (and z = 0, the kink) takes the right-hand slope.
    """
    return np.where(a < 0, da * (a + SELU_SCALE_ALPHA), da * SELU_SCALE)


def softplus(x):
    """Softplus, a smooth relu: f(z) = log(1 + exp(z)), computed as logaddexp(0, z).

    logaddexp never overflows; it agrees with TensorFlow's Softplus kernel (which switches
    to z or exp(z) past |z| ~ 14) to a few float32 ulps.
    """
    return np.logaddexp(0, x)


def softplus_backward(da, z, a):
    """f'(z) = sigmoid(z) = 1 - exp(-a), from the output: exp(-a) = 1 / (1 + exp(z)).

    Formula:
        dz = da * -expm1(-a)             # expm1 keeps the digits of a tiny sigmoid(z)
    """
    return da * -np.expm1(-a)


def softsign(x):
    """Softsign, a slow-saturating tanh: f(z) = z / (1 + |z|)."""
    return x / (1 + np.abs(x))


def softsign_backward(da, z, a):
    """f'(z) = 1 / (1 + |z|)**2 (TensorFlow's SoftsignGrad)."""
    return da / np.square(1 + np.abs(z))


def exponential(x):
    """f(z) = exp(z)."""
    return np.exp(x)


def exponential_backward(da, z, a):
    """f'(z) = exp(z) = a."""
    return da * a


# -- gelu and the error function -----------------------------------------------------------


def gelu(x, approximate=False):
    """Gaussian error linear unit: f(z) = z * P(X <= z) for X ~ N(0, 1).

    Formula (TensorFlow's tf.nn.gelu, operation for operation):
        exact:        f(z) = 0.5 * z * erfc(-z / sqrt(2))
        approximate:  f(z) = 0.5 * z * (1 + tanh(sqrt(2/pi) * (z + 0.044715 * z**3)))
    keras.activations.gelu is exact by default (the backend's default is approximate).
    """
    if approximate:
        inner = 0.7978845608028654 * (x + 0.044715 * x**3)  # sqrt(2/pi) = 0.797...
        return 0.5 * x * (1 + np.tanh(inner))
    return 0.5 * x * erfc(-x * 0.7071067811865476)  # 1/sqrt(2) = 0.707...


def gelu_backward(da, z, a, approximate=False):
    """f'(z), with the inner erfc or tanh computed again (backward receives only z and a).

    Formula:
        exact:        f'(z) = Phi(z) + z * exp(-z**2 / 2) / sqrt(2 pi)
                      Phi(z) = 0.5 * erfc(-z / sqrt(2)), the normal distribution function
        approximate:  t = tanh(u), u = sqrt(2/pi) * (z + 0.044715 z**3)
                      f'(z) = 0.5 (1 + t) + 0.5 z (1 - t**2) sqrt(2/pi) (1 + 3 * 0.044715 z**2)
    """
    if approximate:
        t = np.tanh(0.7978845608028654 * (z + 0.044715 * z**3))
        du = 0.7978845608028654 * (1 + 0.134145 * z * z)  # du/dz; 0.134145 = 3 * 0.044715
        return da * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du)
    cdf = 0.5 * erfc(-z * 0.7071067811865476)
    pdf = np.exp(-0.5 * z * z) * 0.3989422804014327  # 1/sqrt(2 pi) = 0.398...
    return da * (cdf + z * pdf)


# W. J. Cody's rational approximations of erf and erfc (Math. Comp. 23, 1969, pp. 631-637;
# the coefficients of his later CALERF routine), accurate to float64 rounding. Each
# tuple is a polynomial, highest power first.
_ERF_NUM = (1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
            3.77485237685302021e02, 3.20937758913846947e03)
_ERF_DEN = (1.0, 2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
            2.84423683343917062e03)
_ERFC_MID_NUM = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
                 6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
                 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03)
_ERFC_MID_DEN = (1.0, 1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                 3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_TAIL_NUM = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
                  1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)
_ERFC_TAIL_DEN = (1.0, 2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
                  6.05183413124413191e-2, 2.33520497626869185e-3)


def erfc(x):
    """The complementary error function: erfc(z) = 1 - erf(z) = 2/sqrt(pi) * int_z^inf exp(-t**2) dt.

    NumPy has no erf. TensorFlow's float32 Erfc is Eigen's polynomial, a few ulps from the
    exact value; math.erfc applied element by element is exact but ~300 times slower than
    np.exp. This is Cody's approximation, vectorised: computed in float64, returned in
    x's float dtype (so a float32 result is the exact value rounded once). float64 exp is
    the main cost: about half a (64,512)@(512,512) product for a (64,512) batch.

    Formula (y = |z|; P, Q polynomials):
        y <= 0.46875:      erfc(z) = 1 - z * P1(z**2) / Q1(z**2)
        0.46875 < y <= 4:  erfc(y) = exp(-y**2) * P2(y) / Q2(y)
        y > 4:             erfc(y) = exp(-y**2) / y * (1/sqrt(pi) - P3(1/y**2) / (y**2 Q3(1/y**2)))
        z < 0:             erfc(z) = 2 - erfc(-z)
    """
    x = np.asarray(x)
    z = x.astype(np.float64)
    y = np.abs(z)
    result = np.empty_like(z)
    small, tail = y <= 0.46875, y > 4.0
    mid = ~(small | tail)
    s = z[small]
    result[small] = 1 - s * _polynomial(_ERF_NUM, s * s) / _polynomial(_ERF_DEN, s * s)
    m = y[mid]
    result[mid] = np.exp(-m * m) * _polynomial(_ERFC_MID_NUM, m) / _polynomial(_ERFC_MID_DEN, m)
    if tail.any():
        t = y[tail]
        r = 1 / (t * t)
        series = r * _polynomial(_ERFC_TAIL_NUM, r) / _polynomial(_ERFC_TAIL_DEN, r)
        result[tail] = np.exp(-t * t) / t * (0.5641895835477563 - series)  # 1/sqrt(pi)
    flip = (z < 0) & ~small  # the small range already used the sign of z
    result[flip] = 2 - result[flip]
    return result.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


def _polynomial(coefficients, x):
    """c0 * x**n + c1 * x**(n-1) + ... + cn by Horner's rule, in place (np.polyval, faster)."""
    result = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result *= x
        result += c
    return result
