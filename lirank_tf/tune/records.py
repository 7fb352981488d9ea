"""What ``lirank-tf tune`` writes and prints about its trials: ``trials.csv``, ``best.yaml``,
one line per trial and the table of the best trials.

``trials.csv``: one row per trial of the study, in trial order, with the columns ``number``,
``state`` (COMPLETE, PRUNED, FAIL, RUNNING, WAITING), ``value`` (the objective: the run's
validation score, see `lirank_tf.tune.trial`), every searched parameter, ``val_auc`` and
``val_logloss`` (means over the tasks at the epoch scored), ``epochs`` (trained),
``best_epoch`` (the epoch scored), ``seconds`` (wall clock) and ``note`` (``untouched config``: the config as given;
``retry of N``: trial N was interrupted and is run again).

    >>> format_value(0.0001), format_value(256), format_value(0.123456)
    ('0.0001', '256', '0.1235')
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import yaml
from optuna.trial import FrozenTrial, TrialState

from lirank_tf.config import ExperimentConfig
from lirank_tf.training.atomic import write_text_atomic

RESULT_COLUMNS = ("val_auc", "val_logloss", "epochs", "best_epoch", "seconds")


def format_value(value) -> str:
    """A parameter or score, short: ints as they are, floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def trial_note(trial: FrozenTrial) -> str:
    """``untouched config`` / ``retry of N`` / empty (see the module doc)."""
    notes = []
    if trial.user_attrs.get("untouched"):
        notes.append("untouched config")
    if "retry_of" in trial.user_attrs:
        notes.append(f"retry of {trial.user_attrs['retry_of']}")
    return "; ".join(notes)


def write_trials_csv(path: str | Path, trials: Sequence[FrozenTrial],
                     parameters: Sequence[str]) -> Path:
    """Writes ``trials.csv`` (atomically) with the columns of the module doc; ``parameters``:
    the searched parameter names, in column order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "state", "value", *parameters, *RESULT_COLUMNS, "note"])
    for trial in trials:
        results = [trial.user_attrs.get(column, "") for column in RESULT_COLUMNS]
        results = ["" if result is None else result for result in results]
        writer.writerow([trial.number, trial.state.name,
                         "" if trial.value is None else repr(float(trial.value)),
                         *[trial.params.get(name, "") for name in parameters],
                         *["" if r == "" else format_value(r) for r in results],
                         trial_note(trial)])
    return write_text_atomic(path, out.getvalue())


def metrics_text(trial: FrozenTrial) -> str:
    """``val AUC 0.7421, val log loss 0.6120`` of a trial's scored epoch ('' when unknown)."""
    parts = [f"{label} {trial.user_attrs[key]:.4f}"
             for key, label in (("val_auc", "val AUC"), ("val_logloss", "val log loss"))
             if isinstance(trial.user_attrs.get(key), (int, float))]
    return ", ".join(parts)


def write_best_config(path: str | Path, config: ExperimentConfig, trial: FrozenTrial,
                      study_dir: str | Path, run_dir: str | Path,
                      untouched: FrozenTrial | None, score: str = "score") -> Path:
    """Writes ``best.yaml`` (atomically): ``config`` (the best trial's), complete, under a
    header naming the trial, its ``score`` (what the value is, in words) and the run it
    trained."""
    scored = trial.user_attrs.get("best_epoch")
    metrics = metrics_text(trial)
    header = [f"# lirank-tf tune: the best trial of the study in {study_dir}",
              f"# trial {trial.number}: {score} {trial.value:.4f}"
              + (f" ({metrics})" if metrics else "")
              + (f" at epoch {scored} of {trial.user_attrs.get('epochs')}" if scored else "")]
    if untouched is not None and untouched.value is not None \
            and untouched.state == TrialState.COMPLETE:
        header.append(f"# the untouched config (trial {untouched.number}): "
                      f"{untouched.value:.4f}; gain {trial.value - untouched.value:+.4f}")
    header += [f"# its run: {run_dir}",
               f"# train it: lirank-tf train --config {path} --output-dir DIR"]
    body = yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None, width=100)
    return write_text_atomic(path, "\n".join(header) + "\n\n" + body)


def trial_line(trial: FrozenTrial, parameters: Sequence[str]) -> str:
    """``trial 3  COMPLETE  0.1301  (val AUC 0.7421, val log loss 0.6120)  4 epochs  52s
    learning_rate=0.0012 ...`` of a finished trial."""
    value = "-" if trial.value is None else f"{trial.value:.4f}"
    epochs = trial.user_attrs.get("epochs")
    seconds = trial.user_attrs.get("seconds")
    metrics = metrics_text(trial)
    parts = [f"trial {trial.number}", f"{trial.state.name:<8}", value,
             f"({metrics})" if metrics else "",
             f"{epochs} epoch{'s' if epochs != 1 else ''}" if epochs is not None else "",
             f"{seconds:.0f}s" if seconds is not None else "",
             " ".join(f"{name}={format_value(trial.params[name])}" for name in parameters
                      if name in trial.params)]
    note = trial_note(trial)
    return "  ".join(part for part in parts if part) + (f"  ({note})" if note else "")


def top_table(trials: Sequence[FrozenTrial], parameters: Sequence[str], count: int = 5) -> str:
    """The ``count`` best COMPLETE trials (highest value first) as an aligned text table."""
    complete = sorted((t for t in trials if t.state == TrialState.COMPLETE and t.value is not None),
                      key=lambda t: t.value, reverse=True)[:count]
    def metric(trial: FrozenTrial, key: str) -> str:
        value = trial.user_attrs.get(key)
        return f"{value:.4f}" if isinstance(value, (int, float)) else "-"

    rows = [["trial", "value", "val_auc", "val_logloss", *parameters]]
    rows += [[str(t.number), f"{t.value:.4f}", metric(t, "val_auc"), metric(t, "val_logloss"),
              *[format_value(t.params.get(name, "")) for name in parameters]] for t in complete]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def untouched_trial(trials: Sequence[FrozenTrial]) -> FrozenTrial | None:
    """The finished trial of the untouched config (the first, when it was retried)."""
    for trial in trials:
        if trial.user_attrs.get("untouched") and trial.state.is_finished() \
                and trial.state != TrialState.FAIL:
            return trial
    return None

