"""Initializer and regularizer arguments of the layers: resolved once, serialized alike."""

from __future__ import annotations

from typing import Any

import keras

WEIGHT_OPTIONS = ("kernel_initializer", "bias_initializer", "kernel_regularizer",
                  "bias_regularizer")


def _kind(name: str):
    if name.endswith("_initializer"):
        return keras.initializers
    if name.endswith("_regularizer"):
        return keras.regularizers
    raise ValueError(f"not a weight option: {name!r} (expected *_initializer or *_regularizer)")


def set_weight_options(layer: keras.layers.Layer, **options: Any) -> None:
    """Sets each ``name=value`` on ``layer`` as a Keras initializer or regularizer object
    (``keras.initializers.get`` / ``keras.regularizers.get`` by the name's suffix)."""
    for name, value in options.items():
        setattr(layer, name, _kind(name).get(value))


def weight_options_config(layer: keras.layers.Layer,
                          names: tuple[str, ...] = WEIGHT_OPTIONS) -> dict[str, Any]:
    """The serialized options ``names`` of ``layer``, for its ``get_config``."""
    return {name: _kind(name).serialize(getattr(layer, name)) for name in names}
