"""The TensorFlow/Keras side of minidl: twins, gradients, lockstep runs, reports, benchmarks.

minidl never imports this package; this package imports minidl and Keras.
"""
import os

from reference import quiet

# Before TensorFlow is imported: its C++ INFO lines (level 0) stay hidden, warnings and errors
# show. A value the user set wins. The lines TensorFlow prints while it loads ignore this
# variable in TF 2.21; `quiet.install()` filters those (see reference/quiet.py for why).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
quiet.install()
