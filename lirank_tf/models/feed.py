"""The Feed ranking model (LiRank §3.1, §A.1, §A.6 Fig. 8), assembled from config switches.

    transformed inputs -> 30-dim QR-hash id embeddings (id_features) + member history
      (TransAct when history_encoder, else mean-pooled; use_history) + dense features
      (batch norm: batch_norm_dense) -> concat
      -> [parallel MaskNet (masknet)]
      -> interaction: none | low-rank DCNv2 | Residual DCN
      -> MLP of hidden_units (GateNet dense gating: dense_gating; "Large MLP": wide units)
      -> [x + sparsely gated MoE (sparse_moe)]
      -> [LiGR set-wise attention over the rows of a setwise_group, e.g. viewer_id]
      -> multi-task heads: hard_sharing | grouping (click tower {click, long dwell},
         contribution tower {like, comment, share, vote}) | mmoe | ple
      -> per-task logit -> [isotonic calibration, embedding of calibration_features]
      -> sigmoid

The model outputs ``{task: probability [batch, 1]}``; the Feed score, the linear combination
``sum_t score_weight_t * p_t``, is added by the serving export. The "Sparsely Gated MMoE" row
of Table 6 is realised as a sparse MoE block (shared experts, one noisy top-k gate,
load-balancing loss) between the MLP and the task towers, combined with any ``multitask``.
With ``setwise_group`` the candidates of one member are scored jointly
(``lirank_tf.models.setwise``): each row's score depends on the other rows of its group.
"""

from __future__ import annotations

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.models.calibration import calibration_ids, output_probabilities
from lirank_tf.models.heads import multitask_logits
from lirank_tf.models.inputs import model_inputs
from lirank_tf.models.registry import register_model
from lirank_tf.models.setwise import setwise_block
from lirank_tf.models.trunk import dense_tower, input_features, masknet_block


def build_feed_model(config: ExperimentConfig) -> keras.Model:
    """The Feed model of ``config`` (any experiment whose tasks have tower ``group``s)."""
    model_config = config.model
    inputs = model_inputs(config.features)
    x = input_features(inputs, config)
    x = masknet_block(x, model_config)
    x = dense_tower(x, model_config)
    x = setwise_block(x, inputs, config.features, model_config)
    logits = multitask_logits(x, config.tasks, model_config)
    outputs = output_probabilities(logits, model_config,
                                   calibration_ids(inputs, config.features, model_config))
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


register_model("feed", build_feed_model, setwise=True)
