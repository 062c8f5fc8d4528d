"""Model graphs, not only chains: several inputs and outputs, shared layers, nested models,
subclassed models and custom layers, each against the same model in Keras."""
import threading

import numpy as np
import pytest

import keras
import minidl
from minidl.testing import check_gradients

RNG = np.random.default_rng(0)
X1 = RNG.normal(size=(10, 3)).astype(np.float32)
X2 = RNG.normal(size=(10, 4)).astype(np.float32)
Y1 = RNG.integers(0, 2, 10)
Y2 = RNG.normal(size=(10, 2)).astype(np.float32)
WEIGHTS = np.linspace(0.5, 1.5, 10).astype(np.float32)


def two_in_two_out(framework):
    """Input a -> h1 -> cls (sigmoid); input b -> h2 -> shared -> reg (linear)."""
    a, b = framework.Input((3,), name="a"), framework.Input((4,), name="b")
    layers = framework.layers
    cls = layers.Dense(1, activation="sigmoid", name="cls")(
        layers.Dense(4, activation="relu", name="h1")(a))
    reg = layers.Dense(2, name="reg")(layers.Dense(5, activation="tanh", name="shared")(
        layers.Dense(5, name="h2")(b)))
    return framework.Model([a, b], [cls, reg], name="two")


@pytest.fixture(autouse=True)
def _fresh_names():
    """Both frameworks number their layers from scratch, so the twins' names agree."""
    keras.backend.clear_session()
    minidl.backend.clear_session()


def twins(make):
    keras_model, model = make(keras), make(minidl)
    model.set_weights(keras_model.get_weights())
    return keras_model, model


COMPILES = [
    dict(loss="mse"),
    dict(loss=["binary_crossentropy", None], metrics=["accuracy", "mae"]),
    dict(loss=["binary_crossentropy", "mse"], loss_weights=[2.0, 0.5],
         metrics=[["accuracy"], ["mae", "mse"]]),
    dict(loss={"cls": "binary_crossentropy", "reg": "mse"}, metrics={"reg": "mae"},
         weighted_metrics=["accuracy", "mae"]),
]


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
@pytest.mark.parametrize("settings", COMPILES, ids=["one-loss", "none-loss", "weights", "dicts"])
def test_two_inputs_two_outputs_match_keras(settings):
    keras_model, model = twins(two_in_two_out)
    assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]
    assert model.output_names == keras_model.output_names == ["cls", "reg"]
    results = []
    for m in (keras_model, model):
        m.compile(optimizer="sgd", **settings)
        history = m.fit([X1, X2], [Y1, Y2], epochs=2, batch_size=4, shuffle=False, verbose=0,
                        validation_split=0.2, sample_weight=WEIGHTS).history
        as_list = m.evaluate([X1, X2], [Y1, Y2], verbose=0)
        as_dict = m.evaluate({"a": X1, "b": X2}, {"cls": Y1, "reg": Y2}, verbose=0,
                             return_dict=True)
        results.append((history, as_list, as_dict, m.predict([X1, X2], verbose=0),
                        m.metrics_names))
    (keras_history, keras_list, keras_dict, keras_pred, keras_names), \
        (history, as_list, as_dict, pred, names) = results
    assert sorted(history) == sorted(keras_history)
    for key in keras_history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(as_list, keras_list, rtol=1e-5, atol=1e-6)  # Keras's order
    assert list(as_dict) == list(keras_dict)
    np.testing.assert_allclose(list(as_dict.values()), list(keras_dict.values()), rtol=1e-5)
    for ours, theirs in zip(pred, keras_pred):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert names == keras_names


@pytest.mark.parametrize("settings, message", [
    (dict(loss=["mse", "mse"], metrics=["mae"]), "Invalid `metrics`"),
    (dict(loss={"reg": "mse"}), r"Expected keys \['cls', 'reg'\] in loss dict"),
    (dict(loss=["mse"] * 3), "one entry per output"),
])
def test_per_output_settings_that_do_not_fit_the_outputs_are_refused(settings, message):
    model = two_in_two_out(minidl)
    model.compile(optimizer="sgd", **settings)
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit([X1, X2], [Y1, Y2], verbose=0)
    for ours, theirs in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, theirs)


def nested(framework):
    inner_input = framework.Input((3,))
    inner = framework.Model(inner_input, framework.layers.Dense(4, activation="relu")(
        inner_input), name="inner")
    outer_input = framework.Input((3,))
    return framework.Model(outer_input, framework.layers.Dense(
        3, activation="softmax")(inner(outer_input)))


class KerasSubclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(5, activation="tanh")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


class Subclassed(minidl.Model):
    def __init__(self):
        super().__init__()
        self.hidden = minidl.layers.Dense(5, activation="tanh")
        self.out = minidl.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def subclassed(framework):
    return KerasSubclassed() if framework is keras else Subclassed()


def shared_twice(framework):
    """One Dense used on two inputs: its weights get the sum of both paths' gradients."""
    a, b = framework.Input((3,), name="a"), framework.Input((3,), name="b")
    shared = framework.layers.Dense(3, activation="tanh", name="shared")
    first = framework.layers.Dense(1, name="first")(shared(a))
    second = framework.layers.Dense(1, name="second")(shared(shared(b)))  # and twice in a row
    return framework.Model([a, b], [first, second])


@pytest.mark.parametrize("make", [nested, subclassed], ids=["nested", "subclassed"])
def test_nested_and_subclassed_models_train_like_keras(make):
    keras_model, model = make(keras), make(minidl)
    x, y = X1, RNG.integers(0, 3, 10)
    keras_model(x[:2]), model(x[:2])  # builds the subclassed models' layers
    assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]
    model.set_weights(keras_model.get_weights())
    histories = []
    for m in (keras_model, model):
        m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        histories.append(m.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history)
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-5)
    for ours, theirs in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    summaries = []
    for m in (keras_model, model):
        lines = []
        m.summary(print_fn=lambda text, **kwargs: lines.extend(text.splitlines()))
        summaries.append(lines[1:])  # after the model's name (the classes differ)
    assert summaries[1] == summaries[0]


def test_a_layer_used_several_times_gets_all_its_gradients():
    keras_model, model = twins(shared_twice)
    for m in (keras_model, model):
        m.compile(optimizer="sgd", loss="mse")
    from reference.gradients import keras_loss_and_gradients
    keras_loss, keras_grads = keras_loss_and_gradients(keras_model, [X1, X1[::-1]], [Y2[:, :1],
                                                                                   Y2[:, 1:]])
    loss, grads = model.loss_and_gradients([X1, X1[::-1]], [Y2[:, :1], Y2[:, 1:]])
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-6)
    for ours, theirs in zip(grads, keras_grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_get_layer_by_name_and_index():
    model = two_in_two_out(minidl)
    assert model.get_layer("shared").name == "shared"
    assert model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


# -- custom layers --------------------------------------------------------------------------

class TwoDense(minidl.layers.Layer):
    """Keras's way: a layer built from other layers; nothing to differentiate by hand."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.first = minidl.layers.Dense(units, activation="tanh")
        self.second = minidl.layers.Dense(units)

    def call(self, x):
        return self.second(self.first(x))


class Scale(minidl.layers.Layer):
    """minidl's way: maths of its own, y = x * w, with its backward."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", "w")

    def forward(self, x, training=False):
        return x * self.w.value, x  # the cache: x, for dw

    def backward(self, dy, x, need_dx=True):
        return dy * self.w.value, {self.w: (dy * x).sum(axis=0)}


class WrongScale(Scale):
    def backward(self, dy, x, need_dx=True):
        return dy * self.w.value, {self.w: dy.sum(axis=0)}  # forgets the factor x


class RawMaths(minidl.layers.Layer):
    """Keras's way with raw NumPy in call(): minidl cannot differentiate it."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), "ones", "w")

    def call(self, x):
        return x * self.w.value


def custom_model(layer):
    model = minidl.Sequential([minidl.Input((3,)), layer, minidl.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_custom_layers_check_their_gradients_and_a_wrong_one_fails(float64):
    x, y = X1.astype(np.float64), Y2[:, 0].astype(np.float64)
    for layer in (TwoDense(3), Scale()):
        assert check_gradients(custom_model(layer), x, y).passed
    assert check_gradients(Scale(), x).passed
    result = check_gradients(WrongScale(), x)
    assert result.failed == [result.rows[0]["name"]], str(result)


def test_numpy_operators_in_call_are_differentiated(float64):
    """`x * self.w.value` in a layer's call() and `* 2` between a subclassed model's layers:
    inside a training step their NumPy operators are recorded (ops/backprop.py's Tracked),
    and central differences agree with the gradients."""
    class Doubling(minidl.Model):
        def __init__(self):
            super().__init__()
            self.first, self.second = minidl.layers.Dense(3), minidl.layers.Dense(1)

        def call(self, x):
            return self.second(self.first(x) * 2)  # `* 2` is NumPy's, between two layers

    for model in (custom_model(RawMaths(name="raw")), Doubling()):
        model.compile(optimizer="sgd", loss="mse")
        result = check_gradients(model, X1.astype(np.float64), Y2[:, :1].astype(np.float64))
        assert result.passed, str(result)


def test_a_numpy_function_in_call_gets_a_clear_error_naming_the_layer():
    class Sorting(RawMaths):
        def call(self, x):
            return np.sort(x * self.w, axis=-1)  # not an op: backward cannot follow it

    model = custom_model(Sorting(name="raw"))
    with pytest.raises(ValueError, match="Layer 'raw' .* cannot differentiate"):
        model.fit(X1, Y2[:, 0], verbose=0)
    model.predict(X1, verbose=0)  # inference needs no backward


def two_dense_class(framework):
    """TwoDense in `framework`: a layer of one's own with no compute_output_shape."""
    class Doubled(framework.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = framework.layers.Dense(4)

        def call(self, x):
            return self.dense(x) * 2
    return Doubled


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_custom_layer_keeps_the_batch_size_unknown_as_keras(kind, capsys):
    """The shape a layer of one's own is found to give (by calling it on a batch of one)
    keeps the batch axis None, as Keras's symbolic call: (None, 4), not (1, 4), in the
    layer's output, the model's output_shape and the summary (Géron's ResidualUnit)."""
    from tests.parity import assert_same_summary

    def make(framework):
        doubled = two_dense_class(framework)(name="doubled")
        if kind == "sequential":
            model = framework.Sequential([framework.Input((3,)), doubled])
            model.add(framework.layers.Dense(2, name="head"))
            return model
        inputs = framework.Input((3,))
        return framework.Model(inputs, framework.layers.Dense(2, name="head")(
            doubled(inputs)))

    keras_model, model = make(keras), make(minidl)
    assert model.output_shape == keras_model.output_shape == (None, 2)
    assert tuple(model.get_layer("doubled").output.shape) == \
        tuple(keras_model.get_layer("doubled").output.shape) == (None, 4)
    assert_same_summary(model, keras_model, capsys)


def tied_autoencoder(framework):
    """Géron's tied-weights autoencoder (ch. 17): the decoder's DenseTranspose reads the
    encoder's kernel in build() and call(); an unbuilt stack of two Sequentials, fitted
    directly, with weights from a fixed ramp (the same in both frameworks)."""
    def ramp(shape, dtype=None):
        return np.linspace(-0.5, 0.5, int(np.prod(shape))).reshape(shape).astype("float32")

    class DenseTranspose(framework.layers.Layer):
        def __init__(self, dense, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.dense = dense
            self.activation = framework.activations.get(activation)

        def build(self, batch_input_shape):
            self.biases = self.add_weight(name="bias", shape=[self.dense.kernel.shape[0]],
                                          initializer="zeros")

        def call(self, inputs):
            z = framework.ops.matmul(inputs, framework.ops.transpose(self.dense.kernel))
            return self.activation(z + self.biases)

    dense_1 = framework.layers.Dense(5, activation="relu", kernel_initializer=ramp)
    dense_2 = framework.layers.Dense(2, activation="relu", kernel_initializer=ramp)
    encoder = framework.Sequential([dense_1, dense_2])
    decoder = framework.Sequential([DenseTranspose(dense_2, activation="relu"),
                                    DenseTranspose(dense_1)])
    model = framework.Sequential([encoder, decoder])
    model.compile(loss="mse", optimizer="sgd")
    return model


def test_a_layer_reading_an_earlier_layers_weights_in_build_fits_unbuilt_as_keras():
    """fit on an unbuilt Sequential finds its output shape layer by layer; a layer whose
    shape is found by calling it has the layers before it built first (as Keras builds a
    stack), so DenseTranspose finds the encoder's kernel: the same History as Keras's."""
    x = RNG.normal(size=(16, 3)).astype(np.float32)
    keras_model, model = tied_autoencoder(keras), tied_autoencoder(minidl)
    theirs = keras_model.fit(x, x, epochs=2, batch_size=8, shuffle=False, verbose=0)
    ours = model.fit(x, x, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# -- shapes, lazy building, threads ---------------------------------------------------------

def test_the_sequential_guide_example_builds_on_its_first_call():
    """The first example of Keras's Sequential guide: no input shape, then model(x)."""
    model = minidl.Sequential([minidl.layers.Dense(2, activation="relu"),
                               minidl.layers.Dense(3)])
    assert not model.built and model.weights == []
    y = model(np.ones((3, 3)))
    assert y.shape == (3, 3) and model.built and len(model.weights) == 4


def test_an_input_of_scalars_shape_empty_fits_as_keras(capsys):
    """keras.Input(shape=()): one number per sample, x of shape (N,); expand_dims makes the
    feature axis. The same summary, History and predictions as Keras's."""
    from tests.parity import assert_same_summary

    def make(framework):
        inputs = framework.Input(shape=())
        outputs = framework.layers.Dense(1, name="out")(framework.ops.expand_dims(inputs, -1))
        model = framework.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss="mse")
        return model

    keras_model, model = twins(make)
    assert model.input_shape == keras_model.input_shape == (None,)
    assert_same_summary(model, keras_model, capsys)
    x, y = np.linspace(-1, 1, 10).astype(np.float32), np.linspace(0, 2, 10).astype(np.float32)
    theirs = keras_model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    ours = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), keras_model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def any_size_base(framework):
    """A model for images of any size with two outputs (a feature map and a pooled vector)."""
    i = framework.Input((None, None, 3))
    h = framework.layers.Conv2D(4, 3, strides=2, name="conv")(i)
    h = framework.layers.MaxPooling2D(name="pool")(h)
    return framework.Model(i, [h, framework.layers.GlobalAveragePooling2D(name="gap")(h)],
                           name="base")


def test_a_model_for_any_size_called_on_a_fixed_size_gives_its_shapes_as_keras():
    """VGG16(include_top=False) called on 180x180 images, as Chollet's DLwP ch. 8: the
    layers after it need the fixed shape (Flatten, Dense), and summary() shows it."""
    summaries, predictions = [], []
    for framework in (keras, minidl):
        keras.backend.clear_session()
        minidl.backend.clear_session()
        base = any_size_base(framework)
        inputs = framework.Input((33, 21, 3))
        maps, vector = base(inputs)
        assert tuple(maps.shape) == (None, 8, 5, 4) and tuple(vector.shape) == (None, 4)
        head = framework.layers.Dense(2, name="head")(framework.layers.Flatten()(maps))
        model = framework.Model(inputs, [head, vector])
        lines = []
        model.summary(print_fn=lines.append)
        summaries.append(lines)
        if framework is minidl:
            model.set_weights(weights)
        else:
            weights = model.get_weights()
        x = np.random.default_rng(3).normal(size=(2, 33, 21, 3)).astype(np.float32)
        predictions.append([np.asarray(p) for p in model.predict(x, verbose=0)])
    assert summaries[0] == summaries[1]
    for ours, theirs in zip(predictions[1], predictions[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def wide_and_deep(framework):
    """Géron's WideAndDeepModel (ch. 10), one output: call() unpacks its two inputs."""
    class WideAndDeep(framework.Model):
        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.hidden1 = framework.layers.Dense(units, activation="relu")
            self.hidden2 = framework.layers.Dense(units, activation="relu")
            self.main_output = framework.layers.Dense(1)

        def call(self, inputs):
            input_wide, input_deep = inputs
            hidden2 = self.hidden2(self.hidden1(input_deep))
            return self.main_output(framework.layers.concatenate([input_wide, hidden2]))

    model = WideAndDeep(name="wide_and_deep")
    model.compile(loss="mse", optimizer="adam", metrics=["RootMeanSquaredError"])
    return model


def test_a_subclassed_model_takes_a_tuple_of_inputs_as_keras():
    rng = np.random.default_rng(4)
    wide, deep = rng.normal(size=(48, 5)).astype(np.float32), rng.normal(size=(48, 6)).astype(
        np.float32)
    y = rng.normal(size=(48, 1)).astype(np.float32)
    ours, theirs = wide_and_deep(minidl), wide_and_deep(keras)
    ours((wide[:2], deep[:2]))
    theirs((wide[:2], deep[:2]))
    theirs.set_weights(ours.get_weights())
    fit = dict(epochs=2, batch_size=16, shuffle=False, verbose=0,
               validation_data=((wide[:16], deep[:16]), y[:16]))
    mine, keras_history = ours.fit((wide, deep), y, **fit).history, theirs.fit(
        (wide, deep), y, **fit).history
    assert sorted(mine) == sorted(keras_history)
    for key in mine:
        np.testing.assert_allclose(mine[key], keras_history[key], rtol=1e-5)
    for x in ((wide, deep), [wide, deep]):
        np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.evaluate((wide, deep), y, verbose=0),
                               theirs.evaluate((wide, deep), y, verbose=0), rtol=1e-5)


def test_one_feature_models_take_one_dimensional_x_as_keras_does():
    model = minidl.Sequential([minidl.Input((1,)), minidl.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.arange(8.0), np.arange(8.0), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(np.arange(3.0), verbose=0).shape == (3, 1)


def test_predict_and_evaluate_in_other_threads_do_not_change_what_fit_computes():
    def run(concurrent):
        minidl.utils.set_random_seed(0)
        model = minidl.Sequential([minidl.Input((3,)), minidl.layers.Dense(32, activation="relu"),
                                   minidl.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        x = np.random.default_rng(1).normal(size=(600, 3)).astype(np.float32)
        y = np.random.default_rng(2).integers(0, 3, 600)
        stop = threading.Event()

        def disturb():
            while not stop.is_set():
                model.predict(x[:7], batch_size=7, verbose=0)  # other batch sizes than fit's
                model.evaluate(x[:50], y[:50], batch_size=9, verbose=0)

        threads = [threading.Thread(target=disturb) for _ in range(concurrent)]
        for thread in threads:
            thread.start()
        try:
            history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return history.history, model.get_weights()

    quiet_history, quiet_weights = run(0)
    busy_history, busy_weights = run(2)
    assert busy_history == quiet_history
    for busy, quiet in zip(busy_weights, quiet_weights):
        np.testing.assert_array_equal(busy, quiet)


@pytest.mark.parametrize("make", [two_in_two_out, nested], ids=["two-in-two-out", "nested"])
def test_clone_model_copies_the_architecture_with_fresh_weights_as_keras(make):
    model = make(minidl)
    clone = minidl.models.clone_model(model)
    keras_clone = keras.models.clone_model(make(keras))
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in keras_clone.layers]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not clone.compiled
    assert any(not np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights()))
    with pytest.raises(ValueError, match="subclassed model cannot be cloned"):
        minidl.models.clone_model(Subclassed())


def test_clone_model_takes_layers_of_ones_own_from_the_model_as_keras():
    """keras.models.clone_model needs no custom_objects for a layer class of one's own (with
    get_config): the class comes from the model itself."""
    def make(framework):
        class Scaled(framework.layers.Layer):
            def __init__(self, factor=2.0, **kwargs):
                super().__init__(**kwargs)
                self.factor = factor

            def call(self, x):
                return x * self.factor

            def get_config(self):
                return {**super().get_config(), "factor": self.factor}

        inputs = framework.Input((3,))
        hidden = framework.layers.Dense(4, activation="tanh", name="hidden")(inputs)
        return framework.Model(inputs, framework.layers.Dense(1, name="out")(
            Scaled(3.0, name="scaled")(hidden)))

    model, twin = make(minidl), make(keras)
    clone, keras_clone = minidl.models.clone_model(model), keras.models.clone_model(twin)
    assert [type(l).__name__ for l in clone.layers] == \
        [type(l).__name__ for l in keras_clone.layers]
    assert type(clone.get_layer("scaled")) is type(model.get_layer("scaled"))
    assert clone.get_layer("scaled").factor == keras_clone.get_layer("scaled").factor == 3.0
    clone.set_weights(model.get_weights())
    keras_clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(X1, verbose=0), keras_clone.predict(X1, verbose=0),
                               rtol=1e-5, atol=1e-6)
