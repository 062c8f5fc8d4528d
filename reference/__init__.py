"""The TensorFlow/Keras side of minidl: twins, gradients, lockstep runs, reports, benchmarks.

minidl never imports this package; this package imports minidl and Keras.
"""
import os

from reference import quiet

# Before TensorFlow is imported: its C++ INFO lines (level 0) stay hidden, warnings and errors
# show. A value the user set wins. The lines TensorFlow prints while it loads ignore this
# variable in TF 2.21; `quiet.install()` filters those (see reference/quiet.py for why).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512; elsewhere its
# plain CPU kernels refuse channels_first convolutions and a dilated Conv3DTranspose, and
# round some sums in another order. The reference runs the same kernels on every x86 CPU:
# oneDNN's, as TensorFlow's default on a recent CPU. A value the user set wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
quiet.install()
