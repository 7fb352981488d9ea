"""Feed simulator ``post_lifetime_days`` and ``quality_std`` (bandit-replay options): posts stay
candidates for the given number of days, the hidden quality has the given spread and enters
every task's logit with the simulator's coefficient; the defaults change nothing."""

import math

import numpy as np
import pytest

from lirank_tf.sim.feed import TASK_COEFFICIENTS, FeedSimulator, FeedSimulatorConfig

SMALL = dict(num_days=5, impressions_per_day=1000, num_members=200, posts_per_day=150, seed=5)


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def creation_days(records: list[dict], posts_per_day: int) -> np.ndarray:
    return np.array([int(r["root_object_id"].split(":")[1]) // posts_per_day for r in records])


def test_defaults_are_unchanged():
    config = FeedSimulatorConfig(**SMALL)
    assert (config.post_lifetime_days, config.quality_std) == (2, 0.5)
    plain = FeedSimulator(FeedSimulatorConfig(**SMALL))
    explicit = FeedSimulator(FeedSimulatorConfig(**SMALL, post_lifetime_days=2, quality_std=0.5))
    for day in range(3):
        assert plain.simulate_day(day) == explicit.simulate_day(day)


@pytest.mark.parametrize("lifetime", [1, 2, 4])
def test_posts_are_candidates_for_their_lifetime(lifetime):
    simulator = FeedSimulator(FeedSimulatorConfig(**SMALL, post_lifetime_days=lifetime))
    for day in range(5):
        created = creation_days(simulator.simulate_day(day), SMALL["posts_per_day"])
        oldest = max(0, day - lifetime + 1)
        assert created.min() >= oldest and created.max() == day
        # every day still alive is shown (the pool holds 150 posts a day, 1000 impressions)
        assert set(created.tolist()) == set(range(oldest, day + 1))


def test_quality_std_scales_the_hidden_quality_in_every_logit():
    low = FeedSimulator(FeedSimulatorConfig(**SMALL, quality_std=0.5))
    high = FeedSimulator(FeedSimulatorConfig(**SMALL, quality_std=1.5))
    low_records, high_records = low.simulate_day(0), high.simulate_day(0)
    quality = {int(i): q for i, q in zip(low.posts_by_day[-1][1].ids,
                                         low.posts_by_day[-1][1].quality)}
    high_quality = high.posts_by_day[-1][1].quality
    assert abs(np.std(high_quality) - 1.5) < 0.2 and abs(np.std(list(quality.values())) - 0.5) < 0.07
    np.testing.assert_allclose(high_quality, 3.0 * low.posts_by_day[-1][1].quality)
    # the same impressions (quality does not change who sees what); each task's logit moves by
    # its quality coefficient times the extra quality, (1.5 / 0.5 - 1) * q
    assert [r["root_object_id"] for r in low_records] == [r["root_object_id"] for r in high_records]
    q = np.array([quality[int(r["root_object_id"].split(":")[1])] for r in low_records])
    for task, coefficients in TASK_COEFFICIENTS.items():
        p_low = np.array([r[f"oracle_{task}"] for r in low_records])
        p_high = np.array([r[f"oracle_{task}"] for r in high_records])
        np.testing.assert_allclose(logit(p_high) - logit(p_low), coefficients[2] * 2.0 * q,
                                   atol=1e-6)
    assert not math.isclose(np.mean([r["oracle_like"] for r in low_records]),
                            np.mean([r["oracle_like"] for r in high_records]))


@pytest.mark.parametrize("name, value, message", [
    ("post_lifetime_days", 0, "post_lifetime_days must be an int >= 1, got 0"),
    ("post_lifetime_days", 1.5, "post_lifetime_days must be an int >= 1, got 1.5"),
    ("quality_std", -0.1, "quality_std must be a number >= 0, got -0.1"),
    ("quality_std", True, "quality_std must be a number >= 0, got True"),
])
def test_invalid_options_raise(name, value, message):
    with pytest.raises(ValueError, match=message):
        FeedSimulatorConfig(**{name: value})
