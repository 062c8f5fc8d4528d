"""Weight constraints against Keras: each projection's numbers, where the optimizer applies
it (after the update, every step, the Embedding's sparse step included), configs, files.

Tolerances: a constraint's output agrees with Keras's to 2e-6 relative (a few float32 ULPs):
the norms are float32 sums, which NumPy and TensorFlow add in different orders, and the
product w * scale carries that one-or-two-ULP difference; NonNeg has no arithmetic and is
equal bit for bit (signs of zeros included). Fits agree to rtol 1e-5 (History) and
rtol 1e-5 / atol 1e-6 (weights, some of which end near 0), as the other twin-fit tests:
a few steps of float32 updates with sums in different orders.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import keras
import minidl
from minidl import constraints
from minidl.saving.layer_config import layer_to_config
from reference.twins import keras_twin

@pytest.fixture(autouse=True, scope="module")
def automatic_names_left_in_step():
    """The twins below make layers with automatic names in minidl only (the Keras twin takes
    the names given): afterwards both counters start again together, as later files expect."""
    yield
    keras.backend.clear_session()
    minidl.backend.clear_session()


KINDS = {  # name: (minidl constructor, Keras constructor), with the same arguments
    "MaxNorm": lambda m, axis: m.constraints.MaxNorm(0.7, axis=axis),
    "UnitNorm": lambda m, axis: m.constraints.UnitNorm(axis=axis),
    "MinMaxNorm": lambda m, axis: m.constraints.MinMaxNorm(0.4, 0.9, rate=0.7, axis=axis),
    "MinMaxNorm_strict": lambda m, axis: m.constraints.min_max_norm(1.0, 2.0, axis=axis),
}


def axes_for(rank):
    """Every single axis (negative ones too), a pair of axes, and None (all of them)."""
    axes = list(range(-rank, rank)) + [None]
    return axes + ([[0, rank - 1]] if rank > 1 else [])


@st.composite
def weights_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, max_side=5))
    scale = draw(st.sampled_from([1e-3, 0.3, 1.0, 7.0]))
    w = draw(hnp.arrays(np.float32, shape, elements=st.floats(-1, 1, width=32))) * scale
    return w.astype(np.float32), draw(st.sampled_from(axes_for(len(shape))))


@given(case=weights_and_axis(), kind=st.sampled_from(sorted(KINDS)))
def test_each_norm_constraint_is_kerass_to_float32_rounding(case, kind):
    w, axis = case
    ours = KINDS[kind](minidl, axis)(w)
    theirs = np.asarray(KINDS[kind](keras, axis)(w))
    assert ours.dtype == np.float32 and ours.shape == w.shape
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=0)


def test_named_cases_zero_slices_and_nonneg_bit_for_bit():
    w = np.array([[0.0, -0.0, 3.0, np.nan], [0.0, -2.0, 4.0, 1.0], [0.0, 1e-30, -0.0, -1.0]],
                 np.float32)
    ours, theirs = constraints.NonNeg()(w), np.asarray(keras.constraints.NonNeg()(w))
    np.testing.assert_array_equal(ours, theirs)  # NaN stays NaN; -0.0 == 0.0 here: the sign
    # of a zero follows TensorFlow's vectorised loop (+0.0), not its scalar tail (-0.0)
    np.testing.assert_array_equal(np.signbit(ours[:2]), np.signbit(theirs[:2]))
    finite = np.nan_to_num(w)  # a column of zeros: norm 0, scaled by 0 / epsilon, stays 0
    for kind in KINDS:
        np.testing.assert_allclose(KINDS[kind](minidl, 0)(finite),
                                   np.asarray(KINDS[kind](keras, 0)(finite)), rtol=2e-6)
    # Keras scales even a column inside the bound, by norm / (epsilon + norm):
    column = np.array([[0.6], [0.8]], np.float32)  # norm 1 < 2
    np.testing.assert_array_equal(constraints.MaxNorm(2)(column),
                                  np.asarray(keras.constraints.MaxNorm(2)(column)))
    assert not np.array_equal(constraints.MaxNorm(2)(np.float32([[3e-7], [4e-7]])),
                              np.float32([[3e-7], [4e-7]]))  # (norm 5e-7: scaled by 5/6)


# -- training: twins whose constrained weights move in lockstep -------------------------------
def image_model(with_constraints=True):
    c = constraints if with_constraints else None
    pick = (lambda value: value) if with_constraints else (lambda value: None)
    inputs = minidl.Input((6, 6, 2))
    h = minidl.layers.Conv2D(3, 3, activation="relu",
                             kernel_constraint=pick(c and c.MaxNorm(0.4, axis=[0, 1, 2])),
                             bias_constraint=pick("non_neg"))(inputs)
    h = minidl.layers.BatchNormalization(
        gamma_constraint=pick(c and c.MinMaxNorm(0.5, 0.9, rate=0.8)),
        beta_constraint=pick(c and c.NonNeg()))(h)
    h = minidl.layers.Flatten()(h)
    outputs = minidl.layers.Dense(3, kernel_constraint=pick(c and c.MaxNorm(0.5)),
                                  bias_constraint=pick(c and c.UnitNorm()))(h)
    return minidl.Model(inputs, outputs), "mse"


def sequence_model():
    return minidl.Sequential([
        minidl.Input((5,)),
        minidl.layers.Embedding(12, 4, embeddings_constraint=constraints.UnitNorm(axis=1)),
        minidl.layers.LSTM(3, kernel_constraint=constraints.MaxNorm(0.6),
                           recurrent_constraint=constraints.UnitNorm(),
                           bias_constraint=constraints.non_neg()),
        minidl.layers.Dense(2, activation="softmax",
                            kernel_constraint=constraints.max_norm(0.8, axis=0))]), \
        "sparse_categorical_crossentropy"


def dense_model():
    return minidl.Sequential([
        minidl.Input((4,)),
        minidl.layers.Dense(6, activation="tanh", kernel_constraint="unit_norm",
                            bias_constraint=constraints.MinMaxNorm(0.1, 0.3, rate=0.5)),
        minidl.layers.PReLU(alpha_constraint=constraints.NonNeg()),
        minidl.layers.Dense(2, kernel_constraint=constraints.MaxNorm(0.5, axis=1))]), "mse"


def data(kind, rng):
    if kind == "sequence":
        return rng.integers(0, 12, (16, 5)), rng.integers(0, 2, (16,))
    shape = (16, 6, 6, 2) if kind == "image" else (16, 4)
    return rng.normal(size=shape).astype(np.float32), \
        rng.normal(size=(16, 3 if kind == "image" else 2)).astype(np.float32)


CASES = [  # (model, optimizer): each optimizer once, each constrained kind of weight once
    ("image", lambda: minidl.optimizers.SGD(0.1, momentum=0.9)),
    ("sequence", lambda: minidl.optimizers.Adam(0.05)),  # the Embedding's sparse step
    ("dense", lambda: minidl.optimizers.RMSprop(0.02, weight_decay=0.1)),  # decay, then update,
]                                                                           # then constraint
MAKERS = {"image": image_model, "sequence": sequence_model, "dense": dense_model}


def assert_same_weights(model, twin):
    for ours, theirs in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind, optimizer", CASES, ids=[kind for kind, _ in CASES])
def test_fit_with_constraints_is_kerass(kind, optimizer):
    rng = np.random.default_rng(3)
    model, loss = MAKERS[kind]()
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.weights])
    model.compile(optimizer=optimizer(), loss=loss)
    twin = keras_twin(model)
    x, y = data(kind, rng)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs, ours = twin.fit(x, y, **fit).history, model.fit(x, y, **fit).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    assert_same_weights(model, twin)
    # the constraints did act: every constrained weight is its own projection now (to the
    # epsilon-sized scaling a second projection makes), which unconstrained N(0, 1) were not
    for w in model.trainable_weights:
        if w.constraint is not None and not isinstance(w.constraint, constraints.MinMaxNorm):
            np.testing.assert_allclose(w.constraint(w.value), w.value, rtol=1e-5, atol=1e-7)


def test_without_the_constraints_the_numbers_differ_negative_control():
    """The comparison above can fail: the same model unconstrained ends elsewhere."""
    rng = np.random.default_rng(3)
    constrained, loss = image_model()
    free, _ = image_model(with_constraints=False)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in constrained.weights]
    for model in (constrained, free):
        model.set_weights(weights)
        model.compile(optimizer=minidl.optimizers.SGD(0.1, momentum=0.9), loss=loss)
    twin = keras_twin(constrained)
    x, y = data("image", rng)
    twin.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    free.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    differs = [not np.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
               for ours, theirs in zip(free.get_weights(), twin.get_weights())]
    assert sum(differs) >= 5  # conv kernel and bias, gamma, beta, dense kernel and bias ...


def test_train_on_batch_and_a_constraint_of_ones_own_as_keras():
    """A plain function and a Constraint subclass, applied at every train_on_batch step."""
    class Halve(constraints.Constraint):
        def __call__(self, w):
            return w * np.float32(0.5)

    class KerasHalve(keras.constraints.Constraint):
        def __call__(self, w):
            return w * 0.5

    models = []
    for framework, clip, halve in ((minidl, lambda w: np.clip(w, -0.2, 0.2), Halve()),
                                   (keras, lambda w: keras.ops.clip(w, -0.2, 0.2),
                                    KerasHalve())):
        model = framework.Sequential([framework.Input((3,)), framework.layers.Dense(
            4, kernel_constraint=clip, bias_constraint=halve, bias_initializer="ones")])
        model.compile(optimizer=framework.optimizers.Adam(0.1), loss="mse")
        models.append(model)
    model, twin = models
    twin.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 4))
        np.testing.assert_allclose(model.train_on_batch(x, y), twin.train_on_batch(x, y),
                                   rtol=1e-5)
    assert_same_weights(model, twin)
    assert np.abs(model.layers[0].kernel.value).max() <= 0.2


def test_a_failing_constraint_leaves_the_step_undone():
    """The step is all or nothing: weights, optimizer slots and iterations stay as they were."""
    def broken(w):
        raise RuntimeError("this constraint fails")

    def wrong_shape(w):
        return w[0]

    for constraint, error in ((broken, RuntimeError), (wrong_shape, ValueError)):
        model = minidl.Sequential([minidl.Input((3,)), minidl.layers.Dense(2),
                                   minidl.layers.Dense(2, kernel_constraint=constraint)])
        model.compile(optimizer=minidl.optimizers.Adam(0.1), loss="mse")
        x, y = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
        model.layers[1].kernel.constraint = None
        model.train_on_batch(x, y)  # a step without it, so the slots hold something
        model.layers[1].kernel.constraint = constraint
        before = model.get_weights(), [s.copy() for s in model.optimizer.variables]
        with pytest.raises(error):
            model.train_on_batch(x, y)
        for a, b in zip(before[0], model.get_weights()):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(before[1], model.optimizer.variables):
            np.testing.assert_array_equal(a, b)


# -- configs, names, errors, files ------------------------------------------------------------
def test_configs_names_and_serialize_as_kerass():
    for cls in ("MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "Constraint"):
        for args in ({}, {"axis": [0, 1]} if cls not in ("NonNeg", "Constraint") else {}):
            ours, theirs = getattr(constraints, cls)(**args), \
                getattr(keras.constraints, cls)(**args)
            assert ours.get_config() == theirs.get_config()
            assert constraints.serialize(ours) == keras.constraints.serialize(theirs)
            again = constraints.deserialize(constraints.serialize(ours))
            assert type(again) is type(ours) and again.get_config() == ours.get_config()
    for name in ("max_norm", "min_max_norm", "non_neg", "unit_norm", "MaxNorm", "constraint"):
        assert type(constraints.get(name)).__name__ == type(keras.constraints.get(name)).__name__
    assert constraints.max_norm is constraints.MaxNorm
    assert constraints.get(None) is None
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)


@pytest.mark.parametrize("bad", [3, "nope", {"class_name": "Nope", "config": {}}])
def test_kerass_errors(bad):
    with pytest.raises(ValueError) as theirs:
        keras.constraints.get(bad)
    with pytest.raises(ValueError) as ours:
        constraints.get(bad)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError) as theirs:
        keras.layers.Dense(2, kernel_constraint=bad)
    with pytest.raises(ValueError) as ours:
        minidl.layers.Dense(2, kernel_constraint=bad)
    assert str(ours.value) == str(theirs.value)


def every_layer_model():
    """Every layer that takes constraints, each with one, for the config comparison."""
    c = constraints
    image = minidl.Input((6, 6, 2))
    h = minidl.layers.Conv2DTranspose(2, 2, kernel_constraint=c.MaxNorm(3, axis=[0, 1, 2]),
                                      bias_constraint="non_neg")(image)
    h = minidl.layers.DepthwiseConv2D(2, depthwise_constraint="unit_norm",
                                      bias_constraint=c.MaxNorm(1))(h)
    h = minidl.layers.SeparableConv2D(2, 2, depthwise_constraint=c.NonNeg(),
                                      pointwise_constraint=c.MinMaxNorm(0.1, 2.0, 0.5),
                                      bias_constraint="max_norm")(h)
    h = minidl.layers.Conv1D(2, 2, kernel_constraint="non_neg")(minidl.layers.Reshape(
        (-1, 2))(h))
    h = minidl.layers.LayerNormalization(gamma_constraint="non_neg",
                                         beta_constraint=c.MaxNorm(2))(h)
    h = minidl.layers.GRU(2, return_sequences=True, kernel_constraint="non_neg",
                          recurrent_constraint=c.UnitNorm(), bias_constraint=c.MaxNorm(2))(h)
    h = minidl.layers.SimpleRNN(2, return_sequences=True, kernel_constraint=c.UnitNorm(0))(h)
    h = minidl.layers.MultiHeadAttention(2, 2, kernel_constraint=c.MaxNorm(1),
                                         bias_constraint="non_neg")(h, h)
    outputs = minidl.layers.Bidirectional(minidl.layers.LSTM(
        2, recurrent_constraint="max_norm"))(h)
    return minidl.Model(image, outputs)


def test_every_layers_config_carries_its_constraints_as_kerass():
    model = every_layer_model()
    twin = keras_twin(model, compile=False)
    compared = 0
    for layer in model.layers:
        ours = layer_to_config(layer, "float32")["config"]
        theirs = twin.get_layer(layer.name).get_config()
        for key in sorted(k for k in theirs if k.endswith("_constraint")):
            assert ours[key] == theirs[key], (layer.name, key)
            compared += ours[key] is not None
    assert compared == 16  # 2 + 2 + 3 + 1 + 2 + 3 + 1 + 2, Bidirectional's inside its layer:
    ours = layer_to_config(model.layers[-1], "float32")["config"]["layer"]["config"]
    theirs = twin.layers[-1].get_config()["layer"]["config"]
    assert ours["recurrent_constraint"] == theirs["recurrent_constraint"] is not None
    # the Keras twin's variables hold the constraints too, so its training applies them
    keras_constrained = sum(v.constraint is not None for v in twin.trainable_variables)
    assert keras_constrained == sum(w.constraint is not None for w in model.trainable_weights)


def test_keras_files_round_trip_both_ways(tmp_path):
    model, _ = image_model()
    model.save(tmp_path / "ours.keras")
    loaded = keras.models.load_model(tmp_path / "ours.keras")
    for ours, theirs in zip(model.trainable_weights, loaded.trainable_variables):
        assert constraints.serialize(ours.constraint) == \
            keras.constraints.serialize(theirs.constraint)
    keras_model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(3, kernel_constraint=keras.constraints.MaxNorm(2),
                           bias_constraint="non_neg"),
        keras.layers.BatchNormalization(gamma_constraint=keras.constraints.UnitNorm(0))])
    keras_model.save(tmp_path / "theirs.keras")
    back = minidl.load_model(tmp_path / "theirs.keras")
    for ours, theirs in zip(back.trainable_weights, keras_model.trainable_variables):
        assert constraints.serialize(ours.constraint) == \
            keras.constraints.serialize(theirs.constraint)
    assert isinstance(back.layers[0].kernel.constraint, constraints.MaxNorm)


def clip_small(w):
    return np.clip(w, -0.1, 0.1)


class Scale(constraints.Constraint):
    def __init__(self, factor=0.5):
        self.factor = factor

    def __call__(self, w):
        return w * np.float32(self.factor)

    def get_config(self):
        return {"factor": self.factor}


def test_constraints_of_ones_own_from_files_through_custom_objects(tmp_path):
    model = minidl.Sequential([minidl.Input((3,)), minidl.layers.Dense(
        2, kernel_constraint=clip_small, bias_constraint=Scale(0.25))])
    model.save(tmp_path / "own.keras")
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        minidl.load_model(tmp_path / "own.keras")
    back = minidl.load_model(tmp_path / "own.keras",
                             custom_objects={"clip_small": clip_small, "Scale": Scale})
    assert back.layers[0].kernel.constraint is clip_small
    assert back.layers[0].bias.constraint.factor == 0.25
