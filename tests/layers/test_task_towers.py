"""Hard-sharing and grouped task heads (lirank_tf.layers.task_towers) vs NumPy references."""

import numpy as np
import pytest
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)
from multitask_reference import assign_fixed_weights, dense, inputs, max_abs_difference

from lirank_tf.layers import task_towers
from lirank_tf.layers.task_towers import GroupedTaskHeads, HardSharingHeads

FEED_GROUPS = {"click": ["click", "long_dwell"],
               "contribution": ["like", "comment", "share", "vote"]}


def reference_grouped(weights, x, task_groups, num_shared, num_tower):
    hidden = x.astype(np.float64)
    for i in range(num_shared):
        hidden = dense(hidden, weights, f"shared_{i}", "relu")
    outputs = {}
    for group, tasks in task_groups.items():
        tower = hidden
        for i in range(num_tower):
            tower = dense(tower, weights, f"{group}_tower_{i}", "relu")
        logits = dense(tower, weights, f"{group}_logits")
        for i, task in enumerate(tasks):
            outputs[task] = logits[:, i:i + 1]
    return outputs


def built(layer, x):
    layer(x)
    return layer, assign_fixed_weights(layer)


@pytest.mark.parametrize("shared_units, tower_units", [([7], [4, 3]), ([], [4]), ([6], [])])
def test_grouped_heads_match_reference(shared_units, tower_units):
    x = inputs()
    heads, weights = built(GroupedTaskHeads(FEED_GROUPS, shared_units, tower_units), x)
    outputs = {k: v.numpy() for k, v in heads(x).items()}
    assert list(outputs) == ["click", "long_dwell", "like", "comment", "share", "vote"]
    assert all(v.shape == (6, 1) for v in outputs.values())
    expected = reference_grouped(weights, x, FEED_GROUPS, len(shared_units), len(tower_units))
    assert max_abs_difference(outputs, expected) < 1e-5


def test_grouped_weight_shapes():
    heads, _ = built(GroupedTaskHeads(FEED_GROUPS, [7], [4]), inputs())
    assert_weight_shapes(heads, {
        "shared_0/kernel": (5, 7), "shared_0/bias": (7,),
        "click_tower_0/kernel": (7, 4), "click_tower_0/bias": (4,),
        "click_logits/kernel": (4, 2), "click_logits/bias": (2,),
        "contribution_tower_0/kernel": (7, 4), "contribution_tower_0/bias": (4,),
        "contribution_logits/kernel": (4, 4), "contribution_logits/bias": (4,)})


def test_hard_sharing_is_grouping_with_one_task_per_group():
    x = inputs()
    tasks = ["click", "like", "comment"]
    hard, weights = built(HardSharingHeads(tasks, [7], [4]), x)
    grouped = GroupedTaskHeads({t: [t] for t in tasks}, [7], [4])
    grouped(x)
    grouped.set_weights(hard.get_weights())
    assert max_abs_difference(hard(x), grouped(x)) == 0.0
    expected = reference_grouped(weights, x, {t: [t] for t in tasks}, 1, 1)
    assert max_abs_difference({k: v.numpy() for k, v in hard(x).items()}, expected) < 1e-5
    assert len(hard.weights) == 2 + 4 * len(tasks)


@pytest.mark.parametrize("layer", [GroupedTaskHeads(FEED_GROUPS, [8], [4]),
                                   HardSharingHeads(["a", "b"], [8], [4])])
def test_gradients_and_save_reload(layer, tmp_path):
    x = inputs()
    model = functional_model(layer, x)
    assert_gradients_finite_nonzero(model, x)
    assert_save_reload_equal(model, x, tmp_path)


def test_config_round_trips():
    assert_config_round_trip(GroupedTaskHeads(FEED_GROUPS, [8, 4], [2], activation="tanh"))
    config = assert_config_round_trip(HardSharingHeads(["a", "b"], [3])).get_config()
    assert config["task_names"] == ["a", "b"] and "task_groups" not in config


@pytest.mark.parametrize("groups, match", [
    ({}, "task_groups"), (["click"], "task_groups"), ({"g": []}, "task_groups"),
    ({"g": ["a"], "h": ["a"]}, "repeat"), ({"g": ["a", "a"]}, "repeat"),
    ({"g/1": ["a"]}, "task_groups keys"), ({"g": ["a", 3]}, "task_groups"),
    ({"g": "abc"}, "task_groups"),
])
def test_invalid_task_groups_raise(groups, match):
    with pytest.raises(ValueError, match=match):
        GroupedTaskHeads(groups)


@pytest.mark.parametrize("kwargs, match", [
    ({"task_names": []}, "task_names"), ({"task_names": "click"}, "task_names"),
    ({"task_names": ["a"], "shared_units": [0]}, "shared_units"),
    ({"task_names": ["a"], "tower_units": [2.0]}, "tower_units"),
])
def test_invalid_hard_sharing_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HardSharingHeads(**kwargs)


def test_docstring_examples_run():
    assert_doctests_pass(task_towers)
