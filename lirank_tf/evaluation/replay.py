"""Offline replay metric of the Feed (LiRank §5.2): "matched imps @ 1" and the contribution rate.

A small share of sessions is logged with a pseudo-random ranking: the production model ranks
every item and the order of the top N is then shuffled uniformly. Offline, the experimental
model ranks the same sessions. When its first item is the item the member saw at Feed position 1
(a *matched impression at 1*) and the member contributed to it (like, comment, share, vote),
the experimental model earns a contribution reward::

    contribution rate = # matched imps @ 1 with a contribution / # matched imps @ 1

Because the logged first item is uniform over the top N, a match happens with probability 1/N
whatever the model prefers, so the rate estimates the contribution rate the model would get
at position 1 online (replay / rejection sampling, Li et al. 2011 — the paper's reference [17]).

Ties: when the model's best score is shared by k candidates, one of which is the logged first
item, the session counts 1/k of a match (the expectation of a uniformly random tie-break), so a
constant model cannot match every session by inheriting the logged order.

The simulator writes such sessions with ``FeedSimulatorConfig(randomize_top_n=N)`` (on every
day, or with ``randomize_days="test"`` on its test days only). When scoring, the ``position``
feature (a logged, post-ranking fact) is set to ``neutral_position`` for every candidate, as at
serving time.

Which data has randomised sessions: the logging system knows, the Avro records do not say. An
evaluation is told N (``lirank-tf evaluate --replay-top-n N``) or, for simulated data, reads it
from the simulator's ``manifest.json`` beside the files (`replay_top_n_of_files`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import keras
import numpy as np

from lirank_tf.config import ExperimentConfig
from lirank_tf.data import avro_file
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.transform.records import record_probabilities
from lirank_tf.transform import TransformationModel

CONTRIBUTION_TASKS = ("like", "comment", "share", "vote")


@dataclasses.dataclass(frozen=True)
class ReplayResult:
    """Replay counts of one model on a set of randomised sessions.

    ``matched_at_1`` and ``contributions_at_1`` are expected counts (fractional with ties);
    ``logged_contribution_rate`` is the contribution rate at position 1 of the logging
    (randomised) ranking over all sessions, the rate of a model that picks at random.
    """

    sessions: int
    matched_at_1: float
    contributions_at_1: float
    contribution_rate: float
    match_rate: float
    logged_contribution_rate: float

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def replay_contribution_rate(session_ids: np.ndarray, positions: np.ndarray, scores: np.ndarray,
                             contributions: np.ndarray, top_n: int | None = None) -> ReplayResult:
    """The replay metric of ``scores`` on logged sessions.

    Args:
        session_ids: int array [n], the session of each logged impression.
        positions: int array [n], the logged 0-based position (0 = Feed position 1).
        scores: float array [n], the experimental model's score of each impression.
        contributions: 0/1 array [n], whether the member contributed to the item.
        top_n: int > 0 or None (default). None: the model ranks every item of the session (the
            paper); N: only the items logged in the randomised top N (each session then matches
            with probability exactly 1/N).

    Returns: a `ReplayResult`. Sessions without an impression at position 0 are skipped.

    Example:
        >>> r = replay_contribution_rate(np.array([1, 1, 2, 2]), np.array([0, 1, 0, 1]),
        ...                              np.array([0.9, 0.1, 0.2, 0.8]), np.array([1, 0, 1, 1]))
        >>> r.matched_at_1, r.contributions_at_1, r.contribution_rate
        (1.0, 1.0, 1.0)
    """
    session_ids = np.asarray(session_ids).reshape(-1)
    positions = np.asarray(positions).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    contributions = np.asarray(contributions, dtype=np.float64).reshape(-1)
    lengths = [len(a) for a in (session_ids, positions, scores, contributions)]
    if len(set(lengths)) != 1:
        raise ValueError("session_ids, positions, scores and contributions must have one value "
                         f"per impression, got lengths {lengths}")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ValueError(f"top_n must be a positive int or None, got {top_n!r}")
    if np.isnan(scores).any():
        raise ValueError("scores must not contain NaN")
    if contributions.size and not np.isin(contributions, (0.0, 1.0)).all():
        raise ValueError("contributions must be 0 or 1")
    if not session_ids.size:
        return ReplayResult(0, 0.0, 0.0, float("nan"), float("nan"), float("nan"))

    order = np.lexsort((positions, session_ids))
    session_ids, positions, scores, contributions = (
        a[order] for a in (session_ids, positions, scores, contributions))
    new_session = np.r_[True, session_ids[1:] != session_ids[:-1]]
    starts = np.flatnonzero(new_session)
    group = np.cumsum(new_session) - 1
    is_first = positions == 0
    firsts = np.bincount(group, weights=is_first, minlength=len(starts))
    if (firsts > 1).any():
        bad = session_ids[starts[np.flatnonzero(firsts > 1)[0]]]
        raise ValueError(f"session {bad} has more than one impression at position 0")
    candidate = positions < top_n if top_n is not None else np.ones_like(is_first)
    masked = np.where(candidate, scores, -np.inf)
    best = np.maximum.reduceat(masked, starts)
    tied = candidate & (masked == best[group])
    ties = np.bincount(group, weights=tied, minlength=len(starts))

    first_rows = np.flatnonzero(is_first)
    first_group = group[first_rows]
    match = tied[first_rows] / ties[first_group]
    matched = float(match.sum())
    rewarded = float((match * contributions[first_rows]).sum())
    logged = float(contributions[first_rows].mean()) if first_rows.size else float("nan")
    return ReplayResult(
        sessions=int(first_rows.size), matched_at_1=matched, contributions_at_1=rewarded,
        contribution_rate=rewarded / matched if matched > 0 else float("nan"),
        match_rate=matched / first_rows.size if first_rows.size else float("nan"),
        logged_contribution_rate=logged)


def read_records(files: Sequence[str]) -> list[dict]:
    """Every record of the Avro ``files``, in file order."""
    return [record for path in files for record in avro_file.read_records(path)]


def contribution_labels(records: Sequence[dict],
                        tasks: Sequence[str] = CONTRIBUTION_TASKS) -> np.ndarray:
    """1 where the record has any of the contribution label fields ``tasks`` set, else 0."""
    if not tasks:
        raise ValueError("tasks: at least one contribution label is required")
    missing = [t for t in tasks if records and t not in records[0]]
    if missing:
        raise ValueError(f"records have no contribution label field(s) {missing}")
    return np.array([int(any(r[t] for t in tasks)) for r in records], dtype=np.int32)


def model_scores(model: keras.Model, transform: TransformationModel, config: ExperimentConfig,
                 records: Sequence[dict], neutral_position: float | None = 0.0,
                 batch_size: int = 2048) -> np.ndarray:
    """The Feed score ``sum_t score_weight_t * p_t`` of every record (as served).

    With ``neutral_position`` (default 0.0) the dense feature ``position`` (if the config has
    one) is replaced by that value, so the logged position does not leak into the ranking.
    """
    has_position = any(f.name == "position" for f in config.features.dense)
    if has_position and neutral_position is not None:
        records = [dict(r, position=neutral_position) for r in records]
    probabilities = record_probabilities(model, transform, raw_fields(config), records,
                                         [t.name for t in config.tasks], batch_size)
    return sum((t.score_weight * probabilities[t.name] for t in config.tasks),
               np.zeros(len(records)))


def replay_top_n_of_files(files: Sequence[str]) -> int:
    """N when every file is a day the Feed simulator logged with its top N positions shuffled,
    else 0.

    Rule: the ``manifest.json`` in each file's directory (written by ``simulate_feed``) must
    have ``config.randomize_top_n`` >= 2 and, with ``config.randomize_days == "test"``, list the
    file among its test files; all files must agree on N. Data without such a manifest (your own
    logs) has no known randomisation: pass N explicitly.
    """
    found = set()
    for path in files:
        manifest_path = Path(path).parent / "manifest.json"
        if not manifest_path.is_file():
            return 0
        try:
            manifest = json.loads(manifest_path.read_text())
            simulated = manifest["config"]
            top_n = int(simulated.get("randomize_top_n", 0) or 0)
            if simulated.get("randomize_days", "all") == "test":
                test_names = {Path(f).name for f in manifest["files"]["test"]}
                top_n = top_n if Path(path).name in test_names else 0
        except (ValueError, KeyError, TypeError, AttributeError):
            return 0                                # not a Feed simulator manifest
        if top_n < 2:
            return 0
        found.add(top_n)
    return found.pop() if len(found) == 1 else 0


def evaluate_replay(model: keras.Model, transform: TransformationModel, config: ExperimentConfig,
                    files: Sequence[str], top_n: int | None = None,
                    contribution_tasks: Sequence[str] = CONTRIBUTION_TASKS,
                    neutral_position: float | None = 0.0) -> ReplayResult:
    """The replay metric of ``model`` on sessions logged with a randomised top N in ``files``."""
    records = read_records(files)
    for field in ("session_id", "position"):
        if records and field not in records[0]:
            raise ValueError(f"the replay metric needs the fields session_id and position of "
                             f"logged sessions; the records of {list(files)[0]} have no {field!r}")
    scores = model_scores(model, transform, config, records, neutral_position)
    return replay_contribution_rate(
        np.array([r["session_id"] for r in records]), np.array([r["position"] for r in records]),
        scores, contribution_labels(records, contribution_tasks), top_n=top_n)


def format_replay(result: ReplayResult, top_n: int | None = None) -> str:
    """One line for the evaluation report, printed under the AUC table."""
    shuffled = f" (top {top_n} shuffled)" if top_n else ""
    return (f"replay: {result.sessions} sessions{shuffled}, matched imps @1 = "
            f"{result.matched_at_1:.1f} "
            f"({result.match_rate:.3f}), contribution rate = {result.contribution_rate:.4f} "
            f"(random ranking: {result.logged_contribution_rate:.4f})")
