"""The Ads CTR model (lirank_tf.models.ads): three chargeability heads, each its own DCNv2 + MLP."""

import numpy as np
import pytest
from model_test_data import (assert_export_matches_keras, first_records, layers_of, prepared,
                             scores, train)

from lirank_tf.config import get_experiment
from lirank_tf.sim import AdsSimulatorConfig, simulate_ads
from lirank_tf.layers import CrossNetwork, GatedMLP, IsotonicCalibration, QRHashEmbedding
from lirank_tf.models import build_model

HEADS = ["website_click", "social_click", "engagement_click"]
SMALL = {"model": {"hidden_units": [32, 16], "cross_rank": 8}}


@pytest.fixture(scope="module")
def ads(tmp_path_factory):
    manifest = simulate_ads(tmp_path_factory.mktemp("ads_data"), AdsSimulatorConfig(
        num_days=3, valid_days=0, impressions_per_day=1500, num_members=300, num_advertisers=30,
        seed=2))
    return manifest, prepared(get_experiment("ads", SMALL), manifest)


@pytest.fixture(scope="module")
def trained(ads):
    _, (config, _, inputs, labels) = ads
    model = build_model(config)
    return model, train(model, config, inputs, labels, epochs=3)


def test_ads_experiment_has_a_dcnv2_and_mlp_per_chargeability_head():
    model = build_model(get_experiment("ads"))
    assert sorted(model.output_names) == sorted(HEADS)
    crosses = {layer.name: layer for layer in layers_of(model, CrossNetwork)}
    mlps = {layer.name: layer for layer in layers_of(model, GatedMLP)}
    assert sorted(crosses) == sorted(f"{h}_dcnv2" for h in HEADS)
    assert sorted(mlps) == sorted(f"{h}_mlp" for h in HEADS)
    assert all(len(c.cross_layers) == 2 and c.cross_layers[0].rank == 32 for c in crosses.values())
    assert all(m.units == [128, 64] and not m.use_gates for m in mlps.values())
    tables = sorted(t.name for t in layers_of(model, QRHashEmbedding))
    assert tables == sorted(f"{t}_embedding" for t in
                            ("member", "ad", "campaign", "advertiser", "profile", "context"))
    calibrations = layers_of(model, IsotonicCalibration)
    assert len(calibrations) == 3 and all(c.calibration_vocab_sizes == [64, 64] for c in calibrations)
    # every head's cross network reads the whole shared feature vector
    width = model.get_layer("feature_concat").output.shape[-1]
    assert all(c.cross_layers[0].down_kernel.shape == (width, 32) for c in crosses.values())


def test_heads_are_independent(ads):
    _, (config, _, inputs, _) = ads
    model = build_model(config)
    batch = {key: value[:32] for key, value in inputs.items()}
    before = scores(model, batch)
    head = model.get_layer("social_click_mlp")
    head.set_weights([w * 0.0 for w in head.get_weights()])
    after = scores(model, batch)
    assert not np.allclose(after["social_click"], before["social_click"])
    for name in ("website_click", "engagement_click"):
        np.testing.assert_array_equal(after[name], before[name])


def test_ads_model_learns_and_export_gives_the_keras_scores(ads, trained, tmp_path):
    manifest, (config, transform, _, _) = ads
    model, history = trained
    assert history["loss"][-1] < history["loss"][0], history["loss"]
    for head in HEADS:
        assert history[f"{head}_loss"][-1] < history[f"{head}_loss"][0], head
    records = first_records(manifest["test"][0], 32)
    records[0]["campaign_daily_budget"] = None   # missing numeric value
    records[1]["member_id"] = "member:unseen"    # an id never seen in training
    scores = assert_export_matches_keras(config, transform, model, records, tmp_path)
    np.testing.assert_allclose(scores["score"], scores["website_click"], rtol=1e-6)
