"""One SavedModel for TF Serving: raw features in, task probabilities and the final score out.

Signatures:

* ``serving_default``: raw features as dense tensors. String ids ``string [batch]``; id lists
  and history item ids ``string [batch, n]`` padded with ``""``; integer ids ``int64``, -1 for
  "no id" and as list padding; history action types ``int64 [batch, n]`` aligned with the items; numeric features ``float32 [batch]`` or
  ``[batch, size]`` (NaN for a missing value: the feature's default is used).
* ``serve_examples``: ``string [batch]`` serialized ``tf.Example``s with the same feature names
  (id lists as bytes lists, action types as int64 lists, numeric features as float lists;
  absent features take the empty string / empty list / the configured default).

Outputs: ``<task>`` probability ``float32 [batch]`` for every task and ``score``, the linear
combination ``sum_t score_weight_t * p_t`` (LiRank §3.1). Only stock TensorFlow ops are used.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import RawField, raw_fields
from lirank_tf.transform import TransformationModel


def raw_signature(fields: list[RawField]) -> dict[str, tf.TensorSpec]:
    """The dense ``TensorSpec`` of every raw feature in a serving request."""
    specs = {}
    for field in fields:
        if field.kind == "string":
            specs[field.name] = tf.TensorSpec([None], tf.string, name=field.name)
        elif field.kind == "int":
            specs[field.name] = tf.TensorSpec([None], tf.int64, name=field.name)
        elif field.kind == "string_list":
            specs[field.name] = tf.TensorSpec([None, None], tf.string, name=field.name)
        elif field.kind == "int_list":
            specs[field.name] = tf.TensorSpec([None, None], tf.int64, name=field.name)
        elif field.kind == "float":
            specs[field.name] = tf.TensorSpec([None], tf.float32, name=field.name)
        else:
            specs[field.name] = tf.TensorSpec([None, field.size], tf.float32, name=field.name)
    return specs


def example_parse_spec(fields: list[RawField]) -> dict:
    spec = {}
    for field in fields:
        if field.kind == "string":
            spec[field.name] = tf.io.FixedLenFeature([], tf.string, default_value="")
        elif field.kind == "int":
            spec[field.name] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
        elif field.kind == "string_list":
            spec[field.name] = tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64)
        elif field.kind == "int_list":
            spec[field.name] = tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64)
        else:
            shape = [] if field.kind == "float" else [field.size]
            spec[field.name] = tf.io.FixedLenFeature(shape, tf.float32,
                                                     default_value=[field.default] * field.size
                                                     if shape else field.default)
    return spec


class ServingModule(tf.Module):
    """The stitched serving graph: transformation model -> ranking model -> score."""

    def __init__(self, config: ExperimentConfig, transform: TransformationModel, model: keras.Model) -> None:
        super().__init__(name="lirank_serving")
        self.config = config
        self.transform = transform
        self.model = model
        self.fields = raw_fields(config)
        self._weights = {t.name: t.score_weight for t in config.tasks}
        specs = raw_signature(self.fields)
        self.serve = tf.function(self._serve, input_signature=[specs])
        self.serve_examples = tf.function(
            self._serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name="examples")])

    def _score(self, raw: dict) -> dict[str, tf.Tensor]:
        outputs = self.model(self.transform(raw), training=False)
        results = {name: tf.reshape(tf.cast(outputs[name], tf.float32), [-1]) for name in self._weights}
        results["score"] = tf.add_n([weight * results[name] for name, weight in self._weights.items()])
        return results

    def _serve(self, raw: dict) -> dict[str, tf.Tensor]:
        return self._score(raw)

    def _serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._score(tf.io.parse_example(examples, example_parse_spec(self.fields)))


def export_serving_model(config: ExperimentConfig, transform: TransformationModel,
                         model: keras.Model, export_dir: str | Path) -> Path:
    """Writes the SavedModel with ``serving_default`` and ``serve_examples`` signatures."""
    export_dir = Path(export_dir)
    module = ServingModule(config, transform, model)
    tf.saved_model.save(module, str(export_dir), signatures={
        "serving_default": module.serve.get_concrete_function(),
        "serve_examples": module.serve_examples.get_concrete_function(),
    })
    return export_dir
