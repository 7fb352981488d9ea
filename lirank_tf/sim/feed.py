"""Feed simulator: writes LinkedIn-Feed-like impressions as Avro files (LiRank §3.1, §A.1).

The generative model is known, so each record carries the true probability of every task
(``oracle_*``) and the oracle AUC bounds what any model can reach. Per simulated day:
members' latent interests drift; actors create posts (some of them short-lived viral root
objects); sessions of ``session_length`` candidates are sampled by a relevance-biased logging
policy; each task's logit combines the viewer-post affinity, post quality, history effects
(the viewer's past interactions with the actor), hashtag overlap, an affinity x activity
interaction, position bias, content type and virality; dwell time is log-normal per context and
``long_dwell`` is dwell above the day's 90th percentile of its (position bucket, content type,
platform) cluster (the thresholds of every day are saved in ``long_dwell_thresholds.json``).
Interactions of day d enter the histories seen from day d + 1 on.
Deterministic given the seed. Days are split into train / valid / test (the last days test).

Options for the incremental, explore/exploit, wide-popularity and replay experiments (their
defaults leave the output unchanged): ``randomize_top_n`` shuffles the top N positions of every
session uniformly (the pseudo-random logging policy of the offline replay metric, LiRank §5.2),
on every day or, with ``randomize_days="test"``, on the test days only;
``FeedSimulator.simulate_day(day, ranker)`` lets a ranking model choose each session's
``session_length`` posts among ``candidates_per_session`` candidates (a bandit replay);
``likes_feature="logged"`` makes the likes-so-far feature count the likes a post received when
shown on earlier days instead of drawing it from the post's hidden quality;
``viral_decay_hours`` sets how fast a viral post's boost fades; ``post_lifetime_days`` (default
2) sets how many days a post stays a candidate and ``quality_std`` (default 0.5) the spread of
the posts' hidden quality (a bandit replay where unseen posts hide real differences); and
``session_satiation`` makes the outcome of an impression depend on the rest of its session
(the set-wise effect LiGR-style scoring learns, ``lirank_tf.layers.setwise_attention``): the
logit of every task (click, like, comment, share, vote) drops by ``session_satiation`` times
the number of OTHER impressions of the same session with the same content type, earlier or
later in the session alike (the member sees the whole list). The ``oracle_*`` probabilities
include it; long dwell feels it only through the sampled click (its dwell model is unchanged).
``affinity_scale`` (default 1) weighs the member-post affinity in every task's logit (below 1:
outcomes depend more on the post than on the member). For bandit replays a ranked day can be
played in ``periods`` with ``feedback`` between them (the 8-hourly RO refits of LiRank §3.9,
see `FeedSimulator.simulate_day`), and a ranker may ask `FeedSimulator.candidate_probabilities`
for the true probabilities of the candidates it scores (an oracle reference).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter, deque
from pathlib import Path
from typing import Callable

import fastavro
import numpy as np

from lirank_tf.sim.feed_config import WORLD_QUALITY_STD, FeedSimulatorConfig
from lirank_tf.sim.world import CONTENT_TYPES, PLATFORMS, Posts, World, concat_posts
from lirank_tf.labels import DailyLongDwellThresholds, long_dwell_clusters, long_dwell_labels

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "schemas" / "feed.avsc"
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
THRESHOLDS_FILE = "long_dwell_thresholds.json"

# scores candidate records (features only, position 0) -> one score per record, higher first
Ranker = Callable[[list[dict]], np.ndarray]
# receives the labelled records of one period of a day ranked with ``periods`` > 1
Feedback = Callable[[list[dict]], None]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def session_repeats(session_id: np.ndarray, content_type: np.ndarray) -> np.ndarray:
    """Per impression: how many OTHER impressions of its session share its content type."""
    keys = np.stack([session_id, content_type], axis=1)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return (counts[inverse.reshape(-1)] - 1).astype(np.float64)


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
        self.long_dwell = DailyLongDwellThresholds(config.long_dwell_percentile)
        self.post_likes = Counter()           # likes per post id in the days simulated so far
        self._candidates: dict | None = None  # the latent terms of the records a ranker scores

    def simulate_day(self, day: int, ranker: Ranker | None = None, periods: int = 1,
                     feedback: Feedback | None = None) -> list[dict]:
        """The impressions of ``day``, in session order.

        Without ``ranker`` each session shows the logging policy's top ``session_length`` posts.
        With ``ranker``, each session's ``candidates_per_session`` most relevant posts (for the
        logging policy) are given to ``ranker`` as records without labels (position 0), and the
        ``session_length`` best-scored ones are shown, in score order.

        ``periods`` (with a ranker; default 1) splits the day into that many equal spans of
        hours (3: every 8 hours, the refresh rate of LiRank's root-object model, §3.9), played
        one after the other: the sessions of a span are ranked, shown and answered, the
        likes-so-far counts (``likes_feature="logged"``) take in the span's likes, and
        ``feedback`` (if given) receives the span's labelled records, so the ranker of the next
        span can learn from them. Records then come in period order, and each one's
        ``long_dwell`` label is added at the end of the day (its thresholds are that day's
        percentiles; the records passed to ``feedback`` get it then, in place).
        """
        if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= 24:
            raise ValueError(f"periods must be an int in [1, 24], got {periods!r}")
        if ranker is None and (periods != 1 or feedback is not None):
            raise ValueError("periods and feedback need a ranker: without one the logging "
                             f"policy shows the whole day at once (periods={periods!r})")
        cfg, rng, world = self.config, self.rng, self.world
        if day > 0:
            world.drift(cfg.daily_drift)
        today = world.create_posts(cfg.posts_per_day, cfg.viral_fraction)
        if cfg.quality_std != WORLD_QUALITY_STD:      # rescaled: the same random stream
            today = dataclasses.replace(
                today, quality=today.quality * (cfg.quality_std / WORLD_QUALITY_STD))
        self.actor_posts.update(today.actor.tolist())
        self.posts_by_day = [(d, p) for d, p in self.posts_by_day
                             if d > day - cfg.post_lifetime_days] + [(day, today)]
        pool = concat_posts([p for _, p in self.posts_by_day])
        pool_day = np.concatenate([np.full(len(p.ids), d) for d, p in self.posts_by_day])

        n_sessions = cfg.impressions_per_day // cfg.session_length
        activity = world.member_activity
        viewers = rng.choice(cfg.num_members, size=n_sessions, p=activity / activity.sum())
        hours = rng.integers(0, 24, n_sessions)
        affinity_all = world.member_factor[viewers] @ pool.factor.T
        policy = 1.0 * affinity_all + rng.gumbel(0.0, 1.0, affinity_all.shape)
        if ranker is None:
            chosen = self._randomize_top(np.argsort(-policy, axis=1)[:, :cfg.session_length], day)
            shown = self._impressions(day, pool, pool_day, viewers, hours, chosen)
            oracle, labels, dwell = self._outcomes(day, shown)
            records = self._feature_records(day, shown, pool, self._dense(shown))
            _label_records(records, oracle, labels, dwell, TASKS)
            self.post_likes.update(pool.ids[shown["post"]][labels["like"] == 1].tolist())
        else:
            shown, records, oracle, labels = self._ranked_periods(
                day, pool, pool_day, viewers, hours, policy, ranker, periods, feedback)
        _label_records(records, oracle, labels, None, ("long_dwell",))
        self._update_histories(shown["viewer"], shown["actor"], pool.ids[shown["post"]], labels)
        return records

    def randomizes(self, day: int) -> bool:
        """Whether the sessions of ``day`` are logged with their top N positions shuffled."""
        cfg = self.config
        return cfg.randomize_top_n > 1 and (cfg.randomize_days == "all"
                                            or day >= cfg.num_days - cfg.test_days)

    def _randomize_top(self, order: np.ndarray, day: int) -> np.ndarray:
        """``order`` with the first ``randomize_top_n`` columns of every row shuffled (on the
        days the config randomises)."""
        top = self.config.randomize_top_n
        if not self.randomizes(day):
            return order
        order = order.copy()
        order[:, :top] = self.rng.permuted(order[:, :top], axis=1)
        return order

    def _ranked_periods(self, day, pool, pool_day, viewers, hours, policy, ranker, periods,
                        feedback):
        """The day's sessions ranked by ``ranker`` and answered one period after the other.

        Returns: (shown impressions, labelled records, oracle, labels) of the whole day, in
        period order; ``long_dwell`` is in ``labels`` and ``oracle`` but not yet in the records.
        """
        period = hours * periods // 24
        order = np.argsort(period, kind="stable")     # the identity for one period
        viewers, hours, policy, period = viewers[order], hours[order], policy[order], period[order]
        parts = []
        for span in range(periods):
            sessions = np.flatnonzero(period == span)
            if sessions.size == 0:
                continue
            shown, records = self._ranked(day, pool, pool_day, viewers[sessions], hours[sessions],
                                          policy[sessions], ranker, int(sessions[0]))
            oracle, labels = self._task_outcomes(shown)
            dwell_mean, dwell = self._dwell(shown, labels["click"])
            _label_records(records, oracle, labels, dwell, TASKS)
            self.post_likes.update(pool.ids[shown["post"]][labels["like"] == 1].tolist())
            if feedback is not None:
                feedback(records)
            parts.append((shown, records, oracle, labels, dwell_mean, dwell))
        shown, oracle, labels = ({key: np.concatenate([part[k][key] for part in parts])
                                  for key in parts[0][k]} for k in (0, 2, 3))
        records = [record for part in parts for record in part[1]]
        dwell_mean, dwell = (np.concatenate([part[k] for part in parts]) for k in (4, 5))
        labels["long_dwell"], oracle["long_dwell"] = self._long_dwell(day, shown, dwell_mean,
                                                                      dwell)
        return shown, records, oracle, labels

    def _ranked(self, day, pool, pool_day, viewers, hours, policy, ranker, first_session=0):
        """Impressions and feature records of the posts ``ranker`` puts first in each session
        (sessions numbered from ``first_session``)."""
        cfg = self.config
        width = cfg.candidates_per_session
        if width < cfg.session_length:
            raise ValueError(f"candidates_per_session ({width}) must be >= session_length "
                             f"({cfg.session_length}) to rank with a ranker")
        candidates = np.argsort(-policy, axis=1)[:, :width]
        everyone = self._impressions(day, pool, pool_day, viewers, hours, candidates,
                                     first_session)
        everyone["position"] = np.zeros_like(everyone["position"])
        records = self._feature_records(day, everyone, pool, self._dense(everyone))
        self._candidates = everyone
        try:
            scores = np.asarray(ranker(records), dtype=np.float64).reshape(-1)
        finally:
            self._candidates = None
        if scores.shape != (len(records),):
            raise ValueError(f"ranker must return one score per candidate record ({len(records)}), "
                             f"got shape {scores.shape}")
        best = np.argsort(-scores.reshape(len(viewers), width), axis=1, kind="stable")
        best = self._randomize_top(best[:, :cfg.session_length], day)
        picked = (np.arange(len(viewers))[:, None] * width + best).reshape(-1)
        shown = {key: values[picked] for key, values in everyone.items()}
        shown["position"] = np.tile(np.arange(cfg.session_length), len(viewers))
        records = [dict(records[i], position=int(p)) for i, p in zip(picked, shown["position"])]
        return shown, records

    def _impressions(self, day, pool, pool_day, viewers, hours, chosen,
                     first_session: int = 0) -> dict[str, np.ndarray]:
        """Per impression (session-major): who sees which post where, and the latent terms."""
        cfg, rng, world = self.config, self.rng, self.world
        n_sessions, width = chosen.shape
        viewer = np.repeat(viewers, width)
        hour = np.repeat(hours, width)
        post = chosen.reshape(-1)
        n = len(post)
        actor = pool.actor[post]
        age = np.maximum(0.5, (day - pool_day[post]) * 24.0 + hour - pool.hour[post])
        return {
            "viewer": viewer, "hour": hour, "post": post, "post_id": pool.ids[post],
            "actor": actor, "age": age,
            "position": np.tile(np.arange(width), n_sessions),
            "session_id": np.repeat(day * 1_000_000 + first_session + np.arange(n_sessions), width),
            "affinity": np.einsum("ij,ij->i", world.member_factor[viewer], pool.factor[post]),
            "viral_boost": np.where(pool.viral[post],
                                    1.5 * np.exp(-age / cfg.viral_decay_hours), 0.0),
            "tag_match": np.array([len(np.intersect1d(world.member_hashtags[v], pool.hashtags[p]))
                                   for v, p in zip(viewer, post)], dtype=np.float64),
            "hist_match": np.array([sum(1 for _, _, a in self.history[v] if a == actor[i])
                                    for i, v in enumerate(viewer)], dtype=np.float64),
            "quality": pool.quality[post],
            "content_type": pool.content_type[post],
            "platform": rng.choice(len(PLATFORMS), size=n, p=[0.4, 0.35, 0.25]),
        }

    def _outcomes(self, day: int, imp: dict) -> tuple[dict, dict, np.ndarray]:
        """True probabilities, sampled labels and dwell times of the shown impressions."""
        oracle, labels = self._task_outcomes(imp)
        dwell_mean, dwell = self._dwell(imp, labels["click"])
        labels["long_dwell"], oracle["long_dwell"] = self._long_dwell(day, imp, dwell_mean, dwell)
        return oracle, labels, dwell

    def _task_outcomes(self, imp: dict) -> tuple[dict, dict]:
        """True probabilities and sampled labels of every task but long dwell."""
        oracle = self._task_probabilities(imp, self.config.session_satiation)
        n = len(imp["post"])
        labels = {task: (self.rng.random(n) < oracle[task]).astype(np.int32) for task in oracle}
        return oracle, labels

    def _task_probabilities(self, imp: dict, satiation: float) -> dict[str, np.ndarray]:
        """The true probability of every task but long dwell (no random draws)."""
        position, content_type = imp["position"], imp["content_type"]
        affinity = imp["affinity"] * self.config.affinity_scale
        activity_term = np.log(self.world.member_activity[imp["viewer"]])
        sated = satiation * session_repeats(imp["session_id"], content_type) if satiation else 0.0
        oracle = {}
        for task, (bias, w_aff, w_q, w_hist, w_tag, w_viral, w_pos) in TASK_COEFFICIENTS.items():
            logit = (bias + w_aff * affinity + w_q * imp["quality"]
                     + w_hist * np.minimum(imp["hist_match"], 3) / 3
                     + w_tag * imp["tag_match"] + w_viral * imp["viral_boost"] - w_pos * position
                     + 0.8 * affinity * activity_term
                     + np.asarray(CONTENT_TYPE_EFFECT[task])[content_type] - sated)
            oracle[task] = _sigmoid(logit)
        return oracle

    def candidate_probabilities(self) -> dict[str, np.ndarray]:
        """While a ranker scores candidates: the true probability of click, like, comment,
        share and vote of each candidate record it was given (at position 0, without session
        satiation, which depends on what is shown; long dwell needs the day's thresholds and is
        left out) — what an oracle ranker would rank by, for benchmarks."""
        if self._candidates is None:
            raise RuntimeError("candidate_probabilities is only available inside a ranker call")
        return self._task_probabilities(self._candidates, 0.0)

    def _dwell(self, imp: dict, clicks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean log dwell time and the sampled dwell time (seconds) of every impression."""
        content_type, position = imp["content_type"], imp["position"]
        dwell_mean = (1.5 + np.array([0.0, 0.3, 1.0, 0.8])[content_type]
                      + np.array([0.2, 0.0, -0.1])[imp["platform"]] - 0.03 * position
                      + 1.2 * imp["affinity"] + 0.3 * imp["quality"] + 0.4 * clicks)
        return dwell_mean, np.exp(dwell_mean + self.rng.normal(0.0, DWELL_SIGMA, len(position)))

    def _long_dwell(self, day: int, imp: dict, dwell_mean: np.ndarray, dwell: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Long-dwell labels and probabilities against the day's per-cluster thresholds."""
        clusters = long_dwell_clusters(imp["position"], imp["content_type"], imp["platform"])
        thresholds = self.long_dwell.fit_day(day, dwell, clusters)
        limit = np.array([thresholds[int(c)] for c in clusters])
        z = (np.log(limit) - dwell_mean) / DWELL_SIGMA
        probability = 0.5 * np.array([math.erfc(v / math.sqrt(2.0)) for v in z])
        return long_dwell_labels(dwell, clusters, thresholds), probability

    def _dense(self, imp: dict) -> np.ndarray:
        """The ``dense_features`` vector of every impression (count / affinity features)."""
        rng, world = self.rng, self.world
        n = len(imp["post"])
        viewer, actor, age = imp["viewer"], imp["actor"], imp["age"]
        if self.config.likes_feature == "logged":
            likes_so_far = np.array([self.post_likes[int(p)] for p in imp["post_id"]], np.float64)
        else:
            likes_so_far = rng.poisson(np.exp(1.5 + imp["quality"] + imp["viral_boost"]
                                              + 0.1 * np.minimum(age, 24)))
        dense = np.stack([
            world.follower_count[actor].astype(np.float64), world.member_activity[viewer], age,
            likes_so_far, imp["tag_match"], imp["affinity"] + rng.normal(0.0, 0.3, n),
            self.connections[viewer],
            np.array([self.actor_posts[a] for a in actor], dtype=np.float64), imp["hist_match"],
            *(rng.lognormal(1.0, 1.0, n) for _ in range(4)), *(rng.normal(0.0, 1.0, n) for _ in range(3)),
        ], axis=1).astype(np.float32)
        assert dense.shape[1] == DENSE_SIZE
        return dense

    def _feature_records(self, day: int, imp: dict, pool: Posts, dense: np.ndarray) -> list[dict]:
        """Avro records of the impressions' context and features (labels are added later)."""
        rng, world = self.rng, self.world
        records = []
        for i in range(len(imp["post"])):
            v, a, p = int(imp["viewer"][i]), int(imp["actor"][i]), int(imp["post"][i])
            hist = list(self.history[v])
            actor_hist = [h[2] for h in self.history[a]]
            follower = None if rng.random() < 0.1 else int(world.follower_count[a])
            records.append({
                "day": day, "hour": int(imp["hour"][i]),
                "session_id": int(imp["session_id"][i]),
                "position": int(imp["position"][i]), "platform": PLATFORMS[imp["platform"][i]],
                "content_type": CONTENT_TYPES[imp["content_type"][i]],
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
            })
        return records

    def _update_histories(self, viewer, actor, post_ids, labels) -> None:
        """Day d's interactions become history from day d + 1 (strongest action kept)."""
        order = ("share", "comment", "like", "vote", "long_dwell", "click")
        for i in range(len(viewer)):
            for task in order:
                if labels[task][i]:
                    self.history[int(viewer[i])].append((int(post_ids[i]), ACTION_OF_TASK[task], int(actor[i])))
                    break


def _label_records(records: list[dict], oracle: dict, labels: dict, dwell: np.ndarray | None,
                   tasks) -> None:
    """Writes the labels and true probabilities of ``tasks`` (and the dwell times) in place."""
    for i, record in enumerate(records):
        if dwell is not None:
            record["dwell_time_seconds"] = float(dwell[i])
        for task in tasks:
            record[task] = int(labels[task][i])
            record[f"oracle_{task}"] = float(oracle[task][i])


def write_day_file(path: str | Path, records: list[dict], codec: str = "deflate") -> Path:
    """Writes one day's records as an Avro file with the Feed schema."""
    schema = fastavro.parse_schema(json.loads(SCHEMA_PATH.read_text()))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, schema, records, codec=codec)
    return Path(path)


def simulate_feed(output_dir: str | Path, config: FeedSimulatorConfig | None = None) -> dict[str, list[str]]:
    """Writes one Avro file per simulated day under ``output_dir``, a ``manifest.json`` and the
    long-dwell thresholds of every day (``long_dwell_thresholds.json``).

    Returns: {"train": [...], "valid": [...], "test": [...]} file paths.
    """
    config = config or FeedSimulatorConfig()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    simulator = FeedSimulator(config)
    first_valid = config.num_days - config.valid_days - config.test_days
    first_test = config.num_days - config.test_days
    manifest: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for day in range(config.num_days):
        path = write_day_file(output_dir / f"day_{day:03d}.avro", simulator.simulate_day(day),
                              config.codec)
        split = "train" if day < first_valid else "valid" if day < first_test else "test"
        manifest[split].append(str(path))
    (output_dir / "manifest.json").write_text(json.dumps(
        {"config": dataclasses.asdict(config), "files": manifest}, indent=2))
    simulator.long_dwell.save(output_dir / THRESHOLDS_FILE)
    return manifest
