"""TransAct history encoder (lirank_tf.layers.transact) against a NumPy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          assert_weight_shapes, functional_model)

from lirank_tf.layers import transact
from lirank_tf.layers.qr_hash import QRHashEmbedding
from lirank_tf.layers.transact import TransActEncoder

BATCH, STEPS, ITEM_DIM, ACTION_DIM, CANDIDATE_DIM, NUM_ACTIONS = 5, 7, 6, 3, 3, 4
WIDTH = ITEM_DIM + ACTION_DIM + CANDIDATE_DIM  # 12
MASK = np.array([[1, 1, 1, 1, 1, 1, 1],       # full history
                 [1, 1, 1, 0, 0, 0, 0],       # left-aligned, shorter than last_steps
                 [0, 0, 0, 1, 1, 1, 1],       # right-aligned
                 [0, 0, 0, 0, 0, 0, 0],       # empty history
                 [1, 0, 1, 1, 0, 1, 1]], bool)  # gaps


def fixed(shape, phase, scale=0.3):
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size) * 0.61)).reshape(shape).astype("float32")


def batch_inputs(mask=MASK, seed=4):
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(len(mask), mask.shape[1], ITEM_DIM)).astype("float32")
    actions = rng.integers(0, NUM_ACTIONS, size=mask.shape).astype("int32")
    candidate = rng.normal(size=(len(mask), CANDIDATE_DIM)).astype("float32")
    return [items, actions, candidate, mask]


def built_encoder(inputs=None, **kwargs):
    """An encoder with fixed weights; returns it and its weights by path below the layer."""
    arguments = dict(num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM)
    arguments.update(kwargs)
    encoder = TransActEncoder(**arguments)
    encoder(*[tf.constant(x) for x in (inputs or batch_inputs())])
    weights = {}
    for index, weight in enumerate(encoder.weights):
        value = fixed(weight.shape, phase=37 * index + 1)
        if weight.path.endswith("gamma"):
            value = 1.0 + value
        weight.assign(value)
        weights[weight.path[len(encoder.path) + 1:]] = value.astype(np.float64)
    return encoder, weights


def layer_norm(x, gamma, beta, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def attention(x, mask, w, prefix, num_heads):
    """Multi-head self-attention over the valid keys of each row, with explicit loops."""
    query = np.einsum("btd,dhk->bthk", x, w[f"{prefix}/query/kernel"]) + w[f"{prefix}/query/bias"]
    key = np.einsum("btd,dhk->bthk", x, w[f"{prefix}/key/kernel"]) + w[f"{prefix}/key/bias"]
    value = np.einsum("btd,dhk->bthk", x, w[f"{prefix}/value/kernel"]) + w[f"{prefix}/value/bias"]
    key_dim = query.shape[-1]
    mixed = np.zeros_like(query)
    for b in range(x.shape[0]):
        valid = np.flatnonzero(mask[b])
        if not len(valid):
            continue  # every query of an empty history is discarded by the pooling
        for h in range(num_heads):
            for t in range(x.shape[1]):
                scores = key[b, valid, h] @ query[b, t, h] / np.sqrt(key_dim)
                probs = np.exp(scores - scores.max())
                mixed[b, t, h] = (probs / probs.sum()) @ value[b, valid, h]
    return np.einsum("bthk,hkd->btd", mixed, w[f"{prefix}/attention_output/kernel"]) \
        + w[f"{prefix}/attention_output/bias"]


def reference_transact(w, items, actions, candidate, mask, num_layers=2, num_heads=2,
                       last_steps=5):
    if actions.ndim == 2:
        actions = w["action_embedding/embeddings"][np.where(mask, actions, 0)]
    steps = items.shape[1]
    x = np.concatenate([items, actions, np.repeat(candidate[:, None], steps, 1)], -1)
    x = x.astype(np.float64)
    for i in range(num_layers):
        x = layer_norm(x + attention(x, mask, w, f"attention_{i}", num_heads),
                       w[f"attention_norm_{i}/gamma"], w[f"attention_norm_{i}/beta"])
        hidden = np.maximum(x @ w[f"ffn_hidden_{i}/kernel"] + w[f"ffn_hidden_{i}/bias"], 0)
        x = layer_norm(x + hidden @ w[f"ffn_output_{i}/kernel"] + w[f"ffn_output_{i}/bias"],
                       w[f"ffn_norm_{i}/gamma"], w[f"ffn_norm_{i}/beta"])
    rows = []
    for b in range(x.shape[0]):
        valid = np.flatnonzero(mask[b])
        zeros = np.zeros(x.shape[-1])
        pooled = x[b, valid].max(0) if len(valid) else zeros
        recent = [x[b, t] for t in valid[::-1][:last_steps]]
        recent += [zeros] * (last_steps - len(recent))
        rows.append(np.concatenate([pooled] + recent))
    return np.array(rows)


def test_matches_numpy_reference_with_action_ids():
    encoder, weights = built_encoder()
    inputs = batch_inputs()
    got = encoder(*[tf.constant(x) for x in inputs]).numpy()
    assert got.shape == (BATCH, 6 * WIDTH)
    np.testing.assert_allclose(got, reference_transact(weights, *inputs), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got[3], np.zeros(6 * WIDTH))  # empty history


def test_matches_numpy_reference_with_action_embeddings_and_other_sizes():
    items, _, candidate, mask = batch_inputs()
    action_embeddings = fixed((BATCH, STEPS, ACTION_DIM), phase=999)
    encoder, weights = built_encoder([items, action_embeddings, candidate, mask],
                                     num_actions=None, num_layers=1, num_heads=3, last_steps=2)
    got = encoder(items, action_embeddings, candidate, mask).numpy()
    expected = reference_transact(weights, items, action_embeddings, candidate, mask,
                                  num_layers=1, num_heads=3, last_steps=2)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_left_and_right_aligned_histories_give_the_same_output():
    encoder, _ = built_encoder()
    items, actions, candidate, _ = batch_inputs()
    left = np.zeros((BATCH, STEPS), bool)
    left[:, :4] = True
    right = np.zeros((BATCH, STEPS), bool)
    right[:, 3:] = True
    shift = lambda x: np.roll(x, 3, axis=1)  # noqa: E731  left-aligned steps moved right
    out_left = encoder(items, actions, candidate, left).numpy()
    out_right = encoder(shift(items), shift(actions), candidate, right).numpy()
    np.testing.assert_allclose(out_left, out_right, rtol=1e-5, atol=1e-6)


def test_values_at_padding_positions_are_ignored():
    encoder, _ = built_encoder()
    items, actions, candidate, mask = batch_inputs()
    noisy_items = np.where(mask[..., None], items, 1e3).astype("float32")
    noisy_actions = np.where(mask, actions, NUM_ACTIONS + 100).astype("int32")  # out of range
    np.testing.assert_allclose(encoder(noisy_items, noisy_actions, candidate, mask).numpy(),
                               encoder(items, actions, candidate, mask).numpy(), atol=1e-6)


@pytest.mark.parametrize("length", [25, 100])
def test_paper_history_lengths(length):
    encoder = TransActEncoder(num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=4)
    mask = np.arange(length)[None, :] < np.array([[length], [1], [0]])
    items, actions, candidate, mask = batch_inputs(mask)
    out = encoder(items, actions, candidate, mask).numpy()
    assert out.shape == (3, 6 * (ITEM_DIM + 4 + CANDIDATE_DIM)) and np.all(np.isfinite(out))


def test_weight_shapes_and_half_width_feed_forward():
    encoder, _ = built_encoder(num_layers=1)
    key_dim = WIDTH // 2
    assert_weight_shapes(encoder, {
        "action_embedding/embeddings": (NUM_ACTIONS, ACTION_DIM),
        **{f"attention_0/{part}/kernel": (WIDTH, 2, key_dim)
           for part in ("query", "key", "value")},
        **{f"attention_0/{part}/bias": (2, key_dim) for part in ("query", "key", "value")},
        "attention_0/attention_output/kernel": (2, key_dim, WIDTH),
        "attention_0/attention_output/bias": (WIDTH,),
        "ffn_hidden_0/kernel": (WIDTH, WIDTH // 2), "ffn_hidden_0/bias": (WIDTH // 2,),
        "ffn_output_0/kernel": (WIDTH // 2, WIDTH), "ffn_output_0/bias": (WIDTH,),
        **{f"{norm}_0/{part}": (WIDTH,) for norm in ("attention_norm", "ffn_norm")
           for part in ("gamma", "beta")},
    })


def test_gradients_finite_with_an_empty_history_in_the_batch():
    inputs = batch_inputs()
    model = functional_model(
        TransActEncoder(num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM),
        inputs)
    # A key bias adds the same score to every key of a query: softmax removes it, so its
    # gradient is exactly zero.
    assert_gradients_finite_nonzero(model, inputs, skip=("key/bias",))


def test_config_round_trip():
    assert_config_round_trip(TransActEncoder(num_heads=4, num_layers=3, ffn_dim=16, key_dim=8,
                                             last_steps=3, num_actions=7,
                                             action_embedding_dim=5, dropout=0.1,
                                             layer_norm_epsilon=1e-5))


def test_save_reload_equal(tmp_path):
    inputs = batch_inputs()
    model = functional_model(
        TransActEncoder(num_heads=2, num_actions=NUM_ACTIONS, action_embedding_dim=ACTION_DIM),
        inputs)
    assert_save_reload_equal(model, inputs, tmp_path, atol=1e-5)


def test_composes_with_qr_hash_sequence_embeddings(tmp_path):
    history = keras.Input(shape=(None,), dtype="string", name="history_ids")
    actions = keras.Input(shape=(None,), dtype="int32", name="action_ids")
    candidate = keras.Input(shape=(), dtype="string", name="candidate_id")
    item_embeddings, mask = QRHashEmbedding(4, 50, 7, output_mode="sequence")(history)
    candidate_embedding = QRHashEmbedding(4, 50, 7)(candidate)
    encoded = TransActEncoder(num_heads=2, num_actions=3, action_embedding_dim=2)(
        item_embeddings, actions, candidate_embedding, mask)
    model = keras.Model([history, actions, candidate], keras.layers.Dense(1)(encoded))
    batch = [tf.constant([["post:1", "post:2", ""], ["", "", ""]]),
             tf.constant([[0, 2, 0], [0, 0, 0]], tf.int32), tf.constant(["post:9", "post:3"])]
    out = model(batch).numpy()
    assert out.shape == (2, 1) and np.all(np.isfinite(out))
    assert_save_reload_equal(model, batch, tmp_path, atol=1e-5)


@pytest.mark.parametrize("kwargs, name", [
    ({"num_heads": 0}, "num_heads"), ({"num_layers": -1}, "num_layers"),
    ({"ffn_dim": 0}, "ffn_dim"), ({"key_dim": 1.5}, "key_dim"), ({"last_steps": 0}, "last_steps"),
    ({"num_actions": 0}, "num_actions"), ({"action_embedding_dim": None}, "action_embedding_dim"),
    ({"dropout": 1.0}, "dropout"), ({"layer_norm_epsilon": 0}, "layer_norm_epsilon"),
])
def test_invalid_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TransActEncoder(**kwargs)


def test_float_actions_are_required_without_an_action_vocabulary():
    items, actions, candidate, mask = batch_inputs()
    with pytest.raises(ValueError, match="actions"):
        TransActEncoder(num_heads=2)(items, actions, candidate, mask)


def test_docstring_examples_run():
    assert_doctests_pass(transact)
