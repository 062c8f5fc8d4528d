"""`ops.nn.sigmoid`, `ops.numpy.tensordot` and `ops.dot` in code that trains, against Keras.

In Keras, keras.ops.nn.sigmoid is keras.ops.sigmoid; minidl's submodules hold the plain
values and hand your code's arrays to the recorded ops (ops/submodules.py). tensordot and
dot are recorded ops (backprop_numpy.py), written with einsum for their gradients.
The model is keras.io's collaborative-filtering RecommenderNet (embeddings, a tensordot, a
sigmoid from ops.nn); the twins start from the same weights and their Histories must agree
to rtol 1e-5 (float32 sums in another order through a few Adam steps). Gradients of the ops
against tf.GradientTape in float64: rtol 1e-10.
"""
import numpy as np
import pytest
import tensorflow as tf

import keras
import minidl
from minidl.ops.backprop import tracked, untracked
from minidl.tape import Tape


def recommender(api):
    layers, ops = api.layers, api.ops

    class RecommenderNet(api.Model):
        def __init__(self, users, movies, size, **kwargs):
            super().__init__(**kwargs)
            self.user_embedding = layers.Embedding(users, size)
            self.user_bias = layers.Embedding(users, 1)
            self.movie_embedding = layers.Embedding(movies, size)
            self.movie_bias = layers.Embedding(movies, 1)

        def call(self, inputs):
            user_vector = self.user_embedding(inputs[:, 0])
            user_bias = self.user_bias(inputs[:, 0])
            movie_vector = self.movie_embedding(inputs[:, 1])
            movie_bias = self.movie_bias(inputs[:, 1])
            dot_user_movie = ops.numpy.tensordot(user_vector, movie_vector, 2)
            x = dot_user_movie + user_bias + movie_bias + ops.dot(user_vector[:, :2],
                                                                   movie_vector[0, :2])[:, None]
            return ops.nn.sigmoid(x)

    return RecommenderNet(30, 40, 6)


def test_the_collaborative_filtering_example_trains_as_in_keras():
    rng = np.random.default_rng(2)
    x = np.stack([rng.integers(0, 30, 64), rng.integers(0, 40, 64)], 1)
    y = rng.random(64).astype(np.float32)
    ours, theirs = recommender(minidl), recommender(keras)
    ours(x[:2]), theirs(x[:2])
    ours.set_weights(theirs.get_weights())
    for m, api in ((ours, minidl), (theirs, keras)):
        m.compile(loss="binary_crossentropy", optimizer=api.optimizers.Adam(0.01))
    kwargs = dict(batch_size=16, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.fit(x, y, **kwargs).history["loss"],
                               theirs.fit(x, y, **kwargs).history["loss"], rtol=1e-5)


CASES = [((3, 4, 5), (4, 5, 2), 2), ((3, 4, 5), (5, 4, 2), ([1, 2], [1, 0])),
         ((3, 4), (4, 2), 1), ((2, 3), (3, 2), ([-1], [0])), ((3, 4), (3, 4), 0)]


@pytest.mark.parametrize("shape1,shape2,axes", CASES)
def test_tensordot_and_dot_gradients_match_tensorflow(shape1, shape2, axes):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=shape1), rng.normal(size=shape2)
    for name, ours_fn, tf_fn in (
            ("tensordot", lambda p, q: minidl.ops.tensordot(p, q, axes),
             lambda p, q: tf.tensordot(p, q, axes)),
            ("dot", minidl.ops.dot, lambda p, q: keras.ops.dot(p, q))):
        if name == "dot" and axes != 1:
            continue
        w = rng.normal(size=np.shape(np.tensordot(a, b, axes)))  # a random cotangent
        with Tape() as tape:
            tape.watch([a, b])
            y = ours_fn(tracked(a), tracked(b))
        ga, gb = tape.gradient([(untracked(y), w)], [], inputs=[a, b])
        ta, tb = tf.constant(a), tf.constant(b)
        with tf.GradientTape() as g:
            g.watch([ta, tb])
            total = tf.reduce_sum(tf_fn(ta, tb) * w)
        ea, eb = g.gradient(total, [ta, tb])
        np.testing.assert_allclose(untracked(y), tf_fn(ta, tb).numpy(), rtol=1e-12)
        np.testing.assert_allclose(ga, ea.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb, eb.numpy(), rtol=1e-10, atol=1e-12)
        assert not np.allclose(ga * 1.01, ea.numpy(), rtol=1e-10)  # the check can fail


def test_outside_a_training_step_the_submodules_are_the_plain_ops():
    x = np.float32([[-1.0, 0.0, 2.0]])
    assert minidl.ops.nn.sigmoid(x).dtype == np.float32
    np.testing.assert_array_equal(minidl.ops.nn.sigmoid(x), minidl.ops.sigmoid(x))
    assert minidl.ops.nn.sigmoid.plain is not minidl.ops.sigmoid
