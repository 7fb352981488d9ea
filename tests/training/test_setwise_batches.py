"""Training batches with set-wise scoring (lirank_tf.training.pipeline): with
``model.setwise_group`` the records are read in file order and whole batches are shuffled, so
the rows of a session stay in one batch; without it records are shuffled as before."""

import fastavro
import numpy as np
import pytest

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.training.pipeline import raw_dataset, training_dataset
from lirank_tf.transform import DenseStatistics, TransformationModel

BATCH = 40           # four sessions of 10
DAYS, PER_DAY = 2, 400


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    manifest = simulate_feed(tmp_path_factory.mktemp("setwise_feed"), FeedSimulatorConfig(
        num_days=DAYS, valid_days=0, test_days=0, impressions_per_day=PER_DAY, num_members=60,
        posts_per_day=40, seed=6))
    records = []
    for path in manifest["train"]:   # file order, read independently of the pipeline
        with open(path, "rb") as handle:
            records += list(fastavro.reader(handle))
    return manifest["train"], records


def config_for(reader: str, setwise_group: str):
    return get_experiment("feed", {"data": {"reader": reader, "shuffle_buffer_size": 200},
                                   "model": {"setwise_group": setwise_group},
                                   "training": {"batch_size": BATCH}})


def row_keys(batch) -> list[tuple]:
    features, _ = batch
    return list(zip(features["viewer_id"].numpy().astype(str),
                    features["root_object_id"].numpy().astype(str),
                    features["position"].numpy().reshape(-1).round().astype(int)))


def file_chunks(records) -> list[list[tuple]]:
    keys = [(r["viewer_id"], r["root_object_id"], r["position"]) for r in records]
    return [keys[i:i + BATCH] for i in range(0, len(keys), BATCH)]


@pytest.mark.parametrize("reader", ["avro_op", "fastavro"])
def test_setwise_training_shuffles_whole_batches_of_file_order(feed, reader):
    files, records = feed
    chunks = file_chunks(records)
    assert len(chunks) == DAYS * PER_DAY // BATCH
    dataset = raw_dataset(config_for(reader, "viewer_id"), files, shuffle=True, seed=3)
    epochs = [[row_keys(batch) for batch in dataset] for _ in range(2)]
    for batches in epochs:
        assert sorted(batches) == sorted(chunks)      # every batch is a file-order chunk
        assert batches != chunks                       # ... in shuffled order
    assert epochs[0] != epochs[1]                      # reshuffled every epoch
    session_of = {}
    for index, record in enumerate(records):
        session_of.setdefault(record["session_id"], set()).add(index // BATCH)
    assert all(len(batch_ids) == 1 for batch_ids in session_of.values())


@pytest.mark.parametrize("reader", ["avro_op", "fastavro"])
def test_without_setwise_group_records_are_shuffled_across_sessions(feed, reader):
    files, records = feed
    chunks = file_chunks(records)
    batches = [row_keys(batch) for batch in
               raw_dataset(config_for(reader, ""), files, shuffle=True, seed=3)]
    assert sum(len(b) for b in batches) == len(records)
    assert sum(batch in chunks for batch in batches) < len(batches) // 2


def test_setwise_model_ready_batches_keep_the_count_and_the_file_order_without_shuffle(feed):
    files, records = feed
    config = config_for("avro_op", "viewer_id")
    statistics = DenseStatistics(mean={f.name: [0.0] * f.size for f in config.features.dense},
                                 std={f.name: [1.0] * f.size for f in config.features.dense})
    transform = TransformationModel(config.features, statistics)
    batches = len(records) // BATCH
    shuffled = training_dataset(config, files, transform, shuffle=True, seed=5, batches=batches)
    assert int(shuffled.cardinality()) == batches
    groups = [np.unique(inputs["viewer_id"].numpy()).size for inputs, _ in shuffled]
    assert len(groups) == batches and max(groups) <= BATCH // 10
    in_order = [row_keys(batch) for batch in raw_dataset(config, files, shuffle=False)]
    assert in_order == file_chunks(records)
