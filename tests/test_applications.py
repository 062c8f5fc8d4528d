"""keras.applications against Keras: the same layers (names, order, shapes, parameters) and,
from the same weights, the same predictions; Keras's weights files load; preprocess_input,
decode_predictions and the argument checks are Keras's; a frozen base fine-tunes as in Keras.

No ImageNet file is downloaded: the weights files here are written by Keras itself, in the
format of its ImageNet files (tf.keras's save_weights to .h5).
"""
import h5py
import numpy as np
import pytest

import keras
from keras.src.applications import imagenet_utils as keras_imagenet_utils
from keras.src.legacy.saving import legacy_h5_format
import minidl
from minidl import applications
from minidl.applications import imagenet_utils
from reference.twins import keras_twin

SMALL = dict(include_top=False, input_shape=(32, 32, 3))
ARCHITECTURES = [  # (name, arguments): each compared layer by layer, predictions included
    ("VGG16", SMALL),
    ("VGG19", dict(SMALL, pooling="max")),
    ("ResNet50", SMALL),
    ("ResNet50V2", dict(SMALL, pooling="avg")),
    ("MobileNetV2", dict(input_shape=(32, 32, 3), alpha=0.35, classes=10)),
    ("MobileNetV2", dict(input_shape=(96, 96, 3), alpha=1.3, include_top=False)),
    ("Xception", dict(include_top=False, input_shape=(71, 71, 3))),
    ("InceptionV3", dict(include_top=False, input_shape=(75, 75, 3), pooling="avg")),
    ("DenseNet121", SMALL),
    ("MobileNet", dict(input_shape=(32, 32, 3), alpha=0.25, classes=7)),
    ("MobileNet", dict(input_shape=(128, 128, 3), include_top=False, depth_multiplier=2,
                       pooling="max")),
    ("EfficientNetB0", SMALL),
]
DEEPER = ["ResNet101", "ResNet101V2", "DenseNet169", "EfficientNetB2"]  # structure only


def perturbed(weights, rng):
    """The weights with their vectors (biases, BN's gamma, beta, mean, variance) moved off
    their initial 0s and 1s, so that every one of them shows in the outputs."""
    return [w + rng.uniform(0, 0.1, w.shape).astype(w.dtype) if w.ndim == 1 else w
            for w in weights]


def images(rng, shape, n=2):
    """n RGB images (0 to 255), preprocessed as VGG's ("caffe")."""
    return imagenet_utils.preprocess_input(rng.uniform(0, 255, (n,) + shape).astype(np.float32))


def same_structure(m, k):
    assert m.name == k.name
    assert [layer.name for layer in m.layers] == [layer.name for layer in k.layers]
    assert [type(layer).__name__ for layer in m.layers] == \
        [type(layer).__name__ for layer in k.layers]
    assert m.count_params() == k.count_params()
    assert m.output_shape == k.output_shape


@pytest.mark.parametrize("name, arguments", ARCHITECTURES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(ARCHITECTURES)])
def test_each_model_is_keras_layer_for_layer_and_predicts_as_keras(name, arguments):
    rng = np.random.default_rng(0)
    keras.backend.clear_session()  # the unnamed layers' names count from here in both
    minidl.backend.clear_session()
    m = getattr(applications, name)(weights=None, **arguments)
    k = getattr(keras.applications, name)(weights=None, **arguments)
    same_structure(m, k)
    weights = perturbed(m.get_weights(), rng)
    m.set_weights(weights)
    k.set_weights(weights)
    x = images(rng, arguments["input_shape"])
    expected = k.predict(x, verbose=0)
    np.testing.assert_allclose(m.predict(x, verbose=0), expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("name", DEEPER)
def test_the_deeper_models_have_keras_layers_and_parameters(name):
    keras.backend.clear_session()
    minidl.backend.clear_session()
    same_structure(getattr(applications, name)(weights=None, **SMALL),
                   getattr(keras.applications, name)(weights=None, **SMALL))


def test_the_default_models_are_keras_imagenet_classifiers():
    for name, size in (("MobileNetV2", 224), ("Xception", 299)):
        keras.backend.clear_session()
        minidl.backend.clear_session()
        m = getattr(applications, name)(weights=None)
        k = getattr(keras.applications, name)(weights=None)
        same_structure(m, k)
        assert m.input_shape == k.input_shape == (None, size, size, 3)


def test_an_input_tensor_is_the_models_input():
    inputs = minidl.Input((48, 48, 3))
    model = applications.ResNet50(weights=None, include_top=False, input_tensor=inputs)
    assert model.inputs[0] is inputs and model.output_shape == (None, 2, 2, 2048)


# -- weights files ------------------------------------------------------------------------------
def keras_weights_file(model, path):
    """`model`'s weights in the format of Keras's ImageNet files (tf.keras's save_weights)."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return str(path)


def test_a_keras_weights_file_loads_by_path_and_predicts_as_keras(tmp_path):
    rng = np.random.default_rng(1)
    arguments = dict(alpha=0.35, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    k = keras.applications.MobileNetV2(weights=None, **arguments)
    k.set_weights(perturbed(k.get_weights(), rng))
    path = keras_weights_file(k, tmp_path / "mobilenet.h5")
    m = applications.MobileNetV2(weights=path, **arguments)
    for got, want in zip(m.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(got, want)
    x = images(rng, (32, 32, 3))
    np.testing.assert_allclose(m.predict(x, verbose=0), k.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name, arguments", [
    ("VGG16", dict(include_top=True)),
    ("VGG19", dict(include_top=False)),
    ("ResNet50", dict(include_top=False)),
    ("ResNet50V2", dict(include_top=True)),
    ("MobileNetV2", dict(include_top=False, alpha=0.35, input_shape=(128, 128, 3))),
    ("MobileNetV2", dict(include_top=True)),
    ("Xception", dict(include_top=False)),
    ("InceptionV3", dict(include_top=True)),
    ("DenseNet169", dict(include_top=False)),
    ("MobileNet", dict(include_top=True, alpha=0.5, input_shape=(160, 160, 3))),
    ("MobileNet", dict(include_top=False, alpha=0.25, input_shape=(128, 128, 3))),
    ("EfficientNetB0", dict(include_top=True)),
    ("EfficientNetB4", dict(include_top=False, name="my_net")),
])
def test_imagenet_weights_are_keras_files_from_keras_addresses(monkeypatch, tmp_path, name,
                                                              arguments):
    """weights="imagenet" asks get_file for Keras's file (name, address, cache folder, hash):
    both get_files are stood in for by one that records the request and refuses."""
    asked = {}

    def recorder(framework):
        def get_file(fname=None, origin=None, cache_subdir="datasets", file_hash=None,
                     **kwargs):
            asked[framework] = (fname, origin, cache_subdir, file_hash)
            raise OSError("no download in tests")
        return get_file

    monkeypatch.setattr(imagenet_utils, "get_file", recorder("minidl"))
    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", recorder("keras"))
    for framework, module in (("minidl", applications), ("keras", keras.applications)):
        with pytest.raises(OSError, match="no download"):
            getattr(module, name)(weights="imagenet", **arguments)
    assert asked["minidl"] == asked["keras"]


# -- preprocessing and decoding -------------------------------------------------------------
@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape", [(2, 5, 4, 3), (3, 5, 4)])
def test_preprocess_input_is_keras_in_every_mode_and_layout(mode, data_format, shape):
    if data_format == "channels_first":
        shape = shape[:-3] + (3,) + shape[-3:-1]
    rng = np.random.default_rng(2)
    pixels = rng.uniform(0, 255, shape).astype(np.float32)
    ours, theirs = pixels.copy(), pixels.copy()
    got = imagenet_utils.preprocess_input(ours, data_format=data_format, mode=mode)
    want = keras_imagenet_utils.preprocess_input(theirs, data_format=data_format, mode=mode)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ours, theirs)  # a float array changes in place, as Keras's
    integers = rng.integers(0, 256, shape).astype(np.uint8)
    got = imagenet_utils.preprocess_input(integers, data_format=data_format, mode=mode)
    want = keras_imagenet_utils.preprocess_input(integers.copy(), data_format=data_format,
                                                 mode=mode)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("module", ["vgg16", "vgg19", "resnet", "resnet50", "resnet_v2",
                                    "mobilenet_v2", "xception", "inception_v3", "densenet",
                                    "mobilenet", "efficientnet"])
def test_each_models_preprocess_input_is_its_keras_twins(module):
    pixels = np.random.default_rng(3).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    got = getattr(applications, module).preprocess_input(pixels.copy())
    want = getattr(keras.applications, module).preprocess_input(pixels.copy())
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("module", ["vgg16", "mobilenet_v2", "densenet"])  # caffe, tf, torch
def test_preprocess_input_inside_a_model_is_keras_and_goes_into_keras_files(module, tmp_path):
    """Chollet's DLwP ch. 8 recipe: `x = vgg16.preprocess_input(inputs)` in the model."""
    pixels = np.random.default_rng(6).uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    outputs = []
    for framework, module_of in ((minidl, applications), (keras, keras.applications)):
        inputs = framework.Input((8, 8, 3))
        model = framework.Model(inputs, getattr(module_of, module).preprocess_input(inputs))
        outputs.append(np.asarray(model.predict(pixels, verbose=0)))
    # TensorFlow's graph optimizer turns Keras's divisions by a constant (x / 127.5, x / 255,
    # x / std) into products with its float32 reciprocal: a few ulps, grown by the "torch"
    # mode's subtraction of the mean where x is near it
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs[0], getattr(keras.applications, module)
                                  .preprocess_input(pixels.copy()))  # Keras's NumPy path
    model.save(tmp_path / "preprocessing.keras")  # Keras's model (a "__tensor__" constant
    ours = minidl.models.load_model(tmp_path / "preprocessing.keras")  # in caffe mode)
    np.testing.assert_array_equal(ours.predict(pixels, verbose=0), outputs[0])
    ours.save(tmp_path / "back.keras")
    back = keras.models.load_model(tmp_path / "back.keras")
    np.testing.assert_array_equal(np.asarray(back.predict(pixels, verbose=0)), outputs[1])


def test_a_frozen_vgg16_behind_its_preprocessing_trains_as_in_keras():
    rng = np.random.default_rng(7)
    minidl.utils.set_random_seed(7)
    base = applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    base.trainable = False
    inputs = minidl.Input((32, 32, 3))
    x = applications.vgg16.preprocess_input(inputs)
    x = minidl.layers.Flatten()(base(x))
    model = minidl.Model(inputs, minidl.layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    twin = keras_twin(model)
    pixels = rng.uniform(0, 255, (16, 32, 32, 3)).astype(np.float32)
    labels = rng.integers(0, 2, 16)
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    ours, theirs = model.fit(pixels, labels, **fit), twin.fit(pixels, labels, **fit)
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-4)


def test_preprocess_input_refuses_what_keras_refuses():
    x = np.zeros((1, 2, 2, 3), np.float32)
    for arguments in (dict(mode="pytorch"), dict(data_format="channels_middle")):
        with pytest.raises(ValueError) as ours:
            imagenet_utils.preprocess_input(x.copy(), **arguments)
        with pytest.raises(ValueError) as theirs:
            keras_imagenet_utils.preprocess_input(x.copy(), **arguments)
        assert str(ours.value) == str(theirs.value)


def test_decode_predictions_ranks_classes_as_keras(monkeypatch):
    names = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", names)
    monkeypatch.setattr(keras_imagenet_utils, "CLASS_INDEX", names)
    preds = np.random.default_rng(4).dirichlet(np.ones(1000), 3).astype(np.float32)
    for top in (1, 5):
        got = applications.vgg16.decode_predictions(preds, top=top)
        want = keras.applications.vgg16.decode_predictions(preds, top=top)
        assert got == want and len(got[0]) == top
    with pytest.raises(ValueError) as ours:
        imagenet_utils.decode_predictions(preds[:, :10])
    with pytest.raises(ValueError) as theirs:
        keras_imagenet_utils.decode_predictions(preds[:, :10])
    assert str(ours.value) == str(theirs.value)


# -- argument checks ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, arguments", [
    ("VGG16", dict(weights="no/such/file.h5")),
    ("ResNet50", dict(weights="imagenet", classes=10)),
    ("VGG16", dict(weights=None, include_top=False, input_shape=(16, 16, 3))),
    ("ResNet50", dict(weights="imagenet", include_top=True, input_shape=(64, 64, 3))),
    ("VGG19", dict(weights=None, include_top=False, input_shape=(32, 32))),
    ("ResNet50", dict(weights="imagenet", include_top=False, input_shape=(64, 64, 1))),
    ("VGG16", dict(weights=None, include_top=True, input_shape=(None, None, 3))),
    ("MobileNetV2", dict(weights="imagenet", alpha=0.6)),
    ("MobileNetV2", dict(weights="no/such/file.h5")),
    ("MobileNetV2", dict(weights="imagenet", classes=7)),
    ("Xception", dict(weights="no/such/file.h5")),
    ("Xception", dict(weights=None, include_top=False, input_shape=(64, 64, 3))),
    ("InceptionV3", dict(weights="no/such/file.h5")),
    ("InceptionV3", dict(weights="imagenet", classes=3)),
    ("DenseNet121", dict(weights="no/such/file.h5")),
    ("DenseNet201", dict(weights="imagenet", classes=3)),
    ("MobileNet", dict(weights="no/such/file.h5")),
    ("MobileNet", dict(weights="imagenet", depth_multiplier=2)),
    ("MobileNet", dict(weights="imagenet", alpha=0.3)),
    ("EfficientNetB0", dict(weights="no/such/file.h5")),
    ("EfficientNetB5", dict(weights="imagenet", classes=4)),
])
def test_wrong_arguments_get_keras_errors(name, arguments):
    with pytest.raises(ValueError) as ours:
        getattr(applications, name)(**arguments)
    with pytest.raises(ValueError) as theirs:
        getattr(keras.applications, name)(**arguments)
    assert str(ours.value) == str(theirs.value)


def test_a_non_softmax_top_with_pretrained_weights_is_refused_as_in_keras(tmp_path):
    arguments = dict(alpha=0.35, input_shape=(32, 32, 3), classes=1000)
    path = keras_weights_file(keras.applications.MobileNetV2(weights=None, **arguments),
                              tmp_path / "top.h5")
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations"):
        applications.MobileNetV2(weights=path, classifier_activation="relu", **arguments)
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations"):
        keras.applications.MobileNetV2(weights=path, classifier_activation="relu",
                                       **arguments)
    logits = applications.MobileNetV2(weights=path, classifier_activation=None, **arguments)
    assert logits.layers[-1].activation is minidl.activations.linear


def test_channels_first_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(minidl.config, "image_data_format", lambda: "channels_first")
    with pytest.raises(ValueError, match="channels-last images only"):
        applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))


# -- transfer learning -------------------------------------------------------------------------
def test_a_frozen_base_with_a_new_head_trains_as_in_keras():
    """The classic recipe (Chollet's DLwP, ch. 8): a frozen pretrained base, nested in a new
    model with its own classifier, trained; the base's BatchNormalizations stay in inference
    mode and its weights do not move, in both frameworks alike."""
    rng = np.random.default_rng(5)
    minidl.utils.set_random_seed(5)
    base = applications.MobileNetV2(weights=None, alpha=0.35, include_top=False,
                                    input_shape=(32, 32, 3))
    base.set_weights(perturbed(base.get_weights(), rng))
    base.trainable = False
    inputs = minidl.Input((32, 32, 3))
    x = base(inputs)
    x = minidl.layers.GlobalAveragePooling2D()(x)
    outputs = minidl.layers.Dense(3, activation="softmax")(x)
    model = minidl.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    twin = keras_twin(model)
    x_train = images(rng, (32, 32, 3), n=24)
    y_train = rng.integers(0, 3, 24)
    frozen = [w.copy() for w in base.get_weights()]
    fit = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
    ours, theirs = model.fit(x_train, y_train, **fit), twin.fit(x_train, y_train, **fit)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=1e-4)
    for got, want in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(model.predict(x_train, verbose=0),
                               twin.predict(x_train, verbose=0), rtol=1e-4, atol=1e-6)
