"""`lirank-tf evaluate` / `workflow.evaluate_run` report the replay metric (LiRank §5.2) beside AUC
when the evaluated sessions were logged with a randomised top N; metrics.json holds the same
numbers as `lirank_tf.evaluation.replay` and the session-by-session NumPy reference."""

import json
from pathlib import Path

import fastavro
import numpy as np
import pytest

from lirank_tf import workflow
from lirank_tf.cli import main
from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.evaluation.evaluate import evaluate, format_table
from lirank_tf.evaluation.replay import (contribution_labels, evaluate_replay, model_scores,
                                         read_records, replay_top_n_of_files)
from replay_reference import reference

TOP_N = 5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate_replay")
    manifest = simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=3, valid_days=0, test_days=1, impressions_per_day=600, num_members=150,
        posts_per_day=60, randomize_top_n=TOP_N, randomize_days="test", seed=21))
    config = get_experiment("feed", {
        "data": {"train": manifest["train"], "test": manifest["test"], "reader": "fastavro"},
        "model": {"hidden_units": [16], "tower_units": [8], "history_encoder": False,
                  "interaction": "none", "sparse_moe": False},
        "training": {"epochs": 1, "batch_size": 128, "verbose": 0, "seed": 3}})
    workflow.train(config, root / "run")
    return root, manifest


def test_metrics_json_has_the_replay_numbers_of_the_replay_module_and_the_reference(run, capsys):
    root, manifest = run
    results = workflow.evaluate_run(root / "run")               # N read from manifest.json
    printed = capsys.readouterr().out
    written = json.loads((root / "run" / "eval" / "metrics.json").read_text())
    assert written["replay"]["top_n"] == TOP_N and results["replay"] == written["replay"]
    assert set(written) == {"replay", *(t.name for t in workflow.load_config(
        root / "run" / "config.yaml").tasks)}

    config, transform, model = workflow.load_run(root / "run")
    direct = evaluate_replay(model, transform, config, manifest["test"], top_n=TOP_N)
    assert {**direct.as_dict(), "top_n": TOP_N} == written["replay"]

    records = read_records(manifest["test"])
    sessions, matched, rewarded = reference(
        np.array([r["session_id"] for r in records]), np.array([r["position"] for r in records]),
        model_scores(model, transform, config, records), contribution_labels(records), TOP_N)
    replay = written["replay"]
    assert replay["sessions"] == sessions == 60
    assert replay["matched_at_1"] == pytest.approx(matched)
    assert replay["contributions_at_1"] == pytest.approx(rewarded)
    assert replay["contribution_rate"] == pytest.approx(rewarded / matched)
    assert 0 < matched < sessions                         # about sessions / N match
    assert (f"replay: 60 sessions (top {TOP_N} shuffled), matched imps @1 = {matched:.1f}"
            in printed)
    assert format_table(results).splitlines()[-1].startswith("replay: ")
    assert "auc" in written["click"]                      # the task metrics are unchanged


def test_cli_flag_forces_or_disables_the_replay(run, capsys):
    root, manifest = run
    metrics_path = root / "run" / "eval" / "metrics.json"
    assert main(["evaluate", "--run", str(root / "run"), "--replay-top-n", "0"]) == 0
    assert "replay" not in json.loads(metrics_path.read_text())
    assert "replay:" not in capsys.readouterr().out
    # a training day was not randomised: no replay unless asked for; when asked, N as given
    assert main(["evaluate", "--run", str(root / "run"), "--data", manifest["train"][0]]) == 0
    assert "replay" not in json.loads(metrics_path.read_text())
    assert main(["evaluate", "--run", str(root / "run"), "--data", manifest["train"][0],
                 "--replay-top-n", "3"]) == 0
    assert json.loads(metrics_path.read_text())["replay"]["top_n"] == 3
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(["evaluate", "--run", str(root / "run"), "--replay-top-n", "-2"])
    assert stopped.value.code == 2
    assert "argument --replay-top-n: must be an integer >= 0, got '-2'" in capsys.readouterr().err


def test_which_files_have_randomised_sessions(run, tmp_path):
    root, manifest = run
    assert replay_top_n_of_files(manifest["test"]) == TOP_N
    assert replay_top_n_of_files(manifest["train"]) == 0                 # randomize_days="test"
    assert replay_top_n_of_files(manifest["train"] + manifest["test"]) == 0
    lone = tmp_path / "day_002.avro"                                       # no manifest beside it
    lone.write_bytes(Path(manifest["test"][0]).read_bytes())
    assert replay_top_n_of_files([str(lone)]) == 0
    (tmp_path / "manifest.json").write_text(json.dumps({"config": {"num_days": 3}, "files": {}}))
    assert replay_top_n_of_files([str(lone)]) == 0                       # e.g. the Ads simulator
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"config": {"randomize_top_n": 4, "randomize_days": "all"}, "files": {}}))
    assert replay_top_n_of_files([str(lone)]) == 4
    assert replay_top_n_of_files([str(lone)] + manifest["test"]) == 0    # N disagrees


def test_replay_needs_sessions_and_a_valid_n(run, tmp_path):
    root, _ = run
    path = tmp_path / "no_sessions.avro"
    schema = {"type": "record", "name": "R", "fields": [{"name": "click", "type": "int"}]}
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema), [{"click": 1}])
    with pytest.raises(ValueError, match=r"no_sessions\.avro have no 'session_id'"):
        evaluate_replay(None, None, None, [str(path)], top_n=3)
    config, transform, model = workflow.load_run(root / "run")
    with pytest.raises(ValueError, match="replay_top_n must be an int >= 0 or None, got -1"):
        evaluate(model, transform, config, [str(path)], replay_top_n=-1)
