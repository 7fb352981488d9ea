"""Simulator options for the 8-hourly bandit replay (LiRank §3.8, §3.9): a day ranked in
periods with feedback between them, the true probabilities of the candidates a ranker scores
(an oracle ranker), and the weight of the member-post affinity."""

import numpy as np
import pytest

from lirank_tf.sim.feed import (TASK_COEFFICIENTS, TASKS, FeedSimulator,
                                FeedSimulatorConfig)

SMALL = dict(num_days=3, impressions_per_day=1200, num_members=300, posts_per_day=120, seed=21,
             candidates_per_session=20, likes_feature="logged")


def by_affinity_feature(records):
    return np.array([r["dense_features"][5] for r in records])


def test_one_period_is_the_plain_ranked_day():
    plain, periodic = (FeedSimulator(FeedSimulatorConfig(**SMALL)) for _ in range(2))
    for day in range(2):
        assert plain.simulate_day(day, by_affinity_feature) == periodic.simulate_day(
            day, by_affinity_feature, periods=1)


def test_periods_play_the_day_in_hour_order_with_feedback_and_likes_in_between():
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL))
    simulator.simulate_day(0)
    seen_likes = {}
    received = []

    def ranker(records):
        for r in records:                   # the likes-so-far feature each candidate carried
            seen_likes.setdefault(len(received), {})[r["root_object_id"]] = r["dense_features"][3]
        return by_affinity_feature(records)

    likes_before = dict(simulator.post_likes)
    records = simulator.simulate_day(1, ranker, periods=3, feedback=received.append)
    assert len(received) == 3 and sum(len(part) for part in received) == len(records) == 1200
    assert [r for part in received for r in part] == records           # the same dicts, in order
    for span, part in enumerate(received):
        assert {r["hour"] * 3 // 24 for r in part} == {span}            # 8-hour spans in order
        assert all(set(TASKS) <= set(r) for r in part)
    ids = [r["session_id"] for r in records]
    assert ids == sorted(ids) and len(set(ids)) == 120
    # the likes-so-far a candidate carries in period k = likes of earlier days + periods < k
    likes = dict(likes_before)
    for span, part in enumerate(received):
        for post, value in seen_likes[span].items():
            assert value == likes.get(int(post.split(":")[1]), 0)
        for r in part:
            if r["like"]:
                key = int(r["root_object_id"].split(":")[1])
                likes[key] = likes.get(key, 0) + 1
    assert any(seen_likes[2][p] > seen_likes[0].get(p, 0) for p in seen_likes[2])
    # long dwell comes at the end of the day: the day's 90th percentile per cluster
    assert all("long_dwell" in r and "oracle_long_dwell" in r for r in records)
    rate = np.mean([r["long_dwell"] for r in records])
    assert 0.05 < rate < 0.2


def test_period_errors_name_the_problem():
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL))
    with pytest.raises(ValueError, match="periods and feedback need a ranker"):
        simulator.simulate_day(0, periods=3)
    with pytest.raises(ValueError, match=r"periods must be an int in \[1, 24\], got 0"):
        simulator.simulate_day(0, by_affinity_feature, periods=0)
    assert simulator.post_likes == {} and simulator.posts_by_day == []     # nothing simulated


def test_candidate_probabilities_are_the_true_probabilities_of_the_shown_posts():
    """An oracle ranker: what it ranks by equals the oracle_* of the records it shows, apart
    from the position decay (candidates are scored at position 0)."""
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL))
    kept = {}

    def oracle(records):
        truth = simulator.candidate_probabilities()
        kept.update({(r["session_id"], r["root_object_id"]): {t: truth[t][i] for t in truth}
                     for i, r in enumerate(records)})
        return truth["click"]

    records = simulator.simulate_day(0, oracle)
    for r in records[:200]:
        truth = kept[(r["session_id"], r["root_object_id"])]
        for task in TASKS:
            decay = TASK_COEFFICIENTS[task][6] * r["position"]
            expected = 1.0 / (1.0 + np.exp(-(np.log(truth[task] / (1 - truth[task])) - decay)))
            np.testing.assert_allclose(r[f"oracle_{task}"], expected, rtol=1e-9)
    logged = FeedSimulator(FeedSimulatorConfig(**SMALL)).simulate_day(0, by_affinity_feature)
    assert np.mean([r["oracle_click"] for r in records]) > np.mean(
        [r["oracle_click"] for r in logged])
    with pytest.raises(RuntimeError, match="only available inside a ranker call"):
        simulator.candidate_probabilities()


def test_affinity_scale_weighs_the_affinity_in_every_task_logit():
    base = dict(SMALL, likes_feature="oracle")
    plain = FeedSimulator(FeedSimulatorConfig(**base)).simulate_day(0)
    flat = FeedSimulator(FeedSimulatorConfig(**base, affinity_scale=0.0)).simulate_day(0)
    assert [r["root_object_id"] for r in plain] == [r["root_object_id"] for r in flat]
    affinity = np.array([r["dense_features"][5] for r in plain])    # affinity + N(0, 0.3)
    for task in TASKS:
        with_affinity = np.array([r[f"oracle_{task}"] for r in plain])
        without = np.array([r[f"oracle_{task}"] for r in flat])
        logit_gap = np.log(with_affinity / (1 - with_affinity)) - np.log(without / (1 - without))
        assert np.corrcoef(logit_gap, affinity)[0, 1] > 0.8
    assert FeedSimulator(FeedSimulatorConfig(**base, affinity_scale=1.0)).simulate_day(0) == plain
    with pytest.raises(ValueError, match="affinity_scale must be a number >= 0, got -1"):
        FeedSimulatorConfig(affinity_scale=-1)
