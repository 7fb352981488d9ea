"""The second reference DCN-V2 for ``benchmarks/own_data.py``: FuxiCTR's ``DCNv2`` (PyTorch,
CPU) trained with FuxiCTR's own ``fit`` loop on the same Avro split.

Runs under the separate venv of ``benchmarks/setup_fuxictr.sh`` (torch 2.13.0 CPU, fuxictr
2.3.10 and its requirements, pinned in ``benchmarks/requirements-fuxictr.txt``: they do not fit
the project's pinned stack); ``own_data.py`` launches it and scores the test predictions it
writes with the same metric code as the lirank-tf models.

Model: the fuxictr 2.3.10 wheel ships one DCNv2, ``model_zoo.LongCTR.DCNv2`` (the plain
``model_zoo/DCNv2`` of FuxiCTR's repository is not in the wheel). It is DCN-V2 (full-matrix
CrossNetV2 beside an MLP, ``model_structure="parallel"``) whose input is the embeddings of the
non-item fields, the target item's fields and the masked mean of the same item fields over the
user's item sequence. Here the item fields are ``item_id``, ``release_year`` and ``genres`` (a
``sequence`` feature, masked-mean pooled by FuxiCTR's ``MaskedAveragePooling``), the sequence
is ``recent_item_ids`` (the items' fields looked up from a table of every item in the three
splits: movie metadata, no labels), all other string fields are ``categorical``. No field is
dropped. Vocabularies come from the training split (0 = padding, 1 = unseen); our own batch
collation feeds FuxiCTR's ``(batch_dict, item_dict, mask)`` input, FuxiCTR's
``LongCTRDataLoader`` wants per-user full sequences in parquet files, which this data lacks.

Setting: FuxiCTR's published DCNv2 on MovieLens, the BARS benchmark's tuned
``DCNv2_movielenslatest_x1_016_98ea1c72`` (reczoo/BARS ranking/ctr/DCNv2/
DCNv2_movielenslatest_x1, FuxiCTR 1.1.0): ``embedding_dim=10``,
``parallel_dnn_hidden_units=[400, 400, 400]``, ``num_cross_layers=5``, ``net_dropout=0.2``,
``batch_norm=True``, ``embedding_regularizer=0.01``, ``net_regularizer=0``, Adam(1e-3),
``batch_size=4096``, ``epochs=100``, ``monitor="AUC"`` (max) with ``early_stop_patience=2``,
learning rate x0.1 on every non-improving epoch (FuxiCTR's default ``reduce_lr_on_plateau``),
best checkpoint reloaded at the end; the rest FuxiCTR's defaults (``dnn_activations="relu"``,
gradient-norm clip 10, embeddings initialised N(0, 1e-4)). MovielensLatest_x1 is a different
MovieLens table (user, item, tag), so these are the closest published values, not tuned here.

``--tabular`` (data with no item and no history, such as UCI Adult): the same wheel's DCNv2
class with its item part left out - no field has ``source: item``, so its constructor builds
the cross network and MLP over the fields' embeddings alone, and `TabularDCNv2.forward` feeds
them through those layers as FuxiCTR's plain ``DCNv2`` does, with the batch dicts of its
``BaseModel`` input. Fields: strings ``categorical``, ``array<string>`` ``sequence``
(masked mean), numbers ``numeric`` (one ``Linear(1, dim)`` row each) scaled by FuxiCTR's own
``Normalizer("MinMaxScaler")`` fitted on the training split's min and max (FuxiCTR has no
default normalizer; MinMax as for the DeepCTR reference). Setting: no published one for such
data, so FuxiCTR's ``DCNv2_default`` template (model_zoo/DCNv2/config/model_config.yaml of its
repository): ``embedding_dim=40``, ``parallel_dnn_hidden_units=[500, 500, 500]``,
``num_cross_layers=3``, no dropout, no batch norm, no regularisation, Adam(1e-3),
``batch_size=10000``, ``epochs=100``, ``monitor={"AUC": 1, "logloss": -1}`` (max) with
``early_stop_patience=2`` and the learning-rate cut on plateau, best checkpoint reloaded.

    ~/.cache/lirank-tf/venvs/fuxictr/bin/python benchmarks/dcnv2_reference_fuxictr.py \\
        --train 'ml/train/*.avro' --valid 'ml/valid/*.avro' --test 'ml/test/*.avro' \\
        --seed 0 --output predictions.npz
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import tempfile
import time

import fastavro
import numpy as np
import torch
from fuxictr.features import FeatureMap
from fuxictr.preprocess.normalizer import Normalizer
from fuxictr.pytorch.models import BaseModel
from fuxictr.pytorch.torch_utils import seed_everything
from model_zoo.LongCTR import DCNv2
from torch.utils.data import DataLoader

PADDING, UNSEEN = 0, 1


def load_feature_map(directory: str, dataset_id: str, label: str, specs: list[dict],
                     embedding_dim: int) -> FeatureMap:
    """FuxiCTR's feature map of ``specs`` ([{field: spec}]), loaded from the JSON file it
    reads, written into ``directory``."""
    path = os.path.join(directory, "feature_map.json")
    with open(path, "w") as handle:
        json.dump({"dataset_id": dataset_id, "labels": [label], "features": specs}, handle)
    feature_map = FeatureMap(dataset_id, directory)
    feature_map.load(path, {"embedding_dim": embedding_dim})
    return feature_map
PUBLISHED = {   # BARS DCNv2_movielenslatest_x1_016_98ea1c72
    "model_structure": "parallel", "use_low_rank_mixture": False, "embedding_dim": 10,
    "parallel_dnn_hidden_units": [400, 400, 400], "stacked_dnn_hidden_units": [500, 500, 500],
    "dnn_activations": "relu", "num_cross_layers": 5, "net_dropout": 0.2, "batch_norm": True,
    "embedding_regularizer": 0.01, "net_regularizer": 0, "learning_rate": 1e-3,
    "optimizer": "adam", "loss": "binary_crossentropy", "task": "binary_classification",
    "metrics": ["AUC", "logloss"], "monitor": "AUC", "monitor_mode": "max",
    "early_stop_patience": 2, "batch_size": 4096, "epochs": 100,
}
DEFAULT = {     # FuxiCTR's DCNv2_default template, for data without a published setting
    "model_structure": "parallel", "use_low_rank_mixture": False, "embedding_dim": 40,
    "parallel_dnn_hidden_units": [500, 500, 500], "stacked_dnn_hidden_units": [500, 500, 500],
    "dnn_activations": "relu", "num_cross_layers": 3, "net_dropout": 0, "batch_norm": False,
    "embedding_regularizer": 0, "net_regularizer": 0, "learning_rate": 1e-3,
    "optimizer": "adam", "loss": "binary_crossentropy", "task": "binary_classification",
    "metrics": ["logloss", "AUC"], "monitor": {"AUC": 1, "logloss": -1}, "monitor_mode": "max",
    "early_stop_patience": 2, "batch_size": 10000, "epochs": 100,
}


def read_split(pattern: str) -> list[dict]:
    """The records of the Avro files matching ``pattern``, in file then record order."""
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern!r}")
    records = []
    for path in files:
        with open(path, "rb") as handle:
            records.extend(fastavro.reader(handle))
    return records


def vocabulary(values) -> dict[str, int]:
    """``{value: index}`` from 2 on (0 padding, 1 unseen)."""
    return {value: index for index, value in enumerate(sorted(set(values)), start=2)}


class ItemFieldEncoder:
    """Integer codes for the context fields of a record, and a table of the item fields of every
    item in the three splits (movie metadata, no labels) that target and sequence items index:
    row 0 the padding item (all zeros), row 1 an item found in no split (all unseen), then one row
    per item; an item missing from the training split has the unseen ``item_id`` code but keeps
    its other fields, as the lirank-tf models see them in its record."""

    def __init__(self, train: list[dict], every: list[dict], item_id: str, item_fields: list[str],
                 history: str, label: str):
        self.item_id, self.item_fields = item_id, item_fields
        self.history, self.label = history, label
        self.context = [k for k in train[0] if k not in (item_id, history, label, *item_fields)]
        self.lists = {k for k in (*self.context, *item_fields) if isinstance(train[0][k], list)}
        self.vocab = {k: vocabulary(v for r in train for v in (r[k] if k in self.lists else [r[k]]))
                      for k in (*self.context, *item_fields)}
        self.vocab[item_id] = vocabulary(r[item_id] for r in train)
        self.max_length = {k: max(len(r[k]) for r in every) or 1 for k in self.lists}
        attributes = {}
        for record in every:
            attributes.setdefault(record[item_id], record)
        self.item_rows = {item: row for row, item in enumerate(sorted(attributes), start=2)}
        items = [attributes[item] for item in sorted(attributes)]
        self.item_table = {}
        for field in (item_id, *item_fields):
            column = self.codes(field, [r[field] for r in items])
            filler = np.zeros((2, *column.shape[1:]), np.int64)
            if field not in self.lists:
                filler[UNSEEN] = UNSEEN
            self.item_table[field] = np.concatenate([filler, column])

    def codes(self, field: str, values: list) -> np.ndarray:
        table = self.vocab[field]
        if field not in self.lists:
            return np.array([table.get(v, UNSEEN) for v in values], np.int64)
        rows = np.full((len(values), self.max_length[field]), PADDING, np.int64)
        for i, ids in enumerate(values):
            encoded = [table.get(v, UNSEEN) for v in ids][:self.max_length[field]]
            rows[i, :len(encoded)] = encoded
        return rows

    def encode(self, records: list[dict]) -> dict[str, np.ndarray]:
        """Context field codes, the label, ``target`` item rows and ``sequence`` item rows
        (history length x padded with 0) of the item table."""
        arrays = {k: self.codes(k, [r[k] for r in records]) for k in self.context}
        arrays[self.label] = np.array([r[self.label] for r in records], np.float32)
        items = self.item_rows
        arrays["target"] = np.array([items[r[self.item_id]] for r in records], np.int64)
        length = max(1, max(len(r[self.history]) for r in records))
        sequence = np.zeros((len(records), length), np.int64)
        for i, record in enumerate(records):
            ids = [items.get(v, UNSEEN) for v in record[self.history]][:length]
            sequence[i, :len(ids)] = ids
        arrays["sequence"] = sequence
        return arrays

    def feature_map(self, directory: str) -> FeatureMap:
        """FuxiCTR's feature map (loaded from the JSON it reads), item fields of source item."""
        specs = []
        for field in (*self.context, self.item_id, *self.item_fields):
            spec = {"source": "item" if field in (self.item_id, *self.item_fields) else "context",
                    "type": "sequence" if field in self.lists else "categorical",
                    "vocab_size": len(self.vocab[field]) + 2, "padding_idx": PADDING}
            if field in self.lists:
                spec.update(max_len=self.max_length[field],
                            feature_encoder="layers.MaskedAveragePooling()")
            specs.append({field: spec})
        return load_feature_map(directory, "movielens", self.label, specs,
                                PUBLISHED["embedding_dim"])

    def collate(self, arrays: dict[str, np.ndarray]):
        """A collate function giving FuxiCTR's LongCTR input for a list of row indices: the
        context fields and label, the item fields of [sequence..., target] flattened, the mask."""
        def collate(indices: list[int]):
            rows = np.asarray(indices)
            batch = {k: torch.from_numpy(arrays[k][rows]) for k in (*self.context, self.label)}
            items = np.concatenate([arrays["sequence"][rows], arrays["target"][rows, None]], 1)
            flat = items.reshape(-1)
            item_dict = {k: torch.from_numpy(table[flat]) for k, table in self.item_table.items()}
            mask = torch.from_numpy((arrays["sequence"][rows] > PADDING).astype(np.float32))
            return batch, item_dict, mask
        return collate


class TrackedDCNv2(DCNv2):
    """FuxiCTR's DCNv2 that notes the epoch of each best-checkpoint save (its fit loop saves
    the weights exactly when the monitored validation metric improves)."""

    best_epoch = 0

    def save_weights(self, checkpoint):
        self.best_epoch = self._epoch_index + 1
        super().save_weights(checkpoint)


class TabularEncoder:
    """Codes of flat records for FuxiCTR's ``BaseModel`` input: strings categorical and
    ``array<string>`` sequences (vocabularies from the training split), numbers numeric
    (MinMax-scaled with the training split's min and max by FuxiCTR's ``Normalizer``)."""

    def __init__(self, train: list[dict], label: str):
        self.label = label
        self.kinds = {}
        for name, value in train[0].items():
            if name == label:
                continue
            if isinstance(value, str):
                self.kinds[name] = "categorical"
            elif isinstance(value, list):
                self.kinds[name] = "sequence"
            elif isinstance(value, (int, float)):
                self.kinds[name] = "numeric"
            else:
                raise ValueError(f"field {name!r}: value {value!r} is neither a string, a list "
                                 "of strings nor a number")
        self.vocab = {k: vocabulary(v for r in train for v in (r[k] if kind == "sequence"
                                                               else [r[k]]))
                      for k, kind in self.kinds.items() if kind != "numeric"}
        self.max_length = {k: max(len(r[k]) for r in train) or 1
                           for k, kind in self.kinds.items() if kind == "sequence"}
        self.normalizers = {}
        for name, kind in self.kinds.items():
            if kind == "numeric":
                values = np.array([r[name] for r in train], np.float64)
                normalizer = Normalizer("MinMaxScaler")
                normalizer.fit_from_stats(min_value=values.min(), max_value=values.max(),
                                          count=len(values))
                self.normalizers[name] = normalizer

    def encode(self, records: list[dict]) -> dict[str, np.ndarray]:
        arrays = {self.label: np.array([r[self.label] for r in records], np.float32)}
        for name, kind in self.kinds.items():
            if kind == "numeric":
                values = np.array([r[name] for r in records], np.float64)
                arrays[name] = self.normalizers[name].transform(values).astype(np.float32)
            elif kind == "categorical":
                table = self.vocab[name]
                arrays[name] = np.array([table.get(r[name], UNSEEN) for r in records], np.int64)
            else:
                table, length = self.vocab[name], self.max_length[name]
                rows = np.full((len(records), length), PADDING, np.int64)
                for i, record in enumerate(records):
                    ids = [table.get(v, UNSEEN) for v in record[name]][:length]
                    rows[i, :len(ids)] = ids
                arrays[name] = rows
        return arrays

    def feature_map(self, directory: str, embedding_dim: int) -> FeatureMap:
        specs = []
        for name, kind in self.kinds.items():
            spec = {"source": "context", "type": kind}
            if kind != "numeric":
                spec.update(vocab_size=len(self.vocab[name]) + 2, padding_idx=PADDING)
            if kind == "sequence":
                spec.update(max_len=self.max_length[name],
                            feature_encoder="layers.MaskedAveragePooling()")
            specs.append({name: spec})
        return load_feature_map(directory, "tabular", self.label, specs, embedding_dim)

    @staticmethod
    def collate(arrays: dict[str, np.ndarray]):
        def collate(indices: list[int]):
            rows = np.asarray(indices)
            return {k: torch.from_numpy(v[rows]) for k, v in arrays.items()}
        return collate


class TabularDCNv2(TrackedDCNv2):
    """The wheel's DCNv2 without its item part (no field has ``source: item``, so its
    constructor sizes the cross network and MLP for the fields' embeddings alone): FuxiCTR's
    ``BaseModel`` reads the batch dicts, the forward pass is the plain DCNv2's."""

    get_inputs = BaseModel.get_inputs
    get_labels = BaseModel.get_labels
    get_group_id = BaseModel.get_group_id

    def forward(self, inputs):
        feature_emb = self.embedding_layer(self.get_inputs(inputs), flatten_emb=True)
        cross_out = self.crossnet(feature_emb)
        if self.model_structure == "crossnet_only":
            final_out = cross_out
        elif self.model_structure == "stacked":
            final_out = self.stacked_dnn(cross_out)
        elif self.model_structure == "parallel":
            final_out = torch.cat([cross_out, self.parallel_dnn(feature_emb)], dim=-1)
        else:
            final_out = torch.cat([self.stacked_dnn(cross_out), self.parallel_dnn(feature_emb)],
                                  dim=-1)
        return {"y_pred": self.output_activation(self.fc(final_out))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for split in ("train", "valid", "test"):
        parser.add_argument(f"--{split}", required=True)
    parser.add_argument("--label", default="click")
    parser.add_argument("--item-id", default="item_id")
    parser.add_argument("--item-fields", default="release_year,genres")
    parser.add_argument("--history", default="recent_item_ids")
    parser.add_argument("--tabular", action="store_true",
                        help="no item fields and no history: DCNv2 over the fields alone with "
                             "FuxiCTR's DCNv2_default setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=PUBLISHED["epochs"])
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    seed_everything(seed=args.seed)
    splits = {split: read_split(getattr(args, split)) for split in ("train", "valid", "test")}
    if args.tabular:
        fit_and_predict(TabularDCNv2, DEFAULT, TabularEncoder(splits["train"], args.label),
                        splits, args, DEFAULT["embedding_dim"])
    else:
        encoder = ItemFieldEncoder(splits["train"], [r for rows in splits.values() for r in rows],
                                   args.item_id, args.item_fields.split(","), args.history,
                                   args.label)
        fit_and_predict(TrackedDCNv2, PUBLISHED, encoder, splits, args)


def fit_and_predict(model_class, settings: dict, encoder, splits: dict[str, list[dict]],
                    args: argparse.Namespace, *map_args) -> None:
    """Trains ``model_class`` with ``settings`` (its keyword settings, plus ``batch_size``)
    through FuxiCTR's fit loop on ``encoder``'s arrays of ``splits``, writes the test
    predictions to ``args.output`` and prints the run's summary (JSON)."""
    arrays = {split: encoder.encode(records) for split, records in splits.items()}
    loaders = {split: DataLoader(list(range(len(splits[split]))), shuffle=split == "train",
                                 batch_size=settings["batch_size"],
                                 collate_fn=encoder.collate(arrays[split]))
               for split in splits}
    with tempfile.TemporaryDirectory(prefix="fuxictr_") as directory:
        feature_map = encoder.feature_map(directory, *map_args)
        os.makedirs(os.path.join(directory, feature_map.dataset_id))   # the checkpoint's
        keywords = {k: v for k, v in settings.items() if k not in ("batch_size", "epochs")}
        model = model_class(feature_map, model_id=f"DCNv2_seed{args.seed}", gpu=-1, verbose=0,
                            model_root=directory, **keywords)
        started = time.time()
        model.fit(loaders["train"], epochs=args.epochs, validation_data=loaders["valid"])
        seconds = time.time() - started
        predictions = model.predict(loaders["test"])
    np.savez(args.output, labels=arrays["test"][args.label], predictions=predictions)
    epochs = model._epoch_index + 1
    print(json.dumps({"epochs": epochs, "max_epochs": args.epochs, "seconds": seconds,
                      "seconds_per_epoch": seconds / epochs, "best_epoch": model.best_epoch,
                      "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
