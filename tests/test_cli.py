"""`minidl lab`: the lab's experiments side by side in minidl and Keras, written to a folder.

The runs are short (1-2 epochs) and need no download (the image task uses the 8x8 digits),
except the last test, the slowest of this file: the lab's recipe for 1 epoch on the
Fashion-MNIST copy installed by Debian's dataset-fashion-mnist package.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reference.cli import main

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


def test_help_lists_the_lab_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "lab" in capsys.readouterr().out


def test_lab_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for option in ("--experiments", "--dataset", "--epochs", "--seed", "--out"):
        assert option in out


def test_python_m_reference_cli_works_without_importing_tensorflow():
    code = ("import sys; from reference.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('tensorflow imported:', 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "tensorflow imported: False" in out
    result = subprocess.run([sys.executable, "-m", "reference.cli", "lab", "--help"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--experiments" in result.stdout


@pytest.mark.parametrize("argv, message", [
    (["lab", "--experiments", "e1,e9"], "Valid names"),
    (["lab", "--epochs", "0"], "positive integer"),
    (["lab", "--dataset", "cifar10"], "invalid choice"),
])
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_lab_e1_e4_writes_reports_and_an_index(tmp_path, capsys):
    out_dir = tmp_path / "report"
    assert main(["lab", "--experiments", "e1,e4", "--epochs", "2", "--out", str(out_dir)]) == 0
    written = sorted(os.listdir(out_dir))
    assert written == ["README.md", "e1.md", "e1.png", "e4.md", "e4.png"]
    assert is_png(out_dir / "e1.png") and is_png(out_dir / "e4.png")
    index = (out_dir / "README.md").read_text(encoding="utf-8")
    assert "(e1.md)" in index and "(e4.md)" in index and "(e1.png)" in index
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    assert len(rows) == 2
    for row, metric in zip(rows, ("accuracy", "mae")):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == metric
        minidl_value, keras_value, history_diff = float(cells[2]), float(cells[3]), float(cells[4])
        assert abs(minidl_value - keras_value) < 1e-3  # same weights, same batches
        assert history_diff < 1e-4
    report = (out_dir / "e1.md").read_text(encoding="utf-8")
    assert "2 epochs, batch size 32, 640 training rows, 160 validation rows" in report
    out = capsys.readouterr().out
    assert re.search(r"\[1/2\] e1", out) and re.search(r"\[2/2\] e4", out)


def test_lab_image_task_on_digits_writes_predictions_and_confusion(tmp_path, capsys):
    out_dir = tmp_path / "report"
    assert main(["lab", "--experiments", "mnist", "--dataset", "digits", "--epochs", "1",
                 "--out", str(out_dir)]) == 0
    for name in ("mnist.md", "mnist.png", "mnist-first20.png", "mnist-confusion.png"):
        assert (out_dir / name).is_file(), name
    assert is_png(out_dir / "mnist-first20.png") and is_png(out_dir / "mnist-confusion.png")
    index = (out_dir / "README.md").read_text(encoding="utf-8")
    assert "digits, 64 inputs" in index and "Image data: digits" in index
    assert "(mnist-first20.png)" in index and "(mnist-confusion.png)" in index
    assert "images: digits, as asked" in capsys.readouterr().out


def test_auto_dataset_falls_back_and_says_why(monkeypatch):
    """Offline with no MNIST and no Fashion-MNIST: the digits, with the reason in the note."""
    from minidl.datasets import DatasetNotFoundError
    from reference import lab

    def offline():
        raise DatasetNotFoundError("Could not find the dataset file 'x'.\nLooked in: ...")

    monkeypatch.setattr(lab.mnist, "load_data", offline)
    monkeypatch.setattr(lab.fashion_mnist, "load_data", offline)
    data = lab.load_images("auto")
    assert data.dataset == "digits" and data.x_train.shape[1] == 64
    assert "mnist is not available" in data.note and "fashion_mnist is not available" in data.note
    assert 0 <= data.x_train.min() and data.x_train.max() == 1  # 0..16 scaled by 16


def test_select_by_part_or_name():
    from reference import lab

    assert [e.name for e in lab.select("e3,e5-2000")] == ["e3-tanh", "e3-sigmoid", "e5-2000"]
    assert len(lab.select()) == len(lab.EXPERIMENTS)


@pytest.mark.slow
def test_slowest_lab_recipe_on_fashion_mnist_reaches_keras_accuracy(tmp_path):
    """SLOWEST TEST (about a minute): 784-512-10, RMSprop, batch 64, 1 epoch on Fashion-MNIST.

    minidl and its Keras twin start from the same weights and see the same batches; both
    must reach Keras's usual first-epoch band (> 0.80) and agree within 0.01.
    """
    from minidl.datasets import DatasetNotFoundError
    from reference import lab

    try:
        lab.load_images("fashion_mnist")
    except DatasetNotFoundError:
        pytest.skip("no local copy of Fashion-MNIST (Debian: apt install dataset-fashion-mnist)")
    result = lab.run_experiment(lab.select("mnist")[0], dataset="fashion_mnist", epochs=1,
                                seed=0, out_dir=str(tmp_path))
    assert result.data.x_train.shape == (60000, 784)
    assert result.report.run.batch_size == 64 and result.report.run.epochs == 1
    assert result.minidl_metric > 0.80 and result.keras_metric > 0.80
    assert abs(result.minidl_metric - result.keras_metric) < 0.01
