"""PLE heads (lirank_tf.layers.ple) against a NumPy reference with per-expert loops."""

import numpy as np
import pytest
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)
from multitask_reference import (assign_fixed_weights, branch_dense, dense, inputs,
                                 max_abs_difference, softmax)

from lirank_tf.layers import ple
from lirank_tf.layers.mmoe import MMoEHeads
from lirank_tf.layers.ple import PLEHeads

TASKS = ["click", "like", "share"]


def reference_ple(w, x, tasks, num_levels, shared, per_task, num_expert_layers,
                  num_tower_layers):
    """Experts ordered task 0's, task 1's, ..., then shared ones (as the layer stores them)."""
    num_tasks = len(tasks)
    num_experts = num_tasks * per_task + shared
    task_inputs = [x.astype(np.float64)] * num_tasks
    shared_input = x.astype(np.float64)
    for level in range(num_levels):
        experts = []
        for e in range(num_experts):
            h = task_inputs[e // per_task] if e < num_tasks * per_task else shared_input
            for i in range(num_expert_layers):
                h = branch_dense(h, w, f"level_{level}_expert_{i}", e, "relu")
            experts.append(h)
        shared_ids = list(range(num_tasks * per_task, num_experts))
        next_inputs = []
        for t in range(num_tasks):
            chosen = list(range(t * per_task, (t + 1) * per_task)) + shared_ids
            gate = softmax(branch_dense(task_inputs[t], w, f"level_{level}_task_gate", t))
            next_inputs.append(sum(gate[:, j:j + 1] * experts[e] for j, e in enumerate(chosen)))
        if level < num_levels - 1 and shared:
            gate = softmax(dense(shared_input, w, f"level_{level}_shared_gate"))
            shared_input = sum(gate[:, e:e + 1] * experts[e] for e in range(num_experts))
        task_inputs = next_inputs
    outputs = {}
    for t, task in enumerate(tasks):
        h = task_inputs[t]
        for i in range(num_tower_layers):
            h = branch_dense(h, w, f"tower_{i}", t, "relu")
        outputs[task] = branch_dense(h, w, "logits", t)
    return outputs


def built(layer, x):
    layer(x)
    return layer, assign_fixed_weights(layer)


@pytest.mark.parametrize("levels, shared, per_task, expert_units, tower_units", [
    (2, 2, 2, [6, 5], [4]), (3, 1, 1, [4], []), (2, 0, 2, [5], [3]), (2, 3, 0, [5], [3]),
])
def test_matches_reference(levels, shared, per_task, expert_units, tower_units):
    x = inputs()
    heads, weights = built(PLEHeads(TASKS, levels, shared, per_task, expert_units,
                                    tower_units), x)
    outputs = {k: v.numpy() for k, v in heads(x).items()}
    assert list(outputs) == TASKS and all(v.shape == (6, 1) for v in outputs.values())
    expected = reference_ple(weights, x, TASKS, levels, shared, per_task, len(expert_units),
                             len(tower_units))
    assert max_abs_difference(outputs, expected) < 1e-5


def test_one_level_without_task_experts_is_mmoe():
    x = inputs()
    mmoe_heads, _ = built(MMoEHeads(TASKS, 3, [6, 4], [3]), x)
    ple_heads = PLEHeads(TASKS, num_levels=1, num_shared_experts=3, num_task_experts=0,
                         expert_units=[6, 4], tower_units=[3])
    ple_heads(x)
    pairs = list(zip(ple_heads.expert_layers[0], mmoe_heads.expert_layers))
    pairs += [(ple_heads.task_gates[0], mmoe_heads.gate)]
    pairs += list(zip(ple_heads.tower_layers, mmoe_heads.tower_layers))
    for ple_layer, mmoe_layer in pairs:
        ple_layer.set_weights(mmoe_layer.get_weights())
    assert len(ple_heads.weights) == len(mmoe_heads.weights)
    assert max_abs_difference(ple_heads(x), mmoe_heads(x)) < 1e-6


def test_weight_shapes():
    heads, _ = built(PLEHeads(["a", "b"], 2, 2, 1, [6], [4]), inputs())
    # 2 tasks x 1 + 2 shared = 4 experts per level; each task gate mixes 1 + 2 experts.
    assert_weight_shapes(heads, {
        "level_0_expert_0/kernel": (4, 5, 6), "level_0_expert_0/bias": (4, 6),
        "level_0_task_gate/kernel": (2, 5, 3), "level_0_task_gate/bias": (2, 3),
        "level_0_shared_gate/kernel": (5, 4), "level_0_shared_gate/bias": (4,),
        "level_1_expert_0/kernel": (4, 6, 6), "level_1_expert_0/bias": (4, 6),
        "level_1_task_gate/kernel": (2, 6, 3), "level_1_task_gate/bias": (2, 3),
        "tower_0/kernel": (2, 6, 4), "tower_0/bias": (2, 4),
        "logits/kernel": (2, 4, 1), "logits/bias": (2, 1)})


def test_gradients_and_save_reload(tmp_path):
    x = inputs()
    model = functional_model(PLEHeads(TASKS, 2, 2, 1, [8], [4]), x)
    assert_gradients_finite_nonzero(model, x)
    assert_save_reload_equal(model, x, tmp_path)


def test_config_round_trip():
    assert_config_round_trip(PLEHeads(["a", "b"], 3, 0, 2, [8, 4], [], activation="gelu"))


@pytest.mark.parametrize("kwargs, match", [
    ({"task_names": ["a/b"]}, "task_names"), ({"num_levels": 0}, "num_levels"),
    ({"num_shared_experts": -1}, "num_shared_experts"),
    ({"num_task_experts": 1.0}, "num_task_experts"),
    ({"num_shared_experts": 0, "num_task_experts": 0}, "num_shared_experts"),
    ({"expert_units": [0]}, "expert_units"), ({"tower_units": "4"}, "tower_units"),
])
def test_invalid_arguments_raise(kwargs, match):
    arguments = {"task_names": ["a", "b"]}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        PLEHeads(**arguments)


def test_docstring_examples_run():
    assert_doctests_pass(ple)
