"""Serving export with a Thompson-sampling signature (LiRank §3.8), stock TensorFlow ops only.

The SavedModel has the usual signatures of `lirank_tf.serving.ServingModule` (exploit: the
trained weights) plus ``serve_explore``: the same raw-feature inputs and an int64 scalar
``seed``. Per request it draws the last-layer weights of every explored task,

    w~_t = mean_t + exploration_scale * L_t @ stateless_normal([d], seed=(seed, t))

(L_t L_t^T = posterior covariance), and scores every candidate of the request with the same
draw: one plausible model per request, the same seed giving the same ranking. The posterior
means and Cholesky factors are variables of the SavedModel, written at export time — export
again after each period's `NeuralLinear.update`.

``serve_explore`` is an extra signature of the export (`lirank_tf.serving.parts`): it scores
through the export's score adjusters with its seed. With the root-object effects of
`lirank_tf.wide` among them (LiRank §3.9) every signature, ``serve_explore`` included, adds the
RO table's effect to the like / click logits (the paper explores "alongside RO Wide scores");
the table stays an updatable asset (`lirank_tf.wide.update_root_object_table`). Made with
``new_id_scale`` > 0 (`explore.root_object_scale`), ``serve_explore`` also explores new items:
a root object the table does not hold yet gets a draw from the effects' prior N(0, 1/l2)
(times the scale) instead of 0, one per candidate (the "thompson (RO, new posts)" policy of
the bandit replay, ``benchmarks/explore_exploit.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.explore.neural_linear import NeuralLinear
from lirank_tf.serving.export import Untracked, export_serving_model
from lirank_tf.serving.parts import ScoreAdjuster
from lirank_tf.transform import TransformationModel

SEED_INPUT = "seed"


class ThompsonSampling(tf.Module):
    """The ``serve_explore`` signature of an export (`lirank_tf.serving.parts.ExtraSignature`):
    the raw-feature inputs of ``serving_default`` plus an int64 scalar ``seed``; every request
    is scored with one draw of the explored tasks' last-layer weights (the module docstring),
    then through the export's score adjusters with the seed.

    Args:
        explorer: the `NeuralLinear` posterior; its model must be the export's model.
        exploration_scale: >= 0, the factor on the posterior's spread (0: the posterior mean).
    """

    name = "serve_explore"

    def __init__(self, explorer: NeuralLinear, exploration_scale: float = 1.0) -> None:
        super().__init__(name="thompson_sampling")
        if isinstance(exploration_scale, bool) or not float(exploration_scale) >= 0:
            raise ValueError(f"exploration_scale must be >= 0, got {exploration_scale!r}")
        self._explorer = Untracked(explorer)
        self.exploration_scale = float(exploration_scale)
        self.posterior_means = {t: tf.Variable(explorer.posteriors[t].mean, dtype=tf.float32,
                                               trainable=False, name=f"{t}_posterior_mean")
                                for t in explorer.tasks}
        self.posterior_scale_trils = {t: tf.Variable(explorer.posteriors[t].scale_tril(),
                                                     dtype=tf.float32, trainable=False,
                                                     name=f"{t}_posterior_scale_tril")
                                      for t in explorer.tasks}

    def input_signature(self, specs: dict[str, tf.TensorSpec]) -> dict[str, tf.TensorSpec]:
        if SEED_INPUT in specs:
            raise ValueError(f"a raw feature is named {SEED_INPUT!r}, the input of serve_explore")
        return dict(specs, **{SEED_INPUT: tf.TensorSpec([], tf.int64, name=SEED_INPUT)})

    def write_assets(self, export_dir: Path) -> None:
        """Nothing: the posterior is in the SavedModel's variables."""

    def _sampled_weights(self, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        draws = {}
        for index, task in enumerate(self._explorer.value.tasks):
            mean = self.posterior_means[task]
            noise = tf.random.stateless_normal(
                tf.shape(mean), seed=tf.stack([seed, tf.constant(index, tf.int64)]))
            draws[task] = mean + self.exploration_scale * tf.linalg.matvec(
                self.posterior_scale_trils[task], noise)
        return draws

    def serve(self, module, request: dict) -> dict[str, tf.Tensor]:
        request = dict(request)
        seed = tf.cast(request.pop(SEED_INPUT), tf.int64)
        raw = module.checked(request)
        probabilities = self._explorer.value.probabilities(module.transform(raw),
                                                           self._sampled_weights(seed))
        tasks = module.config.tasks
        results = {t.name: probabilities[t.name] for t in tasks}
        results["score"] = tf.add_n([t.score_weight * results[t.name] for t in tasks])
        return module.adjust(results, raw, seed)


def export_explore_model(config: ExperimentConfig, transform: TransformationModel,
                         explorer: NeuralLinear, export_dir: str | Path,
                         exploration_scale: float = 1.0,
                         adjusters: Sequence[ScoreAdjuster] = ()) -> Path:
    """Writes the SavedModel of ``explorer.model`` with ``serving_default``, ``serve_examples``
    and ``serve_explore`` (`ThompsonSampling`), every signature through ``adjusters`` (e.g. the
    root-object effects of `lirank_tf.wide.root_object_adjuster`, which also explore new root
    objects in ``serve_explore`` when made with ``new_id_scale`` > 0)."""
    return export_serving_model(config, transform, explorer.model, export_dir, quantize="none",
                                adjusters=adjusters,
                                extras=[ThompsonSampling(explorer, exploration_scale)])
