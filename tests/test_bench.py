"""The benchmark's quick mode runs end to end, quiet and loaded, and writes every figure; its
pieces measure what they say. No timing is asserted."""
import json
import math
import os
import resource
import time

import numpy as np
import pytest

import keras  # noqa: F401  (a missing Keras must fail, not skip)
import minidl
from reference import bench, bench_seed, bench_tools

DEBIAN_LABELS = os.path.join(bench_tools.FASHION_DIR, "train-labels-idx1-ubyte.gz")

EXPECTED = {
    "fit": ["rows", "epochs", "batch_size", "minidl_epoch_seconds", "minidl_seconds_per_epoch",
            "keras_first_epoch_seconds", "keras_epoch_seconds", "keras_seconds_per_epoch",
            "floor_epoch_seconds", "floor_seconds_per_epoch", "floor_blas_threads",
            "plain_numpy_epoch_seconds", "plain_numpy_seconds_per_epoch",
            "plain_numpy_update_seconds_per_epoch", "ratio_minidl_keras", "ratio_minidl_floor",
            "ratio_keras_floor", "ratio_minidl_plain_numpy", "ratio_plain_numpy_floor"],
    "e1": ["rows", "epochs", "minidl_fit_seconds", "keras_fit_seconds",
           "keras_second_fit_seconds", "ratio_minidl_keras", "repeats",
           "minidl_fit_seconds_each", "keras_fit_seconds_each"],
    "inference": ["rows", "repeats", "evaluate_minidl_seconds", "evaluate_keras_seconds",
                  "evaluate_ratio_minidl_keras", "predict_minidl_seconds",
                  "predict_keras_seconds", "predict_ratio_minidl_keras"],
    "convnet": ["minidl_seconds_per_10k", "keras_seconds_per_10k", "conv_layers_seconds_per_10k",
                "conv_products_seconds_per_10k", "conv_floor_seconds_per_10k",
                "ratio_minidl_keras", "ratio_conv_products_floor", "ratio_conv_layers_floor",
                "conv_share_of_minidl_fit", "keras_first_epoch_seconds"],
}
MEMORY = ["framework", "epochs", "rows", "baseline_rss_mb", "peak_rss_mb",
          "peak_reset_before_fit", "training_peak_increase_mb", "ru_maxrss_mb",
          "rss_after_epoch_mb", "rss_growth_mb"]


def positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    returned = bench.main(["--quick", "--rows", "256", "--json", str(path)])
    with open(path) as f:
        return returned, json.load(f)


def test_quick_run_writes_every_figure_quiet_and_loaded(quick_run):
    _, results = quick_run
    for condition, busy in (("quiet", 0), ("loaded", 1)):
        part = results[condition]
        for section, keys in EXPECTED.items():
            assert set(keys) <= set(part[section]), (condition, section)
        assert part["busy_processes"] == busy and part["fit"]["rows"] == 256
        for recipe in ("seed", "convnet"):
            figures = part["threading"][recipe]
            assert set(figures["seconds"]) == set(bench.THREADINGS) and figures["rows"] == 256
            assert all(positive_finite(s) for s in figures["seconds"].values())
        assert part["other_processes_cores"] >= 0
    assert results["loaded"]["other_processes_cores"] > 0.5  # the busy process really ran
    for recipe in ("seed", "convnet"):
        for framework in ("minidl", "keras"):
            memory = results["memory"][recipe][framework]
            assert set(MEMORY) <= set(memory) and memory["framework"] == framework
    assert results["note"] == bench.NOTE and "sweep" not in results
    assert results["machine"]["blas_threads"].startswith("minidl's choice")


def test_ratios_and_times_are_positive_finite_numbers(quick_run):
    _, results = quick_run
    for condition in ("quiet", "loaded"):
        for section in EXPECTED:
            for key, value in results[condition][section].items():
                if "ratio" in key or "seconds" in key:
                    values = list(np.ravel(value))  # a number, or lists of them
                    assert values and all(positive_finite(v) for v in values), (section, key)
    memory = results["memory"]["seed"]["minidl"]
    assert len(memory["rss_after_epoch_mb"]) == memory["epochs"] >= 2


def test_the_report_puts_quiet_and_loaded_side_by_side_with_each_target(quick_run):
    returned, results = quick_run
    lines = bench.format_report(results).splitlines()
    assert bench.format_report(returned) == bench.format_report(results)  # JSON round trip
    header = next(line for line in lines if line.startswith("ratio"))
    assert header.split()[-4:] == ["quiet", "loaded", "target", "met"]
    fit = next(line for line in lines if line.startswith("minidl / Keras      fit"))
    quiet, loaded, target, verdict = fit.split()[-4:]
    assert target == "0.4/0.5"
    assert verdict == ("yes" if float(quiet) <= 0.4 and float(loaded) <= 0.5 else "no")
    assert float(quiet) == pytest.approx(results["quiet"]["fit"]["ratio_minidl_keras"], abs=1e-3)
    verdicts = [line.split()[-1] for line in lines if line.endswith((" yes", " no"))]
    assert len(verdicts) == 10  # fit, plain loop, E1, evaluate, predict, convnet fit and
    # products, slowdown, two memories
    assert "machine:" in lines[-3] and bench.NOTE == lines[-1]


def test_blas_floor_handles_a_partial_last_batch_and_names_its_threading():
    x = np.ones((100, 784), np.float32)  # 64 + 36 rows
    seconds, threading = bench_seed.blas_floor_epoch(x, hidden=8, batch_size=64)
    assert positive_finite(seconds) and threading in (1, "BLAS's own")


@pytest.mark.skipif(not os.path.exists(DEBIAN_LABELS), reason="needs Debian's Fashion-MNIST")
def test_fallback_reader_matches_the_minidl_loader():
    labels = bench_tools._read_idx_gz(DEBIAN_LABELS)
    (_, y), _ = bench_seed.load_fashion_mnist(rows=1000)
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels[:1000], y)


@pytest.mark.parametrize("argv", [["--rows", "0"], ["--epochs", "-1"], ["--blas-threads", "0"],
                                  ["--load", "-1"], ["--convnet", "--no-convnet"]])
def test_bad_arguments_are_refused(argv):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)


def test_the_plain_numpy_loop_does_minidls_arithmetic_bit_for_bit():
    """The plain loop is a fair yardstick only if it computes exactly what minidl's fit does."""
    rng = np.random.default_rng(0)
    x = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    model = bench_seed.minidl_seed_model(hidden=32)
    initial = model.get_weights()
    weights = [w.copy() for w in initial]
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    seconds, update_seconds = bench_seed.plain_numpy_epoch(x, y, weights)
    assert 0 < update_seconds < seconds
    for ours, plain, start in zip(model.get_weights(), weights, initial):
        assert np.abs(plain - start).max() > 1e-4  # both trained: the comparison means something
        np.testing.assert_array_equal(plain, ours)


def test_load_starts_busy_processes_and_stops_them():
    with bench_tools.Load(1) as load, bench_tools.OtherLoad() as other:
        processes = list(load.processes)
        time.sleep(0.5)
        assert all(p.poll() is None for p in processes)  # still running
    assert other.cores > 0.5
    assert all(p.poll() is not None for p in processes) and load.processes == []


def _other_processes_cpu_seconds():
    """CPU seconds used so far by every other process, summed from /proc/<pid>/stat."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:  # it ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def test_other_load_does_not_count_this_process():
    """This process busy for a second: OtherLoad reports what the other processes used (as
    their own counters say, whatever else the machine is running), not that plus this one."""
    mine, others = resource.getrusage(resource.RUSAGE_SELF), _other_processes_cpu_seconds()
    with bench_tools.OtherLoad() as other:
        start = time.perf_counter()
        while time.perf_counter() < start + 1.0:  # this process busy, nothing else started
            pass
    seconds = time.perf_counter() - start
    own_cores = (resource.getrusage(resource.RUSAGE_SELF).ru_utime - mine.ru_utime) / seconds
    others_cores = (_other_processes_cpu_seconds() - others) / seconds
    assert own_cores > 0.2  # (the loop ran: counted, it would move the figure by this much)
    assert other.cores < others_cores + own_cores / 2


def test_the_convnet_entry_point_is_the_benchmarks_convnet_part(monkeypatch):
    seen = []
    monkeypatch.setattr(bench, "main", lambda argv: seen.append(argv))
    from reference import bench_convnet

    bench_convnet.main(["--quick"])
    assert seen == [["--convnet", "--quick"]]
    assert minidl.threads.state()["chosen_by"] == "minidl"
