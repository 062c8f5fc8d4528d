"""A model's weights lie end to end in one flat array; the optimizer updates them all at once.

The optimizer lays them out on its first step (layout.py).

What must hold: every weight is still its own array to everything that reads or writes it,
and the all-at-once update is bit for bit the per-variable one (which the Keras-parity tests
compare with Keras bit for bit).
"""
import copy

import numpy as np
import pytest

import minidl
from minidl import layout, optimizers, training
from minidl.layers import Dense


def small_model(optimizer):
    minidl.utils.set_random_seed(3)
    model = minidl.Sequential([Dense(6, activation="relu", input_shape=(4,)),
                               Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def data(n=40):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_weights_are_views_into_one_flat_array_and_behave_as_before():
    model = small_model("sgd")
    before = model.get_weights()
    model.optimizer.apply([np.zeros_like(w) for w in before], model.trainable_weights)
    for w, expected in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, expected)  # laying out changes no value
    weights = model.trainable_weights
    flat = weights[0].flat
    assert flat is not None and all(w.flat is flat for w in weights)
    assert all(w.value.base is flat.values and w.grad.base is flat.grads for w in weights)
    assert flat.values.size == model.count_params()
    new = [np.full(w.shape, i, np.float32) for i, w in enumerate(weights)]
    model.set_weights(new)
    for w, expected in zip(model.get_weights(), new):
        np.testing.assert_array_equal(w, expected)
    assert weights[0].value.base is flat.values  # set_weights wrote in place
    np.testing.assert_array_equal(flat.values, np.concatenate([a.ravel() for a in new]))


@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(0.1),
    lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    lambda: optimizers.RMSprop(0.01, rho=0.8, momentum=0.3, centered=True),
    lambda: optimizers.Adam(0.02, amsgrad=True),
], ids=["sgd", "sgd-nesterov", "rmsprop-centered-momentum", "adam-amsgrad"])
def test_all_at_once_is_bit_identical_to_variable_by_variable(make):
    x, y = data()
    at_once = small_model(make())
    one_by_one = copy.deepcopy(at_once)
    at_once.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    # The same steps, each variable updated on its own: given in another order than the
    # optimizer was built with, the variables are not its flat layout.
    weights = one_by_one.trainable_weights
    one_by_one.optimizer.build(weights)
    for epoch in range(2):
        for start in range(0, len(x), 8):
            batch = training.prepare_data(one_by_one, x[start:start + 8], y[start:start + 8])
            step = training.compute_gradients(one_by_one, batch)
            one_by_one.optimizer.apply(step.grads[::-1], weights[::-1])
    assert at_once.optimizer.updates_at_once(at_once.trainable_weights)
    assert not one_by_one.optimizer.updates_at_once(weights[::-1])
    for ours, theirs in zip(at_once.get_weights(), one_by_one.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(at_once.optimizer.slots(), one_by_one.optimizer.slots()):
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
    assert np.abs(at_once.get_weights()[0] - small_model("sgd").get_weights()[0]).max() > 1e-3


def big_middle_model(optimizer):
    """Small weights, then a kernel of OWN_GRADIENT numbers or more, then small ones again."""
    minidl.utils.set_random_seed(4)
    model = minidl.Sequential([Dense(300, activation="relu", input_shape=(4,)),
                               Dense(layout.OWN_GRADIENT // 300 + 1, activation="tanh"),
                               Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("make", [
    lambda: optimizers.RMSprop(0.01, momentum=0.3, centered=True),
    lambda: optimizers.Adam(0.02, amsgrad=True),
], ids=["rmsprop-centered-momentum", "adam-amsgrad"])
def test_a_big_weight_is_a_run_of_its_own_updated_from_its_gradient_where_it_lies(make):
    """A big kernel's gradient is not copied into the flat array: the flat arrays are updated
    in three runs (small, big, small), bit for bit as one variable at a time."""
    x, y = data()
    in_runs = big_middle_model(make())
    one_by_one = copy.deepcopy(in_runs)
    weights = one_by_one.trainable_weights
    one_by_one.optimizer.build(weights)
    for start in range(0, 24, 8):
        for model in (in_runs, one_by_one):
            batch = training.prepare_data(model, x[start:start + 8], y[start:start + 8])
            step = training.compute_gradients(model, batch)
            if model is in_runs:
                model.optimizer.apply(step.grads, step.weights)
                grads = step.grads
            else:  # another order than the optimizer was built with: one variable at a time
                model.optimizer.apply(step.grads[::-1], weights[::-1])
    flat = in_runs.optimizer._flat
    big = in_runs.trainable_weights[2]
    assert big.value.size >= layout.OWN_GRADIENT
    runs = flat.runs(grads)
    sizes = [w.value.size for w in in_runs.trainable_weights]
    assert [(start, end) for start, end, _ in runs] == [
        (0, sum(sizes[:2])), (sum(sizes[:2]), sum(sizes[:3])), (sum(sizes[:3]), sum(sizes))]
    assert big.grad is grads[2]  # the gradient where backward left it, not a copy
    assert all(w.grad.base is flat.grads for w in in_runs.trainable_weights if w is not big)
    for w, g in zip(in_runs.trainable_weights, grads):
        np.testing.assert_array_equal(w.grad, g)  # every variable shows its last gradient
    for ours, theirs in zip(in_runs.get_weights(), one_by_one.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(in_runs.optimizer.slots(), one_by_one.optimizer.slots()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_big_gradient_that_cannot_be_used_where_it_lies_is_copied():
    """A gradient in another dtype, not contiguous, or inside the weights is copied (and
    cast) into the flat array as the small ones are; the caller's array is never written."""
    model = big_middle_model("sgd")
    weights = model.trainable_weights
    model.optimizer.build(weights)
    flat = model.optimizer._flat
    big = weights[2]
    shape = big.shape
    for odd in (np.ones(shape, np.float64), np.ones(shape[::-1], np.float32).T, big.value):
        grads = [np.ones_like(w.value) for w in weights]
        grads[2] = odd
        before = odd.copy()
        runs = flat.runs(grads)
        assert len(runs) == 1 and big.grad.base is flat.grads
        np.testing.assert_array_equal(big.grad, odd.astype(np.float32))
        np.testing.assert_array_equal(odd, before)


@pytest.mark.parametrize("clip", [{"clipnorm": 0.01}, {"clipvalue": 0.001},
                                  {"global_clipnorm": 0.02}])
def test_clipping_is_per_gradient_before_the_flat_update(clip):
    """clipnorm clips each gradient by its own norm, as Keras does, not the flat vector's:
    the clipped gradients are laid end to end afterwards, so both paths give the same weights."""
    x, y = data()
    at_once = small_model(optimizers.SGD(0.1, **clip))
    one_by_one = copy.deepcopy(at_once)
    for model in (at_once, one_by_one):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert at_once.optimizer.updates_at_once(at_once.trainable_weights)
    for ours, theirs in zip(at_once.get_weights(), one_by_one.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_slots_are_views_into_one_flat_array_per_kind():
    x, y = data()
    model = small_model("adam")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    opt = model.optimizer
    for name in ("momentum", "velocity"):
        views = [opt.slot(name, i) for i in range(len(model.trainable_weights))]
        assert [v.shape for v in views] == [w.shape for w in model.trainable_weights]
        assert len({id(v.base) for v in views}) == 1  # all views of one flat array
    copied = copy.deepcopy(opt)
    views = [copied.slot("velocity", i) for i in range(len(model.trainable_weights))]
    assert len({id(v.base) for v in views}) == 1  # a copy keeps its own views
    views[0][...] = 7
    assert views[0].base[0] == 7 and opt.slot("velocity", 0).base[0] != 7


def _sequential_list():
    return minidl.Sequential([Dense(5, activation="relu", input_shape=(4,)), Dense(3)])


def _sequential_add():
    model = minidl.Sequential()
    model.add(Dense(5, activation="relu", input_shape=(4,)))
    model.add(Dense(3))
    return model


def _functional():
    inputs = minidl.Input((4,))
    outputs = Dense(3)(Dense(5, activation="relu")(inputs))
    return minidl.Model(inputs, outputs)


@pytest.mark.parametrize("make", [_sequential_list, _sequential_add, _functional],
                         ids=["Sequential([...])", "Sequential().add", "functional"])
def test_the_lab_three_ways_of_defining_a_model_all_lay_out_their_weights(make):
    model = make()
    model.compile("rmsprop", "mse")
    model.fit(*data(16)[:1], np.zeros((16, 3)), verbose=0)
    weights = model.trainable_weights
    assert len(weights) == 4
    assert model.optimizer.updates_at_once(weights)
