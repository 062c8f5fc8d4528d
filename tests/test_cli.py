"""`minidl lab`: the lab's experiments side by side in minidl and Keras, written to a folder.

The runs are short (1-2 epochs) and need no download (the image task uses the 8x8 digits, or
a small made-up Fashion-MNIST), except the last test, the slowest of this file: the lab's
recipe for 1 epoch on the Fashion-MNIST copy installed by Debian's dataset-fashion-mnist package.
"""
import os
import re
import socket
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
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


@pytest.fixture(scope="module")
def lab_e1_e4(tmp_path_factory):
    """`minidl lab --experiments e1,e4 --epochs 2`, run as a command: (out_dir, stdout, stderr)."""
    out_dir = tmp_path_factory.mktemp("lab") / "report"
    result = subprocess.run(
        [sys.executable, "-m", "reference.cli", "lab", "--experiments", "e1,e4", "--epochs", "2",
         "--out", str(out_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out_dir, result.stdout, result.stderr


def index_rows(index):
    """The cells of the index's experiment rows."""
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_lab_e1_e4_writes_reports_and_an_index(lab_e1_e4):
    out_dir, _, _ = lab_e1_e4
    written = sorted(os.listdir(out_dir))
    assert written == ["README.md", "e1.md", "e1.png", "e4.md", "e4.png"]
    assert is_png(out_dir / "e1.png") and is_png(out_dir / "e4.png")
    index = (out_dir / "README.md").read_text(encoding="utf-8")
    assert "(e1.md)" in index and "(e4.md)" in index and "(e1.png)" in index
    assert "Spanish-language university course" in index  # why "Práctica 1"
    rows = index_rows(index)
    assert len(rows) == 2
    for cells, metric in zip(rows, ("accuracy", "mae")):
        assert cells[1] == metric
        minidl_value, keras_value, difference = float(cells[2]), float(cells[3]), float(cells[4])
        assert abs(minidl_value - keras_value) < 1e-3  # same weights, same batches
        assert difference == pytest.approx(minidl_value - keras_value, abs=2e-4)  # 4 decimals
        assert float(cells[6]) < 1e-4  # max |history diff|
    assert rows[0][5] == "100.00% same class"  # a classifier: the share of agreeing classes
    assert re.fullmatch(r"max \\\|diff\\\| \d\.\de-\d\d", rows[1][5])  # a regression
    assert float(rows[1][5].split()[-1]) < 1e-5
    report = (out_dir / "e1.md").read_text(encoding="utf-8")
    assert "2 epochs, batch size 32, 640 training rows, 160 validation rows" in report


def test_lab_prints_its_plan_and_every_epoch_of_both_frameworks(lab_e1_e4):
    _, out, _ = lab_e1_e4
    plan = re.search(r"^2 experiments, .*: (\d+) epochs each, roughly (\d+) s$", out, re.M)
    assert plan and int(plan.group(1)) == 4 and int(plan.group(2)) > 0
    assert re.search(r"^\[1/2\] e1: E1", out, re.M) and re.search(r"^\[2/2\] e4: E4", out, re.M)
    for name, metric in (("e1", "accuracy"), ("e4", "mae")):
        section = out.split(f"] {name}: ", 1)[1].split("\n[", 1)[0]
        epochs = re.findall(rf"epoch (\d)/2  (minidl|Keras) +loss \d\.\d{{4}}  {metric} "
                            r"\d\.\d{4} +(\d+\.\d) s", section)
        assert [(e, f) for e, f, _ in epochs] == [("1", "minidl"), ("1", "Keras"),
                                                  ("2", "minidl"), ("2", "Keras")]
        elapsed = [float(s) for _, _, s in epochs]
        assert elapsed == sorted(elapsed)  # time since the experiment started
        assert re.search(rf"test {metric} minidl \d\.\d{{4}}, Keras \d\.\d{{4}} "
                         r"\(difference ([+-]\d\.\d{4}|0\.0000)\)", section)
        assert re.search(r"done in \d+\.\d s", section)
    assert "about" in out.split("] e1: ", 1)[1].split("\n[", 1)[0]  # time left after e1


def test_lab_command_prints_no_tensorflow_start_up_lines(lab_e1_e4):
    _, _, err = lab_e1_e4
    for noise in ("absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard"):
        assert noise not in err


def test_lab_image_task_on_digits_writes_predictions_and_confusion(tmp_path, capsys):
    out_dir = tmp_path / "report"
    assert main(["lab", "--experiments", "mnist", "--dataset", "digits", "--epochs", "1",
                 "--out", str(out_dir)]) == 0
    for name in ("digits.md", "digits.png", "digits-first20.png", "digits-confusion.png"):
        assert (out_dir / name).is_file(), name
    assert is_png(out_dir / "digits-first20.png") and is_png(out_dir / "digits-confusion.png")
    index = (out_dir / "README.md").read_text(encoding="utf-8")
    assert "scikit-learn's 8x8 digits, 64 inputs" in index
    assert "Image data: scikit-learn's 8x8 digits, as asked (--dataset digits)" in index
    assert "(digits-first20.png)" in index and "(digits-confusion.png)" in index
    out = capsys.readouterr().out
    assert "[1/1] digits: " in out and "Images: scikit-learn's 8x8 digits, as asked" in out


def offline(name):
    """A loader that fails as minidl's does offline: not found, after a failed download."""
    def load():
        from minidl.datasets import DatasetNotFoundError

        try:
            raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
        except urllib.error.URLError as cause:
            raise DatasetNotFoundError(f"Could not find the dataset file '{name}'.\n"
                                       "Looked in: ...") from cause
    return load


def small_fashion_mnist():
    """Made-up images shaped as Fashion-MNIST's: 28x28 uint8, labels 0-9."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(150, 28, 28), dtype=np.uint8)  # (N, 28, 28)
    labels = np.arange(150, dtype=np.uint8) % 10  # (N,)
    return (images[:100], labels[:100]), (images[100:], labels[100:])


def test_auto_dataset_falls_back_and_says_why_in_plain_words(monkeypatch):
    """Offline with no MNIST and no Fashion-MNIST: the digits, with the reason in words."""
    from reference import lab_data

    monkeypatch.setattr(lab_data.mnist, "load_data", offline("mnist.npz"))
    monkeypatch.setattr(lab_data.fashion_mnist, "load_data", offline("train-images.gz"))
    data = lab_data.load_images("auto")
    assert data.dataset == "digits" and data.x_train.shape[1] == 64
    assert data.note.startswith("scikit-learn's 8x8 digits instead of MNIST: MNIST is not in the "
                                "cache and could not be downloaded (no network connection")
    assert "Fashion-MNIST is not in the cache" in data.note
    assert "Errno" not in data.note and "-2" not in data.note
    assert 0 <= data.x_train.min() and data.x_train.max() == 1  # 0..16 scaled by 16


def test_the_fallback_names_the_dataset_it_used_everywhere(monkeypatch, tmp_path, capsys):
    """No MNIST: the image task is run, printed, filed and reported as Fashion-MNIST."""
    from reference import lab, lab_data

    monkeypatch.setattr(lab_data.mnist, "load_data", offline("mnist.npz"))
    monkeypatch.setattr(lab_data.fashion_mnist, "load_data", small_fashion_mnist)
    run = lab.run_lab(["mnist"], epochs=1, out_dir=str(tmp_path))
    out = capsys.readouterr().out
    assert run.results[0].name == "fashion_mnist"
    assert sorted(os.listdir(tmp_path)) == [
        "README.md", "fashion_mnist-confusion.png", "fashion_mnist-first20.png",
        "fashion_mnist.md", "fashion_mnist.png"]
    assert "[1/1] fashion_mnist: Image classifier (Fashion-MNIST, 784 inputs)" in out
    assert "Fashion-MNIST instead of MNIST: MNIST is not in the cache" in out
    index = (tmp_path / "README.md").read_text(encoding="utf-8")
    report = (tmp_path / "fashion_mnist.md").read_text(encoding="utf-8")
    for text in (index, report):
        assert "Fashion-MNIST instead of MNIST" in text
        # MNIST is named only as what could not be used.
        assert text.count("MNIST") == text.count("Fashion-MNIST") + text.count("instead of MNIST") \
            + text.count("MNIST is not")
    assert "(fashion_mnist.md)" in index and "mnist.md" not in index.replace("fashion_mnist.md", "")


def test_download_failures_in_plain_words():
    from minidl.datasets.files import download_failure

    dns = urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    assert download_failure(dns).startswith("no network connection")
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    assert download_failure(refused) == "the download server refused the connection"
    assert download_failure(urllib.error.URLError(TimeoutError())) == "the connection timed out"
    not_found = urllib.error.HTTPError("https://example.invalid/x", 404, "Not Found", {}, None)
    assert download_failure(not_found) == "the server answered HTTP 404 Not Found"
    assert download_failure(dns, "es").startswith("sin conexión a la red")  # the examples' words


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
    from reference import lab, lab_data

    try:
        lab_data.load_images("fashion_mnist")
    except DatasetNotFoundError:
        pytest.skip("no local copy of Fashion-MNIST (Debian: apt install dataset-fashion-mnist)")
    result = lab.run_experiment(lab.select("mnist")[0], dataset="fashion_mnist", epochs=1,
                                seed=0, out_dir=str(tmp_path))
    assert result.data.x_train.shape == (60000, 784)
    assert result.report.run.batch_size == 64 and result.report.run.epochs == 1
    assert result.minidl_metric > 0.80 and result.keras_metric > 0.80
    assert abs(result.minidl_metric - result.keras_metric) < 0.01


def test_lab_convnet_side_by_side_on_a_few_hundred_images(monkeypatch, tmp_path, capsys):
    """`--experiments convnet`: the lesson's convnet in both frameworks, its own files."""
    from reference import lab, lab_data

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(400, 28, 28), dtype=np.uint8)  # (N, 28, 28)
    labels = np.arange(400, dtype=np.uint8) % 10
    monkeypatch.setattr(lab_data.mnist, "load_data", offline("mnist.npz"))
    monkeypatch.setattr(lab_data.fashion_mnist, "load_data",
                        lambda: ((images[:300], labels[:300]), (images[300:], labels[300:])))
    run = lab.run_lab("convnet", epochs=1, out_dir=str(tmp_path))
    result = run.results[0]
    assert result.name == "convnet-fashion_mnist"
    assert result.data.x_train.shape == (300, 28, 28, 1)
    assert sorted(os.listdir(tmp_path)) == [
        "README.md", "convnet-fashion_mnist-confusion.png", "convnet-fashion_mnist-first20.png",
        "convnet-fashion_mnist.md", "convnet-fashion_mnist.png"]
    assert [type(layer).__name__ for layer in result.report.run.minidl_model.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense"]
    history, keras_history = result.report.run.minidl_history, result.report.run.keras_history
    assert history["loss"][0] == pytest.approx(keras_history["loss"][0], rel=1e-4)
    out = capsys.readouterr().out
    assert "[1/1] convnet-fashion_mnist: Convnet (Fashion-MNIST, 28x28 images)" in out
    assert re.search(r"epoch 1/1  minidl .*\n.*epoch 1/1  Keras ", out)
    index = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "The convnet is not part of Práctica 1" in index
    assert "(convnet-fashion_mnist.md)" in index


def test_convnet_runs_only_when_asked_and_refuses_8x8_digits(capsys):
    from reference import lab

    assert "convnet" not in [e.name for e in lab.select()]  # the lab itself is unchanged
    assert [e.name for e in lab.select("convnet,e1")] == ["e1", "convnet"]
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "--experiments", "convnet", "--dataset", "digits"])
    assert exit_info.value.code == 2
    assert "the convnet needs 28x28 images" in capsys.readouterr().err
