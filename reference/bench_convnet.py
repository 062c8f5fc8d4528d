"""The classic convnet's measurements for `python -m reference.bench` (`--convnet` alone).

Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu) -> MaxPooling2D(2) ->
Conv2D(128, 3, relu) -> Flatten -> Dense(10, softmax), rmsprop, sparse categorical
cross-entropy, batch 64, on 28x28 Fashion-MNIST images. Measured:
- fit seconds per 10,000 rows in minidl and in Keras (the same starting weights; Keras's first
  epoch, which traces its training step into a graph, is a warm-up and not counted; the two
  take turns epoch by epoch, so that a change in the machine's load hits both);
- inside minidl's fit, the time of its three Conv2D layers (forward and backward: im2col, the
  products, col2im, bias and relu) and of their matrix products alone, against the float32
  BLAS floor: the same products, of the same shapes, on arrays allocated once, and nothing
  else, with whichever BLAS threading is faster for them at the time;
- peak memory (RSS) while training, each framework in a fresh process of its own.

    python -m reference.bench_convnet ...   is   python -m reference.bench --convnet ...
"""
import time

import numpy as np

import minidl
from minidl.layers import convolutional
from reference.bench_seed import best_threading
from reference.bench_tools import (fashion_mnist_arrays, keras_epoch_clock, memory_figures,
                                   MinidlEpochClock, settle)

BATCH_SIZE, PER_ROWS = 64, 10_000


def load_images(rows):
    """The first `rows` Fashion-MNIST training images as (N, 28, 28, 1) float32 in [0, 1]."""
    (x, y), _ = fashion_mnist_arrays()
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


class ProductClock:
    """Adds up the seconds of the convolution layers' matrix products while installed."""

    def __init__(self):
        self.seconds, self._matmul = 0.0, convolutional.matmul
        convolutional.matmul = self._timed

    def _timed(self, a, b):
        start = time.perf_counter()
        try:
            return self._matmul(a, b)
        finally:
            self.seconds += time.perf_counter() - start

    def remove(self):
        convolutional.matmul = self._matmul


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


def blas_floor_seconds(shapes, rows, batch_size=BATCH_SIZE):
    """(seconds, threading) for an epoch of `rows` rows of the convolution products alone."""
    rng = np.random.default_rng(0)
    arrays = []
    for m, k, f, need_dx in shapes:
        cols = rng.standard_normal((m, k), np.float32)  # (M,K)
        W = rng.standard_normal((k, f), np.float32)  # (K,F)
        dz = rng.standard_normal((m, f), np.float32)  # (M,F)
        arrays.append((cols, W, dz, np.empty((m, f), np.float32), np.empty((k, f), np.float32),
                       np.empty((m, k), np.float32) if need_dx else None))
    full, last = divmod(rows, batch_size)

    def run(steps):
        for step in range(steps):
            share = 1.0 if step < full else last / batch_size
            for cols, W, dz, z, dW, dcols in arrays:
                m = max(1, int(len(cols) * share))  # a short last batch has fewer rows
                np.matmul(cols[:m], W, out=z[:m])  # (M,K)@(K,F) -> (M,F)
                np.matmul(cols[:m].T, dz[:m], out=dW)  # (K,M)@(M,F) -> (K,F)
                if dcols is not None:
                    np.matmul(dz[:m], W.T, out=dcols[:m])  # (M,F)@(F,K) -> (M,K)

    return best_threading(run, full + (last > 0), sample=16)


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
    conv_seconds, product_seconds, floor, floor_threads = [], [], [], []
    for _ in range(epochs):
        clocks, products = [LayerClock(layer) for layer in convs], ProductClock()
        md_model.fit(x, y, callbacks=[md_clock], **fit)
        conv_seconds.append([clock.seconds for clock in clocks])
        product_seconds.append(products.seconds)
        for clock in clocks + [products]:
            clock.remove()
        settle()
        k_model.fit(x, y, callbacks=[k_clock], **fit)
        settle()
        seconds, threading = blas_floor_seconds(conv_product_shapes(md_model), len(x))
        floor.append(seconds)
        floor_threads.append(threading)
        settle()
    md_epoch = float(np.median(md_clock.seconds))
    k_epoch = float(np.median(k_clock.seconds[1:]))
    conv_epoch = float(np.median([sum(s) for s in conv_seconds]))
    products_epoch = float(np.median(product_seconds))
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
        "conv_products_seconds_per_10k": products_epoch * scale,
        "conv_floor_seconds_per_10k": floor_epoch * scale,
        "floor_blas_threads": floor_threads,
        "conv_product_shapes": conv_product_shapes(md_model),
        "ratio_minidl_keras": md_epoch / k_epoch,
        "ratio_conv_products_floor": products_epoch / floor_epoch,
        "ratio_conv_layers_floor": conv_epoch / floor_epoch,
        "conv_share_of_minidl_fit": conv_epoch / md_epoch,
    }


def memory_worker(framework, rows, epochs):
    """In a child process: train the convnet and return this process's memory figures."""
    x, y = load_images(rows)
    if framework == "minidl":
        minidl.utils.set_random_seed(0)
        model, clock = minidl_convnet(), MinidlEpochClock()
    else:
        model, clock = keras_convnet(), keras_epoch_clock()
    figures = memory_figures(model, clock, lambda model, clock: model.fit(
        x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0, callbacks=[clock]))
    return {"framework": framework, "rows": rows, "epochs": epochs, **figures}


def main(argv=None):
    """`python -m reference.bench_convnet ...`: the convnet part of `python -m reference.bench`."""
    from reference import bench

    return bench.main(["--convnet"] + list(argv or []))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
