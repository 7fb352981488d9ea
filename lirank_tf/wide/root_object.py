"""Root-object (RO) wide popularity model (LiRank §3.9, Fig. 5): per-item random effects.

The global model captures broad trends; short-lived, volatile posts (root objects) get a
random effect b_r per root-object id and task, fitted often (every 8 hours in the paper) to the
residual of the global model on the latest data. The final prediction adds the logits::

    y_final = sigmoid(logit(y_global) + logit(y_random)),   logit(y_random) = b_r

Fitting (for each task, each id r independently): maximise the Bernoulli log-likelihood of the
labels with the global logit o_i as a fixed offset, under the Gaussian prior b_r ~ N(mu_r, 1/l2)
(mu_r = 0, or ``carry_over`` times the previous fit's effect)::

    sum_{i in r} [l_i log s(o_i + b_r) + (1 - l_i) log(1 - s(o_i + b_r))] - l2/2 (b_r - mu_r)^2

a concave 1-D problem per id, solved by Newton's method vectorised over all ids. The paper uses
likes and clicks for their label coverage (the defaults). Ids never seen have b = 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

DEFAULT_TASKS = ("like", "click")
MAX_NEWTON_STEP = 4.0


def _logit(probability: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def impression_hours(days: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Simulated time of each impression in hours since day 0 (``24 * day + hour``)."""
    return 24 * np.asarray(days, np.int64) + np.asarray(hours, np.int64)


class RootObjectEffects:
    """Per-root-object logit offsets on top of a global model, for a few tasks.

    Args:
        tasks: list of str, default ("like", "click"). Tasks with a random effect.
        l2: float > 0, default 1.0. Prior precision of each effect (shrinks ids with few
            impressions towards the prior mean).
        newton_steps: int > 0, default 25.
        carry_over: float in [0, 1], default 0.0. Prior mean of a refit = carry_over x the
            previous effect of the id (0: every refit starts from the global model alone).

    Example:
        >>> effects = RootObjectEffects(tasks=["like"], l2=1e-6)
        >>> ids = np.array(["post:1"] * 4 + ["post:2"] * 4)
        >>> likes = np.array([1, 1, 1, 0, 0, 0, 0, 1])
        >>> _ = effects.fit(ids, {"like": np.full(8, 0.5)}, {"like": likes})
        >>> np.round(effects.adjust(np.array(["post:1", "post:2", "post:3"]),
        ...                         {"like": np.full(3, 0.5)})["like"], 3).tolist()
        [0.75, 0.25, 0.5]

    References: LiRank §3.9 and Fig. 5.
    """

    def __init__(self, tasks: Sequence[str] = DEFAULT_TASKS, l2: float = 1.0,
                 newton_steps: int = 25, carry_over: float = 0.0) -> None:
        tasks = list(tasks)
        if not tasks or len(set(tasks)) != len(tasks) \
                or not all(isinstance(t, str) and t for t in tasks):
            raise ValueError(f"tasks must be distinct non-empty names, got {tasks!r}")
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not l2 > 0:
            raise ValueError(f"l2 must be > 0, got {l2!r}")
        if isinstance(newton_steps, bool) or not isinstance(newton_steps, int) or newton_steps < 1:
            raise ValueError(f"newton_steps must be a positive int, got {newton_steps!r}")
        if isinstance(carry_over, bool) or not isinstance(carry_over, (int, float)) \
                or not 0.0 <= carry_over <= 1.0:
            raise ValueError(f"carry_over must be in [0, 1], got {carry_over!r}")
        self.tasks, self.l2 = tasks, float(l2)
        self.newton_steps, self.carry_over = newton_steps, float(carry_over)
        self.table: dict[str, np.ndarray] = {}     # id -> effects [len(tasks)]
        self.variances: dict[str, np.ndarray] = {}  # id -> posterior variances (last fit only)

    def fit(self, root_ids: np.ndarray, global_probabilities: dict[str, np.ndarray],
            labels: dict[str, np.ndarray]) -> "RootObjectEffects":
        """Refits the effects on one window of impressions; returns self.

        Args:
            root_ids: str array [n], the root object of each impression.
            global_probabilities: {task: [n]} the global model's predictions.
            labels: {task: [n]} 0/1 labels.
        """
        root_ids = np.asarray(root_ids).reshape(-1)
        for task in self.tasks:
            for name, values in (("global_probabilities", global_probabilities),
                                 ("labels", labels)):
                if task not in values:
                    raise ValueError(f"{name} has no task {task!r}; tasks: {self.tasks}")
                if np.shape(values[task])[0] != root_ids.size:
                    raise ValueError(f"{name}[{task!r}] has {np.shape(values[task])[0]} values for "
                                     f"{root_ids.size} impressions")
        unique, index = np.unique(root_ids, return_inverse=True)
        previous = np.array([self.table.get(r, np.zeros(len(self.tasks))) for r in unique]
                            ).reshape(len(unique), len(self.tasks))
        prior_mean = self.carry_over * previous
        effects = np.empty((len(unique), len(self.tasks)))
        variances = np.empty_like(effects)
        for k, task in enumerate(self.tasks):
            effects[:, k], variances[:, k] = self._newton(
                index, len(unique), _logit(global_probabilities[task]),
                np.asarray(labels[task], np.float64).reshape(-1), prior_mean[:, k])
        self.table = {str(r): effects[i] for i, r in enumerate(unique)}
        self.variances = {str(r): variances[i] for i, r in enumerate(unique)}
        return self

    def _newton(self, index, count, offset, labels, prior_mean) -> tuple[np.ndarray, np.ndarray]:
        """MAP effects and their Laplace posterior variances 1 / (l2 + sum p (1 - p))."""
        effect = prior_mean.copy()
        for _ in range(self.newton_steps):
            p = _sigmoid(offset + effect[index])
            gradient = np.bincount(index, labels - p, count) - self.l2 * (effect - prior_mean)
            curvature = np.bincount(index, p * (1 - p), count) + self.l2
            effect += np.clip(gradient / curvature, -MAX_NEWTON_STEP, MAX_NEWTON_STEP)
        p = _sigmoid(offset + effect[index])
        return effect, 1.0 / (np.bincount(index, p * (1 - p), count) + self.l2)

    def sample(self, root_ids: np.ndarray, seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
        """Thompson draws of the effects, one independent draw per element of ``root_ids``:
        N(b, variance) from the last fit (Laplace approximation), N(0, 1 / l2) — the prior —
        for ids it has not seen, so new root objects are explored the most."""
        root_ids = np.asarray(root_ids).reshape(-1)
        means = self.effects(root_ids)
        prior = np.full(len(self.tasks), 1.0 / self.l2)
        variances = np.array([self.variances.get(str(r), prior) for r in root_ids]
                             ).reshape(-1, len(self.tasks))
        noise = np.random.default_rng(seed).standard_normal(variances.shape)
        return {task: means[task] + scale * np.sqrt(variances[:, k]) * noise[:, k]
                for k, task in enumerate(self.tasks)}

    def effects(self, root_ids: np.ndarray) -> dict[str, np.ndarray]:
        """``{task: b [n]}`` of ``root_ids`` (0 for ids without an effect)."""
        values = np.array([self.table.get(str(r), np.zeros(len(self.tasks)))
                           for r in np.asarray(root_ids).reshape(-1)]).reshape(-1, len(self.tasks))
        return {task: values[:, k] for k, task in enumerate(self.tasks)}

    def adjust(self, root_ids: np.ndarray, global_probabilities: dict[str, np.ndarray],
               effects: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """``sigmoid(logit(p_global) + b)`` for the RO tasks (``effects``, e.g. from `sample`,
        default: the fitted ones); other tasks are returned as given."""
        effects = self.effects(root_ids) if effects is None else effects
        adjusted = dict(global_probabilities)
        for task in self.tasks:
            adjusted[task] = _sigmoid(_logit(global_probabilities[task]) + effects[task])
        return adjusted

    def write_table(self, path: str | Path) -> Path:
        """Writes the serving table: one ``id<TAB>b_task1<TAB>b_task2...`` line per id, after a
        first line for the empty id (all zeros) so the file is never empty."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["\t".join(["", *("0.0" for _ in self.tasks)])]
        for root_id in sorted(self.table):
            if "\t" in root_id or "\n" in root_id or not root_id:
                raise ValueError(f"root object id {root_id!r} cannot be written to the table")
            lines.append("\t".join([root_id, *(repr(float(v)) for v in self.table[root_id])]))
        path.write_text("\n".join(lines) + "\n")
        return path

    def save(self, path: str | Path) -> Path:
        """Writes the table (``path``) and its settings (``path`` + ``.json``)."""
        path = self.write_table(path)
        Path(f"{path}.json").write_text(json.dumps(
            {"tasks": self.tasks, "l2": self.l2, "newton_steps": self.newton_steps,
             "carry_over": self.carry_over, "ids": len(self.table)}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "RootObjectEffects":
        settings = json.loads(Path(f"{path}.json").read_text())
        settings.pop("ids", None)
        effects = cls(**settings)
        for line in Path(path).read_text().splitlines()[1:]:
            root_id, *values = line.split("\t")
            effects.table[root_id] = np.array([float(v) for v in values])
        return effects
