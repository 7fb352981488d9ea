"""Pruning and scoring of `lirank-tf tune` trials: each epoch's validation score (the run's
``training.monitor``) goes to the trial, a trial the pruner gives up on stops after that epoch
(its run directory kept, marked failed), and a finished trial is scored at the epoch its
weights come from."""

import json

import pytest
from optuna.trial import TrialState

from lirank_tf.config import ExperimentConfig
from lirank_tf.tune.pruning import PruningCallback, mean_validation_auc, trial_score
from lirank_tf.tune.trial import kept_epoch, train_trial
from tiny_run import tiny_config


class FakeTrial:
    """Records the reports; asks to prune once ``prune_after`` epochs have been reported."""

    def __init__(self, prune_after=None):
        self.prune_after, self.reports = prune_after, []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.prune_after is not None and len(self.reports) >= self.prune_after


def two_task_config(root, epochs, monitor="", platt_scaling=False):
    """The tiny run with two heads on the label (two val AUCs to average), no early stopping."""
    config = tiny_config(root)
    data = config.to_dict()
    data["model"]["platt_scaling"] = platt_scaling
    data["tasks"] = [{"name": "clicked", "label": "clicked"},
                     {"name": "clicked_again", "label": "clicked"}]
    data["training"].update(epochs=epochs, early_stopping_patience=0, reduce_lr_patience=0,
                            monitor=monitor)
    return ExperimentConfig.from_dict(data)


def mean_score(history, epoch):
    """By hand: the mean over the two tasks of val AUC - val log loss at 0-based ``epoch``."""
    return sum(history[f"val_{task}_auc"][epoch] - history[f"val_{task}_logloss"][epoch]
               for task in ("clicked", "clicked_again")) / 2


def test_a_pruned_trial_stops_after_the_epoch_it_was_pruned_at(tmp_path):
    config = two_task_config(tmp_path, epochs=3)
    trial = FakeTrial(prune_after=2)
    run_dir = tmp_path / "trial"
    outcome = train_trial(trial, config, run_dir)

    assert outcome.state == TrialState.PRUNED
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 2 == outcome.epochs            # epoch 3 never ran
    scores = [mean_score(history, epoch) for epoch in range(2)]
    assert [step for step, _ in trial.reports] == [1, 2]
    assert [value for _, value in trial.reports] == pytest.approx(scores, abs=1e-12)
    assert outcome.value == pytest.approx(scores[-1], abs=1e-12)
    auc = (history["val_clicked_auc"][1] + history["val_clicked_again_auc"][1]) / 2
    assert outcome.val_auc == pytest.approx(auc, abs=1e-12)
    state = json.loads((run_dir / "run.json").read_text())
    assert state["state"] == "failed" and state["error"].startswith("TrialPruned")
    assert not (run_dir / "model.keras").exists()


def test_an_unpruned_trial_completes_with_its_last_epoch(tmp_path):
    config = two_task_config(tmp_path, epochs=2)
    trial = FakeTrial()
    outcome = train_trial(trial, config, tmp_path / "trial")
    history = json.loads((tmp_path / "trial" / "history.json").read_text())
    assert outcome.state == TrialState.COMPLETE and outcome.epochs == 2 == outcome.best_epoch
    assert outcome.value == pytest.approx(mean_score(history, 1), abs=1e-12)
    logloss = (history["val_clicked_logloss"][1] + history["val_clicked_again_logloss"][1]) / 2
    assert outcome.val_logloss == pytest.approx(logloss, abs=1e-12)
    assert len(trial.reports) == 2


def test_with_platt_scaling_the_log_loss_is_the_calibrated_models(tmp_path):
    config = two_task_config(tmp_path, epochs=2, platt_scaling=True)
    outcome = train_trial(FakeTrial(), config, tmp_path / "trial")
    history = json.loads((tmp_path / "trial" / "history.json").read_text())
    fits = json.loads((tmp_path / "trial" / "run.json").read_text())["calibration"]
    tasks = ("clicked", "clicked_again")
    # a fit that did not converge (a head at chance on the tiny data) keeps the run's own
    assert any(fits[task]["converged"] for task in tasks)
    after = sum(fits[task]["logloss_after"] if fits[task]["converged"]
                else history[f"val_{task}_logloss"][1] for task in tasks) / 2
    before = sum(history[f"val_{task}_logloss"][1] for task in tasks) / 2
    auc = sum(history[f"val_{task}_auc"][1] for task in tasks) / 2
    assert after < before
    assert outcome.val_logloss == pytest.approx(after, abs=1e-12)
    assert outcome.value == pytest.approx(auc - after, abs=1e-12)


def test_a_trial_of_an_auc_monitor_is_scored_by_auc(tmp_path):
    config = two_task_config(tmp_path, epochs=2, monitor="auc")
    trial = FakeTrial()
    outcome = train_trial(trial, config, tmp_path / "trial")
    history = json.loads((tmp_path / "trial" / "history.json").read_text())
    aucs = [(a + b) / 2 for a, b in zip(history["val_clicked_auc"],
                                        history["val_clicked_again_auc"])]
    assert [value for _, value in trial.reports] == pytest.approx(aucs, abs=1e-12)
    assert outcome.value == pytest.approx(aucs[-1], abs=1e-12) == outcome.val_auc


def test_objective_is_the_score_of_the_restored_epoch():
    history = {"loss": [0.7, 0.6, 0.6], "val_a_auc": [0.60, 0.70, 0.72],
               "val_b_auc": [0.50, 0.66, 0.70], "val_a_logloss": [0.6, 0.5, 0.7],
               "val_b_logloss": [0.7, 0.6, 0.9]}
    stopping = {"best_epoch": 2, "best_metrics": {"val_a_auc": 0.70, "val_b_auc": 0.66,
                                                  "val_a_logloss": 0.5, "val_b_logloss": 0.6}}
    score = trial_score("", ["a", "b"])
    kept = kept_epoch(history, stopping, score)
    assert (kept.epoch, kept.auc, kept.logloss) == (2, pytest.approx(0.68), pytest.approx(0.55))
    assert kept.value == pytest.approx(0.68 - 0.55)
    last = kept_epoch(history, None, score)
    assert last.epoch == 3 and last.value == pytest.approx(0.71 - 0.8)
    # the AUC monitor ranks the last epoch above the restored one; the default does not
    assert kept_epoch(history, None, trial_score("auc", ["a", "b"])).value > \
        kept_epoch(history, stopping, trial_score("auc", ["a", "b"])).value
    assert last.value < kept.value


def test_callback_needs_validation_metrics():
    with pytest.raises(ValueError, match="data.valid"):
        PruningCallback(FakeTrial(), trial_score("", ["click"])).on_epoch_end(
            0, {"loss": 0.5, "auc": 0.6})
    with pytest.raises(ValueError, match="tasks"):
        trial_score("", [])
    assert mean_validation_auc({"val_a_auc": 0.5, "val_b_auc": 0.7, "val_auc": 0.1},
                               ["a", "b"]) == pytest.approx(0.6)


def test_doctests():
    import doctest

    from lirank_tf.tune import pruning, trial
    assert doctest.testmod(pruning).failed == 0
    assert doctest.testmod(trial).failed == 0
