"""`minidl.backend` and `minidl.config` against `keras.backend` / `keras.config`: the image
layout the classic Keras programs branch on, the automatic names' counters (get_uid), and
is_keras_tensor; Keras's errors, and minidl's refusal of channels-first images by name."""
import numpy as np
import pytest

import keras
import minidl
from minidl import backend as K


def test_the_image_data_format_is_keras_default_and_programs_take_their_channels_last_path():
    assert K.image_data_format() == keras.backend.image_data_format() == "channels_last"
    assert minidl.config.image_data_format() == keras.config.image_data_format()
    x = np.zeros((5, 28, 28), np.float32)
    if K.image_data_format() == "channels_first":  # the classic mnist_cnn.py branch
        x, input_shape = x.reshape(5, 1, 28, 28), (1, 28, 28)
    else:
        x, input_shape = x.reshape(5, 28, 28, 1), (28, 28, 1)
    model = minidl.Sequential([minidl.Input(input_shape), minidl.layers.Conv2D(2, 3),
                               minidl.layers.Flatten(), minidl.layers.Dense(1)])
    assert model.predict(x, verbose=0).shape == (5, 1)


def test_setting_the_image_data_format():
    K.set_image_data_format("Channels_Last")  # Keras lower-cases it too
    assert K.image_data_format() == "channels_last"
    for value in ("channels_middle", None):
        with pytest.raises(ValueError) as theirs:
            keras.backend.set_image_data_format(value)
        with pytest.raises(ValueError) as ours:
            K.set_image_data_format(value)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="channels-last images.*Received: "
                                         "data_format='channels_first'"):
        minidl.config.set_image_data_format("channels_first")
    assert K.image_data_format() == "channels_last"  # a refused setting changes nothing


def test_get_uid_counts_as_keras_and_shares_the_automatic_names_counters():
    keras.backend.clear_session()
    K.clear_session()
    theirs, ours = [], []
    for framework, out in ((keras, theirs), (minidl, ours)):
        out.append(framework.backend.get_uid("dense"))  # 1: nothing named yet
        out.append(framework.layers.Dense(2).name)  # the counter now at 2: "dense_1"
        out.append(framework.backend.get_uid("dense"))
        out.append(framework.backend.get_uid())  # the default prefix, counted on its own
        out.append(framework.backend.get_uid())
    assert ours == theirs == [1, "dense_1", 3, 1, 2]
    keras.backend.clear_session()
    K.clear_session()


def test_is_keras_tensor():
    cases = lambda framework: [framework.Input((3,)), np.zeros((2, 3)), 1.0,  # noqa: E731
                               framework.layers.Dense(2)(framework.Input((3,)))]
    assert ([K.is_keras_tensor(x) for x in cases(minidl)]
            == [keras.backend.is_keras_tensor(x) for x in cases(keras)] == [True, False, False,
                                                                           True])
