"""The convnet part of the benchmark (`python -m reference.bench --convnet`) runs end to end and
writes every figure; its floor has the layers' product shapes and its clocks count what they
say. No timing is asserted."""
import json
import math
import time

import numpy as np
import pytest

import keras  # noqa: F401  (a missing Keras must fail, not skip)
import minidl
from reference import bench, bench_convnet


def positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    returned = bench.main(["--convnet", "--quick", "--rows", "256", "--load", "0",
                           "--blas-threads", "1", "--json", str(path)])
    with open(path) as f:
        return returned, json.load(f)


def test_quick_run_writes_every_figure(quick_run):
    _, results = quick_run
    fit = results["quiet"]["convnet"]
    assert fit["rows"] == 256 and fit["epochs"] == 1 and fit["batch_size"] == 64
    for key in ("minidl_seconds_per_10k", "keras_seconds_per_10k", "conv_layers_seconds_per_10k",
                "conv_products_seconds_per_10k", "conv_floor_seconds_per_10k",
                "ratio_minidl_keras", "ratio_conv_products_floor", "ratio_conv_layers_floor",
                "conv_share_of_minidl_fit", "keras_first_epoch_seconds"):
        assert positive_finite(fit[key]), key
    assert fit["ratio_minidl_keras"] == pytest.approx(
        fit["minidl_seconds_per_10k"] / fit["keras_seconds_per_10k"])
    assert fit["conv_share_of_minidl_fit"] < 1  # the layers' time is inside the fit's
    assert fit["conv_products_seconds_per_10k"] < fit["conv_layers_seconds_per_10k"]
    assert "fit" not in results["quiet"] and "loaded" not in results  # convnet only, quiet
    for framework in ("minidl", "keras"):
        memory = results["memory"]["convnet"][framework]
        assert memory["framework"] == framework and memory["rows"] == 256
        assert positive_finite(memory["peak_rss_mb"])
    assert results["machine"]["blas_threads"] == 1


def test_the_report_states_each_ratio_against_its_target(quick_run):
    _, results = quick_run
    text = bench.format_report(results)
    for label, target in (("convnet minidl / Keras fit", "0.8"),
                          ("convnet products in fit / BLAS floor", "2"),
                          ("minidl / Keras peak RSS, convnet", "1")):
        line = next(line for line in text.splitlines() if line.startswith(label))
        assert line.split()[-2] == target and line.split()[-1] in ("yes", "no")


def test_the_floor_has_the_layers_product_shapes():
    model = bench_convnet.minidl_convnet()
    assert bench_convnet.conv_product_shapes(model) == [
        (64 * 26 * 26, 3 * 3 * 1, 32, False), (64 * 11 * 11, 3 * 3 * 32, 64, True),
        (64 * 3 * 3, 3 * 3 * 64, 128, True)]
    seconds, threading = bench_convnet.blas_floor_seconds(
        bench_convnet.conv_product_shapes(model, batch_size=4), rows=10, batch_size=4)
    assert positive_finite(seconds) and threading in (1, "BLAS's own")


def test_the_layer_clock_counts_a_backward_once_and_can_be_removed():
    """Conv2D.backward calls backward_from_logits: the clock counts the outer call only."""
    layer = minidl.layers.Conv2D(2, 3, activation="relu")
    x = np.ones((2, 5, 5, 1), np.float32)
    layer(x)  # builds the kernel
    clock = bench_convnet.LayerClock(layer)
    inner = layer.backward_from_logits  # the clock's own wrapper

    def slower(*args, **kwargs):  # 50 ms more inside the backward pass
        time.sleep(0.05)
        return inner(*args, **kwargs)

    layer.backward_from_logits = slower
    _, cache = layer.forward(x)
    layer.backward(np.ones((2, 3, 3, 2), np.float32), cache)
    assert 0.05 <= clock.seconds < 0.095  # once, not twice
    clock.remove()
    assert not {"forward", "backward", "backward_from_logits"} & set(vars(layer))


def test_the_product_clock_counts_the_convolutions_products_and_can_be_removed():
    layer = minidl.layers.Conv2D(2, 3)
    x = np.ones((2, 5, 5, 1), np.float32)
    layer(x)
    original = minidl.layers.convolutional.matmul
    clock = bench_convnet.ProductClock()
    real = clock._matmul

    def slower(a, b):  # 20 ms more in every product
        time.sleep(0.02)
        return real(a, b)

    clock._matmul = slower
    _, cache = layer.forward(x)
    layer.backward(np.ones((2, 3, 3, 2), np.float32), cache)
    assert clock.seconds >= 0.06  # forward, dW and dx: three products
    clock._matmul = real
    clock.remove()
    assert minidl.layers.convolutional.matmul is original
