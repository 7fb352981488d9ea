"""Which raw Avro fields an experiment reads, and of what kind.

The raw-feature layout is shared by every reader (the C++ Avro op, the fastavro reader) and by
the serving signature: string ids are ``tf.string [batch]``, id lists and histories are ragged
``[batch, None]`` (or dense and padded with ``""`` / ``-1`` in serving requests); integer ids
(``dtype: int64``) are ``int64`` with ``-1`` meaning "no id"; numeric
features are ``float32 [batch, size]`` (``[batch]`` for size 1), labels ``float32 [batch]``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from lirank_tf.config import ExperimentConfig

Kind = Literal["string", "int", "string_list", "int_list", "float", "float_vector"]


@dataclasses.dataclass(frozen=True)
class RawField:
    name: str
    kind: Kind
    size: int = 1
    default: float = 0.0


def raw_fields(config: ExperimentConfig) -> list[RawField]:
    """The raw input fields of the experiment (features only, no labels), in a stable order."""
    fields: dict[str, RawField] = {}
    for feature in config.features.ids:
        integer = feature.dtype == "int64"
        if feature.kind == "id":
            fields[feature.name] = RawField(feature.name, "int" if integer else "string")
        else:
            fields[feature.name] = RawField(feature.name, "int_list" if integer else "string_list")
    history = config.features.history
    if history is not None:
        fields[history.item_field] = RawField(history.item_field, "string_list")
        fields[history.action_field] = RawField(history.action_field, "int_list")
        fields[history.candidate_field] = RawField(history.candidate_field, "string")
    for feature in config.features.dense:
        kind = "float" if feature.size == 1 else "float_vector"
        fields[feature.name] = RawField(feature.name, kind, feature.size, feature.default)
    return list(fields.values())


def label_fields(config: ExperimentConfig) -> dict[str, str]:
    """{task name: label field}."""
    return {task.name: task.label for task in config.tasks}
