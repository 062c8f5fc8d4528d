"""What `minidl lab` prints while it works: the plan and its rough length, every epoch, each result.

    Loading TensorFlow and the data ...
    9 experiments, each trained in minidl and then in Keras: 205 epochs each, roughly 1 min 21 s
    [1/9] fashion_mnist: Image classifier (Fashion-MNIST, 784 inputs), 512 relu units
          Images: Fashion-MNIST instead of MNIST: MNIST is not in the cache and could not be
            downloaded (no network connection: the download server's name could not be resolved).
          epoch 1/5  minidl  loss 0.5163  accuracy 0.8150      1.9 s
          epoch 1/5  Keras   loss 0.5164  accuracy 0.8152      6.7 s
          ...
          test accuracy minidl 0.8569, Keras 0.8616 (difference -0.0047)
          test predictions: 95.68% same class; max |history diff| 3.9e-04
          done in 38.2 s; about 45 s left
    [2/9] e1: E1: x1 + x2 > 1, 64 relu units
    ...

On a terminal the epoch lines overwrite each other, so each experiment keeps one line of them;
elsewhere (a log file, a test) every epoch of each framework gets its own line.
"""
import math
import sys
import textwrap
import time

# A rough model of how long one experiment takes, both frameworks together:
#   EXPERIMENT + epochs * (EPOCH + steps * STEP + rows * multiply-adds per row * MULTIPLY_ADD)
# fitted to three runs of the lab on a 2-core Xeon @ 2.80 GHz: E1 (30 epochs of 20 steps, 640
# rows, 192 multiply-adds per row) 6.0 s; E5-2000 (20 epochs of 44 steps) 5.7 s; 3 epochs of the
# image task on Fashion-MNIST (938 steps, 60,000 rows, 406,528 multiply-adds per row) 24.0 s.
# With EXPERIMENT = 1 s (the Keras twin, evaluate, predict, the pictures), the two small runs
# give EPOCH (a fit call of each framework, with validation) and STEP (mostly Keras's per-step
# overhead); the image run then gives MULTIPLY_ADD. A busy machine takes longer: the lines
# that end each experiment rescale what is left by how long the finished ones took.
EXPERIMENT_SECONDS = 1.0
EPOCH_SECONDS = 0.11
STEP_SECONDS = 0.00285
MULTIPLY_ADD_SECONDS = 2.0e-10


def multiply_adds_per_row(experiment, input_dim):
    """Multiply-adds of one row's forward pass: D*U + U*C."""
    return input_dim * experiment.units + experiment.units * experiment.outputs


def estimate_seconds(experiment, n_train, input_dim, epochs):
    """Roughly how long `experiment` takes on `n_train` rows for `epochs` epochs, in seconds."""
    steps = math.ceil(n_train / experiment.batch_size)
    per_epoch = (EPOCH_SECONDS + steps * STEP_SECONDS
                 + n_train * multiply_adds_per_row(experiment, input_dim) * MULTIPLY_ADD_SECONDS)
    return EXPERIMENT_SECONDS + epochs * per_epoch


def duration(seconds):
    """'45 s', '3 min', '1 min 40 s': a rough length for people."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min" + (f" {rest} s" if rest and minutes < 10 else "")


class LabProgress:
    """Prints the lab's progress: the plan, a line per epoch per framework, each result.

    Args:
        estimates: the estimated seconds of each experiment, in the order they run.
        stream: where to print (default: sys.stdout at the time of each print).
        live: overwrite the epoch lines in place (default: when the stream is a terminal).
    """

    INDENT = " " * 6

    def __init__(self, estimates, stream=None, live=None):
        self.estimates = list(estimates)
        self._stream = stream
        self.live = self.stream.isatty() if live is None else live
        self.seconds = []  # what each finished experiment took
        self.started = None  # time.perf_counter() when the running experiment started
        self.epochs = 0  # epochs of the running experiment
        self._pending = 0  # length of the epoch line left open on a terminal, 0 if none

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def print(self, text=""):
        """One finished line (closing an open epoch line first)."""
        if self._pending:
            self.stream.write("\n")
            self._pending = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def plan(self, count, epochs_each):
        """The opening line: how many experiments, how many epochs, roughly how long."""
        self.print(f"{count} experiment{'s' if count != 1 else ''}, each trained in minidl and "
                   f"then in Keras: {epochs_each} epochs each, roughly "
                   f"{duration(sum(self.estimates))}")

    def experiment_started(self, number, count, name, title, epochs):
        """'[2/9] e1: E1: x1 + x2 > 1, 64 relu units', and the clock starts."""
        self.print(f"[{number}/{count}] {name}: {title}")
        self.started, self.epochs = time.perf_counter(), epochs

    def note(self, text):
        """Indented lines under the experiment's heading, wrapped at 100 characters."""
        self.print(textwrap.fill(text, width=100, initial_indent=self.INDENT,
                                 subsequent_indent=self.INDENT + "  "))

    def epoch_ended(self, framework, epoch, logs, keys):
        """'epoch 3/30  minidl  loss 0.4512  accuracy 0.8125    2.1 s' (time since it started)."""
        values = "  ".join(f"{key} {float(logs[key]):.4f}" for key in keys if key in logs)
        elapsed = time.perf_counter() - self.started
        width = len(str(self.epochs))
        line = (f"{self.INDENT}epoch {epoch + 1:>{width}}/{self.epochs}  {framework:<6}  "
                f"{values}  {elapsed:7.1f} s")
        if self.live:
            self.stream.write("\r" + line.ljust(self._pending))
            self._pending = len(line)
            self.stream.flush()
        else:
            self.print(line)

    def epoch_callback(self, framework, keys):
        """`on_epoch_end(epoch, logs)` for either framework's LambdaCallback."""
        return lambda epoch, logs=None: self.epoch_ended(framework, epoch, logs or {}, keys)

    def experiment_ended(self, summary):
        """The experiment's `summary` lines, then 'done in 6.0 s; about 1 min 40 s left'."""
        self.seconds.append(time.perf_counter() - self.started)
        for line in summary:
            self.note(line)
        text = f"done in {self.seconds[-1]:.1f} s"
        if len(self.seconds) < len(self.estimates):
            text += f"; about {duration(self.seconds_left())} left"
        self.note(text)

    def seconds_left(self):
        """The estimate for the experiments still to run, scaled by how the finished ones went."""
        done = len(self.seconds)
        pace = sum(self.seconds) / sum(self.estimates[:done]) if done else 1.0
        return pace * sum(self.estimates[done:])
