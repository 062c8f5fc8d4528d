"""Speed beside the maths: the helper thread that takes half of a big piece of work.

minidl/threads.py decides when it works (a core free, inside fit, evaluate or predict) and
what it is given (halves of big matrix products and optimizer updates). This module is the
thread itself and its handshake with the calling thread (the poster): a spin lock the helper
spins on while it waits, outside Python's GIL as OpenBLAS's own threads do, because a thread
that sleeps takes up to half a millisecond to wake on a virtual machine's idle core, as long
as the work it was woken for. Work is claimed, not assigned: whichever thread is free takes
the next task, so a helper that is late costs nothing.
"""
import ctypes
import ctypes.util
import itertools
import sys
import threading
import time

from minidl.denormals import flushed
from minidl.interrupts import deferred_interrupt

PARK_WAIT = 5.0  # seconds park() waits for the helper to fall asleep before giving it up


class _SpinLock:
    """A pthread spin lock: lock() spins, outside the GIL (ctypes releases it), until free."""

    def __init__(self, functions):
        init, self._lock, self._unlock = functions
        self._word = ctypes.c_int(0)  # pthread_spinlock_t is an int in glibc and musl
        self._ref = ctypes.byref(self._word)
        init(self._ref, 0)

    def lock(self):
        self._lock(self._ref)

    def unlock(self):
        self._unlock(self._ref)


def spin_functions():
    """(pthread_spin_init, _lock, _unlock) from the C library, or None (not Linux).

    lock() releases the GIL while it spins (a ctypes.CDLL call); unlock() is instant and
    keeps it (a ctypes.PyDLL call): handing the GIL over costs more than the unlock itself.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        path = ctypes.util.find_library("c") or "libc.so.6"
        releasing, keeping = ctypes.CDLL(path), ctypes.PyDLL(path)
        functions = (keeping.pthread_spin_init, releasing.pthread_spin_lock,
                     keeping.pthread_spin_unlock)
    except (OSError, AttributeError):
        return None
    for function in functions:
        function.restype = ctypes.c_int
    return functions


class _Job:
    """Tasks that any thread may claim, each run once; errors are kept for the poster."""

    def __init__(self, tasks):
        self.tasks, self.error = tasks, None
        self._claims = itertools.count()  # next() on a count is atomic under the GIL

    def work(self):
        """Run unclaimed tasks until none is left; returns how many this thread ran."""
        done = 0
        for index in self._claims:
            if index >= len(self.tasks):
                return done
            self.tasks[index]()
            done += 1
        return done


class Helper:
    """One thread that takes a share of the calling thread's work.

    The poster holds `gate` while there is no work; the helper spins on it. To share a job,
    the poster puts it in `job`, opens the gate, does tasks itself, then takes the gate back,
    which waits for a helper that got through to finish the task it claimed. A helper that
    did not get through keeps spinning and finds the next job. `park()` puts it to sleep.

    Every change of this handshake runs whole (deferred_interrupt): a Ctrl-C landing in the
    middle of one would leave the two threads disagreeing about who holds the gate, and the
    next park() waiting for ever. Should the helper still not answer, park() gives it up
    (`lost`) after PARK_WAIT seconds and minidl goes on without it.

    Each job counts its seconds and those the poster alone would have taken, from its own
    seconds per task: threads.py sends a helper whose jobs save too little to rest.
    """

    def __init__(self, spin_functions):
        self.gate = _SpinLock(spin_functions)
        self.gate.lock()
        self.job = None
        self.parking = False
        self.spinning = False
        self.spinning_since = None  # time.monotonic() when it last started spinning
        self.lost = False  # it did not answer park(): never used again
        self.jobs = self.tasks_done = 0  # jobs shared with the helper, tasks it ran
        # Whether sharing pays, summed over the shared jobs: their seconds, and the seconds
        # the poster alone would have taken (its own seconds per task times all the tasks).
        self.seconds_shared = self.seconds_alone = 0.0
        self._awake, self._parked = threading.Event(), threading.Event()
        self._poster = threading.Lock()  # one poster at a time; others do their work alone
        self.thread = threading.Thread(target=self._run, name="minidl-helper", daemon=True)
        self.thread.start()

    def _run(self):
        with flushed():  # denormals are zero in the helper's share too (minidl/denormals.py)
            while True:
                self._awake.wait()  # parked: asleep
                self.gate.lock()  # spins until a job is posted
                while not self.parking:
                    job = self.job
                    if job is not None:
                        try:
                            self.tasks_done += job.work()
                        except BaseException as error:  # the poster raises it
                            job.error = error
                    self.gate.unlock()  # the poster may go on (it keeps the GIL until here)
                    self.gate.lock()  # and spin for the next job
                self._awake.clear()
                self._parked.set()
                self.gate.unlock()

    def unpark(self):
        """Start spinning: from now on the helper picks up work within microseconds."""
        if not self.spinning and not self.lost:
            with deferred_interrupt():
                self.spinning, self.spinning_since = True, time.monotonic()
                self._awake.set()

    def park(self):
        """Stop spinning: the helper sleeps until `unpark`."""
        with deferred_interrupt():
            if not self.spinning or not self._poster.acquire(timeout=1):
                return
            try:
                self.parking, self.spinning = True, False
                self._parked.clear()
                self.gate.unlock()
                if not self._parked.wait(timeout=PARK_WAIT):
                    self.lost = True  # (the gate stays open: a late helper parks by itself)
                    return
                self.gate.lock()
                self.parking = False
            finally:
                self._poster.release()

    def share(self, tasks):
        """Run every task once, on this thread and the helper; True if the helper was asked."""
        job = _Job(tasks)
        with deferred_interrupt():  # a Ctrl-C waits for the tasks: they are one step
            if not self.spinning or not self._poster.acquire(blocking=False):
                return False
            try:
                self.jobs += 1
                self.job = job
                start = time.perf_counter()
                self.gate.unlock()
                try:
                    mine = job.work()
                finally:
                    worked = time.perf_counter()
                    self.gate.lock()  # waits for a task the helper claimed
                    self.job = None
                if mine:
                    self.seconds_shared += time.perf_counter() - start
                    self.seconds_alone += (worked - start) / mine * len(tasks)
            finally:
                self._poster.release()
        if job.error is not None:
            raise job.error
        return True
