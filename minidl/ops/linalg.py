"""keras.ops.linalg for NumPy arrays: factorizations, inverses, solves and decompositions.

    from minidl.ops import linalg               # or minidl.ops.inv, ..., as keras.ops has them
    x = linalg.solve(a, b)                      # a @ x = b

Matrices are the last two axes (a batch of matrices is (..., M, N)). Every function works
in x's float dtype (ints and bools are refused, as Keras's TensorFlow kernels refuse them).
Keras's checks and messages: keras/src/ops/linalg.py; its TensorFlow versions:
keras/src/backend/tensorflow/linalg.py. inv, det, logdet and solve have derivatives in
training steps (backprop_numpy.py); the others are plain values.
"""
import numpy as np

from minidl.ops.core import _as, convert_to_tensor, result_type
from minidl.ops.numpy import norm  # noqa: F401 (keras.ops.linalg.norm)


def _matrices(*xs, square=True):
    """Each x as an array of one float dtype, checked to be (batches of) matrices, square
    unless told. Ints and bools are refused, as TensorFlow's linalg kernels refuse them."""
    dtype = result_type(*xs)
    if dtype.kind != "f":
        raise TypeError("keras.ops.linalg takes float arrays (TensorFlow's kernels have no "
                        f"integer versions). Received: dtype={dtype}")
    arrays = _as(xs, dtype)
    for a in arrays:
        if a.ndim < 2:
            raise ValueError("Expected input to have rank >= 2. "
                             f"Received input with shape {a.shape}.")
        if square and a.shape[-1] != a.shape[-2]:
            raise ValueError("Expected a square matrix. "
                             f"Received non-square input with shape {a.shape}")
    return arrays


def _right_hand_side(a, b):
    """Keras's checks on b of a @ x = b: a vector (..., M) or matrices (..., M, K)."""
    b = np.asarray(convert_to_tensor(b), a.dtype)
    if b.ndim < 1:
        raise ValueError(f"Expected input to have rank >= 1. Received scalar input {b}.")
    if b.ndim == a.ndim and a.shape[-2] != b.shape[-2]:
        raise ValueError("Incompatible shapes between `a` and `b`. Expected "
                         f"`a.shape[-2] == b.shape[-2]`. Received: a.shape={a.shape}, "
                         f"b.shape={b.shape}")
    if b.ndim == a.ndim - 1 and a.shape[-1] != b.shape[-1]:
        raise ValueError("Incompatible shapes between `a` and `b`. Expected "
                         f"`a.shape[-1] == b.shape[-1]`. Received: a.shape={a.shape}, "
                         f"b.shape={b.shape}")
    return b


def _t(a):
    return np.swapaxes(a, -1, -2)


# -- inverses and determinants -----------------------------------------------------------------
def inv(x):
    """The inverse matrix: inv(x) @ x = I."""
    x, = _matrices(x)
    return np.linalg.inv(x)


def det(x):
    x, = _matrices(x)
    return np.asarray(np.linalg.det(x))


def logdet(x):
    """log det(x) of a symmetric positive definite x (keras.ops.logdet, in Keras's math.py),
    read from its lower triangle; NaN where x is not positive definite, as TensorFlow's.

    Formula: log det(x) = sum(log(eigenvalues)) = 2 * sum(log(diag(cholesky(x))))
    """
    x, = _matrices(x)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.sum(np.log(np.linalg.eigvalsh(x, UPLO="L")), axis=-1))


def slogdet(x):
    """(sign, log|det|) of x, which stays finite where det overflows."""
    x, = _matrices(x)
    sign, logabsdet = np.linalg.slogdet(x)
    return np.asarray(sign), np.asarray(logabsdet)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse; singular values below rcond * the largest are
    dropped (rcond defaults to 10 * max(M, N) * eps, as tf.linalg.pinv)."""
    x, = _matrices(x, square=False)
    if rcond is None:
        rcond = 10 * max(x.shape[-2:]) * np.finfo(x.dtype).eps
    return np.linalg.pinv(x, rcond=rcond).astype(x.dtype, copy=False)


def matrix_rank(x, tol=None):
    """The number of singular values above tol (default max(M, N) * eps * the largest)."""
    x, = _matrices(x, square=False)
    return np.asarray(np.linalg.matrix_rank(x, tol=tol), np.int32)


# -- solving -------------------------------------------------------------------------------------
def solve(a, b):
    """x with a @ x = b (b a vector (..., M) or matrices (..., M, K))."""
    a, = _matrices(a)
    b = _right_hand_side(a, b)
    if b.ndim == a.ndim - 1:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def solve_triangular(a, b, lower=False):
    """solve(a, b) for a triangular a, reading only its lower (or upper) triangle."""
    a, = _matrices(a)
    a = np.tril(a) if lower else np.triu(a)
    return solve(a, b)


def lstsq(a, b, rcond=None):
    """The least-squares x minimizing |a @ x - b|, through the SVD of the 2-D a, singular
    values below rcond * the largest dropped (default eps * max(M, N))."""
    a, = _matrices(a, square=False)
    b = np.asarray(convert_to_tensor(b), a.dtype)
    if a.ndim != 2:
        raise ValueError(f"Expected a to have rank 2. Received: a.shape={a.shape}")
    if b.ndim not in (1, 2):
        raise ValueError(f"Expected b to have rank 1 or 2. Received: b.shape={b.shape}")
    if b.shape[0] != a.shape[0]:
        raise ValueError("Expected b.shape[0] to be equal to a.shape[0]. Received: "
                         f"a.shape={a.shape}, b.shape={b.shape}")
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * max(a.shape)
    u, s, vt = np.linalg.svd(a, full_matrices=False)  # (M,R), (R,), (R,N)
    keep = s >= a.dtype.type(rcond) * s[0]
    s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0).astype(a.dtype)  # (R,)
    x = vt.T @ (s_inv[:, None] * (u.T @ b.reshape(len(b), -1)))  # (N,K)
    return x.reshape(-1) if b.ndim == 1 else x


# -- factorizations --------------------------------------------------------------------------
def cholesky(x, upper=False):
    """L lower-triangular with L @ L.T = x (or U = L.T when upper) for positive definite x."""
    x, = _matrices(x)
    try:
        factor = np.linalg.cholesky(x)
    except np.linalg.LinAlgError as e:
        raise ValueError(f"Cholesky decomposition failed: {e}") from None
    return _t(factor) if upper else factor


def cholesky_inverse(x, upper=False):
    """inv(L @ L.T) from the Cholesky factor L (or inv(U.T @ U) from U when upper)."""
    x, = _matrices(x)
    factor_inv = np.linalg.inv(np.triu(x) if upper else np.tril(x))
    return factor_inv @ _t(factor_inv) if upper else _t(factor_inv) @ factor_inv


def qr(x, mode="reduced"):
    """Q with orthonormal columns and upper-triangular R with Q @ R = x."""
    if mode not in ("reduced", "complete"):
        raise ValueError("`mode` argument value not supported. Expected one of "
                         f"{{'reduced', 'complete'}}. Received: mode={mode}")
    x, = _matrices(x, square=False)
    return np.linalg.qr(x, mode=mode)


def svd(x, full_matrices=True, compute_uv=True):
    """u, s, vh with u @ diag(s) @ vh = x, s decreasing (s only, without compute_uv)."""
    x, = _matrices(x, square=False)
    if not compute_uv:
        return np.linalg.svd(x, compute_uv=False)
    return tuple(np.linalg.svd(x, full_matrices=full_matrices))


def eig(x):
    """Eigenvalues w and eigenvectors v (columns) of a square x: x @ v = v * w; complex."""
    x, = _matrices(x)
    w, v = np.linalg.eig(x)
    dtype = np.complex128 if x.dtype == np.float64 else np.complex64
    return w.astype(dtype), v.astype(dtype)


def eigh(x):
    """Eigenvalues (increasing) and eigenvectors of a symmetric x (its lower triangle)."""
    x, = _matrices(x)
    w, v = np.linalg.eigh(x)
    return w, v


def lu_factor(x):
    """LU with partial pivoting: (lu, p) with L and U packed in lu (L's unit diagonal left
    out) and x[p] = L @ U, as Keras's TensorFlow version returns them.

    Formula: for each column j, swap in the row i >= j with the largest |x[i, j]|, then
    subtract multiples of row j from the rows below it (the multipliers are L's column j).
    """
    x, = _matrices(x)
    lu = x.copy()
    n = x.shape[-1]
    perm = np.broadcast_to(np.arange(n), x.shape[:-1]).copy()  # (..., N)
    batch = np.indices(x.shape[:-2]).reshape(x.ndim - 2, -1).T if x.ndim > 2 else [()]
    for b in batch:
        m, p = lu[tuple(b)], perm[tuple(b)]  # (N,N), (N,) views
        for j in range(n):
            pivot = j + int(np.argmax(np.abs(m[j:, j])))
            m[[j, pivot]], p[[j, pivot]] = m[[pivot, j]], p[[pivot, j]]
            if m[j, j] != 0:
                m[j + 1:, j] /= m[j, j]
                m[j + 1:, j + 1:] -= np.outer(m[j + 1:, j], m[j, j + 1:])
    return lu, perm.astype(np.int32)


def jvp(fun, primals, tangents, has_aux=False):
    raise NotImplementedError(
        "minidl has no forward-mode differentiation: `jvp` is not supported. Received: "
        f"fun={fun}")
