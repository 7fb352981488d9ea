"""Throughput of MurmurHash3 (x64_128, low 64 bits) on string batches, three ways.

    python benchmarks/murmur3_tf_speed.py [--batch 65536] [--repeats 5]

* stock TF ops (lirank_tf.layers.murmur3_tf, what the serving graph runs), in a
  tf.function;
* the C++ op (lirank_tf.ops.murmur3_hash, what the input pipeline runs), if built;
* a Python loop over mmh3.hash64 (for scale).
"""

from __future__ import annotations

import argparse
import time

import mmh3
import tensorflow as tf

from lirank_tf.layers.murmur3_tf import murmur3_x64_64


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=65536)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    stock = tf.function(lambda s: murmur3_x64_64(s, 0),
                        input_signature=[tf.TensorSpec([None], tf.string)])
    try:
        from lirank_tf.ops import murmur3_hash
        murmur3_hash(["warm-up"])
    except ImportError:
        murmur3_hash = None
    workloads = {
        "ids 'member:<n>' (~13 B)": [f"member:{i}" for i in range(args.batch)],
        "100-byte strings": [f"{i:0100d}" for i in range(args.batch)],
        "mixed, one 2000-byte id": [f"member:{i}" for i in range(args.batch - 1)] + ["x" * 2000],
    }
    print(f"| workload (batch {args.batch}) | stock TF ops | C++ op | Python mmh3 |")
    print("|---|---|---|---|")
    for name, strings in workloads.items():
        tensor = tf.constant(strings)
        rates = [args.batch / best_seconds(lambda: stock(tensor).numpy(), args.repeats)]
        if murmur3_hash is not None:
            rates.append(args.batch / best_seconds(lambda: murmur3_hash(tensor).numpy(),
                                                   args.repeats))
        rates.append(args.batch / best_seconds(
            lambda: [mmh3.hash64(s)[0] for s in strings], 1))
        cells = [f"{rate / 1e6:.2f} M/s" for rate in rates]
        if murmur3_hash is None:
            cells.insert(1, "not built")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
