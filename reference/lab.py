"""The lab's experiments trained in minidl and in Keras side by side: the `minidl lab` command.

Práctica 1, "Introducción al Deep Learning", as data: the MNIST classifier and exercises E1-E6,
each a dataset, a two-layer model and the lab's fit settings (EXPERIMENTS below). `run_lab`
trains each one with `reference.report.side_by_side`, which gives the Keras twin the same
initial weights and the same batches, and writes into one folder:

    README.md                       an index: every experiment, its final test metric in both
                                    frameworks and the largest history difference
    <name>.md, <name>.png           per experiment: the side-by-side tables, the learning curves
    mnist-first20.png               the image task: the first 20 test images, both predictions
    mnist-confusion.png             the image task: both confusion matrices

The scripts in examples/ run the same experiments with the lab's own code, in minidl alone.
"""
import os
import time
from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.model_selection import train_test_split

import minidl
from minidl.datasets import DatasetNotFoundError, digits, fashion_mnist, mnist, synthetic
from reference.report import side_by_side

IMAGE_DATASETS = ("mnist", "fashion_mnist", "digits")
PIXEL_MAX = {"mnist": 255, "fashion_mnist": 255, "digits": 16}  # scikit-learn's digits are 0..16
CLASS_NAMES = {  # what the labels 0-9 mean
    "mnist": [str(d) for d in range(10)],
    "digits": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Boot"],
}


# ---------------------------------------------------------------------------------------------
# The experiments
# ---------------------------------------------------------------------------------------------

@dataclass
class Experiment:
    """One model of the lab: its data, its two Dense layers, compile and fit settings."""

    name: str  # file names, and what --experiments selects
    part: str  # the lab's part: "--experiments e3" selects both E3 models
    title: str  # may name {dataset} and {inputs}, filled in when the data is known
    task: str  # "images", "binary" (x1 + x2 > 1) or "regression" (y = x1 + x2)
    units: int  # hidden layer
    activation: str
    outputs: int  # output layer
    output_activation: str
    optimizer: str
    loss: str
    metric: str  # the lab's one metric, reported on the test set
    epochs: int
    batch_size: int = 32
    validation: str = "split"  # "split": validation_split=0.2; "test": the test set; None
    n: int = 1000  # synthetic samples
    noise: float = 0.0  # standard deviation of the noise on synthetic targets

    def build(self, input_dim):
        """The compiled minidl model, Dense(units) -> Dense(outputs), for `input_dim` features."""
        model = minidl.Sequential([
            minidl.layers.Dense(self.units, activation=self.activation, input_shape=(input_dim,)),
            minidl.layers.Dense(self.outputs, activation=self.output_activation),
        ])
        model.compile(optimizer=self.optimizer, loss=self.loss, metrics=[self.metric])
        return model


_BINARY = dict(task="binary", outputs=1, output_activation="sigmoid", optimizer="adam",
               loss="binary_crossentropy", metric="accuracy", epochs=30)
_REGRESSION = dict(task="regression", units=64, activation="relu", outputs=1,
                   output_activation="linear", optimizer="adam", loss="mse", metric="mae",
                   epochs=20)

EXPERIMENTS = [
    Experiment("mnist", "mnist", "Image classifier ({dataset}, {inputs} inputs), 512 relu units",
               task="images", units=512, activation="relu", outputs=10,
               output_activation="softmax", optimizer="rmsprop",
               loss="sparse_categorical_crossentropy", metric="accuracy", epochs=5,
               batch_size=64, validation=None),
    Experiment("e1", "e1", "E1: x1 + x2 > 1, 64 relu units", units=64, activation="relu",
               **_BINARY),
    Experiment("e2", "e2", "E2: 32 relu units", units=32, activation="relu", **_BINARY),
    Experiment("e3-tanh", "e3", "E3: 64 tanh units", units=64, activation="tanh", **_BINARY),
    Experiment("e3-sigmoid", "e3", "E3: 64 sigmoid units", units=64, activation="sigmoid",
               **_BINARY),
    Experiment("e4", "e4", "E4: regression of x1 + x2", **_REGRESSION),
    Experiment("e5-500", "e5", "E5: 500 samples", n=500, **_REGRESSION),
    Experiment("e5-2000", "e5", "E5: 2000 samples, test set as validation", n=2000,
               validation="test", **_REGRESSION),
    Experiment("e6", "e6", "E6: noise N(0, 0.1) on the targets", noise=0.1, **_REGRESSION),
]


def select(names=None):
    """The experiments named (by name, e.g. "e3-tanh", or by part, e.g. "e3"), in lab order.

    Args:
        names: a list, or a comma-separated string such as "mnist,e1"; None for all.
    """
    if names is None:
        return list(EXPERIMENTS)
    if isinstance(names, str):
        names = names.split(",")
    names = [n.strip().lower() for n in names if n.strip()]
    valid = sorted({e.part for e in EXPERIMENTS} | {e.name for e in EXPERIMENTS})
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise ValueError(f"Expected experiment names separated by commas. Received: "
                         f"{', '.join(unknown) if unknown else 'none'}. "
                         f"Valid names: {', '.join(valid)}")
    return [e for e in EXPERIMENTS if e.name in names or e.part in names]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

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


def load_data(experiment, dataset="auto"):
    """The experiment's data, drawn and split exactly as the lab does."""
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
    scikit-learn's 8x8 digits. The returned Data's `note` says which, and why.
    """
    if dataset not in ("auto",) + IMAGE_DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}. Expected one of: auto, "
                         f"{', '.join(IMAGE_DATASETS)}")
    loaders = {"mnist": mnist.load_data, "fashion_mnist": fashion_mnist.load_data,
               "digits": digits.load_data}
    if dataset == "auto":
        name, note, arrays = _first_available(loaders)
    else:
        name, note, arrays = dataset, f"{dataset}, as asked.", loaders[dataset]()
    (x_train, y_train), (x_test, y_test) = arrays
    return Data(_flatten(x_train, name), y_train, _flatten(x_test, name), y_test, dataset=name,
                note=note, image_shape=x_train.shape[1:])


def _first_available(loaders):
    """MNIST, else Fashion-MNIST, else the digits: (name, why, arrays)."""
    missing = []
    for name in ("mnist", "fashion_mnist"):
        try:
            arrays = loaders[name]()
        except DatasetNotFoundError as error:
            missing.append(f"{name} is not available ({_first_line(error)})")
            continue
        note = f"{name}: " + ("; ".join(missing) + "." if missing else "as in the lab.")
        return name, note, arrays
    return "digits", "digits (scikit-learn's 8x8): " + "; ".join(missing) + ".", loaders["digits"]()


def _flatten(images, dataset):
    """(N, rows, cols) integer pixels -> (N, rows*cols) float32 in [0, 1], as the lab does."""
    return images.reshape(len(images), -1).astype("float32") / np.float32(PIXEL_MAX[dataset])


def _first_line(error):
    """Why a dataset is missing, in one line: not found, and why the download failed."""
    reason = error.args[0].splitlines()[0]
    if error.__cause__ is not None:
        reason += f" Download failed: {getattr(error.__cause__, 'reason', error.__cause__)}"
    return reason


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

@dataclass
class Result:
    """One experiment trained in both frameworks, and the files written for it."""

    experiment: Experiment
    data: Data
    report: object  # a reference.report.Report
    title: str
    files: dict = field(default_factory=dict)  # what -> path: "report", "learning curves", ...
    seconds: float = 0.0

    @property
    def minidl_metric(self):
        return self.report.minidl_evaluate[self.experiment.metric]

    @property
    def keras_metric(self):
        return self.report.keras_evaluate[self.experiment.metric]

    @property
    def max_history_diff(self):
        """The largest |minidl - Keras| over every history value of every epoch."""
        return max(self.report.run.max_abs_diff().values())


@dataclass
class LabRun:
    """What `run_lab` did: the results in order and the index it wrote."""

    out_dir: str
    index: str
    results: list


def run_experiment(experiment, dataset="auto", epochs=None, seed=0, out_dir="minidl-report"):
    """Train one experiment in minidl and Keras on the same batches; write its files.

    Args:
        experiment: an Experiment (see EXPERIMENTS).
        dataset: the image dataset for the image task, "auto" or one of IMAGE_DATASETS.
        epochs: None for the lab's number, else this many.
        seed: seeds minidl's initial weights (copied to Keras) and the batch order.
        out_dir: where the files go.
    """
    start = time.perf_counter()
    data = load_data(experiment, dataset)
    minidl.utils.set_random_seed(seed)
    model = experiment.build(data.x_train.shape[1])
    fit_kwargs = dict(epochs=epochs or experiment.epochs, batch_size=experiment.batch_size,
                      seed=seed)
    if experiment.validation == "split":
        fit_kwargs["validation_split"] = 0.2
    elif experiment.validation == "test":
        fit_kwargs["validation_data"] = (data.x_test, data.y_test)
    title = experiment.title.format(dataset=data.dataset, inputs=data.x_train.shape[1])
    report = side_by_side(model, data.x_train, data.y_train, x_test=data.x_test,
                          y_test=data.y_test, title=title, verbose=False, **fit_kwargs)
    result = Result(experiment, data, report, title)
    result.files = _write_files(result, out_dir)
    result.seconds = time.perf_counter() - start
    return result


def _write_files(result, out_dir):
    """The report markdown and curves, and for images the predictions and confusion matrices."""
    name = result.experiment.name
    files = {"report": os.path.join(out_dir, f"{name}.md"),
             "learning curves": result.report.plot(os.path.join(out_dir, f"{name}.png"))}
    text = result.report.markdown(image=f"{name}.png")
    if result.experiment.task == "images":
        data, run = result.data, result.report.run
        minidl_classes = run.minidl_model.predict(data.x_test, verbose=0).argmax(axis=-1)  # (M,)
        keras_classes = run.keras_model.predict(data.x_test, verbose=0).argmax(axis=-1)  # (M,)
        first = plot_first_images(os.path.join(out_dir, f"{name}-first20.png"), data,
                                  minidl_classes, keras_classes)
        confusion = plot_confusion(os.path.join(out_dir, f"{name}-confusion.png"), data,
                                   minidl_classes, keras_classes)
        files.update({"first 20 test images": first, "confusion matrices": confusion})
        text += (f"\n## Images\n\nData: {data.note}\n\n"
                 f"![first 20 test images]({os.path.basename(first)})\n\n"
                 f"![confusion matrices]({os.path.basename(confusion)})\n")
    with open(files["report"], "w", encoding="utf-8") as f:
        f.write(text)
    return files


def run_lab(experiments=None, dataset="auto", epochs=None, seed=0, out_dir="minidl-report",
            progress=True):
    """Run the lab's experiments side by side in minidl and Keras; write a report folder.

    Args:
        experiments: names or parts to run (a list or "mnist,e1,..."); None for all.
        dataset: image dataset for the image task: "auto" (MNIST, else Fashion-MNIST, else
            digits), "mnist", "fashion_mnist" or "digits".
        epochs: None for each experiment's number in the lab, else this many for all.
        seed: seeds the initial weights and the batch order of every experiment.
        out_dir: the folder to write (created if needed).
        progress: print one line as each experiment starts and one as it ends.

    Returns:
        a LabRun with every Result and the path of the index README.md.
    """
    chosen = select(experiments)
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs < 1):
        raise ValueError(f"Received an invalid value for `epochs`, expected a positive integer "
                         f"or None. Received: epochs={epochs!r}")
    os.makedirs(out_dir, exist_ok=True)
    results = []
    for number, experiment in enumerate(chosen, start=1):
        if progress:
            print(f"[{number}/{len(chosen)}] {experiment.name} ...", flush=True)
        result = run_experiment(experiment, dataset, epochs, seed, out_dir)
        if progress:
            if experiment.task == "images":
                print(f"      images: {result.data.note}")
            print(f"      {result.title}: test {experiment.metric}: "
                  f"minidl {result.minidl_metric:.4f}, Keras {result.keras_metric:.4f}; max |history diff| "
                  f"{result.max_history_diff:.1e} ({result.seconds:.1f} s)", flush=True)
        results.append(result)
    index = write_index(results, out_dir, epochs, seed)
    if progress:
        print(f"Wrote {index}")
    return LabRun(out_dir, index, results)


PARTED = 1e-5  # a history difference this large is no longer float32 rounding


def write_index(results, out_dir, epochs, seed):
    """README.md: one row per experiment, linking its report and pictures."""
    lines = ["# Práctica 1 in minidl and Keras, side by side", "",
             "Each model was built in minidl, copied with its initial weights into Keras, and "
             "both were trained on the same batches. Test metric: the lab's metric on the "
             "test set after training. History diff: the largest |minidl - Keras| over every "
             "value of `history` (loss and metrics, training and validation, every epoch).", "",
             f"Epochs: {'as in the lab' if epochs is None else epochs}. Seed: {seed}.", ""]
    for result in results:
        if result.experiment.task == "images":
            lines += [f"Image data: {result.data.note}", ""]
    lines += ["| experiment | test metric | minidl | Keras | max \\|history diff\\| | files |",
              "|---|---|---:|---:|---:|---|"]
    for result in results:
        name = result.experiment.name
        pictures = ", ".join(f"[{what}]({os.path.basename(path)})"
                             for what, path in result.files.items() if what != "report")
        lines.append(f"| [{result.title}]({name}.md) | {result.experiment.metric} | "
                     f"{result.minidl_metric:.4f} | {result.keras_metric:.4f} | "
                     f"{result.max_history_diff:.1e} | {pictures} |")
    parted = [r.experiment.name for r in results if r.max_history_diff > PARTED]
    if parted:
        lines += ["", f"In {', '.join(parted)} the two runs parted: their histories differ by far "
                  "more than float32 rounding (~1e-7). Every step agrees to rounding, but over "
                  "hundreds of steps a relu pre-activation can sit within rounding of 0, positive "
                  "in one framework and negative in the other, and RMSprop or Adam turn the tiny "
                  "gradient that follows into a full-size step. "
                  "`reference.divergence.find_divergence` names the first step and tensor."]
    path = os.path.join(out_dir, "README.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# Pictures of the image task
# ---------------------------------------------------------------------------------------------

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
    figure.suptitle(f"{data.dataset}: the first {count} test images (red: a wrong prediction)")
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
    figure.suptitle(f"{data.dataset}: confusion matrices on the {len(data.y_test)} test images")
    figure.savefig(path, dpi=100)
    return path
