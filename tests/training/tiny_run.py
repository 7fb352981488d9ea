"""A tiny config for run-directory tests: 400 training rows of 4 fields, 4 steps an epoch."""

from pathlib import Path

import fastavro
import keras
import numpy as np

from lirank_tf.config import ExperimentConfig
from lirank_tf.init_config import init_config

SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user", "type": "string"}, {"name": "item", "type": "long"},
    {"name": "price", "type": "double"}, {"name": "clicked", "type": "int"}]}


def write_rows(path: Path, n: int, seed: int, **writer_options) -> None:
    """``n`` random rows of `SCHEMA` into ``path`` (``writer_options``: fastavro's ``codec``,
    ``sync_interval``, ...)."""
    rng = np.random.default_rng(seed)
    rows = [{"user": f"u{rng.integers(40)}", "item": int(rng.integers(60)),
             "price": float(rng.lognormal()), "clicked": int(rng.random() < 0.3)}
            for _ in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(SCHEMA), rows, **writer_options)


def tiny_config(root: Path) -> ExperimentConfig:
    """Writes the data under ``root`` and a 1-epoch config ``root/run.yaml``; returns it."""
    write_rows(root / "train" / "a.avro", 400, 1)
    write_rows(root / "valid" / "a.avro", 100, 2)
    path = init_config(train=[str(root / "train/*.avro")], valid=[str(root / "valid/*.avro")],
                       test=[str(root / "valid/*.avro")], labels=["clicked"],
                       output=root / "run.yaml")
    config = ExperimentConfig.load(path)
    config = config.replace(training=config.training.replace(epochs=1, batch_size=100, verbose=0),
                            model=config.model.replace(hidden_units=[8], cross_layers=1,
                                                       cross_rank=2))
    config.save(path)
    return config


class InterruptAfterFirstEpoch(keras.callbacks.Callback):
    """Stops ``model.fit`` with a KeyboardInterrupt at the end of epoch 1, as a kill would."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("interrupted after epoch 1")
