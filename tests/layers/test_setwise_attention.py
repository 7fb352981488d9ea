"""SetwiseAttention against a NumPy reference; group isolation, order equivariance, history,
config and save round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layer_checks import (assert_config_round_trip, assert_doctests_pass,
                          assert_gradients_finite_nonzero, assert_save_reload_equal,
                          functional_model)
from lirank_tf.layers import setwise_attention
from lirank_tf.layers.setwise_attention import SetwiseAttention

RNG = np.random.default_rng(3)


def _norm(x, scale, offset, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + offset


def _softmax(s):
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


def reference(layer, items, groups, history=None, mask=None):
    """Row by row: each candidate's keys are its group's rows and its valid history steps."""
    w = {v.path.split("/")[-1]: np.asarray(v.numpy(), np.float64) for v in layer.weights}
    x = np.asarray(items, np.float64)
    hist = None if history is None else np.asarray(history, np.float64) @ w["history_projection"]
    for index in range(layer.num_layers):
        p = lambda name: w[f"layer{index}_{name}"]
        z = _norm(x, p("norm1_scale"), p("norm1_offset"))
        out = np.zeros_like(x)
        for i in range(len(x)):
            keys = [z[j] for j in range(len(x)) if groups[j] == groups[i]]
            if hist is not None:
                keys += [hist[i, t] for t in range(hist.shape[1]) if mask is None or mask[i, t]]
            keys = np.stack(keys)
            heads = []
            for h in range(layer.num_heads):
                q = z[i] @ p("query")[:, h]
                k, v = keys @ p("key")[:, h], keys @ p("value")[:, h]
                a = _softmax(k @ q / np.sqrt(q.shape[0]))
                heads.append(a @ v)
            out[i] = sum(heads[h] @ p("output")[h] for h in range(layer.num_heads))
        x = x + out
        hidden = np.maximum(_norm(x, p("norm2_scale"), p("norm2_offset")) @ p("ffn_in")
                            + p("ffn_in_bias"), 0)
        x = x + hidden @ p("ffn_out") + p("ffn_out_bias")
    return x


def _randomize(layer):
    for v in layer.weights:                      # non-trivial norms and biases too
        v.assign(RNG.normal(0, 0.5, v.shape).astype("float32") + (1.0 if "scale" in v.path else 0.0))


def test_matches_the_numpy_reference_with_groups_and_history():
    layer = SetwiseAttention(num_heads=2, key_dim=3, num_layers=2)
    items = RNG.normal(size=(6, 4)).astype("float32")
    groups = np.array([1, 1, 2, 1, 3, 2])
    history = RNG.normal(size=(6, 5, 3)).astype("float32")
    mask = RNG.random((6, 5)) < 0.6
    mask[4] = False                               # no history: the candidate sees itself only
    layer(items, groups, history, mask)
    _randomize(layer)
    np.testing.assert_allclose(layer(items, groups, history, mask).numpy(),
                               reference(layer, items, groups, history, mask), rtol=2e-4, atol=2e-5)
    plain = SetwiseAttention(num_heads=1)
    plain(items, groups)
    _randomize(plain)
    np.testing.assert_allclose(plain(items, groups).numpy(), reference(plain, items, groups),
                               rtol=2e-4, atol=2e-5)


def test_groups_do_not_interact_and_order_does_not_matter():
    layer = SetwiseAttention(num_heads=2)
    items = RNG.normal(size=(7, 6)).astype("float32")
    groups = np.array(["a", "b", "a", "c", "b", "a", "c"])
    together = layer(items, tf.constant(groups)).numpy()
    for g in set(groups):
        rows = np.flatnonzero(groups == g)
        alone = layer(items[rows], tf.constant(groups[rows])).numpy()
        np.testing.assert_allclose(together[rows], alone, rtol=1e-5, atol=1e-6)
    order = RNG.permutation(7)
    np.testing.assert_allclose(layer(items[order], tf.constant(groups[order])).numpy(),
                               together[order], rtol=1e-5, atol=1e-6)
    # the set changes the scores: a candidate's output depends on its group mates
    changed = items.copy()
    changed[2] = -2.0 * changed[2]            # (a constant shift would vanish in the norm)
    assert not np.allclose(layer(changed, tf.constant(groups)).numpy()[0], together[0])
    assert np.allclose(layer(changed, tf.constant(groups)).numpy()[1], together[1], atol=1e-6)


def test_arguments_are_checked():
    for kwargs, name in [({"num_heads": 0}, "num_heads"), ({"key_dim": -1}, "key_dim"),
                         ({"ffn_multiplier": 1.5}, "ffn_multiplier"), ({"num_layers": 0}, "num_layers"),
                         ({"dropout": 1.0}, "dropout"), ({"layer_norm_epsilon": 0}, "layer_norm_epsilon")]:
        with pytest.raises(ValueError, match=name):
            SetwiseAttention(**kwargs)
    layer = SetwiseAttention()
    layer(np.ones((2, 4), "float32"), np.array([1, 1]))
    with pytest.raises(ValueError, match="built without history"):
        layer(np.ones((2, 4), "float32"), np.array([1, 1]), np.ones((2, 3, 4), "float32"))


def test_config_gradients_and_save_round_trips(tmp_path):
    layer = SetwiseAttention(num_heads=2, num_layers=2, dropout=0.1)
    assert_config_round_trip(layer)
    items = RNG.normal(size=(5, 4)).astype("float32")
    groups = np.array([0, 0, 1, 1, 1], "int64")
    history = RNG.normal(size=(5, 3, 2)).astype("float32")
    mask = np.ones((5, 3), bool)
    model = functional_model(lambda i, g, h, m: SetwiseAttention(num_heads=2)(i, g, h, m),
                             [items, groups, history, mask])
    assert_gradients_finite_nonzero(model, [items, groups, history, mask])
    assert_save_reload_equal(model, [items, groups, history, mask], tmp_path, atol=1e-5)


def test_docstring_example_runs():
    assert_doctests_pass(setwise_attention)
