"""Conjugate Bayesian linear regression, updated incrementally (LiRank §3.8, Neural Linear).

Model: y_i = w . z_i + e_i with e_i ~ N(0, 1 / s_i) (s_i the known noise precision of example
i) and the Gaussian prior w ~ N(m0, P0^-1). The posterior is Gaussian, N(m, P^-1), with

    P     = P0 + sum_i s_i z_i z_i^T
    P m   = P0 m0 + sum_i s_i y_i z_i

so the state is the pair (P, P m) and each batch of data adds its sufficient statistics:
updating with D1 and then D2 gives exactly the posterior of D1 u D2.

For a binary label and a logit output (the ranking heads), `logistic_working_response` gives
the targets and precisions of one iteratively-reweighted-least-squares step of Bayesian
logistic regression linearised at a point w* (p_i = sigmoid(w* . z_i), s_i = p_i (1 - p_i),
y_i = w* . z_i + (label_i - p_i) / s_i): with w* the trained last-layer weights, the
posterior is the Laplace approximation around them (Chapelle & Li 2011; Riquelme et al. 2018).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIN_NOISE_PRECISION = 1e-6


def _as_matrix(features: np.ndarray, dim: int) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] != dim:
        raise ValueError(f"features must have shape [n, {dim}], got {features.shape}")
    return features


class BayesianLinearRegression:
    """Gaussian posterior over linear weights, kept as precision P and precision-mean P m.

    Args:
        prior_mean: float array [d]. m0.
        prior_precision: float > 0, or a symmetric positive-definite [d, d] array. P0 (a
            number means P0 = prior_precision * I, i.e. prior variance 1 / prior_precision).

    Example:
        >>> blr = BayesianLinearRegression(np.zeros(2), prior_precision=1.0)
        >>> blr.update(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([2.0, 2.0]))
        >>> blr.mean.round(3).tolist(), blr.covariance.round(3).tolist()
        ([1.333, 0.0], [[0.333, 0.0], [0.0, 1.0]])
    """

    def __init__(self, prior_mean: np.ndarray, prior_precision: float | np.ndarray = 1.0) -> None:
        prior_mean = np.asarray(prior_mean, dtype=np.float64)
        if prior_mean.ndim != 1 or prior_mean.size == 0 or not np.all(np.isfinite(prior_mean)):
            raise ValueError("prior_mean must be a non-empty finite vector, got shape "
                             f"{prior_mean.shape}")
        dim = prior_mean.size
        if np.ndim(prior_precision) == 0:
            if isinstance(prior_precision, bool) or not float(prior_precision) > 0:
                raise ValueError(f"prior_precision must be > 0, got {prior_precision!r}")
            precision = float(prior_precision) * np.eye(dim)
        else:
            precision = np.asarray(prior_precision, dtype=np.float64)
            if precision.shape != (dim, dim) or not np.allclose(precision, precision.T):
                raise ValueError(f"prior_precision must be a symmetric [{dim}, {dim}] matrix, got "
                                 f"shape {precision.shape}")
            try:
                np.linalg.cholesky(precision)
            except np.linalg.LinAlgError as error:
                raise ValueError("prior_precision must be positive definite") from error
        self.precision = precision
        self.precision_mean = precision @ prior_mean
        self.num_observations = 0

    @property
    def dim(self) -> int:
        return self.precision_mean.size

    def update(self, features: np.ndarray, targets: np.ndarray,
               noise_precision: np.ndarray | float = 1.0) -> None:
        """Adds the observations ``targets[i] ~ N(w . features[i], 1 / noise_precision[i])``."""
        features = _as_matrix(features, self.dim)
        targets = np.asarray(targets, dtype=np.float64).reshape(-1)
        weights = np.broadcast_to(np.asarray(noise_precision, dtype=np.float64), targets.shape)
        if targets.shape[0] != features.shape[0]:
            raise ValueError(f"targets has {targets.shape[0]} values for {features.shape[0]} rows")
        if not (np.all(np.isfinite(targets)) and np.all(np.isfinite(features))):
            raise ValueError("features and targets must be finite")
        if np.any(weights < 0):
            raise ValueError("noise_precision must be >= 0")
        self.precision = self.precision + (features * weights[:, None]).T @ features
        self.precision_mean = self.precision_mean + features.T @ (weights * targets)
        self.num_observations += int(targets.shape[0])

    @property
    def mean(self) -> np.ndarray:
        return np.linalg.solve(self.precision, self.precision_mean)

    @property
    def covariance(self) -> np.ndarray:
        covariance = np.linalg.inv(self.precision)
        return 0.5 * (covariance + covariance.T)

    def scale_tril(self) -> np.ndarray:
        """Lower-triangular L with L L^T = covariance (samples are mean + L eps)."""
        return np.linalg.cholesky(self.covariance)

    def predictive_variance(self, features: np.ndarray) -> np.ndarray:
        """Var[w . z] of each row z of ``features`` under the posterior."""
        features = _as_matrix(features, self.dim)
        return np.einsum("ij,ij->i", features @ self.covariance, features)

    def sample(self, num_samples: int, seed: int) -> np.ndarray:
        """``num_samples`` weight vectors [num_samples, d] drawn from the posterior."""
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((num_samples, self.dim))
        return self.mean + noise @ self.scale_tril().T

    def carried_over(self, new_mean: np.ndarray, base_precision: float,
                     decay: float = 1.0) -> "BayesianLinearRegression":
        """The prior of the next period: centred at ``new_mean`` (the retrained weights), with
        precision ``base_precision * I + decay * (P - base_precision * I)`` — the data evidence
        gathered so far, discounted by ``decay`` in [0, 1], on top of the base prior."""
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay!r}")
        base = base_precision * np.eye(self.dim)
        return BayesianLinearRegression(new_mean, base + decay * (self.precision - base))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez(handle, precision=self.precision, precision_mean=self.precision_mean,
                     num_observations=self.num_observations)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "BayesianLinearRegression":
        with np.load(path) as data:
            blr = cls(np.zeros(data["precision_mean"].size), data["precision"])
            blr.precision_mean = data["precision_mean"]
            blr.num_observations = int(data["num_observations"])
        return blr


def logistic_working_response(features: np.ndarray, labels: np.ndarray,
                              linearisation_point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Targets and noise precisions of one IRLS step of logistic regression at ``w*``.

        p_i = sigmoid(w* . z_i),   s_i = max(p_i (1 - p_i), 1e-6),
        y_i = w* . z_i + (l_i - p_i) / s_i

    Returns: (targets [n], noise_precision [n]) for `BayesianLinearRegression.update`.
    """
    point = np.asarray(linearisation_point, dtype=np.float64)
    features = _as_matrix(features, point.size)
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    if labels.shape[0] != features.shape[0]:
        raise ValueError(f"labels has {labels.shape[0]} values for {features.shape[0]} rows")
    logits = features @ point
    probability = 1.0 / (1.0 + np.exp(-logits))
    precision = np.maximum(probability * (1.0 - probability), MIN_NOISE_PRECISION)
    return logits + (labels - probability) / precision, precision
