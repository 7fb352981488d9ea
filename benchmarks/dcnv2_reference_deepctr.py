"""The reference DCN-V2 for ``benchmarks/own_data.py``: DeepCTR's ``DCN`` with
``cross_parameterization="matrix"`` (DCN-V2, Wang et al. 2021) trained on the same Avro split.

DeepCTR 0.9.4 is written for ``tf.keras`` 2, so this runs in its own process with
``TF_USE_LEGACY_KERAS=1`` and ``tf-keras`` installed (``pip install -c constraints.txt
'.[bench]'``); ``own_data.py`` launches it and scores the predictions it writes with the same
metric code as the lirank-tf models.

Setting (DeepCTR's documented defaults and examples): every string field a ``SparseFeat``,
every ``array<string>`` a ``VarLenSparseFeat`` (mean), vocabularies from the training split
(index 1 = unseen, 0 = padding), every number field (``int``, ``long``, ``float``, ``double``)
a ``DenseFeat`` of size 1 scaled to [0, 1] by the training split's min and max as DeepCTR's
Criteo example does with ``MinMaxScaler`` (there fitted on all rows; here on train only, so
valid / test values may fall outside [0, 1]), ``cross_num=2``, ``dnn_hidden_units=(256, 128, 64)``,
``l2_reg_embedding=l2_reg_linear=l2_reg_cross=1e-5``, Adam(1e-3), batch 256, binary cross
entropy; embeddings of ``--embedding-dim`` (default 16, the dim ``init-config`` gives dcnv2);
early stopping on validation AUC (patience 2, best weights restored), at most 10 epochs.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python benchmarks/dcnv2_reference_deepctr.py \\
        --train 'ml/train/*.avro' --valid 'ml/valid/*.avro' --test 'ml/test/*.avro' \\
        --label click --seed 0 --output predictions.npz
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import fastavro  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

PADDING, UNSEEN = 0, 1


def read_split(pattern: str) -> tuple[dict, list[dict]]:
    """(writer schema, records) of the files matching ``pattern``."""
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern!r}")
    records, schema = [], None
    for path in files:
        with open(path, "rb") as handle:
            reader = fastavro.reader(handle)
            schema = schema or reader.writer_schema
            records.extend(reader)
    return schema, records


def feature_kinds(schema: dict, label: str) -> dict[str, str]:
    """``{field: "single" | "list" | "dense"}`` for the string / array<string> / number fields
    (the label left out)."""
    kinds = {}
    for field in schema["fields"]:
        kind = field["type"]
        if field["name"] == label:
            continue
        if kind == "string":
            kinds[field["name"]] = "single"
        elif kind in ("int", "long", "float", "double"):
            kinds[field["name"]] = "dense"
        elif isinstance(kind, dict) and kind.get("type") == "array":
            kinds[field["name"]] = "list"
        else:
            raise ValueError(f"field {field['name']!r}: type {kind!r} is not categorical")
    return kinds


def vocabularies(records: list[dict], kinds: dict[str, str]) -> dict[str, dict[str, int]]:
    vocab = {}
    for name, kind in kinds.items():
        if kind == "dense":
            continue
        values = ({str(v) for r in records for v in r[name]} if kind == "list"
                  else {str(r[name]) for r in records})
        vocab[name] = {value: index for index, value in enumerate(sorted(values), start=2)}
    return vocab


def min_max(records: list[dict], kinds: dict[str, str]) -> dict[str, tuple[float, float]]:
    """``{dense field: (min, max)}`` over ``records`` (the training split)."""
    return {name: (float(min(r[name] for r in records)), float(max(r[name] for r in records)))
            for name, kind in kinds.items() if kind == "dense"}


def encode(records: list[dict], kinds: dict[str, str], vocab: dict[str, dict[str, int]],
           max_lengths: dict[str, int],
           scales: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    arrays = {}
    for name, kind in kinds.items():
        if kind == "dense":
            low, high = scales[name]
            values = np.array([r[name] for r in records], np.float64)
            arrays[name] = ((values - low) / ((high - low) or 1.0)).astype(np.float32)
            continue
        table = vocab[name]
        if kind == "single":
            arrays[name] = np.array([table.get(str(r[name]), UNSEEN) for r in records], np.int64)
        else:
            rows = np.full((len(records), max_lengths[name]), PADDING, np.int64)
            for i, record in enumerate(records):
                ids = [table.get(str(v), UNSEEN) for v in record[name]][:max_lengths[name]]
                rows[i, :len(ids)] = ids
            arrays[name] = rows
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for split in ("train", "valid", "test"):
        parser.add_argument(f"--{split}", required=True)
    parser.add_argument("--label", default="click")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedding-dim", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    from deepctr.feature_column import DenseFeat, SparseFeat, VarLenSparseFeat
    from deepctr.models import DCN

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(args.seed)
    schema, train = read_split(args.train)
    _, valid = read_split(args.valid)
    _, test = read_split(args.test)
    kinds = feature_kinds(schema, args.label)
    vocab = vocabularies(train, kinds)
    scales = min_max(train, kinds)
    max_lengths = {n: max([len(r[n]) for r in train] + [1]) for n, k in kinds.items() if k == "list"}
    columns = []
    for name, kind in kinds.items():
        if kind == "dense":
            columns.append(DenseFeat(name, 1))
            continue
        sparse = SparseFeat(name, vocabulary_size=len(vocab[name]) + 2,
                            embedding_dim=args.embedding_dim)
        columns.append(sparse if kind == "single" else
                       VarLenSparseFeat(sparse, maxlen=max_lengths[name], combiner="mean"))
    model = DCN(columns, columns, cross_num=2, cross_parameterization="matrix",
                dnn_hidden_units=(256, 128, 64), seed=args.seed)
    model.compile(tf.keras.optimizers.Adam(1e-3), "binary_crossentropy",
                  metrics=[tf.keras.metrics.AUC(name="auc")])
    inputs = {split: encode(records, kinds, vocab, max_lengths, scales)
              for split, records in (("train", train), ("valid", valid), ("test", test))}
    labels = {split: np.array([r[args.label] for r in records], np.float32)
              for split, records in (("train", train), ("valid", valid), ("test", test))}
    stop = tf.keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=2,
                                            restore_best_weights=True)
    started = time.time()
    history = model.fit(inputs["train"], labels["train"], batch_size=args.batch_size,
                        epochs=args.epochs, validation_data=(inputs["valid"], labels["valid"]),
                        callbacks=[stop], verbose=0, shuffle=True)
    seconds = time.time() - started
    predictions = model.predict(inputs["test"], batch_size=4096, verbose=0).reshape(-1)
    np.savez(args.output, labels=labels["test"], predictions=predictions)
    epochs = len(history.history["loss"])
    val_auc = history.history["val_auc"]
    print(json.dumps({"epochs": epochs, "max_epochs": args.epochs,
                      "seconds_per_epoch": seconds / epochs, "best_val_auc": max(val_auc),
                      "best_epoch": int(np.argmax(val_auc)) + 1}))


if __name__ == "__main__":
    main()
