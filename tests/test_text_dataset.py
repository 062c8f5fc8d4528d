"""text_dataset_from_directory against Keras 3.15's (keras.utils), on small folders of .txt
files written to pytest's tmp_path (nested folders, non-.txt files, UTF-8 and Latin-1 bytes,
an empty file, a symbolic link).

Tolerance: none. Texts are the files' bytes and labels are integers or 0/1 floats, so every
batch must equal Keras's exactly (dtype, shape, the short last batch), and class_names too.
With shuffle=True, Keras's file order comes from NumPy's RandomState(seed) and is copied:
subset="both"'s validation part (never shuffled again) equals Keras's batch for batch; a
subset that TensorFlow's buffer shuffles again is compared as the same (text, label) pairs.
The fit compares History to rtol 1e-5, as the other fit comparisons.
"""
import os

import numpy as np
import pytest

import keras
import minidl
from minidl import utils
from reference.twins import keras_twin

WORDS = ["good", "bad", "film", "plot", "great", "awful", "the", "a", "caf\u00e9"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes of made-up reviews; one class nests a folder; some files are not .txt."""
    root = tmp_path_factory.mktemp("reviews")
    rng = np.random.default_rng(5)
    for c, name in enumerate(["neg", "pos", "unsup"]):
        (root / name / "more").mkdir(parents=True)
        for i in range(4 + 2 * c):
            words = rng.choice(WORDS, size=rng.integers(0, 9))
            sub = "more/" if i % 3 == 2 else ""
            (root / name / f"{sub}{i}_{c}.txt").write_text(" ".join(words), encoding="utf-8")
        (root / name / "notes.md").write_text("not a review")
        (root / name / f"UPPER_{c}.TXT").write_bytes("na\u00efve".encode("latin-1"))
    (root / ".hidden").mkdir()
    (root / "top.txt").write_text("a file outside the class folders")
    return root


def _keras_batches(ds):
    return [tuple(a.numpy() for a in b) if isinstance(b, tuple) else b.numpy() for b in ds]


def assert_same_batches(ours, theirs):
    ours = list(ours)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = (a, b) if isinstance(b, tuple) else ((a,), (b,))
        for x, y in zip(a, b):
            if isinstance(y, bytes):  # one text, unbatched: numpy() of a scalar tf.string
                assert type(x) is bytes and x == y
                continue
            assert x.dtype == y.dtype and x.shape == y.shape
            assert x.tolist() == y.tolist()


def _both(folder, capsys=None, **kwargs):
    theirs = keras.utils.text_dataset_from_directory(folder, **kwargs)
    printed = capsys.readouterr().out if capsys else None
    ours = utils.text_dataset_from_directory(folder, **kwargs)
    if capsys:
        assert capsys.readouterr().out == printed  # "Found 21 files belonging to 3 classes."
    return ours, theirs


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(label_mode="categorical", batch_size=4),
    dict(label_mode=None, batch_size=5, max_length=6),
    dict(labels=None, batch_size=None),
    dict(class_names=["pos", "neg"], label_mode="binary", batch_size=3),
    dict(class_names=["unsup", "neg"], batch_size=7, max_length=0),
])
def test_batches_equal_keras_unshuffled(folder, capsys, kwargs):
    ours, theirs = _both(folder, capsys, shuffle=False, **kwargs)
    assert ours.class_names == theirs.class_names
    assert_same_batches(ours, _keras_batches(theirs))


def test_explicit_labels_follow_the_sorted_paths(folder):
    n = sum(1 for _ in folder.rglob("*") if _.suffix.lower() == ".txt") - 0
    labels = [i % 2 * 7 for i in range(n)]  # class names "0" and "7"; 7 is outside one_hot
    for mode in ("int", "categorical", "binary"):
        ours, theirs = _both(folder, labels=labels, label_mode=mode, shuffle=False,
                             batch_size=6, verbose=False)
        assert ours.class_names == theirs.class_names == ["0", "7"]
        assert_same_batches(ours, _keras_batches(theirs))


def test_seeded_split_is_keras_split(folder, capsys):
    for subset in ("training", "validation"):
        ours, theirs = _both(folder, capsys, validation_split=0.3, subset=subset, seed=42,
                             batch_size=4)
        keras_batches = _keras_batches(theirs)  # the same files, buffer-shuffled by each
        pairs = sorted(zip(*(np.concatenate(a).tolist() for a in zip(*keras_batches))))
        for _ in range(2):
            mine = sorted(zip(*(np.concatenate(a).tolist() for a in zip(*list(ours)))))
            assert mine == pairs
    train, val = utils.text_dataset_from_directory(folder, validation_split=0.3, subset="both",
                                                   seed=42, batch_size=4, verbose=False)
    keras_train, keras_val = keras.utils.text_dataset_from_directory(
        folder, validation_split=0.3, subset="both", seed=42, batch_size=4, verbose=False)
    assert_same_batches(val, _keras_batches(keras_val))  # RandomState order, unshuffled
    assert len(train) == len(keras_train)
    assert train.class_names == keras_train.class_names == val.class_names
    # negative control: another seed makes another validation subset
    other = utils.text_dataset_from_directory(folder, validation_split=0.3, subset="validation",
                                              seed=43, batch_size=4, verbose=False)
    assert [b[0].tolist() for b in other] != [b[0].tolist() for b in val]


def test_follow_links(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "linked.txt").write_text("reached through a link")
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "data" / "a" / "own.txt").write_text("own")
    os.symlink(outside, tmp_path / "data" / "a" / "link")
    for follow in (False, True):
        ours, theirs = _both(tmp_path / "data", follow_links=follow, shuffle=False,
                             verbose=False)
        assert_same_batches(ours, _keras_batches(theirs))
        assert len(list(ours)[0][0]) == 1 + follow


@pytest.mark.parametrize("kwargs", [
    dict(labels="folders"), dict(labels=[0, 1], class_names=["a"]), dict(label_mode="sparse"),
    dict(format="torch"), dict(validation_split=1.5, subset="training", seed=1),
    dict(validation_split=0.2), dict(subset="training"),
    dict(validation_split=0.2, subset="train", seed=1), dict(validation_split=0.2,
                                                            subset="training"),
    dict(class_names=["neg", "nope"]), dict(labels=None, class_names=["neg"]),
    dict(labels=[0, 1]), dict(label_mode="binary"),
    dict(validation_split=0.01, subset="both", seed=1),
])
def test_errors_word_for_word(folder, kwargs):
    with pytest.raises(ValueError) as theirs:
        keras.utils.text_dataset_from_directory(folder, verbose=False, **kwargs)
    with pytest.raises(ValueError) as ours:
        utils.text_dataset_from_directory(folder, verbose=False, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_grain_format_refused_by_name(folder):
    with pytest.raises(ValueError, match="format='grain'"):
        utils.text_dataset_from_directory(folder, format="grain")


def test_fit_on_text_as_keras(tmp_path):
    """Deep Learning with Python's IMDB from files in small: map texts through
    TextVectorization, a bag of words into Dense, validation on a second dataset."""
    rng = np.random.default_rng(8)
    for c, name in enumerate(["neg", "pos"]):
        (tmp_path / name).mkdir()
        for i in range(9):
            words = rng.choice(WORDS[c * 3:c * 3 + 6], size=rng.integers(1, 7))
            (tmp_path / name / f"{i}.txt").write_text(" ".join(words), encoding="utf-8")
    folder = tmp_path
    kwargs = dict(batch_size=4, shuffle=False, verbose=False)
    ds = utils.text_dataset_from_directory(folder, **kwargs)
    keras_ds = keras.utils.text_dataset_from_directory(folder, **kwargs)
    vectorize = minidl.layers.TextVectorization(max_tokens=8, output_mode="multi_hot")
    keras_vectorize = keras.layers.TextVectorization(max_tokens=8, output_mode="multi_hot")
    vectorize.adapt(ds.map(lambda x, y: x))
    keras_vectorize.adapt(keras_ds.map(lambda x, y: x))
    assert vectorize.get_vocabulary() == keras_vectorize.get_vocabulary()
    ours_ds = ds.map(lambda x, y: (vectorize(x), y))
    keras_mapped = keras_ds.map(lambda x, y: (keras_vectorize(x), y))
    minidl.utils.set_random_seed(0)
    model = minidl.Sequential([minidl.Input((8,)), minidl.layers.Dense(6, activation="relu"),
                               minidl.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    twin = keras_twin(model)
    theirs = twin.fit(keras_mapped, validation_data=keras_mapped, epochs=3, verbose=0).history
    ours = model.fit(ours_ds, validation_data=ours_ds, epochs=3, verbose=0).history
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
