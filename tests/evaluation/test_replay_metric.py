"""The offline replay metric of LiRank §5.2 ("matched imps @ 1", contribution rate)."""

import doctest

import numpy as np
import pytest

import lirank_tf.evaluation.replay as replay_module
from lirank_tf.config import get_experiment
from lirank_tf.sim import simulate_feed
from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig
from lirank_tf.evaluation.replay import (contribution_labels, evaluate_replay, format_replay,
                                         model_scores, read_records, replay_contribution_rate)
from lirank_tf.models import build_model
from lirank_tf.training.trainer import fit_transformation
from replay_reference import reference


def test_hand_made_sessions():
    #              session 1        session 2          session 3 (tie)   session 4 (no pos 0)
    sessions = np.array([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4])
    positions = np.array([0, 1, 2, 2, 0, 1, 1, 0, 2, 1, 2])
    scores = np.array([0.9, 0.5, 0.1, 0.3, 0.8, 0.9, 0.7, 0.7, 0.1, 0.9, 0.1])
    contributed = np.array([1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1])
    result = replay_contribution_rate(sessions, positions, scores, contributed)
    # session 1: model's first = logged first, contributed; session 2: model picks the item at
    # position 1 -> no match; session 3: tie between positions 0 and 1 -> half a match
    assert result.sessions == 3
    assert result.matched_at_1 == pytest.approx(1.5)
    assert result.contributions_at_1 == pytest.approx(1.5)
    assert result.contribution_rate == pytest.approx(1.0)
    assert result.match_rate == pytest.approx(0.5)
    assert result.logged_contribution_rate == pytest.approx(1.0)
    only_top_two = replay_contribution_rate(sessions, positions, scores, contributed, top_n=2)
    assert only_top_two.matched_at_1 == pytest.approx(1.5)   # session 2: 0.8 vs 0.9 at position 1


def test_matches_a_session_by_session_reference_on_shuffled_input():
    rng = np.random.default_rng(0)       # data generation only; the expectation is the reference
    n_sessions, length = 300, 6
    session_ids = np.repeat(np.arange(n_sessions) * 7 + 3, length)
    positions = np.tile(np.arange(length), n_sessions)
    scores = np.round(rng.random(n_sessions * length), 1)              # many ties
    contributions = (rng.random(n_sessions * length) < 0.3).astype(int)
    order = rng.permutation(len(scores))
    for top_n in (None, 3):
        got = replay_contribution_rate(session_ids[order], positions[order], scores[order],
                                       contributions[order], top_n=top_n)
        sessions, matched, rewarded = reference(session_ids, positions, scores, contributions, top_n)
        assert got.sessions == sessions
        assert got.matched_at_1 == pytest.approx(matched)
        assert got.contributions_at_1 == pytest.approx(rewarded)
        assert got.contribution_rate == pytest.approx(rewarded / matched)


def test_on_randomised_sessions_a_better_ranker_has_a_higher_contribution_rate():
    """Simulated sessions with the top 5 shuffled: every ranker matches ~1/5 of the sessions,
    and ranking by the (noisy) viewer-post affinity feature beats ranking against it."""
    simulator = FeedSimulator(FeedSimulatorConfig(
        num_days=3, impressions_per_day=12_000, num_members=1_000, posts_per_day=400,
        session_length=5, randomize_top_n=5, seed=17))
    records = simulator.simulate_day(0) + simulator.simulate_day(1)
    session_ids = np.array([r["session_id"] for r in records])
    positions = np.array([r["position"] for r in records])
    contributions = contribution_labels(records)
    affinity = np.array([r["dense_features"][5] for r in records])
    good = replay_contribution_rate(session_ids, positions, affinity, contributions, top_n=5)
    bad = replay_contribution_rate(session_ids, positions, -affinity, contributions, top_n=5)
    for result in (good, bad):
        assert result.sessions == 4800
        assert abs(result.match_rate - 0.2) < 4 * np.sqrt(0.2 * 0.8 / 4800)
    assert good.contribution_rate > good.logged_contribution_rate > bad.contribution_rate
    assert "contribution rate" in format_replay(good)


def test_docstring_example_runs():
    assert doctest.testmod(replay_module).failed == 0


def test_contribution_labels_and_errors():
    records = [{"like": 0, "comment": 1, "share": 0, "vote": 0}, {"like": 0, "comment": 0, "share": 0, "vote": 0}]
    assert contribution_labels(records).tolist() == [1, 0]
    assert contribution_labels(records, tasks=["like"]).tolist() == [0, 0]
    with pytest.raises(ValueError, match=r"no contribution label field\(s\) \['repost'\]"):
        contribution_labels(records, tasks=["repost"])
    with pytest.raises(ValueError, match="one value per impression"):
        replay_contribution_rate([1, 1], [0, 1], [0.5], [1, 0])
    with pytest.raises(ValueError, match="more than one impression at position 0"):
        replay_contribution_rate([1, 1], [0, 0], [0.5, 0.4], [1, 0])
    with pytest.raises(ValueError, match="top_n"):
        replay_contribution_rate([1], [0], [0.5], [1], top_n=0)
    with pytest.raises(ValueError, match="NaN"):
        replay_contribution_rate([1], [0], [np.nan], [1])
    empty = replay_contribution_rate([], [], [], [])
    assert empty.sessions == 0 and np.isnan(empty.contribution_rate)


def test_evaluate_replay_scores_the_model_with_a_neutral_position(tmp_path):
    manifest = simulate_feed(tmp_path, FeedSimulatorConfig(
        num_days=3, impressions_per_day=600, num_members=150, posts_per_day=60,
        randomize_top_n=10, seed=5))
    config = get_experiment("feed", {
        "data": {"train": manifest["train"], "reader": "fastavro"},
        "model": {"hidden_units": [16], "tower_units": [8], "history_encoder": False,
                  "interaction": "none", "sparse_moe": False}})
    transform = fit_transformation(config, manifest["train"])
    model = build_model(config)
    records = read_records(manifest["test"])
    scores = model_scores(model, transform, config, records, batch_size=256)
    at_zero = model_scores(model, transform, config, [dict(r, position=0) for r in records],
                           neutral_position=None)
    logged = model_scores(model, transform, config, records, neutral_position=None)
    np.testing.assert_allclose(scores, at_zero, rtol=1e-6)
    assert not np.allclose(scores, logged)                # the logged position would leak
    result = evaluate_replay(model, transform, config, manifest["test"], top_n=10)
    expected = replay_contribution_rate(np.array([r["session_id"] for r in records]),
                                        np.array([r["position"] for r in records]), scores,
                                        contribution_labels(records), top_n=10)
    assert result == expected and result.sessions == 60
