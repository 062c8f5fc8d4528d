"""The lab's data: the synthetic sets of E1-E6 and the images of the classifier, with why.

`load_images("auto")` uses MNIST when it is cached or can be downloaded, otherwise
Fashion-MNIST when a copy is installed, otherwise scikit-learn's 8x8 digits, and says which and
why in plain words ("Fashion-MNIST instead of MNIST: MNIST is not in the cache and could not
be downloaded (no network connection: ...)").
"""
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from minidl.datasets import DatasetNotFoundError, digits, fashion_mnist, mnist, synthetic
from minidl.datasets.files import why_unavailable

IMAGE_DATASETS = ("mnist", "fashion_mnist", "digits")
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
                 "digits": "scikit-learn's 8x8 digits"}  # in prose
PIXEL_MAX = {"mnist": 255, "fashion_mnist": 255, "digits": 16}  # scikit-learn's digits are 0..16


@dataclass
class Data:
    """Train and test rows; for images, which dataset and why."""

    x_train: np.ndarray  # (N, D)
    y_train: np.ndarray  # (N,)
    x_test: np.ndarray  # (M, D)
    y_test: np.ndarray  # (M,)
    dataset: str = "synthetic"
    note: str = ""  # why this image dataset was used
    image_shape: tuple = None  # (28, 28) or (8, 8) for images

    @property
    def display_name(self):
        """The dataset's name in prose: 'Fashion-MNIST'."""
        return DATASET_NAMES.get(self.dataset, self.dataset)


def load_data(experiment, dataset="auto"):
    """The experiment's data, drawn and split exactly as the lab does."""
    if experiment.task == "images" and getattr(experiment, "model", "dense") == "convnet":
        return as_images(load_images(dataset))
    if experiment.task == "images":
        return load_images(dataset)
    if experiment.task == "binary":
        x, y = synthetic.sum_greater_than_one(experiment.n, seed=42)  # the lab's seed
        test_size = 0.2
    else:
        x, y = synthetic.sum_regression(experiment.n, seed=42, noise=experiment.noise)
        test_size = 0.3
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=42)
    return Data(x_train, y_train, x_test, y_test)


def load_images(dataset="auto"):
    """Images flattened to (N, rows*cols) float32 in [0, 1], with integer labels.

    "auto" means MNIST when it is cached or can be downloaded; otherwise Fashion-MNIST when a
    copy is installed (Debian's /usr/share/datasets/fashion-mnist, or a cache); otherwise
    scikit-learn's 8x8 digits. The returned Data's `note` says which, and why, in plain words.
    """
    if dataset not in ("auto",) + IMAGE_DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}. Expected one of: auto, "
                         f"{', '.join(IMAGE_DATASETS)}")
    loaders = {"mnist": mnist.load_data, "fashion_mnist": fashion_mnist.load_data,
               "digits": digits.load_data}
    if dataset == "auto":
        name, note, arrays = _first_available(loaders)
    else:
        name, arrays = dataset, loaders[dataset]()
        note = f"{DATASET_NAMES[name]}, as asked (--dataset {name})."
    (x_train, y_train), (x_test, y_test) = arrays
    return Data(_flatten(x_train, name), y_train, _flatten(x_test, name), y_test, dataset=name,
                note=note, image_shape=x_train.shape[1:])


def as_images(data):
    """Data for a convnet: each row back to its image, (N, H*W) -> (N, H, W, 1).

    The convnet's three 3x3 convolutions and two 2x2 poolings need 28x28 images, so
    scikit-learn's 8x8 digits are refused (with "auto", that is what is left offline with no
    Fashion-MNIST installed).
    """
    if data.image_shape != (28, 28):
        raise ValueError(f"The convnet needs 28x28 images (MNIST or Fashion-MNIST); "
                         f"{data.display_name} are {data.image_shape[0]}x{data.image_shape[1]}. "
                         f"Data: {data.note}")
    shape = (-1,) + tuple(data.image_shape) + (1,)
    return Data(data.x_train.reshape(shape), data.y_train, data.x_test.reshape(shape),
                data.y_test, dataset=data.dataset, note=data.note, image_shape=data.image_shape)


def _first_available(loaders):
    """MNIST, else Fashion-MNIST, else the digits: (name, why in plain words, arrays)."""
    missing = []
    for name in ("mnist", "fashion_mnist"):
        try:
            arrays = loaders[name]()
        except DatasetNotFoundError as error:
            missing.append(f"{DATASET_NAMES[name]} {why_unavailable(error)}")
            continue
        if not missing:
            return name, f"{DATASET_NAMES[name]}, as in the lab.", arrays
        return name, f"{DATASET_NAMES[name]} instead of MNIST: {'; '.join(missing)}.", arrays
    return ("digits", f"{DATASET_NAMES['digits']} instead of MNIST: {'; '.join(missing)}.",
            loaders["digits"]())


def _flatten(images, dataset):
    """(N, rows, cols) integer pixels -> (N, rows*cols) float32 in [0, 1], as the lab does."""
    return images.reshape(len(images), -1).astype("float32") / np.float32(PIXEL_MAX[dataset])
