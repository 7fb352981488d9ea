"""The training recipe init-config writes for dcnv2: early stopping on val AUC - log loss
with an epoch cap that is a safety net, plateau halving, and L2 on the looked-up rows."""

import fastavro
import numpy as np
import pytest
import yaml

from lirank_tf.config import ExperimentConfig
from lirank_tf.config.experiments import experiment_dict
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
    assert config.model.platt_scaling and "model.platt_scaling: after training" in text
    assert yaml.safe_load(text)["training"]["monitor"] == "auc_logloss"   # the comments are comments


def test_without_validation_files_there_is_no_early_stopping(files):
    train, _ = files
    config, _ = propose_config([train], ["clicked"])
    assert config["training"]["epochs"] == init_config_module.EPOCHS_WITHOUT_VALIDATION
    assert not config["model"].get("platt_scaling")     # nothing to fit it on
    assert not config["training"].get("early_stopping_patience")
    assert not config["training"].get("reduce_lr_patience")
    assert validation_callbacks(ExperimentConfig.from_dict(config), has_validation=False) == []


def test_feed_gets_the_papers_feed_model_and_the_same_training_recipe(files):
    """``--model feed``: the ``feed`` experiment's model block (not the bare model defaults,
    a plain MLP) without the history encoder and calibration features init-config cannot map,
    and the training block dcnv2 gets for the same files."""
    train, valid = files
    config, _ = propose_config([train], ["clicked"], valid=[valid], model="feed")
    dcnv2, _ = propose_config([train], ["clicked"], valid=[valid])
    assert config["training"] == dcnv2["training"]
    experiment = experiment_dict("feed")["model"]
    assert {key: config["model"][key] for key in experiment if key not in
            ("history_encoder", "calibration_features")} == \
        {key: value for key, value in experiment.items() if key not in
         ("history_encoder", "calibration_features")}
    assert experiment["history_encoder"] and experiment["calibration_features"]
    assert config["model"]["history_encoder"] is False
    assert config["model"]["calibration_features"] == []
    assert config["model"]["embedding_l2"] == dcnv2["model"]["embedding_l2"] > 0
    built = ExperimentConfig.from_dict(config)
    assert built.model.interaction == "residual_dcn" and built.model.sparse_moe
    # ads and jobs keep their experiment defaults as the model block
    ads, _ = propose_config([train], ["clicked"], valid=[valid], model="ads")
    assert ads["model"] == {"name": "ads", "platt_scaling": True}
    assert ads["training"] == dcnv2["training"]


def _write_users(path, users, seed):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(SCHEMA),
                        [{"user": user, "clicked": int(rng.random() < 0.3)} for user in users])
    return str(path)


def test_cold_start_validation_data_trains_the_rows_with_adam(tmp_path):
    """The recipe's cold-start rule: 60% of the validation records on users the training
    files never hold -> Adam 1e-3 for the rows; 30% -> AdaGrad 0.2 (the default)."""
    train = _write_users(tmp_path / "train.avro", [f"u{i % 40}" for i in range(400)], 1)
    cold = _write_users(tmp_path / "cold.avro", [f"u{i}" for i in range(100)]
                        + [f"new{i}" for i in range(150)], 2)
    warm = _write_users(tmp_path / "warm.avro", [f"u{i % 40}" for i in range(70)]
                        + [f"new{i % 7}" for i in range(30)], 3)
    # the share by hand: records whose user no training record holds
    assert init_config_module.unseen_shares([train], [cold], ["user"]) == {"user": 210 / 250}
    assert init_config_module.unseen_shares([train], [warm], ["user"]) == {"user": 30 / 100}
    path = init_config([train], ["clicked"], tmp_path / "cold.yaml", valid=[cold])
    training = ExperimentConfig.load(path).training
    assert (training.sparse_optimizer, training.sparse_learning_rate) == ("adam", 1e-3)
    text = path.read_text()
    assert "cold start: 84% of the validation records hold a user no training record has" in text
    assert "embedding rows trained with Adam 0.001" in text
    config, notes = propose_config([train], ["clicked"], valid=[warm])
    assert (config["training"]["sparse_optimizer"], config["training"]["sparse_learning_rate"]) \
        == ("adagrad", 0.2)
    assert "no cold start: at most 30.0% (user) of the validation records" in " ".join(notes)


def test_the_cold_start_check_is_skipped_on_large_training_data(tmp_path, monkeypatch):
    train = _write_users(tmp_path / "train.avro", [f"u{i % 40}" for i in range(400)], 1)
    cold = _write_users(tmp_path / "cold.avro", [f"new{i}" for i in range(50)], 2)
    monkeypatch.setattr(init_config_module, "COLD_START_MAX_RECORDS", 399)
    config, notes = propose_config([train], ["clicked"], valid=[cold])
    assert config["training"]["sparse_optimizer"] == "adagrad"
    assert "cold-start check skipped: ~400 training records, more than the 399" in " ".join(notes)
