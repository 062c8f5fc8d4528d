"""What `minidl lab` prints while it works (reference/progress.py), without training anything.

The lab itself, run as a command, is checked in test_cli.py; here the pieces: the rough
estimate, the durations people read, the epoch lines in a log and on a terminal.
"""
import io
from types import SimpleNamespace

import pytest

from reference.progress import (EPOCH_SECONDS, EXPERIMENT_SECONDS, LabProgress, duration,
                                estimate_seconds, multiply_adds_per_row)

E1 = SimpleNamespace(units=64, outputs=1, batch_size=32)  # the lab's E1, as the estimate sees it


def test_duration_reads_as_people_say_it():
    assert duration(4.4) == "4 s"
    assert duration(59.6) == "1 min"
    assert duration(100) == "1 min 40 s"
    assert duration(12 * 60 + 5) == "12 min"  # seconds dropped past ten minutes


def test_estimate_grows_with_epochs_rows_and_width():
    one = estimate_seconds(E1, 640, 2, epochs=1)
    two = estimate_seconds(E1, 640, 2, epochs=2)
    per_epoch = two - one
    assert one == pytest.approx(EXPERIMENT_SECONDS + per_epoch)
    assert per_epoch > EPOCH_SECONDS  # 20 steps on top of the fit call
    assert estimate_seconds(E1, 6400, 2, epochs=1) > one
    assert estimate_seconds(E1, 640, 784, epochs=1) > one
    assert multiply_adds_per_row(E1, 2) == 2 * 64 + 64 * 1


def run_two_epochs(progress):
    """The calls run_lab makes for one experiment of 2 epochs."""
    progress.plan(1, 2)
    progress.experiment_started(1, 1, "e1", "E1: x1 + x2 > 1", epochs=2)
    for epoch in range(2):
        for framework in ("minidl", "Keras"):
            progress.epoch_callback(framework, ("loss", "accuracy"))(
                epoch, {"loss": 0.5 - epoch / 10, "accuracy": 0.75, "val_loss": 0.6})
    progress.experiment_ended(["test accuracy minidl 0.7500, Keras 0.7500 (difference +0.0000)"])


def test_in_a_log_every_epoch_of_each_framework_has_its_line():
    stream = io.StringIO()
    run_two_epochs(LabProgress([3.0], stream=stream))
    lines = stream.getvalue().splitlines()
    assert lines[0] == ("1 experiment, each trained in minidl and then in Keras: 2 epochs each, "
                        "roughly 3 s")
    assert lines[1] == "[1/1] e1: E1: x1 + x2 > 1"
    epochs = [line.split()[:6] for line in lines[2:6]]
    assert epochs == [["epoch", "1/2", "minidl", "loss", "0.5000", "accuracy"],
                      ["epoch", "1/2", "Keras", "loss", "0.5000", "accuracy"],
                      ["epoch", "2/2", "minidl", "loss", "0.4000", "accuracy"],
                      ["epoch", "2/2", "Keras", "loss", "0.4000", "accuracy"]]
    assert all(line.endswith(" s") and "val_loss" not in line for line in lines[2:6])
    assert lines[6].strip().startswith("test accuracy minidl")
    assert lines[7].strip().startswith("done in") and "left" not in lines[7]  # nothing left
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_the_epoch_lines_overwrite_each_other():
    stream = io.StringIO()
    run_two_epochs(LabProgress([3.0], stream=stream, live=True))
    text = stream.getvalue()
    assert text.count("\r") == 4  # one per epoch per framework
    lines = text.split("\n")  # what stays on the terminal, line by line
    rewritten = [line for line in lines if "epoch " in line]
    assert len(rewritten) == 1 and rewritten[0].count("epoch ") == 4
    assert rewritten[0].rsplit("\r", 1)[1].split()[:3] == ["epoch", "2/2", "Keras"]
    assert lines[lines.index(rewritten[0]) + 1].strip().startswith("test accuracy")


def test_time_left_is_rescaled_by_the_pace_so_far():
    progress = LabProgress([10.0, 20.0, 30.0], stream=io.StringIO())
    assert progress.seconds_left() == 60.0  # nothing done: the estimate
    progress.seconds = [20.0]  # the first took twice its estimate
    assert progress.seconds_left() == pytest.approx(2 * (20.0 + 30.0))
