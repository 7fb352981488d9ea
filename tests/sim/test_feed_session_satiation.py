"""Feed simulator ``session_satiation``: the set-wise effect is in the oracle as specified
(recomputed here with NumPy from the records), symmetric over the session, and off by default."""

import math
from collections import Counter

import numpy as np
import pytest

from lirank_tf.sim.feed import TASKS, FeedSimulator, FeedSimulatorConfig

SMALL = dict(num_days=3, impressions_per_day=1000, num_members=200, posts_per_day=150, seed=21)
SATIATION = 0.5
OUTCOMES = {"dwell_time_seconds", "long_dwell", *TASKS, *(f"oracle_{t}" for t in (*TASKS, "long_dwell"))}


def logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def other_same_type(records: list[dict]) -> np.ndarray:
    """Per record: the other records of its session with its content type (plain counting)."""
    counts = Counter((r["session_id"], r["content_type"]) for r in records)
    return np.array([counts[(r["session_id"], r["content_type"])] - 1 for r in records], float)


def by_dense_affinity(records: list[dict]) -> np.ndarray:
    return np.array([r["dense_features"][5] for r in records])


@pytest.mark.parametrize("ranker", [None, by_dense_affinity], ids=["logging_policy", "ranker"])
def test_every_task_logit_drops_by_satiation_times_other_same_type_impressions(ranker):
    config = dict(SMALL, candidates_per_session=20)
    plain = FeedSimulator(FeedSimulatorConfig(**config)).simulate_day(0, ranker)
    sated = FeedSimulator(FeedSimulatorConfig(**config, session_satiation=SATIATION)).simulate_day(
        0, ranker)
    assert len(plain) == len(sated) == 1000
    # the same draws: features, sessions and positions agree; only the outcomes move
    for a, b in zip(plain, sated):
        assert {k: v for k, v in a.items() if k not in OUTCOMES} == \
               {k: v for k, v in b.items() if k not in OUTCOMES}
    repeats = other_same_type(sated)
    assert repeats.max() >= 3 and (repeats == 0).any()
    for task in TASKS:
        drop = np.array([logit(a[f"oracle_{task}"]) - logit(b[f"oracle_{task}"])
                         for a, b in zip(plain, sated)])
        np.testing.assert_allclose(drop, SATIATION * repeats, atol=1e-7, err_msg=task)
    clicks = [np.mean([r["click"] for r in records]) for records in (plain, sated)]
    assert clicks[1] < clicks[0]


def test_the_effect_is_symmetric_over_the_session():
    """The first impression of a session drops for the same-type posts shown after it."""
    plain = FeedSimulator(FeedSimulatorConfig(**SMALL)).simulate_day(0)
    sated = FeedSimulator(FeedSimulatorConfig(**SMALL, session_satiation=SATIATION)).simulate_day(0)
    repeats = other_same_type(sated)
    first = [i for i, r in enumerate(sated) if r["position"] == 0 and repeats[i] > 0]
    assert len(first) > 20
    for i in first:
        expected = logit(plain[i]["oracle_click"]) - SATIATION * repeats[i]
        assert logit(sated[i]["oracle_click"]) == pytest.approx(expected, abs=1e-7)


def test_default_is_off_and_changes_nothing():
    assert FeedSimulatorConfig().session_satiation == 0.0
    default, explicit = (FeedSimulator(FeedSimulatorConfig(**SMALL, **extra))
                         for extra in ({}, {"session_satiation": 0.0}))
    for day in range(3):
        assert default.simulate_day(day) == explicit.simulate_day(day)


@pytest.mark.parametrize("value", [-0.1, float("nan"), "0.5", True])
def test_invalid_satiation_is_rejected(value):
    with pytest.raises(ValueError, match=r"session_satiation must be a number >= 0, got"):
        FeedSimulatorConfig(session_satiation=value)
