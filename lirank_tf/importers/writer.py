"""Rolling Avro object-container writer of the importers: part files of a bounded number of
rows, each written to a temporary name and renamed when complete, so an import that fails
half-way leaves no truncated file, and nothing already in the output folder is replaced
unless asked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import fastavro

CODECS = ("null", "deflate", "snappy")


def check_output_dir(output_dir: str | Path, prefix: str, overwrite: bool) -> Path:
    """``output_dir`` created if missing; an error if it already holds ``prefix-*.avro`` parts
    and ``overwrite`` is False (the earlier import is never silently mixed or replaced)."""
    directory = Path(output_dir)
    existing = sorted(directory.glob(f"{prefix}-*.avro")) if directory.exists() else []
    if existing and not overwrite:
        raise FileExistsError(f"{directory} already holds {len(existing)} file(s) "
                              f"{prefix}-*.avro (e.g. {existing[0].name}); pass overwrite=True "
                              "(--overwrite) to replace them or choose another output folder")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_parts(records: Iterable[dict], schema: dict, output_dir: str | Path, *,
                prefix: str = "part", rows_per_file: int = 100_000, codec: str = "deflate",
                overwrite: bool = False) -> tuple[list[Path], int]:
    """Writes ``records`` as ``prefix-00000.avro``, ``prefix-00001.avro``, ... of at most
    ``rows_per_file`` rows each. Returns (the files, the number of rows)."""
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    if isinstance(rows_per_file, bool) or not isinstance(rows_per_file, int) or rows_per_file < 1:
        raise ValueError(f"rows_per_file must be a positive int, got {rows_per_file!r}")
    directory = check_output_dir(output_dir, prefix, overwrite)
    parsed = fastavro.parse_schema(schema)
    written: list[Path] = []
    pending: list[Path] = []
    batch: list[dict] = []
    total = 0

    def flush() -> None:
        final = directory / f"{prefix}-{len(written):05d}.avro"
        temporary = final.with_name(f".{final.name}.tmp")
        pending.append(temporary)
        with open(temporary, "wb") as handle:
            fastavro.writer(handle, parsed, batch, codec=codec)
        written.append(final)
        batch.clear()

    try:
        for record in records:
            batch.append(record)
            total += 1
            if len(batch) == rows_per_file:
                flush()
        if batch or not written:
            flush()
    except BaseException:
        for temporary in pending:
            temporary.unlink(missing_ok=True)
        raise
    for stale in directory.glob(f"{prefix}-*.avro"):   # overwrite: the old parts go
        stale.unlink()
    for temporary, final in zip(pending, written):
        os.replace(temporary, final)
    return written, total
