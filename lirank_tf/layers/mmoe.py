"""Multi-gate mixture-of-experts (MMoE) multi-task heads."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from lirank_tf.layers.parallel_dense import ParallelDense, apply_stack, build_stack, parallel_stack
from lirank_tf.layers.task_towers import check_task_names
from lirank_tf.layers.validation import check_positive_int, check_positive_int_list


def gate_softmax(gate_logits):
    """Softmax over the last axis; a gate over a single expert is the constant 1."""
    if gate_logits.shape[-1] == 1:
        return ops.ones_like(gate_logits)
    return ops.softmax(gate_logits, axis=-1)


@keras.saving.register_keras_serializable(package="lirank_tf")
class MMoEHeads(keras.layers.Layer):
    """MMoE heads: shared experts mixed by one softmax gate per task, then task towers.

    With experts ``f_e`` (MLPs with ``activation`` on every layer) and task gates::

        g_t(x)       = softmax(W_t x + b_t)                 # over the num_experts experts
        mixture_t    = sum_e g_t(x)[e] * f_e(x)
        outputs[t]   = w_t . MLP_t(mixture_t) + b_t         # logit, shape [batch, 1]

    Experts and towers are evaluated as batched ``ParallelDense`` layers.

    Args:
        task_names: list of str, one gate, tower and logit per task.
        num_experts: int, number of shared experts, default 4.
        expert_units: list of int, widths of each expert MLP, default ``[64]``.
        tower_units: list of int, hidden widths of each task tower, default ``[32]``
            (may be empty: the logit is then linear in the mixture).
        activation: activation of expert and tower hidden layers, default ``"relu"``.

    Example:
        >>> heads = MMoEHeads(["click", "like"], num_experts=3, expert_units=[8])
        >>> tuple(heads(keras.ops.ones((2, 5)))["like"].shape)
        (2, 1)

    References: LiRank §3.10 and Table 1; Ma et al. 2018, Modeling Task Relationships
    in Multi-task Learning with Multi-gate Mixture-of-Experts (KDD'18).
    """

    def __init__(self, task_names: Sequence[str], num_experts: int = 4,
                 expert_units: Sequence[int] = (64,), tower_units: Sequence[int] = (32,),
                 activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.task_names = check_task_names("task_names", task_names)
        self.num_experts = check_positive_int("num_experts", num_experts)
        self.expert_units = check_positive_int_list("expert_units", expert_units)
        self.tower_units = check_positive_int_list("tower_units", tower_units,
                                                   allow_empty=True)
        self.activation = keras.activations.serialize(keras.activations.get(activation))

    def build(self, input_shape) -> None:
        num_tasks = len(self.task_names)
        self.expert_layers = parallel_stack(self.num_experts, self.expert_units,
                                            self.activation, "expert")
        expert_shape = build_stack(self.expert_layers, input_shape)
        self.gate = ParallelDense(num_tasks, self.num_experts, name="gate")
        self.gate.build(input_shape)
        self.tower_layers = parallel_stack(num_tasks, self.tower_units, self.activation,
                                           "tower")
        self.tower_layers.append(ParallelDense(num_tasks, 1, name="logits"))
        build_stack(self.tower_layers, (expert_shape[0], num_tasks, expert_shape[-1]))

    def call(self, inputs) -> dict:
        experts = apply_stack(self.expert_layers, inputs)            # [B, E, d]
        gates = gate_softmax(self.gate(inputs))                      # [B, T, E]
        mixtures = ops.einsum("bte,bed->btd", gates, experts)        # [B, T, d]
        logits = apply_stack(self.tower_layers, mixtures)            # [B, T, 1]
        return {task: logits[:, t, :] for t, task in enumerate(self.task_names)}

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"task_names": self.task_names, "num_experts": self.num_experts,
                       "expert_units": self.expert_units, "tower_units": self.tower_units,
                       "activation": self.activation})
        return config
