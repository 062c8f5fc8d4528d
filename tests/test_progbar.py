"""minidl's Progbar must write the same bytes as Keras's, update for update.

Every test drives `keras.utils.Progbar` (built exactly as Keras's ProgbarLogger builds it) and
minidl's Progbar with the same clock readings and updates, and compares the two stdout streams.
"""
import contextlib
import io
import os
import sys
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl import progbar

import keras.src.utils.progbar as keras_progbar

T0 = 1_700_000_000.0  # a realistic time.time() value, so float rounding is realistic too


class FakeClock:
    """A time.time() replacement that returns whatever the test set last."""

    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now


LOGGER = {"stateless_metrics": set()}  # as keras/src/callbacks/progbar_logger.py builds it


def make_keras(target, verbose, **options):
    """Keras's bar: as its ProgbarLogger builds it, unless other options are given."""
    return keras_progbar.Progbar(target=target, verbose=verbose, unit_name="step",
                                 **(options or LOGGER))


def make_minidl(target, verbose, **options):
    """minidl's bar with the same settings."""
    return progbar.Progbar(target=target, verbose=verbose, unit_name="step",
                           **(options or LOGGER))


def run(make_bar, target, verbose, steps, start=T0, **options):
    """Drive one bar through `steps`, [(time, current, values, finalize)]; return its stdout."""
    clock = FakeClock(start)
    out = io.StringIO()
    with (
        mock.patch.object(keras_progbar, "time", SimpleNamespace(time=clock)),
        mock.patch.object(progbar, "_now", clock),
        contextlib.redirect_stdout(out),
    ):
        bar = make_bar(target, verbose, **options)
        for now, current, values, finalize in steps:
            clock.now = now
            bar.update(current, values, finalize=finalize)
    return out.getvalue()


def assert_same_stream(target, verbose, steps, start=T0, **options):
    """Both bars must print the same bytes; returns Keras's output for extra checks."""
    theirs = run(make_keras, target, verbose, steps, start, **options)
    ours = run(make_minidl, target, verbose, steps, start, **options)
    assert ours == theirs
    return theirs


def epoch(target, seconds_per_step, values=(), first_step=None):
    """Steps 1..target of an epoch as ProgbarLogger sends them, then the finalize update."""
    first_step = seconds_per_step if first_step is None else first_step
    steps, now = [], T0
    for current in range(1, target + 1):
        now += first_step if current == 1 else seconds_per_step
        steps.append((now, current, list(values), False))
    steps.append((now, target, list(values), True))
    return steps


def test_live_bar_with_throttled_updates():
    # 0.01 s apart: most redraws fall inside the 0.05 s interval and are skipped
    steps = epoch(12, 0.01, [("accuracy", 0.5), ("loss", 0.75)], first_step=0.3)
    out = assert_same_stream(12, 1, steps)
    assert out.count("\r") < 12 and out.endswith("\n")


def test_redraw_exactly_one_interval_later_is_drawn():
    # The clock starts at 0 so that "now - last update" can be exactly 0.05.
    steps = [(0.05, 1, [("loss", 0.5)], False), (0.1, 2, [("loss", 0.4)], False)]
    out = assert_same_stream(4, 1, steps, start=0.0)
    assert out.count("\r") == 2


def test_live_bar_every_update_drawn():
    assert_same_stream(5, 1, epoch(5, 0.2, [("loss", 1.25)]))


def test_target_with_more_digits_than_current():
    steps = [(T0 + 0.1 * i, current, [("loss", 2.0 / current)], False)
             for i, current in enumerate([1, 5, 50, 500, 1874], start=1)]
    steps.append((T0 + 1.0, 1875, [("loss", 0.001)], True))
    out = assert_same_stream(1875, 1, steps)
    assert "   1/1875" in out


@pytest.mark.parametrize("verbose", [1, 2])
def test_small_negative_and_tiny_values(verbose):
    values = [
        ("loss", 9.9399e-07), ("mae", 9.9699e-04), ("tiny", 1.0000e-06),
        ("edge", 0.00100002), ("exactly", 1e-3), ("neg", -0.5), ("neg_small", -1e-4),
        ("zero", 0.0), ("f32", np.float32(0.001)), ("f64", np.float64(-3.25)), ("int", 7),
    ]
    out = assert_same_stream(3, verbose, epoch(3, 0.013, values))
    assert "1.0000e-06" in out


@pytest.mark.parametrize("seconds_per_step", [0.7, 2.0])  # ETA over 60 s, then over 3600 s
def test_eta_minutes_and_hours(seconds_per_step):
    steps = [(T0 + seconds_per_step * c, c, [("loss", 0.5)], False) for c in (1, 2, 3)]
    out = assert_same_stream(5000, 1, steps)
    assert ":" in out


@pytest.mark.parametrize("seconds_per_step", [2.0, 0.013, 0.00005, 0.0])  # s, ms, us, zero
def test_time_per_step_units(seconds_per_step):
    assert_same_stream(4, 1, epoch(4, seconds_per_step, [("loss", 0.25)], first_step=1.0))


def test_verbose_2_prints_one_line_at_the_end():
    values = [("accuracy", 0.7429), ("loss", 0.6150), ("val_loss", -0.002)]
    out = assert_same_stream(3, 2, epoch(3, 0.013, values))
    assert out.count("\n") == 1


def test_shorter_final_line_is_padded():
    steps = [
        (T0 + 1.0, 1, [("loss", 12345.678), ("accuracy", 0.1)], False),
        (T0 + 4000.0, 2, [("loss", 2345.5)], False),  # long ETA "h:mm:ss"
        (T0 + 4000.1, 3, [("loss", 0.5)], True),  # elapsed "4000s" and a shorter value
    ]
    out = assert_same_stream(1000, 1, steps)
    assert out.rstrip("\n").endswith(" ")


def test_keys_keep_first_seen_order():
    steps = [
        (T0 + 0.1, 1, [("loss", 0.9)], False),
        (T0 + 0.2, 2, [("accuracy", 0.4), ("loss", 0.8)], False),
        (T0 + 0.3, 2, [("accuracy", 0.5), ("loss", 0.7), ("val_accuracy", 0.6),
                       ("val_loss", 0.65)], True),
    ]
    assert_same_stream(2, 1, steps)


def test_unknown_target():
    steps = [(T0 + 0.1 * c, c, [("loss", 0.5)], False) for c in (1, 2, 3)]
    steps.append((T0 + 0.4, 3, [("loss", 0.4)], True))
    assert_same_stream(None, 1, steps)


def test_finalize_defaults_to_reaching_the_target():
    steps = [(T0 + 0.1 * c, c, [("loss", 0.5)], None) for c in (1, 2, 3)]
    assert_same_stream(3, 1, steps)


def test_non_dynamic_display_starts_new_lines():
    # Off POSIX, outside notebooks and terminals, Keras writes "\n" instead of "\b...\r".
    with mock.patch.dict(sys.modules), mock.patch.dict(os.environ):
        del sys.modules["posix"]
        sys.modules.pop("ipykernel", None)
        os.environ.pop("PYCHARM_HOSTED", None)
        out = assert_same_stream(3, 1, epoch(3, 0.1, [("loss", 0.5)]))
    assert "\r" not in out and out.startswith("\n")


# Property: any sequence of updates gives the same bytes.

values_st = st.lists(
    st.tuples(
        st.sampled_from(["loss", "accuracy", "mae", "val_loss", "val_accuracy"]),
        st.one_of(
            st.floats(-1e5, 1e5),
            st.sampled_from([1e-3, -1e-3, 0.00100002, 1e-6, 0.0, -0.0]),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
    ),
    max_size=4,
)
step_st = st.tuples(
    st.one_of(st.sampled_from([0.0, 0.05]), st.floats(0, 0.06), st.floats(0, 5000)),  # seconds
    st.integers(0, 40),  # steps since the last update
    values_st,
    st.sampled_from([False, False, None, True]),
)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(
    start=st.sampled_from([T0, 0.0]),
    target=st.one_of(st.none(), st.integers(1, 20000)),
    verbose=st.sampled_from([1, 2]),
    deltas=st.lists(step_st, min_size=1, max_size=8),
)
def test_random_update_sequences_match_keras(start, target, verbose, deltas):
    steps, now, current = [], start, 0
    for dt, dc, values, finalize in deltas:
        now, current = now + dt, current + dc
        steps.append((now, current, values, finalize))
    assert_same_stream(target, verbose, steps, start)


@settings(max_examples=15, derandomize=True, deadline=None)
@given(
    options=st.sampled_from([{"stateful_metrics": None}, {"stateful_metrics": ["loss"]},
                             {"stateless_metrics": ["accuracy", "mae"]}]),
    target=st.one_of(st.none(), st.integers(1, 200)),
    verbose=st.sampled_from([1, 2]),
    deltas=st.lists(step_st, min_size=1, max_size=8),
)
def test_the_bar_on_its_own_averages_values_over_steps_as_keras(options, target, verbose, deltas):
    """keras.utils.Progbar used directly: each value not declared stateful is shown as its
    average over the steps, weighted by the steps since its last update."""
    steps, now, current = [], T0, 0
    for dt, dc, values, finalize in deltas:
        now, current = now + dt, current + dc
        steps.append((now, current, values, finalize))
    assert_same_stream(target, verbose, steps, **options)


def test_averaging_shows_the_mean_and_both_kinds_of_list_together_are_refused():
    steps = [(T0 + 1, 1, [("loss", 1.0)], False), (T0 + 2, 3, [("loss", 4.0)], True)]
    out = assert_same_stream(3, 2, steps[:1] + [(T0 + 2, 3, [("loss", 4.0)], False),
                                                (T0 + 2, 3, [], True)], stateful_metrics=None)
    assert "loss: 3.0000" in out  # (1 * 1 + 4 * 2) / 3, not the last value 4
    assert_same_stream(3, 1, steps, stateful_metrics=None)
    with pytest.raises(ValueError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        progbar.Progbar(3, stateful_metrics=[], stateless_metrics=[])
