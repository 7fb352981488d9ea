"""The latent world of the Feed simulator: members, actors, hashtags and posts."""

from __future__ import annotations

import dataclasses

import numpy as np

CONTENT_TYPES = ("text", "image", "video", "article")
PLATFORMS = ("web", "ios", "android")


@dataclasses.dataclass
class Posts:
    """Posts created on one day (all arrays indexed by post)."""

    ids: np.ndarray          # global post index
    actor: np.ndarray        # member index of the creator
    hashtags: list[np.ndarray]
    factor: np.ndarray       # latent factor [n, k]
    quality: np.ndarray      # per-post quality
    content_type: np.ndarray  # index into CONTENT_TYPES
    viral: np.ndarray        # bool: a short-lived viral root object
    hour: np.ndarray         # creation hour of the day


class World:
    """Members with latent interests, actors with audiences, and a stream of posts."""

    def __init__(self, num_members: int, num_hashtags: int, latent_dim: int,
                 rng: np.random.Generator) -> None:
        self.rng = rng
        self.latent_dim = latent_dim
        scale = 1.0 / np.sqrt(latent_dim)
        self.member_factor = rng.normal(0.0, scale, (num_members, latent_dim))
        self.member_activity = rng.lognormal(0.0, 0.7, num_members)
        self.hashtag_factor = rng.normal(0.0, scale * 1.5, (num_hashtags, latent_dim))
        self.is_actor = rng.random(num_members) < 0.3
        self.actors = np.flatnonzero(self.is_actor)
        followers = rng.lognormal(5.0, 1.6, num_members).astype(np.int64)
        self.follower_count = np.where(self.is_actor, followers, 0)
        # interests: the top hashtags of each member, by affinity plus noise
        affinity = self.member_factor @ self.hashtag_factor.T + rng.gumbel(0, 0.3, (num_members, num_hashtags))
        self.member_hashtags = np.argsort(-affinity, axis=1)[:, :5]
        self.next_post_id = 0

    def drift(self, scale: float) -> None:
        """Day-to-day drift of member interests."""
        self.member_factor += self.rng.normal(0.0, scale / np.sqrt(self.latent_dim),
                                              self.member_factor.shape)

    def create_posts(self, count: int, viral_fraction: float) -> Posts:
        rng = self.rng
        popularity = np.log1p(self.follower_count[self.actors]).astype(np.float64)
        actor = rng.choice(self.actors, size=count, p=popularity / popularity.sum())
        hashtags = []
        factor = np.empty((count, self.latent_dim))
        for i, a in enumerate(actor):
            tags = rng.choice(self.member_hashtags[a], size=rng.integers(1, 4), replace=False)
            hashtags.append(tags)
            factor[i] = (self.hashtag_factor[tags].mean(axis=0) + 0.5 * self.member_factor[a]
                         + rng.normal(0.0, 0.2 / np.sqrt(self.latent_dim), self.latent_dim))
        ids = np.arange(self.next_post_id, self.next_post_id + count)
        self.next_post_id += count
        return Posts(ids=ids, actor=actor, hashtags=hashtags, factor=factor,
                     quality=rng.normal(0.0, 0.5, count),
                     content_type=rng.choice(len(CONTENT_TYPES), size=count, p=[0.4, 0.3, 0.2, 0.1]),
                     viral=rng.random(count) < viral_fraction,
                     hour=rng.integers(0, 24, count))


def concat_posts(parts: list[Posts]) -> Posts:
    """The union of several days' posts."""
    return Posts(
        ids=np.concatenate([p.ids for p in parts]),
        actor=np.concatenate([p.actor for p in parts]),
        hashtags=[h for p in parts for h in p.hashtags],
        factor=np.concatenate([p.factor for p in parts]),
        quality=np.concatenate([p.quality for p in parts]),
        content_type=np.concatenate([p.content_type for p in parts]),
        viral=np.concatenate([p.viral for p in parts]),
        hour=np.concatenate([p.hour for p in parts]),
    )
