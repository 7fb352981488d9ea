"""Shared checks of the simulator tests: schema, determinism, splits, labels vs oracle."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import fastavro
import numpy as np

from lirank_tf.data.raw_features import label_fields, raw_fields
from lirank_tf.evaluation import auc


def read_records(paths) -> list[dict]:
    records = []
    for path in paths:
        with open(path, "rb") as handle:
            records.extend(fastavro.reader(handle))
    return records


def all_files(manifest: dict) -> list[str]:
    return manifest["train"] + manifest["valid"] + manifest["test"]


def assert_files_follow_schema(manifest: dict, schema_path: Path, codec: str = "deflate") -> None:
    expected = [f["name"] for f in json.loads(Path(schema_path).read_text())["fields"]]
    for path in all_files(manifest):
        with open(path, "rb") as handle:
            reader = fastavro.reader(handle)
            assert reader.codec == codec
            assert [f["name"] for f in reader.writer_schema["fields"]] == expected


def assert_experiment_fields_in_schema(config, schema_path: Path) -> None:
    """Every raw feature, label and oracle column the experiment reads is in the schema."""
    names = {f["name"] for f in json.loads(Path(schema_path).read_text())["fields"]}
    wanted = {f.name for f in raw_fields(config)} | set(label_fields(config).values())
    wanted |= {f"oracle_{label}" for label in label_fields(config).values()}
    assert wanted <= names, sorted(wanted - names)


def records_digest(records: list[dict]) -> str:
    return hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


def assert_labels_follow_oracle(records: list[dict], label: str, low: float, high: float,
                                min_auc: float) -> None:
    """Positive rate in [low, high], within 4 binomial standard errors of the mean oracle
    probability, and the oracle ranks the labels with AUC above ``min_auc``."""
    labels = np.array([r[label] for r in records], dtype=np.float64)
    oracle = np.array([r[f"oracle_{label}"] for r in records], dtype=np.float64)
    assert low < labels.mean() < high, (label, labels.mean())
    assert abs(labels.mean() - oracle.mean()) < 4 * np.sqrt(oracle.mean() / len(labels)), label
    assert auc(labels, oracle) > min_auc, (label, auc(labels, oracle))
