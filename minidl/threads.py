"""Speed beside the maths: how minidl uses a machine's cores while it trains and predicts.

NumPy's BLAS (OpenBLAS) splits every matrix product between its threads and has each thread
spin while it waits for the others. On an idle machine that pays for big products; when
another process keeps a core busy, every product waits for the thread the scheduler put
aside, and a training step can take ten times as long. So, while `fit`, `evaluate` or
`predict` runs (`working()`, entered in training.py):

- NumPy's BLAS runs on ONE thread;
- when a core is free (other processes used less than half a core over the last quarter
  of a second, read from /proc/stat, and the helper, when it spun, paid: this process used
  more than one and a half cores, and the shared work took at most 85% of the time the
  calling thread alone would have taken), minidl's own helper thread (helper_thread.py)
  takes half of each big piece of work: a matrix product of more than SPLIT_MACS
  multiply-adds per half, cut by rows (or by columns of the right-hand side), and the
  optimizer's element-wise update of more than SPLIT_ELEMENTS weights (layout.py);
- when the cores are busy, everything runs on the calling thread: nothing waits for a
  thread that is not running. Work is claimed, not assigned: whichever thread is free
  takes the next half, so a helper that is late costs nothing.
- glibc's malloc keeps freed arrays for the next step rather than unmapping them
  (allocator.py);
- a user's choice wins: `minidl.config.set_blas_threads(n)`, or OMP_NUM_THREADS,
  OPENBLAS_NUM_THREADS or MKL_NUM_THREADS in the environment: BLAS gets n threads and there
  is no helper. (README's Performance section has the measurements behind the rule.)

Exactness: every half computes exactly the numbers the whole would (bit for bit). The
update is element-wise, so any cut gives the same numbers. A product's rows (columns)
are computed by the same BLAS kernel in the same order whether the product is cut or
not, as long as each half is big enough for OpenBLAS's ordinary path (its kernel for
small products, under 100**3 multiply-adds, adds in another order): SPLIT_MACS keeps
every half above that. Some kernels (OpenBLAS's for Haswell) sum a row in an order that
depends on its place in a tile of rows: `exact_steps()` finds once, on this machine's BLAS,
the tile height at whose multiples a cut is exact, for rows and for columns; a direction
with none is never cut.

The helper waits for work spinning on a spin lock (helper_thread.py says why). It spins
only inside `working()`, from the first piece of work big enough to share, and only while
a core is free; otherwise it sleeps. Only Linux has all the pieces (/proc/stat, pthread
spin locks); elsewhere BLAS keeps its own threads.
"""
import os
import resource
import threading
import time

import numpy as np

from minidl import allocator, config
from minidl.helper_thread import Helper, spin_functions
from minidl.interrupts import deferred_interrupt

SPLIT_MACS = 5_000_000  # multiply-adds per half (OpenBLAS keeps its small kernel to < 10**6)
SPLIT_ELEMENTS = 100_000  # numbers per half of an element-wise update
MIN_CUT = 24  # rows (columns) per half: 24 + 40 of a 64-row batch took 0.71 of the whole's time
CHECK_EVERY = 0.25  # seconds between two looks at the other processes' load
BUSY_CORES = 0.5  # other processes using this much of a core (or more) count as load
REST, MAX_REST = 2.0, 64.0  # seconds a helper that does not pay rests, doubled each time
MIN_GAIN = 0.15  # sharing must save this fraction of the time the calling thread alone takes
MIN_MEASURED = 0.01  # seconds of shared work an interval needs before its gain is judged
USER_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- the choice: how many BLAS threads, and whether the helper may work -----------------------
def user_threads():
    """The user's BLAS threads: set_blas_threads(n), else the environment, else None."""
    if config.blas_threads() is not None:
        return config.blas_threads()
    for name in USER_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class LoadMeter:
    """CPU time other processes used since the last look, in cores (Linux's /proc/stat)."""

    def __init__(self):
        self._last = self._read()
        self.own = None  # cores' worth this process used over the last interval

    @property
    def last_time(self):
        """When the meter last looked (time.monotonic())."""
        return self._last[0]

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:8]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        mine = resource.getrusage(resource.RUSAGE_SELF)
        return (time.monotonic(), busy / os.sysconf("SC_CLK_TCK"),
                mine.ru_utime + mine.ru_stime)

    def others(self):
        """Cores' worth of CPU used by other processes since the previous call."""
        now = self._read()
        (t0, busy0, mine0), (t1, busy1, mine1) = self._last, now
        self._last = now
        elapsed = max(t1 - t0, 1e-3)
        self.own = (mine1 - mine0) / elapsed
        return max(0.0, (busy1 - busy0) - (mine1 - mine0)) / elapsed


# -- BLAS's threads, through threadpoolctl ---------------------------------------------------
_blas = None  # threadpoolctl's controllers of the BLAS libraries loaded, found once


def _blas_controllers():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:  # threadpoolctl missing or unable to read this platform's libraries
            _blas = []
    return _blas


def blas_threads_now():
    """The threads NumPy's BLAS uses now (None if threadpoolctl cannot tell)."""
    controllers = _blas_controllers()
    return controllers[0].num_threads if controllers else None


# -- the policy: what `working()` sets up while fit, evaluate or predict runs ------------------
class _Policy:
    """The state behind `working()`: BLAS threads saved and set, the helper and the load."""

    def __init__(self):
        self.lock = threading.Lock()
        self.depth = 0  # working() blocks open, in any thread
        self.saved = []  # (controller, threads) to put back when the last block closes
        self.helper_allowed = False  # auto mode on a machine with the pieces for it
        self.meter = None
        self.next_look = 0.0
        self.helper = None
        self.free_core = False  # the last look found a core free
        self.rest, self.resting_until = REST, 0.0  # no helper until then (see look)
        self.looked_at = 0.0  # when the last look was
        self.rests = 0  # times the helper was sent to rest
        self.counted = (None, 0.0, 0.0)  # (helper, its seconds shared, alone) at the last look

    def enter(self, block):
        """`block` (a working()) enters: the first block in sets BLAS threads and the helper."""
        with deferred_interrupt(), self.lock:
            if block.entered:
                return
            block.entered = True  # together with the depth: both or neither, even on Ctrl-C
            self.depth += 1
            if self.depth > 1:
                return
            allocator.keep_freed_memory()  # freed arrays reused by the next step (allocator.py)
            chosen = user_threads()
            controllers = _blas_controllers()
            self.helper_allowed = (chosen is None and bool(controllers) and usable_cores() > 1
                                   and _SPIN is not None and os.path.exists("/proc/stat"))
            if chosen is None and not self.helper_allowed:
                return  # no helper here: BLAS keeps its own threads, as NumPy set them
            self.saved = [(c, c.num_threads) for c in controllers]
            for c in controllers:
                c.set_num_threads(chosen or 1)
            if self.helper_allowed:
                self._resume_looking()

    def _resume_looking(self):
        """The first look of a block: the last verdict stands until a quarter second is up."""
        now = time.monotonic()
        if self.meter is None:
            self.meter, self.free_core = LoadMeter(), False
            self.next_look = now + CHECK_EVERY / 2
        else:  # the meter measures since its last look, however long ago: fits back to back
            self.next_look = max(now, self.meter.last_time + CHECK_EVERY)  # start as they ended

    def exit(self, block):
        """`block` leaves (if it entered): the last block out puts BLAS's threads back."""
        with deferred_interrupt():
            if block.entered:
                block.entered = False
                self._last_out()

    def _last_out(self):
        with self.lock:
            self.depth -= 1
            if self.depth > 0:
                return
            self.helper_allowed = False
            for controller, threads in self.saved:
                controller.set_num_threads(threads)
            self.saved, helper = [], self.helper
            allocator.give_back_freed_memory()
        if helper is not None:
            helper.park()

    def look(self):
        """Every CHECK_EVERY seconds: is a core free? If not, the helper is parked.

        Free means: other processes left a core (they used less than 1 + BUSY_CORES of them
        fewer than this machine has), and the helper, if it spun all through the last
        interval, paid. It did not if
        - this process used less than 1 + BUSY_CORES: a spinning helper and a busy poster use
          two cores, so the two shared one (the scheduler put them together, or the virtual
          machine's host took a core away) and every job waited for a thread not running;
        - or its jobs saved less than MIN_GAIN of the time the poster alone would have taken
          (its own seconds per task times all the tasks): the second core is there but slow,
          say shared with another virtual machine on the host, which no load figure shows.
        A helper that did not pay rests, REST seconds the first time, twice as long each time
        in a row, up to MAX_REST.
        """
        now = time.monotonic()
        if now < self.next_look:
            return
        with self.lock:
            if now < self.next_look or not self.helper_allowed:
                return
            self.next_look = now + CHECK_EVERY
            interval_start, self.looked_at, helper = self.looked_at, now, self.helper
            others = self.meter.others()
            shared, alone = self._sharing_since_last_look(helper)
            if (helper is not None and helper.spinning and self.meter.own is not None
                    and helper.spinning_since <= interval_start):
                paid = alone < MIN_MEASURED or shared <= (1 - MIN_GAIN) * alone
                if self.meter.own < 1 + BUSY_CORES or not paid:
                    self.resting_until, self.rests = now + self.rest, self.rests + 1
                    self.rest = min(2 * self.rest, MAX_REST)
                else:
                    self.rest = REST
            self.free_core = (now >= self.resting_until
                              and usable_cores() - others >= 1 + BUSY_CORES)
        if not self.free_core and helper is not None:
            helper.park()

    def _sharing_since_last_look(self, helper):
        """(seconds shared, seconds the poster alone would have taken) since the last look."""
        if helper is None:
            return 0.0, 0.0
        last, shared, alone = self.counted
        if last is not helper:
            shared = alone = 0.0
        self.counted = (helper, helper.seconds_shared, helper.seconds_alone)
        return helper.seconds_shared - shared, helper.seconds_alone - alone

    def helper_ready(self):
        """The helper, started if need be, when it may take a share now (a core free), else None.

        Called for work big enough to share: the helper spins only once there is some.
        """
        if not self.helper_allowed:
            return None
        self.look()
        if not self.free_core:
            return None
        if self.helper is None or self.helper.lost:
            with deferred_interrupt(), self.lock:
                if self.helper is None or self.helper.lost:
                    self.helper = Helper(_SPIN)
        self.helper.unpark()
        return self.helper


_SPIN = spin_functions()
_policy = _Policy()


def state():
    """What minidl's threads do now, for reports: BLAS threads, who chose, the helper's work."""
    helper = _policy.helper
    return {"blas_threads": blas_threads_now(),
            "chosen_by": "user" if user_threads() is not None else "minidl",
            "helper": ("off" if helper is None else "spinning" if helper.spinning else "parked"),
            "helper_allowed": _policy.helper_allowed, "free_core": _policy.free_core,
            "helper_rests": _policy.rests,
            "jobs_shared": 0 if helper is None else helper.jobs,
            "tasks_by_helper": 0 if helper is None else helper.tasks_done,
            "seconds_shared": 0.0 if helper is None else helper.seconds_shared,
            "seconds_alone": 0.0 if helper is None else helper.seconds_alone}


class working:
    """Context manager: minidl's threads as the module docstring says, put back on exit.

    Entering and leaving are whole under Ctrl-C: the policy changes inside a deferred block
    (interrupts.py), which raises a Ctrl-C it held only once the change is done. One that
    comes out of __enter__ has the entry undone; one that lands in __exit__ before its block
    has the exit done before it goes on. (Python itself leaves one moment open: a Ctrl-C
    handled as __exit__ is called, before its first line, leaves the block entered.)
    """

    __slots__ = ("entered",)

    def __init__(self):
        self.entered = False

    def __enter__(self):
        try:
            _policy.enter(self)
            return self
        except BaseException:
            _policy.exit(self)  # (nothing to undo if it came before the entry)
            raise

    def __exit__(self, *exc_info):
        try:
            _policy.exit(self)
        except BaseException:
            _policy.exit(self)  # (nothing to do if it came after the exit)
            raise
        return False


def _reset_after_fork():
    """A forked child has no helper thread: start it afresh if it is ever needed."""
    global _policy
    _policy = _Policy()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# -- what the layers and optimizers call --------------------------------------------------------
_TINY = np.array([np.finfo(np.float32).tiny / 4], np.float32)


def _flushing():
    """True if this thread flushes denormals now (as minidl's steps do)."""
    return np.multiply(_TINY, 1)[0] == 0


def share(tasks):
    """Run every task (a function of no arguments) once: half on the helper when it is free.

    Only inside a minidl step (denormals flushed, as the helper's are); otherwise, or with
    no helper, the calling thread runs them all, in order.
    """
    helper = _policy.helper_ready()
    if helper is None or not _flushing() or not helper.share(tasks):
        for task in tasks:
            task()


def halves(n, step=1):
    """[(0, c), (c, n)]: a length-n axis cut in two, at the multiple of step nearest n/2."""
    c = (n // 2 + step // 2) // step * step
    return [(0, c), (c, n)]


def matmul(a, b, out=None):
    """a @ b (into `out` if given), for 2-D a and b; a big product is cut in two for the helper.

    The larger operand is cut: rows of a (a's rows are the output's) or columns of b, so
    that each thread reads only half of it; never into halves thinner than MIN_CUT rows
    (columns). Same numbers as a @ b.
    """
    if a.ndim != 2 or b.ndim != 2 or a.size * b.shape[-1] < 2 * SPLIT_MACS \
            or not _policy.helper_allowed:
        return np.matmul(a, b, out=out)  # (small: not worth a second thread)
    (m, k), n = a.shape, b.shape[1]
    cut = product_cut(m, k, n)
    if cut is None or _policy.helper_ready() is None:
        return np.matmul(a, b, out=out)
    by_rows, ranges = cut
    if out is None:
        out = np.empty((m, n), np.result_type(a, b))  # (M,N)
    if by_rows:
        share([lambda lo=lo, hi=hi: np.matmul(a[lo:hi], b, out=out[lo:hi])
               for lo, hi in ranges])
    else:
        share([lambda lo=lo, hi=hi: np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
               for lo, hi in ranges])
    return out


def product_cut(m, k, n):
    """(by rows, the two ranges) where a product (M,K) @ (K,N) is cut, or None.

    The longer of a's rows and b's columns is cut, else the other, in a direction this BLAS
    cuts exactly (exact_steps), at a multiple of its step; each half at least MIN_CUT thick
    and SPLIT_MACS multiply-adds.
    """
    row_step, column_step = exact_steps()
    for by_rows, length, step in sorted([(True, m, row_step), (False, n, column_step)],
                                        key=lambda c: -c[1]):
        if step is None:
            continue
        ranges = halves(length, step)
        thinner = min(hi - lo for lo, hi in ranges)
        if thinner >= MIN_CUT and thinner * k * (n if by_rows else m) >= SPLIT_MACS:
            return by_rows, ranges
    return None


def elementwise(function, *args, **kwargs):
    """function(*args, **kwargs) for an element-wise function of same-length 1-D arrays.

    Big arrays are cut in two halves, one per thread: every 1-D array argument is cut at the
    same place, everything else (scalars, None) is passed as it is. Same numbers as one call.
    """
    n = next((len(a) for a in args if isinstance(a, np.ndarray) and a.ndim == 1), 0)
    if n // 2 < SPLIT_ELEMENTS or _policy.helper_ready() is None:
        return function(*args, **kwargs)

    def cut(value, lo, hi):
        return value[lo:hi] if isinstance(value, np.ndarray) and value.ndim == 1 else value

    share([lambda lo=lo, hi=hi: function(*(cut(a, lo, hi) for a in args),
                                         **{k: cut(v, lo, hi) for k, v in kwargs.items()})
           for lo, hi in halves(n)])
    return None


# Where a cut may fall: a BLAS kernel computes a product in tiles of rows (OpenBLAS's Haswell
# sgemm: 24 rows), and may sum a row in an order that depends on its place in its tile; a cut
# at a multiple of the tile height keeps every row's place, and so its numbers.
CUT_STEPS = (1, 8, 16, 24, 32, 48, 64)
_STEPS = None  # (row step, column step) of this BLAS: checked once, on first use


def cut_products(a, b, step=1):
    """(by rows, by columns): a @ b computed as two halves of a's rows, and of b's columns,
    each cut at a multiple of step."""
    rows = np.concatenate([a[lo:hi] @ b for lo, hi in halves(len(a), step)])  # (M,N)
    columns = np.concatenate([a @ b[:, lo:hi] for lo, hi in halves(b.shape[1], step)],
                             axis=1)
    return rows, columns


def exact_steps():
    """(row step, column step): for each direction, the smallest of CUT_STEPS at which halves
    of products give a @ b's exact numbers with this BLAS, or None (never cut that way).
    Checked once, on products whose halves are all above OpenBLAS's small kernel."""
    global _STEPS
    if _STEPS is None:
        rng = np.random.default_rng(0)
        cases = []
        for m, k, n in ((64, 784, 512), (130, 129, 128), (577, 33, 129)):
            a = rng.standard_normal((m, k), np.float32)  # (M,K)
            b = rng.standard_normal((k, n), np.float32)  # (K,N)
            whole = a @ b  # (M,N)
            cases += [(x, y, whole) for x, y in ((a, b), (np.asfortranarray(a), b),
                                                 (a, np.asfortranarray(b)))]
        exact = {step: [True, True] for step in CUT_STEPS}
        for step in CUT_STEPS:
            for x, y, whole in cases:
                for direction, cut in enumerate(cut_products(x, y, step)):
                    exact[step][direction] &= bool(np.array_equal(cut, whole))
        _STEPS = tuple(next((step for step in CUT_STEPS if exact[step][direction]), None)
                       for direction in (0, 1))
    return _STEPS
