"""The benchmark's quick mode runs end to end and writes every figure; no timing is asserted."""
import json
import math
import os

import numpy as np
import pytest

import keras  # noqa: F401  (a missing Keras must fail, not skip)
from reference import bench  # noqa: E402

DEBIAN_LABELS = os.path.join(bench.FASHION_DIR, "train-labels-idx1-ubyte.gz")

EXPECTED = {
    "machine": ["cpu", "cores", "usable_cores", "python", "numpy", "blas", "blas_threads",
                "tensorflow", "keras"],
    "settings": ["rows", "epochs", "e1_epochs", "eval_rows", "repeats", "quick", "sweep"],
    "fit": ["rows", "epochs", "batch_size", "minidl_epoch_seconds", "minidl_seconds_per_epoch",
            "keras_first_epoch_seconds", "keras_epoch_seconds", "keras_seconds_per_epoch",
            "floor_epoch_seconds", "floor_seconds_per_epoch", "plain_numpy_epoch_seconds",
            "plain_numpy_seconds_per_epoch", "plain_numpy_update_seconds_per_epoch",
            "ratio_minidl_keras", "ratio_minidl_floor", "ratio_keras_floor",
            "ratio_minidl_plain_numpy", "ratio_plain_numpy_floor"],
    "e1": ["rows", "epochs", "minidl_fit_seconds", "keras_fit_seconds",
           "keras_second_fit_seconds", "ratio_minidl_keras", "repeats",
           "minidl_fit_seconds_each", "keras_fit_seconds_each"],
    "inference": ["rows", "repeats", "evaluate_minidl_seconds", "evaluate_keras_seconds",
                  "evaluate_ratio_minidl_keras", "predict_minidl_seconds",
                  "predict_keras_seconds", "predict_ratio_minidl_keras"],
}
MEMORY = ["framework", "epochs", "rows", "baseline_rss_mb", "peak_rss_mb",
          "peak_reset_before_fit", "training_peak_increase_mb", "ru_maxrss_mb",
          "rss_after_epoch_mb", "rss_growth_mb"]


def positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    import threadpoolctl  # noqa: F401  (for --blas-threads; comes with scikit-learn)
    returned = bench.main(["--quick", "--rows", "256", "--blas-threads", "1", "--json", str(path)])
    with open(path) as f:
        return returned, json.load(f)


def test_quick_run_writes_every_field(quick_run):
    _, results = quick_run
    for section, keys in EXPECTED.items():
        assert set(keys) <= set(results[section]), section
    for framework in ("minidl", "keras"):
        assert set(MEMORY) <= set(results["memory"][framework])
        assert results["memory"][framework]["framework"] == framework
    assert results["sweep"] == []
    assert results["fit"]["rows"] == 256 and results["fit"]["epochs"] == 1
    assert results["note"] == bench.NOTE
    assert results["machine"]["blas_threads"] == 1


def test_ratios_and_times_are_positive_finite_numbers(quick_run):
    _, results = quick_run
    for section in ("fit", "e1", "inference"):
        for key, value in results[section].items():
            if "ratio" in key or "seconds" in key or key.endswith("per_epoch"):
                values = value if isinstance(value, list) else [value]
                assert values and all(positive_finite(v) for v in values), (section, key)
    for framework in ("minidl", "keras"):
        memory = results["memory"][framework]
        assert positive_finite(memory["peak_rss_mb"])
        assert len(memory["rss_after_epoch_mb"]) == memory["epochs"] >= 2
        assert all(positive_finite(v) for v in memory["rss_after_epoch_mb"])


def test_report_prints_the_ratios_first_and_the_machine(quick_run):
    returned, _ = quick_run
    text = bench.format_report(returned)
    assert text.index("minidl / Keras      fit") < text.index("measurement")
    assert "machine:" in text and bench.NOTE in text


def test_blas_floor_handles_a_partial_last_batch():
    x = np.ones((100, 784), np.float32)  # 64 + 36 rows
    assert positive_finite(bench.blas_floor_epoch(x, hidden=8, batch_size=64))


@pytest.mark.skipif(not os.path.exists(DEBIAN_LABELS), reason="needs Debian's Fashion-MNIST")
def test_fallback_reader_matches_the_minidl_loader():
    labels = bench._read_idx_gz(DEBIAN_LABELS)
    (_, y), _ = bench.load_fashion_mnist(rows=1000)
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels[:1000], y)


@pytest.mark.parametrize("argv", [["--rows", "0"], ["--epochs", "-1"], ["--blas-threads", "0"]])
def test_bad_arguments_are_refused(argv):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)


def test_the_plain_numpy_loop_does_the_same_arithmetic_as_minidl():
    """The plain loop is a fair yardstick only if it computes what minidl's fit computes."""
    rng = np.random.default_rng(0)
    x = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    model = bench.minidl_seed_model(hidden=32)
    initial = model.get_weights()
    weights = [w.copy() for w in initial]
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    seconds, update_seconds = bench.plain_numpy_epoch(x, y, weights)
    assert 0 < update_seconds < seconds
    for ours, plain, start in zip(model.get_weights(), weights, initial):
        assert np.abs(plain - start).max() > 1e-4  # both trained: the comparison means something
        np.testing.assert_allclose(plain, ours, rtol=1e-5, atol=1e-6)


def test_report_says_for_each_target_whether_it_is_met(quick_run):
    returned, _ = quick_run
    lines = bench.format_report(returned).splitlines()
    fit_line = next(line for line in lines if line.startswith("minidl / Keras      fit"))
    value, target, verdict = fit_line.split()[-3:]
    assert float(target) == bench.TARGETS["fit"]
    assert verdict == ("yes" if float(value) <= bench.TARGETS["fit"] else "no")
    verdicts = [line.split()[-1] for line in lines if line.endswith((" yes", " no"))]
    assert len(verdicts) == 6  # fit, floor, E1, evaluate, predict, memory
