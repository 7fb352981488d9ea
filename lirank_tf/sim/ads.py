"""Ads CTR simulator: writes LinkedIn-Ads-like impressions as Avro files (LiRank §3.2, §5.4).

The generative model is known, so each record carries the true probability of every label
(``oracle_*``). A fixed world of members (latent interests, industry, seniority, a personal
click propensity), advertisers (industry, brand strength), campaigns (targeted industry, bid,
chargeability category) and ads (format, creative quality) is simulated day by day: member
interests drift, each request runs an auction over random candidate ads (bid x relevance with
noise, the logging policy), and the winning ad is shown at a feed position on a placement and
device. Three actions happen independently given the features:

* a website visit (landing-page click),
* a social action (like, comment, share of the sponsored post),
* another engagement (video view, lead-form open, follow),

each with its own logit (member-ad affinity, creative quality, industry match, member and
advertiser effects, format, placement, device, position). Advertisers count different actions
as chargeable clicks; the three chargeability categories give the three labels:
``website_click`` (visit), ``social_click`` (visit or social) and ``engagement_click`` (any);
``chargeable_click`` is the label of the campaign's own category. Dense features include
running per-ad and per-member click statistics of earlier days. Deterministic given the seed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from lirank_tf.sim.day_files import (check_days_and_codec, check_positive, sigmoid,
                                     write_day_files)

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "schemas" / "ads.avsc"
CHARGEABILITY = ("website", "social", "engagement")
LABELS = ("website_click", "social_click", "engagement_click")
AD_FORMATS = ("image", "video", "carousel", "text")
PLACEMENTS = ("feed", "right_rail", "messaging")
DEVICES = ("web", "ios", "android")
NUM_SENIORITIES = 7
DENSE_SIZE = 12
# per action: bias, affinity, quality, industry match, brand, member propensity, position decay
ACTION_COEFFICIENTS = {
    "visit": (-4.5, 2.8, 0.6, 0.5, 0.3, 1.0, 0.15),
    "social": (-5.0, 2.0, 0.8, 0.2, 0.5, 0.6, 0.10),
    "engagement": (-4.6, 1.5, 0.4, 0.3, 0.2, 0.4, 0.05),
}
FORMAT_EFFECT = {"visit": (0.0, -0.2, 0.1, 0.2), "social": (0.2, 0.5, 0.3, -0.3),
                 "engagement": (-0.5, 1.2, 0.3, -0.8)}
PLACEMENT_EFFECT = {"visit": (0.0, -0.5, 0.3), "social": (0.0, -2.0, -2.0),
                    "engagement": (0.0, -1.0, -1.0)}
DEVICE_EFFECT = {"visit": (0.1, -0.1, 0.0), "social": (-0.1, 0.1, 0.1),
                 "engagement": (-0.2, 0.2, 0.1)}


@dataclasses.dataclass
class AdsSimulatorConfig:
    num_days: int = 8
    valid_days: int = 1
    test_days: int = 1
    impressions_per_day: int = 12_000
    num_members: int = 3_000
    num_advertisers: int = 120
    campaigns_per_advertiser: int = 3
    ads_per_campaign: int = 3
    num_industries: int = 20
    candidates_per_request: int = 20
    latent_dim: int = 8
    daily_drift: float = 0.05
    codec: str = "deflate"
    seed: int = 0

    def __post_init__(self) -> None:
        check_days_and_codec(self.num_days, self.valid_days, self.test_days, self.codec)
        check_positive(self, "impressions_per_day", "num_members", "num_advertisers",
                       "campaigns_per_advertiser", "ads_per_campaign", "num_industries",
                       "candidates_per_request", "latent_dim")
        if self.daily_drift < 0:
            raise ValueError(f"daily_drift must be >= 0, got {self.daily_drift!r}")


class AdsWorld:
    """Members, advertisers, campaigns and ads with latent factors (all index arrays)."""

    def __init__(self, config: AdsSimulatorConfig, rng: np.random.Generator) -> None:
        k, scale = config.latent_dim, 1.0 / np.sqrt(config.latent_dim)
        self.member_factor = rng.normal(0.0, scale, (config.num_members, k))
        self.member_industry = rng.integers(0, config.num_industries, config.num_members)
        self.member_seniority = rng.integers(0, NUM_SENIORITIES, config.num_members)
        self.member_activity = rng.lognormal(0.0, 0.7, config.num_members)
        self.member_propensity = rng.normal(0.0, 0.5, config.num_members)
        self.member_connections = rng.lognormal(4.0, 1.0, config.num_members)

        self.advertiser_industry = rng.integers(0, config.num_industries, config.num_advertisers)
        self.advertiser_factor = rng.normal(0.0, scale, (config.num_advertisers, k))
        self.advertiser_brand = rng.normal(0.0, 0.4, config.num_advertisers)
        self.advertiser_followers = rng.lognormal(7.0, 1.5, config.num_advertisers)

        num_campaigns = config.num_advertisers * config.campaigns_per_advertiser
        self.campaign_advertiser = np.repeat(np.arange(config.num_advertisers),
                                             config.campaigns_per_advertiser)
        own = self.advertiser_industry[self.campaign_advertiser]
        self.campaign_target_industry = np.where(
            rng.random(num_campaigns) < 0.6, own, rng.integers(0, config.num_industries, num_campaigns))
        self.campaign_chargeability = rng.choice(len(CHARGEABILITY), num_campaigns, p=[0.5, 0.3, 0.2])
        self.campaign_bid = rng.lognormal(1.0, 0.5, num_campaigns)
        self.campaign_budget = rng.lognormal(5.0, 1.0, num_campaigns)
        self.campaign_factor = (self.advertiser_factor[self.campaign_advertiser]
                                + rng.normal(0.0, 0.5 * scale, (num_campaigns, k)))

        num_ads = num_campaigns * config.ads_per_campaign
        self.ad_campaign = np.repeat(np.arange(num_campaigns), config.ads_per_campaign)
        self.ad_format = rng.choice(len(AD_FORMATS), num_ads, p=[0.4, 0.25, 0.2, 0.15])
        self.ad_quality = rng.normal(0.0, 0.5, num_ads)
        self.ad_factor = (self.campaign_factor[self.ad_campaign]
                          + rng.normal(0.0, 0.3 * scale, (num_ads, k)))
        self.ad_created_day = -rng.integers(0, 30, num_ads)


class AdsSimulator:
    def __init__(self, config: AdsSimulatorConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.world = AdsWorld(config, self.rng)
        world, rng = self.world, self.rng
        # running click statistics of earlier days (features, not labels of the current day),
        # started from a simulated past so that day 0 already has informative values
        self.ad_impressions = rng.poisson(40.0, len(world.ad_campaign)).astype(np.float64)
        self.ad_clicks = rng.binomial(self.ad_impressions.astype(np.int64),
                                      sigmoid(-3.0 + world.ad_quality)).astype(np.float64)
        self.member_impressions = rng.poisson(10.0 * world.member_activity).astype(np.float64)
        self.member_clicks = rng.binomial(self.member_impressions.astype(np.int64),
                                          sigmoid(-3.0 + world.member_propensity)).astype(np.float64)

    def simulate_day(self, day: int) -> list[dict]:
        cfg, rng, world = self.config, self.rng, self.world
        if day > 0:
            world.member_factor += rng.normal(0.0, cfg.daily_drift / np.sqrt(cfg.latent_dim),
                                              world.member_factor.shape)
        n = cfg.impressions_per_day
        num_ads = len(world.ad_campaign)
        member = rng.choice(cfg.num_members, n, p=world.member_activity / world.member_activity.sum())
        candidates = rng.integers(0, num_ads, (n, cfg.candidates_per_request))
        relevance = np.einsum("nk,nck->nc", world.member_factor[member], world.ad_factor[candidates])
        bids = world.campaign_bid[world.ad_campaign[candidates]]
        auction = np.log(bids) + 2.0 * relevance + rng.gumbel(0.0, 1.0, relevance.shape)
        ad = candidates[np.arange(n), np.argmax(auction, axis=1)]
        campaign = world.ad_campaign[ad]
        advertiser = world.campaign_advertiser[campaign]
        placement = rng.choice(len(PLACEMENTS), n, p=[0.7, 0.2, 0.1])
        device = rng.choice(len(DEVICES), n, p=[0.4, 0.35, 0.25])
        position = rng.integers(0, 5, n)
        hour = rng.integers(0, 24, n)
        fmt = world.ad_format[ad]

        affinity = np.einsum("nk,nk->n", world.member_factor[member], world.ad_factor[ad])
        industry_match = (world.member_industry[member] == world.campaign_target_industry[campaign])
        probability, happened = {}, {}
        for action, (bias, w_aff, w_q, w_ind, w_brand, w_prop, w_pos) in ACTION_COEFFICIENTS.items():
            logit = (bias + w_aff * affinity + w_q * world.ad_quality[ad] + w_ind * industry_match
                     + w_brand * world.advertiser_brand[advertiser]
                     + w_prop * world.member_propensity[member] - w_pos * position
                     + 0.5 * affinity * np.log(world.member_activity[member])
                     + np.asarray(FORMAT_EFFECT[action])[fmt]
                     + np.asarray(PLACEMENT_EFFECT[action])[placement]
                     + np.asarray(DEVICE_EFFECT[action])[device])
            probability[action] = sigmoid(logit)
            happened[action] = rng.random(n) < probability[action]
        p_visit, p_social = probability["visit"], probability["social"]
        p_engage = probability["engagement"]
        oracle = {"website_click": p_visit,
                  "social_click": 1.0 - (1.0 - p_visit) * (1.0 - p_social),
                  "engagement_click": 1.0 - (1.0 - p_visit) * (1.0 - p_social) * (1.0 - p_engage)}
        labels = {"website_click": happened["visit"],
                  "social_click": happened["visit"] | happened["social"],
                  "engagement_click": happened["visit"] | happened["social"] | happened["engagement"]}
        category = world.campaign_chargeability[campaign]
        own_label = np.stack([labels[name] for name in LABELS], 1)[np.arange(n), category]
        own_oracle = np.stack([oracle[name] for name in LABELS], 1)[np.arange(n), category]

        ad_ctr = (self.ad_clicks[ad] + 1.0) / (self.ad_impressions[ad] + 30.0)
        member_ctr = (self.member_clicks[member] + 1.0) / (self.member_impressions[member] + 30.0)
        dense = np.stack([
            world.campaign_bid[campaign], day - world.ad_created_day[ad], self.ad_impressions[ad],
            ad_ctr, self.member_clicks[member], member_ctr, world.member_activity[member],
            world.advertiser_followers[advertiser], world.member_connections[member],
            affinity + rng.normal(0.0, 0.3, n), rng.lognormal(1.0, 1.0, n), rng.normal(0.0, 1.0, n),
        ], axis=1).astype(np.float32)

        records = []
        for i in range(n):
            m, a, c, adv = int(member[i]), int(ad[i]), int(campaign[i]), int(advertiser[i])
            record = {
                "day": day, "hour": int(hour[i]), "request_id": day * 10_000_000 + i,
                "position": int(position[i]), "placement": PLACEMENTS[placement[i]],
                "device": DEVICES[device[i]], "member_id": f"member:{m}",
                "member_industry": f"industry:{int(world.member_industry[m])}",
                "member_seniority": f"seniority:{int(world.member_seniority[m])}",
                "ad_id": f"ad:{a}", "campaign_id": f"campaign:{c}", "advertiser_id": f"advertiser:{adv}",
                "advertiser_industry": f"industry:{int(world.advertiser_industry[adv])}",
                "ad_format": AD_FORMATS[fmt[i]], "chargeability": CHARGEABILITY[category[i]],
                "campaign_daily_budget": None if rng.random() < 0.1 else float(world.campaign_budget[c]),
                "dense_features": dense[i].tolist(),
                "social_action": int(happened["social"][i]),
                "engagement_action": int(happened["engagement"][i]),
                "chargeable_click": int(own_label[i]), "oracle_chargeable_click": float(own_oracle[i]),
            }
            for name in LABELS:
                record[name] = int(labels[name][i])
                record[f"oracle_{name}"] = float(oracle[name][i])
            records.append(record)
        np.add.at(self.ad_impressions, ad, 1.0)
        np.add.at(self.ad_clicks, ad, labels["website_click"])
        np.add.at(self.member_impressions, member, 1.0)
        np.add.at(self.member_clicks, member, labels["website_click"])
        return records


def simulate_ads(output_dir: str | Path,
                 config: AdsSimulatorConfig | None = None) -> dict[str, list[str]]:
    """Writes one Avro file per simulated day under ``output_dir`` and a ``manifest.json``.

    Returns: {"train": [...], "valid": [...], "test": [...]} file paths.
    """
    config = config or AdsSimulatorConfig()
    simulator = AdsSimulator(config)
    return write_day_files(output_dir, SCHEMA_PATH, config, simulator.simulate_day)


__all__ = ["AdsSimulatorConfig", "simulate_ads"]
