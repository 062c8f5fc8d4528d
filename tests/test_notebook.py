"""examples/lab.ipynb runs top to bottom in a fresh Jupyter kernel, and its outputs read well.

The progress bar redraws its line in place: each update starts with backspaces and a carriage
return, as Keras's does. `rendered` reproduces what a notebook shows from those bytes (a
character followed by a backspace is erased; a carriage return goes back to the start of the
line, so what came before it on that line is overwritten), and the tests read that.
"""
import math
import pathlib
import re

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "examples" / "lab.ipynb"
ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")
BAR = "\u2501" * 20  # a full progress bar, "━" x 20
NUMBER = r"\d+\.\d{4}(?:e-\d\d)?"


@pytest.fixture(scope="module")
def executed():
    """The notebook after running every cell in a new python3 kernel (fails on any error)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return notebook


def rendered(cell, stream="stdout"):
    """The text a notebook displays for a cell's stream, colours removed."""
    text = "".join(out.text for out in cell.outputs
                   if out.output_type == "stream" and out.name == stream)
    previous = None
    while previous != text:  # erase each character that a backspace follows
        previous, text = text, re.sub(r"[^\n\x08]\x08", "", text)
    text = text.replace("\x08", "")
    text = re.sub(r"\r+\n", "\n", text)
    text = re.sub(r"^[^\n]*\r", "", text, flags=re.MULTILINE)
    return ANSI_CODE.sub("", text)


def code_cell(notebook, contains=None, tag=None):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if tag in cell.metadata.get("tags", []) or (contains and contains in cell.source):
            return cell
    raise AssertionError(f"no code cell with {contains or tag!r}")


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_every_cell_runs_without_errors_or_warnings(executed):
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code_cells] == list(range(1, len(code_cells) + 1))
    for cell in code_cells:
        assert not [out for out in cell.outputs if out.output_type == "error"]
        assert rendered(cell, "stderr") == "", cell.source


def test_fit_shows_one_finished_progress_bar_per_epoch(executed):
    cell = code_cell(executed, tag="fit")
    rows = int(re.search(r"TRAIN_ROWS = (\d+)", cell.source).group(1))
    epochs = int(re.search(r"EPOCHS = (\d+)", cell.source).group(1))
    steps = math.ceil(rows / int(re.search(r"batch_size=(\d+)", cell.source).group(1)))
    lines = rendered(cell).splitlines()
    bar = (rf"{steps}/{steps} {BAR} \d+s \d+(?:s|ms|us)/step - "
           rf"accuracy: {NUMBER} - loss: {NUMBER}")
    expected = [bar] if epochs == 1 else [p for e in range(epochs)
                                           for p in (rf"Epoch {e + 1}/{epochs}", bar)]
    assert len(lines) == len(expected), lines  # redrawn in place: no stale half-bars
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), line
    raw = "".join(out.text for out in cell.outputs if out.output_type == "stream")
    assert raw.count("\r") > 1  # the bar was really redrawn, not printed once


def test_predict_and_evaluate_print_what_the_lab_prints(executed):
    lines = rendered(code_cell(executed, "model.predict(test_digits)")).splitlines()
    # Keras pads a redrawn line with spaces when the one before it was longer
    assert re.fullmatch(rf"1/1 {BAR} \d+s \d+(?:s|ms|us)/step *", lines[0])
    assert len([line for line in lines if line.startswith("Label: ")]) == 20
    lines = rendered(code_cell(executed, "model.evaluate(test_images")).splitlines()
    assert re.fullmatch(rf"313/313 {BAR} .* - accuracy: {NUMBER} - loss: {NUMBER} *", lines[0])
    assert re.fullmatch(r"test_acc: 0\.\d{4}", lines[1])


def test_explain_step_and_the_gradient_checks_show_their_results(executed):
    text = rendered(code_cell(executed, ".explain_step("))
    for header in ["Forward pass", "Loss", "Backward pass", "Chain rule for one weight",
                   "Optimizer update for that weight: Adam"]:
        assert f"\n{header}" in text
    assert ": (4,2) @ (2,64) + (64,) -> (4,64)" in text
    check = code_cell(executed, "check_gradients(small")
    table = check.outputs[-1]["data"]["text/plain"]
    assert "x (input)" in table and table.endswith("all 5 gradients agree (relative error < 1e-05)")
    control = code_cell(executed, "tanh_with_a_slip.backward")
    assert "1 of 1 gradients disagree" in control.outputs[-1]["data"]["text/plain"]


def test_e1_trains_for_30_epochs_and_classifies_the_two_samples(executed):
    lines = rendered(code_cell(executed, "# E1")).splitlines()
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert epochs == [f"Epoch {e}/30" for e in range(1, 31)]
    assert all(re.fullmatch(rf"20/20 {BAR} .* - val_accuracy: {NUMBER} - val_loss: {NUMBER}",
                            lines[lines.index(epoch) + 1]) for epoch in epochs)
    assert re.fullmatch(r"Input: \[0\.6 0\.6\] -> Probability: \d\.\d\d -> Class: [01]", lines[-2])
    assert re.fullmatch(r"Input: \[0\.3 0\.2\] -> Probability: \d\.\d\d -> Class: [01]", lines[-1])
