"""One training step worked out by hand, every intermediate number in the comments.

Network: 2 inputs -> Dense(2, relu) -> Dense(1, sigmoid), binary cross-entropy, SGD(lr=0.5).
One sample x = [1, 2] with label y = 1.

    W1 = [[0.1, -0.2],      b1 = [0.0, 0.1]        W2 = [[ 0.5],     b2 = [0.2]
          [0.3,  0.4]]                                   [-0.3]]

Forward
    z1 = x @ W1 + b1 = [1*0.1 + 2*0.3 + 0.0,  1*(-0.2) + 2*0.4 + 0.1] = [0.7, 0.7]
    a1 = relu(z1)    = [0.7, 0.7]
    z2 = a1 @ W2 + b2 = 0.7*0.5 + 0.7*(-0.3) + 0.2 = 0.34
    p  = sigmoid(0.34) = 1 / (1 + e^-0.34) = 0.5841905
    loss (from the logit, as Keras) = max(z,0) - z*y + log(1 + e^-|z|)
         = 0.34 - 0.34 + log(1 + e^-0.34) = -log(p) = 0.5375281

Backward (one sample, so the 1/N is 1)
    dz2 = p - y = -0.4158095                              (the fused sigmoid + BCE gradient)
    dW2 = a1.T @ dz2 = [[0.7 * -0.4158095], [0.7 * -0.4158095]] = [[-0.2910666], [-0.2910666]]
    db2 = -0.4158095
    da1 = dz2 @ W2.T = [-0.4158095 * 0.5, -0.4158095 * -0.3] = [-0.2079047, 0.1247428]
    dz1 = da1 * (z1 > 0) = [-0.2079047, 0.1247428]        (both units are active)
    dW1 = x.T @ dz1 = [[1 * -0.2079047, 1 * 0.1247428],
                       [2 * -0.2079047, 2 * 0.1247428]] = [[-0.2079047, 0.1247428],
                                                           [-0.4158095, 0.2494857]]
    db1 = [-0.2079047, 0.1247428]

SGD update, w -= 0.5 * g
    W2 = [[0.5 + 0.1455333], [-0.3 + 0.1455333]] = [[0.6455333], [-0.1544667]]
    b2 = 0.2 + 0.2079047 = 0.4079047
    W1 = [[0.1 + 0.1039524, -0.2 - 0.0623714], [0.3 + 0.2079047, 0.4 - 0.1247428]]
       = [[0.2039524, -0.2623714], [0.5079047, 0.2752572]]
    b1 = [0.0 + 0.1039524, 0.1 - 0.0623714] = [0.1039524, 0.0376286]
"""
import math

import numpy as np

import minidl
from minidl.layers import Dense

W1 = np.array([[0.1, -0.2], [0.3, 0.4]])
B1 = np.array([0.0, 0.1])
W2 = np.array([[0.5], [-0.3]])
B2 = np.array([0.2])
X = np.array([[1.0, 2.0]])
Y = np.array([1])

P = 1 / (1 + math.exp(-0.34))  # 0.5841905
DZ2 = P - 1  # -0.4158095
DA1 = np.array([DZ2 * 0.5, DZ2 * -0.3])  # [-0.2079047, 0.1247428]


def model():
    m = minidl.Sequential([Dense(2, activation="relu", input_shape=(2,)),
                           Dense(1, activation="sigmoid")])
    m.set_weights([W1, B1, W2, B2])
    m.compile(optimizer=minidl.optimizers.SGD(learning_rate=0.5), loss="binary_crossentropy")
    return m


def test_forward_pass_by_hand():
    m = model()
    p = m.predict(X, verbose=0)
    hidden, output = m.layers
    a1, (_, z1, _) = hidden.forward(X.astype("float32"))  # y, cache = forward(x)
    _, (_, z2, _) = output.forward(a1)
    np.testing.assert_allclose(z1, [[0.7, 0.7]], rtol=1e-6)
    np.testing.assert_allclose(z2, [[0.34]], rtol=1e-6)
    np.testing.assert_allclose(p, [[P]], rtol=1e-6)


def test_loss_and_gradients_by_hand():
    loss, (dW1, db1, dW2, db2) = model().loss_and_gradients(X, Y)
    assert math.isclose(loss, -math.log(P), rel_tol=1e-6)  # 0.5375281
    np.testing.assert_allclose(dW2, [[0.7 * DZ2], [0.7 * DZ2]], rtol=1e-6)
    np.testing.assert_allclose(db2, [DZ2], rtol=1e-6)
    np.testing.assert_allclose(dW1, [DA1, 2 * DA1], rtol=1e-6)
    np.testing.assert_allclose(db1, DA1, rtol=1e-6)


def test_one_sgd_step_by_hand():
    m = model()
    loss = m.train_on_batch(X, Y)
    assert math.isclose(loss, -math.log(P), rel_tol=1e-6)  # the pre-update loss
    w1, b1, w2, b2 = m.get_weights()
    np.testing.assert_allclose(w2, W2 - 0.5 * np.array([[0.7 * DZ2], [0.7 * DZ2]]), rtol=1e-6)
    np.testing.assert_allclose(b2, B2 - 0.5 * DZ2, rtol=1e-6)
    np.testing.assert_allclose(w1, W1 - 0.5 * np.array([DA1, 2 * DA1]), rtol=1e-6)
    np.testing.assert_allclose(b1, B1 - 0.5 * DA1, rtol=1e-6)
    np.testing.assert_allclose(w2, [[0.6455333], [-0.1544667]], atol=1e-7)  # the comments' numbers
