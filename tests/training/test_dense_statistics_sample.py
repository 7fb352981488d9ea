"""Dense normalisation statistics: fitted across the training files, safe for constant features."""

import fastavro
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.init_config import init_config
from lirank_tf.training.trainer import fit_transformation, statistics_sample
from lirank_tf.transform import fit_dense_statistics
from lirank_tf.transform.normalization import MIN_STD

SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user", "type": "string"}, {"name": "price", "type": "double"},
    {"name": "clicked", "type": "int"}]}


def _write(path, prices):
    rows = [{"user": f"u{i % 7}", "price": float(p), "clicked": i % 2} for i, p in enumerate(prices)]
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(SCHEMA), rows, codec="deflate")


def _config(tmp_path, day_prices, batch_size=16):
    (tmp_path / "train").mkdir()
    for day, prices in enumerate(day_prices):
        _write(tmp_path / "train" / f"day{day:02d}.avro", prices)
    path = init_config(train=[str(tmp_path / "train/*.avro")], labels=["clicked"],
                       output=tmp_path / "run.yaml")
    config = ExperimentConfig.load(path)
    dense = [f.replace(transform="none") for f in config.features.dense]
    return config.replace(features=config.features.replace(dense=dense),
                          training=config.training.replace(batch_size=batch_size))


def test_a_constant_component_is_centred_but_not_scaled():
    values = np.array([[3.0, 1.0], [3.0, 2.0], [3.0, 4.0]], np.float32)
    dataset = tf.data.Dataset.from_tensors(({"x": values}, {}))
    feature = type("F", (), {"name": "x", "size": 2, "transform": "none"})()
    stats = fit_dense_statistics(dataset, [feature])
    np.testing.assert_allclose(stats.mean["x"], values.mean(axis=0), rtol=1e-6)
    assert stats.std["x"][0] == 1.0
    assert stats.std["x"][1] == pytest.approx(values[:, 1].std(), rel=1e-6)
    assert values[:, 1].std() > MIN_STD


def test_statistics_come_from_every_part_of_the_training_files(tmp_path):
    # three days with one constant price each: the first file alone would give std 1, mean 10
    day_prices = [np.full(64, 10.0), np.full(64, 20.0), np.full(64, 30.0)]
    config = _config(tmp_path, day_prices)
    files = sorted(str(p) for p in (tmp_path / "train").glob("*.avro"))
    transform = fit_transformation(config, files)
    sampled = np.concatenate(day_prices)                      # 4 batches of 16 per file: all of it
    assert transform.statistics.mean["price"][0] == pytest.approx(sampled.mean(), rel=1e-6)
    assert transform.statistics.std["price"][0] == pytest.approx(sampled.std(), rel=1e-6)


def test_the_sample_spreads_over_many_files_and_is_capped(tmp_path):
    day_prices = [np.full(32, float(day)) for day in range(25)]
    config = _config(tmp_path, day_prices, batch_size=8)
    files = sorted(str(p) for p in (tmp_path / "train").glob("*.avro"))
    seen = np.concatenate([raw["price"].numpy().reshape(-1)
                           for raw, _ in statistics_sample(config, files, max_batches=20, max_files=5)])
    # 5 files evenly spread over the 25 (days 0, 6, 12, 18, 24), 4 batches of 8 from each
    assert sorted(set(seen.tolist())) == [0.0, 6.0, 12.0, 18.0, 24.0]
    assert len(seen) == 5 * 4 * 8
    with pytest.raises(ValueError, match="no training files"):
        statistics_sample(config, [])
