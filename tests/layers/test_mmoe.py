"""MMoE heads (lirank_tf.layers.mmoe) against a NumPy reference with per-expert loops."""

import numpy as np
import pytest
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)
from multitask_reference import (assign_fixed_weights, branch_dense, inputs,
                                 max_abs_difference, softmax)

from lirank_tf.layers import mmoe
from lirank_tf.layers.mmoe import MMoEHeads

TASKS = ["click", "like", "share"]


def reference_mmoe(weights, x, tasks, num_experts, num_expert_layers, num_tower_layers):
    x = x.astype(np.float64)
    experts = []
    for e in range(num_experts):
        h = x
        for i in range(num_expert_layers):
            h = branch_dense(h, weights, f"expert_{i}", e, "relu")
        experts.append(h)
    outputs = {}
    for t, task in enumerate(tasks):
        gate = softmax(branch_dense(x, weights, "gate", t))
        h = sum(gate[:, e:e + 1] * experts[e] for e in range(num_experts))
        for i in range(num_tower_layers):
            h = branch_dense(h, weights, f"tower_{i}", t, "relu")
        outputs[task] = branch_dense(h, weights, "logits", t)
    return outputs


def built(layer, x):
    layer(x)
    return layer, assign_fixed_weights(layer)


@pytest.mark.parametrize("expert_units, tower_units", [([6, 4], [3]), ([5], [])])
def test_matches_reference(expert_units, tower_units):
    x = inputs()
    heads, weights = built(MMoEHeads(TASKS, 3, expert_units, tower_units), x)
    outputs = {k: v.numpy() for k, v in heads(x).items()}
    assert list(outputs) == TASKS and all(v.shape == (6, 1) for v in outputs.values())
    expected = reference_mmoe(weights, x, TASKS, 3, len(expert_units), len(tower_units))
    assert max_abs_difference(outputs, expected) < 1e-5


def test_identical_experts_equal_a_single_expert():
    x = inputs()
    many, _ = built(MMoEHeads(TASKS, 4, [6, 4], [3]), x)
    single, weights = built(MMoEHeads(TASKS, 1, [6, 4], [3]), x)
    for i in range(2):
        kernel = weights[f"expert_{i}/kernel"]
        bias = weights[f"expert_{i}/bias"]
        many.expert_layers[i].kernel.assign(np.repeat(kernel, 4, axis=0))
        many.expert_layers[i].bias.assign(np.repeat(bias, 4, axis=0))
    for layer_many, layer_single in zip(many.tower_layers, single.tower_layers):
        layer_many.set_weights(layer_single.get_weights())
    # many.gate keeps its own (non-uniform) weights: any convex mix of equal experts is that expert.
    assert max_abs_difference(many(x), single(x)) < 1e-6


def test_weight_shapes():
    heads, _ = built(MMoEHeads(TASKS, 3, [6], [4]), inputs())
    assert_weight_shapes(heads, {
        "expert_0/kernel": (3, 5, 6), "expert_0/bias": (3, 6),
        "gate/kernel": (3, 5, 3), "gate/bias": (3, 3),
        "tower_0/kernel": (3, 6, 4), "tower_0/bias": (3, 4),
        "logits/kernel": (3, 4, 1), "logits/bias": (3, 1)})


def test_gradients_and_save_reload(tmp_path):
    x = inputs()
    model = functional_model(MMoEHeads(TASKS, 3, [8], [4]), x)
    assert_gradients_finite_nonzero(model, x)
    assert_save_reload_equal(model, x, tmp_path)


def test_config_round_trip():
    assert_config_round_trip(MMoEHeads(["a", "b"], 5, [8, 4], [], activation="gelu"))


@pytest.mark.parametrize("kwargs, match", [
    ({"task_names": []}, "task_names"), ({"task_names": ["a", "a"]}, "repeat"),
    ({"num_experts": 0}, "num_experts"), ({"expert_units": []}, "expert_units"),
    ({"tower_units": [-1]}, "tower_units"), ({"activation": "nope"}, "nope"),
])
def test_invalid_arguments_raise(kwargs, match):
    arguments = {"task_names": ["a", "b"]}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MMoEHeads(**arguments)


def test_docstring_examples_run():
    assert_doctests_pass(mmoe)
