"""keras.ops.nn beyond relu/sigmoid/softmax: activations, normalizations, cross-entropies,
convolutions, poolings and attention, against live keras.ops on the TensorFlow backend.

Tolerances, stated once:
- activations, float32 values: rtol 1e-6, atol 5e-7. minidl evaluates TensorFlow's formula op
  for op; gelu's erfc is Cody's rational form, not Eigen's, which moves the last bit.
- gradients, in float64 against tf.GradientTape: rtol 1e-7, atol 1e-9. Both are the exact
  derivative of the same formula; only the order of operations differs, and where a formula
  cancels (approximate gelu's 1 + tanh(u) for x < -3) that order moves the 8th digit.
- normalizations and cross-entropies, float32: rtol 1e-6, atol 1e-6 (a sum over a row adds
  a few ulps of reordering).
"""
import numpy as np
import pytest

import keras
import minidl
import tensorflow as tf
from minidl import ops
from minidl.ops import backprop, nn
from minidl.tape import Tape
from parity import assert_same_fit

RNG = np.random.default_rng(0)

# name, extra arguments; every activation keras.ops has beyond relu/sigmoid/softmax
ACTIVATIONS = [
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("gelu", {}),
    ("gelu", {"approximate": False}), ("celu", {"alpha": 1.5}), ("silu", {}), ("swish", {}),
    ("softplus", {}), ("softsign", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.1}),
    ("relu6", {}), ("hard_sigmoid", {}), ("hard_silu", {}), ("hard_swish", {}),
    ("log_sigmoid", {}), ("glu", {}), ("glu", {"axis": 0}), ("hard_tanh", {}),
    ("hard_shrink", {}), ("hard_shrink", {"threshold": 1.2}), ("soft_shrink", {}),
    ("soft_shrink", {"threshold": 0.8}), ("threshold", {"threshold": 0.3, "default_value": -1.0}),
    ("sparse_plus", {}), ("sparse_sigmoid", {}), ("squareplus", {}), ("squareplus", {"b": 2}),
    ("tanh_shrink", {}), ("sparsemax", {}), ("sparsemax", {"axis": 0}), ("log_softmax", {}),
    ("log_softmax", {"axis": 0}),
]
KINKS = np.array([0.0, 0.3, 0.5, 0.8, 1.0, 1.2, 3.0, 6.0])


def away_from_kinks(shape, dtype):
    """Values in (-7, 7), none within 0.05 of a kink (+-0, 0.3, 0.5, 0.8, 1, 1.2, 3, 6), where
    the one-sided derivatives differ and the two frameworks may pick either."""
    x = RNG.uniform(-7, 7, size=shape)
    near = np.abs(np.abs(x)[..., None] - KINKS).min(axis=-1) < 0.05
    return np.where(near, x + 0.1, x).astype(dtype)


def test_each_activation_op_gives_keras_values_and_dtypes():
    x = away_from_kinks((4, 6), np.float32)
    x[0, :3] = [0.0, 3.0, -1.0]  # the kinks themselves, for the values
    for name, kwargs in ACTIVATIONS:
        theirs = np.asarray(getattr(keras.ops, name)(x, **kwargs))
        for ours in (getattr(ops, name)(x, **kwargs), getattr(nn, name)(x, **kwargs)):
            assert ours.dtype == theirs.dtype, name
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=5e-7, err_msg=name)
    for name, kwargs in (ACTIVATIONS[0], ACTIVATIONS[2], ACTIVATIONS[3]):
        # float64 stays float64, a list of floats -> float32 (Keras's elu(alpha != 1) takes no list)
        assert getattr(ops, name)(x.astype(np.float64), **kwargs).dtype == np.float64
        assert getattr(ops, name)(x.tolist(), **kwargs).dtype == np.float32
        assert getattr(keras.ops, name)(x.tolist(), **kwargs).dtype == "float32"


def activation_gradients(op_of, x, dy, wrong=None):
    """d sum(f(x) * dy) / dx of every activation, from one minidl tape."""
    xs = [x.copy() for _ in ACTIVATIONS]
    with Tape() as tape:
        tape.watch(xs)
        ys = [op_of(name)(xi, **kwargs) for xi, (name, kwargs) in zip(xs, ACTIVATIONS)]
        if wrong is not None:  # the negative control: one op recorded with a wrong derivative
            ys[wrong] = backprop.record(np.array(ys[wrong]), "wrong", [xs[wrong]],
                                        lambda d: [1.01 * d])
    seeds = [(y, d) for y, d in zip(ys, dy)]
    return tape.gradient(seeds, [], inputs=xs)


def test_each_activation_op_is_differentiated_as_tensorflow_differentiates_it():
    x = away_from_kinks((4, 6), np.float64)
    dy = [RNG.normal(size=np.shape(getattr(ops, n)(x, **k))) for n, k in ACTIVATIONS]
    variable = tf.Variable(x)
    with tf.GradientTape(persistent=True) as tf_tape:
        losses = [tf.reduce_sum(getattr(keras.ops, n)(variable, **k) * d)
                  for (n, k), d in zip(ACTIVATIONS, dy)]
    theirs = [tf_tape.gradient(loss, variable).numpy() for loss in losses]
    ours = activation_gradients(lambda n: getattr(ops, n), x, dy)
    for (name, kwargs), a, b in zip(ACTIVATIONS, ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, err_msg=f"{name} {kwargs}")
    # negative control: the same comparison fails for a derivative 1% off
    wrong = activation_gradients(lambda n: getattr(ops, n), x, dy, wrong=3)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(wrong[3], theirs[3], rtol=1e-7, atol=1e-9)


def test_outside_a_training_step_the_ops_are_plain_values():
    x = away_from_kinks((3, 4), np.float32)
    np.testing.assert_array_equal(ops.gelu(x), minidl.activations.gelu(x, approximate=True))
    np.testing.assert_array_equal(ops.elu(x, 0.5), minidl.activations.elu(x, 0.5))
    assert type(ops.selu(x)) is np.ndarray


# -- normalizations, statistics, multi_hot, psnr -----------------------------------------------
def normalization_cases():
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32) * 2 + 1
    c = lambda *s: RNG.uniform(0.5, 2, size=s).astype(np.float32)  # noqa: E731
    mean, var, offset, scale = c(4), c(4), c(4), c(4)
    return [
        ("moments", (x, [0, 2]), {}), ("moments", (x, [1]), {"keepdims": True}),
        ("moments", (x, -1), {"synchronized": True}),
        ("normalize", (x,), {}), ("normalize", (x,), {"axis": 1, "order": 1}),
        ("normalize", (x,), {"order": 3, "epsilon": 0.5}),
        ("normalize", (np.zeros((2, 3), np.float32),), {}),
        ("batch_normalization", (x, mean, var, 1), {"offset": offset, "scale": scale}),
        ("batch_normalization", (x[..., :4], mean, var, -1), {"epsilon": 0.1}),
        ("layer_normalization", (x,), {}),
        ("layer_normalization", (x, c(4, 5), c(4, 5)), {"axis": (1, 2), "epsilon": 1e-2}),
        ("layer_normalization", (x, c(4)), {"axis": 1}),
        ("rms_normalization", (x,), {}), ("rms_normalization", (x, c(5)), {"epsilon": 0.1}),
        ("rms_normalization", (x,), {"axis": [0, 1]}),
        ("psnr", (x, x + 0.1 * c(3, 4, 5), 2.0), {}),
        ("multi_hot", (np.array([[0, 2, 2], [4, 1, 0]]), 5), {}),
        ("multi_hot", (np.array([3, 1]),), {"num_classes": 4, "dtype": "int32"}),
        ("multi_hot", (np.array([[0, 2], [1, 1]]), 3), {"axis": 0}),
    ]


def test_normalization_ops_give_keras_values():
    cases = normalization_cases()
    for name, args, kwargs in cases:
        theirs = getattr(keras.ops, name)(*args, **kwargs)
        ours = getattr(ops, name)(*args, **kwargs)
        for a, b in zip(*[t if isinstance(t, tuple) else (t,) for t in (ours, theirs)]):
            assert np.shape(a) == tuple(b.shape) and np.asarray(a).dtype == b.dtype, name
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=f"{name} {kwargs}")


def statistics_cases():
    """(name, call(o, *arrays) in framework o, arrays) in float64: every array's gradient is
    compared."""
    rng = np.random.default_rng(7)
    f = lambda *s: rng.normal(size=s)  # noqa: E731
    u = lambda *s: rng.uniform(0.5, 2, size=s)  # noqa: E731
    x = f(3, 4, 5) * 2 + 1
    mask = rng.uniform(size=(2, 1, 5, 6)) > 0.3
    return [
        ("moments", lambda o, x: o.moments(x, [0, 2]), (x,)),
        ("moments", lambda o, x: o.moments(x, -1, keepdims=True), (x,)),
        ("batch_normalization", lambda o, x, m, v, b, s: o.batch_normalization(
            x, m, v, 1, offset=b, scale=s), (x, f(4), u(4), f(4), u(4))),
        ("batch_normalization", lambda o, x, m, v: o.batch_normalization(
            x, m, v, -1, epsilon=0.1), (x[..., :4], f(4), u(4))),
        ("layer_normalization", lambda o, x, g, b: o.layer_normalization(
            x, g, b, axis=(1, 2), epsilon=1e-2), (x, u(4, 5), f(4, 5))),
        ("layer_normalization", lambda o, x: o.layer_normalization(x), (x,)),
        ("layer_normalization", lambda o, x, g: o.layer_normalization(
            x, g, rms_scaling=True), (x, u(5))),
        ("rms_normalization", lambda o, x, s: o.rms_normalization(x, s, epsilon=0.1),
         (x, u(5))),
        ("rms_normalization", lambda o, x: o.rms_normalization(x, axis=[0, 1]), (x,)),
        ("normalize", lambda o, x: o.normalize(x), (x,)),
        ("normalize", lambda o, x: o.normalize(x, axis=1, order=1), (x,)),
        ("normalize", lambda o, x: o.normalize(x, order=3), (x,)),
        ("psnr", lambda o, a, b: o.psnr(a, b, 2.0), (x, x + 0.1 * f(3, 4, 5))),
        ("dot_product_attention", lambda o, q, k, v: o.dot_product_attention(q, k, v),
         (f(2, 5, 4, 3), f(2, 6, 4, 3), f(2, 6, 4, 3))),
        ("dot_product_attention", lambda o, q, k, v, b: o.dot_product_attention(
            q, k, v, bias=b, is_causal=True, scale=0.3),
         (f(2, 5, 4, 3), f(2, 5, 2, 3), f(2, 5, 2, 3), f(1, 4, 5, 5))),
        ("dot_product_attention", lambda o, q, k, v: o.dot_product_attention(
            q, k, v, mask=mask), (f(2, 5, 2, 3), f(2, 6, 2, 3), f(2, 6, 2, 3))),
    ]


def weighted_sum(outputs, weights, o):
    """sum(y * w) over the op's outputs (moments has two), in framework `o`."""
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return sum(o.sum(y * w) for y, w in zip(outputs, weights))


def test_statistics_and_attention_ops_are_differentiated_as_tensorflow_differentiates_them():
    """Every input's gradient (x, and mean, variance, gamma, beta, scale, offset, bias, query,
    key, value) against tf.GradientTape in float64, rtol 1e-9: the same derivative, summed in
    another order. Negative control: layer normalization's dx without the path through the
    mean and variance (dy * gamma * rstd, the textbook slip) fails."""
    import warnings

    cases = statistics_cases()
    rng = np.random.default_rng(8)
    weights = []
    for _, call, arrays in cases:
        outputs = call(ops, *arrays)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        weights.append([rng.normal(size=np.shape(y)) for y in outputs])
    variables = [[tf.Variable(a) for a in arrays] for _, _, arrays in cases]
    with warnings.catch_warnings(), tf.GradientTape(persistent=True) as tf_tape:
        warnings.simplefilter("ignore")  # Keras's rms_scaling deprecation warning
        losses = [weighted_sum(call(keras.ops, *vs), w, keras.ops)
                  for (_, call, _), vs, w in zip(cases, variables, weights)]
    theirs = [g.numpy() for loss, vs in zip(losses, variables) for g in tf_tape.gradient(loss, vs)]
    arrays = [[a.copy() for a in arrays] for _, _, arrays in cases]
    with Tape() as tape:
        tape.watch(arrays)
        outputs = [call(ops, *xs) for (_, call, _), xs in zip(cases, arrays)]
    seeds = [(y, w) for ys, ws in zip(outputs, weights)
             for y, w in zip(ys if isinstance(ys, tuple) else (ys,), ws)]
    ours = tape.gradient(seeds, [], inputs=[a for xs in arrays for a in xs])
    names = [f"case {c} ({n}) argument {i}" for c, (n, _, xs) in enumerate(cases)
             for i in range(len(xs))]
    for name, a, b in zip(names, ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=name)
    x, gamma, _ = cases[4][2]
    rstd = 1 / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-2)
    textbook_slip = weights[4][0] * gamma * rstd
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(textbook_slip, theirs[names.index(
            "case 4 (layer_normalization) argument 0")], rtol=1e-9, atol=1e-12)


# -- cross-entropies: values, and their gradients with respect to the output --------------------
def crossentropy_cases(x, labels):
    """(name, target, output, kwargs) for every from_logits and axis combination."""
    p = nn.softmax(x)
    onehot = nn.one_hot(labels, x.shape[-1], dtype=x.dtype)
    cases = []
    for from_logits, out in ((True, x), (False, p)):
        cases += [
            ("categorical_crossentropy", onehot, out, {"from_logits": from_logits}),
            ("categorical_crossentropy", onehot.T, out.T, {"from_logits": from_logits,
                                                           "axis": 0}),
            ("sparse_categorical_crossentropy", labels, out, {"from_logits": from_logits}),
            ("binary_crossentropy", (onehot + 0.3) / 1.6, out if from_logits else nn.sigmoid(x),
             {"from_logits": from_logits})]
    return cases


def test_crossentropy_ops_give_keras_values_and_gradients():
    x = RNG.normal(size=(5, 4)) * 2
    labels = np.array([0, 3, 1, 1, 2])
    cases = crossentropy_cases(x.astype(np.float32), labels)
    for name, target, output, kwargs in cases:  # float32 values
        theirs = getattr(keras.ops, name)(target, output, **kwargs)
        ours = getattr(ops, name)(target, output, **kwargs)
        assert ours.dtype == theirs.dtype and ours.shape == tuple(theirs.shape), name
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6, err_msg=f"{name} {kwargs}")
    cases = crossentropy_cases(x, labels)  # float64 gradients, one tape for all
    variables = [tf.Variable(output) for _, _, output, _ in cases]
    with tf.GradientTape(persistent=True) as tf_tape:
        losses = [tf.reduce_sum(getattr(keras.ops, n)(t, v, **k))
                  for (n, t, _, k), v in zip(cases, variables)]
    theirs = [tf_tape.gradient(loss, v).numpy() for loss, v in zip(losses, variables)]
    outputs = [np.array(output) for _, _, output, _ in cases]
    with Tape() as tape:
        tape.watch(outputs)
        ys = [getattr(ops, n)(t, o, **k) for (n, t, _, k), o in zip(cases, outputs)]
    ours = tape.gradient([(y, np.ones_like(y)) for y in ys], [], inputs=outputs)
    for (name, _, _, kwargs), a, b in zip(cases, ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"{name} {kwargs}")
    with pytest.raises(AssertionError):  # negative control: a gradient missing the 1/p factor
        np.testing.assert_allclose(ours[6] * outputs[6], theirs[6], rtol=1e-9, atol=1e-12)


# -- Keras's argument errors ------------------------------------------------------------------
def keras_error(function, *args, **kwargs):
    with pytest.raises(Exception) as info:
        function(*args, **kwargs)
    return info.value


ERRORS = [
    ("normalize", (np.ones((2, 3), np.float32),), {"order": 0}),
    ("multi_hot", (np.array([1, 2]),), {}),
    ("glu", (np.ones((2, 3), np.float32),), {}),
    ("binary_crossentropy", (np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)), {}),
    ("binary_crossentropy", (np.ones((2, 3), np.float32), np.ones((2, 3, 1), np.float32)), {}),
    ("categorical_crossentropy", (np.ones((2, 3), np.float32), np.ones((3, 3), np.float32)), {}),
    ("sparse_categorical_crossentropy", (np.ones((2,)), np.ones((2, 3), np.float32)),
     {"axis": 0}),
    ("sparse_categorical_crossentropy", (np.ones((2, 2)), np.ones((2, 3), np.float32)), {}),
    ("sparse_categorical_crossentropy", (np.ones((3,)), np.ones((2, 3), np.float32)), {}),
    ("psnr", (np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), 1.0), {}),
    ("dot_product_attention", (np.ones((2, 3, 4), np.float32),) * 3, {}),
    ("dot_product_attention", (np.ones((2, 3, 1, 4), np.float32),) * 3,
     {"flash_attention": True}),
    ("depthwise_conv", (np.ones((1, 3, 3, 3, 2), np.float32), np.ones((2, 2, 2, 2, 1))), {}),
    ("separable_conv", (np.ones((1, 3, 3, 3, 2), np.float32), np.ones((2, 2, 2, 2, 1)),
                        np.ones((1, 1, 1, 2, 3))), {}),
]


@pytest.mark.parametrize("name, args, kwargs", ERRORS, ids=[e[0] for e in ERRORS])
def test_argument_errors_are_keras_errors(name, args, kwargs):
    theirs = keras_error(getattr(keras.ops, name), *args, **kwargs)
    with pytest.raises(type(theirs)) as ours:
        getattr(ops, name)(*args, **kwargs)
    assert str(ours.value) == str(theirs)


# -- a model built from the new ops trains as its Keras twin --------------------------------------
def gated(o, model, x):
    """The same call() in both frameworks, `o` being keras.ops or minidl.ops."""
    h = o.gelu(model.a(x))  # (N,8)
    h = o.add(o.glu(h), o.multiply(o.leaky_relu(h[:, :4], 0.1), o.hard_sigmoid(model.b(x))))
    h = o.concatenate([o.softplus(h), o.celu(h, 0.7), o.squareplus(h)], axis=-1)  # (N,12)
    return o.log_softmax(model.out(o.silu(h)))


class KerasGated(keras.Model):
    def __init__(self):
        super().__init__()
        self.a, self.b = keras.layers.Dense(8), keras.layers.Dense(4)
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return gated(keras.ops, self, x)


class MinidlGated(minidl.Model):
    def __init__(self):
        super().__init__()
        self.a, self.b = minidl.layers.Dense(8), minidl.layers.Dense(4)
        self.out = minidl.layers.Dense(3)

    def call(self, x):
        return gated(ops, self, x)


def test_a_model_calling_the_activation_ops_trains_like_its_keras_twin():
    x = RNG.normal(size=(16, 5)).astype(np.float32)
    y = RNG.integers(0, 3, size=16)
    keras_model, model = KerasGated(), MinidlGated()
    keras_model(x), model(x)
    model.set_weights(keras_model.get_weights())

    def loss(o):  # the cross-entropy op on the log-probabilities, as a loss function
        return lambda y_true, y_pred: o.sparse_categorical_crossentropy(y_true, y_pred,
                                                                        from_logits=True)
    keras_model.compile(optimizer="adam", loss=loss(keras.ops))
    model.compile(optimizer="adam", loss=loss(ops))
    assert_same_fit(keras_model, model, x, y, rtol=1e-5, epochs=3, batch_size=8)


# -- convolutions, poolings, attention, pixel rearrangements -------------------------------------
def window_cases(dtype):
    """(name, differentiable arrays, other arguments, kwargs), drawn in `dtype`."""
    rng = np.random.default_rng(5)
    f = lambda *s: rng.normal(size=s).astype(dtype)  # noqa: E731
    return [
        ("conv", (f(2, 7, 3), f(3, 3, 4)), (), {}),
        ("conv", (f(2, 7, 6, 4), f(3, 2, 4, 5)), (), {"strides": 2, "padding": "same"}),
        ("conv", (f(2, 7, 6, 4), f(3, 2, 2, 6)), (), {"dilation_rate": 2}),  # 2 groups
        ("conv", (f(2, 4, 7, 6), f(3, 3, 4, 5)), (), {"data_format": "channels_first",
                                                     "padding": "same"}),
        ("conv", (f(1, 5, 5, 5, 2), f(2, 2, 2, 2, 3)), (), {"strides": (1, 2, 1)}),
        ("depthwise_conv", (f(2, 7, 6, 3), f(3, 3, 3, 2)), (), {"strides": 2, "padding": "same"}),
        ("depthwise_conv", (f(2, 9, 3), f(3, 3, 2)), (), {"dilation_rate": 2}),
        ("separable_conv", (f(2, 7, 6, 3), f(3, 3, 3, 2), f(1, 1, 6, 4)), (),
         {"padding": "same"}),
        ("separable_conv", (f(2, 9, 3), f(3, 3, 1), f(1, 3, 4)), (), {"strides": 2}),
        ("conv_transpose", (f(2, 5, 4, 3), f(3, 3, 6, 3)), (), {"strides": 2, "padding": "same"}),
        ("conv_transpose", (f(2, 5, 3), f(3, 6, 3)), (), {"strides": 2, "output_padding": 1}),
        ("conv_transpose", (f(2, 3, 5, 4), f(2, 2, 6, 3)), (),
         {"strides": 2, "data_format": "channels_first"}),
        ("max_pool", (f(2, 7, 6, 3),), (3,), {"strides": 2, "padding": "same"}),
        ("max_pool", (f(2, 9, 3),), (2,), {}),
        ("max_pool", (f(2, 3, 6, 6),), ((2, 3),), {"data_format": "channels_first"}),
        ("average_pool", (f(2, 7, 6, 3),), (3,), {"strides": 2, "padding": "same"}),
        ("average_pool", (f(1, 4, 4, 4, 2),), (2,), {}),
        ("depth_to_space", (f(2, 3, 4, 12),), (2,), {}),
        ("space_to_depth", (f(2, 3, 4, 6),), (2,), {"data_format": "channels_first"}),
        ("unfold", (f(2, 3, 7, 6),), ((2, 3),), {"stride": 2, "padding": 1, "dilation": (1, 2)}),
    ]  # fold's gradient is unfold, checked as unfold's values; TensorFlow's fold takes seconds


def other_cases(dtype):
    """Plain-value ops: (name, arguments, kwargs)."""
    rng = np.random.default_rng(6)
    f = lambda *s: rng.normal(size=s).astype(dtype)  # noqa: E731
    return [
        ("dot_product_attention", (f(2, 5, 4, 3), f(2, 6, 4, 3), f(2, 6, 4, 3)), {}),
        ("dot_product_attention", (f(2, 5, 4, 3), f(2, 5, 2, 3), f(2, 5, 2, 3)),
         {"is_causal": True, "bias": f(1, 4, 5, 5), "scale": 0.3}),
        ("dot_product_attention", (f(2, 5, 2, 3), f(2, 6, 2, 3), f(2, 6, 2, 3)),
         {"mask": rng.uniform(size=(2, 1, 5, 6)) > 0.3}),
        ("depth_to_space", (f(2, 3, 4, 12), 2), {}),
        ("depth_to_space", (f(2, 12, 3, 4), 2), {"data_format": "channels_first"}),
        ("space_to_depth", (f(2, 4, 6, 3), 2), {}),
        ("space_to_depth", (f(2, 3, 4, 6), 2), {"data_format": "channels_first"}),
        ("unfold", (f(2, 3, 7, 6), 3), {}),
        ("unfold", (f(2, 3, 7, 6), (2, 3)), {"stride": 2, "padding": 1, "dilation": (1, 2)}),
        ("fold", (f(2, 18, 8), (7, 6), (2, 3)), {"stride": 2, "padding": 1, "dilation": (1, 2)}),
        ("extract_sequences", (f(2, 3, 10), 4, 3), {}),
        ("adaptive_average_pool", (f(2, 10, 3), 4), {}),
        ("adaptive_average_pool", (f(2, 5, 5, 2), (7, 3)), {}),
        ("adaptive_max_pool", (f(2, 7, 9, 3), (3, 4)), {}),
        ("adaptive_max_pool", (f(2, 3, 7, 9), 5), {"data_format": "channels_first"}),
        ("adaptive_average_pool", (f(1, 5, 6, 7, 2), (2, 3, 4)), {}),
        ("polar", (np.abs(f(3, 4)), f(3, 4)), {}),
    ]


def test_window_ops_give_keras_values():
    """Tolerance rtol/atol 1e-5: a convolution sums K products, which TensorFlow orders its
    own way (channels_first convolutions differ by ~4e-6 on values of ~10)."""
    cases = [(n, arrays + rest, k) for n, arrays, rest, k in window_cases(np.float32)]
    for name, args, kwargs in cases + other_cases(np.float32):
        # as tensors: Keras's channels_last adaptive pools fail on NumPy arrays (no .as_list())
        tensors = [keras.ops.convert_to_tensor(a) if isinstance(a, np.ndarray) else a
                   for a in args]
        theirs = getattr(keras.ops, name)(*tensors, **kwargs)
        ours = getattr(ops, name)(*args, **kwargs)
        assert ours.dtype == theirs.dtype and ours.shape == tuple(theirs.shape), name
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=f"{name} {kwargs}")


def test_window_ops_leave_the_layers_automatic_names_alone():
    """The ops run the layers' maths in layers of their own: no Conv2D number is taken."""
    before = minidl.layers.Conv2D(1, 1).name
    for name, arrays, rest, kwargs in window_cases(np.float32):
        getattr(ops, name)(*arrays, *rest, **kwargs)
    after = minidl.layers.Conv2D(1, 1).name
    number = 0 if before == "conv2d" else int(before.rpartition("_")[2])  # conv2d, conv2d_1, ...
    assert after == f"conv2d_{number + 1}"


def test_window_ops_are_differentiated_as_tensorflow_differentiates_them():
    """Input and kernel gradients of every convolution and pooling, from the layers' backward,
    against tf.GradientTape in float32 (TensorFlow's CPU kernels have no float64 NCHW
    convolution or 3-D average pool): rtol/atol 1e-5, the same sums in another order."""
    cases = window_cases(np.float32)
    variables = [[tf.Variable(a) for a in arrays] for _, arrays, _, _ in cases]
    with tf.GradientTape(persistent=True) as tf_tape:
        losses = [tf.reduce_sum(getattr(keras.ops, n)(*vs, *rest, **k) ** 2 / 2)
                  for (n, _, rest, k), vs in zip(cases, variables)]
    theirs = [[g.numpy() for g in tf_tape.gradient(loss, vs)]
              for loss, vs in zip(losses, variables)]
    arrays = [[a.copy() for a in arrays] for _, arrays, _, _ in cases]
    with Tape() as tape:
        tape.watch(arrays)
        ys = [getattr(ops, n)(*xs, *rest, **k) for (n, _, rest, k), xs in zip(cases, arrays)]
    flat = [a for xs in arrays for a in xs]
    ours = tape.gradient([(y, y) for y in ys], [], inputs=flat)  # d(sum(y**2)/2)/dy = y
    expected = [g for gs in theirs for g in gs]
    names = [f"{n} {k} argument {i}" for n, xs, _, k in cases for i in range(len(xs))]
    for name, a, b in zip(names, ours, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)
    # negative controls: a kernel gradient 1% off, and a max pool's gradient spread evenly over
    # its window (average pooling's rule) instead of sent to the max, fail the same comparison
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(ours[1] * 1.01, expected[1], rtol=1e-5, atol=1e-5)
    plain_pool = next(i for i, c in enumerate(cases) if c[0] == "max_pool" and not c[3])
    x = cases[plain_pool][1][0]  # max_pool((2, 9, 3), 2): windows of 2 on the 8 first steps
    pooled = ops.max_pool(x, 2)
    spread = np.zeros_like(x)
    spread[:, :8] = np.repeat(pooled, 2, axis=1) / 2
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(spread, expected[names.index(
            f"max_pool {cases[plain_pool][3]} argument 0")], rtol=1e-5, atol=1e-5)


# The ops this file compares with keras.ops (test_ops.py checks that every public op is).
COMPARED = ({name for name, _ in ACTIVATIONS} | {c[0] for c in normalization_cases()}
            | {c[0] for c in crossentropy_cases(np.zeros((2, 3)), np.array([0, 1]))}
            | {c[0] for c in window_cases(np.float32)} | {c[0] for c in other_cases(np.float32)}
            | {c[0] for c in statistics_cases()} | {"ctc_loss", "ctc_decode"})


# -- a custom layer computing with its own weights through the window and normalization ops -------
def make_block(base, o):
    """A small conv block as Keras's guide writes custom layers: its own kernel, gamma and
    beta, used through ops.conv, ops.layer_normalization, ops.max_pool and attention."""
    class Block(base):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], 4),
                                          initializer="glorot_uniform")
            self.gamma = self.add_weight(shape=(4,), initializer="random_normal")
            self.beta = self.add_weight(shape=(4,), initializer="random_normal")

        def call(self, x):
            h = o.conv(x, self.kernel, padding="same")  # (N,6,6,4)
            h = o.gelu(o.layer_normalization(h, self.gamma, self.beta))
            h = o.max_pool(h, 2)  # (N,3,3,4)
            q = o.reshape(h, (-1, 9, 2, 2))  # (N,9 positions,2 heads,2)
            return o.reshape(o.dot_product_attention(q, q, q), (-1, 36))
    return Block


def test_a_custom_layer_using_the_window_ops_on_its_own_weights_trains_like_keras():
    from parity import assert_same_loss_and_gradients

    x = RNG.normal(size=(8, 6, 6, 2)).astype(np.float32)
    y = RNG.integers(0, 3, size=8)
    models = []
    for framework, o in ((keras, keras.ops), (minidl, ops)):
        model = framework.Sequential([framework.Input((6, 6, 2)), make_block(
            framework.layers.Layer, o)(), framework.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        models.append(model)
    keras_model, model = models
    model.set_weights(keras_model.get_weights())
    assert_same_loss_and_gradients(keras_model, model, x, y)
    assert_same_fit(keras_model, model, x, y, epochs=2, batch_size=4)


def test_float32_stays_float32_in_values_and_gradients():
    """No op here promotes float32 to float64, forward or backward (STYLE: float32 by contract)."""
    x = away_from_kinks((4, 6), np.float32)
    calls = [(lambda o, v, n=n, k=k: getattr(o, n)(v, **k), (x,)) for n, k in ACTIVATIONS]
    calls += [(lambda o, *v, n=n, r=r, k=k: getattr(o, n)(*v, *r, **k), arrays)
              for n, arrays, r, k in window_cases(np.float32)]
    calls += [(call, tuple(a.astype(np.float32) for a in arrays))
              for _, call, arrays in statistics_cases()]
    calls += [(lambda o, v, n=n, t=t, k=k: getattr(o, n)(t, v, **k), (np.array(out),))
              for n, t, out, k in crossentropy_cases(x[:3, :4], np.array([0, 3, 1]))]
    for call, arrays in calls:
        arrays = [a.copy() for a in arrays]
        with Tape() as tape:
            tape.watch(arrays)
            ys = call(ops, *arrays)
        ys = ys if isinstance(ys, tuple) else (ys,)
        grads = tape.gradient([(y, np.ones_like(y)) for y in ys], [], inputs=arrays)
        assert {np.asarray(a).dtype for a in (*ys, *grads)} == {np.dtype(np.float32)}


def test_every_op_has_keras_signature_and_what_is_missing_is_what_the_readme_says():
    """Argument names, order and defaults of every keras.ops.nn and keras.ops.image function
    minidl has; the ones it has not are those README's Deliberately-not list names."""
    import inspect

    missing = set()
    for theirs, ours in ((keras.ops.nn, ops), (keras.ops.image, ops.image)):
        for name in [n for n in dir(theirs) if not n.startswith("_")]:
            if not hasattr(ours, name):
                missing.add(name)
                continue
            keras_args, our_args = [
                [(p.name, p.default) for p in inspect.signature(f).parameters.values()]
                for f in (getattr(theirs, name), getattr(ours, name))]
            assert our_args == keras_args, name
    assert missing == {"elastic_transform", "scale_and_translate"}


# -- CTC ----------------------------------------------------------------------------------------
def test_ctc_loss_and_greedy_decode_give_keras_values_and_gradients():
    """Tolerance 1e-5: both run the forward-backward recursion in float32 (Keras casts float64
    to float32 for TensorFlow's kernel), over 12 steps of logsumexps. Labels with a repeated
    symbol (which needs a blank between), each blank index, padded lengths. Negative control:
    the gradient credited one step late fails."""
    rng = np.random.default_rng(9)
    z = rng.normal(size=(4, 12, 6)).astype(np.float32)
    target = rng.integers(1, 5, size=(4, 5)).astype(np.int32)
    target[1, 1] = target[1, 0]
    target_length, output_length = np.array([5, 3, 4, 1]), np.array([12, 10, 8, 12])
    for mask_index in (0, 5, -1):
        args = (target, z, target_length, output_length)
        np.testing.assert_allclose(ops.ctc_loss(*args, mask_index=mask_index),
                                   keras.ops.ctc_loss(*args, mask_index=mask_index),
                                   rtol=1e-5, atol=1e-5)
    assert ops.ctc_loss(target, z.astype(np.float64), target_length, output_length).dtype == \
        keras.ops.ctc_loss(target, z.astype(np.float64), target_length, output_length).dtype
    variable = tf.Variable(z)
    with tf.GradientTape() as tf_tape:
        loss = tf.reduce_sum(keras.ops.ctc_loss(target, variable, target_length, output_length))
    theirs = tf_tape.gradient(loss, variable).numpy()
    logits = z.copy()
    with Tape() as tape:
        tape.watch([logits])
        y = ops.ctc_loss(target, logits, target_length, output_length)
    ours, = tape.gradient([(y, np.ones_like(y))], [], inputs=[logits])
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(np.roll(ours, 1, axis=1), theirs, rtol=1e-5, atol=1e-5)
    for kwargs in ({}, {"merge_repeated": False, "mask_index": 2}):
        (decoded, scores), (their_decoded, their_scores) = [
            o.ctc_decode(z, output_length, **kwargs) for o in (ops, keras.ops)]
        np.testing.assert_array_equal(decoded, their_decoded)
        assert decoded.dtype == their_decoded.dtype
        np.testing.assert_allclose(scores, their_scores, rtol=1e-6)
    with pytest.raises(ValueError, match="strategy='beam_search'"):
        ops.ctc_decode(z, output_length, strategy="beam_search")


def test_a_model_trained_with_ctc_loss_as_its_loss_follows_its_keras_twin():
    """A per-step classifier (N, T, C) trained on unaligned labels (N, L) with a loss function
    calling ops.ctc_loss: loss, every gradient and History as Keras's (rtol 1e-5)."""
    from parity import assert_same_loss_and_gradients, same_random_weights

    rng = np.random.default_rng(10)
    x = rng.normal(size=(16, 10, 4)).astype(np.float32)
    labels = rng.integers(1, 5, size=(16, 3)).astype(np.int32)

    def ctc(o):
        def loss(y_true, y_pred):
            label_length = o.sum(o.ones_like(y_true, dtype="int32"), axis=-1)  # (N,): 3 each
            input_length = o.sum(o.ones_like(y_pred[:, :, 0], dtype="int32"), axis=-1)  # 10
            return o.ctc_loss(y_true, y_pred, label_length, input_length)
        return loss
    models = []
    for framework in (keras, minidl):
        model = framework.Sequential([framework.Input((10, 4)),
                                      framework.layers.Dense(8, activation="tanh"),
                                      framework.layers.Dense(5)])
        model.compile(optimizer="adam", loss=ctc(framework.ops))
        models.append(model)
    keras_model, model = same_random_weights(models, seed=1)
    assert_same_loss_and_gradients(keras_model, model, x, labels, rtol=1e-5, atol=1e-6)
    assert_same_fit(keras_model, model, x, labels, rtol=1e-5, epochs=3, batch_size=8)
