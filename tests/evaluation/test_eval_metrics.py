"""Metrics against brute-force NumPy definitions."""

import numpy as np
import pytest

from lirank_tf.evaluation import (auc, expected_calibration_error, log_loss, oe_ratio,
                                  reliability_curve, task_metrics)


def _pairwise_auc(labels, scores):
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("ties", [False, True])
def test_auc_equals_pairwise_definition(ties):
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.3).astype(int)
    scores = rng.random(500) + 0.3 * labels
    if ties:
        scores = np.round(scores, 1)
    assert auc(labels, scores) == pytest.approx(_pairwise_auc(labels, scores), abs=1e-12)


def test_auc_one_class_is_nan():
    assert np.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))


def test_log_loss_oe_and_ece_match_formulas():
    labels = np.array([1, 0, 1, 1, 0, 0])
    probs = np.array([0.9, 0.2, 0.6, 0.4, 0.1, 0.5])
    expected = -np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))
    assert log_loss(labels, probs) == pytest.approx(expected)
    assert oe_ratio(labels, probs) == pytest.approx(3 / 2.7)
    # two bins: [0, .5) holds .2, .4, .1 ; [.5, 1] holds .9, .6, .5
    ece = (3 * abs(1 / 3 - 0.7 / 3) + 3 * abs(2 / 3 - 2.0 / 3)) / 6
    assert expected_calibration_error(labels, probs, num_bins=2) == pytest.approx(ece)
    predicted, observed, counts = reliability_curve(labels, probs, num_bins=2)
    np.testing.assert_allclose(predicted, [0.7 / 3, 2.0 / 3])
    np.testing.assert_allclose(observed, [1 / 3, 2 / 3])
    np.testing.assert_array_equal(counts, [3, 3])
    assert set(task_metrics(labels, probs)) == {"auc", "logloss", "oe_ratio", "ece", "positive_rate"}


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="differ in size"):
        auc([0, 1], [0.5])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        log_loss([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="num_bins"):
        expected_calibration_error([0, 1], [0.5, 0.5], num_bins=0)
