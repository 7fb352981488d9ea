"""The Neural-Linear posterior of a training run (LiRank §3.8): updated at the end of every
training, carried over by incremental runs, exported as ``serve_explore``, from the CLI."""

import json
from itertools import islice

import fastavro
import numpy as np
import pytest
import tensorflow as tf
from explore_small_feed import served_draws, simulated_days, small_config

from lirank_tf.cli import main
from lirank_tf.config import ConfigError
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.explore.run_posterior import METADATA_FILE, load_run_explorer, posterior_dir
from lirank_tf.incremental import train_incremental
from lirank_tf.data.records import records_to_request
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.workflow import train  # with the explore posterior hook
from lirank_tf.workflow import load_run

EXPLORE = {"enabled": True, "tasks": ["click", "like"], "prior_variance": 0.5, "decay": 0.25,
           "exploration_scale": 1.5}


def day_config(files, explore=EXPLORE, **model):
    return small_config(files, model, explore=explore)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("run_posterior")
    manifest = simulated_days(root, impressions_per_day=500, num_members=150, posts_per_day=60,
                              seed=12)
    days = manifest["train"]
    train(day_config(days[:1]), root / "day0")
    train_incremental(day_config(days[1:2]), root / "day1", root / "day0", cold_weight=0.0,
                      forgetting_factor=0.0, save_fisher=False)
    return root, manifest


def evidence(run_dir, task):
    """sum_i p_i (1 - p_i) z_i z_i^T over the run's training data, at its trained weights, and
    the number of examples (NumPy, from the last hidden layer of the saved model)."""
    config, transform, model = load_run(run_dir)
    explorer = load_run_explorer(run_dir, model, config)
    data = training_dataset(config, config.data.train, transform, shuffle=False, batch_size=100)
    z = np.concatenate([explorer.representations(x)[0][task].numpy() for x, _ in data])
    z = z.astype(np.float64)
    p = 1 / (1 + np.exp(-z @ explorer.trained_weights(task)))
    return z.T @ ((p * (1 - p))[:, None] * z), len(z), explorer


def test_a_run_ends_with_the_closed_form_posterior_of_its_data(runs):
    root, _ = runs
    metadata = json.loads((posterior_dir(root / "day0") / METADATA_FILE).read_text())
    assert metadata["tasks"] == ["click", "like"] and metadata["previous_run"] is None
    for task in ("click", "like"):
        information, count, explorer = evidence(root / "day0", task)
        posterior = explorer.posteriors[task]
        expected = np.eye(len(information)) / 0.5 + information
        np.testing.assert_allclose(posterior.precision, expected, rtol=1e-5, atol=1e-6)
        assert posterior.num_observations == count == metadata["examples"] == 500


def test_an_incremental_run_carries_the_previous_posterior_over(runs):
    root, _ = runs
    metadata = json.loads((posterior_dir(root / "day1") / METADATA_FILE).read_text())
    assert metadata["previous_run"] == str((root / "day0").resolve()) and metadata["decay"] == 0.25
    config, _, model = load_run(root / "day0")
    before = load_run_explorer(root / "day0", model, config).posteriors["click"].precision
    information, _, explorer = evidence(root / "day1", "click")
    base = np.eye(len(information)) / 0.5
    expected = base + 0.25 * (before - base) + information
    np.testing.assert_allclose(explorer.posteriors["click"].precision, expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_the_export_serves_thompson_draws_of_the_run_posterior(runs, quantize, capsys):
    root, manifest = runs
    target = root / f"export_{quantize}"
    assert main(["export", "--run", str(root / "day1"), "--output-dir", str(target),
                 "--quantize", quantize]) == 0
    assert "serve_explore (Thompson sampling)" in capsys.readouterr().out
    loaded = tf.saved_model.load(str(target))
    assert {"serving_default", "serve_examples", "serve_explore"} <= set(loaded.signatures)
    config, transform, model = load_run(root / "day1")
    explorer = load_run_explorer(root / "day1", model, config)
    with open(manifest["test"][0], "rb") as handle:
        records = list(islice(fastavro.reader(handle), 12))
    request = {k: tf.constant(v) for k, v in records_to_request(records, raw_fields(config)).items()}
    served = loaded.signatures["serve_explore"](**request, seed=tf.constant(9, tf.int64))
    expected = explorer.probabilities(transform(request), served_draws(explorer, 9, 1.5))
    # int8 tables change the embeddings by at most half a quantization step per value
    tolerance = dict(rtol=1e-5, atol=1e-6) if quantize == "none" else dict(rtol=0, atol=2e-2)
    for task in config.tasks:
        np.testing.assert_allclose(served[task.name].numpy(), expected[task.name].numpy(),
                                   err_msg=task.name, **tolerance)


def test_cli_explore_computes_the_posterior_of_a_run_trained_without_it(runs, tmp_path, capsys):
    root, manifest = runs
    plain = tmp_path / "plain"
    train(day_config(manifest["train"][:1], explore={"tasks": ["click"]}), plain)
    assert not posterior_dir(plain).exists()
    assert main(["explore", "--run", str(plain), "--previous", str(plain)]) == 2
    assert "has no posterior" in capsys.readouterr().err
    assert main(["explore", "--run", str(plain)]) == 0
    assert "posterior of click over 500 examples" in capsys.readouterr().out
    information, _, explorer = evidence(plain, "click")
    np.testing.assert_allclose(explorer.posteriors["click"].precision,
                               np.eye(len(information)) + information, rtol=1e-5, atol=1e-6)


def test_explore_settings_fail_early_with_the_reason(runs, tmp_path):
    root, manifest = runs
    with pytest.raises(ConfigError, match=r"explore.tasks: \['dwell'\] are not tasks"):
        day_config([], explore={"enabled": True, "tasks": ["dwell"]})
    with pytest.raises(ConfigError, match="explore.decay: expected a number in"):
        day_config([], explore={"decay": 2.0})
    with pytest.raises(ConfigError, match="explore.root_object_scale: expected a number >= 0"):
        day_config([], explore={"root_object_scale": -0.5})
    with pytest.raises(ValueError, match="Neural-Linear needs exactly one GroupedTaskHeads"):
        train(day_config(manifest["train"][:1], multitask="mmoe"), tmp_path / "mmoe")
    assert not (tmp_path / "mmoe" / "model.keras").exists()
