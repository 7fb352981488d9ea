"""The training recipe `lirank-tf init-config` writes: the model blocks, the ``training`` block
and the ``min_count`` of the id columns (what they are and how they were measured, below; the
training block and min_count are measured with dcnv2 and written for every model, the Feed
model's numbers in benchmarks/own_data.py), and the YAML comment lines that explain them."""

from __future__ import annotations

from collections import Counter
from typing import Sequence


# The dcnv2 training recipe (measured with benchmarks/own_data.py on MovieLens-100K, both
# splits, 3 seeds, against DeepCTR's DCN-V2 in the same run; numbers in its docstring):
# * embedding_l2: L2 of the embedding rows each batch looks up (model.embedding_l2,
#   `TouchedRowL2`): EMBEDDING_L2 x the batch mean of each id feature's squared norm. A row
#   seen in a fraction p of the examples gets 2 EMBEDDING_L2 p w per step, DeepCTR's full-table
#   1e-5 for rows of p ~ 1e-3.
# * early stopping: the score is val AUC - val log loss (FuxiCTR's default monitor), patience
#   2 epochs, the best epoch's weights kept: AUC alone kept training while log loss climbed
#   (per-user split: 3/3 runs at the old 10-epoch cap, test log loss 3.5% above their best
#   epoch's; with this recipe 3/3 stopped, 0.7% above; AUC -0.0008, log loss -0.014).
#   The price, on the same trajectories with the L2 on (3 seeds each): AUC alone would keep
#   +0.002 (per-user) / +0.003 (global) test AUC at +0.005 / +0.003 test log loss; set
#   training.monitor: auc to rank first and let calibration slip.
# * epochs: EPOCH_CAP, a safety net; runs stop early (the benchmark reports how each stopped).
# * mlp_batch_norm stays off: global split +0.004 AUC (3 seeds), per-user split -0.003 AUC
#   (2 seeds) and O/E 0.88 on one; dropout 0.2 instead of 0.1 and EMBEDDING_L2 0.03 moved
#   global AUC by less than its seed sd (0.7053, 0.7067 against 0.7060).
# * min-count vocabulary (features.ids[].min_count, issue 22): ids seen fewer than MIN_COUNT
#   times in the training files, and unseen ids, share one "rare" row. Rule: min_count
#   MIN_COUNT on every id and id-list column, except a column where the sample puts
#   MAX_RARE_SHARE or more of the id occurrences on the rare token (an id seen c times in a
#   sample of n of ~N occurrences is counted c N / n times): there min_count stays 0. The
#   exception guards against what the measurements below saw lose: a trained shared row many
#   training rows sit on (MAX_RARE_SHARE 10% lies between the ~1% that gained and the 20%
#   that lost 0.037; a guard, not a tuned value). On data sets far larger than the
#   5000-record sample it never fires (each sampled occurrence stands for >= MIN_COUNT).
#   Measured first by rewriting the Avro files (paired with the hashed baseline, seed for
#   seed): per-user split (no unseen users; ~1% of the training rows and 3.5% of the test
#   rows on the rare-item token), item_id + recent_item_ids at k=5: 0.7962 +- 0.0005 AUC,
#   0.5570 log loss against 0.7932 +- 0.0005, 0.5609 (3 seeds). Global split (~85% of the
#   test rows from unseen users, who land on the token): user_id + item_id + recent_item_ids
#   k=5 +0.0015 +- 0.0040 AUC, -0.0008 log loss (6 seeds): within noise; user_id k=1 -0.0002,
#   but user_id k=30 (143 users, 4% of the training rows) -0.007 and 20% of the training rows'
#   user_id on the token -0.037. The untouched init-config path with this rule (min_count 5
#   on all 9 ml-100k id columns, recent_item_ids counted on its own occurrences; 3 seeds,
#   paired with the path without it): per-user 0.7946 AUC, 0.5585 log loss (+0.0014 +- 0.0009
#   AUC, -0.0024 log loss), global 0.7077, 0.6241 (+0.0016 +- 0.0045 AUC, +0.0023 +- 0.0044
#   log loss: noise); benchmarks/own_data.py's docstring, dcnv2 rows.
# * plateau learning-rate halving after 1 epoch without gain (Adam 1e-3, AdaGrad 0.2 for the
#   rows: each id row gets few updates on ~1e5 records and AdaGrad's accumulators damp frequent
#   rows; batch 1024 / AdaGrad 0.05 lost ~0.007 test AUC on MovieLens-100K).
# * the embedding rows' optimizer (training.sparse_optimizer): AdaGrad 0.2, unless the
#   validation files are cold-start data: some id column has COLD_START_SHARE or more of the
#   validation records on an id the training files never hold (counted over all training
#   files, when they hold at most COLD_START_MAX_RECORDS records); then Adam at 1e-3, the
#   dense rate. Measured with the rows' optimizer swapped, everything else the recipe's
#   (before min_count), paired seed for seed: global split (user_id unseen in 85% of the
#   validation records) Adam 1e-3 0.7133 +- 0.0035 test AUC over 6 seeds against AdaGrad's
#   0.7062 +- 0.0066 (seeds 0-2: 0.7144 / 0.6153 log loss against 0.7060 / 0.6218, and
#   DeepCTR's 0.7119 / 0.6164), 3-4 epochs instead of 6; per-user split (0% unseen users,
#   0.4% unseen items) Adam 0.7858 +- 0.0017 against AdaGrad's 0.7932 (3 seeds; Adam 3e-3
#   0.7854 on seed 0). AdaGrad's large first steps on each row let the model lean on rows of
#   its own ids, which pays when the evaluated ids were trained and not when they are new.
#   The untouched path with min_count and this rule, global split, seeds 0-2: 0.7137 +- 0.0006
#   AUC, 0.6190 log loss, O/E 1.070 (against 0.7077 / 0.6241 / 1.004 with AdaGrad), 3 epochs;
#   seeds 10-12: 0.7094 AUC, 0.6245 log loss, O/E 1.082. It under-predicts on that split.
#   Why, found since: the global split's training files hold one record of a user seen < 5
#   times, so the shared rare row of user_id (85% of the test records) is trained on that one
#   record (label 0), and the model scores unseen users lower than seen ones (test: mean
#   prediction 0.49-0.55 unseen against 0.55-0.56 seen; their click rates 0.559 / 0.590).
#   Tried against it, dcnv2 seeds 0-2, paired with 0.7137: replacing 10% of the training
#   user_ids by the rare token (so that row learns an average user) 0.7041 AUC (O/E 1.01; the
#   unseen users' own AUC fell too, 0.696 -> 0.685), 1% 0.7110; recent_item_ids on the
#   item_id table 0.7103; no user_id column 0.6749 (seed 0). None kept; Platt scaling (below)
#   fixes the calibration instead.
# * Platt scaling (model.platt_scaling, `lirank_tf.training.platt`), with --valid files: each
#   head's logit gets a slope and bias fitted on the validation files after training (AUC
#   unchanged). Measured on the saved runs of this recipe (dcnv2, min_count, fitted on the
#   validation files, scored on the test files): MovieLens global split seeds 0-2 test log
#   loss 0.6157 / 0.6143 / 0.6269 -> 0.6127 / 0.6128 / 0.6135, O/E 1.070 / 1.014 / 1.125 ->
#   1.027 / 1.024 / 1.013 (slopes 0.76-0.81: the stopped model is over-confident on later
#   data); per-user seeds 0-1 0.5560 / 0.5633 -> 0.5485 / 0.5495, O/E 1.068 / 1.027 -> 0.999 /
#   0.997; Adult seed 0 0.2746 -> 0.2741, O/E 0.972 -> 0.998. A bias alone did less
#   (global 0.6131 / 0.6149 / 0.6175, per-user 0.5533 / 0.5628).
# Without --valid files there is nothing to stop on: EPOCHS_WITHOUT_VALIDATION fixed epochs
# (the runs with validation kept epoch 4 (global split) and 7 (per-user split) on average).
EMBEDDING_L2 = 0.01
EPOCH_CAP = 30
EPOCHS_WITHOUT_VALIDATION = 5
MIN_COUNT = 5
MAX_RARE_SHARE = 0.1
COLD_START_SHARE = 0.5
COLD_START_MAX_RECORDS = 2_000_000


def id_min_count(values: Sequence, total: int) -> int:
    """``min_count`` of an id (or id-list) column by the rule above: ``values`` are the
    column's sampled ids (a list's ids flattened), ``total`` the estimated number of them in
    the training files. MIN_COUNT, or 0 when the estimated share of occurrences on the rare
    token is MAX_RARE_SHARE or more (or the sample holds no id)."""
    if not values:
        return 0
    scale = max(1.0, total / len(values))
    rare = sum(count for count in Counter(values).values() if count * scale < MIN_COUNT)
    return MIN_COUNT if rare / len(values) < MAX_RARE_SHARE else 0


def cold_start_column(unseen: dict[str, float]) -> str:
    """The id column whose validation records most often hold an id the training files lack
    (``unseen``: {column: that share}), when the share is COLD_START_SHARE or more; else ""."""
    column = max(unseen, key=unseen.get, default="")
    return column if column and unseen[column] >= COLD_START_SHARE else ""


def dcnv2_training(has_validation: bool, cold_start: bool = False) -> dict:
    """The ``training`` block init-config writes (the recipe above, measured with dcnv2 and
    used for every model); ``cold_start``: the validation data is cold-start
    (`cold_start_column`), so the rows train with Adam."""
    rows = ({"sparse_optimizer": "adam", "sparse_learning_rate": 1e-3} if cold_start
            else {"sparse_optimizer": "adagrad", "sparse_learning_rate": 0.2})
    if not has_validation:
        return {"epochs": EPOCHS_WITHOUT_VALIDATION, "batch_size": 256, "learning_rate": 1e-3,
                **rows}
    return {"epochs": EPOCH_CAP, "batch_size": 256, "learning_rate": 1e-3, **rows,
            "early_stopping_patience": 2, "monitor": "auc_logloss", "reduce_lr_patience": 1}


def recipe_notes(config: dict) -> list[str]:
    """Comment lines of the written YAML saying how the config trains and stops."""
    training, model = config.get("training", {}), config["model"]
    if "epochs" not in training:
        return []
    lines = ["#", "# Training recipe:"]
    if training.get("early_stopping_patience"):
        lines.append(f"#   stops when val AUC - val log loss has not improved for "
                     f"{training['early_stopping_patience']} epochs and keeps the best epoch's "
                     f"weights; epochs: {training['epochs']} is a safety net")
    else:
        lines.append(f"#   no --valid files, nothing to stop on: {training['epochs']} epochs")
    if training.get("reduce_lr_patience"):
        lines.append(f"#   learning rates halved after {training['reduce_lr_patience']} epoch(s) "
                     "without gain")
    counted = [f["name"] for f in config["features"]["ids"] if f.get("min_count")]
    if counted:
        lines.append(f"#   features.ids[].min_count: ids seen fewer than {MIN_COUNT} times in the "
                     "training files (and unseen ids) share one row; on for "
                     f"{len(counted)} of {len(config['features']['ids'])} id columns (off where "
                     f"the sample puts >= {MAX_RARE_SHARE:.0%} of the ids on that row)")
    if training.get("sparse_optimizer") == "adam":
        lines.append(f"#   embedding rows trained with Adam {training['sparse_learning_rate']:g}, "
                     "not AdaGrad: the validation data is cold-start (see the column notes)")
    if model.get("embedding_l2"):
        lines.append(f"#   model.embedding_l2: {model['embedding_l2']} x the batch mean squared "
                     "norm of the embedding rows each batch looks up")
    if model.get("platt_scaling"):
        lines.append("#   model.platt_scaling: after training, a slope and bias on each head's "
                     "logit are fitted on the validation files (calibrated probabilities, "
                     "AUC unchanged)")
    return lines


def model_defaults(model: str) -> dict:
    """The model block init-config writes for ``model``. dcnv2: the standard CTR baseline,
    low-rank DCNv2 in parallel with an MLP. feed: the paper's Feed model as the ``feed``
    experiment builds it (Residual DCN, dense gating, sparse MoE, task grouping, isotonic
    calibration), without the parts that need columns init-config does not map (the history
    encoder: init-config writes no ``features.history``; calibration features), with the
    recipe's embedding-row L2. ads, jobs: their experiment defaults."""
    if model == "dcnv2":
        return {"name": "dcnv2", "hidden_units": [400, 400, 400], "tower_units": [],
                "interaction": "dcnv2", "cross_layers": 3, "cross_rank": 64, "dropout": 0.1,
                "multitask": "hard_sharing", "embedding_l2": EMBEDDING_L2}
    if model == "feed":
        from lirank_tf.config.experiments import experiment_dict
        return {**experiment_dict("feed")["model"], "history_encoder": False,
                "calibration_features": [], "embedding_l2": EMBEDDING_L2}
    return {"name": model}
