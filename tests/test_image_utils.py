"""Keras's image helpers against Keras 3.15's own: load_img, img_to_array, array_to_img and
save_img (keras.utils and keras.preprocessing.image), smart_resize (keras.preprocessing.image).

Tolerance: none anywhere; everything is compared bit for bit, because nothing is computed
in another order:
- load_img, img_to_array, array_to_img, save_img: both frameworks run the same Pillow on the
  same bytes (decoding, mode conversions, PIL's resize) and the same NumPy casts, so the
  arrays, the image modes and sizes, and the bytes of the files written must be equal.
- smart_resize: the crop is integer arithmetic, and the resize evaluates TensorFlow's
  ResizeBilinear / ResizeNearestNeighbor formulas in float32 in the kernel's order
  (minidl/layers/image_sampling.py), so the values are equal, in Keras's dtype.
Images are small synthetic ones written to pytest's tmp_path: PNGs of the modes load_img
meets (RGB, RGBA, 8-bit grey, 16-bit grey with values to 511 so that converting it to 8 bits
cuts half of them, a palette) and a JPEG. Keras is called on the same inputs; smart_resize's
hypothesis cases are few (the "ci" profile), one small TensorFlow op each.
"""
import io
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import keras
import keras.preprocessing.image
import minidl
from minidl import utils
from minidl.layers.image_sampling import resize
from minidl.preprocessing import image

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMES = ("load_img", "img_to_array", "array_to_img", "save_img", "smart_resize")
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
# The made images are 9 high and 13 wide: the same size, smaller and square, a wide target
# (keep_aspect_ratio then keeps 4 rows of 9, from row 5 // 2) and a tall, larger one (it keeps
# 2 columns of 13, from column 11 // 2): odd leftovers, so that the rounding of the centre shows.
TARGET_SIZES = ((9, 13), (4, 4), (4, 12), (20, 6))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file of each kind load_img meets, keyed by name."""
    directory = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    images = {
        "rgb.png": Image.fromarray(rgb, "RGB"),
        "rgba.png": Image.fromarray(rng.integers(0, 256, (9, 13, 4), dtype=np.uint8), "RGBA"),
        "grey.png": Image.fromarray(rgb[..., 0], "L"),
        "grey16.png": Image.fromarray(rng.integers(0, 512, (9, 13), dtype=np.uint16)),
        "palette.png": Image.fromarray(rgb, "RGB").quantize(colors=16),
        "photo.jpg": Image.fromarray(rgb, "RGB"),
    }
    for name, img in images.items():
        img.save(directory / name)
    return {name: directory / name for name in images}


def assert_same_image(ours, theirs):
    """Two PIL images: same mode, size and pixels."""
    assert (ours.mode, ours.size) == (theirs.mode, theirs.size)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def assert_identical(ours, theirs):
    """Two arrays: same dtype, shape and values."""
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)
    np.testing.assert_array_equal(ours, theirs)


def same_error(ours, theirs, error=ValueError):
    """Both calls raise `error` with the same message; returns the message."""
    with pytest.raises(error) as expected:
        theirs()
    with pytest.raises(error) as raised:
        ours()
    assert str(raised.value) == str(expected.value)
    return str(raised.value)


# -- where the names live ---------------------------------------------------------------------
def test_the_names_are_where_keras_3_15_has_them():
    for ours, theirs in ((utils, keras.utils), (image, keras.preprocessing.image)):
        assert ({n for n in NAMES if hasattr(ours, n)}
                == {n for n in NAMES if hasattr(theirs, n)}), theirs.__name__
    assert not hasattr(utils, "smart_resize")  # keras.utils has no smart_resize either
    assert minidl.preprocessing.image is image


def test_import_minidl_does_not_import_pillow():
    """minidl needs NumPy only: Pillow is imported by the functions that use it."""
    code = "import sys, minidl; print('PIL' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_without_pillow_the_errors_are_keras_s(monkeypatch, tmp_path):
    from keras.src.utils import image_utils as keras_image_utils

    monkeypatch.setitem(sys.modules, "PIL", None)  # makes `from PIL import Image` fail
    monkeypatch.setattr(keras_image_utils, "pil_image", None)  # Keras imported it at start-up
    x = np.zeros((2, 3, 3), np.float32)
    for name, args in (("load_img", (tmp_path / "a.png",)), ("array_to_img", (x,)),
                       ("save_img", (tmp_path / "a.png", x))):
        message = same_error(lambda: getattr(utils, name)(*args),
                             lambda: getattr(keras.utils, name)(*args), ImportError)
        assert "PIL" in message
    # img_to_array needs no Pillow in either: it is np.asarray
    assert_identical(utils.img_to_array(x), keras.utils.img_to_array(x))


# -- load_img ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rgb.png", "rgba.png", "grey.png", "grey16.png",
                                  "palette.png", "photo.jpg"])
def test_load_img_equals_keras(files, name):
    path = files[name]
    for color_mode in ("grayscale", "rgb", "rgba"):
        assert_same_image(utils.load_img(path, color_mode),
                          keras.utils.load_img(path, color_mode))
        results = {interpolation: [] for interpolation in PIL_INTERPOLATIONS}
        for size in TARGET_SIZES:
            for keep_aspect_ratio in (False, True):
                for interpolation in PIL_INTERPOLATIONS:
                    options = dict(color_mode=color_mode, target_size=size,
                                   interpolation=interpolation,
                                   keep_aspect_ratio=keep_aspect_ratio)
                    ours = utils.load_img(path, **options)
                    assert_same_image(ours, keras.utils.load_img(path, **options))
                    assert ours.size == (size[1], size[0])
                    results[interpolation].append(np.asarray(ours).tobytes())
        # the comparison tells the resample filters apart: no two give the same images
        assert len({tuple(images) for images in results.values()}) == len(PIL_INTERPOLATIONS)


def test_load_img_keep_aspect_ratio_crops_the_centre(files):
    """Keras's crop box then PIL's resize: here a wide target keeps rows 2..5 of 9."""
    path = files["rgb.png"]
    ours = utils.load_img(path, target_size=(4, 13), keep_aspect_ratio=True)
    whole = np.asarray(utils.load_img(path))
    # 13 * 4 // 13 = 4 rows, from (9 - 4) // 2 = 2: the window is the image's own pixels
    np.testing.assert_array_equal(np.asarray(ours), whole[2:6])
    assert_same_image(ours, keras.utils.load_img(path, target_size=(4, 13),
                                                 keep_aspect_ratio=True))
    squashed = utils.load_img(path, target_size=(4, 13), interpolation="nearest")
    assert not np.array_equal(np.asarray(squashed), whole[2:6])  # without it, all 9 rows


def test_load_img_takes_a_str_a_path_bytes_or_a_bytesio(files, monkeypatch):
    path = files["photo.jpg"]
    expected = keras.utils.load_img(path)
    monkeypatch.chdir(path.parent)
    for given_path in (str(path), path, pathlib.Path(path.name), str(path).encode()):
        assert_same_image(utils.load_img(given_path), expected)
    assert_same_image(utils.load_img(io.BytesIO(path.read_bytes()), target_size=(3, 4)),
                      keras.utils.load_img(io.BytesIO(path.read_bytes()), target_size=(3, 4)))


def test_load_img_errors_are_keras_s(files):
    path = files["rgb.png"]
    same_error(lambda: utils.load_img(path, color_mode="cmyk"),
               lambda: keras.utils.load_img(path, color_mode="cmyk"))
    same_error(lambda: utils.load_img(path, target_size=(3, 3), interpolation="cubic"),
               lambda: keras.utils.load_img(path, target_size=(3, 3), interpolation="cubic"))
    # at the image's own size nothing is resized, so neither looks at interpolation
    assert_same_image(utils.load_img(path, target_size=(9, 13), interpolation="cubic"),
                      keras.utils.load_img(path, target_size=(9, 13), interpolation="cubic"))
    with open(path, "rb") as opened:  # a file object other than BytesIO: Keras's TypeError
        same_error(lambda: utils.load_img(opened), lambda: keras.utils.load_img(opened),
                   TypeError)
    same_error(lambda: utils.load_img(12), lambda: keras.utils.load_img(12), TypeError)
    with pytest.raises(FileNotFoundError):
        utils.load_img(path.parent / "missing.png")


# -- img_to_array -----------------------------------------------------------------------------
def test_img_to_array_equals_keras(files):
    pictures = [utils.load_img(files[name], mode) for name in files
                for mode in ("grayscale", "rgb", "rgba")]
    pictures += [Image.open(files["palette.png"]), Image.open(files["grey.png"]).convert("1"),
                 Image.open(files["grey.png"]).convert("F"),
                 Image.open(files["grey.png"]).convert("I")]
    arrays = [np.arange(12, dtype=np.uint8).reshape(3, 4), np.ones((2, 3, 5), np.float64)]
    for picture in pictures + arrays:
        for dtype in (None, "float64", "uint8", "int32"):
            for data_format in (None, "channels_last"):
                ours = utils.img_to_array(picture, data_format, dtype)
                assert_identical(ours, keras.utils.img_to_array(picture, data_format, dtype))
                assert ours.ndim == 3


def test_img_to_array_errors_are_keras_s():
    for bad in (np.zeros(4), np.zeros((1, 2, 3, 3))):
        same_error(lambda: utils.img_to_array(bad), lambda: keras.utils.img_to_array(bad))
    picture = Image.new("RGB", (3, 2))
    same_error(lambda: utils.img_to_array(picture, data_format="nhwc"),
               lambda: keras.utils.img_to_array(picture, data_format="nhwc"))


# -- array_to_img -----------------------------------------------------------------------------
@st.composite
def image_arrays(draw):
    h, w, c = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.sampled_from([1, 3, 4]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    low, high = draw(st.sampled_from([(0, 1), (-5, 300), (0, 255), (3, 3), (0, 70000)]))
    x = rng.uniform(low, high, (h, w, c))
    return x.astype(draw(st.sampled_from([np.float32, np.float64, np.uint8])))


@given(x=image_arrays(), scale=st.booleans(), dtype=st.sampled_from([None, "float64"]))
def test_array_to_img_equals_keras(x, scale, dtype):
    if not scale and x.shape[2] > 1:
        x = np.clip(x, 0, 255)  # a float outside uint8's range has no defined cast
    ours = utils.array_to_img(x, scale=scale, dtype=dtype)
    assert_same_image(ours, keras.utils.array_to_img(x, scale=scale, dtype=dtype))
    expected_mode = {3: "RGB", 4: "RGBA"}.get(x.shape[2])
    if expected_mode is None:  # grey: 8 bits, or 32-bit integers when above 255 unscaled
        expected_mode = "I" if not scale and x.max() > 255 else "L"
    assert ours.mode == expected_mode and ours.size == (x.shape[1], x.shape[0])


def test_array_to_img_scales_to_0_255_as_keras():
    x = np.array([[[-1.0], [0.0]], [[1.0], [3.0]]], np.float32)
    ours = utils.array_to_img(x)
    # (x - min) / (max - min) * 255, cut to uint8: 0, 63.75, 127.5, 255
    np.testing.assert_array_equal(np.asarray(ours), [[0, 63], [127, 255]])
    assert_same_image(ours, keras.utils.array_to_img(x))
    assert_same_image(utils.array_to_img(x.tolist()), keras.utils.array_to_img(x.tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant image is not divided by its range, 0
        constant = utils.array_to_img(np.full((2, 3, 3), 7.0))
    np.testing.assert_array_equal(np.asarray(constant), 0)
    assert_same_image(constant, keras.utils.array_to_img(np.full((2, 3, 3), 7.0)))
    for top, mode in ((255, "L"), (256, "I")):  # unscaled grey above 255: 32-bit integers
        grey = np.array([[[0.0], [top]]])
        ours = utils.array_to_img(grey, scale=False)
        assert ours.mode == mode and np.asarray(ours).max() == top
        assert_same_image(ours, keras.utils.array_to_img(grey, scale=False))


def test_array_to_img_errors_are_keras_s():
    for bad in (np.zeros((3, 3)), np.zeros((1, 3, 3, 3)), np.zeros((3, 3, 2))):
        same_error(lambda: utils.array_to_img(bad), lambda: keras.utils.array_to_img(bad))
    x = np.zeros((3, 3, 3))
    same_error(lambda: utils.array_to_img(x, data_format="nhwc"),
               lambda: keras.utils.array_to_img(x, data_format="nhwc"))


# -- save_img ---------------------------------------------------------------------------------
def test_save_img_writes_keras_s_bytes(tmp_path):
    rng = np.random.default_rng(3)
    rgb, rgba = rng.uniform(-1, 1, (5, 7, 3)), rng.uniform(0, 255, (5, 7, 4))
    grey = rng.uniform(0, 255, (5, 7, 1)).astype(np.float32)
    cases = [("a.png", rgb, {}), ("b.PNG", grey, {"scale": False}), ("c.jpg", rgb, {}),
             ("d.jpeg", rgb, {"quality": 50}), ("e.bmp", rgba, {}),
             ("f.img", rgb, {"file_format": "png"})]
    for name, x, options in cases:
        for framework, directory in ((utils, "ours"), (keras.utils, "theirs")):
            (tmp_path / directory).mkdir(exist_ok=True)
            framework.save_img(tmp_path / directory / name, x, **options)
        written = (tmp_path / "ours" / name).read_bytes()
        assert written == (tmp_path / "theirs" / name).read_bytes(), name
    assert (tmp_path / "ours" / "c.jpg").read_bytes()[:2] == b"\xff\xd8"  # .jpg means JPEG
    # str paths and BytesIO objects with a file_format, as Keras
    utils.save_img(str(tmp_path / "g.png"), rgb)
    assert (tmp_path / "g.png").read_bytes() == (tmp_path / "ours" / "a.png").read_bytes()
    ours, theirs = io.BytesIO(), io.BytesIO()
    utils.save_img(ours, rgb, file_format="png")
    keras.utils.save_img(theirs, rgb, file_format="png")
    assert ours.getvalue() == theirs.getvalue()


def test_save_img_rgba_as_jpeg_warns_and_drops_alpha_as_keras(tmp_path):
    x = np.random.default_rng(4).uniform(0, 255, (4, 4, 4))
    messages = []
    for framework, name in ((utils, "ours.jpg"), (keras.utils, "theirs.jpg")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            framework.save_img(tmp_path / name, x)
        messages.append([str(w.message) for w in caught])
    assert messages[0] == messages[1] and len(messages[0]) == 1
    assert (tmp_path / "ours.jpg").read_bytes() == (tmp_path / "theirs.jpg").read_bytes()
    assert Image.open(tmp_path / "ours.jpg").mode == "RGB"


def test_save_img_errors_are_keras_s(tmp_path):
    x = np.zeros((3, 3, 3))
    # a file object without file_format: Pillow cannot tell the format
    same_error(lambda: utils.save_img(io.BytesIO(), x),
               lambda: keras.utils.save_img(io.BytesIO(), x))
    same_error(lambda: utils.save_img(tmp_path / "a.png", np.zeros((3, 3))),
               lambda: keras.utils.save_img(tmp_path / "a.png", np.zeros((3, 3))))
    assert not (tmp_path / "a.png").exists()


# -- channels-first: refused by name ------------------------------------------------------------
def test_channels_first_is_refused_by_name_where_keras_transposes(tmp_path):
    x = np.random.default_rng(5).uniform(0, 1, (3, 4, 5)).astype(np.float32)
    keras.utils.array_to_img(x, data_format="channels_first")  # Keras: (C, H, W) images
    keras.preprocessing.image.smart_resize(x, (2, 2), data_format="channels_first")
    calls = [lambda: utils.array_to_img(x, data_format="channels_first"),
             lambda: utils.img_to_array(x, data_format="channels_first"),
             lambda: utils.save_img(tmp_path / "a.png", x, data_format="channels_first"),
             lambda: image.smart_resize(x, (2, 2), data_format="channels_first")]
    for call in calls:
        with pytest.raises(ValueError, match=r"channels.last.*Received: "
                                             r"data_format='channels_first'"):
            call()
    assert not (tmp_path / "a.png").exists()


# -- smart_resize -----------------------------------------------------------------------------
def keras_smart_resize(x, size, **options):
    return keras.preprocessing.image.smart_resize(x, size, **options)


SMART_CASES = [  # (input shape, size, whether a window is cut): up and down, one or a batch
    ((5, 7, 3), (9, 11), True),  # upscale, a column cut
    ((2, 12, 10, 3), (4, 6), True),  # downscale, rows cut
    ((9, 4, 1), (3, 3), True),  # tall input, square target
    ((3, 6, 9, 2), (10, 4), True),  # wide input, tall target
    ((1, 8, 8, 3), (8, 8), False),  # nothing to crop or resize
    ((6, 6, 4), (2, 2), False),  # the same aspect ratio: a resize alone
    ((1, 1, 2), (3, 5), False),  # one pixel: nothing can be cut
]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_smart_resize_equals_keras(dtype):
    rng = np.random.default_rng(11)
    for shape, size, crops in SMART_CASES:
        x = rng.uniform(0, 255, shape).astype(dtype)
        for interpolation in ("bilinear", "nearest"):
            ours = image.smart_resize(x, size, interpolation=interpolation)
            assert_identical(ours, keras_smart_resize(x, size, interpolation=interpolation))
            assert ours.shape == shape[:-3] + tuple(size) + shape[-1:]
        # negative control: where a window is cut, resizing the whole image (stretching it)
        # gives other values, so the comparison above sees the crop
        whole = resize(np.asarray(x, np.float32).reshape((-1,) + shape[-3:]), size)[0]
        cropped = image.smart_resize(x, size).reshape(whole.shape)
        assert np.array_equal(whole, cropped) != crops, shape


@given(data=st.data())
def test_smart_resize_equals_keras_on_drawn_shapes(data):
    batch = data.draw(st.sampled_from([(), (1,), (3,)]))
    h, w, c = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)), data.draw(
        st.integers(1, 3))
    size = (data.draw(st.integers(1, 11)), data.draw(st.integers(1, 11)))
    dtype = data.draw(st.sampled_from([np.uint8, np.int32, np.float32, np.float64]))
    interpolation = data.draw(st.sampled_from(["bilinear", "nearest"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.uniform(-100, 300, batch + (h, w, c))
    x = np.clip(x, 0, 255).astype(dtype) if dtype == np.uint8 else x.astype(dtype)
    assert_identical(image.smart_resize(x, size, interpolation=interpolation),
                     keras_smart_resize(x, size, interpolation=interpolation))


def test_smart_resize_takes_lists_and_the_default_layout():
    x = np.random.default_rng(12).uniform(0, 1, (5, 7, 3)).astype(np.float32)
    expected = keras_smart_resize(x, (4, 4))
    assert_identical(image.smart_resize(x.tolist(), (4, 4)), expected)
    # nested lists become floatx arrays, as Keras's tensors (Keras returns a tensor for them)
    nearest = keras_smart_resize(x.tolist(), (4, 4), interpolation="nearest")
    assert_identical(image.smart_resize(x.tolist(), (4, 4), interpolation="nearest"),
                     np.asarray(nearest))
    assert_identical(image.smart_resize(x, [4, 4], data_format=None), expected)
    # Keras 3.15 reads data_format=None as channels-first for its crop (only "channels_last"
    # takes the channels-last branch) and then resizes channels-last: another crop
    assert not np.array_equal(keras_smart_resize(x, (4, 4), data_format=None), expected)


def test_smart_resize_errors_are_keras_s():
    x = np.zeros((5, 7, 3), np.float32)
    same_error(lambda: image.smart_resize(x, (3,)), lambda: keras_smart_resize(x, (3,)))
    for bad in (np.zeros((5, 7)), np.zeros((1, 2, 5, 7, 3))):
        same_error(lambda: image.smart_resize(bad, (2, 2)),
                   lambda: keras_smart_resize(bad, (2, 2)))
    for options in ({"interpolation": "cubic"}, {"data_format": "nhwc"}):
        same_error(lambda: image.smart_resize(x, (2, 2), **options),
                   lambda: keras_smart_resize(x, (2, 2), **options))
    same_error(lambda: image.smart_resize(x, (2, 2), antialias=True),
               lambda: keras_smart_resize(x, (2, 2), antialias=True), TypeError)


@pytest.mark.parametrize("interpolation", ["bicubic", "area", "lanczos3", "lanczos5"])
def test_smart_resize_refuses_the_interpolations_minidl_lacks_by_name(interpolation):
    x = np.zeros((5, 7, 3), np.float32)
    assert keras_smart_resize(x, (2, 2), interpolation=interpolation).shape == (2, 2, 3)
    with pytest.raises(ValueError, match=f"'bilinear' and 'nearest' only.*Received: "
                                         f"interpolation='{interpolation}'"):
        image.smart_resize(x, (2, 2), interpolation=interpolation)
