"""``features_from_schema``: feature specs of ``AvroTensorDataset`` derived from a file's schema."""

from __future__ import annotations

from typing import Any

import fastavro
import tensorflow as tf

from lirank_tf.data.avro_features import DenseFeature, Feature, SparseFeature, VarlenFeature
from lirank_tf.data.avro_file import open_avro

_PRIMITIVE_DTYPES = {"int": tf.int32, "long": tf.int64, "float": tf.float32,
                     "double": tf.float64, "boolean": tf.bool, "string": tf.string,
                     "bytes": tf.string}
_ZERO = {tf.int32: 0, tf.int64: 0, tf.float32: 0.0, tf.float64: 0.0, tf.bool: False,
         tf.string: b""}


def _resolve(schema: Any) -> Any:
    """The type itself: {"type": T, ...} wrappers and logical types read as T."""
    while isinstance(schema, dict) and schema.get("type") not in (
            "record", "error", "enum", "fixed", "array", "map"):
        schema = schema.get("type")
    return schema


def _leaf_dtype(schema: Any) -> tf.DType | None:
    if isinstance(schema, str):
        return _PRIMITIVE_DTYPES.get(schema)
    if isinstance(schema, dict) and schema.get("type") in ("enum", "fixed"):
        return tf.string
    return None


def _non_null(schema: Any) -> tuple[Any, bool]:
    schema = _resolve(schema)
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) == 1 and len(schema) <= 2:
            return _resolve(branches[0]), len(schema) == 2
    return schema, False


def _feature_for(schema: Any) -> Feature | None:
    schema, nullable = _non_null(schema)
    dtype = _leaf_dtype(schema)
    if dtype is not None:
        return DenseFeature(dtype, (), _ZERO[dtype] if nullable else None)
    depth = 0
    while isinstance(schema, dict) and schema.get("type") == "array":
        schema, _ = _non_null(schema["items"])
        depth += 1
    if depth:
        dtype = _leaf_dtype(schema)
        return VarlenFeature(dtype, (-1,) * depth) if dtype is not None else None
    if isinstance(schema, dict) and schema.get("type") in ("record", "error"):
        fields = {f["name"]: _resolve(f["type"]) for f in schema.get("fields", [])}
        rank = sum(1 for name in fields if name.startswith("indices"))
        if rank and "values" in fields and all(f"indices{k}" in fields for k in range(rank)):
            values = fields["values"]
            if isinstance(values, dict) and values.get("type") == "array":
                dtype = _leaf_dtype(_resolve(values["items"]))
                if dtype is not None:
                    return SparseFeature(dtype, (-1,) * rank)
    return None


def features_from_schema(path: str) -> dict[str, Feature]:
    """Derives feature specs from the Avro schema of the file at ``path``.

    Scalars (and nullable scalars, with a zero default) become ``DenseFeature``; arrays,
    nested to any depth, ``VarlenFeature`` (ragged); ATDS sparse records ``SparseFeature``.
    Fields of other types (maps, other records, unions of several types) are left out.
    Only the header is read (`lirank_tf.data.avro_file`: an unreadable or corrupt header is an
    `AvroFileError` naming the file); paths with a scheme (``gs://`` ...) use ``tf.io.gfile``.

    Args:
        path: str, an Avro object container file.

    Returns:
        ``{field name: spec}`` in the schema's field order. Adjust it as needed (e.g. make a
        fixed-length array a ``DenseFeature``) before passing it to ``AvroTensorDataset``.

    Example:
        >>> import tempfile, os, fastavro
        >>> path = os.path.join(tempfile.mkdtemp(), "example.avro")
        >>> schema = {"type": "record", "name": "r", "fields": [
        ...     {"name": "id", "type": "long"},
        ...     {"name": "tags", "type": {"type": "array", "items": "string"}}]}
        >>> with open(path, "wb") as f:
        ...     fastavro.writer(f, schema, [{"id": 1, "tags": ["a"]}])
        >>> features_from_schema(path)["tags"]
        VarlenFeature(dtype=tf.string, shape=(-1,), output='ragged', default_value=None)
    """
    with open_avro(path) as avro:
        schema = {**avro.writer_schema, "fields": avro.fields}  # AvroFileError unless a record
    root = _resolve(fastavro.parse_schema(schema, expand=True))  # names inlined
    features: dict[str, Feature] = {}
    for field in root["fields"]:
        feature = _feature_for(field["type"])
        if feature is not None:
            features[field["name"]] = feature
    return features
