"""The main job: simulate Feed Avro data -> train -> evaluate -> export -> score raw examples."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.config.overrides import override_config
from lirank_tf.data.avro_file import read_records
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation.evaluate import evaluate, format_table, write_metrics
from lirank_tf.evaluation.report import write_run_report
from lirank_tf.serving import export_serving_model
from lirank_tf.serving.session import check_serving_load
from lirank_tf.data.records import records_to_request
from lirank_tf.training.trainer import train


@dataclasses.dataclass
class DemoOptions:
    output_dir: str | None = None
    days: int = 8
    impressions_per_day: int = 12_000
    seed: int = 0
    epochs: int = 2
    batch_size: int | None = None     # None: the Feed experiment's training.batch_size
    num_scored_examples: int = 5
    verbose: int = 1
    # the test day's sessions are logged with their top N positions shuffled (the training days
    # are not), so the evaluation reports the replay metric beside AUC (LiRank §5.2); 0: off
    replay_top_n: int = 5
    # ``--set dotted.key=value`` overrides of the Feed experiment's config (applied last)
    overrides: tuple[str, ...] = ()


def run_demo(options: DemoOptions) -> dict:
    """Runs the demo; returns the metrics, the paths written and the scores of a few examples."""
    started = time.time()
    if options.overrides:   # a wrong key or value stops here, before the data is simulated
        override_config(get_experiment("feed"), options.overrides)
    output = Path(options.output_dir or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    if output.exists() and any(output.iterdir()):   # before minutes of simulation, not after
        raise FileExistsError(f"{output} is not empty: the demo simulates new data and trains a "
                              "new run; choose another --output-dir (or leave it out)")
    data_dir, run_dir = output / "data", output / "run"
    print(f"[demo] 1/5 simulating {options.days} days x {options.impressions_per_day} Feed "
          f"impressions -> {data_dir}", flush=True)
    manifest = simulate_feed(data_dir, FeedSimulatorConfig(
        num_days=options.days, impressions_per_day=options.impressions_per_day, seed=options.seed,
        randomize_top_n=options.replay_top_n, randomize_days="test"))
    config = get_experiment("feed", {
        "data": {"train": manifest["train"], "valid": manifest["valid"], "test": manifest["test"]},
        "training": {"epochs": options.epochs, "seed": options.seed, "verbose": options.verbose,
                     **({"batch_size": options.batch_size} if options.batch_size else {})},
    })
    config = override_config(config, options.overrides)
    print(f"[demo] 2/5 training the Feed model ({len(manifest['train'])} train days, "
          f"{options.epochs} epochs) -> {run_dir}", flush=True)
    result = train(config, run_dir)

    print("[demo] 3/5 evaluating on the test days", flush=True)
    metrics = evaluate(result.model, result.transform, config, manifest["test"],
                       plot_dir=result.run.eval_dir, history=result.history,
                       replay_top_n=options.replay_top_n)
    metrics_path = write_metrics(metrics, result.run.eval_dir / "metrics.json")
    report_path = write_run_report(run_dir, metrics, config, manifest["test"])
    print(format_table(metrics))

    print("[demo] 4/5 exporting the serving SavedModel (transformation + ranking model)", flush=True)
    export_dir = export_serving_model(config, result.transform, result.model, result.run.export_dir)
    replayed, seconds = check_serving_load(export_dir)
    print(f"  checked as TF Serving loads it (TF1 session): every variable restored, {replayed} "
          f"warm-up requests replayed ({seconds:.1f} s)", flush=True)

    print(f"[demo] 5/5 scoring {options.num_scored_examples} raw test examples through the export", flush=True)
    records = read_records(manifest["test"][0], limit=options.num_scored_examples)
    serving = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    request = records_to_request(records, raw_fields(config))
    scores = {k: v.numpy() for k, v in serving(**{k: tf.constant(v) for k, v in request.items()}).items()}
    for i, record in enumerate(records):
        probabilities = "  ".join(f"{t.name}={scores[t.name][i]:.3f}" for t in config.tasks)
        print(f"  {record['viewer_id']:>12} x {record['root_object_id']:<11} score={scores['score'][i]:.3f}  {probabilities}")
    print(f"[demo] done in {time.time() - started:.0f}s\n"
          f"  data:     {data_dir}\n  run:      {run_dir}\n  metrics:  {metrics_path}\n"
          f"  plots:    {result.run.eval_dir / 'calibration.png'}, "
          f"{result.run.eval_dir / 'training_curves.png'}\n"
          f"  report:   {report_path} (open it in a browser)\n"
          f"  export:   {export_dir}", flush=True)
    return {"metrics": metrics, "metrics_path": str(metrics_path), "report_path": str(report_path),
            "export_dir": str(export_dir),
            "run_dir": str(run_dir), "scores": {k: np.asarray(v).tolist() for k, v in scores.items()}}
