"""A compact ``model.fit`` progress display for multi-task rankers.

Keras' own progress line lists every metric of every task (6 tasks x auc / loss, and their
``val_`` copies: ~1,500 characters that wrap on every terminal). `CompactProgress` shows what a
user watches instead: the loss, the mean and the worst task AUC, steps per second and an ETA
measured from the second step on (the first one includes tracing, and would promise hours).
The full per-task metrics still go to ``history.json`` and TensorBoard.

    >>> summarize_auc({"click_auc": 0.71, "like_auc": 0.64, "loss": 1.2}, ["click", "like"])
    (0.675, 0.64, 'like')
"""

from __future__ import annotations

import time
from typing import Sequence

import keras
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)


def summarize_auc(logs: dict, tasks: Sequence[str], prefix: str = ""
                  ) -> tuple[float, float, str] | None:
    """(mean AUC, worst AUC, worst task) of the tasks in ``logs`` (``<prefix><task>_auc``, or a
    single-task model's ``<prefix>auc``); None when ``logs`` has no AUC."""
    values = {task: logs[f"{prefix}{task}_auc"] for task in tasks if f"{prefix}{task}_auc" in logs}
    if not values and f"{prefix}auc" in logs and len(tasks) == 1:
        values = {tasks[0]: logs[f"{prefix}auc"]}
    if not values:
        return None
    worst = min(values, key=values.get)
    return (float(sum(values.values()) / len(values)), float(values[worst]), worst)


def describe(logs: dict, tasks: Sequence[str], prefix: str = "") -> str:
    """``loss 0.4123  auc 0.7712`` (one task) or ``loss 0.41  auc mean 0.7712 worst 0.7012
    (share)`` of ``logs``."""
    parts = []
    if f"{prefix}loss" in logs:
        parts.append(f"loss {float(logs[f'{prefix}loss']):.4f}")
    auc = summarize_auc(logs, tasks, prefix)
    if auc is not None:
        mean, worst, task = auc
        parts.append(f"auc {mean:.4f}" if len(tasks) == 1 else
                     f"auc mean {mean:.4f} worst {worst:.4f} ({task})")
    return "  ".join(parts)


class CompactProgress(keras.callbacks.Callback):
    """A live bar per epoch (on a terminal) and one line per finished epoch.

    Args:
        tasks: the model's task names, in order.
        epochs: the epoch cap, for ``epoch 3/10``.
        steps_per_epoch: steps of one epoch (None: unknown, no bar length).
        console: a ``rich.console.Console`` (default: standard output). On a terminal the bar
            is redrawn in place; elsewhere (logs, CI) only the epoch lines are printed.
    """

    def __init__(self, tasks: Sequence[str], epochs: int, steps_per_epoch: int | None = None,
                 console: Console | None = None) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("tasks: at least one task name is required")
        self.tasks, self.epochs, self.steps_per_epoch = list(tasks), epochs, steps_per_epoch
        self.console = console or Console(highlight=False)
        self._progress: Progress | None = None
        self._bar = None
        self._epoch_started = 0.0
        self._steps = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started, self._steps = time.perf_counter(), 0
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn(f"epoch {epoch + 1}/{self.epochs}"), BarColumn(),
                MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"), console=self.console, transient=True)
            self._progress.start()
            self._bar = self._progress.add_task("train", total=self.steps_per_epoch,
                                                rate="", metrics="")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._steps = batch + 1
        if self._progress is None:
            return
        elapsed = max(time.perf_counter() - self._epoch_started, 1e-9)
        fields = {"rate": f"{self._steps / elapsed:.1f} steps/s",
                  "metrics": describe(logs or {}, self.tasks)}
        if batch == 0:  # the first step traces the graph: time the ETA from the second one
            self._progress.reset(self._bar, total=self.steps_per_epoch, completed=1, **fields)
        else:
            self._progress.update(self._bar, completed=self._steps, **fields)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_started
        line = (f"epoch {epoch + 1}/{self.epochs}  {self._steps} steps  {seconds:.1f}s "
                f"({self._steps / max(seconds, 1e-9):.1f} steps/s)  {describe(logs, self.tasks)}")
        validation = describe(logs, self.tasks, prefix="val_")
        if validation:
            line += f"  |  val {validation}"
        self.console.print(line, soft_wrap=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._progress is not None:  # training stopped inside an epoch
            self._progress.stop()
            self._progress = None
