"""The Feed ranking model (LiRank §3.1, §A.1, Fig. 8), assembled from config switches.

    transformed inputs -> QR-hash id embeddings (30-dim) + normalised dense features (+ batch norm)
      + member history (mean-pooled, or TransAct when ``model.history_encoder``)
      -> optional interaction block (DCNv2 / Residual DCN) -> MLP (optionally gated)
      -> multi-task block (task grouping: click tower {click, long dwell} and contribution tower
         {like, comment, share, vote}; or hard sharing / MMoE / PLE)
      -> per-task logit -> optional isotonic calibration -> sigmoid

The model outputs ``{task: probability [batch, 1]}``; the final Feed score, a linear combination
of task probabilities with each task's ``score_weight``, is added at export.
"""

from __future__ import annotations

import keras

from lirank_tf.config import ExperimentConfig
from lirank_tf.models.blocks import (embed_features, history_summary, interaction_block,
                                     multitask_logits, output_probabilities, shared_mlp)
from lirank_tf.models.inputs import model_inputs
from lirank_tf.models.registry import register_model


def build_feed_model(config: ExperimentConfig) -> keras.Model:
    """The Feed model of ``config`` (any experiment whose tasks have tower ``group``s)."""
    features, model_config = config.features, config.model
    inputs = model_inputs(features)
    tables, parts = embed_features(inputs, features)
    if features.history is not None:
        parts.append(history_summary(inputs, features.history, tables, model_config))
    if "dense" in inputs:
        dense = inputs["dense"]
        if model_config.batch_norm_dense:
            dense = keras.layers.BatchNormalization(name="dense_batch_norm")(dense)
        parts.append(dense)
    x = keras.layers.Concatenate(name="feature_concat")(parts) if len(parts) > 1 else parts[0]
    x = interaction_block(x, model_config)
    x = shared_mlp(x, model_config)
    logits = multitask_logits(x, config.tasks, model_config)
    outputs = output_probabilities(logits, inputs, model_config)
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


register_model("feed", build_feed_model)
