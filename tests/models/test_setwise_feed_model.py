"""Set-wise scoring in the Feed model (``model.setwise_group``, lirank_tf.models.setwise): the
candidates of one member attend to each other before the task heads, other members' never."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving_test_models import build_serving_parts, keras_scores, make_records, small_config

from lirank_tf.config import ConfigError, get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.layers import GroupedTaskHeads, SetwiseAttention
from lirank_tf.models import build_model
from lirank_tf.data.records import records_to_request


@pytest.fixture(scope="module")
def setwise_parts():
    return build_serving_parts(amortized=False, setwise_group="viewer_id",
                               options={**small_config().model.options,
                                        "setwise": {"num_heads": 2, "num_layers": 2}})


def members_request(config, sizes: list[int], seed: int = 3) -> tuple[list[dict], dict]:
    """Records of ``len(sizes)`` members with ``sizes[m]`` candidates each, and the request."""
    records = make_records(config, sum(sizes), seed=seed)
    members = np.repeat(np.arange(len(sizes)), sizes)
    for record, member in zip(records, members):
        record["viewer_id"] = f"member:{member}"
    return records, records_to_request(records, raw_fields(config))


def test_setwise_attention_sits_between_the_trunk_and_the_heads(setwise_parts):
    config, _, model = setwise_parts
    (layer,) = [l for l in model.layers if isinstance(l, SetwiseAttention)]
    assert (layer.num_heads, layer.num_layers, layer.ffn_multiplier, layer.dropout) == (2, 2, 2, 0.0)
    (heads,) = [l for l in model.layers if isinstance(l, GroupedTaskHeads)]
    assert heads.input is layer.output
    items, groups = layer._inbound_nodes[0].input_tensors
    assert items.shape[-1] == config.model.hidden_units[-1]
    assert groups is model.get_layer("viewer_id").output     # the hashed viewer id input
    plain = build_model(small_config())
    assert not [l for l in plain.layers if isinstance(l, SetwiseAttention)]


def test_a_score_depends_on_its_members_other_candidates_only(setwise_parts):
    config, transform, model = setwise_parts
    records, request = members_request(config, [4, 3, 5])
    base = keras_scores(config, transform, model, request)
    for changed, same_member in ((1, range(0, 4)), (5, range(4, 7))):
        edited = [dict(r) for r in records]
        edited[changed]["actor_id"] = "actor_id:999"
        edited[changed]["dense_features"] = [3.0, -2.0, 1.0, 0.5]
        scores = keras_scores(config, transform, model, records_to_request(edited, raw_fields(config)))
        others = [i for i in same_member if i != changed]
        untouched = [i for i in range(len(records)) if i not in same_member]
        assert np.all(np.abs(scores["score"][others] - base["score"][others]) > 1e-6)
        np.testing.assert_allclose(scores["score"][untouched], base["score"][untouched],
                                   rtol=1e-6, atol=1e-7)
    # a member's scores do not depend on who else is in the batch, nor on the row order
    alone = keras_scores(config, transform, model,
                         records_to_request(records[4:7], raw_fields(config)))
    np.testing.assert_allclose(alone["score"], base["score"][4:7], rtol=1e-5, atol=1e-6)
    order = np.random.default_rng(0).permutation(len(records))
    permuted = keras_scores(config, transform, model,
                            records_to_request([records[i] for i in order], raw_fields(config)))
    np.testing.assert_allclose(permuted["score"], base["score"][order], rtol=1e-5, atol=1e-6)


def test_setwise_weights_get_finite_nonzero_gradients_and_a_keras_round_trip(tmp_path):
    config, transform, model = build_serving_parts(amortized=False, setwise_group="viewer_id")
    _, request = members_request(config, [6, 6, 4], seed=8)
    inputs = transform({k: tf.constant(v) for k, v in request.items()})
    labels = {t.name: tf.constant(np.tile([[1.0], [0.0]], (8, 1)), tf.float32) for t in config.tasks}
    (layer,) = [l for l in model.layers if isinstance(l, SetwiseAttention)]
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        loss = tf.add_n([keras.losses.binary_crossentropy(labels[t.name], outputs[t.name])[0]
                         for t in config.tasks])
    gradients = tape.gradient(loss, layer.trainable_weights)
    assert len(gradients) == len(layer.trainable_weights) > 0
    for weight, gradient in zip(layer.trainable_weights, gradients):
        assert np.all(np.isfinite(gradient.numpy())), weight.path
    assert all(np.abs(g.numpy()).max() > 0 for g in gradients)
    expected = keras_scores(config, transform, model, request)
    model.save(tmp_path / "setwise.keras")
    reloaded = keras.saving.load_model(tmp_path / "setwise.keras")
    actual = keras_scores(config, transform, reloaded, request)
    np.testing.assert_allclose(actual["score"], expected["score"], rtol=1e-6, atol=1e-6)


def test_the_setwise_group_must_be_a_single_id_feature_of_a_setwise_model():
    with pytest.raises(ConfigError, match=r"model.setwise_group: no id feature named 'session_id'"):
        build_model(small_config(setwise_group="session_id"))
    with pytest.raises(ConfigError, match=r"feature 'post_hashtag_ids' has kind 'id_list'"):
        build_model(small_config(setwise_group="post_hashtag_ids"))
    with pytest.raises(ConfigError, match=r"model 'ads' has no set-wise scoring"):
        build_model(get_experiment("ads", {"model": {"setwise_group": "member_id"}}))
    with pytest.raises(ConfigError, match=r"model.options.setwise: unknown key\(s\) \['heads'\]"):
        build_model(small_config(setwise_group="viewer_id", options={"setwise": {"heads": 2}}))
    with pytest.raises(ValueError, match="num_heads must be a positive int, got 0"):
        build_model(small_config(setwise_group="viewer_id", options={"setwise": {"num_heads": 0}}))
    with pytest.raises(ConfigError, match="model.setwise_group"):
        get_experiment("feed", {"model": {"setwise_group": 3}})
    config = get_experiment("feed", {"model": {"setwise_group": "viewer_id"}})
    assert type(config).from_dict(config.to_dict()).model.setwise_group == "viewer_id"
