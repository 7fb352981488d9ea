"""One SavedModel for TF Serving: raw features in, task probabilities and the final score out.

Signatures:

* ``serving_default``: raw features as dense tensors, one row per candidate. String ids
  ``string [batch]``; id lists and history item ids ``string [batch, n]`` padded with
  ``""``; integer ids ``int64``, -1 for "no id" and as list padding; history action types
  ``int64 [batch, n]`` aligned with the items; numeric features ``float32 [batch]`` or
  ``[batch, size]``.
* ``serve_examples``: ``string [batch]`` serialized ``tf.Example``s with the same feature names
  (id lists as bytes lists, action types as int64 lists, numeric features as float lists;
  absent features take the empty string / empty list / the configured default).
* ``serve_candidates`` (models with an ``AmortizedHistoryEncoder``, i.e. trained with
  ``model.options.transact.candidate_fusion: append``, only): the inputs of
  ``serving_default`` for one member, with the history fields in one row and the other
  features in one row per candidate (or one row shared by all); the history is encoded
  once for all candidates (see ``lirank_tf.serving.amortized``).

With the amortized history encoder every signature encodes each distinct member history
of a request once (``AmortizedHistoryEncoder`` at inference), so ``serving_default`` rows of
one member's N candidates cost one history encoding, not N.

Outputs: ``<task>`` probability ``float32 [batch]`` for every task and ``score``, the linear
combination ``sum_t score_weight_t * p_t`` (LiRank §3.1). Only stock TensorFlow ops are used.

Requests are checked first (``lirank_tf.serving.validation``): a wrong shape, rows that
disagree or misaligned history fields fail with an error naming the feature. Defaults: an
empty history or id embeds to zeros.

Numeric values, in every signature (the transformation model does the same in training,
``lirank_tf.transform.normalization``): NaN, +inf and -inf are missing values and take the
feature's configured default (as an absent value or a null does); a finite value is clipped
to the feature's training range ``[minimum, maximum]`` of ``transform_statistics.json``
(per component of a vector; not a component constant in the sample; statistics saved
without a range do not clip), and the standardised value is bounded to +-1000. Every
request with the right shapes thus gets finite task probabilities in [0, 1] and a finite
``score`` in [0, sum of the score weights].

Warm-up: the export carries TF Serving's ``assets.extra/tf_serving_warmup_requests`` (requests
of 1 and 100 real rows to every signature, see ``lirank_tf.serving.warmup``), which
``lirank_tf.serving.load_export`` replays in Python.

``quantize="int8"`` exports the embedding tables as middle-max int8 rows (LiRank §3.13,
``lirank_tf.layers.quantized``), dequantised at lookup with stock ops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import RawField, raw_fields
from lirank_tf.layers.quantized import check_quantize, quantize_embedding_tables
from lirank_tf.serving.parts import (CANDIDATES_SIGNATURE, ExtraSignature, ScoreAdjuster,
                                     base_signatures, check_part_names)
from lirank_tf.serving.amortized import (broadcast_to_candidates, has_amortized_history,
                                         member_candidates_checks)
from lirank_tf.serving.validation import (after_checks, check_shapes, history_checks,
                                          same_rows_checks)
from lirank_tf.serving.warmup import write_warmup_requests
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


class Untracked:
    """Holds an object outside the SavedModel's object graph (a `tf.Module` attribute set to
    it is not tracked, so neither saved nor restored)."""

    def __init__(self, value) -> None:
        self.value = value


def backing_variables(model: keras.Model) -> list[tf.Variable]:
    """The ``tf.Variable`` behind each of ``model``'s Keras variables, to track in a module.

    Tracking the Keras 3 variables themselves makes a SavedModel that TF Serving cannot run:
    on save each Keras variable writes a *new* ``tf.Variable`` (a second handle, "Variable_N")
    that the checkpoint restores, while the signatures read the original handles, which TF1
    loading (TF Serving, ``saved_model_cli run``) leaves uninitialized ("Could not find
    variable ..."); ``tf.saved_model.load`` hides this by restoring through the object
    graph. Tracking the backing variables saves one handle per variable, restored in both."""
    variables = [variable.value for variable in model.variables]
    wrong = [v.name for v in variables if not isinstance(v, tf.Variable)]
    if wrong:
        raise TypeError(f"export: the model's variables {wrong} are not backed by tf.Variable "
                        "(is the model built with the TensorFlow backend?)")
    return variables


class ServingModule(tf.Module):
    """The stitched serving graph: request checks -> transformation model -> ranking model
    -> score -> every score adjuster; plus the extra signatures given.

    Args:
        config: the experiment config of ``transform`` and ``model``.
        transform: the fitted transformation model.
        model: the trained ranking model.
        adjusters: `lirank_tf.serving.parts.ScoreAdjuster`s applied, in order, to the outputs
            of every signature (e.g. the root-object effects of `lirank_tf.wide`).
        extras: `lirank_tf.serving.parts.ExtraSignature`s, one signature each (e.g.
            ``serve_explore`` of `lirank_tf.explore`).
    """

    def __init__(self, config: ExperimentConfig, transform: TransformationModel,
                 model: keras.Model, *, adjusters: Sequence[ScoreAdjuster] = (),
                 extras: Sequence[ExtraSignature] = ()) -> None:
        super().__init__(name="lirank_serving")
        self.config = config
        self.transform = transform
        # The SavedModel keeps the model's variables, not the Keras model object: tracking the
        # object would also save its optimizer's state (e.g. Adam's two slots per weight,
        # twice the model's size), which serving never reads; Keras' own export does the same.
        self._model = Untracked(model)
        self.model_variables = backing_variables(model)
        self.fields = raw_fields(config)
        self._weights = {t.name: t.score_weight for t in config.tasks}
        self._specs = raw_signature(self.fields)
        history = config.features.history
        self._row_reference = history.candidate_field if history else self.fields[0].name
        self.serve = tf.function(self._serve, input_signature=[self._specs])
        self.serve_examples = tf.function(
            self._serve_examples, input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        self.serve_candidates = None
        if history is not None and has_amortized_history(model):
            self.serve_candidates = tf.function(self._serve_candidates,
                                                input_signature=[self._specs])
        # tracked (their tables, assets and variables are saved with the module)
        self.adjusters = list(adjusters)
        self.extras = list(extras)
        check_part_names(base_signatures(self.serve_candidates is not None), self.extras)
        self._extra_functions = Untracked({
            extra.name: tf.function(self._extra_serve(extra),
                                    input_signature=[extra.input_signature(self._specs)])
            for extra in self.extras})

    @property
    def model(self) -> keras.Model:
        """The ranking model served (its variables are saved, not the model object)."""
        return self._model.value

    def signatures(self) -> dict[str, tf.types.experimental.PolymorphicFunction]:
        """``{signature name: tf.function}`` of the export (traced by ``tf.saved_model.save``
        itself: a trace made before saving is not reused inside the save context)."""
        signatures = {"serving_default": self.serve, "serve_examples": self.serve_examples}
        if self.serve_candidates is not None:
            signatures[CANDIDATES_SIGNATURE] = self.serve_candidates
        signatures.update(self._extra_functions.value)
        return signatures

    def write_assets(self, export_dir: str | Path) -> None:
        """Lets every part write its files beside the saved SavedModel ``export_dir``."""
        for part in self.adjusters + self.extras:
            part.write_assets(Path(export_dir))

    def checked(self, raw: dict) -> dict:
        """``raw`` (dense raw features, as ``serving_default`` takes them) after the request
        checks: shapes, the same rows in every feature, aligned history fields."""
        raw = check_shapes(raw, self._specs)
        checks = same_rows_checks(raw, self._row_reference, sorted(raw)) + self._history_checks(raw)
        return after_checks(raw, checks)

    def adjust(self, results: dict[str, tf.Tensor], raw: dict,
               seed: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """``results`` through every score adjuster, in order."""
        for adjuster in self.adjusters:
            results = adjuster.adjust(results, raw, seed)
        return results

    def _extra_serve(self, extra: ExtraSignature):
        def serve(request: dict) -> dict[str, tf.Tensor]:
            return extra.serve(self, request)
        return serve

    def _history_checks(self, raw: dict) -> list:
        history = self.config.features.history
        return history_checks(raw, history) if history is not None else []

    def _score(self, raw: dict) -> dict[str, tf.Tensor]:
        outputs = self.model(self.transform(raw), training=False)
        results = {name: tf.reshape(tf.cast(outputs[name], tf.float32), [-1]) for name in self._weights}
        results["score"] = tf.add_n([weight * results[name] for name, weight in self._weights.items()])
        return self.adjust(results, raw)

    def _serve(self, raw: dict) -> dict[str, tf.Tensor]:
        return self._score(self.checked(raw))

    def _serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, example_parse_spec(self.fields))
        return self._score(after_checks(raw, self._history_checks(raw)))

    def _serve_candidates(self, raw: dict) -> dict[str, tf.Tensor]:
        history = self.config.features.history
        raw = check_shapes(raw, self._specs)
        checks = member_candidates_checks(raw, history) + self._history_checks(raw)
        return self._score(broadcast_to_candidates(after_checks(raw, checks), history))


def export_serving_model(config: ExperimentConfig, transform: TransformationModel,
                         model: keras.Model, export_dir: str | Path, *,
                         quantize: str | None = None,
                         row_params_dtype: str = "float16",
                         warmup_records: Sequence[dict] | None = None,
                         adjusters: Sequence[ScoreAdjuster] = (),
                         extras: Sequence[ExtraSignature] = ()) -> Path:
    """Writes the SavedModel with the signatures of this module's docstring, the score
    ``adjusters`` and the ``extras`` signatures (`lirank_tf.serving.parts`).

    Args:
        config: the experiment config of ``transform`` and ``model``.
        transform: the fitted transformation model.
        model: the trained ranking model.
        export_dir: where to write the SavedModel.
        quantize: "none" or "int8"; None (default) means ``config.export.quantize``.
        row_params_dtype: with int8, the dtype of each table row's middle and scale,
            "float16" (default) or "float32" (see
            ``lirank_tf.layers.quantized.tables.quantize_rows``).
        warmup_records: raw rows the warm-up requests are built from; None (default): the
            first records of ``config.data.train`` (see ``lirank_tf.serving.warmup``).
        adjusters: score adjusters applied to every signature's outputs, in order.
        extras: extra signatures.

    Returns:
        ``export_dir`` as a Path.
    """
    export_dir = Path(export_dir)
    quantize = check_quantize(config.export.quantize if quantize is None else quantize)
    if quantize == "int8":
        model = quantize_embedding_tables(model, row_params_dtype)
    module = ServingModule(config, transform, model, adjusters=adjusters, extras=extras)
    tf.saved_model.save(module, str(export_dir), signatures=module.signatures())
    module.write_assets(export_dir)
    write_warmup_requests(export_dir, config, warmup_records)
    return export_dir


def saved_model_variables_bytes(export_dir: str | Path) -> int:
    """Size on disk of the SavedModel's ``variables/`` directory."""
    return sum(path.stat().st_size for path in (Path(export_dir) / "variables").rglob("*")
               if path.is_file())


def saved_signature_names(export_dir: str | Path) -> list[str]:
    """The signature names of a SavedModel, read from ``saved_model.pb`` (nothing loaded),
    ``serving_default`` first."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((Path(export_dir) / "saved_model.pb").read_bytes())
    names = set(saved.meta_graphs[0].signature_def) - {"__saved_model_init_op"}
    return sorted(names, key=lambda name: (name != "serving_default", name))
