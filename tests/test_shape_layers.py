"""The shape-only and pass-through layers against Keras's: ZeroPadding, Cropping and UpSampling
in 1, 2 and 3 dimensions, Permute, RepeatVector, Identity and ActivityRegularization.

Each layer is built in both frameworks from the same arguments (hypothesis draws them in
every form Keras accepts, with the shapes): outputs and input gradients (tf.GradientTape)
must be equal, output shapes and configs the same both ways. Then models: summaries, a fit
History, a `.keras` file each way, central differences with negative controls, and Keras's
errors for bad arguments.
"""
import json

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

import keras
import minidl
from minidl import regularizers
from minidl.layers import (ActivityRegularization, Cropping1D, Cropping2D, Cropping3D,
                           Identity, Permute, RepeatVector, UpSampling1D, UpSampling2D,
                           UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from minidl.models import load_model
from minidl.saving.layer_config import layer_from_config
from minidl.tape import Tape
from minidl.testing import check_gradients
from parity import assert_same_fit, assert_same_loss_and_gradients, same_random_weights
from reference.twins import keras_twin


# -- both frameworks on one layer ---------------------------------------------------------------
def outputs_and_input_gradient(layer, x, dy):
    """(y, dL/dx) of a minidl layer for the output gradient dy."""
    with Tape() as tape:
        y = layer(x)
    (dx,) = tape.gradient([(y, dy)], [], inputs=[x])
    return y, dx


def keras_outputs_and_input_gradient(layer, x, dy):
    """The same for a Keras layer, from TensorFlow's GradientTape."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    return np.asarray(y), np.asarray(tape.gradient(y, x, output_gradients=tf.constant(dy)))


def plain(config):
    """A layer config as a .keras file holds it (tuples as lists), without the dtype policy."""
    return json.loads(json.dumps({k: v for k, v in config.items() if k != "dtype"}))


def assert_same_layer(name, args, shape, seed=0):
    """Built from the same arguments, the two layers agree on everything."""
    ours, theirs = getattr(minidl.layers, name)(*args), getattr(keras.layers, name)(*args)
    # configs: equal, and each framework rebuilds the other's
    assert plain(ours.get_config()) == plain({**theirs.get_config(), "name": ours.name})
    from_ours = getattr(keras.layers, name).from_config(ours.get_config())
    assert plain(from_ours.get_config()) == plain(ours.get_config())
    from_theirs = layer_from_config(keras.saving.serialize_keras_object(theirs))
    assert plain(from_theirs.get_config()) == plain({**theirs.get_config()})
    # output shapes, known and unknown sizes
    for sample in (shape[1:], (None,) + tuple(shape[2:])):
        assert ours.compute_output_shape((None,) + tuple(sample)) == tuple(
            theirs.compute_output_shape((None,) + tuple(sample)))
    # numbers
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    dy = rng.normal(size=ours.compute_output_shape(shape)).astype(np.float32)
    y, dx = outputs_and_input_gradient(ours, x, dy)
    keras_y, keras_dx = keras_outputs_and_input_gradient(theirs, x, dy)
    np.testing.assert_array_equal(y, keras_y)
    # sums of copies' gradients (upsampling, RepeatVector) may be added in another order
    np.testing.assert_allclose(dx, keras_dx, rtol=1e-6, atol=1e-6)
    if name == "ActivityRegularization":  # the penalty of this call, divided by the batch
        np.testing.assert_allclose(ours.losses, [float(v) for v in theirs.losses], rtol=1e-6)
    return ours, y, x


# -- ZeroPadding, Cropping, UpSampling ---------------------------------------------------------
@st.composite
def spatial_cases(draw):
    """(layer name, arguments, input shape): one of the nine layers, its argument in one of the
    forms Keras accepts (int, one int per axis, (before, after) per axis; tuple or list)."""
    rank = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["ZeroPadding", "Cropping", "UpSampling"]))
    container = draw(st.sampled_from([tuple, list]))
    if kind == "UpSampling":
        factors = [draw(st.integers(1, 3)) for _ in range(rank)]
        form = "int" if rank == 1 else draw(st.sampled_from(["int", "per axis"]))
        arg = factors[0] if form == "int" else container(factors)
        factors = factors[:1] * rank if form == "int" else factors
        grown = [0] * rank
    else:
        form = draw(st.sampled_from(["int", "per axis", "pairs"] if rank > 1 else ["int", "pairs"]))
        if form == "int":
            pairs = [(draw(st.integers(0, 2)),) * 2] * rank
            arg = pairs[0][0]
        elif form == "per axis":
            pairs = [(k, k) for k in (draw(st.integers(0, 2)) for _ in range(rank))]
            arg = container(k for k, _ in pairs)
        else:
            pairs = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank)]
            arg = container(pairs[0]) if rank == 1 else container(container(p) for p in pairs)
        grown = [sum(p) if kind == "Cropping" else 0 for p in pairs]
    spatial = tuple(draw(st.integers(1, 4)) + g for g in grown)  # crops leave at least one
    shape = (draw(st.integers(1, 3)),) + spatial + (draw(st.integers(1, 3)),)
    return f"{kind}{rank}D", (arg,), shape


@given(spatial_cases())
def test_padding_cropping_and_upsampling_match_keras(case):
    assert_same_layer(*case)


def test_each_layer_does_what_its_name_says():
    """Hand-sized examples: Keras's docstring ones, and the three ideas in one line each."""
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    np.testing.assert_array_equal(UpSampling1D(2)(x)[0], [[0, 1, 2], [0, 1, 2], [3, 4, 5],
                                                          [3, 4, 5]])
    np.testing.assert_array_equal(Cropping1D(1)(np.arange(12.0).reshape(2, 3, 2)), [[[2, 3]],
                                                                                    [[8, 9]]])
    y = ZeroPadding1D(2)(x)
    np.testing.assert_array_equal(y[:, 2:4], x)
    assert y.shape == (2, 6, 3) and y.sum() == x.sum()
    # backward of upsampling: each pixel gets the sum of the gradients of its 2 x 3 block
    image = np.ones((1, 2, 2, 1), np.float32)
    _, dx = outputs_and_input_gradient(UpSampling2D((2, 3)), image, np.ones((1, 4, 6, 1),
                                                                             np.float32))
    np.testing.assert_array_equal(dx, np.full((1, 2, 2, 1), 6.0))


# -- Permute, RepeatVector, Identity, ActivityRegularization -------------------------------------
@st.composite
def shape_only_cases(draw):
    """(layer name, arguments, input shape) of the four layers that take any N-D input (but
    RepeatVector: (N, D))."""
    name = draw(st.sampled_from(["Permute", "RepeatVector", "Identity", "ActivityRegularization"]))
    n = draw(st.integers(1, 3))
    sample = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    if name == "Permute":
        dims = draw(st.permutations(range(1, len(sample) + 1)))
        return name, (draw(st.sampled_from([tuple, list]))(dims),), (n,) + sample
    if name == "RepeatVector":
        return name, (draw(st.integers(1, 5)),), (n, sample[0])
    if name == "Identity":
        return name, (), (n,) + sample
    factors = st.sampled_from([0.0, 0.01, 0.5, 2])
    return name, (draw(factors), draw(factors)), (n,) + sample


@given(shape_only_cases())
def test_permute_repeat_vector_identity_and_activity_regularization_match_keras(case):
    assert_same_layer(*case)


def test_identity_passes_a_list_through():
    xs = [np.ones((2, 3), np.float32), np.zeros((2, 1, 4), np.float32)]
    ys = Identity()(xs)
    assert [y.shape for y in ys] == [(2, 3), (2, 1, 4)]
    assert Identity().compute_output_shape([(None, 3), (None, 1, 4)]) == [(None, 3), (None, 1, 4)]


# -- models: Sequential, functional, summary, fit, files ----------------------------------------
def sequence_stack(framework):
    """A Sequential of the 1-D layers and the four shape-only ones, on (N, 6, 3) sequences."""
    L = framework.layers
    return framework.Sequential([
        framework.Input((6, 3)),
        L.ZeroPadding1D((1, 2), name="pad"),            # (9, 3)
        L.Cropping1D((2, 1), name="crop"),              # (6, 3)
        L.UpSampling1D(2, name="up"),                   # (12, 3)
        L.Conv1D(4, 3, activation="tanh", name="conv"),  # (10, 4)
        L.Permute((2, 1), name="permute"),              # (4, 10)
        L.Dense(5, activation="relu", name="dense"),    # (4, 5): Dense on an N-D input
        L.ActivityRegularization(l1=0.01, l2=0.02, name="penalty"),
        L.Flatten(name="flatten"),                      # (20,)
        L.RepeatVector(3, name="repeat"),               # (3, 20)
        L.Identity(name="identity"),
        L.GlobalAveragePooling1D(name="average"),       # (20,)
        L.Dense(3, activation="softmax", name="classes"),
    ], name="sequence_stack")


def every_shape_layer(framework):
    """Every new layer in one functional model: sequences, images and volumes, merged."""
    L = framework.layers
    steps, image = framework.Input((5, 2), name="steps"), framework.Input((4, 4, 2), name="image")
    s = L.UpSampling1D(3)(L.Cropping1D(1)(L.ZeroPadding1D(2)(steps)))               # (21, 2)
    s = L.GlobalMaxPooling1D()(L.Permute((2, 1))(s))                               # (2,)
    h = L.ZeroPadding2D(((1, 0), (2, 1)))(image)                                  # (5, 7, 2)
    h = L.UpSampling2D((2, 1))(L.Cropping2D(((0, 1), (1, 2)))(h))                 # (8, 4, 2)
    h = L.Conv2D(3, 3, activation="relu")(h)                                      # (6, 2, 3)
    v = L.Reshape((6, 2, 3, 1))(h)
    v = L.UpSampling3D((1, 2, 1))(L.Cropping3D(((1, 0), (0, 1), (1, 1)))(L.ZeroPadding3D(1)(v)))
    v = L.Flatten()(v)                                                            # (7*4*3,)
    merged = L.Concatenate()([s, L.Identity()(v)])
    merged = L.ActivityRegularization(l2=0.001)(L.Dense(4, activation="tanh")(merged))
    merged = L.Flatten()(L.RepeatVector(2)(merged))
    return framework.Model([steps, image], L.Dense(3, activation="softmax")(merged),
                           name="every_shape_layer")


def sequences(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 3)).astype(np.float32), rng.integers(0, 3, size=n)


def two_inputs(n=6, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 5, 2)).astype(np.float32),
            rng.normal(size=(n, 4, 4, 2)).astype(np.float32)]


@pytest.mark.parametrize("build", [sequence_stack, every_shape_layer])
def test_summary_prints_what_kerass_prints(build, capsys):
    """Output shapes, 0 params, and for the functional model the Connected to column."""
    model = build(minidl)
    keras_twin(model, compile=False).summary()
    expected = capsys.readouterr().out
    lines = []
    model.summary(print_fn=lines.append)
    assert "".join(lines) == expected
    assert "(Cropping1D)" in expected and "(RepeatVector)" in expected  # it says something


def test_an_unbuilt_sequential_summary_is_kerass(capsys):
    """Identity and ActivityRegularization are built at once, as Keras builds them: 0 params,
    where the other layers of a Sequential not yet given an input say "0 (unbuilt)"."""
    def unbuilt(framework):
        L = framework.layers
        return framework.Sequential([L.Dense(3, name="dense"), L.Identity(name="identity"),
                                     L.ActivityRegularization(name="penalty"),
                                     L.RepeatVector(2, name="repeat")], name="unbuilt")

    unbuilt(keras).summary()
    expected = capsys.readouterr().out
    lines = []
    unbuilt(minidl).summary(print_fn=lines.append)
    assert "".join(lines) == expected
    assert expected.count("0 (unbuilt)") == 2


def test_a_fit_through_the_sequence_stack_matches_kerass_history():
    """Loss (the activity penalty included), gradients, then a History of three epochs."""
    minidl.utils.set_random_seed(0)
    model = sequence_stack(minidl)
    model.compile(optimizer=minidl.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    twin = keras_twin(model)
    x, y = sequences()
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=3, batch_size=4, validation_split=0.25)
    # Negative control: without the penalty the loss is not Keras's
    penalty = model.get_layer("penalty")
    with_penalty = model.loss_and_gradients(x, y)[0]
    penalty.activity_regularizer = regularizers.L1L2(0.0, 0.0)
    assert abs(model.loss_and_gradients(x, y)[0] - with_penalty) > 1e-4


def test_a_softmax_output_passed_through_keeps_its_logits_as_in_keras():
    """softmax -> Identity -> ActivityRegularization as the output: Keras's cross-entropy still
    works from the logits (its tensors carry them through both layers), and so must minidl's,
    where saturated probabilities (weights x 60) would give another loss (8.07 for 35.41);
    a penalty on the model's input itself, where no layer made x, reaches the loss too."""
    L = minidl.layers
    model = minidl.Sequential([minidl.Input((4,)), L.ActivityRegularization(0.01, 0.1),
                               L.Dense(3, activation="softmax"), L.Identity(),
                               L.ActivityRegularization(l2=0.1)])
    model.compile(optimizer=minidl.optimizers.SGD(0.001), loss="sparse_categorical_crossentropy")
    model.set_weights([w * 60 for w in same_random_weights([model], seed=5)[0].get_weights()])
    twin = keras_twin(model)
    x, y = np.random.default_rng(6).normal(size=(16, 4)).astype(np.float32), np.arange(16) % 3
    assert_same_loss_and_gradients(twin, model, x, y)
    assert_same_fit(twin, model, x, y, epochs=2, batch_size=4)


def test_a_functional_model_of_every_layer_matches_kerass_loss_and_gradients():
    minidl.utils.set_random_seed(1)
    model = every_shape_layer(minidl)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    same_random_weights([model], seed=3)
    assert_same_loss_and_gradients(keras_twin(model), model, two_inputs(), np.arange(6) % 3)


def test_keras_files_both_ways(tmp_path):
    """minidl writes, Keras reads (and the other way): same layers, same predictions."""
    ours, theirs = same_random_weights([every_shape_layer(minidl), every_shape_layer(keras)], 4)
    ours.save(tmp_path / "minidl.keras")
    theirs.save(tmp_path / "keras.keras")
    from_ours, from_theirs = keras.models.load_model(tmp_path / "minidl.keras"), load_model(
        tmp_path / "keras.keras")
    assert [type(l).__name__ for l in from_theirs.layers] == [type(l).__name__
                                                             for l in theirs.layers]
    expected = theirs.predict(two_inputs(), verbose=0)
    for model in (ours, from_ours, from_theirs):
        np.testing.assert_allclose(model.predict(two_inputs(), verbose=0), expected,
                                   rtol=1e-5, atol=1e-6)


# -- central differences -----------------------------------------------------------------------
@pytest.mark.parametrize("layer, shape", [
    (lambda: ZeroPadding1D((2, 0)), (2, 3, 2)), (lambda: ZeroPadding3D((1, 0, 2)), (1, 2, 2, 1, 2)),
    (lambda: Cropping1D((0, 2)), (2, 5, 2)), (lambda: Cropping2D(((1, 0), (0, 2))), (2, 3, 4, 2)),
    (lambda: Cropping3D(((1, 0), (0, 1), (1, 1))), (1, 3, 2, 4, 2)),
    (lambda: UpSampling1D(3), (2, 3, 2)), (lambda: UpSampling2D((2, 3)), (2, 2, 3, 1)),
    (lambda: UpSampling3D((1, 2, 3)), (1, 2, 2, 2, 2)), (lambda: Permute((3, 1, 2)), (2, 2, 3, 4)),
    (lambda: RepeatVector(4), (3, 5)), (lambda: Identity(), (2, 3, 2)),
    (lambda: ActivityRegularization(0.1, 0.2), (2, 4)),
])
def test_check_gradients_passes(float64, layer, shape):
    result = check_gradients(layer(), np.random.default_rng(5).normal(size=shape))
    assert result.passed, str(result)


class UpSamplingFirstCopyOnly(UpSampling1D):
    """A backward that gives each step the gradient of its first copy, not of all of them."""

    def backward(self, dy, cache, need_dx=True):
        return dy[:, ::self.size], {}


class CroppingPutBackAtTheWrongEnds(Cropping1D):
    """A backward that puts the cut steps back at the wrong ends."""

    def backward(self, dy, cache, need_dx=True):
        return np.pad(dy, ((0, 0), self.cropping[::-1], (0, 0))), {}


@pytest.mark.parametrize("wrong, shape", [
    (lambda: UpSamplingFirstCopyOnly(2), (2, 3, 2)),
    (lambda: CroppingPutBackAtTheWrongEnds((2, 0)), (2, 5, 2)),
])
def test_check_gradients_catches_a_wrong_backward(float64, wrong, shape):
    result = check_gradients(wrong(), np.random.default_rng(6).normal(size=shape))
    assert result.failed == ["x (input)"]


class HalfGradientL1L2(regularizers.L1L2):
    """The right penalty, half its gradient."""

    def gradient(self, x):
        return super().gradient(x) / 2


@pytest.mark.parametrize("wrong", [False, True])
def test_the_activity_penalty_reaches_every_gradient(float64, wrong):
    """The whole sequence stack in float64, its input included; the negative control has an
    ActivityRegularization whose penalty's gradient is half what it should be."""
    minidl.utils.set_random_seed(2)
    model = sequence_stack(minidl)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    penalty = model.get_layer("penalty")
    penalty.activity_regularizer = (HalfGradientL1L2 if wrong else regularizers.L1L2)(0.5, 2.0)
    x, y = sequences(n=4, seed=3)
    result = check_gradients(model, x.astype(np.float64), y, check_input=True)
    if wrong:
        assert "dense/kernel" in result.failed and "x (input)" in result.failed, str(result)
    else:
        assert result.passed, str(result)


# -- errors ----------------------------------------------------------------------------------
SAME_ERRORS = [  # (layer name, arguments): Keras's exception, word for word
    ("UpSampling1D", (2.0,)), ("UpSampling1D", (0,)), ("UpSampling2D", (0,)),
    ("UpSampling2D", ((1, 2, 3),)), ("UpSampling3D", ((1, 0, 1),)),
    ("Cropping1D", (-1,)), ("Cropping1D", ((1, 2, 3),)), ("Cropping2D", (-1,)),
    ("Cropping2D", ((1, 2, 3),)), ("Cropping2D", (((1, 2, 3), (0, 0)),)),
    ("Cropping2D", (((0, 0), (0, -1)),)), ("Cropping3D", ((1, 2),)), ("Cropping3D", (-2,)),
    ("ZeroPadding1D", (-1,)), ("ZeroPadding1D", ((1, 2, 3),)), ("ZeroPadding2D", ((1, 2, 3),)),
    ("ZeroPadding2D", (((0, 1), (1, 2, 3)),)), ("ZeroPadding3D", ((1, 2),)),
    ("Permute", ([1, 3],)), ("Permute", ((0, 1),)), ("RepeatVector", (0,)),
    ("RepeatVector", (2.0,)),
]


@pytest.mark.parametrize("name, args", SAME_ERRORS)
def test_bad_arguments_get_kerass_errors(name, args):
    with pytest.raises(Exception) as theirs:
        getattr(keras.layers, name)(*args)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(minidl.layers, name)(*args)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["UpSampling2D", "UpSampling3D", "Cropping2D", "Cropping3D",
                                  "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"])
def test_data_format_is_checked_as_keras_then_channels_first_refused(name):
    with pytest.raises(ValueError) as theirs:
        getattr(keras.layers, name)(data_format="NCHW")
    with pytest.raises(ValueError) as ours:
        getattr(minidl.layers, name)(data_format="NCHW")
    assert str(ours.value) == str(theirs.value)
    getattr(minidl.layers, name)(data_format="Channels_Last")  # Keras lowercases it too
    with pytest.raises(ValueError, match="data_format='channels_first'"):
        getattr(minidl.layers, name)(data_format="channels_first")


@pytest.mark.parametrize("make, message", [
    (lambda: UpSampling2D(interpolation="bilinear"), "`interpolation` other than 'nearest'"),
    (lambda: ZeroPadding2D(-1), "`padding` cannot be negative. Received: padding=-1."),
    (lambda: ZeroPadding3D(-1), "`padding` cannot be negative. Received: padding=-1."),
    (lambda: ZeroPadding2D(1.5), "`padding` should be either an int, a tuple of 2 ints"),
    (lambda: Cropping3D(1.5), "`cropping` should be either an int, a tuple of 3 ints"),
    (lambda: ActivityRegularization(l1=-1), "Received: l1=-1"),
])
def test_what_minidl_refuses_is_named(make, message):
    """Where minidl differs from Keras (an option it lacks; a negative padding it refuses at
    once where Keras fails inside tf.pad; the "_pad" in a padding message, where Keras says
    "_crop"; the regularizer's own wording), the message still names the argument."""
    with pytest.raises(ValueError) as error:
        make()
    assert message in str(error.value)


@pytest.mark.parametrize("name, args, shape, symbolic", [
    ("Cropping1D", ((1, 1),), (2, 2, 3), False), ("Cropping1D", (2,), (None, 4, 3), True),
    ("Cropping2D", (1,), (2, 2, 3, 3), False), ("Cropping2D", (((0, 3), (0, 0)),), (None, 3, 5, 1),
                                                True),
    ("Cropping3D", (1,), (1, 3, 2, 3, 1), False),
    ("Permute", ((2, 1),), (2, 3), False), ("RepeatVector", (2,), (None, 3, 4), True),
    ("UpSampling2D", (2,), (2, 3, 3), False), ("ZeroPadding1D", (1,), (None, 3), True),
])
def test_inputs_keras_refuses_are_refused_with_its_message(name, args, shape, symbolic):
    def call(framework):
        layer = getattr(framework.layers, name)(*args)
        return layer(framework.Input(shape[1:]) if symbolic else np.zeros(shape, np.float32))

    with pytest.raises(ValueError) as theirs:
        call(keras)
    with pytest.raises(ValueError) as ours:
        call(minidl)
    # Keras wraps the message (and names the layer's input); the text that says why is ours.
    # Its eager call says "inputs.shape=" where its compute_output_shape says "input_shape=";
    # minidl works out the output shape when a layer is built, so says the latter both times.
    why = str(ours.value).split("is incompatible with the layer: ")[-1]
    assert why in str(theirs.value).replace("inputs.shape=", "input_shape=")
