"""Serving benchmark of the exported Feed model (LiRank §3.13, §4.3; amortized history).

    python benchmarks/serving.py [--days 4] [--impressions-per-day 3000] [--epochs 1]
                                 [--requests 50] [--candidates 1,10,100,500] [--output-dir DIR]

1. Trains the Feed experiment (every Table 6 block, TransAct history) briefly on simulated
   data and exports it twice, fp32 and ``quantize="int8"``; prints the embedding-table and
   SavedModel-variables bytes and, on the test day scored through both exports, each task's
   AUC and the score differences.
2. Trains the same experiment with ``model.options.transact.candidate_fusion: append`` (the
   amortized history encoder: candidates appended as separate items) on the same data,
   exports it fp32 and int8, and prints both models' test-day AUCs.
3. Times requests of N candidates of one member through the loaded SavedModels, in this
   process, on this CPU: p50 / p99 latency and candidates per second, for the TransAct model
   (per-candidate path only: its history encoding depends on the candidate), and for the
   amortized model through ``serving_default`` (history repeated on every row) and
   ``serve_candidates`` (history once).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import islice
from pathlib import Path

import fastavro
import numpy as np
import tensorflow as tf

from lirank_tf.config import ExperimentConfig, deep_merge, get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.data.synthetic import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation.metrics import auc
from lirank_tf.serving import export_serving_model
from lirank_tf.serving.quantize import (embedding_table_bytes, quantize_embedding_tables,
                                        saved_model_variables_bytes)
from lirank_tf.serving.request import records_to_candidates_request, records_to_request
from lirank_tf.training.trainer import train


def read_records(files: list[str], limit: int | None = None) -> list[dict]:
    records = []
    for path in files:
        with open(path, "rb") as handle:
            records.extend(islice(fastavro.reader(handle), None if limit is None
                                  else limit - len(records)))
    return records


def scores_of(signature, records: list[dict], fields, batch: int = 1000) -> dict[str, np.ndarray]:
    parts: dict[str, list] = {}
    for start in range(0, len(records), batch):
        request = records_to_request(records[start:start + batch], fields)
        out = signature(**{k: tf.constant(v) for k, v in request.items()})
        for name, value in out.items():
            parts.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def quality_table(config, model, exports: dict, test_files: list[str]) -> str:
    """Bytes before / after int8 and the test-day AUC / score differences of the exports."""
    fields = raw_fields(config)
    records = read_records(test_files)
    scores = {precision: scores_of(tf.saved_model.load(str(exports[("transact", precision)]))
                                   .signatures["serving_default"], records, fields)
              for precision in ("fp32", "int8")}
    table_bytes = (embedding_table_bytes(model),
                   embedding_table_bytes(quantize_embedding_tables(model)))
    variables = tuple(saved_model_variables_bytes(exports[("transact", precision)])
                      for precision in ("fp32", "int8"))
    lines = ["| bytes | fp32 | int8 | smaller by |", "|---|---:|---:|---:|"]
    for name, (before, after) in (("embedding tables", table_bytes),
                                  ("SavedModel variables/", variables)):
        lines.append(f"| {name} | {before:,} | {after:,} | {1 - after / before:.1%} |")
    lines += ["", f"test day: {len(records):,} impressions",
              "| output | AUC fp32 | AUC int8 | AUC diff | max abs diff | mean abs diff |",
              "|---|---:|---:|---:|---:|---:|"]
    for task in [t.name for t in config.tasks] + ["score"]:
        fp32, int8 = scores["fp32"][task], scores["int8"][task]
        label = task if task != "score" else "click"
        labels = np.array([float(r[next(t.label for t in config.tasks if t.name == label)])
                           for r in records])
        a32, a8 = auc(labels, fp32), auc(labels, int8)
        name = task if task != "score" else "score (vs click)"
        lines.append(f"| {name} | {a32:.4f} | {a8:.4f} | {a8 - a32:+.5f} | "
                     f"{np.max(np.abs(int8 - fp32)):.2e} | {np.mean(np.abs(int8 - fp32)):.2e} |")
    return "\n".join(lines)


def fusion_table(config, exports: dict, test_files: list[str]) -> str:
    """Test-day AUC of every task, TransAct (early fusion) vs amortized encoder (fp32)."""
    fields = raw_fields(config)
    records = read_records(test_files)
    scores = {kind: scores_of(tf.saved_model.load(str(exports[(kind, "fp32")]))
                              .signatures["serving_default"], records, fields)
              for kind in ("transact", "amortized")}
    lines = ["| task | AUC TransAct (early) | AUC amortized (append) |", "|---|---:|---:|"]
    for task in config.tasks:
        labels = np.array([float(r[task.label]) for r in records])
        lines.append(f"| {task.name} | {auc(labels, scores['transact'][task.name]):.4f} | "
                     f"{auc(labels, scores['amortized'][task.name]):.4f} |")
    return "\n".join(lines)


def requests_for(config, records: list[dict], count: int) -> tuple[dict, dict]:
    """(per-candidate request, amortized request) of one member and ``count`` candidates."""
    history = config.features.history
    member = max(records[:200], key=lambda r: len(r[history.item_field]))
    candidates = [dict(records[i % len(records)], viewer_id=member["viewer_id"],
                       **{history.item_field: member[history.item_field],
                          history.action_field: member[history.action_field]})
                  for i in range(1, count + 1)]
    fields = raw_fields(config)
    per_candidate = records_to_request(candidates, fields)
    amortized = records_to_candidates_request(member, candidates, fields, history)
    as_tensors = lambda request: {k: tf.constant(v) for k, v in request.items()}  # noqa: E731
    return as_tensors(per_candidate), as_tensors(amortized)


def time_call(signature, request: dict) -> float:
    started = time.perf_counter()
    signature(**request)["score"].numpy()
    return time.perf_counter() - started


def latency_table(config, exports: dict, records: list[dict], counts: list[int],
                  requests: int, warmup: int = 3) -> str:
    """Per N, the six (path, precision) cells are timed in turn, request after request, so
    a change of the machine's load hits them alike."""
    paths = [("transact", "serving_default", "TransAct (early fusion), per candidate"),
             ("amortized", "serving_default", "amortized encoder, per candidate"),
             ("amortized", "serve_candidates", "amortized encoder, history once")]
    loaded = {key: tf.saved_model.load(str(path)) for key, path in exports.items()}
    lines = ["| model, path | precision | N | p50 ms | p99 ms | candidates/s |",
             "|---|---|---:|---:|---:|---:|"]
    for count in counts:
        per_candidate, amortized = requests_for(config, records, count)
        cells = [(name, precision, loaded[(kind, precision)].signatures[signature],
                  amortized if signature == "serve_candidates" else per_candidate)
                 for kind, signature, name in paths for precision in ("fp32", "int8")]
        seconds: dict[int, list[float]] = {index: [] for index in range(len(cells))}
        for round_ in range(warmup + requests):
            for index, (_, _, signature, request) in enumerate(cells):
                elapsed = time_call(signature, request)
                if round_ >= warmup:
                    seconds[index].append(elapsed)
        for index, (name, precision, _, _) in enumerate(cells):
            times = np.array(seconds[index])
            p50, p99 = np.percentile(times, [50, 99]) * 1e3
            lines.append(f"| {name} | {precision} | {count} | {p50:.1f} | {p99:.1f} | "
                         f"{count / times.mean():,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4, help="simulated days (last: test)")
    parser.add_argument("--impressions-per-day", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per cell")
    parser.add_argument("--candidates", default="1,10,100,500")
    parser.add_argument("--output-dir", help="default: a temporary directory")
    args = parser.parse_args()
    root = Path(args.output_dir or tempfile.mkdtemp(prefix="lirank-serving-bench-"))
    started = time.time()
    manifest = simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=args.days, impressions_per_day=args.impressions_per_day, seed=5))
    config = get_experiment("feed", {
        "data": {"train": manifest["train"], "valid": manifest["valid"], "test": manifest["test"]},
        "training": {"epochs": args.epochs, "batch_size": 256, "verbose": 0}})
    result = train(config, root / "run")
    print(f"[serving] trained the Feed model in {time.time() - started:.0f}s", flush=True)
    amortized_config = ExperimentConfig.from_dict(deep_merge(
        config.to_dict(), {"model": {"options": {"transact": {"candidate_fusion": "append"}}}}))
    amortized = train(amortized_config, root / "run_amortized")
    print(f"[serving] trained the amortized Feed model ({time.time() - started:.0f}s)",
          flush=True)
    exports = {}
    for kind, run_config, trained in (("transact", config, result),
                                      ("amortized", amortized_config, amortized)):
        for precision in ("fp32", "int8"):
            exports[(kind, precision)] = export_serving_model(
                run_config, trained.transform, trained.model,
                root / "exports" / f"{kind}_{precision}",
                quantize="int8" if precision == "int8" else "none")
    print(f"[serving] exported 4 SavedModels ({time.time() - started:.0f}s)\n", flush=True)
    print("## int8 export: size and test-day scores (Feed model, TransAct history)\n")
    print(quality_table(config, result.model, exports, manifest["test"]))
    print("\n## history block: early fusion vs candidate appended (fp32, test day)\n")
    print(fusion_table(config, exports, manifest["test"]))
    counts = [int(c) for c in args.candidates.split(",")]
    print(f"\n## latency through the loaded SavedModels ({args.requests} timed requests per "
          f"cell, cells interleaved; history of {config.features.history.max_length} steps; "
          "candidates/s = N / mean latency; this CPU)\n")
    print(latency_table(config, exports, read_records(manifest["test"], 1000), counts,
                        args.requests))
    print(f"\n[serving] done in {time.time() - started:.0f}s; outputs in {root}")


if __name__ == "__main__":
    main()
