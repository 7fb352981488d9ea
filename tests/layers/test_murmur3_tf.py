"""Stock-TF-ops MurmurHash3 (lirank_tf.layers.murmur3_tf) against `mmh3` and the C++ op."""

import random

import mmh3
import numpy as np
import pytest
import tensorflow as tf
from layer_checks import assert_doctests_pass
from stock_ops_check import saved_model_op_types

from lirank_tf.layers import murmur3_tf
from lirank_tf.layers.murmur3_tf import empty_string_hash, murmur3_x64_64

SEEDS = [0, 1, 0x9747B28C, 2**31 - 1, 2**31, 2**32 - 1]


def _random_strings(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcXYZ019:_- éüßøñ中文日本語🙂✓\u0000"
    strings = ["", "a", "member:1234", "x" * 7, "x" * 8, "x" * 9, "x" * 15, "x" * 16,
               "x" * 17, "x" * 31, "x" * 32, "x" * 33, "é" * 8, "z" * 1001, "中" * 2000]
    # Edges of the length buckets of the implementation (32, 256 and 2048 bytes).
    strings += ["b" * n for n in (255, 256, 257, 2047, 2048, 2049)]
    while len(strings) < count:
        length = rng.choice([rng.randint(0, 40), rng.randint(0, 80), rng.randint(0, 1500)])
        strings.append("".join(rng.choice(alphabet) for _ in range(length)))
    return strings


STRINGS = _random_strings(3000, seed=7)


def expected_hashes(strings, seed):
    return np.array([mmh3.hash64(s, seed)[0] for s in strings], dtype=np.int64)


@pytest.mark.parametrize("seed", SEEDS)
def test_equals_mmh3_hash64_low_half_eager(seed):
    np.testing.assert_array_equal(murmur3_x64_64(STRINGS, seed).numpy(),
                                  expected_hashes(STRINGS, seed))


def test_string_set_covers_every_tail_length_and_long_strings():
    byte_lengths = {len(s.encode()) for s in STRINGS}
    assert set(range(33)) <= byte_lengths
    assert {255, 256, 2047, 2048} <= byte_lengths and max(byte_lengths) > 4000


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_equals_mmh3_in_graph_mode(seed):
    hash_fn = tf.function(lambda s: murmur3_x64_64(s, seed),
                          input_signature=[tf.TensorSpec([None], tf.string)])
    np.testing.assert_array_equal(hash_fn(tf.constant(STRINGS[:500])).numpy(),
                                  expected_hashes(STRINGS[:500], seed))


def test_raw_bytes_and_shape_are_kept():
    raw = [bytes([i, 255 - i, 0, 128]) * (i % 9) for i in range(64)]
    got = murmur3_x64_64(tf.reshape(tf.constant(raw), [4, 4, 4]), seed=3).numpy()
    expected = np.array([mmh3.hash64(b, 3)[0] for b in raw], dtype=np.int64).reshape(4, 4, 4)
    np.testing.assert_array_equal(got, expected)


def test_scalar_and_empty_batches():
    assert int(murmur3_x64_64("member:1")) == mmh3.hash64("member:1")[0]
    empty = murmur3_x64_64(tf.zeros([0, 3], tf.string))
    assert empty.shape == (0, 3) and empty.dtype == tf.int64


def test_inside_dataset_map():
    dataset = tf.data.Dataset.from_tensor_slices(STRINGS[:200]).batch(16).map(
        lambda s: murmur3_x64_64(s, 5))
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in dataset]),
                                  expected_hashes(STRINGS[:200], 5))


def test_saved_model_round_trip_uses_no_custom_op(tmp_path):
    module = tf.Module()
    module.hash = tf.function(lambda s: murmur3_x64_64(s, 11),
                              input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path))
    reloaded = tf.saved_model.load(str(tmp_path))
    np.testing.assert_array_equal(reloaded.hash(tf.constant(STRINGS[:300])).numpy(),
                                  expected_hashes(STRINGS[:300], 11))
    graph_ops = saved_model_op_types(tmp_path)
    assert {"DecodePaddedRaw", "Mul", "StatelessWhile"} <= graph_ops
    assert not any(op.startswith("Lirank") for op in graph_ops), graph_ops


@pytest.mark.parametrize("seed", [0, 42, 2**32 - 1])
def test_agrees_with_the_cpp_input_pipeline_op(seed):
    from lirank_tf.ops.library import OpsLibraryNotBuiltError

    try:
        from lirank_tf.ops import murmur3_hash
        cpp = murmur3_hash(STRINGS, seed=seed).numpy()
    except OpsLibraryNotBuiltError as error:
        pytest.skip(f"C++ op library not built: {error}")
    np.testing.assert_array_equal(murmur3_x64_64(STRINGS, seed).numpy(), cpp)


@pytest.mark.parametrize("seed", SEEDS)
def test_empty_string_hash_in_python(seed):
    assert empty_string_hash(seed) == mmh3.hash64("", seed)[0]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "0"])
def test_invalid_seed_raises(seed):
    with pytest.raises(ValueError, match="seed"):
        murmur3_x64_64(["a"], seed)
    with pytest.raises(ValueError, match="seed"):
        empty_string_hash(seed)


def test_docstring_examples_run():
    assert_doctests_pass(murmur3_tf)
