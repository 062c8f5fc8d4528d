"""Colour preprocessing: layers that change each image's values, not where its pixels are.

    AutoContrast((0, 255))            stretch each channel to the whole range (always, not random)
    Solarization(0.1, 0.5)            add a random amount, then flip the values above a threshold
    RandomInvert(0.5)                 y = high - x, for a random share of the images
    RandomGrayscale(0.3)              every channel the image's luminance, for 30 % of the images
    RandomPosterization(4)            keep the top 1 to 3 bits of each 8-bit value
    RandomColorDegeneration(0.5)      move each image towards its grey version by up to 50 %
    RandomSharpness(0.3)              blur (or sharpen) each image by a random amount
    RandomGaussianBlur(1.0, 3, 1.0)   blur a random share of the images with a Gaussian
    Equalization((0, 255))            spread each channel's histogram evenly (not random)
    RandomSaturation(0.5)             scale each image's saturation by a random amount
    RandomHue(0.5)                    turn each image's hue by up to a quarter turn
    RandomColorJitter(...)            brightness, contrast, saturation and hue in turn

As in augmentation.py, each layer is Keras's two halves by Keras's names:
    t = layer.get_random_transformation(images, training)   the draw (minidl's generator)
    y = layer.transform_images(images, t, training)          the maths, fixed once t is
and every backward is the exact derivative of the forward.

Images are batches (N, H, W, C), channels_last; value ranges are (low, high) = (a, b).
"""
import numpy as np

from minidl.layers.augmentation import (ImagePreprocessingLayer, RandomBrightness,
                                        RandomContrast, check_factor, uniform)
from minidl.ops.image import gaussian_blur, hsv_to_rgb, rgb_to_grayscale, rgb_to_hsv

f32 = np.float32


def check_value_range(value_range):
    """A sorted [low, high], with Keras's message for anything else."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError("The `value_range` argument should be a list of two numbers. "
                         f"Received: value_range={value_range}")
    return sorted(value_range)


def to_range(x, original, target):
    """Keras's _transform_value_range: (x - o0) / (o1 - o0) * (t1 - t0) + t0, in x's dtype."""
    if original[0] == target[0] and original[1] == target[1]:
        return x
    o0, o1, t0, t1 = (x.dtype.type(v) for v in (*original, *target))
    return (x - o0) / (o1 - o0) * (t1 - t0) + t0  # (N,H,W,C)


# -- AutoContrast: not random --------------------------------------------------------------------
class AutoContrast(ImagePreprocessingLayer):
    """Stretches each image's channels to span the whole value range, in training and inference.

    Formula (per image and channel; lo, hi = min and max over height and width), in Keras's
    steps (auto_contrast.py: the values are taken to (0, 255) and back):
        u = to_range(x, (a, b), (0, 255))
        s = 255 / (hi_u - lo_u);   v = clip(u * s - lo_u * s, 0, 255)
        y = to_range(v, (0, 255), (a, b));   y = x where y is NaN (a flat channel: hi = lo)
    Backward (r = (u - lo_u) / (hi_u - lo_u), the output's place in the range, g = dy):
        dx = g * s  +  at the argmin: sum(g * s * (r - 1))  +  at the argmax: -sum(g * s * r)
    (the scalings to (0, 255) and back cancel; TensorFlow splits a tie of the min or max evenly,
    and so does minidl). A flat channel passes dy.

    Args:
        value_range: (low, high) of the images, default (0, 255).
    """

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = check_value_range(value_range)

    def forward(self, x, training=False):  # Keras: active at inference too
        return self._transform(x, None, True)

    def _transform(self, x, t, training):
        a, b = self.value_range
        u = to_range(x, (a, b), (0, 255))  # (N,H,W,C)
        lo = u.min(axis=(1, 2), keepdims=True)  # (N,1,1,C)
        hi = u.max(axis=(1, 2), keepdims=True)  # (N,1,1,C)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = u.dtype.type(255) / (hi - lo)  # (N,1,1,C)
            v = np.clip(u * s + -lo * s, 0, 255)  # (N,H,W,C)
            y = to_range(v, (0, 255), (a, b))  # (N,H,W,C)
        flat = np.isnan(y)
        return np.where(flat, x, y), (u, lo, hi, flat)

    def _transform_backward(self, dy, cache):
        u, lo, hi, flat = cache
        with np.errstate(divide="ignore", invalid="ignore"):
            s = dy.dtype.type(255) / (hi - lo)  # (N,1,1,C)
            r = (u - lo) / (hi - lo)  # (N,H,W,C)
            gs = np.where(flat, 0, dy * s)  # (N,H,W,C)
        at_lo, at_hi = (u == lo), (u == hi)  # (N,H,W,C)
        d_lo = (gs * (r - 1)).sum(axis=(1, 2), keepdims=True)  # (N,1,1,C)
        d_hi = -(gs * r).sum(axis=(1, 2), keepdims=True)  # (N,1,1,C)
        dx = gs + at_lo * d_lo / at_lo.sum(axis=(1, 2), keepdims=True) \
            + at_hi * d_hi / at_hi.sum(axis=(1, 2), keepdims=True)  # (N,H,W,C)
        return np.where(flat, dy, dx)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range}


# -- Solarization ----------------------------------------------------------------------------------
def check_solarization_factor(factor, name):
    """(lower, upper) in [0, 1]: a number f is (0, f), as Keras's solarization.py."""
    message = ("The `addition_factor` and `threshold_factor` arguments should be a number (or a "
               "list of two numbers) in the range [0, 1]. ")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(message + f"Received: {name}={factor}")
        values = factor
    elif isinstance(factor, (int, float)) and not isinstance(factor, bool):
        values = (factor,)
    else:
        raise ValueError(message + f"Received: {name}={factor}")
    for number in values:
        if number > 1.0 or number < 0:
            raise ValueError(message + f"Received: input_number={number}")
    return tuple(sorted(factor)) if isinstance(factor, (tuple, list)) else (0, factor)


class Solarization(ImagePreprocessingLayer):
    """Adds a random amount to each image, then turns the values above a threshold upside down.

    Formula (one addition and one threshold per image, on the scale (0, 255)):
        add ~ U[addition_factor[0], addition_factor[1] * 255)
        thr ~ U[threshold_factor[0], threshold_factor[1] * 255)
        u = clip(to_range(x, (a, b), (0, 255)) + add, 0, 255)
        y = to_range(where(u < thr, u, 255 - u), (0, 255), (a, b))
    Keras (solarization.py) scales only the upper end of each range by 255; minidl draws the
    same. The defaults (0, 0) give add = thr = 0: every value is inverted.
    Backward: dx = dy where u < thr, -dy above it, 0 where the clip cut (the scalings cancel).

    Args:
        addition_factor: f for (0, f), or a pair, in [0, 1]; default 0.
        threshold_factor: f for (0, f), or a pair, in [0, 1]; default 0.
        value_range: (low, high) of the images, default (0, 255).
        seed: see ImagePreprocessingLayer.
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = check_solarization_factor(addition_factor, "addition_factor")
        self.threshold_factor = check_solarization_factor(threshold_factor, "threshold_factor")
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        shape, g = (len(images), 1, 1, 1), self.generator()
        (a0, a1), (t0, t1) = self.addition_factor, self.threshold_factor
        return {"additions": uniform(g, a0, a1 * 255, shape),  # (N,1,1,1)
                "thresholds": uniform(g, t0, t1 * 255, shape)}  # (N,1,1,1)

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        add = np.asarray(t["additions"]).astype(x.dtype)  # (N,1,1,1)
        thr = np.asarray(t["thresholds"]).astype(x.dtype)  # (N,1,1,1)
        z = to_range(x, self.value_range, (0, 255)) + add  # (N,H,W,C)
        u = np.clip(z, 0, 255)  # (N,H,W,C)
        below = u < thr  # (N,H,W,C)
        y = to_range(np.where(below, u, 255 - u), (0, 255), self.value_range)  # (N,H,W,C)
        sign = np.where(below, 1, -1) * ((z >= 0) & (z <= 255))  # (N,H,W,C) in {-1, 0, 1}
        return y, sign.astype(x.dtype)

    def _transform_backward(self, dy, sign):
        return dy * sign  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "addition_factor": self.addition_factor,
                "threshold_factor": self.threshold_factor, "seed": self.seed}


# -- RandomInvert and RandomGrayscale: a random share of the images ----------------------------
class RandomInvert(ImagePreprocessingLayer):
    """Inverts a random share of the images when training: y = high - x.

    Formula (per image): p ~ U[factor[0], factor[1]);  u ~ U[0, 1);  invert = u < p
        y = where(invert, value_range[1] - x, x)
    So factor (p, p) inverts a share p of the images; the default 1.0 (0, 1) a share 1/2.
    Backward: dx = where(invert, -dy, dy).

    Args:
        factor: f for (0, f), or a pair (lower, upper), in [0, 1]; default 1.0.
        value_range: (low, high) of the images, default (0, 255) (only high is used).
        seed: see ImagePreprocessingLayer.
    """

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))
        self.value_range = value_range  # as Keras's: neither checked nor sorted

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        g = self.generator()
        p = uniform(g, self.factor[0], self.factor[1], (len(images),))  # (N,)
        return {"apply_inversion": uniform(g, 0, 1, (len(images),)) < p}  # (N,) bools

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        invert = np.asarray(t["apply_inversion"])[:, None, None, None]  # (N,1,1,1)
        return np.where(invert, x.dtype.type(self.value_range[1]) - x, x), invert

    def _transform_backward(self, dy, invert):
        return np.where(invert, -dy, dy)  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomGrayscale(ImagePreprocessingLayer):
    """Turns a random share of the images grey when training, keeping their channels.

    Formula (per image): u ~ U[0, 1);  grey = u < factor
        y = where(grey, rgb_to_grayscale(x), x)     (0.2989 R + 0.5870 G + 0.1140 B in every
                                                     channel; one channel passes as it is)
    Backward: where(grey, (sum of dy over channels) * the three weights, dy).

    Args:
        factor: the share of images turned grey, in [0, 1]; default 0.5.
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        if factor < 0 or factor > 1:
            raise ValueError(f"`factor` should be between 0 and 1. Received: factor={factor}")
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor

    def get_random_transformation(self, images, training=True):
        u = uniform(self.generator(), 0, 1, (len(images), 1, 1, 1))  # (N,1,1,1)
        return u < self.factor  # Keras's transformation: the bools themselves

    def _transform(self, x, t, training):
        if not training:
            return x, None
        grey = np.asarray(t if t is not None else self.get_random_transformation(x))
        return np.where(grey, rgb_to_grayscale(x), x), grey  # (N,H,W,C)

    def _transform_backward(self, dy, grey):
        if dy.shape[-1] == 1:
            return dy
        weights = np.array([0.2989, 0.5870, 0.1140], dy.dtype)  # (3,)
        d_gray = dy.sum(axis=-1, keepdims=True)  # (N,H,W,1)
        return np.where(grey, d_gray * weights, dy)  # (N,H,W,3)

    def get_config(self):
        # Keras's random_grayscale.py leaves `seed` out of the config; so does minidl.
        return {**super().get_config(), "factor": self.factor}


# -- a random amount per image: posterization, colour degeneration, sharpness --------------------
class RandomPosterization(ImagePreprocessingLayer):
    """Keeps only the top `bits` bits of each 8-bit value when training.

    Formula (one number of bits per image, on the scale (0, 255)):
        bits ~ randint[factor[0], factor[1])  (factor[0] when the two are equal; as Keras's
               random_posterization.py, the upper end is never drawn);   shift = 8 - bits
        u = uint8(to_range(x, (a, b), (0, 255)))              (truncated)
        y = to_range(float((u >> shift) << shift), (0, 255), (a, b))
    Backward: y is a step function of x, so dx = 0 (TensorFlow passes no gradient through
    the cast to uint8 either).

    Args:
        factor: the number of bits kept: f for (1, f), or a pair, in [1, 8].
        value_range: (low, high) of the images, default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    MAX_FACTOR = 8

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (1, 8))
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, images, training=True):
        n, (low, high) = len(images), self.factor
        if low != high:
            bits = self.generator().integers(low, high, (n,)).astype(np.uint8)  # (N,)
        else:
            bits = np.full((n,), low, np.uint8)  # (N,)
        return {"shift_factor": np.uint8(self.MAX_FACTOR) - bits}

    def _transform(self, x, t, training):
        if not training:
            return x, None
        shift = np.asarray(t["shift_factor"], np.uint8)[:, None, None, None]  # (N,1,1,1)
        u = to_range(x, self.value_range, (0, 255)).astype(np.uint8)  # (N,H,W,C)
        kept = ((u >> shift) << shift).astype(x.dtype)  # (N,H,W,C)
        return to_range(kept, (0, 255), self.value_range), x.shape

    def _transform_backward(self, dy, x_shape):
        return np.zeros(x_shape, dy.dtype)  # (N,H,W,C): a step function's derivative

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomColorDegeneration(ImagePreprocessingLayer):
    """Moves each image towards (or past) its greyscale version by a random amount.

    Formula (one f per image): f ~ U[factor[0], factor[1])
        grey = rgb_to_grayscale(x)                    (N, H, W, 1), the same in every channel
        y = clip(x + f * (grey - x), *value_range)
    Backward (g = dy where not clipped, else 0; w = (0.2989, 0.5870, 0.1140)):
        dx = (1 - f) * g + f * w * sum(g over channels)      (one channel: dx = g)

    Args:
        factor: f for (-f, f), or a pair, in [-1, 1] (Keras's default bounds for this layer).
        value_range: (low, high) the outputs are clipped to, default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (-1, 1))
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, images, training=True):
        return {"factor": uniform(self.generator(), self.factor[0], self.factor[1],
                                  (len(images), 1, 1, 1))}  # (N,1,1,1)

    def _transform(self, x, t, training):
        if not training:
            return x, None
        f = np.asarray(t["factor"]).astype(x.dtype)  # (N,1,1,1)
        z = x + f * (rgb_to_grayscale(x) - x)  # (N,H,W,C)
        low, high = (x.dtype.type(v) for v in self.value_range)
        return np.clip(z, low, high), (f, (z >= low) & (z <= high))

    def _transform_backward(self, dy, cache):
        f, inside = cache
        g = np.where(inside, dy, dy.dtype.type(0))  # (N,H,W,C)
        if g.shape[-1] == 1:
            return g
        weights = np.array([0.2989, 0.5870, 0.1140], dy.dtype)  # (3,)
        return (1 - f) * g + f * weights * g.sum(axis=-1, keepdims=True)  # (N,H,W,3)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


def smooth(x):
    """Keras's sharpness blur: a 3 x 3 kernel (1 1 1; 1 5 1; 1 1 1) / 13 per channel, zeros
    outside the image ("same" padding). The kernel is symmetric, so this is its own transpose."""
    H, W = x.shape[1:3]
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # (N,H+2,W+2,C)
    a, b = x.dtype.type(1 / 13), x.dtype.type(5 / 13)
    total = sum(p[:, i:i + H, j:j + W] for i in range(3) for j in range(3)
                if (i, j) != (1, 1))  # (N,H,W,C): the eight neighbours
    return a * total + b * x  # (N,H,W,C)


class RandomSharpness(ImagePreprocessingLayer):
    """Blurs or sharpens each image by a random amount: moves it away from a blurred copy.

    Formula (one f per image): f ~ U[factor[0], factor[1]);  s = 2 f
        y = clip(x + (1 - s) * (smooth(x) - x), *value_range)
    (s = 1 leaves the image, s = 0 is the blur, s = 2 pushes away from it.)
    Backward (g = dy where not clipped, else 0): dx = s * g + (1 - s) * smooth(g)

    Args:
        factor: f for (0, f), or a pair, in [0, 1].
        value_range: (low, high) the outputs are clipped to, default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, images, training=True):
        return {"factor": uniform(self.generator(), self.factor[0], self.factor[1],
                                  (len(images),))}  # (N,)

    def _transform(self, x, t, training):
        if not training:
            return x, None
        s = (np.asarray(t["factor"]) * 2).astype(x.dtype).reshape(-1, 1, 1, 1)  # (N,1,1,1)
        z = x + (1 - s) * (smooth(x) - x)  # (N,H,W,C)
        low, high = (x.dtype.type(v) for v in self.value_range)
        return np.clip(z, low, high), (s, (z >= low) & (z <= high))

    def _transform_backward(self, dy, cache):
        s, inside = cache
        g = np.where(inside, dy, dy.dtype.type(0))  # (N,H,W,C)
        return s * g + (1 - s) * smooth(g)  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


def check_kernel_size(kernel_size, name="kernel_size"):
    """(K0, K1), both odd, with Keras's random_gaussian_blur.py messages."""
    message = f"{name} must be an odd number. Received: {name}={kernel_size}"
    if isinstance(kernel_size, (tuple, list)):
        if len(kernel_size) != 2:
            raise ValueError(f"The `{name}` argument should be a number (or a list of two "
                             f"numbers) Received: {name}={kernel_size}")
        if kernel_size[0] % 2 == 0 or kernel_size[1] % 2 == 0:
            raise ValueError(message)
        return tuple(kernel_size)
    if isinstance(kernel_size, (int, float)) and not isinstance(kernel_size, bool):
        if kernel_size % 2 == 0:
            raise ValueError(message)
        return kernel_size, kernel_size
    raise ValueError(message)


class RandomGaussianBlur(ImagePreprocessingLayer):
    """Blurs a random share of the images with a Gaussian of a random width when training.

    Formula (keras random_gaussian_blur.py; one pair of widths per batch):
        p ~ U[factor[0], factor[1]) per image;  u ~ U[0, 1);  blur = u < p
        sigma = U[sigma[0], sigma[1]) (two draws: x and y) + 1e-6
        y = clip(where(blur, gaussian_blur(x, kernel_size, sigma), x), *value_range)
    Backward (g = dy where not clipped): dx = where(blur, gaussian_blur(g), g) — the kernel
    is symmetric about its centre, so the "same" blur is its own transpose.

    Args:
        factor: the share of images blurred: f for (0, f), or a pair, in [0, 1]; default 1.0.
        kernel_size: an odd number, or a pair of odd numbers; default 3.
        sigma: f for (0, f), or a pair, in [0, 1]; default 1.0.
        value_range: (low, high) the outputs are clipped to, default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))
        self.kernel_size = check_kernel_size(kernel_size)
        try:
            self.sigma = check_factor(sigma, (0, 1))
        except ValueError:  # Keras names `sigma` and then prints it as factor=
            raise ValueError("The `sigma` argument should be a number (or a list of two "
                             f"numbers) in the range [0, 1]. Received: factor={sigma}") from None
        self.value_range = value_range  # as Keras's: neither checked nor sorted

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        g, n = self.generator(), len(images)
        p = uniform(g, self.factor[0], self.factor[1], (n,))  # (N,)
        blur = uniform(g, 0, 1, (n,)) < p  # (N,)
        sigma = uniform(g, self.sigma[0], self.sigma[1], (2,)) + f32(1e-6)  # (2,)
        return {"should_apply_blur": blur, "blur_factor": sigma}

    def blur(self, x, sigma):
        return gaussian_blur(x, self.kernel_size, tuple(sigma))  # (N,H,W,C)

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        sigma = np.asarray(t["blur_factor"]).astype(x.dtype)  # (2,)
        blur = np.asarray(t["should_apply_blur"])[:, None, None, None]  # (N,1,1,1)
        z = np.where(blur, self.blur(x, sigma), x)  # (N,H,W,C)
        low, high = (x.dtype.type(v) for v in self.value_range)
        return np.clip(z, low, high), (sigma, blur, (z >= low) & (z <= high))

    def _transform_backward(self, dy, cache):
        sigma, blur, inside = cache
        g = np.where(inside, dy, dy.dtype.type(0))  # (N,H,W,C)
        return np.where(blur, self.blur(g, sigma), g)  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "kernel_size": self.kernel_size, "sigma": self.sigma,
                "value_range": self.value_range, "seed": self.seed}


# -- Equalization: not random ------------------------------------------------------------------
class Equalization(ImagePreprocessingLayer):
    """Spreads each channel's values evenly over the range (histogram equalization) in training.

    Formula (keras equalization.py; per channel, over the whole batch; on the scale (0, 255)):
        bin = clip(int(u * (bins - 1) / 255), 0, bins - 1);  hist = counts of the bins
        cdf = cumsum(hist);  c0 = cdf at the first non-empty bin
        table = clip(round((cdf - c0) * 255 / (cdf[-1] - c0)), 0, 255)   (a 0 denominator: 1)
        y = table[int(clip(u / 255 * (bins - 1), 0, bins - 1))]
    A channel whose values all fall in one bin passes unchanged.
    Backward: y is a step function of x: dx = 0 (dy where the channel passed unchanged).

    Args:
        value_range: (low, high) of the images, default (0, 255).
        bins: the histogram's number of bins, default 256.
        data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.bins = bins
        self.value_range = check_value_range(value_range)

    @staticmethod
    def scale_values(values, source, target):
        """Keras's _scale_values: values * scale + offset, scale and offset as float32."""
        scale = (target[1] - target[0]) / (source[1] - source[0])
        offset = target[0] - source[0] * scale
        return values * values.dtype.type(scale) + values.dtype.type(offset)

    def equalize_channel(self, u):
        """One channel (N, H, W) on the scale (0, 255) -> (equalized, passed unchanged?)."""
        nbins = self.bins
        scaled = (u - u.dtype.type(0)) * u.dtype.type(nbins - 1) / u.dtype.type(255)
        bins = np.clip(scaled.astype(np.int32), 0, nbins - 1)  # (N,H,W)
        hist = np.bincount(bins.ravel(), minlength=nbins).astype(np.int32)  # (bins,)
        if np.count_nonzero(hist) <= 1:
            return u, True
        cdf = np.cumsum(hist, dtype=np.int32)  # (bins,)
        c0 = cdf[np.nonzero(cdf)[0][0]]
        denominator = cdf[-1] - c0 if cdf[-1] != c0 else 1
        table = ((cdf - c0) * 255).astype(f32) / f32(denominator)  # (bins,)
        table = np.clip(np.round(table), 0, 255).astype(u.dtype)  # (bins,)
        index = np.clip(u / u.dtype.type(255.0) * u.dtype.type(nbins - 1), 0, nbins - 1)
        return table[index.astype(np.int32)], False  # (N,H,W)

    def _transform(self, x, t, training):
        if not training:
            return x, None
        channels, passed = [], []
        for c in range(x.shape[-1]):
            u = self.scale_values(x[..., c], self.value_range, (0, 255))  # (N,H,W)
            y, same = self.equalize_channel(u)
            channels.append(self.scale_values(y, (0, 255), self.value_range))
            passed.append(same)
        return np.stack(channels, axis=-1), np.array(passed)  # (N,H,W,C), (C,)

    def _transform_backward(self, dy, passed):
        return np.where(passed, dy, dy.dtype.type(0))  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range, "bins": self.bins}


# -- hue and saturation: through HSV ---------------------------------------------------------------
class HSVLayer(ImagePreprocessingLayer):
    """Base class of RandomHue and RandomSaturation: a change of h or s between rgb_to_hsv and
    hsv_to_rgb. TensorFlow defines no gradient for hsv_to_rgb, so Keras's layers pass none to
    their images, and nothing before them learns through them; minidl's pass zeros, to the
    same effect."""

    def _transform_backward(self, dy, cache):
        return np.zeros_like(dy)  # (N,H,W,3): TensorFlow's None


class RandomSaturation(HSVLayer):
    """Scales each image's saturation by a random amount when training.

    Formula (keras random_saturation.py; one draw per image):
        f ~ U[factor[0], factor[1]);   k = f / (1 - f + 1e-7)     (f = 0.5 keeps the image)
        h, s, v = rgb_to_hsv(x);   s = clip(s * k, *value_range);   y = hsv_to_rgb(h, s, v)
    As Keras, the images go to HSV at their own scale, and s (in [0, 1]) is clipped to
    value_range, which for (0, 255) clips only below.

    Args:
        factor: f for (-f, f), or a pair, in [-1, 1].
        value_range: (low, high), default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (-1, 1))
        self.value_range = check_value_range(value_range)

    def get_random_transformation(self, images, training=True):
        f = uniform(self.generator(), self.factor[0], self.factor[1], (len(images),))  # (N,)
        return {"factor": f / (f32(1) - f + f32(1e-7))}

    def _transform(self, x, t, training):
        if not training:
            return x, None
        k = np.asarray(t["factor"]).astype(x.dtype).reshape(-1, 1, 1)  # (N,1,1)
        hsv = rgb_to_hsv(x)  # (N,H,W,3)
        s = np.clip(hsv[..., 1] * k, self.value_range[0], self.value_range[1])  # (N,H,W)
        y = hsv_to_rgb(np.stack([hsv[..., 0], s, hsv[..., 2]], axis=-1))  # (N,H,W,3)
        return y, True  # no gradient: see HSVLayer

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


class RandomHue(HSVLayer):
    """Turns each image's hue by a random amount when training.

    Formula (keras random_hue.py; one draw per image):
        d = (-1 or 1 with probability 1/2) * U[factor[0], factor[1]) * 0.5
        h, s, v = rgb_to_hsv(to_range(x, value_range, (0, 1)))
        h = h + d, brought back into [0, 1] by one turn
        y = to_range(clip(hsv_to_rgb(h, s, v), 0, 1), (0, 1), value_range)

    Args:
        factor: f for (0, f), or a pair, in [0, 1]: up to half a turn either way.
        value_range: (low, high) of the images, default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))
        self.value_range = value_range  # as Keras's: neither checked nor sorted

    def get_random_transformation(self, images, training=True):
        g, n = self.generator(), len(images)
        sign = np.where(uniform(g, 0, 1, (n,)) > 0.5, f32(-1), f32(1))  # (N,)
        return {"factor": sign * uniform(g, self.factor[0], self.factor[1], (n,)) * f32(0.5)}

    def _transform(self, x, t, training):
        if not training:
            return x, None
        d = np.asarray(t["factor"]).astype(x.dtype).reshape(-1, 1, 1)  # (N,1,1)
        hsv = rgb_to_hsv(to_range(x, self.value_range, (0, 1)))  # (N,H,W,3)
        h = hsv[..., 0] + d  # (N,H,W)
        h = np.where(h > 1, h - 1, h)
        h = np.where(h < 0, h + 1, h)
        rgb = np.clip(hsv_to_rgb(np.stack([h, hsv[..., 1], hsv[..., 2]], axis=-1)), 0, 1)
        return to_range(rgb, (0, 1), self.value_range), True  # (N,H,W,3); no gradient

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}


# -- RandomColorJitter: four layers in turn ------------------------------------------------
class RandomColorJitter(ImagePreprocessingLayer):
    """RandomBrightness, RandomContrast, RandomSaturation and RandomHue in turn, each that has a
    factor (keras random_color_jitter.py), all drawing from this layer's generator.

    Formula: y = hue(saturation(contrast(brightness(x))))   (the ones given)
    The transformation is a dict of the four layers' own; Keras's layer draws them inside
    transform_images (its get_random_transformation gives None), so a call with no
    transformation draws here too. Backward: the four backwards in reverse (none through
    saturation or hue, as TensorFlow's hsv_to_rgb).

    Args:
        value_range: (low, high) of the images, given to each layer; default (0, 255).
        brightness_factor, contrast_factor, saturation_factor, hue_factor: each layer's
            `factor`, or None (the default) to leave that layer out.
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range, self.seed = value_range, seed
        self.brightness_factor, self.contrast_factor = brightness_factor, contrast_factor
        self.saturation_factor, self.hue_factor = saturation_factor, hue_factor
        self.steps = {}  # name -> layer, in Keras's order
        for name, cls, factor in [("brightness", RandomBrightness, brightness_factor),
                                  ("contrast", RandomContrast, contrast_factor),
                                  ("saturation", RandomSaturation, saturation_factor),
                                  ("hue", RandomHue, hue_factor)]:
            if factor is not None:
                self.steps[name] = cls(factor=factor, value_range=value_range)
                self.steps[name]._generator = self._generator  # one stream, as Keras's

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        return {name: layer.get_random_transformation(images)
                for name, layer in self.steps.items()}

    def _transform(self, x, t, training):
        if not training:
            return x, None
        t = t if t is not None else self.get_random_transformation(x)
        caches = []
        for name, layer in self.steps.items():
            x, cache = layer._transform(x, t[name], True)  # (N,H,W,C)
            caches.append((layer, cache))
        return x, caches

    def _transform_backward(self, dy, caches):
        for layer, cache in reversed(caches):
            dy = dy if cache is None else layer._transform_backward(dy, cache)  # (N,H,W,C)
        return dy

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "brightness_factor": self.brightness_factor,
                "contrast_factor": self.contrast_factor,
                "saturation_factor": self.saturation_factor, "hue_factor": self.hue_factor,
                "seed": self.seed}
