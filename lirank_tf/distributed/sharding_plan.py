"""Placement of embedding tables on workers: table-wise, memory-balanced, optional row-wise split.

Every worker computes the same plan from the same table list (the planner is a pure,
deterministic function), so no communication is needed to agree on it.

    table-wise:  tables sorted by size (largest first) go one by one to the worker that holds
                 the fewest bytes so far (greedy "longest processing time" balancing);
    row-wise:    a table named in ``row_wise``, or larger than ``max_bytes_per_worker``, is cut
                 into ``world_size`` contiguous row blocks, block k on worker k.

References: LiRank §4.1 and §A.4, Fig. 7 (each worker owns part of the embedding tables).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One embedding table: ``key`` (unique in the model, ``"{layer}/{table}"``), rows, width."""

    key: str
    rows: int
    dim: int
    bytes_per_value: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"key must be a non-empty str, got {self.key!r}")
        for name in ("rows", "dim", "bytes_per_value"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} of table {self.key!r} must be a positive int, "
                                 f"got {value!r}")

    @property
    def num_bytes(self) -> int:
        return self.rows * self.dim * self.bytes_per_value


@dataclasses.dataclass(frozen=True)
class Shard:
    """Rows ``[row_start, row_end)`` of a table, held by worker ``rank``."""

    rank: int
    row_start: int
    row_end: int

    @property
    def rows(self) -> int:
        return self.row_end - self.row_start


@dataclasses.dataclass(frozen=True)
class ShardingPlan:
    """Where every row of every table lives: ``placements[key]`` is a tuple of contiguous
    shards sorted by ``row_start`` that cover ``[0, rows)``; a worker holds at most one shard
    of a table."""

    world_size: int
    placements: Mapping[str, tuple[Shard, ...]]

    def __post_init__(self) -> None:
        if isinstance(self.world_size, bool) or not isinstance(self.world_size, int) \
                or self.world_size < 1:
            raise ValueError(f"world_size must be a positive int, got {self.world_size!r}")
        for key, shards in self.placements.items():
            if not shards or shards[0].row_start != 0:
                raise ValueError(f"the shards of table {key!r} must start at row 0, got {shards}")
            for before, after in zip(shards, shards[1:]):
                if after.row_start != before.row_end:
                    raise ValueError(f"the shards of table {key!r} must be contiguous, "
                                     f"got {shards}")
            ranks = [s.rank for s in shards]
            if len(set(ranks)) != len(ranks) or not all(0 <= r < self.world_size for r in ranks):
                raise ValueError(f"the shards of table {key!r} need distinct ranks in "
                                 f"[0, {self.world_size}), got {ranks}")
            if any(s.rows <= 0 for s in shards):
                raise ValueError(f"the shards of table {key!r} must not be empty, got {shards}")

    def rows(self, key: str) -> int:
        return self.placements[key][-1].row_end

    def local_shards(self, rank: int) -> dict[str, Shard]:
        """``{key: shard}`` of the tables (or row blocks) that worker ``rank`` holds."""
        return {key: shard for key, shards in self.placements.items()
                for shard in shards if shard.rank == rank}

    def subset(self, keys: Iterable[str]) -> "ShardingPlan":
        """The plan restricted to ``keys`` (the tables of one layer)."""
        keys = list(keys)
        missing = [k for k in keys if k not in self.placements]
        if missing:
            raise ValueError(f"the sharding plan has no table {missing}; "
                             f"it has {sorted(self.placements)}")
        return ShardingPlan(self.world_size, {k: self.placements[k] for k in keys})

    def bytes_per_rank(self, tables: Sequence[TableSpec]) -> list[int]:
        """Bytes of table rows held by each worker."""
        width = {t.key: t.dim * t.bytes_per_value for t in tables}
        held = [0] * self.world_size
        for key, shards in self.placements.items():
            for shard in shards:
                held[shard.rank] += shard.rows * width[key]
        return held

    def to_dict(self) -> dict:
        return {"world_size": self.world_size,
                "placements": {k: [[s.rank, s.row_start, s.row_end] for s in shards]
                               for k, shards in self.placements.items()}}

    @classmethod
    def from_dict(cls, config: Mapping) -> "ShardingPlan":
        return cls(int(config["world_size"]),
                   {k: tuple(Shard(*map(int, s)) for s in shards)
                    for k, shards in config["placements"].items()})


def row_blocks(rows: int, world_size: int) -> list[tuple[int, int]]:
    """``world_size`` contiguous blocks of ``rows`` rows, sizes differing by at most one
    (the first ``rows % world_size`` blocks get the extra row); empty blocks are dropped."""
    base, extra = divmod(rows, world_size)
    blocks, start = [], 0
    for k in range(world_size):
        end = start + base + (1 if k < extra else 0)
        if end > start:
            blocks.append((start, end))
        start = end
    return blocks


def plan_sharding(tables: Sequence[TableSpec], world_size: int, *,
                  row_wise: Iterable[str] = (),
                  max_bytes_per_worker: int | None = None) -> ShardingPlan:
    """Places ``tables`` on ``world_size`` workers, balancing the bytes each one holds.

    Args:
        tables: the tables to place; keys must be unique.
        world_size: positive int, number of workers.
        row_wise: keys of tables to split row-wise over all workers (default none).
        max_bytes_per_worker: int or None (default): tables larger than this are split
            row-wise, and a plan that still puts more on one worker raises ValueError.

    Returns:
        The ``ShardingPlan`` (deterministic: the same on every worker).
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    if max_bytes_per_worker is not None and (isinstance(max_bytes_per_worker, bool) or
                                             not isinstance(max_bytes_per_worker, int) or
                                             max_bytes_per_worker < 1):
        raise ValueError(f"max_bytes_per_worker must be a positive int or None, "
                         f"got {max_bytes_per_worker!r}")
    keys = [t.key for t in tables]
    if len(set(keys)) != len(keys):
        raise ValueError(f"table keys must be unique, got {keys}")
    row_wise = set(row_wise)
    unknown = sorted(row_wise - set(keys))
    if unknown:
        raise ValueError(f"row_wise names unknown tables {unknown}; the tables are {keys}")

    held = [0] * world_size
    placements: dict[str, tuple[Shard, ...]] = {}
    too_large = {t.key for t in tables
                 if max_bytes_per_worker is not None and t.num_bytes > max_bytes_per_worker}
    for table in tables:
        if table.key in row_wise or table.key in too_large:
            shards = tuple(Shard(k, start, end)
                           for k, (start, end) in enumerate(row_blocks(table.rows, world_size)))
            for shard in shards:
                held[shard.rank] += shard.rows * table.dim * table.bytes_per_value
            placements[table.key] = shards
    # Largest first; ties broken by key so that every worker computes the same plan.
    for table in sorted((t for t in tables if t.key not in placements),
                        key=lambda t: (-t.num_bytes, t.key)):
        rank = min(range(world_size), key=lambda r: (held[r], r))
        held[rank] += table.num_bytes
        placements[table.key] = (Shard(rank, 0, table.rows),)
    if max_bytes_per_worker is not None and max(held) > max_bytes_per_worker:
        raise ValueError(f"the tables do not fit: a worker would hold {max(held)} bytes, more "
                         f"than max_bytes_per_worker={max_bytes_per_worker} (per worker: {held})")
    return ShardingPlan(world_size, {key: placements[key] for key in keys})
