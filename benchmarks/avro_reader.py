"""Avro reader benchmark on simulated Feed data (LiRank §4.2): records/s and peak memory.

Readers, each consuming every batch inside TensorFlow (``Dataset.reduce``, so no Python loop
overhead counts, except where Python is the reader):

* ``lirank``: ``lirank_tf.data.AvroTensorDataset`` (this project's C++ op), same features
  and output layout (SparseTensor for lists) as ATDS;
* ``lirank-ragged``: the same op as used for training: RaggedTensor lists (one tf.data map
  assembles them) and the nullable ``actor_follower_count`` with a default;
* ``atds``: tensorflow-io 0.37.1 ``ATDSDataset`` (its ``num_parallel_calls`` = threads);
* ``tfio-avro``: tensorflow-io's older ``make_avro_record_dataset`` (AvroRecordDataset +
  ``parse_avro``), if it loads;
* ``fastavro``: fastavro + ``tf.data.Dataset.from_generator`` (Python, one thread).

Every measurement runs in its own subprocess (clean peak-RSS and CPU accounting). The table
shows records/s, the ratio to ATDS measured in the same run at equal codec and threads, CPU
seconds (all threads) and peak RSS above the process baseline.

    python benchmarks/avro_reader.py                      # 1M records, null + deflate
    python benchmarks/avro_reader.py --records 100000     # quick run
    python benchmarks/avro_reader.py --source simulator   # tile lirank_tf's Feed simulator

Data files are cached in ``--data-dir`` and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "lirank_tf" / "data" / "schemas" / "feed.avsc"
READERS = ("lirank", "lirank-ragged", "atds", "tfio-avro", "fastavro")
STRING_LISTS = ("post_hashtag_ids", "viewer_hashtag_ids", "actor_hashtag_ids",
                "viewer_historical_actor_ids", "actor_historical_actor_ids", "history_item_ids")


# --- data -----------------------------------------------------------------------------------

def numpy_feed_records(count: int, seed: int):
    """Records of the Feed schema with the simulator's shapes (list lengths, id formats)."""
    rng = np.random.default_rng(seed)
    platforms, content_types = ("web", "ios", "android"), ("text", "image", "video", "article")
    chunk = 10_000
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        viewer = rng.integers(0, 1_000_000, n)
        actor = rng.integers(0, 1_000_000, n)
        post = rng.integers(0, 20_000_000, n)
        history_len = rng.integers(0, 26, n)
        post_tags = rng.poisson(2.0, n)
        dense = rng.lognormal(1.0, 1.0, (n, 16)).astype(np.float32)
        labels = rng.random((n, 6)) < np.array([0.2, 0.1, 0.02, 0.01, 0.02, 0.1])
        oracle = rng.random((n, 6)).astype(np.float32)
        follower = rng.integers(0, 100_000, n)
        for i in range(n):
            h = int(history_len[i])
            yield {
                "day": 3, "hour": int(i % 24), "session_id": int(start + i) // 10,
                "position": int(i % 10), "platform": platforms[i % 3],
                "content_type": content_types[int(post[i]) % 4],
                "viewer_id": f"member:{viewer[i]}", "actor_id": f"member:{actor[i]}",
                "root_object_id": f"post:{post[i]}",
                "post_hashtag_ids": [f"hashtag:{(post[i] + 7 * j) % 5000}" for j in range(post_tags[i])],
                "viewer_hashtag_ids": [f"hashtag:{(viewer[i] + 13 * j) % 5000}" for j in range(5)],
                "actor_hashtag_ids": [f"hashtag:{(actor[i] + 13 * j) % 5000}" for j in range(5)],
                "viewer_historical_actor_ids": [f"member:{(viewer[i] * 31 + j) % 1_000_000}" for j in range(min(h, 10))],
                "actor_historical_actor_ids": [f"member:{(actor[i] * 17 + j) % 1_000_000}" for j in range(min(h // 2, 10))],
                "history_item_ids": [f"post:{(post[i] * 3 + 101 * j) % 20_000_000}" for j in range(h)],
                "history_action_types": [int((post[i] + j) % 6) for j in range(h)],
                "dense_features": dense[i].tolist(),
                "actor_follower_count": None if follower[i] % 10 == 0 else int(follower[i]),
                "like": int(labels[i, 1]), "comment": int(labels[i, 2]), "share": int(labels[i, 3]),
                "vote": int(labels[i, 4]), "click": int(labels[i, 0]),
                "long_dwell": int(labels[i, 5]), "dwell_time_seconds": float(dense[i, 0] * 3),
                "oracle_like": float(oracle[i, 1]), "oracle_comment": float(oracle[i, 2]),
                "oracle_share": float(oracle[i, 3]), "oracle_vote": float(oracle[i, 4]),
                "oracle_click": float(oracle[i, 0]), "oracle_long_dwell": float(oracle[i, 5]),
            }


def simulator_feed_records(count: int, seed: int):
    """Records of lirank_tf's Feed simulator (3 simulated days), repeated to ``count``."""
    from lirank_tf.sim.feed import FeedSimulator, FeedSimulatorConfig
    simulator = FeedSimulator(FeedSimulatorConfig(num_days=3, impressions_per_day=20_000, seed=seed))
    base = [record for day in range(3) for record in simulator.simulate_day(day)]
    for k in range(count):
        yield base[k % len(base)]


def feed_files(data_dir: Path, source: str, records: int, codec: str, files: int,
               block_bytes: int) -> list[str]:
    import fastavro
    folder = data_dir / f"feed-{source}-{records}-{codec}-{block_bytes}"
    done = folder / "done.json"
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    schema = fastavro.parse_schema(json.loads(SCHEMA_PATH.read_text()))
    generate = numpy_feed_records if source == "numpy" else simulator_feed_records
    stream = generate(records, seed=0)
    paths, per_file = [], -(-records // files)
    for index in range(files):
        path = folder / f"part-{index:03d}.avro"
        take = min(per_file, records - index * per_file)
        with open(path, "wb") as handle:
            fastavro.writer(handle, schema, (next(stream) for _ in range(take)), codec=codec,
                            sync_interval=block_bytes)
        paths.append(str(path))
    done.write_text(json.dumps(paths))
    return paths


# --- readers (run inside the measuring subprocess) ----------------------------------------

def _field_types() -> dict:
    return {f["name"]: f["type"] for f in json.loads(SCHEMA_PATH.read_text())["fields"]}


def _scalar_dtype(avro_type, tf):
    return {"int": tf.int32, "long": tf.int64, "float": tf.float32, "double": tf.float64,
            "string": tf.string, "boolean": tf.bool}[avro_type]


def lirank_dataset(paths, threads, batch, ragged):
    import tensorflow as tf
    from lirank_tf.data import AvroTensorDataset, DenseFeature, VarlenFeature
    features = {}
    for name, kind in _field_types().items():
        if isinstance(kind, list):
            if ragged:
                features[name] = DenseFeature(tf.int64, default_value=-1)
        elif isinstance(kind, dict):
            if name == "dense_features":
                features[name] = DenseFeature(tf.float32, (16,))
            else:
                features[name] = VarlenFeature(_scalar_dtype(kind["items"], tf),
                                               output="ragged" if ragged else "sparse")
        else:
            features[name] = DenseFeature(_scalar_dtype(kind, tf))
    return AvroTensorDataset(paths, features, batch, num_parallel_calls=threads)


def atds_dataset(paths, threads, batch):
    import tensorflow as tf
    from tensorflow_io.python.experimental.atds.dataset import ATDSDataset
    from tensorflow_io.python.experimental.atds.features import DenseFeature, VarlenFeature
    features = {}
    for name, kind in _field_types().items():
        if isinstance(kind, list):
            continue  # ATDS fails on null values of nullable fields
        if isinstance(kind, dict):
            features[name] = (DenseFeature([16], tf.float32) if name == "dense_features" else
                              VarlenFeature([-1], _scalar_dtype(kind["items"], tf)))
        else:
            features[name] = DenseFeature([], _scalar_dtype(kind, tf))
    return ATDSDataset(paths, batch_size=batch, features=features, num_parallel_calls=threads)


def tfio_avro_dataset(paths, threads, batch):
    import tensorflow as tf
    from tensorflow_io.python.experimental.varlen_feature_with_rank import VarLenFeatureWithRank
    from tensorflow_io.python.experimental.make_avro_record_dataset import make_avro_record_dataset
    features = {}
    for name, kind in _field_types().items():
        if isinstance(kind, list):
            continue
        if isinstance(kind, dict):
            features[f"{name}[*]"] = VarLenFeatureWithRank(
                _scalar_dtype(kind["items"], tf), rank=1)
        else:
            features[name] = tf.io.FixedLenFeature([], _scalar_dtype(kind, tf))
    schema = SCHEMA_PATH.read_text()
    return make_avro_record_dataset(paths, features, batch, schema, num_epochs=1, shuffle=False,
                                    num_parallel_reads=threads, prefetch_buffer_size=0)


def fastavro_dataset(paths, batch):
    import fastavro
    import tensorflow as tf
    types = _field_types()
    scalars = [n for n, k in types.items() if isinstance(k, str)]
    lists = [n for n, k in types.items() if isinstance(k, dict) and n != "dense_features"]
    signature = {n: tf.TensorSpec([None], _scalar_dtype(types[n], tf)) for n in scalars}
    signature["dense_features"] = tf.TensorSpec([None, 16], tf.float32)
    for n in lists:
        signature[n + "/values"] = tf.TensorSpec([None], _scalar_dtype(types[n]["items"], tf))
        signature[n + "/lengths"] = tf.TensorSpec([None], tf.int64)

    def flush(rows):
        out = {n: np.asarray([r[n] for r in rows]) for n in scalars}
        out["dense_features"] = np.asarray([r["dense_features"] for r in rows], np.float32)
        for n in lists:
            out[n + "/values"] = np.asarray([v for r in rows for v in r[n]],
                                            object if types[n]["items"] == "string" else None)
            out[n + "/lengths"] = np.asarray([len(r[n]) for r in rows], np.int64)
        return out

    def generate():
        rows = []
        for path in paths:
            with open(path, "rb") as handle:
                for record in fastavro.reader(handle):
                    rows.append(record)
                    if len(rows) == batch:
                        yield flush(rows)
                        rows = []
        if rows:
            yield flush(rows)

    def to_ragged(raw):
        out = {n: raw[n] for n in scalars + ["dense_features"]}
        for n in lists:
            out[n] = tf.RaggedTensor.from_row_lengths(raw[n + "/values"], raw[n + "/lengths"])
        return out

    return tf.data.Dataset.from_generator(generate, output_signature=signature).map(to_ragged)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(reader: str, paths: list[str], threads: int, batch: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    builders = {
        "lirank": lambda: lirank_dataset(paths, threads, batch, ragged=False),
        "lirank-ragged": lambda: lirank_dataset(paths, threads, batch, ragged=True),
        "atds": lambda: atds_dataset(paths, threads, batch),
        "tfio-avro": lambda: tfio_avro_dataset(paths, threads, batch),
        "fastavro": lambda: fastavro_dataset(paths, batch),
    }
    dataset = builders[reader]()
    first_key = "viewer_id"
    # warm-up on a tiny prefix: builds kernels and functions outside the timed pass
    next(iter(dataset.take(1)))
    base_rss = _rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    records = int(dataset.reduce(tf.constant(0, tf.int64),
                                 lambda n, b: n + tf.shape(b[first_key], out_type=tf.int64)[0]))
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"records": records, "seconds": seconds,
            "cpu_seconds": (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime),
            "base_rss_mb": base_rss, "peak_rss_mb": after.ru_maxrss / 1024}


# --- driver -----------------------------------------------------------------------------------

def run_worker(reader: str, paths: list[str], threads: int, batch: int) -> dict:
    command = [sys.executable, __file__, "--worker", json.dumps(
        {"reader": reader, "paths": paths, "threads": threads, "batch": batch})]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:110]}
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--codecs", default="null,deflate")
    parser.add_argument("--readers", default=",".join(READERS))
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--block-bytes", type=int, default=64_000,
                        help="Avro sync interval (Java's default is 64000)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="measure each configuration this often, keep the fastest")
    parser.add_argument("--source", choices=("numpy", "simulator"), default="numpy")
    parser.add_argument("--data-dir", default="/tmp/lirank_avro_benchmark")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print("RESULT " + json.dumps(measure(spec["reader"], spec["paths"], spec["threads"],
                                             spec["batch"])), flush=True)
        return

    readers = [r for r in args.readers.split(",") if r]
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    for codec in args.codecs.split(","):
        started = time.perf_counter()
        paths = feed_files(Path(args.data_dir), args.source, args.records, codec, args.files,
                           args.block_bytes)
        size_mb = sum(os.path.getsize(p) for p in paths) / 2**20
        print(f"# {codec}: {len(paths)} files, {size_mb:.0f} MiB "
              f"(ready in {time.perf_counter() - started:.0f} s)", flush=True)
        for thread_count in threads:
            atds_rate = None
            for reader in readers:
                if reader == "fastavro" and thread_count != threads[0]:
                    continue  # Python reader: one thread
                runs = [run_worker(reader, paths, thread_count, args.batch_size)
                        for _ in range(args.repeats)]
                good = [r for r in runs if "error" not in r]
                result = min(good, key=lambda r: r["seconds"]) if good else runs[0]
                row = {"codec": codec, "threads": thread_count, "reader": reader, **result}
                if "error" not in result:
                    assert result["records"] == args.records, result
                    row["rate"] = result["records"] / result["seconds"]
                    if reader == "atds":
                        atds_rate = row["rate"]
                rows.append(row)
                print(_format(row, None), flush=True)
            for row in rows:
                if row["codec"] == codec and row["threads"] == thread_count and "rate" in row:
                    row["vs_atds"] = row["rate"] / atds_rate if atds_rate else None
    print()
    print(f"Feed records: {args.records:,}, batch {args.batch_size}, source {args.source}, "
          f"block ~{args.block_bytes} B, {os.cpu_count()} CPUs, best of {args.repeats}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'codec':8} {'threads':>7} {'reader':14} {'records/s':>12} {'vs ATDS':>8} "
          f"{'CPU s':>7} {'peak RSS':>9} {'+ over base':>11}")
    for row in rows:
        print(_format(row, row.get("vs_atds")))


def _format(row: dict, ratio) -> str:
    head = f"{row['codec']:8} {row['threads']:>7} {row['reader']:14}"
    if "error" in row:
        return f"{head} failed: {row['error']}"
    ratio_text = f"{ratio:7.2f}x" if ratio else f"{'':>8}"
    return (f"{head} {row['rate']:12,.0f} {ratio_text} {row['cpu_seconds']:7.1f} "
            f"{row['peak_rss_mb']:7.0f}MB {row['peak_rss_mb'] - row['base_rss_mb']:9.0f}MB")


if __name__ == "__main__":
    main()
