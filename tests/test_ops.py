"""minidl.ops against keras.ops: the same values and the same dtypes on random inputs.

Each case calls one function by its Keras name with the same arguments in both libraries.
Inputs mix float32, float64, int32, int64 and bool arrays with Python numbers and lists,
because dtype promotion is where NumPy and Keras part (NumPy turns int32 + float32 and
Python lists into float64; Keras does not).
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from keras import ops as kops
from minidl import ops
from test_ops_nn_more import COMPARED as NN_COMPARED  # keras.ops.nn's, compared there

RNG = np.random.default_rng(0)
F32 = RNG.normal(size=(4, 3)).astype(np.float32)
F32B = RNG.normal(size=(4, 3)).astype(np.float32)
POS = (RNG.random((4, 3)) + 0.1).astype(np.float32)
F64 = RNG.normal(size=(4, 3))
I32 = RNG.integers(-5, 5, size=(4, 3)).astype(np.int32)
I32B = RNG.integers(1, 5, size=(4, 3)).astype(np.int32)
I64 = RNG.integers(-5, 5, size=(4, 3))
B = RNG.random((4, 3)) > 0.5
LABELS = RNG.integers(0, 3, size=(4,)).astype(np.int32)

CASES = [
    # arithmetic and promotion
    ("add", (F32, F32B), {}), ("add", (F32, 2.0), {}), ("add", (I32, 1.5), {}),
    ("add", (I32, F32), {}), ("add", (I64, F32), {}), ("add", (F32, F64), {}),
    ("add", (B, 1), {}), ("add", (F32, np.float64(2.0)), {}), ("add", (I32, np.float32(0.5)), {}), ("add", (I32, I64), {}), ("add", ([1.0, 2.0], [3, 4]), {}),
    ("subtract", (F32, F32B), {}), ("subtract", (3, I32), {}),
    ("multiply", (F32, F32B), {}), ("multiply", (F32, 0.1), {}), ("multiply", (I32, F32), {}),
    ("divide", (F32, POS), {}), ("divide", (I32, I32B), {}), ("divide", (F32, 3), {}),
    ("true_divide", (I32, 2), {}), ("divide_no_nan", (F32, np.where(B, 0, POS)), {}),
    ("floor_divide", (I32, I32B), {}), ("mod", (I32, I32B), {}), ("power", (POS, 2.5), {}),
    ("power", (I32B, 2), {}), ("maximum", (F32, F32B), {}), ("maximum", (F32, 0.0), {}),
    ("maximum", (I32, 0), {}), ("minimum", (F32, F32B), {}), ("minimum", (I32, F32), {}),
    ("negative", (F32,), {}), ("negative", (I32,), {}),
    ("abs", (F32,), {}), ("abs", (I32,), {}), ("absolute", (F64,), {}),
    ("square", (F32,), {}), ("square", (I32,), {}), ("square", (B,), {}),
    ("sign", (F32,), {}), ("sign", (I32,), {}),
    ("round", (F32 * 3,), {}), ("round", (np.float32([0.5, 1.5, 2.5, -0.5]),), {}),
    ("round", (F32 * 10,), {"decimals": 1}),
    ("sqrt", (POS,), {}), ("sqrt", (I32B,), {}), ("sqrt", (F64 ** 2,), {}),
    ("exp", (F32,), {}), ("exp", (I32,), {}), ("expm1", (F32,), {}),
    ("log", (POS,), {}), ("log", (I32B,), {}), ("log1p", (POS,), {}),
    ("log2", (POS,), {}), ("log10", (POS,), {}), ("floor", (F32,), {}), ("ceil", (F32,), {}),
    ("sin", (F32,), {}), ("cos", (F32,), {}), ("tanh", (F32,), {}), ("reciprocal", (POS,), {}),
    ("clip", (F32, -0.5, 0.5), {}), ("clip", (I32, -2, 2), {}), ("clip", (B, 0, 1), {}),
    # comparisons and logic
    ("equal", (I32, 0), {}), ("equal", (F32, F32), {}), ("not_equal", (I32, I32B), {}),
    ("greater", (F32, 0.0), {}), ("greater", (I32, F32), {}), ("greater_equal", (F32, F32B), {}),
    ("less", (F32, F32B), {}), ("less_equal", (I32, 1), {}),
    ("logical_and", (B, F32 > 0), {}), ("logical_or", (B, F32 > 0), {}),
    ("logical_xor", (B, F32 > 0), {}), ("logical_not", (B,), {}),
    ("isnan", (np.float32([1, np.nan, np.inf]),), {}),
    ("isinf", (np.float32([1, np.nan, -np.inf]),), {}),
    ("isfinite", (np.float32([1, np.nan, np.inf]),), {}),
    ("where", (B, F32, F32B), {}), ("where", (B, F32, 0.0), {}), ("where", (B, I32, 0.5), {}),
    ("where", (B, I32, I64), {}),
    # reductions
    ("sum", (F32,), {}), ("sum", (F32,), {"axis": 0}),
    ("sum", (F32,), {"axis": -1, "keepdims": True}), ("sum", (I32,), {"axis": 1}),
    ("sum", (I64,), {}), ("sum", (B,), {}), ("sum", (B,), {"axis": 0}),
    ("sum", (F32,), {"axis": (0, 1)}), ("sum", (F32,), {"axis": [0, 1]}),
    ("prod", (F32,), {"axis": 1}), ("prod", (I32,), {}),
    ("mean", (F32,), {}), ("mean", (F32,), {"axis": -1}), ("mean", (I32,), {"axis": 0}),
    ("mean", (B,), {}), ("mean", (F64,), {"axis": 1, "keepdims": True}), ("mean", ([1, 2, 4],), {}),
    ("var", (F32,), {"axis": 0}), ("var", (I32,), {}), ("std", (F32,), {"axis": -1}),
    ("max", (F32,), {}), ("max", (F32,), {"axis": 1, "keepdims": True}),
    ("max", (I32,), {"axis": 0}),
    ("max", (F32,), {"axis": 0, "initial": 0.5}), ("min", (F32,), {"axis": 0}), ("min", (B,), {}),
    ("amax", (F32,), {"axis": 1}), ("amin", (I32,), {}),
    ("any", (B,), {"axis": 0}), ("all", (B,), {"axis": 1}), ("any", (F32 > 5,), {}),
    ("argmax", (F32,), {"axis": -1}), ("argmax", (F32,), {}), ("argmax", (I32,), {"axis": 0}),
    ("argmax", (F32,), {"axis": 1, "keepdims": True}), ("argmin", (F32,), {"axis": -1}),
    ("count_nonzero", (I32,), {}), ("count_nonzero", (I32,), {"axis": 0}),
    ("cumsum", (F32,), {"axis": 0}), ("cumsum", (I32,), {}), ("cumsum", (B,), {"axis": 1}),
    ("cumprod", (POS,), {"axis": 1}),
    ("logsumexp", (F32,), {}), ("logsumexp", (F32,), {"axis": -1}),
    ("logsumexp", (F32 * 100,), {"axis": 0, "keepdims": True}),
    # shapes
    ("reshape", (F32, (3, 4)), {}), ("reshape", (F32, (-1,)), {}), ("expand_dims", (F32, 1), {}),
    ("expand_dims", (LABELS, -1), {}), ("squeeze", (F32[:, :1],), {}),
    ("squeeze", (F32[:1],), {"axis": 0}),
    ("transpose", (F32,), {}), ("transpose", (F32[None],), {"axes": (2, 0, 1)}),
    ("broadcast_to", (F32[:1], (4, 3)), {}), ("tile", (F32, (2, 1)), {}),
    ("repeat", (F32, 2), {"axis": 0}), ("flip", (F32,), {"axis": 1}), ("flip", (F32,), {}),
    ("concatenate", ([F32, F32B],), {}), ("concatenate", ([F32, F32B],), {"axis": 1}),
    ("concatenate", ([I32, F32],), {}), ("stack", ([F32, F32B],), {}),
    ("stack", ([LABELS, LABELS],), {"axis": 1}), ("stack", ([I32, F64],), {"axis": -1}),
    ("take", (F32, LABELS), {"axis": 1}), ("take", (F32, [0, 2]), {}),
    ("take_along_axis", (F32, LABELS[:, None]), {"axis": 1}),
    ("sort", (F32,), {}), ("sort", (F32,), {"axis": 0}), ("argsort", (F32,), {}),
    ("argsort", (I32,), {"axis": 0}),
    ("shape", (F32,), {}), ("ndim", (F32,), {}), ("size", (F32,), {}),
    # making arrays
    ("ones", ((2, 3),), {}), ("zeros", ((2,),), {"dtype": "int32"}), ("full", ((2, 2), 0.5), {}),
    ("full", ((2, 2), 3), {}), ("eye", (3,), {}), ("eye", (3, 4), {"k": 1}),
    ("ones_like", (I32,), {}), ("ones_like", (F32,), {"dtype": "int32"}),
    ("zeros_like", (F32,), {}),
    ("full_like", (F32, 2.5), {}), ("arange", (5,), {}), ("arange", (1, 7, 2), {}),
    ("arange", (0.0, 1.0, 0.25), {}), ("linspace", (0, 1, 5), {}),
    ("one_hot", (LABELS, 3), {}), ("one_hot", (np.int32([0, 5, -1, 2]), 3), {}),
    ("one_hot", (LABELS, 4), {"axis": 0}), ("one_hot", (LABELS, 3), {"dtype": "int32"}),
    # linear algebra
    ("matmul", (F32, F32B.T), {}), ("matmul", (I32, I32B.T), {}), ("matmul", (F32, I32.T), {}),
    ("dot", (F32, F32B.T), {}), ("tensordot", (F32, F32B), {"axes": ([0, 1], [0, 1])}),
    ("norm", (F32,), {}), ("norm", (F32,), {"axis": -1}), ("norm", (I32,), {"axis": 0}),
    # neural-network functions
    ("relu", (F32,), {}), ("relu", (I32,), {}), ("sigmoid", (F32 * 30,), {}),
    ("softmax", (F32,), {}), ("softmax", (F32,), {"axis": 0}), ("log_softmax", (F32 * 50,), {}),
    ("nan_to_num", (np.float32([1, np.nan, np.inf, -np.inf]),), {}),
    ("stop_gradient", (F32,), {}),
    ("convert_to_tensor", ([1, 2, 3],), {}), ("convert_to_tensor", ([0.5, 2],), {}),
    ("convert_to_tensor", (2.5,), {}), ("convert_to_tensor", (F64,), {}),
    ("convert_to_tensor", (I64,), {}), ("convert_to_tensor", (True,), {}),
    ("convert_to_tensor", ([1, 2],), {"dtype": "float32"}),
    ("convert_to_numpy", (F32,), {}), ("convert_to_numpy", ([1, 2],), {}),
    ("cast", (F64, "float32"), {}), ("cast", (F32 * 3, "int32"), {}), ("cast", (I32, "bool"), {}),
    ("cast", ([1, 2], "float32"), {}),
]


def keras_result(name, args, kwargs):
    return getattr(kops, name)(*args, **kwargs)


def assert_same(ours, theirs, rtol=1e-6):
    """Same dtype, shape and values (to float32 rounding for floats)."""
    if isinstance(theirs, (tuple, list)) and not hasattr(theirs, "dtype"):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        if all(isinstance(t, int) for t in theirs):  # shape
            assert tuple(ours) == tuple(theirs)
            return
        for a, b in zip(ours, theirs):
            assert_same(a, b, rtol)
        return
    if isinstance(theirs, int):
        assert ours == theirs
        return
    theirs = kops.convert_to_numpy(theirs)
    assert isinstance(ours, (np.ndarray, np.generic)), type(ours)
    assert np.asarray(ours).dtype == theirs.dtype, (np.asarray(ours).dtype, theirs.dtype)
    assert np.shape(ours) == theirs.shape
    if theirs.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-6)
    else:
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op_matches_keras(name, args, kwargs):
    ours = getattr(ops, name)(*args, **kwargs)
    assert_same(ours, keras_result(name, args, kwargs))


def test_every_public_op_is_tested_against_keras():
    public = {n for n in dir(ops) if not n.startswith("_") and callable(getattr(ops, n))}
    public -= {"np", "config", "result_type"}
    compared = {c[0] for c in CASES} | {"top_k", "in_top_k", "where"} | NN_COMPARED
    from tests import test_ops_linalg, test_ops_numpy_more  # the rest of keras.ops.numpy, linalg
    compared |= {c[0] for c in test_ops_numpy_more.CASES + test_ops_numpy_more.GRADIENT_CASES}
    compared |= {c[0] for c in test_ops_linalg.CASES} | test_ops_linalg.COMPARED_ALONE
    from tests import test_ops_core_rest  # keras.ops.core's and math's rest
    compared |= test_ops_core_rest.COMPARED
    assert public <= compared, public - compared


def test_float32_stays_float32():
    """The promise of the module: float32 inputs never come back as float64."""
    x = F32
    for value in (ops.mean(x), ops.mean(x, axis=0), ops.sqrt(ops.abs(x)), ops.divide(x, 3),
                  ops.cast(x, "float32") * 2.0, ops.maximum(x, 0.0), ops.clip(x, 0.0, 1.0),
                  ops.where(x > 0, x, 0.0), ops.std(x), ops.logsumexp(x),
                  ops.divide_no_nan(x, 0.0), ops.one_hot(LABELS, 3), ops.power(x, 2)):
        assert value.dtype == np.float32


@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False)),
       axis=st.sampled_from([None, 0, -1]), keepdims=st.booleans())
def test_reductions_match_keras_on_any_shape(x, axis, keepdims):
    """Without denormals: TensorFlow reads them as 0 (argmax([0, 1e-39]) is 0 there)."""
    for name in ("sum", "mean", "max", "min", "argmax", "argmin", "var", "logsumexp"):
        if name.startswith("arg") and axis is None:
            ours, theirs = getattr(ops, name)(x, axis=axis), getattr(kops, name)(x, axis=axis)
        else:
            ours = getattr(ops, name)(x, axis=axis, keepdims=keepdims)
            theirs = getattr(kops, name)(x, axis=axis, keepdims=keepdims)
        assert_same(ours, theirs, rtol=1e-5)


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                    elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, -1.0, 2.0])),
       k=st.integers(1, 6))
def test_top_k_and_in_top_k_break_ties_like_keras(x, k):
    k = min(k, x.shape[1])
    values, indices = ops.top_k(x, k)
    keras_values, keras_indices = kops.top_k(x, k)
    assert_same(values, keras_values)
    assert_same(indices, keras_indices)
    targets = np.arange(len(x), dtype=np.int32) % x.shape[1]
    assert_same(ops.in_top_k(targets, x, k), kops.in_top_k(targets, x, k))


def test_where_with_only_a_condition_gives_indices():
    ours, theirs = ops.where(B), kops.where(B)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, kops.convert_to_numpy(b))


OPERANDS = {
    "float32": F32, "float64": F64, "int32": I32, "int64": I64, "bool": B,
    "python int": 2, "python float": 0.5, "python bool": True, "list of ints": [1, 2, 3],
    "list of floats": [0.5, 1.5, 2.5],
}


@given(a=st.sampled_from(sorted(OPERANDS)), b=st.sampled_from(sorted(OPERANDS)),
       name=st.sampled_from(["add", "multiply", "maximum", "divide", "equal"]))
def test_binary_ops_promote_dtypes_like_keras(a, b, name):
    x, y = OPERANDS[a], OPERANDS[b]
    if isinstance(x, list) and not isinstance(y, list) and np.ndim(y) > 0:
        x = x * 1  # the list operands pair with scalars and each other only (shape (3,))
        y = 1
    if isinstance(y, list) and np.ndim(x) > 0 and not isinstance(x, list):
        y = 1
    try:
        theirs = getattr(kops, name)(x, y)
    except Exception:  # e.g. TensorFlow has no bool add or bool maximum
        assume(False)
    assert_same(getattr(ops, name)(x, y), theirs)
