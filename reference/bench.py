"""How fast and how big is minidl next to Keras and next to the bare matrix products?

    python -m reference.bench                 the seed recipe on 60,000 Fashion-MNIST rows
    python -m reference.bench --quick         a few rows, one epoch (a smoke test)
    python -m reference.bench --sweep         also hidden width x batch size against the floor
    python -m reference.bench --json out.json write every figure
    python -m reference.bench --blas-threads 1  cap NumPy's BLAS threads (see below)

The seed recipe is the lab's Fashion-MNIST network: 784-512-10 (relu, softmax), rmsprop,
sparse categorical cross-entropy, accuracy, batch 64. Measured in this one process:
- seconds per epoch of `fit` for minidl and for Keras (after one warm-up epoch, so that
  TensorFlow's tracing is not counted; the first epoch is reported on its own);
- the float32 BLAS floor: the same epoch's five matrix products per batch and nothing else;
- a plain NumPy loop doing the same arithmetic as minidl with no framework around it (what
  NumPy itself can do here: the gap between it and the floor is not minidl's to close);
- the lab's E1 (2-64-1, adam, 800 rows, 30 epochs) whole-fit time;
- evaluate and predict on 10,000 rows.
Peak memory is measured in two child processes, one per framework, so that neither counts
the other's (TensorFlow alone is several hundred MB).

On a shared machine the absolute seconds are noisy; the ratios measured in one run are
what count. One effect is not noise: when other processes keep the cores busy, OpenBLAS's
threads wait for each other and minidl's many small matrix products can slow down several
times over. Compare a run with `--blas-threads 1` before blaming minidl's Python.
"""
import argparse
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
from minidl import denormals
from minidl.datasets import synthetic

# Keras is imported inside the functions that need it: the minidl memory worker must not
# load TensorFlow.

HIDDEN, CLASSES, BATCH_SIZE = 512, 10, 64  # the seed recipe
E1_ROWS, E1_BATCH_SIZE, E1_EPOCHS = 800, 32, 30
EVAL_ROWS = 10_000
SWEEP_WIDTHS = (128, 512, 2048)
SWEEP_BATCH_SIZES = (32, 64, 256, 1024)
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
# The speed issue's targets for each ratio (at most this much of the other's time or memory).
TARGETS = {"fit": 0.35, "floor": 1.4, "e1": 1 / 30, "inference": 0.5, "memory": 0.5}
NOTE = ("Absolute seconds on a shared machine are noisy; the ratios measured in one run "
        "are what count.")


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
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
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


def limit_blas_threads(threads):
    """Cap NumPy's BLAS (and so minidl and the floor) at `threads` threads in this process."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("--blas-threads needs threadpoolctl: pip install threadpoolctl") from None
    return threadpool_limits(limits=threads, user_api="blas")


# -- data ----------------------------------------------------------------------------------------
def _read_idx_gz(path):
    """A gzipped IDX file (the MNIST format) as a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(rows=None):
    """Fashion-MNIST as float32 (N, 784) in [0, 1] and integer labels; `rows` keeps the first rows.

    Uses `minidl.datasets.fashion_mnist.load_data()`, or reads Debian's gz files directly
    if that loader cannot.
    """
    try:
        (x, y), (x_test, y_test) = minidl.datasets.fashion_mnist.load_data()
    except Exception:
        x = _read_idx_gz(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"))
        y = _read_idx_gz(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz"))
        x_test = _read_idx_gz(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))
        y_test = _read_idx_gz(os.path.join(FASHION_DIR, "t10k-labels-idx1-ubyte.gz"))
    x = (x[:rows].reshape(-1, 784) / np.float32(255)).astype(np.float32)  # (N,784)
    x_test = (x_test.reshape(-1, 784) / np.float32(255)).astype(np.float32)  # (10000,784)
    return (x, y[:rows].astype(np.int64)), (x_test, y_test.astype(np.int64))


# -- models --------------------------------------------------------------------------------------
def minidl_seed_model(hidden=HIDDEN):
    """The seed recipe in minidl: 784-hidden-10, rmsprop, sparse cross-entropy, accuracy."""
    model = minidl.Sequential([
        minidl.layers.Dense(hidden, activation="relu", input_shape=(784,)),
        minidl.layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def keras_seed_model(hidden=HIDDEN):
    """The seed recipe in Keras."""
    import keras

    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def minidl_e1_model():
    """The lab's E1: 2-64-1 (relu, sigmoid), adam, binary cross-entropy, accuracy."""
    model = minidl.Sequential([
        minidl.layers.Dense(64, activation="relu", input_shape=(2,)),
        minidl.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


# -- timing and memory helpers --------------------------------------------------------------------
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
    """Records each epoch's wall time and the RSS at its end; mixed into each framework's Callback."""

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


def blas_floor_epoch(x, hidden=HIDDEN, classes=CLASSES, batch_size=BATCH_SIZE, repeats=1):
    """Seconds for one epoch of the MLP's matrix products alone, float32, best of `repeats`.

    Per batch, forward and backward, into preallocated arrays:
        h = x @ W1,  z = h @ W2,  dW2 = h.T @ dz,  dh = dz @ W2.T,  dW1 = x.T @ dh
    No bias, activation, loss, optimizer, shuffling or Python framework around them.
    """
    n, d = x.shape
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((d, hidden), np.float32)  # (D,H)
    W2 = rng.standard_normal((hidden, classes), np.float32)  # (H,C)
    h = np.empty((batch_size, hidden), np.float32)  # (B,H)
    z = np.empty((batch_size, classes), np.float32)  # (B,C)
    dz = rng.standard_normal((batch_size, classes), np.float32)  # (B,C), stands in for dL/dz
    dh = np.empty((batch_size, hidden), np.float32)  # (B,H)
    dW1 = np.empty((d, hidden), np.float32)  # (D,H)
    dW2 = np.empty((hidden, classes), np.float32)  # (H,C)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for first in range(0, n, batch_size):
            xb = x[first:first + batch_size]  # (m,D), a view
            m = len(xb)
            np.matmul(xb, W1, out=h[:m])  # (m,D)@(D,H) -> (m,H)
            np.matmul(h[:m], W2, out=z[:m])  # (m,H)@(H,C) -> (m,C)
            np.matmul(h[:m].T, dz[:m], out=dW2)  # (H,m)@(m,C) -> (H,C)
            np.matmul(dz[:m], W2.T, out=dh[:m])  # (m,C)@(C,H) -> (m,H)
            np.matmul(xb.T, dh[:m], out=dW1)  # (D,m)@(m,H) -> (D,H)
        best = min(best, time.perf_counter() - start)
    return best


def plain_numpy_epoch(x, y, weights, batch_size=BATCH_SIZE, order=None, rho=0.9, lr=1e-3,
                      epsilon=1e-7):
    """One epoch of the seed recipe as a bare NumPy loop: no framework, the same work as minidl.

    What a careful hand-written loop does per batch: gather the rows, forward (two products,
    bias, relu, softmax), the fused cross-entropy gradient (p - onehot) / N, backward (three
    products, bias sums, the relu mask), and RMSprop in place on buffers allocated once, with
    the nine element-wise passes per variable that Keras's arithmetic takes. No metrics, no
    callbacks, no checks. `weights` ([W1, b1, W2, b2], float32) are updated in place.
    It runs with denormals flushed, as minidl does, so that both do the same arithmetic.

    Returns (seconds, seconds spent in the RMSprop update).
    """
    W1, b1, W2, b2 = weights
    f32 = np.float32
    rho, one_minus_rho, epsilon, lr = f32(rho), f32(1 - rho), f32(epsilon), f32(lr)
    velocities = [np.zeros_like(w) for w in weights]
    grads = [np.empty_like(w) for w in weights]
    work = [(np.empty_like(w), np.empty_like(w)) for w in weights]
    n = len(x)
    order = np.arange(n) if order is None else order
    update_seconds = 0.0
    with denormals.flushed():
        start = time.perf_counter()
        for first in range(0, n, batch_size):
            rows = order[first:first + batch_size]
            xb, yb = x[rows], y[rows]  # (m,D), (m,)
            m = len(xb)
            z1 = xb @ W1  # (m,H)
            z1 += b1
            h = np.maximum(z1, 0)
            z2 = h @ W2  # (m,C)
            z2 += b2
            p = np.exp(z2 - z2.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)  # softmax
            p[np.arange(m), yb] -= 1
            dz2 = p / f32(m)  # (p - onehot) / N
            np.matmul(h.T, dz2, out=grads[2])
            np.sum(dz2, axis=0, out=grads[3])
            dz1 = dz2 @ W2.T  # (m,H)
            dz1 *= z1 > 0
            np.matmul(xb.T, dz1, out=grads[0])
            np.sum(dz1, axis=0, out=grads[1])
            update_start = time.perf_counter()
            for w, g, v, (tmp, increment) in zip(weights, grads, velocities, work):
                v *= rho  # v = rho * v + (1 - rho) * g**2
                np.multiply(g, g, out=tmp)
                tmp *= one_minus_rho
                v += tmp
                np.add(v, epsilon, out=tmp)  # w -= lr * g / sqrt(v + epsilon)
                np.sqrt(tmp, out=tmp)
                np.multiply(g, lr, out=increment)
                increment /= tmp
                w -= increment
            update_seconds += time.perf_counter() - update_start
        seconds = time.perf_counter() - start
    return seconds, update_seconds


# -- the measurements -----------------------------------------------------------------------------
def measure_fit(x, y, epochs):
    """The seed recipe: seconds per epoch for minidl, Keras, a plain NumPy loop and the floor.

    The four take turns, one epoch each per round, so that a change in the machine's load
    hits all of them rather than whichever happened to run then.
    """
    import keras

    from reference.twins import keras_twin

    minidl.utils.set_random_seed(0)
    keras.utils.set_random_seed(0)
    md_model = minidl_seed_model()
    k_model = keras_twin(md_model)  # same starting weights
    fit = dict(batch_size=BATCH_SIZE, epochs=1, verbose=0, shuffle=True)
    md_clock, k_clock, floor = MinidlEpochClock(), keras_epoch_clock(), []
    plain, plain_update = [], []
    plain_weights = [w.copy() for w in md_model.get_weights()]
    k_model.fit(x, y, callbacks=[k_clock], **fit)  # warm-up: Keras traces its train step
    for _ in range(epochs):
        floor.append(blas_floor_epoch(x))
        md_model.fit(x, y, callbacks=[md_clock], **fit)
        k_model.fit(x, y, callbacks=[k_clock], **fit)
        seconds, update_seconds = plain_numpy_epoch(x, y, plain_weights,
                                                    order=np.random.permutation(len(x)))
        plain.append(seconds)
        plain_update.append(update_seconds)
    md_epoch = float(np.median(md_clock.seconds))
    k_epoch = float(np.median(k_clock.seconds[1:]))
    plain_epoch = float(np.median(plain))
    floor_epoch = min(floor)
    return {
        "rows": len(x), "epochs": epochs, "batch_size": BATCH_SIZE,
        "minidl_epoch_seconds": md_clock.seconds,
        "minidl_seconds_per_epoch": md_epoch,
        "keras_first_epoch_seconds": k_clock.seconds[0],
        "keras_epoch_seconds": k_clock.seconds[1:],
        "keras_seconds_per_epoch": k_epoch,
        "floor_epoch_seconds": floor,
        "floor_seconds_per_epoch": floor_epoch,
        "plain_numpy_epoch_seconds": plain,
        "plain_numpy_seconds_per_epoch": plain_epoch,
        "plain_numpy_update_seconds_per_epoch": float(np.median(plain_update)),
        "ratio_minidl_keras": md_epoch / k_epoch,
        "ratio_minidl_floor": md_epoch / floor_epoch,
        "ratio_keras_floor": k_epoch / floor_epoch,
        "ratio_minidl_plain_numpy": md_epoch / plain_epoch,
        "ratio_plain_numpy_floor": plain_epoch / floor_epoch,
    }


def measure_e1(epochs, repeats=1):
    """The lab's E1 whole fit (validation_split=0.2), both frameworks, from the same weights.

    Each round builds fresh models (so Keras traces again, as a learner's first fit does) and
    the two frameworks take turns; the figures are medians over the rounds.
    """
    from reference.twins import keras_twin

    x, y = synthetic.sum_greater_than_one(1000, seed=42)
    x, y = x[:E1_ROWS], y[:E1_ROWS]  # the lab's 80% training split has 800 rows
    fit = dict(epochs=epochs, batch_size=E1_BATCH_SIZE, validation_split=0.2, verbose=0)
    md, k, k_warm = [], [], []
    for _ in range(repeats):
        md_model = minidl_e1_model()
        k_model = keras_twin(md_model)
        md.append(timed(md_model.fit, x, y, **fit)[0])
        k.append(timed(k_model.fit, x, y, **fit)[0])  # includes tracing, as a learner sees it
        k_warm.append(timed(k_model.fit, x, y, **fit)[0])  # a second fit reuses the trace
    md_seconds, k_seconds = float(np.median(md)), float(np.median(k))
    return {"rows": E1_ROWS, "epochs": epochs, "repeats": repeats,
            "minidl_fit_seconds": md_seconds, "keras_fit_seconds": k_seconds,
            "keras_second_fit_seconds": float(np.median(k_warm)),
            "minidl_fit_seconds_each": md, "keras_fit_seconds_each": k,
            "ratio_minidl_keras": md_seconds / k_seconds}


def measure_inference(x_test, y_test, repeats):
    """evaluate and predict on the test rows (default batch 32): medians of interleaved calls."""
    from reference.twins import keras_twin

    md_model = minidl_seed_model()
    k_model = keras_twin(md_model)
    results = {"rows": len(x_test), "repeats": repeats}
    for method, args in (("evaluate", (x_test, y_test)), ("predict", (x_test,))):
        getattr(k_model, method)(*(a[:256] for a in args), verbose=0)  # Keras traces here
        seconds = {"minidl": [], "keras": []}
        for _ in range(repeats):
            for name, model in (("minidl", md_model), ("keras", k_model)):
                seconds[name].append(timed(getattr(model, method), *args, verbose=0)[0])
        md, k = float(np.median(seconds["minidl"])), float(np.median(seconds["keras"]))
        results[f"{method}_minidl_seconds"] = md
        results[f"{method}_keras_seconds"] = k
        results[f"{method}_ratio_minidl_keras"] = md / k
    return results


def memory_worker(framework, rows, epochs):
    """Child process: train the seed recipe and report this process's memory as JSON."""
    (x, y), _ = load_fashion_mnist(rows)
    if framework == "minidl":
        minidl.utils.set_random_seed(0)
        model, clock = minidl_seed_model(), MinidlEpochClock()
    else:
        import keras

        keras.utils.set_random_seed(0)
        model, clock = keras_seed_model(), keras_epoch_clock()
    baseline = status_mb("VmRSS")  # data loaded, framework imported, model built
    reset = reset_peak_rss()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, shuffle=True,
              callbacks=[clock])
    peak = status_mb("VmHWM")
    return {
        "framework": framework, "epochs": epochs, "rows": len(x),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,  # since the reset: the peak while training
        "peak_reset_before_fit": reset,
        "training_peak_increase_mb": peak - baseline,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_epoch_mb": clock.rss_mb,
        "rss_growth_mb": clock.rss_mb[-1] - clock.rss_mb[0],
    }


def measure_memory(framework, rows, epochs, blas_threads=None):
    """Run `memory_worker` in a fresh Python process and read its JSON line."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "reference.bench", "--worker", framework,
               "--rows", str(rows), "--epochs", str(epochs)]
    if blas_threads:
        command += ["--blas-threads", str(blas_threads)]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The {framework} memory worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_sweep(x, y, floor_repeats):
    """minidl seconds per epoch against the floor, over hidden width and batch size."""
    rows = []
    for hidden in SWEEP_WIDTHS:
        for batch_size in SWEEP_BATCH_SIZES:
            minidl.utils.set_random_seed(0)
            model, clock = minidl_seed_model(hidden), MinidlEpochClock()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[clock])
            seconds = clock.seconds[0]
            floor = blas_floor_epoch(x, hidden, CLASSES, batch_size, repeats=floor_repeats)
            rows.append({"hidden": hidden, "batch_size": batch_size,
                         "minidl_seconds_per_epoch": seconds, "floor_seconds_per_epoch": floor,
                         "ratio_minidl_floor": seconds / floor})
    return rows


# -- the report -----------------------------------------------------------------------------------
def format_report(results):
    """The printed summary: ratios first, then the seconds and megabytes behind them."""
    fit, e1, inf, mem = (results[k] for k in ("fit", "e1", "inference", "memory"))
    md_mem, k_mem = mem["minidl"], mem["keras"]
    e1_label = f"E1 whole fit, {e1['epochs']} epochs, s"
    rows_label = f"{inf['rows']:,} rows, s"
    lines = [
        f"minidl vs Keras, seed recipe 784-{HIDDEN}-{CLASSES} rmsprop, batch {BATCH_SIZE}, "
        f"{fit['rows']:,} rows",
        "",
    ]
    ratios = [  # (label, value, the target for it or None)
        ("minidl / Keras      fit, s per epoch", fit["ratio_minidl_keras"], TARGETS["fit"]),
        ("minidl / BLAS floor fit, s per epoch", fit["ratio_minidl_floor"], TARGETS["floor"]),
        ("Keras  / BLAS floor fit, s per epoch", fit["ratio_keras_floor"], None),
        ("minidl / plain NumPy loop, s per epoch", fit["ratio_minidl_plain_numpy"], None),
        ("plain NumPy loop / BLAS floor", fit["ratio_plain_numpy_floor"], None),
        ("minidl / Keras      E1 whole fit", e1["ratio_minidl_keras"], TARGETS["e1"]),
        ("minidl / Keras      E1 second fit (traced)",
         e1["minidl_fit_seconds"] / e1["keras_second_fit_seconds"], None),
        ("minidl / Keras      evaluate", inf["evaluate_ratio_minidl_keras"],
         TARGETS["inference"]),
        ("minidl / Keras      predict", inf["predict_ratio_minidl_keras"], TARGETS["inference"]),
        ("minidl / Keras      peak RSS while training",
         md_mem["peak_rss_mb"] / k_mem["peak_rss_mb"], TARGETS["memory"]),
    ]
    lines.append(f"{'ratio (lower is better for minidl)':<44}{'value':>8}{'target':>9}  met")
    for label, value, target in ratios:
        verdict = "" if target is None else f"{target:>9.3g}  {'yes' if value <= target else 'no'}"
        lines.append(f"{label:<44}{value:>8.3f}{verdict}")
    lines += [
        "",
        f"{'measurement':<40}{'minidl':>10}{'Keras':>10}{'floor':>10}",
        f"{'fit, s per epoch (median)':<40}{fit['minidl_seconds_per_epoch']:>10.3f}"
        f"{fit['keras_seconds_per_epoch']:>10.3f}{fit['floor_seconds_per_epoch']:>10.3f}",
        f"{'fit, first epoch (Keras traces)':<40}{'':>10}{fit['keras_first_epoch_seconds']:>10.3f}",
        f"{'plain NumPy loop, s per epoch (median)':<40}{fit['plain_numpy_seconds_per_epoch']:>10.3f}",
        f"{'  of which the RMSprop update':<40}"
        f"{fit['plain_numpy_update_seconds_per_epoch']:>10.3f}",
        f"{e1_label:<40}"
        f"{e1['minidl_fit_seconds']:>10.3f}{e1['keras_fit_seconds']:>10.3f}",
        f"{'E1 second fit (already traced), s':<40}{'':>10}{e1['keras_second_fit_seconds']:>10.3f}",
        f"{'evaluate ' + rows_label:<40}"
        f"{inf['evaluate_minidl_seconds']:>10.3f}{inf['evaluate_keras_seconds']:>10.3f}",
        f"{'predict ' + rows_label:<40}"
        f"{inf['predict_minidl_seconds']:>10.3f}{inf['predict_keras_seconds']:>10.3f}",
        f"{'peak RSS while training, MiB':<40}{md_mem['peak_rss_mb']:>10.0f}"
        f"{k_mem['peak_rss_mb']:>10.0f}",
        f"{'RSS before fit, MiB':<40}{md_mem['baseline_rss_mb']:>10.0f}"
        f"{k_mem['baseline_rss_mb']:>10.0f}",
        f"{'peak increase while training, MiB':<40}{md_mem['training_peak_increase_mb']:>10.0f}"
        f"{k_mem['training_peak_increase_mb']:>10.0f}",
        f"{'RSS growth, first to last epoch, MiB':<40}{md_mem['rss_growth_mb']:>10.1f}"
        f"{k_mem['rss_growth_mb']:>10.1f}",
        "RSS after each epoch, MiB: minidl "
        + ", ".join(f"{v:.0f}" for v in md_mem["rss_after_epoch_mb"])
        + "; Keras " + ", ".join(f"{v:.0f}" for v in k_mem["rss_after_epoch_mb"]),
    ]
    if results.get("sweep"):
        lines += ["", "sweep: minidl fit, 1 epoch, against the floor",
                  f"{'hidden':>8}{'batch':>8}{'minidl s':>12}{'floor s':>12}{'ratio':>8}"]
        for row in results["sweep"]:
            lines.append(f"{row['hidden']:>8}{row['batch_size']:>8}"
                         f"{row['minidl_seconds_per_epoch']:>12.3f}"
                         f"{row['floor_seconds_per_epoch']:>12.3f}"
                         f"{row['ratio_minidl_floor']:>8.2f}")
    m = results["machine"]
    lines += [
        "",
        f"machine: {m['cpu']}; {m['cores']} cores ({m['usable_cores']} usable); "
        f"Python {m['python']}; NumPy {m['numpy']}; BLAS {m['blas']}; "
        f"BLAS thread cap: {m.get('blas_threads')}; "
        f"TensorFlow {m.get('tensorflow')}; Keras {m.get('keras')}",
        "fit: medians of the timed epochs, the floor the best of its epochs, all four taking "
        "turns; Keras's first epoch is not in its median. E1: medians of "
        f"{results['settings']['repeats']} rounds taking turns. evaluate/predict: medians of "
        f"{results['settings']['repeats']} interleaved calls after a warm-up.",
        NOTE,
    ]
    return "\n".join(lines)


# -- the command line ----------------------------------------------------------------------------
def run(args):
    """Every measurement the arguments ask for, as one dict (what --json writes)."""
    info = machine_info()  # before TensorFlow loads BLAS libraries of its own

    import keras
    import tensorflow as tf

    info.update(tensorflow=tf.__version__, keras=keras.__version__,
                blas_threads=args.blas_threads or "default")
    settings = {"rows": args.rows, "epochs": args.epochs, "e1_epochs": args.e1_epochs,
                "eval_rows": args.eval_rows, "repeats": args.repeats,
                "quick": args.quick, "sweep": args.sweep}
    (x, y), (x_test, y_test) = load_fashion_mnist(args.rows)
    results = {"machine": info, "settings": settings, "note": NOTE}
    results["fit"] = measure_fit(x, y, args.epochs)
    results["e1"] = measure_e1(args.e1_epochs, args.repeats)
    results["inference"] = measure_inference(x_test[:args.eval_rows], y_test[:args.eval_rows],
                                             args.repeats)
    results["memory"] = {framework: measure_memory(framework, len(x), args.memory_epochs,
                                                   args.blas_threads)
                         for framework in ("minidl", "keras")}
    results["sweep"] = measure_sweep(x, y, args.repeats) if args.sweep else []
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m reference.bench",
        description="Time and measure minidl against Keras and the float32 BLAS floor.")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs of the seed recipe (default 3; Keras adds a warm-up)")
    parser.add_argument("--rows", type=int, default=None,
                        help="training rows of Fashion-MNIST to use (default all 60,000)")
    parser.add_argument("--json", metavar="PATH", help="write every figure to this JSON file")
    parser.add_argument("--sweep", action="store_true",
                        help="also time hidden width x batch size against the floor")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 1,024 rows, 1 epoch, short E1, small evaluate")
    parser.add_argument("--blas-threads", type=int, default=None, metavar="N",
                        help="cap NumPy's BLAS threads (minidl and the floor; not TensorFlow)")
    parser.add_argument("--worker", choices=("minidl", "keras"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("epochs", "rows", "blas_threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"argument --{name.replace('_', '-')}: expected a positive integer. "
                         f"Received: {value}")
    quick = args.quick
    args.rows = args.rows or (1024 if quick else None)
    args.epochs = args.epochs or (1 if quick else 3)
    args.e1_epochs = 2 if quick else E1_EPOCHS
    args.eval_rows = 1024 if quick else EVAL_ROWS
    args.repeats = 1 if quick else 3  # of evaluate/predict, and of the floor in the sweep
    args.memory_epochs = max(args.epochs, 2)  # at least two epochs to see any growth
    return args


def main(argv=None):
    args = parse_args(argv)
    limits = limit_blas_threads(args.blas_threads) if args.blas_threads else None
    try:
        if args.worker:
            print(json.dumps(memory_worker(args.worker, args.rows, args.epochs)))
            return None
        results = run(args)
        print(format_report(results))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
        return results
    finally:
        if limits is not None:
            limits.restore_original_limits()


if __name__ == "__main__":
    main()
