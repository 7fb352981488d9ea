"""The ``lirank-tf tune`` search: an Optuna study in a directory, resumable after a kill.

    OUT/study.db        the study (SQLite): every trial, its parameters, per-epoch values
    OUT/trials/NNNN/    trial NNNN's run directory (`lirank-tf evaluate --run` reads it)
    OUT/trials.csv      one row per trial (`lirank_tf.tune.records`), rewritten after each
    OUT/best.yaml       the best trial's complete config, for `lirank-tf train --config`

The objective is the run's own validation score (``training.monitor``, by default mean val
AUC - val log loss) at the epoch its weights come from (`lirank_tf.tune.trial`). The sampler
is TPE (seeded), the pruner the median rule on each epoch's validation score
(`lirank_tf.tune.pruning`; from the 4th finished trial on, never at epoch 1, and only at an
epoch that 3 other trials reached). Trial 0 of a new
study is the config as given (its own values of the search space, `lirank_tf.tune.space`), so
the table shows what tuning gained over the untouched path. Every trial trains with the
config's ``training.seed``: trials differ by their parameters, not by their initialisation.

Resuming (the same ``--output-dir`` and config): ``--trials N`` is the total of finished trials
(COMPLETE + PRUNED) wanted, so only the missing ones run. A trial that was running when the
search died is marked FAIL, its run directory removed, and its parameters enqueued once more
(``retry of N`` in the table). The sampler is seeded with ``seed`` + the number of trials
already in the study, so a resumed search does not draw again the points it drew before.
One search at a time per directory (a lock beside it).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from lirank_tf.config import ExperimentConfig
from lirank_tf.errors import UserError
from lirank_tf.training.lock import DirectoryLock
from lirank_tf.tune.records import (top_table, trial_line, untouched_trial, write_best_config,
                                    write_trials_csv)
from lirank_tf.tune.space import Dimension, apply_point, config_values, search_space, suggest_point
from lirank_tf.tune.trial import train_trial

STUDY_NAME = "lirank-tf-tune"
# the median pruner: no pruning before this many trials have finished, nor at epoch 1, nor at
# an epoch fewer than PRUNER_MIN_TRIALS other trials reached (with early stopping, late epochs
# are reached by few trials: a median of one is noise; on MovieLens-100K it pruned trials
# better than every completed one)
PRUNER_STARTUP_TRIALS = 3
PRUNER_WARMUP_EPOCHS = 1
PRUNER_MIN_TRIALS = 3
# trials drawn at random before TPE models the results: a third of the budget, 3 to 10
MIN_RANDOM_TRIALS, MAX_RANDOM_TRIALS = 3, 10
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclasses.dataclass
class SearchResult:
    """The study after the search, its ``best`` COMPLETE trial (None when no trial completed)
    and the paths it wrote."""

    study: optuna.Study
    best: FrozenTrial | None
    best_config: Path | None
    trials_csv: Path


def study_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / "study.db"


def trial_dir(output_dir: str | Path, number: int) -> Path:
    """``OUT/trials/NNNN``, the run directory of trial ``number``."""
    return Path(output_dir) / "trials" / f"{number:04d}"


def check_tunable(config: ExperimentConfig) -> None:
    """A `UserError` unless ``config`` can be tuned (it needs validation files to score)."""
    if not config.data.valid:
        raise UserError("data.valid: tune scores each trial on validation data; set data.valid "
                        "(e.g. --set 'data.valid=[valid/*.avro]')")
    if config.training.epochs < 1:
        raise UserError(f"training.epochs: tune needs at least 1 epoch, got "
                        f"{config.training.epochs}")


def random_trials(trials: int) -> int:
    """TPE's random start-up trials for a budget of ``trials``."""
    return max(MIN_RANDOM_TRIALS, min(MAX_RANDOM_TRIALS, trials // 3))


def _first_difference(ours: Any, theirs: Any, path: str = "") -> str:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in list(ours) + [k for k in theirs if k not in ours]:
            if ours.get(key) != theirs.get(key):
                return _first_difference(ours.get(key), theirs.get(key), f"{path}{key}.")
    return path.rstrip(".") or "the top level"


def open_study(output_dir: str | Path, config: ExperimentConfig, space: list[Dimension],
               trials: int, seed: int) -> optuna.Study:
    """Creates the study in ``OUT/study.db`` (trial 0 enqueued: ``config`` untouched) or loads
    it; a study of another config is a `UserError`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=f"sqlite:///{study_path(output_dir).resolve()}", study_name=STUDY_NAME,
        load_if_exists=True, direction="maximize",
        # steps are 1-based epochs: steps <= PRUNER_WARMUP_EPOCHS are never pruned
        pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS,
                                           n_warmup_steps=PRUNER_WARMUP_EPOCHS + 1,
                                           n_min_trials=PRUNER_MIN_TRIALS))
    already = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=seed + already,
                                               n_startup_trials=random_trials(trials))
    base = config.to_dict()
    recorded = study.user_attrs.get("config")
    if recorded is None:    # a new study (or one killed before it recorded its config)
        if not already:
            study.enqueue_trial(config_values(space, config), user_attrs={"untouched": True})
        study.set_user_attr("config", base)
    elif json.loads(json.dumps(base)) != recorded:
        raise UserError(f"--output-dir {output_dir}: its study tunes another config (they "
                        f"differ at {_first_difference(json.loads(json.dumps(base)), recorded)}); "
                        "resume with the same config and --set values, or choose another "
                        "--output-dir")
    return study


def recover_interrupted(study: optuna.Study, output_dir: str | Path) -> list[int]:
    """Marks every trial still RUNNING (its process died) FAIL, removes its run directory and
    enqueues its parameters once more (not those of a retry); returns their numbers."""
    numbers = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
        shutil.rmtree(trial_dir(output_dir, trial.number), ignore_errors=True)
        if "retry_of" not in trial.user_attrs:
            attrs = {key: value for key, value in trial.user_attrs.items()
                     if key == "untouched"}
            study.enqueue_trial(dict(trial.params), user_attrs={**attrs,
                                                                "retry_of": trial.number})
        numbers.append(trial.number)
    return numbers


def run_search(config: ExperimentConfig, output_dir: str | Path, trials: int, *,
               timeout: float | None = None, seed: int = 0,
               log: Callable[[str], None] = print) -> SearchResult:
    """Runs the study of ``config`` in ``output_dir`` until it holds ``trials`` finished
    trials (or ``timeout`` seconds have passed: no trial starts after it), writing
    ``trials.csv`` and ``best.yaml`` after every trial; ``log`` gets one line per trial."""
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    check_tunable(config)
    output_dir = Path(output_dir)
    space = search_space(config)
    names = [dimension.name for dimension in space]
    with DirectoryLock(output_dir, "tune directory"):
        study = open_study(output_dir, config, space, trials, seed)
        crashed = recover_interrupted(study, output_dir)
        if crashed:
            log(f"trial(s) {', '.join(map(str, crashed))} did not finish (the search was killed):"
                " marked FAIL, run again")
        done = len(study.get_trials(deepcopy=False, states=FINISHED))
        if done:
            log(f"resuming the study in {output_dir}: {done} trial(s) finished, "
                f"{max(0, trials - done)} to run")
        started = time.monotonic()
        result = _results(study, config, space, output_dir)
        while done < trials and (timeout is None or time.monotonic() - started < timeout):
            trial = study.ask()
            point = suggest_point(space, trial)
            try:
                trial_config = apply_point(config, space, point)
                outcome = train_trial(trial, trial_config, trial_dir(output_dir, trial.number))
            except KeyboardInterrupt:
                raise   # left RUNNING, as after a kill: the next search runs it again
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                _results(study, config, space, output_dir)
                raise
            for key in ("epochs", "best_epoch", "seconds", "val_auc", "val_logloss"):
                value = getattr(outcome, key)
                trial.set_user_attr(key, None if value != value else value)   # NaN: none
            if outcome.state == TrialState.PRUNED:
                study.tell(trial, state=TrialState.PRUNED)
            else:
                study.tell(trial, outcome.value)
            done += 1
            result = _results(study, config, space, output_dir)
            log(trial_line(study.trials[trial.number], names))
        all_trials = study.get_trials(deepcopy=False)
        log(f"{done} finished trial(s) in the study; the best"
            + (f" (score: {score_name(config)} at the kept epoch):" if result.best
               else ": none completed"))
        if result.best is not None:
            log(top_table(all_trials, names))
            log(f"best: trial {result.best.number} {result.best.value:.4f}"
                + _gain(all_trials, result.best) + f"; config: {result.best_config}")
    return result


def score_name(config: ExperimentConfig) -> str:
    """What a trial's value is, in words: the run's ``training.monitor``."""
    monitor = config.training.monitor or "auc_logloss"
    return {"auc_logloss": "mean val AUC - val log loss", "auc": "mean val AUC",
            "logloss": "minus the mean val log loss"}.get(monitor, monitor)


def _gain(trials: list[FrozenTrial], best: FrozenTrial) -> str:
    untouched = untouched_trial(trials)
    if untouched is None or untouched.state != TrialState.COMPLETE:
        return ""
    return f" ({best.value - untouched.value:+.4f} over the untouched config, trial " \
           f"{untouched.number})"


def _results(study: optuna.Study, config: ExperimentConfig, space: list[Dimension],
             output_dir: Path) -> SearchResult:
    """Writes ``trials.csv`` and (once a trial completed) ``best.yaml``."""
    trials = study.get_trials(deepcopy=False)
    csv_path = write_trials_csv(output_dir / "trials.csv", trials, [d.name for d in space])
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return SearchResult(study, None, None, csv_path)
    best = max(complete, key=lambda t: t.value)     # the first of equals, as study.best_trial
    best_config = write_best_config(output_dir / "best.yaml",
                                    apply_point(config, space, best.params), best, output_dir,
                                    trial_dir(output_dir, best.number), untouched_trial(trials),
                                    score_name(config))
    return SearchResult(study, best, best_config, csv_path)
