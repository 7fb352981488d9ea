"""Simulator options for explore/exploit and replay: a randomised top N (LiRank §5.2 logging)
and a ranker choosing each session's posts (bandit replay, §3.8); defaults change nothing."""

import numpy as np
import pytest

from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig

SMALL = dict(num_days=3, impressions_per_day=3000, num_members=400, posts_per_day=200, seed=13)


def sessions(records):
    by_session = {}
    for r in records:
        by_session.setdefault(r["session_id"], []).append(r)
    return [sorted(v, key=lambda r: r["position"]) for _, v in sorted(by_session.items())]


def test_randomised_top_n_shuffles_only_the_top_positions_uniformly():
    plain = FeedSimulator(FeedSimulatorConfig(**SMALL)).simulate_day(0)
    shuffled = FeedSimulator(FeedSimulatorConfig(**SMALL, randomize_top_n=4)).simulate_day(0)
    first_rank = []
    for a, b in zip(sessions(plain), sessions(shuffled)):
        ranked = [r["root_object_id"] for r in a]                 # the logging policy's order
        logged = [r["root_object_id"] for r in b]
        assert sorted(ranked[:4]) == sorted(logged[:4]) and ranked[4:] == logged[4:]
        first_rank.append(ranked.index(logged[0]))
    counts = np.bincount(first_rank, minlength=4)
    expected = len(first_rank) / 4
    assert counts.shape == (4,)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))   # uniform over the top 4
    assert counts[0] < 0.5 * len(first_rank)


def test_randomised_test_days_only_leave_the_training_days_unchanged():
    plain, shuffled = (FeedSimulator(FeedSimulatorConfig(**SMALL, **extra)) for extra in
                       ({}, {"randomize_top_n": 4, "randomize_days": "test"}))
    assert [shuffled.randomizes(day) for day in range(3)] == [False, False, True]
    for day in (0, 1):
        assert plain.simulate_day(day) == shuffled.simulate_day(day)
    pairs = list(zip(sessions(plain.simulate_day(2)), sessions(shuffled.simulate_day(2))))
    moved = 0
    for a, b in pairs:
        ranked, logged = ([r["root_object_id"] for r in s] for s in (a, b))
        assert sorted(ranked[:4]) == sorted(logged[:4]) and ranked[4:] == logged[4:]
        moved += ranked[:4] != logged[:4]
    assert len(pairs) == 300 and moved > 0.8 * len(pairs)     # unchanged with probability 1/24
    with pytest.raises(ValueError, match="randomize_days must be 'all' or 'test', got 'valid'"):
        FeedSimulatorConfig(randomize_days="valid")


def test_a_ranker_picks_each_sessions_posts_among_the_candidates():
    config = FeedSimulatorConfig(**SMALL, candidates_per_session=25)
    seen = {}

    def by_affinity_feature(records):
        seen["records"] = records
        return np.array([r["dense_features"][5] for r in records])   # noisy viewer-post affinity

    records = FeedSimulator(config).simulate_day(0, ranker=by_affinity_feature)
    candidates = seen["records"]
    assert len(candidates) == 300 * 25 and all(r["position"] == 0 for r in candidates)
    assert "click" not in candidates[0]
    assert len(records) == 3000 and {"click", "oracle_click", "long_dwell"} <= set(records[0])
    for k, session in enumerate(sessions(records)):
        pool = candidates[25 * k:25 * (k + 1)]
        scores = sorted((r["dense_features"][5] for r in pool), reverse=True)[:10]
        assert [r["position"] for r in session] == list(range(10))
        np.testing.assert_allclose([r["dense_features"][5] for r in session], scores)
    logged = FeedSimulator(FeedSimulatorConfig(**SMALL)).simulate_day(0)
    assert np.mean([r["click"] for r in records]) > np.mean([r["click"] for r in logged])


def test_ranker_errors_name_the_problem():
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL, candidates_per_session=5))
    with pytest.raises(ValueError, match="candidates_per_session"):
        simulator.simulate_day(0, ranker=lambda records: np.zeros(len(records)))
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL))
    with pytest.raises(ValueError, match="one score per candidate record"):
        simulator.simulate_day(0, ranker=lambda records: np.zeros(3))
    with pytest.raises(ValueError, match="randomize_top_n"):
        FeedSimulatorConfig(randomize_top_n=11)
    with pytest.raises(ValueError, match="viral_decay_hours"):
        FeedSimulatorConfig(viral_decay_hours=0.0)


def test_logged_likes_feature_counts_the_likes_of_earlier_days():
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL, likes_feature="logged"))
    first, second = simulator.simulate_day(0), simulator.simulate_day(1)
    assert all(r["dense_features"][3] == 0.0 for r in first)          # nobody liked anything yet
    likes = {}
    for r in first:
        likes[r["root_object_id"]] = likes.get(r["root_object_id"], 0) + r["like"]
    for r in second:
        assert r["dense_features"][3] == likes.get(r["root_object_id"], 0)
    assert any(r["dense_features"][3] > 0 for r in second)
    with pytest.raises(ValueError, match="likes_feature"):
        FeedSimulatorConfig(likes_feature="magic")
