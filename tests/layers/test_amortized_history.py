"""AmortizedHistoryEncoder (lirank_tf.layers.amortized_history) against a NumPy reference that
appends the candidates to the history sequence and runs a Transformer with a block mask."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import amortized_history
from lirank_tf.layers.amortized_history import AmortizedHistoryEncoder

STEPS, ITEM_DIM, ACTION_DIM, NUM_ACTIONS = 7, 6, 3, 4
WIDTH = ITEM_DIM + ACTION_DIM  # 9
MASKS = np.array([[1, 1, 1, 1, 1, 1, 1],       # full history
                  [0, 0, 0, 0, 0, 0, 0],       # empty history
                  [1, 0, 1, 1, 0, 1, 0]], bool)  # gaps, shorter than last_steps after them


def fixed(shape, phase, scale=0.3):
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size) * 0.61)).reshape(shape).astype("float32")


def member_inputs(masks=MASKS, per_member=4, seed=3):
    """History of each member [M, T, ...] and its candidates [M * per_member, d] (grouped)."""
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(len(masks), masks.shape[1], ITEM_DIM)).astype("float32")
    actions = rng.integers(0, NUM_ACTIONS, size=masks.shape).astype("int32")
    candidates = rng.normal(size=(len(masks) * per_member, ITEM_DIM)).astype("float32")
    return items, actions, candidates, masks


def per_candidate(items, actions, masks, per_member):
    """The same pairs with the member's history repeated on every candidate row."""
    return [np.repeat(x, per_member, axis=0) for x in (items, actions, masks)]


def built_encoder(inputs=None, **kwargs):
    """An encoder with fixed (non-random) weights, and those weights by path below the layer."""
    arguments = dict(num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM)
    arguments.update(kwargs)
    encoder = AmortizedHistoryEncoder(**arguments)
    encoder(*[tf.constant(x) for x in (inputs or member_inputs())])
    weights = {}
    for index, weight in enumerate(encoder.weights):
        value = fixed(weight.shape, phase=29 * index + 3)
        if weight.path.endswith("gamma"):
            value = 1.0 + value
        weight.assign(value)
        weights[weight.path[len(encoder.path) + 1:]] = value.astype(np.float64)
    return encoder, weights


def layer_norm(x, gamma, beta, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + epsilon) * gamma + beta


def masked_attention(x, allowed, w, layer, num_heads):
    """Multi-head attention of every token of ``x`` [S, D] over the keys ``allowed[q]``."""
    project = {part: np.einsum("sd,dhk->shk", x, w[f"attention_{layer}_{part}_kernel"])
               + w[f"attention_{layer}_{part}_bias"] for part in ("query", "key", "value")}
    key_dim = project["query"].shape[-1]
    mixed = np.zeros_like(project["query"])
    for q in range(len(x)):
        keys = np.flatnonzero(allowed[q])
        if not len(keys):
            continue  # a padding step of an empty history: never read
        for h in range(num_heads):
            scores = project["key"][keys, h] @ project["query"][q, h] / np.sqrt(key_dim)
            probabilities = np.exp(scores - scores.max())
            mixed[q, h] = probabilities / probabilities.sum() @ project["value"][keys, h]
    return np.einsum("shk,hkd->sd", mixed, w[f"attention_{layer}_output_kernel"]) \
        + w[f"attention_{layer}_output_bias"]


def reference_member(w, items, actions, candidates, mask, num_layers=2, num_heads=2,
                     last_steps=5):
    """Outputs [N, (last_steps + 2) * D] for one member's history and N candidates, from the
    whole sequence [history steps, candidates] and the amortization mask."""
    if actions.ndim == 1:
        actions = w["action_embedding/embeddings"][np.where(mask, actions, 0)]
    steps, count = len(mask), len(candidates)
    marker = np.repeat(w["candidate_action"][None], count, 0)
    x = np.concatenate([np.concatenate([items, actions], -1),
                        np.concatenate([candidates, marker], -1)]).astype(np.float64)
    allowed = np.zeros((steps + count, steps + count), bool)
    allowed[:, :steps] = mask[None, :]                    # everyone sees the valid history
    allowed[steps:, steps:] = np.eye(count, dtype=bool)   # a candidate also sees itself only
    for i in range(num_layers):
        x = layer_norm(x + masked_attention(x, allowed, w, i, num_heads),
                       w[f"attention_norm_{i}/gamma"], w[f"attention_norm_{i}/beta"])
        hidden = np.maximum(x @ w[f"ffn_hidden_{i}/kernel"] + w[f"ffn_hidden_{i}/bias"], 0)
        x = layer_norm(x + hidden @ w[f"ffn_output_{i}/kernel"] + w[f"ffn_output_{i}/bias"],
                       w[f"ffn_norm_{i}/gamma"], w[f"ffn_norm_{i}/beta"])
    valid = np.flatnonzero(mask)
    zeros = np.zeros(x.shape[-1])
    pooled = x[valid].max(0) if len(valid) else zeros
    recent = [x[t] for t in valid[::-1][:last_steps]]
    recent += [zeros] * (last_steps - len(recent))
    summary = np.concatenate([pooled] + recent)
    return np.stack([np.concatenate([x[steps + j], summary]) for j in range(count)])


def reference(w, items, actions, candidates, masks, **kwargs):
    per_member = len(candidates) // len(masks)
    return np.concatenate([
        reference_member(w, items[m], actions[m], candidates[m * per_member:(m + 1) * per_member],
                         masks[m], **kwargs) for m in range(len(masks))])


def test_grouped_candidates_match_the_appended_sequence_reference():
    encoder, weights = built_encoder()
    inputs = member_inputs()
    got = encoder(*inputs).numpy()
    assert got.shape == (12, 7 * WIDTH)
    np.testing.assert_allclose(got, reference(weights, *inputs), rtol=1e-4, atol=1e-5)
    # empty history: the candidate attends to itself only; pooled and last steps are zeros
    np.testing.assert_array_equal(got[4:8, WIDTH:], np.zeros((4, 6 * WIDTH)))
    assert np.all(np.abs(got[4:8, :WIDTH]) > 0)


def test_one_member_many_candidates_equals_the_per_candidate_path():
    encoder, weights = built_encoder()
    items, actions, candidates, masks = member_inputs(masks=MASKS[2:], per_member=50)
    amortized = encoder(items, actions, candidates, masks).numpy()
    repeated_items, repeated_actions, repeated_masks = per_candidate(items, actions, masks, 50)
    one_per_row = encoder(repeated_items, repeated_actions, candidates, repeated_masks).numpy()
    np.testing.assert_allclose(amortized, one_per_row, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(amortized[:5], reference(weights, items, actions, candidates[:5],
                                                        masks), rtol=1e-4, atol=1e-5)


def test_rows_of_interleaved_members_encode_each_distinct_history_once():
    """Inference on one candidate per row, rows of three members interleaved (as a Predict
    request mixing members sends them): each distinct history is encoded once (the graph
    holds UniqueV2), and every row equals the NumPy reference and the training path, which
    encodes every row's history."""
    encoder, weights = built_encoder()
    items, actions, candidates, masks = member_inputs(per_member=5)
    order = np.arange(15) % 3   # member of each row: 0, 1, 2, 0, 1, 2, ...
    rows = [x[order] for x in (items, actions, masks)]
    got = encoder(rows[0], rows[1], candidates, rows[2], training=False).numpy()
    trained_path = encoder(rows[0], rows[1], candidates, rows[2], training=True).numpy()
    expected = np.concatenate([reference(weights, items[m:m + 1], actions[m:m + 1],
                                         candidates[i:i + 1], masks[m:m + 1])
                               for i, m in enumerate(order)])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, trained_path, rtol=1e-5, atol=1e-6)
    graph = tf.function(lambda *x: encoder(*x, training=False)).get_concrete_function(
        *(tf.constant(x) for x in (rows[0], rows[1], candidates, rows[2]))).graph
    assert "UniqueV2" in {op.type for op in graph.get_operations()}


def test_a_candidate_does_not_see_the_other_candidates():
    encoder, _ = built_encoder()
    items, actions, candidates, masks = member_inputs(masks=MASKS[:1], per_member=6)
    changed = candidates.copy()
    changed[3] += 5.0
    before = encoder(items, actions, candidates, masks).numpy()
    after = encoder(items, actions, changed, masks).numpy()
    np.testing.assert_array_equal(np.delete(after, 3, axis=0), np.delete(before, 3, axis=0))
    assert not np.allclose(after[3, :WIDTH], before[3, :WIDTH])
    np.testing.assert_array_equal(after[3, WIDTH:], before[3, WIDTH:])  # history part


def test_float_action_embeddings_other_sizes_and_no_last_steps():
    items, _, candidates, masks = member_inputs(per_member=2)
    action_embeddings = fixed((len(masks), STEPS, ACTION_DIM), phase=500)
    inputs = [items, action_embeddings, candidates, masks]
    encoder, weights = built_encoder(inputs, num_actions=None, num_layers=1, num_heads=3,
                                     last_steps=0, ffn_dim=5, key_dim=4)
    got = encoder(*inputs).numpy()
    assert got.shape == (6, 2 * WIDTH)
    expected = reference(weights, *inputs, num_layers=1, num_heads=3, last_steps=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_values_at_padding_positions_are_ignored():
    encoder, _ = built_encoder()
    items, actions, candidates, masks = member_inputs()
    noisy_items = np.where(masks[..., None], items, 1e3).astype("float32")
    noisy_actions = np.where(masks, actions, NUM_ACTIONS + 100).astype("int32")  # out of range
    np.testing.assert_allclose(encoder(noisy_items, noisy_actions, candidates, masks).numpy(),
                               encoder(items, actions, candidates, masks).numpy(), atol=1e-6)


def test_zero_candidates_give_an_empty_output():
    encoder, _ = built_encoder()
    items, actions, candidates, masks = member_inputs()
    assert encoder(items[:1], actions[:1], candidates[:0], masks[:1]).shape == (0, 7 * WIDTH)


def test_candidate_rows_must_be_a_multiple_of_history_rows():
    encoder, _ = built_encoder()
    items, actions, candidates, masks = member_inputs()
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of the history rows"):
        encoder(items, actions, candidates[:5], masks)


def test_weight_shapes_and_half_width_feed_forward():
    encoder, _ = built_encoder(num_layers=1)
    key_dim = WIDTH // 2
    assert_weight_shapes(encoder, {
        "candidate_action": (ACTION_DIM,),
        "action_embedding/embeddings": (NUM_ACTIONS, ACTION_DIM),
        **{f"attention_0_{part}_kernel": (WIDTH, 2, key_dim) for part in ("query", "key", "value")},
        **{f"attention_0_{part}_bias": (2, key_dim) for part in ("query", "key", "value")},
        "attention_0_output_kernel": (2, key_dim, WIDTH), "attention_0_output_bias": (WIDTH,),
        "ffn_hidden_0/kernel": (WIDTH, WIDTH // 2), "ffn_hidden_0/bias": (WIDTH // 2,),
        "ffn_output_0/kernel": (WIDTH // 2, WIDTH), "ffn_output_0/bias": (WIDTH,),
        **{f"{norm}_0/{part}": (WIDTH,) for norm in ("attention_norm", "ffn_norm")
           for part in ("gamma", "beta")},
    })


def test_gradients_finite_and_nonzero_with_an_empty_history_in_the_batch():
    items, actions, candidates, masks = member_inputs(per_member=1)
    inputs = [items, actions, candidates, masks]
    model = functional_model(AmortizedHistoryEncoder(
        num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM), inputs)
    # a key bias adds the same score to every key of a query: softmax removes it
    assert_gradients_finite_nonzero(model, inputs, skip=("key_bias",))


def test_functional_model_broadcasts_one_history_over_many_candidates():
    """A Keras model with batch-free inputs runs the amortized path when fed one history row."""
    items, actions, candidates, masks = member_inputs(masks=MASKS[:1], per_member=20)
    model = functional_model(AmortizedHistoryEncoder(
        num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM),
        [items, actions, candidates, masks])
    amortized = np.asarray(model([items, actions, candidates, masks]))
    one_per_row = np.asarray(model([*per_candidate(items, actions, masks, 20)[:2], candidates,
                                    per_candidate(items, actions, masks, 20)[2]]))
    np.testing.assert_allclose(amortized, one_per_row, rtol=1e-5, atol=1e-6)


def test_config_round_trip():
    assert_config_round_trip(AmortizedHistoryEncoder(
        num_heads=4, num_layers=3, ffn_dim=16, key_dim=8, last_steps=0, num_actions=7,
        action_embedding_dim=5, dropout=0.1, layer_norm_epsilon=1e-5))


def test_transact_config_builds_the_amortized_encoder():
    from lirank_tf.layers.transact import TransActEncoder
    config = TransActEncoder(num_heads=3, last_steps=4, action_embedding_dim=6).get_config()
    assert AmortizedHistoryEncoder.from_config(config).get_config() == config


def test_save_reload_equal(tmp_path):
    items, actions, candidates, masks = member_inputs(per_member=1)
    inputs = [items, actions, candidates, masks]
    model = functional_model(AmortizedHistoryEncoder(
        num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM), inputs)
    assert_save_reload_equal(model, inputs, tmp_path, atol=1e-5)


@pytest.mark.parametrize("kwargs, name", [
    ({"num_heads": 0}, "num_heads"), ({"num_layers": -1}, "num_layers"),
    ({"ffn_dim": 0}, "ffn_dim"), ({"key_dim": 1.5}, "key_dim"), ({"last_steps": -1}, "last_steps"),
    ({"last_steps": True}, "last_steps"), ({"num_actions": 0}, "num_actions"),
    ({"action_embedding_dim": None}, "action_embedding_dim"), ({"dropout": 1.0}, "dropout"),
    ({"layer_norm_epsilon": 0}, "layer_norm_epsilon"),
])
def test_invalid_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AmortizedHistoryEncoder(**kwargs)


def test_candidate_width_must_equal_the_item_width():
    items, actions, candidates, masks = member_inputs()
    with pytest.raises(ValueError, match="candidate_embedding must have the width"):
        AmortizedHistoryEncoder(num_actions=NUM_ACTIONS)(items, actions, candidates[:, :4], masks)


def test_float_actions_are_required_without_an_action_vocabulary():
    items, actions, candidates, masks = member_inputs()
    with pytest.raises(ValueError, match="actions"):
        AmortizedHistoryEncoder(num_heads=2)(items, actions, candidates, masks)


def test_docstring_examples_run():
    assert_doctests_pass(amortized_history)


def test_layer_is_keras_serializable_by_name():
    assert keras.saving.get_registered_object("lirank_tf>AmortizedHistoryEncoder") \
        is AmortizedHistoryEncoder


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("layout", ["one_per_row", "one_member", "mixed_members"])
def test_every_batch_layout_matches_the_reference_in_training_and_inference(layout, training):
    """M == B (rows of three members interleaved, histories repeated), M == 1 (one member's
    candidates) and M == 3 grouped members: training (no deduplication, candidates grouped by
    history row) and inference (distinct histories once, then one member or gathered keys)
    both equal the float64 NumPy reference of the appended sequence."""
    encoder, weights = built_encoder()
    items, actions, candidates, masks = member_inputs(per_member=4)
    if layout == "one_per_row":
        order = np.arange(12) % 3
        inputs = [items[order], actions[order], candidates, masks[order]]
        expected = np.concatenate([reference(weights, items[m:m + 1], actions[m:m + 1],
                                             candidates[i:i + 1], masks[m:m + 1])
                                   for i, m in enumerate(order)])
    elif layout == "one_member":
        inputs = [items[2:], actions[2:], candidates, masks[2:]]
        expected = reference(weights, *inputs)
    else:
        inputs = [items, actions, candidates, masks]
        expected = reference(weights, *inputs)
    got = encoder(*inputs, training=training).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_one_member_sent_row_by_row_uses_that_members_states_for_every_row():
    """Inference on N rows of one member (a TF Serving request): the encoder dedups to one
    history and every candidate reads it without a per-candidate gather; the result equals
    the one-history call and the reference."""
    encoder, weights = built_encoder()
    items, actions, candidates, masks = member_inputs(masks=MASKS[2:], per_member=9)
    rows = per_candidate(items, actions, masks, 9)
    got = encoder(rows[0], rows[1], candidates, rows[2], training=False).numpy()
    np.testing.assert_allclose(got, reference(weights, items, actions, candidates, masks),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, encoder(items, actions, candidates, masks).numpy(),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("layout", ["one_member", "one_per_row"])
def test_every_candidate_of_a_large_batch_matches_the_reference(training, layout):
    """512 candidates, each compared: of one member, and one per row with three members'
    histories interleaved (training batches). The earlier ellipsis einsums
    (``...d,dhk->...hk``, ``...hk,hkd->...d``) give wrong rows for the second half of such
    batches under TensorFlow 2.16's oneDNN einsum (from ~64 rows with 2 intra-op threads,
    at 512 rows with one), so trained models and served scores were wrong there."""
    encoder, weights = built_encoder()
    if layout == "one_member":
        items, actions, candidates, masks = member_inputs(masks=MASKS[2:], per_member=512)
        got = encoder(items, actions, candidates, masks, training=training).numpy()
        expected = reference(weights, items, actions, candidates, masks)
    else:
        items, actions, candidates, masks = member_inputs(per_member=171)
        order = np.arange(len(candidates)) % 3
        got = encoder(items[order], actions[order], candidates, masks[order],
                      training=training).numpy()
        expected = np.concatenate([reference(weights, items[m:m + 1], actions[m:m + 1],
                                             candidates[i:i + 1], masks[m:m + 1])
                                   for i, m in enumerate(order)])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
