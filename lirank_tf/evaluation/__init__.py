"""Offline evaluation: metrics (AUC, log loss, O/E, ECE) and reports."""

from lirank_tf.evaluation.metrics import (auc, expected_calibration_error, log_loss, oe_ratio,
                                          reliability_curve, task_metrics)

__all__ = ["auc", "expected_calibration_error", "log_loss", "oe_ratio", "reliability_curve",
           "task_metrics"]
