"""fit, evaluate and predict on a PyDataset, a Python generator, and arrays with
steps_per_epoch / validation_steps / steps, against Keras's twin given the same data.

Both frameworks must train on the same batches in the same order, so the Histories and the
final weights agree to float32 rounding (rtol 1e-5, as the other fit comparisons), including
Keras's ways with data that does not fit the steps asked for: a pass not used up carries on
into the next epoch, one that ends early ends the epoch with Keras's warning, and a generator
that has stopped replays the two batches Keras read ahead. A PyDataset's batch order under
shuffle=True comes from Python's `random`, which both seed, so it is compared exactly. The
hooks a PyDataset gets (on_epoch_begin/on_epoch_end) are compared as sequences; the extra
reads Keras makes to build its graph (and tf.data's read-ahead) are not, being no part of the
arithmetic.
"""
import warnings

import numpy as np
import pytest

import keras
import minidl
from reference.twins import keras_twin


def _twins(seed=0, outputs=3):
    minidl.utils.set_random_seed(seed)
    model = minidl.Sequential([minidl.Input((4,)), minidl.layers.Dense(5, activation="tanh"),
                               minidl.layers.Dense(outputs, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return keras_twin(model), model


def _data(n=23, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5)


def _dataset_class(base):
    class Batches(base):
        """Batches of 5 rows (the last one short), logging what fit does with them."""

        def __init__(self, x, y, weights=None, batch_size=5, log=None, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.weights, self.batch_size = x, y, weights, batch_size
            self.log = [] if log is None else log

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, index):
            self.log.append(index)
            rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
            if self.weights is None:
                return self.x[rows], self.y[rows]
            return self.x[rows], self.y[rows], self.weights[rows]

        def on_epoch_begin(self):
            self.log.append("begin")

        def on_epoch_end(self):
            self.log.append("end")

    return Batches


Ours, Theirs = _dataset_class(minidl.utils.PyDataset), _dataset_class(keras.utils.PyDataset)


def _generator(x, y, batch_size=5, repeat=1):
    for _ in range(repeat):
        for first in range(0, len(x), batch_size):
            yield x[first:first + batch_size], y[first:first + batch_size]


def _fit_both(keras_model, model, make, **kwargs):
    """fit both, each on the data make(its PyDataset class) returns (x, or a dict of fit's
    data arguments); returns minidl's History, after checking that it and the weights agree
    with Keras's, and the warnings each raised."""
    def arguments(cls):
        made = make(cls)
        return {"verbose": 0, **kwargs, **(made if isinstance(made, dict) else {"x": made})}

    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = keras_model.fit(**arguments(Theirs)).history
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = model.fit(**arguments(Ours)).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    for a, b in zip(model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    return ours, [str(w.message) for w in ours_warned], [str(w.message) for w in theirs_warned]


def _ran_out(messages):
    return sum(m.startswith("Your input ran out of data") for m in messages)


@pytest.mark.parametrize("steps_per_epoch", [None, 3, 7])
def test_a_pydataset_trains_as_keras_with_any_steps_per_epoch(steps_per_epoch):
    """None: each epoch is the 5 batches; 3: epochs of 3, 2 (the pass ran out), 3, 2;
    7: every epoch ends after the 5 batches with Keras's warning."""
    x, y = _data()
    xv, yv = _data(11, seed=2)
    keras_model, model = _twins()
    logs = {}

    def make(cls):
        logs[cls] = []
        return {"x": cls(x, y, log=logs[cls]),
                "validation_data": cls(xv, yv, batch_size=4, log=logs[cls])}

    ours, warned, keras_warned = _fit_both(
        keras_model, model, make, epochs=4, shuffle=False, steps_per_epoch=steps_per_epoch)
    assert len(ours["loss"]) == 4
    assert _ran_out(warned) == _ran_out(keras_warned) == {None: 0, 3: 2, 7: 4}[steps_per_epoch]
    hooks = {cls: [e for e in log if isinstance(e, str)] for cls, log in logs.items()}
    assert hooks[Ours] == hooks[Theirs]


def test_a_pydataset_with_validation_sample_weights_and_a_shuffled_order():
    """Validation on another PyDataset; (x, y, sample_weight) batches; shuffle=True draws the
    batch order from Python's `random`, which both frameworks' set_random_seed seeds."""
    x, y = _data()
    w = np.linspace(0.5, 2, len(x)).astype(np.float32)
    xv, yv = _data(11, seed=2)
    keras_model, model = _twins()
    logs = {}

    def make(cls):
        (keras.utils if cls is Theirs else minidl.utils).set_random_seed(7)
        logs[cls] = []
        return {"x": cls(x, y, w, log=logs[cls]), "validation_data": cls(xv, yv, batch_size=4)}

    ours, _, _ = _fit_both(keras_model, model, make, epochs=3, shuffle=True)
    reads = {cls: [e for e in log if not isinstance(e, str)] for cls, log in logs.items()}
    ours_order = reads[Ours][1:]  # after the read that builds the model
    assert sorted(ours_order[:5]) == list(range(5)) and ours_order[:5] != list(range(5))
    assert ours_order[:5] in [reads[Theirs][i:i + 5] for i in range(len(reads[Theirs]))]
    assert ours_order[5:10] in [reads[Theirs][i:i + 5] for i in range(len(reads[Theirs]))]
    assert len(ours["val_loss"]) == 3


def test_class_weight_on_a_pydataset_weighs_each_batch_as_keras():
    x, y = _data()
    keras_model, model = _twins()
    _fit_both(keras_model, model, lambda cls: cls(x, y), epochs=2, shuffle=False,
              class_weight={0: 0.5, 1: 2.0, 2: 1.5})


def test_a_finite_generator_over_several_epochs_replays_the_two_batches_read_ahead():
    """Epoch 1 is the generator's 5 batches; epochs 2 and 3 are its first two again (Keras
    read them ahead and starts every pass with them), each with the ran-out warning."""
    x, y = _data()
    keras_model, model = _twins()
    ours, warned, keras_warned = _fit_both(keras_model, model, lambda cls: _generator(x, y),
                                           epochs=3)
    assert _ran_out(warned) == _ran_out(keras_warned) == 3
    assert any("shuffle=True" in m for m in warned) and any("shuffle=True" in m for m in
                                                            keras_warned)


def test_an_endless_generator_with_steps_per_epoch_carries_on_across_epochs():
    x, y = _data(40)
    xv, yv = _data(12, seed=2)
    keras_model, model = _twins()
    epochs_seen = []
    record = minidl.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch))
    ours, warned, keras_warned = _fit_both(
        keras_model, model, lambda cls: _generator(x, y, batch_size=6, repeat=100), epochs=4,
        steps_per_epoch=4, shuffle=False, validation_data=(xv, yv), validation_steps=2,
        validation_batch_size=5)
    assert _ran_out(warned) == _ran_out(keras_warned) == 0
    model.fit(_generator(x, y, repeat=2), steps_per_epoch=3, epochs=2, verbose=0, shuffle=False,
              callbacks=[record])
    assert epochs_seen == [0, 1]


def test_arrays_with_steps_per_epoch_and_validation_steps():
    """10 batches of 3 rows in epochs of 4: 4, 4, 2 (ran out), 4; batch_size None with steps
    gives ceil(N / steps) rows per batch, as Keras's ArrayDataAdapter."""
    x, y = _data(30)
    xv, yv = _data(13, seed=2)
    for kwargs in ({"batch_size": 3, "steps_per_epoch": 4},
                   {"steps_per_epoch": 4, "validation_steps": 2},
                   {"batch_size": 8, "validation_steps": 3, "validation_batch_size": 2}):
        keras_model, model = _twins()
        _, warned, keras_warned = _fit_both(
            keras_model, model, lambda cls: {"x": x, "y": y}, epochs=4, shuffle=False,
            validation_data=(xv, yv), **kwargs)
        assert _ran_out(warned) == _ran_out(keras_warned)


def test_evaluate_and_predict_on_datasets_generators_and_steps():
    x, y = _data()
    keras_model, model = _twins()
    cases = [lambda cls: dict(x=cls(x, y)),
             lambda cls: dict(x=cls(x, y), steps=2),
             lambda cls: dict(x=_generator(x, y)),
             lambda cls: dict(x=_generator(x, y, repeat=3), steps=7),
             lambda cls: dict(x=x, y=y, steps=3),
             lambda cls: dict(x=x, y=y, batch_size=4, steps=2)]
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = keras_model.evaluate(**case(Theirs), verbose=0, return_dict=True)
            ours = model.evaluate(**case(Ours), verbose=0, return_dict=True)
        assert sorted(ours) == sorted(theirs)
        for key in theirs:
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
        kwargs = {k: v for k, v in case(Theirs).items() if k != "y"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = keras_model.predict(**kwargs, verbose=0)
            ours = model.predict(**{k: v for k, v in case(Ours).items() if k != "y"},
                                 verbose=0)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_a_pydataset_of_dicts_feeds_a_model_with_named_inputs():
    a_in, b_in = minidl.Input((2,), name="a"), minidl.Input((3,), name="b")
    merged = minidl.layers.Concatenate()([a_in, b_in])
    model = minidl.Model([a_in, b_in], minidl.layers.Dense(1)(merged))
    model.compile(optimizer="sgd", loss="mse")
    keras_model = keras_twin(model)
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(12, 2)), rng.normal(size=(12, 3))
    t = rng.normal(size=(12, 1))

    def make(base):
        class Named(base):
            def __len__(self):
                return 3

            def __getitem__(self, i):
                rows = slice(4 * i, 4 * i + 4)
                return {"a": a[rows], "b": b[rows]}, t[rows]

        return Named()

    theirs = keras_model.fit(make(keras.utils.PyDataset), epochs=2, shuffle=False,
                             verbose=0).history
    ours = model.fit(make(minidl.utils.PyDataset), epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)


def test_sequence_is_pydataset_and_a_subclass_skipping_its_init_gets_keras_warning():
    assert minidl.utils.Sequence is minidl.utils.PyDataset
    x, y = _data()

    class NoSuper(minidl.utils.Sequence):
        def __init__(self):  # an old Keras 2 Sequence: no super().__init__()
            self.batch_size = 5

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return x[i * 5:i * 5 + 5], y[i * 5:i * 5 + 5]

    _, model = _twins()
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        model.fit(NoSuper(), epochs=1, verbose=0)


def _same_error(call):
    """call(framework) raises the same ValueError in both, and minidl's model is unchanged."""
    keras_model, model = _twins()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError) as theirs:
        call(keras_model, Theirs)
    with pytest.raises(ValueError) as ours:
        call(model, Ours)
    assert str(ours.value) == str(theirs.value)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_keras_errors_for_what_a_dataset_or_generator_must_carry_itself():
    x, y = _data()
    w = np.ones(len(x), np.float32)
    _same_error(lambda m, cls: m.fit(cls(x, y), y, verbose=0))
    _same_error(lambda m, cls: m.fit(cls(x, y), sample_weight=w, verbose=0))
    _same_error(lambda m, cls: m.fit(_generator(x, y), y, verbose=0))
    _same_error(lambda m, cls: m.fit(_generator(x, y), class_weight={0: 1.0}, verbose=0))
    _same_error(lambda m, cls: m.fit(_generator(x, y), validation_split=0.2, verbose=0,
                                     shuffle=False))
    _same_error(lambda m, cls: m.fit(iter([]) if False else (b for b in []), verbose=0))
    _same_error(lambda m, cls: m.fit((list(b) for b in _generator(x, y)), verbose=0,
                                     shuffle=False))


def test_bad_steps_are_refused_by_name_before_anything_changes():
    x, y = _data()
    _, model = _twins()
    before = [w.copy() for w in model.get_weights()]
    for kwargs, name in (({"steps_per_epoch": 0}, "steps_per_epoch"),
                         ({"validation_steps": 1.5, "validation_data": (x, y)},
                          "validation_steps")):
        with pytest.raises(ValueError, match=f"Argument `{name}` must be a positive integer"):
            model.fit(x, y, verbose=0, **kwargs)
    with pytest.raises(ValueError, match="Argument `steps` must be a positive integer"):
        model.evaluate(x, y, steps=-1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_the_progress_bar_learns_the_number_of_steps_of_a_generator(capsys):
    """Keras's bar for a generator: no total in the first epoch, the count seen after it."""
    x, y = _data()
    _, model = _twins()
    model.fit(_generator(x, y, repeat=2), steps_per_epoch=None, epochs=1, verbose=1)
    first = capsys.readouterr().out
    assert "10/Unknown" in first or "10/10" in first
    model.fit(_generator(x, y, repeat=4), steps_per_epoch=5, epochs=2, verbose=1)
    assert "5/5" in capsys.readouterr().out
