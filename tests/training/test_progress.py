"""The compact progress display: loss, mean and worst task AUC, one line per epoch."""

import io
import re

import keras
import numpy as np
import pytest
from rich.console import Console

from lirank_tf.training.progress import CompactProgress, describe, summarize_auc


def test_summaries_of_multi_and_single_task_logs():
    logs = {"loss": 1.25, "click_auc": 0.7, "like_auc": 0.6, "share_auc": 0.8,
            "val_loss": 1.3, "val_click_auc": 0.65, "val_like_auc": 0.55, "val_share_auc": 0.75}
    tasks = ["click", "like", "share"]
    mean, worst, task = summarize_auc(logs, tasks)
    assert (mean, worst, task) == (pytest.approx(0.7), 0.6, "like")
    assert describe(logs, tasks) == "loss 1.2500  auc mean 0.7000 worst 0.6000 (like)"
    assert describe(logs, tasks, "val_") == "loss 1.3000  auc mean 0.6500 worst 0.5500 (like)"
    assert describe({"loss": 0.5, "auc": 0.75}, ["click"]) == "loss 0.5000  auc 0.7500"
    assert summarize_auc({"loss": 0.5}, ["click"]) is None


def _two_task_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = {name: keras.layers.Dense(1, activation="sigmoid", name=name)(hidden)
               for name in ("click", "like")}
    model = keras.Model(inputs, outputs)
    model.compile("adam", loss={t: "binary_crossentropy" for t in outputs},
                  metrics={t: [keras.metrics.AUC(name="auc")] for t in outputs})
    return model


@pytest.mark.parametrize("terminal", [False, True])
def test_fit_prints_one_short_line_per_epoch(terminal):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = {"click": (x[:, :1] > 0).astype("float32"), "like": (x[:, 1:2] > 0).astype("float32")}
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100, color_system=None)
    progress = CompactProgress(["click", "like"], epochs=2, steps_per_epoch=8, console=console)
    history = _two_task_model().fit(x, y, validation_data=(x, y), batch_size=32, epochs=2,
                                    verbose=0, callbacks=[progress])
    lines = [line for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
             .replace("\r", "\n").splitlines() if line.startswith("epoch") and "|" in line]
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        assert line.startswith(f"epoch {epoch + 1}/2  8 steps")
        assert len(line) < 200
        logs = {k: v[epoch] for k, v in history.history.items()}
        assert describe(logs, ["click", "like"]) in line
        assert f"val {describe(logs, ['click', 'like'], 'val_')}" in line


def test_tasks_are_required():
    with pytest.raises(ValueError, match="tasks"):
        CompactProgress([], epochs=1)
