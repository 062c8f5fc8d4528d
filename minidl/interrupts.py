"""All or nothing with respect to Ctrl-C: a block that changes several things finishes first.

A KeyboardInterrupt can land between any two Python operations. In the middle of an
optimizer step it would leave Adam's `m` updated and `v` not, or the weights a step behind
their slots; in the middle of a weights load, half the layers old and half new.
`deferred_interrupt()` holds a Ctrl-C that arrives inside the block and raises it as soon as
the block is done, so the model is always in a state some whole step left it in.

Python runs signal handlers in the main thread only; in any other thread the block runs
as it is (a Ctrl-C is then delivered to the main thread anyway).
"""
import signal
import threading


class deferred_interrupt:
    """Context manager: a SIGINT received inside is raised when the block ends."""

    __slots__ = ("_previous", "_received")

    def __enter__(self):
        self._previous = None
        self._received = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        self._received = (signum, frame)

    def __exit__(self, *exc_info):
        if self._previous is None:
            return False
        signal.signal(signal.SIGINT, self._previous)
        if self._received is not None:
            previous = self._previous
            if callable(previous):
                previous(*self._received)  # default_int_handler raises KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt
        return False
