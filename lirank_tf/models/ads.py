"""The Ads CTR model (LiRank §3.2, Fig. 2): chargeability-based multi-task heads.

Advertisers define chargeable clicks differently (a website visit only; or also social
actions; or any engagement); the definitions are grouped into three chargeability
categories, and the model has one head per category. Each head has its own interaction
block and MLP on the shared features::

    transformed inputs -> QR-hash embeddings of member / ad / campaign / advertiser ids and
      context ids + dense features (batch norm) -> concat -> [parallel MaskNet]
      -> per head: DCNv2 (``interaction``) -> MLP (``hidden_units``, gated with
         ``dense_gating``) -> [x + sparse MoE] -> logit -> [isotonic calibration] -> sigmoid

The loss is the sum of the heads' losses (``TaskConfig.loss_weight``). ``multitask`` and
``tower_units`` do not apply (every head is its own tower).
"""

from __future__ import annotations

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.models.calibration import calibration_ids, output_probabilities
from lirank_tf.models.inputs import model_inputs
from lirank_tf.models.registry import register_model
from lirank_tf.models.trunk import dense_tower, input_features, masknet_block


def build_ads_model(config: ExperimentConfig) -> keras.Model:
    """The Ads CTR model of ``config``: one (DCNv2 + MLP) head per task."""
    model_config = config.model
    inputs = model_inputs(config.features)
    x = masknet_block(input_features(inputs, config), model_config)
    logits = {}
    for task in config.tasks:
        head = dense_tower(x, model_config, prefix=task.name)
        logits[task.name] = keras.layers.Dense(1, name=f"{task.name}_logit")(head)
    outputs = output_probabilities(logits, model_config,
                                   calibration_ids(inputs, config.features, model_config))
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


register_model("ads", build_ads_model)
