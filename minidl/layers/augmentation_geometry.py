"""Geometric augmentation beyond augmentation.py's rotation, zoom and translation.

    RandomShear(0.2, 0.1)             slant each image along x and y by random amounts

The layer is an AffineLayer of augmentation.py: a (N, 8) transform per batch, resampled with
TensorFlow's kernel (image_sampling.py), its backward the transposed resampling.
Images are batches (N, H, W, C), channels_last.
"""
import numpy as np

from minidl.layers.augmentation import AffineLayer, uniform

f32 = np.float32


def check_shear_factor(factor, name):
    """(lower, upper): a number f is (-f, f); each end in [0, 1] (keras random_shear.py)."""
    message = ("The `factor` argument should be a number (or a list of two numbers) in the "
               "range [0, 1.0]. ")

    def check(number):
        if number > 1.0 or number < 0.0:
            raise ValueError(message + f"Received: input_number={number}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(message + f"Received: {name}={factor}")
        check(factor[0])
        check(factor[1])
        return tuple(sorted(factor))
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        check(factor)
        return -abs(factor), abs(factor)
    raise ValueError(message + f"Received: {name}={factor}")


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
