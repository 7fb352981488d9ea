"""Model builders by name (``model.name`` of the experiment config)."""

from __future__ import annotations

from typing import Callable

import keras

from lirank_tf.config import ConfigError, ExperimentConfig

_BUILDERS: dict[str, Callable[[ExperimentConfig], keras.Model]] = {}
_SETWISE: set[str] = set()   # models that apply model.setwise_group (set-wise attention)


def register_model(name: str, builder: Callable[[ExperimentConfig], keras.Model], *,
                   setwise: bool = False) -> None:
    """Registers ``builder`` as ``model.name: name``; ``setwise``: it honours
    ``model.setwise_group`` (other models refuse a config that sets it)."""
    _BUILDERS[name] = builder
    if setwise:
        _SETWISE.add(name)
    else:
        _SETWISE.discard(name)


def build_model(config: ExperimentConfig) -> keras.Model:
    """The Keras model named by ``config.model.name``."""
    import lirank_tf.models  # noqa: F401  (importing the package registers the built-in models)

    if config.model.name not in _BUILDERS:
        raise ConfigError(f"model.name: unknown model {config.model.name!r}; "
                          f"choices: {sorted(_BUILDERS)}")
    if config.model.setwise_group and config.model.name not in _SETWISE:
        raise ConfigError(f"model.setwise_group: model {config.model.name!r} has no set-wise "
                          f"scoring; models with it: {sorted(_SETWISE)}")
    return _BUILDERS[config.model.name](config)
