"""Text files in class folders as a dataset, as Keras's keras/src/utils/text_dataset_utils.py.

    train_ds = text_dataset_from_directory("aclImdb/train", batch_size=32)
    for texts, labels in train_ds: ...     texts (B,) of bytes, labels (B,) int32

main_directory/class_a/*.txt, main_directory/class_b/*.txt: label 0 for class_a, 1 for
class_b. Texts are the files' raw bytes, as TensorFlow's tf.io.read_file gives them (decode
them, or give them to TextVectorization, which reads bytes as UTF-8). Shapes: B batch size,
C classes.
"""
import numpy as np

from minidl.dataset_utils import (BatchDataset, check_format, check_labels_arguments,
                                  check_validation_split_arg, encode_labels, index_directory,
                                  training_or_validation_split)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Batches of (texts, labels) from the .txt files under `directory`.

    The files are found, labelled, shuffled and split exactly as Keras does
    (dataset_utils.index_directory): with shuffle=False in sorted order; with shuffle=True
    permuted by NumPy's RandomState(seed), which minidl copies, so a validation subset holds
    Keras's files in Keras's order. Keras then shuffles the training elements again in a
    tf.data buffer of 8 * batch_size with TensorFlow's generator; minidl draws that shuffle from
    its own (a new order every pass), so training batches hold Keras's files in another order.

    Args:
        directory: the folder (str or pathlib.Path).
        labels: "inferred" (one class per subfolder), None, or a list of integer labels, one
            per .txt file in the sorted order of the file paths.
        label_mode: "int" (int32 (B,)), "categorical" (float32 one-hot (B, C)), "binary"
            (float32 (B, 1); exactly 2 classes) or None (texts only).
        class_names: the subfolders to use, in this order (labels="inferred" only).
        batch_size: texts per batch; None yields single texts.
        max_length: keep at most this many bytes of each text.
        shuffle: shuffle the files (see above).
        seed: seed for the shuffles (None: drawn from NumPy's global generator, as Keras).
        validation_split, subset: keep the last int(validation_split * N) files for
            validation: subset "training", "validation", or "both" (returns both datasets).
        follow_links: walk into folders that are symbolic links.
        format: "tf" (minidl returns a BatchDataset; it has no Grain).
        verbose: print how many files and classes were found.

    Returns:
        A BatchDataset with `class_names`, or [training, validation] for subset="both".
    """
    check_labels_arguments(labels, label_mode, class_names, "text")
    check_format(format)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    file_paths, labels, class_names = index_directory(
        directory, labels, formats=(".txt",), class_names=class_names, shuffle=shuffle,
        seed=seed, follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")
    buffer = 8 * batch_size if batch_size is not None else 1024
    num_classes = len(class_names) if class_names else 0

    def dataset(subset, shuffled, which=""):
        paths, kept = training_or_validation_split(file_paths, labels, validation_split, subset)
        if not paths:
            raise ValueError(f"No {which}text files found in directory {directory}. "
                             "Allowed format: .txt")
        encoded = None if label_mode is None else encode_labels(kept, label_mode, num_classes)
        ds = BatchDataset(len(paths), _texts_loader(paths, encoded, max_length), batch_size,
                          shuffle_buffer=buffer if shuffled else None, seed=seed)
        ds.class_names = class_names
        return ds

    if subset == "both":  # Keras never shuffles the validation part
        return [dataset("training", shuffle, "training "),
                dataset("validation", False, "validation ")]
    return dataset(subset, shuffle)


def _texts_loader(paths, labels, max_length):
    """load(indices) for a BatchDataset: the files' bytes (B,) (and their labels)."""

    def load(indices):
        texts = np.empty(len(indices), dtype=object)  # (B,) of bytes, as tf.string's numpy()
        for k, i in enumerate(indices):
            with open(paths[i], "rb") as f:
                texts[k] = f.read() if max_length is None else f.read(max_length)
        return texts if labels is None else (texts, labels[indices])

    return load
