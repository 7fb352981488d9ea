"""The "your own data" path on a categorical CTR data set: ``dcnv2`` (the init-config default)
beside the paper's Feed model, trained through the same commands a user runs.

No public CTR data set can be downloaded here, so the data is the Feed simulator's single-task
view: its click label with categorical (string id) features only, written as plain Avro files
that ``init-config`` maps on its own. Prints AUC / log loss / seconds per epoch per model, and
the oracle AUC of the simulator's true click probabilities.

    .venv/bin/python benchmarks/own_data.py [--days 6 --impressions-per-day 20000 --epochs 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import fastavro

from lirank_tf import workflow
from lirank_tf.config import ExperimentConfig, get_experiment
from lirank_tf.config.init_config import init_config
from lirank_tf.data.synthetic import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation import auc

CATEGORICAL = ["viewer_id", "actor_id", "content_type", "platform", "root_object_id"]


def categorical_view(manifest: dict, out: Path) -> dict:
    """Avro files with the categorical columns and the click label only."""
    schema = fastavro.parse_schema({"type": "record", "name": "Ctr", "fields": [
        *({"name": name, "type": "string"} for name in CATEGORICAL),
        {"name": "position", "type": "int"}, {"name": "click", "type": "int"},
        {"name": "oracle_click", "type": "float"}]})
    files = {}
    for split, paths in manifest.items():
        target = out / split
        target.mkdir(parents=True, exist_ok=True)
        for path in paths:
            with open(path, "rb") as handle:
                rows = [{k: r[k] for k in (*CATEGORICAL, "position", "click", "oracle_click")}
                        for r in fastavro.reader(handle)]
            with open(target / Path(path).name, "wb") as handle:
                fastavro.writer(handle, schema, rows, codec="deflate")
        files[split] = [str(target / "*.avro")]
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--impressions-per-day", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="own_data_"))
    manifest = simulate_feed(root / "feed", FeedSimulatorConfig(
        num_days=args.days, impressions_per_day=args.impressions_per_day, seed=5))
    files = categorical_view(manifest, root / "ctr")
    rows = []

    config_path = init_config(train=files["train"], valid=files["valid"], test=files["test"],
                              labels=["click"], output=root / "dcnv2.yaml")
    dcnv2 = ExperimentConfig.load(config_path)
    # the oracle column is not a feature
    dcnv2 = dcnv2.replace(features=dcnv2.features.replace(
        dense=[d for d in dcnv2.features.dense if d.name != "oracle_click"]),
        training=dcnv2.training.replace(epochs=args.epochs, verbose=0))
    feed = get_experiment("feed", {
        "data": files, "tasks": [{"name": "click", "label": "click"}],
        "features": {"ids": [{"name": n, "table": "member" if n.endswith("_id") and n != "root_object_id"
                              else "post" if n == "root_object_id" else "context"} for n in CATEGORICAL],
                     "dense": [{"name": "position", "size": 1, "transform": "none"}], "history": None},
        "model": {"multitask": "hard_sharing"},
        "training": {"epochs": args.epochs, "verbose": 0}})
    for name, config in (("dcnv2 (init-config default)", dcnv2), ("feed (LiRank)", feed)):
        started = time.time()
        result = workflow.train(config, root / name.split()[0], overwrite=True)
        seconds = (time.time() - started) / max(1, len(result.history["loss"]))
        metrics = workflow.evaluate_run(root / name.split()[0], verbose=False)["click"]
        rows.append((name, metrics["auc"], metrics["logloss"], metrics["oe_ratio"], seconds))
    labels, oracle = [], []
    for path in sorted((root / "ctr" / "test").glob("*.avro")):
        with open(path, "rb") as handle:
            for record in fastavro.reader(handle):
                labels.append(record["click"])
                oracle.append(record["oracle_click"])
    print(f"\ncategorical CTR view of the Feed simulator: {args.days} days x "
          f"{args.impressions_per_day} impressions, {args.epochs} epochs, test = last day")
    print(f"{'model':32s}{'test AUC':>10s}{'log loss':>10s}{'O/E':>8s}{'s/epoch':>9s}")
    for name, auc_value, logloss, oe, seconds in rows:
        print(f"{name:32s}{auc_value:10.4f}{logloss:10.4f}{oe:8.3f}{seconds:9.1f}")
    print(f"{'oracle (true probabilities)':32s}{auc(labels, oracle):10.4f}")
    print(json.dumps({"outputs": str(root)}))


if __name__ == "__main__":
    main()
