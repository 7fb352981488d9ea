"""Root-object (RO) wide popularity model on the Feed simulator (LiRank §3.9, Fig. 5).

    .venv/bin/python benchmarks/wide_popularity.py [--train-days 3] [--test-days 1]
        [--viral-decay-hours 24] [--refresh-hours 8] [--window-hours 8] [--l2-grid 0.3,1,3,10]
        [--likes-feature oracle|logged]

The global Feed model is trained on the first days. After them, the RO model — one random
effect per root-object id for like and click, fitted to the residual of the global model — is
refitted every ``refresh-hours`` simulated hours on the impressions of the last
``window-hours`` and scores the next ``refresh-hours``; its prior precision l2 is chosen on a
validation day (the day after training), the metrics are those of the test day(s) after it:
``p = sigmoid(logit(p_global) + b_root_object)``. Reported for like and click: AUC, log loss
and observed/expected ratio of the global model alone and with the RO effects, on all test
impressions and on the simulator's viral posts (a boost decaying with time constant
``viral-decay-hours``). The serving path is exercised too: the global model is exported once
with an RO table, each refresh replaces only the table file, and the served probabilities of the
next window are compared with the offline ones.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig, write_day_file
from lirank_tf.evaluation.evaluate import predict_files
from lirank_tf.evaluation.metrics import auc, log_loss, oe_ratio
from lirank_tf.evaluation.replay import read_records
from lirank_tf.data.records import records_to_request
from lirank_tf.training.trainer import train
from lirank_tf.wide import (RootObjectEffects, export_with_root_object_table, impression_hours,
                            update_root_object_table)

TASKS = ("like", "click")


def simulate(root: Path, args) -> tuple[list[str], set[str]]:
    """Day files (training days, one validation day, the test days) and the viral post ids."""
    total = args.train_days + 1 + args.test_days
    simulator = FeedSimulator(FeedSimulatorConfig(
        num_days=total, valid_days=1, test_days=args.test_days,
        impressions_per_day=args.impressions_per_day, posts_per_day=args.posts_per_day,
        viral_fraction=args.viral_fraction, viral_decay_hours=args.viral_decay_hours,
        likes_feature=args.likes_feature, seed=args.seed))
    files, viral = [], set()
    for day in range(total):
        records = simulator.simulate_day(day)
        today = simulator.posts_by_day[-1][1]
        viral |= {f"post:{int(i)}" for i in today.ids[today.viral]}
        files.append(str(write_day_file(root / f"day_{day:03d}.avro", records)))
    return files, viral


def metrics(labels, probabilities) -> dict[str, float]:
    return {"auc": auc(labels, probabilities), "logloss": log_loss(labels, probabilities),
            "oe": oe_ratio(labels, probabilities)}


class Impressions:
    """Global predictions, labels, root-object ids and times of the impressions of some days."""

    def __init__(self, model, transform, config, files: list[str]) -> None:
        self.predicted, self.labels = predict_files(model, transform, config, files)
        self.records = read_records(files)
        self.ids = np.array([r["root_object_id"] for r in self.records])
        self.hours = impression_hours([r["day"] for r in self.records],
                                      [r["hour"] for r in self.records])

    def refits(self, effects: RootObjectEffects, first_hour: int, last_hour: int, args):
        """Every ``refresh_hours`` from ``first_hour``: refit on the last ``window_hours``, then
        adjust the next ``refresh_hours``. Yields (effects, the rows adjusted, their values)."""
        for start in range(first_hour, last_hour, args.refresh_hours):
            window = (self.hours >= start - args.window_hours) & (self.hours < start)
            ahead = np.flatnonzero((self.hours >= start) & (self.hours < start + args.refresh_hours))
            began = time.perf_counter()
            effects.fit(self.ids[window], {t: self.predicted[t][window] for t in TASKS},
                        {t: self.labels[t][window] for t in TASKS})
            seconds = time.perf_counter() - began
            yield ahead, effects.adjust(self.ids[ahead],
                                        {t: self.predicted[t][ahead] for t in TASKS}), seconds

    def adjusted(self, l2: float, first_hour: int, last_hour: int, args):
        adjusted = {t: self.predicted[t].copy() for t in TASKS}
        mask = np.zeros(len(self.ids), bool)
        for ahead, values, _ in self.refits(RootObjectEffects(TASKS, l2=l2), first_hour,
                                            last_hour, args):
            for t in TASKS:
                adjusted[t][ahead] = values[t]
            mask[ahead] = True
        return adjusted, mask


def choose_l2(data: Impressions, first_hour: int, args) -> tuple[float, dict[float, float]]:
    """The l2 of the grid with the lowest like + click log loss on the validation day."""
    losses = {}
    for l2 in args.l2_grid:
        adjusted, mask = data.adjusted(l2, first_hour, first_hour + 24, args)
        losses[l2] = float(np.mean([log_loss(data.labels[t][mask], adjusted[t][mask]) for t in TASKS]))
    return min(losses, key=losses.get), losses


def run(args) -> dict:
    root = Path(args.output_dir)
    files, viral = simulate(root / "data", args)
    train_files = files[:args.train_days]
    config = get_experiment("feed", {"data": {"train": train_files}, "training": {
        "epochs": args.epochs, "verbose": 0, "seed": args.seed}})
    started = time.perf_counter()
    result = train(config, root / "global", overwrite=True)
    train_seconds = time.perf_counter() - started
    # the last training day feeds the validation day's first window
    data = Impressions(result.model, result.transform, config, files[args.train_days - 1:])
    validation_hour = 24 * args.train_days
    l2, validation_losses = choose_l2(data, validation_hour, args)

    effects = RootObjectEffects(tasks=list(TASKS), l2=l2)
    export_dir = root / "export"
    started = time.perf_counter()
    export_with_root_object_table(config, result.transform, result.model, effects, export_dir)
    export_seconds = time.perf_counter() - started
    fields = raw_fields(config)
    adjusted = {t: data.predicted[t].copy() for t in TASKS}
    evaluated = np.zeros(len(data.ids), bool)
    fit_seconds, update_seconds, serving_gap = [], [], 0.0
    first_test_hour = validation_hour + 24
    for ahead, values, seconds in data.refits(effects, first_test_hour,
                                              first_test_hour + 24 * args.test_days, args):
        fit_seconds.append(seconds)
        for t in TASKS:
            adjusted[t][ahead] = values[t]
        evaluated[ahead] = True
        began = time.perf_counter()
        update_root_object_table(export_dir, effects)        # the global model is not re-exported
        update_seconds.append(time.perf_counter() - began)
        served = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
        sample = ahead[:256]
        request = records_to_request([data.records[i] for i in sample], fields)
        out = served(**{k: tf.constant(v) for k, v in request.items()})
        for t in TASKS:
            gap = float(np.max(np.abs(out[t].numpy() - adjusted[t][sample])))
            serving_gap = max(serving_gap, gap)

    is_viral = np.isin(data.ids, sorted(viral))
    rows = {}
    for subset, mask in (("all", evaluated), ("viral posts", evaluated & is_viral),
                         ("other posts", evaluated & ~is_viral)):
        for t in TASKS:
            rows[f"{t} / {subset}"] = {
                "impressions": int(mask.sum()),
                "global": metrics(data.labels[t][mask], data.predicted[t][mask]),
                "global + RO": metrics(data.labels[t][mask], adjusted[t][mask])}
    return {"rows": rows, "l2": l2, "validation_logloss_by_l2": validation_losses,
            "train_seconds": train_seconds, "export_seconds": export_seconds,
            "fit_seconds": float(np.mean(fit_seconds)),
            "update_seconds": float(np.mean(update_seconds)), "refits": len(fit_seconds),
            "root_objects": len(effects.table), "max_served_vs_offline_difference": serving_gap}


def table(rows: dict) -> str:
    columns = ["task / impressions ", "     n", "AUC global", "AUC +RO", "logloss global", "logloss +RO",
               "O/E global", "O/E +RO"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("-" * (len(c) + 2) for c in columns) + "|"]
    for name, row in rows.items():
        g, r = row["global"], row["global + RO"]
        lines.append(f"| {name:<19} | {row['impressions']:6d} | {g['auc']:10.4f} | {r['auc']:7.4f} | "
                     f"{g['logloss']:14.4f} | {r['logloss']:11.4f} | {g['oe']:10.3f} | {r['oe']:7.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="runs/benchmark_wide_popularity")
    parser.add_argument("--train-days", type=int, default=3)
    parser.add_argument("--test-days", type=int, default=1)
    parser.add_argument("--impressions-per-day", type=int, default=12000)
    parser.add_argument("--posts-per-day", type=int, default=300,
                        help="fewer posts than the simulator's default 1500, so that each root "
                             "object gets enough impressions in an 8-hour window to estimate")
    parser.add_argument("--viral-fraction", type=float, default=0.05)
    parser.add_argument("--viral-decay-hours", type=float, default=24.0)
    parser.add_argument("--refresh-hours", type=int, default=8)
    parser.add_argument("--window-hours", type=int, default=8)
    parser.add_argument("--l2-grid", type=lambda text: [float(v) for v in text.split(",")],
                        default=[0.3, 1.0, 3.0, 10.0, 30.0],
                        help="RO prior precisions tried on the validation day (comma-separated)")
    parser.add_argument("--likes-feature", choices=["oracle", "logged"], default="oracle",
                        help="the simulator's likes-so-far feature: 'oracle' draws it from the "
                             "post's true quality and current viral boost (the global model sees "
                             "virality through it); 'logged' counts the likes of earlier days only")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    began = time.perf_counter()
    results = run(args)
    print(f"\nRO wide model: global Feed model trained on {args.train_days} days; RO effects (like, "
          f"click; l2={results['l2']} chosen on a validation day from {args.l2_grid}) refitted "
          f"every {args.refresh_hours}h on the last "
          f"{args.window_hours}h of the {args.test_days} test day(s); "
          f"{args.impressions_per_day} impressions and {args.posts_per_day} new posts a day; viral fraction "
          f"{args.viral_fraction}, viral boost decay {args.viral_decay_hours}h; likes-so-far "
          f"feature: {args.likes_feature}.\n")
    print(table(results["rows"]))
    print(f"\n{results['refits']} refits over {results['root_objects']} root objects (last window); "
          f"RO fit {results['fit_seconds']:.2f}s, table update {results['update_seconds']:.3f}s vs "
          f"export {results['export_seconds']:.0f}s and global training "
          f"{results['train_seconds']:.0f}s; served vs offline max |diff| "
          f"{results['max_served_vs_offline_difference']:.2e}")
    out = Path(args.output_dir) / "results.json"
    out.write_text(json.dumps({"args": vars(args), **results}, indent=2, default=float))
    print(f"({time.perf_counter() - began:.0f}s; results in {out})")


if __name__ == "__main__":
    main()
