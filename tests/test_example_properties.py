"""Property-based tests of backprop: an example to copy for your own layers and losses.

An example-based test checks one input you chose: `assert f(3) == 9`. A property-based test
states a rule that must hold for EVERY input, and hypothesis hunts for an input that breaks it:
`@given(strategy)` runs the test on many generated inputs (odd shapes, zeros, extreme values).
When one fails, hypothesis shrinks it to the simplest failing input and prints it, so you
debug a 1x1 batch, not a 6x4 one. `assume(...)` skips inputs a rule does not cover (relu at
its kink). Good rules: invariants (softmax rows sum to 1), identities (dL/dz = (p - y) / N),
and agreement with a slow, obvious method (central differences: check_gradients).
Strategies and ready-made checks come from `minidl.strategies`. Run: pytest this_file.py
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl.strategies import (
    assume_away_from_kinks, batches, crossentropy_logits_gradient_is_p_minus_y_over_n, labels,
    loss_is_non_negative, mean_loss_is_permutation_invariant, model_and_data,
    softmax_rows_sum_to_one,
)
from minidl.testing import check_gradients


# Any (N, C) array of logits, including large ones that would overflow a naive exp.
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=5),
                  elements=st.floats(-80, 80, width=32)))
def test_softmax_rows_sum_to_one(z):
    softmax_rows_sum_to_one(z)


# st.data() lets a test draw in steps: first the shape, then labels that fit it.
@given(st.data(), st.sampled_from(["sparse_categorical_crossentropy",
                                   "categorical_crossentropy", "binary_crossentropy"]))
def test_crossentropy_gradient_on_logits_is_p_minus_y_over_n(data, loss):
    z = data.draw(batches(n_features=3))  # logits (N, 3), values in [-3, 3]
    kind = {"sparse_categorical_crossentropy": "sparse", "categorical_crossentropy": "one_hot",
            "binary_crossentropy": "multi_label"}[loss]
    y = data.draw(labels(kind, n=len(z), classes=3))
    crossentropy_logits_gradient_is_p_minus_y_over_n(loss, y, z)


@given(st.data())
def test_mse_is_non_negative(data):
    y_pred = data.draw(batches(n_features=2))
    y = data.draw(labels("regression", n=len(y_pred), classes=2))
    loss_is_non_negative("mse", y, y_pred)


# The whole backward pass of a random model against central differences (float64).
@given(model_and_data())
def test_backprop_matches_central_differences(float64, case):
    model, x, y = case
    assume_away_from_kinks(model, x, y)
    result = check_gradients(model, x, y)
    assert result.passed, str(result)  # the table says which weight is wrong


@given(st.data())
def test_mean_loss_ignores_the_order_of_the_rows(data):
    model, x, y = data.draw(model_and_data())
    permutation = data.draw(st.permutations(range(len(x))))
    mean_loss_is_permutation_invariant(model, x, y, permutation)
