"""The touched-row embedding L2 (model.embedding_l2) of a dcnv2 model whose QR tables are
sharded over two thread-ranks equals the plain model's penalty on the same batch."""

import numpy as np
import tensorflow as tf

from dist_fake_contexts import ThreadGroup
from lirank_tf.config import ExperimentConfig
from lirank_tf.distributed.model_parallel import shard_model
from lirank_tf.distributed.sharded_layers import ShardedQRHashEmbedding
from lirank_tf.distributed.variables import sharded_layers
from lirank_tf.models import build_model


def _config():
    return ExperimentConfig.from_dict({
        "name": "l2", "tasks": [{"name": "click", "label": "click"}],
        "features": {"tables": [{"name": "user", "dim": 4, "num_quotient_buckets": 3,
                                 "num_remainder_buckets": 7},
                                {"name": "tag", "dim": 4, "num_quotient_buckets": 2,
                                 "num_remainder_buckets": 5}],
                     "ids": [{"name": "user", "table": "user"},
                             {"name": "tags", "table": "tag", "kind": "id_list", "max_length": 3}]},
        "model": {"name": "dcnv2", "hidden_units": [8], "tower_units": [], "interaction": "dcnv2",
                  "cross_layers": 1, "cross_rank": 2, "multitask": "hard_sharing",
                  "embedding_l2": 0.5}})


def test_sharded_penalty_equals_the_plain_models():
    plain = build_model(_config())
    group = ThreadGroup(2)
    models = [shard_model(plain, group.context(rank), broadcast_tables=False) for rank in range(2)]
    assert any(isinstance(layer, ShardedQRHashEmbedding) for layer in sharded_layers(models[0]))
    rng = np.random.default_rng(0)
    inputs = [{"user": tf.constant(rng.integers(1, 1000, [4]), tf.int64),
               "tags": tf.constant(rng.integers(0, 1000, [4, 3]) * (rng.random([4, 3]) < 0.6),
                                   tf.int64)} for _ in range(2)]

    def penalty(model, batch):
        model(batch, training=True)
        return float(sum(model.losses))

    sharded = group.run(lambda rank: penalty(models[rank], inputs[rank]))
    for rank in range(2):
        expected = penalty(plain, inputs[rank])
        assert expected > 0
        np.testing.assert_allclose(sharded[rank], expected, rtol=1e-5)
