"""plot_model without pydot (this install has none, as CI's): Keras's error in a script,
Keras's printed message in a notebook, and Keras's error for an unbuilt model."""
import importlib.util
import sys
import types

import pytest

import keras
import minidl


def _models():
    return [framework.Sequential([framework.Input((3,)), framework.layers.Dense(2)])
            for framework in (minidl, keras)]


def test_without_pydot_a_script_gets_kerass_import_error(monkeypatch):
    """(Keras tells a notebook by IPython's namespace module, which importing TensorFlow can
    load: the test takes it out, as a plain script has it.)"""
    assert importlib.util.find_spec("pydot") is None  # what this comparison is about
    monkeypatch.delitem(sys.modules, "IPython.core.magics.namespace", raising=False)
    messages = []
    for model, framework in zip(_models(), (minidl, keras)):
        with pytest.raises(ImportError) as error:
            framework.utils.plot_model(model, show_shapes=True)
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "pip install pydot" in messages[0]


def test_without_pydot_a_notebook_gets_the_message_printed(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython.core.magics.namespace",
                        types.ModuleType("IPython.core.magics.namespace"))
    outputs = []
    for model, framework in zip(_models(), (minidl, keras)):
        assert framework.utils.plot_model(model) is None
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "pip install pydot" in outputs[0]


def test_an_unbuilt_model_is_kerass_error():
    messages = []
    for framework in (minidl, keras):
        with pytest.raises(ValueError) as error:
            framework.utils.plot_model(framework.Sequential([framework.layers.Dense(2)]))
        messages.append(str(error.value))
    assert messages[0] == messages[1]
