"""Sparse id features: one QR-hash table per configured table, shared by all its features.

Every table is a ``QRHashEmbedding(hashed_input=True, output_mode="sequence")`` at the top
level of the model (so ``lirank_tf.distributed.shard_model`` can shard it): the inputs are
the int64 MurmurHash3 values of the transformation model (0 = padding), a single id gives
its vector, an id list its per-step vectors, pooled here with the feature's ``pooling``.
Features that name the same table share its rows (e.g. viewer and actor ids in the member
table; the ~40 Jobs features in 5 tables, LiRank §5.3).
"""

from __future__ import annotations

import keras

from lirank_tf.config import FeaturesConfig, ModelConfig
from lirank_tf.layers.qr_hash import QRHashEmbedding
from lirank_tf.models.pooling import MaskedPooling
from lirank_tf.models.regularization import TouchedRowL2

EMBEDDING_STDDEV = 0.02


def used_tables(features: FeaturesConfig, model: ModelConfig) -> list[str]:
    """Names of the tables the model looks up, in config order."""
    names = {f.table for f in features.ids} if model.id_features else set()
    if features.history is not None and model.use_history:
        names.add(features.history.item_table)
    return [t.name for t in features.tables if t.name in names]


def embedding_tables(features: FeaturesConfig, model: ModelConfig) -> dict[str, QRHashEmbedding]:
    """``{table name: sequence-mode QRHashEmbedding}`` of every table the model uses."""
    tables = {}
    for name in used_tables(features, model):
        table = features.table(name)
        tables[name] = QRHashEmbedding(
            embedding_dim=table.dim, num_quotient_buckets=table.num_quotient_buckets,
            num_remainder_buckets=table.num_remainder_buckets, aggregation=table.aggregation,
            hashed_input=True, output_mode="sequence", name=f"{name}_embedding",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=EMBEDDING_STDDEV))
    return tables


def id_feature_vectors(inputs: dict, features: FeaturesConfig, tables: dict,
                       embedding_l2: float = 0.0) -> list:
    """One ``[batch, dim]`` vector per id feature (id lists pooled), in config order; with
    ``embedding_l2`` > 0 each lookup passes a `TouchedRowL2` penalty (``model.embedding_l2``)."""
    vectors = []
    for feature in features.ids:
        embeddings, mask = tables[feature.table](inputs[feature.name])
        if embedding_l2:
            penalty = TouchedRowL2(embedding_l2, name=f"{feature.name}_l2")
            embeddings = (penalty(embeddings, mask) if feature.kind == "id_list"
                          else penalty(embeddings))
        if feature.kind == "id_list":
            embeddings = MaskedPooling(feature.pooling, name=f"{feature.name}_pooling")(
                embeddings, mask)
        vectors.append(embeddings)
    return vectors
