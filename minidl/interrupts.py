"""All or nothing with respect to Ctrl-C: a block that changes several things finishes first.

A KeyboardInterrupt can land between any two Python operations. In the middle of an
optimizer step it would leave Adam's `m` updated and `v` not, or the weights a step behind
their slots; in the middle of a weights load, half the layers old and half new; between
setting the CPU's flush-to-zero flags and noting what they were, the flags on for good.
`deferred_interrupt()` holds a Ctrl-C that arrives inside the block and raises it as soon as
the block is done, so the model is always in a state some whole step left it in.

How: Python raises KeyboardInterrupt from its SIGINT handler, which it runs in the main
thread between two bytecodes. For the length of the block that handler is swapped for one
that only notes the signal; on exit the old handler is put back and called with the signal
noted, which raises the KeyboardInterrupt there. Blocks nest: only the outermost one swaps
handlers, and the interrupt waits for it. In any other thread the block runs as it is
(Python delivers a Ctrl-C to the main thread only).
"""
import _signal  # signal.signal without the enum wrapping, which costs ~5 us a call
import signal
import threading

_holding = False  # True while the main thread is inside a deferred_interrupt block


class deferred_interrupt:
    """Context manager: a SIGINT received inside is raised when the (outermost) block ends."""

    __slots__ = ("_previous", "_received", "_active")

    def __enter__(self):
        global _holding
        self._active = False
        if _holding or threading.current_thread() is not threading.main_thread():
            return self
        previous = _signal.getsignal(signal.SIGINT)
        if previous is None:  # a handler installed from C: it cannot be put back, leave it
            return self
        self._previous, self._received = previous, None
        _signal.signal(signal.SIGINT, self._hold)  # from here on a Ctrl-C is only noted
        _holding = self._active = True
        return self

    def _hold(self, signum, frame):
        self._received = (signum, frame)

    def __exit__(self, *exc_info):
        global _holding
        if not self._active:
            return False
        _holding = self._active = False  # (a Ctrl-C arriving now is still only noted)
        _signal.signal(signal.SIGINT, self._previous)
        if self._received is not None:
            if callable(self._previous):
                self._previous(*self._received)  # default_int_handler raises KeyboardInterrupt
            elif self._previous == signal.SIG_DFL:
                raise KeyboardInterrupt
        return False

