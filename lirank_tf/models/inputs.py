"""Keras inputs of a ranking model: exactly the outputs of the transformation model."""

from __future__ import annotations

import keras

from lirank_tf.config import FeaturesConfig


def model_inputs(features: FeaturesConfig) -> dict[str, keras.KerasTensor]:
    """One ``keras.Input`` per transformed feature (see ``lirank_tf.transform``)."""
    inputs: dict[str, keras.KerasTensor] = {}
    for feature in features.ids:
        shape = () if feature.kind == "id" else (feature.max_length,)
        inputs[feature.name] = keras.Input(shape=shape, dtype="int64", name=feature.name)
    history = features.history
    if history is not None:
        length = history.max_length
        inputs["history_items"] = keras.Input((length,), dtype="int64", name="history_items")
        inputs["history_actions"] = keras.Input((length,), dtype="int64", name="history_actions")
        inputs["history_mask"] = keras.Input((length,), dtype="float32", name="history_mask")
        inputs["history_candidate"] = keras.Input((), dtype="int64", name="history_candidate")
    if features.dense:
        size = sum(f.size for f in features.dense)
        inputs["dense"] = keras.Input((size,), dtype="float32", name="dense")
    return inputs
