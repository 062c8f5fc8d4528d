"""How fast and how big is minidl next to Keras, on a quiet machine and beside a busy process?

    python -m reference.bench                  seed recipe and convnet, quiet and loaded
    python -m reference.bench --load 2         two busy processes for the loaded column
    python -m reference.bench --load 0         the quiet column only
    python -m reference.bench --convnet        the classic convnet only
    python -m reference.bench --no-convnet     the seed recipe only
    python -m reference.bench --quick          a smoke test: few rows, one epoch
    python -m reference.bench --sweep          also hidden width x batch size against the floor
    python -m reference.bench --no-threading   skip minidl under fixed BLAS threads
    python -m reference.bench --json out.json  write every figure
    python -m reference.bench --blas-threads 1 minidl.config.set_blas_threads(1) for the run

Every timed part runs twice: on the machine as it is ("quiet"), then with N processes
busy-looping beside it ("loaded", --load N, default 1: one competitor on a 2-core machine
halves it, as a browser or a second notebook does). In each, minidl and Keras take turns
epoch by epoch, so that a change in the machine's load hits both. The CPU other processes
used during each column is printed with it: a "quiet" column taken while someone else's job
ran says so. What is measured: reference/bench_seed.py (the seed recipe, the BLAS floor,
a plain NumPy loop, E1, evaluate/predict) and reference/bench_convnet.py (the convnet);
minidl's fits under BLAS's 2 threads, BLAS's 1 thread and its own choice (minidl/threads.py),
taking turns; peak memory in fresh processes, once (it does not depend on the load).

On a shared machine the absolute seconds are noisy; the ratios measured in one run are
what count.
"""
import argparse
import json

import numpy as np

import minidl
from minidl import config, threads
from reference import bench_convnet, bench_seed
from reference.bench_tools import (Load, machine_info, OtherLoad, run_memory_worker, settle,
                                   timed)

NOTE = ("Absolute seconds on a shared machine are noisy; the ratios measured in one run "
        "are what count.")
# (recipe, key, label, {condition: target}, informational rows have no target)
RATIOS = [
    ("seed", "fit", "minidl / Keras      fit, s per epoch", {"quiet": 0.40, "loaded": 0.50}),
    ("seed", "plain", "minidl / plain NumPy loop (same threads)", {"quiet": 1.1, "loaded": 1.1}),
    ("seed", "floor", "minidl / BLAS floor fit, s per epoch", {}),
    ("seed", "keras_floor", "Keras  / BLAS floor fit, s per epoch", {}),
    ("seed", "plain_floor", "plain NumPy loop / BLAS floor", {}),
    ("seed", "e1", "minidl / Keras      E1 whole fit", {"quiet": 1 / 20, "loaded": 1 / 20}),
    ("seed", "e1_second", "minidl / Keras      E1 second fit (traced)", {}),
    ("seed", "evaluate", "minidl / Keras      evaluate", {"quiet": 0.5, "loaded": 0.5}),
    ("seed", "predict", "minidl / Keras      predict", {"quiet": 0.5, "loaded": 0.5}),
    ("convnet", "convnet_fit", "convnet minidl / Keras fit", {"quiet": 0.8, "loaded": 0.8}),
    ("convnet", "convnet_products", "convnet products in fit / BLAS floor",
     {"quiet": 2.0, "loaded": 2.0}),
    ("convnet", "convnet_layers", "convnet Conv2D layers / BLAS floor", {}),
]
# Ratios measured once: (recipe, key, label, target)
SINGLE_RATIOS = [
    ("seed", "slowdown", "minidl fit loaded / minidl fit quiet", 2.2),
    ("seed", "memory", "minidl / Keras peak RSS, seed recipe", 0.5),
    ("convnet", "convnet_memory", "minidl / Keras peak RSS, convnet", 1.0),
]


# -- running the measurements ---------------------------------------------------------------------
def measure_condition(args, data):
    """Every timed part once, on the machine as it is now: {part: figures}."""
    part = {}
    if args.seed:
        (x, y), (x_test, y_test) = data["seed"]
        part["fit"] = bench_seed.measure_fit(x, y, args.epochs)
        part["e1"] = bench_seed.measure_e1(args.e1_epochs, args.repeats)
        part["inference"] = bench_seed.measure_inference(
            x_test[:args.eval_rows], y_test[:args.eval_rows], args.repeats)
    if args.convnet:
        part["convnet"] = bench_convnet.measure_fit(*data["convnet"], args.convnet_epochs)
    if args.threading:
        part["threading"] = measure_threading(args, data)
    return part


THREADINGS = {"BLAS's 2 threads": 2, "BLAS's 1 thread": 1, "minidl's choice": None}


def measure_threading(args, data, rounds=2):
    """minidl's fit under fixed BLAS threads and under its own choice, taking turns.

    Seconds per epoch (best of `rounds`) of the seed recipe on its first 10,000 rows and of
    the convnet on its first 1,024: what the rule in minidl/threads.py is measured against.
    """
    fits = []
    if args.seed:
        fits.append(("seed", bench_seed.minidl_seed_model, data["seed"][0], 10_000))
    if args.convnet:
        fits.append(("convnet", bench_convnet.minidl_convnet, data["convnet"], 1_024))
    seconds = {recipe: {name: [] for name in THREADINGS} for recipe, *_ in fits}
    for recipe, make, (x, y), rows in fits:
        minidl.utils.set_random_seed(0)
        model = make()
        model.fit(x[:256], y[:256], batch_size=64, epochs=1, verbose=0)  # built, warm
        for _ in range(rounds):
            for name, blas in THREADINGS.items():
                config.set_blas_threads(blas if args.blas_threads is None else args.blas_threads)
                settle()
                seconds[recipe][name].append(timed(model.fit, x[:rows], y[:rows], batch_size=64,
                                                   epochs=1, verbose=0)[0])
        config.set_blas_threads(args.blas_threads)
    return {recipe: {"rows": min(rows, len(x)), "seconds": {
        name: min(values) for name, values in seconds[recipe].items()}}
        for recipe, make, (x, y), rows in fits}


def run(args):
    """Every measurement the arguments ask for, as one dict (what --json writes)."""
    info = machine_info()  # before TensorFlow loads BLAS libraries of its own

    import keras
    import tensorflow as tf

    config.set_blas_threads(args.blas_threads)
    info.update(tensorflow=tf.__version__, keras=keras.__version__,
                blas_threads=args.blas_threads or "minidl's choice (minidl/threads.py)")
    results = {"machine": info, "note": NOTE, "settings": {
        k: getattr(args, k) for k in ("rows", "epochs", "e1_epochs", "eval_rows", "repeats",
                                      "convnet_rows", "convnet_epochs", "load", "quick",
                                      "sweep", "seed", "convnet", "threading")}}
    data = {}
    if args.seed:
        data["seed"] = bench_seed.load_fashion_mnist(args.rows)
    if args.convnet:
        data["convnet"] = bench_convnet.load_images(args.convnet_rows)
    conditions = [("quiet", 0)] + ([("loaded", args.load)] if args.load else [])
    for condition, busy in conditions:
        before = threads.state()
        with Load(busy), OtherLoad() as other:
            results[condition] = measure_condition(args, data)
        after = threads.state()
        shared, alone = (after[k] - before[k] for k in ("seconds_shared", "seconds_alone"))
        results[condition].update(
            busy_processes=busy, other_processes_cores=other.cores,
            jobs_shared_with_helper=after["jobs_shared"] - before["jobs_shared"],
            helper_rests=after["helper_rests"] - before["helper_rests"],
            helper_saved=1 - shared / alone if alone else None)
    results["memory"] = measure_memory(args)
    if args.sweep and args.seed:
        results["sweep"] = bench_seed.measure_sweep(*data["seed"][0])
    return results


def measure_memory(args):
    """Peak RSS of each framework training each recipe, in fresh processes."""
    memory = {}
    for recipe, wanted, rows, epochs in (("seed", args.seed, args.rows, args.memory_epochs),
                                         ("convnet", args.convnet, args.convnet_rows, 1)):
        if wanted:
            memory[recipe] = {framework: run_memory_worker(recipe, framework, rows or 60_000,
                                                           epochs, args.blas_threads)
                              for framework in ("minidl", "keras")}
    return memory


def memory_worker(args):
    """`--worker minidl|keras`: train one recipe in this fresh process; print its memory."""
    config.set_blas_threads(args.blas_threads)
    module = bench_convnet if args.convnet and not args.seed else bench_seed
    print(json.dumps(module.memory_worker(args.worker, args.rows, args.epochs)))


# -- the report -----------------------------------------------------------------------------------
def ratios(part):
    """{key of RATIOS: value} for one condition's figures."""
    values = {}
    if "fit" in part:
        fit, e1, inf = part["fit"], part["e1"], part["inference"]
        values.update(
            fit=fit["ratio_minidl_keras"], plain=fit["ratio_minidl_plain_numpy"],
            floor=fit["ratio_minidl_floor"], keras_floor=fit["ratio_keras_floor"],
            plain_floor=fit["ratio_plain_numpy_floor"], e1=e1["ratio_minidl_keras"],
            e1_second=e1["minidl_fit_seconds"] / e1["keras_second_fit_seconds"],
            evaluate=inf["evaluate_ratio_minidl_keras"], predict=inf["predict_ratio_minidl_keras"])
    if "convnet" in part:
        conv = part["convnet"]
        values.update(convnet_fit=conv["ratio_minidl_keras"],
                      convnet_products=conv["ratio_conv_products_floor"],
                      convnet_layers=conv["ratio_conv_layers_floor"])
    return values


def single_ratios(results):
    """{key of SINGLE_RATIOS: value}: across conditions, and memory."""
    values, memory = {}, results["memory"]
    if "loaded" in results and "fit" in results["loaded"]:
        values["slowdown"] = (results["loaded"]["fit"]["minidl_seconds_per_epoch"]
                              / results["quiet"]["fit"]["minidl_seconds_per_epoch"])
    for recipe, key in (("seed", "memory"), ("convnet", "convnet_memory")):
        if recipe in memory:
            values[key] = memory[recipe]["minidl"]["peak_rss_mb"] / \
                memory[recipe]["keras"]["peak_rss_mb"]
    return values


def _cell(value):
    return f"{value:>8.3f}" if value is not None else f"{'':>8}"


def format_ratio_table(results):
    """Ratio lines: label, quiet, loaded, target, met (met: every condition within target)."""
    quiet = ratios(results["quiet"])
    loaded = ratios(results["loaded"]) if "loaded" in results else {}
    lines = [f"{'ratio (lower is better for minidl)':<44}{'quiet':>8}{'loaded':>8}"
             f"{'target':>9}  met"]
    for _, key, label, targets in RATIOS:
        if key not in quiet:
            continue
        values = [(c, v) for c, v in (("quiet", quiet[key]), ("loaded", loaded.get(key)))
                  if v is not None]
        verdict = ""
        if targets:
            met = all(v <= targets[c] for c, v in values)
            shown = sorted({targets[c] for c, _ in values})
            verdict = f"{'/'.join(f'{t:.3g}' for t in shown):>9}  {'yes' if met else 'no'}"
        lines.append(f"{label:<44}{_cell(quiet[key])}{_cell(loaded.get(key))}{verdict}")
    for _, key, label, target in SINGLE_RATIOS:
        value = single_ratios(results).get(key)
        if value is not None:
            met = "yes" if value <= target else "no"
            lines.append(f"{label:<44}{_cell(value)}{'':>8}{target:>9.3g}  {met}")
    return lines


def format_figures(part, condition):
    """The seconds behind one condition's ratios."""
    saved = part.get("helper_saved")
    lines = [f"{condition}: {part['busy_processes']} busy process(es) started; other "
             f"processes used {part['other_processes_cores']:.2f} cores; minidl's helper "
             f"thread shared {part['jobs_shared_with_helper']} jobs"
             + ("" if saved is None else f", saving {saved:.0%} of their time,")
             + f" and was sent to rest {part.get('helper_rests', 0)} time(s) (no core of "
             "its own, or sharing saved too little)"]
    row = "  {:<40}{:>10}{:>10}{:>10}"
    lines.append(row.format("seconds", "minidl", "Keras", "floor"))
    if "fit" in part:
        fit, e1, inf = part["fit"], part["e1"], part["inference"]
        lines += [
            row.format("seed fit, per epoch (median)", f"{fit['minidl_seconds_per_epoch']:.3f}",
                       f"{fit['keras_seconds_per_epoch']:.3f}",
                       f"{fit['floor_seconds_per_epoch']:.3f}"),
            row.format("seed fit, Keras's first epoch (traces)", "",
                       f"{fit['keras_first_epoch_seconds']:.3f}", ""),
            row.format("plain NumPy loop, per epoch (median)",
                       f"{fit['plain_numpy_seconds_per_epoch']:.3f}", "", ""),
            row.format("  of which its RMSprop update",
                       f"{fit['plain_numpy_update_seconds_per_epoch']:.3f}", "", ""),
            "  minidl / plain loop, round by round: " + " ".join(
                f"{a / b:.2f}" for a, b in zip(fit["minidl_epoch_seconds"],
                                               fit["plain_numpy_epoch_seconds"])),
            row.format(f"E1 whole fit, {e1['epochs']} epochs", f"{e1['minidl_fit_seconds']:.3f}",
                       f"{e1['keras_fit_seconds']:.3f}", ""),
            row.format("E1 second fit (Keras already traced)", "",
                       f"{e1['keras_second_fit_seconds']:.3f}", ""),
            row.format(f"evaluate {inf['rows']:,} rows", f"{inf['evaluate_minidl_seconds']:.3f}",
                       f"{inf['evaluate_keras_seconds']:.3f}", ""),
            row.format(f"predict {inf['rows']:,} rows", f"{inf['predict_minidl_seconds']:.3f}",
                       f"{inf['predict_keras_seconds']:.3f}", "")]
    if "convnet" in part:
        conv = part["convnet"]
        lines += [
            row.format("convnet fit, per 10,000 rows", f"{conv['minidl_seconds_per_10k']:.2f}",
                       f"{conv['keras_seconds_per_10k']:.2f}",
                       f"{conv['conv_floor_seconds_per_10k']:.2f}"),
            row.format("  of minidl's: its three Conv2D layers",
                       f"{conv['conv_layers_seconds_per_10k']:.2f}", "", ""),
            row.format("  of those: their matrix products",
                       f"{conv['conv_products_seconds_per_10k']:.2f}", "",
                       f"{conv['conv_floor_seconds_per_10k']:.2f}")]
    for recipe, figures in part.get("threading", {}).items():
        lines.append(f"  minidl {recipe} fit ({figures['rows']:,} rows), s: " + "; ".join(
            f"{name} {seconds:.3f}" for name, seconds in figures["seconds"].items()))
    return lines


def format_memory(memory):
    lines = []
    row = "  {:<40}{:>10}{:>10}"
    for recipe, figures in memory.items():
        md, k = figures["minidl"], figures["keras"]
        lines += [row.format(f"{recipe}: peak RSS while training, MiB", f"{md['peak_rss_mb']:.0f}",
                             f"{k['peak_rss_mb']:.0f}"),
                  row.format("  RSS before fit (framework, data, model)",
                             f"{md['baseline_rss_mb']:.0f}", f"{k['baseline_rss_mb']:.0f}"),
                  row.format("  RSS growth, first to last epoch", f"{md['rss_growth_mb']:.1f}",
                             f"{k['rss_growth_mb']:.1f}")]
    return lines


def format_report(results):
    """Ratios first, quiet and loaded side by side against their targets, then the figures."""
    settings = results["settings"]
    lines = ["minidl vs Keras: " + "; ".join(
        text for wanted, text in (
            (settings["seed"], f"seed recipe 784-512-10 rmsprop, batch 64, "
                               f"{settings['rows'] or 60_000:,} rows"),
            (settings["convnet"], f"classic convnet, batch 64, {settings['convnet_rows']:,} "
                                  "rows")) if wanted), ""]
    lines += format_ratio_table(results)
    for condition in ("quiet", "loaded"):
        if condition in results:
            lines += [""] + format_figures(results[condition], condition)
    lines += ["", "memory (each framework in a fresh process)"] + format_memory(results["memory"])
    if results.get("sweep"):
        lines += ["", "sweep (quiet): minidl fit, 1 epoch, against the floor",
                  f"{'hidden':>8}{'batch':>8}{'minidl s':>12}{'floor s':>12}{'ratio':>8}"]
        for row in results["sweep"]:
            lines.append(f"{row['hidden']:>8}{row['batch_size']:>8}"
                         f"{row['minidl_seconds_per_epoch']:>12.3f}"
                         f"{row['floor_seconds_per_epoch']:>12.3f}"
                         f"{row['ratio_minidl_floor']:>8.2f}")
    m = results["machine"]
    lines += [
        "", f"machine: {m['cpu']}; {m['cores']} cores ({m['usable_cores']} usable); "
            f"Python {m['python']}; NumPy {m['numpy']}; BLAS {m['blas']}; "
            f"minidl's BLAS threads: {m['blas_threads']}; TensorFlow {m.get('tensorflow')}; "
            f"Keras {m.get('keras')}",
        f"fit: medians of {settings['epochs']} timed epochs (convnet "
        f"{settings['convnet_epochs']}), the floors the best of theirs, taking turns; Keras's "
        f"first epoch is not in its median. E1, evaluate, predict: medians of "
        f"{settings['repeats']} interleaved rounds.", NOTE]
    return "\n".join(lines)


# -- the command line ----------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m reference.bench",
        description="Time and measure minidl against Keras and the float32 BLAS floor, on a "
                    "quiet machine and beside busy processes.")
    parser.add_argument("--load", type=int, default=1, metavar="N",
                        help="busy-looping processes for the loaded column (default 1; 0: "
                             "quiet only)")
    parser.add_argument("--convnet", action="store_true", help="the classic convnet only")
    parser.add_argument("--no-convnet", action="store_true", help="the seed recipe only")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs of the seed recipe (default 5; Keras adds a warm-up)")
    parser.add_argument("--rows", type=int, default=None,
                        help="training rows of Fashion-MNIST (default 60,000; convnet 10,000)")
    parser.add_argument("--json", metavar="PATH", help="write every figure to this JSON file")
    parser.add_argument("--no-threading", action="store_true",
                        help="skip minidl's fit under fixed BLAS threads against its own choice")
    parser.add_argument("--sweep", action="store_true",
                        help="also time hidden width x batch size against the floor (quiet)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 1,024 rows, 1 epoch, short E1, small evaluate")
    parser.add_argument("--blas-threads", type=int, default=None, metavar="N",
                        help="minidl.config.set_blas_threads(N) (minidl, plain loop; not "
                             "TensorFlow); default: minidl chooses")
    parser.add_argument("--worker", choices=("minidl", "keras"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("epochs", "rows", "blas_threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"argument --{name.replace('_', '-')}: expected a positive integer. "
                         f"Received: {value}")
    if args.load < 0:
        parser.error(f"argument --load: expected 0 or more processes. Received: {args.load}")
    if args.convnet and args.no_convnet:
        parser.error("argument --convnet: not allowed with argument --no-convnet")
    quick = args.quick
    args.seed, args.convnet = not args.convnet, not args.no_convnet
    args.threading = not args.no_threading
    args.convnet_rows = args.rows or (1024 if quick else bench_convnet.PER_ROWS)
    args.rows = args.rows or (1024 if quick else None)
    args.convnet_epochs = args.epochs or (1 if quick else 2)
    args.epochs = args.epochs or (1 if quick else 5)
    args.e1_epochs = 2 if quick else bench_seed.E1_EPOCHS
    args.eval_rows = 1024 if quick else bench_seed.EVAL_ROWS
    args.repeats = 1 if quick else 3  # of E1, evaluate and predict
    args.memory_epochs = min(max(args.epochs, 2), 3)  # two or three: enough to see growth
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return memory_worker(args)
    try:
        results = run(args)
    finally:
        config.set_blas_threads(None)
    print(format_report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
