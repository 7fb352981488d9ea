"""Shared plumbing of the Ads and Jobs simulators: day splits, Avro day files, a manifest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import fastavro
import numpy as np

CODECS = ("null", "deflate", "snappy")


def check_days_and_codec(num_days: int, valid_days: int, test_days: int, codec: str) -> None:
    """Raises ValueError unless the days leave a training day and the codec is known."""
    if min(valid_days, test_days) < 0 or num_days < valid_days + test_days + 1:
        raise ValueError(f"num_days must leave at least one training day, got num_days={num_days}, "
                         f"valid_days={valid_days}, test_days={test_days}")
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")


def check_positive(config: Any, *names: str) -> None:
    """Raises ValueError naming the first of ``names`` whose value is not a positive number."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def id_names(prefix: str, values) -> list[str]:
    """``["prefix:3", ...]`` for the integer ``values``."""
    return [f"{prefix}:{int(v)}" for v in values]


def write_day_files(output_dir: str | Path, schema_path: Path, config: Any,
                    simulate_day: Callable[[int], list[dict]]) -> dict[str, list[str]]:
    """Writes ``day_NNN.avro`` for each of ``config.num_days`` days and ``manifest.json``.

    ``config`` is a dataclass with ``num_days``, ``valid_days``, ``test_days`` and ``codec``;
    the last ``test_days`` days are the test split, the ``valid_days`` before them validation.
    Returns ``{"train": [...], "valid": [...], "test": [...]}`` file paths.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    schema = fastavro.parse_schema(json.loads(Path(schema_path).read_text()))
    first_valid = config.num_days - config.valid_days - config.test_days
    first_test = config.num_days - config.test_days
    manifest: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for day in range(config.num_days):
        path = output_dir / f"day_{day:03d}.avro"
        with open(path, "wb") as handle:
            fastavro.writer(handle, schema, simulate_day(day), codec=config.codec)
        split = "train" if day < first_valid else "valid" if day < first_test else "test"
        manifest[split].append(str(path))
    (output_dir / "manifest.json").write_text(json.dumps(
        {"config": dataclasses.asdict(config), "files": manifest}, indent=2))
    return manifest
