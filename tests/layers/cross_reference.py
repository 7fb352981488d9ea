"""Independent NumPy references of the DCNv2-family cross layers (Keras row-vector layout)."""

import numpy as np


def numpy_low_rank_cross(x0, x, down, up, bias):
    """x_{l+1} = x0 * (x V^T U^T + b) + x."""
    return x0 * (x @ down @ up + bias) + x


def numpy_attention_scores(x, query_kernel, key_kernel, temperature):
    """S[b, i, j] = softmax_j(q_i k_j / (sqrt(r) * temperature)), computed with loops."""
    query, key = x @ query_kernel, x @ key_kernel
    batch, rank = query.shape
    scores = np.zeros((batch, rank, rank))
    for b in range(batch):
        for i in range(rank):
            logits = np.array([query[b, i] * key[b, j] for j in range(rank)])
            logits = logits / (np.sqrt(rank) * temperature)
            weights = np.exp(logits - logits.max())
            scores[b, i] = weights / weights.sum()
    return scores


def numpy_attention_cross(x0, x, query_kernel, key_kernel, value_kernel, up, bias,
                          temperature=1.0, attention_skip=True, scores=None):
    """x0 * (U (S v [+ v]) + b) + x with S from `numpy_attention_scores` unless given."""
    if scores is None:
        scores = numpy_attention_scores(x, query_kernel, key_kernel, temperature)
    value = x @ value_kernel
    mixed = np.einsum("bij,bj->bi", scores, value)
    if attention_skip:
        mixed = mixed + value
    return x0 * (mixed @ up + bias) + x


def fixed_weights(shape, scale=0.1, phase=1):
    """Deterministic, non-symmetric weights of the given shape."""
    size = int(np.prod(shape))
    return (scale * np.sin(np.arange(phase, phase + size))).reshape(shape).astype("float32")
