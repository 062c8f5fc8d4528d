"""What the benchmarks share: the machine, the data, clocks, memory figures and the load.

`Load(n)` starts n busy-looping processes (the "loaded" condition: something else keeps
cores busy, as a browser, a second notebook or a test run does on a learner's machine) and
`OtherLoad` measures how much CPU other processes really used while a block ran, so that a
"quiet" figure taken while someone else's job ran says so.
"""
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

import minidl
from minidl import threads

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


SETTLE_SECONDS = 0.2


def settle():
    """Pause between two contestants that take turns. OpenBLAS's worker threads spin for about
    0.1 s after a multi-threaded product (the floor's, or BLAS's own threading): whatever ran
    next would share a core with them. Measured: a 20,000-row seed epoch of minidl right after
    the floor took 0.50-0.80 s against 0.46-0.66 s otherwise."""
    time.sleep(SETTLE_SECONDS)


# -- the machine ---------------------------------------------------------------------------------
def machine_info():
    """CPU model, core counts, Python, NumPy and the BLAS NumPy calls."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": threads.usable_cores(),
            "python": platform.python_version(), "numpy": np.__version__, "blas": _blas_info()}


def _blas_info():
    """NumPy's BLAS library: from threadpoolctl if installed, else NumPy's build config."""
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        pools.sort(key=lambda p: "numpy" not in p.get("filepath", ""))  # NumPy's own first
        if pools:
            p = pools[0]
            return (f"{p.get('internal_api')} {p.get('version')} "
                    f"({p.get('num_threads')} threads, {p.get('architecture')})")
    except ImportError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        return "unknown"


class blas_threads:
    """Context manager: NumPy's BLAS on exactly `n` threads inside (None: as it is)."""

    def __init__(self, n):
        self.n, self.limits = n, None

    def __enter__(self):
        if self.n is not None:
            from threadpoolctl import threadpool_limits
            self.limits = threadpool_limits(limits=self.n, user_api="blas")
        return self

    def __exit__(self, *exc_info):
        if self.limits is not None:
            self.limits.restore_original_limits()
        return False


# -- load ----------------------------------------------------------------------------------------
class Load:
    """Context manager: `n` child processes busy-looping in pure Python while the block runs."""

    def __init__(self, n):
        self.n, self.processes = n, []

    def __enter__(self):
        for _ in range(self.n):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL))
        if self.n:
            time.sleep(0.3)  # let them start and the scheduler see them
        return self

    def __exit__(self, *exc_info):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
        self.processes = []
        return False


def _cpu_seconds():
    """(all cores' busy seconds from /proc/stat, this process's CPU seconds)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:8]]
    busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    mine = resource.getrusage(resource.RUSAGE_SELF)
    return busy, mine.ru_utime + mine.ru_stime


class OtherLoad:
    """Context manager: `cores` is the CPU other processes used during the block, in cores.

    A benchmark's own busy-looping children (`Load`) count as other processes.
    """

    def __enter__(self):
        self.cores, self._start = None, None
        if os.path.exists("/proc/stat"):
            self._start = (time.monotonic(),) + _cpu_seconds()
        return self

    def __exit__(self, *exc_info):
        if self._start is not None:
            (t0, busy0, mine0), (busy1, mine1) = self._start, _cpu_seconds()
            self.cores = max(0.0, (busy1 - busy0) - (mine1 - mine0)) / (time.monotonic() - t0)
        return False


# -- data ----------------------------------------------------------------------------------------
def _read_idx_gz(path):
    """A gzipped IDX file (the MNIST format) as a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist_arrays():
    """((x, y), (x_test, y_test)) as uint8 arrays: minidl's loader, else Debian's gz files."""
    try:
        return minidl.datasets.fashion_mnist.load_data()
    except Exception:
        name = "{}-{}-idx{}-ubyte.gz"
        read = (lambda kind, part, dims:
                _read_idx_gz(os.path.join(FASHION_DIR, name.format(kind, part, dims))))
        return ((read("train", "images", 3), read("train", "labels", 1)),
                (read("t10k", "images", 3), read("t10k", "labels", 1)))


# -- clocks --------------------------------------------------------------------------------------
def status_mb(field):
    """A memory figure of this process from /proc/self/status ("VmRSS", "VmHWM"), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:
        pass
    return float("nan")


def reset_peak_rss():
    """Restart VmHWM from the current RSS (Linux: write 5 to clear_refs); True if it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class EpochClock:
    """Each epoch's wall time and the RSS at its end; mixed into each framework's Callback."""

    def __init__(self):
        super().__init__()
        self.seconds, self.rss_mb = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.rss_mb.append(status_mb("VmRSS"))


class MinidlEpochClock(EpochClock, minidl.callbacks.Callback):
    """EpochClock for minidl's fit."""


def keras_epoch_clock():
    """An EpochClock for Keras's fit (defined here so that Keras is imported only when needed)."""
    import keras

    class KerasEpochClock(EpochClock, keras.callbacks.Callback):
        pass

    return KerasEpochClock()


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


# -- memory, in a fresh process per framework ----------------------------------------------------
def memory_figures(model, clock, fit):
    """Train with `fit(model, clock)` and return this process's memory figures, in MiB."""
    baseline = status_mb("VmRSS")  # data loaded, framework imported, model built
    reset = reset_peak_rss()
    fit(model, clock)
    peak = status_mb("VmHWM")
    return {"baseline_rss_mb": baseline, "peak_rss_mb": peak, "peak_reset_before_fit": reset,
            "training_peak_increase_mb": peak - baseline,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_after_epoch_mb": clock.rss_mb,
            "rss_growth_mb": clock.rss_mb[-1] - clock.rss_mb[0]}


def run_memory_worker(recipe, framework, rows, epochs, blas_threads=None):
    """Train `recipe` ("seed" or "convnet") with `framework` in a fresh process: its memory."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "reference.bench", "--worker", framework,
               "--rows", str(rows), "--epochs", str(epochs)]
    command += ["--convnet"] if recipe == "convnet" else []
    command += ["--blas-threads", str(blas_threads)] if blas_threads else []
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The {framework} memory worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
