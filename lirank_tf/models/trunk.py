"""The shared bottom of the ranking models, each paper block behind a ``ModelConfig`` switch.

    input_features:  [sparse id embeddings (id_features)] + [member history (use_history)]
                     + dense features (batch norm: batch_norm_dense)  -> concat
    masknet_block:   parallel MaskNet (masknet)
    interaction_block: none | low-rank DCNv2 | Residual DCN (interaction)
    mlp_block:       MLP, each hidden layer gated (dense_gating), widths hidden_units
    sparse_moe_block: x + SparseMoE(x) (sparse_moe)

Each block takes a name ``prefix`` so the Ads and Jobs models can build one per head / tower.
"""

from __future__ import annotations

import keras

from lirank_tf.config import ConfigError, ExperimentConfig, ModelConfig
from lirank_tf.layers.gating import GatedMLP
from lirank_tf.layers.low_rank_cross import CrossNetwork
from lirank_tf.layers.masknet import ParallelMaskNet
from lirank_tf.layers.residual_dcn import ResidualDCN
from lirank_tf.layers.sparse_moe import SparseMoE
from lirank_tf.models.embeddings import embedding_tables, id_feature_vectors
from lirank_tf.models.history import history_vector
from lirank_tf.models.options import block_options


def _name(prefix: str, name: str) -> str:
    return f"{prefix}_{name}" if prefix else name


def input_features(inputs: dict, config: ExperimentConfig) -> keras.KerasTensor:
    """The concatenated feature vector ``[batch, width]`` every model starts from."""
    features, model = config.features, config.model
    tables = embedding_tables(features, model)
    parts = (id_feature_vectors(inputs, features, tables, model.embedding_l2)
             if model.id_features else [])
    if features.history is not None and model.use_history:
        parts.append(history_vector(inputs, features.history, tables, model))
    if "dense" in inputs:
        dense = inputs["dense"]
        if model.batch_norm_dense:
            dense = keras.layers.BatchNormalization(name="dense_batch_norm")(dense)
        parts.append(dense)
    if not parts:
        raise ConfigError("model: no input features left (no dense features, and id_features "
                          "and use_history are off or the features have none)")
    return keras.layers.Concatenate(name="feature_concat")(parts) if len(parts) > 1 else parts[0]


def masknet_block(x: keras.KerasTensor, model: ModelConfig, prefix: str = "") -> keras.KerasTensor:
    """Parallel MaskNet (instance-guided masks) when ``model.masknet``, else ``x``."""
    if not model.masknet:
        return x
    return ParallelMaskNet(**block_options(model, "masknet"), name=_name(prefix, "masknet"))(x)


def interaction_block(x: keras.KerasTensor, model: ModelConfig, prefix: str = "") -> keras.KerasTensor:
    """Explicit feature crosses (§3.3): low-rank DCNv2 or Residual DCN, same width as ``x``."""
    if model.interaction == "none":
        return x
    if model.interaction == "dcnv2":
        return CrossNetwork(num_layers=model.cross_layers, rank=model.cross_rank,
                            name=_name(prefix, "dcnv2"))(x)
    return ResidualDCN(num_layers=model.cross_layers, rank=model.cross_rank,
                       **block_options(model, "residual_dcn"), name=_name(prefix, "residual_dcn"))(x)


def mlp_block(x: keras.KerasTensor, model: ModelConfig, prefix: str = "") -> keras.KerasTensor:
    """``hidden_units`` fully-connected layers, GateNet-gated when ``model.dense_gating`` (§3.5),
    batch norm before each activation with ``model.mlp_batch_norm``, dropout after each."""
    return GatedMLP(units=model.hidden_units, activation=model.activation, dropout=model.dropout,
                    use_batch_norm=model.mlp_batch_norm, use_gates=model.dense_gating,
                    **block_options(model, "gating"), name=_name(prefix, "mlp"))(x)


def sparse_moe_block(x: keras.KerasTensor, model: ModelConfig, prefix: str = "") -> keras.KerasTensor:
    """``x + SparseMoE(x)`` (noisy top-k gated experts, load-balancing loss) when
    ``model.sparse_moe``, else ``x``."""
    if not model.sparse_moe:
        return x
    experts = SparseMoE(output_dim=int(x.shape[-1]), num_experts=model.num_experts,
                        **block_options(model, "sparse_moe"), name=_name(prefix, "sparse_moe"))(x)
    return keras.layers.Add(name=_name(prefix, "sparse_moe_residual"))([x, experts])


def dense_tower(x: keras.KerasTensor, model: ModelConfig, prefix: str = "") -> keras.KerasTensor:
    """interaction -> MLP -> sparse MoE: the trunk of the Feed model, and the per-head block
    of the Ads model / per-channel tower of the Jobs model."""
    x = interaction_block(x, model, prefix)
    x = mlp_block(x, model, prefix)
    return sparse_moe_block(x, model, prefix)
