"""End to end on simulated Feed data: train briefly, evaluate against the oracle, export, and score
the export in a fresh Python process that imports only TensorFlow."""

import json
import subprocess
import sys
import textwrap
from itertools import islice

import fastavro
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation.evaluate import evaluate
from lirank_tf.serving import export_serving_model
from lirank_tf.data.records import records_to_examples, records_to_request
from lirank_tf.training.trainer import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    manifest = simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=5, impressions_per_day=4000, num_members=800, posts_per_day=400, seed=11))
    config = get_experiment("feed", {
        "data": {"train": manifest["train"], "valid": manifest["valid"], "test": manifest["test"]},
        "training": {"epochs": 3, "batch_size": 256, "verbose": 0, "learning_rate": 3e-3},
    })
    result = train(config, root / "run")
    return config, manifest, result


def test_validation_auc_is_above_chance_and_below_the_oracle(trained):
    config, manifest, result = trained
    metrics = evaluate(result.model, result.transform, config, manifest["valid"])
    for task in ("click", "like"):
        assert 0.6 < metrics[task]["auc"] < metrics[task]["oracle_auc"], (task, metrics[task])
    assert 0.5 < metrics["click"]["oe_ratio"] < 2.0


def test_run_directory_holds_config_statistics_checkpoints_and_history(trained):
    _, _, result = trained
    run = result.run
    assert run.config_path.exists() and run.statistics_path.exists() and run.model_path.exists()
    assert sorted(p.name for p in run.checkpoint_dir.iterdir())[-1] == "epoch_003.weights.h5"
    history = json.loads(run.history_path.read_text())
    assert history["loss"][-1] < history["loss"][0]


def test_export_scores_equal_keras_model_in_a_fresh_tensorflow_only_process(trained, tmp_path):
    config, manifest, result = trained
    export_dir = export_serving_model(config, result.transform, result.model, tmp_path / "export")
    with open(manifest["test"][0], "rb") as handle:
        records = list(islice(fastavro.reader(handle), 64))
    records[0]["history_item_ids"], records[0]["history_action_types"] = [], []  # empty history
    records[1]["actor_follower_count"] = None                                       # missing value
    request = records_to_request(records, raw_fields(config))
    np.savez(tmp_path / "request.npz", **request)

    # the in-process reference: transformation model + Keras ranking model
    inputs = result.transform({k: tf.constant(v) for k, v in request.items()})
    outputs = result.model(inputs, training=False)
    expected = {t.name: np.asarray(outputs[t.name]).reshape(-1) for t in config.tasks}
    expected["score"] = sum(t.score_weight * expected[t.name] for t in config.tasks)

    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({str(export_dir)!r})
        request = dict(np.load({str(tmp_path / 'request.npz')!r}, allow_pickle=True))
        out = loaded.signatures["serving_default"](**{{k: tf.constant(v) for k, v in request.items()}})
        np.savez({str(tmp_path / 'scores.npz')!r}, **{{k: v.numpy() for k, v in out.items()}})
        print("modules", sorted(m for m in sys.modules if m.startswith("lirank")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "modules []" in done.stdout
    scores = np.load(tmp_path / "scores.npz")
    for name, values in expected.items():
        np.testing.assert_allclose(scores[name], values, rtol=1e-5, atol=1e-6, err_msg=name)

    # the tf.Example signature gives the same scores
    loaded = tf.saved_model.load(str(export_dir))
    examples = records_to_examples(records, raw_fields(config))
    out = loaded.signatures["serve_examples"](examples=tf.constant(examples))
    np.testing.assert_allclose(out["score"].numpy(), expected["score"], rtol=1e-5, atol=1e-6)
