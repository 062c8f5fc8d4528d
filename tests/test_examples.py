"""The lab's example scripts: they run, print what the lab prints, and are the lab's code.

Every run here is short (1 epoch) and needs no download: the MNIST classifier runs on
scikit-learn's bundled 8x8 digits.
"""
import importlib
import math
import re
import socket
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["mnist_classifier.py", "e1_binary.py", "e2_width.py", "e3_activations.py",
           "e4_regression.py", "e5_data_size.py", "e6_noise.py"]

# The only lines an example may change besides imports: lab text -> example text, and why.
EPOCHS = (re.compile(r"epochs=\d+"), "epochs=args.epochs")  # the --epochs flag
IMAGE_CHANGES = [  # mnist_classifier.py runs on any of the three image datasets
    (" = mnist.load_data()", ", dataset = load_images(args.dataset)"),
    ("train_images.reshape((60000, 28 * 28))", "train_images.reshape((len(train_images), -1))"),
    ("test_images.reshape((10000, 28 * 28))", "test_images.reshape((len(test_images), -1))"),
    ("(28 * 28, )", "(train_images.shape[1], )"),  # 784 for MNIST, 64 for the 8x8 digits
]


@pytest.fixture(scope="module")
def examples():
    """Import an example by file name, with examples/ on the path (as when run as a script)."""
    sys.path.insert(0, str(EXAMPLES))
    yield lambda script: importlib.import_module(script.removesuffix(".py"))
    sys.path.remove(str(EXAMPLES))


# -- the source is the lab's code ---------------------------------------------------------------

def lab_cells():
    """{script: the lab's code it runs}, read from examples/lab_code.md."""
    text = (EXAMPLES / "lab_code.md").read_text(encoding="utf-8")
    cells = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        script = section.splitlines()[0].strip()
        cells[script] = "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
    return cells


def code_lines(source):
    """Lines that are neither blank nor imports, with runs of spaces collapsed."""
    lines = [" ".join(line.split()) for line in source.splitlines()]
    return [line for line in lines
            if line and not re.match(r"(import |from \S+ import )", line)]


def main_body(source):
    """The lines of main() between parsing the arguments and returning the results."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("args = start("))
    end = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("return {"))
    return "\n".join(lines[start + 1:end])


def test_lab_code_lists_every_script():
    assert sorted(lab_cells()) == sorted(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_is_the_labs_code_with_other_imports(script):
    lab = lab_cells()[script]
    lab = EPOCHS[0].sub(EPOCHS[1], lab)
    if script == "mnist_classifier.py":
        for before, after in IMAGE_CHANGES:
            lab = lab.replace(before, after)
    source = (EXAMPLES / script).read_text(encoding="utf-8")
    assert code_lines(main_body(source)) == code_lines(lab)
    assert not re.search(r"^\s*(import|from)\s+(tensorflow|keras)\b", source, flags=re.M)


def test_the_comparison_catches_a_changed_line():
    """Negative control: one changed constant makes the check fail."""
    source = (EXAMPLES / "e1_binary.py").read_text(encoding="utf-8")
    changed = source.replace("batch_size=32", "batch_size=64")
    lab = EPOCHS[0].sub(EPOCHS[1], lab_cells()["e1_binary.py"])
    assert code_lines(main_body(source)) == code_lines(lab)
    assert code_lines(main_body(changed)) != code_lines(lab)


# -- the scripts run ----------------------------------------------------------------------------

def test_mnist_classifier_on_digits(examples, capsys):
    result = examples("mnist_classifier.py").main(
        ["--dataset", "digits", "--epochs", "1", "--seed", "0"])
    out = capsys.readouterr().out
    assert result["dataset"] == "digits"
    assert "Conjunto de datos: digits" in out
    assert out.count('Model: "') == 3  # the three definitions, each with its summary
    assert out.count("Etiqueta: ") == 20 and len(result["predictions"]) == 20
    assert f"test_acc: {result['test_acc']:.4f}" in out
    assert 0.8 < result["test_acc"] <= 1  # 23 steps of RMSprop on 1437 8x8 digits
    assert np.mean(result["predictions"] == result["labels"]) >= 0.7


def test_mnist_classifier_falls_back_when_offline(examples, monkeypatch, capsys):
    """No MNIST and no Fashion-MNIST: the digits are used, and the output says why in words."""
    common = examples("_common.py")

    def offline():
        try:
            raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
        except urllib.error.URLError as cause:
            raise common.DatasetNotFoundError("Could not find the dataset file 'x'.") from cause

    def not_installed():
        raise common.DatasetNotFoundError("Could not find the dataset file 'y'.")

    monkeypatch.setattr(common.mnist, "load_data", offline)
    monkeypatch.setattr(common.fashion_mnist, "load_data", not_installed)
    (x_train, _), (x_test, _), name = common.load_images()
    out = capsys.readouterr().out
    assert name == "digits"
    assert out.startswith("Conjunto de datos: digits (8x8 de scikit-learn), en lugar de "
                          "mnist: mnist no está en la caché y no se pudo descargar (sin "
                          "conexión a la red")
    assert "fashion_mnist no está en la caché ni hay una copia instalada" in out
    assert "Errno" not in out and "Name or service" not in out
    assert x_train.dtype == np.uint8 and x_train.max() == 255  # stretched from 0..16
    assert x_train.shape[1:] == x_test.shape[1:] == (8, 8)


def test_e1_one_epoch(examples, capsys):
    result = examples("e1_binary.py").main(["--epochs", "1", "--seed", "0"])
    out = capsys.readouterr().out
    assert 0 <= result["accuracy"] <= 1 and math.isfinite(result["loss"])
    assert out.count("Entrada: ") == 2 and "Clase: " in out
    assert len(result["history"]["val_accuracy"]) == 1


def test_e1_reaches_the_labs_accuracy_in_its_30_epochs(examples):
    """The lab's Keras run reaches 0.995; minidl gets past 0.9 in a few seconds."""
    start = time.perf_counter()
    result = examples("e1_binary.py").main(["--seed", "0"])
    seconds = time.perf_counter() - start
    assert result["accuracy"] > 0.9
    assert result["probabilidades"][0] > 0.5 > result["probabilidades"][1]  # [0.6, 0.6], [0.3, 0.2]
    assert len(result["history"]["loss"]) == 30
    assert seconds < 60, f"30 epochs of E1 took {seconds:.1f} s"


def test_e2_one_epoch(examples):
    result = examples("e2_width.py").main(["--epochs", "1", "--seed", "0"])
    for key in ("accuracy_32", "accuracy"):
        assert 0 <= result[key] <= 1


def test_e3_one_epoch(examples):
    result = examples("e3_activations.py").main(["--epochs", "1", "--seed", "0"])
    for key in ("accuracy_tanh", "accuracy_sigmoid"):
        assert 0 <= result[key] <= 1
    assert math.isfinite(result["loss_tanh"]) and math.isfinite(result["loss_sigmoid"])


def test_e4_one_epoch(examples, capsys):
    result = examples("e4_regression.py").main(["--epochs", "1", "--seed", "0"])
    out = capsys.readouterr().out
    assert 0 < result["mae"] < 2 and 0 < result["loss"] < 4  # targets are in [0, 2)
    assert out.count("Valor esperado: 1.00") == 2


def test_e5_one_epoch(examples):
    result = examples("e5_data_size.py").main(["--epochs", "1", "--seed", "0"])
    for key in ("mae_small", "mae_large"):
        assert 0 < result[key] < 2


def test_e6_one_epoch(examples):
    result = examples("e6_noise.py").main(["--epochs", "1", "--seed", "0"])
    assert 0 < result["mae_noise"] < 2


def test_epochs_must_be_positive(examples):
    with pytest.raises(SystemExit):
        examples("e6_noise.py").main(["--epochs", "0"])


# -- the convnet, the course's next lesson --------------------------------------------------------

def test_convnet_example_on_a_few_hundred_fashion_mnist_images(examples, capsys):
    """The lesson's convnet, 1 epoch on 640 of Debian's Fashion-MNIST images (no download)."""
    result = examples("convnet.py").main(["--dataset", "fashion_mnist", "--rows", "640",
                                          "--epochs", "1", "--seed", "0"])
    out = capsys.readouterr().out
    assert result["dataset"] == "fashion_mnist" and out.startswith("Images: fashion_mnist")
    assert "(None, 26, 26, 32)" in out and "(None, 3, 3, 128)" in out
    assert " Total params: 104,202 (407.04 KB)" in out  # as Keras's summary of the same model
    assert f"Test accuracy: {result['test_acc']:.3f}" in out
    assert len(result["history"]["loss"]) == 1 and math.isfinite(result["test_loss"])
    assert result["test_acc"] > 0.3  # 10 RMSprop steps; chance is 0.1


def test_convnet_example_uses_mnist_only_when_cached(examples, monkeypatch, tmp_path):
    """No download in the lesson: MNIST if a copy is in the cache, else Fashion-MNIST."""
    convnet = examples("convnet.py")
    cache = tmp_path / "datasets"
    cache.mkdir()
    monkeypatch.setattr(convnet.files, "cache_dirs", lambda subdir="": [str(cache)])
    assert convnet.parse_args([]).dataset == "fashion_mnist"
    (cache / "mnist.npz").write_bytes(b"")
    assert convnet.parse_args([]).dataset == "mnist"
    assert convnet.parse_args(["--dataset", "fashion_mnist"]).dataset == "fashion_mnist"
    with pytest.raises(SystemExit):
        convnet.parse_args(["--rows", "0"])
