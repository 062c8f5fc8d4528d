"""minidl: the core of Keras in readable NumPy.

    import minidl as keras
    model = keras.Sequential([keras.layers.Dense(512, activation="relu", input_shape=(784,)),
                              keras.layers.Dense(10, activation="softmax")])

Where the maths lives: layers/ (Dense forward/backward), activations.py, losses/ and
head.py, optimizers/, metrics/; backpropagation is tape.py, the training loop training.py.
docs/where-the-maths-lives.md has the index.
"""
from minidl import (activations, applications, backend, callbacks, config, constraints,
                    datasets, explain, initializers, layers, losses, metrics, models, ops,
                    optimizers, preprocessing, random, saving, testing, utils)
from minidl import dtype_policies, mixed_precision, tree
from minidl.dtype_policies import DTypePolicy
from minidl.gradient_tape import GradientTape
from minidl.initializers import Initializer
from minidl.keras_variable import Variable
from minidl.layers import Input, InputSpec, KerasTensor, Layer
from minidl.losses import Loss
from minidl.metrics import Metric
from minidl.models import Model, Sequential, load_model
from minidl.optimizers import Optimizer
from minidl.regularizers import Regularizer
from minidl.scopes import device, name_scope

__version__ = "0.1.0"


def version():
    """minidl's version, as keras.version() gives Keras's."""
    return __version__


__all__ = [
    "Input", "Model", "Sequential", "activations", "applications", "backend", "callbacks",
    "config", "constraints", "datasets",
    "explain", "initializers", "layers", "load_model", "losses", "metrics", "models", "ops",
    "optimizers", "preprocessing", "random", "saving", "testing", "utils",
    "__version__", "Initializer", "InputSpec", "KerasTensor", "Layer", "Loss", "Metric",
    "Optimizer", "Regularizer", "Variable", "device", "name_scope", "tree", "version",
    "DTypePolicy", "GradientTape",
    "dtype_policies", "mixed_precision",
]  # not "strategies": `from minidl import *` must work without hypothesis


def __getattr__(name):
    """`minidl.strategies`, imported on first use: it needs hypothesis, which minidl does not."""
    if name == "strategies":
        import importlib

        return importlib.import_module("minidl.strategies")
    raise AttributeError(f"module 'minidl' has no attribute {name!r}")
