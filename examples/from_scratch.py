"""The lab's classifier trained by one plain NumPy loop: no framework, all the maths in view.

    784 pixels -> Dense(512, relu) -> Dense(10, softmax); RMSprop(0.001); sparse cross-entropy;
    batches of 64

This is what `model.fit` computes, written out in one place. tests/test_from_scratch.py
checks that it ends with exactly, bit for bit, the weights `fit` gives from the same start
on the same batches. (minidl's fit also flushes denormal floats to zero, as TensorFlow does;
over a short run it makes no difference.)

Shapes: N rows in a batch, D = 784 pixels, H = 512 hidden units, C = 10 classes.

    python examples/from_scratch.py [--epochs 5] [--seed 0]
"""
import argparse

import numpy as np

F = np.float32  # every number is a float32, as in Keras


def glorot_uniform(rng, fan_in, fan_out):
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(F)


def initial_weights(rng, d=784, h=512, c=10):
    """[W1, b1, W2, b2], as Dense's defaults make them (Glorot-uniform kernels, zero biases)."""
    return [glorot_uniform(rng, d, h), np.zeros(h, F), glorot_uniform(rng, h, c), np.zeros(c, F)]


def train(x, y, weights, epochs=5, batch_size=64, order=None, lr=0.001, rho=0.9, epsilon=1e-7):
    """Train [W1, b1, W2, b2] (in place) on x (N,D) float32 and labels y (N,); returns the losses.

    order(epoch) gives the row order of each epoch (default: as the rows come).
    """
    W1, b1, W2, b2 = weights
    velocities = [np.zeros_like(w) for w in weights]  # RMSprop's running mean of g**2
    lr, rho, one_minus_rho, epsilon = F(lr), F(rho), F(1 - rho), F(epsilon)
    epoch_losses = []
    for epoch in range(epochs):
        rows_in_order = np.arange(len(x)) if order is None else order(epoch)
        loss_sum = 0.0
        for start in range(0, len(x), batch_size):
            rows = rows_in_order[start:start + batch_size]
            xb, yb, n = x[rows], y[rows], F(len(rows))
            # forward
            z1 = xb @ W1 + b1                              # (N,D) @ (D,H) + (H,) -> (N,H)
            a1 = np.maximum(z1, 0)                         # relu
            z2 = a1 @ W2 + b2                              # (N,H) @ (H,C) + (C,) -> (N,C)
            # loss, from the logits z2 (as Keras): log-sum-exp(z2) - z2[label]
            shifted = z2 - z2.max(axis=1, keepdims=True)  # (N,C), stable
            e = np.exp(shifted)
            total = e.sum(axis=1, keepdims=True)           # (N,1)
            picked = shifted[np.arange(len(rows)), yb]     # (N,)
            loss_sum += float((np.log(total[:, 0]) - picked).sum())
            # backward: softmax and cross-entropy together give dL/dz2 = (p - onehot(y)) / N
            dz2 = e / total                                # p, (N,C)
            dz2[np.arange(len(rows)), yb] -= 1             # p - onehot(y)
            dz2 /= n
            dW2 = a1.T @ dz2                               # (H,N) @ (N,C) -> (H,C)
            db2 = dz2.sum(axis=0)                          # (C,)
            da1 = dz2 @ W2.T                               # (N,C) @ (C,H) -> (N,H)
            dz1 = da1 * (z1 > 0)                           # relu's derivative
            dW1 = xb.T @ dz1                               # (D,N) @ (N,H) -> (D,H)
            db1 = dz1.sum(axis=0)                          # (H,)
            # RMSprop, as Keras writes it (epsilon inside the square root)
            for w, g, v in zip(weights, [dW1, db1, dW2, db2], velocities):
                v[...] = rho * v + one_minus_rho * np.square(g)
                w -= lr * g / np.sqrt(v + epsilon)
        epoch_losses.append(loss_sum / len(x))
    return epoch_losses


def accuracy(x, y, weights):
    """The share of rows whose largest output is the label."""
    W1, b1, W2, b2 = weights
    z2 = np.maximum(x @ W1 + b1, 0) @ W2 + b2
    return float((z2.argmax(axis=1) == y).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from minidl.datasets import fashion_mnist  # only to read the images, offline
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train.reshape(len(x_train), -1).astype(F) / 255
    x_test = x_test.reshape(len(x_test), -1).astype(F) / 255
    rng = np.random.default_rng(args.seed)
    weights = initial_weights(rng)
    losses = train(x_train, y_train, weights, epochs=args.epochs,
                   order=lambda epoch: rng.permutation(len(x_train)))
    for epoch, loss in enumerate(losses, start=1):
        print(f"epoch {epoch}: loss {loss:.4f}")
    print(f"test accuracy (Fashion-MNIST): {accuracy(x_test, y_test, weights):.4f}")


if __name__ == "__main__":
    main()
