"""Bad input on the "your own data" path: each error names what is wrong; nothing is lost."""

import json

import fastavro
import numpy as np
import pytest

from tiny_run import InterruptAfterFirstEpoch

from lirank_tf.cli import main
from lirank_tf.config import ExperimentConfig
from lirank_tf.init_config import init_config
from lirank_tf.errors import AvroFileError
from lirank_tf.training.trainer import train

SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user", "type": "string"}, {"name": "item", "type": "long"},
    {"name": "price", "type": ["null", "double"], "default": None},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "clicked", "type": "int"}]}


def _write(path, n, seed, schema=SCHEMA, label=None):
    rng = np.random.default_rng(seed)
    rows = [{"user": f"u{rng.integers(50)}", "item": int(rng.integers(80)),
             "price": None if i % 7 == 0 else float(rng.lognormal()),
             "tags": [f"t{rng.integers(9)}" for _ in range(rng.integers(0, 3))],
             "clicked": int(rng.random() < 0.3) if label is None else label(i)} for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema), rows, codec="deflate", sync_interval=2000)
    return path


@pytest.fixture()
def own(tmp_path):
    _write(tmp_path / "train" / "a.avro", 600, 1)
    _write(tmp_path / "valid" / "a.avro", 200, 2)
    config_path = init_config(train=[str(tmp_path / "train/*.avro")], valid=[str(tmp_path / "valid/*.avro")],
                              labels=["clicked"], output=tmp_path / "run.yaml")
    config = ExperimentConfig.load(config_path)
    config = config.replace(training=config.training.replace(epochs=2, batch_size=128, verbose=0),
                            model=config.model.replace(hidden_units=[16], cross_layers=1, cross_rank=4))
    return tmp_path, config


def test_init_config_maps_every_field(own):
    _, config = own
    ids = {f.name: (f.kind, f.dtype) for f in config.features.ids}
    assert ids == {"user": ("id", "string"), "item": ("id", "int64"), "tags": ("id_list", "string")}
    assert [f.name for f in config.features.dense] == ["price"]
    assert [t.label for t in config.tasks] == ["clicked"]


def test_field_missing_from_the_schema_names_field_and_file(own):
    root, config = own
    bad = config.replace(features=config.features.replace(
        dense=[*config.features.dense, config.features.dense[0].replace(name="discount")]))
    with pytest.raises(ValueError, match=r"a\.avro: the file's schema has no field\(s\) \['discount'\]"):
        train(bad, root / "run")


def test_label_outside_unit_interval_names_file_and_record(own):
    root, config = own
    _write(root / "train" / "b.avro", 50, 3, label=lambda i: 3 if i == 17 else 0)
    with pytest.raises(ValueError, match=r"b\.avro: record 17: label 'clicked' = 3 is not in \[0, 1\]"):
        train(config, root / "run")


def test_glob_matching_nothing_names_the_glob(own):
    root, config = own
    with pytest.raises(FileNotFoundError, match=r"'/nowhere/\*\.avro' matches no file"):
        train(config.replace(data=config.data.replace(train=["/nowhere/*.avro"])), root / "run")


def test_files_with_different_schemas_are_both_named(own):
    root, config = own
    other = json.loads(json.dumps(SCHEMA))
    other["fields"].append({"name": "extra", "type": "int", "default": 0})
    _write(root / "train" / "c.avro", 20, 4, schema=other)
    with pytest.raises(ValueError, match=r"different schemas: .*a\.avro and .*c\.avro"):
        train(config, root / "run")


def test_truncated_file_gives_an_error_with_file_and_offset(own):
    # the preflight check reads the file with the bounded reader (lirank_tf.data.avro_file)
    root, config = own
    path = root / "train" / "a.avro"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(AvroFileError, match=rf"^{path}: byte \d+: "):
        train(config, root / "run")


def test_a_finished_run_is_never_overwritten_without_the_flag(own, capsys):
    root, config = own
    train(config, root / "run")
    other = root / "other.yaml"
    config.replace(training=config.training.replace(epochs=3)).save(other)
    assert main(["train", "--config", str(other), "--output-dir", str(root / "run")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert ExperimentConfig.load(root / "run" / "config.yaml") == config   # untouched



def test_training_resumes_after_a_kill_from_the_last_epoch(own):
    root, config = own
    config = config.replace(training=config.training.replace(epochs=3))
    with pytest.raises(KeyboardInterrupt):
        train(config, root / "run", extra_callbacks=[InterruptAfterFirstEpoch()])
    assert not (root / "run" / "model.keras").exists()
    result = train(config, root / "run")       # same config: resumes at epoch 2
    assert len(result.history["loss"]) == 3    # the epoch before the kill, and the two after
    assert sorted(p.name for p in (root / "run" / "checkpoints").iterdir())[-1] == "epoch_003.weights.h5"
