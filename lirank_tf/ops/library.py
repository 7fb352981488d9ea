"""Loads the project's C++ op library once, with an error that says how to build it."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

import tensorflow as tf

LIBRARY_PATH = Path(__file__).resolve().parent / "_lirank_ops.so"


class OpsLibraryNotBuiltError(ImportError):
    """The compiled op library is missing or does not load in this TensorFlow."""


@functools.lru_cache(maxsize=None)
def load_ops_library() -> ModuleType:
    """Returns the module of generated op wrappers of ``_lirank_ops.so`` (loaded once)."""
    if not LIBRARY_PATH.exists():
        raise OpsLibraryNotBuiltError(
            f"the lirank-tf C++ op library was not found at {LIBRARY_PATH}. Build it with "
            "`python setup.py build_custom_ops` from the repository root (or run "
            "`bash scripts/setup.sh`, which also installs the pinned stack).")
    try:
        return tf.load_op_library(str(LIBRARY_PATH))
    except tf.errors.NotFoundError as error:
        raise OpsLibraryNotBuiltError(
            f"{LIBRARY_PATH} does not load in TensorFlow {tf.__version__} ({error}). It was "
            "probably built against another TensorFlow: rebuild it with "
            "`python setup.py build_custom_ops`.") from error
