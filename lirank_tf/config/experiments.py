"""Named experiments, each one base plus overrides (never copies).

    >>> cfg = get_experiment("feed", {"training": {"epochs": 1}})
    >>> cfg.training.epochs, [t.name for t in cfg.tasks][:2]
    (1, ['click', 'long_dwell'])
"""

from __future__ import annotations

from typing import Any, Callable

from lirank_tf.config.base import ConfigError, deep_merge
from lirank_tf.config.schema import ExperimentConfig

FEED_TASKS = [
    # click tower (LiRank §3.1): click and long dwell
    {"name": "click", "label": "click", "group": "click", "score_weight": 1.0},
    {"name": "long_dwell", "label": "long_dwell", "group": "click", "score_weight": 0.5},
    # contribution tower: like, comment, share, vote
    {"name": "like", "label": "like", "group": "contribution", "score_weight": 1.0},
    {"name": "comment", "label": "comment", "group": "contribution", "score_weight": 2.0},
    {"name": "share", "label": "share", "group": "contribution", "score_weight": 2.0},
    {"name": "vote", "label": "vote", "group": "contribution", "score_weight": 1.0},
]


def _feed() -> dict[str, Any]:
    """The Feed ranking model (LiRank §3.1, §A.1): 30-dim QR-hashed id embeddings."""
    return {
        "name": "feed",
        "features": {
            "tables": [
                {"name": "member", "dim": 30, "num_quotient_buckets": 2048, "num_remainder_buckets": 64},
                {"name": "hashtag", "dim": 30, "num_quotient_buckets": 256, "num_remainder_buckets": 16},
                {"name": "post", "dim": 30, "num_quotient_buckets": 4096, "num_remainder_buckets": 64},
                {"name": "context", "dim": 8, "num_quotient_buckets": 16, "num_remainder_buckets": 4},
            ],
            "ids": [
                {"name": "viewer_id", "table": "member"},
                {"name": "actor_id", "table": "member"},
                {"name": "viewer_historical_actor_ids", "table": "member", "kind": "id_list",
                 "max_length": 10},
                {"name": "actor_historical_actor_ids", "table": "member", "kind": "id_list",
                 "max_length": 10},
                {"name": "viewer_hashtag_ids", "table": "hashtag", "kind": "id_list", "max_length": 8},
                {"name": "actor_hashtag_ids", "table": "hashtag", "kind": "id_list", "max_length": 8},
                {"name": "post_hashtag_ids", "table": "hashtag", "kind": "id_list", "max_length": 5},
                {"name": "content_type", "table": "context"},
                {"name": "platform", "table": "context"},
            ],
            "dense": [
                {"name": "dense_features", "size": 16},
                {"name": "actor_follower_count", "size": 1},
                {"name": "position", "size": 1, "transform": "none"},
            ],
            "history": {"item_field": "history_item_ids", "action_field": "history_action_types",
                        "item_table": "post", "candidate_field": "root_object_id",
                        "max_length": 25},
        },
        "tasks": FEED_TASKS,
        "model": {"name": "feed", "hidden_units": [100, 100, 100, 100], "tower_units": [64]},
    }


EXPERIMENTS: dict[str, Callable[[], dict[str, Any]]] = {"feed": _feed}


def register_experiment(name: str, base: Callable[[], dict[str, Any]]) -> None:
    """Adds a named experiment: a function returning its config mapping."""
    EXPERIMENTS[name] = base


def experiment_dict(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choices: {sorted(EXPERIMENTS)}")
    return deep_merge(EXPERIMENTS[name](), overrides or {})


def get_experiment(name: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """The named experiment's config with ``overrides`` merged in (mappings merge recursively)."""
    return ExperimentConfig.from_dict(experiment_dict(name, overrides))
