"""The convnet benchmark (`python -m reference.bench_convnet`) runs end to end and writes every
figure; its pieces measure what they say. No timing is asserted."""
import json
import math
import time

import numpy as np
import pytest

import keras  # noqa: F401  (a missing Keras must fail, not skip)
import minidl
from reference import bench_convnet


def positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    import threadpoolctl  # noqa: F401  (for --blas-threads; comes with scikit-learn)
    returned = bench_convnet.main(["--quick", "--rows", "256", "--blas-threads", "1",
                                   "--json", str(path)])
    with open(path) as f:
        return returned, json.load(f)


def test_quick_run_writes_every_figure(quick_run, capsys):
    _, results = quick_run
    fit = results["fit"]
    assert fit["rows"] == 256 and fit["epochs"] == 1 and fit["batch_size"] == 64
    for key in ("minidl_seconds_per_10k", "keras_seconds_per_10k", "conv_layers_seconds_per_10k",
                "conv_floor_seconds_per_10k", "ratio_minidl_keras", "ratio_conv_layers_floor",
                "conv_share_of_minidl_fit", "keras_first_epoch_seconds"):
        assert positive_finite(fit[key]), key
    assert fit["ratio_minidl_keras"] == pytest.approx(
        fit["minidl_seconds_per_10k"] / fit["keras_seconds_per_10k"])
    assert fit["conv_share_of_minidl_fit"] < 1  # the layers' time is inside the fit's
    for framework in ("minidl", "keras"):
        memory = results["memory"][framework]
        assert memory["framework"] == framework and memory["rows"] == 256
        assert positive_finite(memory["peak_rss_mb"])
    assert results["machine"]["blas_threads"] == 1 and results["note"] == bench_convnet.NOTE


def test_the_report_states_each_ratio_against_its_target(quick_run):
    _, results = quick_run
    text = bench_convnet.format_report(results)
    for label, target in (("minidl / Keras, fit seconds", "0.8"),
                          ("minidl / Keras, peak RSS while training", "1"),
                          ("minidl's Conv2D layers / their BLAS floor", "2")):
        line = next(line for line in text.splitlines() if line.startswith(label))
        assert line.split()[-2] == target and line.split()[-1] in ("yes", "no")
    assert "M=43264 K=9 F=32 (no dx: first layer)" in text  # 64 images of 26x26 windows


def test_the_floor_has_the_layers_product_shapes():
    model = bench_convnet.minidl_convnet()
    assert bench_convnet.conv_product_shapes(model) == [
        (64 * 26 * 26, 3 * 3 * 1, 32, False), (64 * 11 * 11, 3 * 3 * 32, 64, True),
        (64 * 3 * 3, 3 * 3 * 64, 128, True)]
    assert positive_finite(bench_convnet.blas_floor_seconds(
        bench_convnet.conv_product_shapes(model, batch_size=4), rows=10, batch_size=4,
        repeats=1))


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
