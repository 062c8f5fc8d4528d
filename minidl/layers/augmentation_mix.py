"""Augmentation that replaces part of each image: by another image, or by noise.

    MixUp(alpha=0.2)                  y = w * x + (1 - w) * x[perm], w ~ Beta(alpha, alpha)
    RandomErasing(factor=1.0)         a random rectangle of some images filled with noise
    CutMix(factor=1.0)                a random box of each image from another image

As in augmentation.py, each layer is Keras's two halves by Keras's names:
    t = layer.get_random_transformation(images, training)   the draw (minidl's generator)
    y = layer.transform_images(images, t, training)          the maths, fixed once t is
MixUp and CutMix also have Keras's `transform_labels(labels, t)`, for mixing the labels of a
batch of data before it reaches a model (inside a model only the images pass through a layer).

Images are batches (N, H, W, C), channels_last.
"""
import numpy as np

from minidl.layers.augmentation import ImagePreprocessingLayer, check_factor, uniform

f32 = np.float32



def mixed_labels(labels, transformation):
    """Each row's labels mixed with its partner's by the share of the image that is its own.

    Formula:  y = w * y + (1 - w) * y[permutation]       w (N,1), y (N,K)
    """
    labels = np.asarray(labels)
    w = np.asarray(transformation["mix_weight"]).reshape(-1, 1)  # (N,1)
    perm = np.asarray(transformation["permutation_order"])  # (N,)
    return w * labels + (1.0 - w) * labels[perm]  # (N,K)

class MixUp(ImagePreprocessingLayer):
    """Blends each image with another image of the batch when training.

    Formula (perm a random permutation of the batch; one weight per image):
        w ~ Beta(alpha, alpha)
        y = w * x + (1 - w) * x[perm]                   labels: w * l + (1 - w) * l[perm]
    Backward: dx = w * dy, and each image i adds (1 - w_i) * dy_i to image perm[i].

    Args:
        alpha: the Beta distribution's two parameters (small alpha: w near 0 or 1).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.alpha = alpha

    def get_random_transformation(self, images, training=True):
        g, n = self.generator(), len(images)
        perm = g.permutation(n).astype(np.int64)  # (N,)
        return {"mix_weight": g.beta(self.alpha, self.alpha, n).astype(f32),  # (N,)
                "permutation_order": perm}

    def _transform(self, x, t, training):
        if not training:
            return x, None
        w = np.asarray(t["mix_weight"]).astype(x.dtype).reshape(-1, 1, 1, 1)  # (N,1,1,1)
        perm = np.asarray(t["permutation_order"])  # (N,)
        return w * x + (1 - w) * x[perm], (w, perm)  # (N,H,W,C)

    def _transform_backward(self, dy, cache):
        w, perm = cache
        dx = w * dy  # (N,H,W,C)
        np.add.at(dx, perm, (1 - w) * dy)  # image perm[i] was read by image i
        return dx

    def transform_labels(self, labels, transformation, training=True):
        if not training:
            return labels
        return mixed_labels(labels, transformation)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


def erasing_mask(shape, corners):
    """The (N, H, W, C) boolean rectangles x0 <= column < x1, y0 <= row < y1 (float32
    corners, as Keras's random_erasing.py::_generate_batch_mask)."""
    N, H, W, C = shape
    x0, x1, y0, y1 = (np.asarray(c, f32)[:, None, None, None] for c in corners)  # (N,1,1,1)
    rows = np.arange(H, dtype=f32)[None, :, None, None]  # (1,H,1,1)
    cols = np.arange(W, dtype=f32)[None, None, :, None]  # (1,1,W,1)
    inside = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)  # (N,H,W,1)
    return np.repeat(inside, C, axis=3)  # (N,H,W,C)


class RandomErasing(ImagePreprocessingLayer):
    """Fills a random rectangle of a random share of the images when training.

    Formula (per image; keras random_erasing.py):
        p ~ U[factor[0], factor[1]);  u ~ U[0, 1);  erase = u < p
        rw, rh ~ sqrt(U[scale[0], scale[1]))            the box's sides as shares of W and H
        x0 = U[0, 1) * (W - rw * W);  x1 = x0 + rw * W  (rows alike, with H)
        fill = clip(fill_value, *value_range), or clip(N(0, 1) * high, *value_range) per value
        y = where(erase and inside the box, fill, x)
    Backward: dx = dy outside the erased boxes, 0 inside.

    Args:
        factor: the share of images erased: f for (0, f), or a pair, in [0, 1]; default 1.0.
        scale: the box's area as a share of the image, a pair in [0, 1]; default (0.02, 0.33).
        fill_value: None (Gaussian noise), a number, or three numbers (one per channel).
        value_range: (low, high) the fill is clipped to, default (0, 255).
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))
        try:
            self.scale = check_factor(scale, (0, 1))
        except ValueError:  # Keras names `scale` and then prints it as factor=
            raise ValueError("The `scale` argument should be a number (or a list of two "
                             f"numbers) in the range [0, 1]. Received: factor={scale}") from None
        self.fill_value = fill_value
        self.value_range = value_range  # as Keras's: neither checked nor sorted

    def fill(self, x):
        """The (N, H, W, C) values an erased box gets, clipped to value_range."""
        if self.fill_value is None:
            fill = self.generator().standard_normal(x.shape, dtype=f32) * f32(
                self.value_range[1])  # (N,H,W,C)
        elif isinstance(self.fill_value, (tuple, list)) and len(self.fill_value) == 3:
            fill = np.broadcast_to(np.asarray(self.fill_value, f32), x.shape)  # (N,H,W,3)
        elif isinstance(self.fill_value, (int, float)) and not isinstance(self.fill_value, bool):
            fill = np.full(x.shape, self.fill_value, f32)  # (N,H,W,C)
        else:
            raise ValueError("The `fill_value` argument should be a number (or a list of "
                             "three numbers) ")
        return np.clip(fill, self.value_range[0], self.value_range[1])

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        g, (N, H, W, C) = self.generator(), images.shape
        ratio = np.sqrt(uniform(g, self.scale[0], self.scale[1], (N, 2)))  # (N,2)
        corners = []
        for side, r in ((W, ratio[:, 0]), (H, ratio[:, 1])):
            length = r * f32(side)  # (N,)
            start = uniform(g, 0, 1, (N,)) * (f32(side) - length)  # (N,)
            corners += [start, start + length]
        p = uniform(g, self.factor[0], self.factor[1], (N,))  # (N,)
        erase = uniform(g, 0, 1, (N,)) < p  # (N,)
        return {"apply_erasing": erase, "batch_masks": erasing_mask(images.shape, corners),
                "fill_value": self.fill(images)}

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        erased = np.asarray(t["batch_masks"]) & np.asarray(t["apply_erasing"])[:, None, None,
                                                                               None]
        fill = np.asarray(t["fill_value"]).astype(x.dtype)  # (N,H,W,C)
        return np.where(erased, fill, x), erased  # (N,H,W,C)

    def _transform_backward(self, dy, erased):
        return np.where(erased, dy.dtype.type(0), dy)  # (N,H,W,C)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "fill_value": self.fill_value, "value_range": self.value_range,
                "seed": self.seed}


class CutMix(ImagePreprocessingLayer):
    """Pastes a random box of another image of the batch into each image when training.

    Formula (keras cut_mix.py; perm a random permutation of the batch):
        a = U[factor[0], factor[1]) + 1e-6 (one per batch);  lam ~ Beta(a, a) per image
        r = sqrt(1 - lam);  box sides r * W and r * H, placed as RandomErasing's
        y = where(inside the box, x[perm], x)
        labels: w * l + (1 - w) * l[perm], w = 1 - the box's area / (W * H)
    Backward: dy outside the box stays; inside, image i sends dy_i to image perm[i].

    Args:
        factor: the range of the Beta distribution's parameter: f for (0, f), or a pair, in
            [0, 1]; default 1.0.
        seed, data_format: see ImagePreprocessingLayer.
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(factor, (0, 1))

    def get_random_transformation(self, images, training=True):
        if not training:
            return None
        g, (N, H, W, C) = self.generator(), images.shape
        a = uniform(g, self.factor[0], self.factor[1], ()) + f32(1e-6)
        lam = g.beta(a, a, N).astype(f32)  # (N,)
        ratio = np.sqrt(f32(1) - lam)  # (N,)
        corners = []
        for side in (W, H):
            length = ratio * f32(side)  # (N,)
            start = uniform(g, 0, 1, (N,)) * (f32(side) - length)  # (N,)
            corners += [start, start + length]
        x0, x1, y0, y1 = corners
        return {"permutation_order": g.permutation(N).astype(np.int32),
                "batch_masks": erasing_mask(images.shape, corners),
                "mix_weight": f32(1) - (x1 - x0) * (y1 - y0) / f32(W * H)}  # (N,)

    def _transform(self, x, t, training):
        if not training or t is None:
            return x, None
        perm, box = np.asarray(t["permutation_order"]), np.asarray(t["batch_masks"])
        return np.where(box, x[perm], x), (perm, box)  # (N,H,W,C)

    def _transform_backward(self, dy, cache):
        perm, box = cache
        zero = dy.dtype.type(0)
        dx = np.where(box, zero, dy)  # (N,H,W,C): what each image kept
        np.add.at(dx, perm, np.where(box, dy, zero))  # the boxes go back to where they came
        return dx

    def transform_labels(self, labels, transformation, training=True):
        if not training or transformation is None:
            return labels
        return mixed_labels(labels, transformation)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
