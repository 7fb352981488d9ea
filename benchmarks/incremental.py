"""Incremental training on the Feed simulator, Table 3 protocol of LiRank §5.1.

    .venv/bin/python benchmarks/incremental.py [--cold-days 4] [--incremental-days 3]
        [--impressions-per-day 6000] [--settings 0.5:1 0.5:4] [--daily-drift 0.05]

One cold-start model is trained on the first ``cold-days`` days; then ``incremental-days``
models are trained one simulated day each, every one starting from the previous model:

* incremental: w = alpha w0 + (1 - alpha) w_{t-1} and the diagonal-empirical-Fisher
  regulariser of eq. 3, one chain per ``alpha:lambda_f`` of ``--settings``;
* warm start: the same chain without the regulariser and alpha = 0 (plain fine-tuning).

Every model is evaluated on one fixed test day (``test-impressions`` impressions, the day after
the last incremental day; the simulator drifts member interests every day and creates new
posts) and, as in the paper, the metrics of the incremental models are averaged and compared
with the cold-start model: AUC per task and the replay contribution rate (LiRank §5.2, on the
test day's sessions, logged with the top ``replay-top-n`` positions shuffled). A from-scratch
retrain on all days is the reference that incremental training saves. Training time is the
``model.fit`` wall clock, in total (the first step traces the training graph, a fixed cost) and
without the first step; the Fisher computation is reported separately.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

from lirank_tf.config import get_experiment
from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig, write_day_file
from lirank_tf.evaluation.evaluate import evaluate
from lirank_tf.incremental import train_incremental
from lirank_tf.training.trainer import train


class FitTimer(keras.callbacks.Callback):
    """Wall-clock seconds of ``model.fit``, and of its steps after the first (the first one
    traces the training step, a fixed cost that dominates short incremental runs)."""

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.after_first = None
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.after_first is None:
            self.after_first = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.started
        self.steady_seconds = time.perf_counter() - (self.after_first or self.started)


def simulate_days(root: Path, args) -> tuple[list[str], list[str]]:
    """Training day files and the test day file (its top positions randomised for replay)."""
    total = args.cold_days + args.incremental_days + 1
    simulator = FeedSimulator(FeedSimulatorConfig(
        num_days=total, valid_days=0, test_days=1, impressions_per_day=args.impressions_per_day,
        daily_drift=args.daily_drift, randomize_top_n=args.replay_top_n, randomize_days="test",
        seed=args.seed))
    files = []
    for day in range(total):
        if day == total - 1:         # the test day (top N randomised for replay): more sessions
            simulator.config.impressions_per_day = args.test_impressions
        files.append(str(write_day_file(root / f"day_{day:03d}.avro", simulator.simulate_day(day))))
    return files[:-1], files[-1:]


def timings(timer: FitTimer) -> dict[str, list[float]]:
    return {"train_seconds": [timer.seconds], "steady_seconds": [timer.steady_seconds],
            "steps": [timer.steps]}


def feed_config(files: list[str], epochs: int, args, learning_rate: float | None = None):
    training = {"epochs": epochs, "verbose": 0, "seed": args.seed}
    if learning_rate:
        training["learning_rate"] = learning_rate
    return get_experiment("feed", {"data": {"train": files}, "training": training})


def test_metrics(model, transform, config, test_files, top_n) -> dict:
    evaluated = evaluate(model, transform, config, test_files, replay_top_n=top_n)
    results = {task.name: evaluated[task.name]["auc"] for task in config.tasks}
    results["contribution_rate"] = evaluated["replay"]["contribution_rate"]
    return results


def run(args) -> dict:
    root = Path(args.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    train_files, test_files = simulate_days(root / "data", args)
    cold_files, new_days = train_files[:args.cold_days], train_files[args.cold_days:]
    timer = FitTimer()
    cold = train(feed_config(cold_files, args.cold_epochs, args), root / "cold", overwrite=True,
                 extra_callbacks=[timer])
    config = feed_config(cold_files, args.cold_epochs, args)
    rows = {"cold start": {"metrics": [test_metrics(cold.model, cold.transform, config, test_files,
                                                    args.replay_top_n)],
                           **timings(timer), "fisher_seconds": [0.0]}}
    arms = {f"incremental a={alpha:g} l={lam:g}": (alpha, lam) for alpha, lam in args.settings}
    arms["warm start (no reg.)"] = (0.0, 0.0)
    for number, (name, (alpha, lam)) in enumerate(arms.items()):
        previous, row = root / "cold", {"metrics": [], "train_seconds": [], "steady_seconds": [],
                                        "steps": [], "fisher_seconds": []}
        for k, day in enumerate(new_days):
            run_dir = root / f"arm{number}_day{k}"
            day_config = feed_config([day], args.incremental_epochs, args,
                                     args.incremental_learning_rate)
            timer = FitTimer()
            result = train_incremental(day_config, run_dir, previous, root / "cold", alpha, lam,
                                       overwrite=True, save_fisher=lam > 0,
                                       fisher_max_examples=args.fisher_max_examples,
                                       extra_callbacks=[timer])
            row["metrics"].append(test_metrics(result.model, result.transform, day_config,
                                               test_files, args.replay_top_n))
            for key, values in timings(timer).items():
                row[key] += values
            row["fisher_seconds"].append(result.fisher_seconds)
            previous = run_dir
        rows[name] = row
    if args.full_retrain:
        timer = FitTimer()
        full = train(feed_config(train_files, args.cold_epochs, args), root / "full", overwrite=True,
                     extra_callbacks=[timer])
        rows["retrain on all days"] = {
            "metrics": [test_metrics(full.model, full.transform, config, test_files, args.replay_top_n)],
            **timings(timer), "fisher_seconds": [0.0]}
    return rows


def table(rows: dict, tasks: list[str]) -> str:
    def mean(row, key):
        return float(np.mean(row[key]))

    cold_row = rows["cold start"]
    cold = {key: np.mean([m[key] for m in cold_row["metrics"]]) for key in [*tasks, "contribution_rate"]}
    cold_auc = np.mean([cold[t] for t in tasks])
    columns = ["model".ljust(26), *(t[:10].rjust(10) for t in tasks), "mean AUC", "AUC lift",
               "contrib.", "contrib. lift", "steps", "fit s", "fit s w/o 1st", "vs cold", "Fisher s"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("-" * (len(c) + 2) for c in columns) + "|"]
    for name, row in rows.items():
        metric = {key: np.mean([m[key] for m in row["metrics"]]) for key in cold}
        auc = np.mean([metric[t] for t in tasks])
        cells = [name.ljust(26), *(f"{metric[t]:10.4f}" for t in tasks), f"{auc:8.4f}",
                 f"{100 * (auc / cold_auc - 1):+7.2f}%", f"{metric['contribution_rate']:8.4f}",
                 f"{100 * (metric['contribution_rate'] / cold['contribution_rate'] - 1):+12.2f}%",
                 f"{mean(row, 'steps'):5.0f}", f"{mean(row, 'train_seconds'):5.0f}",
                 f"{mean(row, 'steady_seconds'):13.1f}",
                 f"{100 * (mean(row, 'steady_seconds') / mean(cold_row, 'steady_seconds') - 1):+6.0f}%",
                 f"{mean(row, 'fisher_seconds'):8.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="runs/benchmark_incremental")
    parser.add_argument("--cold-days", type=int, default=4)
    parser.add_argument("--incremental-days", type=int, default=3)
    parser.add_argument("--impressions-per-day", type=int, default=6000)
    parser.add_argument("--cold-epochs", type=int, default=2)
    parser.add_argument("--incremental-epochs", type=int, default=1)
    parser.add_argument("--settings", nargs="+", default=[(0.5, 1.0), (0.5, 4.0)],
                        type=lambda text: tuple(float(v) for v in text.split(":")),
                        help="alpha:lambda_f of each incremental chain (cold weight, forgetting "
                             "factor), e.g. 0.5:1 0:4")
    parser.add_argument("--incremental-learning-rate", type=float, default=None,
                        help="peak learning rate of the incremental runs (default: the config's)")
    parser.add_argument("--daily-drift", type=float, default=0.05,
                        help="day-to-day drift of member interests in the simulator")
    parser.add_argument("--fisher-max-examples", type=int, default=4096)
    parser.add_argument("--replay-top-n", type=int, default=5)
    parser.add_argument("--test-impressions", type=int, default=24000,
                        help="impressions of the fixed test day")
    parser.add_argument("--full-retrain", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run(args)
    tasks = [t.name for t in get_experiment("feed").tasks]
    print(f"\nIncremental training, Table 3 protocol: cold start {args.cold_days} days, "
          f"{args.incremental_days} incremental days of {args.impressions_per_day} impressions, "
          f"daily drift {args.daily_drift}, incremental learning rate "
          f"{args.incremental_learning_rate or 'as configured'}; a = cold weight, "
          f"l = forgetting factor; fixed test day; "
          f"incremental rows average their {args.incremental_days} models. AUC per task, replay "
          f"contribution rate (top {args.replay_top_n} randomised).\n")
    print(table(rows, tasks))
    out = Path(args.output_dir) / "results.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=float))
    print(f"\n({time.perf_counter() - started:.0f}s; results in {out})")


if __name__ == "__main__":
    main()
