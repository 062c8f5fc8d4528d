"""image_dataset_from_directory against Keras 3.15's (keras.utils), on small folders of images
written to pytest's tmp_path with Pillow (PNGs of several sizes and modes, a GIF, a BMP).

Tolerances, justified by what differs:
- PNG, GIF and BMP in "rgb", PNG in "rgba", 8-bit grey PNG in "grayscale": none. Pillow's and
  TensorFlow's decoders give the same uint8 pixels (zlib is lossless), and the resize
  evaluates TensorFlow's formulas in float32 in TensorFlow's order, so every batch equals
  Keras's bit for bit, in Keras's dtype (float32 bilinear, uint8 nearest) and shape.
- colour PNG read as "grayscale": 1 grey level. TensorFlow asks libpng for grey (its own
  weights); minidl asks Pillow (ITU-R 601-2, L = R*299/1000 + ...): up to 1 apart per pixel,
  measured, and the test checks the two do differ somewhere (so the bound is not vacuous).
- JPEG: 4 grey levels. Pillow's and TensorFlow's libjpeg builds use different IDCT and chroma
  upsampling; 4 is the largest difference measured on these noisy images (smooth photos
  differ less). Labels, order and shapes are still exact.
The fit compares History to rtol 1e-5, as the other fit comparisons.
"""
import numpy as np
import pytest
from PIL import Image

import keras
import minidl
from minidl import utils
from reference.twins import keras_twin

SIZES = [(9, 13), (16, 10), (7, 7), (12, 20)]


def _save(path, img, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """cats/ and dogs/ of PNGs in RGB, RGBA, palette and 16-bit grey."""
    root = tmp_path_factory.mktemp("pets")
    rng = np.random.default_rng(4)
    for c, name in enumerate(["cats", "dogs"]):
        for i, (h, w) in enumerate(SIZES):
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            _save(root / name / f"{i}.png", Image.fromarray(rgb))
            rgba = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
            _save(root / name / f"a{i}.png", Image.fromarray(rgba, "RGBA"))
        _save(root / name / "sub" / "pal.png", Image.fromarray(rgb).quantize(colors=12))
        _save(root / name / "deep.PNG",
              Image.fromarray(rng.integers(0, 65536, (8, 11), dtype=np.uint16)))
        (root / name / "readme.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def grey_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("grey")
    rng = np.random.default_rng(6)
    for c in "ab":
        for i, (h, w) in enumerate(SIZES):
            _save(root / c / f"{i}.png", Image.fromarray(rng.integers(0, 256, (h, w),
                                                                      dtype=np.uint8)))
    return root


def _keras_batches(ds):
    return [tuple(a.numpy() for a in b) if isinstance(b, tuple) else b.numpy() for b in ds]


def assert_same_batches(ours, theirs, atol=0):
    ours = list(ours)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = (a, b) if isinstance(b, tuple) else ((a,), (b,))
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and x.shape == y.shape
            if atol:
                np.testing.assert_allclose(x, y, atol=atol, rtol=0)
            else:
                np.testing.assert_array_equal(x, y)


def _both(root, **kwargs):
    kwargs = {"shuffle": False, "verbose": False, **kwargs}
    return (utils.image_dataset_from_directory(root, **kwargs),
            keras.utils.image_dataset_from_directory(root, **kwargs))


@pytest.mark.parametrize("kwargs", [
    dict(image_size=(10, 12), batch_size=5),
    dict(image_size=8, label_mode="categorical", interpolation="nearest", batch_size=4),
    dict(image_size=(11, 6), label_mode="binary", crop_to_aspect_ratio=True),
    dict(image_size=(5, 9), labels=None, crop_to_aspect_ratio=True, interpolation="nearest"),
    dict(image_size=(6, 6), class_names=["dogs", "cats"], batch_size=None),
])
def test_rgb_batches_equal_keras(folder, kwargs):
    ours, theirs = _both(folder, **kwargs)
    assert ours.class_names == theirs.class_names
    assert ours.file_paths == theirs.file_paths
    assert_same_batches(ours, _keras_batches(theirs))


def test_rgba_and_grey_pngs_equal_keras(folder, grey_folder):
    rgba = [p.name for p in folder.rglob("a*.png")]
    assert rgba
    ours, theirs = _both(folder, color_mode="rgba", image_size=(7, 9), batch_size=3)
    pngs = [i for i, p in enumerate(theirs.file_paths) if p.endswith(tuple(rgba))]
    mine, keras_images = (np.concatenate([x for x, _ in batches])
                          for batches in (list(ours), _keras_batches(theirs)))
    np.testing.assert_array_equal(mine[pngs], keras_images[pngs])  # RGBA files: exact
    ours, theirs = _both(grey_folder, color_mode="grayscale", image_size=(9, 9), batch_size=3)
    assert_same_batches(ours, _keras_batches(theirs))


def test_colour_read_as_grey_within_one_level(folder):
    ours, theirs = _both(folder, color_mode="grayscale", image_size=(9, 13),
                         interpolation="nearest", batch_size=32)
    (mine, y), (keras_images, keras_y) = list(ours)[0], _keras_batches(theirs)[0]
    np.testing.assert_array_equal(y, keras_y)
    difference = np.abs(mine.astype(int) - keras_images.astype(int))
    assert difference.max() == 1  # libpng's weights against Pillow's: never more than 1


def test_gif_and_bmp_equal_keras(tmp_path):
    rng = np.random.default_rng(2)
    for c in "xy":
        rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
        _save(tmp_path / c / "anim.gif", Image.fromarray(rgb))
        _save(tmp_path / c / "bitmap.bmp", Image.fromarray(rgb))
    ours, theirs = _both(tmp_path, image_size=(6, 8), batch_size=3)
    assert_same_batches(ours, _keras_batches(theirs))
    with pytest.raises(ValueError, match="for GIF"):  # TensorFlow's decoder refuses it too
        list(utils.image_dataset_from_directory(tmp_path, color_mode="rgba", verbose=False))


def test_jpeg_within_four_levels(tmp_path):
    rng = np.random.default_rng(9)
    for c in "xy":
        for i, (h, w) in enumerate(SIZES):
            _save(tmp_path / c / f"{i}.jpg", Image.fromarray(
                rng.integers(0, 256, (h, w, 3), dtype=np.uint8)), quality=90)
    ours, theirs = _both(tmp_path, image_size=(9, 9), batch_size=3)
    assert_same_batches(ours, _keras_batches(theirs), atol=4)


def test_seeded_split_is_keras_split(folder):
    kwargs = dict(validation_split=0.25, seed=3, image_size=(6, 6), batch_size=4, verbose=False)
    train, val = utils.image_dataset_from_directory(folder, subset="both", **kwargs)
    keras_train, keras_val = keras.utils.image_dataset_from_directory(folder, subset="both",
                                                                      **kwargs)
    assert val.file_paths == keras_val.file_paths and train.file_paths == keras_train.file_paths
    assert_same_batches(val, _keras_batches(keras_val))
    assert len(train) == len(keras_train)


@pytest.mark.parametrize("kwargs", [
    dict(labels="folders"), dict(label_mode="sparse"), dict(color_mode="cmyk"),
    dict(image_size=(3, 4, 5)), dict(interpolation="cubic"), dict(format="torch"),
    dict(validation_split=0.2), dict(class_names=["cats", "birds"]),
    dict(labels=[0, 1]), dict(validation_split=0.01, subset="both", seed=1),
])
def test_errors_word_for_word(folder, kwargs):
    with pytest.raises(ValueError) as theirs:
        keras.utils.image_dataset_from_directory(folder, verbose=False, **kwargs)
    with pytest.raises(ValueError) as ours:
        utils.image_dataset_from_directory(folder, verbose=False, **kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("kwargs, name", [
    (dict(interpolation="bicubic"), "interpolation"), (dict(format="grain"), "format"),
    (dict(pad_to_aspect_ratio=True), "pad_to_aspect_ratio"),
    (dict(data_format="channels_first"), "data_format"),
])
def test_what_minidl_lacks_is_refused_by_name(folder, kwargs, name):
    with pytest.raises(ValueError, match=name):
        utils.image_dataset_from_directory(folder, verbose=False, **kwargs)


def test_fit_on_images_as_keras(folder):
    """Deep Learning with Python's cats-vs-dogs in small: Rescaling, a convolution, pooling,
    a sigmoid; validation on a second dataset."""
    kwargs = dict(image_size=(8, 8), batch_size=5, label_mode="binary")
    ds, keras_ds = _both(folder, **kwargs)
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.Input((8, 8, 3)), minidl.layers.Rescaling(1 / 255),
                               minidl.layers.Conv2D(3, 3, activation="relu"),
                               minidl.layers.GlobalAveragePooling2D(),
                               minidl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    twin = keras_twin(model)
    theirs = twin.fit(keras_ds, validation_data=keras_ds, epochs=3, verbose=0).history
    ours = model.fit(ds, validation_data=ds, epochs=3, verbose=0).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
