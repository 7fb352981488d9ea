"""``report.html`` shows metrics.json's numbers, the training record, the config and both plots
(embedded byte for byte), escapes user strings, is written by `workflow.evaluate_run`, and
renders in headless Chromium (Debian's ``chromium``; skipped only where it is not installed)."""

import base64
import json
import math
import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from lirank_tf import workflow
from lirank_tf.config import get_experiment
from lirank_tf.evaluation.report import write_report
from tiny_run import tiny_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"
HEADINGS = {"auc": "AUC", "oracle_auc": "oracle AUC", "logloss": "log loss", "oe_ratio": "O/E",
            "ece": "ECE", "positive_rate": "positive rate"}


class Page(HTMLParser):
    """The tables (by id: rows of cell texts), images (their attributes), text and tags of a
    page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.images, self.tags, self.text = {}, [], [], []
        self._table = self._row = self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def expected_cell(value) -> str:
    if isinstance(value, int):
        return str(value)
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def expected_metrics_rows(metrics: dict) -> list[list[str]]:
    tasks = {k: v for k, v in metrics.items() if k != "replay"}
    keys = [k for k in HEADINGS if any(k in row for row in tasks.values())]
    return ([["task", *(HEADINGS[k] for k in keys)]]
            + [[name, *(expected_cell(row.get(k, float("nan"))) for k in keys)]
               for name, row in tasks.items()])


def embedded_png(image: dict) -> bytes:
    prefix = "data:image/png;base64,"
    assert image["src"].startswith(prefix)
    return base64.b64decode(image["src"][len(prefix):], validate=True)


def tiny_png(path: Path, seed: int) -> Path:
    matplotlib.image.imsave(path, np.random.default_rng(seed).random((6, 8, 3)))
    return path


def test_report_holds_the_metrics_training_record_config_and_plots(tmp_path):
    metrics = {EVIL: {"auc": 0.71234, "oracle_auc": 0.80001, "logloss": 0.45678,
                      "oe_ratio": 1.02345, "ece": 0.01234, "positive_rate": 0.25},
               "like": {"auc": float("nan"), "logloss": 0.1, "oe_ratio": 0.95, "ece": 0.00051,
                        "positive_rate": 0.0},
               "replay": {"sessions": 60, "matched_at_1": 12.5, "contribution_rate": 0.4,
                          "top_n": 5}}
    history = {"loss": [0.6, 0.5, 0.45], "val_loss": [0.62, 0.55, 0.56],
               "val_auc": [0.69, 0.72, 0.71]}
    run_record = {"started": "2026-01-01T00:00:00+00:00", "stopping": {
        "stop_reason": "early_stopping", "best_epoch": 2, "criterion": "val_auc",
        "best_metrics": {"val_loss": 0.55, "val_auc": 0.72, "loss": 0.5}}}
    plots = {tiny_png(tmp_path / "calibration.png", 1): "the calibration",
             tiny_png(tmp_path / "training_curves.png", 2): f"curves {EVIL}"}
    config = get_experiment("feed")
    path = write_report(tmp_path / "eval" / "report.html", metrics, run_dir=f"runs/{EVIL}",
                        history=history, run_record=run_record, config=config,
                        files=["data/test/day7.avro"], plots=plots)
    text = path.read_text()
    page = Page(text)

    assert page.tables["metrics"] == expected_metrics_rows(metrics)
    assert page.tables["replay"] == [["replay metric", "value"], ["sessions", "60"],
                                     ["matched_at_1", "12.5000"], ["contribution_rate", "0.4000"],
                                     ["top_n", "5"]]
    assert page.tables["best_epoch"] == [["validation metric at the best epoch", "value"],
                                         ["val_auc", "0.7200"], ["val_loss", "0.5500"]]
    words = " ".join(page.text)
    assert "epochs trained: 3" in words and "best epoch: 2 (by val_auc)" in words
    assert "stopped by: early stopping" in words
    for fact in (f"model: {config.model.name}", "data/test/day7.avro",
                 ", ".join(f"{t.name} (label {t.label})" for t in config.tasks),
                 f"{len(config.features.ids)} id, {len(config.features.dense)} dense"):
        assert fact in words

    assert [embedded_png(image) for image in page.images] == [p.read_bytes() for p in plots]
    assert all(embedded_png(image).startswith(PNG_SIGNATURE) for image in page.images)
    assert f"curves {EVIL}" in words and f"runs/{EVIL}" in words     # shown as text ...
    assert "script" not in page.tags and EVIL not in text              # ... never as markup
    assert "http://" not in text and "https://" not in text


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    workflow.train(tiny_config(root), root / "run")
    workflow.evaluate_run(root / "run", verbose=False)
    return root / "run"


def test_evaluate_run_writes_the_report_with_metrics_json_numbers(evaluated_run, capsys):
    workflow.evaluate_run(evaluated_run)
    report = evaluated_run / "eval" / "report.html"
    assert str(report) in capsys.readouterr().out
    metrics = json.loads((evaluated_run / "eval" / "metrics.json").read_text())
    page = Page(report.read_text())
    assert page.tables["metrics"] == expected_metrics_rows(metrics)
    assert [embedded_png(image) for image in page.images] == [
        (evaluated_run / "eval" / name).read_bytes()
        for name in ("calibration.png", "training_curves.png")]


def _chromium(*arguments: str, cwd: Path) -> str:
    """Runs headless Chromium (killed with its children after 60 s); returns its stdout."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", f"--user-data-dir={cwd / 'profile'}", *arguments]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish in 60 s: {command}")
    assert process.returncode == 0, f"chromium exited with {process.returncode}: {command}"
    return out


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="no chromium binary (scripts/setup.sh installs Debian's chromium "
                           "when run as root with apt-get)")
def test_report_renders_in_headless_chromium(evaluated_run, tmp_path):
    report = evaluated_run / "eval" / "report.html"
    metrics = json.loads((evaluated_run / "eval" / "metrics.json").read_text())
    dom = Page(_chromium("--dump-dom", report.as_uri(), cwd=tmp_path))
    assert dom.tables["metrics"] == expected_metrics_rows(metrics)
    assert len(dom.images) == 2
    assert all(embedded_png(image).startswith(PNG_SIGNATURE) for image in dom.images)

    screenshot = tmp_path / "report.png"
    _chromium(f"--screenshot={screenshot}", "--window-size=1200,2000", report.as_uri(),
              cwd=tmp_path)
    assert screenshot.stat().st_size > 20_000
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels[..., :3].var() > 0
    # the plots' colours, not just black text on white: many distinct colours
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 100
