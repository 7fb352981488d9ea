"""The Feed simulator: schema, determinism, day splits, label rates and oracle quality."""

import hashlib
import json

import fastavro
import numpy as np
import pytest

from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.sim.feed import SCHEMA_PATH
from lirank_tf.evaluation import auc

TASKS = ("click", "like", "comment", "share", "vote", "long_dwell")
SMALL = dict(num_days=4, impressions_per_day=2000, num_members=600, posts_per_day=300)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("feed")
    manifest = simulate_feed(out, FeedSimulatorConfig(**SMALL, seed=3))
    return out, manifest


def _records(paths):
    records = []
    for path in paths:
        with open(path, "rb") as handle:
            records.extend(fastavro.reader(handle))
    return records


def test_files_follow_the_feed_schema_and_codec(simulated):
    _, manifest = simulated
    expected = json.loads(SCHEMA_PATH.read_text())
    for path in manifest["train"] + manifest["valid"] + manifest["test"]:
        with open(path, "rb") as handle:
            reader = fastavro.reader(handle)
            assert reader.codec == "deflate"
            assert [f["name"] for f in reader.writer_schema["fields"]] == [f["name"] for f in expected["fields"]]


def test_days_are_split_train_valid_test(simulated):
    _, manifest = simulated
    days = {split: sorted({r["day"] for r in _records(files)}) for split, files in manifest.items()}
    assert days == {"train": [0, 1], "valid": [2], "test": [3]}


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    def digest(seed, name):
        manifest = simulate_feed(tmp_path / name, FeedSimulatorConfig(**{**SMALL, "num_days": 3}, seed=seed))
        records = _records(manifest["train"] + manifest["valid"] + manifest["test"])
        return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
    assert digest(5, "a") == digest(5, "b")
    assert digest(5, "a") != digest(6, "c")


def test_label_rates_match_oracle_and_oracle_is_informative(simulated):
    _, manifest = simulated
    records = _records(manifest["train"] + manifest["valid"] + manifest["test"])
    for task in TASKS:
        labels = np.array([r[task] for r in records])
        oracle = np.array([r[f"oracle_{task}"] for r in records])
        assert 0.02 < labels.mean() < 0.5, task
        # observed rate within 4 binomial standard errors of the true probabilities' mean
        assert abs(labels.mean() - oracle.mean()) < 4 * np.sqrt(oracle.mean() / len(labels)), task
        assert auc(labels, oracle) > 0.75, task


def test_long_dwell_is_the_top_decile_of_its_cluster(simulated):
    _, manifest = simulated
    records = _records(manifest["test"])
    assert np.mean([r["long_dwell"] for r in records]) == pytest.approx(0.1, abs=0.02)


def test_history_only_holds_earlier_interactions(simulated):
    _, manifest = simulated
    first_day = _records(manifest["train"][:1])
    assert all(not r["history_item_ids"] for r in first_day)
    later = _records(manifest["test"])
    assert np.mean([len(r["history_item_ids"]) > 0 for r in later]) > 0.5
    assert all(len(r["history_item_ids"]) == len(r["history_action_types"]) for r in later)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="num_days"):
        FeedSimulatorConfig(num_days=2, valid_days=1, test_days=1)
    with pytest.raises(ValueError, match="codec"):
        FeedSimulatorConfig(codec="zstd")
