"""`keras.preprocessing` names older programs import: `sequence.pad_sequences`."""
from minidl.preprocessing import sequence

__all__ = ["sequence"]
