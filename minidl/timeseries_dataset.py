"""Sliding windows over a series, as Keras's keras/src/utils/timeseries_dataset_utils.py.

    ds = timeseries_dataset_from_array(data[:-delay], targets=temperature[delay:],
                                       sequence_length=120, sampling_rate=6, batch_size=256)
    for windows, targets in ds: ...       windows (B, L, ...) and targets (B, ...)

Shapes: T time steps (axis 0 of data), L sequence_length, B batch size.
"""
import numpy as np

from minidl.dataset_utils import BatchDataset, check_format


def _as_array(values):
    """data or targets as an array: a NumPy array keeps its dtype; a list becomes the
    tensor TensorFlow makes of it (Python floats float32, ints int32), as Keras's
    tf.data.Dataset.from_tensors(values[start:end])."""
    if isinstance(values, np.ndarray):
        return values
    values = np.asarray(values)
    if values.dtype == np.float64:
        return values.astype(np.float32)
    if values.dtype == np.int64:
        return values.astype(np.int32)
    return values


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None, format="tf"):
    """Batches of windows over `data` (and the target of each window's first step).

    Formula (s = start_index, e = end_index, r = sampling_rate, L = sequence_length):
        n = (e - s) - (L - 1) * r, cut to len(targets) when there are targets
        window k starts at p_k = k * sequence_stride, for p_k < n:
            x_k = data[s + p_k + j * r] for j = 0 .. L-1       (L, ...)
            y_k = targets[s + p_k]                              (...)
    Windows that would run past e are not made; the last batch may be short.

    With shuffle=True, Keras shuffles the start positions with NumPy's RandomState(seed)
    (minidl does the same: the same windows in the same permuted order) and then shuffles
    windows again in a tf.data buffer of 8 * batch_size, with TensorFlow's generator; minidl
    draws that second shuffle from its own generator (dataset_utils.buffer_shuffle), so the
    batches hold the same windows as Keras's in another order.

    Args:
        data: array (T, ...) (or a list), time on axis 0.
        targets: array (T', ...), targets[i] the target of the window starting at i; or None
            (then the dataset yields the windows alone).
        sequence_length: L, steps per window.
        sequence_stride: steps between the starts of successive windows.
        sampling_rate: steps between successive steps of a window.
        batch_size: windows per batch (None: single windows, no batch axis).
        shuffle: shuffle the windows (see above); False keeps time order.
        seed: seed for the shuffle (None: drawn from NumPy's global generator, as Keras).
        start_index, end_index: use data[start_index:end_index] only (None: all of it).
        format: "tf" (the only one minidl has; its result is a BatchDataset, not tf.data).

    Returns:
        A BatchDataset of (windows, targets) batches, or of windows if targets is None.
    """
    if start_index:
        if start_index < 0:
            raise ValueError("`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= len(data):
            raise ValueError("`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length "
                             f"{len(data)}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= len(data):
            raise ValueError("`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length "
                             f"{len(data)}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
        if value >= len(data):
            raise ValueError(f"`{name}` must be lower than the length of the data. Received: "
                             f"{name}={value}, for data of length {len(data)}")
    check_format(format)

    start = 0 if start_index is None else start_index
    end = len(data) if end_index is None else end_index
    n = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        n = min(n, len(targets))
    positions = np.arange(0, n, sequence_stride, dtype="int32" if n < 2**31 - 1 else "int64")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(positions)  # Keras's own, reproducible shuffle

    series = _as_array(data)[start:end]  # (T_used, ...)
    labels = None if targets is None else _as_array(targets)[start:end]
    steps = np.arange(sequence_length) * sampling_rate  # (L,)

    def load(indices):
        p = positions[indices]  # (B,)
        windows = series[p[:, None] + steps[None, :]]  # (B,1)+(1,L) -> (B,L,...)
        return windows if labels is None else (windows, labels[p])  # labels[p]: (B,...)

    buffer = None if not shuffle else (1024 if batch_size is None else 8 * batch_size)
    return BatchDataset(len(positions), load, batch_size, shuffle_buffer=buffer,
                        seed=seed if shuffle else None)
