"""The Jobs model (lirank_tf.models.jobs): 40 features in 5 shared tables, a DCNv2 tower per
product (Job Search, JYMBII) chosen per example by the channel."""

import numpy as np
import pytest
import tensorflow as tf
from model_test_data import (assert_export_matches_keras, first_records, layers_of, prepared,
                             scores, train)

from lirank_tf.config import ConfigError, get_experiment
from lirank_tf.config.experiments import JOBS_FEATURES
from lirank_tf.sim import JobsSimulatorConfig, simulate_jobs
from lirank_tf.layers import CrossNetwork, QRHashEmbedding
from lirank_tf.models import build_model
from lirank_tf.models.routing import SelectByHash, id_hashes

SMALL = {"model": {"hidden_units": [32, 16], "cross_rank": 8}}
SHARED_TABLES = ["title", "skill", "company", "industry", "seniority"]


@pytest.fixture(scope="module", autouse=True)
def without_grappler():
    """Grappler spends ~30 s optimising the serving graph's stock-op transformation of 41 id
    features (one MurmurHash3 subgraph each) when the reloaded export is first called; the
    results are the same without it, so the module turns it off and restores it afterwards."""
    previous = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    yield
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": previous})


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    manifest = simulate_jobs(tmp_path_factory.mktemp("jobs_data"), JobsSimulatorConfig(
        num_days=3, valid_days=0, impressions_per_day=1500, num_members=300, jobs_per_day=150,
        seed=5))
    return manifest, prepared(get_experiment("jobs", SMALL), manifest)


@pytest.fixture(scope="module")
def trained(jobs):
    _, (config, _, inputs, labels) = jobs
    model = build_model(config)
    return model, train(model, config, inputs, labels, epochs=3)


def test_forty_features_share_five_tables():
    config = get_experiment("jobs")
    entity_features = [f for f in config.features.ids if f.table in SHARED_TABLES]
    assert len(entity_features) == 40
    assert {f.table for f in entity_features} == set(SHARED_TABLES)
    assert sorted(f.name for f in entity_features) == sorted(
        name for singles, lists in JOBS_FEATURES.values() for name in singles + lists)
    model = build_model(config)
    tables = sorted(t.name for t in layers_of(model, QRHashEmbedding))
    assert tables == sorted(f"{t}_embedding" for t in SHARED_TABLES + ["context"])


def test_each_product_has_its_own_two_layer_dcnv2_tower():
    model = build_model(get_experiment("jobs"))
    crosses = {layer.name: layer for layer in layers_of(model, CrossNetwork)}
    assert sorted(crosses) == ["job_search_dcnv2", "jymbii_dcnv2"]
    assert all(len(c.cross_layers) == 2 for c in crosses.values())
    routes = layers_of(model, SelectByHash)
    assert sorted(r.name for r in routes) == ["apply_route", "click_route"]
    assert all(r.route_hashes == id_hashes(["job_search", "jymbii"]) for r in routes)
    assert sorted(model.output_names) == ["apply", "click"]


def test_an_example_only_uses_the_tower_of_its_channel(jobs):
    _, (config, _, inputs, _) = jobs
    model = build_model(config)
    batch = {key: value[:64] for key, value in inputs.items()}
    is_search = batch["channel"].numpy() == id_hashes(["job_search"])[0]
    assert 0 < is_search.sum() < len(is_search)
    before = scores(model, batch)
    tower = model.get_layer("jymbii_apply_logit")
    tower.set_weights([w + 1.0 for w in tower.get_weights()])
    after = scores(model, batch)
    np.testing.assert_array_equal(after["apply"][is_search], before["apply"][is_search])
    assert np.all(after["apply"][~is_search] != before["apply"][~is_search])
    np.testing.assert_array_equal(after["click"], before["click"])


def test_jobs_model_learns_and_export_gives_the_keras_scores(jobs, trained, tmp_path):
    manifest, (config, transform, _, _) = jobs
    model, history = trained
    assert history["loss"][-1] < history["loss"][0], history["loss"]
    records = first_records(manifest["test"][0], 24)
    records[0]["channel"] = "careers_page"        # unknown channel: the first tower
    records[1]["query_titles"] = []               # JYMBII-like empty query
    assert_export_matches_keras(config, transform, model, records, tmp_path)


def test_route_feature_must_be_a_single_id():
    with pytest.raises(ConfigError, match="route_feature: 'member_skills' is not a single-id"):
        build_model(get_experiment("jobs", {"model": {"route_feature": "member_skills"}}))
