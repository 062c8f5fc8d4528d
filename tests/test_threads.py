"""minidl's threads (minidl/threads.py): the thread choice, the user's setting, and results that
are bit for bit those of the single-threaded path when a helper thread takes half the work."""
import os
import threading
import time

import numpy as np
import pytest

import minidl
from minidl import config, helper_thread, threads
from minidl.denormals import flushed

from ctrl_c import CtrlCAt, spread
from reference.bench_convnet import minidl_convnet  # the classic convnet, as the lesson compiles it

threadpoolctl = pytest.importorskip("threadpoolctl")  # a dependency of minidl
HELPER_POSSIBLE = threads._SPIN is not None and threads.usable_cores() > 1
MEASURED_OTHERS = threads.LoadMeter.others  # the real meter, before any test replaces it
MEASURED_SHARING = threads._Policy._sharing_since_last_look  # and the real payoff figures


def halves_of_products(a):
    """a @ a, twice, as one shared job: work for the helper whatever this BLAS does with
    halves of one product (threads.matmul cuts a product only where they are exact)."""
    threads.share([lambda: a @ a, lambda: a @ a])


@pytest.fixture(autouse=True)
def automatic(monkeypatch):
    """Each test starts with minidl choosing (no setting, no thread variables in the env)."""
    for name in threads.USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config.set_blas_threads(None)
    yield
    config.set_blas_threads(None)
    policy = threads._policy  # no rest carried over into the next test, and a look at once
    policy.resting_until, policy.rest, policy.next_look = 0.0, threads.REST, 0.0


@pytest.fixture
def free_core(monkeypatch):
    """The load meter sees an idle machine and looks at every call: the helper works.

    Its sharing counts as paying (nothing measured), whatever the machine running the tests
    is doing; the tests of the payoff rule give their own figures or restore the real ones.
    """
    if not HELPER_POSSIBLE:
        pytest.skip("needs Linux and two cores")
    monkeypatch.setattr(threads.LoadMeter, "others", idle)
    monkeypatch.setattr(threads, "CHECK_EVERY", 0.0)
    monkeypatch.setattr(threads._Policy, "_sharing_since_last_look", nothing_measured)


def nothing_measured(policy, helper):
    """(seconds shared, seconds alone) too few to judge whether sharing paid."""
    return 0.0, 0.0


def idle(meter):
    """An idle machine's reading: no other process, and this one on two cores."""
    meter.own = 2.0
    return 0.0


@pytest.fixture
def busy_machine(monkeypatch):
    """The load meter sees another process using a whole core."""
    monkeypatch.setattr(threads.LoadMeter, "others", lambda self: 1.0)
    monkeypatch.setattr(threads, "CHECK_EVERY", 0.0)


# -- the choice ----------------------------------------------------------------------------------
def test_blas_runs_on_one_thread_inside_minidl_and_as_before_outside():
    before = threads.blas_threads_now()
    with threads.working():
        inside = threads.blas_threads_now()
        with threads.working():  # nested blocks (validation inside fit) change nothing
            assert threads.blas_threads_now() == inside
        assert threads.blas_threads_now() == inside
    assert threads.blas_threads_now() == before
    assert inside == (1 if HELPER_POSSIBLE else before)


@pytest.mark.parametrize("how", ["config", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_the_users_setting_wins_and_there_is_no_helper(how, monkeypatch, free_core):
    if how == "config":
        config.set_blas_threads(3)
    else:
        monkeypatch.setenv(how, "3")
    assert threads.user_threads() == 3
    a = np.ones((512, 512), np.float32)
    with threads.working():
        assert threads.blas_threads_now() == 3
        assert threads.state()["chosen_by"] == "user"
        assert threads._policy.helper_ready() is None
        np.testing.assert_array_equal(threads.matmul(a, a), a @ a)


def test_set_blas_threads_takes_a_positive_integer_or_none():
    config.set_blas_threads(2)
    assert config.blas_threads() == 2
    config.set_blas_threads(None)
    assert config.blas_threads() is None
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="expected a positive integer or None. "
                                             f"Received: blas_threads={bad!r}"):
            config.set_blas_threads(bad)
        assert config.blas_threads() is None  # unchanged


def test_the_helper_works_when_a_core_is_free_and_sleeps_when_the_machine_is_busy(
        free_core, monkeypatch):
    started, names = threading.Event(), []

    def first():  # waits for the second task: it can only start on another thread
        names.append(threading.current_thread().name)
        assert started.wait(timeout=10)

    def second():
        names.append(threading.current_thread().name)
        started.set()

    with threads.working(), flushed():
        threads.share([first, second])
        assert threads.state()["helper"] == "spinning"
        assert sorted(names) == sorted([threading.current_thread().name, "minidl-helper"])
        monkeypatch.setattr(threads.LoadMeter, "others", lambda self: 1.0)  # now busy
        names.clear()
        threads.share([lambda: names.append(threading.current_thread().name)] * 2)
        assert threads.state()["helper"] == "parked"
        assert names == [threading.current_thread().name] * 2
    assert threads.state()["helper"] == "parked"  # asleep once minidl is done


def test_a_new_block_starts_with_the_last_verdict_until_the_next_look(free_core, monkeypatch):
    """Fits back to back: the second starts with the helper the first ended with."""
    monkeypatch.setattr(threads, "_policy", threads._Policy())  # this test's blocks only
    with threads.working(), flushed():
        threads.share([lambda: None] * 2)  # a look: a core is free, the helper spins
    monkeypatch.setattr(threads, "CHECK_EVERY", 60.0)  # no new look for a minute
    monkeypatch.setattr(threads.LoadMeter, "others", lambda self: 1.0)  # it would say busy
    with threads.working(), flushed():
        assert threads._policy.helper_ready() is threads._policy.helper is not None
        assert threads.state()["helper"] == "spinning"


def test_no_helper_outside_minidl_steps_or_on_a_busy_machine(busy_machine):
    names = []
    task = lambda: names.append(threading.current_thread().name)  # noqa: E731
    threads.share([task, task])  # not inside working(): the calling thread does it all
    with threads.working(), flushed():
        threads.share([task, task])
    assert names == [threading.current_thread().name] * 4


def test_an_error_in_a_shared_task_reaches_the_caller_and_the_next_share_works(free_core):
    def fails():
        raise ArithmeticError("in a task")

    with threads.working(), flushed():
        for tasks in ([fails, lambda: None], [lambda: None, fails]):
            with pytest.raises(ArithmeticError, match="in a task"):
                threads.share(tasks)
        done = []
        threads.share([lambda: done.append(1), lambda: done.append(2)])
        assert sorted(done) == [1, 2]


class InMinidl(CtrlCAt):
    """Ctrl-C at minidl's own moments: every event in its code but those of working()'s
    __enter__ and __exit__ themselves.

    CPython runs a signal handler only as a function starts, at the end of a loop's pass
    and after a call into C. In the test's `with` line and in the bodies of working's
    __enter__ and __exit__ (a call each, and a return) the real moments are the starts of
    the functions they call, traced as those functions' events; their own opcodes are not.
    The start of __exit__ itself is one, but no Python code can guard it (working's
    docstring).
    """

    def _trace(self, frame, event, arg):
        code = frame.f_code
        if "/minidl/" not in code.co_filename or (
                code.co_name in ("__enter__", "__exit__") and code.co_filename.endswith(
                    "threads.py")):
            return self._trace
        return super()._trace(frame, event, arg)


def test_a_ctrl_c_anywhere_in_a_block_that_shares_work_leaves_the_threads_as_they_were(
        free_core, monkeypatch):
    """An interrupt at any bytecode of working() around shared work (in the poster's handshake,
    in park(), in enter or exit): afterwards BLAS has its threads back, the helper is asleep and
    still answers, and the next block shares work again. (Before the handshake ran whole, such
    an interrupt left the helper asleep while minidl thought it spinning: the next park() waited
    for ever.)"""
    monkeypatch.setattr(helper_thread, "PARK_WAIT", 2.0)
    before = threads.blas_threads_now()
    a = np.ones((256, 256), np.float32)

    def block():
        with threads.working(), flushed():
            threads.share([lambda: None] * 2)
            halves_of_products(a)

    block()
    with InMinidl(opcodes=True) as counter:
        block()
    for k in spread(counter.count, 300):
        with pytest.raises(KeyboardInterrupt), InMinidl(k, opcodes=True):
            block()
        assert threads._policy.depth == 0
        assert threads.blas_threads_now() == before
        helper = threads._policy.helper
        assert helper is not None and not helper.lost and not helper.spinning
    jobs = threads.state()["jobs_shared"]
    block()
    assert threads.state()["jobs_shared"] == jobs + 2


def test_a_helper_without_a_core_of_its_own_rests_twice_as_long_each_time(
        free_core, monkeypatch):
    """The rule, with the meter's readings given: a spinning helper in a process that used
    less than 1.5 cores shared the poster's core; it rests REST seconds, then twice that."""
    monkeypatch.setattr(threads, "REST", 0.2)
    own = {"cores": 2.0}

    def others(meter):
        meter.own = own["cores"]
        return 0.0  # no other process: only the helper's own core is in question

    monkeypatch.setattr(threads.LoadMeter, "others", others)
    names = []
    task = lambda: names.append(threading.current_thread().name)  # noqa: E731
    rests = threads.state()["helper_rests"]  # (earlier tests' real fits may have rested it)
    with threads.working(), flushed():
        for _ in range(5):  # spinning all through the intervals, with two cores: it works on
            threads.share([task, task])
        assert threads.state()["helper"] == "spinning"
        assert threads.state()["helper_rests"] == rests
        own["cores"] = 1.0  # now the poster and the helper share one core
        threads.share([task, task])
        assert threads.state()["helper"] == "parked"
        assert threads.state()["helper_rests"] == rests + 1
        names.clear()
        threads.share([task, task])  # resting: the calling thread does it all
        assert names == [threading.current_thread().name] * 2
        policy = threads._policy
        assert 0 < policy.resting_until - time.monotonic() <= 0.2
        time.sleep(0.25)
        for _ in range(3):  # rested: it spins again, and is found sharing a core again
            threads.share([task, task])
        assert threads.state()["helper_rests"] == rests + 2
        assert 0.2 < policy.resting_until - time.monotonic() <= 0.4  # twice as long


def test_a_helper_whose_share_does_not_pay_rests(free_core, monkeypatch):
    """The rule, with what sharing saved given: two cores, but the helper's is slow (as when a
    virtual machine's host lends it to another machine, which no load figure shows), so its
    jobs save less than MIN_GAIN of the time the poster alone would take: it rests. Jobs that
    save more (the negative control) keep it working."""
    saved = {"fraction": 0.5}

    def sharing(policy, helper):  # (seconds shared, seconds the poster alone would take)
        return (1 - saved["fraction"]) * 0.1, 0.1

    monkeypatch.setattr(threads._Policy, "_sharing_since_last_look", sharing)
    task = lambda: None  # noqa: E731
    rests = threads.state()["helper_rests"]
    with threads.working(), flushed():
        for _ in range(5):  # spinning all through the intervals, and saving half: it works on
            threads.share([task, task])
        assert threads.state()["helper"] == "spinning"
        assert threads.state()["helper_rests"] == rests
        saved["fraction"] = threads.MIN_GAIN - 0.01  # now it saves too little
        threads.share([task, task])
        assert threads.state()["helper"] == "parked"
        assert threads.state()["helper_rests"] == rests + 1


def test_the_helper_counts_the_time_shared_and_the_time_the_poster_alone_would_take(
        free_core, monkeypatch):
    """Per job: the seconds from posting it to getting the gate back, and the poster's own
    seconds per task times the job's tasks (clock readings given: 0 when the job is posted, 2
    when the poster's tasks are done, 3 when the helper's are)."""
    with threads.working(), flushed():
        helper = threads._policy.helper_ready()
        assert helper is not None
        readings = iter([0.0, 2.0, 3.0])
        clock = type("Clock", (), {"perf_counter": staticmethod(lambda: next(readings)),
                                   "monotonic": staticmethod(time.monotonic)})
        before = (helper.seconds_shared, helper.seconds_alone, helper.tasks_done)
        with monkeypatch.context() as patch:
            patch.setattr(helper_thread, "time", clock)
            assert helper.share([lambda: None, lambda: None])
        by_poster = 2 - (helper.tasks_done - before[2])  # (1 or 2: it claims first)
        assert helper.seconds_shared - before[0] == 3.0
        assert helper.seconds_alone - before[1] == 2.0 / by_poster * 2


def test_a_helper_put_on_the_posters_core_is_found_out_by_the_real_meter(free_core, monkeypatch):
    """Both threads pinned to one CPU, as a scheduler or a virtual machine's host may leave
    them: this process cannot use more than one core, and the helper is sent to rest."""
    monkeypatch.setattr(threads._Policy, "_sharing_since_last_look", MEASURED_SHARING)
    monkeypatch.setattr(threads.LoadMeter, "others", lambda meter: 0 * MEASURED_OTHERS(meter))
    monkeypatch.setattr(threads, "CHECK_EVERY", 0.05)
    a = np.ones((512, 512), np.float32)
    rests = threads.state()["helper_rests"]
    with threads.working(), flushed():
        deadline = time.monotonic() + 5
        while threads.state()["helper"] != "spinning" and time.monotonic() < deadline:
            halves_of_products(a)  # starts the helper at the first look
        helper = threads._policy.helper
        cpu = min(os.sched_getaffinity(0))
        saved = [(tid, os.sched_getaffinity(tid))
                 for tid in (threading.get_native_id(), helper.thread.native_id)]
        try:
            for tid, _ in saved:
                os.sched_setaffinity(tid, {cpu})
            monkeypatch.setattr(threads, "usable_cores", lambda: 2)  # (it would say 1 now)
            while threads.state()["helper_rests"] == rests and time.monotonic() < deadline:
                halves_of_products(a)
        finally:
            for tid, cpus in saved:
                os.sched_setaffinity(tid, cpus)
        assert threads.state()["helper_rests"] == rests + 1
        assert threads.state()["helper"] == "parked"


def test_a_helper_whose_core_is_busy_with_another_thread_is_found_out_by_what_it_saved(
        free_core, monkeypatch):
    """The helper's CPU shared with a busy thread of this very process: no load figure shows
    it (the process still uses two cores), but the helper's halves now take twice as long,
    sharing saves nothing, and the helper is sent to rest."""
    monkeypatch.setattr(threads._Policy, "_sharing_since_last_look", MEASURED_SHARING)
    monkeypatch.setattr(threads.LoadMeter, "others", lambda meter: 0 * MEASURED_OTHERS(meter))
    monkeypatch.setattr(threads, "CHECK_EVERY", 0.05)
    a = np.ones((512, 512), np.float32)
    rests = threads.state()["helper_rests"]
    done = threading.Event()
    with threads.working(), flushed():
        deadline = time.monotonic() + 5
        while threads.state()["helper"] != "spinning" and time.monotonic() < deadline:
            halves_of_products(a)  # starts the helper at the first look
        cpu = max(os.sched_getaffinity(0))
        helper = threads._policy.helper
        saved = os.sched_getaffinity(helper.thread.native_id)

        def busy():  # NumPy products (outside the GIL) on the helper's CPU
            os.sched_setaffinity(threading.get_native_id(), {cpu})
            b = np.ones((256, 256), np.float32)
            while not done.is_set():
                b @ b

        other = threading.Thread(target=busy, daemon=True)
        try:
            os.sched_setaffinity(helper.thread.native_id, {cpu})
            other.start()
            while threads.state()["helper_rests"] == rests and time.monotonic() < deadline:
                halves_of_products(a)
        finally:
            done.set()
            other.join()
            os.sched_setaffinity(helper.thread.native_id, saved)
        assert threads.state()["helper_rests"] == rests + 1
        assert threads.state()["helper"] == "parked"


# -- exactness -----------------------------------------------------------------------------------
def single_threaded(function):
    """function() on the single-threaded path: BLAS on one thread, no helper."""
    config.set_blas_threads(1)
    try:
        with threads.working(), flushed():
            return function()
    finally:
        config.set_blas_threads(None)


@pytest.mark.parametrize("m, k, n", [(64, 784, 512), (784, 64, 512), (43264, 9, 32),
                                     (64, 43264, 32), (7744, 288, 64), (288, 7744, 64),
                                     (3, 3000, 2000)])
def test_a_product_cut_for_the_helper_equals_the_whole_bit_for_bit(m, k, n, free_core):
    """Where this BLAS gives halves of a product with the whole's bits (OpenBLAS's Haswell
    kernel: rows cut at a multiple of 24), the product is cut; where it does not, it is not,
    and the answer is the whole's all the same."""
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k), np.float32)
    b = rng.standard_normal((k, n), np.float32)
    whole = single_threaded(lambda: a @ b)
    with threads.working(), flushed():
        cut = threads.product_cut(m, k, n) is not None
        for x, y in ((a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b))):
            jobs = threads.state()["jobs_shared"]
            np.testing.assert_array_equal(threads.matmul(x, y), whole)
            assert threads.state()["jobs_shared"] == jobs + cut  # it was cut, if exact


def test_a_product_is_not_cut_into_halves_thinner_than_min_cut(free_core):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((9, 43264), np.float32).T.T  # conv dW: (K,N*HO*WO) @ (N*HO*WO,F)
    b = rng.standard_normal((43264, 32), np.float32)
    with threads.working(), flushed():
        jobs = threads.state()["jobs_shared"]
        np.testing.assert_array_equal(threads.matmul(a, b), a @ b)
        assert threads.state()["jobs_shared"] == jobs  # 9 rows or 32 columns: not cut


def test_the_exactness_check_would_catch_a_cut_that_changes_numbers(monkeypatch):
    """Negative control: the check compares bits, so a cut that rounds differently fails it."""
    real = threads.cut_products
    with threads.working():
        monkeypatch.setattr(threads, "_STEPS", None)
        monkeypatch.setattr(threads, "cut_products", lambda a, b, step: [a @ b, a @ b])
        assert threads.exact_steps() == (1, 1)  # the positive control: the whole's bits
        monkeypatch.setattr(threads, "_STEPS", None)
        monkeypatch.setattr(threads, "cut_products", lambda a, b, step: [
            np.nextafter(cut, np.float32(np.inf)) for cut in real(a, b, step)])  # one ULP up
        assert threads.exact_steps() == (None, None)


def test_a_cut_falls_on_a_multiple_of_the_step_near_the_middle():
    assert threads.halves(64) == [(0, 32), (32, 64)]
    assert threads.halves(65) == [(0, 32), (32, 65)]
    assert threads.halves(64, 24) == [(0, 24), (24, 64)]  # 24 is nearer 32 than 48 is
    assert threads.halves(784, 24) == [(0, 384), (384, 784)]
    assert threads.halves(20, 24) == [(0, 0), (0, 20)]  # shorter than a step: one half empty


def seed_recipe():
    model = minidl.Sequential([minidl.layers.Dense(512, activation="relu", input_shape=(784,)),
                               minidl.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("make, shape", [(seed_recipe, (784,)), (minidl_convnet, (28, 28, 1))])
def test_fit_with_the_helper_ends_with_the_single_threaded_weights_bit_for_bit(
        make, shape, free_core):
    rng = np.random.default_rng(0)
    x = rng.random((192,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, 192)

    def trained():
        minidl.utils.set_random_seed(0)
        model = make()
        history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        return model.get_weights(), history.history["loss"], model.predict(x, verbose=0)

    expected = single_threaded(trained)
    jobs = threads.state()["jobs_shared"]
    weights, losses, predictions = trained()
    shared = threads.state()["jobs_shared"] - jobs
    with threads.working():
        steps = threads.exact_steps()
    if steps != (None, None):
        assert shared > 6  # products and updates were cut
    else:  # only element-wise work: the 784 x 512 kernel's update, once in each of 6 steps
        assert shared == (6 if make is seed_recipe else 0)
    for ours, reference in zip(weights, expected[0]):
        np.testing.assert_array_equal(ours, reference)
    assert losses == expected[1]
    np.testing.assert_array_equal(predictions, expected[2])


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw", "adagrad", "adamax",
                                  "nadam"])
def test_an_update_cut_in_halves_equals_one_update_bit_for_bit(name, free_core):
    rng = np.random.default_rng(1)
    start = rng.standard_normal(300_000).astype(np.float32)
    grads = [rng.standard_normal(300_000).astype(np.float32) for _ in range(3)]

    def updated():
        w = minidl.variable.Variable(start.copy(), "w")
        optimizer = minidl.optimizers.get(name)
        with threads.working(), flushed():
            for g in grads:
                optimizer.apply([g], [w])
        return w.value

    expected = single_threaded(updated)
    jobs = threads.state()["jobs_shared"]
    np.testing.assert_array_equal(updated(), expected)
    assert threads.state()["jobs_shared"] == jobs + 3


# -- glibc's malloc (minidl/allocator.py) ---------------------------------------------------------
FAULTS = """
import resource, numpy as np
from minidl import allocator, threads
with threads.working():
    for _ in range(3):
        a = np.ones(2_000_000, np.float32); b = a * 2; del a, b  # 8 MB blocks, made and freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        a = np.ones(2_000_000, np.float32); b = a * 2; del a, b
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, allocator.thresholds_raised())
"""


def page_faults(**env):
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    environment.update(env)
    done = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True,
                          env=environment, check=True, timeout=120)
    faults, raised = done.stdout.split()
    return int(faults), raised == "True"


@pytest.mark.skipif(minidl.allocator._LIBC is None, reason="glibc only")
def test_freed_blocks_are_reused_inside_minidl_and_a_users_malloc_setting_wins():
    faults, raised = page_faults()
    assert raised and faults < 1_000  # the blocks come back from the heap, already mapped
    # Negative control: glibc's own defaults set by the user (which minidl leaves alone):
    # every 8 MB block is a fresh mapping whose pages are faulted in again (fewer than its
    # 2,000 4-KiB pages when the kernel gives NumPy huge pages for part of it).
    faults, raised = page_faults(MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    assert not raised and faults > 5_000
