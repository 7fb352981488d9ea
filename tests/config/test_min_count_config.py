"""features.ids[].min_count: bad values and features whose ids are compared give one-line
errors naming the feature; init-config turns it on for dcnv2 by the recipe's rule (on where
few sampled ids would be rare, off where many would), and says so in the YAML comments."""

import fastavro
import numpy as np
import pytest
import yaml

from lirank_tf.config import ConfigError, ExperimentConfig, get_experiment
from lirank_tf.config.recipe import MAX_RARE_SHARE, MIN_COUNT, id_min_count
from lirank_tf.init_config import init_config, propose_config


@pytest.mark.parametrize("value", [-1, 2.5, True, "5"])
def test_a_bad_min_count_names_the_feature(value):
    with pytest.raises(ConfigError) as error:
        get_experiment("feed", {"features": {"ids": [
            {"name": "viewer_id", "table": "member", "min_count": value}]}})
    message = str(error.value)
    # a negative count names the feature; a wrong type its place (the config's type check)
    assert ("features.ids[viewer_id].min_count" if value == -1
            else "features.ids[0].min_count") in message and "\n" not in message


@pytest.mark.parametrize("role", ["setwise_group", "route_feature"])
def test_the_compared_feature_of_setwise_groups_and_routes_keeps_min_count_0(role):
    model = ({"setwise_group": "viewer_id"} if role == "setwise_group"
             else {"route_feature": "viewer_id", "route_values": ["a", "b"]})
    ids = [{"name": "viewer_id", "table": "member", "min_count": 2}]
    with pytest.raises(ConfigError, match=rf"features.ids\[viewer_id\].min_count: must be 0 "
                                          rf"for the feature of model.{role}"):
        get_experiment("feed", {"features": {"ids": ids}, "model": model})
    ids[0]["min_count"] = 0
    get_experiment("feed", {"features": {"ids": ids}, "model": model})


def _reference_rare_share(values, total):
    """Share of the sampled occurrences whose estimated training count is < MIN_COUNT."""
    scale = max(1.0, total / len(values))
    counts = {v: values.count(v) for v in set(values)}
    return sum(c for c in counts.values() if c * scale < MIN_COUNT) / len(values)


@pytest.mark.parametrize("seed", range(4))
def test_the_rule_follows_the_estimated_share_of_rare_occurrences(seed):
    rng = np.random.default_rng(seed)
    chosen = set()
    for pool, total_factor in ((20, 1), (400, 1), (400, 3), (3000, 8), (200, 1)):
        values = [int(v) for v in rng.integers(pool, size=600)]
        total = len(values) * total_factor
        share = _reference_rare_share(values, total)
        expected = MIN_COUNT if share < MAX_RARE_SHARE else 0
        assert id_min_count(values, total) == expected, (pool, total_factor, share)
        chosen.add(expected)
    assert chosen == {0, MIN_COUNT}     # both sides of the rule
    assert id_min_count([], 100) == 0


def _write(path, rows):
    schema = {"type": "record", "name": "Row", "fields": [
        {"name": "user", "type": "string"}, {"name": "item", "type": "string"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "clicked", "type": "int"}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema), rows)
    return str(path)


def test_init_config_writes_min_count_by_the_rule(tmp_path):
    """The whole file is the sample: ``user`` repeats (40 ids over 800 rows: on), ``item`` is
    nearly unique per row (off), the tags repeat (on)."""
    rng = np.random.default_rng(3)
    rows = [{"user": f"u{rng.integers(40)}", "item": f"i{rng.integers(100000)}",
             "tags": [f"t{rng.integers(12)}" for _ in range(rng.integers(0, 4))],
             "clicked": int(rng.random() < 0.3)} for _ in range(800)]
    train = _write(tmp_path / "train.avro", rows)
    path = init_config([train], ["clicked"], tmp_path / "run.yaml", valid=[train])
    config = ExperimentConfig.load(path)
    min_counts = {f.name: f.min_count for f in config.features.ids}
    assert min_counts == {"user": MIN_COUNT, "item": 0, "tags": MIN_COUNT}
    text = path.read_text()
    assert "features.ids[].min_count: ids seen fewer than 5 times" in text
    assert "on for 2 of 3 id columns" in text
    assert "item: string" in text and "min_count 0: the sample puts >= 10% of its ids" in text
    assert yaml.safe_load(text)["features"]["ids"][0]["min_count"] == MIN_COUNT
    # the rule is the same for every model
    feed, _ = propose_config([train], ["clicked"], valid=[train], model="feed")
    assert {f["name"]: f["min_count"] for f in feed["features"]["ids"]} == min_counts
