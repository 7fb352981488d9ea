"""``lirank-tf init-config``: a complete, commented experiment config from Avro files.

The writer schema of the first training file and a sample of records (from up to 10 files
spread over the training files) decide each field:

* ``string`` (and ``enum``) -> a categorical id with its own QR-hash embedding table, sized
  from the cardinality estimated from the sample (`estimate_cardinality`);
* ``int`` / ``long`` -> a dense feature when the sample says it is a quantity (an ``age``, a
  count, an epoch timestamp), else an id (``user_id``, ``zip_code``, a 3-valued bucket): the
  rule of `lirank_tf.data.column_kinds`;
* ``float`` / ``double`` (and ``boolean``) -> a dense feature (normalisation statistics are fitted
  on the training data by ``lirank-tf train``); fixed-length ``array<float>`` -> a dense vector;
* ``array<string|int|long>`` -> a pooled id list;
* nullable unions (``["null", T]``) -> the feature of ``T`` with a default;
* the ``--labels`` fields -> one task each; everything else (maps, records, variable-length float
  arrays) is listed in a comment and left out;
* ``--dense-columns`` / ``--id-columns`` force a column's kind (numbers dense; strings, enums
  and integers ids; a float is never hashed into ids).

`propose` returns the config with one `ColumnChoice` per column (kind, distinct values, reason),
which the command prints as a table (`format_table`) after writing the file; the YAML keeps the
same choices as header comments.

Every file is read with the bounded reader `lirank_tf.data.avro_file`: a truncated, corrupt,
non-Avro or unreadable file is an `AvroFileError` naming it and the byte offset. The sampled
labels must lie in [0, 1] (not null, not NaN) and the training files must hold records, else a
`UserError` names the file, record and value (or the files).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Sequence

import yaml

from lirank_tf.config.base import ConfigError
from lirank_tf.config.experiments import INIT_CONFIG_MODELS as MODELS
from lirank_tf.config.recipe import (EMBEDDING_L2, EPOCH_CAP,  # noqa: F401 (public here too)
                                     COLD_START_MAX_RECORDS, COLD_START_SHARE,
                                     EPOCHS_WITHOUT_VALIDATION, MAX_RARE_SHARE, MIN_COUNT,
                                     cold_start_column, dcnv2_training, id_min_count,
                                     model_defaults, recipe_notes)
from lirank_tf.config.schema import ExperimentConfig
from lirank_tf.data.avro_file import open_avro, record_count
from lirank_tf.data.column_kinds import (DENSE, DENSE_VECTOR, ID, ID_LIST, LABEL, LEFT_OUT,
                                         ColumnChoice, format_table, integer_kind)
from lirank_tf.data.preflight import check_label
from lirank_tf.errors import UserError
from lirank_tf.data.files import expand_globs, spread_files

SAMPLE_RECORDS = 5000
SAMPLE_FILES = 10
MAX_REMAINDER_ROWS = 1 << 20
# the column types --dense-columns and --id-columns accept
DENSE_TYPES = ("int", "long", "float", "double", "boolean")
ID_TYPES = ("int", "long", "string", "enum")


@dataclass(frozen=True)
class Proposal:
    """What `propose` makes of the files: the ``config`` mapping, a comment line per field
    (``notes``) and a `ColumnChoice` per column (``columns``, the printed table)."""

    config: dict
    notes: list[str]
    columns: list[ColumnChoice]
    model: str

    def table(self) -> str:
        return format_table(self.columns)


def _base_type(avro_type: Any) -> tuple[Any, bool]:
    """(the non-null branch, nullable) of a field type."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) == 1:
            return branches[0], len(branches) < len(avro_type)
        return avro_type, "null" in avro_type
    return avro_type, False


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, dict):
        if avro_type.get("type") == "array":
            return f"array<{_type_name(avro_type['items'])}>"
        return str(avro_type.get("logicalType") or avro_type.get("type"))
    return str(avro_type)


def _table_for(name: str, cardinality: int, dim: int) -> dict:
    """A QR table pair for ~4x the estimated cardinality (``rows``): the remainder table has
    ``rows`` rows itself (one per id; the two independent hash halves make full collisions
    rare) and the quotient table 1 row, a shared offset, until ``rows`` passes
    ``MAX_REMAINDER_ROWS``; beyond it the quotient table splits the vocabulary (LiRank §3.12:
    QR hashing is the memory saving for huge vocabularies). Compressing small vocabularies
    costs accuracy: on MovieLens-100K (user_id: 943 ids in 2 x (59 + 57) rows) test AUC dropped
    from 0.786 to 0.766 (benchmarks/own_data.py, per-user split, batch 1024). Edit the written
    config to compress more (``num_quotient_buckets`` x ``num_remainder_buckets`` >= ids)."""
    rows = max(16, 4 * cardinality)
    remainder = min(rows, MAX_REMAINDER_ROWS)
    return {"name": name, "dim": dim, "num_quotient_buckets": math.ceil(rows / remainder),
            "num_remainder_buckets": remainder}


def _sample(files: Sequence[str]) -> tuple[dict, list[dict], list[tuple[str, int]], int]:
    """(the writer schema, a sample of records, the (file, record index) of each, the estimated
    number of training records).

    The sample takes the first records of up to ``SAMPLE_FILES`` files spread evenly over the
    (sorted, often chronological) list, ``SAMPLE_RECORDS`` in all, so that ids that appear only
    in later files (new items, new days) are seen; empty files are passed over, and training
    files without any record are an error naming them. The record count is exact for the
    sampled files (Avro block headers, each checked to the end of the file) and scaled by file
    size for the others."""
    sample = _read_sample(spread_files(files, SAMPLE_FILES))
    if not sample[1]:   # the spread picked only empty files: look at every file's headers
        filled = [path for path in files if record_count(path)]
        if not filled:
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            raise UserError(f"--train: the training files hold no records: {shown}")
        sample = _read_sample(spread_files(filled, SAMPLE_FILES))
    schema, records, origins, picked, picked_records = sample
    picked_bytes = sum(Path(p).stat().st_size for p in picked)
    all_bytes = sum(Path(p).stat().st_size for p in files)
    total = round(picked_records * all_bytes / max(1, picked_bytes))
    return schema, records, origins, max(total, len(records))


def _read_sample(picked: Sequence[str]):
    """(schema, records, their (file, index), ``picked``, records in ``picked``)."""
    per_file = -(-SAMPLE_RECORDS // len(picked))
    records: list[dict] = []
    origins: list[tuple[str, int]] = []
    schema: dict = {}
    picked_records = 0
    for path in picked:
        with open_avro(path) as avro:
            schema = schema or {**avro.writer_schema, "fields": avro.fields}
            picked_records += avro.record_count()
            sampled = list(islice(avro, per_file))
        records.extend(sampled)
        origins.extend((path, index) for index in range(len(sampled)))
    return schema, records, origins, picked, picked_records


def unseen_shares(train_files: Sequence[str], valid_files: Sequence[str],
                  columns: Sequence[str]) -> dict[str, float]:
    """``{column: share of the validation records whose value of column no training record
    holds}`` over all of ``train_files`` and ``valid_files`` (nulls count as a value)."""
    seen: dict[str, set] = {column: set() for column in columns}
    for path in train_files:
        with open_avro(path) as avro:
            for record in avro:
                for column in columns:
                    seen[column].add(record[column])
    unseen, records = dict.fromkeys(columns, 0), 0
    for path in valid_files:
        with open_avro(path) as avro:
            for record in avro:
                records += 1
                for column in columns:
                    unseen[column] += record[column] not in seen[column]
    return {column: count / records for column, count in unseen.items()} if records else {}


def _cold_start_note(train_files: Sequence[str], valid_files: Sequence[str],
                     columns: Sequence[str], total: int) -> tuple[bool, str]:
    """(whether the validation data is cold-start, the note saying why): the rule of
    `lirank_tf.config.recipe.cold_start_column`, checked over all the files."""
    if total > COLD_START_MAX_RECORDS:
        return False, (f"cold-start check skipped: ~{total} training records, more than the "
                       f"{COLD_START_MAX_RECORDS} it reads; embedding rows: AdaGrad")
    shares = unseen_shares(train_files, valid_files, columns)
    column = cold_start_column(shares)
    if column:
        return True, (f"cold start: {shares[column]:.0%} of the validation records hold a "
                      f"{column} no training record has (>= {COLD_START_SHARE:.0%}) -> "
                      "training.sparse_optimizer: adam (embedding rows at 1e-3)")
    top = max(shares, key=shares.get, default="")
    most = f"{shares[top]:.1%} ({top})" if top else "none"
    return False, (f"no cold start: at most {most} of the validation records hold an id no "
                   f"training record has (< {COLD_START_SHARE:.0%}) -> embedding rows: AdaGrad")


def estimate_cardinality(values: Sequence[Any], total: int) -> int:
    """Distinct values among ``total`` records estimated from ``values`` (one per sampled
    record, ids of a list flattened): exact when the sample is everything, else the GEE
    estimator (Charikar et al., PODS 2000): singletons scaled by sqrt(total / sample),
    ``sqrt(total / n) * f1 + (d - f1)``, capped at ``total``."""
    n = len(values)
    counts = Counter(values)
    distinct = len(counts)
    if n == 0 or total <= n:
        return distinct
    singletons = sum(1 for c in counts.values() if c == 1)
    estimate = math.sqrt(total / n) * singletons + (distinct - singletons)
    return int(min(round(estimate), total))


def _check_same_schema(files: Sequence[str], schema: dict) -> None:
    for path in files[1:]:
        with open_avro(path) as avro:
            other = avro.fields
        if other != schema.get("fields"):
            raise UserError(f"files have different schemas: {files[0]} and {path}")


def _check_overrides(fields: dict, labels: Sequence[str], dense_columns: Sequence[str],
                     id_columns: Sequence[str], path: str) -> None:
    """``--dense-columns`` / ``--id-columns`` name scalar columns of the schema that can take
    the kind: numbers dense, strings / enums / integers ids (a float is not hashed)."""
    both = sorted(set(dense_columns) & set(id_columns))
    if both:
        raise ConfigError(f"--dense-columns/--id-columns: column {both[0]!r} is in both")
    for flag, names, allowed in (("--dense-columns", dense_columns, DENSE_TYPES),
                                 ("--id-columns", id_columns, ID_TYPES)):
        for name in names:
            if name not in fields:
                raise ConfigError(f"{flag}: {path} has no column {name!r}; "
                                  f"columns: {sorted(fields)}")
            if name in labels:
                raise ConfigError(f"{flag}: column {name!r} is a label (--labels)")
            base, _ = _base_type(fields[name])
            kind = base.get("type") if isinstance(base, dict) else base
            if kind not in allowed:
                raise ConfigError(f"{flag}: column {name!r} is {_type_name(base)}; {flag} takes "
                                  f"{', '.join(allowed)} columns")


def _id_feature(name: str, base: Any, nullable: bool, values: list, total: int, dim: int,
                reason: str, sampled: int) -> tuple[dict, dict, str, ColumnChoice]:
    """(table, id feature, comment line, table row) of a scalar id column."""
    cardinality = estimate_cardinality(values, total)
    distinct = len(set(values))
    feature = {"name": name, "table": name, "kind": "id",
               "dtype": "string" if base == "string" or isinstance(base, dict) else "int64"}
    null_note = " (nullable: null -> default)" if nullable else ""
    why = f" ({reason})" if base in ("int", "long") else ""
    note = (f"{name}: {_type_name(base)}{null_note}, {distinct} distinct in {sampled} sampled "
            f"records (~{cardinality} estimated in ~{total}) -> hashed id embedding{why}")
    return (_table_for(name, cardinality, dim), feature, note,
            ColumnChoice(name, _shown_type(base, nullable), ID, reason, distinct, cardinality))


def _with_min_count(feature: dict, note: str, ids: list, total: int) -> str:
    """Sets ``feature["min_count"]`` by the recipe's rule (`id_min_count`) from the
    column's sampled ``ids`` of ~``total``; returns ``note`` saying what was chosen."""
    feature["min_count"] = id_min_count(ids, total)
    if feature["min_count"]:
        return f"{note}; ids seen < {feature['min_count']} times share one row (min_count)"
    return (f"{note}; min_count 0: the sample puts >= {MAX_RARE_SHARE:.0%} of its ids below "
            f"{MIN_COUNT} occurrences")


def _shown_type(base: Any, nullable: bool) -> str:
    """The Avro type in the table: ``null|string`` for a nullable string."""
    return ("null|" if nullable else "") + _type_name(base)


def _scalar_kind(name: str, base: Any, values: list, dense_columns: Sequence[str],
                 id_columns: Sequence[str]) -> tuple[str | None, str]:
    """(`ID`, `DENSE` or None for other types, the reason) of a column: the overrides first,
    then its type (integers by `integer_kind`)."""
    if name in dense_columns:
        return DENSE, "--dense-columns"
    if name in id_columns:
        return ID, "--id-columns"
    if base in ("int", "long"):
        return integer_kind(name, values)
    if base in ("float", "double", "boolean"):
        return DENSE, base
    if base == "string" or (isinstance(base, dict) and base.get("type") == "enum"):
        return ID, _type_name(base)
    return None, ""


def _other_feature(name: str, base: Any, nullable: bool, values: list, total: int,
                   dim: int) -> tuple[dict | None, dict | None, str, ColumnChoice]:
    """(table, feature, comment line, table row) of an array column (id list or dense vector)
    or of a column left out."""
    shown, type_name = _shown_type(base, nullable), _type_name(base)
    null_note = " (nullable: null -> default)" if nullable else ""
    if not (isinstance(base, dict) and base.get("type") == "array"):
        return (None, None, f"{name}: {type_name} -> left out (unsupported type)",
                ColumnChoice(name, shown, LEFT_OUT, "unsupported type"))
    items, _ = _base_type(base["items"])
    lengths = {len(v) for v in values}
    flat = [x for v in values for x in v]
    if items in ("string", "int", "long"):
        cardinality = estimate_cardinality(flat, round(total * len(flat) / max(1, len(values))))
        longest = max(lengths | {1})
        feature = {"name": name, "table": name, "kind": "id_list",
                   "dtype": "string" if items == "string" else "int64",
                   "max_length": min(longest, 100)}
        note = (f"{name}: {type_name}{null_note}, ~{cardinality} distinct ids, up to {longest} "
                "per record -> pooled id list (mean)")
        return (_table_for(name, cardinality, dim), feature, note,
                ColumnChoice(name, shown, ID_LIST, f"up to {longest} ids a record",
                             len(set(flat)), cardinality))
    if items in ("float", "double") and len(lengths) == 1:
        size = lengths.pop()
        return (None, {"name": name, "size": size, "transform": "signed_log1p"},
                f"{name}: {type_name} of fixed length {size} -> dense vector",
                ColumnChoice(name, shown, DENSE_VECTOR, f"fixed length {size}", len(set(flat))))
    return (None, None, f"{name}: {type_name} -> left out (no fixed length / unsupported item "
            "type)", ColumnChoice(name, shown, LEFT_OUT, "no fixed length / item type"))


def propose(train: Sequence[str], labels: Sequence[str], valid: Sequence[str] = (),
            test: Sequence[str] = (), model: str = "dcnv2", dense_columns: Sequence[str] = (),
            id_columns: Sequence[str] = ()) -> Proposal:
    """The proposed config, a comment line per field and a `ColumnChoice` per column.
    ``dense_columns`` / ``id_columns`` force those columns' kind (`_check_overrides`)."""
    if model not in MODELS:
        raise ConfigError(f"--model: unknown model {model!r}; choices: {list(MODELS)}")
    if not labels:
        raise ConfigError("--labels: name at least one label field")
    train_files = expand_globs(train, "--train")
    all_files = train_files + expand_globs(valid, "--valid") + expand_globs(test, "--test")
    schema, records, origins, total = _sample(train_files)
    _check_same_schema(all_files, schema)
    fields = {f["name"]: f["type"] for f in schema["fields"]}
    missing = [label for label in labels if label not in fields]
    if missing:
        raise ConfigError(f"--labels: {train_files[0]} has no field(s) {missing}; "
                          f"fields: {sorted(fields)}")
    _check_overrides(fields, labels, dense_columns, id_columns, train_files[0])
    for record, (path, index) in zip(records, origins):
        for label in labels:
            check_label(path, index, label, record[label])
    dim = 16 if model == "dcnv2" else 30
    tables, ids, dense, notes, columns = [], [], [], [], []
    for name, avro_type in fields.items():
        values = [r[name] for r in records if r[name] is not None]
        if name in labels:
            notes.append(f"{name}: {_type_name(avro_type)} -> label of task '{name}'")
            columns.append(ColumnChoice(name, _type_name(avro_type), LABEL, "--labels",
                                        len(set(values))))
            continue
        base, nullable = _base_type(avro_type)
        kind, reason = _scalar_kind(name, base, values, dense_columns, id_columns)
        if kind == ID:
            table, feature, note, choice = _id_feature(name, base, nullable, values, total, dim,
                                                       reason, len(records))
            note = _with_min_count(feature, note, values,
                                   round(total * len(values) / max(1, len(records))))
            tables.append(table)
            ids.append(feature)
        elif kind == DENSE:
            feature = {"name": name, "size": 1, "transform": "signed_log1p"}
            dense.append(feature)
            null_note = " (nullable: null -> default)" if nullable else ""
            counted = (f", {len(set(values))} distinct in {len(records)} sampled records "
                       f"({reason})" if base in ("int", "long") else "")
            note = (f"{name}: {base}{null_note}{counted} -> dense feature (signed log1p, "
                    "standardised)")
            choice = ColumnChoice(name, _shown_type(base, nullable), DENSE, reason,
                                  len(set(values)))
        else:
            table, feature, note, choice = _other_feature(name, base, nullable, values, total,
                                                          dim)
            if table is not None:
                tables.append(table)
            if choice.kind == ID_LIST:
                flat = [x for v in values for x in v]
                note = _with_min_count(feature, note, flat,
                                       round(total * len(flat) / max(1, len(values))))
                ids.append(feature)
            elif choice.kind == DENSE_VECTOR:
                dense.append(feature)
        notes.append(note)
        columns.append(choice)
    if not ids and not dense:
        raise ConfigError(f"{train_files[0]}: no usable feature besides the labels")
    tasks = [{"name": label, "label": label, "group": label if model != "dcnv2" else "main"}
             for label in labels]
    config = {
        "name": f"{model}_experiment",
        "data": {"train": list(train), "valid": list(valid), "test": list(test)},
        "features": {"tables": tables, "ids": ids, "dense": dense, "history": None},
        "tasks": tasks,
        "model": model_defaults(model),
    }
    if valid:   # the recipe: Platt scaling fitted on the validation files after training
        config["model"]["platt_scaling"] = True
    singles = [f["name"] for f in ids if f.get("kind", "id") == "id"]
    cold = False
    if valid and singles:
        cold, note = _cold_start_note(train_files, expand_globs(valid, "--valid"), singles,
                                      total)
        notes.append(note)
    config["training"] = dcnv2_training(bool(valid), cold_start=cold)
    ExperimentConfig.from_dict(config)   # validates before anything is written
    return Proposal(config, notes, columns, model)


def propose_config(train: Sequence[str], labels: Sequence[str], valid: Sequence[str] = (),
                   test: Sequence[str] = (), model: str = "dcnv2",
                   dense_columns: Sequence[str] = (),
                   id_columns: Sequence[str] = ()) -> tuple[dict, list[str]]:
    """The config mapping and one comment line per field explaining the choice made."""
    proposal = propose(train, labels, valid, test, model, dense_columns, id_columns)
    return proposal.config, proposal.notes


def check_output(output: str | Path, overwrite: bool) -> Path:
    """``output`` as a Path; an existing file is an error unless ``overwrite``."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    return output


def write_config(proposal: Proposal, output: str | Path, overwrite: bool = False) -> Path:
    """Writes ``proposal``'s config to ``output``: YAML with the field choices as header
    comments, or JSON (by suffix)."""
    output = check_output(output, overwrite)
    config = proposal.config
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix == ".json":
        import json
        output.write_text(json.dumps(config, indent=2) + "\n")
        return output
    header = ["# lirank-tf experiment config written by `lirank-tf init-config`.",
              f"# model: {proposal.model}. Edit freely; `lirank-tf train --config {output.name} "
              "--output-dir DIR` trains it.", "#",
              "# How each field of the Avro schema was mapped:"]
    header += [f"#   {note}" for note in proposal.notes]
    header += recipe_notes(config)
    body = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)
    output.write_text("\n".join(header) + "\n\n" + body)
    return output


def init_config(train: Sequence[str], labels: Sequence[str], output: str | Path,
                valid: Sequence[str] = (), test: Sequence[str] = (), model: str = "dcnv2",
                overwrite: bool = False, dense_columns: Sequence[str] = (),
                id_columns: Sequence[str] = ()) -> Path:
    """Writes the proposed config (YAML with comments, or JSON) to ``output``."""
    check_output(output, overwrite)
    proposal = propose(train, labels, valid, test, model, dense_columns, id_columns)
    return write_config(proposal, output, overwrite)
