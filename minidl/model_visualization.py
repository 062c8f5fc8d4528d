"""plot_model: Keras's picture of a model needs pydot and Graphviz, which minidl does not use.

As Keras's (keras/src/utils/model_visualization.py): an unbuilt model is an error; without
pydot or Graphviz, a notebook gets Keras's message printed (its cell goes on), a script gets
Keras's ImportError. With both installed, minidl still draws nothing and says what to use
instead: `model.summary()` lists the same layers, shapes and connections as text.
"""
import importlib.util
import shutil
import sys


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho", **kwargs):
    """Keras's checks and messages; no picture (see the module's docstring)."""
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by calling "
                         "`build()` or by calling the model on a batch of data.")
    for missing, message in (
            (importlib.util.find_spec("pydot") is None,
             "You must install pydot (`pip install pydot`) for `plot_model` to work."),
            (shutil.which("dot") is None,
             "You must install graphviz (see instructions at "
             "https://graphviz.gitlab.io/download/) for `plot_model` to work.")):
        if missing:
            if "IPython.core.magics.namespace" in sys.modules:  # a notebook: print, go on
                print(message)
                return None
            raise ImportError(message)
    raise NotImplementedError(
        "minidl draws no model pictures (plot_model needs Keras's pydot drawing code). "
        "model.summary() shows the same layers, shapes and connections as text.")
