"""keras.ops.linalg against Keras: values, dtypes and errors of every function, and the
derivatives of inv, det and solve against tf.GradientTape.

Tolerances: the matrices are well conditioned (condition numbers below ~50), so float32
results agree to rtol 1e-4, atol 1e-5 (LAPACK and Eigen order their sums differently;
each rounding of float32's 1.2e-7 is amplified by the condition number). Integer results
(matrix_rank, lu_factor's permutation) are exact. Where a decomposition is unique only up
to signs (svd, qr, eigh, eig's eigenvectors), the same sign conventions would be luck:
the test compares what is unique (singular values and eigenvalues, |entries|, and the
products that rebuild the input).
"""
import functools

import numpy as np
import pytest
import tensorflow as tf

from keras import ops as kops
from minidl import ops
from minidl.ops import backprop, linalg
from minidl.tape import Tape
from tests.test_ops import assert_same

RNG = np.random.default_rng(0)
A = (RNG.normal(size=(3, 3)) + 3 * np.eye(3)).astype(np.float32)
BATCH = (RNG.normal(size=(2, 4, 4)) + 4 * np.eye(4)).astype(np.float32)
SPD = (A @ A.T + np.eye(3)).astype(np.float32)
SPD_BATCH = (BATCH @ np.swapaxes(BATCH, -1, -2) + np.eye(4)).astype(np.float32)
LOWER = np.tril(A)
TALL = RNG.normal(size=(5, 3)).astype(np.float32)
RHS = RNG.normal(size=(3,)).astype(np.float32)
RHS2 = RNG.normal(size=(3, 2)).astype(np.float32)
RANK2 = (RNG.normal(size=(4, 2)) @ RNG.normal(size=(2, 3))).astype(np.float32)
F64 = A.astype(np.float64)

CASES = [
    ("inv", (A,), {}), ("inv", (BATCH,), {}), ("inv", (F64,), {}),
    ("det", (A,), {}), ("det", (BATCH,), {}), ("logdet", (SPD,), {}),
    ("logdet", (SPD_BATCH,), {}), ("logdet", (-SPD,), {}), ("logdet", (np.tril(SPD),), {}),
    ("solve", (A, RHS), {}), ("solve", (A, RHS2), {}), ("solve", (BATCH, BATCH[..., :2]), {}),
    ("solve_triangular", (LOWER, RHS2), {"lower": True}),
    ("solve_triangular", (A, RHS), {}),
    ("cholesky", (SPD,), {}), ("cholesky", (SPD_BATCH,), {"upper": True}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD),), {}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD).T.copy(),), {"upper": True}),
    ("lstsq", (TALL, RNG.normal(size=(5,)).astype(np.float32)), {}),
    ("lstsq", (TALL, RNG.normal(size=(5, 2)).astype(np.float32)), {"rcond": 0.1}),
    ("lu_factor", (A,), {}), ("lu_factor", (BATCH[0],), {}),
    ("matrix_rank", (RANK2,), {}), ("matrix_rank", (A,), {}),
    ("matrix_rank", (RANK2,), {"tol": 0.5}),
    ("pinv", (TALL,), {}), ("pinv", (RANK2,), {}),
    ("norm", (A,), {}), ("norm", (A,), {"ord": "fro"}), ("norm", (BATCH,), {"axis": (-2, -1)}),
]


# Compared in tests of their own below (and vectorize in test_ops_numpy_more.py).
COMPARED_ALONE = {"svd", "qr", "eig", "eigh", "jvp", "vectorize"}


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op_matches_keras(name, args, kwargs):
    ours = getattr(linalg, name)(*args, **kwargs)
    keras_op = getattr(kops.linalg, name, None) or getattr(kops, name)  # logdet: keras.ops.math
    assert_same(ours, keras_op(*args, **kwargs), rtol=1e-4)


def test_every_keras_linalg_name_is_in_minidl_ops_linalg_and_minidl_ops():
    import keras
    names = [n for n in dir(keras.ops.linalg) if not n.startswith("_")]
    assert [n for n in names if not (hasattr(linalg, n) and hasattr(ops, n))] == []


def _np(x):
    return kops.convert_to_numpy(x)


@pytest.mark.parametrize("x", [TALL, A, BATCH], ids=["tall", "square", "batch"])
def test_svd_and_qr_agree_with_keras_up_to_signs(x):
    u, s, vh = linalg.svd(x, full_matrices=False)
    ku, ks, kvh = (_np(t) for t in kops.linalg.svd(x, full_matrices=False))
    assert_same(s, ks, rtol=1e-4)
    np.testing.assert_allclose(np.abs(u), np.abs(ku), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.abs(vh), np.abs(kvh), rtol=1e-3, atol=1e-4)
    assert_same(linalg.svd(x, compute_uv=False), kops.linalg.svd(x, compute_uv=False), rtol=1e-4)
    assert u.shape == ku.shape and u.dtype == ku.dtype
    for mode in ("reduced", "complete"):
        q, r = linalg.qr(x, mode=mode)
        kq, kr = (_np(t) for t in kops.linalg.qr(x, mode=mode))
        assert q.shape == kq.shape and r.shape == kr.shape and q.dtype == kq.dtype
        np.testing.assert_allclose(np.abs(r), np.abs(kr), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(q @ r, x, rtol=1e-4, atol=1e-5)


def test_eigh_and_eig_agree_with_keras_up_to_signs_and_order():
    w, v = linalg.eigh(SPD_BATCH)
    kw, kv = (_np(t) for t in kops.linalg.eigh(SPD_BATCH))
    assert_same(w, kw, rtol=1e-4)
    np.testing.assert_allclose(np.abs(v), np.abs(kv), rtol=1e-3, atol=1e-4)
    w, v = linalg.eig(SPD)
    kw, kv = (_np(t) for t in kops.linalg.eig(SPD))
    assert w.dtype == kw.dtype and v.dtype == kv.dtype and v.shape == kv.shape
    np.testing.assert_allclose(np.sort_complex(w), np.sort_complex(kw), rtol=1e-4)
    np.testing.assert_allclose(SPD @ v, v * w, rtol=1e-4, atol=1e-4)


def test_lu_factor_rebuilds_the_matrix_as_keras_describes():
    lu, p = linalg.lu_factor(A)
    lower, upper = np.tril(lu, -1) + np.eye(3, dtype=np.float32), np.triu(lu)
    np.testing.assert_allclose(lower @ upper, A[np.argsort(p)], rtol=1e-5, atol=1e-6)


ERRORS = [
    ("inv", (RHS,), {}, "rank >= 2"), ("det", (TALL,), {}, "square matrix"),
    ("solve", (A, RNG.normal(size=(4,)).astype(np.float32)), {}, "a.shape\\[-1\\] == b.shape"),
    ("solve", (A, RNG.normal(size=(4, 2)).astype(np.float32)), {}, "a.shape\\[-2\\] == b.shape"),
    ("qr", (A,), {"mode": "r"}, "mode"),
    ("lstsq", (TALL, RHS), {}, "b.shape\\[0\\]"),
    ("cholesky", (-SPD,), {}, "Cholesky"),
]


@pytest.mark.parametrize("name,args,kwargs,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_get_keras_s_error(name, args, kwargs, message):
    """Keras's message where Keras checks the argument itself; where TensorFlow fails deep
    inside (a vector b of the wrong length, a matrix that is not positive definite), minidl
    raises Keras's ValueError with the message Keras's shape check would give."""
    with pytest.raises(Exception) as theirs:
        _np(getattr(kops.linalg, name)(*args, **kwargs))
    with pytest.raises(Exception, match=message) as ours:
        getattr(linalg, name)(*args, **kwargs)
    if isinstance(theirs.value, ValueError):  # Keras's own check (not TensorFlow's error)
        assert type(ours.value) is ValueError


@pytest.mark.parametrize("name", ["inv", "det", "cholesky", "qr", "svd", "eigh", "solve",
                                  "lstsq", "pinv"])
def test_integer_matrices_are_refused_as_keras_refuses_them(name):
    ints = np.int32([[2, 1], [1, 3]])
    args = (ints, np.int32([1, 2])) if name in ("solve", "lstsq") else (ints,)
    with pytest.raises(Exception, match="int32"):
        _np(getattr(kops.linalg, name)(*args)[0] if name in ("qr", "svd", "eigh")
            else getattr(kops.linalg, name)(*args))
    with pytest.raises(TypeError, match="Received: dtype=int32"):
        getattr(linalg, name)(*args)


def test_jvp_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="forward-mode"):
        ops.jvp(lambda x: x, (A,), (A,))


# -- derivatives ----------------------------------------------------------------------------------
GRADIENT_CASES = [("inv", [A]), ("inv", [BATCH]), ("det", [A]), ("det", [BATCH]),
                  ("logdet", [SPD]), ("logdet", [SPD_BATCH]),
                  ("solve", [A, RHS]), ("solve", [A, RHS2]), ("solve", [BATCH, BATCH[..., :2]])]


def _cotangent(i, y):
    return np.random.default_rng(50 + i).normal(size=np.shape(y)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def keras_gradients():
    """All cases' input gradients from one tf.GradientTape."""
    inputs = [[tf.constant(x) for x in xs] for _, xs in GRADIENT_CASES]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = 0.0
        for i, ((name, _), xs) in enumerate(zip(GRADIENT_CASES, inputs)):
            y = getattr(kops, name)(*xs)
            loss += tf.reduce_sum(y * _cotangent(i, y))
    return [[np.asarray(g) for g in gs] for gs in tape.gradient(loss, inputs)]


def minidl_gradients(i, op=None):
    name, xs = GRADIENT_CASES[i]
    xs = [np.array(x) for x in xs]
    with Tape() as tape:
        tape.watch(xs)
        y = (op or getattr(ops, name))(*xs)
    return tape.gradient([(y, _cotangent(i, y))], [], inputs=xs)


def assert_same_gradients(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("i", range(len(GRADIENT_CASES)),
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(GRADIENT_CASES)])
def test_gradient_matches_tensorflow(i):
    assert_same_gradients(minidl_gradients(i), keras_gradients()[i])


def test_a_wrong_derivative_fails_the_comparison():
    """Negative control: inv's derivative without its minus sign fails against TensorFlow."""
    def wrong_inv(x):
        x, = backprop.values(x)
        y = linalg.inv(x)
        return backprop.record(y, "inv", [x], lambda dy: [y.T @ dy @ y.T])
    with pytest.raises(AssertionError):
        assert_same_gradients(minidl_gradients(0, wrong_inv), keras_gradients()[0])
