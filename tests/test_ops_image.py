"""minidl.ops.image against live keras.ops.image on the TensorFlow backend: values, dtypes,
both data formats, and Keras's argument errors.

Tolerance: exact (atol 0) for everything that only moves or pads values (nearest resize,
pads, crops, patches, nearest affine transforms) and for the resampling minidl evaluates in
TensorFlow's own order (bilinear resize and affine transform, map_coordinates); 2e-7 for
the weighted sums TensorFlow orders its own way (grayscale's tensordot, rgb_to_hsv's
division, the blur's depthwise convolution): one float32 ulp of values in [0, 1]; 1e-6 for ssim, a mean
of ratios of such sums (2.4e-7 seen); 1e-5 for perspective_transform's bilinear reads, whose
map comes from an 8 x 8 float32 solve (NumPy's LAPACK, not TensorFlow's LU: 4e-6 seen; the
nearest reads of these points land on the same pixels).
"""
import numpy as np
import pytest

import keras
from minidl import ops
from minidl.ops import image

RNG = np.random.default_rng(0)
IMG = RNG.uniform(size=(2, 7, 9, 3)).astype(np.float32)
CF = IMG.transpose(0, 3, 1, 2).copy()  # channels_first
U8 = (IMG * 255).astype(np.uint8)
T = (RNG.normal(size=(2, 8)) * 0.1 + [1, 0, 0, 0, 1, 0, 0, 0]).astype(np.float32)
BIG = RNG.uniform(size=(2, 14, 15, 3)).astype(np.float32)  # ssim's windows are 11 x 11
NOISY = np.clip(BIG + 0.1 * RNG.normal(size=BIG.shape), 0, 1).astype(np.float32)
CORNERS = np.array([[0, 0], [14, 0], [0, 13], [14, 13]], np.float32)
MOVED = CORNERS + RNG.uniform(-3, 3, size=(2, 4, 2)).astype(np.float32)
EXACT, ULP, MEAN, SOLVE = 0.0, 2e-7, 1e-6, 1e-5

CASES = [  # (function, arguments, keyword arguments, tolerance)
    ("rgb_to_grayscale", (IMG,), {}, ULP),
    ("rgb_to_grayscale", (CF,), {"data_format": "channels_first"}, ULP),
    ("rgb_to_grayscale", (U8[0],), {}, EXACT),
    ("rgb_to_hsv", (IMG,), {}, ULP),
    ("rgb_to_hsv", (CF[0],), {"data_format": "channels_first"}, ULP),
    ("rgb_to_hsv", (IMG.astype(np.float64),), {}, 1e-15),
    ("hsv_to_rgb", (IMG,), {}, EXACT),
    ("hsv_to_rgb", (CF,), {"data_format": "channels_first"}, EXACT),
    ("resize", (IMG, (4, 5)), {}, EXACT),
    ("resize", (IMG, (11, 13)), {"interpolation": "nearest"}, EXACT),
    ("resize", (IMG, (4, 4)), {"crop_to_aspect_ratio": True}, EXACT),
    ("resize", (IMG, (4, 4)), {"pad_to_aspect_ratio": True, "fill_value": 0.5}, EXACT),
    ("resize", (IMG[0], (6, 3)), {"pad_to_aspect_ratio": True}, EXACT),
    ("resize", (CF, (3, 4)), {"data_format": "channels_first"}, EXACT),
    ("resize", (U8, (3, 4)), {}, EXACT),
    ("resize", (U8, (3, 4)), {"interpolation": "nearest"}, EXACT),
    ("resize", (IMG.astype(np.float64), (3, 4)), {}, EXACT),
    ("pad_images", (IMG, 1, 2), {"target_height": 10, "target_width": 12}, EXACT),
    ("pad_images", (CF[0],), {"bottom_padding": 2, "right_padding": 1, "top_padding": 0,
                              "left_padding": 3, "data_format": "channels_first"}, EXACT),
    ("crop_images", (IMG, 1, 2), {"target_height": 4, "target_width": 5}, EXACT),
    ("crop_images", (IMG,), {"bottom_cropping": 2, "right_cropping": 1, "top_cropping": 1,
                             "left_cropping": 3}, EXACT),
    ("extract_patches", (IMG, 3), {}, EXACT),
    ("extract_patches", (IMG, (2, 3)), {"strides": 1, "dilation_rate": 2, "padding": "same"},
     EXACT),
    ("extract_patches", (CF[0], 2), {"data_format": "channels_first"}, EXACT),
    ("extract_patches_3d", (RNG.uniform(size=(1, 4, 5, 6, 2)).astype(np.float32), 2), {},
     EXACT),
    ("affine_transform", (IMG, T), {}, EXACT),
    ("affine_transform", (IMG, T[0]), {"interpolation": "nearest", "fill_mode": "reflect"},
     EXACT),
    ("affine_transform", (CF, T), {"fill_mode": "wrap", "data_format": "channels_first"}, EXACT),
    ("map_coordinates", (IMG[0, :, :, 0], RNG.uniform(-2, 10, size=(2, 5, 4)).astype(np.float32),
                         1), {}, EXACT),
    ("map_coordinates", (IMG[0, :, :, 0], RNG.uniform(-2, 10, size=(2, 5, 4)).astype(np.float32),
                         0), {"fill_mode": "nearest"}, EXACT),
    ("map_coordinates", (IMG[0], RNG.uniform(-3, 12, size=(3, 6)).astype(np.float32), 1),
     {"fill_mode": "reflect"}, EXACT),
    ("map_coordinates", (IMG[0], RNG.uniform(-3, 12, size=(3, 6)).astype(np.float32), 1),
     {"fill_mode": "wrap"}, EXACT),
    ("map_coordinates", (U8[0], RNG.uniform(-3, 12, size=(3, 6)).astype(np.float32), 1),
     {"fill_value": 7}, EXACT),
    ("gaussian_blur", (IMG,), {}, ULP),
    ("gaussian_blur", (IMG[0],), {"kernel_size": (5, 5), "sigma": (2.0, 2.0)}, ULP),
    ("gaussian_blur", (CF,), {"data_format": "channels_first"}, ULP),
    ("sobel_edges", (IMG,), {}, EXACT),
    ("sobel_edges", (CF,), {"data_format": "channels_first"}, EXACT),
    ("ssim", (BIG, NOISY), {}, MEAN),
    ("ssim", (BIG[0], NOISY[0]), {"filter_size": 5, "max_val": 2.0}, MEAN),
    ("ssim", (BIG.transpose(0, 3, 1, 2), NOISY.transpose(0, 3, 1, 2)),
     {"data_format": "channels_first"}, MEAN),
    ("ssim", ((BIG * 255).astype(np.uint8), (NOISY * 255).astype(np.uint8)),
     {"max_val": 255.0}, EXACT),
    ("perspective_transform", (BIG, CORNERS[None].repeat(2, 0), MOVED), {}, SOLVE),
    ("perspective_transform", (BIG, CORNERS[None].repeat(2, 0), MOVED),
     {"interpolation": "nearest"}, EXACT),
    ("perspective_transform", (BIG[0], CORNERS, MOVED[0]), {"fill_value": 0.5}, SOLVE),
    ("perspective_transform", (BIG.transpose(0, 3, 1, 2), CORNERS[None].repeat(2, 0), MOVED),
     {"data_format": "channels_first"}, SOLVE),
]


def test_each_image_op_gives_keras_values_and_dtypes():
    for name, args, kwargs, tolerance in CASES:
        theirs = getattr(keras.ops.image, name)(*args, **kwargs)
        ours = getattr(image, name)(*args, **kwargs)
        assert ours.dtype == theirs.dtype and ours.shape == tuple(theirs.shape), name
        np.testing.assert_allclose(ours.astype(np.float64), np.asarray(theirs, np.float64),
                                   rtol=0, atol=tolerance, err_msg=f"{name} {kwargs}")
    assert ops.image is image  # minidl.ops.image, as keras.ops.image


def test_hsv_round_trip_and_a_resize_off_by_one_pixel_would_be_caught():
    """The round trip is the identity (a property, to 1e-6), and the comparison above is not
    blind: a bilinear resize from corner-aligned sampling (align_corners) differs from Keras's."""
    np.testing.assert_allclose(image.hsv_to_rgb(image.rgb_to_hsv(IMG)), IMG, atol=1e-6)
    theirs = np.asarray(keras.ops.image.resize(IMG, (4, 5)))
    rows, cols = np.linspace(0, 6, 4).round().astype(int), np.linspace(0, 8, 5).round().astype(int)
    corner_aligned = IMG[:, rows][:, :, cols]
    assert not np.allclose(corner_aligned, theirs, atol=1e-3)


ERRORS = [
    ("rgb_to_grayscale", (np.ones((2, 3), np.float32),), {}),
    ("rgb_to_grayscale", (np.ones((2, 3, 2), np.float32),), {}),
    ("rgb_to_hsv", (np.ones((2, 3, 3), np.int32),), {}),
    ("hsv_to_rgb", (np.ones((3, 3), np.float32),), {}),
    ("resize", (IMG, (2, 2)), {"interpolation": "cubic"}),
    ("resize", (IMG, (2, 2)), {"fill_mode": "reflect"}),
    ("resize", (IMG, (2, 2)), {"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}),
    ("resize", (IMG, (2, 2, 2)), {}),
    ("pad_images", (IMG, 1, 2), {}),
    ("pad_images", (IMG, 1, 2), {"target_height": 3, "target_width": 12}),
    ("pad_images", (IMG, -1, 2), {"bottom_padding": 1, "right_padding": 1}),
    ("crop_images", (IMG, 1), {"target_height": 3}),
    ("extract_patches", (IMG, (2, 2, 2, 2)), {}),
    ("affine_transform", (IMG, T), {"interpolation": "bicubic"}),
    ("affine_transform", (IMG, T), {"fill_mode": "mirror"}),
    ("affine_transform", (IMG, T[None]), {}),
    ("map_coordinates", (IMG[0], np.ones((2, 4), np.float32), 1), {}),
    ("map_coordinates", (IMG[0, :, 0, 0], np.ones((1,), np.float32), 1), {}),
    ("map_coordinates", (IMG[0], np.ones((3, 4), np.float32), 3), {}),
    ("perspective_transform", (IMG, CORNERS[:3], MOVED[0, :3]), {}),
    ("perspective_transform", (IMG, CORNERS, MOVED), {}),
    ("perspective_transform", (IMG, CORNERS, MOVED[0]), {"interpolation": "bicubic"}),
]


@pytest.mark.parametrize("name, args, kwargs", ERRORS, ids=[e[0] for e in ERRORS])
def test_argument_errors_are_keras_errors(name, args, kwargs):
    with pytest.raises(Exception) as theirs:
        getattr(keras.ops.image, name)(*args, **kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(image, name)(*args, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_where_keras_fails_deeper_minidl_names_the_argument():
    """A crop outside the images fails in TensorFlow's slice (InvalidArgumentError); an unknown
    map_coordinates fill_mode in Keras's own message (AttributeError: a set has no keys)."""
    with pytest.raises(Exception) as theirs:
        keras.ops.image.map_coordinates(IMG[0], np.ones((3, 4), np.float32), 1, fill_mode="edge")
    assert type(theirs.value) is AttributeError
    with pytest.raises(ValueError, match="Received: fill_mode=edge"):
        image.map_coordinates(IMG[0], np.ones((3, 4), np.float32), 1, fill_mode="edge")
    with pytest.raises(ValueError, match="target_height=9"):
        image.crop_images(IMG, 1, 2, target_height=9, target_width=2)


@pytest.mark.parametrize("kwargs", [{"interpolation": "bicubic"}, {"interpolation": "area"},
                                    {"antialias": True}])
def test_what_minidl_does_not_compute_is_refused_by_name(kwargs):
    with pytest.raises(ValueError, match=f"Received: {next(iter(kwargs))}="):
        image.resize(IMG, (3, 4), **kwargs)
