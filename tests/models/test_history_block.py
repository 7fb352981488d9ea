"""The member-history block's candidate fusion option (lirank_tf.models.history / options):
``model.options.transact.candidate_fusion`` picks TransAct (early) or the amortized encoder
(append)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from lirank_tf.config import ConfigError, ExperimentConfig, get_experiment
from lirank_tf.layers import AmortizedHistoryEncoder, TransActEncoder
from lirank_tf.models import build_model

SMALL = {"hidden_units": [16], "tower_units": [8], "history_encoder": True,
         "options": {"transact": {"action_embedding_dim": 4, "last_steps": 2}}}


def config_with(candidate_fusion=None, **model) -> ExperimentConfig:
    transact = dict(SMALL["options"]["transact"])
    if candidate_fusion is not None:
        transact["candidate_fusion"] = candidate_fusion
    return get_experiment("feed", {"model": {**SMALL, **model, "options": {"transact": transact}}})


def encoders(model: keras.Model) -> list:
    return [layer for layer in model.layers
            if isinstance(layer, (TransActEncoder, AmortizedHistoryEncoder))]


# token widths: early fusion item (30) + action (4) + candidate (30); appended: item + action.
# The Feed experiment's default (None) is append.
@pytest.mark.parametrize("fusion, encoder_class, token_dim", [
    (None, AmortizedHistoryEncoder, 34), ("early", TransActEncoder, 64),
    ("append", AmortizedHistoryEncoder, 34)])
def test_candidate_fusion_selects_the_history_encoder(fusion, encoder_class, token_dim):
    model = build_model(config_with(fusion))
    (encoder,) = encoders(model)
    assert type(encoder) is encoder_class and encoder.name == "transact"
    # the block's options reach the encoder, whichever it is
    assert (encoder.num_heads, encoder.last_steps, encoder.token_dim) == (2, 2, token_dim)


def test_unknown_candidate_fusion_fails_listing_the_choices():
    config = config_with("late")   # the config itself loads; the model build names the option
    with pytest.raises(ConfigError, match=r"model\.options\.transact\.candidate_fusion: unknown "
                                          r"value 'late'; choices: \['early', 'append'\]"):
        build_model(config)


def test_config_round_trip_keeps_the_option(tmp_path):
    config = config_with("append")
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    loaded = ExperimentConfig.load(config.save(tmp_path / "config.yaml"))
    assert loaded == config
    assert loaded.model.options["transact"]["candidate_fusion"] == "append"
    assert isinstance(encoders(build_model(loaded))[0], AmortizedHistoryEncoder)


def test_history_off_ignores_the_option():
    model = build_model(config_with("append", history_encoder=False))
    assert encoders(model) == []


def model_inputs_batch(model: keras.Model, rows: int) -> dict:
    """Model inputs of ``rows`` rows from a fixed integer pattern (history of 0 .. T steps)."""
    batch = {}
    for tensor in model.inputs:
        name, shape = tensor.name, (rows, *tensor.shape[1:])
        values = np.arange(np.prod(shape)).reshape(shape) * 7919 + 13
        if name == "history_mask":
            steps = np.arange(shape[1])[None, :] >= (shape[1] - np.arange(rows) % (shape[1] + 1))[:, None]
            batch[name] = steps.astype("float32")
        elif name == "history_actions":
            batch[name] = (values % 6).astype("int64")
        elif tensor.dtype == "int64":
            batch[name] = values.astype("int64")
        else:
            batch[name] = np.cos(values).astype("float32")
    return batch


def test_amortized_feed_model_saves_and_reloads(tmp_path):
    model = build_model(config_with("append"))
    batch = model_inputs_batch(model, 6)
    expected = model(batch, training=False)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(encoders(reloaded)[0], AmortizedHistoryEncoder)
    got = reloaded(batch, training=False)
    for name in expected:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(expected[name]), rtol=1e-6)
        assert np.all(np.isfinite(np.asarray(got[name])))
    assert tf.reduce_any(tf.not_equal(expected["click"], expected["click"][0]))
