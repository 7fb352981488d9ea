"""Offline ranking metrics in NumPy: AUC, log loss, observed/expected ratio, calibration error."""

from __future__ import annotations

import numpy as np


def _check(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if labels.shape != probabilities.shape:
        raise ValueError(f"labels {labels.shape} and probabilities {probabilities.shape} differ in size")
    if labels.size and (labels.min() < 0 or labels.max() > 1):
        raise ValueError(f"labels must be in [0, 1], got range [{labels.min()}, {labels.max()}]")
    return labels, probabilities


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); NaN with one class only.

    Example:
        >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    labels, scores = _check(labels, scores)
    positives = labels > 0.5
    n_pos = int(positives.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(labels.size, dtype=np.float64)
    # average ranks of tied groups
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [labels.size]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = 0.5 * (start + end + 1)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy (natural log), probabilities clipped to [eps, 1 - eps]."""
    labels, probabilities = _check(labels, probabilities)
    p = np.clip(probabilities, eps, 1.0 - eps)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)))


def oe_ratio(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Observed / expected: sum of labels over sum of predicted probabilities (1 = calibrated)."""
    labels, probabilities = _check(labels, probabilities)
    expected = probabilities.sum()
    return float(labels.sum() / expected) if expected > 0 else float("nan")


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray,
                               num_bins: int = 20) -> float:
    """ECE over ``num_bins`` equal-width probability bins, weighted by bin size."""
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins!r}")
    labels, probabilities = _check(labels, probabilities)
    bins = np.minimum((probabilities * num_bins).astype(int), num_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        total += in_bin.sum() * abs(labels[in_bin].mean() - probabilities[in_bin].mean())
    return float(total / max(labels.size, 1))


def reliability_curve(labels: np.ndarray, probabilities: np.ndarray,
                      num_bins: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-empty bin: mean predicted probability, observed rate, count."""
    labels, probabilities = _check(labels, probabilities)
    bins = np.minimum((probabilities * num_bins).astype(int), num_bins - 1)
    present = np.unique(bins)
    predicted = np.array([probabilities[bins == b].mean() for b in present])
    observed = np.array([labels[bins == b].mean() for b in present])
    counts = np.array([(bins == b).sum() for b in present])
    return predicted, observed, counts


def task_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """The per-task metrics table row: auc, logloss, oe_ratio, ece, positive rate."""
    return {
        "auc": auc(labels, probabilities),
        "logloss": log_loss(labels, probabilities),
        "oe_ratio": oe_ratio(labels, probabilities),
        "ece": expected_calibration_error(labels, probabilities),
        "positive_rate": float(np.mean(labels)) if len(labels) else float("nan"),
    }
