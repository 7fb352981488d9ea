"""Small Feed-style models, raw records and exports shared by the tests in tests/serving/.

The configs keep the Feed experiment's structure and blocks (30-wide QR tables, TransAct or
amortized history, grouped towers) with few features, so an export traces in seconds rather
than a minute.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lirank_tf.config import ExperimentConfig, get_experiment
from lirank_tf.data.raw_features import RawField, raw_fields
from lirank_tf.models import build_model
from lirank_tf.transform import DenseStatistics, TransformationModel

# the session export's warm-up requests are built from make_records(config, 100, WARMUP_SEED)
WARMUP_SEED = 11

SMALL_FEED = {
    "features": {
        "tables": [
            {"name": "member", "dim": 30, "num_quotient_buckets": 512, "num_remainder_buckets": 32},
            {"name": "post", "dim": 30, "num_quotient_buckets": 1024, "num_remainder_buckets": 32},
            {"name": "hashtag", "dim": 30, "num_quotient_buckets": 64, "num_remainder_buckets": 8},
            {"name": "context", "dim": 8, "num_quotient_buckets": 16, "num_remainder_buckets": 4},
        ],
        "ids": [
            {"name": "viewer_id", "table": "member"},
            {"name": "actor_id", "table": "member"},
            {"name": "post_hashtag_ids", "table": "hashtag", "kind": "id_list", "max_length": 5},
            {"name": "content_type", "table": "context"},
            {"name": "platform", "table": "context"},
        ],
        "dense": [
            {"name": "dense_features", "size": 4},
            {"name": "actor_follower_count", "size": 1, "default": 10.0},
        ],
        "history": {"item_table": "post", "max_length": 12},
    },
    # every block of the Feed experiment on (TransAct, Residual DCN, gating, sparse MoE,
    # isotonic calibration by platform and content type), at small widths
    "model": {"hidden_units": [32, 32], "tower_units": [16], "history_encoder": True,
              "options": {"transact": {"action_embedding_dim": 4},
                          "sparse_moe": {"expert_units": [16]}}},
}


def small_config(candidate_fusion: str = "early", **model_overrides) -> ExperimentConfig:
    """The small Feed config with ``model.options.transact.candidate_fusion`` set (``early``:
    TransAct, ``append``: the amortized history encoder) and ``model`` fields overridden."""
    options = {**SMALL_FEED["model"]["options"],
               "transact": {**SMALL_FEED["model"]["options"]["transact"],
                            "candidate_fusion": candidate_fusion}}
    overrides = {**SMALL_FEED, "model": {**SMALL_FEED["model"], "options": options,
                                         **model_overrides}}
    return get_experiment("feed", overrides)


def make_records(config: ExperimentConfig, count: int, seed: int = 0) -> list[dict]:
    """Raw records with the experiment's fields: ids from small pools, histories of 0 to 15
    steps (longer than max_length for some), numeric values around their scale."""
    rng = np.random.default_rng(seed)
    history = config.features.history
    records = []
    for _ in range(count):
        record = {}
        for field in raw_fields(config):
            if field.name == history.action_field:
                continue
            if field.kind == "string":
                record[field.name] = f"{field.name}:{rng.integers(40)}"
            elif field.kind == "string_list":
                length = int(rng.integers(0, 16 if field.name == history.item_field else 6))
                record[field.name] = [f"{field.name}:{rng.integers(60)}" for _ in range(length)]
            elif field.kind == "float":
                record[field.name] = float(rng.exponential(20.0))
            else:
                record[field.name] = rng.normal(size=field.size).round(3).tolist()
        record[history.action_field] = rng.integers(
            0, history.num_action_types, size=len(record[history.item_field])).tolist()
        records.append(record)
    return records


def unit_statistics(config: ExperimentConfig) -> DenseStatistics:
    return DenseStatistics(mean={f.name: [0.5] * f.size for f in config.features.dense},
                           std={f.name: [2.0] * f.size for f in config.features.dense})


def spread_tables(model, stddev: float = 0.3, seed: int = 1) -> None:
    """Gives the QR tables trained-like spread (init is N(0, 0.02)), so that quantization and
    hashing differences show in the scores."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "_table_" in weight.path:
            weight.assign(rng.normal(scale=stddev, size=weight.shape).astype("float32"))


def build_serving_parts(amortized: bool = True, **model_overrides):
    """``(config, transform, model)``: the small Feed model, built from its config with the
    amortized history encoder (``candidate_fusion: append``) when ``amortized``, else with
    TransAct; tables spread out."""
    config = small_config("append" if amortized else "early", **model_overrides)
    model = build_model(config)
    spread_tables(model)
    return config, TransformationModel(config.features, unit_statistics(config)), model


def keras_scores(config, transform, model, request: dict) -> dict[str, np.ndarray]:
    """The reference: transformation model + Keras model in process, and the weighted score."""
    outputs = model(transform({k: tf.constant(v) for k, v in request.items()}), training=False)
    scores = {t.name: np.asarray(outputs[t.name]).reshape(-1) for t in config.tasks}
    scores["score"] = sum(t.score_weight * scores[t.name] for t in config.tasks)
    return scores


def field(config: ExperimentConfig, name: str) -> RawField:
    return next(f for f in raw_fields(config) if f.name == name)
