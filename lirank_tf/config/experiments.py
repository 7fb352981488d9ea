"""Named experiments, each one base plus overrides (never copies).

    >>> cfg = get_experiment("feed", {"training": {"epochs": 1}})
    >>> cfg.training.epochs, [t.name for t in cfg.tasks][:2]
    (1, ['click', 'long_dwell'])
"""

from __future__ import annotations

from typing import Any, Callable

from lirank_tf.config.base import ConfigError, deep_merge
from lirank_tf.config.schema import ExperimentConfig

# The models `lirank-tf init-config --model` writes a config for (here, free of TensorFlow, so
# that the command line lists them without importing it).
INIT_CONFIG_MODELS = ("dcnv2", "feed", "ads", "jobs")

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


def _lirank_base() -> dict[str, Any]:
    """What every LiRank model shares: batch norm on dense inputs (§6.2), a jointly trained
    isotonic calibration layer (§3.4) and two low-rank cross layers where crosses are used
    (§3.3)."""
    return {
        "model": {"batch_norm_dense": True, "isotonic_calibration": True, "cross_layers": 2,
                  "cross_rank": 32},
    }


def _feed() -> dict[str, Any]:
    """The Feed ranking model (LiRank §3.1, §A.1, Fig. 8) with every Table 6 block on: 30-dim
    QR-hashed id embeddings, isotonic calibration (by platform and content type), a wide gated
    MLP, task grouping, TransAct-style history, Residual DCN and the sparse MoE. The MLP is
    4 x 256 rather than the paper's 4 x 3500 so the model trains in minutes on a 2-core CPU.
    The history block is the amortized encoder (``candidate_fusion: append``), served with
    each member's history encoded once per request (benchmarks/serving.py). On the simulator
    (4 days x 3,000 impressions) its test AUC against TransAct's early fusion: after 3
    epochs higher on 17 of 18 task x data-seed pairs (seeds 0, 1, 5; -0.002 to +0.024);
    after 1 epoch lower on all 6 tasks with seeds 0 and 1 (0.02-0.03) and mixed with seed
    5: it starts slower and ends ahead. (Measured 2026-12-07, after the layer's oneDNN
    einsum fix.)"""
    return deep_merge(_lirank_base(), {
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
        "model": {"name": "feed", "hidden_units": [256, 256, 256, 256], "tower_units": [64],
                  "dense_gating": True, "multitask": "grouping", "interaction": "residual_dcn",
                  "history_encoder": True, "sparse_moe": True,
                  "calibration_features": ["platform", "content_type"],
                  # the amortized history encoder: the candidate appended as an item, so a
                  # request encodes each member's history once (TransAct: `early`)
                  "options": {"transact": {"candidate_fusion": "append"}}},
    })


ADS_TASKS = [
    # one head per chargeability category (LiRank §3.2); the auction uses the head of the
    # campaign's category, so the summed serving score only weighs the website-click head
    {"name": "website_click", "label": "website_click", "group": "website", "score_weight": 1.0},
    {"name": "social_click", "label": "social_click", "group": "social", "score_weight": 0.0},
    {"name": "engagement_click", "label": "engagement_click", "group": "engagement",
     "score_weight": 0.0},
]


def _ads() -> dict[str, Any]:
    """The Ads CTR model (LiRank §3.2, Fig. 2, §5.4): member / ad / campaign / advertiser ids,
    context ids and dense features; three chargeability heads, each its own low-rank DCNv2
    and MLP; isotonic calibration by device and placement."""
    return deep_merge(_lirank_base(), {
        "name": "ads",
        "features": {
            "tables": [
                {"name": "member", "dim": 30, "num_quotient_buckets": 2048, "num_remainder_buckets": 64},
                {"name": "ad", "dim": 30, "num_quotient_buckets": 512, "num_remainder_buckets": 32},
                {"name": "campaign", "dim": 30, "num_quotient_buckets": 256, "num_remainder_buckets": 16},
                {"name": "advertiser", "dim": 30, "num_quotient_buckets": 128, "num_remainder_buckets": 16},
                {"name": "profile", "dim": 8, "num_quotient_buckets": 32, "num_remainder_buckets": 8},
                {"name": "context", "dim": 8, "num_quotient_buckets": 16, "num_remainder_buckets": 4},
            ],
            "ids": [
                {"name": "member_id", "table": "member"},
                {"name": "ad_id", "table": "ad"},
                {"name": "campaign_id", "table": "campaign"},
                {"name": "advertiser_id", "table": "advertiser"},
                {"name": "member_industry", "table": "profile"},
                {"name": "member_seniority", "table": "profile"},
                {"name": "advertiser_industry", "table": "profile"},
                {"name": "placement", "table": "context"},
                {"name": "device", "table": "context"},
                {"name": "ad_format", "table": "context"},
                {"name": "chargeability", "table": "context"},
            ],
            "dense": [
                {"name": "dense_features", "size": 12},
                {"name": "campaign_daily_budget", "size": 1, "transform": "log1p"},
                {"name": "position", "size": 1, "transform": "none"},
            ],
            "history": None,
        },
        "tasks": ADS_TASKS,
        "model": {"name": "ads", "hidden_units": [128, 64], "interaction": "dcnv2",
                  "calibration_features": ["device", "placement"]},
    })


# Jobs (LiRank §5.3): 40 categorical features in 5 shared tables, {table: (ids, id lists)}
JOBS_FEATURES = {
    "title": (["member_title", "job_title"],
              ["member_past_titles", "member_desired_titles", "job_similar_titles", "query_titles",
               "member_applied_job_titles", "member_viewed_job_titles"]),
    "skill": (["member_top_skill"],
              ["member_skills", "member_endorsed_skills", "job_required_skills",
               "job_preferred_skills", "query_skills", "member_applied_job_skills",
               "company_top_skills"]),
    "company": (["member_company", "job_company"],
                ["member_past_companies", "member_followed_companies", "job_company_competitors",
                 "query_companies", "member_applied_companies", "member_viewed_companies"]),
    "industry": (["member_industry", "job_industry", "query_industry"],
                 ["member_past_industries", "member_followed_industries", "company_peer_industries",
                  "member_applied_industries", "member_viewed_industries"]),
    "seniority": (["member_seniority", "member_desired_seniority", "job_seniority",
                   "job_min_seniority", "job_max_seniority", "query_seniority"],
                  ["member_past_seniorities", "member_applied_seniorities"]),
}
JOBS_TABLE_ROWS = {"title": (256, 16), "skill": (512, 16), "company": (256, 16),
                   "industry": (32, 8), "seniority": (8, 4)}


def _jobs() -> dict[str, Any]:
    """The Jobs model (LiRank §5.3, §A.8, Fig. 10): Job Search and JYMBII in one model; the 40
    entity features share 5 QR-hash tables; a task-specific 2-layer low-rank DCNv2 tower per
    product (``route_feature: channel``) predicts P(apply) and P(click). No dense gating (the
    paper saw no gain from it for Jobs)."""
    ids = [{"name": "channel", "table": "context"}]
    for table, (singles, lists) in JOBS_FEATURES.items():
        ids += [{"name": name, "table": table} for name in singles]
        ids += [{"name": name, "table": table, "kind": "id_list", "max_length": 10} for name in lists]
    tables = [{"name": name, "dim": 16, "num_quotient_buckets": quotient,
               "num_remainder_buckets": remainder}
              for name, (quotient, remainder) in JOBS_TABLE_ROWS.items()]
    tables.append({"name": "context", "dim": 4, "num_quotient_buckets": 8, "num_remainder_buckets": 4})
    return deep_merge(_lirank_base(), {
        "name": "jobs",
        "features": {"tables": tables, "ids": ids,
                     "dense": [{"name": "dense_features", "size": 14},
                               {"name": "position", "size": 1, "transform": "none"}],
                     "history": None},
        "tasks": [
            {"name": "apply", "label": "apply", "group": "jobs", "score_weight": 1.0},
            {"name": "click", "label": "click", "group": "jobs", "score_weight": 0.1},
        ],
        "model": {"name": "jobs", "hidden_units": [128, 64], "interaction": "dcnv2",
                  "isotonic_calibration": False, "route_feature": "channel",
                  "route_values": ["job_search", "jymbii"]},
    })


EXPERIMENTS: dict[str, Callable[[], dict[str, Any]]] = {"feed": _feed, "ads": _ads, "jobs": _jobs}


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
