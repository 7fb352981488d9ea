"""The Jobs simulator: schema, determinism, channels, click / apply labels and oracle."""

import numpy as np
import pytest
from sim_checks import (all_files, assert_experiment_fields_in_schema, assert_files_follow_schema,
                        assert_labels_follow_oracle, read_records, records_digest)

from lirank_tf.config import get_experiment
from lirank_tf.sim import JobsSimulatorConfig, simulate_jobs
from lirank_tf.sim.jobs import ID_FEATURES, SCHEMA_PATH

SMALL = dict(num_days=4, impressions_per_day=2500, num_members=400, jobs_per_day=150)
QUERY_FIELDS = ("query_titles", "query_skills", "query_companies")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    manifest = simulate_jobs(tmp_path_factory.mktemp("jobs"), JobsSimulatorConfig(**SMALL, seed=3))
    return manifest, read_records(all_files(manifest))


def test_files_follow_the_schema_and_hold_what_the_jobs_experiment_reads(simulated):
    manifest, _ = simulated
    assert_files_follow_schema(manifest, SCHEMA_PATH)
    assert_experiment_fields_in_schema(get_experiment("jobs"), SCHEMA_PATH)
    assert len(ID_FEATURES) == 40
    assert {vocabulary for vocabulary, _ in ID_FEATURES.values()} == {
        "title", "skill", "company", "industry", "seniority"}


def test_every_entity_id_names_its_vocabulary(simulated):
    _, records = simulated
    for record in records[:300]:
        for name, (vocabulary, is_list) in ID_FEATURES.items():
            values = record[name] if is_list else [record[name]] if record[name] else []
            assert all(v.startswith(f"{vocabulary}:") for v in values), (name, values)


def test_same_seed_same_records_other_seed_other_records(tmp_path):
    def digest(seed, name):
        manifest = simulate_jobs(tmp_path / name, JobsSimulatorConfig(
            **{**SMALL, "num_days": 3, "impressions_per_day": 1000}, seed=seed))
        return records_digest(read_records(all_files(manifest)))
    assert digest(5, "a") == digest(5, "b")
    assert digest(5, "a") != digest(6, "c")


def test_channels_split_traffic_and_only_job_search_has_queries(simulated):
    _, records = simulated
    search = [r for r in records if r["channel"] == "job_search"]
    jymbii = [r for r in records if r["channel"] == "jymbii"]
    assert len(search) + len(jymbii) == len(records)
    assert 0.4 < len(search) / len(records) < 0.6
    assert all(r["query_titles"] for r in search)
    assert all(not r[f] for r in jymbii for f in QUERY_FIELDS)
    assert all(r["query_industry"] == "" and r["query_seniority"] == "" for r in jymbii)


@pytest.mark.parametrize("channel", ["job_search", "jymbii"])
@pytest.mark.parametrize("label, low, high, min_auc", [("click", 0.02, 0.2, 0.72),
                                                       ("apply", 0.004, 0.08, 0.8)])
def test_label_rates_match_the_oracle_which_is_informative(simulated, channel, label, low, high, min_auc):
    _, records = simulated
    subset = [r for r in records if r["channel"] == channel]
    assert_labels_follow_oracle(subset, label, low, high, min_auc)


def test_apply_needs_a_click_and_histories_grow_from_clicks(simulated):
    manifest, records = simulated
    assert all(r["click"] for r in records if r["apply"])
    assert all(r["oracle_apply"] <= r["oracle_click"] for r in records)
    first = read_records(manifest["train"][:1])
    last = read_records(manifest["test"])
    viewed = lambda rs: np.mean([len(r["member_viewed_job_titles"]) for r in rs])  # noqa: E731
    assert viewed(last) > viewed(first)


@pytest.mark.parametrize("overrides, message", [
    ({"num_days": 1}, "num_days must leave at least one training day"),
    ({"session_length": 0}, "session_length must be positive"),
    ({"candidates_per_request": 3}, "candidates_per_request must be >= session_length"),
    ({"job_search_fraction": 1.5}, r"job_search_fraction must be in \[0, 1\]"),
])
def test_bad_config_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        JobsSimulatorConfig(**overrides)
