"""Fashion-MNIST: Zalando's 28x28 grayscale clothing images, read from the original IDX files.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot.
"""
import os
import struct

from minidl.datasets import files

# URL and file names as in keras/src/datasets/fashion_mnist.py.
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SUBDIR = "fashion-mnist"  # Keras caches these files in ~/.keras/datasets/fashion-mnist/
SYSTEM_DIRS = ["/usr/share/datasets/fashion-mnist"]  # Debian/Ubuntu package dataset-fashion-mnist

# SHA-256 of the original files published by Zalando Research, which Keras's URL serves
# (same sizes: 26421880, 29515, 4422102 and 5148 bytes). Keras itself checks no hash for
# these files. The values match TensorFlow Datasets' url_checksums/fashion_mnist.txt and the
# MD5 sums in Zalando's README. Debian's package ships the same compressed data with a
# normalised gzip header (no stored file name, a new timestamp), so its files hash differently;
# `original_sha256` rebuilds the original header to check them against these same hashes.
FILE_HASHES = {
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}


# Zalando's gzip headers: flag FNAME, these timestamps, XFL 0, OS 3 (Unix), then the file name.
ORIGINAL_MTIMES = {"train": 1504176606, "t10k": 1504176627}
NAMELESS_GZIP = b"\x1f\x8b\x08\x00"  # magic, deflate, no flags: a header without a file name


def original_sha256(path):
    """The SHA-256 a Fashion-MNIST file has under Zalando's original gzip header.

    A file with its original header hashes as it is. A file whose 10-byte header was
    normalised (Debian's) is hashed with the original header put back in front of the same
    compressed data, so both are checked against the published hashes.
    """
    with open(path, "rb") as f:
        header = f.read(len(NAMELESS_GZIP))
    fname = os.path.basename(path)
    prefix = fname.split("-")[0]  # "train" or "t10k"
    if header != NAMELESS_GZIP or prefix not in ORIGINAL_MTIMES:
        return files.sha256(path)
    mtime = struct.pack("<I", ORIGINAL_MTIMES[prefix])  # little-endian uint32
    name = fname[: -len(".gz")].encode() + b"\x00"  # zero-terminated, as gzip stores it
    original_header = b"\x1f\x8b\x08\x08" + mtime + b"\x00\x03" + name
    return files.hash_file(path, "sha256", head=original_header, skip=10)


def search_dirs():
    """Where to look, in order: minidl's cache, Keras's cache, then system copies."""
    return files.cache_dirs(SUBDIR) + list(SYSTEM_DIRS)


def load_data(path=None):
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images, labels 0-9.

    Args:
        path: optional directory holding the four `*-idx?-ubyte.gz` files. If None, look in
            `~/.minidl/datasets/fashion-mnist/` ($MINIDL_HOME), `~/.keras/datasets/fashion-mnist/`
            ($KERAS_HOME), then `/usr/share/datasets/fashion-mnist/`, check every file
            found against Zalando's published SHA-256 on every read, and download into
            minidl's cache what none of them has a good copy of. A directory the user names
            is read as is, unchecked.

    Returns:
        `(x_train, y_train), (x_test, y_test)`, all uint8, as in Keras: x_train (60000, 28, 28)
        with pixels 0-255, y_train (60000,), x_test (10000, 28, 28), y_test (10000,).
    """
    if path is None:
        dirs, download_dir, hashes = search_dirs(), search_dirs()[0], FILE_HASHES
    else:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise files.DatasetNotFoundError(
                f"Received an invalid value for `path`: expected a directory holding "
                f"{sorted(FILE_HASHES)}. Received: path={path!r}, which is not a directory."
            )
        # The user named a location: never download, and read the user's files unchecked.
        dirs, download_dir, hashes = [path], None, dict.fromkeys(FILE_HASHES)

    def load(fname):
        """Find one of the four files and parse it."""
        found = files.get_file(fname, BASE_URL + fname, hashes[fname], dirs, download_dir,
                               checksum=original_sha256)
        return files.read_idx(found)

    x_train = _check(load("train-images-idx3-ubyte.gz"), ndim=3, name="train images")
    y_train = _check(load("train-labels-idx1-ubyte.gz"), ndim=1, name="train labels")
    x_test = _check(load("t10k-images-idx3-ubyte.gz"), ndim=3, name="test images")
    y_test = _check(load("t10k-labels-idx1-ubyte.gz"), ndim=1, name="test labels")
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(x) != len(y):
            raise files.DatasetCorruptError(
                f"The Fashion-MNIST {split} files disagree: expected as many labels as images. "
                f"Received: {len(x)} images and {len(y)} labels."
            )
    return (x_train, y_train), (x_test, y_test)


def _check(array, ndim, name):
    """Reject an IDX array that is not uint8 with `ndim` dimensions."""
    if array.dtype != "uint8" or array.ndim != ndim:
        raise files.DatasetCorruptError(
            f"The Fashion-MNIST {name} file is malformed: expected a uint8 array with {ndim} "
            f"dimension(s). Received: {array.dtype} array of shape {array.shape}"
        )
    return array
