"""Outputs with no loss and weights the loss never reaches, against Keras.

A two-output model x -> h -> (a, b) compiled with a loss for one output only: Keras accepts
the other output's targets or their absence, logs only the losses there are, and its
optimizer leaves the weights no loss reaches alone (no step, no weight decay, no slot
update), with a warning; with no gradient at all it refuses the step.
"""
import warnings

import numpy as np
import pytest

import keras
import minidl
from minidl import training
from reference.twins import keras_twin

RNG = np.random.default_rng(7)
X = RNG.normal(size=(16, 3)).astype(np.float32)
A = RNG.normal(size=(16, 2)).astype(np.float32)
B = RNG.normal(size=(16, 1)).astype(np.float32)
FIT = dict(epochs=2, batch_size=8, shuffle=False, verbose=0)
GRADIENTS_DO_NOT_EXIST = "Gradients do not exist for variables"


def two_heads(b_regularizer=None, c=False):
    """x -> h -> a (2 units) and b (1 unit), and c (1 unit) if asked: a built minidl model."""
    x = minidl.Input((3,), name="x")
    h = minidl.layers.Dense(4, activation="tanh", name="h")(x)
    a = minidl.layers.Dense(2, name="a")(h)
    b = minidl.layers.Dense(1, name="b", kernel_regularizer=b_regularizer)(h)
    return minidl.Model(x, [a, b] + ([minidl.layers.Dense(1, name="c")(h)] if c else []))


def compiled_twins(model=None, **compile_kwargs):
    """The minidl model and its Keras twin, compiled alike with AdamW (weight decay on)."""
    model = model or two_heads()
    model.compile(optimizer=minidl.optimizers.AdamW(learning_rate=0.05, weight_decay=0.2),
                  **compile_kwargs)
    return model, keras_twin(model)


def gradient_warnings(run):
    """run()'s result and the texts of the "Gradients do not exist" warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, [str(w.message) for w in caught if GRADIENTS_DO_NOT_EXIST in str(w.message)]


def slot_of(optimizer, kind, path):
    """An optimizer slot ("momentum", "velocity") of the weight at `path`, as an array."""
    for variable in optimizer.variables:
        if variable.path.endswith(f"/{path.replace('/', '_')}_{kind}"):
            return np.asarray(variable)
    raise KeyError(path)


# (compile arguments, y, the weights no loss reaches). Keras's own limits, checked below:
# a loss *dict* with a None entry needs y for every output, and metrics need their targets.
CASES = {
    "list with None, y for both, metrics on b": (
        dict(loss=["mse", None], metrics=[[], ["mae"]]), [A, B], ["b/kernel", "b/bias"]),
    "dict with None, loss_weights and metrics for b": (
        dict(loss={"a": "mse", "b": None}, loss_weights={"a": 2.0, "b": 3.0},
             metrics={"b": "mae", "a": "mse"}), {"a": A, "b": B}, ["b/kernel", "b/bias"]),
    "list with None, y dict without b": (
        dict(loss=["mse", None]), {"a": A}, ["b/kernel", "b/bias"]),
    "first output unlossed, weighted metrics on it": (
        dict(loss=[None, "mse"], weighted_metrics=[["mae"], []]), [A, B],
        ["a/kernel", "a/bias"]),
    "y a single array for the one loss": (dict(loss=[None, "mse"]), B, ["a/kernel", "a/bias"]),
    # two losses of three: History logs a_loss and c_loss beside the loss, no b_loss
    "three outputs, the middle one unlossed": (
        dict(loss=["mse", None, "mae"], loss_weights=[1.0, 5.0, 0.5]), [A, B, B],
        ["b/kernel", "b/bias"]),
}


@pytest.mark.parametrize("case", CASES)
def test_partial_loss_fit_evaluate_predict_match_keras(case):
    """History keys and values, evaluate, predict and the weights agree with Keras's to
    rtol 1e-5 (float32 Adam over 4 steps: the two frameworks sum in different orders,
    ~1e-7 relative per op); the unreached weights and their AdamW slots stay bit-identical
    to their initial values in both; both warn twice on the first fit."""
    compile_kwargs, y, unreached = CASES[case]
    three = isinstance(y, list) and len(y) == 3
    model, twin = compiled_twins(two_heads(c=three), **compile_kwargs)
    initial = {w.path: w.numpy().copy() for w in model.weights}

    theirs, theirs_warned = gradient_warnings(lambda: twin.fit(X, y, **FIT).history)
    ours, ours_warned = gradient_warnings(lambda: model.fit(X, y, **FIT).history)
    assert ours_warned == theirs_warned and len(theirs_warned) == 2
    assert theirs_warned[0] == (f"{GRADIENTS_DO_NOT_EXIST} {unreached} when minimizing the "
                                "loss. If using `model.compile()`, did you forget to provide "
                                "a `loss` argument?")
    assert sorted(ours) == sorted(theirs)
    assert ("a_loss" in theirs) == three and "b_loss" not in theirs
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(model.evaluate(X, y, verbose=0),
                               twin.evaluate(X, y, verbose=0), rtol=1e-5)
    for p, q in zip(model.predict(X, verbose=0), twin.predict(X, verbose=0)):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    for index, (w, k) in enumerate(zip(model.weights, twin.weights)):
        assert w.path == k.path
        if w.path in unreached:  # untouched: not a single bit moved, in either
            np.testing.assert_array_equal(w.numpy(), initial[w.path])
            np.testing.assert_array_equal(np.asarray(k), initial[w.path])
            for kind in ("momentum", "velocity"):
                assert not slot_of(twin.optimizer, kind, w.path).any()
                assert not np.any(model.optimizer.slot(kind, index))
        else:
            assert not np.array_equal(w.numpy(), initial[w.path])
            np.testing.assert_allclose(w.numpy(), np.asarray(k), rtol=1e-5, atol=1e-6)


def test_decaying_unreached_weights_is_caught():
    """Negative control: the old step (zeros for the unreached head, so AdamW decays it and
    moves its slots) must fail the comparison above."""
    model, twin = compiled_twins(loss=["mse", None])
    gradient_warnings(lambda: twin.fit(X, [A, B], **FIT))

    def old_reached(model, weights, grads, batch_size):
        return weights, [np.zeros_like(w.value) if g is None else g
                         for w, g in zip(weights, grads)]

    original, training.reached = training.reached, old_reached
    try:
        gradient_warnings(lambda: model.fit(X, [A, B], **FIT))
    finally:
        training.reached = original
    ours_kernel = model.get_layer("b").kernel.numpy()
    theirs_kernel = np.asarray(twin.get_layer("b").kernel)
    assert not np.allclose(ours_kernel, theirs_kernel, rtol=1e-5, atol=1e-6)


def test_warning_count_follows_keras_traces():
    """Keras warns while TensorFlow traces the train step: twice at the first trace (it
    builds the optimizer's slots, so TensorFlow traces again), once at a new batch size
    (train_on_batch's 16 rows), never at a step already traced. minidl gives the same count
    at every call."""
    model, twin = compiled_twins(loss=["mse", None])
    calls = [lambda m: m.fit(X, [A, B], **FIT), lambda m: m.fit(X, [A, B], **FIT),
             lambda m: m.train_on_batch(X, [A, B]), lambda m: m.train_on_batch(X, [A, B])]
    theirs_counts = [len(gradient_warnings(lambda: call(twin))[1]) for call in calls]
    ours_counts = [len(gradient_warnings(lambda: call(model))[1]) for call in calls]
    assert ours_counts == theirs_counts == [2, 0, 1, 0]


def test_regularized_weight_is_reached():
    """A kernel with a regularizer has a gradient (the penalty depends on it): only the
    bias is left out, and the kernel trains as Keras's (rtol 1e-5, as above)."""
    model, twin = compiled_twins(two_heads(b_regularizer="l2"), loss=["mse", None])
    bias = model.get_layer("b").bias.numpy().copy()
    _, theirs_warned = gradient_warnings(lambda: twin.fit(X, [A, B], **FIT))
    _, ours_warned = gradient_warnings(lambda: model.fit(X, [A, B], **FIT))
    assert ours_warned == theirs_warned and "['b/bias']" in theirs_warned[0]
    np.testing.assert_array_equal(model.get_layer("b").bias.numpy(), bias)
    np.testing.assert_allclose(model.get_layer("b").kernel.numpy(),
                               np.asarray(twin.get_layer("b").kernel), rtol=1e-5, atol=1e-6)


def test_no_gradient_at_all_is_refused_before_anything_changes():
    """Keras's error when no weight is reached; minidl raises it before any change."""
    def unreachable(framework):
        x = framework.Input((3,), name="x")
        a = framework.layers.Dense(3, name="a", trainable=False)(x)
        b = framework.layers.Dense(1, name="b")(x)
        return framework.Model(x, [a, b])

    model = unreachable(minidl)
    model, twin = compiled_twins(model, loss=["mse", None])
    before = model.get_weights()
    for m in (twin, model):
        with pytest.raises(ValueError, match=r"^No gradients provided for any variable\.$"):
            m.fit(X, [X, B], **FIT)
    for w, v in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w, v)
    assert model.optimizer.iterations == int(twin.optimizer.iterations) == 0


def test_loss_and_gradients_keeps_zeros_for_unreached_weights():
    """The public gradient seam stays aligned with trainable_weights: zeros where the loss
    does not reach, the same non-zero gradients elsewhere as with b's loss (exact: the
    same computation)."""
    model = two_heads()
    model.compile(loss=["mse", None])
    _, grads = model.loss_and_gradients(X, [A, B])
    both = two_heads()
    both.set_weights(model.get_weights())
    both.compile(loss=["mse", "mse"])
    _, reference = both.loss_and_gradients(X, [A, B])
    assert [g.shape for g in grads] == [w.shape for w in model.trainable_weights]
    for w, g, r in zip(model.trainable_weights, grads, reference):
        if w.path.startswith("b/"):
            assert not g.any() and r.any()
        elif w.path.startswith("a/"):
            np.testing.assert_array_equal(g, r)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # Keras's, before its KeyError
def test_keras_refusals_kept():
    """What Keras refuses for a model with a list of outputs, minidl refuses alike: a loss
    dict that leaves an output out (Keras accepts it only for dict outputs), loss weights
    that leave one out, and no loss for any output. Metrics on an unlossed output without its targets: Keras
    fails with a bare KeyError, minidl names the output."""
    for compile_kwargs, message in [
            (dict(loss={"a": "mse"}),
             r"Expected keys \['a', 'b'\] in loss dict, but found loss.keys\(\)=\['a'\]"),
            (dict(loss=["mse", None], loss_weights={"a": 2.0}),
             r"^`loss_weights` must match the number of losses, got 2 losses and 1 weights\.$"),
            (dict(loss=[None, None]),
             r"^No loss to compute\. Provide a `loss` argument in `compile\(\)`\.$")]:
        model, twin = compiled_twins(**compile_kwargs)
        with pytest.raises(ValueError, match=message):
            twin.fit(X, [A, B], **FIT)
        with pytest.raises(ValueError, match=message):
            model.fit(X, [A, B], **FIT)
    model, twin = compiled_twins(loss=["mse", None], metrics=[[], ["mae"]])
    with pytest.raises(KeyError):
        twin.fit(X, {"a": A}, **FIT)
    with pytest.raises(ValueError, match=r"Missing data for output 'b': it has metrics"):
        model.fit(X, {"a": A}, **FIT)
