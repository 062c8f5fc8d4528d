"""Saving while training: ModelCheckpoint (the model or its weights, every epoch or the best
one) and BackupAndRestore (resume an interrupted fit where it stopped).

Both save through the model's own `save` / `save_weights` (minidl/saving/), whose writes are
atomic: a file is either the old one or the complete new one, never half written.
"""
import json
import os
import shutil
import warnings

from minidl.callbacks.base import Callback
from minidl.callbacks.monitor import MonitorCallback

WEIGHT_FILES = (".weights.h5", ".weights.npz")


class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) during training, every epoch or every few batches.

    Args:
        filepath: where to save; may name the epoch and any log value, e.g.
            "ckpt/{epoch:02d}-{val_loss:.2f}.keras" (epochs count from 1 here).
        monitor: the log key that decides which model is best.
        verbose: 1 prints a line per save (Keras's messages).
        save_best_only: save only when the monitored value improves on the best so far.
        save_weights_only: `save_weights` (".weights.h5" or ".weights.npz") instead of
            `save` (".keras").
        mode: "min", "max" or "auto" for the monitored value.
        save_freq: "epoch", or an integer: save every that many batches.
        initial_value_threshold: the value to beat at the start (with save_best_only).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose, self.filepath = verbose, os.fspath(filepath)
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving, self._last_batch_seen = 0, None
        self._current_epoch = 0
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             "'epoch' or integer values")
        if save_weights_only and not self.filepath.endswith(WEIGHT_FILES):
            raise ValueError(
                "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                "provided must end in `.weights.h5` (Keras weights format) or `.weights.npz`. "
                f"Received: filepath={self.filepath}")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format). "
                             f"Received: filepath={self.filepath}")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._set_direction()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        """True every `save_freq` batches, counted across epochs."""
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:  # a new epoch
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save(self, epoch, logs, filepath):
        """With save_best_only: has the monitored value improved? (Keras's messages.)"""
        if not self.save_best_only:
            self._say(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            self._say(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        self._say(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        if not self._should_save(epoch, logs, filepath):
            return
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        self._say(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _file_path(self, epoch, batch, logs):
        """filepath with {epoch} (from 1), {batch} (from 1) and the log values filled in."""
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {error}") from None

    def _say(self, message):
        if self.verbose > 0:
            print(message)


class BackupAndRestore(Callback):
    """Back up the training state every epoch; a fit restarted after a crash resumes from it.

    Args:
        backup_dir: the folder of the backup: `latest.weights.h5` (the weights and the
            optimizer's state) and `training_metadata.json` (the next epoch to run).
        save_freq: "epoch", or an integer: back up every that many batches. (As in Keras,
            a fit resumed from a mid-epoch backup starts that epoch again from the backed-up
            weights, so it does not end exactly where an uninterrupted fit would.)
        double_checkpoint: keep the previous backup as `*.bkp`, used if the latest is corrupt.
        delete_checkpoint: delete the backup when fit ends normally.
    At the start of fit, if a backup exists, the weights and optimizer state are loaded and
    fit starts at the backed-up epoch (through `model._initial_epoch`, as Keras's fit).
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError("Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch' or an integer value.")
        self.backup_dir, self.save_freq = os.fspath(backup_dir), save_freq
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._batches_seen_since_last_saving = self._last_batch_seen = self._current_epoch = 0

    def on_train_begin(self, logs=None):
        try:
            self._load()
        except (OSError, ValueError):  # a corrupt latest backup: fall back to the previous one
            if not os.path.exists(self._weights_path + ".bkp"):
                raise
            shutil.copy(self._weights_path + ".bkp", self._weights_path)
            if os.path.exists(self._metadata_path + ".bkp"):
                shutil.copy(self._metadata_path + ".bkp", self._metadata_path)
            elif os.path.exists(self._metadata_path):
                os.remove(self._metadata_path)
            self._load()

    def _load(self):
        """Weights, optimizer state and the epoch to start at, from the backup if there is one."""
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, you model must be built before you "
                f"call `fit()`. Model {self.model} is unbuilt. You can build it beforehand by "
                "calling it on a batch of data.")
        if os.path.exists(self._weights_path):
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:
                optimizer.build(self.model.trainable_weights)  # slots to load into
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._metadata_path):
            with open(self._metadata_path) as f:
                self.model._initial_epoch = json.load(f)["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save()

    def _save(self):
        """The weights, then the epoch to resume at; each file written whole or not at all."""
        os.makedirs(self.backup_dir, exist_ok=True)
        for path in (self._weights_path, self._metadata_path):
            if self.double_checkpoint and os.path.exists(path):
                shutil.copy(path, path + ".bkp")
        self.model.save_weights(self._weights_path, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        temporary = self._metadata_path + ".tmp"
        with open(temporary, "w") as f:
            f.write(json.dumps(metadata))
        os.replace(temporary, self._metadata_path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
