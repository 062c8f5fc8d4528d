"""Pictures of the lab's image task: the first test images with both frameworks' predictions,
and both confusion matrices (used by reference/lab.py)."""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CLASS_NAMES = {  # what the labels 0-9 mean
    "mnist": [str(d) for d in range(10)],
    "digits": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Boot"],
}


def plot_first_images(path, data, minidl_classes, keras_classes, count=20):
    """The first `count` test images, each titled with its label and both predictions."""
    names = CLASS_NAMES[data.dataset]
    figure = Figure(figsize=(15, 4.2), layout="constrained")
    FigureCanvasAgg(figure)  # draw with Agg, whatever pyplot's backend is
    for i in range(count):
        axes = figure.add_subplot(2, (count + 1) // 2, i + 1)
        axes.imshow(data.x_test[i].reshape(data.image_shape), cmap="binary")  # (rows, cols)
        label, ours, theirs = data.y_test[i], minidl_classes[i], keras_classes[i]
        wrong = ours != label or theirs != label
        axes.set_title(f"label {names[label]}\nminidl {names[ours]}\nKeras {names[theirs]}",
                       fontsize=8, color="red" if wrong else "black")
        axes.axis("off")
    figure.suptitle(f"{data.display_name}: the first {count} test images (red: a wrong prediction)")
    figure.savefig(path, dpi=100)
    return path


def confusion_matrix(labels, predictions, classes=10):
    """Counts (C, C): row = true class, column = predicted class."""
    counts = np.zeros((classes, classes), dtype=np.int64)  # (C,C)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def plot_confusion(path, data, minidl_classes, keras_classes):
    """minidl's and Keras's confusion matrices on the test set, side by side."""
    names = CLASS_NAMES[data.dataset]
    figure = Figure(figsize=(13, 6), layout="constrained")
    FigureCanvasAgg(figure)
    for index, (framework, classes) in enumerate((("minidl", minidl_classes),
                                                  ("Keras", keras_classes))):
        counts = confusion_matrix(data.y_test.astype(np.int64), classes, len(names))  # (C,C)
        axes = figure.add_subplot(1, 2, index + 1)
        axes.imshow(counts, cmap="Blues")
        for (row, col), count in np.ndenumerate(counts):
            axes.text(col, row, str(count), ha="center", va="center", fontsize=7,
                      color="white" if count > counts.max() / 2 else "black")
        axes.set_xticks(range(len(names)), names, rotation=90)
        axes.set_yticks(range(len(names)), names)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        accuracy = np.trace(counts) / counts.sum()
        axes.set_title(f"{framework}: test accuracy {accuracy:.4f}")
    figure.suptitle(f"{data.display_name}: confusion matrices on the {len(data.y_test)} "
                    "test images")
    figure.savefig(path, dpi=100)
    return path
