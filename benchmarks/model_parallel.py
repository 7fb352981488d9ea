"""Data-parallel vs model-parallel embeddings: bytes exchanged and step time (LiRank §4.1).

    python benchmarks/model_parallel.py [--sizes 2,4] [--steps 8] [--batch 512]

launches ``horovodrun -np N --gloo`` for each N in ``--sizes`` on this machine; every job
trains a Feed-like model (6 id features, 5 tables of 32-dim rows, 605k rows = 77 MB, and
an MLP) with three synchronisation schemes, each for ``--steps`` timed steps:

* ``dp-dense``:  tables replicated; their gradients densified and allreduced (ring);
* ``dp-sparse``: tables replicated; their gradients allgathered as (row id, row) pairs;
* ``mp``:        tables sharded row-wise over the workers; ids and rows all-to-all'ed, one
                 exchange for all tables (``ShardedEmbeddingGroup``, as in the paper);
* ``mp-layer``:  the same with one exchange per embedding layer (``fuse=False``).

Local batch and data per worker are fixed (weak scaling, as with horovodrun). Bytes are
those a worker sends per step, counted exactly from the batches (ids that stay on their
worker are not sent). A cost model with the same formulas projects bytes and communication
time to 8-64 workers for a 100 Gb/s network, and gives the crossover world sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM, BYTES = 32, 4
TABLES = {"viewer": 250_000, "actor": 200_000, "item": 100_000, "hashtag": 50_000,
          "company": 5_000}
FEATURES = {"viewer": ("viewer", 1), "actor": ("actor", 1), "item": ("item", 1),
            "hashtags": ("hashtag", 5), "company": ("company", 1), "history": ("item", 8)}
DENSE_UNITS = (256, 128, 1)
ALPHA_SECONDS, BETA_BYTES_PER_SECOND = 10e-6, 12.5e9  # projected network: 10 us, 100 Gb/s
MODES = ("dp-dense", "dp-sparse", "mp-layer", "mp")


# ---------------------------------------------------------------- worker (under horovodrun)
def make_batches(rank: int, count: int, batch: int) -> list[dict]:
    """Skewed (power-law) ids, different on every worker."""
    rng = np.random.default_rng(1000 + rank)
    batches = []
    for _ in range(count):
        features = {name: (TABLES[table] * rng.random((batch, width)) ** 4).astype("int64")
                    for name, (table, width) in FEATURES.items()}
        features["dense"] = rng.normal(size=(batch, 16)).astype("float32")
        batches.append((features, rng.integers(0, 2, (batch, 1)).astype("float32")))
    return batches


def build_model(keras):
    inputs, vectors = {}, []
    tables = {t: keras.layers.Embedding(rows, DIM, name=f"{t}_embedding")
              for t, rows in TABLES.items()}
    for name, (table, width) in FEATURES.items():
        inputs[name] = keras.Input((width,), dtype="int64", name=name)
        vectors.append(keras.layers.GlobalAveragePooling1D()(tables[table](inputs[name])))
    inputs["dense"] = keras.Input((16,), name="dense")
    x = keras.layers.Concatenate()(vectors + [inputs["dense"]])
    for i, units in enumerate(DENSE_UNITS):
        x = keras.layers.Dense(units, activation="sigmoid" if units == 1 else "relu",
                               name=f"mlp_{i}")(x)
    return keras.Model(inputs, x)


def ids_per_table(features: dict) -> dict[str, np.ndarray]:
    grouped: dict[str, list] = {}
    for name, (table, _) in FEATURES.items():
        grouped.setdefault(table, []).append(features[name].reshape(-1))
    return {t: np.concatenate(v) for t, v in grouped.items()}


def sent_bytes(mode: str, features: dict, size: int, rank: int, dense_bytes: int) -> dict:
    """Bytes this worker sends in one step, and the per-worker id counts behind them."""
    ids = ids_per_table(features)
    nnz = sum(v.size for v in ids.values())
    unique = sum(np.unique(v).size for v in ids.values())
    allreduce = 2 * (size - 1) / size
    if mode == "dp-dense":
        sent = allreduce * (sum(TABLES.values()) * DIM * BYTES + dense_bytes)
    elif mode == "dp-sparse":
        sent = (size - 1) * nnz * (DIM * BYTES + 8) + allreduce * dense_bytes
    else:  # mp, mp-layer; row blocks as in sharding_plan.row_blocks: remote ids are sent
        off_rank = 0
        for table, values in ids.items():
            bounds = np.cumsum([0] + [TABLES[table] // size + (k < TABLES[table] % size)
                                      for k in range(size)])
            owners = np.searchsorted(bounds, np.unique(values), side="right") - 1
            off_rank += int(np.sum(owners != rank))
        # ids out, the owners' rows back, and the rows' gradients out again (rows sent by
        # owners equal rows received here on average over workers).
        sent = off_rank * (8 + 2 * DIM * BYTES) + allreduce * dense_bytes
    return {"bytes": sent, "nnz": nnz, "unique": unique}


def run_worker(args) -> None:
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lirank_tf import distributed

    context = distributed.init()  # Horovod: initialise
    batches = make_batches(context.rank, args.warmup + args.steps, args.batch)
    results = {}
    for mode in MODES:
        keras.utils.set_random_seed(1)
        plain = build_model(keras)
        if mode.startswith("mp"):
            plain = distributed.shard_model(
                plain, row_wise=[f"{t}_embedding/embeddings" for t in TABLES],
                fuse=mode == "mp")
        model = distributed.DistributedModel(plain, sparse_as_dense=mode == "dp-dense")
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
        dense_bytes = sum(int(np.prod(v.shape)) * BYTES for v in plain.trainable_weights
                          if not v.path.endswith(("/embeddings", "/shard_rows")))
        times = []

        class Timer(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                times.append(time.perf_counter() - self.start)

        data = tf.data.Dataset.from_generator(
            lambda: iter(batches), output_signature=(
                {**{n: tf.TensorSpec((None, w), tf.int64) for n, (_, w) in FEATURES.items()},
                 "dense": tf.TensorSpec((None, 16), tf.float32)},
                tf.TensorSpec((None, 1), tf.float32)))
        model.fit(data, verbose=0, callbacks=distributed.callbacks() + [Timer()])
        counts = [sent_bytes(mode, f, context.size, context.rank, dense_bytes)
                  for f, _ in batches[args.warmup:]]
        local = {"step_seconds": float(np.median(times[args.warmup:])),
                 **{k: float(np.mean([c[k] for c in counts])) for k in counts[0]}}
        # Horovod: average the per-worker figures over workers.
        results[mode] = context.average_values(local)
        results[mode]["dense_bytes"] = dense_bytes
        del model, plain
    if context.is_chief:
        Path(args.output).write_text(json.dumps({"size": context.size, "results": results}))


# ------------------------------------------------------------------------ cost model
def projected(mode: str, size: int, nnz: float, unique: float, dense_bytes: float) -> tuple:
    """(bytes sent per worker, communication seconds) per step: alpha-beta model with ring
    allreduce / allgather (2(N-1) and N-1 sequential messages) and pairwise all-to-all (N-1
    messages); ``mp``: one exchange (3 all-to-alls) for all tables, ``mp-layer``: one per
    embedding layer."""
    allreduce = 2 * (size - 1) / size
    table_bytes = sum(TABLES.values()) * DIM * BYTES
    if mode == "dp-dense":
        sent, messages = allreduce * (table_bytes + dense_bytes), 2 * (size - 1)
    elif mode == "dp-sparse":  # allgather of row ids and of rows, allreduce of dense grads
        sent = (size - 1) * nnz * (DIM * BYTES + 8) + allreduce * dense_bytes
        messages = 2 * (size - 1) + 2 * (size - 1)
    else:  # row-wise shards: a fraction (size - 1) / size of the unique ids is remote
        exchanges = 1 if mode == "mp" else len(TABLES)
        sent = unique * (size - 1) / size * (8 + 2 * DIM * BYTES) + allreduce * dense_bytes
        messages = 3 * exchanges * (size - 1) + 2 * (size - 1)
    return sent, messages * ALPHA_SECONDS + sent / BETA_BYTES_PER_SECOND


def report(measured: dict, projected_sizes: list[int]) -> str:
    lines = ["", "Measured on this machine (horovodrun --gloo, loopback TCP), per worker per step; "
             "MB counted from the batches:",
             f"{'workers':>7} {'scheme':>9} {'step ms':>9} {'MB sent':>9} {'model MB':>9} "
             f"{'ids':>7} {'unique':>7}"]
    first = next(iter(measured.values()))["results"]["mp"]
    for size, job in sorted(measured.items()):
        for mode in MODES:
            r = job["results"][mode]
            model_bytes, _ = projected(mode, size, r["nnz"], r["unique"], r["dense_bytes"])
            lines.append(f"{size:>7} {mode:>9} {1e3 * r['step_seconds']:>9.1f} "
                         f"{r['bytes'] / 1e6:>9.2f} {model_bytes / 1e6:>9.2f} "
                         f"{r['nnz']:>7.0f} {r['unique']:>7.0f}")
    schemes = MODES
    lines += ["", f"Cost model, same per-worker batch (weak scaling); network "
              f"{ALPHA_SECONDS * 1e6:.0f} us per message, {BETA_BYTES_PER_SECOND * 8 / 1e9:.0f} "
              "Gb/s; communication only (MB sent, ms):",
              f"{'workers':>7} " + " ".join(f"{m:>19}" for m in schemes)]
    crossover = {}
    for size in projected_sizes:
        row = {m: projected(m, size, first["nnz"], first["unique"], first["dense_bytes"])
               for m in schemes}
        lines.append(f"{size:>7} " + " ".join(f"{row[m][0] / 1e6:>9.2f} {1e3 * row[m][1]:>9.3f}"
                                                for m in schemes))
        for mp in ("mp", "mp-layer"):
            for dp in ("dp-dense", "dp-sparse"):
                if (mp, dp) not in crossover and row[mp][1] < row[dp][1]:
                    crossover[mp, dp] = size
    for mp in ("mp", "mp-layer"):
        for dp in ("dp-dense", "dp-sparse"):
            where = (f"from {crossover[mp, dp]} workers on" if (mp, dp) in crossover
                     else f"at no size up to {projected_sizes[-1]} workers")
            lines.append(f"crossover: {mp} communicates faster than {dp} {where}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,4")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
           "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    measured = {}
    with tempfile.TemporaryDirectory() as scratch:
        for size in [int(s) for s in args.sizes.split(",")]:
            output = Path(scratch) / f"size{size}.json"
            command = [str(Path(sys.executable).parent / "horovodrun"), "-np", str(size), "--gloo",
                       "-H", f"localhost:{size}", sys.executable, __file__, "--worker",
                       "--output", str(output), "--steps", str(args.steps),
                       "--warmup", str(args.warmup), "--batch", str(args.batch)]
            start = time.monotonic()
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
                return done.returncode
            measured[size] = json.loads(output.read_text())
            print(f"{size} workers: {time.monotonic() - start:.0f} s", flush=True)
    table_mb = sum(TABLES.values()) * DIM * BYTES / 1e6
    print(f"\nFeed-like model: {len(TABLES)} tables, {sum(TABLES.values()):,} rows x {DIM} "
          f"(= {table_mb:.0f} MB), {len(FEATURES)} id features, local batch {args.batch}")
    print(report(measured, [2, 4, 8, 16, 32, 64]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
