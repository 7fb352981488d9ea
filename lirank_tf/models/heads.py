"""Multi-task heads of the Feed model (LiRank §3.10, Table 1), chosen by ``model.multitask``.

* ``hard_sharing``: one tower per task on the shared trunk (the baseline);
* ``grouping``: one tower per ``TaskConfig.group`` (Feed: click tower {click, long_dwell},
  contribution tower {like, comment, share, vote});
* ``mmoe``: ``model.num_experts`` shared experts, one softmax gate and tower per task;
* ``ple``: progressive layered extraction (``options.ple``).

Towers have ``model.tower_units`` hidden widths; every head outputs a logit ``[batch, 1]``.
"""

from __future__ import annotations

import keras

from lirank_tf.config import ModelConfig, TaskConfig
from lirank_tf.layers.mmoe import MMoEHeads
from lirank_tf.layers.ple import PLEHeads
from lirank_tf.layers.task_towers import GroupedTaskHeads, HardSharingHeads
from lirank_tf.models.options import block_options


def task_groups(tasks: list[TaskConfig]) -> dict[str, list[str]]:
    """``{group: [task, ...]}`` in the order groups first appear.

    Example:
        >>> task_groups([TaskConfig("click", "click", group="a"), TaskConfig("like", "like", group="b"),
        ...              TaskConfig("long_dwell", "long_dwell", group="a")])
        {'a': ['click', 'long_dwell'], 'b': ['like']}
    """
    groups: dict[str, list[str]] = {}
    for task in tasks:
        groups.setdefault(task.group, []).append(task.name)
    return groups


def multitask_logits(x: keras.KerasTensor, tasks: list[TaskConfig], model: ModelConfig) -> dict:
    """``{task: logit [batch, 1]}`` from the shared representation ``x``."""
    names = [t.name for t in tasks]
    common = dict(tower_units=model.tower_units, activation=model.activation)
    if model.multitask == "hard_sharing":
        heads = HardSharingHeads(names, **common, name="hard_sharing_heads")
    elif model.multitask == "grouping":
        heads = GroupedTaskHeads(task_groups(tasks), **common, name="grouped_heads")
    elif model.multitask == "mmoe":
        heads = MMoEHeads(names, num_experts=model.num_experts, **block_options(model, "mmoe"),
                          **common, name="mmoe_heads")
    else:
        heads = PLEHeads(names, **block_options(model, "ple"), **common, name="ple_heads")
    logits = heads(x)
    return {name: logits[name] for name in names}
