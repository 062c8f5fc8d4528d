"""Ctrl-C at a chosen moment: `CtrlCAt(k)` traces the calling thread (sys.settrace, every
line or every bytecode) and sends SIGINT to the process at the k-th event. Python then runs its
SIGINT handler at its next chance, possibly inside the tracer itself, so the KeyboardInterrupt
lands at that event or soon after, as a real Ctrl-C would. Sweeping k over the events of a call
puts one interrupt at every (or every n-th) point of it."""
import signal
import sys

import numpy as np


class CtrlCAt:
    """Send SIGINT to this process at the k-th traced event of this thread (k=None: count)."""

    def __init__(self, k=None, opcodes=False):
        self.k, self.opcodes, self.count = k, opcodes, 0

    def _trace(self, frame, event, arg):
        if self.opcodes:
            frame.f_trace_opcodes = True
        self.count += 1
        if self.count == self.k:
            signal.raise_signal(signal.SIGINT)
        return self._trace

    def __enter__(self):
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info):
        sys.settrace(None)
        if self.k is not None and self.count < self.k and exc_info[0] is None:
            # This run had fewer events than the one counted (minidl looks at the machine's
            # load every quarter second, which adds events to some runs): the Ctrl-C comes
            # just after the call, as it would have at its last event.
            signal.raise_signal(signal.SIGINT)
        return False


def count_events(call, opcodes=False):
    with CtrlCAt(None, opcodes) as counter:
        call()
    return counter.count


class FindCalls(CtrlCAt):
    """Counts events, noting those inside functions named `name` in files ending `suffix`."""

    def __init__(self, name, suffix, opcodes=False):
        super().__init__(None, opcodes)
        self.name, self.suffix, self.inside = name, suffix, []

    def _trace(self, frame, event, arg):
        code = frame.f_code
        if code.co_name == self.name and code.co_filename.endswith(self.suffix):
            self.inside.append(self.count + 1)
        return super()._trace(frame, event, arg)


def interrupted(call, k, opcodes=False):
    """Run call() with a Ctrl-C at event k; True if a KeyboardInterrupt came out of it."""
    try:
        with CtrlCAt(k, opcodes):
            call()
            for _ in range(3):  # a signal sent at the very last event is handled here
                pass
    except KeyboardInterrupt:
        return True
    return False


def spread(total, points):
    """About `points` event numbers spread evenly over 1..total (all of them if fewer)."""
    return sorted(set(np.linspace(1, total, min(points, total)).astype(int).tolist()))
