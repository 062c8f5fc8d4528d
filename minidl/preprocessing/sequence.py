"""`keras.preprocessing.sequence.pad_sequences`, as programs written for Keras 2 import it."""
from minidl.utils import pad_sequences

__all__ = ["pad_sequences"]
