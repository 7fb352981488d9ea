"""The dcnv2 model's recipe switches: model.embedding_l2 (one touched-row penalty per id
feature) and model.mlp_batch_norm, and their config checks."""

import pytest
import tensorflow as tf

from lirank_tf.config import ConfigError, ExperimentConfig
from lirank_tf.models import build_model
from lirank_tf.models.regularization import TouchedRowL2


def _config(**model):
    return ExperimentConfig.from_dict({
        "name": "recipe", "tasks": [{"name": "click", "label": "click"}],
        "features": {"tables": [{"name": "user", "dim": 4, "num_quotient_buckets": 1,
                                 "num_remainder_buckets": 32}],
                     "ids": [{"name": "user", "table": "user"},
                             {"name": "friends", "table": "user", "kind": "id_list",
                              "max_length": 2}]},
        "model": {"name": "dcnv2", "hidden_units": [8, 4], "tower_units": [],
                  "interaction": "dcnv2", "cross_layers": 1, "cross_rank": 2,
                  "multitask": "hard_sharing", **model}})


def test_embedding_l2_adds_one_penalty_per_id_feature_and_none_when_off():
    model = build_model(_config(embedding_l2=0.1))
    penalties = [layer for layer in model.layers if isinstance(layer, TouchedRowL2)]
    assert sorted(layer.name for layer in penalties) == ["friends_l2", "user_l2"]
    batch = {"user": tf.constant([3, 5], tf.int64), "friends": tf.constant([[3, 0], [7, 9]], tf.int64)}
    model(batch, training=True)
    assert len(model.losses) == 2 and all(float(loss) > 0 for loss in model.losses)
    plain = build_model(_config())
    assert not [layer for layer in plain.layers if isinstance(layer, TouchedRowL2)]
    plain(batch, training=True)
    assert plain.losses == []


def test_mlp_batch_norm_normalises_every_hidden_layer():
    mlp = build_model(_config(mlp_batch_norm=True)).get_layer("mlp")
    assert mlp.use_batch_norm and len(mlp.norm_layers) == 2
    assert not build_model(_config()).get_layer("mlp").use_batch_norm


@pytest.mark.parametrize("value", [-0.01, float("inf")])
def test_bad_embedding_l2_is_a_config_error(value):
    with pytest.raises(ConfigError, match=r"model.embedding_l2: expected a finite number >= 0"):
        _config(embedding_l2=value)
