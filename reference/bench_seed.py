"""The seed recipe's measurements for `python -m reference.bench` (which runs and reports them).

The seed recipe is the lab's Fashion-MNIST network: 784-512-10 (relu, softmax), rmsprop,
sparse categorical cross-entropy, accuracy, batch 64. Measured in one process:
- seconds per epoch of `fit` for minidl and for Keras (after one warm-up epoch, so that
  TensorFlow's tracing is not counted; the first epoch is reported on its own);
- the float32 BLAS floor: the same epoch's five matrix products and nothing else, with
  whichever BLAS threading is faster for them at the time (one thread, or BLAS's own);
- a plain NumPy loop doing the same arithmetic as minidl with no framework around it, and
  the same threading (minidl.threads): what NumPy itself can do here, bit-exactly;
- the lab's E1 (2-64-1, adam, 800 rows, 30 epochs) whole-fit time;
- evaluate and predict on 10,000 rows.
Peak memory is measured in child processes, one per framework, so that neither counts the
other's (TensorFlow alone is several hundred MB).
"""
import time

import numpy as np

import minidl
from minidl import denormals, threads
from minidl.datasets import synthetic
from reference.bench_tools import (blas_threads, fashion_mnist_arrays, keras_epoch_clock,
                                   memory_figures, MinidlEpochClock, settle, timed)

HIDDEN, CLASSES, BATCH_SIZE = 512, 10, 64
E1_ROWS, E1_BATCH_SIZE, E1_EPOCHS = 800, 32, 30
EVAL_ROWS = 10_000
SWEEP_WIDTHS = (128, 512, 2048)
SWEEP_BATCH_SIZES = (32, 64, 256, 1024)


def load_fashion_mnist(rows=None):
    """Fashion-MNIST as float32 (N, 784) in [0, 1] and integer labels; `rows` keeps the first."""
    (x, y), (x_test, y_test) = fashion_mnist_arrays()
    x = (x[:rows].reshape(-1, 784) / np.float32(255)).astype(np.float32)  # (N,784)
    x_test = (x_test.reshape(-1, 784) / np.float32(255)).astype(np.float32)  # (10000,784)
    return (x, y[:rows].astype(np.int64)), (x_test, y_test.astype(np.int64))


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


# -- the floor and the plain loop ----------------------------------------------------------------
def best_threading(run, steps, sample=48):
    """(seconds for `run(steps)`, BLAS threads used): the faster of one thread and BLAS's own.

    Each threading is tried on `sample` steps first (BLAS's own threads can be ten times
    slower on a loaded machine); the whole run uses the faster one.
    """
    trial = min(steps, sample)
    tried = {}
    for n in (1, None):
        with blas_threads(n):
            run(trial)  # warm-up
            tried[n] = timed(run, trial)[0]
    best = min(tried, key=tried.get)
    with blas_threads(best):
        return timed(run, steps)[0], best or "BLAS's own"


def blas_floor_epoch(x, hidden=HIDDEN, classes=CLASSES, batch_size=BATCH_SIZE):
    """(seconds, threading) for one epoch of the MLP's matrix products alone, float32.

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

    def run(steps):
        for first in range(0, min(n, steps * batch_size), batch_size):
            xb = x[first:first + batch_size]  # (m,D), a view
            m = len(xb)
            np.matmul(xb, W1, out=h[:m])  # (m,D)@(D,H) -> (m,H)
            np.matmul(h[:m], W2, out=z[:m])  # (m,H)@(H,C) -> (m,C)
            np.matmul(h[:m].T, dz[:m], out=dW2)  # (H,m)@(m,C) -> (H,C)
            np.matmul(dz[:m], W2.T, out=dh[:m])  # (m,C)@(C,H) -> (m,H)
            np.matmul(xb.T, dh[:m], out=dW1)  # (D,m)@(m,H) -> (D,H)

    return best_threading(run, -(-n // batch_size))


def rmsprop_in_place(g, w, v, tmp, increment, rho, one_minus_rho, epsilon, lr):
    """Keras's RMSprop on flat arrays, in place: nine element-wise passes (plain_numpy_epoch)."""
    v *= rho  # v = rho * v + (1 - rho) * g**2
    np.multiply(g, g, out=tmp)
    tmp *= one_minus_rho
    v += tmp
    np.add(v, epsilon, out=tmp)  # w -= lr * g / sqrt(v + epsilon)
    np.sqrt(tmp, out=tmp)
    np.multiply(g, lr, out=increment)
    increment /= tmp
    w -= increment


def plain_numpy_epoch(x, y, weights, batch_size=BATCH_SIZE, order=None, rho=0.9, lr=1e-3,
                      epsilon=1e-7):
    """One epoch of the seed recipe as a bare NumPy loop: no framework, the same work as minidl.

    What a careful hand-written loop does per batch: gather the rows, forward (two products,
    bias, relu, softmax), the fused cross-entropy gradient (p - onehot) / N, backward (three
    products, bias sums, the relu mask), and RMSprop in place on buffers allocated once, with
    the nine element-wise passes per variable that Keras's arithmetic takes. No metrics, no
    callbacks, no checks. `weights` ([W1, b1, W2, b2], float32) are updated in place.
    It runs as minidl's fit does: denormals flushed, and minidl's threading (BLAS on one
    thread; the big products and updates shared with minidl's helper thread when a core is
    free; minidl/threads.py), so that both do the same arithmetic on the same threads.

    Returns (seconds, seconds spent in the RMSprop update).
    """
    W1, b1, W2, b2 = weights
    f32 = np.float32
    constants = f32(rho), f32(1 - rho), f32(epsilon), f32(lr)
    flat = [w.reshape(-1) for w in weights]  # views: the update works on flat arrays
    velocities = [np.zeros_like(w) for w in flat]
    grads = [np.empty_like(w) for w in weights]
    work = [(np.empty_like(w), np.empty_like(w)) for w in flat]
    order = np.arange(len(x)) if order is None else order
    update_seconds = 0.0
    with threads.working(), denormals.flushed():
        start = time.perf_counter()
        for first in range(0, len(x), batch_size):
            rows = order[first:first + batch_size]
            xb, yb = x[rows], y[rows]  # (m,D), (m,)
            m = len(xb)
            z1 = threads.matmul(xb, W1)  # (m,H)
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
            threads.matmul(xb.T, dz1, out=grads[0])  # (D,m)@(m,H) -> (D,H)
            np.sum(dz1, axis=0, out=grads[1])
            update_start = time.perf_counter()
            for w, g, v, (tmp, increment) in zip(flat, grads, velocities, work):
                threads.elementwise(rmsprop_in_place, g.reshape(-1), w, v, tmp, increment,
                                    *constants)
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
    md_clock, k_clock, floor, floor_threads = MinidlEpochClock(), keras_epoch_clock(), [], []
    plain, plain_update = [], []
    plain_weights = [w.copy() for w in md_model.get_weights()]
    k_model.fit(x, y, callbacks=[k_clock], **fit)  # warm-up: Keras traces its train step
    for _ in range(epochs):
        seconds, threading = blas_floor_epoch(x)
        floor.append(seconds)
        floor_threads.append(threading)
        settle()
        md_model.fit(x, y, callbacks=[md_clock], **fit)
        settle()
        k_model.fit(x, y, callbacks=[k_clock], **fit)
        settle()
        seconds, update_seconds = plain_numpy_epoch(x, y, plain_weights,
                                                    order=np.random.permutation(len(x)))
        plain.append(seconds)
        plain_update.append(update_seconds)
        settle()
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
        "floor_blas_threads": floor_threads,
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


def measure_sweep(x, y):
    """minidl seconds per epoch against the floor, over hidden width and batch size."""
    rows = []
    for hidden in SWEEP_WIDTHS:
        for batch_size in SWEEP_BATCH_SIZES:
            minidl.utils.set_random_seed(0)
            model, clock = minidl_seed_model(hidden), MinidlEpochClock()
            model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[clock])
            seconds = clock.seconds[0]
            floor, _ = blas_floor_epoch(x, hidden, CLASSES, batch_size)
            rows.append({"hidden": hidden, "batch_size": batch_size,
                         "minidl_seconds_per_epoch": seconds, "floor_seconds_per_epoch": floor,
                         "ratio_minidl_floor": seconds / floor})
    return rows


def memory_worker(framework, rows, epochs):
    """In a child process: train the seed recipe and return this process's memory figures."""
    (x, y), _ = load_fashion_mnist(rows)
    if framework == "minidl":
        minidl.utils.set_random_seed(0)
        model, clock = minidl_seed_model(), MinidlEpochClock()
    else:
        import keras

        keras.utils.set_random_seed(0)
        model, clock = keras_seed_model(), keras_epoch_clock()
    figures = memory_figures(model, clock, lambda model, clock: model.fit(
        x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, shuffle=True, callbacks=[clock]))
    return {"framework": framework, "epochs": epochs, "rows": len(x), **figures}
