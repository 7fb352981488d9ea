"""Settings of the Feed simulator (`lirank_tf.sim.feed`), validated on creation."""

from __future__ import annotations

import dataclasses

WORLD_QUALITY_STD = 0.5     # the spread World.create_posts draws post quality with


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
    # the top N positions of every session in uniformly random order (0 or 1: off), LiRank §5.2
    randomize_top_n: int = 0
    # the days randomize_top_n applies to: "all", or "test" (only the test days, whose sessions
    # the replay metric evaluates; the training days keep the logging policy's order)
    randomize_days: str = "all"
    # candidates a ranker chooses each session's posts from (only with simulate_day(ranker=...))
    candidates_per_session: int = 30
    # time constant (hours) of the exponential decay of a viral post's boost
    viral_decay_hours: float = 6.0
    # the "likes so far" dense feature: "oracle" (drawn from the post's true quality and boost)
    # or "logged" (the likes the post actually received in earlier days' impressions, so a post
    # nobody was shown has none: what exploration has to fix)
    likes_feature: str = "oracle"
    # logit drop per other impression of the same session with the same content type (0: off)
    session_satiation: float = 0.0
    # days a post stays a candidate: the day it is created and the next (lifetime - 1) days
    post_lifetime_days: int = 2
    # standard deviation of the posts' hidden quality (a logit term of every task)
    quality_std: float = WORLD_QUALITY_STD
    # weight of the member-post affinity in every task's logit (the personalised part of an
    # outcome; 1: the default world, smaller: outcomes depend more on the post than the member)
    affinity_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.num_days < self.valid_days + self.test_days + 1:
            raise ValueError(f"num_days must leave at least one training day, got num_days="
                             f"{self.num_days}, valid_days={self.valid_days}, test_days={self.test_days}")
        if self.codec not in ("null", "deflate", "snappy"):
            raise ValueError(f"codec must be null, deflate or snappy, got {self.codec!r}")
        if self.impressions_per_day < self.session_length:
            raise ValueError(f"impressions_per_day must be >= session_length, got {self.impressions_per_day}")
        if not 0 <= self.randomize_top_n <= self.session_length:
            raise ValueError("randomize_top_n must be in [0, session_length="
                             f"{self.session_length}], "
                             f"got {self.randomize_top_n}")
        if self.randomize_days not in ("all", "test"):
            raise ValueError(f"randomize_days must be 'all' or 'test', got {self.randomize_days!r}")
        if self.likes_feature not in ("oracle", "logged"):
            raise ValueError("likes_feature must be 'oracle' or 'logged', got "
                             f"{self.likes_feature!r}")
        if isinstance(self.session_satiation, bool) or not isinstance(
                self.session_satiation, (int, float)) or not self.session_satiation >= 0:
            raise ValueError("session_satiation must be a number >= 0, got "
                             f"{self.session_satiation!r}")
        if not self.viral_decay_hours > 0:
            raise ValueError(f"viral_decay_hours must be positive, got {self.viral_decay_hours}")
        if isinstance(self.post_lifetime_days, bool) or not isinstance(
                self.post_lifetime_days, int) or self.post_lifetime_days < 1:
            raise ValueError("post_lifetime_days must be an int >= 1, got "
                             f"{self.post_lifetime_days!r}")
        if isinstance(self.quality_std, bool) or not isinstance(
                self.quality_std, (int, float)) or not self.quality_std >= 0:
            raise ValueError(f"quality_std must be a number >= 0, got {self.quality_std!r}")
        if isinstance(self.affinity_scale, bool) or not isinstance(
                self.affinity_scale, (int, float)) or not self.affinity_scale >= 0:
            raise ValueError(f"affinity_scale must be a number >= 0, got {self.affinity_scale!r}")
        if self.candidates_per_session < 1:
            raise ValueError("candidates_per_session must be positive, got "
                             f"{self.candidates_per_session}")
