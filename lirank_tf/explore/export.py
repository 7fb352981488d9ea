"""Serving export with a Thompson-sampling signature (LiRank §3.8), stock TensorFlow ops only.

The SavedModel has the usual signatures of `lirank_tf.serving.ServingModule` (exploit: the
trained weights) plus ``serve_explore``: the same raw-feature inputs and an int64 scalar
``seed``. Per request it draws the last-layer weights of every explored task,

    w~_t = mean_t + exploration_scale * L_t @ stateless_normal([d], seed=(seed, t))

(L_t L_t^T = posterior covariance), and scores every candidate of the request with the same
draw: one plausible model per request, the same seed giving the same ranking. The posterior
means and Cholesky factors are variables of the SavedModel, written at export time — export
again after each period's `NeuralLinear.update`.

With root-object effects (LiRank §3.9, `lirank_tf.wide`) every signature, ``serve_explore``
included, adds the RO table's effect to the like / click logits (the paper explores "alongside
RO Wide scores"); the table stays an updatable asset (`lirank_tf.wide.update_root_object_table`).
With ``root_object_scale`` > 0, ``serve_explore`` also explores new items: a root object the
table does not hold yet gets a draw from the effects' prior N(0, 1/l2) (times the scale) instead
of 0, one per candidate (the "thompson (RO, new posts)" policy of the bandit replay,
``benchmarks/explore_exploit.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.explore.neural_linear import NeuralLinear
from lirank_tf.serving.export import ServingModule, Untracked, raw_signature
from lirank_tf.serving.validation import (after_checks, check_shapes, history_checks,
                                          same_rows_checks)
from lirank_tf.serving.warmup import write_warmup_requests
from lirank_tf.transform import TransformationModel
from lirank_tf.wide.export import TABLE_ASSET, RootObjectTables, write_root_object_assets
from lirank_tf.wide.root_object import RootObjectEffects

SEED_INPUT = "seed"


class ThompsonServingModule(ServingModule):
    """`ServingModule` + ``serve_explore(raw features..., seed)`` (Thompson sampling); with
    ``effects`` and ``table_path`` every signature adds the root-object effects."""

    def __init__(self, config: ExperimentConfig, transform: TransformationModel,
                 explorer: NeuralLinear, exploration_scale: float = 1.0,
                 effects: RootObjectEffects | None = None,
                 table_path: str | Path | None = None, root_object_scale: float = 0.0) -> None:
        super().__init__(config, transform, explorer.model)
        if (effects is None) != (table_path is None):
            raise ValueError("effects and table_path go together")
        if isinstance(root_object_scale, bool) or not float(root_object_scale) >= 0:
            raise ValueError(f"root_object_scale must be >= 0, got {root_object_scale!r}")
        if root_object_scale > 0 and effects is None:
            raise ValueError("root_object_scale explores new root objects: it needs effects "
                             "(a root-object table)")
        self.root_objects = (RootObjectTables(config, self.fields, effects, table_path,
                                              new_id_scale=root_object_scale)
                             if effects is not None else None)
        if isinstance(exploration_scale, bool) or not float(exploration_scale) >= 0:
            raise ValueError(f"exploration_scale must be >= 0, got {exploration_scale!r}")
        specs = raw_signature(self.fields)
        if SEED_INPUT in specs:
            raise ValueError(f"a raw feature is named {SEED_INPUT!r}, the input of serve_explore")
        self._explorer = Untracked(explorer)
        self.exploration_scale = float(exploration_scale)
        self.posterior_means = {t: tf.Variable(explorer.posteriors[t].mean, dtype=tf.float32,
                                               trainable=False, name=f"{t}_posterior_mean")
                                for t in explorer.tasks}
        self.posterior_scale_trils = {t: tf.Variable(explorer.posteriors[t].scale_tril(),
                                                     dtype=tf.float32, trainable=False,
                                                     name=f"{t}_posterior_scale_tril")
                                      for t in explorer.tasks}
        self._explore_specs = dict(specs, **{SEED_INPUT: tf.TensorSpec([], tf.int64,
                                                                        name=SEED_INPUT)})
        self.serve_explore = tf.function(self._serve_explore, input_signature=[self._explore_specs])

    def signatures(self) -> dict:
        return dict(super().signatures(), serve_explore=self.serve_explore)

    def _score(self, raw: dict) -> dict[str, tf.Tensor]:
        results = super()._score(raw)
        return results if self.root_objects is None else self.root_objects.adjust(results, raw)

    def _sampled_weights(self, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        draws = {}
        for index, task in enumerate(self._explorer.value.tasks):
            mean = self.posterior_means[task]
            noise = tf.random.stateless_normal(
                tf.shape(mean), seed=tf.stack([seed, tf.constant(index, tf.int64)]))
            draws[task] = mean + self.exploration_scale * tf.linalg.matvec(
                self.posterior_scale_trils[task], noise)
        return draws

    def _serve_explore(self, request: dict) -> dict[str, tf.Tensor]:
        request = dict(request)
        seed = tf.cast(request.pop(SEED_INPUT), tf.int64)
        raw = check_shapes(request, raw_signature(self.fields))
        history = self.config.features.history
        reference = history.candidate_field if history else self.fields[0].name
        checks = same_rows_checks(raw, reference, sorted(raw))
        if history is not None:
            checks += history_checks(raw, history)
        raw = after_checks(raw, checks)
        probabilities = self._explorer.value.probabilities(self.transform(raw),
                                                           self._sampled_weights(seed))
        results = {t.name: probabilities[t.name] for t in self.config.tasks}
        results["score"] = tf.add_n([t.score_weight * results[t.name] for t in self.config.tasks])
        if self.root_objects is None:
            return results
        return self.root_objects.adjust(results, raw, seed)


def export_explore_model(config: ExperimentConfig, transform: TransformationModel,
                         explorer: NeuralLinear, export_dir: str | Path,
                         exploration_scale: float = 1.0,
                         effects: RootObjectEffects | None = None,
                         root_object_scale: float = 0.0) -> Path:
    """Writes the SavedModel with ``serving_default``, ``serve_examples`` and ``serve_explore``
    (and, with ``effects``, the root-object table as the asset of `lirank_tf.wide`;
    ``root_object_scale`` > 0 makes ``serve_explore`` draw the effects of root objects the
    table does not hold from its prior, see `RootObjectTables.adjust`)."""
    export_dir = Path(export_dir)
    with tempfile.TemporaryDirectory() as scratch:
        table = effects.write_table(Path(scratch) / TABLE_ASSET) if effects is not None else None
        module = ThompsonServingModule(config, transform, explorer, exploration_scale, effects,
                                       table, root_object_scale)
        tf.saved_model.save(module, str(export_dir), signatures=module.signatures())
    if effects is not None:
        write_root_object_assets(export_dir, effects, root_object_scale)
    write_warmup_requests(export_dir, config)
    return export_dir
