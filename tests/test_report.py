"""The side-by-side report: its tables show the run's numbers, its plot is a real image."""
import dataclasses
import os

import numpy as np
import pytest

from minidl.layers import Dense
from minidl.models import Sequential
from minidl.utils import set_random_seed

import keras  # noqa: F401  (a missing Keras must fail, not skip)
import matplotlib  # noqa: F401
import matplotlib.image  # noqa: E402

from reference.lockstep import LockstepRun  # noqa: E402
from reference.report import side_by_side, slugify, spans_decades  # noqa: E402


def tiny_model(output_activation="sigmoid", loss="binary_crossentropy", metrics=("accuracy",)):
    """2 -> 4 relu -> 1, compiled with Adam."""
    set_random_seed(0)
    model = Sequential([Dense(4, activation="relu", input_shape=(2,)),
                        Dense(1, activation=output_activation)])
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


def tiny_data(n=40, seed=0):
    """Points in the unit square, labelled 1 where x1 + x2 > 1."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))  # (N, 2)
    return x, (x.sum(axis=1) > 1).astype(int)  # (N,)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The three-line use: side_by_side(..., out_dir=...), 2 epochs."""
    out_dir = tmp_path_factory.mktemp("report")
    x, y = tiny_data()
    x_test, y_test = tiny_data(20, seed=1)
    return side_by_side(tiny_model(), x, y, x_test=x_test, y_test=y_test, title="Tiny E1: BCE",
                        out_dir=str(out_dir), verbose=False, epochs=2, batch_size=16,
                        validation_split=0.25)


def table_rows(markdown, heading):
    """The cells of the table under `heading`, header row first (separator row dropped)."""
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows
            if not row.startswith("|--")]


def test_markdown_per_epoch_table_holds_both_histories(report):
    run = report.run
    header, *rows = table_rows(report.markdown(), "## Per epoch")
    assert header[0] == "epoch" and header[-2:] == ["s minidl", "s Keras"]
    assert len(rows) == 2
    for key in ["accuracy", "loss", "val_accuracy", "val_loss"]:
        ours, theirs = header.index(f"{key} minidl"), header.index(f"{key} Keras")
        for epoch, row in enumerate(rows):
            # Each cell reads back as exactly the float32 the history holds.
            assert np.float32(row[ours]) == np.float32(run.minidl_history[key][epoch])
            assert np.float32(row[theirs]) == np.float32(run.keras_history[key][epoch])
            assert float(row[ours + 2]) <= 1e-6  # the |diff| column
    seconds = [float(row[-1]) for row in rows]
    assert seconds == pytest.approx(run.keras_seconds, abs=1e-3)


def test_markdown_evaluate_and_predictions(report):
    header, *rows = table_rows(report.markdown(), "## Final evaluate")
    assert header == ["metric", "minidl", "Keras", "\\|diff\\|"]
    assert [row[0] for row in rows] == ["accuracy", "loss"]
    for metric, ours, theirs, _ in rows:
        assert np.float32(ours) == np.float32(report.minidl_evaluate[metric])
        assert np.float32(theirs) == np.float32(report.keras_evaluate[metric])
    assert report.minidl_evaluate["loss"] == pytest.approx(report.keras_evaluate["loss"],
                                                           rel=1e-5)
    assert "test set (20 rows)" in report.markdown()
    assert report.prediction_max_abs_diff < 1e-5
    assert report.class_agreement == 1.0
    assert "100.00% of the rows get the same class" in report.markdown()


def test_save_writes_markdown_and_loadable_png(report):
    md, png = report.paths
    assert os.path.basename(md) == "tiny-e1-bce.md" and os.path.basename(png) == "tiny-e1-bce.png"
    with open(md, encoding="utf-8") as f:
        text = f.read()
    assert text == report.markdown(image="tiny-e1-bce.png")
    assert "![learning curves](tiny-e1-bce.png)" in text
    assert os.path.getsize(png) > 0
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[:2] == (400, 1000)  # two subplots (accuracy, loss), 5x4 inches each
    # The plot is not blank.
    assert image[..., :3].std() > 0.01


def test_plot_to_any_path(report, tmp_path):
    path = report.plot(str(tmp_path / "curves.png"))
    assert matplotlib.image.imread(path).shape[0] > 0


def test_print_shows_the_table(report, capsys):
    report.print()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Tiny E1: BCE: minidl vs Keras")
    header = lines[2]
    assert header.split()[:4] == ["epoch", "minidl", "Keras", "|diff|"]
    assert "accuracy" in lines[1] and "val_loss" in lines[1] and "seconds" in lines[1]
    loss = report.run.minidl_history["loss"][0]
    assert f"{loss:.4f}" in lines[3]
    assert "evaluate on the test set" in out


def test_regression_without_test_set(capsys):
    """No test set: evaluate on the training data, say so; no class agreement for MSE."""
    x, _ = tiny_data(24)
    y = x.sum(axis=1)  # (N,)
    model = tiny_model(None, "mse", ["mae"])
    report = side_by_side(model, x, y, epochs=1, batch_size=8, title="sum")
    out = capsys.readouterr().out
    assert out.startswith("sum: training minidl and Keras side by side")
    assert report.paths == ()
    assert report.class_agreement is None
    assert "training data (24 rows; no test set given)" in report.markdown()
    assert sorted(report.minidl_evaluate) == ["loss", "mae"]
    assert "same class" not in report.text()


def test_test_set_must_come_whole():
    x, y = tiny_data()
    with pytest.raises(ValueError, match="both `x_test` and `y_test`"):
        side_by_side(tiny_model(), x, y, x_test=x, verbose=False)


def test_slugify():
    assert slugify("E1: Adam, BCE (lr=0.001)") == "e1-adam-bce-lr-0-001"
    assert slugify("???") == "experiment"


def test_spans_decades():
    assert spans_decades([[0.5, 0.05], [0.04]])
    assert not spans_decades([[0.5, 0.06]])  # less than 10x
    assert not spans_decades([[1.0, 0.0]])  # a zero has no place on a log scale
    assert not spans_decades([[-1.0, -100.0]])


def test_loss_spanning_decades_is_plotted_on_a_log_scale(report):
    """A regression loss falling from 0.5 to 0.004: log scale; accuracy stays linear."""
    falling = [0.5, 0.05, 0.004]
    history = {"loss": falling, "val_loss": falling, "accuracy": [0.5, 0.6, 0.7],
               "val_accuracy": [0.5, 0.6, 0.7]}
    run = LockstepRun(minidl_model=None, keras_model=None, minidl_history=history,
                      keras_history=history, minidl_step_logs=[], keras_step_logs=[],
                      permutations=[], minidl_seconds=[0.1] * 3, keras_seconds=[0.1] * 3)
    decades = dataclasses.replace(report, run=run)
    panels = {axes.get_title(): axes.get_yscale() for axes in decades.figure().axes}
    assert panels == {"accuracy": "linear", "loss (log scale)": "log"}
    # The fixture's two epochs of tiny E1 stay within a decade: both panels linear.
    assert {axes.get_yscale() for axes in report.figure().axes} == {"linear"}
