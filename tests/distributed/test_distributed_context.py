"""Tests of lirank_tf.distributed.context outside horovodrun (the Horovod side runs in the
test_horovod_* tests)."""

import pytest
import tensorflow as tf

from lirank_tf.distributed import context as context_module
from lirank_tf.distributed.context import (SingleProcessContext, check_compression,
                                           current_context, init, launched_by_horovod,
                                           set_context)


@pytest.fixture(autouse=True)
def restore_current_context():
    previous = current_context()
    yield
    set_context(previous)


@pytest.mark.parametrize("variable", ["HOROVOD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"])
def test_launcher_detection(monkeypatch, variable):
    for name in ("HOROVOD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not launched_by_horovod()
    monkeypatch.setenv(variable, "0")
    assert launched_by_horovod()


def test_plain_python_gets_a_single_process_context(monkeypatch):
    monkeypatch.delenv("HOROVOD_RANK", raising=False)
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    monkeypatch.delenv("PMI_SIZE", raising=False)
    context = init()
    assert isinstance(context, SingleProcessContext) and current_context() is context
    assert (context.rank, context.size, context.is_chief) == (0, 1, True)
    assert init(use_horovod=False) is current_context()


def test_single_process_collectives_are_identities():
    context = SingleProcessContext()
    tensor, splits = tf.constant([[1.0], [2.0]]), tf.constant([2])
    received, received_splits = context.alltoall(tensor, splits)
    assert received is tensor and received_splits is splits
    gradients = [tf.ones([2]), None]
    assert context.allreduce_gradients(gradients) == gradients
    assert context.average_values({"loss": 2}) == {"loss": 2.0}
    context.barrier()
    context.broadcast_variables([tf.Variable(1.0)])
    assert context.verbose(2) == 2


def test_non_chief_ranks_are_quiet_and_arguments_are_checked():
    class Rank1(SingleProcessContext):
        rank, size = 1, 2

    assert Rank1().verbose("auto") == 0 and not Rank1().is_chief
    with pytest.raises(ValueError, match="compression must be one of"):
        check_compression("zstd")
    with pytest.raises(ValueError, match="context must be a DistributedContext"):
        set_context("horovod")
    assert context_module.HorovodContext.__doc__
