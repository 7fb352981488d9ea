"""Typed config: named experiments, overrides, YAML/JSON round trips and clear errors."""

import pytest

from lirank_tf.config import ConfigError, ExperimentConfig, get_experiment


def test_feed_experiment_round_trips_through_yaml_and_json(tmp_path):
    config = get_experiment("feed", {"training": {"epochs": 3}, "model": {"dropout": 0.1}})
    assert config.training.epochs == 3 and config.model.dropout == 0.1
    for name in ("run.yaml", "run.json"):
        config.save(tmp_path / name)
        assert ExperimentConfig.load(tmp_path / name) == config


def test_overrides_merge_and_do_not_leak_between_calls():
    changed = get_experiment("feed", {"features": {"history": {"max_length": 50}}})
    assert changed.features.history.max_length == 50
    assert changed.features.history.item_field == "history_item_ids"
    assert get_experiment("feed").features.history.max_length == 25


@pytest.mark.parametrize("overrides, message", [
    ({"training": {"epochs": "two"}}, "training.epochs: expected int"),
    ({"training": {"epoch": 2}}, r"unknown key\(s\) \['epoch'\]"),
    ({"model": {"multitask": "moe"}}, "model.multitask: expected one of"),
    ({"tasks": []}, "at least one task"),
])
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get_experiment("feed", overrides)


def test_unknown_experiment_lists_choices():
    with pytest.raises(ConfigError, match="choices"):
        get_experiment("nope")


def test_feature_naming_a_missing_table_is_rejected():
    with pytest.raises(ConfigError, match="no table named 'missing'"):
        get_experiment("feed", {"features": {"ids": [{"name": "x", "table": "missing"}]}})
