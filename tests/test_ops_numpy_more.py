"""The rest of keras.ops.numpy against Keras: values, dtypes, errors, and the derivatives of
those recorded for backpropagation against tf.GradientTape.

Tolerances (stated once, used below):
- exact (assert_array_equal) for everything that only moves, compares, counts or rounds
  values (shapes, joins, flips, integer and bool results, trunc, sign tests, ...);
- float32 rounding for computed floats: rtol 1e-6, atol 1e-6 (a few ulps of float32's
  1.2e-7, since NumPy and TensorFlow evaluate sin, cbrt, ... with different roundings);
  1e-5 where Keras's formula differs from NumPy's (quantile's interpolation, hypot as
  max * sqrt(1 + r**2), trapezoid, corrcoef): a handful of float32 operations more;
- gradients: rtol 1e-5, atol 1e-6 (float32 both sides, the same formula up to rearranging).
"""
import functools

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from keras import ops as kops
from minidl import ops
from minidl.ops import backprop, numpy_elementwise
from minidl.tape import Tape
from minidl.testing import check_gradients
from tests.parity import assert_same_fit, assert_same_loss_and_gradients
from tests.test_ops import assert_same

RNG = np.random.default_rng(0)
F32 = RNG.normal(size=(4, 3)).astype(np.float32)
F32B = RNG.normal(size=(4, 3)).astype(np.float32)
SQ = RNG.normal(size=(3, 3)).astype(np.float32)
CUBE = RNG.normal(size=(2, 3, 4)).astype(np.float32)
UNIT = RNG.uniform(-0.9, 0.9, size=(4, 3)).astype(np.float32)
BIG = RNG.uniform(1.1, 3.0, size=(4, 3)).astype(np.float32)
POS = (RNG.random((4, 3)) + 0.1).astype(np.float32)
F64 = RNG.normal(size=(4, 3))
I32 = RNG.integers(-5, 5, size=(4, 3)).astype(np.int32)
I32B = RNG.integers(1, 5, size=(4, 3)).astype(np.int32)
I64 = RNG.integers(-5, 5, size=(4, 3))
B = RNG.random((4, 3)) > 0.5
V = RNG.normal(size=(5,)).astype(np.float32)
W = RNG.normal(size=(3,)).astype(np.float32)
COUNTS = np.int32([0, 3, 1, 3, 3, 5])
NANS = np.float32([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [-2.0, 0.5, np.nan]])
SPECIAL = np.float32([-np.inf, -1.5, -0.0, 0.0, 0.5, np.inf, np.nan])

CASES = [
    # element-wise functions of one array
    ("tan", (UNIT,), {}), ("tan", (I32,), {}), ("arcsin", (UNIT,), {}), ("arccos", (UNIT,), {}),
    ("arctan", (F32,), {}), ("arctan", (I64,), {}), ("sinh", (F32,), {}), ("cosh", (F32,), {}),
    ("sinh", (B,), {}), ("arcsinh", (F32,), {}), ("arccosh", (BIG,), {}),
    ("arctanh", (UNIT,), {}), ("cbrt", (F32,), {}), ("cbrt", (I32,), {}), ("cbrt", (I64,), {}),
    ("exp2", (F32,), {}), ("exp2", (I32,), {}), ("fabs", (F32,), {}), ("fabs", (I32,), {}),
    ("deg2rad", (F32 * 90,), {}), ("deg2rad", (I64,), {}), ("rad2deg", (F32,), {}),
    ("sinc", (F32,), {}), ("i0", (F32,), {}), ("i0", (I64,), {}), ("angle", (F32,), {}),
    ("trunc", (F32 * 3,), {}), ("trunc", (I32,), {}), ("trunc", (B,), {}),
    ("signbit", (SPECIAL,), {}), ("signbit", (I32,), {}), ("isneginf", (SPECIAL,), {}),
    ("isposinf", (SPECIAL,), {}), ("isreal", (F32,), {}), ("real", (I32,), {}),
    ("imag", (F32,), {}), ("conj", (F32,), {}), ("conjugate", (I64,), {}),
    # element-wise functions of two arrays
    ("arctan2", (F32, F32B), {}), ("arctan2", (I32, 2), {}), ("hypot", (F32, F32B), {}),
    ("hypot", (I32, I32B), {}), ("hypot", (I64, I64), {}), ("logaddexp", (F32, F32B), {}),
    ("logaddexp", (F32, 2.0), {}), ("logaddexp", (I32, I32B), {}),
    ("logaddexp2", (F32, F32B), {}), ("fmod", (I32, I32B), {}), ("fmod", (F32 * 5, POS), {}),
    ("fmod", (B, I32B), {}), ("fmax", (NANS, F32[:3]), {}), ("fmin", (NANS, 0.5), {}),
    ("fmax", (I32, I64), {}), ("heaviside", (F32, 0.5), {}), ("heaviside", (I32, I32B), {}),
    ("ldexp", (F32, I32), {}), ("nextafter", (F32, F32B), {}), ("gcd", (I32, I32B), {}),
    ("lcm", (I32, I32B), {}), ("bitwise_and", (I32, I32B), {}), ("bitwise_or", (I32, 6), {}),
    ("bitwise_xor", (I64, I32B), {}), ("bitwise_invert", (I32,), {}),
    ("bitwise_not", (I64,), {}), ("bitwise_left_shift", (I32B, I32B), {}),
    ("bitwise_right_shift", (I32 * 16, I32B), {}), ("left_shift", (I32B, 2), {}),
    ("right_shift", (I32B * 8, 2), {}),
    ("isclose", (F32, F32 + 1e-6), {}), ("isclose", (SPECIAL, SPECIAL), {}),
    ("isclose", (SPECIAL, SPECIAL), {"equal_nan": True}), ("isclose", (I32, I64), {}),
    ("isclose", (F32, F32B), {"atol": 1.0}), ("allclose", (F32, F32 + 1e-6), {}),
    ("allclose", (SPECIAL[:-1], SPECIAL[:-1]), {}), ("allclose", (F32, F32B), {}),
    ("allclose", (SPECIAL, SPECIAL), {"equal_nan": True}),
    # shapes
    ("split", (F32, 2), {}), ("split", (F32, [1, 3]), {}), ("split", (F32, 3), {"axis": 1}),
    ("array_split", (F32, 3), {}), ("array_split", (CUBE, 3), {"axis": -1}),
    ("hsplit", (F32, 3), {}), ("vsplit", (F32, [1]), {}), ("dsplit", (CUBE, 2), {}),
    ("hstack", ([F32, I32],), {}), ("hstack", ([V, W],), {}), ("vstack", ([F32, F32B],), {}),
    ("vstack", ([W, V],), {}), ("dstack", ([F32, I64],), {}), ("dstack", ([V, V],), {}),
    ("append", (F32, F32B), {}), ("append", (F32, I32), {"axis": 1}),
    ("pad", (F32, ((1, 1), (1, 1))), {}), ("pad", (F32, ((1, 2), (0, 1))), {"constant_values": 2.5}),
    ("pad", (I32, ((2, 1), (2, 2))), {"mode": "reflect"}),
    ("pad", (F32, ((3, 1), (1, 2))), {"mode": "symmetric"}),
    ("moveaxis", (CUBE, 0, -1), {}), ("moveaxis", (CUBE, [0, 1], [2, 0]), {}),
    ("swapaxes", (CUBE, 0, 2), {}), ("ravel", (CUBE,), {}), ("ravel", (B,), {}),
    ("roll", (F32, 2), {}), ("roll", (F32, -1), {"axis": 1}),
    ("roll", (CUBE, (1, 2)), {"axis": (0, 2)}), ("flipud", (F32,), {}), ("fliplr", (I32,), {}),
    ("rot90", (F32,), {}), ("rot90", (CUBE,), {"k": 3, "axes": (1, 2)}),
    ("rot90", (F32,), {"k": -1}),
    ("tril", (F32,), {}), ("tril", (CUBE,), {"k": 1}), ("triu", (SQ,), {"k": -1}),
    ("triu", (B,), {}), ("diag", (V,), {}), ("diag", (W,), {"k": -1}), ("diag", (F32,), {}),
    ("diag", (F32,), {"k": 1}), ("diagflat", (F32,), {}), ("diagflat", (W,), {"k": 2}),
    ("diagonal", (F32,), {}), ("diagonal", (CUBE,), {"offset": 1, "axis1": 1, "axis2": 2}),
    ("diagonal", (CUBE,), {"axis1": 0, "axis2": 2}), ("trace", (SQ,), {}),
    ("trace", (CUBE,), {"offset": -1, "axis1": 1, "axis2": 2}), ("trace", (I32,), {}),
    ("trace", (B,), {}), ("get_item", (F32, 1), {}), ("get_item", (CUBE, (0, slice(1, 3))), {}),
    ("unravel_index", (np.int32([0, 5, 11]), (4, 3)), {}),
    ("unravel_index", (np.int64([[1, 7]]), (2, 2, 2)), {}),
    ("meshgrid", (V, W), {}), ("meshgrid", (V, W), {"indexing": "ij"}),
    ("view", (F32, "int32"), {}), ("slogdet", (SQ,), {}), ("slogdet", (CUBE[:, :3, :3],), {}),
    # products
    ("einsum", ("ij,jk->ik", F32, F32B.T), {}), ("einsum", ("bi,bi->b", F32, F32B), {}),
    ("einsum", ("ijk->kj", CUBE), {}), ("einsum", ("ii", SQ), {}), ("einsum", ("ij,jk", F32, SQ), {}),
    ("einsum", ("...j,jk->...k", CUBE, F32), {}), ("einsum", ("i,j->ij", I32[0], I32B[0]), {}),
    ("outer", (V, W), {}), ("outer", (F32, I32[0]), {}), ("inner", (F32, F32B), {}),
    ("inner", (V, V), {}), ("inner", (I32, I32B), {}), ("inner", (F32, 2.0), {}),
    ("vdot", (F32, F32B), {}), ("vdot", (I32, I32B), {}), ("kron", (SQ, F32[:2, :2]), {}),
    ("kron", (I32[0], I32B[1]), {}), ("cross", (F32, F32B), {}), ("cross", (F32[:, :2], F32B), {}),
    ("cross", (F32.T, F32B.T), {"axis": 0}),
    # statistics
    ("median", (F32,), {}), ("median", (F32,), {"axis": 0}), ("median", (I32,), {"axis": 1}),
    ("median", (CUBE,), {"axis": (0, 2), "keepdims": True}),
    ("quantile", (F32, 0.3), {}), ("quantile", (F32, [0.1, 0.9]), {"axis": 1}),
    ("quantile", (CUBE, 0.25), {"axis": -1, "method": "lower"}),
    ("quantile", (CUBE, 0.25), {"axis": 1, "method": "higher"}),
    ("quantile", (F32, 0.5), {"axis": 0, "method": "midpoint"}),
    ("quantile", (F32, 0.4), {"axis": 1, "method": "nearest", "keepdims": True}),
    ("percentile", (F32, 75), {}), ("percentile", (I64, [10, 50]), {"axis": 0}),
    ("average", (F32,), {}), ("average", (F32,), {"axis": 1}),
    ("average", (F32, 0), {"weights": POS[:, 0]}), ("average", (F32,), {"weights": POS}),
    ("average", (I32,), {"axis": 1, "weights": I32B}), ("ptp", (F32,), {}),
    ("ptp", (I32,), {"axis": 0}), ("ptp", (CUBE,), {"axis": 1, "keepdims": True}),
    ("nansum", (NANS,), {}), ("nansum", (NANS,), {"axis": 1}), ("nansum", (B,), {"axis": 0}),
    ("nanprod", (NANS,), {"axis": 0}), ("nanprod", (I32,), {}),
    ("nanmax", (NANS,), {"axis": 1}), ("nanmax", (B,), {}), ("nanmin", (NANS,), {"axis": 1}),
    ("nanmin", (I32,), {"axis": 0, "keepdims": True}), ("nanmean", (NANS,), {"axis": 0}),
    ("nanmean", (I32,), {}), ("nanvar", (NANS,), {"axis": 0}), ("nanstd", (NANS,), {}),
    ("nanargmax", (NANS,), {"axis": 1}), ("nanargmin", (NANS,), {"axis": 1}),
    ("nanargmax", (I32,), {}), ("nancumsum", (NANS,), {"axis": 1}),
    ("nancumprod", (NANS,), {"axis": 0}), ("nancumsum", (I32,), {}),
    ("nanmedian", (NANS,), {"axis": 1}), ("nanquantile", (NANS,), {"q": 0.25, "axis": 0}),
    ("nanpercentile", (NANS,), {"q": 50}), ("nanmedian", (F32,), {}),
    ("bincount", (COUNTS,), {}), ("bincount", (COUNTS,), {"minlength": 8}),
    ("bincount", (COUNTS,), {"weights": V.tolist() + [1.0]}),
    ("bincount", (np.int32([[0, 1, 1], [2, 2, 0]]),), {}),
    ("digitize", (F32, [-1.0, 0.0, 1.0]), {}), ("digitize", (I32, [0, 2]), {}),
    ("searchsorted", (np.sort(V), F32[0]), {}), ("searchsorted", (np.int32([1, 3, 3, 5]), I32[1]), {"side": "right"}),
    ("histogram", (V,), {}), ("histogram", (F32.ravel(),), {"bins": 4, "range": (-1.0, 1.0)}),
    ("unique", (COUNTS,), {}), ("unique", (COUNTS,), {"return_counts": True, "return_index": True}),
    ("unique", (COUNTS,), {"return_inverse": True}),
    ("unique", (COUNTS,), {"size": 6, "fill_value": -1}),
    ("unique", (np.int32([[3, 1], [2, 3], [3, 1]]),), {"return_inverse": True}),
    ("unique", (np.int32([[3, 1], [2, 3], [3, 1]]),),
     {"axis": 0, "return_inverse": True, "return_counts": True, "return_index": True}),
    ("unique", (np.int32([3, 1, 2, 3]),), {"sorted": False, "return_inverse": True}),
    ("nonzero", (I32,), {}), ("nonzero", (B,), {}),
    ("isin", (I32, [0, 2, 4]), {}), ("isin", (I32, I32B), {"invert": True}),
    ("argpartition", (np.int32([5, 1, 4, 2, 3]), 2), {}),
    ("argpartition", (F32[0] * 4, 0), {}), ("argpartition", (I32, 3), {"axis": None}),
    ("select", ([F32 > 0.5, F32 < -0.5], [F32, F32B]), {}),
    ("select", ([I32 > 0], [I32]), {"default": -1}),
    ("diff", (F32,), {}), ("diff", (I32,), {"n": 2, "axis": 0}), ("diff", (B,), {"axis": 1}),
    ("trapezoid", (F32,), {}), ("trapezoid", (F32,), {"dx": 0.5, "axis": 0}),
    ("trapezoid", (F32, np.float32([0.0, 0.5, 2.0])), {}), ("trapezoid", (I32,), {}),
    ("corrcoef", (F32,), {}), ("corrcoef", (I32,), {}),
    ("correlate", (V, W), {}), ("correlate", (V, W), {"mode": "same"}),
    ("correlate", (V, W), {"mode": "full"}), ("correlate", (I32[0], I32B[0]), {}),
    # making arrays
    ("identity", (3,), {}), ("identity", (2,), {"dtype": "int32"}), ("tri", (3,), {}),
    ("tri", (3, 4), {"k": 1}), ("tri", (4, 2), {"k": -1, "dtype": "int32"}),
    ("empty", ((2, 3),), {}), ("empty_like", (I32,), {}), ("empty_like", (F32,), {"dtype": "int32"}),
    ("array", ([1, 2],), {}), ("array", ([0.5, 2.0],), {}), ("array", (F64,), {"dtype": "float32"}),
    ("copy", (F32,), {}), ("copy", (I64,), {}),
    ("logspace", (0.0, 2.0, 5), {}), ("logspace", (0, 3, 4), {"base": 2, "endpoint": False}),
    ("geomspace", (1.0, 1000.0, 4), {}), ("geomspace", (2.0, 32.0, 5), {"endpoint": False}),
    ("vander", (W,), {}), ("vander", (I32[0],), {"N": 4, "increasing": True}),
    ("bartlett", (5,), {}), ("blackman", (6,), {}), ("hamming", (5,), {}), ("hanning", (7,), {}),
    ("kaiser", (6, 2.5), {}),
    # Python lists where arrays are expected
    ("split", ([1, 2, 3, 4], 2), {}), ("diff", ([1, 2, 4],), {}), ("trapezoid", ([1, 2, 3],), {}),
    ("kron", ([1, 2], [3, 4]), {}), ("cross", ([1.0, 0, 0], [0, 1.0, 0]), {}),
    ("stack", ([[1, 2], [3, 4]],), {}),
    ("pad", ([1, 2], ((1, 1),)), {}), ("logaddexp", (1.0, [2, 3]), {}), ("ptp", ([1, 5],), {}),
    ("average", ([1, 2, 3],), {}), ("median", ([1, 2, 3, 4],), {}), ("copy", ([1, 2],), {}),
]

# Keras's formula is a few float32 operations away from NumPy's (see the module docstring).
REARRANGED = {"hypot", "quantile", "percentile", "median", "trapezoid", "corrcoef", "nanvar",
              "nanstd", "nanquantile", "nanpercentile", "nanmedian", "logspace", "geomspace",
              "kaiser", "blackman", "hamming", "hanning", "correlate", "average", "i0", "sinc",
              "logaddexp2", "deg2rad"}


def _ids(cases):
    return [f"{c[0]}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
def test_op_matches_keras(name, args, kwargs):
    ours = getattr(ops, name)(*args, **kwargs)
    theirs = getattr(kops, name)(*args, **kwargs)
    if isinstance(ours, list):  # split, meshgrid: Keras gives a list too
        ours, theirs = tuple(ours), tuple(theirs)
    assert_same(ours, theirs, rtol=1e-5 if name in REARRANGED else 1e-6)


def test_every_new_numpy_op_is_tested_against_keras():
    """Every keras.ops.numpy name minidl.ops has is in a table here or in test_ops.py."""
    from tests.test_ops import CASES as FIRST
    names = {n for n in dir(keras.ops.numpy) if not n.startswith("_") and hasattr(ops, n)}
    untested = names - {c[0] for c in CASES + FIRST + GRADIENT_CASES} - {
        "top_k", "in_top_k", "where", "vectorize"}
    assert not untested, untested


def test_vectorize_applies_a_function_element_by_element():
    """Keras's TensorFlow vectorize refuses every call with more than one element ("Not
    supported with `vectorize()` with the TensorFlow backend."), so the reference here is
    the definition itself: the function applied to each element, or to each row given a
    signature, as Keras's other backends do."""
    with pytest.raises(ValueError, match="Not supported"):
        kops.vectorize(lambda a: a * 2 + 1)(F32)
    f = lambda a, b: a * 2 + b  # noqa: E731
    ours = ops.vectorize(f)(F32, F32B)
    assert ours.shape == F32.shape and ours.dtype == np.float32
    for index in np.ndindex(F32.shape):
        assert ours[index] == f(F32[index], F32B[index])
    rows = ops.vectorize(lambda row: row - row.mean(), signature="(n)->(n)")(F32)
    for row, ours_row in zip(F32, rows):
        np.testing.assert_array_equal(ours_row, row - row.mean())


ERRORS = [
    ("pad", (F32, ((1, 1), (1, 1))), {"mode": "reflect", "constant_values": 1.0},
     "constant_values"),
    ("rot90", (V,), {}, "at least 2 dimensions"),
    ("rot90", (F32,), {"axes": (0, 0)}, "two different"),
    ("diag", (CUBE,), {}, "must be 1d or 2d"),
    ("searchsorted", (F32, V), {}, "only supports 1-D sorted sequences"),
    ("diff", (F32,), {"n": -1}, "must be non-negative"),
    ("ldexp", (F32, F32), {}, "integer type"),
    ("gcd", (F32, F32), {}, "integers"),
]


@pytest.mark.parametrize("name,args,kwargs,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_get_keras_s_error(name, args, kwargs, message):
    """The same exception type and message as Keras where Keras checks the argument itself."""
    with pytest.raises(Exception) as theirs:
        getattr(kops, name)(*args, **kwargs)
    with pytest.raises(type(theirs.value), match=message):
        getattr(ops, name)(*args, **kwargs)


def test_minidl_names_the_argument_where_keras_fails_without_a_message():
    """Keras's quantile fails on an unknown method with an UnboundLocalError and its N-D
    argpartition mixes rows; minidl refuses both, naming the argument."""
    with pytest.raises(ValueError, match="Received: method=cubic"):
        ops.quantile(F32, 0.5, method="cubic")
    with pytest.raises(ValueError, match=r"Received: x.shape=\(4, 3\)"):
        ops.argpartition(I32, 1, axis=0)


@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False)),
       axis=st.sampled_from([None, 0, -1]), keepdims=st.booleans())
def test_statistics_match_keras_on_any_shape(x, axis, keepdims):
    """median, ptp and the nan reductions (on arrays without NaN) on drawn shapes: to float32
    rounding, and for the sums within float32's bound for a sum in another order,
    eps * sum(|x|) (NumPy and TensorFlow add up in different orders)."""
    for name in ("median", "ptp", "nansum", "nanmax", "nanmean"):
        ours = getattr(ops, name)(x, axis=axis, keepdims=keepdims)
        theirs = getattr(kops, name)(x, axis=axis, keepdims=keepdims)
        if name in ("nansum", "nanmean"):
            assert ours.dtype == theirs.dtype and ours.shape == tuple(theirs.shape)
            bound = np.finfo(np.float32).eps * np.abs(x).sum()
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=bound)
        else:
            assert_same(ours, theirs, rtol=1e-5)


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(2, 5), st.integers(2, 5)),
                    elements=st.floats(-10, 10, width=32)),
       k=st.integers(-4, 4), shift=st.integers(-6, 6))
def test_shape_ops_match_keras_exactly_on_any_matrix(x, k, shift):
    """Exact. Offsets |k| below the smaller side (Keras's TensorFlow tril, triu, trace and
    diagonal fail past the edge); trace and diagonal on the square part; Keras's rot90 by 180 or 270 degrees
    reshapes a non-square matrix wrongly (minidl gives NumPy's there)."""
    m = min(x.shape)
    square, k_in = x[:m, :m], int(np.sign(k)) * (abs(k) % m)
    for name, args in (("tril", (x, k_in)), ("triu", (x, k_in)), ("diagonal", (square, k_in)),
                       ("trace", (square, k_in)), ("roll", (x, shift, 1)),
                       ("rot90", (square, k)), ("rot90", (x, 1 + 2 * (k % 2))),
                       ("pad", (x, ((abs(k) % 2, 1), (1, abs(k) % 2)), "reflect"))):
        ours, theirs = getattr(ops, name)(*args), getattr(kops, name)(*args)
        assert_same(ours, theirs, rtol=1e-6 if name == "trace" else 0)


# -- derivatives against tf.GradientTape ---------------------------------------------------------
def _r(*shape):
    return RNG.normal(size=shape).astype(np.float32)


# (name, inputs to differentiate, other arguments after them, keyword arguments)
GRADIENT_CASES = [
    ("sin", [F32], (), {}), ("cos", [F32], (), {}), ("tan", [UNIT], (), {}),
    ("arcsin", [UNIT], (), {}), ("arccos", [UNIT], (), {}), ("arctan", [F32], (), {}),
    ("sinh", [F32], (), {}), ("cosh", [F32], (), {}), ("arcsinh", [F32], (), {}),
    ("arccosh", [BIG], (), {}), ("arctanh", [UNIT], (), {}), ("cbrt", [F32], (), {}),
    ("expm1", [F32], (), {}), ("log1p", [POS], (), {}), ("log2", [POS], (), {}),
    ("log10", [POS], (), {}),
    ("arctan2", [F32, F32B], (), {}), ("arctan2", [F32, W], (), {}),
    ("hypot", [F32, F32B], (), {}), ("logaddexp", [F32, F32B], (), {}),
    ("logaddexp", [F32[:1], F32B], (), {}),
    ("einsum", [F32, _r(3, 5)], (), {"subscripts": "ij,jk->ik"}),
    ("einsum", [CUBE, _r(4, 2)], (), {"subscripts": "...j,jk->...k"}),
    ("einsum", [F32, F32B], (), {"subscripts": "bi,bi->b"}),
    ("einsum", [CUBE], (), {"subscripts": "ijk->j"}),
    ("einsum", [F32, W, V], (), {"subscripts": "ij,j,k->ki"}),
    ("outer", [V, W], (), {}), ("outer", [F32, W], (), {}), ("inner", [F32, F32B], (), {}),
    ("inner", [CUBE, _r(5, 4)], (), {}), ("vdot", [F32, F32B], (), {}),
    ("stack", [F32, F32B], (), {"axis": 1}), ("hstack", [F32, F32B], (), {}),
    ("vstack", [F32, F32B], (), {}), ("dstack", [F32, F32B], (), {}),
    ("append", [F32, F32B], (), {}), ("append", [F32, F32B], (), {"axis": 1}),
    ("split", [F32], (2,), {}), ("split", [CUBE], ([1, 3],), {"axis": -1}),
    ("array_split", [CUBE], (3,), {"axis": 2}),
    ("pad", [F32], (((1, 2), (2, 0)),), {}),
    ("pad", [F32], (((2, 1), (2, 2)),), {"mode": "reflect"}),
    ("pad", [F32], (((3, 1), (1, 3)),), {"mode": "symmetric"}),
    ("moveaxis", [CUBE], ([0, 1], [2, 0]), {}), ("swapaxes", [CUBE], (0, 2), {}),
    ("ravel", [CUBE], (), {}), ("roll", [F32], (5,), {}), ("roll", [CUBE], ((1, -1), (0, 2)), {}),
    ("flipud", [F32], (), {}), ("fliplr", [F32], (), {}),
    ("rot90", [CUBE], (), {"k": 3, "axes": (2, 1)}), ("tril", [F32], (), {"k": -1}),
    ("triu", [CUBE], (), {"k": 1}), ("diag", [V], (), {"k": 1}), ("diag", [F32], (), {"k": -1}),
    ("diagflat", [F32], (), {}), ("diagonal", [CUBE], (), {"offset": 1, "axis1": 2, "axis2": 1}),
    ("trace", [SQ], (), {}), ("trace", [CUBE], (), {"offset": 1, "axis1": 1, "axis2": 2}),
    ("get_item", [CUBE], ((1, slice(0, 2)),), {}),
    ("average", [F32], (), {"axis": 0}), ("average", [F32, POS], (), {"axis": 1}),
    ("median", [F32], (), {"axis": 0}), ("median", [CUBE], (), {}),
    ("quantile", [CUBE], (0.3,), {"axis": (0, 2), "keepdims": True}),
    ("quantile", [F32], ([0.2, 0.75],), {"axis": 1}),
    ("percentile", [F32], (40,), {"axis": -1}),
    ("exp2", [F32], (), {}), ("fabs", [F32], (), {}), ("deg2rad", [F32], (), {}),
    ("rad2deg", [F32], (), {}), ("copy", [F32], (), {}), ("logaddexp2", [F32, F32B], (), {}),
    ("kron", [SQ, F32[:2, :2]], (), {}), ("kron", [V, F32], (), {}),
    ("cross", [F32, F32B], (), {}), ("cross", [F32[:, :2], F32B], (), {}),
    ("cross", [F32.T, F32B.T], (), {"axis": 0}),
    ("ptp", [F32], (), {"axis": 0}), ("ptp", [np.float32([[1, 3, 3], [2, 2, 0]])], (), {}),
    ("nansum", [NANS], (), {"axis": 1}), ("nanmean", [NANS[[0, 2]]], (), {"axis": 1}),
    ("nanmean", [F32], (), {}),
    ("diff", [F32], (), {"axis": 0}), ("diff", [CUBE], (), {"n": 2}),
    ("trapezoid", [F32], (), {}), ("trapezoid", [F32], (), {"dx": 0.5, "axis": 0}),
    ("trapezoid", [F32], (np.float32([0.0, 0.5, 2.0]),), {}),
]


def _call(o, name, xs, rest, kwargs):
    if name == "einsum":
        return o.einsum(kwargs["subscripts"], *xs)
    if name in ("stack", "hstack", "vstack", "dstack"):
        return getattr(o, name)(list(xs), **kwargs)
    if name == "average" and len(xs) == 2:
        return o.average(xs[0], weights=xs[1], **kwargs)
    return getattr(o, name)(*xs, *rest, **kwargs)


def _flat(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _cotangents(i, name, xs, rest, kwargs):
    """The dL/dy each case's outputs get: fixed random numbers of the outputs' shapes."""
    rng = np.random.default_rng(100 + i)
    return [rng.normal(size=np.shape(y)).astype(np.float32)
            for y in _flat(_call(ops, name, xs, rest, kwargs))]


@functools.lru_cache(maxsize=None)
def keras_gradients():
    """Every case's input gradients, from one tf.GradientTape over all the cases."""
    variables = [[tf.constant(x) for x in case[1]] for case in GRADIENT_CASES]
    with tf.GradientTape() as tape:
        tape.watch(variables)
        loss = 0.0
        for i, (case, xs) in enumerate(zip(GRADIENT_CASES, variables)):
            ys = _flat(_call(kops, case[0], xs, case[2], case[3]))
            for y, dy in zip(ys, _cotangents(i, *case)):
                loss += tf.reduce_sum(y * dy)
    grads = tape.gradient(loss, variables)
    return [[np.asarray(g) for g in case] for case in grads]


def minidl_gradients(i, name, xs, rest, kwargs):
    xs = [np.array(x) for x in xs]  # arrays of their own, so the tape tells them apart
    with Tape() as tape:
        tape.watch(xs)
        ys = _flat(_call(ops, name, xs, rest, kwargs))
    return tape.gradient(list(zip(ys, _cotangents(i, name, xs, rest, kwargs))), [], inputs=xs)


def assert_same_gradients(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("i", range(len(GRADIENT_CASES)),
                         ids=_ids(GRADIENT_CASES))
def test_gradient_matches_tensorflow(i):
    case = GRADIENT_CASES[i]
    assert_same_gradients(minidl_gradients(i, *case), keras_gradients()[i])


def test_a_wrong_derivative_fails_the_comparison():
    """Negative controls: sinh with sinh(x) as its derivative (not cosh(x)), roll with the
    gradient rolled forward again (not back), and a linear quantile sending all of dy to the
    value below (the "lower" method's derivative), each fail against TensorFlow."""
    def wrong_sinh(x):
        x, = backprop.values(x)
        return backprop.record(numpy_elementwise.sinh(x), "sinh", [x],
                               lambda dy: [dy * np.sinh(x)])

    def wrong_roll(x, shift):
        x, = backprop.values(x)
        return backprop.record(np.roll(x, shift), "roll", [x], lambda dy: [np.roll(dy, shift)])

    def wrong_quantile(x, q):  # "lower"'s derivative, all of dy to the value below
        return ops.quantile(x, q, axis=1, method="lower")

    for wrong, name, args in ((wrong_sinh, "sinh", ()), (wrong_roll, "roll", (5,)),
                              (wrong_quantile, "quantile", ([0.2, 0.75],))):
        i = next(j for j, c in enumerate(GRADIENT_CASES) if c[0] == name and c[2] == args)
        x = np.array(GRADIENT_CASES[i][1][0])
        dy, = _cotangents(i, *GRADIENT_CASES[i])
        with Tape() as tape:
            tape.watch([x])
            y = wrong(x, *args)
        ours = tape.gradient([(y, dy)], [], inputs=[x])
        with pytest.raises(AssertionError):
            assert_same_gradients(ours, keras_gradients()[i])


def test_numpy_functions_on_a_weight_or_a_tracked_array_are_recorded():
    """np.sin(self.w) in a custom layer goes to ops.sin, as np.exp does to ops.exp."""
    x = np.array(F32)
    with Tape() as tape, backprop.tracking():
        tape.watch([x])
        y = np.arctan2(np.sinh(backprop.tracked(x)), 2.0)
    dy = np.ones_like(F32)
    dx, = tape.gradient([(backprop.untracked(y), dy)], [], inputs=[x])
    np.testing.assert_allclose(dx, np.cosh(F32) * 2 / (np.sinh(F32) ** 2 + 4), rtol=1e-5)


def test_every_keras_ops_numpy_name_is_in_minidl_ops_numpy_and_trains_from_there():
    """keras.ops.numpy.einsum is keras.ops.einsum; minidl.ops.numpy's names hand a tracked
    array (your code's, in a training step) to the recorded op of the same name."""
    assert [n for n in dir(keras.ops.numpy)
            if not n.startswith("_") and not hasattr(ops.numpy, n)] == []
    x = np.array(F32)
    with Tape() as tape, backprop.tracking():
        tape.watch([x])
        y = ops.numpy.einsum("ij,ij->i", backprop.tracked(x), ops.numpy.sinh(backprop.tracked(x)))
    dy = np.ones(4, np.float32)
    dx, = tape.gradient([(backprop.untracked(y), dy)], [], inputs=[x])
    np.testing.assert_allclose(dx, np.sinh(F32) + F32 * np.cosh(F32), rtol=1e-5)


def test_an_einsum_over_a_repeated_index_is_refused_by_name_at_backward():
    x = np.array(SQ)
    with Tape() as tape:
        tape.watch([x])
        y = ops.einsum("ii->i", x)
    with pytest.raises(ValueError, match="repeats an index"):
        tape.gradient([(y, np.ones(3, np.float32))], [], inputs=[x])


# -- central differences in float64, independent of TensorFlow -----------------------------------
class NewOpsModel(minidl.Model):
    """A subclassed model whose call() goes through many of the new recorded ops."""

    def __init__(self, wrong_sinh=False):
        super().__init__()
        self.a = minidl.layers.Dense(4, activation="tanh")
        self.out = minidl.layers.Dense(2)
        self.wrong_sinh = wrong_sinh

    def call(self, x):
        h = ops.pad(self.a(x), ((0, 0), (1, 1)), mode="symmetric")  # (N,6)
        if self.wrong_sinh:  # sinh with sinh(x) as its derivative instead of cosh(x)
            z, = backprop.values(h)
            h = backprop.record(np.sinh(z), "sinh", [z], lambda dy: [dy * np.sinh(z)])
        else:
            h = ops.sinh(h)
        h = ops.concatenate([ops.arctan(h), ops.median(h, axis=1, keepdims=True),
                             ops.logaddexp(h, ops.roll(h, 1, axis=1)),
                             ops.einsum("ni,ni->n", h, ops.flipud(h))[:, None]], axis=1)
        return self.out(ops.cbrt(ops.hypot(h, 0.5)))  # (N,14) -> (N,2)


def test_central_differences_pass_through_the_new_ops_and_catch_a_wrong_one(float64):
    """float64, step 1e-6, relative error below 1e-5 (check_gradients' defaults): the chain
    of recorded ops passes; the same chain with sinh's derivative wrong fails."""
    x = np.random.default_rng(9).normal(size=(5, 3))
    y = np.random.default_rng(10).normal(size=(5, 2))
    for model, passes in ((NewOpsModel(), True), (NewOpsModel(wrong_sinh=True), False)):
        model.compile(optimizer="sgd", loss="mse")
        result = check_gradients(model, x, y)
        assert result.passed is passes, str(result)


# -- a custom layer and a loss written with the new ops, trained in fit --------------------------
def make_mixer(base, o):
    class Mixer(base):
        """Keras-guide style: weights combined by einsum, rolled, padded, stacked."""

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="random_normal")
            self.v = self.add_weight(shape=(4,), initializer="random_normal")

        def call(self, x):
            h = o.einsum("ni,ij->nj", x, self.w)  # (N,4)
            h = o.sinh(o.arctan(h)) + o.roll(h, 1, axis=1) * self.v  # (N,4)
            pair = o.stack([h, o.cbrt(o.hypot(h, 1.0))], axis=1)  # (N,2,4)
            h = o.reshape(o.moveaxis(pair, 1, 2), (-1, 8))  # (N,8)
            return o.pad(h, ((0, 0), (1, 1)), mode="reflect")  # (N,10)
    return Mixer


def soft_abs_loss(o):
    def loss(y_true, y_pred):
        return o.mean(o.logaddexp(y_pred - y_true, y_true - y_pred), axis=-1)
    return loss


def test_a_custom_layer_and_loss_with_the_new_ops_train_like_keras():
    x = RNG.normal(size=(16, 3)).astype(np.float32)
    y = RNG.normal(size=(16, 2)).astype(np.float32)
    models = []
    for framework, o in ((keras, keras.ops), (minidl, ops)):
        model = framework.Sequential([framework.Input((3,)), make_mixer(framework.layers.Layer, o)(),
                                      framework.layers.Dense(2)])
        model.compile(optimizer="adam", loss=soft_abs_loss(o))
        models.append(model)
    keras_model, model = models
    model.set_weights(keras_model.get_weights())
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=3, batch_size=8)


# -- dtypes over every kind of operand ------------------------------------------------------------
OPERANDS = {
    "float32": F32, "float64": F64, "int32": I32, "int64": I64, "bool": B,
    "python int": 2, "python float": 0.5, "list of ints": [1, 2, 3], "list of floats": [0.5, 1.5, 2.5],
}
UNARY = ["tan", "arctan", "sinh", "arcsinh", "cbrt", "exp2", "fabs", "deg2rad", "rad2deg",
         "sinc", "trunc", "signbit", "ravel", "copy", "median", "average", "nansum", "nanmean",
         "nanmax", "ptp", "cosh", "i0", "angle"]
BINARY = ["arctan2", "hypot", "logaddexp", "logaddexp2", "fmod", "fmax", "fmin", "heaviside",
          "isclose", "outer", "kron", "append", "inner", "nextafter", "vdot"]


def _keras_or_skip_example(name, *args):
    try:
        return getattr(kops, name)(*args)
    except Exception:  # TensorFlow has no such kernel for this dtype (bool arctan2, ...)
        return None


@given(a=st.sampled_from(sorted(OPERANDS)), name=st.sampled_from(UNARY))
@settings(max_examples=3 * settings.default.max_examples)  # one Keras call each: cheap
def test_unary_ops_give_keras_s_dtype_for_any_operand(a, name):
    x = OPERANDS[a]
    theirs = _keras_or_skip_example(name, x)
    if theirs is not None:
        assert_same(getattr(ops, name)(x), theirs, rtol=1e-5)


@given(a=st.sampled_from(sorted(OPERANDS)), b=st.sampled_from(sorted(OPERANDS)),
       name=st.sampled_from(BINARY))
@settings(max_examples=3 * settings.default.max_examples)
def test_binary_ops_give_keras_s_dtype_for_any_pair_of_operands(a, b, name):
    x, y = OPERANDS[a], OPERANDS[b]
    if np.shape(x) != np.shape(y) and np.ndim(x) and np.ndim(y):
        y = x  # shapes that broadcast
    theirs = _keras_or_skip_example(name, x, y)
    if theirs is not None:
        assert_same(getattr(ops, name)(x, y), theirs, rtol=1e-5)
