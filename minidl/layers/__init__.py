"""minidl's layers, one family per file; `minidl.layers.Dense` as `keras.layers.Dense`.

    base.py     Layer (the protocol: forward/backward/__call__), InputLayer, Input, KerasTensor
    core.py     Dense, Activation
"""
from minidl.layers.base import Input, InputLayer, KerasTensor, Layer
from minidl.layers.core import Activation, Dense

__all__ = ["Activation", "Dense", "Input", "InputLayer", "KerasTensor", "Layer"]
