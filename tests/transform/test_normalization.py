"""Dense normalisation: non-finite values take the feature default, finite values are clipped
to the training range, the standardised value is bounded; statistics with and without a range
(files saved before the range existed) load and round-trip."""

import json

import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.transform import DenseStatistics, TransformationModel, fit_dense_statistics
from lirank_tf.transform.normalization import MAX_ABS_STANDARDISED

SPECIALS = [np.inf, -np.inf, np.nan, 1e38, -1e38]


def _config():
    return get_experiment("feed", {"features": {
        "ids": [{"name": "viewer_id", "table": "member"}],
        "dense": [{"name": "counts", "size": 3, "transform": "log1p", "default": 1.0},
                  {"name": "ratio", "size": 1, "transform": "signed_log1p", "default": -2.0},
                  {"name": "position", "size": 1, "transform": "none", "default": 4.0}],
        "history": None,
    }})


MEAN = {"counts": [1.0, 2.0, 0.5], "ratio": [0.25], "position": [3.0]}
STD = {"counts": [2.0, 4.0, 0.5], "ratio": [0.5], "position": [0.25]}
MINIMUM = {"counts": [0.0, 1.0, 0.0], "ratio": [-8.0], "position": [1.0]}
MAXIMUM = {"counts": [50.0, 9.0, 1e6], "ratio": [3.0], "position": [60.0]}
DEFAULTS = {"counts": 1.0, "ratio": -2.0, "position": 4.0}
SQUASH = {"counts": lambda v: np.log1p(np.maximum(v, 0.0)),
          "ratio": lambda v: np.sign(v) * np.log1p(np.abs(v)), "position": lambda v: v}


def _statistics(with_range: bool) -> DenseStatistics:
    if with_range:
        return DenseStatistics(mean=MEAN, std=STD, minimum=MINIMUM, maximum=MAXIMUM)
    return DenseStatistics(mean=MEAN, std=STD)


def _raw() -> dict[str, np.ndarray]:
    """One row per special value, in every component of every feature, then an ordinary row."""
    specials = np.array(SPECIALS, np.float32)
    return {"viewer_id": np.array(["m"] * 6, object),
            "counts": np.concatenate([np.repeat(specials[:, None], 3, axis=1),
                                      [[3.0, 2.0, 7.0]]]).astype(np.float32),
            "ratio": np.append(specials, -1.5).astype(np.float32),
            "position": np.append(specials, 12.0).astype(np.float32)}


def _reference(raw: dict, with_range: bool) -> np.ndarray:
    """NumPy: non-finite -> default, finite clipped to [minimum, maximum] (with a range),
    squash, standardise, bound to +-MAX_ABS_STANDARDISED."""
    parts = []
    for name in ("counts", "ratio", "position"):
        values = raw[name].astype(np.float64).reshape(len(raw[name]), -1)
        finite = np.isfinite(values)
        if with_range:
            values = np.clip(np.where(finite, values, 0.0), MINIMUM[name], MAXIMUM[name])
        values = np.where(finite, values, DEFAULTS[name])
        standardised = (SQUASH[name](values) - MEAN[name]) / STD[name]
        parts.append(np.clip(standardised, -MAX_ABS_STANDARDISED, MAX_ABS_STANDARDISED))
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize("with_range", [True, False])
def test_non_finite_and_huge_values_get_the_documented_finite_treatment(with_range):
    transform = TransformationModel(_config().features, _statistics(with_range))
    raw = _raw()
    dense = transform({k: tf.constant(v) for k, v in raw.items()})["dense"].numpy()
    assert np.isfinite(dense).all()
    np.testing.assert_allclose(dense, _reference(raw, with_range), rtol=1e-6, atol=1e-6)
    # +inf, -inf and NaN: exactly the feature default's row (default 1.0 for counts: log1p(1))
    default_row = dense[2]
    np.testing.assert_array_equal(dense[0], default_row)
    np.testing.assert_array_equal(dense[1], default_row)
    np.testing.assert_allclose(default_row[:3], (np.log1p(1.0) - np.array(MEAN["counts"]))
                               / STD["counts"], rtol=1e-6)
    if with_range:   # 1e38 / -1e38: the training maximum / minimum
        np.testing.assert_allclose(dense[3, 4], (60.0 - 3.0) / 0.25, rtol=1e-6)
        np.testing.assert_allclose(dense[4, 4], (1.0 - 3.0) / 0.25, rtol=1e-6)
    else:            # no range in the statistics: the standardised value is bounded
        assert dense[3, 4] == MAX_ABS_STANDARDISED and dense[4, 4] == -MAX_ABS_STANDARDISED


@pytest.mark.parametrize("with_range", [True, False])
def test_the_training_map_treats_non_finite_values_as_serving_does(with_range):
    transform = TransformationModel(_config().features, _statistics(with_range))
    raw = {k: tf.constant(v) for k, v in _raw().items()}
    training, _ = next(iter(tf.data.Dataset.from_tensors((raw, {})).map(transform.map_fn())))
    np.testing.assert_array_equal(training["dense"], transform(raw)["dense"])


def test_float64_values_beyond_float32_are_clipped_not_made_missing():
    config = _config()
    transform = TransformationModel(config.features, _statistics(True))
    raw = {k: tf.constant(v) for k, v in _raw().items()}
    raw["position"] = tf.constant([1e300, -1e300, np.inf, 5.0, 5.0, 5.0], tf.float64)
    dense = transform(raw)["dense"].numpy()
    np.testing.assert_allclose(dense[:3, 4], np.array([60.0, 1.0, 4.0]) / 0.25 - 12.0, rtol=1e-6)


def _dataset(values: dict[str, np.ndarray]) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((values, {})).batch(4)


def test_fitted_statistics_treat_non_finite_values_as_the_default_and_record_the_range():
    features = _config().features.dense
    counts = np.array([[0.0, 1.0, 2.0], [np.inf, 3.0, 5.0], [4.0, np.nan, -np.inf],
                       [9.0, 2.0, 1.0], [1.0, 1.0, 1.0]], np.float32)
    ratio = np.array([-1.0, 2.0, np.nan, 0.5, np.inf], np.float32)
    position = np.array([1.0, 2.0, 3.0, 9.0, -np.inf], np.float32)
    stats = fit_dense_statistics(_dataset({"counts": counts, "ratio": ratio,
                                           "position": position}), features)
    replaced = {"counts": np.where(np.isfinite(counts), counts, 1.0),
                "ratio": np.where(np.isfinite(ratio), ratio, -2.0)[:, None],
                "position": np.where(np.isfinite(position), position, 4.0)[:, None]}
    for name, values in replaced.items():
        squashed = SQUASH[name](values.astype(np.float64))
        np.testing.assert_allclose(stats.mean[name], squashed.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(stats.std[name], squashed.std(axis=0), rtol=1e-5)
        assert stats.minimum[name] == values.min(axis=0).tolist()
        assert stats.maximum[name] == values.max(axis=0).tolist()


def test_statistics_round_trip_and_files_without_a_range_still_load():
    with_range = _statistics(True)
    assert DenseStatistics.from_dict(json.loads(json.dumps(with_range.to_dict()))) == with_range
    old_file = json.dumps({"mean": MEAN, "std": STD})          # saved before the range existed
    old = DenseStatistics.from_dict(json.loads(old_file))
    assert old.minimum is None and old.maximum is None
    assert old.to_dict() == {"mean": MEAN, "std": STD}       # and saved again unchanged
    transform = TransformationModel(_config().features, old)
    raw = _raw()
    dense = transform({k: tf.constant(v) for k, v in raw.items()})["dense"].numpy()
    np.testing.assert_allclose(dense, _reference(raw, with_range=False), rtol=1e-6, atol=1e-6)


def test_a_component_constant_in_the_sample_is_centred_not_clipped():
    """A flag that was constant in the whole sample still passes another value (as before the
    range existed), 1e38 too (log1p keeps it finite)."""
    minimum = {**MINIMUM, "counts": [0.0, 2.0, 0.0]}
    maximum = {**MAXIMUM, "counts": [50.0, 2.0, 1e6]}        # component 1 constant
    transform = TransformationModel(_config().features,
                                    DenseStatistics(MEAN, STD, minimum, maximum))
    raw = _raw()
    raw["counts"][5] = [3.0, 7.0, 1e38]
    dense = transform({k: tf.constant(v) for k, v in raw.items()})["dense"].numpy()
    np.testing.assert_allclose(dense[5, :3], [(np.log1p(3.0) - 1.0) / 2.0,
                                              (np.log1p(7.0) - 2.0) / 4.0,
                                              (np.log1p(1e6) - 0.5) / 0.5], rtol=1e-6)
    np.testing.assert_allclose(dense[3, 1], (np.log1p(1e38) - 2.0) / 4.0, rtol=1e-6)


def test_a_range_must_cover_every_component():
    minimum = {**MINIMUM, "counts": [0.0, 1.0]}
    with pytest.raises(ValueError, match=r"statistics: minimum of 'counts' has 2 values, "
                                         r"expected 3"):
        TransformationModel(_config().features, DenseStatistics(MEAN, STD, minimum, MAXIMUM))
    with pytest.raises(ValueError, match=r"statistics: minimum and maximum go together"):
        DenseStatistics(MEAN, STD, minimum=MINIMUM)
