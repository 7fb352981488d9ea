"""The training recipe `lirank-tf init-config` writes: the dcnv2 model block and its
``training`` block (what it is and how it was measured, below), and the YAML comment lines
that explain it."""

from __future__ import annotations


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
# * ids stay hashed, without a min-count vocabulary (issue 22). Measured by rewriting the
#   Avro files (ids seen < k times in training -> one shared token, in every split), paired
#   with the hashed baseline seed for seed. Global split (~85% of the test rows from unseen
#   users, who land on the token): user_id k=1 -0.0002 AUC, user_id + item_id +
#   recent_item_ids k=1 -0.0001 (3 seeds), k=5 +0.0015 +- 0.0040 AUC and -0.0008 log loss
#   (6 seeds: 0.7077 +- 0.0033 against 0.7062 +- 0.0066): within noise. A *trained* shared
#   "new user" row lost: user_id k=30 (143 users, 4% of the training rows) -0.007, 20% of
#   the training rows' user_id on the token -0.037, no user_id at all -0.028. Per-user split
#   (no unseen users; ~1% of the training rows and 3.5% of the test rows on the rare-item
#   token), k=5: 0.7962 +- 0.0005 AUC, 0.5570 +- 0.0038 log loss against 0.7932 +- 0.0005,
#   0.5609 (3 seeds): a gain from the rare-item row, not from unseen users.
# * plateau learning-rate halving after 1 epoch without gain (Adam 1e-3, AdaGrad 0.2 for the
#   rows: each id row gets few updates on ~1e5 records and AdaGrad's accumulators damp frequent
#   rows; batch 1024 / AdaGrad 0.05 lost ~0.007 test AUC on MovieLens-100K).
# Without --valid files there is nothing to stop on: EPOCHS_WITHOUT_VALIDATION fixed epochs
# (the runs with validation kept epoch 4 (global split) and 7 (per-user split) on average).
EMBEDDING_L2 = 0.01
EPOCH_CAP = 30
EPOCHS_WITHOUT_VALIDATION = 5


def dcnv2_training(has_validation: bool) -> dict:
    """The ``training`` block of a dcnv2 config (the recipe above)."""
    if not has_validation:
        return {"epochs": EPOCHS_WITHOUT_VALIDATION, "batch_size": 256, "learning_rate": 1e-3,
                "sparse_learning_rate": 0.2}
    return {"epochs": EPOCH_CAP, "batch_size": 256, "learning_rate": 1e-3,
            "sparse_learning_rate": 0.2, "early_stopping_patience": 2,
            "monitor": "auc_logloss", "reduce_lr_patience": 1}


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
    if model.get("embedding_l2"):
        lines.append(f"#   model.embedding_l2: {model['embedding_l2']} x the batch mean squared "
                     "norm of the embedding rows each batch looks up")
    return lines


def model_defaults(model: str) -> dict:
    if model == "dcnv2":
        # the standard CTR baseline: low-rank DCNv2 in parallel with an MLP
        return {"name": "dcnv2", "hidden_units": [400, 400, 400], "tower_units": [],
                "interaction": "dcnv2", "cross_layers": 3, "cross_rank": 64, "dropout": 0.1,
                "multitask": "hard_sharing", "embedding_l2": EMBEDDING_L2}
    return {"name": model}
