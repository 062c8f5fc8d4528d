"""Geometric augmentation beyond augmentation.py's rotation, zoom and translation.

    RandomShear(0.2, 0.1)             slant each image along x and y by random amounts
    RandomPerspective(0.5, 0.3)       move each corner of some images by up to 15 % of a side

Each is a (N, 8) transform per batch resampled with TensorFlow's kernel (image_sampling.py),
its backward the transposed resampling.
Images are batches (N, H, W, C), channels_last.
"""
import numpy as np

from minidl.layers.augmentation import (AffineLayer, ImagePreprocessingLayer, INTERPOLATIONS,
                                        check_factor, symmetric_range, uniform)
from minidl.layers.image_sampling import affine_transform, resample_backward
from minidl.ops.image import _homography

f32 = np.float32


def check_shear_factor(factor, name):
    """(lower, upper): a number f is (-f, f); each end in [0, 1] (keras random_shear.py)."""
    message = ("The `factor` argument should be a number (or a list of two numbers) in the "
               "range [0, 1.0]. ")
    return symmetric_range(factor, name, message, lambda number: number > 1.0 or number < 0.0)


class RandomShear(AffineLayer):
    """Shears each image along x and y by random amounts when training.

    Formula (one draw of each per image; keras random_shear.py):
        s = -1 if U[0, 1) > 0.5 else 1                 (one sign for both axes)
        sx = s * U[x_factor[0], x_factor[1]);  sy = s * U[y_factor[0], y_factor[1])
        t = [1, sx, 0,  sy, 1, 0,  0, 0]:   output (i, j) reads x at (j + sx * i, sy * j + i)
        y = affine_transform(x, t)
    Backward: the transposed resampling.

    Args:
        x_factor, y_factor: f for (-f, f), or a pair, each end in [0, 1]; default 0.
        interpolation, fill_mode, fill_value, seed, data_format: as RandomRotation.
    """

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear",
                 fill_mode="reflect", fill_value=0.0, data_format=None, seed=None, **kwargs):
        self.x_factor = check_shear_factor(x_factor, "x_factor")
        self.y_factor = check_shear_factor(y_factor, "y_factor")
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        g, n = self.generator(), len(images)
        sign = np.where(uniform(g, 0, 1, (n, 1)) > 0.5, f32(-1), f32(1))  # (N,1)
        shear_y = uniform(g, self.y_factor[0], self.y_factor[1], (n, 1))  # (N,1)
        shear_x = uniform(g, self.x_factor[0], self.x_factor[1], (n, 1))  # (N,1)
        return {"shear_factor": np.concatenate([shear_x, shear_y], axis=1) * sign,  # (N,2)
                "input_shape": tuple(images.shape)}

    def matrix(self, t, H, W):
        s = np.asarray(t["shear_factor"], f32)  # (N,2)
        one, zero = np.ones(len(s), f32), np.zeros(len(s), f32)  # (N,)
        return np.stack([one, s[:, 0], zero, s[:, 1], one, zero, zero, zero], axis=1)  # (N,8)

    def get_config(self):
        return {**super().get_config(), "x_factor": self.x_factor, "y_factor": self.y_factor}


class RandomPerspective(ImagePreprocessingLayer):
    """Moves the four corners of a random share of the images, warping them projectively.

    Formula (keras random_perspective.py; per image):
        p ~ U[factor[0], factor[1]);  u ~ U[0, 1);  warp = u < p
        corners c = (0, 0), (W - 1, 0), (0, H - 1), (W - 1, H - 1)
        moved = c + c * U[-scale / 2, scale / 2)   (each coordinate; so (0, 0) never moves)
        y = where(warp, perspective_transform(x, c, moved), x)   (constant fill_value)
    Backward: the transposed resampling where warped, dy elsewhere.

    Args:
        factor: the share of images warped: f for (0, f), or a pair, in [0, 1]; default 1.0.
        scale: how far the corners move, in [0, 1]; default 1.0.
        interpolation: "bilinear" (default) or "nearest".
        fill_value: the value read outside the image, default 0.
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))
        self.scale, self.fill_value, self.interpolation = scale, fill_value, interpolation
        if scale < 0.0 or scale > 1.0:
            raise ValueError(f"The `scale` argument should be a number in the range [0,1]. "
                             f"Received: scale={scale}")
        if interpolation not in INTERPOLATIONS:
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of "
                                      f"one {INTERPOLATIONS}.")

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        g, (N, H, W, C) = self.generator(), images.shape
        p = uniform(g, self.factor[0], self.factor[1], (N,))  # (N,)
        warp = uniform(g, 0, 1, (N,)) < p  # (N,)
        move = uniform(g, -0.5 * self.scale, 0.5 * self.scale, (N, 4, 2))  # (N,4,2)
        corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1]], f32)  # (4,2)
        start = np.repeat(corners[None], N, axis=0)  # (N,4,2)
        return {"apply_perspective": warp, "start_points": start,
                "end_points": start + start * move, "input_shape": tuple(images.shape)}

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        transform = _homography(t["start_points"], t["end_points"])  # (N,8)
        y, taps = affine_transform(x, transform, self.interpolation, "constant",
                                   self.fill_value)  # (N,H,W,C)
        warp = np.asarray(t["apply_perspective"])[:, None, None, None]  # (N,1,1,1)
        return np.where(warp, y, x), (taps, x.shape, warp)

    def _transform_backward(self, dy, cache):
        taps, x_shape, warp = cache
        return np.where(warp, resample_backward(dy, taps, x_shape), dy)  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value,
                "seed": self.seed}
