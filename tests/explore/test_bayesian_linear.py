"""Bayesian linear regression (LiRank §3.8) against the closed-form Gaussian posterior."""

import doctest

import numpy as np
import pytest

import lirank_tf.explore.bayesian_linear as bayesian_linear_module
from lirank_tf.explore import BayesianLinearRegression, logistic_working_response

Z = np.array([[1.0, 0.5, -1.0], [0.2, -0.3, 1.0], [2.0, 1.0, 1.0], [-1.0, 0.4, 1.0],
              [0.3, 0.3, 1.0], [1.5, -2.0, 1.0]])
Y = np.array([0.5, -1.0, 2.0, 0.0, 0.3, -0.7])
S = np.array([1.0, 2.0, 0.5, 4.0, 1.0, 0.25])       # per-example noise precision
PRIOR_MEAN = np.array([0.1, -0.2, 0.3])
PRIOR_PRECISION = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]])


def closed_form(prior_mean, prior_precision, z, y, s):
    covariance = np.linalg.inv(prior_precision + z.T @ np.diag(s) @ z)
    return covariance @ (prior_precision @ prior_mean + z.T @ (s * y)), covariance


def test_posterior_matches_the_closed_form():
    blr = BayesianLinearRegression(PRIOR_MEAN, PRIOR_PRECISION)
    blr.update(Z, Y, S)
    mean, covariance = closed_form(PRIOR_MEAN, PRIOR_PRECISION, Z, Y, S)
    np.testing.assert_allclose(blr.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(blr.covariance, covariance, rtol=1e-10)
    np.testing.assert_allclose(blr.scale_tril() @ blr.scale_tril().T, covariance, rtol=1e-10)
    np.testing.assert_allclose(blr.predictive_variance(Z), np.diag(Z @ covariance @ Z.T), rtol=1e-10)
    assert blr.num_observations == 6


def test_incremental_updates_equal_one_update_with_all_the_data():
    once = BayesianLinearRegression(PRIOR_MEAN, 0.5)
    once.update(Z, Y, S)
    in_parts = BayesianLinearRegression(PRIOR_MEAN, 0.5)
    for part in (slice(0, 2), slice(2, 3), slice(3, 6)):
        in_parts.update(Z[part], Y[part], S[part])
    np.testing.assert_allclose(in_parts.mean, once.mean, rtol=1e-12)
    np.testing.assert_allclose(in_parts.covariance, once.covariance, rtol=1e-12)


def test_the_posterior_narrows_with_data_and_finds_the_true_weights():
    truth = np.array([1.0, -2.0, 0.5])
    grid = np.linspace(-1.0, 1.0, 3 * 400).reshape(400, 3)
    z = np.stack([np.sin(7 * grid[:, 0]), np.cos(5 * grid[:, 1]), np.ones(400)], axis=1)
    y = z @ truth + 0.1 * np.sin(31 * np.arange(400))          # small deterministic "noise"
    blr = BayesianLinearRegression(np.zeros(3), 1.0)
    probe = np.array([[0.3, -0.4, 1.0]])
    variances, traces = [blr.predictive_variance(probe)[0]], [np.trace(blr.covariance)]
    for start in range(0, 400, 50):
        blr.update(z[start:start + 50], y[start:start + 50], 100.0)
        variances.append(blr.predictive_variance(probe)[0])
        traces.append(np.trace(blr.covariance))
    assert all(b < a for a, b in zip(variances, variances[1:]))
    assert all(b < a for a, b in zip(traces, traces[1:]))
    assert variances[-1] < 1e-3 * variances[0]
    np.testing.assert_allclose(blr.mean, truth, atol=0.05)


def test_logistic_working_response_is_one_newton_step_at_the_linearisation_point():
    point = np.array([0.4, -0.3, -0.5])
    labels = np.array([1, 0, 1, 0, 0, 1])
    targets, precision = logistic_working_response(Z, labels, point)
    p = 1 / (1 + np.exp(-Z @ point))
    np.testing.assert_allclose(precision, p * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(targets, Z @ point + (labels - p) / (p * (1 - p)), rtol=1e-10)
    blr = BayesianLinearRegression(point, 1.0)           # prior centred at the point
    blr.update(Z, targets, precision)
    hessian = np.eye(3) + Z.T @ np.diag(p * (1 - p)) @ Z
    newton = point + np.linalg.solve(hessian, Z.T @ (labels - p))
    np.testing.assert_allclose(blr.mean, newton, rtol=1e-10)


def test_samples_follow_the_posterior():
    blr = BayesianLinearRegression(PRIOR_MEAN, PRIOR_PRECISION)
    blr.update(Z, Y, S)
    draws = blr.sample(40_000, seed=3)
    assert draws.shape == (40_000, 3)
    np.testing.assert_allclose(draws.mean(axis=0), blr.mean, atol=0.02)
    np.testing.assert_allclose(np.cov(draws.T), blr.covariance, atol=0.02)
    np.testing.assert_array_equal(blr.sample(2, seed=5), blr.sample(2, seed=5))


def test_carry_over_discounts_old_evidence_and_recentres(tmp_path):
    blr = BayesianLinearRegression(PRIOR_MEAN, 2.0)
    blr.update(Z, Y, S)
    new_mean = np.array([1.0, 2.0, 3.0])
    carried = blr.carried_over(new_mean, base_precision=2.0, decay=0.5)
    expected_precision = 2.0 * np.eye(3) + 0.5 * (Z.T @ np.diag(S) @ Z)
    np.testing.assert_allclose(carried.precision, expected_precision, rtol=1e-12)
    np.testing.assert_allclose(carried.mean, new_mean, rtol=1e-12)
    loaded = BayesianLinearRegression.load(blr.save(tmp_path / "posterior.npz"))
    np.testing.assert_array_equal(loaded.precision, blr.precision)
    np.testing.assert_array_equal(loaded.mean, blr.mean)
    assert loaded.num_observations == blr.num_observations


def test_docstring_examples_run():
    assert doctest.testmod(bayesian_linear_module).failed == 0


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="prior_precision must be > 0"):
        BayesianLinearRegression(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="positive definite"):
        BayesianLinearRegression(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="prior_mean"):
        BayesianLinearRegression(np.zeros(0))
    blr = BayesianLinearRegression(np.zeros(3))
    with pytest.raises(ValueError, match=r"features must have shape \[n, 3\]"):
        blr.update(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="noise_precision"):
        blr.update(np.ones((2, 3)), np.ones(2), -1.0)
    with pytest.raises(ValueError, match="decay"):
        blr.carried_over(np.zeros(3), 1.0, decay=1.5)
