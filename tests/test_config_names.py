"""keras.config, keras.backend, keras.mixed_precision and keras.dtype_policies names minidl
adds, against the installed Keras: signatures, results, Keras's error messages, and the
refusals (mixed precision, unsafe deserialization) saying what minidl does instead."""
import inspect

import numpy as np
import pytest

import keras
import minidl

NAMES = {"config": ["set_epsilon", "backend", "dtype_policy", "set_dtype_policy",
                    "enable_unsafe_deserialization"],
         "backend": ["set_epsilon", "result_type", "standardize_dtype", "is_float_dtype",
                     "is_int_dtype"],
         "mixed_precision": ["set_global_policy", "global_policy", "Policy", "DTypePolicy"],
         "utils": ["is_keras_tensor", "standardize_dtype"]}


def test_names_and_signatures_are_keras_s():
    for module, names in NAMES.items():
        for name in names:
            ours = getattr(getattr(minidl, module), name)
            theirs = getattr(getattr(keras, module), name)
            assert inspect.signature(ours) == inspect.signature(theirs), (module, name)
    assert minidl.DTypePolicy is minidl.mixed_precision.Policy is \
        minidl.dtype_policies.DTypePolicy
    assert minidl.config.backend() == "numpy"  # the engine's name; Keras's is "tensorflow"


def test_set_epsilon_reaches_the_losses_clipping_as_in_keras():
    """y = p = 1: binary cross-entropy is -log(1 - eps) after clipping, in both; float32
    arithmetic on 1 - eps, so 1e-5 relative."""
    y = np.ones((1, 1), np.float32)
    try:
        for framework in (minidl, keras):
            framework.config.set_epsilon(1e-4)
        ours = minidl.losses.BinaryCrossentropy()(y, y)
        theirs = float(keras.losses.BinaryCrossentropy()(y, y))
        assert minidl.backend.epsilon() == 1e-4
    finally:
        for framework in (minidl, keras):
            framework.config.set_epsilon(1e-7)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert abs(ours - minidl.losses.BinaryCrossentropy()(y, y)) > 1e-5  # eps did matter


def test_dtype_helpers_give_keras_s_answers():
    dtypes = [None, float, int, bool, np.float64, "float32", "int8", np.dtype("uint16"),
              "int", "bfloat16"]
    for dtype in dtypes:
        for name in ("standardize_dtype", "is_float_dtype", "is_int_dtype"):
            assert getattr(minidl.backend, name)(dtype) == \
                getattr(keras.backend, name)(dtype), (name, dtype)
    for pair in [("int32", "float32"), ("int8", "int16"), ("float64", "float32"),
                 ("uint8", "int8"), ("bool", "int32"), ("bool", "bool"), ("float16", "int64")]:
        assert minidl.backend.result_type(*pair) == keras.backend.result_type(*pair), pair
    for bad in ("float", "foo"):
        with pytest.raises(ValueError) as ours:
            minidl.backend.standardize_dtype(bad)
        with pytest.raises(ValueError) as theirs:
            keras.backend.standardize_dtype(bad)
        assert str(ours.value) == str(theirs.value)


def test_float32_policies_as_keras_and_mixed_precision_refused_by_name():
    ours, theirs = minidl.config.dtype_policy(), keras.config.dtype_policy()
    for attribute in ("name", "compute_dtype", "variable_dtype"):
        assert getattr(ours, attribute) == getattr(theirs, attribute)
    assert repr(ours) == repr(theirs) and ours.get_config() == theirs.get_config()
    minidl.mixed_precision.set_global_policy("float32")
    assert minidl.mixed_precision.global_policy().name == "float32"
    for name in ("mixed_float16", "mixed_bfloat16", "float16"):
        with pytest.raises(ValueError, match=f"no half-precision.*Received: name='{name}'"):
            minidl.mixed_precision.set_global_policy(name)
    assert minidl.config.floatx() == "float32"  # a refused policy changes nothing
    for call in (lambda m: m.DTypePolicy("foo"), lambda m: m.set_global_policy(5)):
        with pytest.raises(ValueError) as mine:
            call(minidl.mixed_precision)
        with pytest.raises(ValueError) as keras_s:
            call(keras.mixed_precision)
        assert str(mine.value) == str(keras_s.value)


def test_unsafe_deserialization_is_refused_and_a_saved_lambda_is_refused_as_it_says(tmp_path):
    with pytest.raises(ValueError, match="runs no code from files"):
        minidl.config.enable_unsafe_deserialization()
    model = minidl.Sequential([minidl.Input((2,)), minidl.layers.Lambda(lambda x: x * 2.0)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError):
        minidl.models.load_model(tmp_path / "m.keras", safe_mode=False)


def test_interactive_logging_switch_moves_the_bars_off_stdout_as_keras_s(capsys, caplog):
    """Disabled: fit's epoch lines and bars leave stdout in both (Keras's go to absl, minidl's
    to the "minidl" logger); enabled again: both print "Epoch 1/2" on stdout."""
    x, y = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    names = ("enable_interactive_logging", "disable_interactive_logging",
             "is_interactive_logging_enabled")
    for name in names:
        assert inspect.signature(getattr(minidl.utils, name)) == \
            inspect.signature(getattr(keras.utils, name))
    printed = {}
    for framework in (minidl, keras):
        model = framework.Sequential([framework.Input((2,)), framework.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        framework.config.disable_interactive_logging()
        try:
            assert not framework.config.is_interactive_logging_enabled()
            with caplog.at_level("INFO", logger="minidl"):
                model.fit(x, y, epochs=2, verbose=1)
            off = capsys.readouterr().out
        finally:
            framework.config.enable_interactive_logging()
        model.fit(x, y, epochs=2, verbose=1)
        printed[framework.__name__] = (off, "Epoch 1/2" in capsys.readouterr().out)
    assert printed == {"minidl": ("", True), "keras": ("", True)}
    logged = [r.getMessage() for r in caplog.records if r.name == "minidl"]
    assert "Epoch 1/2" in logged and any("loss:" in message for message in logged)


def test_a_layer_takes_a_float32_policy_as_keras_and_refuses_a_mixed_one():
    x = np.ones((2, 3), np.float32)
    for dtype in ("float32", "policy"):
        layers = [framework.layers.Dense(2, dtype=framework.DTypePolicy("float32")
                                         if dtype == "policy" else dtype)
                  for framework in (minidl, keras)]
        outputs = [np.asarray(layer(x)) for layer in layers]
        assert layers[0].dtype == layers[1].dtype == "float32"
        assert outputs[0].dtype == outputs[1].dtype == np.float32
        assert [w.dtype for w in layers[0].weights] == [np.float32, np.float32]
    for name in ("mixed_float16", "mixed_bfloat16", "float16"):
        keras.layers.Dense(2, dtype=name)  # Keras builds it; minidl says why it cannot
        with pytest.raises(ValueError, match=f"no half-precision.*Received: name='{name}'"):
            minidl.layers.Dense(2, dtype=name)
