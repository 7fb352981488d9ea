"""Helpers of the distributed tests: launch workers (horovodrun or python) with small thread
pools and a timeout, and read checkpoints back with NumPy alone (independently of
lirank_tf.distributed.sharded_checkpoint, whose format they thereby check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORKERS_DIR = Path(__file__).resolve().parent / "workers"
VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]
# Tolerance of "same weights": float32 sums in another order (allreduce of partial means).
RTOL, ATOL = 1e-5, 1e-6


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float


def worker_env() -> dict:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                "KERAS_BACKEND": "tensorflow", "PYTHONWARNINGS": "ignore",
                "PYTHONPATH": os.pathsep.join([str(WORKERS_DIR), str(REPO_ROOT)])})
    return env


def run_workers(script: str, args: list[str], processes: int | None, timeout: float = 150) -> Run:
    """Runs ``workers/script`` under ``horovodrun -np processes --gloo`` (or plain python
    when ``processes`` is None); a job that outlives ``timeout`` seconds fails the test."""
    command = [sys.executable, str(WORKERS_DIR / script), *args]
    if processes is not None:
        command = [str(VENV_BIN / "horovodrun"), "-np", str(processes), "--gloo",
                   "-H", f"localhost:{processes}", *command]
    start = time.monotonic()
    try:
        done = subprocess.run(command, env=worker_env(), capture_output=True, text=True,
                              timeout=timeout, cwd=str(WORKERS_DIR))
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(f"{' '.join(command)} did not finish within {timeout} s (hung?)\n"
                             f"{expired.output}{expired.stderr}") from expired
    return Run(done.returncode, done.stdout + done.stderr, time.monotonic() - start)


def check_ok(run: Run) -> Run:
    assert run.returncode == 0, f"workers failed (exit {run.returncode}):\n{run.output[-6000:]}"
    return run


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """``{variable path: value}`` of a checkpoint directory, tables assembled from the rows
    that every rank saved (each row exactly once)."""
    manifest = json.loads((path / "manifest.json").read_text())
    values: dict[str, np.ndarray] = {}
    with np.load(path / "replicated.npz") as replicated:
        for key in replicated.files:
            if key.startswith("weight/"):
                values[key[len("weight/"):]] = replicated[key]
    filled: dict[str, np.ndarray] = {}
    for name in manifest["table_files"]:
        with np.load(path / name) as data:
            for piece in json.loads(str(data["index"])):
                key, start, end = piece["key"], piece["row_start"], piece["row_end"]
                rows, dim = manifest["tables"][key]
                table = values.setdefault(key, np.full((rows, dim), np.nan, np.float32))
                count = filled.setdefault(key, np.zeros(rows, np.int64))
                table[start:end] = data[f"{piece['arrays']}/value"]
                count[start:end] += 1
    for key, count in filled.items():
        assert np.all(count == 1), f"rows of {key} saved {sorted(set(count.tolist()))} times"
    return values


def assert_same_weights(expected: dict, actual: dict, what: str) -> None:
    assert sorted(expected) == sorted(actual), f"{what}: {sorted(expected)} != {sorted(actual)}"
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{what}: {key}")


def plain_reference(directory: Path, save_after: str) -> Path:
    """Single-process plain-Keras training of the toy model (computed once per directory)."""
    if not (directory / "predictions-plain-N1.npy").exists():
        directory.mkdir(parents=True, exist_ok=True)
        check_ok(run_workers("hvd_train_worker.py",
                             ["--mode", "plain", "--out", str(directory),
                              "--save-after", save_after], processes=None))
    return directory
