"""TensorBoard: the logged numbers as scalar curves, in files TensorBoard reads.

Written with the tensorboard package's own event writer (`pip install tensorboard`; minidl
does not depend on it), into the folders Keras uses: `log_dir/train` and
`log_dir/validation`, one event file each. The tags are Keras's
(keras/src/callbacks/tensorboard.py):
    epoch_<key>                         every epoch, at step = epoch (train: the training
                                        keys and epoch_learning_rate; validation: the val_
                                        keys without their prefix)
    evaluation_<key>_vs_iterations      validation, at the end of each validation pass,
                                        at step = optimizer.iterations
    batch_<key>                         with update_freq="batch" or N: every N-th batch,
                                        at step = batches so far (from 1)
With update_freq=N > 1, Keras 3.15 writes an epoch's epoch_ and evaluation_ points only when
that epoch's last batch number is a multiple of N (the batches' record_if is still on);
minidl writes them every epoch.
"""
import os
import time

from minidl.callbacks.base import Callback

_NOT_SUPPORTED = {"histogram_freq": 0, "write_images": False, "profile_batch": 0,
                  "embeddings_freq": 0, "embeddings_metadata": None}


def _tensorboard():
    """The tensorboard package's writer and protocol buffers, or an error saying how to get them."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.scalar import metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError:
        raise ImportError(
            "The TensorBoard callback writes its files with the `tensorboard` package, which "
            "is not installed. Install it with `pip install tensorboard` (minidl itself does "
            "not need it), then open the curves with `tensorboard --logdir <log_dir>`.") from None
    return EventFileWriter, event_pb2, summary_pb2, metadata, tensor_util


class TensorBoard(Callback):
    """Write the loss, the metrics and the learning rate as TensorBoard scalars.

    Args:
        log_dir: the folder of the logs ("logs").
        update_freq: "epoch" (one point per epoch), "batch", or N (every N batches too).
        write_steps_per_second: also write the training speed.
        write_graph: accepted for Keras programs; minidl writes no graph.
        histogram_freq, write_images, profile_batch, embeddings_freq, embeddings_metadata:
            not implemented; only their "off" values are accepted.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        given = dict(histogram_freq=histogram_freq, write_images=write_images,
                     profile_batch=profile_batch, embeddings_freq=embeddings_freq,
                     embeddings_metadata=embeddings_metadata)
        for name, off in _NOT_SUPPORTED.items():
            if given[name] != off:
                raise ValueError(f"minidl's TensorBoard writes scalars only: `{name}` is not "
                                 f"implemented. Pass {name}={off!r}. Received: "
                                 f"{name}={given[name]!r}")
        self._modules = _tensorboard()  # fail here, not in the middle of fit
        self.log_dir, self.write_graph = str(log_dir), write_graph
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._global_train_batch = self._global_test_batch = 0

    # -- writing --------------------------------------------------------------------------------
    def _writer(self, kind):
        """The event file of "train" or "validation", created on first use (as Keras)."""
        if kind not in self._writers:
            EventFileWriter = self._modules[0]
            suffix = ".v2"  # the writer adds host, pid and a counter, as TensorFlow names them
            self._writers[kind] = EventFileWriter(os.path.join(self.log_dir, kind),
                                                  filename_suffix=suffix)
        return self._writers[kind]

    def _scalars(self, kind, values, step):
        """One event holding a float32 scalar per (tag, value), as tf.summary.scalar writes."""
        _, event_pb2, summary_pb2, metadata, tensor_util = self._modules
        summary_metadata = metadata.create_summary_metadata(display_name=None, description=None)
        for tag, value in values.items():
            tensor = tensor_util.make_tensor_proto(float(value), dtype="float32")
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
                tag=tag, tensor=tensor, metadata=summary_metadata)])
            self._writer(kind).add_event(
                event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    # -- hooks ----------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._epoch_start, self._epoch_start_iterations = time.time(), 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._epoch_start_iterations = self.model.optimizer.iterations

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq != 0:
            return
        values = {f"batch_{name}": value for name, value in (logs or {}).items()}
        if self.write_steps_per_second:
            values["batch_steps_per_second"] = 1.0 / (time.time() - self._batch_start)
        self._scalars("train", values, step)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_test_end(self, logs=None):
        iterations = self.model.optimizer.iterations
        self._scalars("validation", {f"evaluation_{name}_vs_iterations": value
                                     for name, value in (logs or {}).items()}, iterations)

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        train["epoch_learning_rate"] = float(self.model.optimizer.learning_rate)
        if self.write_steps_per_second:
            steps = self.model.optimizer.iterations - self._epoch_start_iterations
            train["epoch_steps_per_second"] = steps / (time.time() - self._epoch_start)
        self._scalars("train", train, epoch)
        validation = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        if validation:
            self._scalars("validation", validation, epoch)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
