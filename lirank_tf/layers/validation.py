"""Argument checks shared by the layers: each raises ValueError naming the argument and value."""

from __future__ import annotations

import math
from collections.abc import Sequence


def check_positive_int(name: str, value: object) -> int:
    """Returns ``value`` if it is an int >= 1 (bools rejected), else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_positive_float(name: str, value: object) -> float:
    """Returns ``float(value)`` if it is a finite number > 0, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_finite_float(name: str, value: object) -> float:
    """Returns ``float(value)`` if it is a finite number, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_rate(name: str, value: object) -> float:
    """Returns ``float(value)`` if it is a number in [0, 1), else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_positive_int_list(name: str, value: object, allow_empty: bool = False) -> list[int]:
    """Returns ``list(value)`` if it is a sequence of positive ints, else raises ValueError."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list of positive ints, got {value!r}")
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise ValueError(f"{name} must be a list of positive ints, got {value!r}")
    return list(value)


def check_last_dim(name: str, shape: Sequence[int | None]) -> int:
    """Returns the static last dimension of ``shape``, raising ValueError if it is unknown."""
    if not shape or shape[-1] is None:
        raise ValueError(f"{name} must have a known last dimension, got shape {tuple(shape)!r}")
    return int(shape[-1])
