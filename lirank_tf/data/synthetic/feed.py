"""Feed simulator: writes LinkedIn-Feed-like impressions as Avro files (LiRank §3.1, §A.1).

The generative model is known, so each record carries the true probability of every task
(``oracle_*``) and the oracle AUC bounds what any model can reach. Per simulated day:
members' latent interests drift; actors create posts (some of them short-lived viral root
objects); sessions of ``session_length`` candidates are sampled by a relevance-biased logging
policy; each task's logit combines the viewer-post affinity, post quality, history effects
(the viewer's past interactions with the actor), hashtag overlap, an affinity x activity
interaction, position bias, content type and virality; dwell time is log-normal per context and
``long_dwell`` is dwell above the day's 90th percentile of its (position bucket, content type,
platform) cluster. Interactions of day d enter the histories seen from day d + 1 on.
Deterministic given the seed. Days are split into train / valid / test (the last days test).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter, deque
from pathlib import Path

import fastavro
import numpy as np

from lirank_tf.data.synthetic.world import CONTENT_TYPES, PLATFORMS, Posts, World, concat_posts
from lirank_tf.labels import long_dwell_labels, long_dwell_thresholds

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "feed.avsc"
TASKS = ("click", "like", "comment", "share", "vote")
# per task: bias, affinity, quality, history, hashtag overlap, virality, position decay
TASK_COEFFICIENTS = {
    "click": (-1.9, 2.6, 0.5, 1.6, 0.25, 1.0, 0.10),
    "like": (-2.5, 3.0, 0.8, 2.0, 0.30, 1.3, 0.08),
    "comment": (-3.8, 2.4, 0.6, 2.4, 0.20, 0.3, 0.06),
    "share": (-4.2, 2.0, 1.0, 1.0, 0.20, 0.9, 0.06),
    "vote": (-4.0, 1.8, 0.4, 1.0, 0.35, 0.2, 0.05),
}
CONTENT_TYPE_EFFECT = {"click": (0.0, 0.2, 0.4, 0.3), "like": (0.0, 0.3, 0.1, -0.2),
                       "comment": (0.2, 0.0, -0.2, 0.1), "share": (-0.2, 0.1, 0.2, 0.4),
                       "vote": (0.3, -0.1, -0.2, 0.0)}
ACTION_OF_TASK = {"click": 0, "like": 1, "comment": 2, "share": 3, "vote": 4, "long_dwell": 5}
DWELL_SIGMA = 0.7
DENSE_SIZE = 16


@dataclasses.dataclass
class FeedSimulatorConfig:
    num_days: int = 8
    valid_days: int = 1
    test_days: int = 1
    impressions_per_day: int = 12_000
    session_length: int = 10
    num_members: int = 3_000
    num_hashtags: int = 300
    posts_per_day: int = 1_500
    history_length: int = 25
    latent_dim: int = 8
    viral_fraction: float = 0.02
    daily_drift: float = 0.05
    long_dwell_percentile: float = 90.0
    codec: str = "deflate"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_days < self.valid_days + self.test_days + 1:
            raise ValueError(f"num_days must leave at least one training day, got num_days="
                             f"{self.num_days}, valid_days={self.valid_days}, test_days={self.test_days}")
        if self.codec not in ("null", "deflate", "snappy"):
            raise ValueError(f"codec must be null, deflate or snappy, got {self.codec!r}")
        if self.impressions_per_day < self.session_length:
            raise ValueError(f"impressions_per_day must be >= session_length, got {self.impressions_per_day}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _names(prefix: str, values) -> list[str]:
    return [f"{prefix}:{int(v)}" for v in values]


class FeedSimulator:
    def __init__(self, config: FeedSimulatorConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.world = World(config.num_members, config.num_hashtags, config.latent_dim, self.rng)
        # history of each member: (post id, action type, actor), oldest first
        self.history = [deque(maxlen=config.history_length) for _ in range(config.num_members)]
        self.posts_by_day: list[tuple[int, Posts]] = []
        self.connections = self.rng.lognormal(4.0, 1.0, config.num_members).astype(np.int64)
        self.actor_posts = Counter()

    def simulate_day(self, day: int) -> list[dict]:
        cfg, rng, world = self.config, self.rng, self.world
        if day > 0:
            world.drift(cfg.daily_drift)
        today = world.create_posts(cfg.posts_per_day, cfg.viral_fraction)
        self.actor_posts.update(today.actor.tolist())
        self.posts_by_day = [(d, p) for d, p in self.posts_by_day if d >= day - 1] + [(day, today)]
        pool = concat_posts([p for _, p in self.posts_by_day])
        pool_day = np.concatenate([np.full(len(p.ids), d) for d, p in self.posts_by_day])

        n_sessions = cfg.impressions_per_day // cfg.session_length
        activity = world.member_activity
        viewers = rng.choice(cfg.num_members, size=n_sessions, p=activity / activity.sum())
        hours = rng.integers(0, 24, n_sessions)
        affinity_all = world.member_factor[viewers] @ pool.factor.T
        policy = 1.0 * affinity_all + rng.gumbel(0.0, 1.0, affinity_all.shape)
        chosen = np.argsort(-policy, axis=1)[:, :cfg.session_length]   # logging policy order

        viewer = np.repeat(viewers, cfg.session_length)
        hour = np.repeat(hours, cfg.session_length)
        position = np.tile(np.arange(cfg.session_length), n_sessions)
        post = chosen.reshape(-1)
        n = len(post)
        session_id = np.repeat(day * 1_000_000 + np.arange(n_sessions), cfg.session_length)
        actor = pool.actor[post]
        affinity = np.einsum("ij,ij->i", world.member_factor[viewer], pool.factor[post])
        age = np.maximum(0.5, (day - pool_day[post]) * 24.0 + hour - pool.hour[post])
        viral_boost = np.where(pool.viral[post], 1.5 * np.exp(-age / 6.0), 0.0)
        tag_match = np.array([len(np.intersect1d(world.member_hashtags[v], pool.hashtags[p]))
                              for v, p in zip(viewer, post)], dtype=np.float64)
        hist_match = np.array([sum(1 for _, _, a in self.history[v] if a == actor[i])
                               for i, v in enumerate(viewer)], dtype=np.float64)
        quality = pool.quality[post]
        content_type = pool.content_type[post]
        platform = rng.choice(len(PLATFORMS), size=n, p=[0.4, 0.35, 0.25])
        activity_term = np.log(activity[viewer])

        oracle, labels = {}, {}
        for task, (bias, w_aff, w_q, w_hist, w_tag, w_viral, w_pos) in TASK_COEFFICIENTS.items():
            logit = (bias + w_aff * affinity + w_q * quality + w_hist * np.minimum(hist_match, 3) / 3
                     + w_tag * tag_match + w_viral * viral_boost - w_pos * position
                     + 0.8 * affinity * activity_term
                     + np.asarray(CONTENT_TYPE_EFFECT[task])[content_type])
            oracle[task] = _sigmoid(logit)
            labels[task] = (rng.random(n) < oracle[task]).astype(np.int32)

        dwell_mean = (1.5 + np.array([0.0, 0.3, 1.0, 0.8])[content_type]
                      + np.array([0.2, 0.0, -0.1])[platform] - 0.03 * position
                      + 1.2 * affinity + 0.3 * quality + 0.4 * labels["click"])
        dwell = np.exp(dwell_mean + rng.normal(0.0, DWELL_SIGMA, n))
        clusters = (np.minimum(position // 3, 3) * 100 + content_type * 10 + platform)
        thresholds = long_dwell_thresholds(dwell, clusters, cfg.long_dwell_percentile)
        labels["long_dwell"] = long_dwell_labels(dwell, clusters, thresholds)
        limit = np.array([thresholds[int(c)] for c in clusters])
        z = (np.log(limit) - dwell_mean) / DWELL_SIGMA
        oracle["long_dwell"] = 0.5 * np.array([math.erfc(v / math.sqrt(2.0)) for v in z])

        likes_so_far = rng.poisson(np.exp(1.5 + quality + viral_boost + 0.1 * np.minimum(age, 24)))
        dense = np.stack([
            world.follower_count[actor].astype(np.float64), activity[viewer], age, likes_so_far,
            tag_match, affinity + rng.normal(0.0, 0.3, n), self.connections[viewer],
            np.array([self.actor_posts[a] for a in actor], dtype=np.float64), hist_match,
            *(rng.lognormal(1.0, 1.0, n) for _ in range(4)), *(rng.normal(0.0, 1.0, n) for _ in range(3)),
        ], axis=1).astype(np.float32)
        assert dense.shape[1] == DENSE_SIZE

        records = []
        for i in range(n):
            v, a, p = int(viewer[i]), int(actor[i]), int(post[i])
            hist = list(self.history[v])
            actor_hist = [h[2] for h in self.history[a]]
            follower = None if rng.random() < 0.1 else int(world.follower_count[a])
            record = {
                "day": day, "hour": int(hour[i]), "session_id": int(session_id[i]),
                "position": int(position[i]), "platform": PLATFORMS[platform[i]],
                "content_type": CONTENT_TYPES[content_type[i]],
                "viewer_id": f"member:{v}", "actor_id": f"member:{a}",
                "root_object_id": f"post:{int(pool.ids[p])}",
                "post_hashtag_ids": _names("hashtag", pool.hashtags[p]),
                "viewer_hashtag_ids": _names("hashtag", world.member_hashtags[v]),
                "actor_hashtag_ids": _names("hashtag", world.member_hashtags[a]),
                "viewer_historical_actor_ids": _names("member", [x for x, _ in Counter(h[2] for h in hist).most_common(10)]),
                "actor_historical_actor_ids": _names("member", [x for x, _ in Counter(actor_hist).most_common(10)]),
                "history_item_ids": _names("post", [h[0] for h in hist]),
                "history_action_types": [int(h[1]) for h in hist],
                "dense_features": dense[i].tolist(),
                "actor_follower_count": follower,
                "dwell_time_seconds": float(dwell[i]),
            }
            for task in (*TASKS, "long_dwell"):
                record[task] = int(labels[task][i])
                record[f"oracle_{task}"] = float(oracle[task][i])
            records.append(record)
        self._update_histories(viewer, actor, pool.ids[post], labels)
        return records

    def _update_histories(self, viewer, actor, post_ids, labels) -> None:
        """Day d's interactions become history from day d + 1 (strongest action kept)."""
        order = ("share", "comment", "like", "vote", "long_dwell", "click")
        for i in range(len(viewer)):
            for task in order:
                if labels[task][i]:
                    self.history[int(viewer[i])].append((int(post_ids[i]), ACTION_OF_TASK[task], int(actor[i])))
                    break


def simulate_feed(output_dir: str | Path, config: FeedSimulatorConfig | None = None) -> dict[str, list[str]]:
    """Writes one Avro file per simulated day under ``output_dir`` and a ``manifest.json``.

    Returns: {"train": [...], "valid": [...], "test": [...]} file paths.
    """
    config = config or FeedSimulatorConfig()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    schema = fastavro.parse_schema(json.loads(SCHEMA_PATH.read_text()))
    simulator = FeedSimulator(config)
    first_valid = config.num_days - config.valid_days - config.test_days
    first_test = config.num_days - config.test_days
    manifest: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for day in range(config.num_days):
        records = simulator.simulate_day(day)
        path = output_dir / f"day_{day:03d}.avro"
        with open(path, "wb") as handle:
            fastavro.writer(handle, schema, records, codec=config.codec)
        split = "train" if day < first_valid else "valid" if day < first_test else "test"
        manifest[split].append(str(path))
    (output_dir / "manifest.json").write_text(json.dumps(
        {"config": dataclasses.asdict(config), "files": manifest}, indent=2))
    return manifest
