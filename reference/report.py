"""A side-by-side report of one experiment trained in minidl and in Keras.

    from reference.report import side_by_side
    r = side_by_side(model, x, y, epochs=5, batch_size=32, validation_split=0.2, out_dir="report")
    r.print()

`side_by_side` trains both on identical batches (reference/lockstep.py), then evaluates and
predicts with both. The Report shows, per epoch, every history value of both frameworks and
their difference, the seconds each took, the final evaluation and how well the predictions
agree; as a markdown file, a plain-text table and a plot of the learning curves (on a log
scale for a metric that spans a decade or more, such as a regression loss falling from 0.5 to
0.005, which on a linear scale looks flat after the first epochs).
"""
import os
import re
from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from minidl import activations as md_activations
from reference.lockstep import lockstep_fit

_CLASSIFIER_LOSSES = ("BinaryCrossentropy", "CategoricalCrossentropy",
                      "SparseCategoricalCrossentropy")


def _value(v):
    """A float32 value in the fewest digits that read back as the same float32."""
    return str(np.float32(v))


def _diff(v):
    """A difference: '0' when exact, else two significant digits."""
    return "0" if v == 0 else f"{v:.1e}"


def _short(v):
    """A value for the terminal, as Keras's progress bar prints it."""
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def slugify(title):
    """'E1: Adam, BCE' -> 'e1-adam-bce', a file name safe everywhere."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "experiment"


def describe_model(model):
    """One line naming the layers, the optimizer and the loss, e.g. 'Dense(64, relu) -> ...'."""
    parts = [_describe_layer(layer) for layer in model.layers
             if type(layer).__name__ != "InputLayer"]
    settings = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in model.optimizer.get_config().items()
                         if k != "name" and v is not None)
    return (f"input {model.input_shape[1:]} -> " + " -> ".join(parts)
            + f"; {type(model.optimizer).__name__}({settings}); loss {model.loss.name}")


def _describe_layer(layer):
    """'Dense(64, relu)', 'Conv2D(32, 3x3, relu)', 'MaxPooling2D(2x2)', 'Flatten()'."""
    config = layer.get_config()
    details = []
    for key in ("units", "filters", "rate"):
        if key in config:
            details.append(str(config[key]))
    for key in ("kernel_size", "pool_size"):
        if config.get(key) is not None:
            size = config[key]
            details.append("x".join(map(str, size)) if isinstance(size, (list, tuple)) else str(size))
    activation = getattr(layer, "activation", None)
    if activation is not None and activation is not md_activations.linear:
        details.append(activation.__name__)  # its own name, for a function of one's own too
    return f"{type(layer).__name__}({', '.join(details)})"


def spans_decades(curves):
    """True when the values are all positive and the largest is at least 10x the smallest."""
    values = np.concatenate([np.asarray(curve, dtype=np.float64) for curve in curves])  # (K,)
    return bool(values.size and values.min() > 0 and values.max() >= 10 * values.min())


def same_class_fraction(model, minidl_pred, keras_pred):
    """The fraction of rows both frameworks put in the same class, or None for regression.

    One output column: the class is (p > 0.5), or (z > 0) for a loss from logits, as
    BinaryAccuracy thresholds it. Several columns: the argmax.
    """
    if type(model.loss).__name__ not in _CLASSIFIER_LOSSES:
        return None
    if minidl_pred.shape[-1] == 1:
        threshold = 0.0 if model.loss.from_logits else 0.5
        ours, theirs = minidl_pred > threshold, keras_pred > threshold  # (N,1)
    else:
        ours, theirs = minidl_pred.argmax(axis=-1), keras_pred.argmax(axis=-1)  # (N,)
    return float(np.mean(ours == theirs))


@dataclass
class Report:
    """Everything `side_by_side` measured, with ways to show it."""

    title: str
    description: str
    run: object  # a reference.lockstep.LockstepRun
    eval_on: str  # which rows evaluate/predict used, e.g. "test set (200 rows)"
    minidl_evaluate: dict
    keras_evaluate: dict
    prediction_max_abs_diff: float
    class_agreement: float = None  # None for regression losses
    paths: tuple = field(default=())  # (markdown, png) once saved

    @property
    def keys(self):
        """The history keys, in Keras's (alphabetical) order."""
        return sorted(self.run.minidl_history)

    # -- markdown -------------------------------------------------------------------
    def markdown(self, image=None):
        """The report as markdown; `image` (a file name) adds the learning-curves plot."""
        run, keys = self.run, self.keys
        lines = [f"# {self.title}: minidl vs Keras", "", f"Model: {self.description}.", "",
                 f"{run.epochs} epochs, batch size {run.batch_size}, {run.n_train} training "
                 f"rows, {run.n_val} validation rows; both frameworks saw the same batches.",
                 "", "## Per epoch", ""]
        header = ["epoch"]
        for key in keys:
            header += [f"{key} minidl", f"{key} Keras", f"{key} \\|diff\\|"]
        header += ["s minidl", "s Keras"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
        for epoch in range(run.epochs):
            row = [str(epoch + 1)]
            for key in keys:
                ours, theirs = run.minidl_history[key][epoch], run.keras_history[key][epoch]
                row += [_value(ours), _value(theirs), _diff(abs(ours - theirs))]
            row += [f"{run.minidl_seconds[epoch]:.3f}", f"{run.keras_seconds[epoch]:.3f}"]
            lines.append("| " + " | ".join(row) + " |")
        largest = ", ".join(f"{k} {_diff(v)}" for k, v in run.max_abs_diff().items())
        lines += ["", f"Largest |minidl - Keras| over all epochs: {largest}.", ""]
        lines += [f"## Final evaluate, on the {self.eval_on}", "",
                  "| metric | minidl | Keras | \\|diff\\| |", "|---|---:|---:|---:|"]
        for key in sorted(self.minidl_evaluate):
            ours, theirs = self.minidl_evaluate[key], self.keras_evaluate[key]
            lines.append(f"| {key} | {_value(ours)} | {_value(theirs)} | "
                         f"{_diff(abs(ours - theirs))} |")
        lines += ["", "## Predictions", "", self._prediction_sentence()]
        if image:
            lines += ["", "## Learning curves", "", f"![learning curves]({image})"]
        return "\n".join(lines) + "\n"

    def _prediction_sentence(self):
        text = (f"On the {self.eval_on}, the largest |minidl - Keras| between predictions is "
                f"{_diff(self.prediction_max_abs_diff)}")
        if self.class_agreement is not None:
            text += f"; {self.class_agreement:.2%} of the rows get the same class in both"
        return text + "."

    def _repr_markdown_(self):
        return self.markdown()

    # -- plain text -------------------------------------------------------------------
    def text(self):
        """The same tables as `markdown`, compact, for the terminal."""
        run, keys = self.run, self.keys
        group = "{:>10} {:>10} {:>7}"  # minidl, Keras, |diff|
        top = f"{'':>5}  " + "  ".join(f"{k:<29}" for k in keys) + "  seconds"
        header = (f"{'epoch':>5}  " + "  ".join(group.format("minidl", "Keras", "|diff|")
                                                for _ in keys)
                  + f"  {'minidl':>7} {'Keras':>7}")
        lines = [f"{self.title}: minidl vs Keras  ({run.epochs} epochs, batch {run.batch_size}, "
                 f"{run.n_train} train / {run.n_val} val rows)", top, header]
        for epoch in range(run.epochs):
            cells = []
            for key in keys:
                ours, theirs = run.minidl_history[key][epoch], run.keras_history[key][epoch]
                cells.append(group.format(_short(ours), _short(theirs), _diff(abs(ours - theirs))))
            lines.append(f"{epoch + 1:>5}  " + "  ".join(cells)
                         + f"  {run.minidl_seconds[epoch]:>7.3f} {run.keras_seconds[epoch]:>7.3f}")
        lines.append(f"evaluate on the {self.eval_on}:")
        for key in sorted(self.minidl_evaluate):
            ours, theirs = self.minidl_evaluate[key], self.keras_evaluate[key]
            lines.append(f"  {key:<12} minidl {_short(ours)}  Keras {_short(theirs)}  "
                         f"|diff| {_diff(abs(ours - theirs))}")
        lines.append(self._prediction_sentence())
        return "\n".join(lines)

    def print(self):
        """Print the compact table."""
        print(self.text())

    # -- plot and files ---------------------------------------------------------------
    def plot(self, path):
        """Save the learning curves of both (minidl solid, Keras dashed) to `path`; returns it."""
        self.figure().savefig(path, dpi=100)
        return path

    def figure(self):
        """The learning curves as a matplotlib Figure: one panel per metric, log scale for a
        metric whose values span a decade or more."""
        run = self.run
        metrics = [k for k in self.keys if not k.startswith("val_")]
        figure = Figure(figsize=(5 * len(metrics), 4), layout="constrained")
        FigureCanvasAgg(figure)  # draw with Agg, whatever pyplot's backend is
        epochs = np.arange(1, run.epochs + 1)
        for index, metric in enumerate(metrics):
            axes = figure.add_subplot(1, len(metrics), index + 1)
            for key, color in ((metric, "C0"), ("val_" + metric, "C1")):
                if key not in run.minidl_history:
                    continue
                # A wide pale minidl line under a thin dashed Keras one: both stay visible
                # when, as they should, the curves lie on top of each other.
                axes.plot(epochs, run.minidl_history[key], color=color, linestyle="-",
                          marker="o", markersize=8, linewidth=4, alpha=0.4,
                          label=f"{key} minidl")
                axes.plot(epochs, run.keras_history[key], color=color, linestyle="--",
                          marker="x", linewidth=1.5, label=f"{key} Keras")
            title = metric
            if spans_decades([history[k] for history in (run.minidl_history, run.keras_history)
                              for k in (metric, "val_" + metric) if k in history]):
                axes.set_yscale("log")  # else the later epochs of a falling loss look flat
                title += " (log scale)"
            axes.set_title(title)
            axes.set_xlabel("epoch")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.legend()
        figure.suptitle(f"{self.title}: minidl (wide solid) vs Keras (dashed)")
        return figure

    def save(self, out_dir):
        """Write `<slug>.md` and `<slug>.png` into out_dir; returns their paths."""
        os.makedirs(out_dir, exist_ok=True)
        slug = slugify(self.title)
        png = self.plot(os.path.join(out_dir, slug + ".png"))
        md = os.path.join(out_dir, slug + ".md")
        with open(md, "w", encoding="utf-8") as f:
            f.write(self.markdown(image=slug + ".png"))
        self.paths = (md, png)
        return self.paths


def side_by_side(model, x, y, *, x_test=None, y_test=None, title="experiment", out_dir=None,
                 verbose=True, **fit_kwargs):
    """Train `model` and its Keras twin in lockstep, evaluate and predict with both: a Report.

    Args:
        model: a compiled, built minidl model whose optimizer has not stepped yet.
        x, y: training data.
        x_test, y_test: rows for the final evaluate and predict; without them, the
            training data is used (and the report says so).
        title: the report's title; its slug names the saved files.
        out_dir: if given, save `<slug>.md` and `<slug>.png` there.
        verbose: print one line when training starts and one per saved file.
        **fit_kwargs: passed to `lockstep_fit` (epochs, batch_size, validation_split, ...).
    """
    if (x_test is None) != (y_test is None):
        raise ValueError("Pass both `x_test` and `y_test`, or neither. Received: "
                         f"x_test is {'None' if x_test is None else 'given'}, "
                         f"y_test is {'None' if y_test is None else 'given'}")
    description = describe_model(model)  # before training: shows the settings used
    if verbose:
        print(f"{title}: training minidl and Keras side by side ({description})")
    run = lockstep_fit(model, x, y, **fit_kwargs)
    if x_test is None:
        x_test, y_test = x, y
        eval_on = f"training data ({len(x_test)} rows; no test set given)"
    else:
        eval_on = f"test set ({len(x_test)} rows)"
    batch_size = run.batch_size
    minidl_evaluate = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0,
                                     return_dict=True)
    keras_evaluate = run.keras_model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0,
                                              return_dict=True)
    minidl_pred = model.predict(x_test, batch_size=batch_size, verbose=0)  # (N,C)
    keras_pred = run.keras_model.predict(x_test, batch_size=batch_size, verbose=0)  # (N,C)
    report = Report(
        title=title, description=description, run=run, eval_on=eval_on,
        minidl_evaluate={k: float(v) for k, v in minidl_evaluate.items()},
        keras_evaluate={k: float(v) for k, v in keras_evaluate.items()},
        prediction_max_abs_diff=float(np.max(np.abs(minidl_pred - keras_pred))),
        class_agreement=same_class_fraction(model, minidl_pred, keras_pred),
    )
    if out_dir is not None:
        for path in report.save(out_dir):
            if verbose:
                print(f"wrote {path}")
    return report
