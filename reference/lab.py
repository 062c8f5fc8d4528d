"""The lab's experiments trained in minidl and in Keras side by side: the `minidl lab` command.

Práctica 1, "Introducción al Deep Learning" (the first lab of a Spanish-language university
course on Keras), as data: the MNIST classifier and exercises E1-E6, each a dataset, a two-layer
model and the lab's fit settings (EXPERIMENTS below). `run_lab` trains each one with
`reference.report.side_by_side`, which gives the Keras twin the same initial weights and the
same batches, prints its progress (reference/progress.py), and writes into one folder:

    README.md                       an index: every experiment, its final test metric in both
                                    frameworks, their difference, the share of test
                                    predictions that agree, the largest history difference
    <name>.md, <name>.png           per experiment: the side-by-side tables, the learning curves
    <images>-first20.png            the image task: the first 20 test images, both predictions
    <images>-confusion.png          the image task: both confusion matrices

The image task is named after the images it used: mnist, or fashion_mnist or digits when MNIST
could not be had (the index and the progress lines say why). The scripts in examples/ run the
same experiments with the lab's own code, in minidl alone.
"""
import os
import time
from dataclasses import dataclass, field

import keras

import minidl
from reference.lab_data import Data, load_data
from reference.lab_pictures import plot_confusion, plot_first_images
from reference.progress import LabProgress, estimate_seconds
from reference.report import side_by_side


# ---------------------------------------------------------------------------------------------
# The experiments
# ---------------------------------------------------------------------------------------------

@dataclass
class Experiment:
    """One model of the lab: its data, its layers, compile and fit settings.

    `model` "dense" is the lab's Dense(units) -> Dense(outputs); "convnet" the course's next
    lesson, Conv2D(32) -> MaxPooling2D -> Conv2D(64) -> MaxPooling2D -> Conv2D(units) ->
    Flatten -> Dense(outputs), each Conv2D 3x3 with `activation`, on images (N, H, W, 1).
    """

    name: str  # what --experiments selects; names the files (the image task's: its dataset)
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
    model: str = "dense"  # or "convnet"

    def build(self, input_shape):
        """The compiled minidl model for samples of `input_shape`: (D,), or (H, W, 1) images."""
        layers = minidl.layers
        if self.model == "convnet":
            stack = [minidl.Input(tuple(input_shape)),
                     layers.Conv2D(32, 3, activation=self.activation), layers.MaxPooling2D(2),
                     layers.Conv2D(64, 3, activation=self.activation), layers.MaxPooling2D(2),
                     layers.Conv2D(self.units, 3, activation=self.activation), layers.Flatten()]
        else:
            stack = [layers.Dense(self.units, activation=self.activation,
                                  input_shape=tuple(input_shape))]
        model = minidl.Sequential(stack + [layers.Dense(self.outputs,
                                                        activation=self.output_activation)])
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

# The course's next lesson, run only when asked for (`--experiments convnet`): the classic
# convnet of "Deep Learning with Python", chapter 8, on 28x28 images.
NEXT_LESSONS = [
    Experiment("convnet", "convnet", "Convnet ({dataset}, 28x28 images): Conv2D 32-64-128 "
               "relu, two 2x2 max-poolings", task="images", units=128, activation="relu",
               outputs=10, output_activation="softmax", optimizer="rmsprop",
               loss="sparse_categorical_crossentropy", metric="accuracy", epochs=5,
               batch_size=64, validation=None, model="convnet"),
]


def select(names=None):
    """The experiments named (by name, e.g. "e3-tanh", or by part, e.g. "e3"), in lab order.

    Args:
        names: a list, or a comma-separated string such as "mnist,e1"; None for all.
    """
    if names is None:
        return list(EXPERIMENTS)  # the lab; NEXT_LESSONS only by name
    if isinstance(names, str):
        names = names.split(",")
    names = [n.strip().lower() for n in names if n.strip()]
    everything = EXPERIMENTS + NEXT_LESSONS
    valid = sorted({e.part for e in everything} | {e.name for e in everything})
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise ValueError(f"Expected experiment names separated by commas. Received: "
                         f"{', '.join(unknown) if unknown else 'none'}. "
                         f"Valid names: {', '.join(valid)}")
    return [e for e in everything if e.name in names or e.part in names]


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
    def name(self):
        """The step's and the files' name: the experiment's, or for images the dataset's."""
        return run_name(self.experiment, self.data)

    @property
    def minidl_metric(self):
        return self.report.minidl_evaluate[self.experiment.metric]

    @property
    def keras_metric(self):
        return self.report.keras_evaluate[self.experiment.metric]

    @property
    def metric_difference(self):
        """minidl's test metric minus Keras's."""
        return self.minidl_metric - self.keras_metric

    def signed_difference(self):
        """The difference to 4 decimals with its sign: '+0.0047', '-0.0047', '0.0000'."""
        rounded = round(self.metric_difference, 4)
        return f"{rounded:+.4f}" if rounded else "0.0000"  # not '-0.0000' for -1e-9

    @property
    def max_history_diff(self):
        """The largest |minidl - Keras| over every history value of every epoch."""
        return max(self.report.run.max_abs_diff().values())

    def agreement(self, markdown=False):
        """'98.90% same class' (classifiers), else the largest prediction difference."""
        if self.report.class_agreement is not None:
            return f"{self.report.class_agreement:.2%} same class"
        bars = "\\|" if markdown else "|"
        return f"max {bars}diff{bars} {self.report.prediction_max_abs_diff:.1e}"

    def summary(self):
        """Two lines: both test metrics and their difference; the predictions and histories."""
        metric = self.experiment.metric
        return [f"test {metric} minidl {self.minidl_metric:.4f}, Keras {self.keras_metric:.4f} "
                f"(difference {self.signed_difference()})",
                f"test predictions: {self.agreement()}; "
                f"max |history diff| {self.max_history_diff:.1e}"]


@dataclass
class LabRun:
    """What `run_lab` did: the results in order and the index it wrote."""

    out_dir: str
    index: str
    results: list


def run_name(experiment, data):
    """'e1', or for the image task the images used: 'mnist', 'fashion_mnist', 'digits'
    ('convnet-fashion_mnist' for the convnet)."""
    if experiment.task != "images":
        return experiment.name
    return data.dataset if experiment.model == "dense" else f"{experiment.name}-{data.dataset}"


def run_title(experiment, data):
    """The experiment's title with its dataset and input width filled in."""
    return experiment.title.format(dataset=data.display_name, inputs=data.x_train.shape[1])


def run_experiment(experiment, dataset="auto", epochs=None, seed=0, out_dir="minidl-report",
                   data=None, progress=None):
    """Train one experiment in minidl and Keras on the same batches; write its files.

    Args:
        experiment: an Experiment (see EXPERIMENTS).
        dataset: the image dataset for the image task, "auto" or one of lab_data.IMAGE_DATASETS.
        epochs: None for the lab's number, else this many.
        seed: seeds minidl's initial weights (copied to Keras) and the batch order.
        out_dir: where the files go.
        data: the experiment's Data, if already loaded (else loaded here).
        progress: a LabProgress to tell about every epoch of both frameworks, or None.
    """
    start = time.perf_counter()
    data = load_data(experiment, dataset) if data is None else data
    minidl.utils.set_random_seed(seed)
    model = experiment.build(data.x_train.shape[1:])
    fit_kwargs = dict(epochs=epochs or experiment.epochs, batch_size=experiment.batch_size,
                      seed=seed)
    if experiment.validation == "split":
        fit_kwargs["validation_split"] = 0.2
    elif experiment.validation == "test":
        fit_kwargs["validation_data"] = (data.x_test, data.y_test)
    if progress is not None:
        keys = ("loss", experiment.metric)
        fit_kwargs["callbacks"] = [minidl.callbacks.LambdaCallback(
            on_epoch_end=progress.epoch_callback("minidl", keys))]
        fit_kwargs["keras_callbacks"] = [keras.callbacks.LambdaCallback(
            on_epoch_end=progress.epoch_callback("Keras", keys))]
    title = run_title(experiment, data)
    report = side_by_side(model, data.x_train, data.y_train, x_test=data.x_test,
                          y_test=data.y_test, title=title, verbose=False, **fit_kwargs)
    result = Result(experiment, data, report, title)
    result.files = _write_files(result, out_dir)
    result.seconds = time.perf_counter() - start
    return result


def _write_files(result, out_dir):
    """The report markdown and curves, and for images the predictions and confusion matrices."""
    name = result.name
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
        progress: print the plan with a rough duration, a line per epoch of each framework
            and each experiment's result (reference/progress.py).

    Returns:
        a LabRun with every Result and the path of the index README.md.
    """
    chosen = select(experiments)
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs < 1):
        raise ValueError(f"Received an invalid value for `epochs`, expected a positive integer "
                         f"or None. Received: epochs={epochs!r}")
    os.makedirs(out_dir, exist_ok=True)
    loaded = [load_data(experiment, dataset) for experiment in chosen]  # small, or one image set
    epoch_counts = [epochs or experiment.epochs for experiment in chosen]
    estimates = [_estimate(e, d, n) for e, d, n in zip(chosen, loaded, epoch_counts)]
    reporter = LabProgress(estimates) if progress else None
    if reporter:
        reporter.plan(len(chosen), sum(epoch_counts))
    results = []
    for number, (experiment, data, count) in enumerate(zip(chosen, loaded, epoch_counts), 1):
        if reporter:
            reporter.experiment_started(number, len(chosen), run_name(experiment, data),
                                        run_title(experiment, data), count)
            if experiment.task == "images":
                reporter.note(f"Images: {data.note}")
        result = run_experiment(experiment, dataset, epochs, seed, out_dir, data=data,
                                progress=reporter)
        if reporter:
            reporter.experiment_ended(result.summary())
        results.append(result)
    index = write_index(results, out_dir, epochs, seed)
    if reporter:
        reporter.print(f"Wrote {index}")
    return LabRun(out_dir, index, results)


# Seconds per training row of one convnet epoch in both frameworks together (about 5 s per
# 10,000 rows each on a 2-core Xeon @ 2.80 GHz), and of one predict or evaluate pass.
CONVNET_SECONDS_PER_ROW = 1.0e-3
CONVNET_SECONDS_PER_TEST_ROW = 4.0e-4


def _estimate(experiment, data, epochs):
    """Roughly how long an experiment takes (progress.py's model knows Dense layers only)."""
    rows = _training_rows(experiment, data)
    seconds = estimate_seconds(experiment, rows, data.x_train.shape[1], epochs)
    if experiment.model == "convnet":
        seconds += (epochs * rows * CONVNET_SECONDS_PER_ROW
                    + len(data.x_test) * CONVNET_SECONDS_PER_TEST_ROW)
    return seconds


def _training_rows(experiment, data):
    """Rows trained on per epoch: the validation split's share is held out."""
    n = len(data.x_train)
    return n - int(n * 0.2) if experiment.validation == "split" else n


PARTED = 1e-5  # a history difference this large is no longer float32 rounding


def write_index(results, out_dir, epochs, seed):
    """README.md: one row per experiment, linking its report and pictures."""
    lines = ["# Práctica 1 in minidl and Keras, side by side", "",
             "Práctica 1, \"Introducción al Deep Learning\", is the first lab of a "
             "Spanish-language university course on Keras. Each of its models was built in "
             "minidl, copied with its initial weights into Keras, and both were trained on the "
             "same batches.", "",
             "Columns: the lab's metric on the test set after training in each framework; "
             "minidl - Keras, their difference (0.0105 in accuracy is 1.05 points); the test "
             "predictions that agree: for a classifier the share of test rows both put in the "
             "same class, for a regression the largest difference between the two predictions; "
             "the largest |minidl - Keras| over every value of `history` (loss and metrics, "
             "training and validation, every epoch).", "",
             f"Epochs: {'as in the lab' if epochs is None else epochs}. Seed: {seed}.", ""]
    if any(result.experiment.model == "convnet" for result in results):
        lines += ["The convnet is not part of Práctica 1: it is the course's next lesson "
                  "(examples/convnet.py).", ""]
    for result in results:
        if result.experiment.task == "images":
            lines += [f"Image data: {result.data.note}", ""]
    lines += ["| experiment | test metric | minidl | Keras | minidl - Keras | "
              "test predictions | max \\|history diff\\| | files |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for result in results:
        pictures = ", ".join(f"[{what}]({os.path.basename(path)})"
                             for what, path in result.files.items() if what != "report")
        lines.append(f"| [{result.title}]({result.name}.md) | {result.experiment.metric} | "
                     f"{result.minidl_metric:.4f} | {result.keras_metric:.4f} | "
                     f"{result.signed_difference()} | {result.agreement(markdown=True)} | "
                     f"{result.max_history_diff:.1e} | {pictures} |")
    parted = [r.name for r in results if r.max_history_diff > PARTED]
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
