"""The evaluation report: ``RUN/eval/report.html``, one page beside ``metrics.json`` that a user
opens in a browser (or mails: the plots are embedded as base64 PNG data, so the file stands
alone). It holds the per-task metrics table, the replay metric when evaluated, how training went
(epochs, best epoch and its validation metrics, why it stopped), the config's key facts and the
calibration and training-curve plots. Plain HTML and a little inline CSS: no script, no external
URL; every string from the user (paths, task and feature names) is escaped.

    >>> format_value(0.73456), format_value(1200), format_value(float("nan"))
    ('0.7346', '1200', 'n/a')
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import math
from pathlib import Path
from typing import Sequence

from lirank_tf.config import ExperimentConfig
from lirank_tf.evaluation.evaluate import REPLAY_KEY
from lirank_tf.training.report import best_epoch
from lirank_tf.training.run_directory import RunDirectory

# metrics.json keys of a task row, in table order, with their column headings; keys not
# listed here follow them under their own name
COLUMNS = {"auc": "AUC", "oracle_auc": "oracle AUC", "logloss": "log loss", "oe_ratio": "O/E",
           "ece": "ECE", "positive_rate": "positive rate"}
# the plots `lirank_tf.evaluation.evaluate.evaluate` writes, with their captions
PLOTS = {"calibration.png": "Calibration: observed rate against mean predicted probability per "
                            "bin, one colour per task, ECE in the legend; below, the examples "
                            "per bin (log scale).",
         "training_curves.png": "Training curves: total loss and AUC per task by epoch "
                                "(training solid, validation dashed)."}
_STOP_REASONS = {"early_stopping": "early stopping (the validation score did not improve)",
                 "epoch_cap": "reached the epoch cap"}
_CSS = ("body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
        "th,td{border:1px solid #bbb;padding:4px 10px}td.num{text-align:right;"
        "font-family:monospace}th{background:#eee}figure{margin:1em 0}"
        "img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:0.9em}")


def format_value(value) -> str:
    """A metric as the report shows it: floats to 4 decimals, integers whole, NaN as n/a."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return html.escape(str(value))
    if isinstance(value, int):
        return str(value)
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def _table(header: Sequence[str], rows: Sequence[Sequence], table_id: str) -> str:
    """An HTML table: the first cell of each row is a (escaped) name, the others values."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr><td>" + html.escape(str(row[0])) + "</td>"
                   + "".join(f'<td class="num">{format_value(v)}</td>' for v in row[1:])
                   + "</tr>" for row in rows)
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def metrics_table(results: dict[str, dict]) -> str:
    """The per-task table of ``results`` (``metrics.json``), tasks in their order."""
    tasks = {name: row for name, row in results.items() if name != REPLAY_KEY}
    keys = [k for k in COLUMNS if any(k in row for row in tasks.values())]
    keys += sorted({k for row in tasks.values() for k in row} - set(keys))
    rows = [[name, *(row.get(k, float("nan")) for k in keys)] for name, row in tasks.items()]
    return _table(["task", *(COLUMNS.get(k, k) for k in keys)], rows, "metrics")


def replay_table(results: dict[str, dict]) -> str:
    """The replay metric (LiRank §5.2) of ``results`` as a two-column table; '' without it."""
    if REPLAY_KEY not in results:
        return ""
    return _table(["replay metric", "value"], list(results[REPLAY_KEY].items()), "replay")


def training_summary(history: dict[str, list[float]] | None, run_record: dict | None) -> str:
    """Epochs trained, how the run stopped and its best epoch's validation metrics (from
    ``run.json``'s stopping record, else the epoch of the lowest ``val_loss``)."""
    history, run_record = history or {}, run_record or {}
    stopping = run_record.get("stopping") or {}
    items = [("epochs trained", len(history.get("loss", [])))]
    for key in ("started", "finished"):
        if key in run_record:
            items.append((key, run_record[key]))
    if stopping.get("stop_reason"):
        items.append(("stopped by", _STOP_REASONS.get(stopping["stop_reason"],
                                                      stopping["stop_reason"])))
    if stopping.get("best_epoch"):
        best = stopping["best_epoch"], dict(stopping.get("best_metrics") or {})
        by = stopping.get("criterion") or "the validation score"
    else:
        best, by = best_epoch(history, "val_loss"), "val_loss"
    parts = ["<ul>" + "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>"
                              for k, v in items)]
    if best is not None:
        parts.append(f"<li>best epoch: {best[0]} (by {html.escape(str(by))})</li></ul>")
        rows = [[k, v] for k, v in sorted(best[1].items()) if k.startswith("val_")]
        parts.append(_table(["validation metric at the best epoch", "value"], rows, "best_epoch"))
    else:
        parts.append("</ul>")
    return "".join(parts)


def config_facts(config: ExperimentConfig, files: Sequence[str] = ()) -> str:
    """Model, tasks, feature counts and data files of ``config`` (``files``: those evaluated)."""
    features = config.features
    facts = [("model", f"{config.model.name} (multi-task: {config.model.multitask}, "
                       f"interaction: {config.model.interaction})"),
             ("tasks", ", ".join(f"{t.name} (label {t.label})" for t in config.tasks)),
             ("features", f"{len(features.ids)} id, {len(features.dense)} dense, "
                          f"{len(features.tables)} embedding tables"
                          + (", member history" if features.history else "")),
             ("training data", ", ".join(config.data.train)),
             ("validation data", ", ".join(config.data.valid) or "none"),
             ("evaluated on", ", ".join(map(str, files)) or ", ".join(config.data.test))]
    return "<ul>" + "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in facts) \
        + "</ul>"


def _figure(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def report_html(results: dict[str, dict], *, run_dir: str | Path,
                history: dict[str, list[float]] | None = None, run_record: dict | None = None,
                config: ExperimentConfig | None = None, files: Sequence[str] = (),
                plots: dict[str | Path, str] | None = None) -> str:
    """The report page. ``results``: ``metrics.json``; ``history`` / ``run_record``: the run's
    ``history.json`` / ``run.json``; ``plots``: {PNG path: caption}, embedded in that order."""
    title = f"lirank-tf evaluation of {run_dir}"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [f"<h1>{html.escape(title)}</h1><p>written {when}</p>",
                "<h2>Metrics per task</h2>", metrics_table(results)]
    if REPLAY_KEY in results:
        sections += ["<h2>Replay metric (LiRank §5.2)</h2>", replay_table(results)]
    if history or run_record:
        sections += ["<h2>Training</h2>", training_summary(history, run_record)]
    if config is not None:
        sections += ["<h2>Configuration</h2>", config_facts(config, files)]
    if plots:
        sections.append("<h2>Plots</h2>")
        sections += [_figure(Path(path), caption) for path, caption in plots.items()]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def write_report(path: str | Path, results: dict[str, dict], **parts) -> Path:
    """Writes `report_html` of ``results`` and ``parts`` (its keyword arguments) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(results, **parts), encoding="utf-8")
    return path


def write_run_report(run_dir: str | Path, results: dict[str, dict],
                     config: ExperimentConfig | None = None, files: Sequence[str] = ()) -> Path:
    """``RUN/eval/report.html`` of an evaluated run: its history, ``run.json`` and the `PLOTS`
    found in ``RUN/eval/``."""
    run = RunDirectory(run_dir)
    history = json.loads(run.history_path.read_text()) if run.history_path.exists() else None
    plots = {run.eval_dir / name: caption for name, caption in PLOTS.items()
             if (run.eval_dir / name).exists()}
    return write_report(run.eval_dir / "report.html", results, run_dir=run.path, history=history,
                        run_record=run.read_state(), config=config, files=files, plots=plots)
