"""Incremental training (LiRank §3.6, eq. 2-3): warm start from the previous and the cold-start
model, regularised by their diagonal empirical Fisher information."""

from lirank_tf.incremental.fisher import FisherInformation, empirical_fisher, per_example_loss_fn
from lirank_tf.incremental.regularizer import (Anchor, FisherPenalty, attach_fisher_penalty,
                                               detach_fisher_penalty, fisher_penalty,
                                               incremental_anchors, model_weights,
                                               set_warm_start_weights)
from lirank_tf.incremental.train import (FISHER_FILE, INCREMENTAL_FILE, IncrementalTrainResult,
                                         compute_run_fisher, train_incremental)

__all__ = [
    "Anchor", "FISHER_FILE", "FisherInformation", "FisherPenalty", "INCREMENTAL_FILE",
    "IncrementalTrainResult", "attach_fisher_penalty", "compute_run_fisher",
    "detach_fisher_penalty", "empirical_fisher", "fisher_penalty", "incremental_anchors",
    "model_weights", "per_example_loss_fn", "set_warm_start_weights", "train_incremental",
]
