"""Horovod worker: averages sparse gradients whose row ids are int32 for one table and int64
for another (as Keras makes them), between dense ones, and saves the result per rank."""

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf

from lirank_tf.distributed.context import init


def gradients(rank: int) -> list:
    """Rank r's gradients: the test rebuilds them in NumPy."""
    first = tf.IndexedSlices(tf.constant([[1.0 + rank, 2.0], [0.5, -rank]]),
                             tf.constant([rank, 3], tf.int32), tf.constant([4, 2], tf.int64))
    second = tf.IndexedSlices(tf.constant([[3.0 * (rank + 1)]]), tf.constant([2], tf.int64),
                              tf.constant([3, 1], tf.int64))
    return [tf.constant([float(rank), 1.0]), first, tf.constant([[2.0 * rank]]), second]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    context = init(use_horovod=True)
    averaged = context.allreduce_gradients(gradients(context.rank))
    np.savez(Path(args.out) / f"rank{context.rank}.npz",
             *[tf.convert_to_tensor(g).numpy() for g in averaged])


if __name__ == "__main__":
    main()
