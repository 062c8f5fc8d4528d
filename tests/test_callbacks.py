"""Callbacks against Keras: the order of hooks, History, EarlyStopping, stopping and Ctrl-C."""
import numpy as np
import pytest

import keras
import minidl
from minidl.layers import Dense
from reference.twins import keras_twin


def data(n=50):
    rng = np.random.RandomState(0)
    x = rng.rand(n, 2).astype(np.float32)
    return x, (x.sum(axis=1) > 1).astype(int)


def model(optimizer=None):
    minidl.utils.set_random_seed(1)
    m = minidl.Sequential([Dense(8, activation="relu", input_shape=(2,)),
                           Dense(1, activation="sigmoid")])
    m.compile(optimizer=optimizer or minidl.optimizers.Adam(learning_rate=0.05),
              loss="binary_crossentropy", metrics=["accuracy"])
    return m


def tracer(base):
    """A callback class for either framework that records every hook with its logs' keys."""
    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
             "on_test_batch_begin", "on_test_batch_end"]

    class Trace(base):
        def __init__(self):
            super().__init__()
            self.calls = []

    def make(hook):
        def method(self, *args, logs=None):
            args = list(args)
            if args and isinstance(args[-1], dict):  # Keras passes some logs positionally
                logs = args.pop()
            index = args[0] if args else None
            self.calls.append((hook, index, sorted(logs) if logs else None))
        return method

    for hook in hooks:
        setattr(Trace, hook, make(hook))
    return Trace()


def test_hooks_are_called_in_keras_order_with_the_same_logs():
    x, y = data()
    m = model()
    twin = keras_twin(m)
    ours, theirs = tracer(minidl.callbacks.Callback), tracer(keras.callbacks.Callback)
    m.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0, callbacks=[ours],
          shuffle=False)
    twin.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0, callbacks=[theirs],
             shuffle=False)
    assert ours.calls == theirs.calls


def test_history_matches_keras():
    x, y = data()
    m = model()
    twin = keras_twin(m)
    history = m.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
    keras_history = twin.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
    assert history.epoch == keras_history.epoch == [0, 1, 2]
    assert history.params == keras_history.params
    assert m.history is history
    assert all(type(v) is float for values in history.history.values() for v in values)


@pytest.mark.parametrize("kwargs", [
    dict(monitor="val_loss", patience=1, restore_best_weights=True),
    dict(monitor="val_accuracy", patience=2, restore_best_weights=True),
    dict(monitor="loss", min_delta=0.05, patience=0),
    dict(monitor="val_loss", patience=1, baseline=0.01),
])
def test_early_stopping_stops_and_restores_like_keras(kwargs):
    x, y = data(80)
    m = model(minidl.optimizers.SGD(learning_rate=1.5, momentum=0.9))
    twin = keras_twin(m)
    ours = m.fit(x, y, epochs=30, batch_size=8, validation_split=0.25, verbose=0,
                 shuffle=False, callbacks=[minidl.callbacks.EarlyStopping(**kwargs)])
    theirs = twin.fit(x, y, epochs=30, batch_size=8, validation_split=0.25, verbose=0,
                      shuffle=False, callbacks=[keras.callbacks.EarlyStopping(**kwargs)])
    assert ours.epoch == theirs.epoch
    for w, kw in zip(m.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(w, kw, rtol=1e-4, atol=1e-5)


def test_restore_best_weights_restores_exactly_the_best_epoch():
    x, y = data(80)
    m = model(minidl.optimizers.SGD(learning_rate=1.5, momentum=0.9))
    snapshots = []
    record = minidl.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append((logs["val_loss"], m.get_weights())))
    history = m.fit(x, y, epochs=30, batch_size=8, validation_split=0.25, verbose=0,
                    callbacks=[record, minidl.callbacks.EarlyStopping(
                        patience=2, restore_best_weights=True)])
    best = min(range(len(snapshots)), key=lambda i: snapshots[i][0])
    assert len(history.epoch) < 30  # it did stop early
    for w, w_best in zip(m.get_weights(), snapshots[best][1]):
        np.testing.assert_array_equal(w, w_best)


def test_stop_training_from_a_callback_ends_after_the_batch():
    x, y = data()
    m = model()

    class StopAtBatch3(minidl.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    history = m.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[StopAtBatch3()])
    assert history.epoch == [0]
    assert m.optimizer.iterations == 3


def test_interrupt_keeps_the_last_completed_step_and_the_finished_epochs():
    """Ctrl-C mid-epoch: weights of the last finished step, History of the finished epochs."""
    x, y = data()
    m = model()
    after_step = []

    class Interrupt(minidl.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            after_step.append(self.model.get_weights())
            if self.model.optimizer.iterations == 10:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        m.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[Interrupt()])
    assert m.optimizer.iterations == 10
    for w, w_last in zip(m.get_weights(), after_step[-1]):
        np.testing.assert_array_equal(w, w_last)
    assert m.history.epoch == [0, 1]  # 4 steps per epoch: two epochs finished
    assert len(m.history.history["loss"]) == 2
    m.fit(x, y, epochs=1, verbose=0)  # and the model still trains afterwards


def test_on_batch_begin_and_end_are_keras_aliases_of_the_train_batch_hooks():
    """Older Keras code passes LambdaCallback(on_batch_end=...): it runs after each train batch."""
    x, y = data()
    m = model()
    twin = keras_twin(m)
    seen = {"minidl": [], "keras": []}

    def record(who, kind):
        return lambda batch, logs: seen[who].append((kind, batch, sorted(logs or {})))

    for who, module, fitted in (("minidl", minidl, m), ("keras", keras, twin)):
        callback = module.callbacks.LambdaCallback(on_batch_begin=record(who, "begin"),
                                                   on_batch_end=record(who, "end"))
        fitted.fit(x, y, epochs=1, batch_size=16, validation_split=0.2, verbose=0,
                   callbacks=[callback], shuffle=False)
    assert [kind for kind, _, _ in seen["minidl"]] == ["begin", "end"] * 3  # 40 rows, no test
    assert seen["minidl"] == seen["keras"]
