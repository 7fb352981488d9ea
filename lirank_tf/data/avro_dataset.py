"""``AvroTensorDataset``: Avro files -> batches of feature tensors with one fused C++ op.

The op ``LirankAvroTensorDataset`` (custom_ops/avro/) reads Avro object container files
through TensorFlow's file systems, decompresses (null, deflate, snappy) and decodes whole
blocks in parallel with a decode program compiled from each file's schema, shuffles and
batches in the same step (LiRank §4.2). It replaces ``tensorflow-io``'s ATDS reader.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

import tensorflow as tf

from lirank_tf.data.avro_features import (DenseFeature, Feature, SparseFeature, VarlenFeature,
                                          spec_json, validate_features)
from lirank_tf.ops.library import load_ops_library

DEFAULT_READER_BUFFER_SIZE = 256 * 1024

Filenames = Union[str, Sequence[str], tf.Tensor, tf.data.Dataset]


def _filenames_dataset(filenames: Filenames) -> tf.data.Dataset:
    if isinstance(filenames, tf.data.Dataset):
        spec = filenames.element_spec
        if not (isinstance(spec, tf.TensorSpec) and spec.dtype == tf.string and spec.shape.rank == 0):
            raise ValueError(f"filenames: a dataset of file names must yield scalar tf.string, "
                             f"got element_spec {spec!r}")
        return filenames
    if isinstance(filenames, (list, tuple)):
        if not filenames or not all(isinstance(name, (str, bytes)) for name in filenames):
            raise ValueError(f"filenames must be a non-empty list of str, got {filenames!r}")
    elif not isinstance(filenames, (str, bytes, tf.Tensor, tf.Variable)):
        raise ValueError(f"filenames must be a list of str, a string tensor or a dataset of "
                         f"names, got {type(filenames).__name__}")
    names = tf.convert_to_tensor(filenames, tf.string)
    if names.shape.rank is not None and names.shape.rank > 1:
        raise ValueError(f"filenames must be a scalar or a vector, got shape {names.shape}")
    return tf.data.Dataset.from_tensor_slices(tf.reshape(names, [-1]))


def _check_int(name: str, value: Any, minimum: int, maximum: int,
               allow_autotune: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or \
            not (minimum <= value <= maximum or (allow_autotune and value == tf.data.AUTOTUNE)):
        extra = " or tf.data.AUTOTUNE" if allow_autotune else ""
        raise ValueError(f"{name} must be an int in [{minimum}, {maximum}]{extra}, got {value!r}")
    return value


def _specs(spec: Feature, batch: int | None) -> tuple[Any, list[tf.DType], list[tf.TensorShape],
                                                     Any]:
    """(structure of the op's outputs, their dtypes, their shapes, the final element spec)."""
    if isinstance(spec, DenseFeature):
        tensor = tf.TensorSpec([batch, *spec.shape], spec.dtype)
        return tensor, [spec.dtype], [tensor.shape], tensor
    if isinstance(spec, SparseFeature) or spec.output == "sparse":
        dims = [None if d == -1 else d for d in spec.shape]
        sparse = tf.SparseTensorSpec([batch, *dims], spec.dtype)
        return sparse, [tf.variant], [tf.TensorShape([3])], sparse
    ragged_rank = spec.ragged_rank
    trailing = list(spec.shape[ragged_rank:])
    parts = [tf.TensorSpec([None, *trailing], spec.dtype)]
    parts += [tf.TensorSpec([None if batch is None or level else batch + 1], tf.int64)
              for level in range(ragged_rank)]
    final = tf.RaggedTensorSpec([batch, *([None] * ragged_rank), *trailing], spec.dtype,
                                ragged_rank=ragged_rank, row_splits_dtype=tf.int64)
    return tuple(parts), [p.dtype for p in parts], [p.shape for p in parts], final


class AvroTensorDataset(tf.data.Dataset):
    """A ``tf.data.Dataset`` of dicts of batched feature tensors read from Avro files.

    One C++ op reads, decompresses, decodes, shuffles and batches (LiRank §4.2): blocks are
    decoded column-wise by a program compiled once per file schema, on ``num_parallel_calls``
    threads; fields not in ``features`` are skipped by schema without being materialised.
    Order is deterministic when ``shuffle_buffer_size == 0`` (file order), and with a seed.

    Shuffling: blocks are decoded whole and buffered until more than
    ``shuffle_buffer_size + batch_size`` records are unread; each record of a batch is then
    drawn uniformly, without replacement, from all unread records of all buffered blocks. How
    this differs from ``Dataset.shuffle(shuffle_buffer_size)``: the pool is refilled a whole
    block at a time (never one record), so it holds between ``shuffle_buffer_size +
    batch_size`` records and that plus one block; records of the same block enter the pool
    together, so with a buffer smaller than a few blocks, neighbouring records of a file stay
    likelier to share a batch than under an element-wise shuffle; and a whole batch is drawn
    from one pool state (no refill between the records of a batch). With a seed (or a global
    seed) the order is reproducible and each iteration over the dataset (epoch) draws a
    different one; with no seed every iterator draws a fresh random order.

    Memory is bounded by the buffers, not by file sizes: ``reader_buffer_size`` bytes of file
    reads, ``max(8, 4 * num_parallel_calls)`` blocks in flight (1 for a single thread), and
    the decoded blocks holding unread records (a partly consumed block stays until its last
    record is taken).

    Args:
        filenames: list of str, a string tensor (scalar or vector), or a ``tf.data.Dataset`` of
            scalar strings (e.g. ``files.shard(hvd.size(), hvd.rank())``). Any file system
            scheme TensorFlow or tensorflow-io registers works. Also usable inside
            ``interleave`` (pass the scalar file name).
        features: dict {Avro field name: ``DenseFeature`` | ``SparseFeature`` |
            ``VarlenFeature``}. A spec that does not fit a file's schema fails when the file
            is opened, before any block is read, naming the field, the expected and the found
            type.
        batch_size: int in [1, 2^31], records per batch.
        shuffle_buffer_size: int in [0, 2^40], default 0 (no shuffling): records to sample
            from in addition to the batch (see above).
        drop_remainder: bool, default False; True drops a last batch smaller than
            ``batch_size`` (and gives the batch dimension a static size).
        num_parallel_calls: int in [1, 256] or ``tf.data.AUTOTUNE`` (default: the number of
            schedulable cores): threads in total that decompress and decode blocks,
            including the caller's thread (1 = everything on the calling thread).
        reader_buffer_size: int in [1024, 2^32], default 256 KiB: bytes per file read.
        seed: int or None, default None: shuffle seed (combined with the global seed as
            ``tf.random`` ops do).

    Raises:
        ValueError: invalid arguments, naming the argument and the value.

    Data errors (corrupt or truncated files, bad sync markers, checksum failures, values out
    of range for the dtype, wrong array lengths, nulls without default) raise
    ``tf.errors.InvalidArgumentError`` or ``tf.errors.DataLossError`` naming the file, the
    block's byte offset, the record and the field; iteration can continue past them (e.g.
    with ``.ignore_errors()``). Iterators can be checkpointed mid-epoch with
    ``tf.train.Checkpoint(iterator=it)``; restoring re-reads the buffered blocks by file name
    and offset (files must not change in between).

    Example:
        >>> import tempfile, os, fastavro
        >>> path = os.path.join(tempfile.mkdtemp(), "example.avro")
        >>> schema = {"type": "record", "name": "r", "fields": [
        ...     {"name": "x", "type": "float"},
        ...     {"name": "tags", "type": {"type": "array", "items": "string"}}]}
        >>> with open(path, "wb") as f:
        ...     fastavro.writer(f, schema, [{"x": 1.5, "tags": ["a", "b"]}, {"x": 2.0, "tags": []}])
        >>> ds = AvroTensorDataset([path], {"x": DenseFeature(tf.float32),
        ...                                 "tags": VarlenFeature(tf.string)}, batch_size=2)
        >>> batch = next(iter(ds))
        >>> batch["x"].numpy().tolist(), batch["tags"].to_list()
        ([1.5, 2.0], [[b'a', b'b'], []])

    References: LiRank §4.2 (Avro tensor dataset loader); tensorflow-io ATDS.
    """

    def __init__(self, filenames: Filenames, features: Mapping[str, Feature], batch_size: int,
                 *, shuffle_buffer_size: int = 0, drop_remainder: bool = False,
                 num_parallel_calls: int = tf.data.AUTOTUNE,
                 reader_buffer_size: int = DEFAULT_READER_BUFFER_SIZE,
                 seed: int | None = None) -> None:
        self._features = validate_features(features)
        batch_size = _check_int("batch_size", batch_size, 1, 2**31)
        shuffle_buffer_size = _check_int("shuffle_buffer_size", shuffle_buffer_size, 0, 2**40)
        num_parallel_calls = _check_int("num_parallel_calls", num_parallel_calls, 1, 256,
                                        allow_autotune=True)
        reader_buffer_size = _check_int("reader_buffer_size", reader_buffer_size, 1024, 2**32)
        if not isinstance(drop_remainder, bool):
            raise ValueError(f"drop_remainder must be a bool, got {drop_remainder!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self._filenames = _filenames_dataset(filenames)

        batch = batch_size if drop_remainder else None
        raw_structure, output_types, output_shapes, element_spec = {}, [], [], {}
        for name, spec in self._features.items():
            raw, dtypes, shapes, final = _specs(spec, batch)
            raw_structure[name] = raw
            output_types += dtypes
            output_shapes += shapes
            element_spec[name] = final
        seed1, seed2 = tf.compat.v1.get_seed(seed)
        handle = load_ops_library().lirank_avro_tensor_dataset(
            input_dataset=tf.data.experimental.to_variant(self._filenames),
            batch_size=tf.constant(batch_size, tf.int64),
            shuffle_buffer_size=tf.constant(shuffle_buffer_size, tf.int64),
            drop_remainder=tf.constant(drop_remainder, tf.bool),
            num_parallel_calls=tf.constant(num_parallel_calls, tf.int64),
            reader_buffer_size=tf.constant(reader_buffer_size, tf.int64),
            seed=tf.constant(seed1 or 0, tf.int64),
            seed2=tf.constant(seed2 or 0, tf.int64),
            features=spec_json(self._features),
            output_types=output_types,
            output_shapes=output_shapes)
        dataset = tf.data.experimental.from_variant(handle, raw_structure)
        ragged = [name for name, spec in element_spec.items()
                  if isinstance(spec, tf.RaggedTensorSpec)]
        if ragged:
            dataset = dataset.map(lambda raw: _assemble_ragged(raw, ragged),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        self._dataset = dataset
        self._element_spec = dataset.element_spec
        # tf.data.Dataset has no public constructor from a variant: subclasses hand the
        # variant of the dataset they wrap to DatasetV2.__init__, as tf.data's own
        # TFRecordDataset does (the one use of a private attribute here).
        super().__init__(dataset._variant_tensor)  # pylint: disable=protected-access

    @property
    def element_spec(self) -> dict[str, Any]:
        return self._element_spec

    @property
    def features(self) -> dict[str, Feature]:
        """The validated feature specs, sorted by field name."""
        return dict(self._features)

    def _inputs(self) -> list[tf.data.Dataset]:
        return [self._filenames]


def _assemble_ragged(raw: dict[str, Any], ragged: list[str]) -> dict[str, Any]:
    batch = dict(raw)
    for name in ragged:
        values, *splits = raw[name]
        batch[name] = tf.RaggedTensor.from_nested_row_splits(values, splits, validate=False)
    return batch


def read_avro_file(path: str | tf.Tensor, features: Mapping[str, Feature]) -> dict[str, Any]:
    """Every record of one Avro file as a single batch, decoded synchronously.

    Uses the same C++ reader and decoder as ``AvroTensorDataset`` (op ``LirankAvroReadFile``)
    without tf.data: for inspecting files, tools and tests. The whole file is held in memory.

    Args:
        path: str or scalar string tensor, an Avro object container file (any TF scheme).
        features: dict {field name: spec}, as for ``AvroTensorDataset``.

    Returns:
        dict {name: Tensor | SparseTensor | RaggedTensor} with a batch dimension of the file's
        record count.

    Example:
        >>> import tempfile, os, fastavro
        >>> path = os.path.join(tempfile.mkdtemp(), "example.avro")
        >>> schema = {"type": "record", "name": "r", "fields": [{"name": "x", "type": "int"}]}
        >>> with open(path, "wb") as f:
        ...     fastavro.writer(f, schema, [{"x": 1}, {"x": 2}])
        >>> read_avro_file(path, {"x": DenseFeature(tf.int32)})["x"].numpy().tolist()
        [1, 2]
    """
    checked = validate_features(features)
    output_types = []
    for spec in checked.values():
        output_types += _specs(spec, None)[1]
    components = load_ops_library().lirank_avro_read_file(
        filename=path, features=spec_json(checked), output_types=output_types)
    batch, position = {}, 0
    for name, spec in checked.items():
        if isinstance(spec, DenseFeature):
            batch[name] = components[position]
            position += 1
        elif isinstance(spec, SparseFeature) or spec.output == "sparse":
            indices, values, shape = tf.raw_ops.DeserializeSparse(
                serialized_sparse=components[position], dtype=spec.dtype)
            batch[name] = tf.SparseTensor(indices, values, shape)
            position += 1
        else:
            parts = components[position:position + 1 + spec.ragged_rank]
            batch[name] = tf.RaggedTensor.from_nested_row_splits(parts[0], parts[1:],
                                                                 validate=False)
            position += 1 + spec.ragged_rank
    return batch

