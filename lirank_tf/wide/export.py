"""The global model served with the root-object table, updatable without re-export (§3.9).

`RootObjectTables` is a score adjuster of the export (`lirank_tf.serving.parts`): every
signature of `lirank_tf.serving.ServingModule` looks the raw
root-object id up in a `tf.lookup.StaticHashTable` initialised from the asset
``assets/root_object_effects.tsv`` and returns, for the RO tasks,
``sigmoid(logit(p_global) + b_id)`` (b = 0 for ids not in the table) and the score recomputed
from the adjusted probabilities. Stock ops only.

The table is read when the SavedModel is loaded, so refreshing it every few hours does not touch
the global model: `update_root_object_table` rewrites the asset file of an export in place
(atomically); a server picks it up when it (re)loads the model — e.g. TF Serving when the
export is published as a new version directory, which can hard-link the unchanged variables.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from lirank_tf.config import ExperimentConfig
from lirank_tf.data.raw_features import raw_fields
from lirank_tf.serving.export import Untracked, export_serving_model
from lirank_tf.transform import TransformationModel
from lirank_tf.wide.root_object import RootObjectEffects

TABLE_ASSET = "root_object_effects.tsv"
SETTINGS_ASSET = "root_object_effects.json"
ROOT_OBJECT_FIELD = "root_object_id"
NEW_ID_STREAM = 1_000_003   # second seed word of the new-id draws (the NL draws use task indices)


class RootObjectTables(tf.Module):
    """The RO tables of an export: one `StaticHashTable` per RO task, initialised from the
    asset ``table_path`` (one ``id<TAB>b_task1<TAB>b_task2...`` line per id), and the
    adjustment ``sigmoid(logit(p) + b_id)`` of the RO tasks' probabilities. With
    ``new_id_scale`` > 0 (Thompson sampling of new root objects, `adjust` with a seed) also a
    table of the ids it holds and the prior of the effects."""

    def __init__(self, config: ExperimentConfig, fields, effects: RootObjectEffects,
                 table_path: str | Path, root_object_field: str = ROOT_OBJECT_FIELD,
                 new_id_scale: float = 0.0) -> None:
        super().__init__(name="root_object_tables")
        if isinstance(new_id_scale, bool) or not float(new_id_scale) >= 0:
            raise ValueError(f"new_id_scale must be >= 0, got {new_id_scale!r}")
        task_names = [t.name for t in config.tasks]
        missing = [t for t in effects.tasks if t not in task_names]
        if missing:
            raise ValueError(f"root-object tasks {missing} are not tasks of the config "
                             f"{task_names}")
        strings = [f.name for f in fields if f.kind == "string"]
        if root_object_field not in strings:
            raise ValueError(f"root_object_field {root_object_field!r} is not a raw string feature "
                             f"of the config; string features: {strings}")
        self.root_object_field = root_object_field
        self._settings = Untracked({"tasks": list(effects.tasks), "l2": float(effects.l2),
                                    "new_id_scale": float(new_id_scale)})
        self.ro_tasks = list(effects.tasks)
        self._weights = {t.name: t.score_weight for t in config.tasks}
        self.table_asset = tf.saved_model.Asset(str(table_path))
        self.ro_tables = {
            task: tf.lookup.StaticHashTable(
                tf.lookup.TextFileInitializer(self.table_asset, tf.string, 0, tf.float32, k + 1,
                                              delimiter="\t"), default_value=0.0)
            for k, task in enumerate(self.ro_tasks)}
        self.new_id_scale = float(new_id_scale)
        if self.new_id_scale > 0:     # only exports that draw new ids read the asset again
            # the line of each id in the table, -1 for ids it does not hold (new root objects)
            self.ro_lines = tf.lookup.StaticHashTable(
                tf.lookup.TextFileInitializer(self.table_asset, tf.string, 0, tf.int64,
                                              tf.lookup.TextFileIndex.LINE_NUMBER,
                                              delimiter="\t"), default_value=-1)
            # the standard deviation of the effects' prior, N(0, 1 / l2): what a new id may be
            self.ro_prior_std = tf.constant(float(effects.l2) ** -0.5, tf.float32)

    def write_assets(self, export_dir: Path) -> None:
        """The settings asset that `update_root_object_table` checks a new table against (its
        tasks; with ``new_id_scale`` > 0 also the prior precision of the new-id draws)."""
        settings = self._settings.value
        (Path(export_dir) / "assets" / SETTINGS_ASSET).write_text(json.dumps(settings) + "\n")

    def adjust(self, results: dict[str, tf.Tensor], raw: dict,
               seed: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """``results`` with the RO tasks' probabilities adjusted and the score recomputed.

        With ``seed`` and ``new_id_scale`` > 0 (Thompson sampling of new root objects), each
        candidate whose id the table does not hold gets, instead of b = 0, a draw from the
        effects' prior: ``b = new_id_scale / sqrt(l2) * z`` with ``z[i, k] =
        stateless_normal([n, len(ro_tasks)], seed=(seed, NEW_ID_STREAM))[i, k]`` (candidate i,
        RO task k): one independent draw per candidate, the same seed the same draws."""
        results = dict(results)
        ids = tf.reshape(raw[self.root_object_field], [-1])
        draws = None
        if seed is not None and self.new_id_scale > 0:
            new = tf.equal(self.ro_lines.lookup(ids), -1)
            noise = tf.random.stateless_normal(
                tf.stack([tf.size(ids), len(self.ro_tasks)]),
                seed=tf.stack([tf.cast(seed, tf.int64), tf.constant(NEW_ID_STREAM, tf.int64)]))
            draws = (new, self.new_id_scale * self.ro_prior_std * noise)
        for k, task in enumerate(self.ro_tasks):
            p = tf.clip_by_value(results[task], 1e-6, 1.0 - 1e-6)
            logit = tf.math.log(p) - tf.math.log1p(-p)
            effect = self.ro_tables[task].lookup(ids)
            if draws is not None:
                effect = tf.where(draws[0], draws[1][:, k], effect)
            results[task] = tf.sigmoid(logit + effect)
        results["score"] = tf.add_n([w * results[name] for name, w in self._weights.items()])
        return results


def root_object_adjuster(config: ExperimentConfig, effects: RootObjectEffects,
                         scratch_dir: str | Path, new_id_scale: float = 0.0,
                         root_object_field: str = ROOT_OBJECT_FIELD) -> RootObjectTables:
    """The root-object effects as a score adjuster of an export: writes the table into
    ``scratch_dir`` (the SavedModel copies it as its asset when saved, so the directory must
    live until then) and returns its `RootObjectTables`."""
    table = effects.write_table(Path(scratch_dir) / TABLE_ASSET)
    return RootObjectTables(config, raw_fields(config), effects, table, root_object_field,
                            new_id_scale=new_id_scale)


def export_with_root_object_table(config: ExperimentConfig, transform: TransformationModel,
                                  model: keras.Model, effects: RootObjectEffects,
                                  export_dir: str | Path) -> Path:
    """Writes the SavedModel with the RO table as the asset ``assets/root_object_effects.tsv``."""
    with tempfile.TemporaryDirectory() as scratch:
        return export_serving_model(config, transform, model, export_dir, quantize="none",
                                    adjusters=[root_object_adjuster(config, effects, scratch)])


def update_root_object_table(export_dir: str | Path, effects: RootObjectEffects) -> Path:
    """Replaces the RO table of an export (atomically); the global model is not touched."""
    assets = Path(export_dir) / "assets"
    settings = assets / SETTINGS_ASSET
    if not settings.exists():
        raise FileNotFoundError(f"{export_dir} has no root-object table ({settings} is missing)")
    exported = json.loads(settings.read_text())
    if list(effects.tasks) != exported["tasks"]:
        raise ValueError(f"the export's root-object tasks are {exported['tasks']}, the new table "
                         f"has {list(effects.tasks)}; re-export to change the tasks")
    if exported.get("new_id_scale", 0.0) > 0 and effects.l2 != exported["l2"]:
        raise ValueError(f"the export draws new root objects from the prior of l2 = "
                         f"{exported['l2']}, the new table was fitted with l2 = {effects.l2}; "
                         "fit it with the same --l2 or re-export")
    with tempfile.NamedTemporaryFile(dir=assets, delete=False, suffix=".tmp") as handle:
        scratch = Path(handle.name)
    effects.write_table(scratch)
    os.replace(scratch, assets / TABLE_ASSET)
    return assets / TABLE_ASSET
