"""Progressive layered extraction (PLE) multi-task heads."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from lirank_tf.layers.mmoe import gate_softmax
from lirank_tf.layers.parallel_dense import ParallelDense, apply_stack, build_stack, parallel_stack
from lirank_tf.layers.task_towers import check_task_names
from lirank_tf.layers.validation import check_positive_int, check_positive_int_list


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


@keras.saving.register_keras_serializable(package="lirank_tf")
class PLEHeads(keras.layers.Layer):
    """PLE heads: levels of task-specific and shared experts with gates, then task towers.

    Each level (a customized gate control unit) has ``num_task_experts`` experts per task
    and ``num_shared_experts`` shared experts (MLPs with ``activation`` on every layer).
    With ``u_t`` the input of task ``t`` and ``u_s`` the shared input (both ``x`` at the
    first level)::

        E_t  = [f_{t,1}(u_t), ..., f_{t,m}(u_t)]            # task t's experts
        E_s  = [f_{s,1}(u_s), ..., f_{s,k}(u_s)]            # shared experts
        u_t' = sum_j softmax(W_t u_t + b_t)[j] * concat(E_t, E_s)[j]
        u_s' = sum_j softmax(W_s u_s + b_s)[j] * concat(E_1, ..., E_T, E_s)[j]
        outputs[t] = w_t . MLP_t(u_t at the last level) + b_t   # logit, [batch, 1]

    (``u_s'`` is computed at every level but the last, and only when there are shared
    experts.) With one level and ``num_task_experts=0`` this is exactly
    ``MMoEHeads(num_experts=num_shared_experts)`` with the same weights.

    Args:
        task_names: list of str, one gate, tower and logit per task.
        num_levels: int, number of extraction levels, default 2.
        num_shared_experts: int >= 0, shared experts per level, default 2.
        num_task_experts: int >= 0, experts per task per level, default 1 (at least one
            of the two counts must be positive).
        expert_units: list of int, widths of each expert MLP, default ``[64]``.
        tower_units: list of int, hidden widths of each task tower, default ``[32]``.
        activation: activation of expert and tower hidden layers, default ``"relu"``.

    Example:
        >>> heads = PLEHeads(["click", "like"], num_levels=2, expert_units=[8])
        >>> tuple(heads(keras.ops.ones((2, 5)))["click"].shape)
        (2, 1)

    References: LiRank §3.10 and Table 1; Tang et al. 2020, Progressive Layered
    Extraction (PLE), RecSys'20.
    """

    def __init__(self, task_names: Sequence[str], num_levels: int = 2,
                 num_shared_experts: int = 2, num_task_experts: int = 1,
                 expert_units: Sequence[int] = (64,), tower_units: Sequence[int] = (32,),
                 activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.task_names = check_task_names("task_names", task_names)
        self.num_levels = check_positive_int("num_levels", num_levels)
        self.num_shared_experts = _check_count("num_shared_experts", num_shared_experts)
        self.num_task_experts = _check_count("num_task_experts", num_task_experts)
        if num_shared_experts + num_task_experts == 0:
            raise ValueError("num_shared_experts + num_task_experts must be >= 1, got "
                             f"{num_shared_experts} + {num_task_experts}")
        self.expert_units = check_positive_int_list("expert_units", expert_units)
        self.tower_units = check_positive_int_list("tower_units", tower_units,
                                                   allow_empty=True)
        self.activation = keras.activations.serialize(keras.activations.get(activation))

    @property
    def num_experts_per_level(self) -> int:
        """All experts of one level: task-specific ones (task by task), then shared."""
        return len(self.task_names) * self.num_task_experts + self.num_shared_experts

    def _task_expert_indices(self) -> np.ndarray:
        """[num_tasks, num_task_experts + num_shared_experts]: experts each gate mixes."""
        shared = list(range(self.num_experts_per_level - self.num_shared_experts,
                            self.num_experts_per_level))
        return np.array([list(range(t * self.num_task_experts,
                                    (t + 1) * self.num_task_experts)) + shared
                         for t in range(len(self.task_names))], dtype="int32")

    def build(self, input_shape) -> None:
        num_tasks = len(self.task_names)
        experts = self.num_experts_per_level
        gate_width = self.num_task_experts + self.num_shared_experts
        batch, width = input_shape[0], input_shape[-1]
        self.expert_layers, self.task_gates, self.shared_gates = [], [], []
        expert_input_shape, task_input_shape, shared_input_shape = (
            (batch, width), (batch, width), (batch, width))
        for level in range(self.num_levels):
            level_experts = parallel_stack(experts, self.expert_units, self.activation,
                                           f"level_{level}_expert")
            expert_width = build_stack(level_experts, expert_input_shape)[-1]
            task_gate = ParallelDense(num_tasks, gate_width, name=f"level_{level}_task_gate")
            task_gate.build(task_input_shape)
            self.expert_layers.append(level_experts)
            self.task_gates.append(task_gate)
            if level < self.num_levels - 1 and self.num_shared_experts:
                shared_gate = keras.layers.Dense(experts, name=f"level_{level}_shared_gate")
                shared_gate.build(shared_input_shape)
                self.shared_gates.append(shared_gate)
            expert_input_shape = (batch, experts, expert_width)
            task_input_shape = (batch, num_tasks, expert_width)
            shared_input_shape = (batch, expert_width)
        self.tower_layers = parallel_stack(num_tasks, self.tower_units, self.activation,
                                           "tower")
        self.tower_layers.append(ParallelDense(num_tasks, 1, name="logits"))
        build_stack(self.tower_layers, task_input_shape)

    def call(self, inputs) -> dict:
        gate_indices = self._task_expert_indices()
        task_inputs, shared_input, expert_inputs = inputs, inputs, inputs
        for level in range(self.num_levels):
            experts = apply_stack(self.expert_layers[level], expert_inputs)  # [B, n, d]
            gates = gate_softmax(self.task_gates[level](task_inputs))  # [B, T, k]
            mixed = ops.take(experts, gate_indices, axis=1)                  # [B, T, k, d]
            next_task_inputs = ops.einsum("btk,btkd->btd", gates, mixed)
            if level < self.num_levels - 1:
                if self.num_shared_experts:
                    shared_gates = gate_softmax(self.shared_gates[level](shared_input))
                    shared_input = ops.einsum("bn,bnd->bd", shared_gates, experts)
                    shared_branch = [ops.repeat(shared_input[:, None, :],
                                                self.num_shared_experts, axis=1)]
                else:
                    shared_branch = []
                expert_inputs = ops.concatenate(
                    [ops.repeat(next_task_inputs, self.num_task_experts, axis=1)]
                    + shared_branch, axis=1)
            task_inputs = next_task_inputs
        logits = apply_stack(self.tower_layers, task_inputs)                 # [B, T, 1]
        return {task: logits[:, t, :] for t, task in enumerate(self.task_names)}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "task_names": self.task_names, "num_levels": self.num_levels,
            "num_shared_experts": self.num_shared_experts,
            "num_task_experts": self.num_task_experts, "expert_units": self.expert_units,
            "tower_units": self.tower_units, "activation": self.activation,
        })
        return config
