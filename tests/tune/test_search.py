"""`lirank-tf tune` end to end on the tiny run data: the study, trials.csv, best.yaml, resuming
after a kill, and the user errors."""

import csv
import json
import re

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from lirank_tf import cli
from lirank_tf.config import ExperimentConfig
from lirank_tf.tune.search import STUDY_NAME, open_study, study_path, trial_dir
from lirank_tf.tune.space import search_space
from test_space import make_config
from tiny_run import tiny_config

# the tiny config's searched values, read by hand (see test_space.READ_BACK)
READ_BACK = {
    "learning_rate": lambda c: c.training.learning_rate,
    "sparse_learning_rate": lambda c: c.training.sparse_learning_rate,
    "batch_size": lambda c: c.training.batch_size,
    "dropout": lambda c: c.model.dropout,
    "embedding_l2": lambda c: c.model.embedding_l2,
    "embedding_dim": lambda c: c.features.tables[0].dim,
    "cross_layers": lambda c: c.model.cross_layers,
    "cross_rank": lambda c: c.model.cross_rank,
    "early_stopping_patience": lambda c: c.training.early_stopping_patience,
}
SET = ["--set", "training.batch_size=200"]


def read_rows(out):
    with open(out / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def as_number(text):
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text else number


def tune(config_path, out, trials, *extra):
    return cli.main(["tune", "--config", str(config_path), "--output-dir", str(out),
                     "--trials", str(trials), *SET, *extra])


def test_tune_writes_the_study_and_resumes_after_a_kill(tmp_path, capsys):
    tiny_config(tmp_path)
    config_path, out = tmp_path / "run.yaml", tmp_path / "tune"
    assert tune(config_path, out, 2) == 0
    assert study_path(out).is_file()
    rows = read_rows(out)
    assert [row["number"] for row in rows] == ["0", "1"]
    # trial 0 is the config as given, --set included
    untouched = ExperimentConfig.load(config_path, ["training.batch_size=200"])
    assert {name: as_number(rows[0][name]) for name in READ_BACK} == \
        {name: read(untouched) for name, read in READ_BACK.items()}
    assert rows[0]["note"] == "untouched config" and rows[0]["state"] == "COMPLETE"

    # a search killed in the middle of a trial: RUNNING in the storage, a half-written run
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{study_path(out)}")
    crashed = study.ask()
    crashed_dropout = crashed.suggest_float("dropout", 0.0, 0.5)
    (trial_dir(out, crashed.number) / "checkpoints").mkdir(parents=True)
    capsys.readouterr()

    assert tune(config_path, out, 3) == 0
    printed = capsys.readouterr().out
    rows = read_rows(out)
    assert [(row["number"], row["state"]) for row in rows] == \
        [("0", "COMPLETE"), ("1", "COMPLETE"), ("2", "FAIL"), ("3", "COMPLETE")]
    assert rows[3]["note"] == f"retry of {crashed.number}"
    assert float(rows[3]["dropout"]) == crashed_dropout
    assert not trial_dir(out, 2).exists() and (trial_dir(out, 3) / "model.keras").is_file()
    assert re.findall(r"^trial (\d+) ", printed, re.MULTILINE) == ["3"]   # one more trial ran

    # best.yaml: a complete config holding the best COMPLETE trial's values
    complete = [row for row in rows if row["state"] == "COMPLETE"]
    best = max(complete, key=lambda row: float(row["value"]))
    best_config = ExperimentConfig.load(out / "best.yaml")
    assert {name: read(best_config) for name, read in READ_BACK.items()} == \
        {name: as_number(best[name]) for name in READ_BACK}
    assert best_config.training.verbose == untouched.training.verbose
    header = (out / "best.yaml").read_text().splitlines()[1]
    assert header.startswith(f"# trial {best['number']}: mean val AUC - val log loss "
                             f"{float(best['value']):.4f} (val AUC {float(best['val_auc']):.4f}, ")
    # each trial's value: the run's own score (val AUC - val log loss) at the epoch it kept,
    # the log loss after the run's Platt scaling (init-config turns it on)
    for row in complete:
        history = json.loads((trial_dir(out, int(row["number"])) / "history.json").read_text())
        fit = json.loads((trial_dir(out, int(row["number"])) / "run.json").read_text())[
            "calibration"]["clicked"]
        epoch = int(row["best_epoch"]) - 1
        logloss = fit["logloss_after"] if fit["converged"] else history["val_logloss"][epoch]
        assert float(row["value"]) == pytest.approx(history["val_auc"][epoch] - logloss,
                                                    abs=1e-12)
        assert float(row["val_auc"]) == pytest.approx(history["val_auc"][epoch], abs=1e-4)
    assert f"best: trial {best['number']} {float(best['value']):.4f}" in printed
    assert study.best_trial.number == int(best["number"])

    # the study holds 3 finished trials: nothing more to run
    assert tune(config_path, out, 3) == 0
    assert len(read_rows(out)) == 4

    # another config on the same study directory
    assert tune(config_path, out, 4, "--set", "model.dropout=0.3") == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "another config" in error and "model.dropout" in error
    assert len(read_rows(out)) == 4


def test_tune_needs_validation_data(tmp_path, capsys):
    tiny_config(tmp_path)
    out = tmp_path / "tune"
    assert tune(tmp_path / "run.yaml", out, 2, "--set", "data.valid=[]") == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "data.valid" in error
    assert not out.exists()


def test_trials_must_be_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["tune", "--config", str(tmp_path / "run.yaml"), "--output-dir",
                  str(tmp_path / "tune"), "--trials", "0"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--trials" in error and "positive integer" in error


def test_no_trial_starts_after_the_timeout(tmp_path, capsys):
    tiny_config(tmp_path)
    out = tmp_path / "tune"
    assert tune(tmp_path / "run.yaml", out, 5, "--timeout", "0.001") == 0
    assert [row["number"] for row in read_rows(out)] == ["0"]    # the one started before it
    with pytest.raises(SystemExit):
        tune(tmp_path / "run.yaml", out, 5, "--timeout", "0")
    assert "--timeout" in capsys.readouterr().err


def test_the_pruner_judges_an_epoch_only_against_three_other_trials(tmp_path):
    config = make_config()
    study = open_study(tmp_path / "tune", config, search_space(config), trials=10, seed=0)
    for curve in ({1: 0.70, 2: 0.72}, {1: 0.69, 2: 0.71}, {1: 0.71, 2: 0.73, 3: 0.74, 4: 0.75}):
        study.add_trial(create_trial(state=TrialState.COMPLETE, value=max(curve.values()),
                                     intermediate_values=curve))
    below = study.ask()
    below.report(0.60, 1)
    assert not below.should_prune()          # epoch 1 is never judged
    below.report(0.60, 2)
    assert below.should_prune()              # under the median (0.72) of 3 trials at epoch 2
    late = study.ask()
    late.report(0.70, 1)
    late.report(0.70, 4)
    assert not late.should_prune()           # one other trial reached epoch 4: no median
