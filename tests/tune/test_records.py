"""What `lirank-tf tune` writes about its trials: trials.csv rows, the printed table, best.yaml."""

import csv

import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from lirank_tf.tune import records
from lirank_tf.tune.records import top_table, trial_line, write_best_config, write_trials_csv
from test_space import make_config

DISTRIBUTIONS = {"dropout": FloatDistribution(0.0, 0.5),
                 "batch_size": CategoricalDistribution([128, 256])}


def make_trials():
    """Four finished trials, numbered 0..3."""
    trials = [
        create_trial(state=TrialState.COMPLETE, value=0.71,
                     params={"dropout": 0.1, "batch_size": 256}, distributions=DISTRIBUTIONS,
                     user_attrs={"untouched": True, "epochs": 3, "best_epoch": 2, "seconds": 12.5,
                                 "val_auc": 0.76, "val_logloss": 0.05}),
        create_trial(state=TrialState.PRUNED, value=0.60,
                     params={"dropout": 0.4, "batch_size": 128}, distributions=DISTRIBUTIONS,
                     intermediate_values={1: 0.6},
                     user_attrs={"epochs": 1, "best_epoch": 1, "seconds": 4.0}),
        create_trial(state=TrialState.FAIL, params={"dropout": 0.2},
                     distributions={"dropout": DISTRIBUTIONS["dropout"]},
                     user_attrs={"retry_of": 0}),
        create_trial(state=TrialState.COMPLETE, value=0.74,
                     params={"dropout": 0.25, "batch_size": 128}, distributions=DISTRIBUTIONS,
                     user_attrs={"epochs": 5, "best_epoch": 4, "seconds": 20.0,
                                 "val_auc": 0.78, "val_logloss": 0.04}),
    ]
    for number, trial in enumerate(trials):
        trial.number = number
    return trials


def test_trials_csv_has_one_row_per_trial(tmp_path):
    trials = make_trials()
    path = write_trials_csv(tmp_path / "trials.csv", trials, ["dropout", "batch_size"])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["number", "state", "value", "dropout", "batch_size", "val_auc", "val_logloss", "epochs",
         "best_epoch", "seconds", "note"],
        ["0", "COMPLETE", "0.71", "0.1", "256", "0.76", "0.05", "3", "2", "12.5",
         "untouched config"],
        ["1", "PRUNED", "0.6", "0.4", "128", "", "", "1", "1", "4", ""],
        ["2", "FAIL", "", "0.2", "", "", "", "", "", "", "retry of 0"],
        ["3", "COMPLETE", "0.74", "0.25", "128", "0.78", "0.04", "5", "4", "20", ""],
    ]


def test_top_table_ranks_complete_trials():
    trials = make_trials()
    lines = top_table(trials, ["dropout", "batch_size"]).splitlines()
    assert [line.split()[:4] for line in lines] == [
        ["trial", "value", "val_auc", "val_logloss"], ["3", "0.7400", "0.7800", "0.0400"],
        ["0", "0.7100", "0.7600", "0.0500"]]
    assert trial_line(trials[1], ["dropout", "batch_size"]) == \
        "trial 1  PRUNED    0.6000  1 epoch  4s  dropout=0.4 batch_size=128"
    assert trial_line(trials[3], ["dropout"]) == \
        "trial 3  COMPLETE  0.7400  (val AUC 0.7800, val log loss 0.0400)  5 epochs  20s  dropout=0.25"


def test_best_yaml_is_the_config_under_a_header(tmp_path):
    trials = make_trials()
    config = make_config()
    path = write_best_config(tmp_path / "best.yaml", config, trials[3], tmp_path,
                             tmp_path / "trials" / "0003", trials[0], "mean val AUC - val log loss")
    text = path.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[1] == ("# trial 3: mean val AUC - val log loss 0.7400 (val AUC 0.7800, val log "
                         "loss 0.0400) at epoch 4 of 5")
    assert header[2] == "# the untouched config (trial 0): 0.7100; gain +0.0300"
    assert yaml.safe_load(text) == config.to_dict()


def test_doctests():
    import doctest
    assert doctest.testmod(records).failed == 0
