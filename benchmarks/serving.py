"""Serving benchmark of the exported Feed model (LiRank §3.7, §3.13, §4.3): latency budget.

    python benchmarks/serving.py [--days 4] [--impressions-per-day 3000] [--epochs 1]
        [--requests 100] [--candidates 1,100,500] [--output-dir DIR]
        [--baseline-export DIR] [--skip-train]

1. Trains the Feed experiment twice on the same simulated data, with TransAct early fusion
   (``candidate_fusion: early``, the default before issue 20) and with the amortized
   history encoder (``append``), exports them (fp32; the amortized one int8 too) and prints
   the test-day AUC of every task of both, and the int8 export's AUC change.
2. Per-stage breakdown of the serving graph for N = 1, 100, 500 candidates of one member
   (transformation, embedding lookups, history encoder, trunk, heads + calibration: median
   ms and share of the whole serving function, in process, Grappler on), and the request's
   matmul FLOPs against a float32 matmul peak measured in the same run.
3. Latency through the loaded SavedModels (p50 / p99, candidates per second, and the ratio
   to the baseline, all cells interleaved request by request so a change of the machine's
   load hits them alike). The baseline is ``--baseline-export`` (e.g. the export written
   by the code before issue 20 from ``DIR/run_early``) or else the TransAct export.
4. First request after load, each export in a fresh process: ``tf.saved_model.load``
   alone (baseline) and ``lirank_tf.serving.load_export`` (replays the export's warm-up
   file, ``assets.extra/tf_serving_warmup_requests``).
5. The same exports run the way TF Serving runs them: restored into a TF1 ``Session`` from
   the MetaGraph (not through the TF2 object graph) and called with ``Session.run``; an
   export that fails there (exports before the fix of their variable handles did) says so.
6. Throughput of 1 and 2 concurrent clients (threads) at N = 100.

Every latency depends on the machine's load: the script prints ``uptime`` before and after;
compare ratios measured in the same run. TensorFlow runs with 2 intra- and 2 inter-op
threads (``--threads``). ``--skip-train`` reuses the runs of an earlier ``--output-dir``,
``--train-only`` stops after the exports.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path

import fastavro
import numpy as np
import tensorflow as tf

from lirank_tf.config import ExperimentConfig, deep_merge, get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation.metrics import auc
from lirank_tf.serving import ServingModule, export_serving_model
from lirank_tf.serving.session import SessionExport, first_error_line
from lirank_tf.data.records import records_to_candidates_request, records_to_request
from lirank_tf.training.trainer import train
from lirank_tf.workflow import load_run

sys.path.insert(0, str(Path(__file__).parent))
from serving_stages import STAGES, matmul_flops, matmul_peak_gflops, stage_times  # noqa: E402


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


def int8_table(config, exports: dict, test_files: list[str]) -> str:
    """Test-day AUC of the amortized model's fp32 and int8 exports and their score gap."""
    fields = raw_fields(config)
    records = read_records(test_files)
    scores = {precision: scores_of(tf.saved_model.load(str(exports[("amortized", precision)]))
                                   .signatures["serving_default"], records, fields)
              for precision in ("fp32", "int8")}
    lines = ["| task | AUC fp32 | AUC int8 | AUC diff | max abs score diff |",
             "|---|---:|---:|---:|---:|"]
    for task in config.tasks:
        labels = np.array([float(r[task.label]) for r in records])
        a32, a8 = auc(labels, scores["fp32"][task.name]), auc(labels, scores["int8"][task.name])
        gap = np.max(np.abs(scores["int8"][task.name] - scores["fp32"][task.name]))
        lines.append(f"| {task.name} | {a32:.4f} | {a8:.4f} | {a8 - a32:+.5f} | {gap:.2e} |")
    return "\n".join(lines)


def fusion_table(config, exports: dict, test_files: list[str]) -> str:
    """Test-day AUC of every task, TransAct (early fusion) vs amortized encoder (fp32)."""
    fields = raw_fields(config)
    records = read_records(test_files)
    scores = {kind: scores_of(tf.saved_model.load(str(exports[(kind, "fp32")]))
                              .signatures["serving_default"], records, fields)
              for kind in ("early", "amortized")}
    lines = ["| task | AUC TransAct (early) | AUC amortized (append) |", "|---|---:|---:|"]
    for task in config.tasks:
        labels = np.array([float(r[task.label]) for r in records])
        lines.append(f"| {task.name} | {auc(labels, scores['early'][task.name]):.4f} | "
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


def stage_table(models: dict, records: list[dict], counts: list[int], peak: float) -> str:
    """Per model and N: median ms, share and op count of each serving stage, the request's
    matmul FLOPs and the rate the model stages run them at against the measured peak."""
    lines = ["| model | N | " + " | ".join(STAGES) + " | whole serving fn | matmul MFLOP | "
             "GFLOP/s (of peak) |", "|---|---:|" + "---:|" * (len(STAGES) + 3)]
    for name, (config, transform, model) in models.items():
        module = ServingModule(config, transform, model)
        for count in counts:
            request, _ = requests_for(config, records, count)
            stages, ops = stage_times(module, request)
            flops = matmul_flops(model, transform(request))
            whole = stages["whole"]
            cells = [f"{stages[s] * 1e3:.2f} ({stages[s] / whole:.0%}; {ops[s]} ops)"
                     for s in STAGES]
            model_seconds = sum(stages[s] for s in STAGES[1:])
            rate = flops / max(model_seconds, 1e-9) / 1e9
            lines.append(f"| {name} | {count} | " + " | ".join(cells) +
                         f" | {whole * 1e3:.2f} ({ops['whole']} ops) | {flops / 1e6:.1f} | "
                         f"{rate:.1f} ({rate / peak:.1%}) |")
    return "\n".join(lines)


def latency_table(config, paths: list[tuple[str, str, str]], records: list[dict],
                  counts: list[int], requests: int, warmup: int = 5) -> str:
    """``paths``: (label, export dir, signature); the first is the baseline. Per N, the
    cells are timed in turn, request after request."""
    loaded = {path: tf.saved_model.load(path) for _, path, _ in paths}
    lines = ["| export, signature | N | p50 ms | p99 ms | candidates/s | p50 vs baseline | "
             "p99 vs baseline |", "|---|---:|---:|---:|---:|---:|---:|"]
    for count in counts:
        per_candidate, amortized = requests_for(config, records, count)
        cells = [(label, loaded[path].signatures[signature],
                  amortized if signature == "serve_candidates" else per_candidate)
                 for label, path, signature in paths]
        seconds: list[list[float]] = [[] for _ in cells]
        for round_ in range(warmup + requests):
            for index, (_, signature, request) in enumerate(cells):
                elapsed = time_call(signature, request)
                if round_ >= warmup:
                    seconds[index].append(elapsed)
        base = np.percentile(seconds[0], [50, 99])
        for (label, _, _), times in zip(cells, seconds):
            p50, p99 = np.percentile(times, [50, 99])
            lines.append(f"| {label} | {count} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | "
                         f"{count / np.mean(times):,.0f} | {base[0] / p50:.2f}x | "
                         f"{base[1] / p99:.2f}x |")
    return "\n".join(lines)


def session_latency_table(paths: list[tuple[str, str]], request: dict, count: int,
                          requests: int, threads: int) -> str:
    """``paths``: (label, export dir). Each export restored into a TF1 ``Session`` from its
    MetaGraph, as TF Serving's loader does (`lirank_tf.serving.session.SessionExport`), and
    ``serving_default`` run through ``Session.run`` with ``request``; an export that cannot
    run there says why."""
    lines = ["| export | N | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
    feeds = {name: value.numpy() for name, value in request.items()}
    for label, path in paths:
        with SessionExport(path, threads=threads) as session:
            try:
                for _ in range(5):
                    session.run("serving_default", feeds, outputs=["score"])
            except tf.errors.OpError as error:
                lines.append(f"| {label} | {count} | fails: {first_error_line(error)[:80]} | |")
                continue
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                session.run("serving_default", feeds, outputs=["score"])
                times.append(time.perf_counter() - started)
        p50, p99 = np.percentile(times, [50, 99]) * 1e3
        lines.append(f"| {label} | {count} | {p50:.2f} | {p99:.2f} |")
    return "\n".join(lines)


FIRST_REQUEST = """
import json, sys, time
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads({threads})
tf.config.threading.set_inter_op_parallelism_threads({threads})
request = {{k: tf.constant(v) for k, v in np.load({request!r}, allow_pickle=True).items()}}
started = time.perf_counter()
loaded = tf.saved_model.load({export!r})
loaded_at = time.perf_counter()
if {warm}:
    from lirank_tf.serving import load_export
    loaded = load_export({export!r})
warm_at = time.perf_counter()
times = []
for _ in range(3):
    begin = time.perf_counter()
    loaded.signatures["serving_default"](**request)["score"].numpy()
    times.append(time.perf_counter() - begin)
print(json.dumps({{"load": loaded_at - started, "warmup": warm_at - loaded_at,
                  "first": times[0], "third": times[2]}}))
"""


def first_request_table(paths: list[tuple[str, str, bool]], request: dict, scratch: Path,
                        threads: int) -> str:
    """Each export loaded in a fresh process; ``warm``: through ``load_export`` (load +
    warm-up replay; the plain load is timed before it and then repeated inside it)."""
    np.savez(scratch / "first_request.npz", **{k: v.numpy() for k, v in request.items()})
    lines = ["| export, loading | load s | warm-up s | first request ms | third request ms |",
             "|---|---:|---:|---:|---:|"]
    for label, path, warm in paths:
        script = FIRST_REQUEST.format(threads=threads, request=str(scratch / "first_request.npz"),
                                      export=path, warm=warm)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=900)
        if done.returncode != 0:
            lines.append(f"| {label} | failed: {done.stderr.strip().splitlines()[-1]} | | | |")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        warmup = f"{result['warmup']:.1f}" if warm else "-"
        lines.append(f"| {label} | {result['load']:.1f} | {warmup} | "
                     f"{result['first'] * 1e3:.1f} | {result['third'] * 1e3:.1f} |")
    return "\n".join(lines)


def throughput_table(paths: list[tuple[str, str, str]], request: dict, count: int,
                     seconds: float = 5.0) -> str:
    """Requests of ``count`` candidates per second with 1 and 2 client threads calling
    the same loaded signature back to back for ``seconds``."""
    lines = ["| export, signature | clients | requests/s | candidates/s | mean latency ms |",
             "|---|---:|---:|---:|---:|"]
    for label, path, signature_name in paths:
        signature = tf.saved_model.load(path).signatures[signature_name]
        for _ in range(5):
            time_call(signature, request)
        for clients in (1, 2):
            done: list[list[float]] = [[] for _ in range(clients)]
            stop = time.perf_counter() + seconds

            def client(index: int) -> None:
                while time.perf_counter() < stop:
                    done[index].append(time_call(signature, request))

            workers = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - started
            calls = sum(len(d) for d in done)
            latency = np.mean([t for d in done for t in d])
            lines.append(f"| {label} | {clients} | {calls / elapsed:,.1f} | "
                         f"{calls * count / elapsed:,.0f} | {latency * 1e3:.2f} |")
    return "\n".join(lines)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def trained(config: ExperimentConfig, run_dir: Path, skip_train: bool):
    """(config, transform, model) of ``run_dir``, trained first unless ``skip_train``."""
    if not skip_train:
        train(config, run_dir)
    return load_run(run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4, help="simulated days (last: test)")
    parser.add_argument("--impressions-per-day", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per cell")
    parser.add_argument("--candidates", default="1,100,500")
    parser.add_argument("--threads", type=int, default=2, help="intra- and inter-op threads")
    parser.add_argument("--output-dir", help="default: a temporary directory")
    parser.add_argument("--baseline-export", help="the export to compare with (default: the "
                        "TransAct early-fusion export of this run)")
    parser.add_argument("--skip-train", action="store_true",
                        help="reuse DIR/run_early and DIR/run_amortized of --output-dir")
    parser.add_argument("--train-only", action="store_true",
                        help="stop after training and exporting (then export the baseline "
                        "from DIR/run_early and rerun with --skip-train)")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # the stage functions retrace once per N, by design
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    root = Path(args.output_dir or tempfile.mkdtemp(prefix="lirank-serving-bench-"))
    started = time.time()
    print(f"[serving] machine load at start: {uptime()}", flush=True)
    if args.skip_train:
        data = load_run(root / "run_early")[0].data
        manifest = {"train": data.train, "valid": data.valid, "test": data.test}
    else:
        manifest = simulate_feed(root / "data", FeedSimulatorConfig(
            num_days=args.days, impressions_per_day=args.impressions_per_day, seed=5))
    base = {"data": {"train": manifest["train"], "valid": manifest["valid"],
                     "test": manifest["test"]},
            "training": {"epochs": args.epochs, "batch_size": 256, "verbose": 0}}
    models = {}
    for kind, fusion in (("early", "early"), ("amortized", "append")):
        config = get_experiment("feed", deep_merge(base, {"model": {"options": {
            "transact": {"candidate_fusion": fusion}}}}))
        models[kind] = trained(config, root / f"run_{kind}", args.skip_train)
        print(f"[serving] {'loaded' if args.skip_train else 'trained'} the Feed model, "
              f"{fusion} fusion ({time.time() - started:.0f}s)", flush=True)
    exports = {}
    for kind, precision in (("early", "fp32"), ("amortized", "fp32"), ("amortized", "int8")):
        config, transform, model = models[kind]
        target = root / "exports" / f"{kind}_{precision}"
        shutil.rmtree(target, ignore_errors=True)
        exports[(kind, precision)] = export_serving_model(
            config, transform, model, target,
            quantize="int8" if precision == "int8" else "none")
    print(f"[serving] exported 3 SavedModels ({time.time() - started:.0f}s)\n", flush=True)
    if args.train_only:
        return
    config = models["amortized"][0]
    print("## history block: early fusion vs candidate appended (fp32, test day)\n")
    print(fusion_table(config, exports, manifest["test"]))
    print("\n## int8 export of the amortized model (test day)\n")
    print(int8_table(config, exports, manifest["test"]))
    counts = [int(c) for c in args.candidates.split(",")]
    records = read_records(manifest["test"], 1000)
    peak = matmul_peak_gflops()
    print(f"\n## where a request's time goes (in process, median of 30; one member, N "
          f"candidates, serving_default rows; float32 matmul peak measured now: "
          f"{peak:.1f} GFLOP/s)\n")
    print(stage_table({"TransAct (early)": models["early"],
                       "amortized (append)": models["amortized"]}, records, counts, peak))
    baseline = (args.baseline_export or str(exports[("early", "fp32")]))
    baseline_label = ("baseline: today's export (--baseline-export)" if args.baseline_export
                      else "baseline: TransAct early-fusion export")
    paths = [(baseline_label, baseline, "serving_default")]
    if args.baseline_export:
        paths.append(("TransAct early fusion, fp32", str(exports[("early", "fp32")]),
                      "serving_default"))
    paths += [("amortized, fp32, serving_default", str(exports[("amortized", "fp32")]),
               "serving_default"),
              ("amortized, int8, serving_default", str(exports[("amortized", "int8")]),
               "serving_default"),
              ("amortized, fp32, serve_candidates", str(exports[("amortized", "fp32")]),
               "serve_candidates")]
    print(f"\n## latency through the loaded SavedModels ({args.requests} timed requests per "
          f"cell, cells interleaved; history of {config.features.history.max_length} steps; "
          f"{args.threads} threads; candidates/s = N / mean latency)\n")
    print(latency_table(config, paths, records, counts, args.requests))
    request, _ = requests_for(config, records, 100)
    print("\n## first request (N = 100) after loading, fresh process per row\n")
    print(first_request_table([(baseline_label + ", tf.saved_model.load", baseline, False),
                               ("amortized fp32, load_export (warm-up replayed)",
                                str(exports[("amortized", "fp32")]), True)],
                              request, root, args.threads))
    print("\n## TF1 session, as TF Serving loads an export (serving_default, N = 100)\n")
    print(session_latency_table([(label, path) for label, path, signature in paths
                                 if signature == "serving_default"],
                                request, 100, args.requests, args.threads))
    print("\n## throughput, N = 100, 1 and 2 concurrent clients\n")
    print(throughput_table([paths[0], paths[-3]], request, 100))
    print(f"\n[serving] machine load at end: {uptime()}")
    print(f"[serving] done in {time.time() - started:.0f}s; outputs in {root}")


if __name__ == "__main__":
    main()
