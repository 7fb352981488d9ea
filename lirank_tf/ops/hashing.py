"""MurmurHash3 of string tensors with the C++ op ``LirankMurmur3Hash``."""

from __future__ import annotations

import tensorflow as tf

from lirank_tf.ops.library import load_ops_library

_ALGORITHMS = ("x64_64", "x86_32")


def murmur3_hash(strings: tf.Tensor, seed: int = 0, algorithm: str = "x64_64") -> tf.Tensor:
    """MurmurHash3 of every string of ``strings`` (any shape), as int64 of the same shape.

    Args:
        strings: string tensor (or anything convertible to one), any shape.
        seed: int in [0, 2**32 - 1], default 0.
        algorithm: ``"x64_64"`` (default): the low 64 bits of MurmurHash3_x64_128, equal to
            ``mmh3.hash64(s, seed)[0]``; ``"x86_32"``: MurmurHash3_x86_32 as an unsigned
            value, equal to ``mmh3.hash(s, seed, signed=False)``.

    Example:
        >>> import mmh3
        >>> int(murmur3_hash("member:1234")) == mmh3.hash64("member:1234")[0]
        True

    References: LiRank §3.12 and §A.7 (MurmurHash of raw string ids).
    """
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"algorithm must be one of {_ALGORITHMS}, got {algorithm!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError(f"seed must be an int in [0, 2**32 - 1], got {seed!r}")
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    return load_ops_library().lirank_murmur3_hash(
        strings, tf.constant(seed, tf.int64), algorithm=algorithm)
