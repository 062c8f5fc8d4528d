"""Ctrl-C at any moment leaves minidl's state whole: a step, a load and a flag change are atomic.

How the moments are chosen (tests/ctrl_c.py): `CtrlCAt(k)` traces the calling thread (every line
or every bytecode) and sends SIGINT to the process at the k-th event. Python then runs its
SIGINT handler at its next chance, possibly inside the tracer itself, so the KeyboardInterrupt
lands at that event or soon after, as a real Ctrl-C would. Sweeping k over the events of a
call puts one interrupt at every (or every n-th) point of it; timer threads sending real
signals at random times complete the picture. After each interrupt the test checks that the
state is one a whole operation left: weights, optimizer slots and step count from the same
completed step, every weight old or every weight new, and flush-to-zero off.
"""
import signal
import threading
import time

import numpy as np
import pytest

import minidl
from minidl import denormals, interrupts
from minidl.layers import Dense, Input

from ctrl_c import FindCalls, count_events, interrupted, spread

TINY = np.finfo(np.float32).tiny


def flush_to_zero_is_on():
    """Plain NumPy arithmetic flushes float32 tiny/4 to 0 only while the CPU flags are set."""
    return np.multiply(np.array([TINY / 4], np.float32), np.float32(1))[0] == 0


# -- the two building blocks ------------------------------------------------------------------
def test_a_ctrl_c_inside_a_deferred_block_is_raised_once_when_it_ends():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
            done.append("rest of the block")
        done.append("after the block")
    assert done == ["rest of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nested_blocks_hold_the_interrupt_until_the_outermost_ends():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred_interrupt():
            with interrupts.deferred_interrupt():
                signal.raise_signal(signal.SIGINT)
            done.append("outer block goes on")
    assert done == ["outer block goes on"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_users_own_handler_gets_the_held_signal_and_ignored_stays_ignored():
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        with interrupts.deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
            assert received == []
        assert received == [signal.SIGINT]
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with interrupts.deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_deferred_block_in_another_thread_leaves_the_handler_alone():
    seen = []

    def worker():
        with interrupts.deferred_interrupt():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


class naive_flushed:
    """Negative control: flags set first, old state noted after, nothing held (issue 13, 5)."""

    def __enter__(self):
        get, set_ = denormals._FUNCTIONS
        saved = denormals._FloatEnvironment()
        get(saved)
        set_(denormals._with_flags(saved, True))
        self._saved = saved
        return self

    def __exit__(self, *exc_info):
        denormals._FUNCTIONS[1](self._saved)
        return False


def flags_left_on_after_sweep(context):
    """For a Ctrl-C at every bytecode of `with context(): <arithmetic>`: was FTZ ever left on?"""
    def block():
        with context():
            np.multiply(np.ones(3, np.float32), np.float32(2))

    left_on, total = [], count_events(block, opcodes=True)
    for k in range(1, total + 1):
        assert interrupted(block, k, opcodes=True), f"the Ctrl-C at event {k} was lost"
        if flush_to_zero_is_on():
            left_on.append(k)
            clear_flags()
    return left_on, total


def clear_flags():
    get, set_ = denormals._FUNCTIONS
    environment = denormals._FloatEnvironment()
    get(environment)
    set_(denormals._with_flags(environment, False))


@pytest.mark.skipif(not denormals.AVAILABLE, reason="no way to set the CPU's flags here")
def test_a_ctrl_c_at_any_bytecode_of_a_flushed_block_leaves_flush_to_zero_off():
    left_on, total = flags_left_on_after_sweep(denormals.flushed)
    assert total > 20 and left_on == []
    bad, _ = flags_left_on_after_sweep(naive_flushed)  # the sweep does find the bug it is for
    assert bad


# -- loading weights --------------------------------------------------------------------------
def dense_stack(width, depth=4, compiled=True):
    model = minidl.Sequential([Input((width,))] + [Dense(width) for _ in range(depth)])
    if compiled:
        model.compile(minidl.optimizers.Adam(), "mse")
    return model


def trained_file(tmp_path, name, width, depth=4):
    """A file of a model trained for 2 steps (so Adam has slots), and that model's state."""
    model = dense_stack(width, depth)
    x = np.random.default_rng(0).normal(size=(8, width)).astype(np.float32)
    model.fit(x, x, batch_size=4, verbose=0)
    (model.save if name.endswith(".keras") else model.save_weights)(tmp_path / name)
    return tmp_path / name, state_of(model)


def state_of(model):
    optimizer = model.optimizer
    slots = [s.copy() for s in optimizer.slots()] if optimizer.built else []
    return [w.copy() for w in model.get_weights()], optimizer.iterations, slots


def assert_all_old_or_all_new(model, old, new, with_optimizer):
    weights, iterations, slots = state_of(model)
    matches = [all(np.array_equal(a, b) for a, b in zip(weights, s[0])) for s in (old, new)]
    assert matches[0] or matches[1], "some weights are old and some new"
    if with_optimizer:
        expected = new if matches[1] and not matches[0] else old
        assert iterations == expected[1]
        assert all(np.array_equal(a, b) for a, b in zip(slots, expected[2]))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # a ZipFile
@pytest.mark.parametrize("name", ["m.weights.npz", "m.weights.h5", "m.keras"])  # cut short
def test_a_ctrl_c_anywhere_in_load_weights_leaves_every_weight_old_or_every_weight_new(
        tmp_path, name):
    path, new = trained_file(tmp_path, name, width=6)
    with_optimizer = not name.endswith(".npz")  # .weights.npz holds the layers' weights only
    model = dense_stack(6)
    model.fit(np.ones((4, 6), np.float32), np.ones((4, 6), np.float32), verbose=0)  # 1 step
    with FindCalls("assign", "variable.py") as finder:  # where a load changes the model
        model.load_weights(path)
    first, last = finder.inside[0] - 20, finder.inside[-1] + 100
    moments = spread(finder.count, 40) + list(range(first, min(last, finder.count) + 1))
    for k in moments:  # every event around the assignments, a few elsewhere
        model.set_weights([w * 0 + k for w in model.get_weights()])
        old = state_of(model)
        interrupted(lambda: model.load_weights(path), k)
        assert_all_old_or_all_new(model, old, new, with_optimizer)
    assert not flush_to_zero_is_on()


def run_with_real_ctrl_c(call, seconds):
    """call() with a real SIGINT sent to the main thread by a timer thread after `seconds`.

    True if it interrupted call(); a signal landing just after call() returned is caught too.
    """
    timer = threading.Timer(seconds, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    try:
        timer.start()  # inside the try: a short timer can fire before start() returns
        call()
        timer.join()
        time.sleep(0.01)
    except KeyboardInterrupt:
        timer.join()
        return True
    return False


@pytest.mark.parametrize("name", ["m.weights.npz", "m.weights.h5"])
def test_real_ctrl_c_during_a_large_load_never_mixes_old_and_new(tmp_path, name):
    """The issue's case (4 Dense layers, 1000 wide: 16 MB), Ctrl-C at random times."""
    path, new = trained_file(tmp_path, name, width=1000)
    model = dense_stack(1000)
    model.fit(np.ones((2, 1000), np.float32), np.ones((2, 1000), np.float32), verbose=0)
    start = time.perf_counter()
    model.load_weights(path)
    duration = time.perf_counter() - start
    rng = np.random.default_rng(13)
    hits = 0
    for trial in range(10):
        model.set_weights([w * 0 + trial for w in model.get_weights()])
        old = state_of(model)
        hits += run_with_real_ctrl_c(lambda: model.load_weights(path),
                                     rng.uniform(0, duration))
        assert_all_old_or_all_new(model, old, new, with_optimizer=name.endswith(".h5"))
    assert hits >= 3  # the signals did land inside loads


# -- fit --------------------------------------------------------------------------------------
X = np.random.default_rng(0).normal(size=(48, 5)).astype(np.float32)  # (N,D) = (48,5)
Y = np.random.default_rng(1).integers(0, 3, 48)
INITIAL = None


def adam_model():
    global INITIAL
    model = minidl.Sequential([Input((5,)), Dense(8, activation="relu"),
                               Dense(3, activation="softmax")])
    if INITIAL is None:
        INITIAL = model.get_weights()
    model.set_weights(INITIAL)
    model.compile(minidl.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    return model


def fit(model, callbacks=()):
    model.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0,
              validation_data=(X[:16], Y[:16]), callbacks=list(callbacks))


@pytest.fixture(scope="module")
def trajectory():
    """The uninterrupted run's state after each completed step: {iterations: state}."""
    model = adam_model()
    states = {0: state_of(model)}
    record = minidl.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: states.__setitem__(
            model.optimizer.iterations, state_of(model)))
    fit(model, [record])
    assert len(states) == 1 + 3 * 6
    return states


def assert_at_a_whole_step(model, trajectory):
    """Weights, every Adam slot and the step count all from the same completed step."""
    weights, iterations, slots = state_of(model)
    expected_weights, _, expected_slots = trajectory[iterations]
    for w, expected in zip(weights, expected_weights):
        np.testing.assert_array_equal(w, expected)
    if iterations == 0:
        assert all(not s.any() for s in slots)  # not built yet, or built with zero slots
    else:
        for s, expected in zip(slots, expected_slots):
            np.testing.assert_array_equal(s, expected)


@pytest.mark.parametrize("opcodes", [False, True], ids=["lines", "bytecodes"])
def test_a_ctrl_c_anywhere_in_fit_leaves_a_whole_adam_step_and_flush_to_zero_off(
        trajectory, opcodes):
    first = adam_model()
    with FindCalls("update_step", ".py", opcodes) as finder:
        fit(first)
    update = finder.inside[0]  # from the first optimizer update to the end of its step
    moments = spread(finder.count, 90) + list(range(update - 20, update + 250 * (1 + 3 * opcodes),
                                                    1 + 3 * opcodes))
    steps_seen = set()
    for k in moments:  # every event around one optimizer update, some all along the run
        model = adam_model()
        assert interrupted(lambda: fit(model), k, opcodes)
        assert_at_a_whole_step(model, trajectory)
        assert not flush_to_zero_is_on()
        steps_seen.add(model.optimizer.iterations)
    assert len(steps_seen) > 10  # the interrupts landed all along the run


def test_fit_resumed_after_a_ctrl_c_ends_where_the_uninterrupted_run_ends(trajectory):
    """Resuming from the interrupted state replays no step and skips none."""
    first, model = adam_model(), adam_model()
    total = count_events(lambda: fit(first))
    assert interrupted(lambda: fit(model), total // 2)
    done = model.optimizer.iterations
    assert 0 < done < 18
    epoch, batch = divmod(done, 6)  # 6 batches of 8 rows per epoch
    if batch:  # the rest of the interrupted epoch, then the epochs left
        model.fit(X[8 * batch:], Y[8 * batch:], batch_size=8, shuffle=False, verbose=0)
        epoch += 1
    model.fit(X, Y, batch_size=8, epochs=3 - epoch, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 18
    assert_at_a_whole_step(model, trajectory)


def test_real_ctrl_c_at_random_times_during_fit(trajectory):
    model = adam_model()
    start = time.perf_counter()
    fit(model)
    duration = time.perf_counter() - start
    rng = np.random.default_rng(5)
    for _ in range(15):
        model = adam_model()
        run_with_real_ctrl_c(lambda: fit(model), rng.uniform(0, duration))
        assert_at_a_whole_step(model, trajectory)
        assert not flush_to_zero_is_on()


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_a_ctrl_c_anywhere_in_predict_or_evaluate_leaves_flush_to_zero_off(method):
    model = adam_model()
    call = (lambda: model.predict(X, batch_size=8, verbose=0)) if method == "predict" else (
        lambda: model.evaluate(X, Y, batch_size=8, verbose=0))
    call()  # the first call builds the metrics: count the events of a later one
    total = count_events(call, opcodes=True)
    for k in spread(total, 80):
        assert interrupted(call, k, opcodes=True)
        assert not flush_to_zero_is_on()
