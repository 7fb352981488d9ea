"""The C++ LirankMurmur3Hash op against the independent `mmh3` package."""

import random

import mmh3
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.ops import murmur3_hash


def _random_strings(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcXYZ019:_- éüßøñ中文日本語🙂✓"
    strings = ["", "a", "member:1234", "x" * 15, "x" * 16, "x" * 17, "y" * 10_000]
    while len(strings) < count:
        length = rng.choice([rng.randint(0, 40), rng.randint(0, 300)])
        strings.append("".join(rng.choice(alphabet) for _ in range(length)))
    return strings


STRINGS = _random_strings(3000, seed=1)
SEEDS = [0, 1, 42, 2**31 - 1, 2**31, 2**32 - 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_x64_64_equals_mmh3_hash64_low_half(seed):
    got = murmur3_hash(STRINGS, seed=seed).numpy()
    expected = np.array([mmh3.hash64(s, seed)[0] for s in STRINGS], dtype=np.int64)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_x86_32_equals_mmh3_hash_unsigned(seed):
    got = murmur3_hash(STRINGS, seed=seed, algorithm="x86_32").numpy()
    expected = np.array([mmh3.hash(s, seed, signed=False) for s in STRINGS], dtype=np.int64)
    np.testing.assert_array_equal(got, expected)


def test_raw_bytes_and_shape_are_kept():
    raw = [bytes([i, 255 - i, 0, 128]) * (i % 7) for i in range(64)]
    got = murmur3_hash(tf.reshape(tf.constant(raw), [8, 8])).numpy()
    expected = np.array([mmh3.hash64(b)[0] for b in raw], dtype=np.int64).reshape(8, 8)
    np.testing.assert_array_equal(got, expected)


def test_works_inside_tf_function_and_dataset_map():
    dataset = tf.data.Dataset.from_tensor_slices(STRINGS[:100]).batch(10).map(murmur3_hash)
    got = np.concatenate([batch.numpy() for batch in dataset])
    np.testing.assert_array_equal(got, [mmh3.hash64(s)[0] for s in STRINGS[:100]])


@pytest.mark.parametrize("kwargs, message", [
    ({"seed": -1}, "seed"), ({"seed": 2**32}, "seed"), ({"seed": 1.5}, "seed"),
    ({"algorithm": "x86_64"}, "algorithm"),
])
def test_invalid_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        murmur3_hash(["a"], **kwargs)
