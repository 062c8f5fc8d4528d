#!/usr/bin/env bash
# Install minidl with its reference side (TensorFlow CPU, Keras 3) and the test tools,
# plus Debian's Fashion-MNIST copy, the image data the tests and the offline lab use.
set -euo pipefail
cd "$(dirname "$0")"

if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist
    else
        echo "note: run 'sudo apt-get install dataset-fashion-mnist' for the Fashion-MNIST tests" >&2
    fi
fi

python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
