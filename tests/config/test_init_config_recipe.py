"""The training recipe init-config writes for dcnv2: early stopping on val AUC - log loss
with an epoch cap that is a safety net, plateau halving, and L2 on the looked-up rows."""

import fastavro
import numpy as np
import pytest
import yaml

from lirank_tf.config import ExperimentConfig
from lirank_tf import init_config as init_config_module
from lirank_tf.init_config import init_config, propose_config
from lirank_tf.training.callbacks import (ReduceLearningRateOnPlateau, ValidationEarlyStopping)
from lirank_tf.training.trainer import validation_callbacks

SCHEMA = {"type": "record", "name": "Row", "fields": [
    {"name": "user", "type": "string"}, {"name": "clicked", "type": "int"}]}


def _write(path, n, seed):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(SCHEMA),
                        [{"user": f"u{rng.integers(40)}", "clicked": int(rng.random() < 0.3)}
                         for _ in range(n)])
    return str(path)


@pytest.fixture()
def files(tmp_path):
    return _write(tmp_path / "train.avro", 300, 1), _write(tmp_path / "valid.avro", 100, 2)


def test_with_validation_files_training_stops_on_the_combined_score(files, tmp_path):
    train, valid = files
    path = init_config([train], ["clicked"], tmp_path / "run.yaml", valid=[valid])
    config = ExperimentConfig.load(path)
    training = config.training
    assert training.early_stopping_patience >= 1 and training.monitor == "auc_logloss"
    assert training.epochs == init_config_module.EPOCH_CAP
    assert training.epochs >= 5 * training.early_stopping_patience   # a safety net
    assert config.model.embedding_l2 == init_config_module.EMBEDDING_L2 > 0
    reduce, stopper = validation_callbacks(config, has_validation=True)
    assert isinstance(reduce, ReduceLearningRateOnPlateau)
    assert isinstance(stopper, ValidationEarlyStopping)
    assert stopper.score.keys == ["val_auc", "val_logloss"]
    text = path.read_text()
    assert "# Training recipe:" in text and "val AUC - val log loss" in text
    assert "model.embedding_l2" in text
    assert yaml.safe_load(text)["training"]["monitor"] == "auc_logloss"   # the comments are comments


def test_without_validation_files_there_is_no_early_stopping(files):
    train, _ = files
    config, _ = propose_config([train], ["clicked"])
    assert config["training"]["epochs"] == init_config_module.EPOCHS_WITHOUT_VALIDATION
    assert not config["training"].get("early_stopping_patience")
    assert not config["training"].get("reduce_lr_patience")
    assert validation_callbacks(ExperimentConfig.from_dict(config), has_validation=False) == []


def test_other_models_keep_their_experiment_defaults(files):
    train, valid = files
    config, _ = propose_config([train], ["clicked"], valid=[valid], model="feed")
    assert "training" not in config and "embedding_l2" not in config["model"]
