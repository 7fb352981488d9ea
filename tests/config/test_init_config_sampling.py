"""init-config's sample spans the training files; cardinalities are estimated beyond it."""

import math

import fastavro
import numpy as np

from lirank_tf import init_config as module
from lirank_tf.init_config import estimate_cardinality, propose_config

SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "item", "type": "string"}, {"name": "clicked", "type": "int"}]}


def _write(path, items):
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(SCHEMA),
                        [{"item": item, "clicked": i % 2} for i, item in enumerate(items)])


def test_gee_estimate_against_the_formula_and_exact_when_everything_is_sampled():
    values = ["a", "a", "b", "c", "d", "d", "d", "e"]           # d = 5 distinct, f1 = 3 singletons
    assert estimate_cardinality(values, total=len(values)) == 5
    assert estimate_cardinality(values, total=800) == round(math.sqrt(800 / 8) * 3 + 2)
    assert estimate_cardinality(["x"] * 10, total=10**6) == 1  # no singletons: nothing unseen
    assert estimate_cardinality([str(i) for i in range(10)], total=12) == round(math.sqrt(1.2) * 10)
    # on data with a known answer: 20k ids drawn from 3000 equally likely, sample of 2000
    rng = np.random.default_rng(0)
    population = rng.integers(0, 3000, 20_000)
    estimate = estimate_cardinality(population[:2000].tolist(), total=20_000)
    truth = len(set(population.tolist()))
    assert abs(estimate - truth) / truth < 0.35
    assert estimate > len(set(population[:2000].tolist()))


def test_the_sample_reads_later_files_too(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "SAMPLE_RECORDS", 300)
    for day in range(6):                                        # new items every day
        _write(tmp_path / f"day{day}.avro", [f"d{day}-item{i % 40}" for i in range(200)])
    config, notes = propose_config([str(tmp_path / "*.avro")], ["clicked"])
    note = next(n for n in notes if n.startswith("item:"))
    # 6 files, 50 records from each (the first 40 ids of each day + 10 repeats): 240 distinct
    assert "240 distinct in 300 sampled records" in note
    table = next(t for t in config["features"]["tables"] if t["name"] == "item")
    assert table["num_quotient_buckets"] == 1
    assert table["num_remainder_buckets"] >= 4 * 240
