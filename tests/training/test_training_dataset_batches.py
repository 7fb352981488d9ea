"""training_dataset (lirank_tf.training.pipeline) with a known number of batches: the C++ Avro
reader cannot tell its cardinality, so the caller's count (from the Avro block headers) is
asserted and Keras knows each epoch's length."""

import math

import fastavro
import pytest
import tensorflow as tf

from lirank_tf.config import get_experiment
from lirank_tf.sim import FeedSimulatorConfig, simulate_feed
from lirank_tf.training.pipeline import training_dataset
from lirank_tf.transform import DenseStatistics, TransformationModel

BATCH = 64


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    manifest = simulate_feed(tmp_path_factory.mktemp("feed"), FeedSimulatorConfig(
        num_days=2, valid_days=0, test_days=0, impressions_per_day=300, num_members=80,
        posts_per_day=40, seed=2))
    config = get_experiment("feed", {"data": {"reader": "avro_op"}})
    statistics = DenseStatistics(mean={f.name: [0.0] * f.size for f in config.features.dense},
                                 std={f.name: [1.0] * f.size for f in config.features.dense})
    records = 0
    for path in manifest["train"]:   # the count, read independently of the pipeline
        with open(path, "rb") as handle:
            records += sum(1 for _ in fastavro.reader(handle))
    return config, manifest["train"], TransformationModel(config.features, statistics), records


def test_without_a_count_the_avro_reader_cardinality_is_unknown(feed):
    config, files, transform, _ = feed
    dataset = training_dataset(config, files, transform, shuffle=False, batch_size=BATCH)
    assert int(dataset.cardinality()) == tf.data.UNKNOWN_CARDINALITY


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_given_count_is_the_cardinality_and_holds(feed, shuffle):
    config, files, transform, records = feed
    batches = math.ceil(records / BATCH)
    dataset = training_dataset(config, files, transform, shuffle=shuffle, seed=3,
                               batch_size=BATCH, batches=batches)
    assert int(dataset.cardinality()) == batches
    rows = [int(tf.shape(labels["click"])[0]) for _, labels in dataset]
    assert len(rows) == batches and sum(rows) == records


def test_a_wrong_count_fails_the_epoch(feed):
    config, files, transform, records = feed
    dataset = training_dataset(config, files, transform, shuffle=False, batch_size=BATCH,
                               batches=math.ceil(records / BATCH) + 1)
    with pytest.raises(tf.errors.FailedPreconditionError, match="expected to contain"):
        for _ in dataset:
            pass


@pytest.mark.parametrize("batches", [0, -1, 2.0, True])
def test_bad_counts_fail_naming_the_value(feed, batches):
    config, files, transform, _ = feed
    with pytest.raises(ValueError, match=rf"batches must be a positive int or None, got "
                                         rf"{batches!r}"):
        training_dataset(config, files, transform, shuffle=False, batches=batches)
