"""Typed feature specs of ``AvroTensorDataset``: how each Avro field becomes a tensor.

Three kinds, following tensorflow-io's ATDS layouts (LiRank §4.2):

* ``DenseFeature``: scalars and fixed-length (nested) arrays -> ``Tensor [batch, *shape]``.
* ``SparseFeature``: the ATDS sparse record ``{indices0, ..., indicesR-1, values}`` (arrays of
  equal length) -> ``SparseTensor [batch, *shape]``.
* ``VarlenFeature``: variable-length (nested) arrays -> ``RaggedTensor`` or ``SparseTensor``.

Nullable fields (an Avro union with ``null``) read as the feature's ``default_value`` (dense
values) or as empty rows (variable-length dimensions). ``features_from_schema``
(``avro_schema.py``) derives specs from a file's schema.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal, Mapping, Union

import tensorflow as tf

SUPPORTED_DTYPES = (tf.int32, tf.int64, tf.float32, tf.float64, tf.bool, tf.string)
MAX_RANK = 8

DefaultValue = Union[int, float, bool, str, bytes, None]


def _dtype(value: Any) -> tf.DType:
    try:
        dtype = tf.as_dtype(value)
    except TypeError:
        raise ValueError(f"dtype must be one of {[d.name for d in SUPPORTED_DTYPES]}, "
                         f"got {value!r}") from None
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be one of {[d.name for d in SUPPORTED_DTYPES]}, got {dtype.name}")
    return dtype


def _shape(value: Any, allow_unknown: bool) -> tuple[int, ...]:
    if isinstance(value, (int, str, bytes)) or value is None:
        raise ValueError(f"shape must be a sequence of ints, got {value!r}")
    shape = tuple(value)
    if len(shape) > MAX_RANK:
        raise ValueError(f"shape must have rank <= {MAX_RANK}, got {shape!r}")
    for dim in shape:
        if not isinstance(dim, int) or isinstance(dim, bool) or \
                not (dim > 0 or (allow_unknown and dim == -1)):
            allowed = "positive ints or -1" if allow_unknown else "positive ints"
            raise ValueError(f"shape dimensions must be {allowed}, got {shape!r}")
    return shape


def _default(value: DefaultValue, dtype: tf.DType) -> DefaultValue:
    if value is None:
        return None
    if dtype == tf.string:
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, bytes):
            return value
    elif dtype == tf.bool:
        if isinstance(value, bool):
            return value
    elif dtype.is_integer:
        if isinstance(value, int) and not isinstance(value, bool) and dtype.min <= value <= dtype.max:
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"default_value {value!r} does not fit dtype {dtype.name}")


@dataclasses.dataclass(frozen=True)
class DenseFeature:
    """A fixed-shape feature: an Avro scalar or nested arrays of fixed lengths.

    Args:
        dtype: ``tf.int32`` (Avro int, long range-checked, enum index), ``tf.int64`` (int,
            long, enum index), ``tf.float32`` (float, double range-checked), ``tf.float64``,
            ``tf.bool`` (boolean) or ``tf.string`` (string, bytes, fixed, enum symbol).
        shape: tuple of positive ints, default ``()`` (a scalar); ``(4,)`` reads an array of
            exactly 4 items per record, ``(2, 3)`` an array of 2 arrays of 3.
        default_value: value written for Avro nulls (union with ``null``), default None (a
            null is then an error naming the file, block and field).

    Example:
        >>> DenseFeature(tf.float32, shape=(4,)).shape
        (4,)
    """

    dtype: tf.DType
    shape: tuple[int, ...] = ()
    default_value: DefaultValue = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", _dtype(self.dtype))
        object.__setattr__(self, "shape", _shape(self.shape, allow_unknown=False))
        object.__setattr__(self, "default_value", _default(self.default_value, self.dtype))


@dataclasses.dataclass(frozen=True)
class SparseFeature:
    """A sparse tensor stored as ATDS does: a record of ``indices0..indices{R-1}`` and ``values``.

    Every record holds arrays of equal length (one entry per non-zero); indices are Avro int or
    long. The output ``SparseTensor`` keeps the entries in file order (apply
    ``tf.sparse.reorder`` if an op needs canonical order). A null record reads as no entries.

    Args:
        dtype: dtype of the values, as for ``DenseFeature``.
        shape: tuple of positive ints or -1 (rank R >= 1). A -1 dimension of a batch is one
            more than its largest index. Indices outside ``[0, dim)`` are an error.

    Example:
        >>> SparseFeature(tf.float32, shape=(100,)).shape
        (100,)
    """

    dtype: tf.DType
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", _dtype(self.dtype))
        object.__setattr__(self, "shape", _shape(self.shape, allow_unknown=True))
        if not self.shape:
            raise ValueError("shape of a SparseFeature must have rank >= 1, got ()")


@dataclasses.dataclass(frozen=True)
class VarlenFeature:
    """A variable-length feature: Avro arrays (nested to ``len(shape)`` levels).

    Args:
        dtype: dtype of the values, as for ``DenseFeature``.
        shape: tuple of positive ints or -1, default ``(-1,)``; at least one -1. A fixed
            dimension must match the array length exactly (else an error).
        output: ``"ragged"`` (default): a ``tf.RaggedTensor`` whose ragged dimensions are
            those up to the last -1 (trailing fixed dimensions stay uniform); ``"sparse"``:
            a ``tf.SparseTensor`` in canonical order whose -1 dimensions are the longest row
            of the batch (like ``tf.io.VarLenFeature``).
        default_value: value for null array items (``array<union<null, T>>``), default None.
            A null array reads as an empty row.

    Example:
        >>> VarlenFeature(tf.string).shape
        (-1,)
    """

    dtype: tf.DType
    shape: tuple[int, ...] = (-1,)
    output: Literal["ragged", "sparse"] = "ragged"
    default_value: DefaultValue = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", _dtype(self.dtype))
        object.__setattr__(self, "shape", _shape(self.shape, allow_unknown=True))
        if -1 not in self.shape:
            raise ValueError(f"shape of a VarlenFeature needs at least one -1 dimension, got "
                             f"{self.shape!r} (use DenseFeature for fixed shapes)")
        if self.output not in ("ragged", "sparse"):
            raise ValueError(f"output must be 'ragged' or 'sparse', got {self.output!r}")
        object.__setattr__(self, "default_value", _default(self.default_value, self.dtype))

    @property
    def ragged_rank(self) -> int:
        """Number of leading dimensions stored as row splits (one past the last -1)."""
        return max(i + 1 for i, dim in enumerate(self.shape) if dim == -1)


Feature = Union[DenseFeature, SparseFeature, VarlenFeature]


def validate_features(features: Any) -> dict[str, Feature]:
    """Checks a ``{field name: spec}`` mapping; returns it as a dict sorted by name."""
    if not isinstance(features, Mapping) or not features:
        raise ValueError(f"features must be a non-empty dict of field name -> DenseFeature, "
                         f"SparseFeature or VarlenFeature, got {features!r}")
    checked = {}
    for name in sorted(features):
        spec = features[name]
        if not isinstance(name, str) or not name:
            raise ValueError(f"features keys must be non-empty field names, got {name!r}")
        if not isinstance(spec, (DenseFeature, SparseFeature, VarlenFeature)):
            raise ValueError(f"features[{name!r}] must be a DenseFeature, SparseFeature or "
                             f"VarlenFeature, got {spec!r}")
        checked[name] = spec
    return checked


def spec_json(features: Mapping[str, Feature]) -> str:
    """The JSON feature list of the C++ op, in the given (sorted) order."""
    entries = []
    for name, spec in features.items():
        kind = ("dense" if isinstance(spec, DenseFeature) else
                "sparse" if isinstance(spec, SparseFeature) else
                "ragged" if spec.output == "ragged" else "varlen")
        entry: dict[str, Any] = {"name": name, "kind": kind, "dtype": spec.dtype.name,
                                 "shape": list(spec.shape)}
        default = getattr(spec, "default_value", None)
        if default is not None:
            entry["default"] = default.hex() if spec.dtype == tf.string else default
        entries.append(entry)
    return json.dumps(entries)
