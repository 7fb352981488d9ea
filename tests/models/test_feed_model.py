"""The Feed model (lirank_tf.models.feed): every ModelConfig switch, training, save, export."""

import keras
import numpy as np
import pytest
from model_test_data import (assert_export_matches_keras, compile_for, first_records,
                             layers_of, prepared, scores, train)

from lirank_tf.config import ConfigError, get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.layers import (AmortizedHistoryEncoder, CrossNetwork, GatedMLP, GroupedTaskHeads,
                              HardSharingHeads, IsotonicCalibration, MMoEHeads, ParallelMaskNet,
                              PLEHeads, QRHashEmbedding, ResidualDCN, SparseMoE, TransActEncoder)
from lirank_tf.models import build_model
from lirank_tf.models.calibration import HashBuckets
from lirank_tf.models.pooling import MaskedPooling

TASKS = ["click", "long_dwell", "like", "comment", "share", "vote"]
SMALL_MODEL = {"hidden_units": [32, 32], "tower_units": [16], "cross_rank": 8,
               "options": {"sparse_moe": {"expert_units": [16]}, "transact": {"last_steps": 3}}}


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    # two training days: on day 0 nobody has a history yet (history features are constant)
    manifest = simulate_feed(tmp_path_factory.mktemp("feed_data"), FeedSimulatorConfig(
        num_days=3, valid_days=0, impressions_per_day=800, num_members=300, posts_per_day=200,
        seed=4))
    return manifest, prepared(get_experiment("feed"), manifest)


@pytest.fixture(scope="module")
def trained(feed):
    _, (_, _, inputs, labels) = feed
    config = config_with({})
    model = build_model(config)
    return config, model, train(model, config, inputs, labels, epochs=3)


def config_with(overrides: dict):
    return get_experiment("feed", {"model": {**SMALL_MODEL, **overrides}})


def test_default_feed_experiment_is_the_full_paper_model():
    model = build_model(get_experiment("feed"))
    tables = {layer.name: layer for layer in layers_of(model, QRHashEmbedding)}
    assert sorted(tables) == ["context_embedding", "hashtag_embedding", "member_embedding",
                              "post_embedding"]
    assert all(tables[f"{t}_embedding"].embedding_dim == 30 for t in ("member", "hashtag", "post"))
    assert all(t.hashed_input and t.output_mode == "sequence" for t in tables.values())
    assert model.get_layer("dense_batch_norm") is not None
    assert len(layers_of(model, AmortizedHistoryEncoder)) == 1   # candidate_fusion: append
    assert len(layers_of(model, ResidualDCN)) == 1
    (mlp,) = layers_of(model, GatedMLP)
    assert mlp.use_gates and mlp.units == [256, 256, 256, 256]
    assert len(layers_of(model, SparseMoE)) == 1
    (heads,) = layers_of(model, GroupedTaskHeads)
    assert heads.task_groups == {"click": ["click", "long_dwell"],
                                 "contribution": ["like", "comment", "share", "vote"]}
    calibrations = layers_of(model, IsotonicCalibration)
    assert sorted(c.name for c in calibrations) == sorted(f"{t}_calibration" for t in TASKS)
    assert all(c.calibration_vocab_sizes == [64, 64] for c in calibrations)
    assert sorted(model.output_names) == sorted(TASKS)


def test_full_model_loss_decreases(trained):
    _, _, history = trained
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0], history


def test_full_model_keras_file_round_trip(feed, trained, tmp_path):
    _, (_, _, inputs, _) = feed
    _, model, _ = trained
    probe = {name: value[:64] for name, value in inputs.items()}
    expected = scores(model, probe)
    model.save(tmp_path / "feed.keras")
    actual = scores(keras.saving.load_model(tmp_path / "feed.keras"), probe)
    for task in TASKS:
        np.testing.assert_allclose(actual[task], expected[task], rtol=1e-5, atol=1e-6)


def test_full_model_export_gives_the_keras_scores(feed, trained, tmp_path):
    manifest, (config, transform, _, _) = feed
    _, model, _ = trained
    records = first_records(manifest["test"][0], 40)
    records[0]["history_item_ids"], records[0]["history_action_types"] = [], []
    scores = assert_export_matches_keras(config.replace(model=trained[0].model), transform, model,
                                         records, tmp_path)
    assert all(0.0 < p < 1.0 for task in TASKS for p in scores[task])


# Each variant turns some switches on and others off; together they cover every switch.
VARIANTS = {
    "plain": ({"batch_norm_dense": False, "dense_gating": False, "interaction": "none",
               "multitask": "hard_sharing", "history_encoder": False, "sparse_moe": False,
               "isotonic_calibration": False, "calibration_features": []},
              {HardSharingHeads, MaskedPooling}, {TransActEncoder, ResidualDCN, CrossNetwork,
                                                  SparseMoE, IsotonicCalibration, HashBuckets}),
    "dcnv2_mmoe_masknet": ({"interaction": "dcnv2", "multitask": "mmoe", "masknet": True,
                            "options": {"masknet": {"output_dim": 32, "block_output_dim": 16}},
                            "isotonic_calibration": True, "calibration_features": []},
                           {CrossNetwork, MMoEHeads, ParallelMaskNet, IsotonicCalibration},
                           {ResidualDCN, HashBuckets}),
    "no_ids_no_history_ple": ({"id_features": False, "use_history": False, "multitask": "ple",
                               "interaction": "residual_dcn"},
                              {PLEHeads, ResidualDCN}, {QRHashEmbedding, TransActEncoder}),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_each_switch_changes_the_model_and_trains_a_step(feed, name):
    _, (_, _, inputs, labels) = feed
    overrides, present, absent = VARIANTS[name]
    config = config_with(overrides)
    model = compile_for(build_model(config), config, run_eagerly=True)
    types = {type(layer) for layer in model.layers}
    assert present <= types, present - types
    assert not absent & types, absent & types
    if not config.model.batch_norm_dense:
        assert "dense_batch_norm" not in [layer.name for layer in model.layers]
    batch = {key: value[:64] for key, value in inputs.items()}
    targets = {key: value[:64] for key, value in labels.items()}
    loss = model.train_on_batch(batch, targets, return_dict=True)["loss"]
    assert np.isfinite(loss)
    gated = layers_of(model, GatedMLP)[0]
    assert gated.use_gates == config.model.dense_gating


def test_without_ids_the_model_ignores_the_id_inputs(feed):
    _, (_, _, inputs, _) = feed
    model = build_model(config_with({"id_features": False, "use_history": False}))
    batch = {key: value[:16] for key, value in inputs.items()}
    scrambled = dict(batch, viewer_id=batch["viewer_id"][::-1],
                     post_hashtag_ids=batch["post_hashtag_ids"] * 0)
    first, second = scores(model, batch), scores(model, scrambled)
    np.testing.assert_array_equal(first["click"], second["click"])


def test_calibration_features_change_the_calibrated_output(feed):
    _, (_, _, inputs, _) = feed
    model = build_model(config_with({}))
    batch = {key: value[:32] for key, value in inputs.items()}
    baseline = scores(model, batch)
    tables = model.get_layer("like_calibration").calibration_tables
    tables[0].assign(np.full(tables[0].shape, 0.5, np.float32))   # platform embedding e
    moved = scores(model, batch)
    assert np.all(moved["like"] != baseline["like"])
    np.testing.assert_array_equal(moved["click"], baseline["click"])   # other heads unchanged


@pytest.mark.parametrize("overrides, message", [
    ({"calibration_features": ["post_hashtag_ids"]}, "not a single-id feature"),
    ({"options": {"transact": {"heads": 2}}}, r"model.options.transact: unknown key\(s\) \['heads'\]"),
    ({"options": {"gru": {}}}, r"unknown block\(s\) \['gru'\]"),
])
def test_bad_model_options_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_model(config_with(overrides))


@pytest.mark.parametrize("overrides, message", [
    ({"route_feature": "platform"}, "route_feature and model.route_values go together"),
    ({"hidden_units": []}, "model.hidden_units"),
    ({"calibration_buckets": 0}, "model.calibration_buckets"),
])
def test_bad_model_config_is_rejected(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get_experiment("feed", {"model": overrides})
