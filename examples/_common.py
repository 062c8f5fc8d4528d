"""What the lab's scripts share: their command line, and the images of the MNIST classifier.

Each example is the lab's code with minidl imports. The only things added around it are here:
    --epochs N      train for N epochs instead of the lab's number (the tests use 1)
    --seed S        seed minidl's weights and shuffling (the lab leaves them unseeded)
    --dataset NAME  (mnist_classifier.py only) which images to classify
"""
import argparse

import numpy as np

from minidl.datasets import DatasetNotFoundError, digits, fashion_mnist, mnist
from minidl.datasets.files import why_unavailable
from minidl.utils import set_random_seed

IMAGE_DATASETS = ("mnist", "fashion_mnist", "digits")


def start(argv, description, epochs, image_dataset=False):
    """Parse an example's command line, seed minidl if asked, and return the arguments.

    Args:
        argv: the arguments (None: sys.argv[1:]).
        description: the text of `--help` (the example's docstring).
        epochs: the lab's number of epochs, the default of `--epochs`.
        image_dataset: add the `--dataset` option of the MNIST classifier.
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"épocas de entrenamiento (por defecto {epochs}, como la práctica)")
    parser.add_argument("--seed", type=int, default=None,
                        help="semilla de los pesos iniciales y del barajado "
                             "(por defecto, sin semilla)")
    if image_dataset:
        parser.add_argument("--dataset", choices=IMAGE_DATASETS, default=None,
                            help="imágenes a clasificar (por defecto mnist; sin conexión y sin "
                                 "copia local, fashion_mnist y después digits)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs debe ser un entero positivo; recibido: {args.epochs}")
    if args.seed is not None:
        set_random_seed(args.seed)
    return args


def load_images(name=None):
    """The images to classify, as `mnist.load_data()` returns them, then the dataset's name.

    `name` None means MNIST, falling back to Fashion-MNIST and then to scikit-learn's 8x8
    digits when a dataset has no local copy and cannot be downloaded; the choice and its
    reason are printed. Naming a dataset uses it or fails.

    Every dataset comes back as uint8 pixels 0..255, so the lab's `/ 255` scales them all to
    0..1: the digits (0..16 in scikit-learn) are stretched to 0..255 here.

    Returns:
        (train_images, train_labels), (test_images, test_labels), name
    """
    loaders = {"mnist": mnist.load_data, "fashion_mnist": fashion_mnist.load_data,
               "digits": _digits_0_255}
    if name is not None:
        train, test = loaders[name]()
        print(f"Conjunto de datos: {name} (elegido con --dataset)")
        return train, test, name
    reasons = []
    for candidate in ("mnist", "fashion_mnist"):
        try:
            train, test = loaders[candidate]()
        except DatasetNotFoundError as error:
            reasons.append(f"{candidate} {why_unavailable(error, 'es')}")
            continue
        why = f"en lugar de mnist: {'; '.join(reasons)}" if reasons else "por defecto"
        print(f"Conjunto de datos: {candidate}, {why}.")
        return train, test, candidate
    print(f"Conjunto de datos: digits (8x8 de scikit-learn), en lugar de mnist: "
          f"{'; '.join(reasons)}.")
    train, test = _digits_0_255()
    return train, test, "digits"


def _digits_0_255():
    """scikit-learn's 8x8 digits with pixels stretched from 0..16 to 0..255, as MNIST's."""
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    x_train = np.round(x_train * (255 / 16)).astype(np.uint8)  # (n_train, 8, 8), 16 -> 255
    x_test = np.round(x_test * (255 / 16)).astype(np.uint8)  # (n_test, 8, 8)
    return (x_train, y_train), (x_test, y_test)
