"""``--set dotted.key=value``: typed like the YAML, checked like it, recorded in the run."""

import pytest
import yaml

from lirank_tf.cli import main
from lirank_tf.config import ConfigError, ExperimentConfig, get_experiment
from lirank_tf.config.overrides import apply_overrides, parse_override, parse_overrides


@pytest.mark.parametrize("text, expected", [
    ("training.epochs=3", ("training.epochs", 3)),
    ("training.learning_rate=1e-3", ("training.learning_rate", 0.001)),
    ("training.learning_rate=0.5", ("training.learning_rate", 0.5)),
    ("model.hidden_units=[256, 128]", ("model.hidden_units", [256, 128])),
    ("training.monitor=val_click_auc", ("training.monitor", "val_click_auc")),
    ("features.history=null", ("features.history", None)),
    ("model.residual_dcn=true", ("model.residual_dcn", True)),
])
def test_values_are_typed(text, expected):
    assert parse_override(text) == expected


def test_later_overrides_win_and_nest():
    assert parse_overrides(["training.epochs=3", "training.seed=7", "training.epochs=5"]) == \
        {"training": {"epochs": 5, "seed": 7}}


@pytest.mark.parametrize("text, message", [
    ("training.epochs", "expected dotted.key=value"),
    ("=3", "expected dotted.key=value"),
    ("training..epochs=3", "expected dotted.key=value"),
    ("training.epochs=[1", "not valid YAML"),
])
def test_malformed_overrides_are_named(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_override(text)


def test_unknown_keys_and_wrong_types_fail_like_the_file():
    data = get_experiment("feed").to_dict()
    with pytest.raises(ConfigError, match=r"--set training.epoch: no such config key; keys "
                                          r"under training: \[.*'epochs'"):
        apply_overrides(data, ["training.epoch=3"])
    with pytest.raises(ConfigError, match="--set trainer: no such config key"):
        apply_overrides(data, ["trainer.epochs=3"])
    with pytest.raises(ConfigError, match="training.epochs: expected int, got 'three'"):
        ExperimentConfig.from_dict(apply_overrides(data, ["training.epochs=three"]))
    merged = ExperimentConfig.from_dict(apply_overrides(data, ["training.epochs=7"]))
    assert merged.training.epochs == 7
    assert merged.replace(training=merged.training.replace(epochs=2)) == get_experiment("feed")


def test_load_applies_overrides_to_keys_the_file_leaves_at_their_default(tmp_path):
    path = tmp_path / "run.yaml"
    data = get_experiment("feed").to_dict()
    del data["training"]["epochs"]
    path.write_text(yaml.safe_dump(data))
    config = ExperimentConfig.load(path, ["training.epochs=4", "training.batch_size=64"])
    assert (config.training.epochs, config.training.batch_size) == (4, 64)
    with pytest.raises(ConfigError, match=f"{path}: --set training.epoch: no such config key"):
        ExperimentConfig.load(path, ["training.epoch=4"])


def test_the_cli_reports_a_bad_override_in_one_line(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    get_experiment("feed").save(path)
    code = main(["train", "--config", str(path), "--output-dir", str(tmp_path / "run"),
                 "--set", "model.dropout=1.5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "model.dropout: expected a rate in [0, 1), got 1.5" in err[0]
    assert not (tmp_path / "run").exists()


def test_evaluate_and_export_apply_overrides_to_the_run_config(tmp_path):
    """`--set` on evaluate / export changes what they do, not the run's config.yaml."""
    import fastavro
    import numpy as np

    from lirank_tf import workflow
    from lirank_tf.init_config import init_config

    rng = np.random.default_rng(0)
    schema = fastavro.parse_schema({"type": "record", "name": "R", "fields": [
        {"name": "user", "type": "string"}, {"name": "x", "type": "double"},
        {"name": "click", "type": "int"}]})
    for split, n in (("train", 300), ("valid", 100), ("other", 80)):
        (tmp_path / split).mkdir()
        with open(tmp_path / split / "a.avro", "wb") as handle:
            fastavro.writer(handle, schema, [{"user": f"u{rng.integers(20)}",
                                              "x": float(rng.normal()),
                                              "click": int(rng.random() < 0.3)}
                                             for _ in range(n)])
    config_path = init_config(train=[str(tmp_path / "train/*.avro")],
                              valid=[str(tmp_path / "valid/*.avro")], labels=["click"],
                              output=tmp_path / "run.yaml")
    run = tmp_path / "run"
    workflow.train(ExperimentConfig.load(config_path, ["training.epochs=1",
                                                       "training.verbose=0"]), run)
    before = (run / "config.yaml").read_bytes()
    with pytest.raises(ValueError, match="data.test is empty"):
        workflow.evaluate_run(run, verbose=False)
    other = str(tmp_path / "other/*.avro")
    results = workflow.evaluate_run(run, verbose=False, overrides=[f"data.test=[{other}]"])
    assert results["click"]["positive_rate"] == pytest.approx(
        np.mean([r["click"] for r in fastavro.reader(open(tmp_path / "other/a.avro", "rb"))]))
    export = workflow.export_run(run, overrides=["export.quantize=int8"])
    recorded = ExperimentConfig.load(export / "assets.extra" / "lirank_config.yaml")
    assert recorded.export.quantize == "int8"
    assert (run / "config.yaml").read_bytes() == before
    with pytest.raises(ConfigError, match="export.quantize"):
        workflow.export_run(run, tmp_path / "e2", overrides=["export.quantize=int4"])
