"""`lirank-tf root-objects fit / update` and `lirank-tf export --root-object-table`: the RO
model of LiRank §3.9 from the command line, alone and with the Thompson signature (§3.8)."""

import shutil
from itertools import islice

import fastavro
import numpy as np
import yaml
import pytest
import tensorflow as tf
from explore_small_feed import served_draws, simulated_days, small_config
from ro_reference import logit, sigmoid

from lirank_tf.cli import main
from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.explore.run_posterior import load_run_explorer
from lirank_tf.data.records import records_to_request
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.serving.warmup import read_warmup_requests
from lirank_tf.workflow import train  # with the explore posterior hook
from lirank_tf.wide import RootObjectEffects
from lirank_tf.wide.export import NEW_ID_STREAM
from lirank_tf.workflow import load_run


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("ro_cli")
    manifest = simulated_days(root, impressions_per_day=600, num_members=120, posts_per_day=40,
                              seed=9)
    config = small_config(manifest["train"], explore={"enabled": True, "tasks": ["click"]})
    train(config, root / "run")
    table = root / "ro.tsv"
    assert main(["root-objects", "fit", "--run", str(root / "run"), "--data",
                 manifest["train"][1], "-o", str(table), "--l2", "2.0",
                 "--tasks", "like,click"]) == 0
    return root, manifest, table


def test_fit_defaults_come_from_the_run(fitted, tmp_path, capsys):
    """Without --tasks / --field: every task of the run, on its history's candidate field."""
    root, manifest, table = fitted
    config, _, _ = load_run(root / "run")
    assert config.features.history.candidate_field == "root_object_id"
    assert main(["root-objects", "fit", "--run", str(root / "run"), "--data",
                 manifest["train"][1], "-o", str(tmp_path / "all.tsv"), "--l2", "2.0"]) == 0
    every = RootObjectEffects.load(tmp_path / "all.tsv")
    assert every.tasks == [t.name for t in config.tasks] and len(every.tasks) > 2
    pair = RootObjectEffects.load(table)
    assert set(every.table) == set(pair.table)
    for root_id in list(pair.table)[:50]:   # each task's effect is fitted on its own
        np.testing.assert_allclose(every.table[root_id][[every.tasks.index("like"),
                                                         every.tasks.index("click")]],
                                   pair.table[root_id], atol=1e-6)
    no_history = tmp_path / "no_history"
    shutil.copytree(root / "run", no_history)
    text = yaml.safe_load((no_history / "config.yaml").read_text())
    text["features"]["history"] = None
    (no_history / "config.yaml").write_text(yaml.safe_dump(text))
    assert main(["root-objects", "fit", "--run", str(no_history), "--data",
                 manifest["train"][1], "-o", str(tmp_path / "none.tsv")]) == 2
    assert "names no root-object field" in capsys.readouterr().err


def test_fit_solves_the_penalised_likelihood_of_each_root_object(fitted):
    root, manifest, table = fitted
    effects = RootObjectEffects.load(table)
    assert effects.tasks == ["like", "click"] and effects.l2 == 2.0
    config, transform, model = load_run(root / "run")
    day = manifest["train"][1]
    with open(day, "rb") as handle:
        records = list(fastavro.reader(handle))
    ids = np.array([r["root_object_id"] for r in records])
    # the global predictions in file order, from the training input pipeline (not the CLI's)
    predicted = {t: [] for t in effects.tasks}
    for inputs, _ in training_dataset(config, [day], transform, shuffle=False, batch_size=97):
        outputs = model(inputs, training=False)
        for task in predicted:
            predicted[task].append(np.asarray(outputs[task], np.float64).reshape(-1))
    assert set(effects.table) == set(ids)
    for k, task in enumerate(effects.tasks):
        offset = logit(np.concatenate(predicted[task]))
        labels = np.array([r[task] for r in records], np.float64)
        b = np.array([effects.table[i][k] for i in ids])
        # stationarity of sum_i [l log s(o + b) + (1 - l) log(1 - s(o + b))] - l2/2 b^2 per id
        residual = labels - sigmoid(offset + b)
        for root_id in np.unique(ids)[:40]:
            rows = ids == root_id
            gradient = residual[rows].sum() - 2.0 * effects.table[root_id][k]
            assert abs(gradient) < 1e-4, (task, root_id, gradient)
    assert np.std([v[0] for v in effects.table.values()]) > 0.05


def request_of(manifest, config, count=12):
    with open(manifest["test"][0], "rb") as handle:
        records = list(islice(fastavro.reader(handle), count))
    request = {k: tf.constant(v) for k, v in records_to_request(records, raw_fields(config)).items()}
    return records, request


def test_export_adds_the_effects_to_every_signature_and_update_swaps_them(fitted, capsys):
    root, manifest, table = fitted
    target = root / "export"
    assert main(["export", "--run", str(root / "run"), "--output-dir", str(target),
                 "--root-object-table", str(table)]) == 0
    out = capsys.readouterr().out
    assert "root-object effects from" in out
    warmup = len(read_warmup_requests(target))
    assert warmup > 0 and (f"checked as TF Serving loads it: every variable restored in a TF1 "
                           f"session, {warmup} warm-up requests replayed") in out
    config, transform, model = load_run(root / "run")
    records, request = request_of(manifest, config)
    ids = [r["root_object_id"] for r in records]
    effects = RootObjectEffects.load(table)
    global_p = model(transform(request), training=False)
    explorer = load_run_explorer(root / "run", model, config)
    loaded = tf.saved_model.load(str(target))
    served = loaded.signatures["serving_default"](**request)
    explored = loaded.signatures["serve_explore"](**request, seed=tf.constant(3, tf.int64))
    sampled = explorer.probabilities(transform(request), served_draws(explorer, 3))
    for k, task in enumerate(effects.tasks):
        b = np.array([effects.table.get(i, np.zeros(2))[k] for i in ids])
        expected = sigmoid(logit(np.asarray(global_p[task], np.float64).reshape(-1)) + b)
        np.testing.assert_allclose(served[task].numpy(), expected, rtol=1e-4, atol=1e-6)
        expected = sigmoid(logit(sampled[task].numpy().astype(np.float64)) + b)
        np.testing.assert_allclose(explored[task].numpy(), expected, rtol=1e-4, atol=1e-6)
    assert any(i in effects.table for i in ids)

    # a new table (every effect +1 on like) replaces the asset; the variables are untouched
    shifted = RootObjectEffects.load(table)
    shifted.table = {i: v + np.array([1.0, 0.0]) for i, v in shifted.table.items()}
    shifted.save(root / "shifted.tsv")
    variables = (target / "variables" / "variables.data-00000-of-00001").read_bytes()
    assert main(["root-objects", "update", "--export", str(target), "--table",
                 str(root / "shifted.tsv")]) == 0
    assert (target / "variables" / "variables.data-00000-of-00001").read_bytes() == variables
    updated = tf.saved_model.load(str(target)).signatures["serving_default"](**request)
    known = np.array([i in effects.table for i in ids])
    gap = logit(updated["like"].numpy().astype(np.float64)) - logit(
        served["like"].numpy().astype(np.float64))
    np.testing.assert_allclose(gap[known], 1.0, atol=1e-3)
    np.testing.assert_allclose(gap[~known], 0.0, atol=1e-6)


def test_command_errors_name_the_problem(fitted, tmp_path, capsys):
    root, manifest, table = fitted
    assert main(["root-objects", "fit", "--run", str(root / "run"), "--data",
                 manifest["train"][1], "-o", str(table)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["root-objects", "fit", "--run", str(root / "run"), "--data",
                 manifest["train"][1], "-o", str(tmp_path / "t.tsv"), "--tasks", "dwell"]) == 2
    assert "root-object tasks ['dwell'] are not tasks" in capsys.readouterr().err
    assert main(["export", "--run", str(root / "run"), "--output-dir", str(tmp_path / "e"),
                 "--root-object-table", str(tmp_path / "missing.tsv")]) == 2
    assert "no root-object table at" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
    # carry-over: the prior of a refit is centred at 0.5 x the previous effect
    assert main(["root-objects", "fit", "--run", str(root / "run"), "--data",
                 manifest["train"][1], "-o", str(tmp_path / "next.tsv"), "--previous",
                 str(table), "--carry-over", "0.5", "--l2", "1e6"]) == 0
    previous, carried = RootObjectEffects.load(table), RootObjectEffects.load(tmp_path / "next.tsv")
    for root_id in list(previous.table)[:20]:      # a huge l2 pins each effect to its prior mean
        np.testing.assert_allclose(carried.table[root_id], 0.5 * previous.table[root_id],
                                   atol=1e-3)


def test_serve_explore_draws_new_root_objects_from_the_prior(fitted, tmp_path, capsys):
    root, manifest, table = fitted
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    config = ExperimentConfig.load(run / "config.yaml")
    config.explore.root_object_scale = 0.7
    config.save(run / "config.yaml")
    target = tmp_path / "export"
    assert main(["export", "--run", str(run), "--output-dir", str(target),
                 "--root-object-table", str(table), "--skip-serving-check"]) == 0
    out = capsys.readouterr().out
    assert "new root objects drawn from the RO prior x 0.7" in out and "checked as" not in out
    config, transform, model = load_run(run)
    effects = RootObjectEffects.load(table)          # l2 = 2: prior std 1 / sqrt(2)
    records, _ = request_of(manifest, config, count=400)
    for i, record in enumerate(records[200:]):       # ids no fit has seen
        record["root_object_id"] = f"post:unseen{i}"
    request = {k: tf.constant(v) for k, v in records_to_request(records, raw_fields(config)).items()}
    ids = [r["root_object_id"] for r in records]
    known = np.array([i in effects.table for i in ids])
    assert known[:200].any() and not known[200:].any()
    explorer = load_run_explorer(run, model, config)
    sampled = explorer.probabilities(transform(request), served_draws(explorer, 3))
    loaded = tf.saved_model.load(str(target))
    explored = loaded.signatures["serve_explore"](**request, seed=tf.constant(3, tf.int64))
    noise = tf.random.stateless_normal([len(ids), 2], seed=[3, NEW_ID_STREAM]).numpy()
    implied = {}
    for k, task in enumerate(effects.tasks):
        b = np.array([effects.table.get(i, np.zeros(2))[k] for i in ids])
        b = np.where(known, b, 0.7 / np.sqrt(2.0) * noise[:, k])
        expected = sigmoid(logit(sampled[task].numpy().astype(np.float64)) + b)
        np.testing.assert_allclose(explored[task].numpy(), expected, rtol=1e-4, atol=1e-6)
        implied[task] = (logit(explored[task].numpy().astype(np.float64))
                         - logit(sampled[task].numpy().astype(np.float64)))[~known]
    # the new ids' effects: independent N(0, (0.7 / sqrt(2))^2) across candidates and tasks
    draws = np.concatenate(list(implied.values()))
    assert abs(draws.mean()) < 0.12 and 0.40 < draws.std() < 0.59
    assert abs(np.corrcoef(implied["like"], implied["click"])[0, 1]) < 0.25
    again = loaded.signatures["serve_explore"](**request, seed=tf.constant(3, tf.int64))
    other = loaded.signatures["serve_explore"](**request, seed=tf.constant(4, tf.int64))
    np.testing.assert_array_equal(again["like"].numpy(), explored["like"].numpy())
    assert not np.allclose(other["like"].numpy()[~known], explored["like"].numpy()[~known])
    # the exploit signature leaves new ids at b = 0
    served = loaded.signatures["serving_default"](**request)
    global_p = model(transform(request), training=False)
    np.testing.assert_allclose(served["like"].numpy()[~known],
                               np.asarray(global_p["like"]).reshape(-1)[~known], rtol=1e-4)

    # the draws were exported with l2 = 2: a table of another prior is refused, the asset kept
    asset = (target / "assets" / "root_object_effects.tsv").read_bytes()
    other_prior = RootObjectEffects.load(table)
    other_prior.l2 = 5.0
    other_prior.save(tmp_path / "l2_5.tsv")
    assert main(["root-objects", "update", "--export", str(target), "--table",
                 str(tmp_path / "l2_5.tsv")]) == 2
    assert "new root objects from the prior of l2 = 2.0" in capsys.readouterr().err
    assert (target / "assets" / "root_object_effects.tsv").read_bytes() == asset
