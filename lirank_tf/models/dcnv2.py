"""The standard CTR baseline for your own data: DCNv2 (low-rank cross network) in parallel
with an MLP, single- or multi-task (Wang et al. 2021, "DCN V2", parallel structure).

    features -> [cross network (cross_layers, rank cross_rank)  ||  MLP (hidden_units, dropout)]
             -> concat -> multi-task heads (hard sharing by default) -> sigmoid

This is the default of ``lirank-tf init-config`` (``--model dcnv2``).
"""

from __future__ import annotations

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.models.calibration import calibration_ids, output_probabilities
from lirank_tf.models.heads import multitask_logits
from lirank_tf.models.inputs import model_inputs
from lirank_tf.models.registry import register_model
from lirank_tf.models.trunk import input_features, interaction_block, mlp_block


def build_dcnv2_model(config: ExperimentConfig) -> keras.Model:
    model_config = config.model
    inputs = model_inputs(config.features)
    x = input_features(inputs, config)
    cross = interaction_block(x, model_config.replace(interaction="dcnv2"))
    deep = mlp_block(x, model_config)
    joined = keras.layers.Concatenate(name="cross_deep_concat")([cross, deep])
    logits = multitask_logits(joined, config.tasks, model_config)
    outputs = output_probabilities(logits, model_config,
                                   calibration_ids(inputs, config.features, model_config))
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


register_model("dcnv2", build_dcnv2_model)
