"""Step time with the transformation model offloaded to tf.data vs inside the train step (§4.3).

    python benchmarks/transform_offload.py [--days 4] [--impressions-per-day 6000]
                                           [--batch-size 512] [--steps 30] [--rounds 2]
                                           [--light-model]

The paper moves the last-mile transformations (string-id hashing, filling empty rows,
padding histories, normalising dense features) out of the training step into a
transformation model that runs asynchronously in the input pipeline, and reports a 20 %
faster step. Both variants here train the Feed experiment's model with the same custom step
(multi-task binary cross-entropy, Adam) on the same raw batches (simulated Avro, read into
memory by the fastavro reader):

* offloaded: ``raw.map(transform, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)``, the
  step sees dense model inputs (what ``lirank_tf.training.pipeline.training_dataset`` does);
* inline: ``raw.prefetch(AUTOTUNE)``, the step runs ``transform(raw)`` then the model.

The variants alternate for ``--rounds`` rounds of ``--steps`` timed steps each (after
warm-up steps that trace the step), so a drift of the machine's load hits both.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.models import build_model
from lirank_tf.training.pipeline import raw_dataset
from lirank_tf.training.trainer import fit_transformation


def make_step(model: keras.Model, optimizer: keras.optimizers.Optimizer, tasks: list[str],
              transform=None):
    """A compiled train step; with ``transform`` it takes raw features and transforms them."""
    loss_fn = keras.losses.BinaryCrossentropy()

    @tf.function
    def step(features, labels):
        inputs = transform(features) if transform is not None else features
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = tf.add_n([loss_fn(tf.reshape(labels[t], [-1, 1]), outputs[t]) for t in tasks])
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss
    return step


def time_calls(function, iterator, calls: int, warmup: int) -> np.ndarray:
    """Seconds of each of ``calls`` calls ``function(*next(iterator))`` (outputs fetched)."""
    for _ in range(warmup):
        tf.nest.map_structure(np.asarray, function(*next(iterator)))
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        tf.nest.map_structure(np.asarray, function(*next(iterator)))
        seconds.append(time.perf_counter() - started)
    return np.array(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=4, help="simulated days (2 train)")
    parser.add_argument("--impressions-per-day", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round and variant")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--light-model", action="store_true",
                        help="a cheap model step (2 x 64 MLP, no cross / MoE / TransAct), as the "
                             "step of an accelerator is cheap next to CPU-side transforms")
    parser.add_argument("--output-dir", help="default: a temporary directory")
    args = parser.parse_args()
    root = Path(args.output_dir or tempfile.mkdtemp(prefix="lirank-offload-bench-"))
    manifest = simulate_feed(root / "data", FeedSimulatorConfig(
        num_days=args.days, impressions_per_day=args.impressions_per_day, seed=3))
    # the fastavro reader holds the columns in memory: reading costs the same small gather in
    # both variants, so the comparison is about where the transformation runs
    light = {"hidden_units": [64, 64], "interaction": "none", "sparse_moe": False,
             "history_encoder": False, "dense_gating": False}
    config = get_experiment("feed", {"data": {"train": manifest["train"], "reader": "fastavro"},
                                     "training": {"batch_size": args.batch_size},
                                     "model": light if args.light_model else {}})
    transform = fit_transformation(config, manifest["train"])
    tasks = [t.name for t in config.tasks]
    labels = {t.name: t.label for t in config.tasks}

    def raw():
        """Full batches only: a smaller last batch would retrace the steps (seconds each)."""
        full = raw_dataset(config, manifest["train"], shuffle=False).filter(
            lambda features, batch_labels: tf.shape(batch_labels[tasks[0]])[0] == args.batch_size)
        return full.repeat()

    offloaded = raw().map(transform.map_fn(), num_parallel_calls=tf.data.AUTOTUNE)
    offloaded = offloaded.prefetch(tf.data.AUTOTUNE)
    inline = raw().prefetch(tf.data.AUTOTUNE)
    keras.utils.set_random_seed(0)
    model = build_model(config)
    optimizer = keras.optimizers.Adam(1e-3)
    steps = {"offloaded": (make_step(model, optimizer, tasks), iter(offloaded)),
             "inline": (make_step(model, optimizer, tasks, transform), iter(inline))}
    times: dict[str, list] = {name: [] for name in steps}
    for round_ in range(args.rounds):
        for name, (step, iterator) in steps.items():
            times[name].append(time_calls(step, iterator, args.steps,
                                          warmup=3 if round_ == 0 else 1))
    transform_only = tf.function(lambda features, labels: transform(features))
    transform_alone = time_calls(transform_only, iter(raw()), args.steps, warmup=2)

    rows = {"transform in tf.data (parallel map + prefetch)": np.concatenate(times["offloaded"]),
            "transform inside the train step": np.concatenate(times["inline"])}
    print(f"Feed model{' (light)' if args.light_model else ''}, batch {args.batch_size}, {len(tasks)} tasks ({', '.join(labels)}); "
          f"{args.rounds} rounds x {args.steps} timed steps per variant; "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'all'} intra-op threads\n")
    print("| pipeline | mean step ms | p50 ms | p90 ms | steps/s |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in rows.items():
        p50, p90 = np.percentile(seconds, [50, 90]) * 1e3
        print(f"| {name} | {seconds.mean() * 1e3:.1f} | {p50:.1f} | {p90:.1f} | "
              f"{1 / seconds.mean():.2f} |")
    print(f"| (the transformation model alone, per batch) | {transform_alone.mean() * 1e3:.1f} | "
          f"{np.median(transform_alone) * 1e3:.1f} | | |\n")
    for statistic, reduce in (("mean", np.mean), ("median", np.median)):
        offloaded_time, inline_time = (reduce(seconds) for seconds in rows.values())
        print(f"{statistic}: inline / offloaded step time {inline_time / offloaded_time:.3f}, "
              f"offloading saves {1 - offloaded_time / inline_time:.1%} of the inline step "
              "(paper: 20 %)")


if __name__ == "__main__":
    main()
