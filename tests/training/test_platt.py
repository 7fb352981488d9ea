"""Platt scaling after training (model.platt_scaling): the fit against the optimality
conditions of the log loss and a known generating model, its refusals, and a trained run whose
saved model is calibrated on its validation files."""

import json

import numpy as np
import pytest

from lirank_tf import workflow
from lirank_tf.cli import main
from lirank_tf.data.files import expand_globs
from lirank_tf.evaluation.evaluate import predict_files
from lirank_tf.training import platt
from lirank_tf.training.platt import fit_platt
from tiny_run import tiny_config


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_fit_recovers_the_generating_slope_and_bias():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=1.5, size=200_000)
    labels = (rng.random(logits.size) < sigmoid(0.7 * logits + 0.3)).astype(float)
    fit = fit_platt(logits, labels)
    assert fit["converged"] and fit["reason"] == "" and fit["records"] == logits.size
    assert fit["slope"] == pytest.approx(0.7, abs=0.02)
    assert fit["bias"] == pytest.approx(0.3, abs=0.02)
    # the optimum of the log loss: its two partial derivatives vanish, so the mean
    # probability equals the label rate (O/E = 1) and the residuals are orthogonal to z
    calibrated = sigmoid(fit["slope"] * logits + fit["bias"])
    assert calibrated.mean() == pytest.approx(labels.mean(), abs=1e-9)
    assert np.mean((calibrated - labels) * logits) == pytest.approx(0.0, abs=1e-9)
    by_hand = -np.mean(labels * np.log(calibrated) + (1 - labels) * np.log(1 - calibrated))
    assert fit["logloss_after"] == pytest.approx(by_hand, rel=1e-12)
    assert fit["logloss_after"] < fit["logloss_before"]


@pytest.mark.parametrize("logits, labels, reason", [
    ([0.1, 0.5, 2.0], [1, 1, 1], "every label is 1"),
    ([], [], "no records"),
    ([0.0, np.nan], [0, 1], "non-finite logits"),
    # the head ranks backwards: a negative slope would invert the scores
    (np.linspace(-2, 2, 200), (np.linspace(-2, 2, 200) < 0).astype(float), "slope"),
])
def test_a_fit_that_cannot_help_leaves_the_identity_and_says_why(logits, labels, reason):
    fit = fit_platt(np.asarray(logits, float), np.asarray(labels, float))
    assert (fit["slope"], fit["bias"], fit["converged"]) == (1.0, 0.0, False)
    assert reason in fit["reason"]
    json.dumps(fit, allow_nan=False)      # the record goes into run.json: strict JSON


def test_logits_and_labels_of_other_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        fit_platt(np.zeros(3), np.zeros(4))


def test_a_trained_run_is_calibrated_on_its_validation_files(tmp_path, capsys):
    config = tiny_config(tmp_path)
    config = config.replace(model=config.model.replace(platt_scaling=True),
                            training=config.training.replace(epochs=2))
    config.save(tmp_path / "run.yaml")
    assert main(["train", "--config", str(tmp_path / "run.yaml"), "--output-dir",
                 str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    record = json.loads((tmp_path / "run" / "run.json").read_text())["calibration"]["clicked"]
    assert record["converged"] and record["records"] == 100
    assert (f"Platt scaling (clicked), fitted on 100 validation records: slope "
            f"{record['slope']:.3f}") in printed

    # the saved model scores the validation files with the fitted numbers: O/E = 1 there,
    # and its log loss is the fit's
    _, transform, model = workflow.load_run(tmp_path / "run")
    predictions, labels = predict_files(model, transform, config,
                                        expand_globs(config.data.valid))
    p, y = predictions["clicked"].astype(np.float64), labels["clicked"]
    assert p.mean() == pytest.approx(y.mean(), abs=1e-5)
    logloss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert logloss == pytest.approx(record["logloss_after"], abs=1e-5)
    layer = model.get_layer("clicked_platt")
    assert [float(w) for w in layer.get_weights()] == \
        pytest.approx([record["slope"], record["bias"]], rel=1e-6)
    # the logits before the layer, times the slope, plus the bias, give the probabilities
    logits, _ = platt.validation_logits(model, workflow_validation(config, transform),
                                        ["clicked"])
    np.testing.assert_allclose(sigmoid(record["slope"] * logits["clicked"] + record["bias"]),
                               p, rtol=1e-5)


def workflow_validation(config, transform):
    from lirank_tf.training.pipeline import training_dataset
    return training_dataset(config, expand_globs(config.data.valid), transform, shuffle=False)


def test_without_validation_files_the_layer_stays_the_identity(tmp_path):
    config = tiny_config(tmp_path)
    config = config.replace(model=config.model.replace(platt_scaling=True),
                            data=config.data.replace(valid=[]),
                            training=config.training.replace(early_stopping_patience=0,
                                                             reduce_lr_patience=0))
    result = workflow.train(config, tmp_path / "run")
    assert result.calibration["clicked"]["reason"] == "no validation files (data.valid)"
    assert [float(w) for w in result.model.get_layer("clicked_platt").get_weights()] == [1.0, 0.0]


def test_doctests():
    import doctest
    assert doctest.testmod(platt).failed == 0
