"""Multi-task heads with shared layers: hard parameter sharing and task grouping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from lirank_tf.layers.parallel_dense import apply_stack, build_stack
from lirank_tf.layers.validation import check_positive_int_list


def check_task_names(name: str, task_names: object) -> list[str]:
    """Returns ``list(task_names)`` if it is a non-empty list of unique valid names."""
    if isinstance(task_names, (str, bytes)) or not isinstance(task_names, Sequence) \
            or not task_names:
        raise ValueError(f"{name} must be a non-empty list of task names, got {task_names!r}")
    for task in task_names:
        if not isinstance(task, str) or not task or "/" in task:
            raise ValueError(f"{name} must hold non-empty strings without '/', got {task!r}")
    if len(set(task_names)) != len(task_names):
        raise ValueError(f"{name} must not repeat a task, got {list(task_names)!r}")
    return list(task_names)


def check_task_groups(task_groups: object) -> dict[str, list[str]]:
    """Returns ``task_groups`` as a dict of lists if no task is in two groups."""
    if not isinstance(task_groups, Mapping) or not task_groups:
        raise ValueError(f"task_groups must be a non-empty dict {{group: [task, ...]}}, got "
                         f"{task_groups!r}")
    check_task_names("task_groups keys", list(task_groups))
    groups = {group: check_task_names(f"task_groups[{group!r}]", tasks)
              for group, tasks in task_groups.items()}
    check_task_names("tasks of task_groups", [t for tasks in groups.values() for t in tasks])
    return groups


def dense_stack(units: Sequence[int], activation, prefix: str) -> list[keras.layers.Dense]:
    """``Dense`` layers of the given widths, all with ``activation``."""
    return [keras.layers.Dense(width, activation=activation, name=f"{prefix}_{i}")
            for i, width in enumerate(units)]


@keras.saving.register_keras_serializable(package="lirank_tf")
class GroupedTaskHeads(keras.layers.Layer):
    """Task-grouping heads: a shared bottom, one tower per group of related tasks.

    For every group ``g`` with tasks ``t_1..t_k``::

        h        = MLP_shared(x)                            # optional, shared by all
        logits_g = W_g MLP_g(h) + b_g                       # k logits, W_g: [.., k]
        outputs[t_i] = logits_g[:, i]                       # shape [batch, 1]

    Tasks in one group share their tower's hidden layers (the paper groups tasks with
    similar positive rates or semantics, e.g. the Feed's click tower {click, long_dwell}
    and contribution tower {like, comment, share, vote}). Outputs are logits; the
    calibration layer, sigmoid and losses come after.

    Args:
        task_groups: dict {group name: [task name, ...]}, every task in one group.
        shared_units: list of int, widths of the shared bottom MLP, default ``[]`` (the
            ranking model's trunk is usually the shared bottom).
        tower_units: list of int, hidden widths of each group tower, default ``[64]``.
        activation: activation of hidden layers, default ``"relu"``.

    Example:
        >>> heads = GroupedTaskHeads({"click": ["click", "long_dwell"],
        ...                           "contribution": ["like", "comment"]})
        >>> outputs = heads(keras.ops.ones((2, 8)))
        >>> sorted(outputs), tuple(outputs["like"].shape)
        (['click', 'comment', 'like', 'long_dwell'], (2, 1))

    References: LiRank §3.10 and Table 1 (grouping strategy), §A.6 Fig. 8 (Feed towers).
    """

    def __init__(self, task_groups: Mapping[str, Sequence[str]],
                 shared_units: Sequence[int] = (), tower_units: Sequence[int] = (64,),
                 activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.task_groups = check_task_groups(task_groups)
        self.shared_units = check_positive_int_list("shared_units", shared_units,
                                                    allow_empty=True)
        self.tower_units = check_positive_int_list("tower_units", tower_units,
                                                   allow_empty=True)
        self.activation = keras.activations.serialize(keras.activations.get(activation))

    @property
    def task_names(self) -> list[str]:
        """Every task, in the order of the groups."""
        return [task for tasks in self.task_groups.values() for task in tasks]

    def build(self, input_shape) -> None:
        self.shared_layers = dense_stack(self.shared_units, self.activation, "shared")
        shape = build_stack(self.shared_layers, input_shape)
        self.tower_layers = {}
        for group, tasks in self.task_groups.items():
            tower = dense_stack(self.tower_units, self.activation, f"{group}_tower")
            tower.append(keras.layers.Dense(len(tasks), name=f"{group}_logits"))
            build_stack(tower, shape)
            self.tower_layers[group] = tower

    def call(self, inputs) -> dict:
        hidden = apply_stack(self.shared_layers, inputs)
        outputs = {}
        for group, tasks in self.task_groups.items():
            logits = apply_stack(self.tower_layers[group], hidden)
            for i, task in enumerate(tasks):
                outputs[task] = logits[:, i:i + 1]
        return outputs

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"task_groups": self.task_groups, "shared_units": self.shared_units,
                       "tower_units": self.tower_units, "activation": self.activation})
        return config


@keras.saving.register_keras_serializable(package="lirank_tf")
class HardSharingHeads(GroupedTaskHeads):
    """Hard parameter sharing: a shared bottom and one tower per task (the baseline).

    ``outputs[t] = w_t . MLP_t(MLP_shared(x)) + b_t`` with shape [batch, 1]; the same as
    ``GroupedTaskHeads`` with one group per task.

    Args:
        task_names: list of str, one tower and one logit per task.
        shared_units: list of int, widths of the shared bottom MLP, default ``[]``.
        tower_units: list of int, hidden widths of each task tower, default ``[64]``.
        activation: activation of hidden layers, default ``"relu"``.

    Example:
        >>> heads = HardSharingHeads(["click", "like"], shared_units=[16])
        >>> tuple(heads(keras.ops.ones((2, 8)))["click"].shape)
        (2, 1)

    References: LiRank §3.10 and Table 1 (hard parameter sharing baseline).
    """

    def __init__(self, task_names: Sequence[str], shared_units: Sequence[int] = (),
                 tower_units: Sequence[int] = (64,), activation: str = "relu", **kwargs):
        task_names = check_task_names("task_names", task_names)
        super().__init__({task: [task] for task in task_names}, shared_units=shared_units,
                         tower_units=tower_units, activation=activation, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config["task_names"] = self.task_names
        del config["task_groups"]
        return config
