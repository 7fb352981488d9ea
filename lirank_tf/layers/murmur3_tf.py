"""MurmurHash3 of string tensors with stock TensorFlow ops only (servable in TF Serving).

The project's C++ op ``lirank_tf.ops.murmur3_hash`` hashes ids in the training input
pipeline; a serving graph must not depend on it, since a stock TF Serving binary cannot
load custom ops. This module computes the same hash (the low 64 bits of
MurmurHash3_x64_128, i.e. ``mmh3.hash64(s, seed)[0]``) from core ops:

* ``tf.io.decode_raw(..., tf.int64, fixed_length=...)`` reads every string as
  little-endian 64-bit words, zero-padded to a common length (a multiple of 16 bytes with
  at least one spare block), and ``tf.bitcast`` turns them into ``uint64``;
* the block loop is a ``tf.while_loop`` over block positions, vectorised over the batch
  (rows with fewer blocks keep their state through ``tf.where``), so the number of
  iterations is the length of the longest string (of a length bucket, see below)
  divided by 16;
* 64-bit arithmetic is native ``uint64``: TensorFlow 2.16's CPU kernels for ``Mul``,
  ``AddV2``, ``LeftShift``, ``RightShift``, ``BitwiseXor`` and ``BitwiseOr`` accept
  ``uint64`` and wrap modulo 2**64 (checked by the tests against ``mmh3``).

The tail needs no branch: bytes past the end of a string are zero, so the tail words are
exactly the reference's ``k1``/``k2``, and a zero word mixes to zero, which leaves
``h1``/``h2`` unchanged when the tail is shorter than 9 (or 1) bytes.

Cost: strings are first split (``tf.dynamic_partition``) into four buckets by length
(< 32, < 256, < 2048 bytes and longer); each bucket is padded to its own longest string
and runs its own block loop, and ``tf.dynamic_stitch`` restores the order. A long id
thus does not make the short ids of its batch pay for its length.
"""

from __future__ import annotations

import tensorflow as tf

_C1 = 0x87C37B91114253D5
_C2 = 0x4CF5AD432745937F
_FMIX_C1 = 0xFF51AFD7ED558CCD
_FMIX_C2 = 0xC4CEB9FE1A85EC53
_BLOCK_BYTES = 16
MAX_SEED = 0xFFFFFFFF
# Buckets of strings by number of 16-byte blocks: [0, 2), [2, 16), [16, 128), [128, inf).
_BUCKET_MIN_BLOCKS = (2, 16, 128)


def _u64(value: int) -> tf.Tensor:
    return tf.constant(value, dtype=tf.uint64)


def _rotl(x: tf.Tensor, r: int) -> tf.Tensor:
    return tf.bitwise.bitwise_or(
        tf.bitwise.left_shift(x, _u64(r)), tf.bitwise.right_shift(x, _u64(64 - r)))


def _xor_shift(x: tf.Tensor, r: int) -> tf.Tensor:
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u64(r)))


def _fmix64(k: tf.Tensor) -> tf.Tensor:
    k = _xor_shift(k, 33) * _u64(_FMIX_C1)
    k = _xor_shift(k, 33) * _u64(_FMIX_C2)
    return _xor_shift(k, 33)


def _mix_k1(k1: tf.Tensor) -> tf.Tensor:
    return _rotl(k1 * _u64(_C1), 31) * _u64(_C2)


def _mix_k2(k2: tf.Tensor) -> tf.Tensor:
    return _rotl(k2 * _u64(_C2), 33) * _u64(_C1)


def _process_block(h1: tf.Tensor, h2: tf.Tensor, k1: tf.Tensor,
                   k2: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    h1 = tf.bitwise.bitwise_xor(h1, _mix_k1(k1))
    h1 = (_rotl(h1, 27) + h2) * _u64(5) + _u64(0x52DCE729)
    h2 = tf.bitwise.bitwise_xor(h2, _mix_k2(k2))
    h2 = (_rotl(h2, 31) + h1) * _u64(5) + _u64(0x38495AB5)
    return h1, h2


def _hash_padded(strings: tf.Tensor, lengths: tf.Tensor, seed: int) -> tf.Tensor:
    """Hash of a rank-1 string tensor padded to its own longest string, as uint64 [n]."""
    longest = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
    # One spare block so that the tail block of every string exists (all zeros when the
    # length is a multiple of 16).
    padded_bytes = (longest // _BLOCK_BYTES + 1) * _BLOCK_BYTES
    words = tf.bitcast(
        tf.io.decode_raw(strings, tf.int64, little_endian=True, fixed_length=padded_bytes),
        tf.uint64)  # [n, padded_bytes / 8]
    block_counts = lengths // _BLOCK_BYTES
    most_blocks = tf.reduce_max(tf.concat([block_counts, [0]], axis=0))
    h1 = tf.fill(tf.shape(strings), _u64(seed))
    h2 = h1

    def body(block: tf.Tensor, h1: tf.Tensor, h2: tf.Tensor):
        k1 = tf.gather(words, 2 * block, axis=1)
        k2 = tf.gather(words, 2 * block + 1, axis=1)
        new_h1, new_h2 = _process_block(h1, h2, k1, k2)
        active = block < block_counts
        return block + 1, tf.where(active, new_h1, h1), tf.where(active, new_h2, h2)

    _, h1, h2 = tf.while_loop(
        lambda block, h1, h2: block < most_blocks, body, (tf.constant(0, tf.int32), h1, h2))

    tail_k1 = tf.gather(words, 2 * block_counts, axis=1, batch_dims=1)
    tail_k2 = tf.gather(words, 2 * block_counts + 1, axis=1, batch_dims=1)
    h2 = tf.bitwise.bitwise_xor(h2, _mix_k2(tail_k2))
    h1 = tf.bitwise.bitwise_xor(h1, _mix_k1(tail_k1))

    length64 = tf.cast(lengths, tf.uint64)
    h1 = tf.bitwise.bitwise_xor(h1, length64)
    h2 = tf.bitwise.bitwise_xor(h2, length64)
    h1 = h1 + h2
    h2 = h2 + h1
    return _fmix64(h1) + _fmix64(h2)


# A tf.function so that eager callers run one graph instead of the loop op by op (it is
# inlined when called from another graph); seeds are Python ints, traced once each.
@tf.function(autograph=False, reduce_retracing=True)
def _hash_flat(strings: tf.Tensor, seed: int) -> tf.Tensor:
    """Hash of a rank-1 string tensor, as uint64 of shape [n].

    Strings are split into buckets by block count and each bucket is padded to its own
    longest string, so one long id does not make every short id of the batch pay for
    its length (padding is at most 8x within a bucket, except in the last one).
    """
    lengths = tf.cast(tf.strings.length(strings, unit="BYTE"), tf.int32)
    block_counts = lengths // _BLOCK_BYTES
    buckets = tf.add_n([tf.cast(block_counts >= bound, tf.int32)
                        for bound in _BUCKET_MIN_BLOCKS])
    num_buckets = len(_BUCKET_MIN_BLOCKS) + 1
    positions = tf.dynamic_partition(tf.range(tf.size(strings)), buckets, num_buckets)
    bucket_strings = tf.dynamic_partition(strings, buckets, num_buckets)
    bucket_lengths = tf.dynamic_partition(lengths, buckets, num_buckets)
    hashes = [_hash_padded(bucket_strings[b], bucket_lengths[b], seed)
              for b in range(num_buckets)]
    return tf.dynamic_stitch(positions, hashes)


def murmur3_x64_64(strings: tf.Tensor, seed: int = 0) -> tf.Tensor:
    """Low 64 bits of MurmurHash3_x64_128 of every string, as int64, with stock TF ops.

    ``h = MurmurHash3_x64_128(utf8_bytes(s), seed)[0:64]``, returned as the signed int64
    with the same bits, equal to ``mmh3.hash64(s, seed)[0]`` and to
    ``lirank_tf.ops.murmur3_hash(s, seed)`` (the C++ op of the input pipeline).

    Args:
        strings: string tensor (or anything convertible to one) of any shape; the hash is
            over the raw bytes (Python ``str`` values are UTF-8 encoded by TensorFlow).
        seed: int in [0, 2**32 - 1], default 0.

    Returns:
        int64 tensor of the shape of ``strings``.

    Example:
        >>> import mmh3
        >>> int(murmur3_x64_64("member:1234", seed=0)) == mmh3.hash64("member:1234")[0]
        True

    References: LiRank §3.12 and §A.7 (MurmurHash of raw string ids to int64);
    A. Appleby, MurmurHash3 (public domain reference implementation).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**32 - 1], got {seed!r}")
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    flat = tf.reshape(strings, [-1])
    hashes = tf.bitcast(_hash_flat(flat, seed), tf.int64)
    return tf.reshape(hashes, tf.shape(strings))


def _fmix64_int(k: int) -> int:
    k ^= k >> 33
    k = (k * _FMIX_C1) & 0xFFFFFFFFFFFFFFFF
    k ^= k >> 33
    k = (k * _FMIX_C2) & 0xFFFFFFFFFFFFFFFF
    return k ^ (k >> 33)


def empty_string_hash(seed: int = 0) -> int:
    """``murmur3_x64_64("", seed)`` as a Python int (no TensorFlow op); 0 for seed 0.

    With no block and no tail, ``h1 = fmix64(2 * seed) + fmix64(3 * seed)`` (mod 2**64),
    returned as a signed int64 value. Pipelines that pad id lists with ``""`` before
    hashing pad with this value.

    Example:
        >>> import mmh3
        >>> [empty_string_hash(s) == mmh3.hash64("", s)[0] for s in (0, 1, 2**32 - 1)]
        [True, True, True]
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2**32 - 1], got {seed!r}")
    unsigned = (_fmix64_int(2 * seed) + _fmix64_int(3 * seed)) & 0xFFFFFFFFFFFFFFFF
    return unsigned - 2**64 if unsigned >= 2**63 else unsigned
