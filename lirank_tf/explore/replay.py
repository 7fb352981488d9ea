"""A ranker that explores and learns in a simulated bandit replay (LiRank §3.8, §3.9).

`ExploreExploitRanker` scores the candidates of `FeedSimulator.simulate_day(day, ranker,
periods, feedback)` the way the paper's feed serves them: the global model's task
probabilities with its last layer from the Neural-Linear posterior (`NeuralLinear`), plus the
root-object (RO) random effects of the like and click tasks (`RootObjectEffects`), combined into
the final score. Each part is exploited (posterior mean) or explored (Thompson draw):

* ``last_layer``: ``"trained"`` (the network's own weights), ``"mean"`` (the NL posterior
  mean) or ``"thompson"`` (one draw of the last layer per session, every candidate of the
  session scored with it, scaled by ``last_layer_scale``);
* ``root_objects``: ``"mean"``, ``"thompson"`` (one draw per candidate: N(b, var) for a
  root object the last fit saw, the prior N(0, 1/l2) for a new one), or ``"thompson_new"``
  (draws only for root objects no fit has seen yet: explore new items, exploit known ones),
  scaled by ``root_object_scale``.

It learns on the paper's two clocks: after every period (``observe``, the simulator's
``feedback``; 8 hours with ``periods=3``) the RO effects are refitted on the impressions of the
last ``window_days`` days, with the global model's exploit predictions of the impressions as
shown (at their positions) as offsets, so the effects explain its residual; at the end of the day (``end_of_day``) the global
model is fitted one more epoch on the day's impressions, the NL posterior is carried over to the
retrained last layer (evidence of earlier days weighted by ``posterior_decay``) and updated with
the day, the window is re-predicted by the retrained model and the RO effects refitted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import keras
import numpy as np

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.explore.neural_linear import NeuralLinear
from lirank_tf.transform.records import model_inputs
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.training.trainer import batches_of
from lirank_tf.transform import TransformationModel
from lirank_tf.wide.root_object import RootObjectEffects

CHUNK = 4096     # candidates scored per model call


@dataclasses.dataclass(frozen=True)
class Exploration:
    """How a ranker uses the two posteriors (see the module docstring)."""

    last_layer: Literal["trained", "mean", "thompson"] = "mean"
    root_objects: Literal["mean", "thompson", "thompson_new"] = "mean"
    last_layer_scale: float = 1.0
    root_object_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.last_layer not in ("trained", "mean", "thompson"):
            raise ValueError("last_layer must be 'trained', 'mean' or 'thompson', got "
                             f"{self.last_layer!r}")
        if self.root_objects not in ("mean", "thompson", "thompson_new"):
            raise ValueError("root_objects must be 'mean', 'thompson' or 'thompson_new', got "
                             f"{self.root_objects!r}")
        for name in ("last_layer_scale", "root_object_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")

    @property
    def explores(self) -> bool:
        return self.last_layer == "thompson" or self.root_objects != "mean"


class ExploreExploitRanker:
    """Ranker + feedback of a simulated bandit replay (see the module docstring).

    Args:
        config: the experiment of ``model`` (its tasks' ``score_weight`` make the score).
        transform: the fitted transformation model.
        explorer: the `NeuralLinear` posterior of the compiled, trained ``explorer.model``
            (updated in place every day; the model is fitted in place).
        effects: the `RootObjectEffects` (refitted in place every period).
        exploration: an `Exploration`, default exploit everything at the posterior means.
        window_days: int >= 1, default 4. Days of impressions the RO effects are fitted on
            (the posts' candidate lifetime).
        posterior_decay: float in [0, 1], default 0.5. Weight of earlier days' evidence when
            the NL posterior is carried over to the retrained last layer.
        seed: int, default 0. Seeds the Thompson draws (each call draws anew).
        batch_size: int, default the config's. Batch of the daily training epoch.
    """

    def __init__(self, config: ExperimentConfig, transform: TransformationModel,
                 explorer: NeuralLinear, effects: RootObjectEffects,
                 exploration: Exploration = Exploration(), *, window_days: int = 4,
                 posterior_decay: float = 0.5, seed: int = 0,
                 batch_size: int | None = None) -> None:
        tasks = [t.name for t in config.tasks]
        missing = [t for t in effects.tasks if t not in tasks]
        if missing:
            raise ValueError(f"root-object tasks {missing} are not tasks of the config {tasks}")
        if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
            raise ValueError(f"window_days must be an int >= 1, got {window_days!r}")
        if not 0.0 <= posterior_decay <= 1.0:
            raise ValueError(f"posterior_decay must be in [0, 1], got {posterior_decay!r}")
        self.config, self.transform, self.explorer, self.effects = config, transform, explorer, effects
        self.exploration, self.window_days = exploration, window_days
        self.posterior_decay, self.seed = posterior_decay, seed
        self.batch_size = batch_size or config.training.batch_size
        self.fields = raw_fields(config)
        self.weights = {t.name: t.score_weight for t in config.tasks}
        self._calls = 0
        self._last_scores = None   # (scores, exploit scores, session index) of the last call
        self.window: list[dict] = []                # per period: day, ids, offsets, labels, records
        self.explored_impressions = 0    # shown impressions the exploit scores would not show

    # -- scoring -------------------------------------------------------------------------
    def draw_seed(self) -> int:
        """The seed of the Thompson draws of the latest call (reproducible replays)."""
        return self.seed * 1_000_003 + self._calls

    def _exploit_weights(self) -> dict[str, np.ndarray]:
        if self.exploration.last_layer == "trained":
            return {}
        return {t: p.mean for t, p in self.explorer.posteriors.items()}

    def global_probabilities(self, records: list[dict]) -> dict[str, np.ndarray]:
        """The global model's probabilities of ``records`` with the exploit last layer."""
        outputs: dict[str, list] = {t: [] for t in self.weights}
        centre = self._exploit_weights()
        for start in range(0, len(records), CHUNK):
            inputs = model_inputs(records[start:start + CHUNK], self.fields, self.transform)
            for task, values in self.explorer.probabilities(inputs, centre).items():
                outputs[task].append(values.numpy())
        return {t: np.concatenate(v) if v else np.zeros(0) for t, v in outputs.items()}

    def score(self, probabilities: dict[str, np.ndarray]) -> np.ndarray:
        return sum(weight * np.asarray(probabilities[t]) for t, weight in self.weights.items())

    def _root_object_draws(self, ids: np.ndarray, seed: int) -> dict[str, np.ndarray] | None:
        mode = self.exploration.root_objects
        if mode == "mean":
            return None
        draws = self.effects.sample(ids, seed=seed, scale=self.exploration.root_object_scale)
        if mode == "thompson_new":
            known = np.array([str(i) in self.effects.variances for i in ids], dtype=bool)
            means = self.effects.effects(ids)
            draws = {t: np.where(known, means[t], draws[t]) for t in draws}
        return draws

    def __call__(self, records: list[dict]) -> np.ndarray:
        """One score per candidate record (the simulator shows each session's best)."""
        self._calls += 1
        seed = self.draw_seed()
        _, session = np.unique([r["session_id"] for r in records], return_inverse=True)
        thompson = self.exploration.last_layer == "thompson"
        draws = (self.explorer.sample(seed, rows=int(session.max()) + 1,
                                      exploration_scale=self.exploration.last_layer_scale)
                 if thompson else {})
        centre = self._exploit_weights()
        scores, exploit_scores = [], []
        for start in range(0, len(records), CHUNK):
            chunk = records[start:start + CHUNK]
            inputs = model_inputs(chunk, self.fields, self.transform)
            ids = np.array([r["root_object_id"] for r in chunk])
            mean = {t: v.numpy() for t, v in self.explorer.probabilities(inputs, centre).items()}
            exploit_scores.append(self.score(self.effects.adjust(ids, mean)))
            if not self.exploration.explores:
                scores.append(exploit_scores[-1])
                continue
            sampled = mean if not thompson else {
                t: v.numpy() for t, v in self.explorer.probabilities(
                    inputs, {t: w[session[start:start + CHUNK]] for t, w in draws.items()}).items()}
            effects = self._root_object_draws(ids, seed * 7 + start)
            scores.append(self.score(self.effects.adjust(ids, sampled, effects)))
        self._last_scores = (np.concatenate(scores), np.concatenate(exploit_scores), session)
        return self._last_scores[0]

    # -- learning ------------------------------------------------------------------------
    def observe(self, records: list[dict], day: int | None = None) -> None:
        """The labelled impressions of one period: RO refit on the window (the simulator's
        ``feedback``)."""
        if not records:
            return
        day = records[0]["day"] if day is None else day
        self._count_explored(records)
        predicted = self.global_probabilities(records)      # at the positions shown
        self.window.append({
            "day": day, "records": records,
            "ids": np.array([r["root_object_id"] for r in records]),
            "offsets": {t: predicted[t] for t in self.effects.tasks},
            "labels": {t: np.array([r[t] for r in records], np.float64)
                       for t in self.effects.tasks}})
        self.window = [w for w in self.window if w["day"] > day - self.window_days]
        self._refit()

    def _count_explored(self, records: list[dict]) -> None:
        """Shown impressions that the exploit scores would not have put in the session."""
        if not self.exploration.explores or self._last_scores is None:
            return
        scores, exploit, session = self._last_scores
        width = len(scores) // (int(session.max()) + 1)
        length = max(1, len(records) // max(1, len({r["session_id"] for r in records})))
        top = np.argsort(-scores.reshape(-1, width), axis=1, kind="stable")[:, :length]
        best = np.argsort(-exploit.reshape(-1, width), axis=1, kind="stable")[:, :length]
        self.explored_impressions += int(sum(len(set(a) - set(b)) for a, b in zip(top, best)))

    def _refit(self) -> None:
        tasks = self.effects.tasks
        self.effects.fit(np.concatenate([w["ids"] for w in self.window]),
                         {t: np.concatenate([w["offsets"][t] for w in self.window]) for t in tasks},
                         {t: np.concatenate([w["labels"][t] for w in self.window]) for t in tasks})

    def end_of_day(self, day_file: str | Path) -> None:
        """Daily training on the day's Avro file: one warm-start epoch of the global model,
        the NL posterior carried over and updated, the window re-predicted, RO refitted."""
        files = [str(day_file)]
        keras.utils.set_random_seed(self.seed * 7919 + self._calls)
        self.explorer.model.fit(
            training_dataset(self.config, files, self.transform, shuffle=True,
                             seed=self.seed + self._calls, batch_size=self.batch_size,
                             batches=batches_of(files, self.batch_size)),
            epochs=1, verbose=0, shuffle=False)   # the dataset shuffles itself
        self.explorer.update(training_dataset(self.config, files, self.transform, shuffle=False,
                                              batch_size=1024, batches=batches_of(files, 1024)),
                             decay=self.posterior_decay)
        for period in self.window:
            predicted = self.global_probabilities(period["records"])
            period["offsets"] = {t: predicted[t] for t in self.effects.tasks}
        if self.window:
            self._refit()
