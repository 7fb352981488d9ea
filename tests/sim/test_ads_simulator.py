"""The Ads CTR simulator: schema, determinism, splits, chargeability labels and oracle."""

import numpy as np
import pytest
from sim_checks import (all_files, assert_experiment_fields_in_schema, assert_files_follow_schema,
                        assert_labels_follow_oracle, read_records, records_digest)

from lirank_tf.config import get_experiment
from lirank_tf.sim import AdsSimulatorConfig, simulate_ads
from lirank_tf.sim.ads import CHARGEABILITY, LABELS, SCHEMA_PATH

SMALL = dict(num_days=4, impressions_per_day=3000, num_members=500, num_advertisers=40)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    manifest = simulate_ads(tmp_path_factory.mktemp("ads"), AdsSimulatorConfig(**SMALL, seed=3))
    return manifest, read_records(all_files(manifest))


def test_files_follow_the_schema_and_hold_what_the_ads_experiment_reads(simulated):
    manifest, _ = simulated
    assert_files_follow_schema(manifest, SCHEMA_PATH)
    assert_experiment_fields_in_schema(get_experiment("ads"), SCHEMA_PATH)


def test_days_are_split_train_valid_test(simulated):
    manifest, _ = simulated
    days = {split: sorted({r["day"] for r in read_records(files)}) for split, files in manifest.items()}
    assert days == {"train": [0, 1], "valid": [2], "test": [3]}


def test_same_seed_same_records_other_seed_other_records(tmp_path):
    def digest(seed, name):
        config = AdsSimulatorConfig(**{**SMALL, "num_days": 3}, seed=seed)
        manifest = simulate_ads(tmp_path / name, config)
        return records_digest(read_records(all_files(manifest)))
    assert digest(5, "a") == digest(5, "b")
    assert digest(5, "a") != digest(6, "c")


@pytest.mark.parametrize("label, low, high", [("website_click", 0.02, 0.12),
                                              ("social_click", 0.03, 0.15),
                                              ("engagement_click", 0.04, 0.2),
                                              ("chargeable_click", 0.02, 0.2)])
def test_label_rates_match_the_oracle_which_is_informative(simulated, label, low, high):
    _, records = simulated
    assert_labels_follow_oracle(records, label, low, high, min_auc=0.75)


def test_chargeability_labels_are_nested_and_the_campaign_picks_its_own(simulated):
    _, records = simulated
    labels = np.array([[r[name] for name in LABELS] for r in records])
    assert np.all(labels[:, 0] <= labels[:, 1]) and np.all(labels[:, 1] <= labels[:, 2])
    oracle = np.array([[r[f"oracle_{name}"] for name in LABELS] for r in records])
    assert np.all(oracle[:, 0] <= oracle[:, 1] + 1e-6) and np.all(oracle[:, 1] <= oracle[:, 2] + 1e-6)
    for record in records[:500]:
        own = LABELS[CHARGEABILITY.index(record["chargeability"])]
        assert record["chargeable_click"] == record[own]
    social = np.array([r["social_action"] for r in records])
    visit = labels[:, 0]
    np.testing.assert_array_equal(labels[:, 1], np.maximum(visit, social))


def test_campaign_ids_belong_to_one_advertiser_and_budget_is_sometimes_missing(simulated):
    _, records = simulated
    owner = {}
    for record in records:
        assert owner.setdefault(record["campaign_id"], record["advertiser_id"]) == record["advertiser_id"]
    missing = np.mean([r["campaign_daily_budget"] is None for r in records])
    assert 0.05 < missing < 0.15
    assert all(len(r["dense_features"]) == 12 for r in records[:100])


@pytest.mark.parametrize("overrides, message", [
    ({"num_days": 2}, "num_days must leave at least one training day"),
    ({"codec": "zstd"}, "codec must be one of"),
    ({"num_advertisers": 0}, "num_advertisers must be positive, got 0"),
    ({"daily_drift": -1.0}, "daily_drift must be >= 0"),
])
def test_bad_config_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        AdsSimulatorConfig(**overrides)
