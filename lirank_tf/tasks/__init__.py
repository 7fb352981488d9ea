"""Tasks own labels, losses and metrics of each prediction head (TFRS ``tasks.Ranking`` style)."""

from lirank_tf.tasks.ranking import MultiTask, RankingTask

__all__ = ["MultiTask", "RankingTask"]
