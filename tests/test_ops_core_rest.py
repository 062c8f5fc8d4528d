"""The rest of keras.ops against Keras 3: core's slices, scatters, casts and control flow,
math's segment reductions, error functions, rsqrt, cdist and Fourier transforms, rearrange,
and custom_gradient; the derivatives of the recorded ones against tf.GradientTape.

Tolerances (each measured against Keras 3.15 / TensorFlow CPU, stated once, used below):
- exact for what only moves, picks, counts or casts values (unstack, slice, slice_update,
  scatter, scatter_update, the segment reductions, saturate_cast, rearrange, dtype) and
  for associative_scan and scan, which combine in Keras's order;
- erf, rsqrt, cdist: rtol 1e-6 (measured: 5 float32 ulps for erf, 2 for rsqrt: minidl
  rounds the float64 value once, TensorFlow evaluates Eigen's float32 polynomial);
- erfc: rtol 5e-6 (measured 6e-7 for erfc above 1e-30, 4e-6 in the far tail near 1e-34);
- erfinv: atol 2e-6 on |x| <= 0.99 (measured 1.7e-6). minidl refines Giles's first guess
  by Newton steps in float64 (erf(erfinv(x)) = x to 1e-15, checked below); TensorFlow's
  float32 erfinv goes through ndtri((x + 1) / 2), whose rounding of (x + 1) / 2 costs it
  digits near +-1 (8e-3 at x = 0.999999), so there the reference is the round trip;
- the Fourier transforms: atol eps32 * sum |x|, float32's bound for a sum of those terms in
  another order (measured up to 5.7e-6 for fft2 of 330 terms): NumPy computes in float64
  and rounds once, TensorFlow in complex64 with its own butterfly order; istft rtol 1e-5, atol 1e-5 (a window's
  reciprocal multiplies those differences by up to ~7);
- gradients: rtol 1e-6, atol 1e-6 (float32 both sides, the same formula up to rearranging).
"""
import functools

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from keras import ops as kops
from minidl import ops
from minidl.ops import backprop
from minidl.tape import Tape
from tests.parity import assert_same_fit, assert_same_loss_and_gradients
from tests.test_ops import assert_same

RNG = np.random.default_rng(0)
F32 = RNG.normal(size=(4, 3)).astype(np.float32)
CUBE = RNG.normal(size=(2, 3, 4)).astype(np.float32)
I32 = RNG.integers(-5, 5, size=(4, 3)).astype(np.int32)
F64 = RNG.normal(size=(4, 3))
TIES = np.float32([[1, 2, 2], [3, 2, 0], [3, 5, 0], [0, 5, 4], [2, 0, 0]])
IDS = np.int32([0, 0, 1, 2, 2])
UNSORTED = np.int32([2, 0, -1, 2, 1])  # a negative id drops its row
INDICES = np.int32([[0, 1], [2, 2], [0, 1], [3, 0]])  # (0, 1) twice
ROWS = np.int32([[1], [3], [1]])
REAL, IMAG = RNG.normal(size=(2, 3, 8)).astype(np.float32)
SIGNAL = RNG.normal(size=(2, 40)).astype(np.float32)


def _stft_pair(*args, **kwargs):
    return kops.stft(SIGNAL, *args, **kwargs)


# (name, args, kwargs); exact unless the name is in TOLERANCES.
CASES = [
    ("unstack", (CUBE,), {}), ("unstack", (CUBE,), {"axis": -1}),
    ("unstack", (F32,), {"num": 4}), ("unstack", (I32,), {"axis": 1}),
    ("slice", (CUBE, (0, 1, 1), (2, 2, 3)), {}), ("slice", (F32, (1, 0), (-1, 2)), {}),
    ("slice", ([[1, 2], [3, 4]], (0, 1), (2, 1)), {}), ("slice", (I32, np.int32([2, 1]), (2, 2)), {}),
    ("slice_update", (F32, (1, 1), np.ones((2, 2), np.float32)), {}),
    ("slice_update", (F32, (3, 2), np.ones((2, 2), np.float32)), {}),  # moved back to fit
    ("slice_update", (F32, (0, 0), np.full((1, 3), 7, np.int32)), {}),
    ("slice_update", (I32, (1, 0), np.full((2, 3), 2.7)), {}),
    ("scatter", (INDICES, np.float32([1, 2, 3, 4]), (4, 3)), {}),
    ("scatter", (ROWS, F32[:3], (5, 3)), {}), ("scatter", ([[0], [2]], [1.5, 2.0], (3,)), {}),
    ("scatter", (INDICES, np.int32([1, 2, 3, 4]), (5, 4)), {}),
    ("scatter_update", (F32, INDICES, np.float32([10, 20, 30, 40])), {}),
    ("scatter_update", (F32, ROWS, np.float32([[1, 2, 3], [4, 5, 6], [7, 8, 9]])), {}),
    ("scatter_update", (I32, INDICES, np.int32([1, 2, 3, 4])), {"reduction": "add"}),
    ("scatter_update", (F32, INDICES, np.float32([1, 2, 3, 4])), {"reduction": "max"}),
    ("scatter_update", (F32, INDICES, np.float32([1, 2, 3, 4])), {"reduction": "MIN"}),
    ("scatter_update", (F32, INDICES, np.float32([1, 2, 3, 4])), {"reduction": "mul"}),
    ("segment_sum", (TIES, IDS), {}), ("segment_sum", (TIES, UNSORTED), {"num_segments": 4}),
    ("segment_sum", (TIES, IDS), {"sorted": True}), ("segment_sum", (I32[:3], np.int32([1, 0, 1])), {}),
    ("segment_max", (TIES, IDS), {}), ("segment_max", (TIES, UNSORTED), {"num_segments": 5}),
    ("segment_max", (TIES, np.int32([0, 0, 2, 2, 4])), {"sorted": True}),
    ("segment_max", (I32, np.int32([3, 0, 3, 1])), {}),
    ("segment_min", (TIES, IDS), {}), ("segment_min", (TIES, UNSORTED), {"num_segments": 4}),
    ("segment_min", (TIES, np.int32([0, 0, 2, 2, 4])), {"sorted": True}),
    ("segment_min", (I32, np.int64([1, 1, 0, 0])), {}),
    ("segment_prod", (TIES, IDS), {}), ("segment_prod", (TIES, UNSORTED), {"num_segments": 4}),
    ("segment_prod", (TIES, np.int32([0, 0, 2, 2, 4])), {"sorted": True}),
    ("segment_prod", (I32, np.int32([0, 1, 1, 0])), {}),
    ("erf", (F32,), {}), ("erf", (F64,), {}), ("erf", (2.0,), {}), ("erfc", (F32 * 3,), {}),
    ("erfc", (F64,), {}), ("erfinv", (np.tanh(F32),), {}), ("erfinv", (np.tanh(F64),), {}),
    ("rsqrt", (np.abs(F32) + 0.1,), {}), ("rsqrt", (np.abs(F64),), {}), ("rsqrt", (4.0,), {}),
    ("cdist", (F32, F32[:2]), {}), ("cdist", (CUBE, CUBE[:1, :2]), {}), ("cdist", (F64, F64[:2]), {}),
    ("saturate_cast", (np.float32([-1, 0.5, 254.7, 256.7, np.inf, -np.inf]), "uint8"), {}),
    ("saturate_cast", (np.float32([-3e9, -5.5, 1.5e9, 3e9, np.inf, np.nan]), "int32"), {}),
    ("saturate_cast", (np.float32([np.nan, -0.5, 300]), "int8"), {}),
    ("saturate_cast", (np.float32([np.inf, 7e4, -7e4, 3.0]), "float16"), {}),
    ("saturate_cast", (np.float64([1e300, -1e300, 1.0]), "float32"), {}),
    ("saturate_cast", (np.int64([2 ** 40, -(2 ** 40), 7]), "int32"), {}),
    ("saturate_cast", (np.int32([-3, 7, 300]), "uint8"), {}),
    ("saturate_cast", (np.float32([-1, 2, 0]), "bool"), {}),
    ("saturate_cast", (np.int32([-3, 7]), "uint32"), {}),
    ("rearrange", (CUBE, "b h w -> b w h"), {}), ("rearrange", (CUBE, "b h w -> (b h) w"), {}),
    ("rearrange", (CUBE, "b h (w1 w) -> (b w1) h w"), {"w1": 2}),
    ("rearrange", (CUBE, "b h (w w1) -> b (w1 h) w"), {"w1": 2}),
    ("fft", ((REAL, IMAG),), {}), ("fft", ((F64, F64 * 2),), {}), ("fft2", ((REAL, IMAG),), {}),
    ("ifft2", ((REAL, IMAG),), {}), ("rfft", (REAL,), {}), ("rfft", (REAL,), {"fft_length": 5}),
("irfft", ((REAL, IMAG),), {}),
    ("irfft", ((REAL, IMAG),), {"fft_length": 9}),
    ("stft", (SIGNAL, 16, 4, 16), {}), ("stft", (SIGNAL, 10, 3, 16), {"window": "hamming"}),
    ("stft", (SIGNAL, 8, 8, 8), {"window": None, "center": False}),
    ("stft", (SIGNAL, 6, 2, 8), {"window": np.linspace(0.1, 1, 6).astype(np.float32)}),
    ("istft", (_stft_pair(16, 4, 16), 16, 4, 16), {}),
    ("istft", (_stft_pair(10, 3, 16, window="hamming", center=False), 10, 3, 16),
     {"window": "hamming", "center": False}),
    ("istft", (_stft_pair(8, 8, 8), 8, 8, 8), {"length": 30}),
    ("view_as_complex", (CUBE[..., :2],), {}), ("view_as_real", (np.complex64([1 + 2j, 3 - 1j]),), {}),
]
TOLERANCES = {"erf": 1e-6, "rsqrt": 1e-6, "cdist": 1e-6, "erfc": 5e-6}
FOURIER = {"fft", "fft2", "ifft2", "rfft", "irfft", "stft"}


def _ids(cases):
    return [f"{c[0]}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=_ids(CASES))
def test_op_matches_keras(name, args, kwargs):
    ours = getattr(ops, name)(*args, **kwargs)
    theirs = getattr(kops, name)(*args, **kwargs)
    if isinstance(ours, list):  # unstack: a list in both
        assert isinstance(theirs, list)
        ours, theirs = tuple(ours), tuple(theirs)
    if name in FOURIER:  # float32's bound for sums in another order: eps * sum |terms|
        _assert_close_pairs(ours, theirs, atol=EPS * _l1(args[0]))
    elif name == "istft":
        _assert_close_pairs(ours, theirs, atol=1e-5, rtol=1e-5)
    elif name == "erfinv":
        _assert_close_pairs(ours, theirs, atol=2e-6)
    else:
        assert_same(ours, theirs, rtol=TOLERANCES.get(name, 0))


EPS = float(np.finfo(np.float32).eps)


def _l1(x):
    return sum(float(np.abs(np.asarray(a, np.float64)).sum()) for a in _flat(x))


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _assert_close_pairs(ours, theirs, atol, rtol=0.0):
    """Same structure, dtypes and shapes; values within atol + rtol * |theirs|."""
    for a, b in zip(_flat(ours), _flat(theirs), strict=True):
        b = kops.convert_to_numpy(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_a_float64_signal_keeps_float64_as_a_keras_tensor_does():
    """rfft of a float64 tensor is float64 in Keras; given a NumPy float64 array, TensorFlow's
    rfft converts it with preferred_dtype=float32 and returns float32. minidl's arrays are
    its tensors, so it follows the tensor."""
    ours = ops.rfft(F64, fft_length=6)
    theirs = kops.rfft(tf.constant(F64), fft_length=6)
    assert kops.rfft(F64)[0].dtype == tf.float32  # (the NumPy-array quirk left out)
    _assert_close_pairs(ours, theirs, atol=1e-12)


# -- errors -----------------------------------------------------------------------------------------
ERRORS = [
    ("scatter_update", (F32, INDICES, np.float32([1, 2, 3, 4])), {"reduction": "sum"},
     "Invalid reduction: sum"),
    ("segment_sum", (TIES, IDS[None]), {}, "should be an 1-D vector"),
    ("segment_max", (TIES, IDS[:3]), {}, "should have same leading dimension"),
    ("segment_sum", (TIES, IDS), {"num_segments": 3, "sorted": True},
     "cannot be set when sorted is True"),
    ("cdist", (F32[0], F32), {}, "must have rank >= 2"),
    ("cdist", (F32, CUBE), {}, "must match"),
    ("stft", (SIGNAL, 16, 0, 16), {}, "must be a positive integer"),
    ("stft", (SIGNAL, 16, 4, 8), {}, "must equal or larger than"),
    ("stft", (SIGNAL, 16, 4, 16), {"window": "blackman"}, "must be one of"),
    ("stft", (SIGNAL, 16, 4, 16), {"window": np.ones(5, np.float32)}, "shape of `window`"),
    ("istft", (_stft_pair(16, 4, 16), 16, 2.5, 16), {}, "must be a positive integer"),
    ("fft", ((REAL, IMAG[0]),), {}, "should have the same shape"),
    ("view_as_complex", (F32,), {}, "Last dimension of input must be size 2"),
    ("scan", (3, 0), {"length": 2}, "should be a callable"),
    ("scan", (lambda c, x: (c, c), 0), {}, "Got no `xs` to scan over"),
    ("scan", (lambda c, x: (c, c), 0), {"length": 2, "unroll": 0}, "must be an positive integer"),
    ("associative_scan", (3, F32), {}, "should be a callable"),
    ("associative_scan", (lambda a, b: a, [F32, F32[:2]]), {}, "must have the same first dimension"),
]


@pytest.mark.parametrize("name,args,kwargs,message", ERRORS, ids=_ids(ERRORS))
def test_bad_arguments_get_keras_s_error(name, args, kwargs, message):
    """The same exception type and message as Keras where Keras checks the argument."""
    with pytest.raises(Exception) as theirs:
        getattr(kops, name)(*args, **kwargs)
    assert message in str(theirs.value)
    with pytest.raises(type(theirs.value), match=message.replace("`", ".").replace("(", ".")
                       .replace(")", ".").replace("[", ".")):
        getattr(ops, name)(*args, **kwargs)


def test_where_tensorflow_fails_without_keras_s_check_minidl_names_the_argument():
    """Keras leaves these to TensorFlow's kernels, whose errors name C++ attributes; minidl
    raises a ValueError or TypeError naming the argument, what it expected and got."""
    for call, message in (
            (lambda o: o.erf(I32), r"float tensor .* Received: x.dtype=int32"),
            (lambda o: o.rsqrt(I32), r"Received: x.dtype=int32"),
            (lambda o: o.segment_sum(TIES, np.int32([0, 0, 2, 2, 2])), r"segment_ids\[2\] = 2 is out of range"),
            (lambda o: o.slice(F32, (3, 0), (2, 3)), r"Expected size\[0\] in \[0, 1\], but got 2"),
            (lambda o: o.unstack(F32, num=2), r"Input shape axis 0 must equal 2"),
            (lambda o: o.fft(REAL), r"should be a tuple of two tensors")):
        with pytest.raises(Exception):
            call(kops)
        with pytest.raises((ValueError, TypeError), match=message):
            call(ops)


def test_is_tensor_and_dtype():
    """dtype as Keras's names; is_tensor says True of minidl's tensors (NumPy arrays), as
    Keras's NumPy backend does, and False of Python numbers and lists, as Keras does."""
    for x in (F32, I32, F64, np.float32(1.0)):
        assert ops.dtype(x) == kops.dtype(kops.convert_to_tensor(x))
        assert ops.is_tensor(x) and kops.is_tensor(kops.convert_to_tensor(x))
    for x in (1.0, [1, 2], "a"):
        assert ops.is_tensor(x) is kops.is_tensor(x) is False


# -- drawn inputs ---------------------------------------------------------------------------------
def _floats(low, high, max_side=6):
    return hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=max_side),
                      elements=st.floats(low, high, width=32, allow_subnormal=False))


@given(x=_floats(-9, 9))
def test_error_functions_and_rsqrt_match_keras_on_drawn_floats(x):
    """erf, erfc (rtol 1e-6, 5e-6), rsqrt of |x| + 1e-3 (rtol 1e-6) and erfinv of
    tanh(x) * 0.99 (atol 2e-6): the module docstring's tolerances."""
    assert_same(ops.erf(x), kops.erf(x), rtol=1e-6)
    assert_same(ops.erfc(x), kops.erfc(x), rtol=5e-6)
    positive = np.abs(x) + np.float32(1e-3)
    assert_same(ops.rsqrt(positive), kops.rsqrt(positive), rtol=1e-6)
    u = (np.tanh(x) * np.float32(0.99)).astype(np.float32)
    _assert_close_pairs(ops.erfinv(u), kops.erfinv(u), atol=2e-6)


def test_erfinv_inverts_erf_to_float64_rounding_up_to_the_ends():
    """The reference near +-1, where TensorFlow's float32 erfinv loses digits: in float64,
    erf(erfinv(x)) = x to 1e-14, some 50 ulps of 1 (both computed by minidl, but erf by
    Cody's independent approximation, tested against Keras above; float32 needs 1e-7), and
    +-inf at +-1, NaN outside, as Keras's."""
    u = np.concatenate([np.linspace(-1, 1, 20001)[1:-1], 1 - np.logspace(-15, -1, 50)])
    np.testing.assert_allclose(ops.erf(ops.erfinv(u)), u, rtol=0, atol=1e-14)
    ends = ops.erfinv(np.float32([-1, 1, 1.5, -2]))
    np.testing.assert_array_equal(ends, kops.erfinv(np.float32([-1, 1, 1.5, -2])))


@given(data=st.data())
def test_segment_reductions_match_keras_exactly_on_drawn_data(data):
    """Exact: the same additions and comparisons in the same row order as TensorFlow's
    kernels (on integer-valued floats, so the sums have no rounding to order)."""
    n = data.draw(st.integers(1, 6))
    rows = data.draw(hnp.arrays(np.float32, (n, 2), elements=st.integers(-4, 4).map(float)))
    num_segments = data.draw(st.integers(1, 4))
    ids = np.int32(data.draw(st.lists(st.integers(-1, num_segments - 1), min_size=n, max_size=n)))
    for name in ("segment_sum", "segment_max", "segment_min", "segment_prod"):
        assert_same(getattr(ops, name)(rows, ids, num_segments=num_segments),
                    getattr(kops, name)(rows, ids, num_segments=num_segments), rtol=0)
    ids = np.sort(np.abs(ids))
    assert_same(ops.segment_max(rows, ids, sorted=True), kops.segment_max(rows, ids, sorted=True),
                rtol=0)


@given(x=_floats(-10, 10, max_side=7), data=st.data())
def test_slices_and_scatters_match_keras_exactly_on_drawn_arrays(x, data):
    """slice, slice_update (starts past the end included: both move them back), unstack."""
    start = [data.draw(st.integers(0, n - 1)) for n in x.shape]
    size = [data.draw(st.integers(1, n - s)) for n, s in zip(x.shape, start)]
    assert_same(ops.slice(x, start, size), kops.slice(x, start, size), rtol=0)
    block = np.full(size, 7.5, np.float32)
    late = [data.draw(st.integers(0, n)) for n in x.shape]
    assert_same(ops.slice_update(x, late, block), kops.slice_update(x, late, block), rtol=0)
    assert_same(tuple(ops.unstack(x, axis=-1)), tuple(kops.unstack(x, axis=-1)), rtol=0)


@given(real=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=9),
                       elements=st.floats(-3, 3, width=32)), data=st.data())
def test_fourier_transforms_match_keras_on_drawn_signals(real, data):
    """fft, rfft and irfft of drawn signals within float32's bound for sums in another order
    (irfft of one frequency has zero points: TensorFlow aborts there, so sides >= 2)."""
    imag = data.draw(hnp.arrays(np.float32, real.shape, elements=st.floats(-3, 3, width=32)))
    bound = EPS * (_l1(real) + _l1(imag))
    _assert_close_pairs(ops.fft((real, imag)), kops.fft((real, imag)), atol=bound)
    _assert_close_pairs(ops.rfft(real), kops.rfft(real), atol=bound)
    _assert_close_pairs(ops.irfft((real, imag)), kops.irfft((real, imag)), atol=bound)


# -- derivatives against tf.GradientTape ------------------------------------------------------------
ZEROS = np.float32([[1, 2, 0], [0, 3, 0], [2, 2, 4], [5, 0, 1], [2, 0, 3]])  # one or two zeros
UNIT = np.tanh(F32) * np.float32(0.9)
POS = np.abs(F32) + np.float32(0.2)
# (name, inputs to differentiate, the call with `o` = keras.ops or minidl.ops)
GRADIENT_CASES = [
    ("unstack", [CUBE], lambda o, x: o.unstack(x, axis=1)),
    ("slice", [CUBE], lambda o, x: o.slice(x, (0, 1, 1), (2, 2, 3))),
    ("slice_update", [F32, F32[:2, :2] * 3], lambda o, x, u: o.slice_update(x, (3, 2), u)
     if o is ops else _block_update(x, u)),
    ("scatter", [np.float32([1, 2, 3, 4])], lambda o, v: o.scatter(INDICES, v, (4, 3))),
    ("scatter", [F32[:3]], lambda o, v: o.scatter(ROWS, v, (5, 3))),
    ("scatter_update", [F32, np.float32([10, 20, 30, 40])],
     lambda o, x, u: o.scatter_update(x, INDICES, u)),
    ("scatter_update", [F32, F32[:3] * 2], lambda o, x, u: o.scatter_update(x, ROWS, u)),
    ("scatter_update", [F32, np.float32([1, 2, 3, 4])],
     lambda o, x, u: o.scatter_update(x, INDICES, u, reduction="add")),
    ("segment_sum", [TIES], lambda o, x: o.segment_sum(x, UNSORTED, num_segments=4)),
    ("segment_sum", [TIES], lambda o, x: o.segment_sum(x, IDS, sorted=True)),
    ("segment_max", [TIES], lambda o, x: o.segment_max(x, IDS)),
    ("segment_max", [TIES], lambda o, x: o.segment_max(x, UNSORTED, num_segments=4)),
    ("segment_max", [TIES], lambda o, x: o.segment_max(x, IDS, sorted=True)),
    ("segment_min", [TIES], lambda o, x: o.segment_min(x, UNSORTED, num_segments=4)),
    ("segment_min", [TIES], lambda o, x: o.segment_min(x, IDS, sorted=True)),
    ("segment_prod", [ZEROS], lambda o, x: o.segment_prod(x, np.int32([0, 0, 1, 1, 1]))),
    ("segment_prod", [ZEROS], lambda o, x: o.segment_prod(x, np.int32([1, -1, 0, 2, 0]),
                                                          num_segments=3)),
    ("segment_prod", [ZEROS], lambda o, x: o.segment_prod(x, IDS, sorted=True)),
    ("erf", [F32], lambda o, x: o.erf(x)), ("erfc", [F32], lambda o, x: o.erfc(x)),
    ("erfinv", [UNIT], lambda o, x: o.erfinv(x)), ("rsqrt", [POS], lambda o, x: o.rsqrt(x)),
    ("rearrange", [CUBE], lambda o, x: o.rearrange(x, "b h (w w1) -> b (w1 h) w", w1=2)),
]


def _block_update(x, u):
    """slice_update(x, (3, 2), u) of a (4, 3) x and a (2, 2) u (start moved back to (2, 1)) as
    tf.tensor_scatter_nd_update: Keras's TensorFlow slice_update is XLA's
    DynamicUpdateSlice, which has no gradient registered (test below), so the reference is
    the same update written with an op that has one."""
    block = [[r, c] for r in (2, 3) for c in (1, 2)]
    return tf.tensor_scatter_nd_update(x, block, tf.reshape(u, (-1,)))


def test_keras_s_slice_update_has_no_gradient_in_tensorflow():
    x, u = tf.constant(F32), tf.constant(F32[:2, :2])
    with tf.GradientTape() as tape:
        tape.watch([x, u])
        y = kops.slice_update(x, (1, 1), u)
    with pytest.raises(LookupError, match="XlaDynamicUpdateSlice"):
        tape.gradient(y, [x, u])
    np.testing.assert_array_equal(_block_update(x, u), kops.slice_update(x, (3, 2), u))


def _cotangents(i, case):
    """The dL/dy each case's outputs get: fixed random numbers of the outputs' shapes."""
    rng = np.random.default_rng(100 + i)
    return [rng.normal(size=np.shape(y)).astype(np.float32)
            for y in _flat(case[2](ops, *case[1]))]


@functools.lru_cache(maxsize=None)
def keras_gradients():
    """Every case's input gradients, from one tf.GradientTape over all the cases."""
    variables = [[tf.constant(x) for x in case[1]] for case in GRADIENT_CASES]
    with tf.GradientTape() as tape:
        tape.watch(variables)
        loss = 0.0
        for i, (case, xs) in enumerate(zip(GRADIENT_CASES, variables)):
            for y, dy in zip(_flat(case[2](kops, *xs)), _cotangents(i, case)):
                loss += tf.reduce_sum(y * dy)
    return [[np.asarray(g) for g in grads] for grads in tape.gradient(loss, variables)]


def minidl_gradients(i, case, call=None):
    xs = [np.array(x) for x in case[1]]  # arrays of their own, so the tape tells them apart
    with Tape() as tape:
        tape.watch(xs)
        ys = _flat((call or case[2])(ops, *xs))
    return tape.gradient(list(zip(ys, _cotangents(i, case))), [], inputs=xs)


def assert_same_gradients(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("i", range(len(GRADIENT_CASES)), ids=_ids(GRADIENT_CASES))
def test_gradient_matches_tensorflow(i):
    assert_same_gradients(minidl_gradients(i, GRADIENT_CASES[i]), keras_gradients()[i])


def test_a_wrong_derivative_fails_the_comparison():
    """Negative controls: erf with exp(-x**2) alone (without 2/sqrt(pi)), segment_max sending
    all of dy to every tied row (not sharing it), and scatter_update giving the replaced
    entries their gradient back: each fails against TensorFlow."""
    def wrong_erf(o, x):
        x, = backprop.values(x)
        return backprop.record(ops.math.erf(x), "erf", [x], lambda dy: [dy * np.exp(-x * x)])

    def wrong_segment_max(o, x):
        x, = backprop.values(x)
        y = ops.math.segment_max(x, IDS)
        return backprop.record(y, "segment_max", [x],
                               lambda dy: [np.where(x == y[IDS], dy[IDS], 0).astype(dy.dtype)])

    def wrong_scatter_update(o, x, u):
        x, u = backprop.values(x, u)
        y = ops.core.scatter_update(x, INDICES, u)
        return backprop.record(y, "scatter_update", [x, u], lambda dy: [dy, dy[tuple(INDICES.T)]])

    for wrong, index in ((wrong_erf, 18), (wrong_segment_max, 10), (wrong_scatter_update, 5)):
        assert GRADIENT_CASES[index][0] == wrong.__name__[len("wrong_"):]
        with pytest.raises(AssertionError):
            assert_same_gradients(minidl_gradients(index, GRADIENT_CASES[index], wrong),
                                  keras_gradients()[index])


def test_unrecorded_ops_are_refused_by_name_at_backward():
    """cdist and the Fourier transforms carry no derivative here: a loss reached through one
    is refused, naming the op; on the data alone (nothing to differentiate before it) they
    run in a training step; scatter_update's "max", "min" and "mul" are refused likewise."""
    x = np.array(F32)
    for name, call in (("cdist", lambda h: ops.cdist(h, h)),
                       ("fft", lambda h: ops.fft((h, h))[1]),
                       ("stft", lambda h: ops.stft(h, 2, 1, 2)[0])):
        with Tape() as tape, backprop.tracking():
            tape.watch([x])
            h = ops.exp(backprop.tracked(x))
            y = ops.sum(call(h))
        with pytest.raises(ValueError, match=f"ops.{name} has no derivative in minidl"):
            tape.gradient([(backprop.untracked(y), np.float32(1))], [], inputs=[x])
        with Tape() as tape:  # on a constant, before the weights: nothing to refuse
            w = np.array(F32)
            tape.watch([w])
            y = ops.sum(ops.multiply(call(np.array(F32)), ops.sum(w)))
        tape.gradient([(y, np.float32(1))], [], inputs=[w])
    with pytest.raises(ValueError, match="no derivative in minidl"):
        with Tape() as tape:
            tape.watch([x])
            y = ops.scatter_update(x, INDICES, np.float32([1, 2, 3, 4]), reduction="max")
        tape.gradient([(y, np.ones_like(F32))], [], inputs=[x])


# -- control flow -----------------------------------------------------------------------------------
def _structure(x):
    """x's containers and leaf dtypes and shapes: what Keras's return structure fixes."""
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x).__name__, [_structure(v) for v in x]
    if x is None or isinstance(x, (int, float)):
        return type(x).__name__
    return np.dtype(kops.convert_to_numpy(x).dtype).name, tuple(np.shape(x))


def _assert_same_tree(ours, theirs, rtol=0):
    """Same structure, dtypes and shapes, and the same values (exactly, by default)."""
    assert _structure(ours) == _structure(theirs), (_structure(ours), _structure(theirs))
    for a, b in zip(keras.tree.flatten(ours), keras.tree.flatten(theirs), strict=True):
        np.testing.assert_allclose(a, kops.convert_to_numpy(b), rtol=rtol, atol=0)


# (name, the call with `o` = keras.ops or minidl.ops)
FLOW_CASES = [
    ("cond", lambda o: o.cond(True, lambda: F32 * 2, lambda: F32)),
    ("cond", lambda o: o.cond(np.bool_(False), lambda: (F32, 1), lambda: (F32 + 1, 2))),
    ("cond", lambda o: o.cond(o.convert_to_tensor(False), lambda: [F32], lambda: [F32 - 1])),
    ("switch", lambda o: o.switch(5, [lambda a: a + 1, lambda a: a * 2], F32)),
    ("switch", lambda o: o.switch(-3, [lambda a, b: a + b, lambda a, b: a * b], F32, 2.0)),
    ("switch", lambda o: o.switch(1, [lambda a, b: (a, b), lambda a, b: (b, a)], F32, 2.0)),
    ("while_loop", lambda o: o.while_loop(lambda i: i < 10, lambda i: i + 1, 0)),
    ("while_loop", lambda o: o.while_loop(lambda a, b: a < 5, lambda a, b: (a + 1, b * 2), (0, 1.0))),
    ("while_loop", lambda o: o.while_loop(lambda a, b: a < 3, lambda a, b: [a + 1, b * 2], [0, F32])),
    ("while_loop", lambda o: o.while_loop(lambda a: a < 10, lambda a: a + 2, 0, maximum_iterations=3)),
    ("while_loop", lambda o: o.while_loop(lambda a: o.sum(a) < 100, lambda a: a * 2, np.abs(F32) + 1)),
    ("fori_loop", lambda o: o.fori_loop(0, 5, lambda i, v: v + i, 0)),
    ("fori_loop", lambda o: o.fori_loop(1, 4, lambda i, v: v * o.cast(i, "float32"), F32)),
    ("fori_loop", lambda o: o.fori_loop(1, 4, lambda i, v: (v[0] * 2, v[1] + i), (1.0, 0))),
    ("scan", lambda o: o.scan(lambda c, x: (c + x, c * 2), np.float32(0), F32[:, 0])),
    ("scan", lambda o: o.scan(lambda c, x: (c + x, c), np.zeros(3, np.float32), F32, reverse=True)),
    ("scan", lambda o: o.scan(lambda c, _: (c + 1, c), 0, length=3)),
    ("scan", lambda o: o.scan(lambda c, x: ((c[0] + x, c[1] * x), (c[0], c[1])),
                              (np.float32(0), np.float32(1)), F32[:, 1], unroll=True)),
    ("scan", lambda o: o.scan(lambda c, x: ([c[0] + x[0]], [c[0]]), [np.float32(0)], [F32[:, 1]])),
    ("scan", lambda o: o.scan(lambda c, x: ({"a": c["a"] + x}, {"a": c["a"]}),
                              {"a": np.float32(0)}, F32[:, 1], unroll=2)),
    ("scan", lambda o: o.scan(lambda c, x: (c * x, None), np.float32(1), F32[:, 2])),
    ("scan", lambda o: o.scan(lambda c, x: ((c[0] + x,), (c[0] * 2,)), [np.float32(0)], F32[:, 0])),
    ("map", lambda o: o.map(lambda a: a * 2, F32)),
    ("map", lambda o: o.map(lambda a: {"s": o.sum(a), "m": a}, F32)),
    ("map", lambda o: o.map(lambda a: (a[0], a[0] * a[1]), (F32, F32))),
    ("map", lambda o: o.map(lambda a: [a[0], a[1]], [F32, I32])),
    ("vectorized_map", lambda o: o.vectorized_map(lambda a: a * 2, F32)),
    ("vectorized_map", lambda o: o.vectorized_map(lambda a: a[0] + a[1], (F32, F32))),
    ("vectorized_map", lambda o: o.vectorized_map(lambda a: (a, o.sum(a)), CUBE)),
    ("associative_scan", lambda o: o.associative_scan(lambda a, b: a + b, F32)),
    ("associative_scan", lambda o: o.associative_scan(lambda a, b: a * b, CUBE, axis=-1, reverse=True)),
    ("associative_scan", lambda o: o.associative_scan(
        lambda a, b: (a[0] + b[0], o.maximum(a[1], b[1])), (CUBE, CUBE + 1), axis=1)),
    ("associative_scan", lambda o: o.associative_scan(lambda a, b: [a[0] + b[0], a[1] * b[1]],
                                                      [F32[:1], F32[:1]])),
]


@pytest.mark.parametrize("i", range(len(FLOW_CASES)), ids=_ids(FLOW_CASES))
def test_control_flow_matches_keras(i):
    """Keras's return structures (tuple for a list of loop variables, Python values kept by
    cond and switch, arrays made of loop variables) and values, exactly: the same float
    operations in the same order (associative_scan combines as Keras's odd-even recursion);
    vectorized_map to float32 rounding (rtol 1e-6), as TensorFlow vectorizes the function
    (a sum over each slice becomes one reduction over all, added in another order)."""
    name, call = FLOW_CASES[i]
    _assert_same_tree(call(ops), call(kops), rtol=1e-6 if name == "vectorized_map" else 0)


@given(x=hnp.arrays(np.float32, st.tuples(st.integers(1, 11), st.integers(1, 3)),
                    elements=st.floats(-100, 100, width=32)), reverse=st.booleans())
def test_associative_scan_rounds_as_keras_on_drawn_lengths(x, reverse):
    """Exact, for every length 1 .. 11 (the recursion's odd and even cases): a sequential
    cumsum would round differently from Keras's tree of additions."""
    _assert_same_tree(ops.associative_scan(lambda a, b: a + b, x, reverse=reverse),
                      kops.associative_scan(lambda a, b: a + b, x, reverse=reverse))


def flow(o, w, xs):
    """Loops and branches over a weight w (3,) and inputs xs (4, 3), in either library."""
    carry, ys = o.scan(lambda c, x: (o.tanh(c * w + x), c * x), o.zeros_like(w), xs)
    total = o.fori_loop(0, 3, lambda i, v: v * w + 1.0, carry)
    doubled = o.while_loop(lambda k, v: k < 2, lambda k, v: (k + 1, v * o.exp(w * 0.1)), (0, total))
    mapped = o.map(lambda row: o.sum(row * w), xs)
    prefix = o.associative_scan(lambda a, b: a * b + b, xs * w, axis=0)
    branch = o.cond(True, lambda: o.square(w), lambda: w)
    picked = o.switch(1, [lambda v: v, lambda v: o.sin(v)], w)
    return [ys, doubled[1], mapped, prefix, branch, picked]


def test_gradients_flow_through_loops_and_branches_as_in_tensorflow():
    """dL/dw and dL/dxs through scan, fori_loop, while_loop, map, associative_scan, cond and
    switch, against tf.GradientTape over Keras's versions (rtol 1e-5: long chains of float32
    products, in the same order); and a negative control: the same graph with scan's tanh
    differentiated as the identity fails."""
    w, xs = np.float32([0.5, -0.3, 0.8]), F32
    tw, txs = tf.constant(w), tf.constant(xs)
    cotangents = [np.random.default_rng(5 + j).normal(size=np.shape(y)).astype(np.float32)
                  for j, y in enumerate(flow(ops, w, xs))]
    with tf.GradientTape() as tape:
        tape.watch([tw, txs])
        loss = sum(tf.reduce_sum(y * dy) for y, dy in zip(flow(kops, tw, txs), cotangents))
    theirs = [np.asarray(g) for g in tape.gradient(loss, [tw, txs])]

    def ours(o):
        a, b = np.array(w), np.array(xs)
        with Tape() as tape, backprop.tracking():  # as your code's arrays in a training step
            tape.watch([a, b])
            ys = [backprop.untracked(y) for y in flow(o, backprop.tracked(a), backprop.tracked(b))]
        return tape.gradient(list(zip(ys, cotangents)), [], inputs=[a, b])
    for a, b in zip(ours(ops), theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    class WrongTanh:  # ops, but tanh's derivative taken as 1
        def __getattr__(self, name):
            if name == "tanh":
                def tanh(x):
                    x, = backprop.values(x)
                    return backprop.record(np.tanh(x), "tanh", [x], lambda dy: [dy])
                return tanh
            return getattr(ops, name)
    with pytest.raises(AssertionError):
        for a, b in zip(ours(WrongTanh()), theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- custom_gradient --------------------------------------------------------------------------------
def custom_functions(o, halve=True):
    """A straight-through rounding (round forward, identity backward) and a tanh whose
    gradient is deliberately half the true one (so a library that ignored custom_gradient
    would fail), written once for both libraries, with TensorFlow's grad_fn(upstream)."""
    @o.custom_gradient
    def ste_round(x):
        def grad_fn(upstream):
            return upstream
        return o.round(x), grad_fn

    @o.custom_gradient
    def soft_tanh(x):
        y = o.tanh(x)

        def grad_fn(upstream):
            return o.multiply(upstream, o.multiply(1.0 - y * y, 0.5 if halve else 1.0))
        return y, grad_fn
    return ste_round, soft_tanh


def custom_body(o, model, x, halve=True):
    ste_round, soft_tanh = custom_functions(o, halve)
    h = model.a(x)  # (N,6)
    return model.out(soft_tanh(ste_round(h * 4.0) / 4.0 + h))  # (N,2)


class KerasCustom(keras.Model):
    def __init__(self):
        super().__init__()
        self.a, self.out = keras.layers.Dense(6), keras.layers.Dense(2)

    def call(self, x):
        return custom_body(kops, self, x)


class MinidlCustom(minidl.Model):
    def __init__(self, halve=True):
        super().__init__()
        self.a, self.out = minidl.layers.Dense(6), minidl.layers.Dense(2)
        self.halve = halve

    def call(self, x):
        return custom_body(ops, self, x, self.halve)


def test_a_custom_gradient_trains_as_in_keras():
    """Loss and every weight's gradient (rtol 1e-5: the parity helpers' float32 tolerance)
    and two epochs of fit, against the Keras twin; a negative control: the same model with
    the true tanh derivative (custom_gradient's grad_fn not halving) fails."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    keras_model, model, wrong = KerasCustom(), MinidlCustom(), MinidlCustom(halve=False)
    keras_model(x), model(x), wrong(x)
    model.set_weights(keras_model.get_weights())
    wrong.set_weights(keras_model.get_weights())
    for m in (keras_model, model, wrong):
        m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(AssertionError):
        assert_same_loss_and_gradients(keras_model, wrong, x, y)
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=2, batch_size=8)


def test_custom_gradient_outside_a_training_step_and_its_errors():
    """Outside a training step h(x) is f(x)[0]; Keras's backend-agnostic grad_fn(*args,
    upstream=None) form receives upstream as args[0]; a grad_fn returning the wrong number
    of gradients is refused by name."""
    @ops.custom_gradient
    def double(x):
        def grad_fn(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * 3.0
        return x * 2.0, grad_fn
    np.testing.assert_array_equal(double(F32), F32 * 2)
    x = np.array(F32)
    with Tape() as tape:
        tape.watch([x])
        y = double(x)
    dx, = tape.gradient([(y, np.ones_like(F32))], [], inputs=[x])
    np.testing.assert_array_equal(dx, np.full_like(F32, 3.0))

    @ops.custom_gradient
    def two_gradients(x):
        return x * 1.0, lambda upstream: (upstream, upstream)
    with pytest.raises(ValueError, match="returned 2 gradients for 1 arguments of `two_gradients`"):
        with Tape() as tape:
            tape.watch([x])
            y = two_gradients(x)
        tape.gradient([(y, np.ones_like(F32))], [], inputs=[x])


COMPARED = ({c[0] for c in CASES + FLOW_CASES + GRADIENT_CASES}
            | {"is_tensor", "dtype", "custom_gradient"})
