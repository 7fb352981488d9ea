"""Tests of lirank_tf.distributed.learning_rate."""

import keras
import numpy as np
import pytest

from dist_fake_contexts import RecordingContext
from layer_checks import assert_doctests_pass
from lirank_tf.distributed import learning_rate
from lirank_tf.distributed.learning_rate import WorldSizeWarmup, scale_learning_rate


def test_warmup_from_one_to_world_size_times_the_base_rate():
    schedule = WorldSizeWarmup(0.2, world_size=8, warmup_steps=100)
    steps = np.array([0, 1, 50, 99, 100, 1000])
    expected = 0.2 * (1 + 7 * np.minimum(1.0, steps / 100))
    np.testing.assert_allclose([float(schedule(s)) for s in steps], expected, rtol=1e-6)
    assert float(WorldSizeWarmup(0.2, 8, 0)(0)) == pytest.approx(1.6)


def test_warmup_multiplies_a_base_schedule():
    base = keras.optimizers.schedules.ExponentialDecay(1.0, decay_steps=10, decay_rate=0.5)
    schedule = WorldSizeWarmup(base, world_size=4, warmup_steps=20)
    for step in (0, 10, 20, 40):
        factor = 1 + 3 * min(1.0, step / 20)
        assert float(schedule(step)) == pytest.approx(0.5 ** (step / 10) * factor, rel=1e-6)
    revived = WorldSizeWarmup.from_config(schedule.get_config())
    assert float(revived(15)) == pytest.approx(float(schedule(15)))
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    config = keras.optimizers.serialize(optimizer)
    assert float(keras.optimizers.deserialize(config).learning_rate) == pytest.approx(1.0)


def test_scale_learning_rate_and_invalid_arguments():
    assert scale_learning_rate(0.01, RecordingContext(rank=0, size=4)) == pytest.approx(0.04)
    with pytest.raises(ValueError, match="world_size must be a positive int, got 0"):
        WorldSizeWarmup(0.1, 0, 10)
    with pytest.raises(ValueError, match="warmup_steps must be an int >= 0, got -1"):
        WorldSizeWarmup(0.1, 2, -1)
    with pytest.raises(ValueError, match="base_learning_rate must be a number"):
        WorldSizeWarmup("fast", 2, 10)
    assert_doctests_pass(learning_rate)
