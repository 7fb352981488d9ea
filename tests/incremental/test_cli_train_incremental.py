"""`lirank-tf train --incremental-from PREV --cold-start COLD` end to end on simulated Feed days:
the run starts from alpha * w0 + (1 - alpha) * w_{t-1}, is regularised, and saves its Fisher;
user errors stop with a message naming the flag and value, exit code 2 and no traceback."""

import json

import numpy as np
import pytest

from lirank_tf.cli import main
from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.incremental import FISHER_FILE, INCREMENTAL_FILE, FisherInformation
from lirank_tf.workflow import load_run
from penalty_reference import initial_penalty

SMALL_MODEL = {"hidden_units": [16], "tower_units": [8], "history_encoder": False,
               "interaction": "none", "sparse_moe": False}
TWO_TASKS = [{"name": "click", "label": "click", "group": "click"},
             {"name": "like", "label": "like", "group": "contribution"}]
ALPHA, LAMBDA = 0.3, 2.0


def write_config(path, files, seed, epochs=1, hidden_units=(16,)):
    config = get_experiment("feed", {
        "data": {"train": [str(f) for f in files], "reader": "fastavro"},
        "model": dict(SMALL_MODEL, hidden_units=list(hidden_units)), "tasks": TWO_TASKS,
        "training": {"epochs": epochs, "batch_size": 128, "verbose": 0, "seed": seed}})
    return str(config.save(path))


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Day 0: the cold start; day 1: a second, independently seeded run (w_{t-1}); day 2: the
    incremental run from day 1 with the day-0 cold start, all through the CLI."""
    root = tmp_path_factory.mktemp("cli_incremental")
    days = simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=4, valid_days=0, test_days=1, impressions_per_day=300, num_members=120,
        posts_per_day=50, seed=11))["train"]
    configs = [write_config(root / f"day{d}.yaml", [days[d]], seed=5 + d) for d in range(3)]
    codes = [main(["train", "--config", configs[0], "--output-dir", str(root / "cold")]),
             main(["train", "--config", configs[1], "--output-dir", str(root / "previous")]),
             main(["train", "--config", configs[2], "--output-dir", str(root / "day2"),
                   "--incremental-from", str(root / "previous"), "--cold-start", str(root / "cold"),
                   "--cold-weight", str(ALPHA), "--forgetting-factor", str(LAMBDA)])]
    return root, days, configs, {"codes": codes}


def test_the_incremental_run_starts_from_the_cold_weight_mix(chain):
    """At w = a w0 + (1-a) w1 the regulariser is lambda/2 [a (1-a)^2 d'H0 d + (1-a) a^2 d'H1 d]
    with d = w1 - w0; H0 and H1 differ, so a swapped alpha or a missing term would show."""
    root, _, _, out = chain
    assert out["codes"] == [0, 0, 0]
    metadata = json.loads((root / "day2" / INCREMENTAL_FILE).read_text())
    assert metadata["previous_run"] == str((root / "previous").resolve())
    assert metadata["cold_start_run"] == str((root / "cold").resolve())
    assert (metadata["cold_weight"], metadata["forgetting_factor"]) == (ALPHA, LAMBDA)
    expected = initial_penalty(root / "cold", root / "previous", ALPHA, LAMBDA)
    assert metadata["initial_penalty"] == pytest.approx(expected, rel=1e-4)
    assert metadata["final_penalty"] != metadata["initial_penalty"]      # it trained


def test_each_run_of_the_chain_saved_its_fisher_over_its_own_day(chain):
    root, days, _, _ = chain
    for run in ("cold", "previous", "day2"):
        fisher = FisherInformation.load(root / run / FISHER_FILE)
        assert fisher.num_examples == 300                          # every record of its day
        model = load_run(root / run)[2]
        shapes = {v.path: tuple(v.shape) for v in model.trainable_variables}
        assert set(fisher.paths()) == set(shapes)
        tables = [p for p in fisher.sparse if "quotient_table" in p or "remainder_table" in p]
        assert tables
        for path in tables:
            rows, values = fisher.sparse[path]
            assert 0 < len(rows) <= shapes[path][0]
            assert values.shape == (len(rows), *shapes[path][1:])
            assert np.all(np.isfinite(values)) and values.max() > 0
        # the large id tables: only the rows the day looked up are stored
        assert any(len(fisher.sparse[p][0]) < shapes[p][0] / 2 for p in tables)
    # the trained incremental model is a normal run: it reloads and has no regulariser attached
    assert all(v.regularizer is None for v in load_run(root / "day2")[2].trainable_variables)


def test_prev_that_is_not_a_run_directory_names_the_flag(chain, tmp_path, capsys):
    root, _, configs, _ = chain
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "train", "--config", configs[2], "--output-dir", tmp_path / "x",
                           "--incremental-from", tmp_path / "empty")
    assert code == 2
    assert "--incremental-from" in err and str(tmp_path / "empty") in err
    assert "not a run directory" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "train", "--config", configs[2], "--output-dir", tmp_path / "x",
                           "--incremental-from", root / "previous", "--cold-start", tmp_path / "nope")
    assert code == 2 and "--cold-start" in err and "is not a directory" in err
    assert not (tmp_path / "x").exists()                            # nothing written
    code, _, err = run_cli(capsys, "train", "--config", configs[2], "--output-dir",
                           root / "previous", "--incremental-from", root / "previous")
    assert code == 2 and "needs a directory of its own" in err


def test_architecture_mismatch_names_the_difference(chain, tmp_path, capsys):
    root, days, _, _ = chain
    other = write_config(tmp_path / "wider.yaml", [days[2]], seed=7, hidden_units=(8,))
    code, _, err = run_cli(capsys, "train", "--config", other, "--output-dir", tmp_path / "x",
                           "--incremental-from", root / "day2")
    assert code == 2 and "Traceback" not in err
    assert "config.model differs from the previous run's" in err
    assert "hidden_units: [16] -> [8]" in err


@pytest.mark.parametrize("flag,value,message", [
    ("--cold-weight", "1.5", "argument --cold-weight: must be a number in [0, 1], got '1.5'"),
    ("--cold-weight", "-0.1", "argument --cold-weight: must be a number in [0, 1], got '-0.1'"),
    ("--cold-weight", "half", "argument --cold-weight: must be a number in [0, 1], got 'half'"),
    ("--forgetting-factor", "-1", "argument --forgetting-factor: must be a number >= 0, got '-1'"),
])
def test_out_of_range_numbers_are_usage_errors(chain, tmp_path, capsys, flag, value, message):
    root, _, configs, _ = chain
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--config", configs[2], "--output-dir", str(tmp_path / "x"),
              "--incremental-from", str(root / "day2"), flag, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_incremental_flags_need_incremental_from(chain, tmp_path, capsys):
    root, _, configs, _ = chain
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--config", configs[2], "--output-dir", str(tmp_path / "x"),
              "--cold-start", str(root / "cold"), "--cold-weight", "0.2"])
    assert stopped.value.code == 2
    assert "--cold-start, --cold-weight only apply with --incremental-from PREV" in \
        capsys.readouterr().err
