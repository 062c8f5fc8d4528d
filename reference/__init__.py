"""The TensorFlow/Keras side of minidl: twins, gradients, lockstep runs, reports, benchmarks.

minidl never imports this package; this package imports minidl and Keras.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter quiet
