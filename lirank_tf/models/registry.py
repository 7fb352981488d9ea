"""Model builders by name (``model.name`` of the experiment config)."""

from __future__ import annotations

from typing import Callable

import keras

from lirank_tf.config import ConfigError, ExperimentConfig

_BUILDERS: dict[str, Callable[[ExperimentConfig], keras.Model]] = {}


def register_model(name: str, builder: Callable[[ExperimentConfig], keras.Model]) -> None:
    _BUILDERS[name] = builder


def build_model(config: ExperimentConfig) -> keras.Model:
    """The Keras model named by ``config.model.name``."""
    import lirank_tf.models  # noqa: F401  (importing the package registers the built-in models)

    if config.model.name not in _BUILDERS:
        raise ConfigError(f"model.name: unknown model {config.model.name!r}; "
                          f"choices: {sorted(_BUILDERS)}")
    return _BUILDERS[config.model.name](config)
