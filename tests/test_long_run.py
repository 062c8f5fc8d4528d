"""A long run (50 epochs) keeps its memory flat: nothing accumulates from epoch to epoch.

Memory is measured with tracemalloc (what Python and NumPy allocate), not wall-clock time:
speed lives in the benchmark (`python -m reference.bench`), not in assertions. What is
counted is every block of 512 bytes or more, which is where arrays keep their numbers: a
batch's worth of anything kept per step shows there at once. Smaller blocks are left out
because Python keeps freed small objects (tuples, floats) on free lists for reuse, which
tracemalloc still counts as held: they fill up slowly over a run without being a leak.
"""
import tracemalloc

import numpy as np

import minidl
from minidl.layers import Dense


def test_fifty_epochs_do_not_grow_memory():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 20)).astype(np.float32)
    y = rng.integers(0, 4, 512)
    model = minidl.Sequential([Dense(64, activation="relu", input_shape=(20,)),
                               Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    held = []

    def record(epoch, logs):
        snapshot = tracemalloc.take_snapshot()
        held.append(sum(trace.size for trace in snapshot.traces if trace.size >= 512))

    tracemalloc.start()
    try:
        history = model.fit(x, y, epochs=50, batch_size=32, validation_split=0.2, verbose=0,
                            callbacks=[minidl.callbacks.LambdaCallback(on_epoch_end=record)])
    finally:
        tracemalloc.stop()
    assert len(history.history["loss"]) == 50
    # After the first epochs have built every buffer, the memory held stays put: the only
    # growth allowed is History's 4 floats per epoch (a few KB over the run).
    growth = held[-1] - held[4]
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 45 epochs"
