"""examples/from_scratch.py, the plain NumPy loop, trains to exactly the weights `fit` gives."""
import copy
import pathlib
import sys

import numpy as np
import pytest

import minidl
from minidl.datasets import fashion_mnist
from minidl.denormals import flushed
from minidl.layers import Dense

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "examples"))
import from_scratch  # noqa: E402


def seed_recipe():
    model = minidl.Sequential([Dense(512, activation="relu", input_shape=(784,)),
                               Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def images():
    (x, y), _ = fashion_mnist.load_data()
    return x[:640].reshape(640, -1).astype(np.float32) / 255, y[:640]


def test_the_plain_loop_ends_with_fits_weights_bit_for_bit(images):
    x, y = images
    minidl.utils.set_random_seed(0)
    model = seed_recipe()
    weights = model.get_weights()
    shuffler = copy.deepcopy(minidl.rng.generator())  # fit draws each epoch's order from it
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    with flushed(), minidl.threads.working():  # as fit computes: denormals 0, BLAS threads
        losses = from_scratch.train(x, y, weights, epochs=2, batch_size=64,
                                    order=lambda epoch: shuffler.permutation(len(x)))
    for ours, fits in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(ours, fits)
    np.testing.assert_allclose(losses, history.history["loss"], rtol=1e-5)


def test_a_changed_loop_does_not_pass(images):
    """Negative control: the comparison notices a one-step slip (a learning rate off by 1 %)."""
    x, y = images
    minidl.utils.set_random_seed(0)
    model = seed_recipe()
    weights = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    from_scratch.train(x, y, weights, epochs=1, lr=0.00101)
    assert any(not np.array_equal(ours, fits) for ours, fits in zip(weights, model.get_weights()))


def test_initial_weights_have_dense_shapes_and_glorot_limits():
    weights = from_scratch.initial_weights(np.random.default_rng(0))
    assert [w.shape for w in weights] == [w.shape for w in seed_recipe().get_weights()]
    assert all(w.dtype == np.float32 for w in weights)
    assert np.abs(weights[0]).max() <= np.sqrt(6 / (784 + 512))
