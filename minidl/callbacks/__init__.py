"""Callbacks: code that fit, evaluate and predict call at fixed points, with Keras's hook names.

Order of calls inside fit (as Keras):
    on_train_begin
    for each epoch:  on_epoch_begin -> [on_train_batch_begin -> step -> on_train_batch_end]*
                     -> (validation: on_test_begin -> on_test_batch_* -> on_test_end)
                     -> on_epoch_end(logs with val_ keys)
    on_train_end
The callbacks run in the order given, then History, then the progress bar.

    base.py         Callback, CallbackList, History, ProgbarLogger
    monitor.py      EarlyStopping, ReduceLROnPlateau: watch one logged value
    simple.py       LambdaCallback, TerminateOnNaN, LearningRateScheduler, CSVLogger
    checkpoint.py   ModelCheckpoint, BackupAndRestore: save while training, resume after a crash
    tensorboard.py  TensorBoard: scalars, with the tensorboard package's writer
"""
from minidl.callbacks.base import Callback, CallbackList, History, ProgbarLogger
from minidl.callbacks.checkpoint import BackupAndRestore, ModelCheckpoint
from minidl.callbacks.monitor import EarlyStopping, MonitorCallback, ReduceLROnPlateau
from minidl.callbacks.simple import (CSVLogger, LambdaCallback, LearningRateScheduler,
                                     TerminateOnNaN)
from minidl.callbacks.tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ReduceLROnPlateau", "MonitorCallback", "LambdaCallback", "TerminateOnNaN",
           "LearningRateScheduler", "CSVLogger", "ModelCheckpoint", "BackupAndRestore",
           "TensorBoard"]
