"""Checkpoints of plain, data-parallel and model-parallel models; restores re-shard.

Every worker saves the table rows it holds; a checkpoint is read back by any number of
workers with any sharding plan, or by a single-process plain model (for export), because
tables are stored by logical rows (``key``, ``[row_start, row_end)``), not by worker::

    root/step-00000042/
        tables-rank00000.npz   each worker: its table rows and their optimizer slots, plus an
        tables-rank00001.npz   index of (arrays, key, row range, slot names); replicated
                               (plain) tables are written by rank 0 only
        replicated.npz         rank 0: every other weight (by path) and optimizer variable
                               (by name): dense layers, iteration count, their slots
        manifest.json          rank 0, written last after a barrier: step, world size, files,
                               table shapes; a directory without it is incomplete and ignored

Files go to a shared directory (one host, or a shared file system).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from lirank_tf.distributed.context import DistributedContext, current_context
from lirank_tf.distributed.model_parallel import plain_tables
from lirank_tf.distributed.sharded_layers import ShardedTables
from lirank_tf.distributed.sharded_lookup import TableSegment
from lirank_tf.distributed.variables import all_layers, optimizer_slots

MANIFEST = "manifest.json"
REPLICATED = "replicated.npz"


def _tables(model: keras.Model) -> Iterator[tuple[keras.Variable, list[TableSegment], bool,
                                                    dict[str, int]]]:
    """``(variable, segments, replicated, total rows of each key)`` of every table variable."""
    for layer in all_layers(model):
        if isinstance(layer, ShardedTables):
            if layer.built:
                yield layer.shard_rows, layer.table_segments(), False, {
                    key: layer.sharding_plan.rows(key) for key in layer.table_keys.values()}
        else:
            for key, variable in plain_tables(layer).items():
                yield variable, [TableSegment(key, 0, variable.shape[0])], True, {
                    key: variable.shape[0]}


def _optimizer(model: keras.Model) -> keras.optimizers.Optimizer | None:
    optimizer = getattr(model, "optimizer", None)
    return optimizer if isinstance(optimizer, keras.optimizers.Optimizer) else None


def _write_npz(path: Path, arrays: dict) -> None:
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


def _table_arrays(model: keras.Model, slots: dict, context: DistributedContext) -> tuple:
    """This worker's table rows (and their slots) as npz arrays with their index; the ids of
    all table variables and slots; ``{key: [rows, dim]}`` of every table."""
    arrays, index, table_ids, shapes = {}, [], set(), {}
    for variable, segments, replicated, rows in _tables(model):
        table_ids.add(id(variable))
        table_ids.update(id(s) for s in slots.get(id(variable), {}).values())
        shapes.update({key: [n, int(variable.shape[1])] for key, n in rows.items()})
        if replicated and not context.is_chief:
            continue  # every worker holds it: rank 0 saves it
        value = variable.numpy()
        slot_values = {name: s.numpy() for name, s in slots.get(id(variable), {}).items()}
        for segment in segments:
            rows_here = slice(segment.local_offset,
                              segment.local_offset + segment.row_end - segment.row_start)
            piece = f"piece{len(index)}"
            arrays[f"{piece}/value"] = value[rows_here]
            for name, slot_value in slot_values.items():
                arrays[f"{piece}/slot/{name}"] = slot_value[rows_here]
            index.append({"arrays": piece, "key": segment.key, "row_start": segment.row_start,
                          "row_end": segment.row_end, "slots": sorted(slot_values)})
    arrays["index"] = np.array(json.dumps(index))
    return arrays, table_ids, shapes


def save_checkpoint(model: keras.Model, root: str | Path, step: int | None = None,
                    context: DistributedContext | None = None, keep: int | None = None) -> Path:
    """Saves ``model`` (weights and optimizer state) under ``root/step-NNNNNNNN``.

    Collective: every worker must call it. ``step`` defaults to the optimizer's iteration
    count (0 without optimizer); ``keep`` (int or None) prunes all but the newest ``keep``.
    """
    context = context if context is not None else current_context()
    optimizer = _optimizer(model)
    has_optimizer = optimizer is not None and optimizer.built
    slots = optimizer_slots(optimizer, model.trainable_variables) if has_optimizer else {}
    arrays, table_ids, shapes = _table_arrays(model, slots, context)
    weights = [v for v in model.weights if id(v) not in table_ids]
    if len({v.path for v in weights}) != len(weights):  # checked on every worker
        raise ValueError("the model has several weights with the same path; give its layers "
                         "unique names")
    if step is None:
        step = int(optimizer.iterations.numpy()) if has_optimizer else 0
    path = Path(root) / f"step-{step:08d}"
    path.mkdir(parents=True, exist_ok=True)
    if context.is_chief:  # saving again at the same step: unmark it until rewritten
        (path / MANIFEST).unlink(missing_ok=True)
    context.barrier()
    _write_npz(path / f"tables-rank{context.rank:05d}.npz", arrays)
    if context.is_chief:  # Horovod: rank 0 alone writes the replicated state.
        replicated = {f"weight/{v.path}": v.numpy() for v in weights}
        if has_optimizer:
            replicated.update({f"optimizer/{v.name}": v.numpy()
                               for v in optimizer.variables if id(v) not in table_ids})
        _write_npz(path / REPLICATED, replicated)
    # Horovod: every worker's rows are on disk before rank 0 marks the checkpoint complete.
    context.barrier()
    if context.is_chief:
        manifest = {"step": step, "world_size": context.size, "has_optimizer": has_optimizer,
                    "tables": shapes,
                    "table_files": [f"tables-rank{r:05d}.npz" for r in range(context.size)]}
        temporary = path / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(manifest, indent=1))
        os.replace(temporary, path / MANIFEST)
        if keep is not None:
            for old in completed_checkpoints(root)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    context.barrier()
    return path


def completed_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step-*") if (p / MANIFEST).is_file())


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root``, or None."""
    found = completed_checkpoints(root)
    return found[-1] if found else None


def _assign_rows(target: np.ndarray, pieces: list, key: str, row_start: int, row_end: int,
                 offset: int, member: str) -> None:
    """Copies rows ``[row_start, row_end)`` of ``key`` from the saved pieces into ``target``."""
    covered = 0
    for data, piece in pieces:
        if piece["key"] != key:
            continue
        low, high = max(row_start, piece["row_start"]), min(row_end, piece["row_end"])
        if low >= high:
            continue
        if member != "value" and member[len("slot/"):] not in piece["slots"]:
            raise ValueError(f"the checkpoint has no optimizer slot {member!r} for table {key!r} "
                             f"(it has {piece['slots']}); was it saved with another optimizer?")
        saved = data[f"{piece['arrays']}/{member}"]
        target[offset + low - row_start:offset + high - row_start] = \
            saved[low - piece["row_start"]:high - piece["row_start"]]
        covered += high - low
    if covered != row_end - row_start:
        raise ValueError(f"the checkpoint has {covered} of rows [{row_start}, {row_end}) of "
                         f"table {key!r} ({member}); it is incomplete or of another model")


def restore_checkpoint(model: keras.Model, path: str | Path,
                       context: DistributedContext | None = None) -> int:
    """Restores ``model`` from checkpoint ``path`` (or from the newest one under it) for this
    worker's sharding; the optimizer state too when ``model`` is compiled. Returns the step."""
    context = context if context is not None else current_context()
    path = Path(path)
    if not (path / MANIFEST).is_file():
        newest = latest_checkpoint(path)
        if newest is None:
            raise ValueError(f"no complete checkpoint (with {MANIFEST}) at or under {path}")
        path = newest
    manifest = json.loads((path / MANIFEST).read_text())
    optimizer = _optimizer(model) if manifest["has_optimizer"] else None
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    slots = optimizer_slots(optimizer, model.trainable_variables) if optimizer else {}
    missing = [name for name in manifest["table_files"] if not (path / name).is_file()]
    if missing:
        raise ValueError(f"checkpoint {path} is incomplete: {missing} are missing")
    files = [np.load(path / name) for name in manifest["table_files"]]
    try:
        pieces = [(data, piece) for data in files for piece in json.loads(str(data["index"]))]
        table_ids = set()
        for variable, segments, _, rows in _tables(model):
            for key, n in rows.items():
                if manifest["tables"].get(key, [None])[0] != n:
                    raise ValueError(f"table {key!r} has {n} rows in the model but "
                                     f"{manifest['tables'].get(key)} in checkpoint {path}")
            table_ids.add(id(variable))
            targets = {"value": variable, **{f"slot/{name}": slot for name, slot
                                             in slots.get(id(variable), {}).items()}}
            for member, target in targets.items():
                table_ids.add(id(target))
                values = np.zeros(target.shape, target.dtype)
                for s in segments:
                    _assign_rows(values, pieces, s.key, s.row_start, s.row_end, s.local_offset,
                                 member)
                target.assign(values)
    finally:
        for data in files:
            data.close()
    with np.load(path / REPLICATED) as saved:
        expected = {f"weight/{v.path}": v for v in model.weights if id(v) not in table_ids}
        if optimizer is not None:
            expected.update({f"optimizer/{v.name}": v for v in optimizer.variables
                             if id(v) not in table_ids})
        saved_keys = {k for k in saved.files if optimizer is not None or k.startswith("weight/")}
        if set(expected) != saved_keys:
            raise ValueError(f"checkpoint {path} does not match the model: missing "
                             f"{sorted(set(expected) - saved_keys)}, unexpected "
                             f"{sorted(saved_keys - set(expected))}")
        for key, variable in expected.items():
            variable.assign(saved[key])
    return int(manifest["step"])
