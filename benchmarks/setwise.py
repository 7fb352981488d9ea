"""LiGR-style set-wise scoring on the Feed simulator: pointwise vs set-wise Feed model.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/setwise.py [--days 5]
        [--impressions-per-day 4000] [--epochs 2] [--satiation 0.5,0] [--seeds 2]
        [--json out.json]

For each ``session_satiation`` value the simulator writes one data set (the logit of every
task drops by ``satiation`` per other impression of the same session with the same content
type, ``lirank_tf.sim.feed``). On it the Feed experiment's model is trained with
the trainer's recipe (same transformation statistics, §6.2 optimizer, ``model.fit``) and the
input pipeline of ``lirank_tf.training.pipeline`` in three variants, each from the same
training seeds:

    pointwise:             each candidate scored alone; records shuffled (the default);
    pointwise, batch order: the same model, fed the set-wise input order (files read in order,
                           whole batches shuffled), to separate the effect of the data order
                           from that of the set-wise layer;
    set-wise:              ``model.setwise_group: viewer_id``: a member's candidates attend to
                           each other before the task heads; batch order.

All are evaluated on the test day in file order with the training batch size (a multiple of
the session length, so no session is split). Printed per task: test AUC and log loss (mean
over seeds, and the largest spread between seeds of a variant's mean AUC), and the AUC of the
simulator's true probabilities (oracle) and of the best pointwise oracle, the true logit with
the satiation of every impression replaced by its content type's mean satiation (what a model
that cannot see the rest of the session can at best know): their difference is the room
set-wise scoring has. With satiation 0 there is nothing set-wise to learn.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import fastavro  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from lirank_tf.config import ExperimentConfig, get_experiment  # noqa: E402
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed  # noqa: E402
from lirank_tf.evaluation.evaluate import predict_files  # noqa: E402
from lirank_tf.evaluation.metrics import auc, log_loss  # noqa: E402
from lirank_tf.models import build_model  # noqa: E402
from lirank_tf.tasks import MultiTask  # noqa: E402
from lirank_tf.training.pipeline import training_dataset  # noqa: E402
from lirank_tf.training.trainer import (count_records_batches, fit_transformation,  # noqa: E402
                                        make_optimizer)

SESSION_LENGTH = 10
# variant -> (model.setwise_group of the model, of the input pipeline)
VARIANTS = {"pointwise": ("", ""), "pointwise, batch order": ("", "viewer_id"),
            "set-wise": ("viewer_id", "viewer_id")}


def feed_config(manifest: dict, setwise_group: str, args: argparse.Namespace) -> ExperimentConfig:
    return get_experiment("feed", {
        "data": {"train": manifest["train"], "valid": [], "test": manifest["test"]},
        "model": {"setwise_group": setwise_group},
        "training": {"epochs": args.epochs, "batch_size": args.batch_size, "verbose": 0}})


def run_variant(manifest: dict, transform, variant: str, seed: int,
                args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Trains one variant from ``seed``; {task: {auc, logloss}} on the test day."""
    model_group, pipeline_group = VARIANTS[variant]
    config = feed_config(manifest, model_group, args)
    pipeline = feed_config(manifest, pipeline_group, args)
    keras.utils.set_random_seed(seed)
    steps = count_records_batches(manifest["train"], args.batch_size)
    data = training_dataset(pipeline, manifest["train"], transform, shuffle=True, seed=seed,
                            batches=steps)
    model = build_model(config)
    model.compile(optimizer=make_optimizer(config, steps),
                  **MultiTask.from_config(config.tasks).compile_kwargs())
    model.fit(data, epochs=args.epochs, verbose=0)
    predictions, labels = predict_files(model, transform, config, manifest["test"])
    return {task: {"auc": auc(labels[task], p), "logloss": log_loss(labels[task], p)}
            for task, p in predictions.items()}


def oracle_aucs(files: list[str], satiation: float) -> dict[str, dict[str, float]]:
    """Per task: AUC of the true probabilities, and of the best pointwise oracle (satiation
    replaced by its mean over the impressions of the same content type)."""
    records = []
    for path in files:
        with open(path, "rb") as handle:
            records += list(fastavro.reader(handle))
    counts = Counter((r["session_id"], r["content_type"]) for r in records)
    repeats = np.array([counts[(r["session_id"], r["content_type"])] - 1 for r in records], float)
    types = np.array([r["content_type"] for r in records])
    type_mean = {t: repeats[types == t].mean() for t in set(types)}
    expected = np.array([type_mean[t] for t in types])
    result = {}
    for task in get_experiment("feed").tasks:
        labels = np.array([r[task.label] for r in records], float)
        truth = np.array([r[f"oracle_{task.label}"] for r in records])
        logit = np.log(truth) - np.log1p(-truth)
        pointwise = 1 / (1 + np.exp(-(logit + satiation * (repeats - expected))))
        # long dwell's oracle holds no satiation term (it feels it only through the click)
        result[task.name] = {"oracle": auc(labels, truth),
                             "pointwise_oracle": auc(labels, truth if task.label == "long_dwell"
                                                     else pointwise)}
    return result


def format_table(satiation: float, results: dict, oracle: dict, seconds: dict) -> str:
    names = list(VARIANTS)
    tasks = list(oracle)

    def mean(variant: str, task: str, key: str) -> float:
        values = [run[t][key] for run in results[variant]
                  for t in (tasks if task == "mean" else [task])]
        return float(np.mean(values))

    header = (f"session_satiation = {satiation:g}; train seconds per run: "
              + ", ".join(f"{n} {seconds[n]:.0f}" for n in names))
    columns = ["task", *(f"{n} AUC" for n in names), "set-wise - pointwise", "oracle AUC",
               "pointwise oracle AUC", *(f"{n} logloss" for n in names)]
    lines = [header, "| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for task in [*tasks, "mean"]:
        aucs = [mean(n, task, "auc") for n in names]
        bound = [np.mean([oracle[t][k] for t in (tasks if task == "mean" else [task])])
                 for k in ("oracle", "pointwise_oracle")]
        cells = [task, *(f"{a:.4f}" for a in aucs), f"{aucs[2] - aucs[0]:+.4f}",
                 *(f"{b:.4f}" for b in bound), *(f"{mean(n, task, 'logloss'):.4f}" for n in names)]
        lines.append("| " + " | ".join(cells) + " |")
    spreads = []
    for name in names:
        per_seed = [np.mean([run[t]["auc"] for t in tasks]) for run in results[name]]
        spreads.append(f"{name} {max(per_seed) - min(per_seed):.4f}")
    lines.append(f"seed spread of the mean AUC (max - min over {len(results[names[0]])} seeds): "
                 + ", ".join(spreads))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5, help="simulated days (the last one test)")
    parser.add_argument("--impressions-per-day", type=int, default=4000)
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=250,
                        help=f"a multiple of the session length ({SESSION_LENGTH})")
    parser.add_argument("--satiation", default="0.5,0",
                        help="comma-separated session_satiation values, one data set each")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per variant")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--work-dir", default=None, help="where to simulate (default: a temp dir)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.batch_size % SESSION_LENGTH:
        parser.error(f"--batch-size must be a multiple of {SESSION_LENGTH}, got {args.batch_size}")

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="lirank_setwise_"))
    report: dict = {"args": vars(args), "tables": []}
    tables = []
    for satiation in (float(v) for v in args.satiation.split(",")):
        manifest = simulate_feed(work / f"data_satiation_{satiation:g}", FeedSimulatorConfig(
            num_days=args.days, valid_days=0, test_days=1,
            impressions_per_day=args.impressions_per_day, session_length=SESSION_LENGTH,
            num_members=args.members, posts_per_day=max(200, args.impressions_per_day // 8),
            session_satiation=satiation, seed=args.data_seed))
        transform = fit_transformation(feed_config(manifest, "", args), manifest["train"])
        results: dict[str, list] = {name: [] for name in VARIANTS}
        seconds: dict[str, float] = {}
        for name in VARIANTS:
            started = time.time()
            for seed in range(args.seeds):
                results[name].append(run_variant(manifest, transform, name, seed, args))
            seconds[name] = (time.time() - started) / args.seeds
            print(f"  satiation {satiation:g}, {name}: mean AUC "
                  f"{np.mean([np.mean([m['auc'] for m in r.values()]) for r in results[name]]):.4f}"
                  f" ({seconds[name]:.0f}s per run)", flush=True)
        oracle = oracle_aucs(manifest["test"], satiation)
        tables.append(format_table(satiation, results, oracle, seconds))
        report["tables"].append({"satiation": satiation, "results": results, "oracle": oracle,
                                 "seconds": seconds})
    print(f"Feed simulator: {args.days - 1} training days + 1 test day x "
          f"{args.impressions_per_day} impressions, {args.members} members; Feed experiment "
          f"model; {args.epochs} epochs, batch {args.batch_size}, seeds 0..{args.seeds - 1}")
    print("\n\n".join(tables))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
