"""The classic convnet, the course's next lesson after the dense network, in minidl.

    Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu) -> MaxPooling2D(2)
    -> Conv2D(128, 3, relu) -> Flatten -> Dense(10, softmax);
    RMSprop, sparse categorical cross-entropy, 5 epochs of batch 64

This is the Keras code of the lesson (the first convnet of "Deep Learning with Python",
chapter 8) with minidl imports. Its images: MNIST when a copy is in the cache, else
Fashion-MNIST, which needs no download on Debian (package dataset-fashion-mnist). Each
Conv2D is an im2col and one matrix product (minidl/layers/convolutional.py); `minidl lab
--experiments convnet` trains it side by side with Keras from the same weights.

    python examples/convnet.py [--dataset mnist|fashion_mnist] [--epochs 5] [--rows N]
                               [--seed S]
"""
import argparse
import os

from minidl import Input, Model, layers
from minidl.datasets import fashion_mnist, files, mnist
from minidl.utils import set_random_seed

DATASETS = {"mnist": mnist.load_data, "fashion_mnist": fashion_mnist.load_data}


def mnist_is_cached():
    """True when mnist.npz is in minidl's or Keras's cache (then no download is needed)."""
    return any(os.path.isfile(os.path.join(folder, "mnist.npz")) for folder in files.cache_dirs())


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                        help="images to classify (default: mnist if cached, else fashion_mnist)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--rows", type=int, default=None,
                        help="use only the first ROWS training and test images (default: all)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the initial weights and the shuffling (default: none)")
    args = parser.parse_args(argv)
    for name in ("epochs", "rows"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer. Received: {value}")
    if args.seed is not None:
        set_random_seed(args.seed)
    args.dataset = args.dataset or ("mnist" if mnist_is_cached() else "fashion_mnist")
    return args


def main(argv=None):
    args = parse_args(argv)
    print(f"Images: {args.dataset}")

    inputs = Input(shape=(28, 28, 1))
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inputs)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = Model(inputs=inputs, outputs=outputs)
    model.summary()

    (train_images, train_labels), (test_images, test_labels) = DATASETS[args.dataset]()
    train_images, train_labels = train_images[:args.rows], train_labels[:args.rows]
    test_images, test_labels = test_images[:args.rows], test_labels[:args.rows]
    train_images = train_images.reshape((len(train_images), 28, 28, 1))
    train_images = train_images.astype("float32") / 255
    test_images = test_images.reshape((len(test_images), 28, 28, 1))
    test_images = test_images.astype("float32") / 255

    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train_images, train_labels, epochs=args.epochs, batch_size=64)
    test_loss, test_acc = model.evaluate(test_images, test_labels)
    print(f"Test accuracy: {test_acc:.3f}")

    return {"dataset": args.dataset, "history": history.history, "test_loss": test_loss,
            "test_acc": test_acc, "model": model}


if __name__ == "__main__":
    main()
