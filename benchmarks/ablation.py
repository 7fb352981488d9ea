"""Table 6 of LiRank on the Feed simulator: each architecture block on / off vs a baseline.

    python benchmarks/ablation.py [--days 6] [--impressions-per-day 4000] [--epochs 2]
                                  [--seeds 1] [--large-mlp 512] [--rows 0,1,5] [--json out.json]

Simulates Feed data once, fits the transformation model on the training days, then trains
the Feed model once per row (and seed) with the §6.2 optimizer recipe and evaluates it on
the test day. Every row is the baseline plus the row's blocks (the paper lists the blocks in
the order they were developed, each as a lift over the baseline):

    baseline: dense features only (batch norm), 4 x 100 MLP, hard-sharing task towers,
              no ids, no history, no crosses, no calibration.

The table shows, per row, the test AUC of click and the mean AUC of the contribution tasks
(like, comment, share, vote; the paper's Table 6 metric is the offline replay of
contributions), their relative change against the baseline (%), the mean log loss over all
six tasks and its relative change (negative is better), the mean |O/E - 1| over the tasks,
and the paper's reported contribution lift; "reproduces" says whether the contribution AUC
moved in the paper's direction (up). The simulator's oracle AUC bounds what any model
can reach. Use bigger ``--days``/``--impressions-per-day``/``--seeds`` to separate the rows
from seed noise (printed as the spread over seeds when ``--seeds`` > 1).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation.metrics import auc, log_loss, oe_ratio
from lirank_tf.evaluation.evaluate import oracle_probabilities
from lirank_tf.models import build_model
from lirank_tf.tasks import MultiTask
from lirank_tf.training.pipeline import raw_dataset
from lirank_tf.training.trainer import fit_transformation, make_optimizer

CONTRIBUTION = ("like", "comment", "share", "vote")
BASELINE = {"id_features": False, "use_history": False, "history_encoder": False,
            "isotonic_calibration": False, "calibration_features": [],
            "hidden_units": [100, 100, 100, 100], "dense_gating": False,
            "multitask": "hard_sharing", "interaction": "none", "sparse_moe": False,
            "masknet": False}


def table6_rows(large_mlp: int) -> list[tuple[str, dict, float | None]]:
    """(row name, model overrides on the baseline, the paper's contribution lift in %)."""
    lmlp = {"hidden_units": [large_mlp] * 4}
    transact = {"use_history": True, "history_encoder": True}
    return [
        ("Baseline", {}, None),
        ("+ 30 dimensional ID embeddings (IDs)", {"id_features": True}, 1.89),
        ("+ Isotonic calibration layer", {"isotonic_calibration": True,
                                          "calibration_features": ["platform", "content_type"]}, 1.08),
        ("+ Large MLP (LMLP)", lmlp, 1.23),
        ("+ Dense Gating (DG)", {"dense_gating": True}, 1.00),
        ("+ Multi-task (MTL) Grouping", {"multitask": "grouping"}, 0.75),
        ("+ Low-rank DCNv2 (LDCNv2)", {"interaction": "dcnv2"}, 1.26),
        ("+ TransAct", transact, 1.66),
        ("+ Residual DCN (RDCN)", {"interaction": "residual_dcn"}, 2.15),
        ("+ LDCNv2+LMLP+TransAct", {"interaction": "dcnv2", **lmlp, **transact}, 3.45),
        ("+ RDCN+LMLP+TransAct", {"interaction": "residual_dcn", **lmlp, **transact}, 3.62),
        ("+ Sparsly Gated MMoE", {"interaction": "residual_dcn", **lmlp, **transact,
                                  "sparse_moe": True}, 4.14),
    ]


def in_memory(config, files, transform) -> tuple[dict, dict]:
    """All records of ``files``: model inputs and ``{task: labels [n, 1]}``."""
    raw, labels = next(iter(raw_dataset(config, files, shuffle=False, batch_size=10_000_000)))
    inputs, labels = tf.function(transform.map_fn())(raw, labels)   # as the training pipeline
    return inputs, {k: tf.reshape(tf.cast(v, tf.float32), [-1, 1]) for k, v in labels.items()}


def run_row(config, train, test, seed: int) -> dict[str, dict[str, float]]:
    """Trains the row's model from ``seed`` and returns {task: {auc, logloss, oe}} on test."""
    keras.utils.set_random_seed(seed)
    inputs, labels = train
    count = int(next(iter(labels.values())).shape[0])
    batch_size = config.training.batch_size
    steps = -(-count // batch_size)
    dataset = (tf.data.Dataset.from_tensor_slices((inputs, labels))
               .shuffle(count, seed=seed).batch(batch_size).prefetch(2))
    model = build_model(config)
    model.compile(optimizer=make_optimizer(config, steps),
                  **MultiTask.from_config(config.tasks).compile_kwargs())
    model.fit(dataset, epochs=config.training.epochs, verbose=0)
    test_inputs, test_labels = test
    predictions = model.predict(test_inputs, batch_size=4096, verbose=0)
    results = {}
    for task in config.tasks:
        y, p = test_labels[task.name].numpy().reshape(-1), np.asarray(predictions[task.name]).reshape(-1)
        results[task.name] = {"auc": auc(y, p), "logloss": log_loss(y, p), "oe": oe_ratio(y, p)}
    return results


def summarize(per_seed: list[dict]) -> dict[str, float]:
    """Mean over seeds of: click AUC, mean contribution AUC, mean log loss, mean |O/E - 1|."""
    def stats(values):
        return float(np.mean(values)), float(np.max(values) - np.min(values))
    click = [r["click"]["auc"] for r in per_seed]
    contribution = [np.mean([r[t]["auc"] for t in CONTRIBUTION]) for r in per_seed]
    logloss = [np.mean([m["logloss"] for m in r.values()]) for r in per_seed]
    calibration = [np.mean([abs(m["oe"] - 1.0) for m in r.values()]) for r in per_seed]
    (click_auc, click_spread), (contrib_auc, contrib_spread) = stats(click), stats(contribution)
    return {"click_auc": click_auc, "click_auc_spread": click_spread,
            "contribution_auc": contrib_auc, "contribution_auc_spread": contrib_spread,
            "logloss": stats(logloss)[0], "oe_error": stats(calibration)[0]}


def format_table(rows: list[dict], oracle: dict[str, float], seeds: int) -> str:
    base = rows[0]["summary"]
    columns = [("row", 38), ("click AUC", 9), ("Δ%", 6), ("contrib AUC", 14), ("Δ%", 6),
               ("logloss", 7), ("Δ%", 6), ("O/E err", 7), ("paper Δ", 7), ("reproduces", 10),
               ("time s", 6)]
    lines = ["| " + " | ".join(name.ljust(width) for name, width in columns) + " |",
             "|" + "|".join("-" * (width + 2) for _, width in columns) + "|"]
    for row in rows:
        s = row["summary"]
        d_contrib = 100 * (s["contribution_auc"] / base["contribution_auc"] - 1)
        spread = f" ±{s['contribution_auc_spread'] / 2:.3f}" if seeds > 1 else ""
        cells = [row["name"], f"{s['click_auc']:.4f}",
                 f"{100 * (s['click_auc'] / base['click_auc'] - 1):+.2f}",
                 f"{s['contribution_auc']:.4f}{spread}", f"{d_contrib:+.2f}", f"{s['logloss']:.4f}",
                 f"{100 * (s['logloss'] / base['logloss'] - 1):+.2f}", f"{s['oe_error']:.4f}",
                 "" if row["paper"] is None else f"+{row['paper']:.2f}",
                 "" if row["paper"] is None else ("yes" if d_contrib > 0 else "no"),
                 f"{row['seconds']:.0f}"]
        lines.append("| " + " | ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                                        for i, (cell, (_, width)) in enumerate(zip(cells, columns)))
                     + " |")
    contrib_oracle = np.mean([oracle[t] for t in CONTRIBUTION]) if oracle else float("nan")
    lines.append(f"oracle AUC on the test day: click {oracle.get('click', float('nan')):.4f}, "
                 f"contribution {contrib_oracle:.4f}. Δ% = relative change vs the baseline; "
                 "O/E err = mean |O/E - 1| over the six tasks; paper Δ = Table 6 contribution lift (%).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=6, help="simulated days (last test, one valid)")
    parser.add_argument("--impressions-per-day", type=int, default=4000)
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per row")
    parser.add_argument("--large-mlp", type=int, default=512, help="width of the LMLP rows (paper: 3500)")
    parser.add_argument("--rows", default="",
                        help="comma-separated row indices (0 = baseline, always run)")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="where to simulate (default: a temp dir)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    rows = table6_rows(args.large_mlp)
    if args.rows:
        chosen = sorted({0} | {int(i) for i in args.rows.split(",")})
        rows = [rows[i] for i in chosen]
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="lirank_ablation_"))
    manifest = simulate_feed(data_dir, FeedSimulatorConfig(
        num_days=args.days, impressions_per_day=args.impressions_per_day,
        num_members=args.members, posts_per_day=max(200, args.impressions_per_day // 8),
        seed=args.data_seed))
    base = get_experiment("feed", {"model": BASELINE, "training": {
        "epochs": args.epochs, "batch_size": args.batch_size, "verbose": 0}})
    transform = fit_transformation(base, manifest["train"])
    train, test = (in_memory(base, manifest["train"], transform),
                   in_memory(base, manifest["test"], transform))
    oracle_probs = oracle_probabilities(manifest["test"], base)
    oracle = {t: auc(test[1][t].numpy().reshape(-1), p) for t, p in oracle_probs.items()}
    print(f"data: {len(manifest['train'])} train days, {int(test[1]['click'].shape[0])} test "
          f"impressions; {args.epochs} epochs, batch {args.batch_size}, {args.seeds} seed(s)",
          flush=True)

    results = []
    for name, overrides, paper in rows:
        config = base.replace(model=base.model.replace(**overrides))
        started = time.time()
        per_seed = [run_row(config, train, test, seed) for seed in range(args.seeds)]
        results.append({"name": name, "overrides": overrides, "paper": paper, "per_seed": per_seed,
                        "summary": summarize(per_seed), "seconds": time.time() - started})
        print(f"  {name}: contribution AUC {results[-1]['summary']['contribution_auc']:.4f} "
              f"({results[-1]['seconds']:.0f}s)", flush=True)
    print(format_table(results, oracle, args.seeds))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "oracle_auc": oracle,
                                               "rows": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
