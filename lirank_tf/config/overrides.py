"""``--set dotted.key=value`` overrides of a config, typed and validated like the YAML file.

    >>> parse_overrides(["training.epochs=3", "model.hidden_units=[256, 128]"])
    {'training': {'epochs': 3}, 'model': {'hidden_units': [256, 128]}}

Values are read as YAML scalars or flow collections (``3`` an int, ``1e-3`` a float, ``[a, b]``
a list, ``{k: v}`` a mapping, ``null``), then merged into the config's mapping, so a wrong key
or type fails with the same `ConfigError` naming the dotted key as the file would.
"""

from __future__ import annotations

import re
from typing import Any, Sequence, TypeVar

import yaml

from lirank_tf.config.base import ConfigBase, ConfigError, deep_merge

T = TypeVar("T", bound=ConfigBase)

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def parse_override(text: str) -> tuple[str, Any]:
    """``("training.epochs", 3)`` of ``"training.epochs=3"``; `ConfigError` when malformed."""
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not _KEY.match(key):
        raise ConfigError(f"--set {text!r}: expected dotted.key=value, e.g. training.epochs=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML "
                          f"({getattr(error, 'problem', None) or error})") from None
    if isinstance(value, str):
        value = raw.strip()
        if _NUMBER.match(value):  # YAML 1.1 reads 1e-3 (no dot) as a string
            value = float(value)
    return key, value


def parse_overrides(texts: Sequence[str]) -> dict[str, Any]:
    """A nested mapping of every ``dotted.key=value`` in ``texts`` (later ones win)."""
    merged: dict[str, Any] = {}
    for text in texts:
        key, value = parse_override(text)
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        merged = deep_merge(merged, nested)
    return merged


def apply_overrides(data: dict[str, Any], texts: Sequence[str]) -> dict[str, Any]:
    """``data`` (a config mapping) with the overrides of ``texts`` merged in; a key the config
    lacks is an error naming it (the typed `from_dict` then checks values)."""
    overrides = parse_overrides(texts)
    _check_keys(data, overrides, "")
    return deep_merge(data, overrides)


def override_config(config: T, texts: Sequence[str]) -> T:
    """``config`` (any typed config, e.g. an `ExperimentConfig`) with the overrides of
    ``texts`` applied and checked like the YAML; ``config`` itself when there are none."""
    if not texts:
        return config
    return type(config).from_dict(apply_overrides(config.to_dict(), texts))


def _check_keys(data: Any, overrides: dict[str, Any], path: str) -> None:
    for key, value in overrides.items():
        dotted = f"{path}{key}"
        if not isinstance(data, dict) or key not in data:
            known = sorted(data) if isinstance(data, dict) else []
            raise ConfigError(f"--set {dotted}: no such config key"
                              + (f"; keys under {path.rstrip('.') or 'the top level'}: {known}"
                                 if known else ""))
        if isinstance(value, dict) and isinstance(data[key], dict):  # None: an optional block
            _check_keys(data[key], value, f"{dotted}.")
