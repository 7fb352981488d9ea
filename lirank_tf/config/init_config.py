"""Deprecated alias: ``init_config`` moved to `lirank_tf.init_config` (a workflow step reading
data files sits above the config package, which the data layer builds on). This alias goes in
the next release."""

from __future__ import annotations

import importlib
import warnings


def __getattr__(name: str):
    warnings.warn("lirank_tf.config.init_config moved to lirank_tf.init_config",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module("lirank_tf.init_config"), name)
