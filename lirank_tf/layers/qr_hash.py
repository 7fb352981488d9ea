"""Vocabulary-free id embedding: MurmurHash3 to 64 bits, two 32-bit halves, QR tables."""

from __future__ import annotations

import keras
import tensorflow as tf

from lirank_tf.layers.murmur3_tf import MAX_SEED, empty_string_hash, murmur3_x64_64
from lirank_tf.layers.validation import check_positive_int

_AGGREGATIONS = ("sum", "multiply")
_OUTPUT_MODES = ("pooled", "sequence")
_POOLINGS = ("sum", "mean")
_HALF_SPACE = 2**32
_DEFAULT_STRING_PADDING = ""
_DEFAULT_INT_PADDING = -1


def qr_hash_indices(hashes: tf.Tensor, num_quotient_buckets: int,
                    num_remainder_buckets: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Quotient and remainder indices of the two 32-bit halves of 64-bit hashes.

    ``halves = bitcast(hash, uint32)`` gives ``B`` (low 32 bits) and ``C`` (high 32 bits),
    each in [0, 2**32); for each half ``h``::

        quotient_index  = (h // num_remainder_buckets) mod num_quotient_buckets
        remainder_index =  h mod num_remainder_buckets

    With ``num_quotient_buckets >= ceil(2**32 / num_remainder_buckets)`` the modulo is a
    no-op and ``(quotient_index, remainder_index)`` identifies the half exactly; smaller
    quotient tables fold the quotient space (more collisions, less memory).

    Args:
        hashes: int64 tensor of any shape (e.g. from ``murmur3_x64_64``).
        num_quotient_buckets: positive int, rows of each quotient table.
        num_remainder_buckets: positive int, rows of each remainder table (the
            compression ratio of the paper's example: 2**32 ids / 1000 -> ~4.3M quotient
            rows + 1000 remainder rows).

    Returns:
        ``(quotient_indices, remainder_indices)``, int64 tensors of shape
        ``hashes.shape + [2]``; index 0 of the last axis is the low half ``B``, 1 the
        high half ``C``.

    References: LiRank §3.12, §A.7 and Fig. 9; Shi et al. 2019 (QR trick).
    """
    check_positive_int("num_quotient_buckets", num_quotient_buckets)
    check_positive_int("num_remainder_buckets", num_remainder_buckets)
    halves = tf.cast(tf.bitcast(tf.cast(hashes, tf.int64), tf.uint32), tf.int64)
    remainder = tf.constant(num_remainder_buckets, tf.int64)
    quotient_indices = tf.math.floormod(halves // remainder,
                                        tf.constant(num_quotient_buckets, tf.int64))
    return quotient_indices, tf.math.floormod(halves, remainder)


@keras.saving.register_keras_serializable(package="lirank_tf")
class QRHashEmbedding(keras.layers.Layer):
    """Embedding of raw string (or integer) ids without a vocabulary: hash + QR tables.

    Every id is hashed with MurmurHash3 (x64_128, low 64 bits, computed with stock
    TensorFlow ops so the exported model needs no custom op); the 64-bit hash is bitcast
    to two unsigned 32-bit halves ``B`` and ``C``, and each half is looked up in its own
    pair of quotient/remainder tables (see ``qr_hash_indices``)::

        h = murmur3_x64_64(str(id), seed);   B, C = low and high 32 bits of h
        e(id) = Q_B[(B // R) mod Q] + R_B[B mod R] + Q_C[(C // R) mod Q] + R_C[C mod R]

    (``*`` instead of ``+`` with ``aggregation="multiply"``; only the ``B`` terms with
    ``use_both_halves=False``). Integer ids are hashed as their decimal string, so
    ``1234`` and ``"1234"`` share an embedding. Ids equal to ``padding_value`` embed to
    zeros.

    Inputs and outputs, by ``output_mode``:

    * ``"pooled"``: ids ``[batch]`` (one id per row), padded ``[batch, length]`` or
      ragged ``[batch, None]`` -> ``[batch, embedding_dim]``, the sum (or mean, with
      ``pooling="mean"``) of the row's non-padding ids; empty rows give zeros.
    * ``"sequence"``: padded ``[batch, length]`` (or ragged, padded on the right) ->
      ``(embeddings [batch, length, embedding_dim], mask [batch, length] bool)`` with
      zeros at padding positions.

    Args:
        embedding_dim: int, width of every table and of the output.
        num_quotient_buckets: int, rows of each quotient table (``Q``).
        num_remainder_buckets: int, rows of each remainder table (``R``).
        seed: int in [0, 2**32 - 1], MurmurHash3 seed, default 0.
        aggregation: ``"sum"`` (default, what the paper found best) or ``"multiply"``
            (needs an initializer away from 0, e.g. ``RandomUniform(0.9, 1.1)``).
        use_both_halves: bool, default True; False uses only the low 32 bits ``B``.
        output_mode: ``"pooled"`` (default) or ``"sequence"``.
        pooling: ``"sum"`` (default) or ``"mean"``, for ``output_mode="pooled"``.
        padding_value: str or int or None (default): the id that means "no id";
            None means ``""`` for string ids and ``-1`` for integer ids.
        embeddings_initializer: initializer of the tables, default ``"uniform"``.
        hashed_input: bool, default False. True: the ids are already int64 MurmurHash3
            values (``murmur3_x64_64(id, seed)`` with this layer's ``seed``, computed by
            the transformation model in the input pipeline, LiRank §4.3) and are looked up
            without hashing; padding is then the hash of ``""``,
            ``empty_string_hash(seed)`` (0 for seed 0), and ``padding_value`` must be None.

    Example:
        >>> layer = QRHashEmbedding(embedding_dim=4, num_quotient_buckets=1000,
        ...                         num_remainder_buckets=100)
        >>> tuple(layer(tf.constant(["member:1", "member:2", ""])).shape)
        (3, 4)

    References: LiRank §3.12 (QR hashing, sum aggregation), §A.7 and Fig. 9 (MurmurHash
    to int64, bitcast to two int32 halves with independent QR tables).
    """

    def __init__(self, embedding_dim: int, num_quotient_buckets: int,
                 num_remainder_buckets: int, seed: int = 0, aggregation: str = "sum",
                 use_both_halves: bool = True, output_mode: str = "pooled",
                 pooling: str = "sum", padding_value: str | int | None = None,
                 embeddings_initializer: str | keras.initializers.Initializer = "uniform",
                 hashed_input: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.num_quotient_buckets = check_positive_int("num_quotient_buckets",
                                                       num_quotient_buckets)
        self.num_remainder_buckets = check_positive_int("num_remainder_buckets",
                                                        num_remainder_buckets)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be an int in [0, 2**32 - 1], got {seed!r}")
        if aggregation not in _AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {_AGGREGATIONS}, got {aggregation!r}")
        if not isinstance(use_both_halves, bool):
            raise ValueError(f"use_both_halves must be a bool, got {use_both_halves!r}")
        if output_mode not in _OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {_OUTPUT_MODES}, got {output_mode!r}")
        if pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
        if padding_value is not None and (
                isinstance(padding_value, bool) or not isinstance(padding_value, (str, int))):
            raise ValueError(f"padding_value must be a str, an int or None, got {padding_value!r}")
        if not isinstance(hashed_input, bool):
            raise ValueError(f"hashed_input must be a bool, got {hashed_input!r}")
        if hashed_input and padding_value is not None:
            raise ValueError("padding_value must be None with hashed_input=True (padding is "
                             f"the hash of the empty string), got {padding_value!r}")
        self.hashed_input = hashed_input
        self.seed = seed
        self.aggregation = aggregation
        self.use_both_halves = use_both_halves
        self.output_mode = output_mode
        self.pooling = pooling
        self.padding_value = padding_value
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_jit = False  # string ops have no XLA kernels

    def build(self, input_shape) -> None:
        halves = ("low", "high") if self.use_both_halves else ("low",)
        self.quotient_tables = []
        self.remainder_tables = []
        for half in halves:
            self.quotient_tables.append(self.add_weight(
                name=f"quotient_table_{half}",
                shape=(self.num_quotient_buckets, self.embedding_dim),
                initializer=self.embeddings_initializer))
            self.remainder_tables.append(self.add_weight(
                name=f"remainder_table_{half}",
                shape=(self.num_remainder_buckets, self.embedding_dim),
                initializer=self.embeddings_initializer))

    def _padding_for(self, dtype: tf.DType) -> str | int:
        """The padding id for ids of ``dtype``, checked against the id type."""
        if self.hashed_input:
            if dtype != tf.int64:
                raise ValueError("hashed_input=True expects int64 hashes, got dtype "
                                 f"{dtype.name}")
            return empty_string_hash(self.seed)
        if dtype == tf.string:
            padding = _DEFAULT_STRING_PADDING if self.padding_value is None else self.padding_value
            if not isinstance(padding, str):
                raise ValueError(f"padding_value must be a str for string ids, got {padding!r}")
            return padding
        if not dtype.is_integer:
            raise ValueError(f"ids must be strings or integers, got dtype {dtype.name}")
        padding = _DEFAULT_INT_PADDING if self.padding_value is None else self.padding_value
        if isinstance(padding, str):
            raise ValueError(f"padding_value must be an int for integer ids, got {padding!r}")
        return padding

    def _ids_to_hashes_and_mask(self, ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """int64 hashes and the non-padding mask of dense ids."""
        mask = tf.not_equal(ids, tf.constant(self._padding_for(ids.dtype), ids.dtype))
        if self.hashed_input:
            return ids, mask
        strings = ids if ids.dtype == tf.string else tf.strings.as_string(tf.cast(ids, tf.int64))
        return murmur3_x64_64(strings, self.seed), mask

    def embed_hashes(self, hashes: tf.Tensor) -> tf.Tensor:
        """Embeddings ``[..., embedding_dim]`` of int64 MurmurHash3 values (no padding)."""
        quotient_indices, remainder_indices = qr_hash_indices(
            hashes, self.num_quotient_buckets, self.num_remainder_buckets)
        vectors = []
        for half, (quotient_table, remainder_table) in enumerate(
                zip(self.quotient_tables, self.remainder_tables)):
            vectors.append(tf.gather(quotient_table, quotient_indices[..., half]))
            vectors.append(tf.gather(remainder_table, remainder_indices[..., half]))
        combine = tf.add if self.aggregation == "sum" else tf.multiply
        embeddings = vectors[0]
        for vector in vectors[1:]:
            embeddings = combine(embeddings, vector)
        return tf.cast(embeddings, self.compute_dtype)

    # at inference, look each distinct hash of a batch up once (see `_embed`); False where
    # lookups are collective (sharded tables: every worker must exchange alike)
    distinct_lookups_at_inference = True

    def _embed(self, hashes: tf.Tensor, training) -> tf.Tensor:
        """``embed_hashes(hashes)``; at inference each distinct hash is embedded once and the
        rows gathered back (the same values): a request's N rows repeat its member's ids
        and lists, and each embedding costs four table rows (more for int8 tables)."""
        if training or not self.distinct_lookups_at_inference:
            return self.embed_hashes(hashes)
        distinct, index = tf.unique(tf.reshape(hashes, [-1]), out_idx=tf.int32)
        rows = tf.gather(self.embed_hashes(distinct), index)
        embeddings = tf.reshape(rows, tf.concat([tf.shape(hashes), [self.embedding_dim]], 0))
        embeddings.set_shape(hashes.shape.concatenate([self.embedding_dim]))
        return embeddings

    def call(self, ids, training=None):
        if isinstance(ids, tf.RaggedTensor):
            return self._call_ragged(ids)
        ids = tf.convert_to_tensor(ids)
        hashes, mask = self._ids_to_hashes_and_mask(ids)
        embeddings = self._embed(hashes, training) * tf.cast(mask, self.compute_dtype)[..., None]
        if self.output_mode == "sequence":
            return embeddings, mask
        if ids.shape.rank == 1:
            return embeddings
        return self._pool(tf.reduce_sum(embeddings, axis=-2),
                          tf.reduce_sum(tf.cast(mask, self.compute_dtype), axis=-1))

    def _call_ragged(self, ids: tf.RaggedTensor):
        if ids.ragged_rank != 1:
            raise ValueError(f"ragged ids must have ragged_rank 1, got {ids.ragged_rank}")
        if self.output_mode == "sequence":
            return self.call(ids.to_tensor(default_value=self._padding_for(ids.dtype)))
        hashes, mask = self._ids_to_hashes_and_mask(ids.flat_values)
        weights = tf.cast(mask, self.compute_dtype)
        values = self.embed_hashes(hashes) * weights[:, None]
        sums = tf.reduce_sum(ids.with_flat_values(values), axis=1)
        counts = tf.reduce_sum(ids.with_flat_values(weights), axis=1)
        return self._pool(sums, counts)

    def _pool(self, sums: tf.Tensor, counts: tf.Tensor) -> tf.Tensor:
        if self.pooling == "sum":
            return sums
        return tf.math.divide_no_nan(sums, counts[..., None])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "embedding_dim": self.embedding_dim,
            "num_quotient_buckets": self.num_quotient_buckets,
            "num_remainder_buckets": self.num_remainder_buckets,
            "seed": self.seed,
            "aggregation": self.aggregation,
            "use_both_halves": self.use_both_halves,
            "output_mode": self.output_mode,
            "pooling": self.pooling,
            "padding_value": self.padding_value,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer),
            "hashed_input": self.hashed_input,
        })
        return config
