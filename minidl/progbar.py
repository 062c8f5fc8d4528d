"""The progress bar `fit`, `evaluate` and `predict` print: the same bytes as `keras.utils.Progbar`.

    938/938 ━━━━━━━━━━━━━━━━━━━━ 3s 2ms/step - accuracy: 0.8916 - loss: 0.3733

Keras's ProgbarLogger passes the model's running means (`stateless_metrics=set()`), so the bar
shows every value as given. Used on its own, as `keras.utils.Progbar`, the bar shows the
average of each value over the steps it was given for, unless it is named in
`stateful_metrics` (or not named in `stateless_metrics`). This module uses the standard
library only. The reference is `keras/src/utils/progbar.py`.
"""
import logging
import os
import re
import sys
import time

_now = time.time  # The clock; tests replace it to get deterministic timings.

BOLD, GREEN, WHITE, RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_ANSI_CODE = re.compile(r"\x1b\[\d+m")
_BAR_CHAR = "\u2501"  # "━", a heavy horizontal line


def _visible_len(text):
    """Length of `text` on screen, ANSI colour codes excluded."""
    return len(_ANSI_CODE.sub("", text))


def _format_eta(eta):
    """Seconds left as '7s', '1:05' or '1:00:05' (truncated, like Keras)."""
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


def _format_time_per_unit(seconds, unit_name):
    """' 2s/step', ' 13ms/step' or ' 850us/step' (with the leading space)."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1000.0:.0f}ms/{unit_name}"
    return f" {seconds * 1000000.0:.0f}us/{unit_name}"


def _format_value(value, use_abs):
    """'0.3733', or '3.6084e-04' for small values; verbose=2 compares without abs()."""
    big = abs(value) > 1e-3 if use_abs else value > 1e-3
    return f"{value:.4f}" if big else f"{value:.4e}"


_interactive_logging = True  # Keras's io_utils switch: False sends the bars to logging


def enable_interactive_logging():
    """Progress bars and epoch lines go to sys.stdout (the default)."""
    global _interactive_logging
    _interactive_logging = True


def disable_interactive_logging():
    """Progress bars and epoch lines go to the "minidl" logger at INFO level instead of
    stdout (Keras sends them to absl.logging), as for a run writing to a log file."""
    global _interactive_logging
    _interactive_logging = False


def is_interactive_logging_enabled():
    return _interactive_logging


def _write(message):
    """Write to the current sys.stdout (so captured and notebook output work) and flush."""
    if not _interactive_logging:
        logging.getLogger("minidl").info(message.rstrip("\n"))
        return
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:  # e.g. a cp1252 pipe: fall back to Keras 2's "=" bar
        sys.stdout.write(message.replace(_BAR_CHAR, "="))
    sys.stdout.flush()


class Progbar:
    """A progress bar that redraws one line (verbose=1) or prints one line at the end (verbose=2).

    Args:
        target: Total number of steps expected, or None if unknown.
        width: Width of the bar, in characters.
        verbose: 0 (silent), 1 (a live bar) or 2 (one line when finished).
        interval: Minimum time in seconds between two redraws of the live bar.
        stateful_metrics: names of values to show as given; every other one is averaged
            over the steps (weighted by the steps since its last update).
        stateless_metrics: or the other way round: names of the values to average.
        unit_name: Name of a step in the time-per-step field ("step" or "sample").
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                "`stateful_metrics` is used to make metrics stateless by default (with an "
                "exclusion list), while `stateless_metrics` is used to make metrics stateful "
                "by default (with an inclusion list).")
        self.stateful_metrics = None if stateless_metrics is not None else set(
            stateful_metrics or [])
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        # Keras redraws in place with "\b" and "\r" on any POSIX system, in a notebook or a
        # terminal; elsewhere it starts a new line for every update.
        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ
        )
        self._values = {}  # name -> [sum of value * steps, steps]; in first-seen order
        self._seen_so_far = 0
        self._start = _now()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Record `values` (a list of (name, value) pairs) at step `current` and redraw.

        Args:
            current: Index of the current step (1-based).
            values: List of `(name, value)` pairs, shown as given.
            finalize: Whether this is the last update; defaults to `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or []:  # recorded even if this redraw is throttled
            averaged = (name not in self.stateful_metrics if self.stateful_metrics is not None
                        else name in self.stateless_metrics)
            if averaged and not finalize:
                steps = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, (0, 0))
                self._values[name] = [total + value * steps, count + steps]
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current
        now = _now()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            _write(self._live_line(current, now, time_per_unit, finalize))
        elif self.verbose == 2 and finalize and self._has_target():
            _write(self._final_line(current, now, time_per_unit))
        self._last_update = now

    def _shown(self):
        """(name, value to show): the average over the steps, or the value as given."""
        return [(name, total / max(1, count))
                for name, (total, count) in self._values.items()]

    def _has_target(self):
        """Whether the number of steps is known (and positive)."""
        return self.target is not None and self.target > 0

    def _live_line(self, current, now, time_per_unit, finalize):
        """The verbose=1 message: erase the previous line, then count, bar, times, metrics."""
        if self._has_target():
            digits = len(str(int(self.target)))
            count = f"%{digits}d/%d" % (current, self.target)
            done = int(self.width * float(current) / self.target)
            bar = f"{BOLD}{count}{RESET} "
            if done > 0:
                bar += f"{GREEN}{_BAR_CHAR * done}{RESET}"
            bar += f"{WHITE}{_BAR_CHAR * (self.width - done)}{RESET}"  # even when empty
        else:
            bar = "%7d/Unknown" % current

        if self._has_target() and not finalize:
            eta = time_per_unit * (self.target - current)
            info = f" {BOLD}{_format_eta(eta)}{RESET}"
        else:
            info = f" {BOLD}{now - self._start:.0f}s{RESET}"  # elapsed time
        info += _format_time_per_unit(time_per_unit, self.unit_name)
        for name, value in self._shown():
            info += f" - {name}: {_format_value(value, use_abs=True)}"

        message = "\b" * self._prev_total_width + "\r" if self._dynamic_display else "\n"
        message += bar + info
        total_width = _visible_len(bar + info)
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)  # hide the older, longer line
        if finalize:
            message += "\n"
        self._prev_total_width = total_width
        return message

    def _final_line(self, current, now, time_per_unit):
        """The verbose=2 line: '3/3 - 0s - 13ms/step - loss: 0.6150'."""
        digits = len(str(int(self.target)))
        count = f"%{digits}d/%d" % (current, self.target)
        line = f"{count} - {now - self._start:.0f}s"
        line += " -" + _format_time_per_unit(time_per_unit, self.unit_name)
        for name, value in self._shown():
            line += f" - {name}: {_format_value(value, use_abs=False)}"
        return line + "\n"

    def _estimate_step_duration(self, current, now):
        """Seconds per step, leaving out the slow, non-representative first step when possible."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit
