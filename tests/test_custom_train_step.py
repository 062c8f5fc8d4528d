"""Customizing what happens in fit(): a Model's own train_step, against live Keras.

Each model is written once for either library (`api` is keras or minidl; `tape(api)` is
tf.GradientTape or minidl.GradientTape), after Keras's guide "Customizing what happens in
fit()" (TensorFlow) and the keras.io VAE and GAN examples' train_step: the guide's first
example (compute_loss, then the metrics loop), its variant with its own loss tracker, a
`metrics` property and keras.losses.mean_squared_error called directly, a test_step of its
own, sample weights in `data`, a VAE-style step (a compiled reconstruction loss plus a KL
term) and a GAN-style step (two optimizers, two tapes). Random draws are replaced by data
(the GAN's latent vectors, the VAE's noise) so both libraries see the same numbers.

Tolerance: the twins start from the same weights and their Histories must agree to rtol
1e-5, every key: float32 sums are taken in another order by TensorFlow's kernels than by
NumPy (about 1e-7 relative per op), carried through a few Adam steps, as the repo's other
fit comparisons. Gradients from minidl.GradientTape and from fit's own step
(loss_and_gradients) are compared bit for bit (np.array_equal): the same arrays are
computed in the same order, and the negative control shows the comparison can fail.
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from parity import same_random_weights

RNG = np.random.default_rng(5)
X = RNG.normal(size=(48, 6)).astype(np.float32)
Y = RNG.normal(size=(48, 1)).astype(np.float32)
SW = RNG.uniform(0.2, 2.0, size=48).astype(np.float32)
X_VAL, Y_VAL = X[:16] * 0.5, Y[:16] + 0.1


def tape(api):
    return tf.GradientTape() if api is keras else minidl.GradientTape()


def same_history(theirs, ours, rtol=1e-5):
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=rtol, err_msg=key)


def dense_net(api, model_class, out_activation=None):
    inputs = api.Input((6,))
    hidden = api.layers.Dense(8, activation="tanh")(inputs)
    return model_class(inputs, api.layers.Dense(1, activation=out_activation)(hidden))


def twins(make):
    """make(api) for both libraries, the minidl one given the Keras one's weights."""
    theirs, ours = make(keras), make(minidl)
    same_random_weights([theirs, ours], seed=3)
    return theirs, ours


# -- the guide's first example: compute_loss, then every metric in self.metrics ---------------
def guide_model(api):
    class CustomModel(api.Model):
        def train_step(self, data):
            x, y = data
            with tape(api) as t:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            gradients = t.gradient(loss, self.trainable_variables)
            self.optimizer.apply(gradients, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = dense_net(api, CustomModel)
    model.compile(optimizer=api.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def test_the_guides_first_example_fits_as_keras_with_validation():
    """fit runs the override (loss and mae from the loop over self.metrics, reset each
    epoch) and validates with Keras's default test_step."""
    theirs, ours = twins(guide_model)
    kwargs = dict(epochs=3, batch_size=16, shuffle=False, verbose=0,
                  validation_data=(X_VAL, Y_VAL))
    history = ours.fit(X, Y, **kwargs).history
    same_history(theirs.fit(X, Y, **kwargs).history, history)
    assert sorted(history) == ["loss", "mae", "val_loss", "val_mae"]
    np.testing.assert_allclose(ours.evaluate(X_VAL, Y_VAL, verbose=0),
                               theirs.evaluate(X_VAL, Y_VAL, verbose=0), rtol=1e-5)
    assert [m.name for m in ours.metrics] == [m.name for m in theirs.metrics]


# -- the Keras 2 guide's step: compiled_loss, a deprecated shim for compute_loss ------------
def keras2_guide_model(api):
    class CustomModel(api.Model):
        def train_step(self, data):
            x, y, sample_weight = data if len(data) == 3 else (*data, None)
            with tape(api) as t:
                y_pred = self(x, training=True)
                if sample_weight is None:
                    loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
                else:
                    loss = self.compiled_loss(y, y_pred, sample_weight,
                                              regularization_losses=self.losses)
            gradients = t.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    inputs = api.Input((6,))
    hidden = api.layers.Dense(8, activation="tanh",
                              kernel_regularizer=api.regularizers.L2(0.01))(inputs)
    model = CustomModel(inputs, api.layers.Dense(1)(hidden))
    model.compile(optimizer=api.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "sample-weights"])
def test_the_keras2_guides_compiled_loss_step_fits_as_keras(weighted):
    """`self.compiled_loss(y, y_pred[, sample_weight], regularization_losses=self.losses)`,
    as Keras 2's guide wrote the step: Keras 3 keeps it as a deprecated shim for
    compute_loss (the regularization losses are added once, by compute_loss), with its
    warning; the History is Keras's."""
    theirs, ours = twins(keras2_guide_model)
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0,
                  sample_weight=SW if weighted else None)
    expected = theirs.fit(X, Y, **kwargs).history
    with pytest.warns(UserWarning, match=r"`model.compiled_loss\(\)` is deprecated"):
        history = ours.fit(X, Y, **kwargs).history
    same_history(expected, history)


# -- the guide's lower-level variant: own trackers, a metrics property, a loss function ------
def lower_level_model(api):
    class CustomModel(api.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = api.metrics.Mean(name="loss")
            self.mae_metric = api.metrics.MeanAbsoluteError(name="mae")

        def train_step(self, data):
            x, y = data
            with tape(api) as t:
                y_pred = self(x, training=True)
                loss = api.losses.mean_squared_error(y, y_pred)  # (N,): TF sums it
            gradients = t.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]  # reset by fit at each epoch

    model = dense_net(api, CustomModel)
    model.compile(optimizer=api.optimizers.Adam(0.01))  # no loss: the step has its own
    return model


def test_own_trackers_a_metrics_property_and_a_loss_function_fit_as_keras():
    theirs, ours = twins(lower_level_model)
    kwargs = dict(epochs=3, batch_size=16, shuffle=False, verbose=0)
    same_history(theirs.fit(X, Y, **kwargs).history, ours.fit(X, Y, **kwargs).history)
    assert [m.name for m in ours.metrics] == ["loss", "mae"]


# -- sample weights in data, and a test_step of its own ----------------------------------------
def weighted_model(api):
    class CustomModel(api.Model):
        def train_step(self, data):
            x, y, sample_weight = data
            with tape(api) as t:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            gradients = t.gradient(loss, self.trainable_variables)
            self.optimizer.apply(gradients, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = dense_net(api, CustomModel, out_activation="sigmoid")
    model.compile(optimizer=api.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def test_sample_weights_in_data_and_an_own_test_step_as_keras():
    """A sigmoid output and binary cross-entropy: compute_loss differentiates from the
    logits, as Keras's TensorFlow backend; evaluate and validation run the own test_step."""
    theirs, ours = twins(weighted_model)
    labels = (Y > 0).astype(np.float32)
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0, sample_weight=SW,
                  validation_data=(X_VAL, labels[:16]))
    same_history(theirs.fit(X, labels, **kwargs).history, ours.fit(X, labels, **kwargs).history)
    np.testing.assert_allclose(ours.evaluate(X, labels, verbose=0),
                               theirs.evaluate(X, labels, verbose=0), rtol=1e-5)


# -- VAE-style: a compiled reconstruction loss plus a KL term -----------------------------------
NOISE = RNG.normal(size=(48, 2)).astype(np.float32)  # the sampling layer's draws, as data


def vae_model(api):
    ops = api.ops

    class VAE(api.Model):
        def __init__(self):
            super().__init__()
            self.hidden = api.layers.Dense(8, activation="relu")
            self.z_mean = api.layers.Dense(2)
            self.z_log_var = api.layers.Dense(2)
            self.decoder = api.layers.Dense(6, activation="sigmoid")
            self.total_tracker = api.metrics.Mean(name="total_loss")
            self.kl_tracker = api.metrics.Mean(name="kl_loss")

        def call(self, x):
            h = self.hidden(x)
            return self.z_mean(h), self.z_log_var(h)

        def train_step(self, data):
            x, noise = data
            with tape(api) as t:
                z_mean, z_log_var = self(x, training=True)
                z = z_mean + ops.exp(0.5 * z_log_var) * noise
                reconstruction = self.decoder(z)
                reconstruction_loss = self.compute_loss(y=x, y_pred=reconstruction)
                kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl_loss = ops.mean(ops.sum(kl, axis=1))
                total_loss = reconstruction_loss + 0.1 * kl_loss
            gradients = t.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
            self.total_tracker.update_state(total_loss)
            self.kl_tracker.update_state(kl_loss)
            return {"loss": total_loss, "total_loss": self.total_tracker.result(),
                    "kl_loss": self.kl_tracker.result()}

    model = VAE()
    model.compile(optimizer=api.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.decoder(model(X[:2])[0])  # build every layer before copying weights
    return model


def test_a_vae_style_step_two_losses_combined_fits_as_keras():
    """The step's own dict is the History, every key. Its "loss" key names the compiled
    loss tracker, which the step never updates: the epoch's logs then come from
    model.metrics (Keras's Trainer._get_metrics_result_or_logs), so "loss" is 0.0 in both."""
    theirs, ours = twins(vae_model)
    images = 1 / (1 + np.exp(-X))  # targets in [0, 1] for the cross-entropy
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    same_history(theirs.fit(images, NOISE, **kwargs).history,
                 ours.fit(images, NOISE, **kwargs).history)
    # model.metrics: the compiled loss tracker, then the Metrics assigned as attributes
    assert [m.name for m in ours.metrics] == [m.name for m in theirs.metrics]


# -- GAN-style: two optimizers, two tapes, discriminator then generator -------------------------
LATENT = RNG.normal(size=(48, 3)).astype(np.float32)  # the latent draws, as data


def gan_model(api):
    ops = api.ops

    class GAN(api.Model):
        def __init__(self):
            super().__init__()
            self.generator = api.Sequential([api.Input((3,)),
                                             api.layers.Dense(6, activation="tanh")])
            self.discriminator = api.Sequential([api.Input((6,)), api.layers.Dense(4,
                                                 activation="relu"), api.layers.Dense(1)])
            self.d_loss_tracker = api.metrics.Mean(name="d_loss")
            self.g_loss_tracker = api.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def train_step(self, data):
            real, latent = data
            n = ops.shape(real)[0]
            generated = self.generator(latent)
            combined = ops.concatenate([generated, real], axis=0)
            labels = ops.concatenate([ops.ones((n, 1)), ops.zeros((n, 1))], axis=0)
            with tape(api) as t:
                d_loss = self.loss_fn(labels, self.discriminator(combined))
            grads = t.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            with tape(api) as t:
                predictions = self.discriminator(self.generator(latent))
                g_loss = self.loss_fn(ops.zeros((n, 1)), predictions)
            grads = t.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    model = GAN()
    model.compile(api.optimizers.Adam(0.01), api.optimizers.SGD(0.05),
                  api.losses.BinaryCrossentropy(from_logits=True))
    return model


def test_a_gan_style_step_two_optimizers_two_tapes_fits_as_keras():
    theirs, ours = gan_model(keras), gan_model(minidl)
    for a, b in [(theirs.generator, ours.generator),
                 (theirs.discriminator, ours.discriminator)]:
        same_random_weights([a, b], seed=7)
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    same_history(theirs.fit(X, LATENT, **kwargs).history, ours.fit(X, LATENT, **kwargs).history)


def test_class_weights_reach_a_step_without_a_compiled_loss_as_sample_weights():
    """Keras turns class_weight into the sample weights of `data`, loss or not."""
    def make(api):
        class Weights(api.Model):
            def train_step(self, data):
                x, y, sample_weight = data
                return {"weight_sum": api.ops.sum(sample_weight)}
        model = dense_net(api, Weights)
        model.compile(optimizer="sgd")
        return model

    labels = (Y > 0).astype(np.float32)
    kwargs = dict(epochs=1, batch_size=16, shuffle=False, verbose=0,
                  class_weight={0: 1.0, 1: 3.0})
    same_history(make(keras).fit(X, labels, **kwargs).history,
                 make(minidl).fit(X, labels, **kwargs).history)


# -- super().train_step, and a predict_step of its own ------------------------------------------
def super_step_model(api):
    class CustomModel(api.Model):
        def train_step(self, data):
            logs = super().train_step(data)  # the library's own step
            return {**logs, "twice_loss": 2 * logs["loss"]}

        def predict_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            return self(x, training=False) * 2.0

    model = dense_net(api, CustomModel)
    model.compile(optimizer=api.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model


def test_super_train_step_and_an_own_predict_step_as_keras():
    theirs, ours = twins(super_step_model)
    kwargs = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    same_history(theirs.fit(X, Y, **kwargs).history, ours.fit(X, Y, **kwargs).history)
    np.testing.assert_allclose(ours.predict(X, batch_size=16, verbose=0),  # (atol: outputs
                               theirs.predict(X, batch_size=16, verbose=0),  # near 0, as
                               rtol=1e-5, atol=1e-6)  # tests/parity.py's)
    mine = ours.train_on_batch(X[:16], Y[:16], return_dict=True)  # the override too
    same_history(theirs.train_on_batch(X[:16], Y[:16], return_dict=True), mine)
    np.testing.assert_allclose(ours.train_on_batch(X[:16], Y[:16]),
                               theirs.train_on_batch(X[:16], Y[:16]), rtol=1e-5)


def test_an_own_predict_step_gets_the_data_as_keras_gives_it():
    """One input: x itself (`self(data)` works, as in Keras); several: a one-element tuple
    holding their list (keras.utils.pack_x_y_sample_weight)."""
    seen = {}
    for api in (keras, minidl):
        class Recorder(api.Model):
            def predict_step(self, data):
                seen.setdefault(api.__name__, []).append(
                    type(data).__name__ if isinstance(data, tuple) else "array")
                x = data[0] if isinstance(data, tuple) else data
                return self(x, training=False)

        i = api.Input((3,))
        one = Recorder(i, api.layers.Dense(2)(i))
        one.predict(X[:, :3], batch_size=64, verbose=0)
        a, b = api.Input((3,)), api.Input((2,))
        two = Recorder([a, b], api.layers.Concatenate()([a, b]))
        two.predict([X[:, :3], X[:, 3:5]], batch_size=64, verbose=0)
    assert seen["minidl"] == seen["keras"] == ["array", "tuple"]


# -- GradientTape's gradients are fit's own, bit for bit -------------------------------------------
def penalised_classifier(api):
    model = api.Sequential([
        api.Input((6,)),
        api.layers.Dense(5, activation="relu", kernel_regularizer=api.regularizers.L2(0.01),
                         activity_regularizer=api.regularizers.L1(0.001)),
        api.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


LABELS = RNG.integers(0, 3, size=48)


def tape_gradients(model, x, y, sample_weight=None, extra=None):
    with minidl.GradientTape() as t:
        y_pred = model(x, training=True)
        loss = model.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        if extra is not None:
            loss = loss + extra(y_pred)
    return float(loss), t.gradient(loss, model.trainable_variables)


def assert_bit_identical(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and np.array_equal(a, b), np.abs(a - b).max()


def test_compute_loss_on_a_gradient_tape_gives_fits_gradients_bit_for_bit():
    """Softmax + cross-entropy (seeded at the logits), a kernel and an activity penalty,
    sample weights: the same seeds, handed out by compute_loss's one op."""
    _, model = twins(penalised_classifier)
    for weights in (None, SW[:16]):
        loss, grads = tape_gradients(model, X[:16], LABELS[:16], weights)
        fit_loss, fit_grads = model.loss_and_gradients(X[:16], LABELS[:16], weights)
        assert loss == fit_loss
        assert_bit_identical(grads, fit_grads)


class Penalty(minidl.Layer):
    """add_loss of a value computed with minidl.ops, as Keras's guide writes one."""

    def call(self, x):
        self.add_loss(0.01 * minidl.ops.mean(minidl.ops.square(x)))
        return x


def test_compute_loss_with_add_loss_and_two_outputs_gives_fits_gradients_bit_for_bit():
    inputs = minidl.Input((6,))
    hidden = Penalty()(minidl.layers.Dense(5, activation="tanh")(inputs))
    outputs = [minidl.layers.Dense(3, activation="softmax", name="cls")(hidden),
               minidl.layers.Dense(1, name="reg")(hidden)]
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])
    targets = [LABELS[:16], Y[:16]]
    loss, grads = tape_gradients(model, X[:16], targets)
    fit_loss, fit_grads = model.loss_and_gradients(X[:16], targets)
    assert loss == fit_loss
    assert_bit_identical(grads, fit_grads)


def test_the_bit_for_bit_comparison_fails_on_a_wrong_gradient():
    """Negative control: one value one float32 step off must fail the comparison."""
    _, model = twins(penalised_classifier)
    _, grads = tape_gradients(model, X[:16], LABELS[:16])
    wrong = [g.copy() for g in grads]
    wrong[2].flat[0] = np.nextafter(wrong[2].flat[0], np.float32(np.inf))
    with pytest.raises(AssertionError):
        assert_bit_identical(wrong, grads)


def test_compute_loss_plus_terms_of_ones_own_has_keras_gradients():
    """A target `loss + 0.1 * mean(y_pred**2)`: the same gradients as tf.GradientTape's
    (rtol 1e-5: float32 sums in TensorFlow's order)."""
    theirs, ours = twins(penalised_classifier)
    extra = (lambda ops: lambda y_pred: 0.1 * ops.mean(ops.square(y_pred)))
    _, grads = tape_gradients(ours, X[:16], LABELS[:16], extra=extra(minidl.ops))
    with tf.GradientTape() as t:
        y_pred = theirs(X[:16], training=True)
        loss = theirs.compute_loss(y=LABELS[:16], y_pred=y_pred) + extra(keras.ops)(y_pred)
    keras_grads = t.gradient(loss, theirs.trainable_variables)
    for a, b in zip(grads, keras_grads):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-7)


# -- GradientTape's API and errors, as tf.GradientTape's --------------------------------------------
def test_unconnected_and_nested_sources_and_persistent_tapes_as_tensorflow():
    dense = {api: api.layers.Dense(2) for api in (keras, minidl)}
    other = {api: api.layers.Dense(2) for api in (keras, minidl)}
    results = {}
    for api in (keras, minidl):
        dense[api](X[:1]), other[api](X[:1])  # built on data
        dense[api].set_weights(dense[keras].get_weights())
        with (tf.GradientTape(persistent=True) if api is keras
              else minidl.GradientTape(persistent=True)) as t:
            target = api.ops.sum(api.ops.square(dense[api](X[:4])))
        var = (lambda v: v.value) if api is keras else (lambda v: v)  # TF's own Variable
        sources = [[var(dense[api].kernel)], [var(dense[api].bias), var(other[api].kernel)]]
        first = t.gradient(target, sources)
        second = t.gradient(target, var(other[api].bias), unconnected_gradients="zero")
        results[api] = (first, second)
    for api in (keras, minidl):  # a watched input is a source too
        x = tf.constant(X[:4]) if api is keras else X[:4]
        with tape(api) as t:
            t.watch(x)
            target = api.ops.sum(api.ops.square(dense[api](x)))
        results[api] += (t.gradient(target, x),)
    np.testing.assert_allclose(results[minidl][2], np.asarray(results[keras][2]), rtol=1e-5,
                               atol=1e-6)
    (k_first, k_second, _), (m_first, m_second, _) = results[keras], results[minidl]
    assert [len(g) for g in m_first] == [1, 2] and m_first[1][1] is None
    assert k_first[1][1] is None
    for a, b in [(m_first[0][0], k_first[0][0]), (m_first[1][0], k_first[1][0]),
                 (m_second, k_second)]:
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_errors_as_tensorflow_and_keras():
    """A target no recorded op made: None for every source, then the optimizer's error; a
    non-persistent tape used twice: TensorFlow's error."""
    variables = {api: api.Variable(np.ones((2,), np.float32)) for api in (keras, minidl)}
    for api in (keras, minidl):
        v = variables[api]
        source = v.value if api is keras else v  # TF's own Variable
        with tape(api) as t:
            target = api.ops.convert_to_tensor(3.0)  # no recorded op made it
        assert t.gradient(target, [source]) == [None]
        with pytest.raises(ValueError, match="No gradients provided for any variable."):
            api.optimizers.SGD().apply_gradients([(None, v)])
        with tape(api) as t:
            target = api.ops.sum(v * 2.0)
        np.testing.assert_allclose(t.gradient(target, [source])[0], [2.0, 2.0])
        with pytest.raises(RuntimeError, match="A non-persistent GradientTape can only be "
                                               "used to compute one set of gradients"):
            t.gradient(target, [source])


def test_what_the_tape_leaves_out_is_refused_by_name():
    """Gradients of gradients (a tape inside a tape, WGAN-GP's penalty) and jacobians:
    TensorFlow computes them, minidl does not, and says so rather than give a wrong None."""
    with minidl.GradientTape() as outer:
        with pytest.raises(NotImplementedError, match="cannot be opened inside another"):
            with minidl.GradientTape():
                pass
        with pytest.raises(NotImplementedError, match="no `jacobian`"):
            outer.jacobian(None, [])
    with pytest.raises(ValueError, match="watch_accessed_variables=False"):
        minidl.GradientTape(watch_accessed_variables=False)


def test_a_train_step_that_returns_no_dict_fails_as_in_keras():
    def make(api):
        class NoDict(api.Model):
            def train_step(self, data):
                return api.ops.convert_to_tensor(1.0)
        model = dense_net(api, NoDict)
        model.compile(optimizer="sgd", loss="mse")
        return model

    for api in (keras, minidl):
        with pytest.raises(AttributeError, match="has no attribute 'items'"):
            make(api).fit(X, Y, epochs=1, batch_size=16, verbose=0)


def test_gerons_autodiff_example_with_variables_and_a_warning_for_plain_constants():
    """Géron ch. 12: f(w1, w2) = 3 w1**2 + 2 w1 w2 differentiated at (5, 3) gives (36, 10) as
    TensorFlow's. A watched plain NumPy constant's operators are not recorded by minidl:
    the gradient is None, with a warning saying what to do (TensorFlow records them)."""
    def f(w1, w2):
        return 3 * w1 ** 2 + 2 * w1 * w2

    w1, w2 = minidl.Variable(5.0), minidl.Variable(3.0)
    with minidl.GradientTape() as tape:
        z = f(w1, w2)
    tw1, tw2 = tf.Variable(5.0), tf.Variable(3.0)
    with tf.GradientTape() as tf_tape:
        tz = f(tw1, tw2)
    assert [float(g) for g in tape.gradient(z, [w1, w2])] == \
        [float(g) for g in tf_tape.gradient(tz, [tw1, tw2])] == [36.0, 10.0]
    c1, c2 = minidl.ops.convert_to_tensor(5.0), minidl.ops.convert_to_tensor(3.0)
    with minidl.GradientTape() as tape:
        tape.watch(c1)
        tape.watch(c2)
        z = f(c1, c2)
    with pytest.warns(UserWarning, match="make it a minidl.Variable"):
        assert tape.gradient(z, [c1, c2]) == [None, None]
