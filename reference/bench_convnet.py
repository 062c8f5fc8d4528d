"""How fast and how big is minidl's convnet next to Keras's, and next to its bare products?

    python -m reference.bench_convnet                   10,000 Fashion-MNIST rows, 2 timed epochs
    python -m reference.bench_convnet --rows 2000       fewer rows (the figures are per 10,000)
    python -m reference.bench_convnet --quick           a smoke test: 1,024 rows, 1 epoch
    python -m reference.bench_convnet --json out.json   write every figure
    python -m reference.bench_convnet --blas-threads 1  cap NumPy's BLAS threads

The classic convnet: Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu) ->
MaxPooling2D(2) -> Conv2D(128, 3, relu) -> Flatten -> Dense(10, softmax), rmsprop, sparse
categorical cross-entropy, batch 64, on 28x28 Fashion-MNIST images. Measured:
- fit seconds per 10,000 rows in minidl and in Keras (the same starting weights; Keras's first
  epoch, which traces its training step into a graph, is a warm-up and not counted; the two
  take turns epoch by epoch, so that a change in the machine's load hits both);
- inside minidl's fit, the time of its three Conv2D layers (forward and backward: im2col, the
  products, col2im) against the float32 BLAS floor: the same products, of the same shapes,
  on arrays allocated once, and nothing else;
- peak memory (RSS) while training, each framework in a fresh process of its own.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

import minidl
from reference.bench import (keras_epoch_clock, limit_blas_threads, machine_info,
                             MinidlEpochClock, reset_peak_rss, status_mb)

BATCH_SIZE, PER_ROWS = 64, 10_000
# The convnet issue's targets: at most this much of the other's time or memory.
TARGETS = {"fit": 0.8, "memory": 1.0, "products": 2.0}
NOTE = ("Absolute seconds on a shared machine are noisy; the ratios measured in one run "
        "are what count.")


# -- data and models -----------------------------------------------------------------------------
def load_images(rows):
    """The first `rows` Fashion-MNIST training images as (N, 28, 28, 1) float32 in [0, 1]."""
    (x, y), _ = minidl.datasets.fashion_mnist.load_data()
    x = x[:rows, :, :, None].astype(np.float32) / np.float32(255)  # (N,28,28,1)
    return x, y[:rows].astype(np.int64)


def minidl_convnet():
    """The classic convnet in minidl, compiled as in the lesson."""
    layers = minidl.layers
    model = minidl.Sequential([
        minidl.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation="relu"), layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def keras_convnet():
    """Its Keras twin (same layers, names, compile settings and weights)."""
    from reference.twins import keras_twin

    return keras_twin(minidl_convnet())


# -- the convolution layers' time inside fit, and their floor ----------------------------------
class LayerClock:
    """Adds up the seconds one layer spends in forward and backward while it is installed."""

    def __init__(self, layer):
        self.layer, self.seconds, self._depth = layer, 0.0, 0
        self.names = [name for name in ("forward", "backward", "backward_from_logits")
                      if hasattr(layer, name)]
        for name in self.names:
            setattr(layer, name, self._timed(getattr(layer, name)))

    def _timed(self, method):
        def timed(*args, **kwargs):
            self._depth += 1  # backward calls backward_from_logits: count the outer call only
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start
        return timed

    def remove(self):
        for name in self.names:
            del self.layer.__dict__[name]


def conv_product_shapes(model, batch_size=BATCH_SIZE):
    """[(M, K, F, need_dx)] of every Conv2D: its products are (M,K)@(K,F) forward, then
    (K,M)@(M,F) for dW and, unless it is the first layer, (M,F)@(F,K) for dx."""
    shapes = []
    for index, layer in enumerate(model.layers):
        if isinstance(layer, minidl.layers.Conv2D):
            _, ho, wo, f = layer.output_shape
            k = int(np.prod(layer.kernel.shape[:-1]))
            shapes.append((batch_size * ho * wo, k, f, index > 0))
    return shapes


def blas_floor_seconds(shapes, rows, batch_size=BATCH_SIZE, repeats=3):
    """Seconds for one epoch of `rows` rows of the convolution products alone, best of repeats."""
    rng = np.random.default_rng(0)
    arrays = []
    for m, k, f, need_dx in shapes:
        cols = rng.standard_normal((m, k), np.float32)  # (M,K)
        W = rng.standard_normal((k, f), np.float32)  # (K,F)
        dz = rng.standard_normal((m, f), np.float32)  # (M,F)
        arrays.append((cols, W, dz, np.empty((m, f), np.float32), np.empty((k, f), np.float32),
                       np.empty((m, k), np.float32) if need_dx else None))
    full, last = divmod(rows, batch_size)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for step in range(full + (last > 0)):
            share = 1.0 if step < full else last / batch_size
            for cols, W, dz, z, dW, dcols in arrays:
                m = max(1, int(len(cols) * share))  # a short last batch has fewer rows
                np.matmul(cols[:m], W, out=z[:m])  # (M,K)@(K,F) -> (M,F)
                np.matmul(cols[:m].T, dz[:m], out=dW)  # (K,M)@(M,F) -> (K,F)
                if dcols is not None:
                    np.matmul(dz[:m], W.T, out=dcols[:m])  # (M,F)@(F,K) -> (M,K)
        best = min(best, time.perf_counter() - start)
    return best


# -- the measurements ---------------------------------------------------------------------------
def measure_fit(x, y, epochs):
    """Seconds per epoch of both frameworks, taking turns, and minidl's Conv2D layers' share."""
    from reference.twins import keras_twin

    minidl.utils.set_random_seed(0)
    md_model = minidl_convnet()
    k_model = keras_twin(md_model)
    fit = dict(batch_size=BATCH_SIZE, epochs=1, verbose=0, shuffle=True)
    md_clock, k_clock = MinidlEpochClock(), keras_epoch_clock()
    k_model.fit(x, y, callbacks=[k_clock], **fit)  # warm-up: Keras traces its train step
    convs = [layer for layer in md_model.layers if isinstance(layer, minidl.layers.Conv2D)]
    conv_seconds, floor = [], []
    for _ in range(epochs):
        clocks = [LayerClock(layer) for layer in convs]
        md_model.fit(x, y, callbacks=[md_clock], **fit)
        conv_seconds.append([clock.seconds for clock in clocks])
        for clock in clocks:
            clock.remove()
        k_model.fit(x, y, callbacks=[k_clock], **fit)
        floor.append(blas_floor_seconds(conv_product_shapes(md_model), len(x), repeats=1))
    md_epoch = float(np.median(md_clock.seconds))
    k_epoch = float(np.median(k_clock.seconds[1:]))
    conv_epoch = float(np.median([sum(s) for s in conv_seconds]))
    floor_epoch = min(floor)
    scale = PER_ROWS / len(x)
    return {
        "rows": len(x), "epochs": epochs, "batch_size": BATCH_SIZE,
        "minidl_epoch_seconds": md_clock.seconds,
        "keras_first_epoch_seconds": k_clock.seconds[0],
        "keras_epoch_seconds": k_clock.seconds[1:],
        "minidl_seconds_per_10k": md_epoch * scale, "keras_seconds_per_10k": k_epoch * scale,
        "conv_layers_seconds_per_epoch": conv_seconds,
        "conv_layers_seconds_per_10k": conv_epoch * scale,
        "conv_floor_seconds_per_10k": floor_epoch * scale,
        "conv_product_shapes": conv_product_shapes(md_model),
        "ratio_minidl_keras": md_epoch / k_epoch,
        "ratio_conv_layers_floor": conv_epoch / floor_epoch,
        "conv_share_of_minidl_fit": conv_epoch / md_epoch,
    }


def memory_worker(framework, rows, epochs):
    """Child process: train the convnet and report this process's memory as JSON."""
    x, y = load_images(rows)
    if framework == "minidl":
        minidl.utils.set_random_seed(0)
        model, clock = minidl_convnet(), MinidlEpochClock()
    else:
        model, clock = keras_convnet(), keras_epoch_clock()
    baseline = status_mb("VmRSS")  # data loaded, framework imported, model built
    reset = reset_peak_rss()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, callbacks=[clock])
    peak = status_mb("VmHWM")
    return {"framework": framework, "rows": rows, "epochs": epochs,
            "baseline_rss_mb": baseline, "peak_rss_mb": peak, "peak_reset_before_fit": reset,
            "training_peak_increase_mb": peak - baseline,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_after_epoch_mb": clock.rss_mb}


def measure_memory(framework, rows, epochs, blas_threads=None):
    """Run `memory_worker` in a fresh Python process and read its JSON line."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "reference.bench_convnet", "--worker", framework,
               "--rows", str(rows), "--epochs", str(epochs)]
    if blas_threads:
        command += ["--blas-threads", str(blas_threads)]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The {framework} memory worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args):
    """Every measurement, as one dict (what --json writes)."""
    info = machine_info()  # before TensorFlow loads BLAS libraries of its own

    import keras
    import tensorflow as tf

    info.update(tensorflow=tf.__version__, keras=keras.__version__,
                blas_threads=args.blas_threads or "default")
    x, y = load_images(args.rows)
    results = {"machine": info, "note": NOTE,
               "settings": {"rows": args.rows, "epochs": args.epochs, "quick": args.quick}}
    results["fit"] = measure_fit(x, y, args.epochs)
    results["memory"] = {framework: measure_memory(framework, args.rows, 1, args.blas_threads)
                         for framework in ("minidl", "keras")}
    return results


# -- the report -----------------------------------------------------------------------------------
def format_report(results):
    """Ratios first, against their targets, then the seconds and megabytes behind them."""
    fit, mem = results["fit"], results["memory"]
    md_mem, k_mem = mem["minidl"], mem["keras"]
    memory_ratio = md_mem["peak_rss_mb"] / k_mem["peak_rss_mb"]
    lines = [f"The classic convnet, minidl vs Keras: rmsprop, batch {BATCH_SIZE}, "
             f"{fit['rows']:,} Fashion-MNIST rows, {fit['epochs']} timed epochs", "",
             f"{'ratio (lower is better for minidl)':<48}{'value':>8}{'target':>9}  met"]
    for label, value, target in (
            ("minidl / Keras, fit seconds", fit["ratio_minidl_keras"], TARGETS["fit"]),
            ("minidl / Keras, peak RSS while training", memory_ratio, TARGETS["memory"]),
            ("minidl's Conv2D layers / their BLAS floor", fit["ratio_conv_layers_floor"],
             TARGETS["products"])):
        met = "yes" if value <= target else "no"
        lines.append(f"{label:<48}{value:>8.3f}{target:>9.3g}  {met}")
    lines += [
        "",
        f"{'per 10,000 rows':<48}{'seconds':>8}",
        f"{'minidl fit (median epoch)':<48}{fit['minidl_seconds_per_10k']:>8.2f}",
        f"{'Keras fit (median epoch, after its warm-up)':<48}{fit['keras_seconds_per_10k']:>8.2f}",
        f"{'  of minidl fit: the three Conv2D layers':<48}"
        f"{fit['conv_layers_seconds_per_10k']:>8.2f}"
        f"  ({fit['conv_share_of_minidl_fit']:.0%} of it)",
        f"{'  their products alone (the BLAS floor)':<48}{fit['conv_floor_seconds_per_10k']:>8.2f}",
        "Conv2D products per batch, (M,K)@(K,F): " + "; ".join(
            f"M={m} K={k} F={f}{'' if dx else ' (no dx: first layer)'}"
            for m, k, f, dx in fit["conv_product_shapes"]),
        "",
        f"{'peak RSS while training, MiB':<48}{'minidl':>8}{'Keras':>9}",
        f"{'  peak':<48}{md_mem['peak_rss_mb']:>8.0f}{k_mem['peak_rss_mb']:>9.0f}",
        f"{'  before fit (framework, data, model)':<48}{md_mem['baseline_rss_mb']:>8.0f}"
        f"{k_mem['baseline_rss_mb']:>9.0f}",
        f"{'  increase while training':<48}{md_mem['training_peak_increase_mb']:>8.0f}"
        f"{k_mem['training_peak_increase_mb']:>9.0f}",
    ]
    m = results["machine"]
    lines += ["", f"machine: {m['cpu']}; {m['cores']} cores ({m['usable_cores']} usable); "
                  f"Python {m['python']}; NumPy {m['numpy']}; BLAS {m['blas']}; "
                  f"BLAS thread cap: {m.get('blas_threads')}; TensorFlow {m.get('tensorflow')}; "
                  f"Keras {m.get('keras')}", NOTE]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m reference.bench_convnet",
        description="Time and measure minidl's convnet against Keras and the BLAS floor.")
    parser.add_argument("--rows", type=int, default=None,
                        help="Fashion-MNIST training rows (default 10,000)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs of each framework (default 2; Keras adds a warm-up)")
    parser.add_argument("--json", metavar="PATH", help="write every figure to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 1,024 rows, 1 epoch")
    parser.add_argument("--blas-threads", type=int, default=None, metavar="N",
                        help="cap NumPy's BLAS threads (minidl and the floor; not TensorFlow)")
    parser.add_argument("--worker", choices=("minidl", "keras"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("epochs", "rows", "blas_threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"argument --{name.replace('_', '-')}: expected a positive integer. "
                         f"Received: {value}")
    args.rows = args.rows or (1024 if args.quick else PER_ROWS)
    args.epochs = args.epochs or (1 if args.quick else 2)
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
