#!/usr/bin/env bash
# Install minidl with its reference side (TensorFlow CPU, Keras 3) and the test tools,
# plus Debian's Fashion-MNIST copy, the image data the tests and the offline lab use.
# Run it inside a virtual environment (python3 -m venv .venv && . .venv/bin/activate) to keep
# the ~2 GB of packages, mostly TensorFlow, out of your system Python.
set -euo pipefail
cd "$(dirname "$0")"

if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> Debian's dataset-fashion-mnist: Fashion-MNIST images (about 30 MB) for the"
        echo "    offline lab and the tests"
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist
    else
        echo "note: run 'sudo apt-get install dataset-fashion-mnist' for the Fashion-MNIST tests" >&2
    fi
fi

prefix=$(python3 -c 'import sys; print(sys.prefix)')
echo "==> minidl (editable, from this folder) with its dev extra, into ${prefix}:"
echo "    NumPy; TensorFlow CPU 2.21 and Keras 3.15 (the reference side, most of the ~2 GB);"
echo "    scikit-learn, matplotlib, h5py; pytest, hypothesis, nbclient. A few minutes."
python3 -m pip install --disable-pip-version-check --progress-bar on -e ".[dev]"

echo
echo "minidl is installed. Next:"
echo "    minidl lab            # the whole lab in minidl and Keras side by side (a few minutes)"
echo "    python3 -m pytest     # the test suite"
