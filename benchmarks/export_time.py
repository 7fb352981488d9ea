"""Export and first-request time of the stitched serving model, per experiment.

    python benchmarks/export_time.py [--experiments feed,jobs] [--quantize none]

For each experiment (model built untrained with unit normalisation statistics: neither time
depends on the weights) prints the number of hashed id inputs and the seconds of:

* export: ``export_serving_model`` (trace of every signature, SavedModel write);
* load: ``tf.saved_model.load``;
* first request: the first ``serving_default`` call of the loaded model, which is where
  TensorFlow runs grappler over the signature's graph;
* then the median of 20 further requests of 64 candidates, in milliseconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from lirank_tf.config import ExperimentConfig, get_experiment
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.models import build_model
from lirank_tf.serving import export_serving_model
from lirank_tf.data.records import records_to_request
from lirank_tf.transform import DenseStatistics, TransformationModel


def synthetic_records(config: ExperimentConfig, count: int) -> list[dict]:
    """``count`` raw records with a value for every field (3-step histories and id lists)."""
    history = config.features.history
    records = []
    for i in range(count):
        record = {}
        for field in raw_fields(config):
            if field.kind == "string":
                record[field.name] = f"{field.name}:{i}"
            elif field.kind == "int":
                record[field.name] = i
            elif field.kind == "string_list":
                record[field.name] = [f"{field.name}:{i + j}" for j in range(3)]
            elif field.kind == "int_list":
                record[field.name] = [(i + j) % (history.num_action_types if history else 7)
                                      for j in range(3)]
            elif field.kind == "float":
                record[field.name] = float(i)
            else:
                record[field.name] = [float(i)] * field.size
        records.append(record)
    return records


def timings(name: str, directory: Path, quantize: str) -> dict[str, float]:
    config = get_experiment(name)
    statistics = DenseStatistics(mean={f.name: [0.0] * f.size for f in config.features.dense},
                                 std={f.name: [1.0] * f.size for f in config.features.dense})
    transform = TransformationModel(config.features, statistics)
    model = build_model(config)
    request = {k: tf.constant(v) for k, v in
               records_to_request(synthetic_records(config, 64), raw_fields(config)).items()}
    result = {"hashed": len(config.features.ids) + (2 if config.features.history else 0)}
    started = time.perf_counter()
    export_serving_model(config, transform, model, directory / name, quantize=quantize)
    result["export"] = time.perf_counter() - started
    started = time.perf_counter()
    serve = tf.saved_model.load(str(directory / name)).signatures["serving_default"]
    result["load"] = time.perf_counter() - started
    started = time.perf_counter()
    serve(**request)["score"].numpy()
    result["first"] = time.perf_counter() - started
    steady = []
    for _ in range(20):
        started = time.perf_counter()
        serve(**request)["score"].numpy()
        steady.append(time.perf_counter() - started)
    result["steady_ms"] = float(np.median(steady)) * 1e3
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", default="feed,jobs")
    parser.add_argument("--quantize", default="none", choices=["none", "int8"])
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="lirank-export-time-"))
    print("| experiment | hashed id inputs | export s | load s | first request s | "
          "request ms (64 candidates, p50) |\n|---|---:|---:|---:|---:|---:|")
    for name in args.experiments.split(","):
        t = timings(name, directory, args.quantize)
        print(f"| {name} | {t['hashed']} | {t['export']:.1f} | {t['load']:.1f} | "
              f"{t['first']:.1f} | {t['steady_ms']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
